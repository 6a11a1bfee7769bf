//! Where a loop starts: its seam.

use crate::geom::{Point, Polygon};
use crate::profile::SeamPosition;

/// Search radius around the wanted seam spot for a concave corner to hide it in (mm).
const HIDE_RADIUS: f64 = 1.5;

/// Corners turning by less than this (radians) do not hide a seam.
const MIN_CORNER: f64 = 0.35;

/// How sharply the loop turns at vertex `i`, signed: positive where it turns the same
/// way as the loop runs (convex for an outer wall), negative where it turns against it
/// (concave: a corner that hides a seam).
fn turn(poly: &Polygon, i: usize, ccw: bool) -> f64 {
    let n = poly.points.len();
    let a = poly.points[(i + n - 1) % n];
    let b = poly.points[i];
    let c = poly.points[(i + 1) % n];
    let (u, v) = (b - a, c - b);
    let angle = (u.cross(v)).atan2(u.dot(v));
    if ccw { angle } else { -angle }
}

/// Pick the vertex of `poly` to start at.
///
/// `current` is the nozzle position, `previous` the previous layer's seams (for
/// `Aligned`), `salt` varies `Random` between loops and layers.
pub fn choose_seam(
    poly: &Polygon,
    mode: SeamPosition,
    current: Point,
    previous: &[Point],
    salt: u64,
) -> usize {
    let n = poly.points.len();
    if n == 0 {
        return 0;
    }
    let nearest_to = |q: Point| {
        (0..n)
            .min_by(|&i, &j| {
                poly.points[i]
                    .distance(q)
                    .total_cmp(&poly.points[j].distance(q))
            })
            .unwrap_or(0)
    };
    let rear = || {
        (0..n)
            .max_by(|&i, &j| {
                poly.points[i]
                    .y
                    .cmp(&poly.points[j].y)
                    .then(poly.points[j].x.cmp(&poly.points[i].x))
            })
            .unwrap_or(0)
    };
    let wanted = match mode {
        SeamPosition::Nearest => return hide(poly, nearest_to(current)),
        SeamPosition::Random => {
            let h = salt
                .wrapping_mul(0x9E37_79B9_7F4A_7C15)
                .rotate_left(17)
                .wrapping_mul(0xBF58_476D_1CE4_E5B9);
            return (h % n as u64) as usize;
        }
        SeamPosition::Rear => rear(),
        SeamPosition::Aligned => {
            // The previous layer's seam closest to this loop, if any is near.
            let best = previous
                .iter()
                .map(|&s| (s, poly.distance_squared_to(s)))
                .min_by(|a, b| a.1.total_cmp(&b.1));
            match best {
                Some((s, d2)) if d2.sqrt() < crate::geom::scaled(3.0) as f64 => nearest_to(s),
                _ => rear(),
            }
        }
    };
    hide(poly, wanted)
}

/// The sharpest concave corner within [`HIDE_RADIUS`] of vertex `i` (along the loop),
/// or `i` itself.
fn hide(poly: &Polygon, i: usize) -> usize {
    let n = poly.points.len();
    if n < 3 {
        return i;
    }
    let ccw = poly.is_ccw();
    let radius = crate::geom::scaled(HIDE_RADIUS) as f64;
    let mut best = (i, -MIN_CORNER);
    for dir in [1usize, n - 1] {
        let mut j = i;
        let mut walked = 0.0;
        for _ in 0..n {
            let t = turn(poly, j, ccw);
            if t < best.1 {
                best = (j, t);
            }
            let k = (j + dir) % n;
            walked += poly.points[j].distance(poly.points[k]);
            if walked > radius {
                break;
            }
            j = k;
        }
    }
    best.0
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::geom::scaled;

    #[test]
    fn rear_takes_the_back_of_the_loop() {
        let sq = Polygon::rectangle(0, 0, scaled(10.0), scaled(10.0));
        let i = choose_seam(&sq, SeamPosition::Rear, Point::new(0, 0), &[], 0);
        assert_eq!(sq.points[i].y, scaled(10.0));
    }

    #[test]
    fn seam_hides_in_a_concave_corner() {
        // An L shape, CCW; its only concave corner is at (4, 4).
        let l = Polygon::new(vec![
            Point::from_mm(0.0, 0.0),
            Point::from_mm(10.0, 0.0),
            Point::from_mm(10.0, 4.0),
            Point::from_mm(4.0, 4.0),
            Point::from_mm(4.0, 10.0),
            Point::from_mm(0.0, 10.0),
        ]);
        let i = choose_seam(&l, SeamPosition::Nearest, Point::from_mm(4.5, 4.5), &[], 0);
        assert_eq!(l.points[i], Point::from_mm(4.0, 4.0));
    }

    #[test]
    fn aligned_follows_the_previous_seam() {
        let c = Polygon::circle(Point::new(0, 0), scaled(5.0), 90);
        let prev = [Point::from_mm(-5.0, 0.1)];
        let i = choose_seam(
            &c,
            SeamPosition::Aligned,
            Point::from_mm(5.0, 0.0),
            &prev,
            0,
        );
        assert!(c.points[i].distance(prev[0]) < scaled(0.5) as f64);
    }
}
