//! Combing: travel that stays inside the part instead of crossing its walls or its
//! holes, so nothing oozes onto the visible surface and no retraction is needed.
//!
//! The comb region is the island shrunk by about one external line width (inside the
//! outer wall's inner edge). A travel first hops from its end points onto the region
//! (they often sit on the outer wall, just outside it). When the straight line between
//! them stays inside, that is the path. Otherwise the line's crossings with the
//! region's rings are paired (out through a ring, back in through the same ring: around
//! a hole, or around a bay of the outline), each pair is replaced by the shorter way
//! along that ring, and the result is straightened where the straight cut stays inside.
//! A uniform grid over the ring edges keeps every test local, so a layer with
//! thousands of travels over an island with thousands of vertices stays fast.

use crate::geom::{self, BBox, ExPolygon, JoinType, Point, scaled};

/// A comb path longer than this multiple of the straight distance (plus
/// [`DETOUR_SLACK`]) is not worth it: travel straight and retract.
pub const DETOUR_FACTOR: f64 = 2.0;

/// Extra length allowed to any comb path, mm.
pub const DETOUR_SLACK: f64 = 5.0;

/// End points may hop onto the comb region from this many insets away (an outer
/// wall's centre line is half an inset outside).
const HOP_FACTOR: f64 = 2.0;

/// Paths along a ring keep this far inside it (integer units, 10 µm), so they never
/// touch the ring they follow.
const NUDGE: f64 = 10_000.0;

/// Ring edges are registered in the cells of their box grown by this (integer units),
/// so segments that only touch an edge on a cell border still meet it.
const CELL_MARGIN: i64 = 1_000;

/// Smallest cell side, integer units (50 µm).
const MIN_CELL: f64 = 50_000.0;

/// The edge grid has at most this many cells per ring edge (plus [`GRID_SPARE_CELLS`]):
/// enough that each cell holds a few edges, few enough that the empty cells of a
/// sparse outline cost little memory.
const GRID_CELLS_PER_EDGE: f64 = 4.0;

/// Cells the edge grid may have beyond [`GRID_CELLS_PER_EDGE`] per edge, so that a
/// region of a handful of edges still gets a grid of a few cells a side.
const GRID_SPARE_CELLS: f64 = 16.0;

/// Factor the cell side grows by until the grid is small enough: coarse steps, since
/// the bound only limits memory.
const GRID_CELL_GROWTH: f64 = 1.5;

/// The two edges at a vertex whose left normals sum to less than this length point
/// opposite ways (a spike turning back on itself): the vertex is moved along the first
/// edge's normal instead of the bisector.
const OPPOSITE_NORMALS: f64 = 1e-6;

/// Smallest cosine of the half angle between a vertex's bisector and its edges' normals
/// that [`NUDGE`] is stretched by: at a corner sharper than this (about 151° between
/// the normals) the nudge is held at four times its length instead of running off far
/// past the corner.
const MIN_NUDGE_COS: f64 = 0.25;

/// Slack past the end of a segment (in its own parameter, 0 to 1) before a grid walk
/// takes floating point to have overshot the end cell.
const WALK_END_SLACK: f64 = 1e-9;

/// The inside of one island where travel needs no retraction, with an edge grid.
#[derive(Debug, Clone)]
pub struct CombRegion {
    /// Edge `e` runs from `a[e]` to `b[e]`; ring `r`'s edges are
    /// `ring_start[r]..ring_start[r + 1]`, in ring order.
    a: Vec<Point>,
    b: Vec<Point>,
    ring_start: Vec<usize>,
    edge_ring: Vec<u32>,
    grid: EdgeGrid,
    hop: f64,
}

/// One crossing of a travel line with a ring edge.
#[derive(Debug, Clone, Copy)]
struct Hit {
    t: f64,
    edge: usize,
    at: Point,
}

impl CombRegion {
    /// The comb region of `island`: the island shrunk by `inset` mm. `None` when
    /// nothing is left (an island thinner than two insets).
    ///
    /// ```
    /// use lamina::geom::{scaled, ExPolygon, Point, Polygon};
    /// use lamina::plan::CombRegion;
    /// let sq = ExPolygon::new(Polygon::rectangle(0, 0, scaled(10.0), scaled(10.0)));
    /// let r = CombRegion::new(&sq, 0.45).unwrap();
    /// assert!(r.contains(Point::from_mm(5.0, 5.0)));
    /// assert!(!r.contains(Point::from_mm(0.2, 5.0)));
    /// ```
    pub fn new(island: &ExPolygon, inset: f64) -> Option<CombRegion> {
        CombRegion::of_areas(std::slice::from_ref(island), inset)
    }

