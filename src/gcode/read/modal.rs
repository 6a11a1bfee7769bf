//! The motion state a firmware keeps while it runs G-code: absolute or relative
//! coordinates and E, units, `G92` offsets, the position, the feedrate and the tool.
//!
//! [`Modal`] is lamina's one interpreter of motion: the estimator, the preview and the
//! streamer's record of the printer's state all follow moves through it, so a `G92`,
//! a relative move or an arc means the same to each. It is sans-IO: it takes lexed
//! commands ([`super::lex`]) and says what each did ([`Step`]); what a reader does with
//! a move (time it, draw it, remember it) is its own.
//!
//! Rules, where firmwares differ:
//! - Marlin 2 keeps one relative flag per axis: `G90` makes every axis absolute, E
//!   included (it undoes `M83`), `G91` makes every axis relative, and `M82`/`M83` set E
//!   alone afterwards. Klipper and RepRapFirmware keep E's mode apart: E is relative
//!   under `G91` or after `M83`, and `G90` does not undo `M83`. lamina writes `G90`
//!   before `M83`, which reads the same on all three.
//! - A bare `G92` sets nothing on Marlin and RepRapFirmware (they only set the axes
//!   named); Klipper sets every axis to 0.

use super::{Command, Words};
use crate::gcode::config::Flavor;

/// Millimetres per inch (`G20`).
pub const MM_PER_INCH: f64 = 25.4;
/// Seconds per minute: feedrates are written in mm/min.
pub const SECONDS_PER_MINUTE: f64 = 60.0;
/// An `R` arc whose chord is shorter than this (mm) has no centre: it is a straight
/// move.
const MIN_ARC_CHORD: f64 = 1e-6;
/// Slack on an `R` arc's chord being at most its diameter (mm), for rounding in the
/// written coordinates of a half circle.
const ARC_CHORD_SLACK: f64 = 1e-9;
/// An arc that sweeps less than this (radians) ends where it starts: a full circle.
const FULL_CIRCLE_BELOW: f64 = 1e-9;

/// The firmware a `; flavor = NAME` comment names (lamina writes one in its header).
///
/// ```
/// use lamina::gcode::{Flavor, read::modal::flavor_named};
/// assert_eq!(flavor_named(b"klipper"), Some(Flavor::Klipper));
/// assert_eq!(flavor_named(b"smoothie"), None);
/// ```
pub fn flavor_named(name: &[u8]) -> Option<Flavor> {
    match name {
        b"marlin" => Some(Flavor::Marlin),
        b"klipper" => Some(Flavor::Klipper),
        b"reprapfirmware" => Some(Flavor::RepRapFirmware),
        _ => None,
    }
}

/// The X, Y, Z, E and F of a move as written (`None`: not given).
pub type Axes = [Option<f64>; 5];

/// The axes of a command's words.
pub fn axes(w: &Words) -> Axes {
    [b'X', b'Y', b'Z', b'E', b'F'].map(|l| w.get(l))
}

/// A straight move.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Move {
    /// Machine position before, mm.
    pub from: [f64; 3],
    /// Machine position after, mm.
    pub to: [f64; 3],
    /// Filament pushed (negative: pulled back), mm.
    pub de: f64,
    /// The feedrate the move sets, mm/s (`None`: the modal one).
    pub feed: Option<f64>,
}

/// An arc (`G2`/`G3`) in XY, with Z moving evenly along it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Arc {
    /// Machine position before, mm.
    pub from: [f64; 3],
    /// Machine position after, mm.
    pub to: [f64; 3],
    /// Centre in XY, mm.
    pub centre: [f64; 2],
    /// Radius, mm.
    pub radius: f64,
    /// Angle of the start point round the centre, radians.
    pub start_angle: f64,
    /// Angle swept, radians (positive, at most a full turn).
    pub sweep: f64,
    /// Clockwise (`G2`).
    pub clockwise: bool,
    /// Filament pushed along the whole arc, mm.
    pub de: f64,
    /// The feedrate the arc sets, mm/s (`None`: the modal one).
    pub feed: Option<f64>,
}

