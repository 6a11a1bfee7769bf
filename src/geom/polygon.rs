//! Polygons, polylines, polygons with holes, and bounding boxes.

use super::{Coord, Point, unscaled_area};

/// A closed ring of points (the last point joins the first; it is not repeated).
/// Counter-clockwise rings bound solid areas, clockwise rings bound holes.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Polygon {
    /// The ring's vertices.
    pub points: Vec<Point>,
}

/// An open chain of points.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Polyline {
    /// The chain's vertices, in order.
    pub points: Vec<Point>,
}

/// A solid area: one counter-clockwise outer contour and the clockwise holes inside it.
/// A slice island is one `ExPolygon`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ExPolygon {
    /// The outer boundary, counter-clockwise.
    pub contour: Polygon,
    /// Holes, clockwise, each inside `contour`.
    pub holes: Vec<Polygon>,
}

/// An axis-aligned rectangle in integer units.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BBox {
    /// Lower-left corner.
    pub min: Point,
    /// Upper-right corner.
    pub max: Point,
}

impl Polygon {
    /// A polygon from its vertices.
    pub fn new(points: Vec<Point>) -> Self {
        Polygon { points }
    }

    /// A counter-clockwise axis-aligned rectangle.
    ///
    /// ```
    /// use lamina::geom::Polygon;
    /// let r = Polygon::rectangle(0, 0, 10, 5);
    /// assert_eq!(r.area(), 50.0);
    /// ```
    pub fn rectangle(x0: Coord, y0: Coord, x1: Coord, y1: Coord) -> Self {
        Polygon::new(vec![
            Point::new(x0, y0),
            Point::new(x1, y0),
            Point::new(x1, y1),
            Point::new(x0, y1),
        ])
    }

    /// A regular polygon approximating a circle, counter-clockwise.
    pub fn circle(center: Point, radius: Coord, segments: usize) -> Self {
        let n = segments.max(3);
        let points = (0..n)
            .map(|i| {
                let a = std::f64::consts::TAU * i as f64 / n as f64;
                Point::new(
                    center.x + (radius as f64 * a.cos()).round() as Coord,
                    center.y + (radius as f64 * a.sin()).round() as Coord,
                )
            })
            .collect();
        Polygon::new(points)
    }

    /// Signed area in square integer units: positive when counter-clockwise.
    pub fn area(&self) -> f64 {
        let n = self.points.len();
        if n < 3 {
            return 0.0;
        }
        // Shoelace relative to the first point keeps the products small and exact.
        let o = self.points[0];
        let mut twice = 0i128;
        for w in self.points[1..].windows(2) {
            let a = w[0] - o;
            let b = w[1] - o;
            twice += a.x as i128 * b.y as i128 - a.y as i128 * b.x as i128;
        }
        twice as f64 * 0.5
    }

    /// Signed area in mm².
    pub fn area_mm2(&self) -> f64 {
        unscaled_area(self.area())
    }

    /// Whether the ring runs counter-clockwise (positive area).
    pub fn is_ccw(&self) -> bool {
        self.area() > 0.0
    }

    /// Reverse the direction of the ring.
    pub fn reverse(&mut self) {
        self.points.reverse();
    }

    /// Perimeter length, integer units.
    pub fn length(&self) -> f64 {
        let n = self.points.len();
        if n < 2 {
            return 0.0;
        }
        let mut len = 0.0;
        for i in 0..n {
            len += self.points[i].distance(self.points[(i + 1) % n]);
        }
        len
    }

