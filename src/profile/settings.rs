//! The typed settings: printer, material and print (quality). Every key has a default,
//! so a profile only states what differs.

use serde::{Deserialize, Serialize};

/// Default outline simplification tolerance, mm: PrusaSlicer's G-code resolution, well
/// under a printer's positioning error and a thirtieth of a line's width. Finer
/// (0.005 mm) kept many more points on marching-cubes meshes for walls, skins and
/// infill to work through: on the 1.3M-triangle brain phantom, 30 % more time.
pub const DEFAULT_RESOLUTION: f64 = 0.0125;

/// Where the printer's origin is on the bed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Origin {
    /// X0 Y0 is the front-left corner.
    Corner,
    /// X0 Y0 is the middle of the bed (deltas, some large printers).
    Center,
}

/// The firmware the G-code is written for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Firmware {
    /// Marlin 2.
    Marlin,
    /// Klipper.
    Klipper,
    /// RepRapFirmware (Duet).
    Reprapfirmware,
}

/// How a printer's tools are arranged.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DualKind {
    /// One nozzle; with several tools, they feed their filaments to it in turn (a
    /// multi-material unit), and each change flushes the old material out of the melt
    /// zone (the materials' purge volumes).
    Single,
    /// Two hotends side by side on one carriage (fixed X offset).
    SharedCarriage,
    /// Independent dual extruders: the idle carriage parks.
    Idex,
}

/// Sparse infill patterns.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum InfillPattern {
    /// Parallel lines, direction alternating by layer.
    Lines,
    /// Lines in two directions on every layer.
    Grid,
    /// Lines in three directions.
    Triangles,
    /// Gyroid surface: strong in every direction, no crossing lines.
    Gyroid,
    /// Concentric loops.
    Concentric,
}

/// Solid infill patterns.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SolidPattern {
    /// Back-and-forth lines.
    Rectilinear,
    /// Lines all laid in the same order across the surface (smooth tops).
    Monotonic,
    /// Concentric loops.
    Concentric,
}

/// Where loops start (the seam).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SeamPosition {
    /// Lined up from layer to layer, in concave corners where possible (a concave
    /// corner where the nozzle comes in is taken as it is).
    Aligned,
    /// At the back of the part.
    Rear,
    /// Nearest to where the nozzle is.
    Nearest,
    /// Scattered.
    Random,
}

/// Support style.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SupportStyle {
    /// No support.
    None,
    /// Grid (line) support under every overhang.
    Grid,
    /// Branching tree support.
    Tree,
}

/// What to do with support standing inside the model (a lumen, a sac, a cavity).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SupportInside {
    /// Generate it like any other support.
    Allow,
    /// Leave enclosed regions without support.
    None,
    /// Print it with the soluble tool (dual-nozzle printers).
    Soluble,
}

/// Which support is printed in soluble material on a dual-nozzle printer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SolubleMode {
    /// No soluble support.
    Off,
    /// All support in the soluble material.
    All,
    /// Only the interface touching the model; the body in model material.
    Interface,
}

/// Where the wall of a vessel model ends open (`--vessel-open`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum VesselOpen {
    /// Nowhere: the wall closes round every end.
    None,
    /// Where the lumen mesh is open or closed by a flat cap (a segmentation cut).
    Auto,
    /// At the lumen's bottom and top planes (a scan volume cut axially).
    Z,
}

