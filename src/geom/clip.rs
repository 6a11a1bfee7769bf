//! Boolean operations and offsets, through Clipper2.
//!
//! This file is the only place lamina talks to Clipper2. The engine works on `i64`
//! points exactly like [`Point`], so paths pass in and out without scaling. The
//! `clipper2` crate's high-level API covers closed outputs only; polygons with holes
//! (a poly tree) and clipping open lines (infill) need the engine's own entry points,
//! reached through `clipper2c-sys`. All unsafe code is kept in [`ffi`] below.

use super::{ExPolygon, Point, Polygon, Polyline};

use clipper2::EndType;
pub use clipper2::{FillRule, JoinType};

/// Maximum distance between a round offset's true arc and its polygon, integer units
/// (5 µm: far below a printed line's width, and few points per arc).
pub const ARC_TOLERANCE: f64 = 5_000.0;

/// Miter joins sharper than this (in multiples of the offset) are squared off.
pub const MITER_LIMIT: f64 = 3.0;

/// Anything that is a set of closed rings: polygons, polygons with holes.
pub trait Rings {
    /// Call `f` with each ring's points.
    fn for_each_ring(&self, f: &mut dyn FnMut(&[Point]));
}

impl Rings for Polygon {
    fn for_each_ring(&self, f: &mut dyn FnMut(&[Point])) {
        f(&self.points);
    }
}

impl Rings for ExPolygon {
    fn for_each_ring(&self, f: &mut dyn FnMut(&[Point])) {
        for r in self.rings() {
            f(&r.points);
        }
    }
}

impl<T: Rings> Rings for [T] {
    fn for_each_ring(&self, f: &mut dyn FnMut(&[Point])) {
        for item in self {
            item.for_each_ring(f);
        }
    }
}

impl<T: Rings, const N: usize> Rings for [T; N] {
    fn for_each_ring(&self, f: &mut dyn FnMut(&[Point])) {
        self.as_slice().for_each_ring(f);
    }
}

impl<T: Rings> Rings for Vec<T> {
    fn for_each_ring(&self, f: &mut dyn FnMut(&[Point])) {
        self.as_slice().for_each_ring(f);
    }
}

impl<T: Rings + ?Sized> Rings for &T {
    fn for_each_ring(&self, f: &mut dyn FnMut(&[Point])) {
        (**self).for_each_ring(f);
    }
}

/// Union of all rings of `subject` under `fill`, as polygons with holes.
///
/// ```
/// use lamina::geom::{union, FillRule, Polygon};
/// let a = Polygon::rectangle(0, 0, 10, 10);
/// let b = Polygon::rectangle(5, 0, 15, 10);
/// let u = union(&vec![a, b], FillRule::NonZero);
/// assert_eq!(u.len(), 1);
/// assert_eq!(u[0].area(), 150.0);
/// ```
pub fn union(subject: &(impl Rings + ?Sized), fill: FillRule) -> Vec<ExPolygon> {
    nest(ffi::boolean(
        ffi::Op::Union,
        subject,
        &[] as &[Polygon],
        fill,
    ))
}

/// Union of closed rings, flattened to rings (outer contours counter-clockwise, holes
/// clockwise), for callers that do not need the nesting.
pub fn union_polygons(subject: &(impl Rings + ?Sized), fill: FillRule) -> Vec<Polygon> {
    flatten(union(subject, fill))
}

/// `subject` minus `clip` (non-zero fill on both).
///
/// ```
/// use lamina::geom::{difference, Polygon};
/// let a = Polygon::rectangle(0, 0, 10, 10);
/// let hole = Polygon::rectangle(2, 2, 8, 8);
/// let d = difference(&a, &hole);
/// assert_eq!(d.len(), 1);
/// assert_eq!(d[0].holes.len(), 1);
/// assert_eq!(d[0].area(), 64.0);
/// ```
pub fn difference(subject: &(impl Rings + ?Sized), clip: &(impl Rings + ?Sized)) -> Vec<ExPolygon> {
    nest(ffi::boolean(
        ffi::Op::Difference,
        subject,
        clip,
        FillRule::NonZero,
    ))
}

