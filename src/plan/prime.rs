//! Prime lines for multi-tool prints without a prime tower: each tool the start G-code
//! did not prime lays a line of its own along the bed's front edge on the first layer,
//! before its first extrusion on the part or its support, so a nozzle that sat idle
//! (and oozed, or went cold at standby) starts the part with a full melt zone. The
//! lines lie one beside the other, apart, in front of the start G-code's own line.

use crate::geom::{Point, Polyline};
use crate::path::{ExtrusionPath, Role};

/// Where the prime lines go.
#[derive(Debug, Clone, PartialEq)]
pub struct PrimeLines {
    /// Start of tool 0's line (tool `t`'s is `t` pitches behind it), mm.
    pub start: [f64; 2],
    /// Length of each line, mm.
    pub length: f64,
    /// Distance between the lines of neighbouring tools, mm.
    pub pitch: f64,
    /// Line width, mm.
    pub width: f64,
}

/// Length of a tool's prime line, mm: half the start G-code's usual line, some 5 mm³
/// of melt at 0.2 mm layers, about what an idle nozzle loses to ooze.
pub const PRIME_LENGTH: f64 = 60.0;

/// Distance of the first line from the bed's front edge, mm.
pub const PRIME_EDGE: f64 = 1.0;

/// Distance between two tools' lines, mm: wider than a squashed first-layer bead, so
/// they stay apart.
pub const PRIME_PITCH: f64 = 1.5;

/// Distance of the lines' start from the bed's left edge beyond the largest tool
/// offset, mm: every nozzle of a shared carriage stays over the bed.
pub const PRIME_MARGIN: f64 = 10.0;

impl PrimeLines {
    /// The lines for a bed whose front-left corner is `bed_min`, for tools whose
    /// largest X offset from tool 0 is `max_offset_x`.
    pub fn for_bed(bed_min: [f64; 2], max_offset_x: f64, width: f64) -> PrimeLines {
        PrimeLines {
            start: [
                bed_min[0] + max_offset_x.max(0.0) + PRIME_MARGIN,
                bed_min[1] + PRIME_EDGE,
            ],
            length: PRIME_LENGTH,
            pitch: PRIME_PITCH,
            width,
        }
    }

    /// Tool `tool`'s prime line at layer height `height`: a straight run along X.
    pub fn path(&self, tool: usize, height: f64) -> ExtrusionPath {
        let y = self.start[1] + self.pitch * tool as f64;
        let line = Polyline::new(vec![
            Point::from_mm(self.start[0], y),
            Point::from_mm(self.start[0] + self.length, y),
        ]);
        ExtrusionPath::open(Role::SkirtBrim, line, self.width, height)
    }
}