impl Arc {
    /// Chords a firmware cuts the arc into: of `length` mm each (Marlin's
    /// `MM_PER_ARC_SEGMENT`), at least one and at most `max`.
    pub fn chords_by_length(&self, length: f64, max: usize) -> usize {
        ((self.sweep * self.radius / length).floor() as usize).clamp(1, max)
    }

    /// Chords that stay within `tolerance` mm of the arc, at least one and at most
    /// `max`.
    pub fn chords_by_tolerance(&self, tolerance: f64, max: usize) -> usize {
        let step = if self.radius > tolerance {
            2.0 * (1.0 - tolerance / self.radius).acos()
        } else {
            self.sweep
        };
        ((self.sweep / step).ceil() as usize).clamp(1, max)
    }

    /// The end of chord `k` (from 1) of `n`: the arc's own end for the last.
    pub fn point(&self, k: usize, n: usize) -> [f64; 3] {
        if k >= n {
            return self.to;
        }
        let t = k as f64 / n as f64;
        let a = if self.clockwise {
            self.start_angle - self.sweep * t
        } else {
            self.start_angle + self.sweep * t
        };
        [
            self.centre[0] + self.radius * a.cos(),
            self.centre[1] + self.radius * a.sin(),
            self.from[2] + (self.to[2] - self.from[2]) * t,
        ]
    }
}

/// What one command did.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Step {
    /// A straight move (`G0`/`G1`, and an arc with no centre).
    Move(Move),
    /// An arc.
    Arc(Arc),
    /// Axes homed (`G28`): they are at 0 now.
    Home,
    /// Tool `n` selected (`T<n>`).
    Tool(usize),
    /// A mode or the position was set (`G20`/`G21`, `G90`/`G91`, `G92`, `M82`/`M83`).
    Set,
    /// Anything else: the reader's own business (temperatures, limits, dwells).
    Other,
}

/// A command no interpreter follows.
#[derive(Debug, Clone, Copy, PartialEq, thiserror::Error)]
pub enum Refusal {
    /// It names a tool beyond [`super::MAX_TOOLS`]: a corrupt line (following it would
    /// make a reader keep state for billions of tools).
    #[error("names tool {0}, beyond the {max} tools lamina drives", max = super::MAX_TOOLS)]
    AbsurdTool(f64),
}

/// The motion state of a firmware (see the module's documentation).
#[derive(Debug, Clone, PartialEq)]
pub struct Modal {
    /// `G90` (true) or `G91`.
    pub absolute_xyz: bool,
    /// `M82` (true) or `M83`.
    pub absolute_e: bool,
    /// Millimetres per unit written (`G20`: 25.4).
    pub units: f64,
    /// `G92` offsets: machine position = logical position + offset, mm.
    pub offset: [f64; 3],
    /// Machine position, mm.
    pub pos: [f64; 3],
    /// Logical E, mm.
    pub e: f64,
    /// Whether X, Y, Z and E are known (homed, set by `G92` or moved to absolutely);
    /// a relative move on an unknown axis leaves it unknown.
    pub known: [bool; 4],
    /// Modal feedrate, mm/s (`None` until one is given).
    pub feed: Option<f64>,
    /// Active tool.
    pub tool: usize,
    /// The firmware the file is for.
    pub flavor: Flavor,
}

impl Default for Modal {
    fn default() -> Self {
        Modal {
            absolute_xyz: true,
            absolute_e: true,
            units: 1.0,
            offset: [0.0; 3],
            pos: [0.0; 3],
            e: 0.0,
            known: [false; 4],
            feed: None,
            tool: 0,
            flavor: Flavor::Marlin,
        }
    }
}

impl Modal {
    /// A firmware just switched on: absolute coordinates and E, millimetres, at the
    /// origin, nothing known.
    pub fn new() -> Self {
        Self::default()
    }

