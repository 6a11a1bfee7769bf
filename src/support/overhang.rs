//! Overhang detection: the part of each layer the layer below does not hold.

use crate::geom::{self, ExPolygon, JoinType, scaled};
use crate::layer::skins::bridge_angle;
use crate::slice::Layer;

/// Overhangs narrower than this (mm) are numerical noise. (Real overhangs just past the
/// threshold angle are thin rings on each layer: they must stay.)
const SLIVER_WIDTH: f64 = 0.01;

/// A bridge is anchored on both ends along at least this fraction of its probe length.
const BRIDGE_ANCHORED_FRACTION: f64 = 0.75;

/// Bridges longer than this (mm, across their span) are supported anyway.
const MAX_BRIDGE_SPAN: f64 = 15.0;

/// How much a layer may stick out past the layer below without support, mm, for an
/// overhang threshold given in degrees from the horizontal (as PrusaSlicer defines it):
/// a surface steeper than the threshold steps out less than this per layer.
///
/// ```
/// let d = lamina::support::overhang::allowed_step(0.2, 45.0);
/// assert!((d - 0.2).abs() < 1e-12);
/// ```
pub fn allowed_step(layer_height: f64, threshold_deg: f64) -> f64 {
    let a = threshold_deg.clamp(1.0, 89.0).to_radians();
    layer_height / a.tan()
}

/// The overhangs of every layer (empty for the first layer, which rests on the bed).
///
/// With `support_bridges` false, overhang regions that span between two held sides
/// (bridges, shorter than [`MAX_BRIDGE_SPAN`]) are left out.
pub fn detect(
    layers: &[Layer],
    threshold_deg: f64,
    min_area: f64,
    support_bridges: bool,
    line_width: f64,
) -> Vec<Vec<ExPolygon>> {
    use rayon::prelude::*;
    (0..layers.len())
        .into_par_iter()
        .map(|i| {
            if i == 0 || layers[i].islands.is_empty() {
                return Vec::new();
            }
            let below = &layers[i - 1].islands;
            let step = allowed_step(layers[i].height, threshold_deg);
            let held = geom::offset(below, scaled(step) as f64, JoinType::Miter);
            let raw = geom::difference(&layers[i].islands, &held);
            let half = scaled(SLIVER_WIDTH) as f64 / 2.0;
            let shrunk = geom::offset(&raw, -half, JoinType::Miter);
            let mut over = geom::offset(&shrunk, half, JoinType::Miter);
            over.retain(|o| o.area_mm2() >= min_area);
            if !support_bridges {
                over.retain(|o| !is_bridge(o, below, line_width));
            }
            over
        })
        .collect()
}

/// Whether an overhang spans between held sides: most of the lines across it in its
/// best direction rest on the layer below at both ends, and the span is short.
pub fn is_bridge(region: &ExPolygon, below: &[ExPolygon], line_width: f64) -> bool {
    if below.is_empty() {
        return false;
    }
    let angle = bridge_angle(region, below, line_width);
    let Some(bb) = region.bbox() else {
        return false;
    };
    // Span along the bridge direction.
    let (c, s) = (angle.cos(), angle.sin());
    let proj: Vec<f64> = region
        .contour
        .points
        .iter()
        .map(|p| p.x as f64 * c + p.y as f64 * s)
        .collect();
    let span = proj.iter().cloned().fold(f64::NEG_INFINITY, f64::max)
        - proj.iter().cloned().fold(f64::INFINITY, f64::min);
    if span / geom::SCALE > MAX_BRIDGE_SPAN {
        return false;
    }
    anchored_fraction(region, below, angle, line_width, &bb) >= BRIDGE_ANCHORED_FRACTION
}

