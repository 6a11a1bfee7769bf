//! What the planner needs to know, as plain numbers: speeds, retraction, seams, skirt
//! and brim, cooling and temperatures. Filled from the profile by
//! [`PlanParams::from_settings`](super::PlanParams::from_settings), or by hand in tests.

use crate::path::{ExtrusionPath, Role};

/// Where loops start (the seam).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SeamPosition {
    /// Lined up with the seam of the loop at the same place on the layer below, hidden
    /// in a concave corner where one is near; in a concave corner right where the
    /// nozzle comes in, where there is one.
    #[default]
    Aligned,
    /// At the back of the part (largest Y), hidden in a concave corner where one is near.
    Rear,
    /// Nearest to where the nozzle is.
    Nearest,
    /// Scattered, but the same on every run (seeded).
    Random,
}

/// Extrusion speeds, mm/s.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Speeds {
    /// Outer wall.
    pub external_perimeter: f64,
    /// Inner walls.
    pub perimeter: f64,
    /// Walls over air (PrusaSlicer prints them at bridge speed).
    pub overhang_perimeter: f64,
    /// Gap fill and thin walls printed as gap fill.
    pub gap_fill: f64,
    /// Solid infill.
    pub solid_infill: f64,
    /// Top surfaces.
    pub top_solid_infill: f64,
    /// Bridges.
    pub bridge: f64,
    /// Sparse infill.
    pub infill: f64,
    /// Support body.
    pub support: f64,
    /// Support interface.
    pub support_interface: f64,
    /// Skirt and brim.
    pub skirt_brim: f64,
    /// Prime tower.
    pub prime_tower: f64,
    /// Travel.
    pub travel: f64,
    /// Cap on every extrusion of the first layer (0: no cap).
    pub first_layer: f64,
    /// Cap on travel of the first layer (0: no cap).
    pub first_layer_travel: f64,
    /// Wipe moves.
    pub wipe: f64,
}

impl Speeds {
    /// The configured speed of `role`, before caps and slowdown.
    ///
    /// ```
    /// use lamina::path::Role;
    /// use lamina::plan::Speeds;
    /// let s = Speeds::default();
    /// assert_eq!(s.of(Role::BridgeInfill), s.bridge);
    /// ```
    pub fn of(&self, role: Role) -> f64 {
        match role {
            Role::ExternalPerimeter => self.external_perimeter,
            Role::Perimeter => self.perimeter,
            Role::OverhangPerimeter => self.overhang_perimeter,
            Role::GapFill => self.gap_fill,
            Role::SolidInfill => self.solid_infill,
            Role::TopSolidInfill => self.top_solid_infill,
            Role::BridgeInfill => self.bridge,
            Role::InternalInfill => self.infill,
            Role::SkirtBrim => self.skirt_brim,
            Role::SupportMaterial => self.support,
            Role::SupportInterface => self.support_interface,
            Role::PrimeTower => self.prime_tower,
        }
    }
}

impl Default for Speeds {
    /// PrusaSlicer-like speeds for a 0.4 mm nozzle.
    fn default() -> Self {
        Speeds {
            external_perimeter: 25.0,
            perimeter: 45.0,
            overhang_perimeter: 25.0,
            gap_fill: 30.0,
            solid_infill: 60.0,
            top_solid_infill: 40.0,
            bridge: 25.0,
            infill: 80.0,
            support: 50.0,
            support_interface: 35.0,
            skirt_brim: 30.0,
            prime_tower: 60.0,
            travel: 150.0,
            first_layer: 20.0,
            first_layer_travel: 0.0,
            wipe: 120.0,
        }
    }
}

/// When travels retract, lift and wipe.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Retraction {
    /// Travels shorter than this (mm) never retract.
    pub min_travel: f64,
    /// Retract only when a travel leaves the island or crosses a perimeter (a travel
    /// that stays inside the island's walls needs none). When `false`, every travel
    /// longer than `min_travel` retracts.
    pub only_when_crossing_perimeters: bool,
    /// Z lift during retracted travels, mm (0: none).
    pub z_hop: f64,
    /// Wipe the nozzle along the path just printed while retracting.
    pub wipe: bool,
    /// Length of the wipe, mm.
    pub wipe_distance: f64,
}

