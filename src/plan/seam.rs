//! Where a loop starts: its seam.
//!
//! Every loop leaves a small mark where it starts and ends. `Aligned` stacks the marks
//! into one line (following the seam of the loop at the same place on the layer
//! below), `Rear` puts them at the back, `Nearest` saves travel, `Random` scatters
//! them. Aligned and rear seams move to a concave corner nearby where there is one:
//! in a corner that turns into the part the mark is hidden. Where such a corner lies
//! right where the nozzle comes in, an aligned seam takes it instead of its line: the
//! mark is hidden either way, and the nozzle does not travel round the loop (on a
//! voxel staircase, with a concave corner on every step, this is most loops). With
//! aligned seams, inner walls, whose seams never show, start nearest the nozzle (the
//! planner's choice).

use crate::geom::{BBox, Point, scaled};

use super::params::SeamPosition;

/// How far along the loop (mm) from the wanted spot a concave corner may hide the seam.
pub const SEAM_HIDE_RADIUS: f64 = 1.0;

/// A corner must turn by at least this much (radians, about 25°) to hide a seam.
pub const MIN_HIDING_TURN: f64 = 0.44;

/// The turn at a vertex is measured between points at least this far away along the
/// loop (mm), so finely tessellated corners count as corners.
const CORNER_SPAN: f64 = 0.2;

/// A previous layer's seam farther than this (mm) from a loop does not guide it.
pub const ALIGN_RADIUS: f64 = 2.0;

/// Vertices within this of the largest Y (integer units, 1 µm) all count as the rear.
const REAR_TIE: i64 = 1_000;

/// Cells keyed by their integer coordinates (a fast hasher: no hostile input).
type CellMap<V> = rustc_hash::FxHashMap<(i64, i64), V>;

/// Seams of the previous layer, looked up by position.
#[derive(Debug, Clone, Default)]
pub struct SeamHistory {
    cells: CellMap<Vec<Point>>,
}

impl SeamHistory {
    fn cell_of(p: Point) -> (i64, i64) {
        let c = scaled(ALIGN_RADIUS);
        (p.x.div_euclid(c), p.y.div_euclid(c))
    }

    /// Record a seam.
    pub fn insert(&mut self, p: Point) {
        self.cells.entry(Self::cell_of(p)).or_default().push(p);
    }

    /// Whether no seam is recorded.
    pub fn is_empty(&self) -> bool {
        self.cells.is_empty()
    }

    /// The recorded seam nearest to `p` within [`ALIGN_RADIUS`], with its squared
    /// distance.
    pub fn nearest(&self, p: Point) -> Option<(Point, f64)> {
        let mut near = Vec::new();
        self.gather(Self::cell_of(p), &mut near);
        nearest_of(&near, p)
    }

    /// The seams recorded in the 3 x 3 cells around `cell`, into `out` (cleared).
    fn gather(&self, (cx, cy): (i64, i64), out: &mut Vec<Point>) {
        out.clear();
        for dy in -1..=1 {
            for dx in -1..=1 {
                if let Some(list) = self.cells.get(&(cx + dx, cy + dy)) {
                    out.extend_from_slice(list);
                }
            }
        }
    }

    /// The recorded seam nearest to any vertex of `ring` within [`ALIGN_RADIUS`].
    fn nearest_to_ring(&self, ring: &[Point]) -> Option<Point> {
        if self.is_empty() {
            return None;
        }
        let mut near = Vec::new();
        let mut cell = None;
        let mut best: Option<(Point, f64)> = None;
        for p in ring {
            // Neighbouring vertices mostly share a cell: gather once per cell.
            let c = Self::cell_of(*p);
            if cell != Some(c) {
                self.gather(c, &mut near);
                cell = Some(c);
            }
            if let Some((h, d)) = nearest_of(&near, *p) {
                if best.is_none_or(|b| d < b.1) {
                    best = Some((h, d));
                }
            }
        }
        best.map(|b| b.0)
    }
}

/// The point of `candidates` nearest to `p` within [`ALIGN_RADIUS`].
fn nearest_of(candidates: &[Point], p: Point) -> Option<(Point, f64)> {
    let r2 = (scaled(ALIGN_RADIUS) as f64).powi(2);
    let mut best: Option<(Point, f64)> = None;
    for q in candidates {
        let d = (*q - p).length_squared();
        if d <= r2 && best.is_none_or(|b| d < b.1) {
            best = Some((*q, d));
        }
    }
    best
}

