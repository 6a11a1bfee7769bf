//! Reading G-code back into toolpaths: layers of extrusion segments, with the role,
//! tool, width and speed of each.
//!
//! The reader understands the comments PrusaSlicer writes (lamina writes the same):
//! `;LAYER_CHANGE`, `;Z:`, `;HEIGHT:`, `;TYPE:`, `;WIDTH:`; Cura's `;LAYER:n` and
//! `;TYPE:WALL-OUTER` family; and the `; CHANGE_LAYER`, `; Z_HEIGHT:`, `; FEATURE:`,
//! `; LINE_WIDTH:` family of Bambu Studio and OrcaSlicer. Without width comments a
//! line's width follows from the filament it uses (E per mm of travel), the filament
//! diameter and the layer height. Without layer comments layers follow the Z of the
//! extrusions.
//!
//! The file is read line by line into one reused buffer and parsed as bytes: memory
//! grows with the number of segments kept, not with the file.
//!
//! The reading itself is in three parts: [`parse`] reads a file's lines (bounded
//! memory, binary files told apart), an interpreter follows the G-code's modes and
//! comments into layers (shared by the file reader and [`ToolpathSink`], which builds
//! the toolpath from the G-code generator's events as a file is written), and the
//! lines are taken apart by lamina's one G-code lexer ([`crate::gcode::read`]).

mod file;
mod interp;
mod sink;

pub use file::{LoadError, ParseError, parse, parse_bytes, read_file};
pub use interp::role_from_name;
pub use sink::ToolpathSink;

use crate::path::Role;

/// Filament diameter assumed until the file states one, mm.
pub const DEFAULT_FILAMENT_DIAMETER: f32 = 1.75;
/// Largest distance between an arc (`G2`/`G3`) and the chords that replace it, mm.
pub const ARC_TOLERANCE: f64 = 0.01;

/// One straight extrusion: a line of plastic from `(x0, y0)` to `(x1, y1)`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Segment {
    /// Start X, mm.
    pub x0: f32,
    /// Start Y, mm.
    pub y0: f32,
    /// End X, mm.
    pub x1: f32,
    /// End Y, mm.
    pub y1: f32,
    /// Line width, mm (from `;WIDTH:` or derived from the extruded filament).
    pub width: f32,
    /// Speed, mm/s.
    pub feedrate: f32,
    /// What the line is for; `None` for custom G-code and unknown `;TYPE:` names.
    pub role: Option<Role>,
    /// The tool (extruder) that printed it.
    pub tool: u8,
    /// Whether it continues the previous segment of its layer without a break (no
    /// travel, retraction, role or tool change in between).
    pub joined: bool,
    /// Whether the width was derived from the extruded filament (no width comment).
    pub width_from_e: bool,
}

impl Segment {
    /// Length in XY, mm.
    pub fn length(&self) -> f32 {
        (self.x1 - self.x0).hypot(self.y1 - self.y0)
    }
}

/// One non-extruding move in XY.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Travel {
    /// Start X, mm.
    pub x0: f32,
    /// Start Y, mm.
    pub y0: f32,
    /// End X, mm.
    pub x1: f32,
    /// End Y, mm.
    pub y1: f32,
}

/// An axis-aligned rectangle in XY, mm.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Rect {
    /// Smallest X.
    pub min_x: f32,
    /// Smallest Y.
    pub min_y: f32,
    /// Largest X.
    pub max_x: f32,
    /// Largest Y.
    pub max_y: f32,
}

impl Rect {
    /// The empty rectangle: the union of nothing (grows with [`Rect::add`]).
    pub const EMPTY: Rect = Rect {
        min_x: f32::INFINITY,
        min_y: f32::INFINITY,
        max_x: f32::NEG_INFINITY,
        max_y: f32::NEG_INFINITY,
    };

    /// Grow to hold the point.
    pub fn add(&mut self, x: f32, y: f32) {
        self.min_x = self.min_x.min(x);
        self.min_y = self.min_y.min(y);
        self.max_x = self.max_x.max(x);
        self.max_y = self.max_y.max(y);
    }

    /// Grow to hold another rectangle.
    pub fn union(&mut self, o: &Rect) {
        if !o.is_empty() {
            self.add(o.min_x, o.min_y);
            self.add(o.max_x, o.max_y);
        }
    }

    /// Whether nothing was added.
    pub fn is_empty(&self) -> bool {
        self.min_x > self.max_x || self.min_y > self.max_y
    }

    /// Width, mm (0 when empty).
    pub fn width(&self) -> f32 {
        (self.max_x - self.min_x).max(0.0)
    }

    /// Height (Y extent), mm (0 when empty).
    pub fn height(&self) -> f32 {
        (self.max_y - self.min_y).max(0.0)
    }