    /// Iterate over the ring's edges as point pairs, the closing edge included.
    pub fn edges(&self) -> impl Iterator<Item = (Point, Point)> + '_ {
        let n = self.points.len();
        (0..n).map(move |i| (self.points[i], self.points[(i + 1) % n]))
    }

    /// Winding number of the ring around `p` (points on the boundary count as inside
    /// for a counter-clockwise ring: non-zero).
    pub fn winding_number(&self, p: Point) -> i32 {
        let mut wn = 0;
        for (a, b) in self.edges() {
            if a.y <= p.y {
                if b.y > p.y && (b - a).cross_sign(p - a) > 0 {
                    wn += 1;
                }
            } else if b.y <= p.y && (b - a).cross_sign(p - a) < 0 {
                wn -= 1;
            }
        }
        wn
    }

    /// Whether `p` lies inside the ring (by winding number, either orientation).
    pub fn contains(&self, p: Point) -> bool {
        self.winding_number(p) != 0
    }

    /// Bounding box, or `None` when empty.
    pub fn bbox(&self) -> Option<BBox> {
        BBox::of_points(&self.points)
    }

    /// The ring as an open polyline starting (and ending) at vertex `start`: the first
    /// point is repeated at the end so the chain closes.
    pub fn split_at(&self, start: usize) -> Polyline {
        let n = self.points.len();
        let mut points = Vec::with_capacity(n + 1);
        for i in 0..=n {
            points.push(self.points[(start + i) % n.max(1)]);
        }
        Polyline { points }
    }

    /// Squared distance from `p` to the nearest point of the ring's boundary.
    pub fn distance_squared_to(&self, p: Point) -> f64 {
        self.edges()
            .map(|(a, b)| p.distance_to_segment_squared(a, b))
            .fold(f64::INFINITY, f64::min)
    }
}

impl Polyline {
    /// A polyline from its vertices.
    pub fn new(points: Vec<Point>) -> Self {
        Polyline { points }
    }

    /// Parallel straight lines at `angle` (radians), `spacing` apart (integer units),
    /// covering the disc of `radius` around `center`: probes laid across an area to
    /// see where lines in that direction would end.
    ///
    /// ```
    /// use lamina::geom::{Point, Polyline};
    /// let lines = Polyline::parallel_lines(Point::new(0, 0), 10.0, 5.0, 0.0);
    /// assert_eq!(lines.len(), 5);
    /// assert_eq!(lines[0].points, vec![Point::new(-10, -10), Point::new(10, -10)]);
    /// ```
    pub fn parallel_lines(center: Point, radius: f64, spacing: f64, angle: f64) -> Vec<Polyline> {
        let (c, s) = (angle.cos(), angle.sin());
        let n = (2.0 * radius / spacing).ceil() as i64;
        (0..=n)
            .map(|k| {
                let off = -radius + k as f64 * spacing;
                let (ox, oy) = (center.x as f64 - s * off, center.y as f64 + c * off);
                Polyline::new(vec![
                    Point::new((ox - c * radius) as i64, (oy - s * radius) as i64),
                    Point::new((ox + c * radius) as i64, (oy + s * radius) as i64),
                ])
            })
            .collect()
    }

    /// Length, integer units.
    pub fn length(&self) -> f64 {
        self.points.windows(2).map(|w| w[0].distance(w[1])).sum()
    }

    /// First point.
    pub fn first(&self) -> Option<Point> {
        self.points.first().copied()
    }

    /// Last point.
    pub fn last(&self) -> Option<Point> {
        self.points.last().copied()
    }

    /// Reverse the direction of travel.
    pub fn reverse(&mut self) {
        self.points.reverse();
    }
}

impl ExPolygon {
    /// An area without holes. The contour is turned counter-clockwise if needed.
    pub fn new(mut contour: Polygon) -> Self {
        if contour.area() < 0.0 {
            contour.reverse();
        }
        ExPolygon {
            contour,
            holes: Vec::new(),
        }
    }

    /// Area (contour minus holes), square integer units.
    pub fn area(&self) -> f64 {
        self.contour.area().abs() - self.holes.iter().map(|h| h.area().abs()).sum::<f64>()
    }

    /// Area in mm².
    pub fn area_mm2(&self) -> f64 {
        unscaled_area(self.area())
    }

    /// Whether `p` lies in the solid part (inside the contour, outside every hole).
    pub fn contains(&self, p: Point) -> bool {
        self.contour.contains(p) && !self.holes.iter().any(|h| h.contains(p))
    }

    /// The contour followed by the holes.
    pub fn rings(&self) -> impl Iterator<Item = &Polygon> {
        std::iter::once(&self.contour).chain(self.holes.iter())
    }

    /// Bounding box of the contour.
    pub fn bbox(&self) -> Option<BBox> {
        self.contour.bbox()
    }

    /// Total boundary length (contour and holes), integer units.
    pub fn perimeter(&self) -> f64 {
        self.rings().map(Polygon::length).sum()
    }

