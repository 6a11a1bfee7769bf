//! What a lab should hear about support before it prints: overhangs left in the air,
//! parts that start above the bed with nothing under them, and support that fills
//! the model's cavities. Each warning carries its figures (area, heights) and a hint.

use rayon::prelude::*;
use serde::Serialize;

use crate::mesh::{Mesh, Object};
use crate::profile::{Settings, SupportInside, SupportStyle};

use super::SupportReport;

/// Overhang area (mm²) below which no warning is given: a few square millimetres of
/// downward surface bridge or sag without spoiling an anatomical model.
pub const UNSUPPORTED_MIN_AREA: f64 = 5.0;

/// Share of the support volume inside the model above which it is worth a warning
/// (issue: a braincase full of support is days of printing nobody wanted).
pub const INSIDE_SHARE: f64 = 0.10;

/// A warning with its figures, for `--json`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Warning {
    /// What kind: `unsupported_overhang`, `starts_above_bed` or `support_inside`.
    pub kind: &'static str,
    /// The model it is about.
    pub object: String,
    /// The sentence told on the terminal.
    pub message: String,
    /// Area concerned, mm² (overhangs).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub area_mm2: Option<f64>,
    /// Volume concerned, mm³ (support inside the model).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub volume_mm3: Option<f64>,
    /// Lowest height concerned, mm.
    pub z_from: f64,
    /// Highest height concerned, mm.
    pub z_to: f64,
    /// What to do about it.
    pub hint: String,
}

/// Downward surface of `m` flatter than `threshold_deg` from the horizontal and
/// above `floor` (mm): its area (mm²) and height range.
pub fn overhang_surface(m: &Mesh, threshold_deg: f64, floor: f64) -> (f64, f64, f64) {
    let cos_t = threshold_deg.clamp(0.0, 90.0).to_radians().cos();
    m.faces
        .par_iter()
        .filter_map(|f| {
            let [a, b, c] = f.map(|i| m.vertices[i as usize].map(f64::from));
            let u = [b[0] - a[0], b[1] - a[1], b[2] - a[2]];
            let v = [c[0] - a[0], c[1] - a[1], c[2] - a[2]];
            let n = [
                u[1] * v[2] - u[2] * v[1],
                u[2] * v[0] - u[0] * v[2],
                u[0] * v[1] - u[1] * v[0],
            ];
            let len = (n[0] * n[0] + n[1] * n[1] + n[2] * n[2]).sqrt();
            // Facing down and flatter than the threshold: -n_z > cos(threshold).
            if len <= 0.0 || -n[2] / len <= cos_t {
                return None;
            }
            let lo = a[2].min(b[2]).min(c[2]);
            let hi = a[2].max(b[2]).max(c[2]);
            (lo > floor).then_some((len / 2.0, lo, hi))
        })
        .reduce(
            || (0.0, f64::INFINITY, f64::NEG_INFINITY),
            |x, y| (x.0 + y.0, x.1.min(y.1), x.2.max(y.2)),
        )
}

/// The warnings for `objects` sliced with `settings` (`support`: what support was
/// made, if any). `surfaces`, when given, are the surfaces printed for the objects, one
/// each (round a lumen, its wall's); otherwise the objects' own meshes are.
pub fn warnings(
    objects: &[Object],
    surfaces: Option<&[Mesh]>,
    settings: &Settings,
    support: Option<&SupportReport>,
) -> Vec<Warning> {
    let p = &settings.print;
    let mut out = Vec::new();
    // What rests on the first layer is held by the bed.
    let floor = p.first_layer_height;
    if p.support_material == SupportStyle::None {
        for (i, o) in objects.iter().enumerate() {
            let mesh = surfaces.and_then(|s| s.get(i)).unwrap_or(&o.mesh);
            let Some(bb) = mesh.bounding_box() else {
                continue;
            };
            let bottom = bb.min[2];
            if bottom > floor / 2.0 {
                out.push(Warning {
                    kind: "starts_above_bed",
                    object: o.name.clone(),
                    message: format!(
                        "'{}' starts at z = {:.2} mm with nothing under it: it would be printed in the air",
                        o.name, bottom
                    ),
                    area_mm2: None,
                    volume_mm3: None,
                    z_from: 0.0,
                    z_to: bottom,
                    hint: "--support tree or grid builds up to it; or place the model on the bed".into(),
                });
                // Its underside is the overhang told above.
                continue;
            }
            let (area, lo, hi) = overhang_surface(mesh, p.support_threshold, floor);
            if area >= UNSUPPORTED_MIN_AREA {
                out.push(Warning {
                    kind: "unsupported_overhang",
                    object: o.name.clone(),
                    message: format!(
                        "'{}': {:.0} mm² of overhang flatter than {:.0}° between z = {:.1} and {:.1} mm has no support and will print in the air",
                        o.name, area, p.support_threshold, lo, hi
                    ),
                    area_mm2: Some(area),
                    volume_mm3: None,
                    z_from: lo,
                    z_to: hi,
                    hint: "--support tree holds it with little material; --support grid holds all of it".into(),
                });
            }
        }
    }
    if let Some(r) = support {
        let total = r.volume_mm3.max(f64::EPSILON);
        let inside = r.interior_volume_mm3;
        if !r.interior_removed && inside > INSIDE_SHARE * total {
            let name = objects
                .iter()
                .map(|o| o.name.as_str())
                .collect::<Vec<_>>()
                .join(", ");
            let (lo, hi) = r.interior_heights.unwrap_or((0.0, 0.0));
            out.push(Warning {
                kind: "support_inside",
                object: name.clone(),
                message: format!(
                    "{:.0} mm³ of support ({:.0}% of it) stands inside '{}' (cavities, lumens) between z = {:.1} and {:.1} mm, where it may never come out",
                    inside,
                    100.0 * inside / total,
                    name,
                    lo,
                    hi
                ),
                area_mm2: None,
                volume_mm3: Some(inside),
                z_from: lo,
                z_to: hi,
                hint: if p.support_inside == SupportInside::Allow {
                    "--support-inside none leaves it out; soluble support (--soluble) dissolves out".into()
                } else {
                    "soluble support (--soluble) dissolves out".into()
                },
            });
        }
    }
    out
}