    /// The region of several areas together, shrunk by `inset` mm (grown when
    /// negative). Grown, it is the keep-out of a layer's model: a travel from outside
    /// it whose line meets none of its edges ([`CombRegion::segment_is_free`]) stays
    /// clear of the model.
    ///
    /// ```
    /// use lamina::geom::{scaled, ExPolygon, Point, Polygon};
    /// use lamina::plan::CombRegion;
    /// let sq = |x: f64| ExPolygon::new(Polygon::rectangle(scaled(x), 0, scaled(x + 10.0), scaled(10.0)));
    /// let model = CombRegion::of_areas(&[sq(0.0), sq(20.0)], -0.5).unwrap();
    /// assert!(model.contains(Point::from_mm(-0.2, 5.0)));
    /// assert!(model.segment_is_free(Point::from_mm(15.0, -5.0), Point::from_mm(15.0, 15.0)));
    /// assert!(!model.segment_is_free(Point::from_mm(-5.0, 5.0), Point::from_mm(15.0, 5.0)));
    /// ```
    pub fn of_areas(areas: &[ExPolygon], inset: f64) -> Option<CombRegion> {
        let shrunk = geom::offset(areas, -(scaled(inset) as f64), JoinType::Miter);
        if shrunk.is_empty() {
            return None;
        }
        let (mut a, mut b, mut ring_start, mut edge_ring) =
            (Vec::new(), Vec::new(), Vec::new(), Vec::new());
        for ring in shrunk.iter().flat_map(|e| e.rings()) {
            let pts = &ring.points;
            if pts.len() < 3 {
                continue;
            }
            let r = ring_start.len() as u32;
            ring_start.push(a.len());
            for i in 0..pts.len() {
                a.push(pts[i]);
                b.push(pts[(i + 1) % pts.len()]);
                edge_ring.push(r);
            }
        }
        if a.is_empty() {
            return None;
        }
        ring_start.push(a.len());
        let grid = EdgeGrid::new(&a, &b);
        Some(CombRegion {
            a,
            b,
            ring_start,
            edge_ring,
            grid,
            hop: HOP_FACTOR * scaled(inset.max(0.0)) as f64,
        })
    }

    /// Whether `p` lies inside the region (non-zero winding).
    pub fn contains(&self, p: Point) -> bool {
        let Some((cx, cy)) = self.grid.cell_of(p) else {
            return false;
        };
        // Winding number by a ray to +x through the cells of p's row; an edge spanning
        // several of them counts only in the first one the ray meets.
        let mut wn = 0;
        for x in cx..self.grid.nx {
            for &e in self.grid.cell(x, cy) {
                let (a, b) = (self.a[e as usize], self.b[e as usize]);
                if x != cx && self.grid.first_column(a, b) != x {
                    continue;
                }
                if a.y <= p.y {
                    if b.y > p.y && (b - a).cross_sign(p - a) > 0 {
                        wn += 1;
                    }
                } else if b.y <= p.y && (b - a).cross_sign(p - a) < 0 {
                    wn -= 1;
                }
            }
        }
        wn != 0
    }

    /// Whether the segment `p`-`q` meets no ring edge (touching counts as meeting).
    pub fn segment_is_free(&self, p: Point, q: Point) -> bool {
        let mut free = true;
        self.grid.walk(p, q, |cell| {
            for &e in cell {
                if segments_meet(p, q, self.a[e as usize], self.b[e as usize]) {
                    free = false;
                    return false;
                }
            }
            true
        });
        free
    }

    /// Whether travel from `from` to `to` in a straight line stays inside the region
    /// (after hopping onto it from points on the outer wall).
    pub fn straight_inside(&self, from: Point, to: Point) -> bool {
        match (self.enter(from), self.enter(to)) {
            (Some(a), Some(b)) => a == b || self.segment_is_free(a, b),
            _ => false,
        }
    }