    /// Whether an `E` word is a distance from the current E rather than a position
    /// (see the module's documentation for how firmwares differ).
    pub fn relative_e(&self) -> bool {
        match self.flavor {
            Flavor::Marlin => !self.absolute_e,
            Flavor::Klipper | Flavor::RepRapFirmware => !(self.absolute_xyz && self.absolute_e),
        }
    }

    /// The logical position of X, Y, Z and E where known.
    pub fn logical(&self) -> [Option<f64>; 4] {
        let mut out = [None; 4];
        for (k, o) in out.iter_mut().take(3).enumerate() {
            *o = self.known[k].then(|| self.pos[k] - self.offset[k]);
        }
        out[3] = self.known[3].then_some(self.e);
        out
    }

    /// Follow one command.
    ///
    /// ```
    /// use lamina::gcode::read::{lex, modal::{Modal, Step}, Code};
    /// let mut m = Modal::new();
    /// let mut run = |l: &str| match lex(l.as_bytes()).code {
    ///     Some(Code::Command(c)) => m.apply(&c),
    ///     _ => Ok(Step::Other),
    /// };
    /// run("G1 X10 Y5 E1 F600").unwrap();
    /// run("G92 X0").unwrap();
    /// match run("G1 X2").unwrap() {
    ///     Step::Move(mv) => assert_eq!(mv.to, [12.0, 5.0, 0.0]),
    ///     other => panic!("{other:?}"),
    /// }
    /// assert!(run("M104 T4000000000 S200").is_err());
    /// ```
    pub fn apply(&mut self, c: &Command) -> Result<Step, Refusal> {
        if let Some(t) = c.absurd_tool() {
            return Err(Refusal::AbsurdTool(t));
        }
        let w = &c.words;
        Ok(match (c.letter, c.code()) {
            (b'G', Some(0 | 1)) => Step::Move(self.linear(&axes(w))),
            (b'G', Some(n @ (2 | 3))) => self.arc(w, n == 2),
            (b'G', Some(20)) => self.set(|m| m.units = MM_PER_INCH),
            (b'G', Some(21)) => self.set(|m| m.units = 1.0),
            (b'G', Some(28)) => self.home(w),
            (b'G', Some(n @ (90 | 91))) => self.set(|m| {
                m.absolute_xyz = n == 90;
                if m.flavor == Flavor::Marlin {
                    m.absolute_e = m.absolute_xyz;
                }
            }),
            (b'G', Some(92)) => self.set_position(w),
            (b'M', Some(82)) => self.set(|m| m.absolute_e = true),
            (b'M', Some(83)) => self.set(|m| m.absolute_e = false),
            (b'T', Some(t)) => {
                self.tool = t as usize;
                Step::Tool(self.tool)
            }
            _ => Step::Other,
        })
    }

    fn set(&mut self, f: impl FnOnce(&mut Self)) -> Step {
        f(self);
        Step::Set
    }

    /// `G0`/`G1` to the axes given (X, Y, Z, E, F as written).
    pub fn linear(&mut self, a: &Axes) -> Move {
        let feed = self.feed_of(a);
        let from = self.pos;
        let to = self.target(a);
        let de = self.e_delta(a);
        self.pos = to;
        Move { from, to, de, feed }
    }

    fn feed_of(&mut self, a: &Axes) -> Option<f64> {
        let f = a[4]
            .filter(|f| *f > 0.0)
            .map(|f| f * self.units / SECONDS_PER_MINUTE);
        if f.is_some() {
            self.feed = f;
        }
        f
    }

    fn target(&mut self, a: &Axes) -> [f64; 3] {
        let mut t = self.pos;
        for (k, v) in a.iter().take(3).enumerate() {
            if let Some(v) = *v {
                t[k] = if self.absolute_xyz {
                    self.known[k] = true;
                    v * self.units + self.offset[k]
                } else {
                    self.pos[k] + v * self.units
                };
            }
        }
        t
    }

