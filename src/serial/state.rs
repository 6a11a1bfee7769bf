//! What the printer was doing at a given line of the file, and the job state file that
//! lets a job resume after a disconnect or a crash.
//!
//! [`MachineState`] follows the commands the printer acknowledged (temperatures set,
//! fan, feedrate, absolute or relative modes, position) so that a resumed job can put the
//! printer back as it was: re-heat, re-home X and Y (never Z: the part is still on the
//! bed), tell the printer its Z and E with `G92`, restore fan, feedrate and modes.
//! [`JobState`] is the small JSON file written next to the G-code as the job goes.

use std::fmt::Write as _;
use std::io;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::gcode::read::modal::{self, Modal, SECONDS_PER_MINUTE, Step};

use super::gcode::lexed;

/// The printer's state as far as the G-code sent so far tells.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct MachineState {
    /// Last target set per hotend (`M104`/`M109`), index = tool.
    pub hotend_targets: Vec<f64>,
    /// Last bed target (`M140`/`M190`).
    pub bed_target: Option<f64>,
    /// Last chamber target (`M141`/`M191`).
    pub chamber_target: Option<f64>,
    /// Part fan speed 0-255 (`M106`/`M107`).
    pub fan: Option<f64>,
    /// Modes, offsets, position, feedrate and tool, followed by lamina's one motion
    /// interpreter (the estimator and the preview read moves the same way).
    pub motion: Modal,
}

impl MachineState {
    /// Follow one cleaned command.
    ///
    /// ```
    /// use lamina::serial::state::MachineState;
    /// let mut m = MachineState::default();
    /// for c in ["M104 S215", "M140 S60", "G28", "G1 Z0.3 F600", "M83", "G1 X10 E0.5 F1800"] {
    ///     m.apply(c);
    /// }
    /// assert_eq!(m.hotend_targets, vec![215.0]);
    /// assert_eq!(m.position()[2], Some(0.3));
    /// assert!(m.relative_e());
    /// assert_eq!(m.feedrate(), Some(1800.0));
    /// ```
    pub fn apply(&mut self, command: &str) {
        let Some(c) = lexed(command) else {
            return;
        };
        // A corrupt tool number is not followed (the file check refuses such files
        // before streaming; this keeps the state small whatever it is fed).
        if self.motion.apply(&c) != Ok(Step::Other) {
            return;
        }
        let w = &c.words;
        let target = || w.get(b'S').or_else(|| w.get(b'R'));
        match (c.letter, c.code()) {
            (b'M', Some(104 | 109)) => {
                if let Some(s) = target() {
                    let tool = w
                        .get(b'T')
                        .map_or(self.motion.tool, |t| t.max(0.0) as usize);
                    self.set_hotend(tool, s);
                }
            }
            (b'M', Some(140 | 190)) => {
                if let Some(s) = target() {
                    self.bed_target = Some(s);
                }
            }
            (b'M', Some(141 | 191)) => {
                if let Some(s) = target() {
                    self.chamber_target = Some(s);
                }
            }
            (b'M', Some(106)) => self.fan = Some(w.get(b'S').unwrap_or(255.0)),
            (b'M', Some(107)) => self.fan = Some(0.0),
            _ => {}
        }
    }

    /// Follow a comment of the file: `; flavor = NAME` says how its G-code reads.
    pub fn comment(&mut self, comment: &str) {
        if let Some(f) = comment
            .trim()
            .strip_prefix("flavor = ")
            .and_then(|n| modal::flavor_named(n.as_bytes()))
        {
            self.motion.flavor = f;
        }
    }

    /// The logical position of X, Y, Z and E where known.
    pub fn position(&self) -> [Option<f64>; 4] {
        self.motion.logical()
    }

    /// The last feedrate, mm/min.
    pub fn feedrate(&self) -> Option<f64> {
        self.motion.feed.map(|f| f * SECONDS_PER_MINUTE)
    }