    /// A travel path from `from` to `to` inside the region (both ends included), or
    /// `None` when the points cannot reach each other inside it or the way round is
    /// longer than `DETOUR_FACTOR` times the straight line plus `DETOUR_SLACK`.
    ///
    /// ```
    /// use lamina::geom::{scaled, ExPolygon, Point, Polygon};
    /// use lamina::plan::CombRegion;
    /// let mut hole = Polygon::rectangle(scaled(8.0), scaled(2.0), scaled(12.0), scaled(18.0));
    /// hole.reverse();
    /// let ring = ExPolygon { contour: Polygon::rectangle(0, 0, scaled(20.0), scaled(20.0)), holes: vec![hole] };
    /// let r = CombRegion::new(&ring, 0.45).unwrap();
    /// let path = r.route(Point::from_mm(4.0, 10.0), Point::from_mm(16.0, 10.0)).unwrap();
    /// assert!(path.len() > 2); // around the hole
    /// ```
    pub fn route(&self, from: Point, to: Point) -> Option<Vec<Point>> {
        let straight = from.distance(to);
        let budget = DETOUR_FACTOR * straight + scaled(DETOUR_SLACK) as f64;
        let a = self.enter(from)?;
        let b = self.enter(to)?;
        let mut mid = vec![a];
        if a != b && !self.segment_is_free(a, b) {
            let hits = self.crossings(a, b);
            let mut i = 0;
            while i < hits.len() {
                // The line comes back in through the ring it left by. The rings it
                // crosses in between lie inside that one (the holes of an island it
                // passes over, where the region is the free space round several
                // islands) and are gone round with it.
                let x = hits[i];
                let ring = self.edge_ring[x.edge];
                let j = (i + 1..hits.len()).find(|&j| self.edge_ring[hits[j].edge] == ring)?;
                mid.extend(self.walk_ring(x, hits[j], budget)?);
                i = j + 1;
            }
        }
        mid.push(b);
        mid.dedup();
        let mid = self.straighten(&mid);
        if mid.windows(2).any(|w| !self.segment_is_free(w[0], w[1])) {
            return None;
        }
        let mut path = Vec::with_capacity(mid.len() + 2);
        path.push(from);
        path.extend(mid);
        path.push(to);
        path.dedup();
        let len: f64 = path.windows(2).map(|w| w[0].distance(w[1])).sum();
        (len <= budget).then_some(path)
    }

    /// `p` itself when inside, else the nearest point of the region within the hop
    /// distance, moved just inside.
    fn enter(&self, p: Point) -> Option<Point> {
        if self.contains(p) {
            return Some(p);
        }
        let (e, t, _) = self.nearest_edge(p, self.hop)?;
        let candidate = if t <= 0.0 {
            self.vertex_inside(e)
        } else if t >= 1.0 {
            self.vertex_inside(self.next_edge(e))
        } else {
            let (a, b) = (self.a[e], self.b[e]);
            let on = a.lerp(b, t);
            on + unit_left(b - a) * NUDGE
        };
        self.contains(candidate).then_some(candidate)
    }

    /// The edge nearest to `p` within `radius`: (edge, parameter of the nearest
    /// point along it, squared distance).
    fn nearest_edge(&self, p: Point, radius: f64) -> Option<(usize, f64, f64)> {
        let r = radius.ceil() as i64;
        let bb = BBox {
            min: Point::new(p.x - r, p.y - r),
            max: Point::new(p.x + r, p.y + r),
        };
        let mut best: Option<(usize, f64, f64)> = None;
        self.grid.for_cells_in(&bb, |cell| {
            for &e in cell {
                let e = e as usize;
                let (a, b) = (self.a[e], self.b[e]);
                let ab = b - a;
                let len2 = ab.length_squared();
                let t = if len2 > 0.0 {
                    ((p - a).dot(ab) / len2).clamp(0.0, 1.0)
                } else {
                    0.0
                };
                let d = p.distance_to_segment_squared(a, b);
                if d <= radius * radius && best.is_none_or(|x| d < x.2) {
                    best = Some((e, t, d));
                }
            }
        });
        best
    }

    /// The edge after `e` in its ring.
    fn next_edge(&self, e: usize) -> usize {
        let r = self.edge_ring[e] as usize;
        let (s, end) = (self.ring_start[r], self.ring_start[r + 1]);
        if e + 1 == end { s } else { e + 1 }
    }

    /// The edge before `e` in its ring.
    fn prev_edge(&self, e: usize) -> usize {
        let r = self.edge_ring[e] as usize;
        let (s, end) = (self.ring_start[r], self.ring_start[r + 1]);
        if e == s { end - 1 } else { e - 1 }
    }

    /// The start vertex of edge `e`, moved [`NUDGE`] inside both edges meeting there.
    fn vertex_inside(&self, e: usize) -> Point {
        let v = self.a[e];
        let pe = self.prev_edge(e);
        let n1 = unit_left_f(self.b[pe] - self.a[pe]);
        let n2 = unit_left_f(self.b[e] - self.a[e]);
        let (mx, my) = (n1.0 + n2.0, n1.1 + n2.1);
        let len = (mx * mx + my * my).sqrt();
        let (ux, uy, cos_half) = if len < OPPOSITE_NORMALS {
            (n1.0, n1.1, 1.0)
        } else {
            let (ux, uy) = (mx / len, my / len);
            (ux, uy, ux * n1.0 + uy * n1.1)
        };
        let s = NUDGE / cos_half.max(MIN_NUDGE_COS);
        Point::new(v.x + (ux * s).round() as i64, v.y + (uy * s).round() as i64)
    }

