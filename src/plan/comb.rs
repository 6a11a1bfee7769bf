//! Combing: travel that stays inside the part instead of crossing its walls, routed
//! around holes along their edges.

use crate::geom::{ExPolygon, Point, Polygon};

/// A comb path longer than this multiple of the straight distance (plus
/// [`DETOUR_SLACK`]) is not worth it: travel straight and retract.
pub const DETOUR_FACTOR: f64 = 2.0;
/// Extra allowance for short detours, mm.
pub const DETOUR_SLACK: f64 = 5.0;

/// The crossings of segment `a`-`b` with the edges of `ring`: (t along a-b, edge index,
/// point).
fn crossings(ring: &Polygon, a: Point, b: Point) -> Vec<(f64, usize, Point)> {
    let mut out = Vec::new();
    let n = ring.points.len();
    let d = b - a;
    for i in 0..n {
        let p = ring.points[i];
        let q = ring.points[(i + 1) % n];
        let e = q - p;
        let denom = d.cross(e);
        if denom == 0.0 {
            continue;
        }
        let w = p - a;
        let t = w.cross(e) / denom;
        let u = w.cross(d) / denom;
        if (0.0..=1.0).contains(&t) && (0.0..=1.0).contains(&u) {
            out.push((t, i, a.lerp(b, t)));
        }
    }
    out.sort_by(|x, y| x.0.total_cmp(&y.0));
    out
}

/// Walk along `ring` from a point on edge `from_edge` to a point on edge `to_edge`, the
/// shorter way round; returns the vertices passed (not the end points).
fn walk(ring: &Polygon, from: Point, from_edge: usize, to: Point, to_edge: usize) -> Vec<Point> {
    let n = ring.points.len();
    let forward: Vec<Point> = {
        let mut v = Vec::new();
        let mut i = (from_edge + 1) % n;
        if from_edge != to_edge {
            loop {
                v.push(ring.points[i]);
                if i == to_edge {
                    break;
                }
                i = (i + 1) % n;
            }
        }
        v
    };
    let backward: Vec<Point> = {
        let mut v = Vec::new();
        if from_edge != to_edge {
            let mut i = from_edge;
            loop {
                v.push(ring.points[i]);
                let next = (i + n - 1) % n;
                if i == (to_edge + 1) % n {
                    break;
                }
                i = next;
            }
        }
        v
    };
    let len = |pts: &[Point]| {
        let mut l = 0.0;
        let mut prev = from;
        for p in pts {
            l += prev.distance(*p);
            prev = *p;
        }
        l + prev.distance(to)
    };
    if len(&forward) <= len(&backward) {
        forward
    } else {
        backward
    }
}

/// A travel path from `a` to `b` inside `area` (both inside it): the straight line when
/// it stays inside, else a detour along the rings it would cross. `None` when no
/// reasonable path inside exists.
pub fn comb(area: &ExPolygon, a: Point, b: Point) -> Option<Vec<Point>> {
    if !area.contains(a) || !area.contains(b) {
        return None;
    }
    let mut path = vec![a];
    // Handle the rings one crossing pair at a time, in order along a-b.
    let mut events: Vec<(f64, &Polygon, usize, Point)> = Vec::new();
    for ring in area.rings() {
        for (t, e, p) in crossings(ring, a, b) {
            events.push((t, ring, e, p));
        }
    }
    if events.is_empty() {
        path.push(b);
        return Some(path);
    }
    events.sort_by(|x, y| x.0.total_cmp(&y.0));
    let mut i = 0;
    while i < events.len() {
        let (_, ring, e_in, p_in) = events[i];
        // The next crossing of the same ring: where the straight line comes back in.
        let Some(j) = (i + 1..events.len()).find(|&j| std::ptr::eq(events[j].1, ring)) else {
            return None;
        };
        let (_, _, e_out, p_out) = events[j];
        path.push(p_in);
        path.extend(walk(ring, p_in, e_in, p_out, e_out));
        path.push(p_out);
        i = j + 1;
    }
    path.push(b);
    let straight = a.distance(b);
    let length: f64 = path.windows(2).map(|w| w[0].distance(w[1])).sum();
    if length > DETOUR_FACTOR * straight + crate::geom::scaled(DETOUR_SLACK) as f64 {
        return None;
    }
    Some(path)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::geom::scaled;

    fn ring_with_hole() -> ExPolygon {
        let mut hole = Polygon::rectangle(scaled(8.0), scaled(8.0), scaled(12.0), scaled(12.0));
        hole.reverse();
        ExPolygon {
            contour: Polygon::rectangle(0, 0, scaled(20.0), scaled(20.0)),
            holes: vec![hole],
        }
    }

    #[test]
    fn straight_when_clear() {
        let p = comb(
            &ring_with_hole(),
            Point::from_mm(1.0, 1.0),
            Point::from_mm(19.0, 2.0),
        )
        .unwrap();
        assert_eq!(p.len(), 2);
    }

    #[test]
    fn goes_around_a_hole() {
        let area = ring_with_hole();
        let p = comb(&area, Point::from_mm(2.0, 10.0), Point::from_mm(18.0, 10.0)).unwrap();
        assert!(p.len() > 3);
        // Every point and every segment midpoint stays in the part (edges count).
        let grown = crate::geom::offset(&[area.clone()], 10.0, crate::geom::JoinType::Miter);
        for w in p.windows(2) {
            for q in [w[0], w[0].lerp(w[1], 0.5)] {
                assert!(grown.iter().any(|e| e.contains(q)), "{q:?}");
            }
        }
    }

    #[test]
    fn outside_points_cannot_comb() {
        assert!(
            comb(
                &ring_with_hole(),
                Point::from_mm(10.0, 10.0),
                Point::from_mm(1.0, 1.0)
            )
            .is_none()
        );
    }
}