/// Fraction of probe-line length across `region` at `angle` whose both ends rest on
/// `below` (grown by a line width).
fn anchored_fraction(
    region: &ExPolygon,
    below: &[ExPolygon],
    angle: f64,
    line_width: f64,
    bb: &geom::BBox,
) -> f64 {
    use crate::geom::{Point, Polyline};
    let w = scaled(line_width) as f64;
    let grown = geom::offset(std::slice::from_ref(region), w, JoinType::Miter);
    let anchors = geom::offset(below, w, JoinType::Miter);
    let center = bb.center();
    let radius = (bb.size().x as f64).hypot(bb.size().y as f64) / 2.0 + w;
    let spacing = scaled(0.5) as f64;
    let (c, s) = (angle.cos(), angle.sin());
    let n = (2.0 * radius / spacing).ceil() as i64;
    let lines: Vec<Polyline> = (0..=n)
        .map(|k| {
            let off = -radius + k as f64 * spacing;
            let (ox, oy) = (center.x as f64 - s * off, center.y as f64 + c * off);
            Polyline::new(vec![
                Point::new((ox - c * radius) as i64, (oy - s * radius) as i64),
                Point::new((ox + c * radius) as i64, (oy + s * radius) as i64),
            ])
        })
        .collect();
    let pieces = geom::clip_polylines(&lines, &grown);
    let (mut held, mut total) = (0.0, 0.0);
    for p in &pieces {
        let (Some(a), Some(b)) = (p.first(), p.last()) else {
            continue;
        };
        let len = p.length();
        total += len;
        if anchors.iter().any(|x| x.contains(a)) && anchors.iter().any(|x| x.contains(b)) {
            held += len;
        }
    }
    if total > 0.0 { held / total } else { 0.0 }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mesh::shapes::{cuboid, merge, uv_sphere};
    use crate::slice::{SliceOptions, layer_specs, slice_mesh};

    fn layers_of(mesh: &crate::mesh::Mesh, h: f64) -> Vec<Layer> {
        slice_mesh(mesh, &layer_specs(0.2, 0.2, h), &SliceOptions::default()).0
    }

    #[test]
    fn t_shape_overhangs_only_under_the_bar() {
        // Stem 4x4 from 0 to 10, bar 20x4 from 10 to 12.
        let t = merge(&[
            cuboid([8.0, 0.0, 0.0], [12.0, 4.0, 10.0]),
            cuboid([0.0, 0.0, 10.0], [20.0, 4.0, 12.0]),
        ]);
        let layers = layers_of(&t, 12.0);
        let over = detect(&layers, 55.0, 0.1, true, 0.45);
        for (i, o) in over.iter().enumerate() {
            let area: f64 = o.iter().map(ExPolygon::area_mm2).sum();
            if i == 50 {
                // The bar's first layer: 16 x 4 beyond the stem, less the allowed step.
                assert!((area - 64.0).abs() < 2.0, "{area}");
            } else {
                assert!(area < 1e-6, "layer {i}: {area}");
            }
        }
    }

    #[test]
    fn sphere_overhangs_below_the_threshold_angle_only() {
        let r = 10.0;
        let layers = layers_of(&uv_sphere([0.0, 0.0, r], r, 90, 180), 2.0 * r);
        let over = detect(&layers, 45.0, 0.01, true, 0.45);
        for (i, o) in over.iter().enumerate().skip(1) {
            let z = layers[i].slice_z - r;
            let area: f64 = o.iter().map(ExPolygon::area_mm2).sum();
            // Lower hemisphere surfaces flatter than 45° (|z| > r cos 45°) overhang.
            if z < -r * 0.75f64 {
                assert!(area > 0.0, "z {z}: no overhang");
            }
            if z > -r * 0.65 {
                assert!(area < 1e-6, "z {z}: {area}");
            }
        }
    }

    #[test]
    fn short_bridge_is_recognised() {
        // Two pillars with a 10 mm gap and a slab over them.
        let arch = merge(&[
            cuboid([0.0, 0.0, 0.0], [5.0, 10.0, 10.0]),
            cuboid([15.0, 0.0, 0.0], [20.0, 10.0, 10.0]),
            cuboid([0.0, 0.0, 10.0], [20.0, 10.0, 12.0]),
        ]);
        let layers = layers_of(&arch, 12.0);
        let with = detect(&layers, 55.0, 0.1, true, 0.45);
        let without = detect(&layers, 55.0, 0.1, false, 0.45);
        assert_eq!(with[50].len(), 1);
        assert!(without[50].is_empty());
    }
}