    /// The rectangle grown by `d` on every side.
    pub fn inflate(&self, d: f32) -> Rect {
        Rect {
            min_x: self.min_x - d,
            min_y: self.min_y - d,
            max_x: self.max_x + d,
            max_y: self.max_y + d,
        }
    }
}

/// One layer: what is printed at one height.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Layer {
    /// Top of the layer (the nozzle height), mm.
    pub z: f32,
    /// Layer height, mm.
    pub height: f32,
    /// Extrusions in print order.
    pub segments: Vec<Segment>,
    /// Travel moves in print order (empty unless asked for).
    pub travels: Vec<Travel>,
}

impl Layer {
    /// The extent of the extrusions' centre lines.
    pub fn extent(&self) -> Rect {
        let mut r = Rect::EMPTY;
        for s in &self.segments {
            r.add(s.x0, s.y0);
            r.add(s.x1, s.y1);
        }
        r
    }

    /// The extent of the extruded lines, their width included.
    pub fn extent_with_width(&self) -> Rect {
        let mut r = Rect::EMPTY;
        for s in &self.segments {
            let h = s.width * 0.5;
            r.add(s.x0.min(s.x1) - h, s.y0.min(s.y1) - h);
            r.add(s.x0.max(s.x1) + h, s.y0.max(s.y1) + h);
        }
        r
    }

    /// Number of extrusion runs: maximal chains of joined segments.
    pub fn run_count(&self) -> usize {
        self.segments.iter().filter(|s| !s.joined).count()
    }
}

/// A G-code file read back: its layers bottom to top (layers without extrusion are
/// left out) and what its comments say about the machine.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Toolpath {
    /// Layers in print order.
    pub layers: Vec<Layer>,
    /// The printable area, when the file states it (`bed_shape`, or lamina's
    /// `bed_size` and `origin`).
    pub bed: Option<Rect>,
    /// Filament diameter used for widths derived from E, mm.
    pub filament_diameter: f32,
    /// Retractions: moves that pull filament back (negative E) and firmware
    /// retractions (`G10` without words).
    pub retractions: usize,
}

impl Toolpath {
    /// The extent of all extrusions' centre lines.
    pub fn extent(&self) -> Rect {
        let mut r = Rect::EMPTY;
        for l in &self.layers {
            r.union(&l.extent());
        }
        r
    }

    /// The extent of all extruded lines, their width included.
    pub fn extent_with_width(&self) -> Rect {
        let mut r = Rect::EMPTY;
        for l in &self.layers {
            r.union(&l.extent_with_width());
        }
        r
    }

    /// The extent of the lines with a role (leaving out custom G-code such as a prime
    /// line along the bed's edge); all lines when none has a role.
    pub fn part_extent(&self) -> Rect {
        let mut r = Rect::EMPTY;
        for s in self.layers.iter().flat_map(|l| l.segments.iter()) {
            if s.role.is_some() {
                r.add(s.x0, s.y0);
                r.add(s.x1, s.y1);
            }
        }
        if r.is_empty() { self.extent() } else { r }
    }

    /// Total number of extrusion segments.
    pub fn segment_count(&self) -> usize {
        self.layers.iter().map(|l| l.segments.len()).sum()
    }

    /// The number of tools used (highest tool number plus one; at least 1).
    pub fn tool_count(&self) -> usize {
        self.layers
            .iter()
            .flat_map(|l| l.segments.iter())
            .map(|s| usize::from(s.tool) + 1)
            .max()
            .unwrap_or(1)
    }

    /// Slowest and fastest extrusion speed, mm/s.
    pub fn speed_range(&self) -> (f32, f32) {
        let mut lo = f32::INFINITY;
        let mut hi = 0.0f32;
        for s in self.layers.iter().flat_map(|l| l.segments.iter()) {
            lo = lo.min(s.feedrate);
            hi = hi.max(s.feedrate);
        }
        if lo > hi { (0.0, 0.0) } else { (lo, hi) }
    }

    /// The layer holding height `z` (the first whose top is at or above it), if `z`
    /// is within the print.
    pub fn layer_at_z(&self, z: f32) -> Option<usize> {
        let first = self.layers.first()?;
        if z < first.z - first.height - 1e-4 {
            return None;
        }
        self.layers.iter().position(|l| l.z >= z - 1e-4)
    }
}

/// How to read a file.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct ParseOptions {
    /// Keep travel moves (for pictures that show them).
    pub travels: bool,
    /// Keep only the extrusions that can show from outside the part (external walls,
    /// top and bridge surfaces, support, tower, skirt): a picture of the part for a
    /// fraction of the memory.
    pub outside_only: bool,
    /// Filament diameter, mm; `None` to take it from the file's comments
    /// (`filament_diameter = ...`), else [`DEFAULT_FILAMENT_DIAMETER`].
    pub filament_diameter: Option<f32>,
}

#[cfg(test)]
mod tests;
