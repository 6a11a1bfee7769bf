//! Centre lines of thin regions, with their local width: how walls too thin for two
//! perimeters (vessel walls of 0.5-0.9 mm) and gaps between perimeters get extruded.
//!
//! The region is triangulated (constrained Delaunay, boundary edges subdivided so
//! triangles span the region from side to side); the midpoints of the triangles' inner
//! edges follow the middle of the region (its chordal axis), and the distance from each
//! midpoint to the boundary gives the width there. Short spurs at branch points are
//! pruned, line ends are pulled back so the bead's round end stops at the boundary.

use spade::handles::{FaceHandle, FixedFaceHandle, InnerTag};
use spade::{CdtEdge, ConstrainedDelaunayTriangulation, Point2, Triangulation};

use crate::geom::{ExPolygon, Point, simplify_polyline};

/// A centre line with a width (integer units) at each point.
#[derive(Debug, Clone, PartialEq)]
pub struct WidthLine {
    /// The line.
    pub points: Vec<Point>,
    /// Full width of the region at each point, integer units.
    pub widths: Vec<f64>,
}

impl WidthLine {
    /// Length, integer units.
    pub fn length(&self) -> f64 {
        self.points.windows(2).map(|w| w[0].distance(w[1])).sum()
    }
}

type Cdt = ConstrainedDelaunayTriangulation<Point2<f64>>;
type InnerFace<'a> = FaceHandle<'a, InnerTag, Point2<f64>, (), CdtEdge<()>, ()>;

/// Centre lines of `region`. `max_edge` (integer units) bounds the boundary's edge
/// length before triangulating: about half the narrowest width of interest.
pub fn medial_lines(region: &ExPolygon, max_edge: f64) -> Vec<WidthLine> {
    let mut vertices: Vec<Point2<f64>> = Vec::new();
    let mut edges: Vec<[usize; 2]> = Vec::new();
    for ring in region.rings() {
        let start = vertices.len();
        let n = ring.points.len();
        if n < 3 {
            continue;
        }
        for i in 0..n {
            let a = ring.points[i];
            let b = ring.points[(i + 1) % n];
            let pieces = (a.distance(b) / max_edge).ceil().max(1.0) as usize;
            for k in 0..pieces {
                let p = a.lerp(b, k as f64 / pieces as f64);
                vertices.push(Point2::new(p.x as f64, p.y as f64));
            }
        }
        let end = vertices.len();
        for i in start..end {
            edges.push([i, if i + 1 == end { start } else { i + 1 }]);
        }
    }
    if vertices.len() < 3 {
        return Vec::new();
    }
    let Ok(cdt) = Cdt::try_bulk_load_cdt(vertices, edges, |_| {}) else {
        return Vec::new();
    };
    let inside = classify_faces(&cdt);
    let mut lines = lines_from_triangulation(&cdt, &inside);
    for line in &mut lines {
        trim_ends(line, region);
    }
    lines
}

/// Pull each open end back so the bead's round end (half a width beyond the centre
/// line's end) stops at the boundary ahead of it, keeping at least a fifth of the line.
fn trim_ends(line: &mut WidthLine, region: &ExPolygon) {
    let n = line.points.len();
    if n < 2 || line.points[0] == line.points[n - 1] {
        return;
    }
    let min_keep = 0.2 * line.length();
    for _ in 0..2 {
        let (end, prev) = (
            line.points[line.points.len() - 1],
            line.points[line.points.len() - 2],
        );
        // Widths right at a fork are underestimated: take the line's width just before.
        let w = line
            .widths
            .iter()
            .rev()
            .take(3)
            .copied()
            .fold(0.0, f64::max);
        let ahead = ray_distance(region, end, end - prev);
        let mut cut = 0.5 * w - ahead;
        while cut > 0.0 && line.points.len() >= 2 && line.length() > min_keep {
            let m = line.points.len();
            let (a, b) = (line.points[m - 2], line.points[m - 1]);
            let seg = a.distance(b);
            let room = (line.length() - min_keep).min(seg);
            if cut < room {
                line.points[m - 1] = b.lerp(a, cut / seg);
                break;
            }
            if m == 2 {
                line.points[m - 1] = b.lerp(a, room / seg);
                break;
            }
            line.points.pop();
            line.widths.pop();
            cut -= seg;
        }
        line.points.reverse();
        line.widths.reverse();
    }
}

