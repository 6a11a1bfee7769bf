//! The finalists measured on a slice.
//!
//! The search weighs orientations from the mesh; its figures are estimates, off by
//! several percent where the support generator's outlines are ragged. When the
//! finalists' support is small enough to slice in a few seconds, each finalist is
//! sliced as `lamina slice` slices it (turned, placed on the bed, walls, support,
//! fill, the moves simulated; nothing written) and its figures are read from that job:
//! the support material its G-code extrudes, the part of the support standing inside
//! the model, the contact area and the height. The finalists are then ranked by those.

use nalgebra::Vector3;
use rayon::prelude::*;

use super::{Cost, Params, Search, score, search_with, up_rotation};
use crate::mesh::{Object, place};
use crate::pipeline::{self, Output, Report};
use crate::profile::{Settings, SupportStyle};

/// The most support material the finalists may need together, by the estimate, for
/// them to be sliced, mm³. lamina slices a support-heavy job at about 4 cm³ of support
/// material a second on 2 cores (a 24k-triangle aorta segment, 3.9 cm³: 1.0 s; a
/// 66k-triangle heart, 93 cm³: 26 s), so seven finalists within this take a few
/// seconds; beyond it the estimates stand.
pub const SLICE_BUDGET_MM3: f64 = 20_000.0;

/// The most triangles a mesh may have for its finalists to be sliced: a 156k-triangle
/// vessel tree slices in 0.4 s of CPU, so seven slices of a mesh this size add a few
/// seconds on 2 cores; beyond it the mesh's own sections and walls take longer per
/// slice whatever its support.
pub const SLICE_MAX_TRIANGLES: usize = 250_000;

/// Why the finalists' figures are the estimates.
#[derive(Debug, Clone, PartialEq)]
pub enum Estimated {
    /// Their support is too large to slice in a few seconds (the estimates' sum, mm³).
    Budget(f64),
    /// The mesh has too many triangles (how many).
    Triangles(usize),
    /// A finalist could not be sliced (why).
    Failed(String),
}

impl std::fmt::Display for Estimated {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Estimated::Budget(mm3) => write!(
                f,
                "the finalists' support, about {:.0} cm³, is more than lamina slices in a \
                 few seconds ({:.0} cm³)",
                mm3 / 1000.0,
                SLICE_BUDGET_MM3 / 1000.0
            ),
            Estimated::Triangles(n) => write!(
                f,
                "the mesh's {n} triangles are more than lamina slices in a few seconds \
                 ({SLICE_MAX_TRIANGLES})"
            ),
            Estimated::Failed(why) => write!(f, "a finalist could not be sliced: {why}"),
        }
    }
}

/// The orientations of `objects` (loaded and scaled, not placed; several are weighed
/// as one assembly) that need the least support with `settings`, their figures read
/// from slices when the finalists fit the budget ([`SLICE_BUDGET_MM3`],
/// [`SLICE_MAX_TRIANGLES`]) and `slice` asks for it.
pub fn search(objects: &[Object], settings: &Settings, slice: bool) -> Search {
    search_with(
        &crate::mesh::shapes::merge(objects.iter().map(|o| &o.mesh)),
        &Params::from_settings(settings),
        |ups, estimates| {
            if !slice {
                return Err("--estimate".to_string());
            }
            sliced_costs(objects, settings, ups, estimates).map_err(|e| e.to_string())
        },
    )
}

/// The figures of `objects` (loaded and scaled, not placed) printed with each of `ups`
/// pointing up, read from a slice of each with `settings` (grid support when the
/// settings ask for none: the figures are of the support the orientation needs), or
/// why not: `estimates` (the search's figures for the same orientations) tell whether
/// the slices fit the budget.
pub fn sliced_costs(
    objects: &[Object],
    settings: &Settings,
    ups: &[Vector3<f64>],
    estimates: &[Cost],
) -> Result<Vec<Cost>, Estimated> {
    let triangles: usize = objects.iter().map(|o| o.mesh.faces.len()).sum();
    if triangles > SLICE_MAX_TRIANGLES {
        return Err(Estimated::Triangles(triangles));
    }
    let need: f64 = estimates.iter().map(|c| c.support_mm3).sum();
    if need > SLICE_BUDGET_MM3 {
        return Err(Estimated::Budget(need));
    }
    let mut settings = settings.clone();
    if settings.print.support_material == SupportStyle::None {
        settings.print.support_material = SupportStyle::Grid;
    }
    ups.par_iter()
        .map(|up| sliced_cost(objects, &settings, *up))
        .collect()
}

/// One orientation's figures from its slice.
fn sliced_cost(
    objects: &[Object],
    settings: &Settings,
    up: Vector3<f64>,
) -> Result<Cost, Estimated> {
    let mut turned = objects.to_vec();
    let m = up_rotation(up).to_homogeneous();
    for o in &mut turned {
        place::apply(&mut o.mesh, &m);
    }
    let bed = pipeline::bed(settings);
    place::arrange(
        &mut turned,
        &[place::Transform::default()],
        &bed,
        place::DEFAULT_SPACING,
    )
    .map_err(|e| Estimated::Failed(e.to_string()))?;
    let report = pipeline::slice(&turned, settings, &|_, _, _| {}, Output::Discard)
        .map_err(|e| Estimated::Failed(e.to_string()))?;
    Ok(cost_of(&report))
}

/// The figures of a sliced job.
fn cost_of(report: &Report) -> Cost {
    // Each tool's filament volume per mm of filament.
    let support_mm3 = report
        .filament
        .iter()
        .filter(|t| t.filament_mm > 0.0)
        .map(|t| {
            let area = t.volume_mm3 / t.filament_mm;
            t.roles
                .iter()
                .filter(|(role, _)| role.is_support())
                .map(|(_, u)| u.filament_mm * area)
                .sum::<f64>()
        })
        .sum::<f64>()
        // Net of retractions a job without support can come out a hair below zero.
        .max(0.0);
    let (enclosed_mm3, contact_mm2) = report.support.as_ref().map_or((0.0, 0.0), |s| {
        let inside = if s.interior_removed || s.volume_mm3 <= 0.0 {
            0.0
        } else {
            support_mm3 * (s.interior_volume_mm3 / s.volume_mm3).min(1.0)
        };
        (inside, s.contact_area_mm2)
    });
    let height_mm = report.objects.iter().map(|o| o.size[2]).fold(0.0, f64::max);
    let mut cost = Cost {
        support_mm3,
        enclosed_mm3,
        contact_mm2,
        height_mm,
        score: 0.0,
    };
    cost.score = score(&cost);
    cost
}