impl Default for Retraction {
    fn default() -> Self {
        Retraction {
            min_travel: 2.0,
            only_when_crossing_perimeters: true,
            z_hop: 0.0,
            wipe: false,
            wipe_distance: 1.0,
        }
    }
}

/// Loops around everything on the first layer(s): prime the nozzle, show the bed level.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Skirt {
    /// Number of loops (0: no skirt).
    pub loops: usize,
    /// Gap between the skirt's inner edge and the parts (and their brim), mm.
    pub distance: f64,
    /// Layers with a skirt.
    pub height: usize,
    /// More loops are added until the skirt's extruded length reaches this, mm.
    pub min_length: f64,
    /// Line width, mm.
    pub width: f64,
}

impl Default for Skirt {
    fn default() -> Self {
        Skirt {
            loops: 1,
            distance: 4.0,
            height: 1,
            min_length: 20.0,
            width: 0.45,
        }
    }
}

/// Loops around the parts on the first layer, touching them, to hold them on the bed.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Brim {
    /// Brim width from the part outward, mm (0: only the automatic brim).
    pub width: f64,
    /// Give a brim to footprints that would not stay put alone (small or narrow
    /// footprints under tall parts: vessels standing on the bed).
    pub auto: bool,
    /// Width of the automatic brim, mm.
    pub auto_width: f64,
    /// A footprint narrower than this (mm) is small: it gets an automatic brim when
    /// the part above it is taller than the footprint is wide.
    pub auto_small_width: f64,
    /// Any footprint gets an automatic brim when the part is this many times taller
    /// than the footprint's narrowest width.
    pub auto_slenderness: f64,
    /// Line width, mm.
    pub line_width: f64,
}

impl Default for Brim {
    fn default() -> Self {
        Brim {
            width: 0.0,
            auto: true,
            auto_width: 5.0,
            auto_small_width: 10.0,
            auto_slenderness: 3.0,
            line_width: 0.45,
        }
    }
}

/// Fan and slowdown of one material.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Cooling {
    /// Fan on layers that take long, %.
    pub min_fan: f64,
    /// Fan on short layers, %.
    pub max_fan: f64,
    /// Fan while bridging (bridge infill, overhang walls), %.
    pub bridge_fan: f64,
    /// The fan stays off (bridges included) for this many first layers.
    pub disable_fan_first_layers: usize,
    /// Layers shorter than this (s) get more fan: from `min_fan` here up to `max_fan`
    /// at `slowdown_below_layer_time`.
    pub fan_below_layer_time: f64,
    /// Layers shorter than this (s) are slowed down to take this long (0: never).
    pub slowdown_below_layer_time: f64,
    /// Slowing down never goes below this speed, mm/s.
    pub min_print_speed: f64,
}

impl Default for Cooling {
    /// PLA-like cooling.
    fn default() -> Self {
        Cooling {
            min_fan: 100.0,
            max_fan: 100.0,
            bridge_fan: 100.0,
            disable_fan_first_layers: 1,
            fan_below_layer_time: 60.0,
            slowdown_below_layer_time: 10.0,
            min_print_speed: 15.0,
        }
    }
}

/// What the planner needs of each tool's material.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ToolParams {
    /// Nozzle temperature on the first layer, °C (0: not set by the planner).
    pub first_layer_temperature: f64,
    /// Nozzle temperature from the second layer on, °C (0: not set by the planner).
    pub temperature: f64,
    /// Largest volumetric flow, mm³/s (0: no limit).
    pub max_volumetric_speed: f64,
    /// Fan and slowdown.
    pub cooling: Cooling,
}

impl Default for ToolParams {
    fn default() -> Self {
        ToolParams {
            first_layer_temperature: 0.0,
            temperature: 0.0,
            max_volumetric_speed: 0.0,
            cooling: Cooling::default(),
        }
    }
}

