//! Gyroid infill: the curves where the plane at the layer's height cuts the gyroid
//! surface sin x cos y + sin y cos z + sin z cos x = 0. Wavy lines, turning direction
//! smoothly from layer to layer: strong in every direction with no crossings.

use std::f64::consts::TAU;

use crate::geom::{self, BBox, ExPolygon, Point, Polyline};

/// Samples per period along each curve.
const SAMPLES_PER_PERIOD: usize = 40;

/// Gyroid curves at height `z` (integer units, as is `scale`: the length of one period
/// of the surface, 2π in its own units) over `area`, clipped to it.
pub fn gyroid_fill(area: &[ExPolygon], scale: f64, z: f64) -> Vec<Polyline> {
    let Some(bb) = BBox::of_areas(area) else {
        return Vec::new();
    };
    let k = TAU / scale; // units -> radians
    let zz = z * k;
    let (sz, cz) = zz.sin_cos();
    // Solve for y along x when the curves run mostly along x, else for x along y.
    let along_x = cz.abs() >= sz.abs();
    let (u0, u1, v0, v1) = if along_x {
        (
            bb.min.x as f64 * k,
            bb.max.x as f64 * k,
            bb.min.y as f64 * k,
            bb.max.y as f64 * k,
        )
    } else {
        (
            bb.min.y as f64 * k,
            bb.max.y as f64 * k,
            bb.min.x as f64 * k,
            bb.max.x as f64 * k,
        )
    };
    let step = TAU / SAMPLES_PER_PERIOD as f64;
    let n = ((u1 - u0) / step).ceil() as usize + 2;
    let us: Vec<f64> = (0..=n).map(|i| u0 - step + i as f64 * step).collect();
    // Along each sample line the curves are the solutions v of A cos v + B sin v = C,
    // two per period of v: v = phi ± acos(C / R) + 2πk with R and phi the amplitude
    // and phase of A cos v + B sin v. Those depend on u only, so they are found once
    // per sample for every curve.
    let solutions: Vec<Option<(f64, f64)>> = us
        .iter()
        .map(|&u| {
            let (a, b, c) = if along_x {
                // x = u: sin u cos y + cos z sin y = -sin z cos u.
                (u.sin(), cz, -sz * u.cos())
            } else {
                // sin(y) cos z + sin z cos x + sin x cos y = 0, solving x given y=u:
                // sin z cos x + cos u sin x = -sin u cos z.
                (sz, u.cos(), -u.sin() * cz)
            };
            let r = a.hypot(b);
            (r >= 1e-12).then(|| (b.atan2(a), (c / r).clamp(-1.0, 1.0).acos()))
        })
        .collect();
    let mut curves = Vec::new();
    // Two branches per period of v, repeated over the area.
    let k_lo = ((v0 - TAU) / TAU).floor() as i64;
    let k_hi = ((v1 + TAU) / TAU).ceil() as i64;
    for branch in [1.0f64, -1.0] {
        for kk in k_lo..=k_hi {
            let mut pts = Vec::with_capacity(us.len());
            for (&u, solution) in us.iter().zip(&solutions) {
                let Some((phi, spread)) = *solution else {
                    continue;
                };
                let v = phi + branch * spread + TAU * kk as f64;
                let (x, y) = if along_x { (u, v) } else { (v, u) };
                pts.push(Point::new((x / k).round() as i64, (y / k).round() as i64));
            }
            // Curves wholly beside the area (the margin periods) give nothing.
            if pts.len() >= 2 && BBox::of_points(&pts).is_some_and(|b| b.overlaps(&bb)) {
                curves.push(Polyline::new(pts));
            }
        }
    }
    let clipped = geom::clip_polylines(&curves, area);
    let tol = scale / SAMPLES_PER_PERIOD as f64 / 8.0;
    clipped
        .into_iter()
        .map(|l| Polyline::new(geom::simplify_polyline(&l.points, tol)))
        .filter(|l| l.points.len() >= 2)
        .collect()
}
