//! Reading G-code text into the virtual printer: the commands that move, wait, heat
//! and change tools. Moves, modes and offsets are followed by lamina's one motion
//! interpreter ([`Modal`]); this reader keeps what only timing needs (limits, firmware
//! retraction settings, temperatures).
//!
//! Understood: `G0`-`G4`, `G10`/`G11` (firmware retraction; RRF tool temperatures with
//! `P`), `G20`/`G21`, `G28`, `G90`/`G91`, `G92`, `M82`/`M83`, `M104`/`M109`/`M116`,
//! `M201`/`M203`/`M204`/`M205`, `M207`/`M208`, `M400`, `T<n>`, RepRapFirmware's `M566`,
//! Klipper's `SET_RETRACTION` and `SET_VELOCITY_LIMIT`, and the comments
//! `;LAYER_CHANGE`, `;LAYER:<n>`, `;TYPE:<role>` and lamina's `; flavor = <firmware>`,
//! which selects the firmware's units and motion model (RepRapFirmware: `M203` and
//! `M566` per minute and no junction deviation; Klipper: square corner velocity).
//! Anything else takes no time.

use crate::path::Role;

use super::config::{Flavor, KlipperMotion};

use super::machine::{Simulator, Wait};
use super::read::modal::{self, Modal, SECONDS_PER_MINUTE, Step};
use super::read::{self, Code, Command, Line, Words};

/// Arcs (`G2`/`G3`) are cut into chords of this length, mm (Marlin's `MM_PER_ARC_SEGMENT`).
const ARC_SEGMENT_LENGTH: f64 = 1.0;
/// Most chords one arc is cut into (an arc of a kilometre).
const MAX_ARC_SEGMENTS: usize = 1 << 16;
/// Milliseconds per second (`G4 P`).
const MS_PER_SECOND: f64 = 1000.0;

/// Marlin's firmware retraction defaults (`RETRACT_LENGTH`, `RETRACT_FEEDRATE`,
/// `RETRACT_RECOVER_FEEDRATE`), used until `M207`/`M208` set them: mm, mm/s.
const FW_RETRACT_LENGTH: f64 = 3.0;
const FW_RETRACT_SPEED: f64 = 45.0;
const FW_RECOVER_SPEED: f64 = 8.0;

/// Firmware retraction settings (`M207`/`M208`).
#[derive(Debug, Clone)]
struct FirmwareRetraction {
    length: f64,
    speed: f64,
    extra: f64,
    recover_speed: f64,
    /// Tools retracted by the firmware (it keeps the state per extruder).
    retracted: Vec<bool>,
}

/// A G-code interpreter feeding a [`Simulator`].
#[derive(Debug, Clone)]
pub struct Interpreter {
    /// Modes, offsets and position (kept in step with the simulator's position).
    modal: Modal,
    fw: FirmwareRetraction,
    /// Whether `;LAYER_CHANGE` and `;TYPE:` comments are followed (off for custom
    /// G-code run inside a plan, whose layers are known).
    pub follow_comments: bool,
    next_layer: usize,
}

impl Default for Interpreter {
    fn default() -> Self {
        Interpreter {
            modal: Modal::new(),
            fw: FirmwareRetraction {
                length: FW_RETRACT_LENGTH,
                speed: FW_RETRACT_SPEED,
                extra: 0.0,
                recover_speed: FW_RECOVER_SPEED,
                retracted: Vec::new(),
            },
            follow_comments: true,
            next_layer: 0,
        }
    }
}

impl Interpreter {
    /// A firmware just switched on: absolute coordinates and E, millimetres.
    pub fn new() -> Self {
        Self::default()
    }

    /// Set the coordinate and E modes as `G90` plus `M82`/`M83` do.
    pub fn set_modes(&mut self, absolute_xyz: bool, absolute_e: bool) {
        self.modal.absolute_xyz = absolute_xyz;
        self.modal.absolute_e = absolute_e;
    }

    /// Count E moved by G-code not read through this interpreter (the generator's own
    /// moves), mm.
    pub fn add_e(&mut self, de: f64) {
        self.modal.e += de;
    }