/// The machine.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Printer {
    /// Human description.
    pub description: String,
    /// Bed width and depth, mm.
    pub bed_size: [f64; 2],
    /// Largest printable height, mm.
    pub max_height: f64,
    /// Where X0 Y0 is.
    pub origin: Origin,
    /// Nozzle diameter of each tool, mm (one entry per tool).
    pub nozzle_diameter: Vec<f64>,
    /// XY offset of each tool from the first, mm.
    pub extruder_offset: Vec<[f64; 2]>,
    /// How the tools are arranged.
    pub dual_kind: DualKind,
    /// Whether the firmware applies tool offsets itself (else lamina does).
    pub firmware_tool_offsets: bool,
    /// Firmware flavor.
    pub firmware: Firmware,
    /// Maximum feed rates X, Y, Z, E, mm/s.
    pub max_feedrate: [f64; 4],
    /// Maximum accelerations X, Y, Z, E, mm/s².
    pub max_acceleration: [f64; 4],
    /// Acceleration while printing, mm/s².
    pub acceleration_print: f64,
    /// Acceleration of retractions, mm/s².
    pub acceleration_retract: f64,
    /// Acceleration of travel moves, mm/s².
    pub acceleration_travel: f64,
    /// Classic jerk X, Y, Z, E, mm/s (used when `junction_deviation` is 0).
    pub jerk: [f64; 4],
    /// Marlin junction deviation, mm (0: the firmware uses classic jerk).
    pub junction_deviation: f64,
    /// Minimum feed rate, mm/s.
    pub min_feedrate: f64,
    /// Klipper's speed through a 90° corner, mm/s (its `square_corner_velocity`).
    pub square_corner_velocity: f64,
    /// Klipper's share of a move kept cruising when it accelerates and then brakes
    /// (its `minimum_cruise_ratio`).
    pub minimum_cruise_ratio: f64,
    /// Write the motion limits into the G-code (Marlin `M201`-`M205`, Klipper
    /// `SET_VELOCITY_LIMIT`, RepRapFirmware `M201`/`M203`/`M204`/`M566`), so that the
    /// printer runs as the time estimate assumed.
    pub emit_machine_limits: bool,
    /// Retraction length, mm of filament.
    pub retract_length: f64,
    /// Retraction speed, mm/s.
    pub retract_speed: f64,
    /// Extra filament pushed after a retraction, mm.
    pub retract_restart_extra: f64,
    /// Travels shorter than this (mm) do not retract.
    pub retract_before_travel: f64,
    /// Z lift during retracted travel, mm (0: none).
    pub retract_lift: f64,
    /// Wipe the nozzle along the last path while retracting.
    pub wipe: bool,
    /// Retraction before a tool change, mm.
    pub retract_length_toolchange: f64,
    /// Relative extrusion distances (M83) instead of absolute (M82).
    pub relative_e: bool,
    /// Use firmware retraction (G10/G11).
    pub firmware_retraction: bool,
    /// G-code at the start of the print (placeholders like `{first_layer_temperature[0]}`).
    pub start_gcode: String,
    /// G-code at the end of the print.
    pub end_gcode: String,
    /// G-code before each layer change.
    pub before_layer_gcode: String,
    /// G-code after each layer change.
    pub layer_gcode: String,
    /// G-code around a tool change (`{previous_tool}`, `{next_tool}`).
    pub toolchange_gcode: String,
    /// G-code to pause a print (park, for `lamina stream`).
    pub pause_gcode: String,
    /// G-code to resume after a pause (reheat, return).
    pub resume_gcode: String,
    /// G-code when a print is cancelled.
    pub cancel_gcode: String,
    /// Thumbnail sizes (width, height) embedded in the G-code.
    pub thumbnails: Vec<[u32; 2]>,
    /// Serial baud rate for `lamina stream`.
    pub baud_rate: u32,
    /// Time a tool change takes, s (for the estimate).
    pub toolchange_time: f64,
    /// Volume a tool with its own hotend (`dual_kind` other than `single`) primes on
    /// the tower after a change, mm³: its nozzle keeps its material, so it only makes
    /// up what oozed at the standby temperature and refills the tip. A shared nozzle
    /// purges the materials' `purge_volume` instead.
    pub toolchange_prime: f64,
}

/// Default [`Printer::toolchange_prime`], mm³: about 2.5 mm of 1.75 mm filament, what
/// a nozzle loses at its standby temperature over a few minutes plus its cooled tip;
/// a tenth of what flushing one material out of a shared nozzle takes.
pub const TOOLCHANGE_PRIME: f64 = 6.0;

