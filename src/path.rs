//! Extrusion paths: what the nozzle lays down, with the role each line plays in the
//! part. Produced by `layer` (perimeters, skins, infill) and `support`, ordered by
//! `plan`, written by `gcode`.

use serde::{Deserialize, Serialize};

use crate::geom::{Point, Polygon, Polyline};

/// What an extrusion is for. The names match the `;TYPE:` comments PrusaSlicer writes,
/// so existing G-code viewers colour lamina's output.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum Role {
    /// The outermost wall: the part's visible surface and dimensions.
    ExternalPerimeter,
    /// Inner walls.
    Perimeter,
    /// A wall printed over air.
    OverhangPerimeter,
    /// Thin lines filling gaps between walls, or walls too thin for two lines.
    GapFill,
    /// Dense infill inside the part (bottom skins and solid layers).
    SolidInfill,
    /// Dense infill on a top surface.
    TopSolidInfill,
    /// Dense infill over air, both ends held.
    BridgeInfill,
    /// Sparse infill.
    InternalInfill,
    /// Skirt and brim.
    SkirtBrim,
    /// Support body.
    SupportMaterial,
    /// Dense support layers touching the model.
    SupportInterface,
    /// The prime (wipe) tower of multi-tool prints.
    PrimeTower,
}

impl Role {
    /// Every role, in a stable order (for reports).
    pub const ALL: [Role; 12] = [
        Role::ExternalPerimeter,
        Role::Perimeter,
        Role::OverhangPerimeter,
        Role::GapFill,
        Role::SolidInfill,
        Role::TopSolidInfill,
        Role::BridgeInfill,
        Role::InternalInfill,
        Role::SkirtBrim,
        Role::SupportMaterial,
        Role::SupportInterface,
        Role::PrimeTower,
    ];

    /// The `;TYPE:` name (PrusaSlicer's).
    ///
    /// ```
    /// assert_eq!(lamina::path::Role::ExternalPerimeter.gcode_name(), "External perimeter");
    /// ```
    pub fn gcode_name(self) -> &'static str {
        match self {
            Role::ExternalPerimeter => "External perimeter",
            Role::Perimeter => "Perimeter",
            Role::OverhangPerimeter => "Overhang perimeter",
            Role::GapFill => "Gap fill",
            Role::SolidInfill => "Solid infill",
            Role::TopSolidInfill => "Top solid infill",
            Role::BridgeInfill => "Bridge infill",
            Role::InternalInfill => "Internal infill",
            Role::SkirtBrim => "Skirt/Brim",
            Role::SupportMaterial => "Support material",
            Role::SupportInterface => "Support material interface",
            Role::PrimeTower => "Wipe tower",
        }
    }

    /// The role for a `;TYPE:` name (PrusaSlicer's, and a few other slicers' aliases).
    pub fn from_gcode_name(name: &str) -> Option<Role> {
        let name = name.trim();
        Role::ALL
            .into_iter()
            .find(|r| r.gcode_name().eq_ignore_ascii_case(name))
            .or(match name {
                "WALL-OUTER" => Some(Role::ExternalPerimeter),
                "WALL-INNER" => Some(Role::Perimeter),
                "SKIN" => Some(Role::SolidInfill),
                "FILL" => Some(Role::InternalInfill),
                "SUPPORT" => Some(Role::SupportMaterial),
                "SUPPORT-INTERFACE" => Some(Role::SupportInterface),
                "SKIRT" | "Skirt" | "Brim" => Some(Role::SkirtBrim),
                "Prime tower" | "PRIME-TOWER" => Some(Role::PrimeTower),
                _ => None,
            })
    }

    /// Whether the role is part of the model (not skirt, support or tower).
    pub fn is_model(self) -> bool {
        !matches!(
            self,
            Role::SkirtBrim | Role::SupportMaterial | Role::SupportInterface | Role::PrimeTower
        )
    }

    /// Whether the role is support.
    pub fn is_support(self) -> bool {
        matches!(self, Role::SupportMaterial | Role::SupportInterface)
    }
}

