//! Per-layer regions: perimeters (with thin walls and gap fill), skins and infill, as
//! extrusion paths grouped by island.
//!
//! The output of this stage, [`LayerRegions`], is plain data: for every layer, its
//! islands, each with the paths to print inside it. The planner orders them.

pub mod build;
pub mod medial;
pub mod perimeters;
pub mod skins;

pub use build::{build_regions, layer_regions, merge_objects};
pub use skins::IslandStack;

use crate::geom::ExPolygon;
use crate::path::ExtrusionPath;

/// What to print on one layer.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct LayerRegions {
    /// Layer number, 0 = first.
    pub index: usize,
    /// Top of the layer, mm.
    pub z: f64,
    /// Thickness, mm.
    pub height: f64,
    /// The islands of the layer.
    pub islands: Vec<IslandPaths>,
    /// Support paths of the layer (support body and interface), with the tool that
    /// prints them; printed before the islands.
    pub support: Vec<(usize, ExtrusionPath)>,
    /// Where the support is printed: the extent of its beads, one outline per piece
    /// (a branch, a column). Every support path lies inside one of them, and travel
    /// that stays inside one crosses nothing the nozzle could string over.
    pub support_areas: Vec<ExPolygon>,
}

/// The paths of one island, by kind. Within each list the order is the print order the
/// stage chose (the planner may reverse open paths and choose loop starts).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct IslandPaths {
    /// The island's outline: travel inside it does not cross a perimeter.
    pub boundary: ExPolygon,
    /// The tool that prints the island (multi-material models), 0-based.
    pub tool: usize,
    /// The model the island belongs to (numbered as the models were given).
    pub object: usize,
    /// Wall loops in print order (inner to outer, or outer first when configured).
    pub perimeters: Vec<ExtrusionPath>,
    /// Thin walls and gap fill.
    pub thin: Vec<ExtrusionPath>,
    /// Solid, top, bridge and sparse infill.
    pub infill: Vec<ExtrusionPath>,
}