impl Default for Printer {
    fn default() -> Self {
        Printer {
            description: String::new(),
            bed_size: [220.0, 220.0],
            max_height: 250.0,
            origin: Origin::Corner,
            nozzle_diameter: vec![0.4],
            extruder_offset: vec![[0.0, 0.0]],
            dual_kind: DualKind::Single,
            firmware_tool_offsets: false,
            firmware: Firmware::Marlin,
            max_feedrate: [500.0, 500.0, 12.0, 120.0],
            max_acceleration: [1000.0, 1000.0, 200.0, 5000.0],
            acceleration_print: 1000.0,
            acceleration_retract: 1000.0,
            acceleration_travel: 1000.0,
            jerk: [8.0, 8.0, 0.4, 5.0],
            junction_deviation: 0.0,
            min_feedrate: 0.0,
            square_corner_velocity: 5.0,
            minimum_cruise_ratio: 0.5,
            emit_machine_limits: false,
            retract_length: 2.0,
            retract_speed: 40.0,
            retract_restart_extra: 0.0,
            retract_before_travel: 2.0,
            retract_lift: 0.0,
            wipe: false,
            retract_length_toolchange: 10.0,
            relative_e: false,
            firmware_retraction: false,
            start_gcode: String::new(),
            end_gcode: String::new(),
            before_layer_gcode: String::new(),
            layer_gcode: String::new(),
            toolchange_gcode: String::new(),
            pause_gcode: String::new(),
            resume_gcode: String::new(),
            cancel_gcode: String::new(),
            thumbnails: Vec::new(),
            baud_rate: 115_200,
            toolchange_time: 10.0,
            toolchange_prime: TOOLCHANGE_PRIME,
        }
    }
}

impl Printer {
    /// Whether every tool has its own hotend, so a tool change leaves each nozzle's
    /// material where it was.
    pub fn own_hotends(&self) -> bool {
        self.dual_kind != DualKind::Single
    }

    /// Volume to purge on the tower when `next` takes over from `prev`, mm³.
    pub fn purge(&self, prev: &Material, next: &Material) -> f64 {
        if self.own_hotends() {
            self.toolchange_prime
        } else {
            prev.purge_to(next)
        }
    }

    /// Number of tools.
    pub fn tools(&self) -> usize {
        self.nozzle_diameter.len().max(1)
    }

    /// Nozzle diameter of `tool` (the first tool's when out of range).
    pub fn nozzle(&self, tool: usize) -> f64 {
        self.nozzle_diameter
            .get(tool)
            .or(self.nozzle_diameter.first())
            .copied()
            .unwrap_or(0.4)
    }
}

/// A filament.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Material {
    /// Human description.
    pub description: String,
    /// Material type (PLA, PETG, PVA, ...): used to look up purge volumes.
    pub filament_type: String,
    /// Filament diameter, mm.
    pub filament_diameter: f64,
    /// Density, g/cm³.
    pub filament_density: f64,
    /// Price per kg.
    pub filament_cost: f64,
    /// Nozzle temperature, °C.
    pub temperature: f64,
    /// Nozzle temperature on the first layer, °C.
    pub first_layer_temperature: f64,
    /// Bed temperature, °C.
    pub bed_temperature: f64,
    /// Bed temperature on the first layer, °C.
    pub first_layer_bed_temperature: f64,
    /// Nozzle temperature while the tool waits idle (dual nozzle), °C.
    pub idle_temperature: f64,
    /// Fan speed when the layer time is long, %.
    pub min_fan_speed: f64,
    /// Fan speed when the layer time is short, %.
    pub max_fan_speed: f64,
    /// Fan speed during bridges and overhangs, %.
    pub bridge_fan_speed: f64,
    /// The fan stays off for this many first layers.
    pub disable_fan_first_layers: usize,
    /// Layers printed faster than this (s) get the maximum fan.
    pub fan_below_layer_time: f64,
    /// Layers are slowed down to take at least this long (s).
    pub slowdown_below_layer_time: f64,
    /// Slowing down never goes below this speed, mm/s.
    pub min_print_speed: f64,
    /// Flow multiplier.
    pub extrusion_multiplier: f64,
    /// Maximum volumetric flow the hotend melts, mm³/s (0: no limit).
    pub max_volumetric_speed: f64,
    /// Dissolves in water (PVA, BVOH) or a solvent (HIPS in limonene).
    pub soluble: bool,
    /// Volume to purge when switching from this material to another, mm³.
    pub purge_volume: f64,
    /// Purge volume by the next material's type, overriding `purge_volume`, mm³.
    pub purge_volume_to: std::collections::BTreeMap<String, f64>,
    /// Retraction length for this material, mm (negative: the printer's).
    pub retract_length: f64,
}

