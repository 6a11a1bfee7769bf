//! Print order: open paths chained nearest-end-first (reversing them when their far
//! end is nearer) and mended by 2-opt, islands nearest-first, and wall loops by
//! nesting (inner walls before the outer one, or the outer one first).

use crate::geom::{BBox, ExPolygon, Point};
use crate::path::ExtrusionPath;

use super::grid::PointGrid;

/// Below this many paths a plain quadratic search is faster than building a grid.
const BRUTE_FORCE_LIMIT: usize = 24;

/// One path to visit: where it starts, where it ends, and whether it may be printed
/// backwards.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PathEnds {
    /// First point.
    pub start: Point,
    /// Last point.
    pub end: Point,
    /// Whether the path may be printed from `end` to `start`.
    pub reversible: bool,
}

impl PathEnds {
    /// The ends of an extrusion path: closed loops and paths of fewer than two points
    /// are entered at their first point and not reversed.
    pub fn of(path: &ExtrusionPath) -> PathEnds {
        let start = path.points.first().copied().unwrap_or_default();
        if path.closed || path.points.len() < 2 {
            PathEnds {
                start,
                end: start,
                reversible: false,
            }
        } else {
            PathEnds {
                start,
                end: path.points.last().copied().unwrap_or(start),
                reversible: true,
            }
        }
    }
}

/// Visit order of `paths` starting at `from`: each step takes the path whose free end
/// is nearest to where the previous one finished. Returns `(index, reversed)` pairs,
/// every path exactly once.
///
/// ```
/// use lamina::geom::Point;
/// use lamina::plan::{chain_paths, PathEnds};
/// let line = |a: (i64, i64), b: (i64, i64)| PathEnds {
///     start: Point::new(a.0, a.1), end: Point::new(b.0, b.1), reversible: true };
/// let order = chain_paths(&[line((100, 0), (200, 0)), line((50, 0), (0, 0))], Point::new(0, 0));
/// assert_eq!(order, vec![(1, true), (0, false)]);
/// ```
pub fn chain_paths(paths: &[PathEnds], from: Point) -> Vec<(usize, bool)> {
    if paths.len() <= BRUTE_FORCE_LIMIT {
        return chain_brute_force(paths, from);
    }
    let mut entries = Vec::with_capacity(paths.len() * 2);
    for (i, p) in paths.iter().enumerate() {
        entries.push((p.start, 2 * i));
        if p.reversible {
            entries.push((p.end, 2 * i + 1));
        }
    }
    // Entry numbers of each path's ends, to remove both once the path is taken.
    let mut entry_of = vec![[usize::MAX; 2]; paths.len()];
    for (e, (_, key)) in entries.iter().enumerate() {
        entry_of[key / 2][key % 2] = e;
    }
    let mut grid = PointGrid::new(&entries);
    let mut out = Vec::with_capacity(paths.len());
    let mut at = from;
    while let Some(e) = grid.nearest(at) {
        let key = grid.key(e);
        let (i, reversed) = (key / 2, key % 2 == 1);
        for e in entry_of[i] {
            if e != usize::MAX {
                grid.remove(e);
            }
        }
        at = if reversed {
            paths[i].start
        } else {
            paths[i].end
        };
        out.push((i, reversed));
    }
    out
}

fn chain_brute_force(paths: &[PathEnds], from: Point) -> Vec<(usize, bool)> {
    let mut used = vec![false; paths.len()];
    let mut out = Vec::with_capacity(paths.len());
    let mut at = from;
    for _ in 0..paths.len() {
        let mut best: Option<(f64, usize, bool)> = None;
        for (i, p) in paths.iter().enumerate() {
            if used[i] {
                continue;
            }
            let mut consider = |q: Point, rev: bool| {
                let d = (q - at).length_squared();
                if best.is_none_or(|b| d < b.0) {
                    best = Some((d, i, rev));
                }
            };
            consider(p.start, false);
            if p.reversible {
                consider(p.end, true);
            }
        }
        let Some((_, i, rev)) = best else { break };
        used[i] = true;
        at = if rev { paths[i].start } else { paths[i].end };
        out.push((i, rev));
    }
    out
}