/// Intersection of `subject` and `clip` (non-zero fill on both).
pub fn intersection(
    subject: &(impl Rings + ?Sized),
    clip: &(impl Rings + ?Sized),
) -> Vec<ExPolygon> {
    nest(ffi::boolean(
        ffi::Op::Intersection,
        subject,
        clip,
        FillRule::NonZero,
    ))
}

/// Grow (positive `delta`) or shrink (negative) areas by `delta` integer units.
///
/// ```
/// use lamina::geom::{offset, scaled, ExPolygon, JoinType, Polygon};
/// let sq = ExPolygon::new(Polygon::rectangle(0, 0, scaled(10.0), scaled(10.0)));
/// let inner = offset(&[sq], -scaled(1.0) as f64, JoinType::Miter);
/// assert!((inner[0].area_mm2() - 64.0).abs() < 1e-6);
/// ```
pub fn offset(areas: &(impl Rings + ?Sized), delta: f64, join: JoinType) -> Vec<ExPolygon> {
    nest(ffi::offset(areas, delta, join, EndType::Polygon))
}

/// Like [`offset`] but returns the flat rings.
pub fn offset_polygons(areas: &(impl Rings + ?Sized), delta: f64, join: JoinType) -> Vec<Polygon> {
    ffi::offset(areas, delta, join, EndType::Polygon)
}

/// The area covered by open lines drawn `2 * delta` wide with round ends: what an
/// extrusion of width `2 * delta` along them covers.
pub fn offset_polylines(lines: &[Polyline], delta: f64) -> Vec<ExPolygon> {
    nest(ffi::offset_open(
        lines,
        delta,
        JoinType::Round,
        EndType::Round,
    ))
}

/// Group the rings of an offset result (already a union: solids counter-clockwise,
/// holes clockwise, none crossing) into polygons with holes: each hole goes to the
/// smallest solid that contains it. Cheaper than a second union through the engine.
fn nest(rings: Vec<Polygon>) -> Vec<ExPolygon> {
    type Sized = Vec<(f64, Polygon)>;
    let (mut solids, holes): (Sized, Sized) = rings
        .into_iter()
        .map(|r| (r.area(), r))
        .filter(|(a, _)| *a != 0.0)
        .partition(|(a, _)| *a > 0.0);
    solids.sort_by(|a, b| a.0.total_cmp(&b.0));
    let boxes: Vec<_> = solids.iter().map(|(_, p)| p.bbox()).collect();
    let mut out: Vec<ExPolygon> = solids
        .into_iter()
        .map(|(_, contour)| ExPolygon {
            contour,
            holes: Vec::new(),
        })
        .collect();
    for (_, hole) in holes {
        let (Some(hb), Some(&probe)) = (hole.bbox(), hole.points.first()) else {
            continue;
        };
        let owner = (0..out.len()).find(|&i| {
            boxes[i].is_some_and(|b| b.contains(hb.min) && b.contains(hb.max))
                && out[i].contour.contains(probe)
        });
        if let Some(i) = owner {
            out[i].holes.push(hole);
        }
    }
    out
}

/// The parts of open `lines` inside `clip`.
///
/// ```
/// use lamina::geom::{clip_polylines, Point, Polygon, Polyline};
/// let area = Polygon::rectangle(0, 0, 10, 10);
/// let line = Polyline::new(vec![Point::new(-5, 5), Point::new(15, 5)]);
/// let inside = clip_polylines(&[line], &area);
/// assert_eq!(inside.len(), 1);
/// assert_eq!(inside[0].length(), 10.0);
/// ```
pub fn clip_polylines(lines: &[Polyline], clip: &(impl Rings + ?Sized)) -> Vec<Polyline> {
    ffi::clip_open(ffi::Op::Intersection, lines, clip)
}

/// The parts of open `lines` outside `clip`.
pub fn diff_polylines(lines: &[Polyline], clip: &(impl Rings + ?Sized)) -> Vec<Polyline> {
    ffi::clip_open(ffi::Op::Difference, lines, clip)
}