    /// Whether E moves are relative, as the file's firmware reads its `G90`/`G91` and
    /// `M82`/`M83` (see [`crate::gcode::read::modal`]).
    pub fn relative_e(&self) -> bool {
        self.motion.relative_e()
    }

    /// The active tool.
    pub fn tool(&self) -> usize {
        self.motion.tool
    }

    fn set_hotend(&mut self, i: usize, target: f64) {
        // A tool named by `S` alone on a corrupt line is not followed either.
        if i >= crate::gcode::MAX_TOOLS {
            return;
        }
        if self.hotend_targets.len() <= i {
            self.hotend_targets.resize(i + 1, 0.0);
        }
        self.hotend_targets[i] = target;
    }

    /// The commands that bring a printer that lost its state (it reset, or it was
    /// switched off and on) back to this state, ready to go on with the file.
    ///
    /// Re-heats (bed and hotends set first, waited for after homing), lifts the nozzle,
    /// re-homes X and Y only, primes the nozzle there with `prime_mm` of filament (away
    /// from the part), returns to the last X/Y, lowers to Z, sets E with `G92`, restores
    /// fan, modes and feedrate.
    pub fn resume_preamble(&self, lift_mm: f64, prime_mm: f64) -> Vec<String> {
        let mut out = Vec::new();
        let hotends: Vec<(usize, f64)> = self
            .hotend_targets
            .iter()
            .copied()
            .enumerate()
            .filter(|(_, t)| *t > 0.0)
            .collect();
        let multi = self.hotend_targets.len() > 1;
        let tool_arg = |i: usize| {
            if multi {
                format!(" T{i}")
            } else {
                String::new()
            }
        };
        if let Some(b) = self.bed_target.filter(|b| *b > 0.0) {
            out.push(format!("M140 S{}", fmt(b)));
        }
        for (i, t) in &hotends {
            out.push(format!("M104{} S{}", tool_arg(*i), fmt(*t)));
        }
        let position = self.position();
        match position[2] {
            Some(z) => {
                out.push(format!("G92 Z{}", fmt(z)));
                out.push("G91".into());
                out.push(format!("G1 Z{} F600", fmt(lift_mm)));
                out.push("G90".into());
                out.push("G28 X Y".into());
            }
            None => out.push("G28".into()),
        }
        if let Some(b) = self.bed_target.filter(|b| *b > 0.0) {
            out.push(format!("M190 S{}", fmt(b)));
        }
        if let Some(c) = self.chamber_target.filter(|c| *c > 0.0) {
            out.push(format!("M141 S{}", fmt(c)));
        }
        for (i, t) in &hotends {
            out.push(format!("M109{} S{}", tool_arg(*i), fmt(*t)));
        }
        if multi {
            out.push(format!("T{}", self.tool()));
        }
        if prime_mm > 0.0 && !hotends.is_empty() {
            out.push("M83".into());
            out.push(format!("G1 E{} F{}", fmt(prime_mm), fmt(PRIME_FEEDRATE)));
        }
        if let (Some(x), Some(y)) = (position[0], position[1]) {
            out.push(format!("G1 X{} Y{} F3000", fmt(x), fmt(y)));
        }
        if let Some(z) = position[2] {
            out.push(format!("G1 Z{} F600", fmt(z)));
        }
        out.push(format!("G92 E{}", fmt(position[3].unwrap_or(0.0))));
        match self.fan {
            Some(f) if f > 0.0 => out.push(format!("M106 S{}", fmt(f))),
            _ => out.push("M107".into()),
        }
        out.push(self.xyz_mode().into());
        out.push(self.e_mode().into());
        if let Some(f) = self.feedrate() {
            out.push(format!("G1 F{}", fmt(f)));
        }
        out
    }

