//! What the G-code writer and the estimator need to know about the printer, its tools
//! and the job: plain values, filled by the caller from the profiles.

use std::fmt;
use std::sync::Arc;

use serde::{Deserialize, Serialize};

use super::GcodeError;

/// The firmware the G-code is written for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
pub enum Flavor {
    /// Marlin 2 (and Prusa firmware): `M73` progress, `M201`-`M205` limits, `M207` retraction.
    #[default]
    Marlin,
    /// Klipper: `M73` progress, `SET_RETRACTION` for firmware retraction.
    Klipper,
    /// RepRapFirmware (Duet): no `M73`, limits in its own units.
    RepRapFirmware,
}

impl Flavor {
    /// Whether the firmware shows `M73 P R` progress.
    pub fn has_progress(self) -> bool {
        matches!(self, Flavor::Marlin | Flavor::Klipper)
    }
}

/// One spool: what the filament is, for extrusion amounts, weight and cost.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Filament {
    /// Filament diameter, mm.
    pub diameter: f64,
    /// Density, g/cm³ (PLA about 1.24, PVA about 1.23, PETG about 1.27).
    pub density: f64,
    /// Price per kilogram, in the caller's currency (0 when unknown).
    pub cost_per_kg: f64,
}

impl Default for Filament {
    /// 1.75 mm PLA of unknown price.
    fn default() -> Self {
        Filament {
            diameter: 1.75,
            density: 1.24,
            cost_per_kg: 0.0,
        }
    }
}

impl Filament {
    /// Cross-section of the filament, mm².
    ///
    /// ```
    /// let f = lamina::gcode::Filament::default();
    /// assert!((f.area() - std::f64::consts::PI * 0.875 * 0.875).abs() < 1e-12);
    /// ```
    pub fn area(&self) -> f64 {
        std::f64::consts::FRAC_PI_4 * self.diameter * self.diameter
    }
}

/// How a tool retracts, mm and mm/s.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Retraction {
    /// Filament pulled back before a travel, mm (0 disables retraction).
    pub length: f64,
    /// Retraction speed, mm/s.
    pub speed: f64,
    /// Speed of the unretraction (prime), mm/s; 0 means the retraction speed.
    pub deretract_speed: f64,
    /// Extra filament pushed after a travel, mm (may be negative).
    pub restart_extra: f64,
    /// Z-hop height for travels that ask for a lift, mm (0 disables it).
    pub lift: f64,
    /// Filament pulled back before a tool change, mm.
    pub length_toolchange: f64,
    /// Extra filament pushed when the tool is used again after a change, mm.
    pub restart_extra_toolchange: f64,
}

impl Default for Retraction {
    fn default() -> Self {
        Retraction {
            length: 0.8,
            speed: 35.0,
            deretract_speed: 0.0,
            restart_extra: 0.0,
            lift: 0.0,
            length_toolchange: 4.0,
            restart_extra_toolchange: 0.0,
        }
    }
}

impl Retraction {
    /// The unretraction speed, mm/s.
    pub fn prime_speed(&self) -> f64 {
        if self.deretract_speed > 0.0 {
            self.deretract_speed
        } else {
            self.speed
        }
    }
}

/// One extruder of the printer with the filament loaded in it.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct ToolConfig {
    /// The filament.
    pub filament: Filament,
    /// Extrusion multiplier of the material (1 = nominal).
    pub extrusion_multiplier: f64,
    /// Retraction settings.
    pub retraction: Retraction,
    /// Position of this tool's nozzle relative to tool 0's, mm (X, Y). The writer
    /// subtracts it from every position printed with the tool, unless the firmware
    /// applies tool offsets itself ([`GcodeJob::firmware_tool_offsets`]).
    pub offset: [f64; 2],
}

impl Default for ToolConfig {
    /// 1.75 mm PLA, multiplier 1, default retraction, no offset.
    fn default() -> Self {
        ToolConfig::with_filament(Filament::default())
    }
}

impl ToolConfig {
    /// A tool with the given filament and default retraction, multiplier 1.
    pub fn with_filament(filament: Filament) -> Self {
        ToolConfig {
            filament,
            extrusion_multiplier: 1.0,
            retraction: Retraction::default(),
            offset: [0.0, 0.0],
        }
    }
}

