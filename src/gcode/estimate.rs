//! Print time and material estimates: from layer plans (exactly the moves the writer
//! writes) or from any G-code text, through the same motion simulation.

use std::collections::BTreeMap;
use std::io::BufRead;

use serde::{Deserialize, Serialize};

use crate::path::Role;
use crate::plan::LayerPlan;

use super::GcodeError;
use super::config::{Filament, Flavor, GcodeJob, MachineConfig};
use super::machine::{Bucket, Simulator, Tally, Wait};
use super::moves::{AXIS_F, AXIS_X, AXIS_Y, AXIS_Z, E_UNITS, Event, MoveKind, Sink, XYZ_UNITS};
use super::parse::Interpreter;
use super::read::{self, Corrupt, RawLine};

/// Cubic millimetres per cubic centimetre.
const MM3_PER_CM3: f64 = 1000.0;
/// Grams per kilogram.
const G_PER_KG: f64 = 1000.0;

/// Material and path of one role on one tool.
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize, Deserialize)]
pub struct RoleUsage {
    /// Printed path length, mm.
    pub path_mm: f64,
    /// Filament pushed, mm.
    pub filament_mm: f64,
}

/// Material used by one tool.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct ToolUsage {
    /// Filament used (net of retractions), mm.
    pub filament_mm: f64,
    /// Its volume, mm³.
    pub volume_mm3: f64,
    /// Its weight, g.
    pub weight_g: f64,
    /// Its cost, in the currency of the filament's price.
    pub cost: f64,
    /// Per role.
    pub roles: BTreeMap<Role, RoleUsage>,
}

/// How long a job takes and what it uses.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct Estimate {
    /// Whole job, s.
    pub total_time: f64,
    /// Before the first layer (start G-code), s.
    pub start_time: f64,
    /// Each layer, s.
    pub layer_times: Vec<f64>,
    /// After the last layer (end G-code), s.
    pub end_time: f64,
    /// Extruding, per role, s.
    pub role_times: BTreeMap<Role, f64>,
    /// Travelling, s.
    pub travel_time: f64,
    /// Retracting and priming in place, s.
    pub retract_time: f64,
    /// Wiping, s.
    pub wipe_time: f64,
    /// Dwells, tool changes and heating, s.
    pub wait_time: f64,
    /// Extruding without a role (purge lines in custom G-code), s.
    pub other_time: f64,
    /// Per tool.
    pub tools: Vec<ToolUsage>,
    /// Changes of tool.
    pub tool_changes: usize,
    /// Moves simulated.
    pub moves: usize,
}

/// Progress shown by the printer at some point of the job.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Progress {
    /// Percent done, 0-100.
    pub percent: u8,
    /// Minutes remaining.
    pub minutes: u32,
}

impl Estimate {
    fn from_tally(t: Tally, filaments: &[Filament], min_tools: usize) -> Estimate {
        let n = t.tools.len().max(min_tools).max(1);
        let tools = (0..n)
            .map(|i| {
                let f = filaments.get(i).copied().unwrap_or_default();
                let tally = t.tools.get(i).cloned().unwrap_or_default();
                let volume = tally.filament * f.area();
                let weight = volume / MM3_PER_CM3 * f.density;
                let mut roles = BTreeMap::new();
                for (k, r) in Role::ALL.into_iter().enumerate() {
                    let (p, e) = (tally.role_path[k], tally.role_filament[k]);
                    if p != 0.0 || e != 0.0 {
                        roles.insert(
                            r,
                            RoleUsage {
                                path_mm: p,
                                filament_mm: e,
                            },
                        );
                    }
                }
                ToolUsage {
                    filament_mm: tally.filament,
                    volume_mm3: volume,
                    weight_g: weight,
                    cost: weight / G_PER_KG * f.cost_per_kg,
                    roles,
                }
            })
            .collect();
        let mut role_times = BTreeMap::new();
        for r in Role::ALL {
            let s = t.bucket_time(Bucket::Role(r));
            if s > 0.0 {
                role_times.insert(r, s);
            }
        }
        Estimate {
            total_time: t.total_time,
            start_time: t.start_time,
            end_time: t.end_time,
            role_times,
            travel_time: t.bucket_time(Bucket::Travel),
            retract_time: t.bucket_time(Bucket::Retract),
            wipe_time: t.bucket_time(Bucket::Wipe),
            wait_time: t.bucket_time(Bucket::Wait),
            other_time: t.bucket_time(Bucket::Other),
            layer_times: t.layer_times,
            tools,
            tool_changes: t.tool_changes,
            moves: t.moves,
        }
    }

    /// Time spent before layer `layer` starts (`layer == layer_times.len()`: all layers
    /// done), s.
    pub fn elapsed_before(&self, layer: usize) -> f64 {
        let n = layer.min(self.layer_times.len());
        self.start_time + self.layer_times[..n].iter().sum::<f64>()
    }

