//! The one safe wrapper around the Clipper2 engine (`clipper2c-sys`): owned handles
//! that free themselves, inputs checked against the engine's coordinate range, and
//! every failure returned as a [`ClipError`] instead of empty geometry. All of
//! lamina's unsafe code for Clipper2 is in this file.
//!
//! The `clipper2` crate's own safe API covers closed outputs only and works on scaled
//! `f64` points; lamina needs open-line clipping (infill) and exact `i64` points, which
//! only the engine's entry points give.

use super::{Point, Polygon, Polyline, Rings};
use clipper2::{EndType, FillRule, JoinType};
use clipper2c_sys as sys;
use std::os::raw::c_int;

/// The largest coordinate magnitude the engine handles (Clipper2's `MAX_COORD`,
/// `INT64_MAX >> 2`: its intersection arithmetic needs the headroom).
pub const MAX_COORD: i64 = i64::MAX >> 2;

/// Why the engine gave no result.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ClipError {
    /// A point lies beyond the engine's coordinate range.
    #[error("a point ({x}, {y}) lies beyond the polygon engine's range of ±{MAX_COORD}")]
    OutOfRange {
        /// The point's X, integer units.
        x: i64,
        /// The point's Y, integer units.
        y: i64,
    },
    /// An offset distance is not a finite number within the coordinate range.
    #[error("an offset distance of {0} is not usable")]
    BadDelta(String),
    /// The engine reported that the operation failed.
    #[error("the polygon engine failed on a {0}")]
    Engine(&'static str),
}

/// A boolean operation.
#[derive(Clone, Copy, Debug)]
pub enum Op {
    /// Everything covered.
    Union,
    /// Subject minus clip.
    Difference,
    /// Covered by both.
    Intersection,
}

impl Op {
    fn raw(self) -> sys::ClipperClipType {
        match self {
            Op::Union => sys::ClipperClipType_UNION,
            Op::Difference => sys::ClipperClipType_DIFFERENCE,
            Op::Intersection => sys::ClipperClipType_INTERSECTION,
        }
    }

    fn name(self) -> &'static str {
        match self {
            Op::Union => "union",
            Op::Difference => "difference",
            Op::Intersection => "intersection",
        }
    }
}

// `Point` is `#[repr(C)] { x: i64, y: i64 }`, the layout of `ClipperPoint64`.
const _: () = assert!(
    std::mem::size_of::<Point>() == std::mem::size_of::<sys::ClipperPoint64>()
        && std::mem::align_of::<Point>() == std::mem::align_of::<sys::ClipperPoint64>()
);

fn check_range(points: &[Point]) -> Result<(), ClipError> {
    match points
        .iter()
        .find(|p| p.x.unsigned_abs() > MAX_COORD as u64 || p.y.unsigned_abs() > MAX_COORD as u64)
    {
        Some(p) => Err(ClipError::OutOfRange { x: p.x, y: p.y }),
        None => Ok(()),
    }
}

/// An owned `Paths64` on the engine's side.
struct Paths(*mut sys::ClipperPaths64);

impl Paths {
    fn empty() -> Paths {
        // SAFETY: the memory has the size the engine asks for and the constructor builds
        // the object in it; `Drop` destroys it and frees the memory.
        unsafe {
            let mem = sys::clipper_allocate(sys::clipper_paths64_size());
            Paths(sys::clipper_paths64(mem))
        }
    }

    fn push(&mut self, points: &[Point]) -> Result<(), ClipError> {
        check_range(points)?;
        // SAFETY: `points` has the layout of `ClipperPoint64` (asserted above) and the
        // engine only reads it (the `*mut` is the C signature's); the temporary path is
        // copied into `self` and then destroyed.
        unsafe {
            let mem = sys::clipper_allocate(sys::clipper_path64_size());
            let path = sys::clipper_path64_of_points(
                mem,
                points.as_ptr() as *mut sys::ClipperPoint64,
                points.len(),
            );
            sys::clipper_paths64_add_path(self.0, path);
            sys::clipper_delete_path64(path);
        }
        Ok(())
    }

    fn from_rings(rings: &(impl Rings + ?Sized)) -> Result<Paths, ClipError> {
        let mut p = Paths::empty();
        let mut result = Ok(());
        rings.for_each_ring(&mut |r| {
            if r.len() >= 3 && result.is_ok() {
                result = p.push(r);
            }
        });
        result.map(|()| p)
    }

    fn from_polylines(lines: &[Polyline]) -> Result<Paths, ClipError> {
        let mut p = Paths::empty();
        for l in lines {
            if l.points.len() >= 2 {
                p.push(&l.points)?;
            }
        }
        Ok(p)
    }

