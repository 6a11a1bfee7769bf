//! A virtual printer: the state a firmware keeps while it runs G-code (position,
//! feedrate, tool, temperatures) on top of the motion [`Planner`], with the accounting
//! an estimate needs (time per layer and role, filament per tool and role).
//!
//! Both estimators drive it: the one over layer plans (through the same move stream the
//! writer formats) and the one over G-code text (through [`super::parse`]).

use crate::path::Role;

use super::config::MachineConfig;
use super::planner::{MIN_MOVE_LENGTH, Planner};

/// Hotend temperature before anything heats it, °C.
pub const AMBIENT_TEMPERATURE: f64 = 25.0;

/// Phase number of everything before the first layer.
pub const PHASE_START: u32 = 0;
/// Phase number of everything after the last layer.
pub const PHASE_END: u32 = u32::MAX;

/// Number of roles (time and filament are kept per role).
pub const ROLE_COUNT: usize = Role::ALL.len();

/// What a stretch of time was spent on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Bucket {
    /// Extruding with a known role.
    Role(Role),
    /// Moving without extruding.
    Travel,
    /// E alone: retractions and primes.
    Retract,
    /// Moving while retracting (wipes).
    Wipe,
    /// Dwells, tool changes, heating.
    Wait,
    /// Extruding without a role (custom G-code, purge lines).
    Other,
}

const BUCKETS: usize = ROLE_COUNT + 5;

impl Bucket {
    fn index(self) -> usize {
        match self {
            Bucket::Role(r) => role_index(r),
            Bucket::Travel => ROLE_COUNT,
            Bucket::Retract => ROLE_COUNT + 1,
            Bucket::Wipe => ROLE_COUNT + 2,
            Bucket::Wait => ROLE_COUNT + 3,
            Bucket::Other => ROLE_COUNT + 4,
        }
    }
}

/// Index of a role in [`Role::ALL`].
pub fn role_index(r: Role) -> usize {
    Role::ALL.iter().position(|&x| x == r).unwrap_or(0)
}

#[derive(Debug, Clone, Copy)]
struct Tag {
    phase: u32,
    bucket: u8,
}

/// Filament and path length of one tool.
#[derive(Debug, Clone, Default)]
pub struct ToolTally {
    /// Filament used, mm: extrusions, and primes beyond what was retracted
    /// (retracted filament that is pushed back is not used twice).
    pub filament: f64,
    /// Filament currently retracted, mm.
    pub retracted: f64,
    /// Filament per role, mm.
    pub role_filament: [f64; ROLE_COUNT],
    /// Printed path length per role, mm.
    pub role_path: [f64; ROLE_COUNT],
}

/// Everything counted during a run.
#[derive(Debug, Clone, Default)]
pub struct Tally {
    /// Time before the first layer, s.
    pub start_time: f64,
    /// Time per layer, s.
    pub layer_times: Vec<f64>,
    /// Time after the last layer, s.
    pub end_time: f64,
    /// Time per bucket (roles first, in [`Role::ALL`] order), s.
    pub bucket_times: [f64; BUCKETS],
    /// Total time, s.
    pub total_time: f64,
    /// Per tool.
    pub tools: Vec<ToolTally>,
    /// Changes from one tool to another.
    pub tool_changes: usize,
    /// Moves queued in the planner.
    pub moves: usize,
}

impl Tally {
    fn add(&mut self, tag: Tag, t: f64) {
        self.total_time += t;
        self.bucket_times[tag.bucket as usize] += t;
        match tag.phase {
            PHASE_START => self.start_time += t,
            PHASE_END => self.end_time += t,
            p => {
                let i = (p - 1) as usize;
                if self.layer_times.len() <= i {
                    self.layer_times.resize(i + 1, 0.0);
                }
                self.layer_times[i] += t;
            }
        }
    }

    /// Time of a bucket, s.
    pub fn bucket_time(&self, b: Bucket) -> f64 {
        self.bucket_times[b.index()]
    }

    fn tool(&mut self, t: usize) -> &mut ToolTally {
        if self.tools.len() <= t {
            self.tools.resize(t + 1, ToolTally::default());
        }
        &mut self.tools[t]
    }
}

#[derive(Debug, Clone, Copy)]
struct Heater {
    target: f64,
    temperature: f64,
    at: f64,
}

/// How `M109`-like commands wait.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Wait {
    /// Set and go on.
    No,
    /// Wait only if the hotend must heat up (Marlin's `M109 S`).
    Heating,
    /// Wait until the target is reached either way (`M109 R`).
    Both,
}