    /// Crossings of the segment `p`-`q` with ring edges, ordered along it. An edge
    /// counts when its ends lie on different sides of the line (an end on the line
    /// counts as the left side), so a line through a vertex crosses once.
    fn crossings(&self, p: Point, q: Point) -> Vec<Hit> {
        let mut hits: Vec<Hit> = Vec::new();
        let d = q - p;
        self.grid.walk(p, q, |cell| {
            for &e in cell {
                let e = e as usize;
                let (a, b) = (self.a[e], self.b[e]);
                if (d.cross_sign(a - p) >= 0) == (d.cross_sign(b - p) >= 0) {
                    continue;
                }
                let ab = b - a;
                let (sp, sq) = (ab.cross_sign(p - a), ab.cross_sign(q - a));
                if sp == 0 || sq == 0 || sp == sq {
                    continue;
                }
                let (cp, cq) = (ab.cross(p - a), ab.cross(q - a));
                let t = cp / (cp - cq);
                hits.push(Hit {
                    t,
                    edge: e,
                    at: p.lerp(q, t),
                });
            }
            true
        });
        hits.sort_by(|x, y| x.t.total_cmp(&y.t).then(x.edge.cmp(&y.edge)));
        hits.dedup_by_key(|h| h.edge);
        hits
    }

    /// The way along a ring from where the line leaves the region (`x`) to where it
    /// comes back (`y`), the shorter way round, just inside the ring; `None` when both
    /// ways are longer than `budget`.
    fn walk_ring(&self, x: Hit, y: Hit, budget: f64) -> Option<Vec<Point>> {
        let start = unit_left(self.b[x.edge] - self.a[x.edge]) * NUDGE + x.at;
        let end = unit_left(self.b[y.edge] - self.a[y.edge]) * NUDGE + y.at;
        if x.edge == y.edge {
            return Some(vec![start, end]);
        }
        // Forward: vertices at the starts of the edges after x up to y's edge.
        let forward = {
            let mut len = 0.0;
            let mut at = x.at;
            let mut e = self.next_edge(x.edge);
            loop {
                len += at.distance(self.a[e]);
                at = self.a[e];
                if len > budget {
                    break None;
                }
                if e == y.edge {
                    break Some(len + at.distance(y.at));
                }
                e = self.next_edge(e);
            }
        };
        // Backward: vertices at the starts of x's edge and the ones before, down to the
        // edge after y's.
        let backward = {
            let mut len = 0.0;
            let mut at = x.at;
            let mut e = x.edge;
            loop {
                len += at.distance(self.a[e]);
                at = self.a[e];
                if len > budget {
                    break None;
                }
                let pe = self.prev_edge(e);
                if pe == y.edge {
                    break Some(len + at.distance(y.at));
                }
                e = pe;
            }
        };
        let go_forward = match (forward, backward) {
            (None, None) => return None,
            (Some(_), None) => true,
            (None, Some(_)) => false,
            (Some(f), Some(b)) => f <= b,
        };
        let mut out = vec![start];
        if go_forward {
            let mut e = self.next_edge(x.edge);
            loop {
                out.push(self.vertex_inside(e));
                if e == y.edge {
                    break;
                }
                e = self.next_edge(e);
            }
        } else {
            let mut e = x.edge;
            loop {
                out.push(self.vertex_inside(e));
                let pe = self.prev_edge(e);
                if pe == y.edge {
                    break;
                }
                e = pe;
            }
        }
        out.push(end);
        Some(out)
    }

    /// Drop intermediate points while the straight cut stays inside: from each kept
    /// point, go as far along the path as a free segment reaches.
    fn straighten(&self, path: &[Point]) -> Vec<Point> {
        if path.len() <= 2 {
            return path.to_vec();
        }
        let last = path.len() - 1;
        let mut out = vec![path[0]];
        let mut i = 0;
        while i < last {
            let mut j = i + 1;
            while j < last && self.segment_is_free(path[i], path[j + 1]) {
                j += 1;
            }
            out.push(path[j]);
            i = j;
        }
        out
    }
}

/// Unit left normal of `d`, as f64 components.
fn unit_left_f(d: Point) -> (f64, f64) {
    let len = d.length();
    if len == 0.0 {
        return (0.0, 0.0);
    }
    (-(d.y as f64) / len, d.x as f64 / len)
}

/// Left normal of `d` scaled to one integer unit (multiply by a length to use).
fn unit_left(d: Point) -> UnitVec {
    let (x, y) = unit_left_f(d);
    UnitVec { x, y }
}

#[derive(Clone, Copy)]
struct UnitVec {
    x: f64,
    y: f64,
}