    fn e_delta(&mut self, a: &Axes) -> f64 {
        let Some(v) = a[3] else { return 0.0 };
        let v = v * self.units;
        if !self.relative_e() {
            self.known[3] = true;
            let de = v - self.e;
            self.e = v;
            de
        } else {
            self.e += v;
            v
        }
    }

    fn arc(&mut self, w: &Words, clockwise: bool) -> Step {
        let a = axes(w);
        let feed = self.feed_of(&a);
        let from = self.pos;
        let to = self.target(&a);
        let de = self.e_delta(&a);
        self.pos = to;
        let (dx, dy) = (to[0] - from[0], to[1] - from[1]);
        // The centre from I/J, or on the chord's perpendicular bisector from R (a
        // negative R takes the longer arc).
        let centre = match (w.get(b'I'), w.get(b'J'), w.get(b'R')) {
            (i, j, _) if i.is_some() || j.is_some() => Some([
                from[0] + i.unwrap_or(0.0) * self.units,
                from[1] + j.unwrap_or(0.0) * self.units,
            ]),
            (_, _, Some(r)) => {
                let r = r * self.units;
                let chord = dx.hypot(dy);
                if chord < MIN_ARC_CHORD || chord > 2.0 * r.abs() + ARC_CHORD_SLACK {
                    None
                } else {
                    let h = (r * r - chord * chord / 4.0).max(0.0).sqrt();
                    // Left of the chord for counter-clockwise arcs with positive R.
                    let side = if clockwise == (r > 0.0) { -1.0 } else { 1.0 };
                    Some([
                        from[0] + dx / 2.0 - side * h * dy / chord,
                        from[1] + dy / 2.0 + side * h * dx / chord,
                    ])
                }
            }
            _ => None,
        };
        let Some(centre) = centre else {
            return Step::Move(Move { from, to, de, feed });
        };
        let radius = (from[0] - centre[0]).hypot(from[1] - centre[1]);
        let start_angle = (from[1] - centre[1]).atan2(from[0] - centre[0]);
        let end_angle = (to[1] - centre[1]).atan2(to[0] - centre[0]);
        let tau = std::f64::consts::TAU;
        let turned = if clockwise {
            start_angle - end_angle
        } else {
            end_angle - start_angle
        };
        let mut sweep = turned.rem_euclid(tau);
        if sweep < FULL_CIRCLE_BELOW {
            sweep = tau;
        }
        Step::Arc(Arc {
            from,
            to,
            centre,
            radius,
            start_angle,
            sweep,
            clockwise,
            de,
            feed,
        })
    }

    fn home(&mut self, w: &Words) -> Step {
        let all = !(w.has(b'X') || w.has(b'Y') || w.has(b'Z'));
        for (k, l) in [b'X', b'Y', b'Z'].into_iter().enumerate() {
            if all || w.has(l) {
                self.pos[k] = 0.0;
                self.offset[k] = 0.0;
                self.known[k] = true;
            }
        }
        Step::Home
    }

    fn set_position(&mut self, w: &Words) -> Step {
        let given = [b'X', b'Y', b'Z', b'E'].map(|l| w.get(l));
        if given.iter().all(Option::is_none) {
            if self.flavor == Flavor::Klipper {
                self.offset = self.pos;
                self.e = 0.0;
                self.known = [true; 4];
            }
            return Step::Set;
        }
        for (k, v) in given.iter().take(3).enumerate() {
            if let Some(v) = v {
                self.offset[k] = self.pos[k] - v * self.units;
                self.known[k] = true;
            }
        }
        if let Some(e) = given[3] {
            self.e = e * self.units;
            self.known[3] = true;
        }
        Step::Set
    }
}

#[cfg(test)]
mod tests {
    use super::super::{Code, lex};
    use super::*;