impl Default for Material {
    fn default() -> Self {
        Material {
            description: String::new(),
            filament_type: "PLA".into(),
            filament_diameter: 1.75,
            filament_density: 1.24,
            filament_cost: 25.0,
            temperature: 210.0,
            first_layer_temperature: 215.0,
            bed_temperature: 60.0,
            first_layer_bed_temperature: 60.0,
            idle_temperature: 150.0,
            min_fan_speed: 100.0,
            max_fan_speed: 100.0,
            bridge_fan_speed: 100.0,
            disable_fan_first_layers: 1,
            fan_below_layer_time: 60.0,
            slowdown_below_layer_time: 10.0,
            min_print_speed: 15.0,
            extrusion_multiplier: 1.0,
            max_volumetric_speed: 15.0,
            soluble: false,
            purge_volume: 70.0,
            purge_volume_to: Default::default(),
            retract_length: -1.0,
        }
    }
}

impl Material {
    /// Purge volume (mm³) when switching from this material to `next`.
    pub fn purge_to(&self, next: &Material) -> f64 {
        self.purge_volume_to
            .get(&next.filament_type)
            .copied()
            .unwrap_or(self.purge_volume)
    }
}

/// Print (quality) settings.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Print {
    /// Human description.
    pub description: String,
    /// Layer height, mm.
    pub layer_height: f64,
    /// First layer height, mm.
    pub first_layer_height: f64,
    /// Wall loops.
    pub perimeters: usize,
    /// Solid layers under top surfaces.
    pub top_solid_layers: usize,
    /// Solid layers over bottom surfaces.
    pub bottom_solid_layers: usize,
    /// Sparse infill density, %.
    pub fill_density: f64,
    /// Sparse infill pattern.
    pub fill_pattern: InfillPattern,
    /// Infill direction, degrees.
    pub fill_angle: f64,
    /// Overlap of infill with the walls, % of the infill line width.
    pub infill_overlap: f64,
    /// Pattern of internal solid infill.
    pub solid_fill_pattern: SolidPattern,
    /// Pattern of top surfaces.
    pub top_fill_pattern: SolidPattern,
    /// Pattern of bottom surfaces.
    pub bottom_fill_pattern: SolidPattern,
    /// Default line width, mm (0: 1.125 × nozzle).
    pub extrusion_width: f64,
    /// First layer line width, mm (0: as `extrusion_width`).
    pub first_layer_extrusion_width: f64,
    /// Inner wall width, mm (0: default).
    pub perimeter_extrusion_width: f64,
    /// Outer wall width, mm (0: default).
    pub external_perimeter_extrusion_width: f64,
    /// Sparse infill width, mm (0: default).
    pub infill_extrusion_width: f64,
    /// Solid infill width, mm (0: default).
    pub solid_infill_extrusion_width: f64,
    /// Top surface width, mm (0: nozzle).
    pub top_infill_extrusion_width: f64,
    /// Support width, mm (0: nozzle).
    pub support_material_extrusion_width: f64,
    /// Print walls thinner than two lines as single lines of their width.
    pub thin_walls: bool,
    /// Fill gaps between walls.
    pub gap_fill: bool,
    /// Narrowest gap filled, mm.
    pub gap_fill_min_width: f64,
    /// Seam placement.
    pub seam_position: SeamPosition,
    /// Print the outer wall before the inner ones.
    pub external_perimeters_first: bool,
    /// Inner wall speed, mm/s.
    pub perimeter_speed: f64,
    /// Outer wall speed, mm/s.
    pub external_perimeter_speed: f64,
    /// Sparse infill speed, mm/s.
    pub infill_speed: f64,
    /// Solid infill speed, mm/s.
    pub solid_infill_speed: f64,
    /// Top surface speed, mm/s.
    pub top_solid_infill_speed: f64,
    /// Gap fill speed, mm/s.
    pub gap_fill_speed: f64,
    /// Bridge speed, mm/s.
    pub bridge_speed: f64,
    /// Support speed, mm/s.
    pub support_material_speed: f64,
    /// Support interface speed, mm/s.
    pub support_material_interface_speed: f64,
    /// Travel speed, mm/s.
    pub travel_speed: f64,
    /// First layer speed, mm/s.
    pub first_layer_speed: f64,
    /// Bridge flow ratio.
    pub bridge_flow_ratio: f64,
    /// Skirt loops (0: none).
    pub skirts: usize,
    /// Distance from the skirt to the part, mm.
    pub skirt_distance: f64,
    /// Skirt height, layers.
    pub skirt_height: usize,
    /// Minimum skirt length, mm of filament... of extrusion.
    pub min_skirt_length: f64,
    /// Brim width, mm (0: none unless automatic).
    pub brim_width: f64,
    /// Add a brim to small footprints (thin vessels standing on the bed).
    pub brim_auto: bool,
    /// Travel inside the part instead of crossing walls.
    pub avoid_crossing_perimeters: bool,
    /// Gaps up to this size (mm) in broken meshes' sections are closed.
    pub slice_closing_radius: f64,
    /// Islands smaller than this (mm²) are dropped.
    pub slice_min_area: f64,
    /// Outline simplification tolerance, mm (default [`DEFAULT_RESOLUTION`]).
    pub resolution: f64,
    /// Support style.
    pub support_material: SupportStyle,
    /// Overhang threshold, degrees from the horizontal: flatter surfaces get support.
    pub support_threshold: f64,
    /// Horizontal gap between support and model, mm.
    pub support_xy_gap: f64,
    /// Gap between the support's top and the model above, mm.
    pub support_top_z_gap: f64,
    /// Gap between the model below and support resting on it, mm.
    pub support_bottom_z_gap: f64,
    /// Dense interface layers at the top of support.
    pub support_interface_layers: usize,
    /// Dense interface layers at the bottom where support rests on the model.
    pub support_bottom_interface_layers: usize,
    /// Spacing of interface lines, mm (0: solid).
    pub support_interface_spacing: f64,
    /// Interface pattern.
    pub support_interface_pattern: SolidPattern,
    /// Spacing of support body lines, mm.
    pub support_base_spacing: f64,
    /// Support body pattern (lines, grid).
    pub support_base_pattern: InfillPattern,
    /// Support body line angle, degrees.
    pub support_base_angle: f64,
    /// Support only from the bed, never resting on the model.
    pub support_buildplate_only: bool,
    /// Support bridges too.
    pub support_bridges: bool,
    /// Overhangs smaller than this (mm²) get no support.
    pub support_min_area: f64,
    /// Support standing inside the model (lumens, sacs, cavities).
    pub support_inside: SupportInside,
    /// Gaps in the model narrower than twice this (mm) enclose what is inside them.
    pub support_enclosure_radius: f64,
    /// Tree: largest branch angle from vertical, degrees (steep enough for a branch to
    /// follow a 45° overhang down, so one tip holds many layers of it).
    pub tree_branch_angle: f64,
    /// Tree: tip diameter, mm.
    pub tree_tip_diameter: f64,
    /// Tree: largest branch diameter, mm.
    pub tree_branch_diameter: f64,
    /// Tree: diameter growth angle, degrees (branches thicken slowly: most merge
    /// before they need to).
    pub tree_diameter_growth: f64,
    /// Tree: spacing of contact tips, mm.
    pub tree_tip_spacing: f64,
    /// Tool printing the support body (0-based).
    pub support_tool: usize,
    /// Tool printing the support interface (0-based).
    pub support_interface_tool: usize,
    /// Soluble support on a dual-nozzle printer.
    pub soluble_support: SolubleMode,
    /// Horizontal gap kept by soluble support, mm: it may come close to the model
    /// (it dissolves away), so it reaches under sloping surfaces.
    pub soluble_xy_gap: f64,
    /// Print a prime tower when tools change.
    pub prime_tower: bool,
    /// Prime tower width, mm.
    pub prime_tower_width: f64,
    /// Prime tower position X, mm (negative: automatic).
    pub prime_tower_x: f64,
    /// Prime tower position Y, mm (negative: automatic).
    pub prime_tower_y: f64,
    /// Brim around the prime tower's first layer, mm.
    pub prime_tower_brim: f64,
    /// Material laid on the tower on layers without a tool change, mm³.
    pub prime_tower_min_purge: f64,
    /// Start reheating an idle tool this long before it is needed, s.
    pub standby_preheat_time: f64,
    /// Read each mesh as a vessel lumen and print the wall this thick round it, mm
    /// (0: print the mesh itself).
    pub vessel_wall: f64,
    /// Where a vessel wall ends open.
    pub vessel_open: VesselOpen,
}