/// Islands' outlines are sampled every this many mm for the nearest-island search.
const ISLAND_SAMPLE: f64 = 1.0;

/// Visit order of islands (given by their outlines) starting at `from`, assuming the
/// nozzle leaves each island where it entered it (see [`NearestIslands`] to follow the
/// real exit points).
///
/// ```
/// use lamina::geom::{scaled, ExPolygon, Point, Polygon};
/// use lamina::plan::island_order;
/// let sq = |x: f64| ExPolygon::new(Polygon::rectangle(scaled(x), 0, scaled(x + 5.0), scaled(5.0)));
/// let islands = [sq(100.0), sq(0.0), sq(50.0)];
/// let refs: Vec<&ExPolygon> = islands.iter().collect();
/// assert_eq!(island_order(&refs, Point::new(0, 0)), vec![1, 2, 0]);
/// ```
pub fn island_order(outlines: &[&ExPolygon], from: Point) -> Vec<usize> {
    let mut picker = NearestIslands::new(outlines);
    let mut out = Vec::with_capacity(outlines.len());
    let mut at = from;
    while let Some((i, entry)) = picker.next(at) {
        out.push(i);
        at = entry;
    }
    out
}

/// Picks islands one at a time, each the nearest to a given position (by samples of
/// its outline every millimetre, in a grid).
#[derive(Debug, Clone)]
pub struct NearestIslands {
    grid: PointGrid,
    range: Vec<std::ops::Range<usize>>,
}

impl NearestIslands {
    /// A picker over `outlines` (island `i` is `outlines[i]`).
    pub fn new(outlines: &[&ExPolygon]) -> NearestIslands {
        let rings: Vec<&[Point]> = outlines.iter().map(|o| &o.contour.points[..]).collect();
        NearestIslands::of_rings(&rings)
    }

    /// A picker over rings of points (ring `i` is `rings[i]`), such as wall loops.
    pub fn of_rings(rings: &[&[Point]]) -> NearestIslands {
        let step2 = (crate::geom::scaled(ISLAND_SAMPLE) as f64).powi(2);
        let mut entries: Vec<(Point, usize)> = Vec::new();
        let mut range = Vec::with_capacity(rings.len());
        for (i, o) in rings.iter().enumerate() {
            let begin = entries.len();
            let mut last: Option<Point> = None;
            for &p in o.iter() {
                if last.is_none_or(|q| (p - q).length_squared() >= step2) {
                    entries.push((p, i));
                    last = Some(p);
                }
            }
            if entries.len() == begin {
                entries.push((Point::default(), i));
            }
            range.push(begin..entries.len());
        }
        NearestIslands {
            grid: PointGrid::new(&entries),
            range,
        }
    }

    /// The nearest island not yet taken, with its outline sample nearest to `at`.
    pub fn next(&mut self, at: Point) -> Option<(usize, Point)> {
        let e = self.grid.nearest(at)?;
        let i = self.grid.key(e);
        let p = self.grid.point(e);
        for k in self.range[i].clone() {
            self.grid.remove(k);
        }
        Some((i, p))
    }
}

/// A stretch of the visit order is reversed by [`two_opt`] only when it is at most this
/// many visits long: the gain of 2-opt on a nearest-first order comes from mending
/// local crossings, and the window keeps each pass linear in the number of visits.
const TWO_OPT_WINDOW: usize = 48;

/// Passes of [`two_opt`] over the whole order at most (each pass that still improves
/// the tour is followed by another).
const TWO_OPT_PASSES: usize = 6;