    fn run(m: &mut Modal, text: &str) -> Vec<Result<Step, Refusal>> {
        text.lines()
            .filter_map(|l| match lex(l.as_bytes()).code {
                Some(Code::Command(c)) => Some(m.apply(&c)),
                _ => None,
            })
            .collect()
    }

    #[test]
    fn offsets_relative_moves_and_e_modes() {
        let mut m = Modal::new();
        run(
            &mut m,
            "G28\nG1 X10 Y5 F6000\nG92 X0\nG1 X2\nG91\nG1 Y1 E0.5\nG90",
        );
        assert_eq!(m.pos, [12.0, 6.0, 0.0]);
        assert_eq!(m.logical(), [Some(2.0), Some(6.0), Some(0.0), None]);
        assert_eq!(m.feed, Some(100.0));
        // Marlin 2: G90 after M83 makes E absolute again; M83 after G90 keeps it
        // relative.
        run(&mut m, "M83\nG90\nG1 E1\nG1 E1");
        assert_eq!(m.e, 1.0);
        run(&mut m, "G90\nM83\nG1 E1\nG1 E1");
        assert_eq!(m.e, 3.0);
        // Klipper keeps E relative after M83 whatever G90 says.
        let mut k = Modal {
            flavor: Flavor::Klipper,
            ..m.clone()
        };
        run(&mut k, "M83\nG90\nG1 E1\nG1 E1");
        assert_eq!(k.e, 5.0);
        // Marlin 2: G91 then M82 moves XYZ relatively and E absolutely; Klipper reads
        // E relative under G91 whatever M82 said.
        let mut k2 = Modal {
            flavor: Flavor::Klipper,
            ..m.clone()
        };
        run(&mut m, "G91\nM82\nG1 E4\nG90");
        run(&mut k2, "G91\nM82\nG1 E4\nG90");
        assert_eq!((m.e, k2.e), (4.0, 7.0));
        run(&mut m, "M82\nG92 E10\nG1 E12");
        assert_eq!(m.logical()[3], Some(12.0));
        // Inches.
        run(&mut m, "G20\nG1 X1");
        assert_eq!(m.pos[0], 25.4 + 10.0);
    }

    #[test]
    fn bare_g92_follows_the_firmware() {
        let mut marlin = Modal::new();
        run(&mut marlin, "G1 X5 E3\nG92");
        assert_eq!(marlin.logical(), [Some(5.0), None, None, Some(3.0)]);
        let mut klipper = Modal {
            flavor: Flavor::Klipper,
            ..Modal::new()
        };
        run(&mut klipper, "G1 X5 E3\nG92");
        assert_eq!(klipper.logical(), [Some(0.0); 4]);
        assert_eq!(klipper.pos, [5.0, 0.0, 0.0]);
    }

    #[test]
    fn unknown_axes_stay_unknown_under_relative_moves() {
        let mut m = Modal::new();
        run(&mut m, "G91\nG1 Z1\nG90\nG1 X1");
        assert_eq!(m.logical(), [Some(1.0), None, None, None]);
        run(&mut m, "G28 Z");
        assert_eq!(m.logical()[2], Some(0.0));
    }

