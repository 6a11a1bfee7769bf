//! Ordering open paths nearest-end-first, with a grid so tens of thousands of paths stay
//! fast.

use std::collections::HashMap;

use crate::geom::Point;

/// Grid cell size for endpoint lookup (integer units: 2 mm).
const CELL: i64 = 2_000_000;

/// Visit order for paths with endpoints `ends[i] = (start, end)`, beginning near
/// `from`: returns (path index, reversed) pairs. A path is reversed when its end is the
/// nearer one (unless `fixed[i]`).
pub fn nearest_order(ends: &[(Point, Point)], fixed: &[bool], from: Point) -> Vec<(usize, bool)> {
    let n = ends.len();
    let key = |p: Point| (p.x.div_euclid(CELL), p.y.div_euclid(CELL));
    let mut grid: HashMap<(i64, i64), Vec<(usize, bool)>> = HashMap::new();
    for (i, (a, b)) in ends.iter().enumerate() {
        grid.entry(key(*a)).or_default().push((i, false));
        if !fixed.get(i).copied().unwrap_or(false) {
            grid.entry(key(*b)).or_default().push((i, true));
        }
    }
    let mut used = vec![false; n];
    let mut out = Vec::with_capacity(n);
    let mut at = from;
    let mut remaining = n;
    while remaining > 0 {
        let (cx, cy) = key(at);
        let mut best: Option<(f64, usize, bool)> = None;
        let mut r = 0i64;
        loop {
            // Search the ring of cells at Chebyshev distance r.
            for dx in -r..=r {
                for dy in -r..=r {
                    if dx.abs() != r && dy.abs() != r {
                        continue;
                    }
                    if let Some(list) = grid.get_mut(&(cx + dx, cy + dy)) {
                        list.retain(|(i, _)| !used[*i]);
                        for &(i, rev) in list.iter() {
                            let p = if rev { ends[i].1 } else { ends[i].0 };
                            let d = p.distance(at);
                            if best.is_none_or(|b| d < b.0) {
                                best = Some((d, i, rev));
                            }
                        }
                    }
                }
            }
            // A candidate found within ring r is final once no closer cell remains.
            if let Some((d, ..)) = best {
                if d <= (r as f64) * CELL as f64 {
                    break;
                }
            }
            r += 1;
            if r > 1 << 20 {
                break;
            }
        }
        let Some((_, i, rev)) = best else { break };
        used[i] = true;
        remaining -= 1;
        out.push((i, rev));
        at = if rev { ends[i].0 } else { ends[i].1 };
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn visits_nearest_first_and_reverses() {
        let ends = vec![
            (Point::from_mm(10.0, 0.0), Point::from_mm(11.0, 0.0)),
            (Point::from_mm(3.0, 0.0), Point::from_mm(1.0, 0.0)),
            (Point::from_mm(50.0, 0.0), Point::from_mm(40.0, 0.0)),
        ];
        let order = nearest_order(&ends, &[false; 3], Point::new(0, 0));
        assert_eq!(order, vec![(1, true), (0, false), (2, true)]);
        let fixed = nearest_order(&ends, &[true; 3], Point::new(0, 0));
        assert_eq!(fixed, vec![(1, false), (0, false), (2, false)]);
    }

    #[test]
    fn many_paths_all_visited_once() {
        let ends: Vec<(Point, Point)> = (0..20_000)
            .map(|i| {
                let x = (i * 7919 % 1000) as i64 * 100_000;
                let y = (i * 104_729 % 1000) as i64 * 100_000;
                (Point::new(x, y), Point::new(x + 50_000, y))
            })
            .collect();
        let order = nearest_order(&ends, &vec![false; ends.len()], Point::new(0, 0));
        let mut seen = vec![false; ends.len()];
        for (i, _) in order {
            assert!(!seen[i]);
            seen[i] = true;
        }
        assert!(seen.iter().all(|s| *s));
    }
}
