//! Support for overhangs: detection, grid (line) support areas and tree support.

pub mod areas;
pub mod overhang;