/// The motion limits of the printer, as its firmware's planner applies them. The
/// defaults are Marlin 2's stock `Configuration.h` values.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct MachineConfig {
    /// Maximum feedrate per axis X, Y, Z, E, mm/s (`M203`).
    pub max_feedrate: [f64; 4],
    /// Maximum acceleration per axis X, Y, Z, E, mm/s² (`M201`).
    pub max_acceleration: [f64; 4],
    /// Acceleration of printing moves, mm/s² (`M204 P`).
    pub acceleration: f64,
    /// Acceleration of retractions (moves of E alone), mm/s² (`M204 R`).
    pub retract_acceleration: f64,
    /// Acceleration of travels, mm/s² (`M204 T`).
    pub travel_acceleration: f64,
    /// Classic jerk per axis X, Y, Z, E, mm/s (`M205 X Y Z E`); used when
    /// `junction_deviation` is 0.
    pub jerk: [f64; 4],
    /// Junction deviation, mm (`M205 J`); 0 selects classic jerk.
    pub junction_deviation: f64,
    /// Minimum feedrate of printing moves, mm/s (`M205 S`).
    pub minimum_feedrate: f64,
    /// Minimum feedrate of travels, mm/s (`M205 T`).
    pub minimum_travel_feedrate: f64,
    /// Moves the firmware plans ahead (Marlin's `BLOCK_BUFFER_SIZE`, at least 2).
    pub planner_queue: usize,
    /// Time a tool change takes beyond its moves, s.
    pub tool_change_time: f64,
    /// Hotend heating rate, °C/s, for the time `M109` waits (0: waits take no time).
    pub heating_rate: f64,
    /// Hotend cooling rate, °C/s, for waits on a cooler target (0: no time).
    pub cooling_rate: f64,
    /// Klipper's motion model, when the firmware is Klipper: it replaces junction
    /// deviation and jerk, and one acceleration serves printing and travel.
    pub klipper: Option<KlipperMotion>,
}

/// Klipper's toolhead limits (`[printer]` section, `SET_VELOCITY_LIMIT`).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct KlipperMotion {
    /// Toolhead speed limit, mm/s (`max_velocity`, `VELOCITY=`): on the XYZ speed,
    /// not per axis.
    pub max_velocity: f64,
    /// Speed through a 90° corner, mm/s (`square_corner_velocity`); other corners
    /// follow from it as Klipper's "approximated centripetal velocity".
    pub square_corner_velocity: f64,
    /// Share of a move that cruises when it accelerates and then brakes
    /// (`minimum_cruise_ratio`, 0.5 by default; `1 - max_accel_to_decel / accel`).
    pub minimum_cruise_ratio: f64,
}

impl Default for KlipperMotion {
    /// Klipper's defaults (`square_corner_velocity: 5`, `minimum_cruise_ratio: 0.5`).
    fn default() -> Self {
        KlipperMotion {
            max_velocity: 300.0,
            square_corner_velocity: 5.0,
            minimum_cruise_ratio: 0.5,
        }
    }
}

impl Default for MachineConfig {
    fn default() -> Self {
        MachineConfig {
            max_feedrate: [300.0, 300.0, 5.0, 25.0],
            max_acceleration: [3000.0, 3000.0, 100.0, 10000.0],
            acceleration: 3000.0,
            retract_acceleration: 3000.0,
            travel_acceleration: 3000.0,
            jerk: [10.0, 10.0, 0.3, 5.0],
            junction_deviation: 0.013,
            minimum_feedrate: 0.0,
            minimum_travel_feedrate: 0.0,
            planner_queue: 16,
            tool_change_time: 0.0,
            heating_rate: 0.0,
            cooling_rate: 0.0,
            klipper: None,
        }
    }
}

/// A preview picture embedded in the G-code for printer screens and OctoPrint.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Thumbnail {
    /// Width, pixels.
    pub width: u32,
    /// Height, pixels.
    pub height: u32,
    /// The PNG file's bytes.
    pub png: Vec<u8>,
}

/// Where the writer asks for per-event G-code.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum GcodeHook {
    /// Before a layer's `;LAYER_CHANGE` (PrusaSlicer's `before_layer_gcode`).
    BeforeLayer,
    /// After the layer's Z move (PrusaSlicer's `layer_gcode`).
    AfterLayer,
    /// A change of tool, before `T<next>`.
    ToolChange {
        /// The tool being left.
        previous_tool: usize,
        /// The tool being taken.
        next_tool: usize,
    },
}

/// The moment a [`TemplateRenderer`] renders G-code for.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct HookContext {
    /// Which hook.
    pub hook: GcodeHook,
    /// Layer number (0 = first layer).
    pub layer_num: usize,
    /// Layer Z, mm.
    pub layer_z: f64,
}