/// Distance from `p` along direction `dir` to the first boundary edge of `region`
/// (infinite when nothing is hit).
fn ray_distance(region: &ExPolygon, p: Point, dir: Point) -> f64 {
    let len = dir.length();
    if len == 0.0 {
        return f64::INFINITY;
    }
    let (dx, dy) = (dir.x as f64 / len, dir.y as f64 / len);
    let mut best = f64::INFINITY;
    for ring in region.rings() {
        for (a, b) in ring.edges() {
            // Solve p + t d = a + u (b - a), t >= 0, 0 <= u <= 1.
            let (ex, ey) = ((b.x - a.x) as f64, (b.y - a.y) as f64);
            let denom = dx * ey - dy * ex;
            if denom.abs() < 1e-12 {
                continue;
            }
            let (wx, wy) = ((a.x - p.x) as f64, (a.y - p.y) as f64);
            let t = (wx * ey - wy * ex) / denom;
            let u = (wx * dy - wy * dx) / denom;
            if t >= 0.0 && (0.0..=1.0).contains(&u) {
                best = best.min(t);
            }
        }
    }
    best
}

/// Which inner faces lie inside the region: walking from the outside, every boundary
/// (constraint) edge crossed flips inside and outside.
fn classify_faces(cdt: &Cdt) -> Vec<bool> {
    let mut state: Vec<Option<bool>> = vec![None; cdt.num_all_faces()];
    let mut stack: Vec<(FixedFaceHandle<InnerTag>, bool)> = Vec::new();
    for edge in cdt.convex_hull() {
        // The hull edge's inner side.
        for side in [edge, edge.rev()] {
            if let Some(face) = side.face().as_inner() {
                let inside = edge.is_constraint_edge();
                stack.push((face.fix(), inside));
            }
        }
    }
    while let Some((f, inside)) = stack.pop() {
        if state[f.index()].is_some() {
            continue;
        }
        state[f.index()] = Some(inside);
        let face = cdt.face(f);
        for e in face.adjacent_edges() {
            if let Some(next) = e.rev().face().as_inner() {
                if state[next.fix().index()].is_none() {
                    stack.push((next.fix(), inside != e.is_constraint_edge()));
                }
            }
        }
    }
    state.into_iter().map(|s| s == Some(true)).collect()
}

/// Graph of centre-line nodes built from the inside triangles.
struct Graph {
    pos: Vec<Point>,
    width: Vec<f64>,
    adj: Vec<Vec<u32>>,
}

impl Graph {
    fn add_node(&mut self, p: Point, w: f64) -> u32 {
        self.pos.push(p);
        self.width.push(w);
        self.adj.push(Vec::new());
        (self.pos.len() - 1) as u32
    }

    fn connect(&mut self, a: u32, b: u32) {
        if a != b && !self.adj[a as usize].contains(&b) {
            self.adj[a as usize].push(b);
            self.adj[b as usize].push(a);
        }
    }
}

fn to_point(p: Point2<f64>) -> Point {
    Point::new(p.x.round() as i64, p.y.round() as i64)
}

fn dist_to_segment(p: Point2<f64>, a: Point2<f64>, b: Point2<f64>) -> f64 {
    let (abx, aby) = (b.x - a.x, b.y - a.y);
    let len2 = abx * abx + aby * aby;
    let t = if len2 > 0.0 {
        (((p.x - a.x) * abx + (p.y - a.y) * aby) / len2).clamp(0.0, 1.0)
    } else {
        0.0
    };
    let (dx, dy) = (a.x + t * abx - p.x, a.y + t * aby - p.y);
    (dx * dx + dy * dy).sqrt()
}