    /// Fill a G-code template: `{x} {y} {z} {e} {feedrate} {hotend} {bed} {fan}
    /// {e_mode} {xyz_mode}`. A line whose placeholder has no known value is left out.
    /// A template restores `{xyz_mode}` before `{e_mode}`: on Marlin 2 a `G90` makes E
    /// absolute again.
    ///
    /// ```
    /// use lamina::serial::state::MachineState;
    /// let mut m = MachineState::default();
    /// m.apply("G1 X5 Y6 Z0.2");
    /// assert_eq!(m.fill_template("G1 X{x} Y{y}\nM109 S{hotend}"), vec!["G1 X5 Y6"]);
    /// ```
    pub fn fill_template(&self, template: &str) -> Vec<String> {
        let hotend = self.hotend_targets.get(self.tool()).copied();
        let position = self.position();
        let values: [(&str, Option<String>); 10] = [
            ("{x}", position[0].map(fmt)),
            ("{y}", position[1].map(fmt)),
            ("{z}", position[2].map(fmt)),
            ("{e}", Some(fmt(position[3].unwrap_or(0.0)))),
            ("{feedrate}", self.feedrate().map(fmt)),
            ("{hotend}", hotend.filter(|t| *t > 0.0).map(fmt)),
            ("{bed}", self.bed_target.filter(|t| *t > 0.0).map(fmt)),
            ("{fan}", Some(fmt(self.fan.unwrap_or(0.0)))),
            ("{e_mode}", Some(self.e_mode().into())),
            ("{xyz_mode}", Some(self.xyz_mode().into())),
        ];
        let mut out = Vec::new();
        'lines: for line in template.lines() {
            let mut filled = line.to_string();
            for (key, value) in &values {
                if filled.contains(key) {
                    match value {
                        Some(v) => filled = filled.replace(key, v),
                        None => continue 'lines,
                    }
                }
            }
            if let Some(clean) = super::gcode::clean_line(&filled) {
                out.push(clean);
            }
        }
        out
    }
}

impl MachineState {
    /// `G90` or `G91`, as the job has it.
    fn xyz_mode(&self) -> &'static str {
        if self.motion.absolute_xyz {
            "G90"
        } else {
            "G91"
        }
    }

    /// `M82` or `M83`: how E moves read, as the job has it, to be sent after
    /// [`Self::xyz_mode`] (on Marlin 2 a `G90` or `G91` sets E's mode too).
    fn e_mode(&self) -> &'static str {
        if self.relative_e() { "M83" } else { "M82" }
    }
}

/// Feedrate of the prime after re-heating, mm/min: slow enough for any hotend.
const PRIME_FEEDRATE: f64 = 300.0;

/// A number without trailing zeros: 0.3, 210, -1.5.
fn fmt(v: f64) -> String {
    let mut s = String::new();
    let _ = write!(s, "{:.4}", v);
    let trimmed = s.trim_end_matches('0').trim_end_matches('.');
    if trimmed == "-0" || trimmed.is_empty() {
        "0".into()
    } else {
        trimmed.to_string()
    }
}

/// How a job ended (or that it is still going).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum JobStatus {
    /// Streaming.
    Running,
    /// Paused by the user.
    Paused,
    /// Every line acknowledged.
    Done,
    /// Stopped on an error or a disconnect: resumable.
    Failed,
    /// Stopped by the user: resumable.
    Cancelled,
}

/// A line sent and not yet known to be executed: its protocol number and file line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct SentLine {
    /// Line number on the wire (`N..`).
    pub number: u32,
    /// Line in the file (0 for lamina's own commands).
    pub line: u64,
}

