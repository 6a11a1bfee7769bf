//! A coarse raster of a set of areas, to tell cheaply which small shapes stand well
//! clear of their boundary (wholly inside or wholly outside) and so need no boolean
//! operation against them.

use super::{BBox, Coord, ExPolygon, Point};

/// Which cells of a square grid a set of areas' boundary passes through, and which of
/// the other cells lie inside the areas (non-zero rule).
#[derive(Debug, Clone)]
pub struct CellMap {
    origin: Point,
    cell: Coord,
    cols: usize,
    rows: usize,
    /// One bit per cell: the boundary passes through (or close by).
    edge: Vec<u64>,
    /// One bit per cell: the cell's centre lies inside the areas.
    inside: Vec<u64>,
}

fn set(bits: &mut [u64], i: usize) {
    bits[i / 64] |= 1 << (i % 64);
}

fn get(bits: &[u64], i: usize) -> bool {
    bits[i / 64] >> (i % 64) & 1 == 1
}

impl CellMap {
    /// The map of `areas` (any rings; overlaps allowed) with square cells of side
    /// `cell` integer units.
    pub fn new<'a>(areas: impl IntoIterator<Item = &'a ExPolygon> + Clone, cell: Coord) -> Self {
        let cell = cell.max(2);
        let Some(bounds) = BBox::of_areas(areas.clone()) else {
            return CellMap {
                origin: Point::new(0, 0),
                cell,
                cols: 0,
                rows: 0,
                edge: Vec::new(),
                inside: Vec::new(),
            };
        };
        let origin = bounds.min;
        let cols = ((bounds.max.x - origin.x) / cell + 1) as usize;
        let rows = ((bounds.max.y - origin.y) / cell + 1) as usize;
        let words = (cols * rows).div_ceil(64);
        let mut map = CellMap {
            origin,
            cell,
            cols,
            rows,
            edge: vec![0; words],
            inside: vec![0; words],
        };
        // Crossings of each row's centre line: (x, +1 upward / -1 downward).
        let mut crossings: Vec<Vec<(Coord, i32)>> = vec![Vec::new(); rows];
        for e in areas {
            for ring in e.rings() {
                let pts = &ring.points;
                for (i, &a) in pts.iter().enumerate() {
                    let b = pts[(i + 1) % pts.len()];
                    map.mark_edge(a, b);
                    if a.y == b.y {
                        continue;
                    }
                    let (lo, hi, dir) = if a.y < b.y { (a, b, 1) } else { (b, a, -1) };
                    // Rows whose centre y lies in [lo.y, hi.y).
                    let first = (lo.y - origin.y - cell / 2 + cell - 1).div_euclid(cell);
                    let last = (hi.y - origin.y - cell / 2 - 1).div_euclid(cell);
                    for r in first.max(0)..=last.min(rows as Coord - 1) {
                        let yc = origin.y + r * cell + cell / 2;
                        let t = (yc - lo.y) as f64 / (hi.y - lo.y) as f64;
                        let x = lo.x as f64 + t * (hi.x - lo.x) as f64;
                        crossings[r as usize].push((x.round() as Coord, dir));
                    }
                }
            }
        }
        for (r, row) in crossings.iter_mut().enumerate() {
            row.sort_unstable();
            let mut winding = 0;
            for w in row.windows(2) {
                winding += w[0].1;
                if winding == 0 {
                    continue;
                }
                // Cells whose centre x lies in [w[0].x, w[1].x).
                let first = (w[0].0 - origin.x - cell / 2 + cell - 1).div_euclid(cell);
                let last = (w[1].0 - origin.x - cell / 2 - 1).div_euclid(cell);
                for c in first.max(0)..=last.min(cols as Coord - 1) {
                    set(&mut map.inside, r * cols + c as usize);
                }
            }
        }
        map
    }

    /// Mark every cell the segment `a`-`b` may touch.
    fn mark_edge(&mut self, a: Point, b: Point) {
        let steps = ((b - a).length() / self.cell as f64).ceil().max(1.0) as i64;
        let mut prev = a;
        for s in 1..=steps {
            let next = if s == steps {
                b
            } else {
                a.lerp(b, s as f64 / steps as f64)
            };
            let (c0, r0) = self.cell_of(Point::new(prev.x.min(next.x), prev.y.min(next.y)));
            let (c1, r1) = self.cell_of(Point::new(prev.x.max(next.x), prev.y.max(next.y)));
            for r in r0..=r1 {
                for c in c0..=c1 {
                    set(&mut self.edge, r * self.cols + c);
                }
            }
            prev = next;
        }
    }

    /// The cell holding `p`, clamped to the map.
    fn cell_of(&self, p: Point) -> (usize, usize) {
        let c = ((p.x - self.origin.x) / self.cell).clamp(0, self.cols as Coord - 1);
        let r = ((p.y - self.origin.y) / self.cell).clamp(0, self.rows as Coord - 1);
        (c as usize, r as usize)
    }

    /// Where the box `b` stands: `Some(true)` wholly inside the areas, `Some(false)`
    /// wholly outside, both at least `margin` from their boundary; `None` when the
    /// boundary may pass closer than that.
    pub fn side(&self, b: &BBox, margin: Coord) -> Option<bool> {
        let g = b.inflated(margin + 1);
        let (x0, y0) = (self.origin.x, self.origin.y);
        let x1 = x0 + self.cols as Coord * self.cell;
        let y1 = y0 + self.rows as Coord * self.cell;
        if self.cols == 0 || g.max.x < x0 || g.max.y < y0 || g.min.x >= x1 || g.min.y >= y1 {
            return Some(false);
        }
        let (c0, r0) = self.cell_of(g.min);
        let (c1, r1) = self.cell_of(g.max);
        for r in r0..=r1 {
            for c in c0..=c1 {
                if get(&self.edge, r * self.cols + c) {
                    return None;
                }
            }
        }
        // No boundary near the box: every cell of it is on one side.
        let (c, r) = self.cell_of(b.min);
        Some(get(&self.inside, r * self.cols + c))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::geom::{Polygon, scaled};

    fn square(x0: f64, y0: f64, x1: f64, y1: f64) -> Polygon {
        Polygon::rectangle(scaled(x0), scaled(y0), scaled(x1), scaled(y1))
    }

    fn bbox(x0: f64, y0: f64, x1: f64, y1: f64) -> BBox {
        square(x0, y0, x1, y1).bbox().unwrap()
    }

    #[test]
    fn boxes_inside_outside_and_across_a_ring() {
        // A 40 mm square with a 20 mm hole.
        let mut hole = square(10.0, 10.0, 30.0, 30.0);
        hole.reverse();
        let ring = ExPolygon {
            contour: square(0.0, 0.0, 40.0, 40.0),
            holes: vec![hole],
        };
        let map = CellMap::new([&ring], scaled(0.5));
        let m = scaled(0.6);
        // In the solid band, in the hole, outside, and beyond the map.
        assert_eq!(map.side(&bbox(2.0, 2.0, 4.0, 8.0), m), Some(true));
        assert_eq!(map.side(&bbox(15.0, 15.0, 25.0, 25.0), m), Some(false));
        assert_eq!(map.side(&bbox(-9.0, 5.0, -3.0, 9.0), m), Some(false));
        assert_eq!(map.side(&bbox(60.0, 60.0, 70.0, 70.0), m), Some(false));
        // Across the hole's edge, or too close to it.
        assert_eq!(map.side(&bbox(8.0, 15.0, 12.0, 16.0), m), None);
        assert_eq!(map.side(&bbox(10.3, 15.0, 12.0, 16.0), m), None);
        assert_eq!(map.side(&bbox(10.6, 15.0, 12.0, 16.0), 0), Some(false));
        // A slanted edge: a triangle.
        let tri = ExPolygon::new(Polygon::new(vec![
            Point::from_mm(0.0, 0.0),
            Point::from_mm(20.0, 0.0),
            Point::from_mm(0.0, 20.0),
        ]));
        let map = CellMap::new([&tri], scaled(0.5));
        assert_eq!(map.side(&bbox(2.0, 2.0, 4.0, 4.0), m), Some(true));
        assert_eq!(map.side(&bbox(12.0, 12.0, 13.0, 13.0), m), Some(false));
        assert_eq!(map.side(&bbox(9.0, 9.0, 11.0, 11.0), m), None);
        assert_eq!(
            CellMap::new([], 10).side(&bbox(0.0, 0.0, 1.0, 1.0), m),
            Some(false)
        );
    }

    #[test]
    fn agrees_with_point_tests_everywhere() {
        // A star-like polygon with holes, probed at many small boxes: whenever the map
        // answers, the box's corners agree with an exact point-in-area test.
        let star: Vec<Point> = (0..14)
            .map(|i| {
                let a = i as f64 * std::f64::consts::TAU / 14.0;
                let r = if i % 2 == 0 { 20.0 } else { 8.0 };
                Point::from_mm(25.0 + r * a.cos(), 25.0 + r * a.sin())
            })
            .collect();
        let mut hole = square(22.0, 22.0, 28.0, 28.0);
        hole.reverse();
        let area = ExPolygon {
            contour: Polygon::new(star),
            holes: vec![hole],
        };
        let map = CellMap::new([&area], scaled(0.5));
        let mut answered = 0;
        for i in 0..60 {
            for j in 0..60 {
                let (x, y) = (i as f64 * 0.9 - 2.0, j as f64 * 0.9 - 2.0);
                let b = bbox(x, y, x + 0.7, y + 0.4);
                if let Some(inside) = map.side(&b, scaled(0.3)) {
                    answered += 1;
                    for p in [b.min, b.max, Point::new(b.min.x, b.max.y)] {
                        assert_eq!(area.contains(p), inside, "box at {x}, {y}");
                        let q = p + Point::from_mm(0.29, -0.29);
                        assert_eq!(area.contains(q), inside, "margin at {x}, {y}");
                    }
                }
            }
        }
        assert!(answered > 2500, "{answered}");
    }
}