impl Default for Print {
    fn default() -> Self {
        Print {
            description: String::new(),
            layer_height: 0.2,
            first_layer_height: 0.2,
            perimeters: 2,
            top_solid_layers: 4,
            bottom_solid_layers: 3,
            fill_density: 15.0,
            fill_pattern: InfillPattern::Gyroid,
            fill_angle: 45.0,
            infill_overlap: 25.0,
            solid_fill_pattern: SolidPattern::Rectilinear,
            top_fill_pattern: SolidPattern::Monotonic,
            bottom_fill_pattern: SolidPattern::Monotonic,
            extrusion_width: 0.0,
            first_layer_extrusion_width: 0.0,
            perimeter_extrusion_width: 0.0,
            external_perimeter_extrusion_width: 0.0,
            infill_extrusion_width: 0.0,
            solid_infill_extrusion_width: 0.0,
            top_infill_extrusion_width: 0.0,
            support_material_extrusion_width: 0.0,
            thin_walls: true,
            gap_fill: true,
            gap_fill_min_width: 0.1,
            seam_position: SeamPosition::Aligned,
            external_perimeters_first: false,
            perimeter_speed: 45.0,
            external_perimeter_speed: 25.0,
            infill_speed: 80.0,
            solid_infill_speed: 60.0,
            top_solid_infill_speed: 40.0,
            gap_fill_speed: 30.0,
            bridge_speed: 25.0,
            support_material_speed: 50.0,
            support_material_interface_speed: 35.0,
            travel_speed: 150.0,
            first_layer_speed: 20.0,
            bridge_flow_ratio: 0.9,
            skirts: 1,
            skirt_distance: 4.0,
            skirt_height: 1,
            min_skirt_length: 20.0,
            brim_width: 0.0,
            brim_auto: true,
            avoid_crossing_perimeters: true,
            slice_closing_radius: 1.0,
            slice_min_area: 0.01,
            resolution: DEFAULT_RESOLUTION,
            support_material: SupportStyle::None,
            support_threshold: 55.0,
            support_xy_gap: 0.6,
            support_top_z_gap: 0.2,
            support_bottom_z_gap: 0.2,
            support_interface_layers: 3,
            support_bottom_interface_layers: 0,
            support_interface_spacing: 0.2,
            support_interface_pattern: SolidPattern::Rectilinear,
            support_base_spacing: 2.0,
            support_base_pattern: InfillPattern::Lines,
            support_base_angle: 0.0,
            support_buildplate_only: false,
            support_bridges: true,
            support_min_area: 0.1,
            support_inside: SupportInside::Allow,
            support_enclosure_radius: 4.0,
            tree_branch_angle: 60.0,
            tree_tip_diameter: 0.8,
            tree_branch_diameter: 3.0,
            tree_diameter_growth: 1.0,
            tree_tip_spacing: 1.8,
            support_tool: 0,
            support_interface_tool: 0,
            soluble_support: SolubleMode::Off,
            soluble_xy_gap: 0.15,
            prime_tower: true,
            prime_tower_width: 15.0,
            prime_tower_x: -1.0,
            prime_tower_y: -1.0,
            prime_tower_brim: 3.0,
            prime_tower_min_purge: 15.0,
            standby_preheat_time: 30.0,
            vessel_wall: 0.0,
            vessel_open: VesselOpen::Auto,
        }
    }
}