/// The job state file, `FILE.gcode.lamina-job`, written atomically as the job goes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct JobState {
    /// The G-code file streamed.
    pub file: PathBuf,
    /// Its size when the job started (a changed file cannot be resumed).
    pub file_size: u64,
    /// Where the job is.
    pub status: JobStatus,
    /// Last file line the printer acknowledged (0: none yet).
    pub last_acknowledged_line: u64,
    /// The file line to start again from if the board resets: before the oldest
    /// acknowledged move that may still have been in its planner (0: not recorded).
    #[serde(default)]
    pub replay_line: u64,
    /// The last acknowledged line and those sent after it, with their wire numbers: on a
    /// printer that kept running, its line counter tells which of them it received.
    pub sent: Vec<SentLine>,
    /// The wire number the next line would have had.
    pub next_number: u32,
    /// Why the job stopped, if it did.
    pub message: Option<String>,
}

/// Errors reading a job state file.
#[derive(Debug, thiserror::Error)]
pub enum StateError {
    /// The file could not be read.
    #[error("cannot read the job state {path}: {source}")]
    Io {
        /// The state file.
        path: PathBuf,
        /// Why.
        source: io::Error,
    },
    /// The file is not a job state.
    #[error("{path} is not a lamina job state file: {source}")]
    Format {
        /// The state file.
        path: PathBuf,
        /// Why.
        source: serde_json::Error,
    },
}

impl JobState {
    /// The state file that goes with a G-code file: `FILE.gcode.lamina-job`.
    ///
    /// ```
    /// use std::path::Path;
    /// assert_eq!(lamina::serial::state::JobState::path_for(Path::new("a/skull.gcode")),
    ///            Path::new("a/skull.gcode.lamina-job"));
    /// ```
    pub fn path_for(gcode: &Path) -> PathBuf {
        let mut name = gcode.as_os_str().to_os_string();
        name.push(".lamina-job");
        PathBuf::from(name)
    }

    /// Read a state file.
    pub fn load(path: &Path) -> Result<JobState, StateError> {
        let text = std::fs::read_to_string(path).map_err(|source| StateError::Io {
            path: path.to_path_buf(),
            source,
        })?;
        serde_json::from_str(&text).map_err(|source| StateError::Format {
            path: path.to_path_buf(),
            source,
        })
    }

    /// Write the state file atomically (never half-written).
    pub fn save(&self, path: &Path) -> io::Result<()> {
        let json = serde_json::to_vec_pretty(self).map_err(io::Error::other)?;
        crate::output::write_atomically(path, |w| w.write_all(&json))
    }

    /// Where a job resumed on a board that reset starts again: before the moves its
    /// planner may have lost.
    pub fn restart_line(&self) -> u64 {
        let next = self.last_acknowledged_line + 1;
        if self.replay_line > 0 {
            self.replay_line.min(next)
        } else {
            next
        }
    }

