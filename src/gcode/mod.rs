//! G-code: writing layer plans for a firmware flavor, and estimating time and material.
//!
//! [`events::walk`] turns plans into machine events (moves with their extrusion,
//! retractions, lifts, tool changes); [`estimate()`] simulates those events through a
//! model of the firmware's motion planner; [`write_gcode`] prints them with
//! PrusaSlicer-style comments (`;LAYER_CHANGE`, `;Z:`, `;TYPE:`, `;WIDTH:`) so existing
//! viewers read lamina's files, `M73` progress from the estimate, and a header and
//! footer that document the print.

pub mod estimate;
pub mod events;
pub mod format;
pub mod text;
mod writer;

use serde::Serialize;

pub use estimate::{Estimate, MachineLimits, ToolUsage};
pub use writer::{WriteStats, write_gcode};

use crate::plan::LayerPlan;
use crate::profile::{Firmware, ProfileError, Settings, TemplateVars, render_template};

/// One tool's extrusion and retraction settings.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ToolConfig {
    /// Filament diameter, mm.
    pub filament_diameter: f64,
    /// Flow multiplier.
    pub extrusion_multiplier: f64,
    /// Density, g/cm³.
    pub density: f64,
    /// Price per kg.
    pub cost_per_kg: f64,
    /// Retraction, mm.
    pub retract_length: f64,
    /// Retraction speed, mm/s.
    pub retract_speed: f64,
    /// Extra length pushed after a retraction, mm.
    pub restart_extra: f64,
    /// Retraction before a tool change, mm.
    pub retract_toolchange: f64,
    /// Z lift on retracted travels, mm.
    pub z_hop: f64,
    /// XY offset of the nozzle from tool 0's, mm.
    pub offset: [f64; 2],
}

impl ToolConfig {
    /// Filament cross-section, mm².
    pub fn filament_area(&self) -> f64 {
        std::f64::consts::FRAC_PI_4 * self.filament_diameter * self.filament_diameter
    }
}

/// Everything the writer needs besides the plans.
#[derive(Debug, Clone, PartialEq)]
pub struct GcodeJob {
    /// Firmware flavor.
    pub flavor: Firmware,
    /// Relative E (M83) or absolute (M82).
    pub relative_e: bool,
    /// Retract with G10/G11.
    pub firmware_retraction: bool,
    /// The firmware applies tool offsets itself.
    pub firmware_tool_offsets: bool,
    /// Per tool.
    pub tools: Vec<ToolConfig>,
    /// The tool active after the start G-code.
    pub initial_tool: usize,
    /// Z move speed, mm/s.
    pub z_speed: f64,
    /// Travel speed for unplanned positioning moves, mm/s.
    pub travel_speed: f64,
    /// Motion limits for the estimate.
    pub limits: MachineLimits,
    /// Start G-code, rendered.
    pub start_gcode: String,
    /// End G-code, rendered.
    pub end_gcode: String,
    /// Template run before each layer change (`{layer_num}`, `{layer_z}`).
    pub before_layer_gcode: String,
    /// Template run after each layer change.
    pub layer_gcode: String,
    /// Template run at tool changes (`{previous_tool}`, `{next_tool}`).
    pub toolchange_gcode: String,
    /// Values for the per-layer templates.
    pub vars: TemplateVars,
    /// Model names for the header.
    pub models: Vec<String>,
    /// Profile names for the header.
    pub profiles: String,
    /// Extra header lines (support figures and the like), without `; `.
    pub extra_header: Vec<String>,
    /// Thumbnails: width, height, PNG bytes.
    pub thumbnails: Vec<(u32, u32, Vec<u8>)>,
    /// Every setting, for the footer (TOML).
    pub settings_text: String,
}