/// One continuous extrusion of constant width.
#[derive(Debug, Clone, PartialEq)]
pub struct ExtrusionPath {
    /// What it is for.
    pub role: Role,
    /// The line's vertices. For a loop the first point is not repeated at the end.
    pub points: Vec<Point>,
    /// Whether the path is a closed loop (the planner chooses where it starts: the seam).
    pub closed: bool,
    /// Line width, mm.
    pub width: f64,
    /// Line height (layer height, or more for bridges), mm.
    pub height: f64,
}

impl ExtrusionPath {
    /// An open path.
    pub fn open(role: Role, line: Polyline, width: f64, height: f64) -> Self {
        ExtrusionPath {
            role,
            points: line.points,
            closed: false,
            width,
            height,
        }
    }

    /// A closed loop.
    pub fn from_loop(role: Role, ring: Polygon, width: f64, height: f64) -> Self {
        ExtrusionPath {
            role,
            points: ring.points,
            closed: true,
            width,
            height,
        }
    }

    /// Printed length, mm (a loop includes its closing segment).
    pub fn length_mm(&self) -> f64 {
        let mut len: f64 = self.points.windows(2).map(|w| w[0].distance(w[1])).sum();
        if self.closed && self.points.len() > 2 {
            len += self.points[self.points.len() - 1].distance(self.points[0]);
        }
        len / crate::geom::SCALE
    }

    /// Cross-section area of the bead, mm²: a rectangle with semicircular sides, the
    /// shape a nozzle squashes onto the layer below (as PrusaSlicer models it).
    ///
    /// ```
    /// use lamina::path::{ExtrusionPath, Role};
    /// let p = ExtrusionPath { role: Role::Perimeter, points: vec![], closed: false, width: 0.45, height: 0.2 };
    /// let expected = (0.45 - 0.2) * 0.2 + std::f64::consts::PI * 0.01;
    /// assert!((p.cross_section() - expected).abs() < 1e-12);
    /// ```
    pub fn cross_section(&self) -> f64 {
        bead_area(self.width, self.height)
    }
}

/// Cross-section area of a bead `width` wide and `height` tall, mm².
pub fn bead_area(width: f64, height: f64) -> f64 {
    if width <= height {
        // Narrower than tall (very thin lines): an ellipse-like bead.
        std::f64::consts::FRAC_PI_4 * width * height
    } else {
        (width - height) * height + std::f64::consts::FRAC_PI_4 * height * height
    }
}

/// The width of a bead of `area` mm² at `height` (inverse of [`bead_area`]).
pub fn bead_width(area: f64, height: f64) -> f64 {
    let round = std::f64::consts::FRAC_PI_4 * height * height;
    if area <= round {
        area / (std::f64::consts::FRAC_PI_4 * height)
    } else {
        (area - round) / height + height
    }
}

/// Spacing between the centres of two adjacent beads of `width` that overlap as much
/// as their rounded sides allow (PrusaSlicer's flow spacing): `width - height·(1 - π/4)`.
pub fn bead_spacing(width: f64, height: f64) -> f64 {
    width - height * (1.0 - std::f64::consts::FRAC_PI_4)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn width_and_area_are_inverse() {
        for w in [0.2, 0.3, 0.45, 0.7] {
            for h in [0.1, 0.2, 0.3] {
                let a = bead_area(w, h);
                assert!((bead_width(a, h) - w).abs() < 1e-12, "{w} {h}");
            }
        }
    }

    #[test]
    fn role_names_round_trip() {
        for r in Role::ALL {
            assert_eq!(Role::from_gcode_name(r.gcode_name()), Some(r));
        }
        assert_eq!(
            Role::from_gcode_name("WALL-OUTER"),
            Some(Role::ExternalPerimeter)
        );
    }

    #[test]
    fn loop_length_includes_closing_edge() {
        let p = ExtrusionPath::from_loop(
            Role::Perimeter,
            Polygon::rectangle(0, 0, 1_000_000, 1_000_000),
            0.4,
            0.2,
        );
        assert!((p.length_mm() - 4.0).abs() < 1e-12);
    }
}