    /// Progress after `elapsed` seconds of the job.
    ///
    /// ```
    /// let e = lamina::gcode::Estimate { total_time: 3600.0, ..Default::default() };
    /// let p = e.progress_at(900.0);
    /// assert_eq!((p.percent, p.minutes), (25, 45));
    /// ```
    pub fn progress_at(&self, elapsed: f64) -> Progress {
        let total = self.total_time.max(0.0);
        let elapsed = elapsed.clamp(0.0, total);
        let percent = if total > 0.0 {
            (100.0 * elapsed / total).floor().clamp(0.0, 100.0) as u8
        } else {
            0
        };
        Progress {
            percent,
            minutes: ((total - elapsed) / 60.0).round().max(0.0) as u32,
        }
    }

    /// Filament of all tools, g.
    pub fn total_weight_g(&self) -> f64 {
        self.tools.iter().map(|t| t.weight_g).sum()
    }

    /// Cost of all tools' filament.
    pub fn total_cost(&self) -> f64 {
        self.tools.iter().map(|t| t.cost).sum()
    }

    /// Path length per role over all tools, mm.
    pub fn path_per_role(&self) -> BTreeMap<Role, f64> {
        let mut m = BTreeMap::new();
        for t in &self.tools {
            for (r, u) in &t.roles {
                *m.entry(*r).or_insert(0.0) += u.path_mm;
            }
        }
        m
    }
}

/// A duration the way slicers write it: `1d 2h 3m 4s`, `2h 0m 5s`, `45s`.
///
/// ```
/// use lamina::gcode::format_duration;
/// assert_eq!(format_duration(3723.4), "1h 2m 3s");
/// assert_eq!(format_duration(59.6), "1m 0s");
/// assert_eq!(format_duration(90061.0), "1d 1h 1m 1s");
/// assert_eq!(format_duration(7.0), "7s");
/// ```
pub fn format_duration(seconds: f64) -> String {
    let s = if seconds.is_finite() {
        seconds.max(0.0).round() as u64
    } else {
        0
    };
    let (d, h, m, s) = (s / 86_400, s / 3_600 % 24, s / 60 % 60, s % 60);
    if d > 0 {
        format!("{d}d {h}h {m}m {s}s")
    } else if h > 0 {
        format!("{h}h {m}m {s}s")
    } else if m > 0 {
        format!("{m}m {s}s")
    } else {
        format!("{s}s")
    }
}

/// How the written temperature command waits (the same rule for the writer and the
/// estimator): Marlin waits for cooling with `M109 R`, the others' `M109 S` only for
/// heating; RepRapFirmware's `M116` waits either way.
pub(crate) fn temperature_wait(flavor: Flavor, wait: bool, cooling: bool) -> Wait {
    match (wait, flavor) {
        (false, _) => Wait::No,
        (true, Flavor::RepRapFirmware) => Wait::Both,
        (true, Flavor::Marlin) if cooling => Wait::Both,
        (true, _) => Wait::Heating,
    }
}

/// Simulates the firmware on a job's events (see [`estimate`]).
pub(crate) struct EstimatorSink<'a> {
    job: &'a GcodeJob,
    sim: Simulator,
    interp: Interpreter,
    next_layer: usize,
}

impl<'a> EstimatorSink<'a> {
    /// A simulation of `job`'s machine from rest.
    pub(crate) fn new(job: &'a GcodeJob) -> Self {
        let mut interp = Interpreter::new();
        interp.follow_comments = false;
        interp.set_dialect(job.flavor);
        EstimatorSink {
            job,
            sim: Simulator::new(job.machine),
            interp,
            next_layer: 0,
        }
    }

    /// The estimate of everything simulated, for a job of `layers` layers.
    pub(crate) fn finish(self, layers: usize) -> Estimate {
        let mut tally = self.sim.finish();
        tally.layer_times.resize(layers, 0.0);
        let filaments: Vec<Filament> = self.job.tools.iter().map(|t| t.filament).collect();
        Estimate::from_tally(tally, &filaments, self.job.tools.len())
    }
}

