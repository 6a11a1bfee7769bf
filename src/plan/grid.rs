//! A uniform grid over points for nearest-neighbour queries with removal: the engine of
//! every nearest-first ordering in the planner (paths, islands), linear in the number
//! of points for the usual layouts instead of quadratic.

use crate::geom::{BBox, Coord, Point};

/// Smallest cell side, integer units (0.1 mm): finer cells only cost memory.
const MIN_CELL: f64 = 100_000.0;

/// Average number of points per cell the grid is sized for.
const POINTS_PER_CELL: f64 = 2.0;

/// A ring search that has looked at more cells than this multiple of the live points
/// (plus a constant) falls back to a linear scan.
const SCAN_FACTOR: usize = 4;

/// Points with integer keys, in a grid; points can be removed, the nearest live point
/// found. Each entry carries a key (a path or island number) for the caller.
#[derive(Debug, Clone)]
pub(crate) struct PointGrid {
    origin: Point,
    cell: f64,
    nx: usize,
    ny: usize,
    /// Entries of cell `c` live in `slots[start[c]..start[c] + len[c]]`.
    start: Vec<u32>,
    len: Vec<u32>,
    slots: Vec<u32>,
    points: Vec<Point>,
    keys: Vec<usize>,
    alive: Vec<bool>,
    live: usize,
}

impl PointGrid {
    /// A grid over `(point, key)` entries; entry `i` is `entries[i]`.
    pub(crate) fn new(entries: &[(Point, usize)]) -> PointGrid {
        let points: Vec<Point> = entries.iter().map(|e| e.0).collect();
        let keys: Vec<usize> = entries.iter().map(|e| e.1).collect();
        let n = points.len();
        let bb = BBox::of_points(&points).unwrap_or(BBox {
            min: Point::new(0, 0),
            max: Point::new(0, 0),
        });
        let size = bb.size();
        let (w, h) = ((size.x as f64).max(1.0), (size.y as f64).max(1.0));
        let mut cell = (w * h * POINTS_PER_CELL / n.max(1) as f64)
            .sqrt()
            .max(MIN_CELL);
        // Keep the number of cells in proportion to the points (thin, long layouts).
        while (w / cell).ceil() * (h / cell).ceil() > 4.0 * n as f64 + 16.0 {
            cell *= 1.5;
        }
        let nx = ((w / cell).floor() as usize + 1).max(1);
        let ny = ((h / cell).floor() as usize + 1).max(1);
        let mut g = PointGrid {
            origin: bb.min,
            cell,
            nx,
            ny,
            start: vec![0; nx * ny + 1],
            len: vec![0; nx * ny],
            slots: vec![0; n],
            points,
            keys,
            alive: vec![true; n],
            live: n,
        };
        for i in 0..n {
            let c = g.cell_index(g.points[i]);
            g.len[c] += 1;
        }
        let mut acc = 0u32;
        for c in 0..nx * ny {
            g.start[c] = acc;
            acc += g.len[c];
        }
        g.start[nx * ny] = acc;
        let mut fill = vec![0u32; nx * ny];
        for i in 0..n {
            let c = g.cell_index(g.points[i]);
            g.slots[(g.start[c] + fill[c]) as usize] = i as u32;
            fill[c] += 1;
        }
        g
    }

    /// Number of entries not removed.
    #[cfg(test)]
    pub(crate) fn live(&self) -> usize {
        self.live
    }

    /// The key of entry `e`.
    pub(crate) fn key(&self, e: usize) -> usize {
        self.keys[e]
    }

    /// The point of entry `e`.
    pub(crate) fn point(&self, e: usize) -> Point {
        self.points[e]
    }

    /// Remove entry `e` (no effect when already removed).
    pub(crate) fn remove(&mut self, e: usize) {
        if let Some(a) = self.alive.get_mut(e) {
            if *a {
                *a = false;
                self.live -= 1;
            }
        }
    }

    fn cell_xy(&self, p: Point) -> (usize, usize) {
        let fx = ((p.x - self.origin.x) as f64 / self.cell).floor();
        let fy = ((p.y - self.origin.y) as f64 / self.cell).floor();
        (
            fx.clamp(0.0, (self.nx - 1) as f64) as usize,
            fy.clamp(0.0, (self.ny - 1) as f64) as usize,
        )
    }

    fn cell_index(&self, p: Point) -> usize {
        let (x, y) = self.cell_xy(p);
        y * self.nx + x
    }

