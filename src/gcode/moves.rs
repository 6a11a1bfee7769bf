//! The machine moves of a job, generated once from the layer plans for both the writer
//! and the estimator, so the estimate is the time of exactly what is written.
//!
//! Positions are machine coordinates in integer micrometres and E amounts in integer
//! units of 10 nm of filament: the resolution the G-code is written at. Extrusion
//! amounts are accumulated exactly per layer and rounded once, so the written E of a
//! layer never drifts from its true amount, in absolute and relative E alike.

use crate::geom::{Point, SCALE};
use crate::path::{Role, bead_area};
use crate::plan::{LayerPlan, Step};

use super::GcodeError;
use super::config::{GcodeHook, GcodeJob, HookContext, ToolConfig};
use super::read::{Code, Command, lex};

/// Decimals of X, Y and Z in the G-code (micrometres).
pub const XYZ_DECIMALS: u32 = 3;
/// Decimals of `;WIDTH:` and `;HEIGHT:` values.
pub const WIDTH_DECIMALS: u32 = 4;
/// Decimals of E in the G-code.
pub const E_DECIMALS: u32 = 5;
/// Integer position units per millimetre.
pub const XYZ_UNITS: f64 = 1_000.0;
/// Integer E units per millimetre of filament.
pub const E_UNITS: f64 = 100_000.0;
/// Geometry units (nanometres) per position unit (micrometre).
const NM_PER_UNIT: i64 = (SCALE / XYZ_UNITS) as i64;

/// Bit of an axis (or the feedrate) written in a move.
pub const AXIS_X: u8 = 1;
/// Y is written.
pub const AXIS_Y: u8 = 2;
/// Z is written.
pub const AXIS_Z: u8 = 4;
/// E is written.
pub const AXIS_E: u8 = 8;
/// F is written.
pub const AXIS_F: u8 = 16;

/// What a move is for (the writer formats firmware retractions as `G10`/`G11`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MoveKind {
    /// Positioning without extrusion.
    Travel,
    /// Printing.
    Extrude,
    /// Moving while retracting.
    Wipe,
    /// E alone, backwards.
    Retract,
    /// E alone, forwards.
    Unretract,
    /// Z up before a travel.
    Lift,
    /// Z back down before printing.
    Lower,
    /// Z to a new layer.
    LayerZ,
    /// `G10`: the firmware retracts (by `e`, at `feed`).
    FirmwareRetract,
    /// `G11`: the firmware unretracts (by `e`, at `feed`).
    FirmwareUnretract,
}

/// One machine move.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Move {
    /// Target X, Y, Z in micrometres (machine coordinates).
    pub x: i64,
    /// Target Y, µm.
    pub y: i64,
    /// Target Z, µm.
    pub z: i64,
    /// Filament pushed (negative: pulled), in [`E_UNITS`].
    pub e: i64,
    /// Feedrate, mm/min.
    pub feed: u32,
    /// Which of X, Y, Z, E, F to write ([`AXIS_X`] ...).
    pub axes: u8,
    /// What the move is for.
    pub kind: MoveKind,
}