impl Sink for EstimatorSink<'_> {
    fn event(&mut self, ev: Event<'_>) -> Result<(), GcodeError> {
        let sim = &mut self.sim;
        match ev {
            Event::Custom(text) => self.interp.run(sim, text),
            Event::Preamble => self.interp.set_modes(true, !self.job.relative_e),
            Event::LayerStart(_) => {
                sim.begin_layer(self.next_layer);
                self.next_layer += 1;
            }
            Event::Role(r) => sim.role = Some(r),
            Event::Move(m) => {
                let de = m.e as f64 / E_UNITS;
                match m.kind {
                    MoveKind::FirmwareRetract | MoveKind::FirmwareUnretract => {
                        sim.move_at(sim.pos, de, m.feed as f64 / 60.0);
                    }
                    _ => {
                        let mut target = sim.pos;
                        for (a, (bit, v)) in [(AXIS_X, m.x), (AXIS_Y, m.y), (AXIS_Z, m.z)]
                            .into_iter()
                            .enumerate()
                        {
                            if m.axes & bit != 0 {
                                target[a] = v as f64 / XYZ_UNITS;
                            }
                        }
                        let feed = (m.axes & AXIS_F != 0).then(|| m.feed as f64 / 60.0);
                        sim.move_to(target, de, feed);
                        self.interp.add_e(de);
                    }
                }
            }
            Event::Temperature {
                tool,
                celsius,
                wait,
                cooling,
            } => sim.set_temperature(
                tool,
                celsius,
                temperature_wait(self.job.flavor, wait, cooling),
            ),
            Event::ToolChange { tool, .. } => sim.select_tool(tool),
            Event::ResetE => self.interp.reset_e(),
            Event::End => sim.begin_end(),
            Event::FirmwareRetraction(_)
            | Event::LayerReady(_)
            | Event::Width(_)
            | Event::Height(_)
            | Event::Object(_)
            | Event::Fan(_) => {}
        }
        Ok(())
    }
}

/// Estimate a job from its layer plans: the time of exactly the moves
/// [`super::write_gcode`] writes for them, and the filament per tool and role.
///
/// ```
/// use lamina::gcode::{estimate, GcodeJob};
/// use lamina::geom::Point;
/// use lamina::path::Role;
/// use lamina::plan::{LayerPlan, Step};
/// let square = vec![
///     Point::from_mm(0.0, 0.0), Point::from_mm(20.0, 0.0),
///     Point::from_mm(20.0, 20.0), Point::from_mm(0.0, 20.0), Point::from_mm(0.0, 0.0),
/// ];
/// let plan = LayerPlan { index: 0, z: 0.2, height: 0.2, steps: vec![
///     Step::Travel { to: square[0], speed: 150.0, retract: false, lift: false },
///     Step::Extrude { role: Role::ExternalPerimeter, points: square, width: 0.45,
///                     height: 0.2, speed: 30.0, flow: 1.0 },
/// ]};
/// let e = estimate(&GcodeJob::default(), &[plan]).unwrap();
/// // 80 mm at 30 mm/s plus corners and the travel: a bit over 2.7 s.
/// assert!(e.total_time > 80.0 / 30.0 && e.total_time < 3.5);
/// assert_eq!(e.layer_times.len(), 1);
/// ```
pub fn estimate(job: &GcodeJob, plans: &[LayerPlan]) -> Result<Estimate, GcodeError> {
    let mut sink = EstimatorSink::new(job);
    super::moves::generate(job, plans, &mut sink)?;
    Ok(sink.finish(plans.len()))
}

/// Estimate any G-code (lamina's, another slicer's, hand-written) with the printer's
/// limits; `filaments` gives weight and cost per tool (missing tools count as 1.75 mm
/// PLA). Layers are counted by `;LAYER_CHANGE` (or Cura's `;LAYER:<n>`) comments, roles
/// by `;TYPE:` comments. Limits set in the file (`M201`-`M205`) take effect. Lines are
/// read and guarded as every reader of lamina reads them ([`read`](super::read)): a
/// corrupt line (longer than [`read::MAX_LINE`], a tool no printer has, a value that is
/// no number) is an error naming it.
///
/// ```
/// use lamina::gcode::{estimate_gcode, MachineConfig};
/// let m = MachineConfig { acceleration: 1000.0, junction_deviation: 0.05, ..MachineConfig::default() };
/// let e = estimate_gcode("M83\nG1 X100 E5 F3000\n".as_bytes(), &m, &[]).unwrap();
/// // 100 mm at 50 mm/s from and to rest: L/v + v/a.
/// assert!((e.total_time - (2.0 + 0.05)).abs() < 1e-3);
/// assert!((e.tools[0].filament_mm - 5.0).abs() < 1e-12);
/// ```
pub fn estimate_gcode<R: BufRead>(
    input: R,
    machine: &MachineConfig,
    filaments: &[Filament],
) -> Result<Estimate, GcodeError> {
    machine.validate()?;
    let mut sim = Simulator::new(*machine);
    let mut interp = Interpreter::new();
    let mut lines = read::Lines::new(input);
    while let Some((number, raw)) = lines.next_line()? {
        let corrupt = |why| GcodeError::Corrupt { line: number, why };
        let RawLine::Text(text) = raw else {
            return Err(corrupt(Corrupt::Overlong));
        };
        let line = read::lex(text);
        read::check(&line).map_err(corrupt)?;
        interp.lexed(&mut sim, &line);
    }
    Ok(Estimate::from_tally(
        sim.finish(),
        filaments,
        filaments.len(),
    ))
}
