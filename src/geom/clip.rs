//! Boolean operations and offsets, through Clipper2.
//!
//! The engine works on `i64` points exactly like [`Point`], so paths pass in and out
//! without scaling; it is reached only through the safe wrapper in
//! [`clipper`](super::clipper), which returns its failures as errors. The operations
//! here cannot fail as far as their callers see: a failure (a point beyond the
//! engine's range, the engine giving up) yields no geometry and is counted, and
//! [`failures`] lets a whole job be refused rather than printed with parts missing.

use std::sync::atomic::{AtomicU64, Ordering};

use super::clipper::{self, ClipError, Op};
use super::{ExPolygon, Point, Polygon, Polyline};

use clipper2::EndType;
pub use clipper2::{FillRule, JoinType};

/// Maximum distance between a round offset's true arc and its polygon, integer units
/// (5 µm: far below a printed line's width, and few points per arc).
pub const ARC_TOLERANCE: f64 = 5_000.0;

/// Miter joins sharper than this (in multiples of the offset) are squared off.
pub const MITER_LIMIT: f64 = 3.0;

/// Operations the engine failed on since the program started.
static FAILURES: AtomicU64 = AtomicU64::new(0);

/// How many polygon operations have failed since the program started (each gave no
/// geometry). A job compares the count before and after it and is refused if it grew.
pub fn failures() -> u64 {
    FAILURES.load(Ordering::Relaxed)
}

/// The result of the engine, or no geometry with the failure counted.
fn counted<T>(r: Result<Vec<T>, ClipError>) -> Vec<T> {
    r.unwrap_or_else(|_| {
        FAILURES.fetch_add(1, Ordering::Relaxed);
        Vec::new()
    })
}

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
    nest(counted(clipper::boolean(
        Op::Union,
        subject,
        &[] as &[Polygon],
        fill,
    )))
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
    nest(counted(clipper::boolean(
        Op::Difference,
        subject,
        clip,
        FillRule::NonZero,
    )))
}

/// Intersection of `subject` and `clip` (non-zero fill on both).
pub fn intersection(
    subject: &(impl Rings + ?Sized),
    clip: &(impl Rings + ?Sized),
) -> Vec<ExPolygon> {
    nest(counted(clipper::boolean(
        Op::Intersection,
        subject,
        clip,
        FillRule::NonZero,
    )))
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
    nest(counted(clipper::offset(
        areas,
        delta,
        (MITER_LIMIT, ARC_TOLERANCE),
        join,
        EndType::Polygon,
    )))
}

/// Like [`offset`] but returns the flat rings.
pub fn offset_polygons(areas: &(impl Rings + ?Sized), delta: f64, join: JoinType) -> Vec<Polygon> {
    counted(clipper::offset(
        areas,
        delta,
        (MITER_LIMIT, ARC_TOLERANCE),
        join,
        EndType::Polygon,
    ))
}

/// The area covered by open lines drawn `2 * delta` wide with round ends: what an
/// extrusion of width `2 * delta` along them covers.
pub fn offset_polylines(lines: &[Polyline], delta: f64) -> Vec<ExPolygon> {
    nest(counted(clipper::offset_open(
        lines,
        delta,
        (MITER_LIMIT, ARC_TOLERANCE),
        JoinType::Round,
        EndType::Round,
    )))
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
    counted(clipper::clip_open(Op::Intersection, lines, clip))
}

/// The parts of open `lines` outside `clip`.
pub fn diff_polylines(lines: &[Polyline], clip: &(impl Rings + ?Sized)) -> Vec<Polyline> {
    counted(clipper::clip_open(Op::Difference, lines, clip))
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
    fn a_failed_operation_is_counted() {
        let before = failures();
        let far = Polygon::rectangle(i64::MAX - 10, 0, i64::MAX, 10);
        assert!(union(&far, FillRule::NonZero).is_empty());
        assert!(failures() > before);
        // The same shape within range is not a failure.
        let near = Polygon::rectangle(0, 0, 10, 10);
        assert_eq!(union(&near, FillRule::NonZero).len(), 1);
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