/// The virtual printer.
#[derive(Debug, Clone)]
pub struct Simulator {
    /// Motion limits in force (G-code may change them with `M201`-`M205`).
    pub machine: MachineConfig,
    planner: Planner<Tag>,
    /// Machine position X, Y, Z, mm.
    pub pos: [f64; 3],
    /// Modal feedrate, mm/s.
    pub feedrate: f64,
    /// Active tool.
    pub tool: usize,
    /// Role of the extrusions that follow.
    pub role: Option<Role>,
    phase: u32,
    heaters: Vec<Heater>,
    /// What was counted so far (times of moves still queued are not in it yet).
    pub tally: Tally,
}

impl Simulator {
    /// A printer at the origin, at rest, tool 0, before the first layer.
    pub fn new(machine: MachineConfig) -> Self {
        Simulator {
            machine,
            planner: Planner::new(),
            pos: [0.0; 3],
            feedrate: 0.0,
            tool: 0,
            role: None,
            phase: PHASE_START,
            heaters: Vec::new(),
            tally: Tally::default(),
        }
    }

    /// Move in a straight line to `target` while pushing `de` mm of filament, at
    /// `feedrate` mm/s (not changing the modal feedrate).
    pub fn move_at(&mut self, target: [f64; 3], de: f64, feedrate: f64) {
        let d = [
            target[0] - self.pos[0],
            target[1] - self.pos[1],
            target[2] - self.pos[2],
        ];
        let xy = (d[0] * d[0] + d[1] * d[1]).sqrt();
        let xyz = (xy * xy + d[2] * d[2]).sqrt();
        let bucket = if xyz >= MIN_MOVE_LENGTH {
            if de > 0.0 {
                self.role.map_or(Bucket::Other, Bucket::Role)
            } else if de < 0.0 {
                Bucket::Wipe
            } else {
                Bucket::Travel
            }
        } else {
            Bucket::Retract
        };
        let tool = self.tool;
        let t = self.tally.tool(tool);
        if de < 0.0 {
            t.retracted -= de;
        } else if bucket == Bucket::Retract {
            // A prime restores what was retracted; only more than that is used.
            let restored = de.min(t.retracted);
            t.retracted -= restored;
            t.filament += de - restored;
        } else {
            t.filament += de;
        }
        if let (Bucket::Role(r), true) = (bucket, xy > 0.0) {
            let i = role_index(r);
            t.role_filament[i] += de;
            t.role_path[i] += xy;
        }
        let tag = Tag {
            phase: self.phase,
            bucket: bucket.index() as u8,
        };
        let tally = &mut self.tally;
        if self.planner.push(
            &self.machine,
            [d[0], d[1], d[2], de],
            feedrate,
            tag,
            &mut |tag, t| tally.add(tag, t),
        ) {
            self.tally.moves += 1;
        }
        self.pos = target;
    }

    /// Move at the modal feedrate, first setting it to `feedrate` when given.
    pub fn move_to(&mut self, target: [f64; 3], de: f64, feedrate: Option<f64>) {
        if let Some(f) = feedrate {
            self.feedrate = f;
        }
        self.move_at(target, de, self.feedrate);
    }

    /// Let every queued move finish (the firmware's `synchronize`).
    pub fn sync(&mut self) {
        let tally = &mut self.tally;
        self.planner.flush(&mut |tag, t| tally.add(tag, t));
    }

    /// Finished time, s (queued moves not included).
    pub fn now(&self) -> f64 {
        self.tally.total_time
    }

    /// Stand still for `seconds` after the queued moves.
    pub fn dwell(&mut self, seconds: f64) {
        self.sync();
        if seconds > 0.0 && seconds.is_finite() {
            let tag = Tag {
                phase: self.phase,
                bucket: Bucket::Wait.index() as u8,
            };
            self.tally.add(tag, seconds);
        }
    }

    /// Select `tool`; a change of tool waits for the moves and takes the machine's
    /// tool-change time.
    pub fn select_tool(&mut self, tool: usize) {
        self.tally.tool(tool);
        if tool != self.tool {
            self.dwell(self.machine.tool_change_time);
            self.tally.tool_changes += 1;
            self.tool = tool;
        }
    }

    /// Set a hotend's target; `wait` blocks until it is reached (heating or cooling
    /// at the machine's rates).
    pub fn set_temperature(&mut self, tool: usize, celsius: f64, wait: Wait) {
        if !celsius.is_finite() {
            return;
        }
        if wait != Wait::No {
            self.sync();
        }
        let now = self.now();
        let (heat, cool) = (self.machine.heating_rate, self.machine.cooling_rate);
        if self.heaters.len() <= tool {
            self.heaters.resize(
                tool + 1,
                Heater {
                    target: AMBIENT_TEMPERATURE,
                    temperature: AMBIENT_TEMPERATURE,
                    at: 0.0,
                },
            );
        }
        let h = &mut self.heaters[tool];
        h.temperature = temperature_at(h, now, heat, cool);
        h.at = now;
        h.target = celsius;
        let seconds = match wait {
            Wait::No => 0.0,
            _ if h.temperature < celsius && heat > 0.0 => (celsius - h.temperature) / heat,
            Wait::Both if h.temperature > celsius && cool > 0.0 => (h.temperature - celsius) / cool,
            _ => 0.0,
        };
        if wait == Wait::Both || (wait == Wait::Heating && h.temperature < celsius) {
            h.temperature = celsius;
            h.at = now + seconds;
        }
        self.dwell(seconds);
    }