impl std::ops::Mul<f64> for UnitVec {
    type Output = Point;
    fn mul(self, s: f64) -> Point {
        Point::new((self.x * s).round() as i64, (self.y * s).round() as i64)
    }
}

/// Whether segments `p`-`q` and `a`-`b` share any point (exact).
fn segments_meet(p: Point, q: Point, a: Point, b: Point) -> bool {
    let d = q - p;
    let e = b - a;
    let o1 = d.cross_sign(a - p);
    let o2 = d.cross_sign(b - p);
    let o3 = e.cross_sign(p - a);
    let o4 = e.cross_sign(q - a);
    if o1 * o2 > 0 || o3 * o4 > 0 {
        return false;
    }
    if o1 == 0 && o2 == 0 {
        // Collinear: overlapping projections.
        let overlap = |u0: i64, u1: i64, v0: i64, v1: i64| {
            u0.min(u1) <= v0.max(v1) && v0.min(v1) <= u0.max(u1)
        };
        return overlap(p.x, q.x, a.x, b.x) && overlap(p.y, q.y, a.y, b.y);
    }
    true
}

/// Edges bucketed in a uniform grid (compressed rows: one flat array).
#[derive(Debug, Clone)]
struct EdgeGrid {
    origin: Point,
    cell: f64,
    nx: usize,
    ny: usize,
    start: Vec<u32>,
    edges: Vec<u32>,
}

impl EdgeGrid {
    fn new(a: &[Point], b: &[Point]) -> EdgeGrid {
        let mut bb = BBox {
            min: a[0],
            max: a[0],
        };
        let mut total = 0.0;
        for (p, q) in a.iter().zip(b) {
            bb.include(*p);
            total += p.distance(*q);
        }
        let bb = bb.inflated(CELL_MARGIN);
        let n = a.len();
        let size = bb.size();
        let (w, h) = (size.x as f64, size.y as f64);
        let mut cell = (w * h / n as f64)
            .sqrt()
            .max(total / n as f64)
            .max(MIN_CELL);
        while (w / cell).ceil() * (h / cell).ceil()
            > GRID_CELLS_PER_EDGE * n as f64 + GRID_SPARE_CELLS
        {
            cell *= GRID_CELL_GROWTH;
        }
        let nx = ((w / cell).floor() as usize + 1).max(1);
        let ny = ((h / cell).floor() as usize + 1).max(1);
        let mut g = EdgeGrid {
            origin: bb.min,
            cell,
            nx,
            ny,
            start: vec![0; nx * ny + 1],
            edges: Vec::new(),
        };
        let mut count = vec![0u32; nx * ny];
        for (p, q) in a.iter().zip(b) {
            g.for_edge_cells(*p, *q, |c| count[c] += 1);
        }
        let mut acc = 0u32;
        for (start, n) in g.start.iter_mut().zip(&count) {
            *start = acc;
            acc += n;
        }
        g.start[nx * ny] = acc;
        g.edges = vec![0; acc as usize];
        let mut fill = vec![0u32; nx * ny];
        for (e, (p, q)) in a.iter().zip(b).enumerate() {
            let (start, edges) = (&g.start, &mut g.edges);
            let mut put = |c: usize| {
                edges[(start[c] + fill[c]) as usize] = e as u32;
                fill[c] += 1;
            };
            Self::edge_cells(g.origin, g.cell, g.nx, g.ny, *p, *q, &mut put);
        }
        g
    }

    fn for_edge_cells(&self, p: Point, q: Point, f: impl FnMut(usize)) {
        let mut f = f;
        Self::edge_cells(self.origin, self.cell, self.nx, self.ny, p, q, &mut f);
    }

    /// Cells of the edge's box grown by [`CELL_MARGIN`].
    fn edge_cells(
        origin: Point,
        cell: f64,
        nx: usize,
        ny: usize,
        p: Point,
        q: Point,
        f: &mut impl FnMut(usize),
    ) {
        let idx = |v: i64, o: i64, n: usize| {
            (((v - o) as f64 / cell).floor().max(0.0) as usize).min(n - 1)
        };
        let x0 = idx(p.x.min(q.x) - CELL_MARGIN, origin.x, nx);
        let x1 = idx(p.x.max(q.x) + CELL_MARGIN, origin.x, nx);
        let y0 = idx(p.y.min(q.y) - CELL_MARGIN, origin.y, ny);
        let y1 = idx(p.y.max(q.y) + CELL_MARGIN, origin.y, ny);
        for y in y0..=y1 {
            for x in x0..=x1 {
                f(y * nx + x);
            }
        }
    }

    /// The first grid column the edge `a`-`b` is registered in.
    fn first_column(&self, a: Point, b: Point) -> usize {
        let v = a.x.min(b.x) - CELL_MARGIN;
        (((v - self.origin.x) as f64 / self.cell).floor().max(0.0) as usize).min(self.nx - 1)
    }