    fn to_point_vecs(&self) -> Vec<Vec<Point>> {
        // SAFETY: `self.0` is a live `Paths64`; the indices stay below the lengths the
        // engine reports for it.
        unsafe {
            let n = sys::clipper_paths64_length(self.0);
            let mut out = Vec::with_capacity(n);
            for i in 0..n {
                let m = sys::clipper_paths64_path_length(self.0, i as c_int);
                let mut pts = Vec::with_capacity(m);
                for j in 0..m {
                    let p = sys::clipper_paths64_get_point(self.0, i as c_int, j as c_int);
                    pts.push(Point::new(p.x, p.y));
                }
                out.push(pts);
            }
            out
        }
    }
}

impl Drop for Paths {
    fn drop(&mut self) {
        // SAFETY: made by `clipper_paths64` (or returned by the engine as a new
        // `Paths64`) on `clipper_allocate` memory, and destroyed only here.
        unsafe { sys::clipper_delete_paths64(self.0) }
    }
}

/// An owned `Clipper64` engine.
struct Engine(*mut sys::ClipperClipper64);

impl Engine {
    fn new() -> Engine {
        // SAFETY: as for `Paths::empty`.
        unsafe {
            let mem = sys::clipper_allocate(sys::clipper_clipper64_size());
            Engine(sys::clipper_clipper64(mem))
        }
    }

    /// Run `op` with `subject` (closed or open) and closed `clip`; the closed and the
    /// open results.
    fn execute(
        self,
        op: Op,
        subject: &Paths,
        open_subject: bool,
        clip: &Paths,
        fill: FillRule,
    ) -> Result<(Paths, Paths), ClipError> {
        let closed = Paths::empty();
        let open = Paths::empty();
        // SAFETY: the engine and all paths are live for the duration of the calls; the
        // engine copies its inputs and writes its outputs into `closed` and `open`.
        let ok = unsafe {
            if open_subject {
                sys::clipper_clipper64_add_open_subject(self.0, subject.0);
            } else {
                sys::clipper_clipper64_add_subject(self.0, subject.0);
            }
            sys::clipper_clipper64_add_clip(self.0, clip.0);
            sys::clipper_clipper64_execute(self.0, op.raw(), fill.into(), closed.0, open.0)
        };
        if ok != 1 {
            return Err(ClipError::Engine(op.name()));
        }
        Ok((closed, open))
    }
}

impl Drop for Engine {
    fn drop(&mut self) {
        // SAFETY: made by `clipper_clipper64` and destroyed only here.
        unsafe { sys::clipper_delete_clipper64(self.0) }
    }
}

/// A boolean operation on closed rings: the result as flat rings, solids
/// counter-clockwise and holes clockwise (the engine's orientation rule), to be nested
/// by the caller.
///
/// The engine's poly tree is not used: where rings of the subject and the clip
/// coincide it can hang a hole at the top level, which would then read as a solid.
pub fn boolean(
    op: Op,
    subject: &(impl Rings + ?Sized),
    clip: &(impl Rings + ?Sized),
    fill: FillRule,
) -> Result<Vec<Polygon>, ClipError> {
    let subject = Paths::from_rings(subject)?;
    let clip = Paths::from_rings(clip)?;
    let (closed, _) = Engine::new().execute(op, &subject, false, &clip, fill)?;
    Ok(closed
        .to_point_vecs()
        .into_iter()
        .filter(|p| p.len() >= 3)
        .map(Polygon::new)
        .collect())
}

/// A boolean operation of open `lines` with closed `clip` (non-zero fill).
pub fn clip_open(
    op: Op,
    lines: &[Polyline],
    clip: &(impl Rings + ?Sized),
) -> Result<Vec<Polyline>, ClipError> {
    let subject = Paths::from_polylines(lines)?;
    let clip = Paths::from_rings(clip)?;
    let (_, open) = Engine::new().execute(op, &subject, true, &clip, FillRule::NonZero)?;
    Ok(open
        .to_point_vecs()
        .into_iter()
        .filter(|p| p.len() >= 2)
        .map(Polyline::new)
        .collect())
}

fn run_offset(
    paths: &Paths,
    delta: f64,
    miter_limit: f64,
    arc_tolerance: f64,
    join: JoinType,
    end: EndType,
) -> Result<Vec<Polygon>, ClipError> {
    if !delta.is_finite() || delta.abs() > MAX_COORD as f64 {
        return Err(ClipError::BadDelta(delta.to_string()));
    }
    // SAFETY: `paths` is live for the duration of the calls; the offsetter is made on
    // memory of the size the engine asks for and destroyed before returning; the
    // result is owned by a `Paths`, which frees it.
    let result = unsafe {
        let mem = sys::clipper_allocate(sys::clipper_clipperoffset_size());
        let off = sys::clipper_clipperoffset(mem, miter_limit, arc_tolerance, 0, 0);
        sys::clipper_clipperoffset_add_paths64(off, paths.0, join.into(), end.into());
        let mem = sys::clipper_allocate(sys::clipper_paths64_size());
        let result = Paths(sys::clipper_clipperoffset_execute(mem, off, delta));
        sys::clipper_delete_clipperoffset(off);
        result
    };
    Ok(result
        .to_point_vecs()
        .into_iter()
        .filter(|p| p.len() >= 3)
        .map(Polygon::new)
        .collect())
}