/// Everything the planner needs, in plain numbers.
///
/// ```
/// use lamina::plan::{PlanParams, SeamPosition};
/// let mut p = PlanParams::default();
/// p.seam = SeamPosition::Rear;
/// p.retract.z_hop = 0.4;
/// assert!(p.combing);
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct PlanParams {
    /// Speeds per role and caps.
    pub speeds: Speeds,
    /// Flow multiplier of bridges and overhang walls.
    pub bridge_flow: f64,
    /// Retraction decisions.
    pub retract: Retraction,
    /// Travel inside the part (around holes) instead of crossing its walls.
    pub combing: bool,
    /// Where loops start.
    pub seam: SeamPosition,
    /// Seed of [`SeamPosition::Random`].
    pub seam_seed: u64,
    /// Print each island's outer wall before its inner ones (better dimensions, worse
    /// overhangs). Walls are ordered by nesting, whatever order they arrive in.
    pub external_perimeters_first: bool,
    /// Skirt.
    pub skirt: Skirt,
    /// Brim.
    pub brim: Brim,
    /// Per tool (index = tool); tools beyond the list use the first entry.
    pub tools: Vec<ToolParams>,
    /// Bed temperature on the first layer and after it, °C (0: not set by the
    /// planner). Set with an `M140` custom step after the first layer.
    pub bed_temperature: (f64, f64),
    /// Prime tower for multi-tool prints (`None`: no tower).
    pub tower: Option<super::tower::TowerParams>,
    /// Standby temperatures of idle tools (`None`: tools keep their temperature).
    pub standby: Option<super::standby::Standby>,
    /// Prime lines of multi-tool prints, laid when there is no prime tower (`None`: no
    /// prime lines).
    pub prime: Option<super::prime::PrimeLines>,
    /// Mark which model each island's paths belong to ([`super::Step::Object`]), for
    /// firmware that can skip a failed model (Klipper's `EXCLUDE_OBJECT`).
    pub mark_objects: bool,
}

impl Default for PlanParams {
    fn default() -> Self {
        PlanParams {
            speeds: Speeds::default(),
            bridge_flow: 0.9,
            retract: Retraction::default(),
            combing: true,
            seam: SeamPosition::Aligned,
            seam_seed: 0,
            external_perimeters_first: false,
            skirt: Skirt::default(),
            brim: Brim::default(),
            tools: vec![ToolParams::default()],
            bed_temperature: (0.0, 0.0),
            tower: None,
            standby: None,
            prime: None,
            mark_objects: false,
        }
    }
}

/// Fallback when `tools` is empty.
static DEFAULT_TOOL: std::sync::LazyLock<ToolParams> =
    std::sync::LazyLock::new(ToolParams::default);

impl PlanParams {
    /// The settings of `tool` (the first tool's when not listed).
    pub fn tool(&self, tool: usize) -> &ToolParams {
        self.tools
            .get(tool)
            .or(self.tools.first())
            .unwrap_or(&DEFAULT_TOOL)
    }

    /// The speed of `path` printed by `tool`: the role's speed, capped on the first
    /// layer and by the tool's volumetric limit (before any slowdown for cooling).
    ///
    /// ```
    /// use lamina::path::{ExtrusionPath, Role};
    /// use lamina::plan::PlanParams;
    /// let p = PlanParams::default();
    /// let line = ExtrusionPath { role: Role::InternalInfill, points: vec![], closed: false, width: 0.45, height: 0.2 };
    /// assert_eq!(p.speed(&line, 0, false), 80.0);
    /// assert_eq!(p.speed(&line, 0, true), 20.0);
    /// ```
    pub fn speed(&self, path: &ExtrusionPath, tool: usize, first_layer: bool) -> f64 {
        let mut v = self.speeds.of(path.role);
        if first_layer && self.speeds.first_layer > 0.0 {
            v = v.min(self.speeds.first_layer);
        }
        let limit = self.tool(tool).max_volumetric_speed;
        if limit > 0.0 {
            let flow = path.cross_section() * self.flow(path.role);
            if flow > 0.0 {
                v = v.min(limit / flow);
            }
        }
        v
    }

    /// Flow multiplier of `role`: [`PlanParams::bridge_flow`] for bridges and overhang
    /// walls, 1 otherwise.
    pub fn flow(&self, role: Role) -> f64 {
        if is_bridging(role) {
            self.bridge_flow
        } else {
            1.0
        }
    }

    /// Travel speed, capped on the first layer.
    pub fn travel_speed(&self, first_layer: bool) -> f64 {
        if first_layer && self.speeds.first_layer_travel > 0.0 {
            self.speeds.travel.min(self.speeds.first_layer_travel)
        } else {
            self.speeds.travel
        }
    }
}

/// Whether `role` is printed over air (bridge fan, bridge flow).
pub fn is_bridging(role: Role) -> bool {
    matches!(role, Role::BridgeInfill | Role::OverhangPerimeter)
}