    fn cell(&self, x: usize, y: usize) -> &[u32] {
        let c = y * self.nx + x;
        &self.edges[self.start[c] as usize..self.start[c + 1] as usize]
    }

    /// The cell holding `p`, or `None` outside the grid.
    fn cell_of(&self, p: Point) -> Option<(usize, usize)> {
        let fx = (p.x - self.origin.x) as f64 / self.cell;
        let fy = (p.y - self.origin.y) as f64 / self.cell;
        if fx < 0.0 || fy < 0.0 || fx >= self.nx as f64 || fy >= self.ny as f64 {
            return None;
        }
        Some((fx as usize, fy as usize))
    }

    fn for_cells_in(&self, bb: &BBox, mut f: impl FnMut(&[u32])) {
        let idx = |v: i64, o: i64, n: usize| -> i64 {
            (((v - o) as f64 / self.cell).floor() as i64).clamp(-1, n as i64)
        };
        let (x0, x1) = (
            idx(bb.min.x, self.origin.x, self.nx),
            idx(bb.max.x, self.origin.x, self.nx),
        );
        let (y0, y1) = (
            idx(bb.min.y, self.origin.y, self.ny),
            idx(bb.max.y, self.origin.y, self.ny),
        );
        for y in y0.max(0)..=y1.min(self.ny as i64 - 1) {
            for x in x0.max(0)..=x1.min(self.nx as i64 - 1) {
                f(self.cell(x as usize, y as usize));
            }
        }
    }

