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

/// One scanline segment in the rotated frame: scanline index, x range.
#[derive(Debug, Clone, Copy)]
struct Seg {
    line: i64,
    x0: Coord,
    x1: Coord,
}

/// Lines at `angle` (radians) and `spacing` (integer units) across `area`, anchored so
/// that line `k` passes at distance `k * spacing + offset` from the origin: fills of
/// different islands and layers line up. Each returned line is a straight segment;
/// with `connect`, neighbouring segments are joined end to start where the joint
/// stays inside the area and is short, giving zig-zags.
pub fn line_fill(
    area: &[ExPolygon],
    spacing: f64,
    angle: f64,
    offset: f64,
    connect: bool,
) -> Vec<Polyline> {
    if spacing <= 0.0 || area.is_empty() {
        return Vec::new();
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
    let to_world = |x: Coord, line: i64| rotate(Point::new(x, y_of(line)), c, s);
    if !connect {
        return segs
            .iter()
            .map(|g| Polyline::new(vec![to_world(g.x0, g.line), to_world(g.x1, g.line)]))
            .collect();
    }
    zigzag(&segs, &rings, spacing, offset)
        .into_iter()
        .map(|chain| {
            let pts = chain.iter().map(|&(x, line)| to_world(x, line)).collect();
            Polyline::new(pts)
        })
        .collect()
}

/// Intersect every scanline with the rings; even-odd pairing of crossings.
fn scan(rings: &[Vec<Point>], spacing: f64, offset: f64) -> Vec<Seg> {
    let mut crossings: std::collections::HashMap<i64, Vec<Coord>> = Default::default();
    for ring in rings {
        let n = ring.len();
        for i in 0..n {
            let (a, b) = (ring[i], ring[(i + 1) % n]);
            if a.y == b.y {
                continue;
            }
            let (lo, hi) = if a.y < b.y { (a, b) } else { (b, a) };
            // Lines with lo.y <= y < hi.y (half-open so shared vertices count once).
            let first = ((lo.y as f64 - offset) / spacing).ceil() as i64;
            let last = ((hi.y as f64 - offset) / spacing).ceil() as i64 - 1;
            for line in first..=last {
                let y = line as f64 * spacing + offset;
                if y < lo.y as f64 || y >= hi.y as f64 {
                    continue;
                }
                let t = (y - lo.y as f64) / (hi.y - lo.y) as f64;
                let x = lo.x as f64 + t * (hi.x - lo.x) as f64;
                crossings.entry(line).or_default().push(x.round() as Coord);
            }
        }
    }
    let mut segs = Vec::new();
    for (line, mut xs) in crossings {
        xs.sort_unstable();
        for pair in xs.chunks_exact(2) {
            if pair[1] > pair[0] {
                segs.push(Seg {
                    line,
                    x0: pair[0],
                    x1: pair[1],
                });
            }
        }
    }
    segs
}

/// An edge of the rings, in the rotated frame.
type Edge = (Point, Point);

/// Whether the open segment p-q crosses any of `edges` (touching at ends excluded).
fn crosses(edges: &[Edge], p: Point, q: Point) -> bool {
    let (minx, maxx) = (p.x.min(q.x), p.x.max(q.x));
    let (miny, maxy) = (p.y.min(q.y), p.y.max(q.y));
    edges.iter().any(|&(a, b)| {
        if a.x.max(b.x) < minx || a.x.min(b.x) > maxx || a.y.max(b.y) < miny || a.y.min(b.y) > maxy
        {
            return false;
        }
        let d1 = (b - a).cross_sign(p - a);
        let d2 = (b - a).cross_sign(q - a);
        let d3 = (q - p).cross_sign(a - p);
        let d4 = (q - p).cross_sign(b - p);
        d1 * d2 < 0 && d3 * d4 < 0
    })
}

/// Whether `p` is inside the area (even-odd over `edges`, which must hold every edge
/// spanning `p`'s height).
fn inside(edges: &[Edge], p: Point) -> bool {
    let mut odd = false;
    for &(a, b) in edges {
        if (a.y > p.y) != (b.y > p.y) {
            let x = a.x as f64 + (p.y - a.y) as f64 / (b.y - a.y) as f64 * (b.x - a.x) as f64;
            if x > p.x as f64 {
                odd = !odd;
            }
        }
    }
    odd
}

/// Whether `p` lies on one of `edges` (within a few units).
fn on_outline(edges: &[Edge], p: Point) -> bool {
    const EPS2: f64 = 16.0;
    edges
        .iter()
        .any(|&(a, b)| p.distance_to_segment_squared(a, b) <= EPS2)
}

/// The ring edges reaching into each strip between scanline `line` and `line + 1`, so
/// a joint between the two is tested against those edges only.
fn strips(
    rings: &[Vec<Point>],
    spacing: f64,
    offset: f64,
) -> std::collections::HashMap<i64, Vec<Edge>> {
    let mut out: std::collections::HashMap<i64, Vec<Edge>> = Default::default();
    for ring in rings {
        let n = ring.len();
        for i in 0..n {
            let (a, b) = (ring[i], ring[(i + 1) % n]);
            let (lo, hi) = (a.y.min(b.y) as f64, a.y.max(b.y) as f64);
            let first = ((lo - offset) / spacing).floor() as i64 - 1;
            let last = ((hi - offset) / spacing).floor() as i64 + 1;
            for line in first..=last {
                out.entry(line).or_default().push((a, b));
            }
        }
    }
    out
}

/// Join segments of neighbouring scanlines into zig-zag chains (rotated frame points
/// as (x, line)).
fn zigzag(segs: &[Seg], rings: &[Vec<Point>], spacing: f64, offset: f64) -> Vec<Vec<(Coord, i64)>> {
    let strips = strips(rings, spacing, offset);
    // Segments by line for neighbour lookup.
    let mut by_line: std::collections::BTreeMap<i64, Vec<usize>> = Default::default();
    for (i, g) in segs.iter().enumerate() {
        by_line.entry(g.line).or_default().push(i);
    }
    let mut used = vec![false; segs.len()];
    let mut chains = Vec::new();
    let max_jump = 2.5 * spacing;
    let y_of = |line: i64| line as f64 * spacing + offset;
    for start in 0..segs.len() {
        if used[start] {
            continue;
        }
        used[start] = true;
        let mut chain = vec![
            (segs[start].x0, segs[start].line),
            (segs[start].x1, segs[start].line),
        ];
        let mut cur = start;
        // Heading right on this segment; the next goes left, and so on.
        let mut at_right = true;
        loop {
            let g = segs[cur];
            let end_x = if at_right { g.x1 } else { g.x0 };
            let Some(next_line) = by_line.get(&(g.line + 1)) else {
                break;
            };
            // The unused segment of the next line whose near end is closest.
            let best = next_line
                .iter()
                .copied()
                .filter(|&j| !used[j])
                .map(|j| {
                    let h = segs[j];
                    let near = if at_right { h.x1 } else { h.x0 };
                    (j, near, (near - end_x).abs())
                })
                .min_by_key(|&(_, _, d)| d);
            let Some((j, near_x, dx)) = best else { break };
            let jump = (dx as f64).hypot(spacing);
            if jump > max_jump {
                break;
            }
            // The joint, in the rotated frame (as integer points for the crossing test).
            let p = Point::new(end_x, y_of(g.line).round() as Coord);
            let q = Point::new(near_x, y_of(g.line + 1).round() as Coord);
            // The joint must not cut across a hole or a notch: it may not cross the
            // outline and its middle must be inside.
            let mid = p.lerp(q, 0.5);
            let edges = strips.get(&g.line).map_or(&[][..], Vec::as_slice);
            if crosses(edges, p, q) || !(inside(edges, mid) || on_outline(edges, mid)) {
                break;
            }
            let h = segs[j];
            used[j] = true;
            if at_right {
                chain.push((h.x1, h.line));
                chain.push((h.x0, h.line));
            } else {
                chain.push((h.x0, h.line));
                chain.push((h.x1, h.line));
            }
            at_right = !at_right;
            cur = j;
        }
        chains.push(chain);
    }
    chains
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
