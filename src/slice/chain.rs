//! Chaining a layer's segments into closed loops.
//!
//! Segments meet where they lie on the same mesh edge, so chaining compares edge
//! identities, never float positions. A clean mesh gives closed loops directly. A broken
//! one (holes, flipped faces, non-manifold edges) leaves open chains; their ends are then
//! joined across small gaps, nearest first, and what still cannot be joined is closed on
//! itself when that is plausible, else dropped and counted.

use super::section::Segment;
use crate::geom::{Point, Polygon};

const NONE: u32 = u32::MAX;

/// A closed loop with the evidence for its direction.
#[derive(Debug, Clone)]
pub struct Loop {
    /// The loop, oriented by the majority of its segments (counter-clockwise when it
    /// bounds solid, if the mesh is oriented outward).
    pub polygon: Polygon,
}

/// What chaining had to do beyond following mesh edges.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct ChainStats {
    /// Open chains left after following mesh edges.
    pub open_chains: usize,
    /// Gaps bridged between chain ends (within the closing radius).
    pub gaps_bridged: usize,
    /// Chains closed on themselves across a larger gap.
    pub closed_on_self: usize,
    /// Chains that could not be closed and were dropped.
    pub dropped: usize,
}

impl std::ops::AddAssign for ChainStats {
    fn add_assign(&mut self, o: ChainStats) {
        self.open_chains += o.open_chains;
        self.gaps_bridged += o.gaps_bridged;
        self.closed_on_self += o.closed_on_self;
        self.dropped += o.dropped;
    }
}

/// An open chain: points in walking order and how much of its length agreed with the
/// segments' own direction.
struct Chain {
    points: Vec<Point>,
    forward: f64,
    backward: f64,
}

/// Chain `segments` into loops. `closing_radius` (integer units) is the largest gap
/// bridged between the ends of different open chains.
pub fn chain_segments(segments: &[Segment], closing_radius: f64) -> (Vec<Loop>, ChainStats) {
    let n = segments.len();
    let mut stats = ChainStats::default();
    if n == 0 {
        return (Vec::new(), stats);
    }
    let link = link_ends(segments);

    // Walk the segment graph: each segment end links to at most one other end.
    let mut visited = vec![false; n];
    let mut loops = Vec::new();
    let mut open = Vec::new();
    for s in 0..n {
        if visited[s] {
            continue;
        }
        let (chain, closed) = walk(segments, &link, &mut visited, s);
        if closed {
            loops.push(finish(chain));
        } else {
            open.push(chain);
        }
    }
    stats.open_chains = open.len();
    if !open.is_empty() {
        join_open_chains(open, closing_radius, &mut loops, &mut stats);
    }
    (loops, stats)
}

/// For each segment end (`2 * seg + 0` start, `+ 1` end) the end it meets, or NONE.
fn link_ends(segments: &[Segment]) -> Vec<u32> {
    let n = segments.len();
    let mut ends: Vec<(u64, u32)> = Vec::with_capacity(2 * n);
    for (i, s) in segments.iter().enumerate() {
        ends.push((s.key_a, (2 * i) as u32));
        ends.push((s.key_b, (2 * i + 1) as u32));
    }
    ends.sort_unstable();
    let mut link = vec![NONE; 2 * n];
    let mut i = 0;
    while i < ends.len() {
        let mut j = i + 1;
        while j < ends.len() && ends[j].0 == ends[i].0 {
            j += 1;
        }
        let group = &ends[i..j];
        if group.len() == 2 {
            link[group[0].1 as usize] = group[1].1;
            link[group[1].1 as usize] = group[0].1;
        } else if group.len() > 2 {
            // A non-manifold edge: pair segment ends with segment starts first (the
            // consistently oriented continuation), then whatever is left.
            let (starts, finishes): (Vec<u32>, Vec<u32>) =
                group.iter().map(|e| e.1).partition(|e| e % 2 == 0);
            let mut rest = Vec::new();
            let pairs = starts.len().min(finishes.len());
            for k in 0..pairs {
                link[starts[k] as usize] = finishes[k];
                link[finishes[k] as usize] = starts[k];
            }
            rest.extend_from_slice(&starts[pairs..]);
            rest.extend_from_slice(&finishes[pairs..]);
            for pair in rest.chunks_exact(2) {
                link[pair[0] as usize] = pair[1];
                link[pair[1] as usize] = pair[0];
            }
        }
        i = j;
    }
    link
}