/// Offset closed rings by `delta` (flat rings out, as [`boolean`]).
pub fn offset(
    areas: &(impl Rings + ?Sized),
    delta: f64,
    (miter_limit, arc_tolerance): (f64, f64),
    join: JoinType,
    end: EndType,
) -> Result<Vec<Polygon>, ClipError> {
    let paths = Paths::from_rings(areas)?;
    run_offset(&paths, delta, miter_limit, arc_tolerance, join, end)
}

/// Offset open lines by `delta` (the area a line `2 * delta` wide covers).
pub fn offset_open(
    lines: &[Polyline],
    delta: f64,
    (miter_limit, arc_tolerance): (f64, f64),
    join: JoinType,
    end: EndType,
) -> Result<Vec<Polygon>, ClipError> {
    let paths = Paths::from_polylines(lines)?;
    run_offset(&paths, delta, miter_limit, arc_tolerance, join, end)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn square(x: i64, y: i64, s: i64) -> Polygon {
        Polygon::rectangle(x, y, x + s, y + s)
    }

    #[test]
    fn booleans_round_trip_points_exactly() {
        // Exercises Paths::push, Engine::execute and to_point_vecs: integer points come
        // back unchanged and the owned handles are freed (run under a leak checker).
        let a = square(0, 0, 10);
        let b = square(5, 5, 10);
        let u = boolean(
            Op::Union,
            &[a.clone(), b.clone()],
            &[] as &[Polygon],
            FillRule::NonZero,
        )
        .unwrap();
        assert_eq!(u.len(), 1);
        assert_eq!(u[0].area(), 175.0);
        let i = boolean(Op::Intersection, &a, &b, FillRule::NonZero).unwrap();
        assert_eq!(i.len(), 1);
        let mut pts = i[0].points.clone();
        pts.sort_by_key(|p| (p.x, p.y));
        assert_eq!(
            pts,
            vec![
                Point::new(5, 5),
                Point::new(5, 10),
                Point::new(10, 5),
                Point::new(10, 10)
            ]
        );
    }

    #[test]
    fn open_lines_are_clipped() {
        let line = Polyline::new(vec![Point::new(-5, 5), Point::new(15, 5)]);
        let inside = clip_open(
            Op::Intersection,
            std::slice::from_ref(&line),
            &square(0, 0, 10),
        )
        .unwrap();
        assert_eq!(inside.len(), 1);
        assert_eq!(inside[0].length(), 10.0);
        let outside = clip_open(Op::Difference, &[line], &square(0, 0, 10)).unwrap();
        assert_eq!(outside.len(), 2);
    }

    #[test]
    fn offsets_grow_and_shrink() {
        let grown = offset(
            &square(0, 0, 100),
            10.0,
            (3.0, 1.0),
            JoinType::Miter,
            EndType::Polygon,
        )
        .unwrap();
        assert_eq!(grown[0].area(), 120.0 * 120.0);
        let line = Polyline::new(vec![Point::new(0, 0), Point::new(100, 0)]);
        let band = offset_open(&[line], 10.0, (3.0, 1.0), JoinType::Square, EndType::Butt).unwrap();
        assert_eq!(band[0].area(), 100.0 * 20.0);
    }

    #[test]
    fn out_of_range_points_and_bad_offsets_are_errors_not_empty_geometry() {
        let far = square(MAX_COORD, 0, 10);
        let e = boolean(Op::Union, &far, &[] as &[Polygon], FillRule::NonZero).unwrap_err();
        assert!(matches!(e, ClipError::OutOfRange { x, .. } if x > MAX_COORD));
        let e = clip_open(
            Op::Intersection,
            &[Polyline::new(vec![
                Point::new(0, 0),
                Point::new(0, -MAX_COORD - 1),
            ])],
            &square(0, 0, 10),
        )
        .unwrap_err();
        assert!(matches!(e, ClipError::OutOfRange { .. }));
        for delta in [f64::NAN, f64::INFINITY, 1e30] {
            let e = offset(
                &square(0, 0, 10),
                delta,
                (3.0, 1.0),
                JoinType::Miter,
                EndType::Polygon,
            )
            .unwrap_err();
            assert!(matches!(e, ClipError::BadDelta(_)));
        }
        // The edge of the range itself is accepted.
        assert!(
            boolean(
                Op::Union,
                &square(MAX_COORD - 10, 0, 10),
                &[] as &[Polygon],
                FillRule::NonZero
            )
            .is_ok()
        );
    }
}