    /// E set to 0 (`G92 E0` written by the generator).
    pub fn reset_e(&mut self) {
        self.modal.e = 0.0;
    }

    /// Read custom G-code as written for `flavor` (where firmwares differ in motion,
    /// a bare `G92`), without changing the simulator's motion model.
    pub fn set_dialect(&mut self, flavor: Flavor) {
        self.modal.flavor = flavor;
    }

    /// Run a block of lines.
    pub fn run(&mut self, sim: &mut Simulator, text: &str) {
        for line in text.lines() {
            self.line(sim, line.as_bytes());
        }
    }

    /// Run one line.
    pub fn line(&mut self, sim: &mut Simulator, line: &[u8]) {
        self.lexed(sim, &read::lex(line));
    }

    /// Run one line already taken apart with [`read::lex`].
    pub fn lexed(&mut self, sim: &mut Simulator, line: &Line) {
        if let Some(c) = line.comment
            && self.follow_comments
        {
            self.comment(sim, c);
        }
        match line.code {
            Some(Code::Extended(text)) => self.extended(sim, text),
            Some(Code::Command(c)) if !c.ragged && matches!(c.letter, b'G' | b'M' | b'T') => {
                self.command(sim, &c);
            }
            _ => {}
        }
    }

    fn comment(&mut self, sim: &mut Simulator, c: &[u8]) {
        let c = read::trim(c);
        if c == b"LAYER_CHANGE" {
            sim.begin_layer(self.next_layer);
            self.next_layer += 1;
        } else if c.starts_with(b"LAYER:") {
            // Cura numbers its layers (from negative numbers under a raft); they come
            // in order, so each marker is simply the next layer.
            sim.begin_layer(self.next_layer);
            self.next_layer += 1;
        } else if let Some(f) = c.strip_prefix(b"flavor = ").and_then(modal::flavor_named) {
            self.set_flavor(sim, f);
        } else if let Some(rest) = c.strip_prefix(b"TYPE:") {
            sim.role = std::str::from_utf8(rest)
                .ok()
                .and_then(Role::from_gcode_name);
        }
    }

    /// Read the file as written for `flavor`: its units and its motion model.
    pub fn set_flavor(&mut self, sim: &mut Simulator, flavor: Flavor) {
        self.modal.flavor = flavor;
        let m = &mut sim.machine;
        match flavor {
            Flavor::Klipper => {
                if m.klipper.is_none() {
                    m.klipper = Some(KlipperMotion::default());
                }
            }
            Flavor::RepRapFirmware => {
                m.klipper = None;
                m.junction_deviation = 0.0;
            }
            Flavor::Marlin => m.klipper = None,
        }
    }

    /// Klipper-style `NAME KEY=VALUE` commands.
    fn extended(&mut self, sim: &mut Simulator, text: &str) {
        let mut parts = text.split_whitespace();
        let name = parts.next().unwrap_or("");
        if name.eq_ignore_ascii_case("SET_VELOCITY_LIMIT") {
            self.velocity_limit(sim, parts);
            return;
        }
        if !name.eq_ignore_ascii_case("SET_RETRACTION") {
            return;
        }
        for kv in parts {
            let Some((k, v)) = kv.split_once('=') else {
                continue;
            };
            let Ok(v) = v.parse::<f64>() else { continue };
            match k.to_ascii_uppercase().as_str() {
                "RETRACT_LENGTH" => self.fw.length = v,
                "RETRACT_SPEED" => self.fw.speed = v,
                "UNRETRACT_EXTRA_LENGTH" => self.fw.extra = v,
                "UNRETRACT_SPEED" => self.fw.recover_speed = v,
                _ => {}
            }
        }
    }