fn lines_from_triangulation(cdt: &Cdt, inside: &[bool]) -> Vec<WidthLine> {
    let mut g = Graph {
        pos: Vec::new(),
        width: Vec::new(),
        adj: Vec::new(),
    };
    // Node of each inner (chord) edge, created on demand.
    let mut chord_node: Vec<u32> = vec![u32::MAX; cdt.num_undirected_edges()];
    let is_inside = |f: Option<FixedFaceHandle<InnerTag>>| f.is_some_and(|f| inside[f.index()]);

    // Boundary edges of the faces around an edge, for measuring the width at a chord.
    let boundary_distance = |p: Point2<f64>, faces: &[InnerFace<'_>]| -> f64 {
        let mut best = f64::INFINITY;
        for face in faces {
            for e in face.adjacent_edges() {
                if e.is_constraint_edge() {
                    let [a, b] = e.positions();
                    best = best.min(dist_to_segment(p, a, b));
                }
            }
        }
        best
    };

    for face in cdt.inner_faces() {
        if !inside[face.fix().index()] {
            continue;
        }
        let edges = face.adjacent_edges();
        let chords: Vec<_> = edges
            .iter()
            .filter(|e| {
                !e.is_constraint_edge() && is_inside(e.rev().face().as_inner().map(|f| f.fix()))
            })
            .collect();
        let mut nodes = Vec::with_capacity(3);
        for e in &chords {
            let id = e.as_undirected().index();
            if chord_node[id] == u32::MAX {
                let [a, b] = e.positions();
                let mid = Point2::new(0.5 * (a.x + b.x), 0.5 * (a.y + b.y));
                let chord = ((a.x - b.x).powi(2) + (a.y - b.y).powi(2)).sqrt();
                let mut faces = vec![face];
                if let Some(other) = e.rev().face().as_inner() {
                    faces.push(other);
                }
                let d = boundary_distance(mid, &faces);
                let w: f64 = if d.is_finite() {
                    (2.0 * d).min(chord)
                } else {
                    chord
                };
                chord_node[id] = g.add_node(to_point(mid), w);
            }
            nodes.push(chord_node[id]);
        }
        match nodes.len() {
            2 => g.connect(nodes[0], nodes[1]),
            3 => {
                let [a, b, c] = face.positions();
                let centroid = Point2::new((a.x + b.x + c.x) / 3.0, (a.y + b.y + c.y) / 3.0);
                let w = nodes.iter().map(|&n| g.width[n as usize]).sum::<f64>() / 3.0;
                let centre = g.add_node(to_point(centroid), w);
                for n in nodes {
                    g.connect(n, centre);
                }
            }
            1 => {
                // A line end: continue towards the opposite corner, stopping half a
                // width short so the bead's round end meets the boundary.
                let e = chords[0];
                let apex = e.next().to().position();
                let n = nodes[0];
                let m = g.pos[n as usize];
                let w = g.width[n as usize];
                let (dx, dy) = (apex.x - m.x as f64, apex.y - m.y as f64);
                let d = (dx * dx + dy * dy).sqrt();
                let reach = d - 0.5 * w;
                if reach > 0.0 && d > 0.0 {
                    let tip = Point::new(
                        m.x + (dx / d * reach).round() as i64,
                        m.y + (dy / d * reach).round() as i64,
                    );
                    let t = g.add_node(tip, w);
                    g.connect(n, t);
                }
            }
            _ => {
                // An isolated triangle: a dot-like feature; a line along its longest
                // side's median.
                let [a, b, c] = face.positions();
                let sides = [(a, b, c), (b, c, a), (c, a, b)];
                let (p, q, apex) = sides
                    .into_iter()
                    .max_by(|x, y| {
                        let lx = (x.0.x - x.1.x).hypot(x.0.y - x.1.y);
                        let ly = (y.0.x - y.1.x).hypot(y.0.y - y.1.y);
                        lx.total_cmp(&ly)
                    })
                    .unwrap_or((a, b, c));
                let mid = Point2::new(0.5 * (p.x + q.x), 0.5 * (p.y + q.y));
                let w = 2.0 * dist_to_segment(apex, p, q) / 2.0;
                let n0 = g.add_node(to_point(mid), w);
                let n1 = g.add_node(to_point(apex), w);
                g.connect(n0, n1);
            }
        }
    }
    extract_lines(&mut g)
}