/// The vertex of the closed `ring` where it should start.
///
/// `at` is the nozzle's position (for `Nearest`), `history` the previous layer's seams
/// (for `Aligned`), `salt` varies `Random` from loop to loop (and must be the same
/// on every run for the same loop). The ring runs with the part on its left
/// (counter-clockwise around solid, clockwise around holes), so concave corners are
/// right turns.
///
/// ```
/// use lamina::geom::{Point, Polygon, scaled};
/// use lamina::plan::{choose_seam, SeamHistory, SeamPosition};
/// let sq = Polygon::rectangle(0, 0, scaled(10.0), scaled(10.0));
/// let i = choose_seam(&sq.points, SeamPosition::Rear, Point::new(0, 0), &SeamHistory::default(), 0);
/// assert_eq!(sq.points[i].y, scaled(10.0));
/// ```
pub fn choose_seam(
    ring: &[Point],
    mode: SeamPosition,
    at: Point,
    history: &SeamHistory,
    salt: u64,
) -> usize {
    seam_and_anchor(ring, mode, at, history, salt).0
}

/// [`choose_seam`], with the spot to remember for the next layer's aligned seams: the
/// concave corner the seam hid in, or else the point of this loop nearest to the
/// previous layer's spot (not the vertex: vertices move from layer to layer with the
/// tessellation, and following them would let the seam drift).
pub fn seam_and_anchor(
    ring: &[Point],
    mode: SeamPosition,
    at: Point,
    history: &SeamHistory,
    salt: u64,
) -> (usize, Point) {
    let n = ring.len();
    if n < 3 {
        return (0, ring.first().copied().unwrap_or_default());
    }
    let chosen = |i: usize| (i, ring[i]);
    match mode {
        SeamPosition::Nearest => chosen(nearest_vertex(ring, at)),
        SeamPosition::Random => chosen(random_vertex(ring, salt)),
        SeamPosition::Rear => chosen(hide(ring, rear_vertex(ring))),
        SeamPosition::Aligned => {
            // Where the surface hides a seam right where the nozzle comes in (a
            // concave corner near it, as on every step of a voxel staircase), the
            // seam goes there: no travel round the loop to the aligned spot.
            if let Some(corner) = hiding_corner(ring, nearest_vertex(ring, at)) {
                return chosen(corner);
            }
            let Some(target) = history.nearest_to_ring(ring) else {
                return chosen(hide(ring, rear_vertex(ring)));
            };
            let (spot, anchor) = project(ring, target);
            let seam = hide(ring, anchor);
            if seam == anchor {
                (seam, spot)
            } else {
                chosen(seam)
            }
        }
    }
}

/// The point of the closed `ring` nearest to `p`, and the vertex nearest to that point.
fn project(ring: &[Point], p: Point) -> (Point, usize) {
    let n = ring.len();
    let mut best = (ring[0], 0usize, f64::INFINITY);
    for i in 0..n {
        let (a, b) = (ring[i], ring[(i + 1) % n]);
        let d = p.distance_to_segment_squared(a, b);
        if d < best.2 {
            let ab = b - a;
            let len2 = ab.length_squared();
            let t = if len2 > 0.0 {
                ((p - a).dot(ab) / len2).clamp(0.0, 1.0)
            } else {
                0.0
            };
            let q = a.lerp(b, t);
            let v = if t <= 0.5 { i } else { (i + 1) % n };
            best = (q, v, d);
        }
    }
    (best.0, best.1)
}

/// The loop's points starting at vertex `start`, closed (the start repeated at the end).
///
/// ```
/// use lamina::geom::Point;
/// use lamina::plan::rotate_loop;
/// let ring = [Point::new(0, 0), Point::new(1, 0), Point::new(1, 1)];
/// assert_eq!(rotate_loop(&ring, 1), vec![ring[1], ring[2], ring[0], ring[1]]);
/// ```
pub fn rotate_loop(ring: &[Point], start: usize) -> Vec<Point> {
    let n = ring.len();
    if n == 0 {
        return Vec::new();
    }
    let start = start % n;
    let mut out = Vec::with_capacity(n + 1);
    out.extend_from_slice(&ring[start..]);
    out.extend_from_slice(&ring[..start]);
    out.push(ring[start]);
    out
}

fn nearest_vertex(ring: &[Point], at: Point) -> usize {
    let mut best = (0, f64::INFINITY);
    for (i, p) in ring.iter().enumerate() {
        let d = (*p - at).length_squared();
        if d < best.1 {
            best = (i, d);
        }
    }
    best.0
}

/// The vertex with the largest Y; among equals, the one nearest the middle in X.
fn rear_vertex(ring: &[Point]) -> usize {
    let max_y = ring.iter().map(|p| p.y).max().unwrap_or(0);
    let mid_x = BBox::of_points(ring).map_or(0, |b| b.center().x);
    let mut best = (0, i64::MAX);
    for (i, p) in ring.iter().enumerate() {
        if p.y >= max_y - REAR_TIE {
            let dx = (p.x - mid_x).abs();
            if dx < best.1 {
                best = (i, dx);
            }
        }
    }
    best.0
}