/// Walk from segment `s` in its own direction, then (if the walk did not close)
/// backwards from its start, collecting points.
fn walk(segments: &[Segment], link: &[u32], visited: &mut [bool], s: usize) -> (Chain, bool) {
    let mut chain = Chain {
        points: vec![segments[s].a, segments[s].b],
        forward: seg_len(&segments[s]),
        backward: 0.0,
    };
    visited[s] = true;
    // Forward: leave through the end of `s`.
    let mut exit = 2 * s + 1;
    loop {
        let next = link[exit];
        if next == NONE {
            break;
        }
        let t = next as usize / 2;
        if t == s {
            // Back at the start segment: closed if we arrived at its start.
            if next as usize == 2 * s {
                chain.points.pop();
                return (chain, true);
            }
            break;
        }
        if visited[t] {
            break;
        }
        visited[t] = true;
        let entered_at_start = next % 2 == 0;
        let seg = &segments[t];
        if entered_at_start {
            chain.points.push(seg.b);
            chain.forward += seg_len(seg);
            exit = 2 * t + 1;
        } else {
            chain.points.push(seg.a);
            chain.backward += seg_len(seg);
            exit = 2 * t;
        }
    }
    // Backward from the start of `s`.
    let mut front = Vec::new();
    let mut exit = 2 * s;
    loop {
        let next = link[exit];
        if next == NONE {
            break;
        }
        let t = next as usize / 2;
        if visited[t] {
            break;
        }
        visited[t] = true;
        let seg = &segments[t];
        if next % 2 == 1 {
            // Entered at its end: walking backwards along it, which is its own direction
            // once the chain is read forwards.
            front.push(seg.a);
            chain.forward += seg_len(seg);
            exit = 2 * t;
        } else {
            front.push(seg.b);
            chain.backward += seg_len(seg);
            exit = 2 * t + 1;
        }
    }
    if !front.is_empty() {
        front.reverse();
        front.extend_from_slice(&chain.points);
        chain.points = front;
    }
    (chain, false)
}

#[inline]
fn seg_len(s: &Segment) -> f64 {
    s.a.distance(s.b)
}

/// A closed chain to a loop oriented by its majority direction.
fn finish(mut chain: Chain) -> Loop {
    dedup_ring(&mut chain.points);
    if chain.backward > chain.forward {
        chain.points.reverse();
    }
    Loop {
        polygon: Polygon::new(chain.points),
    }
}

/// Remove consecutive repeated points (and a last point equal to the first).
fn dedup_ring(points: &mut Vec<Point>) {
    points.dedup();
    while points.len() > 1 && points.first() == points.last() {
        points.pop();
    }
}

/// Join open chains into loops, in two passes:
/// 1. ends of any two chains closer than `radius` are bridged, nearest first (a crack
///    in the mesh; the pieces' directions may disagree around flipped faces);
/// 2. what is still open is oriented by its majority direction and each chain's tail is
///    joined to the nearest free head up to [`MAX_GAP_FACTOR`] × `radius` away: a hole in
///    the mesh (an open vessel end, a missing patch) is capped along the shortest way,
///    keeping the solid on the left.
///
/// A chain that is still open after both is closed on itself when its own gap is at
/// most [`SELF_CLOSE_GAP`] of its length (a C-shaped section of an open end), else
/// dropped.
fn join_open_chains(
    chains: Vec<Chain>,
    radius: f64,
    loops: &mut Vec<Loop>,
    stats: &mut ChainStats,
) {
    let (closed, open) = bridge(chains, radius, false, stats);
    loops.extend(closed.into_iter().map(finish));
    let open: Vec<Chain> = open
        .into_iter()
        .map(|mut c| {
            if c.backward > c.forward {
                c.points.reverse();
                std::mem::swap(&mut c.forward, &mut c.backward);
            }
            c
        })
        .collect();
    let (closed, open) = bridge(open, radius * MAX_GAP_FACTOR, true, stats);
    loops.extend(closed.into_iter().map(finish));
    for chain in open {
        let length: f64 = chain.points.windows(2).map(|w| w[0].distance(w[1])).sum();
        let gap = match (chain.points.first(), chain.points.last()) {
            (Some(a), Some(b)) => a.distance(*b),
            _ => 0.0,
        };
        if chain.points.len() >= 3 && gap <= SELF_CLOSE_GAP * length {
            stats.closed_on_self += 1;
            loops.push(finish(chain));
        } else {
            stats.dropped += 1;
        }
    }
}