/// Shorten the open tour that starts at `from` and visits `points[order[0]]`,
/// `points[order[1]]`, ... by 2-opt moves: a stretch of the order is reversed when
/// that makes the travel shorter. The tour ends wherever its last visit is.
///
/// ```
/// use lamina::geom::Point;
/// use lamina::plan::two_opt;
/// let p = |x: i64, y: i64| Point::new(x, y);
/// // Four points on a line visited out of turn: the doubling back is mended.
/// let points = [p(0, 0), p(10, 0), p(20, 0), p(30, 0)];
/// let mut order = vec![0, 2, 1, 3];
/// two_opt(&points, &mut order, p(0, 0));
/// assert_eq!(order, vec![0, 1, 2, 3]);
/// ```
pub fn two_opt(points: &[Point], order: &mut [usize], from: Point) {
    let n = order.len();
    if n < 3 {
        return;
    }
    let at = |order: &[usize], i: usize| points[order[i]];
    let d = |a: Point, b: Point| a.distance(b);
    for _ in 0..TWO_OPT_PASSES {
        let mut improved = false;
        for i in 0..n - 1 {
            let before = if i == 0 { from } else { at(order, i - 1) };
            let first = at(order, i);
            let link_in = d(before, first);
            for j in i + 1..n.min(i + TWO_OPT_WINDOW) {
                let last = at(order, j);
                // Reversing order[i..=j]: `before` links to `last`, `first` to what
                // follows `last` (nothing after the end of the tour).
                let (old_out, new_out) = if j + 1 < n {
                    let next = at(order, j + 1);
                    (d(last, next), d(first, next))
                } else {
                    (0.0, 0.0)
                };
                let gain = link_in + old_out - d(before, last) - new_out;
                if gain > 1.0 {
                    order[i..=j].reverse();
                    improved = true;
                    break;
                }
            }
        }
        if !improved {
            break;
        }
    }
}

/// Shorten the open tour that starts at `from` and visits `paths` in `order` (as
/// [`chain_paths`] returns it) by 2-opt moves on paths: a stretch of the order is
/// visited backwards, each of its paths printed the other way round, when that makes
/// the travel between them shorter. Stretches holding a path that may not be reversed
/// (and is not a loop, entered and left at one point) are left alone.
///
/// ```
/// use lamina::geom::Point;
/// use lamina::plan::{shorten_chain, PathEnds};
/// let line = |a: i64, b: i64| PathEnds {
///     start: Point::new(a, 0), end: Point::new(b, 0), reversible: true };
/// // 0-10, then 30-20 backwards, then 10-20 forwards: 2-opt mends the doubling back.
/// let paths = [line(0, 10), line(10, 20), line(20, 30)];
/// let mut order = vec![(0, false), (2, true), (1, true)];
/// shorten_chain(&paths, &mut order, Point::new(0, 0));
/// assert_eq!(order, vec![(0, false), (1, false), (2, false)]);
/// ```
pub fn shorten_chain(paths: &[PathEnds], order: &mut [(usize, bool)], from: Point) {
    let n = order.len();
    if n < 2 {
        return;
    }
    let entry = |v: (usize, bool)| {
        if v.1 {
            paths[v.0].end
        } else {
            paths[v.0].start
        }
    };
    let exit = |v: (usize, bool)| {
        if v.1 {
            paths[v.0].start
        } else {
            paths[v.0].end
        }
    };
    let turnable = |v: (usize, bool)| paths[v.0].reversible || paths[v.0].start == paths[v.0].end;
    let d = |a: Point, b: Point| a.distance(b);
    for _ in 0..TWO_OPT_PASSES {
        let mut improved = false;
        for i in 0..n {
            if !turnable(order[i]) {
                continue;
            }
            let before = if i == 0 { from } else { exit(order[i - 1]) };
            let first_in = entry(order[i]);
            let link_in = d(before, first_in);
            for j in i..n.min(i + TWO_OPT_WINDOW) {
                if !turnable(order[j]) {
                    break;
                }
                // Visiting order[i..=j] backwards: `before` links to the last one's
                // exit (now its entry), the first one's entry (now its exit) to what
                // follows.
                let last_out = exit(order[j]);
                let (old_out, new_out) = match order.get(j + 1) {
                    Some(&next) => (d(last_out, entry(next)), d(first_in, entry(next))),
                    None => (0.0, 0.0),
                };
                let gain = link_in + old_out - d(before, last_out) - new_out;
                if gain > 1.0 {
                    order[i..=j].reverse();
                    for v in &mut order[i..=j] {
                        if paths[v.0].reversible {
                            v.1 = !v.1;
                        }
                    }
                    improved = true;
                    break;
                }
            }
        }
        if !improved {
            break;
        }
    }
}

