//! Integer 2D geometry for slicing: points, polygons, polygons with holes, and the
//! boolean and offset operations on them.
//!
//! Coordinates are integers in nanometres ([`SCALE`] units per millimetre), like the
//! slicers labs know: exact, so boolean operations are robust and two layers' contours
//! compare without float noise. Convert with [`scaled`] and [`unscaled`] at the edges
//! (mesh in, G-code out).
//!
//! ```
//! use lamina::geom::{scaled, unscaled, ExPolygon, Polygon};
//! let square = Polygon::rectangle(scaled(0.0), scaled(0.0), scaled(20.0), scaled(20.0));
//! let part = ExPolygon::new(square);
//! assert!((part.area_mm2() - 400.0).abs() < 1e-9);
//! assert_eq!(unscaled(scaled(0.4)), 0.4);
//! ```

mod cells;
mod clip;
mod clipper;
mod point;
mod polygon;
mod simplify;

pub use cells::CellMap;
pub use clip::{
    FillRule, JoinType, MITER_LIMIT, Rings, clip_polylines, diff_polylines, difference,
    failures as clip_failures, intersection, offset, offset_polygons, offset_polylines, sweep,
    union, union_polygons,
};
pub use clipper::ClipError;
pub use point::{Coord, Point};
pub use polygon::{BBox, ExPolygon, Polygon, Polyline};
pub use simplify::{simplify_keep, simplify_polyline};

/// Integer units per millimetre (nanometres).
pub const SCALE: f64 = 1_000_000.0;

/// Millimetres to integer units, rounded to the nearest unit.
#[inline]
pub fn scaled(mm: f64) -> Coord {
    (mm * SCALE).round() as Coord
}

/// Integer units to millimetres.
#[inline]
pub fn unscaled(c: Coord) -> f64 {
    c as f64 / SCALE
}

/// Square integer units (an area from [`Polygon::area`]) to square millimetres.
#[inline]
pub fn unscaled_area(a: f64) -> f64 {
    a / (SCALE * SCALE)
}
