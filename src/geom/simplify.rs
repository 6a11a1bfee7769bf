//! Removing points that change a path by less than a tolerance.

use super::{Point, Polygon};

/// Douglas-Peucker simplification of an open chain: every removed point lies within
/// `tolerance` (integer units) of the simplified chain. The ends are kept.
///
/// ```
/// use lamina::geom::{simplify_polyline, Point};
/// let pts = vec![Point::new(0, 0), Point::new(5, 1), Point::new(10, 0)];
/// assert_eq!(simplify_polyline(&pts, 2.0).len(), 2);
/// assert_eq!(simplify_polyline(&pts, 0.5).len(), 3);
/// ```
pub fn simplify_polyline(points: &[Point], tolerance: f64) -> Vec<Point> {
    if points.len() < 3 {
        return points.to_vec();
    }
    points
        .iter()
        .zip(&simplify_keep(points, tolerance))
        .filter(|(_, k)| **k)
        .map(|(p, _)| *p)
        .collect()
}

/// Which points [`simplify_polyline`] keeps: for chains of one shape repeated at
/// several places, found once and applied to every copy.
///
/// ```
/// use lamina::geom::{simplify_keep, Point};
/// let pts = vec![Point::new(0, 0), Point::new(5, 1), Point::new(10, 0)];
/// assert_eq!(simplify_keep(&pts, 2.0), vec![true, false, true]);
/// ```
pub fn simplify_keep(points: &[Point], tolerance: f64) -> Vec<bool> {
    if points.len() < 3 {
        return vec![true; points.len()];
    }
    let tol2 = tolerance * tolerance;
    let mut keep = vec![false; points.len()];
    keep[0] = true;
    keep[points.len() - 1] = true;
    let mut stack = vec![(0usize, points.len() - 1)];
    while let Some((a, b)) = stack.pop() {
        if b <= a + 1 {
            continue;
        }
        let (mut worst, mut worst_d) = (a, -1.0);
        for (i, p) in points.iter().enumerate().take(b).skip(a + 1) {
            let d = p.distance_to_segment_squared(points[a], points[b]);
            if d > worst_d {
                worst = i;
                worst_d = d;
            }
        }
        if worst_d > tol2 {
            keep[worst] = true;
            stack.push((a, worst));
            stack.push((worst, b));
        }
    }
    keep
}

impl Polygon {
    /// A simplified copy of the ring (Douglas-Peucker, split at the two points
    /// farthest apart so the closing edge is treated like any other). Rings that would
    /// fall below three points are returned unchanged.
    pub fn simplified(&self, tolerance: f64) -> Polygon {
        let n = self.points.len();
        if n < 4 {
            return self.clone();
        }
        let first = self.points[0];
        let far = (1..n)
            .max_by(|&i, &j| {
                first
                    .distance(self.points[i])
                    .total_cmp(&first.distance(self.points[j]))
            })
            .unwrap_or(n / 2);
        let mut a: Vec<Point> = self.points[..=far].to_vec();
        let mut b: Vec<Point> = self.points[far..].to_vec();
        b.push(first);
        a = simplify_polyline(&a, tolerance);
        b = simplify_polyline(&b, tolerance);
        a.pop();
        b.pop();
        a.extend(b);
        if a.len() < 3 {
            return self.clone();
        }
        Polygon::new(a)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fine_circle_simplifies_within_tolerance() {
        let c = Polygon::circle(Point::new(0, 0), 10_000_000, 3600);
        let s = c.simplified(5_000.0);
        assert!(s.points.len() < 200, "{}", s.points.len());
        for p in &c.points {
            assert!(s.distance_squared_to(*p) <= 5_000.0f64.powi(2) + 1.0);
        }
    }

    #[test]
    fn square_keeps_its_corners() {
        let mut pts = Vec::new();
        for i in 0..10 {
            pts.push(Point::new(i * 10, 0));
        }
        for i in 0..10 {
            pts.push(Point::new(100, i * 10));
        }
        for i in 0..10 {
            pts.push(Point::new(100 - i * 10, 100));
        }
        for i in 0..10 {
            pts.push(Point::new(0, 100 - i * 10));
        }
        let s = Polygon::new(pts).simplified(1.0);
        assert_eq!(s.points.len(), 4);
        assert_eq!(s.area(), 10_000.0);
    }
}
