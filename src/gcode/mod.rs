//! G-code: writing layer plans for a firmware flavor, and estimating print time and
//! material.
//!
//! One function, [`moves::generate`], turns the layer plans into the machine's moves
//! and state changes. The writer formats them; the estimator runs them through a motion
//! simulation like the firmware's planner (trapezoids, junction speeds, look-ahead), so
//! the estimate in the header is the time of exactly what is written. The same
//! simulation estimates any G-code text ([`estimate_gcode`]).
//!
//! ```
//! use lamina::gcode::{estimate, estimate_gcode, write_gcode, GcodeJob};
//! use lamina::geom::Point;
//! use lamina::path::Role;
//! use lamina::plan::{LayerPlan, Step};
//!
//! let square = vec![
//!     Point::from_mm(0.0, 0.0), Point::from_mm(20.0, 0.0),
//!     Point::from_mm(20.0, 20.0), Point::from_mm(0.0, 20.0), Point::from_mm(0.0, 0.0),
//! ];
//! let plans: Vec<LayerPlan> = (0..3).map(|i| LayerPlan {
//!     index: i, z: 0.2 * (i + 1) as f64, height: 0.2,
//!     steps: vec![
//!         Step::Travel { to: square[0], speed: 150.0, retract: true, lift: false },
//!         Step::Extrude { role: Role::ExternalPerimeter, points: square.clone(),
//!                         width: 0.45, height: 0.2, speed: 30.0, flow: 1.0 },
//!     ],
//! }).collect();
//! let job = GcodeJob::default();
//! let e = estimate(&job, &plans).unwrap();
//! let mut out = Vec::new();
//! write_gcode(&mut out, &job, &plans, &e).unwrap();
//! // Re-reading the written file gives the same time.
//! let again = estimate_gcode(out.as_slice(), &job.machine, &[]).unwrap();
//! assert!((again.total_time - e.total_time).abs() < 1e-6);
//! ```

mod config;
mod estimate;
mod machine;
pub mod moves;
pub mod number;
mod parse;
pub mod planner;
pub mod read;
pub mod thumbnail;
mod writer;

use std::io;

pub use config::{
    Filament, Flavor, GcodeHook, GcodeJob, HookContext, KlipperMotion, MachineConfig, Retraction,
    TemplateRenderer, Thumbnail, ToolConfig,
};
pub use estimate::{
    Estimate, Progress, RoleUsage, ToolUsage, estimate, estimate_gcode, format_duration,
};
pub use read::MAX_TOOLS;
pub use writer::{Body, GcodeStream, WriteStats, utc_now, utc_timestamp, write_gcode};

/// Why G-code could not be written or estimated.
#[derive(Debug, thiserror::Error)]
pub enum GcodeError {
    /// The output failed.
    #[error("writing G-code failed: {0}")]
    Io(#[from] io::Error),
    /// The printer settings list no tool.
    #[error("the printer settings have no extruder")]
    NoTools,
    /// A machine or job setting is out of range.
    #[error("the printer setting {what} is {value}, which is not usable")]
    InvalidSetting {
        /// The setting.
        what: &'static str,
        /// Its value.
        value: f64,
    },
    /// A tool's setting is out of range.
    #[error("extruder {tool}: the setting {what} is {value}, which is not usable")]
    InvalidToolSetting {
        /// The tool.
        tool: usize,
        /// The setting.
        what: &'static str,
        /// Its value.
        value: f64,
    },
    /// A plan uses a tool the printer does not have.
    #[error("layer {layer} uses extruder {tool}, but the printer has {tools}")]
    UnknownTool {
        /// Layer index.
        layer: usize,
        /// The tool asked for.
        tool: usize,
        /// Tools the printer has.
        tools: usize,
    },
    /// A G-code template could not be rendered.
    #[error("layer {layer}: the {hook} G-code could not be rendered: {message}")]
    Template {
        /// Layer index.
        layer: usize,
        /// Which template.
        hook: &'static str,
        /// The renderer's message.
        message: String,
    },
    /// A plan holds a value that cannot be printed (a bug upstream).
    #[error("layer {layer}: {what} is {value}, which cannot be printed")]
    InvalidValue {
        /// Layer index.
        layer: usize,
        /// What it is.
        what: &'static str,
        /// Its value.
        value: f64,
    },
    /// A line of the G-code being read is corrupt (see [`read::check`]).
    #[error("line {line} of the G-code is corrupt: {why}")]
    Corrupt {
        /// The line, from 1.
        line: u64,
        /// Why.
        why: read::Corrupt,
    },
}

#[cfg(test)]
mod tests;
