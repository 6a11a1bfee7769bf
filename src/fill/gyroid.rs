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
    let mut solutions: Vec<Option<(f64, f64)>> = us
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
    // The phase jumps by a whole turn where A cos v + B sin v crosses atan2's cut (in
    // some layers the curves run along y with B changing sign): taken a turn back, so
    // a curve goes on smoothly instead of drawing a chord across a period.
    let mut last: Option<f64> = None;
    for (phi, _) in solutions.iter_mut().flatten() {
        if let Some(prev) = last {
            *phi -= TAU * ((*phi - prev) / TAU).round();
        }
        last = Some(*phi);
    }
    let mut curves = Vec::new();
    let point = |u: f64, v: f64| {
        let (x, y) = if along_x { (u, v) } else { (v, u) };
        Point::new((x / k).round() as i64, (y / k).round() as i64)
    };
    let tol = scale / SAMPLES_PER_PERIOD as f64 / 8.0;
    // Two branches per period of v, repeated over the area. Each branch's curves are
    // one shape moved a period at a time along v: it is simplified once, before
    // clipping, and every copy keeps the same samples.
    // The copies that may cross the area, from the span of the phases.
    let (lo, hi) = solutions
        .iter()
        .flatten()
        .fold((f64::MAX, f64::MIN), |(lo, hi), &(phi, _)| {
            (lo.min(phi), hi.max(phi))
        });
    let k_lo = ((v0 - hi - TAU) / TAU).floor() as i64;
    let k_hi = ((v1 - lo + TAU) / TAU).ceil() as i64;
    for branch in [1.0f64, -1.0] {
        let samples: Vec<(f64, f64)> = us
            .iter()
            .zip(&solutions)
            .filter_map(|(&u, s)| s.map(|(phi, spread)| (u, phi + branch * spread)))
            .collect();
        let shape: Vec<Point> = samples.iter().map(|&(u, v)| point(u, v)).collect();
        let keep = geom::simplify_keep(&shape, tol);
        let kept: Vec<(f64, f64)> = samples
            .iter()
            .zip(&keep)
            .filter(|(_, k)| **k)
            .map(|(s, _)| *s)
            .collect();
        for kk in k_lo..=k_hi {
            let shift = TAU * kk as f64;
            let pts: Vec<Point> = kept.iter().map(|&(u, v)| point(u, v + shift)).collect();
            // Curves wholly beside the area (the margin periods) give nothing.
            if pts.len() >= 2 && BBox::of_points(&pts).is_some_and(|b| b.overlaps(&bb)) {
                curves.push(Polyline::new(pts));
            }
        }
    }
    geom::clip_polylines(&curves, area)
        .into_iter()
        .filter(|l| l.points.len() >= 2)
        .collect()
}