/// Walk the graph into polylines between branch points and ends; prune spurs shorter
/// than their width.
fn extract_lines(g: &mut Graph) -> Vec<WidthLine> {
    prune_spurs(g);
    let n = g.pos.len();
    let mut used_edge: std::collections::HashSet<(u32, u32)> = Default::default();
    let key = |a: u32, b: u32| if a < b { (a, b) } else { (b, a) };
    let mut lines = Vec::new();
    let walk_from = |start: u32, first: u32, used: &mut std::collections::HashSet<(u32, u32)>| {
        let mut pts = vec![start];
        let (mut prev, mut cur) = (start, first);
        used.insert(key(prev, cur));
        loop {
            pts.push(cur);
            if g.adj[cur as usize].len() != 2 || cur == start {
                break;
            }
            let next = g.adj[cur as usize]
                .iter()
                .copied()
                .find(|&x| x != prev)
                .unwrap_or(prev);
            if !used.insert(key(cur, next)) {
                break;
            }
            prev = cur;
            cur = next;
        }
        WidthLine {
            points: pts.iter().map(|&i| g.pos[i as usize]).collect(),
            widths: pts.iter().map(|&i| g.width[i as usize]).collect(),
        }
    };
    // Open lines from every end or branch node, then cycles.
    for pass in 0..2 {
        for v in 0..n as u32 {
            let deg = g.adj[v as usize].len();
            if deg == 0 || (pass == 0 && deg == 2) {
                continue;
            }
            for i in 0..deg {
                let w = g.adj[v as usize][i];
                if !used_edge.contains(&key(v, w)) {
                    lines.push(walk_from(v, w, &mut used_edge));
                }
            }
        }
    }
    lines
        .into_iter()
        .map(smooth)
        .filter(|l| l.points.len() >= 2 && l.length() > 0.0)
        .collect()
}

/// Remove branches that end within their own width of a branch point: the chordal axis
/// sprouts these towards corners (a strip's square end forks into two), and extruding
/// them would over-fill. All spurs of a pass are found first and removed together, so
/// both prongs of a fork go and the line ends at the fork, half a width from the edge.
fn prune_spurs(g: &mut Graph) {
    const PASSES: usize = 2;
    for _ in 0..PASSES {
        let mut doomed: Vec<u32> = Vec::new();
        for v in 0..g.pos.len() {
            if g.adj[v].len() != 1 {
                continue;
            }
            let mut path = vec![v as u32];
            let mut length = 0.0;
            let (mut prev, mut cur) = (v as u32, g.adj[v][0]);
            loop {
                length += g.pos[prev as usize].distance(g.pos[cur as usize]);
                if g.adj[cur as usize].len() != 2 {
                    break;
                }
                path.push(cur);
                let next = g.adj[cur as usize]
                    .iter()
                    .copied()
                    .find(|&x| x != prev)
                    .unwrap_or(prev);
                prev = cur;
                cur = next;
            }
            if g.adj[cur as usize].len() >= 3 && length < g.width[cur as usize] {
                doomed.extend(path);
            }
        }
        if doomed.is_empty() {
            break;
        }
        for p in doomed {
            for a in std::mem::take(&mut g.adj[p as usize]) {
                g.adj[a as usize].retain(|&x| x != p);
            }
        }
    }
}