    /// Klipper's `SET_VELOCITY_LIMIT`: one acceleration for every move, the toolhead
    /// velocity and the corner model.
    fn velocity_limit<'a>(&mut self, sim: &mut Simulator, parts: impl Iterator<Item = &'a str>) {
        let m = &mut sim.machine;
        let mut k = m.klipper.unwrap_or_default();
        let mut accel_to_decel = None;
        for kv in parts {
            let Some((key, v)) = kv.split_once('=') else {
                continue;
            };
            let Ok(v) = v.parse::<f64>() else { continue };
            if !(v.is_finite() && v >= 0.0) {
                continue;
            }
            match key.to_ascii_uppercase().as_str() {
                "VELOCITY" if v > 0.0 => k.max_velocity = v,
                "ACCEL" if v > 0.0 => {
                    m.acceleration = v;
                    m.travel_acceleration = v;
                }
                "SQUARE_CORNER_VELOCITY" => k.square_corner_velocity = v,
                "MINIMUM_CRUISE_RATIO" if v < 1.0 => k.minimum_cruise_ratio = v,
                "ACCEL_TO_DECEL" if v > 0.0 => accel_to_decel = Some(v),
                _ => {}
            }
        }
        if let Some(a) = accel_to_decel {
            // Klipper before 0.12 gave the braking acceleration itself.
            k.minimum_cruise_ratio = (1.0 - a / m.acceleration).clamp(0.0, 0.99);
        }
        m.klipper = Some(k);
    }

    fn command(&mut self, sim: &mut Simulator, c: &Command) {
        // Motion first, from where the simulator is (the generator moves it too).
        self.modal.pos = sim.pos;
        let step = match self.modal.apply(c) {
            Ok(step) => step,
            // A line naming a tool no printer has is corrupt: not followed.
            Err(_) => return,
        };
        match step {
            Step::Move(m) => sim.move_to(m.to, m.de, m.feed),
            Step::Arc(a) => {
                if let Some(f) = a.feed {
                    sim.feedrate = f;
                }
                let n = a.chords_by_length(ARC_SEGMENT_LENGTH, MAX_ARC_SEGMENTS);
                for k in 1..=n {
                    sim.move_to(a.point(k, n), a.de / n as f64, None);
                }
            }
            Step::Home => {
                sim.sync();
                sim.pos = self.modal.pos;
            }
            Step::Tool(t) => sim.select_tool(t),
            Step::Set => {}
            Step::Other => {
                if let Some(n) = c.code() {
                    self.other(sim, c.letter, n, &c.words);
                }
            }
        }
    }

    /// The commands that do not move: dwells, temperatures, limits, firmware
    /// retraction.
    fn other(&mut self, sim: &mut Simulator, letter: u8, n: u32, w: &Words) {
        match (letter, n) {
            (b'G', 4) => {
                let s = w.get(b'S').unwrap_or(0.0) + w.get(b'P').unwrap_or(0.0) / MS_PER_SECOND;
                sim.dwell(s);
            }
            (b'G', 10) if w.has(b'P') => {
                // RepRapFirmware: tool temperatures.
                if let (Some(p), Some(s)) = (w.get(b'P'), w.get(b'S')) {
                    sim.set_temperature(p.max(0.0) as usize, s, Wait::No);
                }
            }
            (b'G', 10) => self.firmware_retract(sim, true),
            (b'G', 11) => self.firmware_retract(sim, false),
            (b'M', 104 | 109) => {
                let tool = w.get(b'T').map_or(sim.tool, |t| t.max(0.0) as usize);
                let (temp, wait) = match (w.get(b'S'), w.get(b'R')) {
                    (_, Some(r)) if n == 109 => (r, Wait::Both),
                    (Some(s), _) => (s, if n == 109 { Wait::Heating } else { Wait::No }),
                    _ => return,
                };
                sim.set_temperature(tool, temp, wait);
            }
            (b'M', 116) => sim.wait_for_temperatures(w.get(b'P').map(|p| p.max(0.0) as usize)),
            (b'M', 201) => set_axes(&mut sim.machine.max_acceleration, w),
            (b'M', 203) => {
                set_axes(&mut sim.machine.max_feedrate, w);
                if self.modal.flavor == Flavor::RepRapFirmware {
                    for (a, l) in [b'X', b'Y', b'Z', b'E'].into_iter().enumerate() {
                        if w.get(l).is_some_and(|v| v > 0.0) {
                            sim.machine.max_feedrate[a] /= SECONDS_PER_MINUTE;
                        }
                    }
                }
            }
            (b'M', 566) => {
                // RepRapFirmware's maximum instantaneous speed change, mm/min.
                for (a, l) in [b'X', b'Y', b'Z', b'E'].into_iter().enumerate() {
                    if let Some(v) = w.get(l).filter(|v| *v >= 0.0) {
                        sim.machine.jerk[a] = v / SECONDS_PER_MINUTE;
                    }
                }
                sim.machine.junction_deviation = 0.0;
            }
            (b'M', 204) => {
                let m = &mut sim.machine;
                if let Some(s) = w.get(b'S') {
                    m.acceleration = s;
                    m.travel_acceleration = s;
                }
                set_positive(&mut m.acceleration, w.get(b'P'));
                set_positive(&mut m.retract_acceleration, w.get(b'R'));
                set_positive(&mut m.travel_acceleration, w.get(b'T'));
            }
            (b'M', 205) => {
                let m = &mut sim.machine;
                for (a, l) in [b'X', b'Y', b'Z', b'E'].into_iter().enumerate() {
                    if let Some(v) = w.get(l).filter(|v| *v >= 0.0) {
                        m.jerk[a] = v;
                    }
                }
                if let Some(j) = w.get(b'J').filter(|v| *v >= 0.0) {
                    m.junction_deviation = j;
                }
                if let Some(s) = w.get(b'S').filter(|v| *v >= 0.0) {
                    m.minimum_feedrate = s;
                }
                if let Some(t) = w.get(b'T').filter(|v| *v >= 0.0) {
                    m.minimum_travel_feedrate = t;
                }
            }
            (b'M', 207) => {
                set_positive(&mut self.fw.length, w.get(b'S'));
                set_positive(
                    &mut self.fw.speed,
                    w.get(b'F').map(|f| f / SECONDS_PER_MINUTE),
                );
                // RepRapFirmware puts the prime in M207 too.
                if let Some(r) = w.get(b'R') {
                    self.fw.extra = r;
                }
                set_positive(
                    &mut self.fw.recover_speed,
                    w.get(b'T').map(|f| f / SECONDS_PER_MINUTE),
                );
            }
            (b'M', 208) => {
                if let Some(s) = w.get(b'S') {
                    self.fw.extra = s;
                }
                set_positive(
                    &mut self.fw.recover_speed,
                    w.get(b'F').map(|f| f / SECONDS_PER_MINUTE),
                );
            }
            (b'M', 0 | 1 | 400) => sim.sync(),
            _ => {}
        }
    }

    fn firmware_retract(&mut self, sim: &mut Simulator, retract: bool) {
        let t = sim.tool;
        if self.fw.retracted.len() <= t {
            self.fw.retracted.resize(t + 1, false);
        }
        if retract == self.fw.retracted[t] {
            return;
        }
        self.fw.retracted[t] = retract;
        let (de, speed) = if retract {
            (-self.fw.length, self.fw.speed)
        } else {
            (self.fw.length + self.fw.extra, self.fw.recover_speed)
        };
        sim.move_at(sim.pos, de, speed);
    }
}