/// Everything a slicing job uses.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Settings {
    /// The printer.
    pub printer: Printer,
    /// One material per tool.
    pub materials: Vec<Material>,
    /// Print settings.
    pub print: Print,
    /// Names of the profiles these came from (printer, materials, quality).
    pub names: ProfileNames,
}

/// Which profiles were used.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ProfileNames {
    /// Printer profile.
    pub printer: String,
    /// Material profile of each tool.
    pub materials: Vec<String>,
    /// Quality profile.
    pub quality: String,
}

/// What a line width is for (for [`Settings::line_width`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WidthRole {
    /// Outer wall.
    ExternalPerimeter,
    /// Inner walls.
    Perimeter,
    /// Sparse infill.
    Infill,
    /// Solid infill.
    SolidInfill,
    /// Top surfaces.
    TopInfill,
    /// Support.
    Support,
}

impl Settings {
    /// The first tool loaded with a soluble material, if any.
    pub fn soluble_tool(&self) -> Option<usize> {
        self.materials.iter().position(|m| m.soluble)
    }

    /// The material of `tool` (the first one's when out of range).
    pub fn material(&self, tool: usize) -> &Material {
        self.materials
            .get(tool)
            .or(self.materials.first())
            .expect("settings always hold at least one material")
    }

    /// The line width for `role` on `tool`, mm: the configured width, else 1.125 × the
    /// nozzle (1 × for top surfaces and support), as PrusaSlicer's automatic widths.
    pub fn line_width(&self, role: WidthRole, tool: usize, first_layer: bool) -> f64 {
        let p = &self.print;
        let nozzle = self.printer.nozzle(tool);
        let default = if p.extrusion_width > 0.0 {
            p.extrusion_width
        } else {
            1.125 * nozzle
        };
        if first_layer && p.first_layer_extrusion_width > 0.0 {
            return p.first_layer_extrusion_width;
        }
        let pick = |w: f64, fallback: f64| if w > 0.0 { w } else { fallback };
        match role {
            WidthRole::ExternalPerimeter => pick(p.external_perimeter_extrusion_width, default),
            WidthRole::Perimeter => pick(p.perimeter_extrusion_width, default),
            WidthRole::Infill => pick(p.infill_extrusion_width, default),
            WidthRole::SolidInfill => pick(p.solid_infill_extrusion_width, default),
            WidthRole::TopInfill => pick(p.top_infill_extrusion_width, nozzle),
            WidthRole::Support => pick(p.support_material_extrusion_width, nozzle),
        }
    }
}
