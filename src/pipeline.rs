//! The slicing job, stage after stage: placed objects and settings in, layer plans and
//! their estimate out. Pure: reading the models and writing the G-code happen at the
//! edges (the `lamina` binary).

use std::io::{self, Write};

use serde::Serialize;

use crate::gcode::{
    self, Estimate, Filament, Flavor, GcodeHook, GcodeJob, MachineConfig, Retraction,
    TemplateRenderer, ToolConfig,
};
use crate::layer::{self, LayerRegions};
use crate::mesh::Object;
use crate::mesh::place::Bed;
use crate::path::Role;
use crate::plan::{self, LayerPlan, PlanParams};
use crate::profile::{Firmware, Origin, ProfileError, Settings, TemplateVars, render_template};
use crate::slice::{self, ChainStats, SliceOptions};
use crate::support::{self, SupportReport};

/// Stages, for progress display.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stage {
    /// Cutting the meshes into layers.
    Slicing,
    /// Walls, skins and infill.
    Regions,
    /// Support.
    Support,
    /// Ordering and travels.
    Planning,
    /// Time and material.
    Estimating,
}

impl Stage {
    /// A short name for the stage.
    pub fn name(self) -> &'static str {
        match self {
            Stage::Slicing => "slicing",
            Stage::Regions => "walls and infill",
            Stage::Support => "support",
            Stage::Planning => "planning",
            Stage::Estimating => "estimating",
        }
    }
}