    /// Wait for a hotend (or all, `None`) to reach its target either way (`M116`).
    pub fn wait_for_temperatures(&mut self, tool: Option<usize>) {
        let targets: Vec<(usize, f64)> = self
            .heaters
            .iter()
            .enumerate()
            .filter(|(i, _)| tool.is_none_or(|t| t == *i))
            .map(|(i, h)| (i, h.target))
            .collect();
        for (i, target) in targets {
            self.set_temperature(i, target, Wait::Both);
        }
    }

    /// Everything that follows belongs to layer `index` (0 = first layer).
    pub fn begin_layer(&mut self, index: usize) {
        self.phase = u32::try_from(index + 1)
            .unwrap_or(PHASE_END - 1)
            .min(PHASE_END - 1);
        let i = (self.phase - 1) as usize;
        if self.tally.layer_times.len() <= i {
            self.tally.layer_times.resize(i + 1, 0.0);
        }
    }

    /// Everything that follows belongs to the end of the job.
    pub fn begin_end(&mut self) {
        self.phase = PHASE_END;
    }

    /// Run what is queued and hand over the counts.
    pub fn finish(mut self) -> Tally {
        self.sync();
        self.tally
    }
}

fn temperature_at(h: &Heater, now: f64, heat: f64, cool: f64) -> f64 {
    let dt = (now - h.at).max(0.0);
    if h.temperature < h.target {
        if heat > 0.0 {
            (h.temperature + heat * dt).min(h.target)
        } else {
            h.target
        }
    } else if cool > 0.0 {
        (h.temperature - cool * dt).max(h.target)
    } else {
        h.target
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn heating_waits_at_the_machine_rate() {
        let m = MachineConfig {
            heating_rate: 2.0,
            cooling_rate: 0.5,
            ..MachineConfig::default()
        };
        let mut s = Simulator::new(m);
        s.set_temperature(0, 215.0, Wait::Heating);
        assert!((s.now() - (215.0 - AMBIENT_TEMPERATURE) / 2.0).abs() < 1e-9);
        // Cooling by 15 °C with M109 S does not wait; with R it takes 30 s.
        let t0 = s.now();
        s.set_temperature(0, 200.0, Wait::Heating);
        assert_eq!(s.now(), t0);
        s.set_temperature(0, 215.0, Wait::No);
        s.set_temperature(0, 200.0, Wait::Both);
        assert!((s.now() - t0 - 30.0).abs() < 1e-9, "{}", s.now() - t0);
    }

    #[test]
    fn tool_changes_are_counted_and_timed() {
        let m = MachineConfig {
            tool_change_time: 3.0,
            ..MachineConfig::default()
        };
        let mut s = Simulator::new(m);
        s.select_tool(0);
        s.select_tool(1);
        s.select_tool(1);
        s.select_tool(0);
        let t = s.finish();
        assert_eq!(t.tool_changes, 2);
        assert!((t.total_time - 6.0).abs() < 1e-12);
        assert!((t.bucket_time(Bucket::Wait) - 6.0).abs() < 1e-12);
    }

    #[test]
    fn filament_and_time_are_attributed() {
        let mut s = Simulator::new(MachineConfig::default());
        s.begin_layer(0);
        s.role = Some(Role::Perimeter);
        s.move_to([10.0, 0.0, 0.0], 0.5, Some(20.0));
        s.move_to([10.0, 0.0, 0.0], -0.8, Some(35.0));
        s.begin_layer(1);
        s.move_to([10.0, 10.0, 0.0], 0.0, Some(100.0));
        let t = s.finish();
        assert_eq!(t.layer_times.len(), 2);
        assert!(t.layer_times.iter().all(|&x| x > 0.0));
        assert!((t.tools[0].filament - 0.5).abs() < 1e-12);
        assert!((t.tools[0].retracted - 0.8).abs() < 1e-12);
        let p = role_index(Role::Perimeter);
        assert!((t.tools[0].role_filament[p] - 0.5).abs() < 1e-12);
        assert!((t.tools[0].role_path[p] - 10.0).abs() < 1e-12);
        let sum: f64 = t.bucket_times.iter().sum();
        assert!((sum - t.total_time).abs() < 1e-9);
    }
}