/// Renders the G-code of a hook (the caller's profile templates with the hook's
/// values filled in); an `Err` message stops the job.
///
/// ```
/// use lamina::gcode::{GcodeHook, TemplateRenderer};
/// let r = TemplateRenderer::new(|c| match c.hook {
///     GcodeHook::ToolChange { next_tool, .. } => Ok(format!("G1 Z{} F600\nT{next_tool}", c.layer_z + 2.0)),
///     _ => Ok(String::new()),
/// });
/// ```
#[derive(Clone)]
pub struct TemplateRenderer(Arc<RenderFn>);

/// The rendering function behind a [`TemplateRenderer`].
type RenderFn = dyn Fn(&HookContext) -> Result<String, String> + Send + Sync;

impl TemplateRenderer {
    /// Wrap a rendering function.
    pub fn new(f: impl Fn(&HookContext) -> Result<String, String> + Send + Sync + 'static) -> Self {
        TemplateRenderer(Arc::new(f))
    }

    /// Render one hook.
    pub fn render(&self, ctx: &HookContext) -> Result<String, String> {
        (self.0)(ctx)
    }
}

impl fmt::Debug for TemplateRenderer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("TemplateRenderer(..)")
    }
}

impl PartialEq for TemplateRenderer {
    fn eq(&self, other: &Self) -> bool {
        Arc::ptr_eq(&self.0, &other.0)
    }
}

/// Everything about a print job the G-code writer needs besides the layer plans.
///
/// ```
/// use lamina::gcode::{GcodeJob, ToolConfig, Filament};
/// let mut job = GcodeJob::default();
/// job.relative_e = false;
/// job.start_gcode = "G28\nM109 S215".into();
/// job.tools = vec![ToolConfig::default(), ToolConfig::with_filament(Filament { diameter: 1.75, density: 1.23, cost_per_kg: 90.0 })];
/// assert!(job.validate().is_ok());
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct GcodeJob {
    /// Firmware flavor.
    pub flavor: Flavor,
    /// Relative E (`M83`) or absolute E (`M82`, reset with `G92 E0` at each layer).
    pub relative_e: bool,
    /// Retract with the firmware's `G10`/`G11` instead of E moves.
    pub firmware_retraction: bool,
    /// The firmware shifts positions by the tool offsets itself after `T<n>`.
    pub firmware_tool_offsets: bool,
    /// Write the machine limits (`M201`-`M205`) so the printer runs as estimated
    /// (Marlin only: Klipper and RepRapFirmware take limits from their own config).
    pub emit_machine_limits: bool,
    /// Speed of Z moves at layer changes and lifts, mm/s.
    pub travel_speed_z: f64,
    /// The tools, tool 0 first; a plan's tool numbers index this list.
    pub tools: Vec<ToolConfig>,
    /// Motion limits for the estimate (and `emit_machine_limits`).
    pub machine: MachineConfig,
    /// Start G-code, rendered.
    pub start_gcode: String,
    /// End G-code, rendered.
    pub end_gcode: String,
    /// Tool-change G-code template written before `T<n>` when no `renderer` is set;
    /// the writer replaces `{previous_tool}`, `{next_tool}` (also
    /// `{previous_extruder}`, `{next_extruder}`), `{layer_num}` and `{layer_z}`. When
    /// the G-code contains the `T<next>` line itself, the writer does not add one.
    pub toolchange_gcode: String,
    /// Renders the hooks' G-code (before and after each layer change, each tool
    /// change); when set, it replaces `toolchange_gcode`.
    pub renderer: Option<TemplateRenderer>,
    /// Version written in the header (`; generated by lamina <version>`).
    pub version: String,
    /// Date written in the header; `None` writes the current UTC time.
    pub timestamp: Option<String>,
    /// Names of the models in the job, for the header.
    pub models: Vec<String>,
    /// Each model's footprint on the bed (a convex polygon, mm), for Klipper's
    /// `EXCLUDE_OBJECT_DEFINE`; empty when not known.
    pub object_outlines: Vec<Vec<[f64; 2]>>,
    /// Extra header lines (support figures, profile names), written as `; <line>`.
    pub extra_header: Vec<String>,
    /// The settings used, `key = value` per line, written as the closing block.
    pub settings: String,
    /// Thumbnails written after the first header line.
    pub thumbnails: Vec<Thumbnail>,
}