impl GcodeJob {
    /// The job for `settings`, with start and end G-code rendered.
    pub fn from_settings(
        settings: &Settings,
        models: Vec<String>,
    ) -> Result<GcodeJob, ProfileError> {
        let p = &settings.printer;
        let vars = TemplateVars::from_settings(settings);
        let tools = (0..p.tools())
            .map(|t| {
                let m = settings.material(t);
                ToolConfig {
                    filament_diameter: m.filament_diameter,
                    extrusion_multiplier: m.extrusion_multiplier,
                    density: m.filament_density,
                    cost_per_kg: m.filament_cost,
                    retract_length: if m.retract_length >= 0.0 {
                        m.retract_length
                    } else {
                        p.retract_length
                    },
                    retract_speed: p.retract_speed,
                    restart_extra: p.retract_restart_extra,
                    retract_toolchange: p.retract_length_toolchange,
                    z_hop: p.retract_lift,
                    offset: p.extruder_offset.get(t).copied().unwrap_or([0.0; 2]),
                }
            })
            .collect();
        let start_gcode = render_template(&p.start_gcode, &vars)
            .map_err(|e| ProfileError::Template(format!("start_gcode: {e}")))?;
        let end_gcode = render_template(&p.end_gcode, &vars)
            .map_err(|e| ProfileError::Template(format!("end_gcode: {e}")))?;
        // Check the per-layer and tool-change templates now, with sample values.
        let mut sample = vars.clone();
        sample.set("layer_num", 1);
        sample.set("layer_z", 0.4);
        sample.set("previous_tool", 0);
        sample.set("next_tool", 1);
        for (name, t) in [
            ("before_layer_gcode", &p.before_layer_gcode),
            ("layer_gcode", &p.layer_gcode),
            ("toolchange_gcode", &p.toolchange_gcode),
        ] {
            render_template(t, &sample)
                .map_err(|e| ProfileError::Template(format!("{name}: {e}")))?;
        }
        Ok(GcodeJob {
            flavor: p.firmware,
            relative_e: p.relative_e,
            firmware_retraction: p.firmware_retraction,
            firmware_tool_offsets: p.firmware_tool_offsets,
            tools,
            initial_tool: 0,
            z_speed: p.max_feedrate[2].min(12.0),
            travel_speed: settings.print.travel_speed,
            limits: MachineLimits {
                max_feedrate: p.max_feedrate,
                max_acceleration: p.max_acceleration,
                acceleration_print: p.acceleration_print,
                acceleration_retract: p.acceleration_retract,
                acceleration_travel: p.acceleration_travel,
                jerk: p.jerk,
                junction_deviation: p.junction_deviation,
                min_feedrate: p.min_feedrate,
                toolchange_time: p.toolchange_time,
            },
            start_gcode,
            end_gcode,
            before_layer_gcode: p.before_layer_gcode.clone(),
            layer_gcode: p.layer_gcode.clone(),
            toolchange_gcode: p.toolchange_gcode.clone(),
            vars,
            models,
            profiles: format!(
                "printer {}, material {}, quality {}",
                settings.names.printer,
                settings.names.materials.join(" + "),
                settings.names.quality
            ),
            extra_header: Vec::new(),
            thumbnails: Vec::new(),
            settings_text: settings.to_toml(),
        })
    }
}

/// Time and material of `plans` as `job` would print them.
pub fn estimate(job: &GcodeJob, plans: &[LayerPlan]) -> Estimate {
    estimate::estimate_events(&job.limits, &job.tools, |sink| {
        events::walk(job, plans, sink)
    })
}

/// Standard base64 (with padding), for thumbnails.
pub fn base64(bytes: &[u8]) -> String {
    const T: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for c in bytes.chunks(3) {
        let n = (u32::from(c[0]) << 16)
            | (u32::from(*c.get(1).unwrap_or(&0)) << 8)
            | u32::from(*c.get(2).unwrap_or(&0));
        for (i, shift) in [18, 12, 6, 0].into_iter().enumerate() {
            if i <= c.len() {
                out.push(T[(n >> shift & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

#[cfg(test)]
mod tests;
