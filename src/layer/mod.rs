//! Per-layer regions: perimeters (with thin walls), skins and infill.

pub mod medial;
pub mod perimeters;