/// A job failed.
#[derive(Debug, thiserror::Error)]
pub enum PipelineError {
    /// The settings (templates) are unusable.
    #[error(transparent)]
    Profile(#[from] ProfileError),
    /// The G-code could not be produced.
    #[error(transparent)]
    Gcode(#[from] gcode::GcodeError),
    /// Nothing to print.
    #[error("nothing to print: the models give no printable layer")]
    Empty,
    /// The prime tower does not fit.
    #[error(transparent)]
    Tower(#[from] plan::tower::TowerError),
}

/// What one object became.
#[derive(Debug, Clone, Serialize)]
pub struct ObjectReport {
    /// Name.
    pub name: String,
    /// Triangles.
    pub triangles: usize,
    /// Layers.
    pub layers: usize,
    /// Size after placement, mm.
    pub size: [f64; 3],
}

/// A summary of the job, for `--json` and the terminal.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    /// Layers printed.
    pub layers: usize,
    /// Per object.
    pub objects: Vec<ObjectReport>,
    /// Estimated print time, s.
    pub time_s: f64,
    /// Estimated print time, readable.
    pub time: String,
    /// Filament per tool.
    pub filament: Vec<gcode::ToolUsage>,
    /// Extruded path length per role, mm (all tools).
    pub extrusion_mm: std::collections::BTreeMap<Role, f64>,
    /// Tool changes.
    pub tool_changes: usize,
    /// Support figures, when support was generated.
    pub support: Option<SupportReport>,
    /// Filament of the tools loaded with soluble material, mm (0 without).
    pub soluble_filament_mm: f64,
    /// The same in grams.
    pub soluble_filament_g: f64,
    /// The prime tower of a multi-tool print.
    pub prime_tower: Option<TowerReport>,
    /// How much mesh damage the slicer had to work around.
    pub outline_repairs: ChainStats,
    /// Things the user should know.
    pub warnings: Vec<String>,
}

/// Where the prime tower stands.
#[derive(Debug, Clone, Serialize)]
pub struct TowerReport {
    /// Front-left corner X, mm.
    pub x: f64,
    /// Front-left corner Y, mm.
    pub y: f64,
    /// Side of the square, mm.
    pub side: f64,
    /// Layers it is printed on (up to the last tool change).
    pub layers: usize,
}

/// A sliced job ready to write.
pub struct Sliced {
    /// Every layer's moves.
    pub plans: Vec<LayerPlan>,
    /// How to write them.
    pub job: GcodeJob,
    /// Time and material.
    pub estimate: Estimate,
    /// Summary.
    pub report: Report,
}

/// The printable area of the printer.
pub fn bed(settings: &Settings) -> Bed {
    let [x, y] = settings.printer.bed_size;
    match settings.printer.origin {
        Origin::Corner => Bed::corner_origin(x, y, settings.printer.max_height),
        Origin::Center => Bed {
            min: [-x / 2.0, -y / 2.0],
            max: [x / 2.0, y / 2.0],
            max_height: settings.printer.max_height,
        },
    }
}

/// Parts of one assembly printed by different tools may overlap (segmentations of a
/// vessel wall and of the aneurysm it holds share voxels): each layer area goes to one
/// tool. A later part takes its area out of the earlier ones (list the part that must
/// show last, e.g. the coloured aneurysm after the clear vessel).
fn resolve_overlaps(objects: &[Object], layers: &mut [Vec<slice::Layer>], tools: usize) {
    use rayon::prelude::*;
    let tool = |o: &Object| o.tool.unwrap_or(0).min(tools.saturating_sub(1));
    for j in 1..objects.len().min(layers.len()) {
        let (earlier, later) = layers.split_at_mut(j);
        let cutter = &later[0];
        for (i, target) in earlier.iter_mut().enumerate() {
            if objects[i].group.is_none()
                || objects[i].group != objects[j].group
                || tool(&objects[i]) == tool(&objects[j])
            {
                continue;
            }
            target
                .par_iter_mut()
                .zip(cutter.par_iter())
                .for_each(|(a, b)| {
                    if !a.islands.is_empty() && !b.islands.is_empty() {
                        a.islands = crate::geom::difference(&a.islands, &b.islands);
                    }
                });
        }
    }
}

/// Slice placed objects into layer plans, reporting progress as (stage, done, total).
pub fn slice_objects(
    objects: &[Object],
    settings: &Settings,
    progress: &(dyn Fn(Stage, usize, usize) + Sync),
) -> Result<Sliced, PipelineError> {
    let p = &settings.print;
    let options = SliceOptions {
        closing_radius: p.slice_closing_radius,
        min_area: p.slice_min_area,
        resolution: p.resolution,
    };
    let mut warnings = Vec::new();
    let mut repairs = ChainStats::default();
    let mut per_object: Vec<Vec<LayerRegions>> = Vec::new();
    let mut object_reports = Vec::new();
    let mut sliced_layers: Vec<Vec<slice::Layer>> = Vec::new();
    for (k, obj) in objects.iter().enumerate() {
        progress(Stage::Slicing, k, objects.len());
        let Some(bb) = obj.mesh.bounding_box() else {
            continue;
        };
        let specs = slice::layer_specs(p.first_layer_height, p.layer_height, bb.max[2].max(0.0));
        let (layers, stats) = slice::slice_mesh(&obj.mesh, &specs, &options);
        repairs += stats;
        // A layer with nothing between layers with something is a hole in the mesh
        // worth knowing about (or a real gap between separate pieces).
        let first = layers.iter().position(|l| !l.islands.is_empty());
        let last = layers.iter().rposition(|l| !l.islands.is_empty());
        if let (Some(a), Some(b)) = (first, last) {
            let empty: Vec<usize> = (a..=b).filter(|&i| layers[i].islands.is_empty()).collect();
            if !empty.is_empty() {
                warnings.push(format!(
                    "'{}': {} layer{} inside the model have no material (first at z = {:.2} mm): the model has separate pieces stacked with gaps, or a damaged region",
                    obj.name,
                    empty.len(),
                    if empty.len() == 1 { "" } else { "s" },
                    layers[empty[0]].z
                ));
            }
        }
        object_reports.push(ObjectReport {
            name: obj.name.clone(),
            triangles: obj.mesh.faces.len(),
            layers: layers.len(),
            size: bb.size(),
        });
        sliced_layers.push(layers);
    }
    if repairs.open_chains > 0 {
        warnings.push(format!(
            "the meshes have holes or flipped faces: {} open outline pieces were joined ({} gaps bridged, {} closed on themselves, {} too far apart and left out); `lamina repair` can fix the mesh itself",
            repairs.open_chains, repairs.gaps_bridged, repairs.closed_on_self, repairs.dropped
        ));
    }
    resolve_overlaps(objects, &mut sliced_layers, settings.printer.tools());
    progress(Stage::Regions, 0, objects.len());
    for (obj, layers) in objects.iter().zip(&sliced_layers) {
        let tool = obj.tool.unwrap_or(0).min(settings.printer.tools() - 1);
        per_object.push(layer::build_regions(layers, settings, tool));
    }
    let mut regions = layer::merge_objects(per_object);
    if regions.iter().all(|l| l.islands.is_empty()) {
        return Err(PipelineError::Empty);
    }

    progress(Stage::Support, 0, 1);
    let mut support_report = support::add_support(&sliced_layers, &mut regions, settings);

    progress(Stage::Planning, 0, 1);
    let params = PlanParams::from_settings(settings);
    drop(sliced_layers);
    let (mut plans, tower) = plan::plan_job(&regions, &params)?;
    // Top layers left with nothing to print (a tip thinner than a line, dropped as a
    // sliver) are not written: the print ends with its last extrusion.
    while plans.len() > 1
        && plans.last().is_some_and(|p| {
            !p.steps
                .iter()
                .any(|s| matches!(s, plan::Step::Extrude { .. }))
        })
    {
        plans.pop();
    }
    let prime_tower = tower.map(|t| TowerReport {
        x: t.min[0],
        y: t.min[1],
        side: t.side,
        layers: t.last_layer + 1,
    });
    drop(regions);

    progress(Stage::Estimating, 0, 1);
    let names: Vec<String> = objects.iter().map(|o| o.name.clone()).collect();
    let mut job = gcode_job(settings, names)?;
    let estimate = gcode::estimate(&job, &plans)?;
    if let Some(r) = support_report.as_mut() {
        for t in &estimate.tools {
            for (role, u) in &t.roles {
                if role.is_support() {
                    r.filament_mm += u.filament_mm;
                }
            }
        }
        let mass_per_mm: f64 = estimate
            .tools
            .iter()
            .map(|t| {
                if t.filament_mm > 0.0 {
                    t.weight_g / t.filament_mm
                } else {
                    0.0
                }
            })
            .fold(0.0, f64::max);
        r.filament_g = r.filament_mm * mass_per_mm;
        r.time_s = estimate
            .role_times
            .iter()
            .filter(|(role, _)| role.is_support())
            .map(|(_, t)| t)
            .sum();
        job.extra_header.extend(r.header_lines());
    }
    let (mut soluble_filament_mm, mut soluble_filament_g) = (0.0, 0.0);
    for (t, m) in estimate.tools.iter().zip(&settings.materials) {
        if m.soluble {
            soluble_filament_mm += t.filament_mm;
            soluble_filament_g += t.weight_g;
        }
    }
    if settings.printer.tools() > 1 {
        job.extra_header.push(format!(
            "soluble filament used [mm] = {soluble_filament_mm:.2}"
        ));
        job.extra_header.push(format!(
            "soluble filament used [g] = {soluble_filament_g:.2}"
        ));
        job.extra_header
            .push(format!("tool changes = {}", estimate.tool_changes));
        if let Some(t) = &prime_tower {
            job.extra_header.push(format!(
                "prime tower = X {:.1} Y {:.1}, {:.1} mm square, {} layers",
                t.x, t.y, t.side, t.layers
            ));
        }
    }
    let mut extrusion_mm: std::collections::BTreeMap<Role, f64> = Default::default();
    for t in &estimate.tools {
        for (role, u) in &t.roles {
            *extrusion_mm.entry(*role).or_default() += u.path_mm;
        }
    }
    if !settings.printer.thumbnails.is_empty() {
        job.thumbnails = thumbnails(&job, &plans, &estimate, &settings.printer.thumbnails);
    }
    let report = Report {
        layers: plans.len(),
        objects: object_reports,
        time_s: estimate.total_time,
        time: gcode::format_duration(estimate.total_time),
        filament: estimate.tools.clone(),
        extrusion_mm,
        tool_changes: estimate.tool_changes,
        support: support_report,
        soluble_filament_mm,
        soluble_filament_g,
        prime_tower,
        outline_repairs: repairs,
        warnings,
    };
    Ok(Sliced {
        plans,
        job,
        estimate,
        report,
    })
}

/// Write a sliced job as G-code.
pub fn write(sliced: &Sliced, out: &mut dyn Write) -> io::Result<gcode::WriteStats> {
    gcode::write_gcode(out, &sliced.job, &sliced.plans, &sliced.estimate).map_err(|e| match e {
        gcode::GcodeError::Io(io) => io,
        other => io::Error::other(other.to_string()),
    })
}

/// Pictures of the part for the G-code header (printer screens, OctoPrint): the
/// G-code is generated once more, read as toolpaths while it is written (never kept
/// as text) and drawn at each size.
fn thumbnails(
    job: &GcodeJob,
    plans: &[LayerPlan],
    estimate: &Estimate,
    sizes: &[[u32; 2]],
) -> Vec<gcode::Thumbnail> {
    use crate::preview::toolpath::{ParseOptions, ToolpathWriter};
    let mut w = ToolpathWriter::new(&ParseOptions {
        outside_only: true,
        ..ParseOptions::default()
    });
    if gcode::write_gcode(&mut w, job, plans, estimate).is_err() {
        return Vec::new();
    }
    let Ok(tp) = w.finish() else {
        return Vec::new();
    };
    sizes
        .iter()
        .map(|&[width, height]| gcode::Thumbnail {
            width,
            height,
            png: crate::preview::thumbnail_png(&tp, width, height),
        })
        .collect()
}

/// The G-code job for `settings`: machine limits, tools, and the profile's templates
/// (start and end rendered now, per-layer and tool-change ones at each use).
pub fn gcode_job(settings: &Settings, models: Vec<String>) -> Result<GcodeJob, ProfileError> {
    let p = &settings.printer;
    let vars = TemplateVars::from_settings(settings);
    let tools = (0..p.tools())
        .map(|t| {
            let m = settings.material(t);
            ToolConfig {
                filament: Filament {
                    diameter: m.filament_diameter,
                    density: m.filament_density,
                    cost_per_kg: m.filament_cost,
                },
                extrusion_multiplier: m.extrusion_multiplier,
                retraction: Retraction {
                    length: if m.retract_length >= 0.0 {
                        m.retract_length
                    } else {
                        p.retract_length
                    },
                    speed: p.retract_speed,
                    deretract_speed: 0.0,
                    restart_extra: p.retract_restart_extra,
                    lift: p.retract_lift,
                    length_toolchange: p.retract_length_toolchange,
                    restart_extra_toolchange: 0.0,
                },
                offset: p.extruder_offset.get(t).copied().unwrap_or([0.0; 2]),
            }
        })
        .collect();
    let start_gcode = render_template(&p.start_gcode, &vars)
        .map_err(|e| ProfileError::Template(format!("start_gcode: {e}")))?;
    let end_gcode = render_template(&p.end_gcode, &vars)
        .map_err(|e| ProfileError::Template(format!("end_gcode: {e}")))?;
    // Check the hook templates now (with sample values), so a bad one fails early.
    let mut sample = vars.clone();
    for (k, v) in [
        ("layer_num", 1.0),
        ("layer_z", 0.4),
        ("previous_tool", 0.0),
        ("next_tool", 1.0),
    ] {
        sample.set_number(k, v);
    }
    for (name, t) in [
        ("before_layer_gcode", &p.before_layer_gcode),
        ("layer_gcode", &p.layer_gcode),
        ("toolchange_gcode", &p.toolchange_gcode),
    ] {
        render_template(t, &sample).map_err(|e| ProfileError::Template(format!("{name}: {e}")))?;
    }
    let (before, after, change) = (
        p.before_layer_gcode.clone(),
        p.layer_gcode.clone(),
        p.toolchange_gcode.clone(),
    );
    let renderer = TemplateRenderer::new(move |ctx| {
        let mut v = vars.clone();
        v.set("layer_num", ctx.layer_num);
        v.set_number("layer_z", ctx.layer_z);
        let template = match ctx.hook {
            GcodeHook::BeforeLayer => &before,
            GcodeHook::AfterLayer => &after,
            GcodeHook::ToolChange {
                previous_tool,
                next_tool,
            } => {
                v.set("previous_tool", previous_tool);
                v.set("next_tool", next_tool);
                &change
            }
        };
        render_template(template, &v).map_err(|e| e.to_string())
    });
    Ok(GcodeJob {
        flavor: match p.firmware {
            Firmware::Marlin => Flavor::Marlin,
            Firmware::Klipper => Flavor::Klipper,
            Firmware::Reprapfirmware => Flavor::RepRapFirmware,
        },
        relative_e: p.relative_e,
        firmware_retraction: p.firmware_retraction,
        firmware_tool_offsets: p.firmware_tool_offsets,
        emit_machine_limits: false,
        travel_speed_z: p.max_feedrate[2].min(12.0),
        tools,
        machine: MachineConfig {
            max_feedrate: p.max_feedrate,
            max_acceleration: p.max_acceleration,
            acceleration: p.acceleration_print,
            retract_acceleration: p.acceleration_retract,
            travel_acceleration: p.acceleration_travel,
            jerk: p.jerk,
            junction_deviation: p.junction_deviation,
            minimum_feedrate: p.min_feedrate,
            minimum_travel_feedrate: 0.0,
            tool_change_time: p.toolchange_time,
            ..MachineConfig::default()
        },
        start_gcode,
        end_gcode,
        toolchange_gcode: String::new(),
        renderer: Some(renderer),
        models,
        extra_header: vec![format!(
            "profiles = printer {}, material {}, quality {}",
            settings.names.printer,
            settings.names.materials.join(" + "),
            settings.names.quality
        )],
        settings: settings.to_toml(),
        ..GcodeJob::default()
    })
}
