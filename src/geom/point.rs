//! A point in integer coordinates.

use std::ops::{Add, Mul, Neg, Sub};

/// One integer coordinate (nanometres, see [`super::SCALE`]).
pub type Coord = i64;

/// A point (or vector) in the layer plane, integer nanometres.
///
/// The layout matches Clipper2's point, so paths pass to it without conversion.
///
/// ```
/// use lamina::geom::Point;
/// let a = Point::new(3, 4);
/// assert_eq!(a.length(), 5.0);
/// assert_eq!(a - Point::new(1, 1), Point::new(2, 3));
/// ```
#[repr(C)]
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Point {
    /// X, nanometres.
    pub x: Coord,
    /// Y, nanometres.
    pub y: Coord,
}

impl Point {
    /// A point from integer coordinates.
    #[inline]
    pub const fn new(x: Coord, y: Coord) -> Self {
        Point { x, y }
    }

    /// A point from millimetres.
    #[inline]
    pub fn from_mm(x: f64, y: f64) -> Self {
        Point::new(super::scaled(x), super::scaled(y))
    }

    /// The coordinates in millimetres.
    #[inline]
    pub fn to_mm(self) -> (f64, f64) {
        (super::unscaled(self.x), super::unscaled(self.y))
    }

    /// Dot product, in f64 (exact up to 2^53).
    #[inline]
    pub fn dot(self, o: Point) -> f64 {
        self.x as f64 * o.x as f64 + self.y as f64 * o.y as f64
    }

    /// Z component of the cross product, in f64.
    #[inline]
    pub fn cross(self, o: Point) -> f64 {
        self.x as f64 * o.y as f64 - self.y as f64 * o.x as f64
    }

    /// Exact sign of the cross product `self × o`: 1, 0 or -1.
    #[inline]
    pub fn cross_sign(self, o: Point) -> i32 {
        let c = self.x as i128 * o.y as i128 - self.y as i128 * o.x as i128;
        c.signum() as i32
    }

    /// Squared length, f64.
    #[inline]
    pub fn length_squared(self) -> f64 {
        self.dot(self)
    }

    /// Length, f64 in integer units.
    #[inline]
    pub fn length(self) -> f64 {
        self.length_squared().sqrt()
    }

    /// Distance to another point, integer units.
    #[inline]
    pub fn distance(self, o: Point) -> f64 {
        (self - o).length()
    }

    /// Squared distance from this point to the segment `a`-`b`.
    pub fn distance_to_segment_squared(self, a: Point, b: Point) -> f64 {
        let ab = b - a;
        let len2 = ab.length_squared();
        if len2 == 0.0 {
            return (self - a).length_squared();
        }
        let t = ((self - a).dot(ab) / len2).clamp(0.0, 1.0);
        let px = a.x as f64 + t * ab.x as f64 - self.x as f64;
        let py = a.y as f64 + t * ab.y as f64 - self.y as f64;
        px * px + py * py
    }

    /// The point a fraction `t` of the way from `self` to `o`.
    #[inline]
    pub fn lerp(self, o: Point, t: f64) -> Point {
        Point::new(
            self.x + ((o.x - self.x) as f64 * t).round() as Coord,
            self.y + ((o.y - self.y) as f64 * t).round() as Coord,
        )
    }

    /// This vector turned 90° counter-clockwise.
    #[inline]
    pub fn perp(self) -> Point {
        Point::new(-self.y, self.x)
    }
}

impl Add for Point {
    type Output = Point;
    #[inline]
    fn add(self, o: Point) -> Point {
        Point::new(self.x + o.x, self.y + o.y)
    }
}

impl Sub for Point {
    type Output = Point;
    #[inline]
    fn sub(self, o: Point) -> Point {
        Point::new(self.x - o.x, self.y - o.y)
    }
}

impl Neg for Point {
    type Output = Point;
    #[inline]
    fn neg(self) -> Point {
        Point::new(-self.x, -self.y)
    }
}

impl Mul<f64> for Point {
    type Output = Point;
    #[inline]
    fn mul(self, s: f64) -> Point {
        Point::new(
            (self.x as f64 * s).round() as Coord,
            (self.y as f64 * s).round() as Coord,
        )
    }
}
