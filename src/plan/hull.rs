//! Convex hulls and their narrowest width: the skirt goes round the hull of the first
//! layer, the automatic brim looks at how narrow a footprint is.

use crate::geom::{Point, Polygon};

/// The convex hull of `points`, counter-clockwise, without collinear points (Andrew's
/// monotone chain, exact integer orientation tests).
///
/// ```
/// use lamina::geom::Point;
/// use lamina::plan::convex_hull;
/// let pts = [Point::new(0, 0), Point::new(4, 0), Point::new(2, 1), Point::new(4, 4), Point::new(0, 4)];
/// assert_eq!(convex_hull(&pts).points.len(), 4);
/// ```
pub fn convex_hull(points: &[Point]) -> Polygon {
    let mut pts = points.to_vec();
    pts.sort_unstable();
    pts.dedup();
    if pts.len() < 3 {
        return Polygon::new(pts);
    }
    let mut hull: Vec<Point> = Vec::with_capacity(pts.len() + 1);
    for pass in 0..2 {
        let base = hull.len();
        let iter: Box<dyn Iterator<Item = &Point>> = if pass == 0 {
            Box::new(pts.iter())
        } else {
            Box::new(pts.iter().rev())
        };
        for &p in iter {
            while hull.len() >= base + 2 {
                let a = hull[hull.len() - 2];
                let b = hull[hull.len() - 1];
                if (b - a).cross_sign(p - a) <= 0 {
                    hull.pop();
                } else {
                    break;
                }
            }
            hull.push(p);
        }
        // The last point of each chain is the first of the other.
        hull.pop();
    }
    Polygon::new(hull)
}

/// The narrowest width of a convex polygon (counter-clockwise), integer units: the
/// smallest distance between two parallel lines enclosing it (rotating calipers).
///
/// ```
/// use lamina::geom::Polygon;
/// use lamina::plan::min_width;
/// assert_eq!(min_width(&Polygon::rectangle(0, 0, 30, 10)), 10.0);
/// ```
pub fn min_width(hull: &Polygon) -> f64 {
    let p = &hull.points;
    let n = p.len();
    if n < 3 {
        return 0.0;
    }
    let dist = |i: usize, j: usize| {
        // Distance of vertex j from the line through edge i.
        let (a, b) = (p[i], p[(i + 1) % n]);
        (b - a).cross(p[j] - a).abs() / a.distance(b).max(1.0)
    };
    let mut best = f64::INFINITY;
    let mut j = 1;
    for i in 0..n {
        // Advance the antipodal vertex while it gets farther from edge i.
        let mut steps = 0;
        while steps < n && dist(i, (j + 1) % n) >= dist(i, j) {
            j = (j + 1) % n;
            steps += 1;
        }
        best = best.min(dist(i, j));
    }
    best
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::geom::scaled;

    #[test]
    fn hull_of_a_circle_and_its_inside_points() {
        let c = Polygon::circle(Point::new(0, 0), scaled(5.0), 64);
        let mut pts = c.points.clone();
        pts.extend((0..50).map(|k| Point::new(k * 1000, -k * 700)));
        let h = convex_hull(&pts);
        assert_eq!(h.points.len(), 64);
        assert!(h.is_ccw());
    }

    #[test]
    fn narrowest_width_of_a_rotated_rectangle_and_a_circle() {
        // A 30 x 8 mm rectangle turned by 30°.
        let (s, c) = (30f64.to_radians().sin(), 30f64.to_radians().cos());
        let pts: Vec<Point> = [(0.0, 0.0), (30.0, 0.0), (30.0, 8.0), (0.0, 8.0)]
            .iter()
            .map(|(x, y)| Point::from_mm(x * c - y * s, x * s + y * c))
            .collect();
        let w = min_width(&convex_hull(&pts)) / 1e6;
        assert!((w - 8.0).abs() < 1e-5, "{w}");
        let circle = Polygon::circle(Point::new(0, 0), scaled(3.0), 360);
        let w = min_width(&convex_hull(&circle.points)) / 1e6;
        assert!((w - 6.0).abs() < 0.001, "{w}");
    }
}