/// Winding number of the closed ring `ring` around `p`.
pub(crate) fn winding(ring: &[Point], p: Point) -> i32 {
    let n = ring.len();
    let mut wn = 0;
    for i in 0..n {
        let a = ring[i];
        let b = ring[(i + 1) % n];
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

/// Signed area of a ring, square integer units (positive when counter-clockwise).
pub(crate) fn ring_area(ring: &[Point]) -> f64 {
    if ring.len() < 3 {
        return 0.0;
    }
    let o = ring[0];
    let mut twice = 0i128;
    for w in ring[1..].windows(2) {
        let (a, b) = (w[0] - o, w[1] - o);
        twice += a.x as i128 * b.y as i128 - a.y as i128 * b.x as i128;
    }
    twice as f64 * 0.5
}

fn bbox_contains(outer: &BBox, inner: &BBox) -> bool {
    outer.min.x <= inner.min.x
        && outer.min.y <= inner.min.y
        && outer.max.x >= inner.max.x
        && outer.max.y >= inner.max.y
}

/// The wall loops of one island grouped into nests and put in print order.
///
/// Loops around solid (counter-clockwise) nest inside each other from the outer wall
/// inward; loops around a hole (clockwise) nest from the hole's wall outward. Each
/// nest is a tree (a wall can split into several inner loops); it prints inner loops
/// first and the outer wall last (children before parents for solid, the reverse
/// around holes), or the other way round with `external_first`. Open paths and
/// degenerate loops form nests of their own. Nests come in the order of their first
/// loop in `loops`; the caller orders them by distance.
///
/// ```
/// use lamina::geom::{scaled, Polygon};
/// use lamina::path::{ExtrusionPath, Role};
/// use lamina::plan::perimeter_nests;
/// let sq = |d: f64| Polygon::rectangle(scaled(d), scaled(d), scaled(10.0 - d), scaled(10.0 - d));
/// let outer = ExtrusionPath::from_loop(Role::ExternalPerimeter, sq(0.2), 0.45, 0.2);
/// let inner = ExtrusionPath::from_loop(Role::Perimeter, sq(0.6), 0.45, 0.2);
/// assert_eq!(perimeter_nests(&[outer.clone(), inner.clone()], false), vec![vec![1, 0]]);
/// assert_eq!(perimeter_nests(&[outer, inner], true), vec![vec![0, 1]]);
/// ```
pub fn perimeter_nests(loops: &[ExtrusionPath], external_first: bool) -> Vec<Vec<usize>> {
    let n = loops.len();
    struct Info {
        area: f64,
        bbox: Option<BBox>,
        usable: bool,
    }
    let info: Vec<Info> = loops
        .iter()
        .map(|l| {
            let usable = l.closed && l.points.len() >= 3;
            Info {
                area: if usable { ring_area(&l.points) } else { 0.0 },
                bbox: BBox::of_points(&l.points),
                usable,
            }
        })
        .collect();
    // Smallest first, so a loop's parent is the first larger loop containing it.
    let mut by_size: Vec<usize> = (0..n).filter(|&i| info[i].usable).collect();
    by_size.sort_by(|&a, &b| {
        info[a]
            .area
            .abs()
            .total_cmp(&info[b].area.abs())
            .then(a.cmp(&b))
    });
    let mut parent = vec![usize::MAX; n];
    for (k, &i) in by_size.iter().enumerate() {
        let (Some(bi), ccw) = (info[i].bbox, info[i].area > 0.0) else {
            continue;
        };
        for &j in &by_size[k + 1..] {
            if (info[j].area > 0.0) != ccw {
                continue;
            }
            let Some(bj) = info[j].bbox else { continue };
            if bbox_contains(&bj, &bi) && winding(&loops[j].points, loops[i].points[0]) != 0 {
                parent[i] = j;
                break;
            }
        }
    }
    let mut children = vec![Vec::new(); n];
    for i in 0..n {
        if parent[i] != usize::MAX {
            children[parent[i]].push(i);
        }
    }
    // Siblings (the pieces a wall splits into) one after the other by where they
    // start, nearest first, not in the order they were made.
    for c in &mut children {
        if c.len() > 2 {
            let ends: Vec<PathEnds> = c.iter().map(|&i| PathEnds::of(&loops[i])).collect();
            let order = chain_paths(&ends[1..], ends[0].start);
            let rest: Vec<usize> = order.into_iter().map(|(k, _)| c[k + 1]).collect();
            c.truncate(1);
            c.extend(rest);
        }
    }
    let mut nests = Vec::new();
    for root in (0..n).filter(|&i| parent[i] == usize::MAX) {
        // Solid nests print children (inner walls) first unless external_first;
        // hole nests have the outer wall at the leaves, so the other way round.
        let ccw = info[root].area >= 0.0;
        let children_first = ccw != external_first;
        let mut seq = Vec::new();
        visit(root, &children, children_first, &mut seq);
        nests.push(seq);
    }
    nests
}

fn visit(i: usize, children: &[Vec<usize>], children_first: bool, out: &mut Vec<usize>) {
    // Iterative depth-first walk (nesting can be deep on wide solid areas).
    enum Task {
        Enter(usize),
        Emit(usize),
    }
    let mut stack = vec![Task::Enter(i)];
    while let Some(t) = stack.pop() {
        match t {
            Task::Emit(k) => out.push(k),
            Task::Enter(k) => {
                if children_first {
                    stack.push(Task::Emit(k));
                    for &c in children[k].iter().rev() {
                        stack.push(Task::Enter(c));
                    }
                } else {
                    for &c in children[k].iter().rev() {
                        stack.push(Task::Enter(c));
                    }
                    stack.push(Task::Emit(k));
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::geom::{Polygon, scaled};
    use crate::path::Role;
    use proptest::prelude::RngExt;
    use proptest::test_runner::{RngAlgorithm, TestRng};

    fn ends(a: Point, b: Point) -> PathEnds {
        PathEnds {
            start: a,
            end: b,
            reversible: true,
        }
    }

    #[test]
    fn chain_of_many_lines_is_the_serpentine() {
        // 1000 parallel lines 1 mm apart given in shuffled order and random directions:
        // nearest-end chaining from the first line's end must visit them in order,
        // alternating directions, so every link is a 1 mm step.
        let n = 1000usize;
        let mut idx: Vec<usize> = (0..n).collect();
        let mut rng = TestRng::deterministic_rng(RngAlgorithm::ChaCha);
        for i in (1..n).rev() {
            idx.swap(i, rng.random_range(0..=i));
        }
        let line = |k: usize| {
            let y = scaled(k as f64);
            (Point::new(0, y), Point::new(scaled(20.0), y))
        };
        let paths: Vec<PathEnds> = idx
            .iter()
            .enumerate()
            .map(|(pos, &k)| {
                let (a, b) = line(k);
                if pos % 2 == 0 { ends(a, b) } else { ends(b, a) }
            })
            .collect();
        let order = chain_paths(&paths, Point::new(-scaled(1.0), 0));
        assert_eq!(order.len(), n);
        let mut at = Point::new(-scaled(1.0), 0);
        let mut travel = 0.0;
        for (i, rev) in &order {
            let p = paths[*i];
            let (s, e) = if *rev {
                (p.end, p.start)
            } else {
                (p.start, p.end)
            };
            travel += s.distance(at);
            at = e;
        }
        // 1 mm to enter plus 999 links of 1 mm.
        assert!((travel - scaled(1000.0) as f64).abs() < 1.0, "{travel}");
        let mut seen = vec![false; n];
        for (i, _) in order {
            assert!(!seen[i]);
            seen[i] = true;
        }
    }

    /// Short lines scattered at random: 2-opt never lengthens the greedy chain, keeps
    /// every path once, and on such a field shortens it by a clear margin.
    #[test]
    fn shorten_chain_mends_the_greedy_order() {
        let mut rng = TestRng::deterministic_rng(RngAlgorithm::ChaCha);
        let paths: Vec<PathEnds> = (0..400)
            .map(|_| {
                let a = Point::new(
                    rng.random_range(0..scaled(60.0)),
                    rng.random_range(0..scaled(60.0)),
                );
                let b = a + Point::new(
                    rng.random_range(-scaled(1.0)..scaled(1.0)),
                    rng.random_range(-scaled(1.0)..scaled(1.0)),
                );
                ends(a, b)
            })
            .collect();
        let travel = |order: &[(usize, bool)]| {
            let mut at = Point::new(0, 0);
            let mut sum = 0.0;
            for &(i, rev) in order {
                let p = paths[i];
                let (s, e) = if rev {
                    (p.end, p.start)
                } else {
                    (p.start, p.end)
                };
                sum += at.distance(s);
                at = e;
            }
            sum
        };
        let mut order = chain_paths(&paths, Point::new(0, 0));
        let greedy = travel(&order);
        shorten_chain(&paths, &mut order, Point::new(0, 0));
        let shortened = travel(&order);
        let mut seen: Vec<usize> = order.iter().map(|v| v.0).collect();
        seen.sort_unstable();
        assert_eq!(seen, (0..paths.len()).collect::<Vec<_>>());
        assert!(shortened < 0.95 * greedy, "{shortened} vs {greedy}");
    }

    #[test]
    fn fixed_paths_are_not_reversed() {
        let paths = [PathEnds {
            start: Point::new(100, 0),
            end: Point::new(0, 0),
            reversible: false,
        }];
        assert_eq!(chain_paths(&paths, Point::new(0, 0)), vec![(0, false)]);
    }

    fn ring(x0: f64, y0: f64, x1: f64, y1: f64, ccw: bool) -> ExtrusionPath {
        let mut p = Polygon::rectangle(scaled(x0), scaled(y0), scaled(x1), scaled(y1));
        if !ccw {
            p.reverse();
        }
        ExtrusionPath::from_loop(Role::Perimeter, p, 0.45, 0.2)
    }

    #[test]
    fn nests_of_an_island_with_a_hole_and_a_split_wall() {
        // Outer wall, one inner loop split in two (a dumbbell), a hole with two walls.
        let loops = vec![
            ring(0.0, 0.0, 30.0, 10.0, true),  // 0 outer
            ring(0.5, 0.5, 9.5, 9.5, true),    // 1 inner, left lobe
            ring(20.5, 0.5, 29.5, 9.5, true),  // 2 inner, right lobe
            ring(14.0, 4.0, 16.0, 6.0, false), // 3 hole's outer wall (next to the hole)
            ring(13.5, 3.5, 16.5, 6.5, false), // 4 hole's inner wall
        ];
        let nests = perimeter_nests(&loops, false);
        assert_eq!(nests, vec![vec![1, 2, 0], vec![4, 3]]);
        let nests = perimeter_nests(&loops, true);
        assert_eq!(nests, vec![vec![0, 1, 2], vec![3, 4]]);
    }
}