impl Default for GcodeJob {
    fn default() -> Self {
        GcodeJob {
            flavor: Flavor::Marlin,
            relative_e: true,
            firmware_retraction: false,
            firmware_tool_offsets: false,
            emit_machine_limits: false,
            travel_speed_z: 12.0,
            tools: vec![ToolConfig::default()],
            machine: MachineConfig::default(),
            start_gcode: String::new(),
            end_gcode: String::new(),
            toolchange_gcode: String::new(),
            renderer: None,
            version: env!("CARGO_PKG_VERSION").to_string(),
            timestamp: None,
            models: Vec::new(),
            object_outlines: Vec::new(),
            extra_header: Vec::new(),
            settings: String::new(),
            thumbnails: Vec::new(),
        }
    }
}

impl GcodeJob {
    /// Check the settings: at least one tool, positive finite sizes and speeds.
    pub fn validate(&self) -> Result<(), GcodeError> {
        if self.tools.is_empty() {
            return Err(GcodeError::NoTools);
        }
        let z = self.travel_speed_z;
        if !(z > 0.0 && z.is_finite()) {
            return Err(GcodeError::InvalidSetting {
                what: "Z travel speed",
                value: z,
            });
        }
        for (i, t) in self.tools.iter().enumerate() {
            let check = |what: &'static str, v: f64, ok: bool| {
                if ok && v.is_finite() {
                    Ok(())
                } else {
                    Err(GcodeError::InvalidToolSetting {
                        tool: i,
                        what,
                        value: v,
                    })
                }
            };
            let f = &t.filament;
            check("filament diameter", f.diameter, f.diameter > 0.0)?;
            check("filament density", f.density, f.density >= 0.0)?;
            check("filament cost", f.cost_per_kg, f.cost_per_kg >= 0.0)?;
            let m = t.extrusion_multiplier;
            check("extrusion multiplier", m, m > 0.0)?;
            let r = &t.retraction;
            check("retraction length", r.length, r.length >= 0.0)?;
            check(
                "retraction speed",
                r.speed,
                r.speed > 0.0 || r.length == 0.0,
            )?;
            check(
                "deretraction speed",
                r.deretract_speed,
                r.deretract_speed >= 0.0,
            )?;
            check("retraction restart extra", r.restart_extra, true)?;
            check("lift", r.lift, r.lift >= 0.0)?;
            let lt = r.length_toolchange;
            check(
                "tool-change retraction",
                lt,
                lt >= 0.0 && (lt == 0.0 || r.speed > 0.0),
            )?;
            check(
                "tool-change restart extra",
                r.restart_extra_toolchange,
                true,
            )?;
            check("offset X", t.offset[0], true)?;
            check("offset Y", t.offset[1], true)?;
        }
        self.machine.validate()
    }
}

impl MachineConfig {
    /// Check the limits: positive finite feedrates and accelerations.
    pub fn validate(&self) -> Result<(), GcodeError> {
        let bad = |what: &'static str, value: f64| Err(GcodeError::InvalidSetting { what, value });
        for a in 0..4 {
            if !(self.max_feedrate[a] > 0.0 && self.max_feedrate[a].is_finite()) {
                return bad("maximum feedrate", self.max_feedrate[a]);
            }
            if !(self.max_acceleration[a] > 0.0 && self.max_acceleration[a].is_finite()) {
                return bad("maximum acceleration", self.max_acceleration[a]);
            }
            if !(self.jerk[a] >= 0.0 && self.jerk[a].is_finite()) {
                return bad("jerk", self.jerk[a]);
            }
        }
        for (what, v) in [
            ("acceleration", self.acceleration),
            ("retract acceleration", self.retract_acceleration),
            ("travel acceleration", self.travel_acceleration),
        ] {
            if !(v > 0.0 && v.is_finite()) {
                return bad(what, v);
            }
        }
        for (what, v) in [
            ("junction deviation", self.junction_deviation),
            ("minimum feedrate", self.minimum_feedrate),
            ("minimum travel feedrate", self.minimum_travel_feedrate),
            ("tool change time", self.tool_change_time),
            ("heating rate", self.heating_rate),
            ("cooling rate", self.cooling_rate),
        ] {
            if !(v >= 0.0 && v.is_finite()) {
                return bad(what, v);
            }
        }
        if self.planner_queue < 2 {
            return bad("planner queue", self.planner_queue as f64);
        }
        if let Some(k) = self.klipper {
            if !(k.max_velocity > 0.0 && k.max_velocity.is_finite()) {
                return bad("maximum velocity", k.max_velocity);
            }
            if !(k.square_corner_velocity >= 0.0 && k.square_corner_velocity.is_finite()) {
                return bad("square corner velocity", k.square_corner_velocity);
            }
            if !(0.0..1.0).contains(&k.minimum_cruise_ratio) {
                return bad("minimum cruise ratio", k.minimum_cruise_ratio);
            }
        }
        Ok(())
    }
}