/// The area `areas` sweeps when moved along the segment from (0, 0) to `(dx, dy)`
/// (integer units): the Minkowski sum with that segment.
///
/// ```
/// use lamina::geom::{sweep, Polygon, ExPolygon};
/// let sq = ExPolygon::new(Polygon::rectangle(0, 0, 10, 10));
/// let s = sweep(&[sq], 5, 0);
/// assert_eq!(s.len(), 1);
/// assert_eq!(s[0].area(), 150.0);
/// ```
pub fn sweep(areas: &[ExPolygon], dx: i64, dy: i64) -> Vec<ExPolygon> {
    if dx == 0 && dy == 0 {
        return union(areas, FillRule::NonZero);
    }
    // Each run of edges turned the same way to the motion is monotone across it, so the
    // band it sweeps is one simple polygon: the run, then the run moved, backwards. A
    // few bands per ring instead of one quadrilateral per edge keep the union cheap.
    let side = |a: Point, b: Point| -> i32 {
        let c = (b.x - a.x) as i128 * dy as i128 - (b.y - a.y) as i128 * dx as i128;
        c.signum() as i32
    };
    let mut bands: Vec<Polygon> = Vec::new();
    let mut run: Vec<Point> = Vec::new();
    let flush = |run: &mut Vec<Point>, bands: &mut Vec<Polygon>| {
        if run.len() >= 2 {
            let mut pts = run.clone();
            pts.extend(run.iter().rev().map(|p| Point::new(p.x + dx, p.y + dy)));
            let mut band = Polygon::new(pts);
            if band.area() < 0.0 {
                band.points.reverse();
            }
            bands.push(band);
        }
        run.clear();
    };
    for ring in areas.iter().flat_map(|e| e.rings()) {
        let pts = &ring.points;
        let n = pts.len();
        if n < 2 {
            continue;
        }
        // Start the walk where the turn changes, so no run wraps round the start.
        let start = (0..n)
            .find(|&i| {
                let prev = side(pts[(i + n - 1) % n], pts[i]);
                prev != side(pts[i], pts[(i + 1) % n])
            })
            .unwrap_or(0);
        let mut current = 0;
        for k in 0..n {
            let a = pts[(start + k) % n];
            let b = pts[(start + k + 1) % n];
            let s = side(a, b);
            if s != current || s == 0 {
                flush(&mut run, &mut bands);
                current = s;
            }
            if s != 0 {
                if run.is_empty() {
                    run.push(a);
                }
                run.push(b);
            }
        }
        flush(&mut run, &mut bands);
    }
    let moved: Vec<Polygon> = areas
        .iter()
        .flat_map(|e| e.rings())
        .map(|r| {
            Polygon::new(
                r.points
                    .iter()
                    .map(|p| Point::new(p.x + dx, p.y + dy))
                    .collect(),
            )
        })
        .collect();
    let mut all: Vec<ExPolygon> = union(&bands, FillRule::NonZero);
    all.extend(areas.iter().cloned());
    all.extend(union(&moved, FillRule::EvenOdd));
    union(&all, FillRule::NonZero)
}

/// Polygons with holes to flat rings.
fn flatten(ex: Vec<ExPolygon>) -> Vec<Polygon> {
    let mut out = Vec::new();
    for e in ex {
        out.push(e.contour);
        out.extend(e.holes);
    }
    out
}

/// The unsafe boundary with the Clipper2 engine.
mod ffi {
    use super::{ARC_TOLERANCE, MITER_LIMIT, Point, Polygon, Polyline, Rings};
    use clipper2::{EndType, FillRule, JoinType};
    use clipper2c_sys as sys;
    use std::os::raw::c_int;

    #[derive(Clone, Copy)]
    pub(super) enum Op {
        Union,
        Difference,
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
    }

    // `Point` is `#[repr(C)] { x: i64, y: i64 }`, the layout of `ClipperPoint64`.
    const _: () = assert!(
        std::mem::size_of::<Point>() == std::mem::size_of::<sys::ClipperPoint64>()
            && std::mem::align_of::<Point>() == std::mem::align_of::<sys::ClipperPoint64>()
    );

    /// An owned `Paths64` on the C++ side.
    struct Paths(*mut sys::ClipperPaths64);

    impl Paths {
        fn empty() -> Paths {
            // SAFETY: memory of the size the constructor asks for, constructed in place.
            unsafe {
                let mem = sys::clipper_allocate(sys::clipper_paths64_size());
                Paths(sys::clipper_paths64(mem))
            }
        }