    /// The file line that follows wire line `number`, if it is one of [`JobState::sent`].
    pub fn line_after_number(&self, number: u32) -> Option<u64> {
        let index = self.sent.iter().rposition(|s| s.number == number)?;
        // The last file line at or before this entry (lamina's own lines have line 0).
        self.sent[..=index]
            .iter()
            .rev()
            .find(|s| s.line > 0)
            .map(|s| s.line + 1)
            .or(Some(self.last_acknowledged_line + 1))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn absurd_tool_numbers_keep_the_state_small() {
        let mut m = MachineState::default();
        m.apply("M104 T4000000000 S200");
        m.apply("T4000000000");
        m.apply("M109 S210");
        assert!(m.hotend_targets.len() <= 1, "{:?}", m.hotend_targets.len());
        assert_eq!(m.tool(), 0);
        m.apply("M104 T1 S200");
        assert_eq!(m.hotend_targets, vec![210.0, 200.0]);
    }

    #[test]
    fn tracks_relative_moves_and_g92() {
        let mut m = MachineState::default();
        for c in [
            "G92 E0",
            "G1 Z1",
            "G91",
            "G1 Z0.5 E2",
            "G90",
            "G92 E10",
            "M82",
            "G1 E12",
        ] {
            m.apply(c);
        }
        assert_eq!(m.position()[2], Some(1.5));
        assert_eq!(m.position()[3], Some(12.0));
        // A bare G92 sets nothing on Marlin, every axis to 0 on Klipper.
        let mut klipper = m.clone();
        m.apply("G92");
        assert_eq!(m.position(), [None, None, Some(1.5), Some(12.0)]);
        klipper.comment(" flavor = klipper");
        klipper.apply("G92");
        assert_eq!(klipper.position(), [Some(0.0); 4]);
    }

    #[test]
    fn e_mode_is_restored_as_the_moves_read_it() {
        // Marlin 2: G90 and G91 set E's mode too, M82/M83 after them set E alone.
        // Klipper: G91 makes E relative whatever M82 said; G90 does not undo M83.
        for (flavor, commands, mode) in [
            ("marlin", &["M82", "G91"][..], "M83"),
            ("marlin", &["G91", "M82"][..], "M82"),
            ("marlin", &["M83", "G90"][..], "M82"),
            ("marlin", &["G90", "M83"][..], "M83"),
            ("klipper", &["G91", "M82"][..], "M83"),
            ("klipper", &["M83", "G90"][..], "M83"),
            ("klipper", &["G91", "G90"][..], "M82"),
        ] {
            let mut m = MachineState::default();
            m.comment(&format!(" flavor = {flavor}"));
            for c in commands {
                m.apply(c);
            }
            assert_eq!(
                m.fill_template("{e_mode}"),
                vec![mode],
                "{flavor} {commands:?}"
            );
        }
    }

    #[test]
    fn preamble_reheats_rehomes_xy_and_sets_z_and_e() {
        let mut m = MachineState::default();
        for c in [
            "M140 S60",
            "M104 S215",
            "G28",
            "G90",
            "M83",
            "G1 Z2.4 F600",
            "G1 X50 Y60 E1 F1800",
            "M106 S128",
        ] {
            m.apply(c);
        }
        let p = m.resume_preamble(2.0, 3.0);
        let expected: Vec<String> = [
            "M140 S60",
            "M104 S215",
            "G92 Z2.4",
            "G91",
            "G1 Z2 F600",
            "G90",
            "G28 X Y",
            "M190 S60",
            "M109 S215",
            "M83",
            "G1 E3 F300",
            "G1 X50 Y60 F3000",
            "G1 Z2.4 F600",
            "G92 E0",
            "M106 S128",
            "G90",
            "M83",
            "G1 F1800",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        assert_eq!(p, expected);
        assert!(!p.iter().any(|c| c == "G28" || c.contains("G28 Z")));
    }

    #[test]
    fn two_hotends_are_named() {
        let mut m = MachineState::default();
        m.apply("M104 T1 S180");
        m.apply("M104 T0 S210");
        m.apply("T1");
        let p = m.resume_preamble(2.0, 0.0);
        assert!(p.contains(&"M109 T0 S210".to_string()));
        assert!(p.contains(&"M109 T1 S180".to_string()));
        assert!(p.contains(&"T1".to_string()));
    }

    #[test]
    fn state_file_round_trip_and_line_lookup() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = JobState::path_for(&dir.path().join("x.gcode"));
        let s = JobState {
            file: "x.gcode".into(),
            file_size: 10,
            status: JobStatus::Failed,
            last_acknowledged_line: 40,
            replay_line: 21,
            sent: vec![
                SentLine {
                    number: 7,
                    line: 40,
                },
                SentLine {
                    number: 8,
                    line: 42,
                },
                SentLine { number: 9, line: 0 },
                SentLine {
                    number: 10,
                    line: 45,
                },
            ],
            next_number: 11,
            message: None,
        };
        s.save(&path).expect("saved");
        let back = JobState::load(&path).expect("loaded");
        assert_eq!(back, s);
        assert_eq!(back.line_after_number(8), Some(43));
        assert_eq!(back.line_after_number(9), Some(43));
        assert_eq!(back.line_after_number(10), Some(46));
        assert_eq!(back.line_after_number(3), None);
    }
}