    /// Visit the cells the segment `p`-`q` passes through, in order, until `f` returns
    /// `false`.
    fn walk(&self, p: Point, q: Point, mut f: impl FnMut(&[u32]) -> bool) {
        // Grid coordinates, clipped to the grid box.
        let gx = |v: i64| (v - self.origin.x) as f64 / self.cell;
        let gy = |v: i64| (v - self.origin.y) as f64 / self.cell;
        let (mut x0, mut y0, mut x1, mut y1) = (gx(p.x), gy(p.y), gx(q.x), gy(q.y));
        let (dx, dy) = (x1 - x0, y1 - y0);
        let (mut t0, mut t1) = (0.0f64, 1.0f64);
        for (d, s, lo, hi) in [(dx, x0, 0.0, self.nx as f64), (dy, y0, 0.0, self.ny as f64)] {
            if d == 0.0 {
                if s < lo || s > hi {
                    return;
                }
            } else {
                let (ta, tb) = ((lo - s) / d, (hi - s) / d);
                t0 = t0.max(ta.min(tb));
                t1 = t1.min(ta.max(tb));
            }
        }
        if t0 > t1 {
            return;
        }
        (x0, y0, x1, y1) = (x0 + dx * t0, y0 + dy * t0, x0 + dx * t1, y0 + dy * t1);
        let clampi = |v: f64, n: usize| (v.floor().max(0.0) as usize).min(n - 1);
        let (mut cx, mut cy) = (clampi(x0, self.nx), clampi(y0, self.ny));
        let (ex, ey) = (clampi(x1, self.nx), clampi(y1, self.ny));
        let (dx, dy) = (x1 - x0, y1 - y0);
        let step_x: i64 = if dx > 0.0 { 1 } else { -1 };
        let step_y: i64 = if dy > 0.0 { 1 } else { -1 };
        let t_delta_x = if dx != 0.0 {
            1.0 / dx.abs()
        } else {
            f64::INFINITY
        };
        let t_delta_y = if dy != 0.0 {
            1.0 / dy.abs()
        } else {
            f64::INFINITY
        };
        let mut t_max_x = if dx > 0.0 {
            (cx as f64 + 1.0 - x0) / dx
        } else if dx < 0.0 {
            (x0 - cx as f64) / -dx
        } else {
            f64::INFINITY
        };
        let mut t_max_y = if dy > 0.0 {
            (cy as f64 + 1.0 - y0) / dy
        } else if dy < 0.0 {
            (y0 - cy as f64) / -dy
        } else {
            f64::INFINITY
        };
        let max_steps = self.nx + self.ny + 2;
        for _ in 0..max_steps {
            if !f(self.cell(cx, cy)) {
                return;
            }
            if cx == ex && cy == ey {
                return;
            }
            if t_max_x < t_max_y {
                let nx = cx as i64 + step_x;
                if nx < 0 || nx >= self.nx as i64 {
                    return;
                }
                cx = nx as usize;
                t_max_x += t_delta_x;
            } else {
                let ny = cy as i64 + step_y;
                if ny < 0 || ny >= self.ny as i64 {
                    return;
                }
                cy = ny as usize;
                t_max_y += t_delta_y;
            }
            if t_max_x.min(t_max_y) > 1.0 + WALK_END_SLACK && (cx != ex || cy != ey) {
                // Floating point ran past the end cell: visit it and stop.
                let _ = f(self.cell(ex, ey));
                return;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::geom::Polygon;
    use proptest::prelude::RngExt;
    use proptest::test_runner::{RngAlgorithm, TestRng};

    fn ring_with_hole() -> ExPolygon {
        let mut hole = Polygon::rectangle(scaled(8.0), scaled(2.0), scaled(12.0), scaled(18.0));
        hole.reverse();
        ExPolygon {
            contour: Polygon::rectangle(0, 0, scaled(20.0), scaled(20.0)),
            holes: vec![hole],
        }
    }

    fn assert_inside(island: &ExPolygon, path: &[Point]) {
        // Every point of every segment (sampled every 0.05 mm) lies in the island.
        for w in path.windows(2) {
            let n = (w[0].distance(w[1]) / scaled(0.05) as f64).ceil() as usize + 1;
            for k in 0..=n {
                let p = w[0].lerp(w[1], k as f64 / n as f64);
                assert!(island.contains(p), "{p:?} outside");
            }
        }
    }

    #[test]
    fn straight_when_clear() {
        let r = CombRegion::new(&ring_with_hole(), 0.45).unwrap();
        let a = Point::from_mm(3.0, 3.0);
        let b = Point::from_mm(3.0, 17.0);
        assert_eq!(r.route(a, b).unwrap(), vec![a, b]);
        assert!(r.straight_inside(a, b));
    }

    #[test]
    fn goes_around_a_hole_inside_the_part() {
        let island = ring_with_hole();
        let r = CombRegion::new(&island, 0.45).unwrap();
        let a = Point::from_mm(4.0, 8.0);
        let b = Point::from_mm(16.0, 9.0);
        assert!(!r.straight_inside(a, b));
        let path = r.route(a, b).unwrap();
        assert_eq!(path.first(), Some(&a));
        assert_eq!(path.last(), Some(&b));
        assert_inside(&island, &path);
        // It stays clear of the hole by about the inset.
        for w in path.windows(2) {
            for k in 0..=20 {
                let p = w[0].lerp(w[1], k as f64 / 20.0);
                let d = island.holes[0].distance_squared_to(p).sqrt() / geom::SCALE;
                assert!(d > 0.4, "{d}");
            }
        }
        // The short way: round the hole's bottom end, through the corners of the comb
        // region (7.55, 1.55) and (12.45, 1.55): hypot(3.55, 6.45) + 4.9 +
        // hypot(3.55, 7.45) = 20.51 mm (over the top would be 26 mm).
        let len: f64 = path.windows(2).map(|w| w[0].distance(w[1])).sum::<f64>() / geom::SCALE;
        let expected = 3.55f64.hypot(6.45) + 4.9 + 3.55f64.hypot(7.45);
        assert!((len - expected).abs() < 0.05, "{len} vs {expected}");
        assert!(path.iter().all(|p| p.y < scaled(12.0)));
    }

    /// The free space round an island with a hole (as the planner's support travel
    /// sees it): a line across the island leaves the space through the island's
    /// outline, crosses the hole (a part of the space of its own) and comes back
    /// through the outline. The way goes round the island; into the hole there is
    /// none.
    #[test]
    fn free_space_goes_round_an_island_with_a_hole() {
        let frame = ExPolygon::new(Polygon::rectangle(
            -scaled(10.0),
            -scaled(10.0),
            scaled(30.0),
            scaled(14.0),
        ));
        let mut hole = Polygon::rectangle(scaled(3.0), scaled(1.5), scaled(7.0), scaled(2.5));
        hole.reverse();
        let island = ExPolygon {
            contour: Polygon::rectangle(0, 0, scaled(10.0), scaled(4.0)),
            holes: vec![hole],
        };
        let free = geom::difference(&[frame], std::slice::from_ref(&island));
        let r = CombRegion::of_areas(&free, 0.3).unwrap();
        let a = Point::from_mm(5.0, -3.0);
        let b = Point::from_mm(5.0, 7.0);
        let path = r.route(a, b).expect("a way round the island");
        for w in path.windows(2) {
            for k in 0..=50 {
                let p = w[0].lerp(w[1], k as f64 / 50.0);
                assert!(!island.contains(p), "{p:?} over the island");
            }
        }
        let len: f64 = path.windows(2).map(|w| w[0].distance(w[1])).sum::<f64>() / geom::SCALE;
        assert!(len > 10.0 && len < 25.0, "{len}");
        // Control: the hole is a part of the free space of its own, out of reach.
        assert!(r.route(a, Point::from_mm(5.0, 2.0)).is_none());
    }

    #[test]
    fn hops_from_the_outer_wall() {
        let island = ring_with_hole();
        let r = CombRegion::new(&island, 0.45).unwrap();
        // On the outer wall's centre line (0.225 mm in), on both sides of the hole.
        let a = Point::from_mm(0.225, 10.0);
        let b = Point::from_mm(19.775, 10.0);
        let path = r.route(a, b).unwrap();
        assert_inside(&island, &path);
        assert!(path.len() > 3);
    }

    #[test]
    fn too_long_a_detour_is_refused() {
        // A long hole between two close points: around it is far more than 2x + 5 mm.
        let mut hole = Polygon::rectangle(scaled(9.0), scaled(1.0), scaled(11.0), scaled(99.0));
        hole.reverse();
        let island = ExPolygon {
            contour: Polygon::rectangle(0, 0, scaled(20.0), scaled(100.0)),
            holes: vec![hole],
        };
        let r = CombRegion::new(&island, 0.45).unwrap();
        assert!(
            r.route(Point::from_mm(7.0, 50.0), Point::from_mm(13.0, 50.0))
                .is_none()
        );
    }

    #[test]
    fn separate_pieces_do_not_connect() {
        // A dumbbell whose neck is thinner than two insets: two comb pieces.
        let island = ExPolygon::new(Polygon::new(vec![
            Point::from_mm(0.0, 0.0),
            Point::from_mm(10.0, 0.0),
            Point::from_mm(10.0, 4.8),
            Point::from_mm(20.0, 4.8),
            Point::from_mm(20.0, 0.0),
            Point::from_mm(30.0, 0.0),
            Point::from_mm(30.0, 10.0),
            Point::from_mm(20.0, 10.0),
            Point::from_mm(20.0, 5.4),
            Point::from_mm(10.0, 5.4),
            Point::from_mm(10.0, 10.0),
            Point::from_mm(0.0, 10.0),
        ]));
        let r = CombRegion::new(&island, 0.45).unwrap();
        assert!(
            r.route(Point::from_mm(5.0, 5.0), Point::from_mm(25.0, 5.0))
                .is_none()
        );
        assert!(
            r.route(Point::from_mm(5.0, 2.0), Point::from_mm(5.0, 8.0))
                .is_some()
        );
    }

    #[test]
    fn combs_around_a_bay_of_the_outline() {
        // A U shape: from one arm to the other the way is round the bottom.
        let island = ExPolygon::new(Polygon::new(vec![
            Point::from_mm(0.0, 0.0),
            Point::from_mm(12.0, 0.0),
            Point::from_mm(12.0, 12.0),
            Point::from_mm(8.0, 12.0),
            Point::from_mm(8.0, 4.0),
            Point::from_mm(4.0, 4.0),
            Point::from_mm(4.0, 12.0),
            Point::from_mm(0.0, 12.0),
        ]));
        let r = CombRegion::new(&island, 0.45).unwrap();
        let a = Point::from_mm(2.0, 10.0);
        let b = Point::from_mm(10.0, 10.0);
        let path = r.route(a, b).unwrap();
        assert_inside(&island, &path);
        assert!(path.iter().any(|p| p.y < scaled(4.0)));
    }

    #[test]
    fn many_random_routes_stay_inside() {
        // A plate with a grid of round holes; random pairs of points between them.
        let mut holes = Vec::new();
        for i in 0..5 {
            for j in 0..5 {
                let mut c = Polygon::circle(
                    Point::from_mm(5.0 + 10.0 * i as f64, 5.0 + 10.0 * j as f64),
                    scaled(3.0),
                    48,
                );
                c.reverse();
                holes.push(c);
            }
        }
        let island = ExPolygon {
            contour: Polygon::rectangle(0, 0, scaled(50.0), scaled(50.0)),
            holes,
        };
        let r = CombRegion::new(&island, 0.45).unwrap();
        let mut rng = TestRng::deterministic_rng(RngAlgorithm::ChaCha);
        let mut rnd = || rng.random::<f64>();
        let mut routed = 0;
        for _ in 0..300 {
            let a = Point::from_mm(rnd() * 50.0, rnd() * 50.0);
            let b = Point::from_mm(rnd() * 50.0, rnd() * 50.0);
            if island.distance_squared_to_boundary(a) < (scaled(0.6) as f64).powi(2)
                || island.distance_squared_to_boundary(b) < (scaled(0.6) as f64).powi(2)
                || !island.contains(a)
                || !island.contains(b)
            {
                continue;
            }
            if let Some(path) = r.route(a, b) {
                assert_inside(&island, &path);
                routed += 1;
            }
        }
        assert!(routed > 50, "{routed}");
    }
}