    #[test]
    fn arcs_by_centre_and_radius() {
        let mut m = Modal::new();
        run(&mut m, "G1 X10 Y0");
        let steps = run(&mut m, "G3 X-10 Y0 I-10 J0 E1");
        let Ok(Step::Arc(a)) = steps[0] else {
            panic!("{steps:?}")
        };
        assert!((a.sweep - std::f64::consts::PI).abs() < 1e-12);
        assert_eq!((a.radius, a.centre), (10.0, [0.0, 0.0]));
        // Marlin's 1 mm chords: floor(10π).
        assert_eq!(a.chords_by_length(1.0, 1 << 16), 31);
        let mid = a.point(1, 2);
        assert!(
            mid[0].abs() < 1e-9 && (mid[1] - 10.0).abs() < 1e-9,
            "{mid:?}"
        );
        assert_eq!(a.point(2, 2), [-10.0, 0.0, 0.0]);
        // The same half circle by radius, clockwise back: the centre found again.
        let steps = run(&mut m, "G2 X10 Y0 R10");
        let Ok(Step::Arc(b)) = steps[0] else {
            panic!("{steps:?}")
        };
        assert!(b.centre[0].abs() < 1e-9 && b.centre[1].abs() < 1e-9);
        // A radius too small for the chord: a straight move.
        assert!(matches!(run(&mut m, "G2 X-10 Y0 R1")[0], Ok(Step::Move(_))));
        // Same start and end: a full circle.
        let steps = run(&mut m, "G2 X-10 Y0 I5 J0");
        let Ok(Step::Arc(c)) = steps[0] else {
            panic!("{steps:?}")
        };
        assert_eq!(c.sweep, std::f64::consts::TAU);
    }

    /// Every reader follows moves through this interpreter: the estimator, the preview
    /// and the streamer's state end where the firmware does, `G92` offsets, relative
    /// moves, an arc and a bare `G92` (nothing on Marlin, all axes 0 on Klipper)
    /// included.
    #[test]
    fn every_reader_ends_where_the_firmware_does() {
        use crate::gcode::config::MachineConfig;
        use crate::gcode::machine::Simulator;
        use crate::gcode::parse::Interpreter;
        use crate::preview::toolpath::{ParseOptions, parse_bytes};
        use crate::serial::state::MachineState;
        let body = "G28\nM83\nG1 Z0.2 F600\nG1 X10 Y10 E1 F1200\nG92 X0 Y0\nG91\nG1 X5 E0.5\n\
                    G90\nG2 X5 Y5 I0 J2.5 E0.5\nG92\nG1 X20 Y5 E1\n";
        for (flavor, end) in [("marlin", [30.0, 15.0]), ("klipper", [35.0, 20.0])] {
            let text = format!("; flavor = {flavor}\n{body}");
            let mut sim = Simulator::new(MachineConfig::default());
            Interpreter::new().run(&mut sim, &text);
            let tp = parse_bytes(text.as_bytes(), &ParseOptions::default()).expect("read");
            let drawn = tp
                .layers
                .last()
                .and_then(|l| l.segments.last())
                .expect("drawn");
            let mut state = MachineState::default();
            for line in text.lines() {
                match line.strip_prefix(';') {
                    Some(c) => state.comment(c),
                    None => state.apply(line),
                }
            }
            let near = |a: f64, b: f64, tol: f64| (a - b).abs() < tol;
            for (k, want) in end.into_iter().enumerate() {
                assert!(
                    near(sim.pos[k], want, 1e-9),
                    "{flavor} estimator {:?}",
                    sim.pos
                );
                assert!(near(state.motion.pos[k], want, 1e-9), "{flavor} streamer");
            }
            assert!(
                near(f64::from(drawn.x1), end[0], 1e-4) && near(f64::from(drawn.y1), end[1], 1e-4),
                "{flavor} preview {drawn:?}"
            );
            // The streamer resumes at the logical position, the same on both.
            assert_eq!(state.position()[..2], [Some(20.0), Some(5.0)], "{flavor}");
        }
    }

    #[test]
    fn corrupt_lines_are_refused_and_change_nothing() {
        let mut m = Modal::new();
        run(&mut m, "T1\nG1 X1");
        let before = m.clone();
        for line in ["T4000000000", "M104 T4000000000 S200", "G10 P999 S200"] {
            assert!(
                matches!(run(&mut m, line)[0], Err(Refusal::AbsurdTool(_))),
                "{line}"
            );
        }
        // Values that are no number, or beyond belief, are not moves to them.
        run(&mut m, "G1 Y99999999999 Z\nG1 Ynan");
        assert_eq!(m, before);
        assert_eq!(m.tool, 1);
    }
}
