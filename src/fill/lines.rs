//! Parallel line fills: scanlines across an area at a spacing and angle, clipped by
//! walking the area's edges (no general clipping needed), optionally joined end to end
//! along the boundary into zig-zags.

use crate::geom::{Coord, ExPolygon, Point, Polyline};

/// Rotate `p` by the angle with cosine `c` and sine `s`.
#[inline]
fn rotate(p: Point, c: f64, s: f64) -> Point {
    let (x, y) = (p.x as f64, p.y as f64);
    Point::new(
        (x * c - y * s).round() as Coord,
        (x * s + y * c).round() as Coord,
    )
}

/// Where a scanline meets the outline: the ring, the edge (from vertex `edge` to the
/// next) and the distance along the ring from its first vertex (integer units).
#[derive(Debug, Clone, Copy)]
struct Anchor {
    ring: usize,
    edge: usize,
    pos: f64,
}

/// One scanline segment in the rotated frame: scanline index, x range, and where its
/// two ends meet the outline.
#[derive(Debug, Clone, Copy)]
struct Seg {
    line: i64,
    x0: Coord,
    x1: Coord,
    ends: [Anchor; 2],
}

/// Neighbouring lines are joined along the outline when the joint is at most this many
/// line gaps long: one gap across square ends, up to three where the outline slants
/// (at about 20° to the lines); longer joints would lay a wall along the outline.
pub(crate) const LINK_FACTOR: f64 = 3.0;

/// Lines at `angle` (radians) and `spacing` (integer units) across `area`, anchored so
/// that line `k` passes at distance `k * spacing + offset` from the origin: fills of
/// different islands and layers line up. Without `connect` each returned line is a
/// straight segment; with it, the ends of lines that follow each other along the
/// area's outline are joined along that outline (so the joint stays inside the area)
/// where the joint is short, giving zig-zags with no travel between their lines.
pub fn line_fill(
    area: &[ExPolygon],
    spacing: f64,
    angle: f64,
    offset: f64,
    connect: bool,
) -> Vec<Polyline> {
    let (straight, joined) = fill(area, spacing, angle, offset, [!connect, connect]);
    if connect { joined } else { straight }
}

/// [`line_fill`] of `area` both ways at once, its lines straight and joined: the one
/// scan of the area serves both.
pub fn line_fill_both(
    area: &[ExPolygon],
    spacing: f64,
    angle: f64,
    offset: f64,
) -> (Vec<Polyline>, Vec<Polyline>) {
    fill(area, spacing, angle, offset, [true, true])
}

/// The lines of [`line_fill`] straight (`want[0]`) and joined (`want[1]`), each empty
/// unless wanted.
fn fill(
    area: &[ExPolygon],
    spacing: f64,
    angle: f64,
    offset: f64,
    want: [bool; 2],
) -> (Vec<Polyline>, Vec<Polyline>) {
    if spacing <= 0.0 || area.is_empty() {
        return (Vec::new(), Vec::new());
    }
    let (c, s) = (angle.cos(), angle.sin());
    // Into the frame where the lines are horizontal: rotate by -angle.
    let rings: Vec<Vec<Point>> = area
        .iter()
        .flat_map(|e| e.rings())
        .map(|r| r.points.iter().map(|p| rotate(*p, c, -s)).collect())
        .collect();
    let mut segs = scan(&rings, spacing, offset);
    segs.sort_by_key(|g| (g.line, g.x0));
    let y_of = |line: i64| (line as f64 * spacing + offset).round() as Coord;
    let to_world = |p: Point| rotate(p, c, s);
    let straight = if want[0] {
        segs.iter()
            .map(|g| {
                Polyline::new(vec![
                    to_world(Point::new(g.x0, y_of(g.line))),
                    to_world(Point::new(g.x1, y_of(g.line))),
                ])
            })
            .collect()
    } else {
        Vec::new()
    };
    if !want[1] {
        return (straight, Vec::new());
    }
    let end_point =
        |g: &Seg, end: usize| Point::new(if end == 0 { g.x0 } else { g.x1 }, y_of(g.line));
    let joined = link_along_outline(&segs, &rings, LINK_FACTOR * spacing)
        .into_iter()
        .map(|chain| {
            let mut pts = Vec::new();
            for piece in chain {
                match piece {
                    Piece::Line(i, from) => {
                        pts.push(to_world(end_point(&segs[i], from)));
                        pts.push(to_world(end_point(&segs[i], 1 - from)));
                    }
                    Piece::Outline(v) => pts.extend(v.into_iter().map(to_world)),
                }
            }
            pts.dedup();
            Polyline::new(pts)
        })
        .collect();
    (straight, joined)
}

/// Intersect every scanline with the rings; even-odd pairing of crossings.
fn scan(rings: &[Vec<Point>], spacing: f64, offset: f64) -> Vec<Seg> {
    let mut crossings: std::collections::HashMap<i64, Vec<(Coord, Anchor)>> = Default::default();
    for (r, ring) in rings.iter().enumerate() {
        let n = ring.len();
        let mut along = 0.0;
        for i in 0..n {
            let (a, b) = (ring[i], ring[(i + 1) % n]);
            let edge_len = a.distance(b);
            if a.y != b.y {
                let (lo, hi) = if a.y < b.y { (a, b) } else { (b, a) };
                // Lines with lo.y <= y < hi.y (half-open so shared vertices count once).
                let first = ((lo.y as f64 - offset) / spacing).ceil() as i64;
                let last = ((hi.y as f64 - offset) / spacing).ceil() as i64 - 1;
                for line in first..=last {
                    let y = line as f64 * spacing + offset;
                    if y < lo.y as f64 || y >= hi.y as f64 {
                        continue;
                    }
                    let t = (y - a.y as f64) / (b.y - a.y) as f64;
                    let x = a.x as f64 + t * (b.x - a.x) as f64;
                    let anchor = Anchor {
                        ring: r,
                        edge: i,
                        pos: along + t * edge_len,
                    };
                    crossings
                        .entry(line)
                        .or_default()
                        .push((x.round() as Coord, anchor));
                }
            }
            along += edge_len;
        }
    }
    let mut segs = Vec::new();
    for (line, mut xs) in crossings {
        xs.sort_unstable_by_key(|c| c.0);
        for pair in xs.chunks_exact(2) {
            if pair[1].0 > pair[0].0 {
                segs.push(Seg {
                    line,
                    x0: pair[0].0,
                    x1: pair[1].0,
                    ends: [pair[0].1, pair[1].1],
                });
            }
        }
    }
    segs
}