/// How much farther than the closing radius the second joining pass reaches.
pub const MAX_GAP_FACTOR: f64 = 10.0;

/// A chain still open after joining is closed on itself when its own gap is at most
/// this share of its length: a C-shaped section of an open vessel end is closed across
/// its mouth, while a stray strip (its ends as far apart as its length) is dropped.
const SELF_CLOSE_GAP: f64 = 0.5;

/// Up to this many open chains every pair of ends is compared (some eight million
/// distances at most, cheaper than building a grid); beyond it ends are bucketed in a grid.
const PAIRWISE_MAX_CHAINS: usize = 2048;

/// Smallest grid cell for bucketing chain ends, integer units: a closing radius of zero
/// must not make a cell of zero width.
const MIN_BUCKET_CELL: f64 = 1.0;

/// Bridge chain ends closer than `radius`, nearest pairs first, each end at most once.
/// With `directed`, only a chain's last point joins a chain's first point (possibly
/// its own); otherwise any two ends of different chains may join. Returns the closed
/// cycles and the chains still open.
fn bridge(
    chains: Vec<Chain>,
    radius: f64,
    directed: bool,
    stats: &mut ChainStats,
) -> (Vec<Chain>, Vec<Chain>) {
    let m = chains.len();
    // Endpoint 2c is chain c's first point, 2c + 1 its last.
    let endpoint = |e: usize| -> Point {
        let c = &chains[e / 2];
        if e % 2 == 0 {
            c.points[0]
        } else {
            c.points[c.points.len() - 1]
        }
    };
    let allowed = |e: usize, f: usize| {
        if directed {
            e % 2 != f % 2
        } else {
            e / 2 != f / 2
        }
    };
    let radius2 = radius * radius;
    let mut candidates: Vec<(f64, u32, u32)> = Vec::new();
    let consider = |e: usize, f: usize, candidates: &mut Vec<(f64, u32, u32)>| {
        if allowed(e, f) {
            let d = endpoint(e).distance(endpoint(f)).powi(2);
            if d <= radius2 {
                candidates.push((d, e as u32, f as u32));
            }
        }
    };
    if m <= PAIRWISE_MAX_CHAINS {
        for e in 0..2 * m {
            for f in e + 1..2 * m {
                consider(e, f, &mut candidates);
            }
        }
    } else {
        // Many chains: bucket endpoints in a grid of cell `radius`.
        let cell = radius.max(MIN_BUCKET_CELL);
        let key = |p: Point| {
            (
                (p.x as f64 / cell).floor() as i64,
                (p.y as f64 / cell).floor() as i64,
            )
        };
        let mut grid: std::collections::HashMap<(i64, i64), Vec<u32>> = Default::default();
        for e in 0..2 * m {
            grid.entry(key(endpoint(e))).or_default().push(e as u32);
        }
        for e in 0..2 * m {
            let (kx, ky) = key(endpoint(e));
            for dx in -1..=1 {
                for dy in -1..=1 {
                    for &f in grid.get(&(kx + dx, ky + dy)).into_iter().flatten() {
                        if f as usize > e {
                            consider(e, f as usize, &mut candidates);
                        }
                    }
                }
            }
        }
    }
    candidates.sort_by(|a, b| a.0.total_cmp(&b.0));

    // Each endpoint takes at most one bridge; chains and bridges form paths and cycles.
    let mut link = vec![NONE; 2 * m];
    for (_, e, f) in candidates {
        if link[e as usize] == NONE && link[f as usize] == NONE {
            link[e as usize] = f;
            link[f as usize] = e;
            stats.gaps_bridged += 1;
        }
    }

    let mut used = vec![false; m];
    let mut closed = Vec::new();
    let mut open = Vec::new();
    // Path ends first (endpoints without a bridge), then whatever is left: cycles.
    let starts = (0..2 * m)
        .filter(|&e| link[e] == NONE)
        .chain(0..2 * m)
        .collect::<Vec<_>>();
    for start in starts {
        if used[start / 2] {
            continue;
        }
        let mut joined = Chain {
            points: Vec::new(),
            forward: 0.0,
            backward: 0.0,
        };
        let mut e = start;
        let is_cycle = loop {
            let c = e / 2;
            used[c] = true;
            let chain = &chains[c];
            // Enter chain c at endpoint e, leave by its other end.
            if e % 2 == 0 {
                joined.points.extend_from_slice(&chain.points);
                joined.forward += chain.forward;
                joined.backward += chain.backward;
            } else {
                joined.points.extend(chain.points.iter().rev());
                joined.forward += chain.backward;
                joined.backward += chain.forward;
            }
            let next = link[e ^ 1];
            if next == NONE {
                break false;
            }
            let next = next as usize;
            if used[next / 2] {
                break next == start;
            }
            e = next;
        };
        if is_cycle {
            closed.push(joined);
        } else {
            open.push(joined);
        }
    }
    (closed, open)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Segments of a CCW square with corners on "edges" 0..4, optionally reversing one.
    fn square(flip: Option<usize>, skip: Option<usize>) -> Vec<Segment> {
        let c = [
            Point::new(0, 0),
            Point::new(1000, 0),
            Point::new(1000, 1000),
            Point::new(0, 1000),
        ];
        let mut segs = Vec::new();
        for i in 0..4 {
            if Some(i) == skip {
                continue;
            }
            let j = (i + 1) % 4;
            let mut s = Segment {
                a: c[i],
                b: c[j],
                key_a: i as u64,
                key_b: j as u64,
            };
            if Some(i) == flip {
                std::mem::swap(&mut s.a, &mut s.b);
                std::mem::swap(&mut s.key_a, &mut s.key_b);
            }
            segs.push(s);
        }
        segs
    }

    #[test]
    fn clean_square_closes() {
        let (loops, stats) = chain_segments(&square(None, None), 10.0);
        assert_eq!(loops.len(), 1);
        assert_eq!(loops[0].polygon.area(), 1_000_000.0);
        assert_eq!(stats, ChainStats::default());
    }

    #[test]
    fn shuffled_segments_still_close() {
        let mut segs = square(None, None);
        segs.swap(0, 2);
        segs.swap(1, 3);
        let (loops, _) = chain_segments(&segs, 10.0);
        assert_eq!(loops.len(), 1);
        assert_eq!(loops[0].polygon.area(), 1_000_000.0);
    }

    #[test]
    fn one_flipped_face_keeps_majority_orientation() {
        let (loops, _) = chain_segments(&square(Some(2), None), 10.0);
        assert_eq!(loops.len(), 1);
        assert_eq!(loops[0].polygon.area(), 1_000_000.0);
    }

    #[test]
    fn missing_face_is_bridged_or_closed() {
        // One side missing: the chain's ends are 1000 apart; it is 3000 long, so it is
        // closed on itself (gap <= half its length).
        let (loops, stats) = chain_segments(&square(None, Some(1)), 10.0);
        assert_eq!(loops.len(), 1);
        assert_eq!(loops[0].polygon.area(), 1_000_000.0);
        assert_eq!(stats.closed_on_self, 1);
    }

    #[test]
    fn two_chains_with_small_gaps_are_bridged() {
        // Square split into two open halves with 5-unit gaps between them.
        let mk = |a: Point, b: Point, ka: u64, kb: u64| Segment {
            a,
            b,
            key_a: ka,
            key_b: kb,
        };
        let segs = vec![
            mk(Point::new(0, 0), Point::new(1000, 0), 1, 2),
            mk(Point::new(1000, 0), Point::new(1000, 995), 2, 3),
            mk(Point::new(1000, 1000), Point::new(0, 1000), 10, 11),
            mk(Point::new(0, 1000), Point::new(0, 5), 11, 12),
        ];
        let (loops, stats) = chain_segments(&segs, 10.0);
        assert_eq!(loops.len(), 1);
        assert_eq!(stats.gaps_bridged, 2);
        assert!((loops[0].polygon.area() - 1_000_000.0).abs() < 10_000.0);
    }

    #[test]
    fn far_apart_fragment_is_dropped() {
        let segs = vec![Segment {
            a: Point::new(0, 0),
            b: Point::new(1000, 0),
            key_a: 1,
            key_b: 2,
        }];
        let (loops, stats) = chain_segments(&segs, 10.0);
        assert!(loops.is_empty());
        assert_eq!(stats.dropped, 1);
    }
}