/// Drop points that wiggle less than a few micrometres, keeping widths of the points
/// that remain.
fn smooth(line: WidthLine) -> WidthLine {
    const SMOOTH_TOLERANCE: f64 = 25_000.0; // 25 µm
    let kept = simplify_polyline(&line.points, SMOOTH_TOLERANCE);
    let mut widths = Vec::with_capacity(kept.len());
    let mut j = 0;
    for p in &kept {
        while j < line.points.len() && line.points[j] != *p {
            j += 1;
        }
        widths.push(line.widths.get(j).copied().unwrap_or(0.0));
    }
    WidthLine {
        points: kept,
        widths,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::geom::{Polygon, scaled};

    fn rect(w: f64, h: f64) -> ExPolygon {
        ExPolygon::new(Polygon::rectangle(0, 0, scaled(w), scaled(h)))
    }

    #[test]
    fn strip_gives_one_centred_line_of_its_width() {
        let lines = medial_lines(&rect(20.0, 0.6), scaled(0.2) as f64);
        assert_eq!(lines.len(), 1, "{lines:?}");
        let l = &lines[0];
        for (p, w) in l.points.iter().zip(&l.widths) {
            assert!((p.y - scaled(0.3)).abs() < scaled(0.04), "{p:?}");
            if p.x > scaled(1.0) && p.x < scaled(19.0) {
                assert!((w - scaled(0.6) as f64).abs() < scaled(0.03) as f64, "{w}");
            }
        }
        // Ends pulled back by about half the width.
        let xs: Vec<i64> = l.points.iter().map(|p| p.x).collect();
        let (lo, hi) = (*xs.iter().min().unwrap(), *xs.iter().max().unwrap());
        assert!((lo - scaled(0.3)).abs() < scaled(0.05), "{lo}");
        assert!((hi - scaled(19.7)).abs() < scaled(0.05), "{hi}");
    }

    #[test]
    fn ring_gives_a_closed_centre_line() {
        let outer = Polygon::circle(Point::new(0, 0), scaled(5.0), 200);
        let mut inner = Polygon::circle(Point::new(0, 0), scaled(4.4), 200);
        inner.reverse();
        let ring = ExPolygon {
            contour: outer,
            holes: vec![inner],
        };
        let lines = medial_lines(&ring, scaled(0.2) as f64);
        let total: f64 = lines.iter().map(WidthLine::length).sum();
        let expected = std::f64::consts::TAU * scaled(4.7) as f64;
        assert!(
            (total - expected).abs() / expected < 0.03,
            "{total} vs {expected}"
        );
        for l in &lines {
            for (p, w) in l.points.iter().zip(&l.widths) {
                let r = p.length();
                assert!((r - scaled(4.7) as f64).abs() < scaled(0.05) as f64);
                assert!((w - scaled(0.6) as f64).abs() < scaled(0.06) as f64, "{w}");
            }
        }
    }

    #[test]
    fn t_junction_has_three_branches_and_no_spurs() {
        // A T made of two 0.6 mm strips.
        let t = crate::geom::union(
            &vec![
                Polygon::rectangle(0, scaled(9.4), scaled(10.0), scaled(10.0)),
                Polygon::rectangle(scaled(4.7), 0, scaled(5.3), scaled(9.5)),
            ],
            crate::geom::FillRule::NonZero,
        );
        let lines = medial_lines(&t[0], scaled(0.2) as f64);
        let total: f64 = lines.iter().map(WidthLine::length).sum::<f64>() / 1e6;
        // About 10 mm of bar and 9.7 mm of stem, minus the pulled-back ends.
        assert!(total > 17.5 && total < 20.0, "{total}");
        assert!(lines.len() <= 4, "{}", lines.len());
    }
}