/// Something that happens in the job, in order.
#[derive(Debug, Clone, Copy)]
pub enum Event<'a> {
    /// G-code text to pass through (start, end, tool-change, custom).
    Custom(&'a str),
    /// After the start G-code: units, absolute XYZ, the E mode.
    Preamble,
    /// Firmware retraction settings of a tool (`M207`/`M208` or equivalent).
    FirmwareRetraction(&'a ToolConfig),
    /// A layer begins (before its Z move).
    LayerStart(&'a LayerPlan),
    /// The layer's Z move is done.
    LayerReady(usize),
    /// The role of the extrusions that follow changes.
    Role(Role),
    /// The line width that follows changes, mm.
    Width(f64),
    /// The line height that follows changes, mm.
    Height(f64),
    /// A move.
    Move(Move),
    /// Part-cooling fan, percent.
    Fan(u8),
    /// A hotend target.
    Temperature {
        /// Tool.
        tool: usize,
        /// °C.
        celsius: f64,
        /// Wait until reached.
        wait: bool,
        /// Lower than the tool's previous target.
        cooling: bool,
    },
    /// Select a tool; `write_t` is false when the tool-change G-code already did.
    ToolChange {
        /// The new tool.
        tool: usize,
        /// Whether `T<n>` must be written.
        write_t: bool,
    },
    /// `G92 E0` (absolute E only).
    ResetE,
    /// The paths that follow belong to model N, or to none.
    Object(Option<usize>),
    /// The end of the job begins (before the final retraction and end G-code).
    End,
}

/// Receives the events of a job.
pub trait Sink {
    /// Handle one event.
    fn event(&mut self, ev: Event<'_>) -> Result<(), GcodeError>;
}

impl<S: Sink + ?Sized> Sink for &mut S {
    fn event(&mut self, ev: Event<'_>) -> Result<(), GcodeError> {
        (**self).event(ev)
    }
}

/// A sink that may be absent: events go nowhere then.
impl<S: Sink> Sink for Option<S> {
    fn event(&mut self, ev: Event<'_>) -> Result<(), GcodeError> {
        match self {
            Some(s) => s.event(ev),
            None => Ok(()),
        }
    }
}

/// Two sinks fed the same events, the first first.
impl<A: Sink, B: Sink> Sink for (A, B) {
    fn event(&mut self, ev: Event<'_>) -> Result<(), GcodeError> {
        self.0.event(ev)?;
        self.1.event(ev)
    }
}

#[derive(Debug, Clone, Copy, Default)]
struct ToolState {
    /// Filament currently retracted, E units.
    retracted: i64,
    /// Extra filament to push at the next unretraction, E units.
    extra: i64,
}

/// Turns layer plans into events, one layer at a time (see [`generate`]).
pub(crate) struct Generator<'a, S: Sink> {
    job: &'a GcodeJob,
    sink: S,
    pos: [i64; 3],
    known: [bool; 3],
    feed: Option<u32>,
    tool: Option<usize>,
    tools: Vec<ToolState>,
    /// Whether each tool has printed.
    used: Vec<bool>,
    /// Tool offsets the writer applies, µm.
    offsets: Vec<[i64; 2]>,
    targets: Vec<Option<f64>>,
    lifted: i64,
    layer_z: i64,
    layer: usize,
    e_units: i64,
    e_exact: f64,
    /// The firmware's E is known to be 0 (no E written since the last reset).
    e_clean: bool,
    role: Option<Role>,
    width: f64,
    height: f64,
    fan: Option<u8>,
    z_feed: u32,
}

/// Millimetres to integer units of `per_mm`, rounded.
#[inline]
fn to_units(mm: f64, per_mm: f64) -> i64 {
    (mm * per_mm).round() as i64
}

/// Speed in mm/s to a written feedrate in mm/min (at least 1).
#[inline]
fn feed_of(speed: f64) -> u32 {
    (speed * 60.0).round().clamp(1.0, u32::MAX as f64) as u32
}

/// Nanometres to micrometres, rounding halves up.
#[inline]
fn nm_to_um(v: i64) -> i64 {
    (v + NM_PER_UNIT / 2).div_euclid(NM_PER_UNIT)
}

/// Generate the events of a job: start G-code, preamble, every layer's moves and state
/// changes, the final retraction and the end G-code.
pub fn generate<S: Sink>(
    job: &GcodeJob,
    plans: &[LayerPlan],
    sink: &mut S,
) -> Result<(), GcodeError> {
    let mut g = Generator::new(job, sink)?;
    for plan in plans {
        g.layer(plan)?;
    }
    g.finish().map(|_| ())
}

impl<'a, S: Sink> Generator<'a, S> {
    /// Check the job and send the start of it (start G-code, preamble) to `sink`.
    pub(crate) fn new(job: &'a GcodeJob, sink: S) -> Result<Self, GcodeError> {
        job.validate()?;
        let offsets = job
            .tools
            .iter()
            .map(|t| {
                if job.firmware_tool_offsets {
                    [0, 0]
                } else {
                    [
                        to_units(t.offset[0], XYZ_UNITS),
                        to_units(t.offset[1], XYZ_UNITS),
                    ]
                }
            })
            .collect();
        let mut g = Generator {
            job,
            sink,
            pos: [0; 3],
            known: [false; 3],
            feed: None,
            tool: None,
            tools: vec![ToolState::default(); job.tools.len()],
            used: vec![false; job.tools.len()],
            offsets,
            targets: vec![None; job.tools.len()],
            lifted: 0,
            layer_z: 0,
            layer: 0,
            e_units: 0,
            e_exact: 0.0,
            e_clean: false,
            role: None,
            width: f64::NAN,
            height: f64::NAN,
            fan: None,
            z_feed: feed_of(job.travel_speed_z),
        };
        g.start()?;
        Ok(g)
    }

    /// Send the end of the job (final retraction, end G-code); the sink comes back.
    pub(crate) fn finish(mut self) -> Result<S, GcodeError> {
        self.end()?;
        Ok(self.sink)
    }
}

impl<S: Sink> Generator<'_, S> {
    fn tool_index(&self) -> usize {
        self.tool.unwrap_or(0)
    }

    fn tool_config(&self) -> &ToolConfig {
        &self.job.tools[self.tool_index()]
    }

    /// Pass G-code text through, then start from a known E again.
    fn custom(&mut self, text: &str) -> Result<(), GcodeError> {
        if self.passthrough_within(text)? {
            self.forget_position()?;
        }
        Ok(())
    }

    /// Pass G-code text through (if not blank); returns whether anything was written.
    fn passthrough(&mut self, text: &str) -> Result<bool, GcodeError> {
        if text.trim().is_empty() {
            return Ok(false);
        }
        self.sink.event(Event::Custom(text))?;
        Ok(true)
    }

    /// Pass G-code text that lamina's moves follow through: when it sets the
    /// coordinates' mode (`G90`/`G91`), the job's E mode is written again after it. On
    /// Marlin 2 a `G90` makes E absolute again, and the job's relative E distances would
    /// be read as positions.
    fn passthrough_within(&mut self, text: &str) -> Result<bool, GcodeError> {
        if !self.passthrough(text)? {
            return Ok(false);
        }
        if commands(text).any(|c| c.is(b'G', 90) || c.is(b'G', 91)) {
            self.sink.event(Event::Custom(if self.job.relative_e {
                E_RELATIVE_AGAIN
            } else {
                E_ABSOLUTE_AGAIN
            }))?;
        }
        Ok(true)
    }

    /// After G-code we did not generate: where the head is and what F is are unknown,
    /// and absolute E starts again from zero.
    fn forget_position(&mut self) -> Result<(), GcodeError> {
        self.known = [false; 3];
        self.feed = None;
        self.e_clean = false;
        self.reset_e()
    }

    fn reset_e(&mut self) -> Result<(), GcodeError> {
        if !self.job.relative_e && !self.e_clean {
            self.sink.event(Event::ResetE)?;
        }
        self.e_clean = true;
        self.e_units = 0;
        self.e_exact = 0.0;
        Ok(())
    }

    fn start(&mut self) -> Result<(), GcodeError> {
        let start = self.job.start_gcode.as_str();
        self.passthrough(start)?;
        self.sink.event(Event::Preamble)?;
        if self.job.firmware_retraction {
            self.sink
                .event(Event::FirmwareRetraction(&self.job.tools[0]))?;
        }
        self.forget_position()
    }

    fn end(&mut self) -> Result<(), GcodeError> {
        self.sink.event(Event::End)?;
        let length = self.tool_config().retraction.length;
        self.retract(length, false)?;
        if self.fan.is_some_and(|f| f > 0) {
            self.fan = Some(0);
            self.sink.event(Event::Fan(0))?;
        }
        let end = self.job.end_gcode.as_str();
        self.passthrough(end).map(|_| ())
    }

    /// Emit a move to `target` pushing `e` units. Only the axes the kind of move
    /// drives are considered (Z alone for lifts and layer changes, none for
    /// retractions), and of those only what changed or is unknown is written.
    fn emit(
        &mut self,
        kind: MoveKind,
        target: [i64; 3],
        e: i64,
        feed: u32,
    ) -> Result<(), GcodeError> {
        let driven: &[usize] = match kind {
            MoveKind::Travel | MoveKind::Extrude | MoveKind::Wipe => &[0, 1, 2],
            MoveKind::Lift | MoveKind::Lower | MoveKind::LayerZ => &[2],
            MoveKind::Retract
            | MoveKind::Unretract
            | MoveKind::FirmwareRetract
            | MoveKind::FirmwareUnretract => &[],
        };
        const BITS: [u8; 3] = [AXIS_X, AXIS_Y, AXIS_Z];
        let mut axes = 0;
        for &a in driven {
            if !self.known[a] || self.pos[a] != target[a] {
                axes |= BITS[a];
            }
        }
        let firmware = matches!(
            kind,
            MoveKind::FirmwareRetract | MoveKind::FirmwareUnretract
        );
        if firmware {
            axes = 0;
        } else {
            if e != 0 {
                axes |= AXIS_E;
            }
            if axes == 0 {
                return Ok(());
            }
            if self.feed != Some(feed) {
                axes |= AXIS_F;
                self.feed = Some(feed);
            }
            for &a in driven {
                self.pos[a] = target[a];
                self.known[a] = true;
            }
            // The firmware's own retraction does not change the E coordinate.
            self.e_units += e;
            self.e_clean &= e == 0;
            self.e_exact += e as f64 / E_UNITS;
        }
        self.sink.event(Event::Move(Move {
            x: self.pos[0],
            y: self.pos[1],
            z: self.pos[2],
            e,
            feed,
            axes,
            kind,
        }))
    }

    /// Machine position of a plan point for the active tool, µm.
    fn machine_xy(&self, p: Point) -> [i64; 2] {
        let o = self.offsets[self.tool_index()];
        [nm_to_um(p.x) - o[0], nm_to_um(p.y) - o[1]]
    }

    fn z(&self) -> i64 {
        self.layer_z + self.lifted
    }

    /// Retract the active tool to `length` mm (no-op if it is already retracted that far).
    fn retract(&mut self, length: f64, toolchange: bool) -> Result<(), GcodeError> {
        let t = self.tool_index();
        let r = self.job.tools[t].retraction;
        let target = to_units(length, E_UNITS);
        let state = self.tools[t];
        if target <= 0 || state.retracted >= target {
            return Ok(());
        }
        let extra = if toolchange {
            r.restart_extra_toolchange
        } else {
            r.restart_extra
        };
        let pos = [self.pos[0], self.pos[1], self.pos[2]];
        if self.job.firmware_retraction {
            if state.retracted > 0 {
                return Ok(());
            }
            let e = to_units(r.length, E_UNITS);
            self.emit(MoveKind::FirmwareRetract, pos, -e, feed_of(r.speed))?;
            self.tools[t] = ToolState {
                retracted: e,
                extra: to_units(r.restart_extra, E_UNITS),
            };
            return Ok(());
        }
        self.emit(
            MoveKind::Retract,
            pos,
            -(target - state.retracted),
            feed_of(r.speed),
        )?;
        self.tools[t] = ToolState {
            retracted: target,
            extra: to_units(extra, E_UNITS),
        };
        Ok(())
    }

    /// Push back what was retracted, plus the restart extra.
    fn unretract(&mut self) -> Result<(), GcodeError> {
        let t = self.tool_index();
        let state = self.tools[t];
        if state.retracted <= 0 {
            return Ok(());
        }
        let r = self.job.tools[t].retraction;
        let kind = if self.job.firmware_retraction {
            MoveKind::FirmwareUnretract
        } else {
            MoveKind::Unretract
        };
        let pos = self.pos;
        self.emit(
            kind,
            pos,
            state.retracted + state.extra,
            feed_of(r.prime_speed()),
        )?;
        self.tools[t] = ToolState::default();
        Ok(())
    }

    /// Send the events of the next layer.
    pub(crate) fn layer(&mut self, plan: &LayerPlan) -> Result<(), GcodeError> {
        self.layer = plan.index;
        let bad = |what: &'static str, value: f64| GcodeError::InvalidValue {
            layer: plan.index,
            what,
            value,
        };
        if !plan.z.is_finite() || plan.z < 0.0 {
            return Err(bad("layer Z", plan.z));
        }
        if !(plan.height > 0.0 && plan.height.is_finite()) {
            return Err(bad("layer height", plan.height));
        }
        self.layer_z = to_units(plan.z, XYZ_UNITS);
        if let Some(text) = self.render(GcodeHook::BeforeLayer)? {
            self.custom(&text)?;
        }
        self.sink.event(Event::LayerStart(plan))?;
        self.reset_e()?;
        self.role = None;
        self.width = f64::NAN;
        self.height = plan.height;
        let (x, y, z) = (self.pos[0], self.pos[1], self.z());
        let feed = self.z_feed;
        self.emit(MoveKind::LayerZ, [x, y, z], 0, feed)?;
        self.sink.event(Event::LayerReady(plan.index))?;
        if let Some(text) = self.render(GcodeHook::AfterLayer)? {
            self.custom(&text)?;
        }
        for step in &plan.steps {
            self.step(step)?;
        }
        Ok(())
    }

    fn step(&mut self, step: &Step) -> Result<(), GcodeError> {
        let layer = self.layer;
        let bad = |what: &'static str, value: f64| GcodeError::InvalidValue { layer, what, value };
        let speed_ok = |s: f64| s > 0.0 && s.is_finite();
        match step {
            Step::Travel {
                to,
                speed,
                retract,
                lift,
            } => {
                if !speed_ok(*speed) {
                    return Err(bad("travel speed", *speed));
                }
                self.travel(*to, *speed, *retract, *lift)
            }
            Step::Extrude {
                role,
                points,
                width,
                height,
                speed,
                flow,
            } => {
                if !speed_ok(*speed) {
                    return Err(bad("print speed", *speed));
                }
                if !(*width > 0.0 && width.is_finite()) {
                    return Err(bad("line width", *width));
                }
                if !(*height > 0.0 && height.is_finite()) {
                    return Err(bad("line height", *height));
                }
                if !(*flow >= 0.0 && flow.is_finite()) {
                    return Err(bad("flow", *flow));
                }
                self.extrude(*role, points, *width, *height, *speed, *flow)
            }
            Step::Wipe { points, speed } => {
                if !speed_ok(*speed) {
                    return Err(bad("wipe speed", *speed));
                }
                self.wipe(points, *speed)
            }
            Step::Fan(pct) => {
                let pct = (*pct).min(100);
                if self.fan != Some(pct) {
                    self.fan = Some(pct);
                    self.sink.event(Event::Fan(pct))?;
                }
                Ok(())
            }
            Step::Temperature {
                tool,
                celsius,
                wait,
            } => {
                if *tool >= self.job.tools.len() {
                    return Err(self.unknown_tool(*tool));
                }
                if !(celsius.is_finite() && *celsius >= 0.0) {
                    return Err(bad("temperature", *celsius));
                }
                let previous = self.targets[*tool].replace(*celsius);
                self.sink.event(Event::Temperature {
                    tool: *tool,
                    celsius: *celsius,
                    wait: *wait,
                    cooling: previous.is_some_and(|p| *celsius < p),
                })
            }
            Step::ToolChange { tool } => self.tool_change(*tool),
            Step::Custom(text) => self.custom(text),
            Step::Object(o) => self.sink.event(Event::Object(*o)),
        }
    }

    /// The caller's G-code for a hook, if it renders hooks.
    fn render(&self, hook: GcodeHook) -> Result<Option<String>, GcodeError> {
        let Some(r) = &self.job.renderer else {
            return Ok(None);
        };
        let ctx = HookContext {
            hook,
            layer_num: self.layer,
            layer_z: self.layer_z as f64 / XYZ_UNITS,
        };
        r.render(&ctx)
            .map(Some)
            .map_err(|message| GcodeError::Template {
                layer: self.layer,
                hook: match hook {
                    GcodeHook::BeforeLayer => "before-layer",
                    GcodeHook::AfterLayer => "after-layer",
                    GcodeHook::ToolChange { .. } => "tool-change",
                },
                message,
            })
    }

    fn unknown_tool(&self, tool: usize) -> GcodeError {
        GcodeError::UnknownTool {
            layer: self.layer,
            tool,
            tools: self.job.tools.len(),
        }
    }

    fn travel(
        &mut self,
        to: Point,
        speed: f64,
        retract: bool,
        lift: bool,
    ) -> Result<(), GcodeError> {
        let [x, y] = self.machine_xy(to);
        if retract {
            let r = self.tool_config().retraction;
            self.retract(r.length, false)?;
            if lift && r.lift > 0.0 && self.lifted == 0 {
                self.lifted = to_units(r.lift, XYZ_UNITS);
                let target = [self.pos[0], self.pos[1], self.z()];
                let feed = self.z_feed;
                self.emit(MoveKind::Lift, target, 0, feed)?;
            }
        }
        let z = self.z();
        self.emit(MoveKind::Travel, [x, y, z], 0, feed_of(speed))
    }

    fn extrude(
        &mut self,
        role: Role,
        points: &[Point],
        width: f64,
        height: f64,
        speed: f64,
        flow: f64,
    ) -> Result<(), GcodeError> {
        let Some(first) = points.first() else {
            return Ok(());
        };
        if points.len() < 2 {
            return Ok(());
        }
        let start = self.machine_xy(*first);
        if !self.known[0] || !self.known[1] || [self.pos[0], self.pos[1]] != start {
            // The plan expects to be here already; get here without printing.
            let z = self.z();
            self.emit(MoveKind::Travel, [start[0], start[1], z], 0, feed_of(speed))?;
        }
        if self.lifted != 0 {
            self.lifted = 0;
            let target = [self.pos[0], self.pos[1], self.layer_z];
            let feed = self.z_feed;
            self.emit(MoveKind::Lower, target, 0, feed)?;
        }
        self.unretract()?;
        let t = self.tool_index();
        self.used[t] = true;
        if self.role != Some(role) {
            self.role = Some(role);
            self.sink.event(Event::Role(role))?;
        }
        if self.width != width {
            self.width = width;
            self.sink.event(Event::Width(width))?;
        }
        if self.height != height {
            self.height = height;
            self.sink.event(Event::Height(height))?;
        }
        let tool = self.tool_config();
        let per_mm =
            bead_area(width, height) * flow * tool.extrusion_multiplier / tool.filament.area();
        let feed = feed_of(speed);
        let z = self.layer_z;
        for p in &points[1..] {
            let [x, y] = self.machine_xy(*p);
            let (dx, dy) = ((x - self.pos[0]) as f64, (y - self.pos[1]) as f64);
            if dx == 0.0 && dy == 0.0 {
                continue;
            }
            let length = (dx * dx + dy * dy).sqrt() / XYZ_UNITS;
            let exact = self.e_exact + length * per_mm;
            let e = to_units(exact, E_UNITS) - self.e_units;
            self.emit(MoveKind::Extrude, [x, y, z], e, feed)?;
            // Keep the exact running total, not the rounded one, so rounding never
            // accumulates.
            self.e_exact = exact;
        }
        Ok(())
    }

    fn wipe(&mut self, points: &[Point], speed: f64) -> Result<(), GcodeError> {
        let t = self.tool_index();
        let r = self.job.tools[t].retraction;
        let target = to_units(r.length, E_UNITS);
        let remaining = if self.job.firmware_retraction {
            self.retract(r.length, false)?;
            0
        } else {
            (target - self.tools[t].retracted).max(0)
        };
        let path: Vec<[i64; 2]> = points.iter().map(|p| self.machine_xy(*p)).collect();
        let mut total = 0.0;
        let mut prev = [self.pos[0], self.pos[1]];
        for p in &path {
            total += ((p[0] - prev[0]) as f64).hypot((p[1] - prev[1]) as f64);
            prev = *p;
        }
        if total == 0.0 {
            return self.retract(r.length, false);
        }
        let feed = feed_of(speed);
        let z = self.z();
        let mut done = 0i64;
        let mut run = 0.0;
        prev = [self.pos[0], self.pos[1]];
        for p in &path {
            run += ((p[0] - prev[0]) as f64).hypot((p[1] - prev[1]) as f64);
            prev = *p;
            let want = (remaining as f64 * run / total).round() as i64;
            let e = -(want - done);
            done = want;
            self.emit(MoveKind::Wipe, [p[0], p[1], z], e, feed)?;
        }
        if remaining > 0 {
            self.tools[t] = ToolState {
                retracted: target,
                extra: to_units(r.restart_extra, E_UNITS),
            };
        }
        Ok(())
    }

    fn tool_change(&mut self, tool: usize) -> Result<(), GcodeError> {
        if tool >= self.job.tools.len() {
            return Err(self.unknown_tool(tool));
        }
        if self.tool == Some(tool) {
            return Ok(());
        }
        // Tool 0 is the active tool until the plan selects one. A tool that has not
        // printed yet needs no retraction or tool-change G-code to leave it.
        let from = self.tool_index();
        let mut write_t = true;
        if from != tool && self.used[from] {
            let length = self.job.tools[from].retraction.length_toolchange;
            self.retract(length, true)?;
            let hook = GcodeHook::ToolChange {
                previous_tool: from,
                next_tool: tool,
            };
            let text = match self.render(hook)? {
                Some(text) => text,
                None => render_toolchange(
                    &self.job.toolchange_gcode,
                    from,
                    tool,
                    self.layer,
                    self.layer_z,
                ),
            };
            if self.passthrough_within(&text)? {
                write_t = !selects_tool(&text, tool);
            }
        }
        self.sink.event(Event::ToolChange { tool, write_t })?;
        self.tool = Some(tool);
        if self.job.firmware_retraction {
            self.sink
                .event(Event::FirmwareRetraction(&self.job.tools[tool]))?;
        }
        self.forget_position()
    }
}