fn set_axes(limits: &mut [f64; 4], w: &Words) {
    for (a, l) in [b'X', b'Y', b'Z', b'E'].into_iter().enumerate() {
        set_positive(&mut limits[a], w.get(l));
    }
}

fn set_positive(slot: &mut f64, v: Option<f64>) {
    if let Some(v) = v.filter(|v| *v > 0.0) {
        *slot = v;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::gcode::config::MachineConfig;

    fn sim() -> Simulator {
        Simulator::new(MachineConfig::default())
    }

    #[test]
    fn modes_and_offsets() {
        let mut s = sim();
        let mut i = Interpreter::new();
        i.run(
            &mut s,
            "G28\nG1 X10 Y5 F6000\nG92 X0\nG1 X2\nG91\nG1 Y1\nG90\nM83\nG1 E0.5\nG1 E0.5",
        );
        assert_eq!(s.pos, [12.0, 6.0, 0.0]);
        let t = s.finish();
        assert!((t.tools[0].filament - 1.0).abs() < 1e-12);
    }

    #[test]
    fn absolute_e_with_resets() {
        let mut s = sim();
        let mut i = Interpreter::new();
        i.run(
            &mut s,
            "M82\nG92 E0\nG1 X10 E1 F600\nG1 X20 E2.5\nG92 E0\nG1 X30 E1\nG1 E0.2 F2100",
        );
        let t = s.finish();
        // 1 + 1.5 + 1 mm printed; the last line goes from E1 back to E0.2: a
        // retraction of 0.8 mm, not filament used.
        assert!((t.tools[0].filament - 3.5).abs() < 1e-12);
        assert!((t.tools[0].retracted - 0.8).abs() < 1e-12);
    }

    #[test]
    fn comments_set_layers_and_roles() {
        let mut s = sim();
        let mut i = Interpreter::new();
        i.run(
            &mut s,
            "M83\nG1 X1 F600\n;LAYER_CHANGE\n;TYPE:External perimeter\nG1 X20 E1\n;LAYER_CHANGE\n;TYPE:Internal infill\nG1 X40 E1 ; comment\n",
        );
        let t = s.finish();
        assert_eq!(t.layer_times.len(), 2);
        assert!(t.start_time > 0.0);
        let ext = crate::gcode::machine::role_index(Role::ExternalPerimeter);
        let inf = crate::gcode::machine::role_index(Role::InternalInfill);
        assert!((t.tools[0].role_path[ext] - 19.0).abs() < 1e-12);
        assert!((t.tools[0].role_path[inf] - 20.0).abs() < 1e-12);
    }

    #[test]
    fn arcs_follow_the_circle() {
        // A half circle of radius 10 from (10,0) to (-10,0) around the origin,
        // counter-clockwise: path length 10π.
        let mut s = sim();
        let mut i = Interpreter::new();
        s.role = Some(Role::Perimeter);
        i.run(&mut s, "G1 X10 Y0 F600\nM83\nG3 X-10 Y0 I-10 J0 E1");
        assert!((s.pos[0] + 10.0).abs() < 1e-9 && s.pos[1].abs() < 1e-9);
        let t = s.finish();
        let p = crate::gcode::machine::role_index(Role::Perimeter);
        let len = t.tools[0].role_path[p];
        // Cut into n = floor(10π / 1 mm) equal chords of 2r·sin(π / 2n).
        let n = (10.0 * std::f64::consts::PI).floor();
        let chords = n * 20.0 * (std::f64::consts::PI / (2.0 * n)).sin();
        assert!((len - chords).abs() < 1e-9, "{len} vs {chords}");
    }

    #[test]
    fn checksums_line_numbers_and_junk() {
        let mut s = sim();
        let mut i = Interpreter::new();
        i.run(&mut s, "N12 G1 X5 F600*37\n\u{fe}garbage\nG1 X\n  \n");
        assert_eq!(s.pos, [5.0, 0.0, 0.0]);
    }

    #[test]
    fn absurd_numbers_do_not_blow_up() {
        let mut s = sim();
        let mut i = Interpreter::new();
        i.run(
            &mut s,
            "T4000000000\nM104 T999999999 S200\nG10 P999999999 S200\n;LAYER:999999999\nG1 X1e999 Y5 F600\nG2 X1 Y1 R0.1\nG4 P-5",
        );
        let t = s.finish();
        assert_eq!(t.tools.len(), 1);
        assert_eq!(t.layer_times.len(), 1);
        assert!(t.total_time.is_finite());
    }

    #[test]
    fn firmware_retraction_uses_m207() {
        let mut s = sim();
        let mut i = Interpreter::new();
        i.run(&mut s, "M207 S2 F1800\nM208 S0.1 F1200\nG10\nG10\nG11");
        let t = s.finish();
        // Only the extra 0.1 mm of the prime is filament used.
        assert!((t.tools[0].filament - 0.1).abs() < 1e-12);
        // 2 mm at 30 mm/s and 2.1 mm at 20 mm/s, E-limited accelerations aside.
        assert!(t.total_time > 2.0 / 30.0 + 2.1 / 20.0);
    }
}
