//! Motion planning: the ordered moves of each layer, ready to be written as G-code.
//!
//! A [`LayerPlan`] is a flat list of [`Step`]s in machine order: travels (with the
//! decision whether to retract and lift), extrusions at their speed, and the machine
//! state changes (fan, temperatures, tools) that belong between them. Positions are in
//! the printer's bed coordinates; tool offsets are applied by the G-code writer.
//!
//! [`plan_layers`] turns the layer stage's [`LayerRegions`](crate::layer::LayerRegions)
//! into plans, with everything it decides in plain [`PlanParams`]:
//!
//! - order ([`order`](chain_paths)): support, then islands nearest-first; in an island,
//!   wall nests ([`perimeter_nests`]), bridges, then thin walls, gap fill, solid and
//!   sparse infill in one chain nearest-end-first, top surfaces as the fill ordered
//!   them;
//! - seams ([`choose_seam`]): aligned, rear, nearest or random, hidden in concave
//!   corners;
//! - travel ([`CombRegion`]): combed inside the island, or straight with retraction
//!   (wipe, z-hop) when long and leaving it;
//! - skirt and brim ([`adhesion`]), automatic brim for small or slender footprints;
//! - speeds per role with first-layer and volumetric caps, bridge flow, and cooling
//!   ([`apply_cooling`]): minimum layer time, fan per layer, bridge fan.

use crate::geom::Point;
use crate::path::Role;

/// Everything the printer does for one layer, in order.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct LayerPlan {
    /// Layer number, 0 = first layer.
    pub index: usize,
    /// Nozzle height while printing the layer (top of the layer), mm.
    pub z: f64,
    /// Layer thickness, mm.
    pub height: f64,
    /// The moves and state changes, in order.
    pub steps: Vec<Step>,
}

/// One thing the printer does.
#[derive(Debug, Clone, PartialEq)]
pub enum Step {
    /// Move without extruding to `to` (the layer's Z).
    Travel {
        /// Destination.
        to: Point,
        /// Speed, mm/s.
        speed: f64,
        /// Retract before the move and unretract after it. A retracted travel is always
        /// a single straight step (combed travel needs no retraction).
        retract: bool,
        /// Lift the nozzle (z-hop) during the move; only with `retract`.
        lift: bool,
    },
    /// Extrude along `points`, starting from the current position (which is where the
    /// preceding travel ended, equal to `points[0]`).
    Extrude {
        /// What the line is for (written as `;TYPE:`).
        role: Role,
        /// The polyline, first point = current position.
        points: Vec<Point>,
        /// Line width, mm.
        width: f64,
        /// Line height, mm.
        height: f64,
        /// Speed, mm/s.
        speed: f64,
        /// Flow multiplier on top of the material's (bridges use their own flow).
        flow: f64,
    },
    /// Move along `points` without extruding while retracting (a wipe along the path
    /// just printed); the writer spreads the retraction over the move. A wipe is always
    /// followed by a [`Step::Travel`] with `retract` set: the retraction done while
    /// wiping counts toward it.
    Wipe {
        /// The wipe path, starting at the current position.
        points: Vec<Point>,
        /// Speed, mm/s.
        speed: f64,
    },
    /// Part-cooling fan, 0-100 %.
    Fan(u8),
    /// Set a tool's temperature, °C; `wait` blocks until it is reached.
    Temperature {
        /// Tool number.
        tool: usize,
        /// Target, °C.
        celsius: f64,
        /// Wait for it (M109) or not (M104).
        wait: bool,
    },
    /// Change to another tool (the writer emits retraction, the profile's tool-change
    /// template and `T<n>`).
    ToolChange {
        /// The new tool.
        tool: usize,
    },
    /// Raw G-code from a profile template, already rendered.
    Custom(String),
    /// The paths that follow belong to model N (numbered as given), or to no model
    /// (`None`: support, skirt, prime tower) once the models' islands are done.
    Object(Option<usize>),
}

mod comb;
mod cooling;
mod grid;
mod hull;
mod order;
mod params;
mod planner;
pub mod prime;
mod seam;
mod settings;
mod skirt;
pub mod standby;
pub mod tower;

pub use comb::{CombRegion, DETOUR_FACTOR, DETOUR_SLACK};
pub use cooling::{apply_cooling, extrusion_time, layer_fan, slow_down};
pub use hull::{convex_hull, min_width};
pub use order::{
    NearestIslands, PathEnds, chain_paths, island_order, perimeter_nests, shorten_chain, two_opt,
};
pub use params::{
    Brim, Cooling, PlanParams, Retraction, SeamPosition, Skirt, Speeds, ToolParams, is_bridging,
};
pub use planner::{IslandComb, JobPlanner, LayerCombs, plan_job, plan_layers, prepare_combs};
pub use seam::{
    ALIGN_RADIUS, MIN_HIDING_TURN, SEAM_HIDE_RADIUS, SeamHistory, choose_seam, rotate_loop,
    seam_and_anchor,
};
pub use skirt::{Adhesion, adhesion, adhesion_lookahead, needs_auto_brim};

#[cfg(test)]
mod tests;