    /// Squared distance from `p` to the nearest boundary (contour or hole).
    pub fn distance_squared_to_boundary(&self, p: Point) -> f64 {
        self.rings()
            .map(|r| r.distance_squared_to(p))
            .fold(f64::INFINITY, f64::min)
    }
}

impl BBox {
    /// The box around `points`, or `None` when there are none.
    pub fn of_points(points: &[Point]) -> Option<BBox> {
        let first = *points.first()?;
        let mut b = BBox {
            min: first,
            max: first,
        };
        for p in &points[1..] {
            b.include(*p);
        }
        Some(b)
    }

    /// The box around the contours of `areas`, or `None` when there are none.
    pub fn of_areas<'a>(areas: impl IntoIterator<Item = &'a ExPolygon>) -> Option<BBox> {
        areas
            .into_iter()
            .filter_map(ExPolygon::bbox)
            .reduce(|mut a, b| {
                a.merge(&b);
                a
            })
    }

    /// Grow to contain `p`.
    #[inline]
    pub fn include(&mut self, p: Point) {
        self.min.x = self.min.x.min(p.x);
        self.min.y = self.min.y.min(p.y);
        self.max.x = self.max.x.max(p.x);
        self.max.y = self.max.y.max(p.y);
    }

    /// Grow to contain `o`.
    pub fn merge(&mut self, o: &BBox) {
        self.include(o.min);
        self.include(o.max);
    }

    /// Whether the two boxes overlap (touching counts).
    pub fn overlaps(&self, o: &BBox) -> bool {
        self.min.x <= o.max.x
            && o.min.x <= self.max.x
            && self.min.y <= o.max.y
            && o.min.y <= self.max.y
    }

    /// Grow by `d` on every side.
    pub fn inflated(&self, d: Coord) -> BBox {
        BBox {
            min: Point::new(self.min.x - d, self.min.y - d),
            max: Point::new(self.max.x + d, self.max.y + d),
        }
    }

    /// Whether `p` lies in the box (edges included).
    pub fn contains(&self, p: Point) -> bool {
        p.x >= self.min.x && p.x <= self.max.x && p.y >= self.min.y && p.y <= self.max.y
    }

    /// Width and height.
    pub fn size(&self) -> Point {
        self.max - self.min
    }

    /// Centre.
    pub fn center(&self) -> Point {
        Point::new(
            self.min.x + (self.max.x - self.min.x) / 2,
            self.min.y + (self.max.y - self.min.y) / 2,
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn area_sign_follows_orientation() {
        let mut r = Polygon::rectangle(0, 0, 10, 20);
        assert_eq!(r.area(), 200.0);
        r.reverse();
        assert_eq!(r.area(), -200.0);
        assert!(!r.is_ccw());
    }

    #[test]
    fn area_is_exact_for_large_coordinates() {
        // A 300 mm square in nanometres: 9e22 square units, beyond i64.
        let s = 300_000_000;
        let r = Polygon::rectangle(-s / 2, -s / 2, s / 2, s / 2);
        assert_eq!(r.area_mm2(), 90_000.0);
    }

    #[test]
    fn containment_respects_holes() {
        let mut hole = Polygon::rectangle(4, 4, 6, 6);
        hole.reverse();
        let ex = ExPolygon {
            contour: Polygon::rectangle(0, 0, 10, 10),
            holes: vec![hole],
        };
        assert!(ex.contains(Point::new(1, 1)));
        assert!(!ex.contains(Point::new(5, 5)));
        assert!(!ex.contains(Point::new(11, 5)));
        assert_eq!(ex.area(), 96.0);
    }

    #[test]
    fn circle_area_approaches_pi_r_squared() {
        let c = Polygon::circle(Point::new(0, 0), 1_000_000, 720);
        let expected = std::f64::consts::PI * 1e12;
        assert!((c.area() - expected).abs() / expected < 1e-4);
    }

    #[test]
    fn distance_to_boundary() {
        let r = Polygon::rectangle(0, 0, 10, 10);
        assert_eq!(r.distance_squared_to(Point::new(5, 3)), 9.0);
        assert_eq!(r.distance_squared_to(Point::new(13, 14)), 25.0);
    }
}