    /// Scan cell `c` for the nearest live entry to `p`, dropping removed ones from it.
    fn scan_cell(&mut self, c: usize, p: Point, best: &mut Option<(f64, usize)>) {
        let s = self.start[c] as usize;
        let mut k = 0usize;
        while k < self.len[c] as usize {
            let e = self.slots[s + k] as usize;
            if !self.alive[e] {
                let last = s + self.len[c] as usize - 1;
                self.slots.swap(s + k, last);
                self.len[c] -= 1;
                continue;
            }
            let d = (self.points[e] - p).length_squared();
            if best.is_none_or(|b| d < b.0 || (d == b.0 && e < b.1)) {
                *best = Some((d, e));
            }
            k += 1;
        }
    }

    /// The live entry nearest to `p` (ties: the lowest entry), or `None` when all are
    /// removed.
    pub(crate) fn nearest(&mut self, p: Point) -> Option<usize> {
        if self.live == 0 {
            return None;
        }
        let (cx, cy) = self.cell_xy(p);
        // Distances are measured from `p`; cells are searched around `p`'s projection
        // onto the grid, which is never farther from a grid point than `p` is.
        let mut best: Option<(f64, usize)> = None;
        let max_r = self.nx.max(self.ny);
        let budget = SCAN_FACTOR * self.live + 64;
        let mut scanned = 0usize;
        let proj = Point::new(
            p.x.clamp(
                self.origin.x,
                self.origin.x + (self.nx as f64 * self.cell) as Coord,
            ),
            p.y.clamp(
                self.origin.y,
                self.origin.y + (self.ny as f64 * self.cell) as Coord,
            ),
        );
        let offset2 = (p - proj).length_squared();
        for r in 0..=max_r {
            let (x0, x1) = (cx as i64 - r as i64, cx as i64 + r as i64);
            let (y0, y1) = (cy as i64 - r as i64, cy as i64 + r as i64);
            for y in y0.max(0)..=y1.min(self.ny as i64 - 1) {
                let on_edge_row = y == y0 || y == y1;
                let mut x = x0.max(0);
                while x <= x1.min(self.nx as i64 - 1) {
                    let c = y as usize * self.nx + x as usize;
                    self.scan_cell(c, p, &mut best);
                    scanned += 1;
                    // Inside rows only the two end cells belong to the ring.
                    if on_edge_row || x == x1 {
                        x += 1;
                    } else {
                        x = x1;
                    }
                }
            }
            if let Some((d, _)) = best {
                // Every cell beyond ring r lies at least r cells from the projection.
                let reach = r as f64 * self.cell;
                if d <= offset2 + reach * reach {
                    break;
                }
            }
            if scanned > budget {
                return self.nearest_linear(p);
            }
        }
        best.map(|b| b.1)
    }

    fn nearest_linear(&self, p: Point) -> Option<usize> {
        let mut best: Option<(f64, usize)> = None;
        for (e, q) in self.points.iter().enumerate() {
            if self.alive[e] {
                let d = (*q - p).length_squared();
                if best.is_none_or(|b| d < b.0) {
                    best = Some((d, e));
                }
            }
        }
        best.map(|b| b.1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::RngExt;
    use proptest::test_runner::{RngAlgorithm, TestRng};

    fn brute(points: &[Point], alive: &[bool], p: Point) -> f64 {
        points
            .iter()
            .zip(alive)
            .filter(|(_, a)| **a)
            .map(|(q, _)| (*q - p).length_squared())
            .fold(f64::INFINITY, f64::min)
    }

    #[test]
    fn nearest_matches_brute_force_while_removing() {
        // A scattered, deterministic point set.
        let mut rng = TestRng::deterministic_rng(RngAlgorithm::ChaCha);
        let mut rnd = || rng.random_range(0..50_000_000i64);
        let pts: Vec<Point> = (0..2000).map(|_| Point::new(rnd(), rnd() / 7)).collect();
        let entries: Vec<(Point, usize)> = pts.iter().enumerate().map(|(i, p)| (*p, i)).collect();
        let mut g = PointGrid::new(&entries);
        let mut alive = vec![true; pts.len()];
        let mut at = Point::new(-3_000_000, 90_000_000);
        while g.live() > 0 {
            let e = g.nearest(at).unwrap();
            let d = (g.point(e) - at).length_squared();
            assert_eq!(d, brute(&pts, &alive, at));
            alive[e] = false;
            g.remove(e);
            at = g.point(e);
        }
        assert_eq!(g.nearest(at), None);
    }

    #[test]
    fn single_point_and_far_queries() {
        let mut g = PointGrid::new(&[(Point::new(5, 5), 42)]);
        let e = g
            .nearest(Point::new(1_000_000_000, -1_000_000_000))
            .unwrap();
        assert_eq!(g.key(e), 42);
    }
}
