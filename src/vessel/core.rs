//! Dissolvable mould cores (`--core`): the lumen printed in a water-soluble material,
//! to be coated in silicone and dissolved out, leaving a hollow vessel model.
//!
//! What matters for a core is its surface (the silicone copies it) and how fast it
//! dissolves: smooth outer walls on thin layers, slow outer wall, the seam in concave
//! corners, a sparse interior with only the skins the surface needs, and on a printer
//! with two tools the support in the other, non-soluble material, so it breaks away
//! without marring the core.

use serde::Serialize;

use crate::mesh::Object;
use crate::mesh::check::check;

/// Layer height of a core, mm: half the usual 0.2 mm, so the silicone copies no
/// visible steps on a vessel a few millimetres across.
pub const LAYER_HEIGHT: f64 = 0.1;
/// Outer wall speed, mm/s: slow enough for PVA's soft, stringy flow to lay a smooth
/// surface.
pub const EXTERNAL_PERIMETER_SPEED: f64 = 15.0;
/// Sparse infill, %: enough to hold the walls while the silicone is brushed on, open
/// enough that water reaches the inside once the shell is through.
pub const FILL_DENSITY: f64 = 10.0;
/// Wall loops: two give a closed, smooth surface; more only slows dissolving.
pub const PERIMETERS: usize = 2;
/// Top and bottom skin layers at 0.1 mm: 0.3 mm closes the surface over sparse infill
/// and adds no solid plates inside the core.
pub const SKIN_LAYERS: usize = 3;
/// The material a core is printed in when none is named.
pub const DEFAULT_MATERIAL: &str = "pva";
/// The support material on a second tool when none is named.
pub const DEFAULT_SUPPORT_MATERIAL: &str = "pla";

/// Settings overrides for printing a core on a printer with `tools` tools: the core
/// with tool 0, support (if any) with tool 1 when there is one.
pub fn overrides(tools: usize) -> Vec<String> {
    let mut o = vec![
        format!("layer_height={LAYER_HEIGHT}"),
        format!("external_perimeter_speed={EXTERNAL_PERIMETER_SPEED}"),
        format!("fill_density={FILL_DENSITY}"),
        format!("perimeters={PERIMETERS}"),
        format!("top_solid_layers={SKIN_LAYERS}"),
        format!("bottom_solid_layers={SKIN_LAYERS}"),
        "seam_position=aligned".to_string(),
        "external_perimeters_first=true".to_string(),
    ];
    if tools > 1 {
        o.push("support_tool=1".to_string());
        o.push("support_interface_tool=1".to_string());
    }
    o
}

/// The materials for a core: the user's, or the soluble default on tool 0 and (with
/// two tools or more) a breakaway support material on tool 1.
pub fn materials(given: &[String], tools: usize) -> Vec<String> {
    if !given.is_empty() {
        return given.to_vec();
    }
    let mut m = vec![DEFAULT_MATERIAL.to_string()];
    if tools > 1 {
        m.push(DEFAULT_SUPPORT_MATERIAL.to_string());
    }
    m
}

/// What a core is and how fast it may dissolve.
#[derive(Debug, Clone, Serialize)]
pub struct CoreReport {
    /// The core's material.
    pub material: String,
    /// Its volume, mm³ (the lumen's).
    pub volume_mm3: f64,
    /// Its outer surface, where the water starts, mm².
    pub surface_mm2: f64,
    /// The surface of its sparse infill, which the water reaches once through the
    /// shell, mm² (both sides of every infill line).
    pub infill_surface_mm2: f64,
}

/// The report for `objects` printed as cores in `material`, with `infill_mm` of sparse
/// infill line on layers `layer_height` mm thick.
pub fn report(objects: &[Object], material: &str, infill_mm: f64, layer_height: f64) -> CoreReport {
    let (mut volume, mut surface) = (0.0, 0.0);
    for o in objects {
        let r = check(&o.mesh);
        volume += r.volume_mm3.abs();
        surface += r.area_mm2;
    }
    CoreReport {
        material: material.to_string(),
        volume_mm3: volume,
        surface_mm2: surface,
        infill_surface_mm2: 2.0 * infill_mm * layer_height,
    }
}