/// A vertex picked by the seeded `salt`, uniformly along the loop's length.
fn random_vertex(ring: &[Point], salt: u64) -> usize {
    // splitmix64: a good spread from consecutive salts.
    let mut z = salt.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^= z >> 31;
    let fraction = (z >> 11) as f64 / (1u64 << 53) as f64;
    let n = ring.len();
    let total: f64 = (0..n).map(|i| ring[i].distance(ring[(i + 1) % n])).sum();
    let target = fraction * total;
    let mut walked = 0.0;
    for i in 0..n {
        if walked >= target {
            return i;
        }
        walked += ring[i].distance(ring[(i + 1) % n]);
    }
    n - 1
}

/// Signed turn at vertex `i` (radians; positive = left turn = convex for a ring with
/// the part on its left), measured between points [`CORNER_SPAN`] away along the ring.
fn turn(ring: &[Point], i: usize) -> f64 {
    let n = ring.len();
    let span = scaled(CORNER_SPAN) as f64;
    let v = ring[i];
    let reach = |step: usize| {
        let mut j = i;
        for _ in 0..n / 2 {
            j = (j + step) % n;
            if ring[j].distance(v) >= span {
                break;
            }
        }
        ring[j]
    };
    let a = reach(n - 1);
    let c = reach(1);
    let (u, w) = (v - a, c - v);
    u.cross(w).atan2(u.dot(w))
}

/// [`hiding_corner`], or `anchor` itself where there is none.
fn hide(ring: &[Point], anchor: usize) -> usize {
    hiding_corner(ring, anchor).unwrap_or(anchor)
}