        fn push(&mut self, points: &[Point]) {
            // SAFETY: `points` has the layout of ClipperPoint64 (asserted above) and is
            // only read; the temporary path is copied into `self` and then freed.
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
        }

        fn from_rings(rings: &(impl Rings + ?Sized)) -> Paths {
            let mut p = Paths::empty();
            rings.for_each_ring(&mut |r| {
                if r.len() >= 3 {
                    p.push(r);
                }
            });
            p
        }

        fn from_polylines(lines: &[Polyline]) -> Paths {
            let mut p = Paths::empty();
            for l in lines {
                if l.points.len() >= 2 {
                    p.push(&l.points);
                }
            }
            p
        }

        fn to_point_vecs(&self) -> Vec<Vec<Point>> {
            // SAFETY: indices stay within the lengths the engine reports.
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
            // SAFETY: created by clipper_paths64 on clipper_allocate memory.
            unsafe { sys::clipper_delete_paths64(self.0) }
        }
    }

    /// An owned `Clipper64` engine.
    struct Engine(*mut sys::ClipperClipper64);

    impl Engine {
        fn new() -> Engine {
            // SAFETY: as for Paths::empty.
            unsafe {
                let mem = sys::clipper_allocate(sys::clipper_clipper64_size());
                Engine(sys::clipper_clipper64(mem))
            }
        }
    }

    impl Drop for Engine {
        fn drop(&mut self) {
            // SAFETY: created by clipper_clipper64.
            unsafe { sys::clipper_delete_clipper64(self.0) }
        }
    }

    /// A boolean operation's result as flat rings: solids counter-clockwise, holes
    /// clockwise (the engine's orientation rule), to be nested by the caller.
    ///
    /// The engine's poly tree is not used: where rings of the subject and the clip
    /// coincide it can hang a hole at the top level, which would then read as a solid.
    pub(super) fn boolean(
        op: Op,
        subject: &(impl Rings + ?Sized),
        clip: &(impl Rings + ?Sized),
        fill: FillRule,
    ) -> Vec<Polygon> {
        let subj = Paths::from_rings(subject);
        let clip = Paths::from_rings(clip);
        let engine = Engine::new();
        let closed = Paths::empty();
        let open = Paths::empty();
        // SAFETY: all handles are live for the duration of the calls.
        let ok = unsafe {
            sys::clipper_clipper64_add_subject(engine.0, subj.0);
            sys::clipper_clipper64_add_clip(engine.0, clip.0);
            sys::clipper_clipper64_execute(engine.0, op.raw(), fill.into(), closed.0, open.0)
        };
        if ok != 1 {
            return Vec::new();
        }
        closed
            .to_point_vecs()
            .into_iter()
            .filter(|p| p.len() >= 3)
            .map(Polygon::new)
            .collect()
    }

    pub(super) fn clip_open(
        op: Op,
        lines: &[Polyline],
        clip: &(impl Rings + ?Sized),
    ) -> Vec<Polyline> {
        let subj = Paths::from_polylines(lines);
        let clip = Paths::from_rings(clip);
        let engine = Engine::new();
        let closed = Paths::empty();
        let open = Paths::empty();
        // SAFETY: all handles are live for the duration of the calls.
        let ok = unsafe {
            sys::clipper_clipper64_add_open_subject(engine.0, subj.0);
            sys::clipper_clipper64_add_clip(engine.0, clip.0);
            sys::clipper_clipper64_execute(
                engine.0,
                op.raw(),
                FillRule::NonZero.into(),
                closed.0,
                open.0,
            )
        };
        if ok != 1 {
            return Vec::new();
        }
        open.to_point_vecs()
            .into_iter()
            .filter(|p| p.len() >= 2)
            .map(Polyline::new)
            .collect()
    }