/// One piece of a joined chain: a line entered at its end `from` (0: `x0`), or the
/// outline points between two lines (rotated frame).
enum Piece {
    Line(usize, usize),
    Outline(Vec<Point>),
}

/// Chain the lines into zig-zags: from the lowest unused line, leave by its far end and
/// follow the outline to the next line end along it (either way round, the shorter),
/// when that end belongs to an unused line and the way is at most `max_len` long; enter
/// that line there and go on. Joints run along the outline between neighbouring ends,
/// so they never cross a line or each other.
fn link_along_outline(segs: &[Seg], rings: &[Vec<Point>], max_len: f64) -> Vec<Vec<Piece>> {
    let ring_len: Vec<f64> = rings
        .iter()
        .map(|r| {
            (0..r.len())
                .map(|i| r[i].distance(r[(i + 1) % r.len()]))
                .sum()
        })
        .collect();
    // Every end (`2 * segment + end`), by ring, in order along it; each end's
    // neighbours before and after it on its ring.
    let anchor = |port: usize| segs[port / 2].ends[port % 2];
    let mut on_ring: Vec<Vec<usize>> = vec![Vec::new(); rings.len()];
    for (i, g) in segs.iter().enumerate() {
        for (e, a) in g.ends.iter().enumerate() {
            on_ring[a.ring].push(2 * i + e);
        }
    }
    let mut before = vec![usize::MAX; 2 * segs.len()];
    let mut after = vec![usize::MAX; 2 * segs.len()];
    for ports in &mut on_ring {
        ports.sort_by(|&p, &q| anchor(p).pos.total_cmp(&anchor(q).pos));
        let n = ports.len();
        if n < 2 {
            continue;
        }
        for k in 0..n {
            after[ports[k]] = ports[(k + 1) % n];
            before[ports[(k + 1) % n]] = ports[k];
        }
    }
    // Length of the way forward along the ring from `u` to `v`.
    let forward = |u: usize, v: usize| {
        let (a, b) = (anchor(u), anchor(v));
        let d = b.pos - a.pos;
        if d >= 0.0 { d } else { d + ring_len[a.ring] }
    };
    let mut used = vec![false; segs.len()];
    let mut chains = Vec::new();
    for start in 0..segs.len() {
        if used[start] {
            continue;
        }
        used[start] = true;
        let mut chain = vec![Piece::Line(start, 0)];
        let mut exit = 2 * start + 1;
        loop {
            let ahead = after[exit];
            let behind = before[exit];
            let free = |v: usize| v != usize::MAX && !used[v / 2];
            let mut best: Option<(f64, usize, bool)> = None;
            if free(ahead) {
                best = Some((forward(exit, ahead), ahead, true));
            }
            if free(behind) {
                let len = forward(behind, exit);
                if best.is_none_or(|(l, ..)| len < l) {
                    best = Some((len, behind, false));
                }
            }
            let Some((_, next, ahead)) = best.filter(|b| b.0 <= max_len) else {
                break;
            };
            let ring = &rings[anchor(exit).ring];
            let way = if ahead {
                ring_between(ring, anchor(exit), anchor(next))
            } else {
                let mut w = ring_between(ring, anchor(next), anchor(exit));
                w.reverse();
                w
            };
            chain.push(Piece::Outline(way));
            used[next / 2] = true;
            chain.push(Piece::Line(next / 2, next % 2));
            exit = next ^ 1;
        }
        chains.push(chain);
    }
    chains
}

/// The ring's vertices passed going forward (in ring order) from `a` to `b`.
fn ring_between(ring: &[Point], a: Anchor, b: Anchor) -> Vec<Point> {
    let n = ring.len();
    if a.edge == b.edge && b.pos >= a.pos {
        return Vec::new();
    }
    let mut out = Vec::new();
    let mut i = a.edge;
    loop {
        i = (i + 1) % n;
        out.push(ring[i]);
        if i == b.edge {
            break;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::geom::{Polygon, scaled};

    #[test]
    fn square_gets_evenly_spaced_lines() {
        let sq = vec![ExPolygon::new(Polygon::rectangle(
            0,
            0,
            scaled(20.0),
            scaled(20.0),
        ))];
        let lines = line_fill(&sq, scaled(1.0) as f64, 0.0, scaled(0.5) as f64, false);
        assert_eq!(lines.len(), 20);
        for l in &lines {
            assert_eq!(l.length(), scaled(20.0) as f64);
        }
    }

    #[test]
    fn zigzag_joins_lines_inside_the_area() {
        let sq = vec![ExPolygon::new(Polygon::rectangle(
            0,
            0,
            scaled(20.0),
            scaled(20.0),
        ))];
        let lines = line_fill(&sq, scaled(1.0) as f64, 0.0, scaled(0.5) as f64, true);
        assert_eq!(lines.len(), 1);
        assert_eq!(lines[0].points.len(), 40);
    }
}