/// The sharpest concave corner within [`SEAM_HIDE_RADIUS`] along the ring from vertex
/// `anchor` (nearer wins among equally sharp ones), if there is one.
fn hiding_corner(ring: &[Point], anchor: usize) -> Option<usize> {
    let n = ring.len();
    let radius = scaled(SEAM_HIDE_RADIUS) as f64;
    // (vertex, turn, distance walked)
    let mut best: Option<(usize, f64, f64)> = None;
    for step in [1, n - 1] {
        let mut j = anchor;
        let mut walked = 0.0;
        for _ in 0..n {
            let t = turn(ring, j);
            if t <= -MIN_HIDING_TURN
                && best.is_none_or(|b| t < b.1 - 1e-9 || (t <= b.1 + 1e-9 && walked < b.2))
            {
                best = Some((j, t, walked));
            }
            let k = (j + step) % n;
            walked += ring[j].distance(ring[k]);
            if walked > radius {
                break;
            }
            j = k;
        }
    }
    best.map(|b| b.0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::geom::Polygon;

    fn l_shape() -> Polygon {
        // Counter-clockwise; its only concave corner is at (4, 4).
        Polygon::new(vec![
            Point::from_mm(0.0, 0.0),
            Point::from_mm(10.0, 0.0),
            Point::from_mm(10.0, 4.0),
            Point::from_mm(4.0, 4.0),
            Point::from_mm(4.0, 10.0),
            Point::from_mm(0.0, 10.0),
        ])
    }

    #[test]
    fn rear_picks_the_back_and_the_middle_of_a_flat_back() {
        let sq = Polygon::rectangle(0, 0, scaled(10.0), scaled(10.0));
        let i = choose_seam(
            &sq.points,
            SeamPosition::Rear,
            Point::new(0, 0),
            &SeamHistory::default(),
            0,
        );
        assert_eq!(sq.points[i].y, scaled(10.0));
        let c = Polygon::circle(Point::new(0, 0), scaled(5.0), 72);
        let i = choose_seam(
            &c.points,
            SeamPosition::Rear,
            Point::new(0, 0),
            &SeamHistory::default(),
            0,
        );
        assert_eq!(c.points[i], Point::new(0, scaled(5.0)));
    }

    #[test]
    fn rear_seam_hides_in_a_nearby_concave_corner() {
        // A square with a notch cut into its back edge, 0.5 mm from the rear-most
        // vertex: the notch's concave corners hide the seam.
        let p = Polygon::new(vec![
            Point::from_mm(0.0, 0.0),
            Point::from_mm(10.0, 0.0),
            Point::from_mm(10.0, 10.0),
            Point::from_mm(5.5, 10.0),
            Point::from_mm(5.5, 9.0),
            Point::from_mm(5.0, 9.0),
            Point::from_mm(5.0, 10.0),
            Point::from_mm(0.0, 10.0),
        ]);
        let i = choose_seam(
            &p.points,
            SeamPosition::Rear,
            Point::new(0, 0),
            &SeamHistory::default(),
            0,
        );
        assert!(
            p.points[i] == Point::from_mm(5.5, 9.0) || p.points[i] == Point::from_mm(5.0, 9.0),
            "{:?}",
            p.points[i]
        );
    }

    #[test]
    fn concave_corners_are_right_turns_of_holes_too() {
        let l = l_shape();
        assert!(turn(&l.points, 3) < -1.5);
        assert!(turn(&l.points, 0) > 1.5);
        // Reversed (a hole of that shape, part on the left): the notch corner of the
        // hole is convex for the part, the others concave.
        let mut h = l.clone();
        h.reverse();
        let k = h
            .points
            .iter()
            .position(|p| *p == Point::from_mm(4.0, 4.0))
            .unwrap();
        assert!(turn(&h.points, k) > 1.5);
    }

    #[test]
    fn aligned_follows_the_previous_seam_and_falls_back_to_rear() {
        let c = Polygon::circle(Point::new(0, 0), scaled(5.0), 72);
        let mut h = SeamHistory::default();
        h.insert(Point::from_mm(-5.1, 0.2));
        let i = choose_seam(
            &c.points,
            SeamPosition::Aligned,
            Point::from_mm(5.0, 0.0),
            &h,
            0,
        );
        assert!(c.points[i].distance(Point::from_mm(-5.0, 0.2)) < scaled(0.4) as f64);
        // A seam farther than the radius is ignored: rear.
        let mut far = SeamHistory::default();
        far.insert(Point::from_mm(-9.0, 0.0));
        let i = choose_seam(&c.points, SeamPosition::Aligned, Point::new(0, 0), &far, 0);
        assert_eq!(c.points[i], Point::new(0, scaled(5.0)));
    }

    #[test]
    fn random_is_seeded_and_spread() {
        let c = Polygon::circle(Point::new(0, 0), scaled(5.0), 360);
        let picks: Vec<usize> = (0..200)
            .map(|s| {
                choose_seam(
                    &c.points,
                    SeamPosition::Random,
                    Point::new(0, 0),
                    &SeamHistory::default(),
                    s,
                )
            })
            .collect();
        let again: Vec<usize> = (0..200)
            .map(|s| {
                choose_seam(
                    &c.points,
                    SeamPosition::Random,
                    Point::new(0, 0),
                    &SeamHistory::default(),
                    s,
                )
            })
            .collect();
        assert_eq!(picks, again);
        // Every quarter of the circle gets some.
        for q in 0..4 {
            let count = picks.iter().filter(|&&i| i / 90 == q).count();
            assert!(count > 25, "quarter {q}: {count}");
        }
    }

    /// A staircase ring (concave corners every step): the aligned seam goes to the
    /// concave corner where the nozzle comes in, not round to the previous layer's
    /// spot. Control: a circle has no corner to hide in and keeps the aligned spot.
    #[test]
    fn aligned_seam_takes_a_hiding_corner_where_the_nozzle_comes_in() {
        // Counter-clockwise staircase: up a step, across, up, ... then back down.
        let mut pts = vec![Point::from_mm(0.0, 0.0)];
        for k in 0..10 {
            let x = k as f64;
            pts.push(Point::from_mm(x + 1.0, x));
            pts.push(Point::from_mm(x + 1.0, x + 1.0));
        }
        pts.push(Point::from_mm(0.0, 10.0));
        let ring = Polygon::new(pts);
        let mut h = SeamHistory::default();
        h.insert(Point::from_mm(1.0, 0.0));
        let at = Point::from_mm(9.0, 8.2);
        let i = choose_seam(&ring.points, SeamPosition::Aligned, at, &h, 0);
        assert!(turn(&ring.points, i) < -MIN_HIDING_TURN);
        assert!(
            ring.points[i].distance(at) < scaled(1.5) as f64,
            "{:?}",
            ring.points[i].to_mm()
        );
        // Far from every concave corner the seam keeps to the previous layer's spot.
        let far = Point::from_mm(0.5, 9.0);
        let i = choose_seam(&ring.points, SeamPosition::Aligned, far, &h, 0);
        assert!(
            ring.points[i].distance(Point::from_mm(1.0, 0.0)) < scaled(1.1) as f64,
            "{:?}",
            ring.points[i].to_mm()
        );
    }

    #[test]
    fn nearest_takes_the_closest_vertex() {
        let l = l_shape();
        let i = choose_seam(
            &l.points,
            SeamPosition::Nearest,
            Point::from_mm(9.0, 5.0),
            &SeamHistory::default(),
            0,
        );
        assert_eq!(l.points[i], Point::from_mm(10.0, 4.0));
    }
}