/// Fill the tool-change template's placeholders.
fn render_toolchange(template: &str, from: usize, to: usize, layer: usize, z_um: i64) -> String {
    let z = super::number::fmt_f64(z_um as f64 / XYZ_UNITS, XYZ_DECIMALS);
    template
        .replace("{previous_tool}", &from.to_string())
        .replace("{previous_extruder}", &from.to_string())
        .replace("{next_tool}", &to.to_string())
        .replace("{next_extruder}", &to.to_string())
        .replace("{layer_num}", &layer.to_string())
        .replace("{layer_z}", &z)
}

/// Whether G-code text contains the command `T<tool>` on a line of its own.
fn selects_tool(text: &str, tool: usize) -> bool {
    u32::try_from(tool).is_ok_and(|t| commands(text).any(|c| c.is(b'T', t)))
}

/// The commands of G-code text, taken apart by lamina's one G-code lexer.
fn commands(text: &str) -> impl Iterator<Item = Command> + '_ {
    text.lines().filter_map(|l| match lex(l.as_bytes()).code {
        Some(Code::Command(c)) => Some(c),
        _ => None,
    })
}

/// Written after custom G-code that sets the coordinates' mode, in a job with relative E.
const E_RELATIVE_AGAIN: &str = "M83 ; relative E again (G90/G91 set it on Marlin 2)";
/// Written after custom G-code that sets the coordinates' mode, in a job with absolute E.
const E_ABSOLUTE_AGAIN: &str = "M82 ; absolute E again (G91 sets it relative)";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nanometres_round_to_micrometres() {
        assert_eq!(nm_to_um(1_499), 1);
        assert_eq!(nm_to_um(1_500), 2);
        assert_eq!(nm_to_um(-1_499), -1);
        assert_eq!(nm_to_um(-1_501), -2);
        assert_eq!(nm_to_um(0), 0);
    }

    #[test]
    fn toolchange_template() {
        let t = render_toolchange(
            "; from {previous_tool} to {next_extruder}\nT{next_tool}",
            0,
            1,
            7,
            1_400,
        );
        assert_eq!(t, "; from 0 to 1\nT1");
        assert!(selects_tool(&t, 1));
        assert!(!selects_tool("; T1 later\nM117 T1", 1));
        assert_eq!(
            render_toolchange("G1 Z{layer_z}", 0, 1, 7, 1_400),
            "G1 Z1.4"
        );
    }
}