    fn run_offset(paths: &Paths, delta: f64, join: JoinType, end: EndType) -> Vec<Vec<Point>> {
        // SAFETY: handles live for the duration of the calls; the result is owned by a
        // `Paths` so it is freed.
        unsafe {
            let mem = sys::clipper_allocate(sys::clipper_clipperoffset_size());
            let off = sys::clipper_clipperoffset(mem, MITER_LIMIT, ARC_TOLERANCE, 0, 0);
            sys::clipper_clipperoffset_add_paths64(off, paths.0, join.into(), end.into());
            let mem = sys::clipper_allocate(sys::clipper_paths64_size());
            let result = Paths(sys::clipper_clipperoffset_execute(mem, off, delta));
            sys::clipper_delete_clipperoffset(off);
            result.to_point_vecs()
        }
    }

    pub(super) fn offset(
        areas: &(impl Rings + ?Sized),
        delta: f64,
        join: JoinType,
        end: EndType,
    ) -> Vec<Polygon> {
        let paths = Paths::from_rings(areas);
        run_offset(&paths, delta, join, end)
            .into_iter()
            .filter(|p| p.len() >= 3)
            .map(Polygon::new)
            .collect()
    }

    pub(super) fn offset_open(
        lines: &[Polyline],
        delta: f64,
        join: JoinType,
        end: EndType,
    ) -> Vec<Polygon> {
        let paths = Paths::from_polylines(lines);
        run_offset(&paths, delta, join, end)
            .into_iter()
            .filter(|p| p.len() >= 3)
            .map(Polygon::new)
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::geom::scaled;

    fn square(x: f64, y: f64, s: f64) -> Polygon {
        Polygon::rectangle(scaled(x), scaled(y), scaled(x + s), scaled(y + s))
    }

    /// The sweep the slow way: a quadrilateral per edge, the areas and their copy.
    fn sweep_by_quads(areas: &[ExPolygon], dx: i64, dy: i64) -> Vec<ExPolygon> {
        let mut all: Vec<ExPolygon> = areas.to_vec();
        for r in areas.iter().flat_map(|e| e.rings()) {
            let n = r.points.len();
            for i in 0..n {
                let a = r.points[i];
                let b = r.points[(i + 1) % n];
                let mut q = Polygon::new(vec![
                    a,
                    b,
                    Point::new(b.x + dx, b.y + dy),
                    Point::new(a.x + dx, a.y + dy),
                ]);
                if q.area() < 0.0 {
                    q.points.reverse();
                }
                all.push(ExPolygon::new(q));
            }
        }
        let moved: Vec<ExPolygon> = areas
            .iter()
            .map(|e| {
                let shift = |r: &Polygon| {
                    Polygon::new(
                        r.points
                            .iter()
                            .map(|p| Point::new(p.x + dx, p.y + dy))
                            .collect(),
                    )
                };
                ExPolygon {
                    contour: shift(&e.contour),
                    holes: e.holes.iter().map(shift).collect(),
                }
            })
            .collect();
        all.extend(moved);
        union(&all, FillRule::NonZero)
    }

    #[test]
    fn sweep_matches_the_union_of_edge_quadrilaterals() {
        // A star with a square hole and a separate wiggly ring, swept several ways.
        let star = Polygon::new(
            (0..14)
                .map(|i| {
                    let a = i as f64 * std::f64::consts::PI / 7.0;
                    let r = if i % 2 == 0 { 10.0 } else { 4.0 };
                    Point::new(scaled(r * a.cos()), scaled(r * a.sin()))
                })
                .collect(),
        );
        let mut hole = square(-1.5, -1.5, 3.0);
        hole.points.reverse();
        let wiggle = Polygon::new(
            (0..40)
                .map(|i| {
                    let x = 20.0 + i as f64 * 0.5;
                    let y = if i % 2 == 0 { 0.0 } else { 1.5 };
                    Point::new(scaled(x), scaled(y))
                })
                .chain([
                    Point::new(scaled(39.5), scaled(-3.0)),
                    Point::new(scaled(20.0), scaled(-3.0)),
                ])
                .collect(),
        );
        let areas = vec![
            ExPolygon {
                contour: star,
                holes: vec![hole],
            },
            ExPolygon::new(wiggle),
        ];
        for (dx, dy) in [(7.0, 0.0), (0.0, -16.0), (3.0, 2.5), (-0.4, 0.1)] {
            let (dx, dy) = (scaled(dx), scaled(dy));
            let area = |v: &[ExPolygon]| v.iter().map(ExPolygon::area).sum::<f64>();
            let fast = sweep(&areas, dx, dy);
            let slow = sweep_by_quads(&areas, dx, dy);
            let (a, b) = (area(&fast), area(&slow));
            assert!((a - b).abs() <= 1e-6 * b, "{dx},{dy}: {a} vs {b}");
            // The same region, not only the same area.
            let apart = area(&difference(&fast, &slow)) + area(&difference(&slow, &fast));
            assert!(apart <= 1e-6 * b, "{dx},{dy}: {apart}");
        }
    }

    #[test]
    fn union_of_nested_rings_gives_holes_and_islands() {
        // Even-odd: outer square, a hole, an island in the hole.
        let rings = vec![
            square(0.0, 0.0, 30.0),
            square(5.0, 5.0, 20.0),
            square(10.0, 10.0, 10.0),
        ];
        let ex = union(&rings, FillRule::EvenOdd);
        assert_eq!(ex.len(), 2);
        let big = ex
            .iter()
            .find(|e| e.holes.len() == 1)
            .expect("outer with a hole");
        assert!((big.area_mm2() - (900.0 - 400.0)).abs() < 1e-9);
        let island = ex.iter().find(|e| e.holes.is_empty()).expect("island");
        assert!((island.area_mm2() - 100.0).abs() < 1e-9);
        assert!(big.contour.is_ccw() && !big.holes[0].is_ccw());
    }

    #[test]
    fn round_offset_of_square_matches_analytic_area() {
        let sq = ExPolygon::new(square(0.0, 0.0, 10.0));
        let grown = offset(&[sq], scaled(1.0) as f64, JoinType::Round);
        // 10x10 square grown by 1: 100 + 4*10 + pi.
        let expected = 140.0 + std::f64::consts::PI;
        // Arcs are inscribed polygons: at most 2/3 * ARC_TOLERANCE * arc length is lost.
        let max_loss = 2.0 / 3.0 * ARC_TOLERANCE / 1e6 * std::f64::consts::TAU;
        let area = grown[0].area_mm2();
        assert!(area <= expected && area >= expected - max_loss, "{area}");
    }

    #[test]
    fn shrinking_a_thin_strip_removes_it() {
        let strip = ExPolygon::new(Polygon::rectangle(0, 0, scaled(10.0), scaled(0.3)));
        assert!(offset(&[strip], -scaled(0.2) as f64, JoinType::Miter).is_empty());
    }

    #[test]
    fn open_lines_are_clipped_and_differenced() {
        let area = square(0.0, 0.0, 10.0);
        let line = Polyline::new(vec![Point::from_mm(-5.0, 5.0), Point::from_mm(15.0, 5.0)]);
        let inside = clip_polylines(std::slice::from_ref(&line), &area);
        let outside = diff_polylines(std::slice::from_ref(&line), &area);
        let len = |v: &[Polyline]| v.iter().map(Polyline::length).sum::<f64>() / 1e6;
        assert!((len(&inside) - 10.0).abs() < 1e-9);
        assert_eq!(outside.len(), 2);
        assert!((len(&outside) - 10.0).abs() < 1e-9);
    }

    #[test]
    fn thick_polyline_covers_its_stadium() {
        let line = Polyline::new(vec![Point::from_mm(0.0, 0.0), Point::from_mm(10.0, 0.0)]);
        let covered = offset_polylines(&[line], scaled(0.2) as f64);
        let expected = 10.0 * 0.4 + std::f64::consts::PI * 0.04;
        let max_loss = 2.0 / 3.0 * ARC_TOLERANCE / 1e6 * std::f64::consts::TAU * 0.2;
        let area = covered[0].area_mm2();
        assert!(
            area <= expected && area >= expected - max_loss,
            "{area} vs {expected}"
        );
    }

    #[test]
    fn difference_and_intersection_partition_the_subject() {
        let a = square(0.0, 0.0, 10.0);
        let b = square(5.0, 5.0, 10.0);
        let d: f64 = difference(&a, &b).iter().map(ExPolygon::area_mm2).sum();
        let i: f64 = intersection(&a, &b).iter().map(ExPolygon::area_mm2).sum();
        assert!((d - 75.0).abs() < 1e-9 && (i - 25.0).abs() < 1e-9);
    }
}
