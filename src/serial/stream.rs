//! A whole print job: the file read line by line (memory does not grow with its size),
//! fed to the [`Protocol`], with progress, temperatures, pause/resume, cancel, a log,
//! and a job state file so that a job cut by a disconnect or a crash can be resumed at
//! the right line.

use std::collections::VecDeque;
use std::fs::File;
use std::io::{self, BufRead, BufReader, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use serde::Serialize;

use super::gcode::{self, clean_line, command_word, param};
use super::port::{self, Banner, LineReader, Link, PortError};
use super::protocol::{Event, FirmwareInfo, PROBE_COMMAND, Protocol, ProtocolConfig, Source};
use super::response::{self, Response, Temperatures};
use super::state::{JobState, JobStatus, MachineState, SentLine};

/// Default G-code run when the job is paused: retract, lift, park.
pub const DEFAULT_PAUSE_GCODE: &str = "M83\nG1 E-2 F2400\nG91\nG1 Z10 F600\nG90\nG1 X0 Y0 F6000";
/// Default G-code run when a paused job resumes: re-heat, return, prime, restore modes.
pub const DEFAULT_RESUME_GCODE: &str = "M109 S{hotend}\nM190 S{bed}\nG90\nG1 X{x} Y{y} F6000\n\
     G1 Z{z} F600\nM83\nG1 E2 F2400\nG92 E{e}\n{e_mode}\n{xyz_mode}\nG1 F{feedrate}";
/// Default G-code run when the job is cancelled: heaters and fan off, lift, motors off.
pub const DEFAULT_CANCEL_GCODE: &str = "M104 S0\nM140 S0\nM107\nG91\nG1 Z5 F600\nG90\nM84";

/// Where a job starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StartAt {
    /// From the first line.
    Beginning,
    /// From this 1-based file line (the printer is brought back to the state the file
    /// had reached there: heated, homed in X and Y, Z and E set).
    Line(u64),
    /// Where the job state file says the previous run stopped.
    Resume,
}

/// Settings of a job. [`StreamOptions::default`] suits a Marlin printer over USB.
#[derive(Debug, Clone)]
pub struct StreamOptions {
    /// The host protocol's settings (window, timeouts...).
    pub protocol: ProtocolConfig,
    /// How long to wait for the board's reset banner after opening the port.
    pub banner_timeout: Duration,
    /// Temperature reports: `M155 S<n>` period when the firmware supports autoreport,
    /// otherwise how often `M105` is sent.
    pub temperature_interval: Duration,
    /// How often the job state file is rewritten while streaming.
    pub state_interval: Duration,
    /// G-code template run on pause (see [`MachineState::fill_template`]).
    pub pause_gcode: String,
    /// G-code template run on resume.
    pub resume_gcode: String,
    /// G-code template run on cancel.
    pub cancel_gcode: String,
    /// How far the nozzle is lifted before re-homing X and Y when resuming a job.
    pub resume_lift_mm: f64,
    /// Where the job starts.
    pub start: StartAt,
    /// The job state file (default: next to the G-code, `FILE.gcode.lamina-job`).
    pub state_path: Option<PathBuf>,
    /// How long cancel waits for the printer to take the cancel G-code.
    pub cancel_timeout: Duration,
    /// Moves the printer may have acknowledged and not run when its board resets (its
    /// planner blocks and its command buffer): a job resumed after a reset starts again
    /// before the oldest of them.
    pub replay_moves: usize,
    /// Filament pushed through the re-heated nozzle, away from the part, before a
    /// resumed job goes on, mm.
    pub resume_prime_mm: f64,
    /// Check on connecting whether the printer reads every line of what arrives at
    /// once, and send one command at a time to one that does not (it would leave lines
    /// unread). Off when the user sets the window.
    pub check_line_reading: bool,
}

/// Default wait for the reset banner.
pub const DEFAULT_BANNER_TIMEOUT: Duration = Duration::from_secs(5);
/// Default temperature report period.
pub const DEFAULT_TEMPERATURE_INTERVAL: Duration = Duration::from_secs(2);
/// Default period between state file writes.
pub const DEFAULT_STATE_INTERVAL: Duration = Duration::from_secs(1);
/// Default lift before re-homing X and Y on resume, mm.
pub const DEFAULT_RESUME_LIFT_MM: f64 = 2.0;
/// Moves a resumed job goes back after a reset: Marlin's 16 planner blocks and its
/// 4-command buffer. At most that many moves run twice; none is skipped.
pub const DEFAULT_REPLAY_MOVES: usize =
    super::pace::DEFAULT_PLANNER_BLOCKS + super::protocol::DEFAULT_WINDOW;
/// Default prime after re-heating for a resumed job, mm of filament: what a nozzle
/// oozes while it heats.
pub const DEFAULT_RESUME_PRIME_MM: f64 = 3.0;
/// Wait for any answer to the first line when the board printed nothing on opening:
/// a printer answers `M110` within milliseconds.
pub const NO_ANSWER_WAIT: Duration = Duration::from_millis(1500);
/// Silence that ends the answer to the greeting's `M110`.
const GREETING_QUIET: Duration = Duration::from_millis(200);
/// Longest wait for the answers to the two `M105` of the line-reading check: a printer
/// with nothing else to do answers within milliseconds.
const LINE_READING_WAIT: Duration = Duration::from_millis(500);
/// Longest wait between two looks at the pause/cancel controls.
const CONTROL_TICK: Duration = Duration::from_millis(200);
/// Bytes of the file's head and tail searched for the slicer's time estimate.
const ESTIMATE_SCAN_BYTES: u64 = 64 * 1024;
/// Attempts at asking a printer that kept running for its line counter.
const CONTINUITY_ATTEMPTS: usize = 3;
/// Wait for each of those answers.
const CONTINUITY_WAIT: Duration = Duration::from_secs(3);
/// Longest wait for the printer to fall quiet after asking for its line counter.
const DRAIN_MAX: Duration = Duration::from_secs(1);
/// Fraction of the file after which the observed pace starts to weigh in the estimate.
const PACE_MIN_FRACTION: f64 = 0.02;

impl Default for StreamOptions {
    fn default() -> Self {
        StreamOptions {
            protocol: ProtocolConfig::default(),
            banner_timeout: DEFAULT_BANNER_TIMEOUT,
            temperature_interval: DEFAULT_TEMPERATURE_INTERVAL,
            state_interval: DEFAULT_STATE_INTERVAL,
            pause_gcode: DEFAULT_PAUSE_GCODE.into(),
            resume_gcode: DEFAULT_RESUME_GCODE.into(),
            cancel_gcode: DEFAULT_CANCEL_GCODE.into(),
            resume_lift_mm: DEFAULT_RESUME_LIFT_MM,
            start: StartAt::Beginning,
            state_path: None,
            cancel_timeout: Duration::from_secs(30),
            replay_moves: DEFAULT_REPLAY_MOVES,
            resume_prime_mm: DEFAULT_RESUME_PRIME_MM,
            check_line_reading: true,
        }
    }
}

/// Requests from outside the job (keys, signals), polled while streaming.
#[derive(Debug, Clone, Default)]
pub struct Controls {
    /// Pause at the next command boundary.
    pub pause: Arc<AtomicBool>,
    /// Resume a paused job.
    pub resume: Arc<AtomicBool>,
    /// Cancel the job (Ctrl-C).
    pub cancel: Arc<AtomicBool>,
    /// Set again by a second Ctrl-C while cancelling: stop waiting for the printer.
    pub interrupt: Arc<AtomicBool>,
}

/// What the job is doing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Phase {
    /// Opening the port, waiting for the board, reading its capabilities.
    Connecting,
    /// Bringing the printer back to where a resumed job stopped.
    Restoring,
    /// Streaming the file.
    Printing,
    /// Paused by the user.
    Paused,
    /// Running the cancel G-code.
    Cancelling,
}

/// A snapshot for the progress display.
#[derive(Debug, Clone, Serialize)]
pub struct Progress {
    /// What the job is doing.
    pub phase: Phase,
    /// Last file line the printer acknowledged.
    pub line: u64,
    /// Bytes of the file done (up to the last acknowledged line).
    pub done_bytes: u64,
    /// File size.
    pub total_bytes: u64,
    /// Layer reached (from `;LAYER_CHANGE` / `;LAYER:` comments), 1-based.
    pub layer: Option<u64>,
    /// Z of that layer (from `;Z:` comments or moves).
    pub z: Option<f64>,
    /// Time since the job started.
    pub elapsed: Duration,
    /// Time left: from `M73 R`, the file's own estimate and the pace so far.
    pub remaining: Option<Duration>,
    /// Last temperatures reported.
    pub temperatures: Option<Temperatures>,
}

impl Progress {
    /// Fraction done, 0 to 1.
    pub fn fraction(&self) -> f64 {
        if self.total_bytes == 0 {
            return 1.0;
        }
        (self.done_bytes as f64 / self.total_bytes as f64).clamp(0.0, 1.0)
    }
}

/// Receives progress and messages while the job runs.
pub trait Observer {
    /// Called a few times a second at most.
    fn progress(&mut self, progress: &Progress);
    /// Something the user should read (connected, paused, firmware...).
    fn message(&mut self, text: &str);
}

/// An observer that ignores everything.
#[derive(Debug, Default)]
pub struct Silent;

impl Observer for Silent {
    fn progress(&mut self, _: &Progress) {}
    fn message(&mut self, _: &str) {}
}

/// How a job went.
#[derive(Debug, Clone, Serialize)]
pub struct Summary {
    /// Done, failed, cancelled.
    pub status: JobStatus,
    /// The G-code file.
    pub file: PathBuf,
    /// First file line streamed this run.
    pub first_line: u64,
    /// Last file line the printer acknowledged.
    pub last_acknowledged_line: u64,
    /// File commands acknowledged this run.
    pub commands: u64,
    /// Resend requests acted upon.
    pub resends: u64,
    /// Lines the printer rejected (checksum, line number).
    pub line_errors: u64,
    /// Probes sent for lost acknowledgements.
    pub probes: u64,
    /// Seconds the run took.
    pub elapsed_s: f64,
    /// The printer's capabilities.
    pub firmware: FirmwareInfo,
    /// The board reset: when the port was opened, or during the job.
    pub printer_reset: bool,
    /// For a resumed job: whether the printer had reset or kept running.
    pub resumed: Option<Resumed>,
    /// Commands sent to bring the printer back before resuming (empty for a fresh job
    /// or a printer that kept its state).
    pub preamble: Vec<String>,
    /// Why the job stopped, and how to resume it.
    pub message: Option<String>,
    /// The job state file, kept for `--resume` unless the job finished.
    pub state_file: Option<PathBuf>,
}

/// Errors that keep a job from starting.
#[derive(Debug, thiserror::Error)]
pub enum StreamError {
    /// The G-code file could not be read.
    #[error("cannot read {path}: {source}")]
    File {
        /// The file.
        path: PathBuf,
        /// Why.
        source: io::Error,
    },
    /// The job state could not be read.
    #[error(transparent)]
    State(#[from] super::state::StateError),
    /// The job cannot be resumed as asked.
    #[error("{0}")]
    Resume(String),
    /// The file is not a print (a mesh, binary data, no motion).
    #[error(transparent)]
    NotAPrint(#[from] super::check::NotAPrint),
    /// The port failed before the job started.
    #[error(transparent)]
    Port(#[from] PortError),
    /// Nothing at all came from the port.
    #[error("{}", no_answer_message("the port"))]
    NoAnswer,
}

/// What lamina says when nothing answers on `port`.
pub fn no_answer_message(port: &str) -> String {
    format!("no answer from a printer on {port} (is it the right port and baud rate?)")
}

/// Wait for the board on a port just opened and make sure a printer is there: its reset
/// banner, or else an answer to `M110 N0`, within `banner_timeout` and
/// [`NO_ANSWER_WAIT`]. `lamina print` does this before slicing, so that a wrong port is
/// said before minutes of work; the banner then goes to [`run`], which would otherwise
/// wait for it itself.
pub fn greet(link: &mut dyn Link, banner_timeout: Duration) -> Result<Banner, StreamError> {
    let mut banner = port::wait_for_banner(link, banner_timeout, |_| {})?;
    if !banner.lines.is_empty() {
        return Ok(banner);
    }
    link.write_line(gcode::frame(0, "M110 N0").as_bytes())?;
    let mut reader = LineReader::default();
    let mut buf = [0u8; 1024];
    let until = Instant::now() + NO_ANSWER_WAIT;
    // The answer, then whatever follows it until a short silence (the ok of the
    // M110 must not be taken later for the answer to something else).
    let mut quiet_until: Option<Instant> = None;
    let mut answered_at: Option<Instant> = None;
    loop {
        let now = Instant::now();
        let end = quiet_until.unwrap_or(until);
        if now >= end {
            break;
        }
        let n = link.read_some(&mut buf, end - now)?;
        if n == 0 {
            continue;
        }
        reader.push(&buf[..n], |l| banner.lines.push(l.to_string()));
        if !banner.lines.is_empty() {
            // A printer reporting temperatures is never quiet for long.
            let now = Instant::now();
            let first = *answered_at.get_or_insert(now);
            quiet_until = Some((now + GREETING_QUIET).min(first + DRAIN_MAX));
        }
    }
    if banner.lines.is_empty() {
        return Err(StreamError::NoAnswer);
    }
    Ok(banner)
}

/// Stream `path` to the printer on `link`.
///
/// Job failures (printer error, disconnect, cancel) are not errors: they come back as a
/// [`Summary`] whose `status` says so and whose `message` says how to resume. Errors are
/// kept for what prevents the job from starting. `greeted` is the board's banner when
/// the port was already checked with [`greet`].
pub fn run<'a>(
    path: &Path,
    link: &'a mut dyn Link,
    options: &'a StreamOptions,
    controls: &'a Controls,
    observer: &'a mut dyn Observer,
    log: Option<&'a mut dyn Write>,
    greeted: Option<Banner>,
) -> Result<Summary, StreamError> {
    let file_err = |source| StreamError::File {
        path: path.to_path_buf(),
        source,
    };
    super::check::check_file(path)?;
    let file = File::open(path).map_err(file_err)?;
    let total_bytes = file.metadata().map_err(file_err)?.len();
    let state_path = options
        .state_path
        .clone()
        .unwrap_or_else(|| JobState::path_for(path));
    let previous = match options.start {
        StartAt::Resume => {
            let s = JobState::load(&state_path)?;
            if s.file_size != total_bytes {
                return Err(StreamError::Resume(format!(
                    "{} changed since the job state {} was written ({} bytes then, {} now); \
                     it cannot be resumed",
                    path.display(),
                    state_path.display(),
                    s.file_size,
                    total_bytes
                )));
            }
            if s.status == JobStatus::Done {
                return Err(StreamError::Resume(format!(
                    "the job in {} already finished; nothing to resume",
                    state_path.display()
                )));
            }
            Some(s)
        }
        _ => None,
    };
    let estimate = read_estimate(path).ok().flatten();

    let mut session = Session {
        path: path.to_path_buf(),
        link,
        log,
        observer,
        controls,
        options,
        protocol: Protocol::new(options.protocol.clone()),
        reader: LineReader::default(),
        machine: MachineState::default(),
        started: Instant::now(),
        total_bytes,
        done_bytes: 0,
        acked_line: 0,
        commands: 0,
        resends: 0,
        line_errors: 0,
        probes: 0,
        layer: None,
        z: None,
        estimate,
        m73_remaining: None,
        temperatures: None,
        phase: Phase::Connecting,
        last_progress_report: None,
        last_state_write: None,
        next_temperature_poll: None,
        autoreport: false,
        cancel_deadline: None,
        state_path,
        first_line: 1,
        printer_reset: false,
        preamble: Vec::new(),
        resumed: None,
        heard_anything: false,
        recent_moves: VecDeque::new(),
        greeted,
    };
    session.log_note(&format!("lamina stream {}", path.display()));
    let outcome = session.job(previous, file);
    Ok(session.finish(outcome))
}

/// Why a job stopped early.
enum Stop {
    Failed(String),
    Cancelled,
    /// Nothing at all came from the port.
    NoAnswer,
}

/// What a resumed job found the printer had done since it was cut.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Resumed {
    /// The board reset (banner, or its line counter started over): what it had planned
    /// was lost, so the job went back before the oldest move that may not have run, and
    /// the printer was re-heated and re-homed.
    Reset,
    /// The board kept running through the disconnect: the job went on after the last
    /// line it received.
    KeptRunning,
}

struct Session<'a> {
    path: PathBuf,
    link: &'a mut dyn Link,
    log: Option<&'a mut dyn Write>,
    observer: &'a mut dyn Observer,
    controls: &'a Controls,
    options: &'a StreamOptions,
    protocol: Protocol,
    reader: LineReader,
    machine: MachineState,
    started: Instant,
    total_bytes: u64,
    done_bytes: u64,
    acked_line: u64,
    commands: u64,
    resends: u64,
    line_errors: u64,
    probes: u64,
    layer: Option<u64>,
    z: Option<f64>,
    estimate: Option<Duration>,
    m73_remaining: Option<(Instant, Duration)>,
    temperatures: Option<Temperatures>,
    phase: Phase,
    last_progress_report: Option<Instant>,
    last_state_write: Option<Instant>,
    next_temperature_poll: Option<Instant>,
    autoreport: bool,
    cancel_deadline: Option<Instant>,
    state_path: PathBuf,
    first_line: u64,
    printer_reset: bool,
    preamble: Vec<String>,
    resumed: Option<Resumed>,
    /// Any byte at all came from the port.
    heard_anything: bool,
    /// File lines of the latest acknowledged moves, oldest first (at most
    /// [`StreamOptions::replay_moves`]): where to start again if the board resets.
    recent_moves: VecDeque<u64>,
    /// The board's banner, read by [`greet`] before the job.
    greeted: Option<Banner>,
}

/// The file, read one line at a time with its position.
struct GcodeReader {
    reader: BufReader<File>,
    buf: Vec<u8>,
    line: u64,
    offset: u64,
}

impl GcodeReader {
    fn new(file: File) -> Self {
        GcodeReader {
            reader: BufReader::with_capacity(1 << 16, file),
            buf: Vec::with_capacity(256),
            line: 0,
            offset: 0,
        }
    }

    /// The next raw line (without its ending), or `None` at the end.
    fn next_line(&mut self) -> io::Result<Option<(String, Source)>> {
        self.buf.clear();
        let n = self.reader.read_until(b'\n', &mut self.buf)?;
        if n == 0 {
            return Ok(None);
        }
        self.line += 1;
        self.offset += n as u64;
        let text = String::from_utf8_lossy(&self.buf);
        Ok(Some((
            text.trim_end_matches(['\n', '\r']).to_string(),
            Source {
                line: self.line,
                offset: self.offset,
            },
        )))
    }
}

impl Session<'_> {
    fn job(&mut self, previous: Option<JobState>, file: File) -> Result<(), Stop> {
        let banner = if let Some(banner) = self.greeted.take() {
            for line in &banner.lines {
                self.log_line('<', line);
            }
            banner
        } else {
            let log = &mut self.log;
            let started = self.started;
            port::wait_for_banner(self.link, self.options.banner_timeout, |line| {
                if let Some(w) = log.as_mut() {
                    let _ = writeln!(w, "{} < {line}", timestamp(started));
                }
            })
            .map_err(|e| Stop::Failed(e.to_string()))?
        };
        self.printer_reset = banner.reset;
        if banner.reset {
            self.message("printer connected (board reset)");
        } else if !banner.lines.is_empty() {
            self.message("printer connected (no reset banner)");
        }
        let heard = !banner.lines.is_empty();

        // Where to start, and whether the printer needs to be brought back first.
        let mut needs_restore = false;
        let start_line = match (&self.options.start, &previous) {
            (StartAt::Beginning, _) => 1,
            (StartAt::Line(n), _) => {
                needs_restore = *n > 1;
                (*n).max(1)
            }
            (StartAt::Resume, Some(state)) => {
                let kept = if banner.reset || state.sent.is_empty() {
                    None
                } else {
                    self.ask_line_counter(state.next_number)?
                        .and_then(|last| state.line_after_number(last).map(|l| (last, l)))
                };
                match kept {
                    Some((last, line)) => {
                        self.resumed = Some(Resumed::KeptRunning);
                        self.message(&format!(
                            "the printer did not reset (it kept running and received wire \
                             line {last}): continuing at file line {line}"
                        ));
                        line
                    }
                    None => {
                        needs_restore = true;
                        self.printer_reset = true;
                        self.resumed = Some(Resumed::Reset);
                        let line = state.restart_line();
                        self.message(&format!(
                            "the printer reset and lost the moves it had planned: printing \
                             again from file line {line} (the printer had acknowledged up \
                             to line {})",
                            state.last_acknowledged_line
                        ));
                        line
                    }
                }
            }
            (StartAt::Resume, None) => 1,
        };
        self.first_line = start_line;
        self.acked_line = start_line.saturating_sub(1);

        let mut reader = GcodeReader::new(file);
        // Read up to the start line: the machine state there, layer and position.
        let mut skipped = MachineState::default();
        while reader.line + 1 < start_line {
            match reader.next_line() {
                Ok(Some((raw, source))) => {
                    self.note_comment(&raw);
                    if let Some(i) = raw.find(';') {
                        skipped.comment(&raw[i + 1..]);
                    }
                    if let Some(cmd) = clean_line(&raw) {
                        skipped.apply(&cmd);
                    }
                    self.done_bytes = source.offset;
                }
                Ok(None) => break,
                Err(e) => return Err(Stop::Failed(format!("cannot read the file: {e}"))),
            }
        }
        if start_line > 1 && reader.line + 1 < start_line {
            return Err(Stop::Failed(format!(
                "{} has only {} lines; cannot start at line {start_line}",
                self.path.display(),
                reader.line
            )));
        }
        self.machine = skipped.clone();

        // Line numbering, then what the firmware can do. A port with no printer on it
        // (or the wrong baud rate) answers nothing: say so instead of waiting.
        self.protocol.start();
        self.transmit()?;
        if !heard && !self.resumed.is_some_and(|r| r == Resumed::KeptRunning) {
            let deadline = Instant::now() + NO_ANSWER_WAIT;
            while !self.heard_anything && Instant::now() < deadline {
                self.check_cancel()?;
                self.pump()?;
            }
            if !self.heard_anything {
                return Err(Stop::NoAnswer);
            }
        }
        self.send_host("M115")?;
        self.wait_idle(None)?;
        let fw = self.protocol.firmware().clone();
        if let Some(f) = &fw.firmware {
            self.message(&format!(
                "firmware: {}{}",
                f.name,
                f.machine
                    .as_ref()
                    .map(|m| format!(" ({m})"))
                    .unwrap_or_default()
            ));
        }
        if self.resumed != Some(Resumed::KeptRunning) {
            // (A printer that kept running may still be busy with its moves: its answers
            // would come late and say nothing about how it reads.)
            self.check_line_reading()?;
        }
        if fw.autoreport_temp {
            let secs = self.options.temperature_interval.as_secs().max(1);
            self.send_host(&format!("M155 S{secs}"))?;
            self.autoreport = true;
        } else {
            self.next_temperature_poll = Some(Instant::now());
        }

        if needs_restore {
            self.phase = Phase::Restoring;
            self.preamble =
                skipped.resume_preamble(self.options.resume_lift_mm, self.options.resume_prime_mm);
            self.message(&format!(
                "restoring the printer to line {start_line}: {}",
                self.preamble.join("; ")
            ));
            for cmd in self.preamble.clone() {
                self.send_host(&cmd)?;
            }
        }
        self.machine = skipped;
        self.phase = Phase::Printing;
        self.write_state(JobStatus::Running, None);

        // The file.
        let mut pending: Option<(String, Source)> = None;
        let mut eof = false;
        loop {
            self.check_controls()?;
            if let Some(f) = self.protocol.failure() {
                return Err(Stop::Failed(f.to_string()));
            }
            while self.protocol.ready() && !self.control_requested() {
                if self.temperature_due() {
                    self.next_temperature_poll =
                        Some(Instant::now() + self.options.temperature_interval);
                    let _ = self.protocol.send("M105", None);
                    continue;
                }
                if pending.is_none() && !eof {
                    pending = self.next_command(&mut reader)?;
                    eof = pending.is_none();
                }
                let Some((cmd, source)) = pending.take() else {
                    break;
                };
                if self.protocol.send(&cmd, Some(source)).is_err() {
                    pending = Some((cmd, source));
                    break;
                }
                self.transmit()?;
            }
            if eof && pending.is_none() && self.protocol.is_idle() {
                return Ok(());
            }
            self.pump()?;
        }
    }

    /// The next command of the file (comments noted, blank lines skipped).
    fn next_command(&mut self, reader: &mut GcodeReader) -> Result<Option<(String, Source)>, Stop> {
        loop {
            match reader.next_line() {
                Ok(Some((raw, source))) => {
                    self.note_comment(&raw);
                    if let Some(cmd) = clean_line(&raw) {
                        return Ok(Some((cmd, source)));
                    }
                }
                Ok(None) => return Ok(None),
                Err(e) => return Err(Stop::Failed(format!("cannot read the file: {e}"))),
            }
        }
    }

    /// Layer and Z from slicer comments.
    fn note_comment(&mut self, raw: &str) {
        let Some(i) = raw.find(';') else { return };
        let comment = raw[i + 1..].trim();
        self.machine.comment(comment);
        if comment == "LAYER_CHANGE" {
            self.layer = Some(self.layer.map_or(1, |l| l + 1));
        } else if let Some(n) = comment.strip_prefix("LAYER:") {
            if let Ok(n) = n.trim().parse::<u64>() {
                self.layer = Some(n + 1);
            }
        } else if let Some(z) = comment.strip_prefix("Z:") {
            if let Ok(z) = z.trim().parse::<f64>() {
                self.z = Some(z);
            }
        }
    }

    fn temperature_due(&self) -> bool {
        !self.autoreport
            && self
                .next_temperature_poll
                .is_some_and(|t| Instant::now() >= t)
    }

    fn control_requested(&self) -> bool {
        self.controls.cancel.load(Ordering::Relaxed) || self.controls.pause.load(Ordering::Relaxed)
    }

    /// Ask a printer that did not reset which line it received last: a numbered `M105`
    /// with the next number is accepted (it has them all) or answered with `Resend: n`.
    fn ask_line_counter(&mut self, next: u32) -> Result<Option<u32>, Stop> {
        let line = gcode::frame(next, "M105");
        for _ in 0..CONTINUITY_ATTEMPTS {
            self.write_raw(&line)?;
            let deadline = Instant::now() + CONTINUITY_WAIT;
            let mut answer: Option<u32> = None;
            let mut resend_seen = false;
            while Instant::now() < deadline {
                let mut buf = [0u8; 1024];
                let n = self
                    .link
                    .read_some(&mut buf, deadline.saturating_duration_since(Instant::now()))
                    .map_err(|e| Stop::Failed(e.to_string()))?;
                let mut lines = Vec::new();
                self.heard_anything |= n > 0;
                self.reader.push(&buf[..n], |l| lines.push(l.to_string()));
                for l in lines {
                    self.log_line('<', &l);
                    match response::parse(&l) {
                        // The board restarted as the port opened, its banner late.
                        Response::Start => return Ok(None),
                        Response::Resend(k) => {
                            answer = Some(k.wrapping_sub(1));
                            resend_seen = true;
                        }
                        Response::Ok(reply)
                            if !resend_seen
                                && (reply.temperatures.is_some() || reply.line == Some(next)) =>
                        {
                            answer = Some(next.wrapping_sub(1));
                        }
                        Response::Ok(_) => {}
                        Response::FatalError(e) => {
                            return Err(Stop::Failed(format!("the printer halted: {e}")));
                        }
                        _ => {}
                    }
                }
                if answer.is_some() {
                    // Let the ok that follows a resend request arrive and go.
                    self.drain_quiet(Duration::from_millis(200))?;
                    return Ok(answer);
                }
            }
        }
        if !self.heard_anything {
            return Err(Stop::NoAnswer);
        }
        Ok(None)
    }

    /// Find out whether the printer reads every line of what arrives at once.
    ///
    /// Two numbered `M105` go in one write while nothing else is in flight: a printer
    /// that reads each line it receives answers both within milliseconds. One that takes
    /// a single line per arrival and keeps the rest until more bytes come (OctoPrint's
    /// virtual printer does) answers only the first. Lines sent to it several at a time
    /// pile up unread: its answers lag behind the lines, its resend requests follow old
    /// copies, and the last lines of the job never run. It gets one command at a time.
    /// The line it left unread is fetched with a write that ends no line (the first
    /// byte of the next line, whose rest follows): it answers that line then, which
    /// confirms the finding; any other printer just waits for the rest of the line.
    fn check_line_reading(&mut self) -> Result<(), Stop> {
        if !self.options.check_line_reading
            || self.protocol.window() < 2
            || !self.protocol.is_idle()
        {
            return Ok(());
        }
        let troubles = self.resends + self.line_errors;
        let now = Instant::now();
        let mut burst = String::new();
        for _ in 0..2 {
            if self.protocol.send(PROBE_COMMAND, None).is_err() {
                break;
            }
            while let Some(out) = self.protocol.poll_transmit(now) {
                self.log_line('>', out.line.trim_end());
                burst.push_str(&out.line);
            }
        }
        self.link
            .write_line(burst.as_bytes())
            .map_err(|e| Stop::Failed(e.to_string()))?;
        self.read_while(LINE_READING_WAIT, |p| !p.is_idle())?;
        let one_unread = self.protocol.in_flight() == 1
            && self.resends + self.line_errors == troubles
            && self.protocol.failure().is_none();
        if !one_unread {
            // Both answered, or something else happened (a corrupted line, a lost
            // answer): the exchange goes on as usual and settles it.
            return Ok(());
        }
        self.write_raw("N")?;
        self.read_while(LINE_READING_WAIT, |p| p.in_flight() > 0)?;
        let confirmed = self.protocol.in_flight() == 0 && self.protocol.failure().is_none();
        if confirmed {
            self.protocol.limit_window(1);
            self.message(
                "the printer reads one line of what arrives at once: sending one command at \
                 a time",
            );
        }
        // The rest of the line begun.
        let _ = self.protocol.send(PROBE_COMMAND, None);
        let now = Instant::now();
        let mut first = true;
        while let Some(out) = self.protocol.poll_transmit(now) {
            let line = match out.line.strip_prefix('N') {
                Some(rest) if first => rest,
                _ => out.line.as_str(),
            };
            first = false;
            self.log_line('>', out.line.trim_end());
            self.link
                .write_line(line.as_bytes())
                .map_err(|e| Stop::Failed(e.to_string()))?;
        }
        self.wait_idle(None)
    }

    /// Read and hand to the protocol what the printer says, for at most `limit` and while
    /// `go_on` holds; time does not pass for the protocol meanwhile (no probe goes).
    fn read_while(&mut self, limit: Duration, go_on: fn(&Protocol) -> bool) -> Result<(), Stop> {
        let until = Instant::now() + limit;
        while go_on(&self.protocol) {
            let now = Instant::now();
            if now >= until {
                break;
            }
            let mut buf = [0u8; 1024];
            let n = self
                .link
                .read_some(&mut buf, until - now)
                .map_err(|e| Stop::Failed(e.to_string()))?;
            self.heard_anything |= n > 0;
            let mut lines = Vec::new();
            self.reader.push(&buf[..n], |l| lines.push(l.to_string()));
            let now = Instant::now();
            for l in lines {
                self.log_line('<', &l);
                self.protocol.receive_line(&l, now);
            }
            self.handle_events();
        }
        Ok(())
    }

    /// Read and log whatever comes until `quiet` passes without a byte, or at most
    /// [`DRAIN_MAX`] (a printer reporting temperatures is never quiet for long).
    fn drain_quiet(&mut self, quiet: Duration) -> Result<(), Stop> {
        let until = Instant::now() + DRAIN_MAX;
        loop {
            let now = Instant::now();
            if now >= until {
                return Ok(());
            }
            let mut buf = [0u8; 1024];
            let n = self
                .link
                .read_some(&mut buf, quiet.min(until - now))
                .map_err(|e| Stop::Failed(e.to_string()))?;
            if n == 0 {
                return Ok(());
            }
            let mut lines = Vec::new();
            self.reader.push(&buf[..n], |l| lines.push(l.to_string()));
            for l in lines {
                self.log_line('<', &l);
            }
        }
    }

    /// Whether cancelling should stop waiting for the printer (second Ctrl-C, or the
    /// printer took too long).
    fn cancel_given_up(&self) -> bool {
        self.phase == Phase::Cancelling
            && (self.controls.interrupt.load(Ordering::Relaxed)
                || self.cancel_deadline.is_some_and(|d| Instant::now() >= d))
    }

    /// Send a command of lamina's own (not from the file), waiting for room.
    fn send_host(&mut self, command: &str) -> Result<(), Stop> {
        loop {
            if let Some(f) = self.protocol.failure() {
                return Err(Stop::Failed(f.to_string()));
            }
            if self.cancel_given_up() {
                return Ok(());
            }
            if self.protocol.ready() {
                let _ = self.protocol.send(command, None);
                return self.transmit();
            }
            if self.phase != Phase::Cancelling {
                self.check_cancel()?;
            }
            self.pump()?;
        }
    }

    /// Pump until nothing is in flight (or `limit` passes).
    fn wait_idle(&mut self, limit: Option<Duration>) -> Result<(), Stop> {
        let start = Instant::now();
        while !self.protocol.is_idle() {
            if let Some(f) = self.protocol.failure() {
                return Err(Stop::Failed(f.to_string()));
            }
            if limit.is_some_and(|l| start.elapsed() > l) {
                return Ok(());
            }
            if self.phase == Phase::Cancelling {
                if self.cancel_given_up() {
                    return Ok(());
                }
            } else {
                self.check_cancel()?;
            }
            self.pump()?;
        }
        Ok(())
    }

    fn write_raw(&mut self, line: &str) -> Result<(), Stop> {
        self.log_line('>', line.trim_end());
        self.link
            .write_line(line.as_bytes())
            .map_err(|e| Stop::Failed(e.to_string()))
    }

    /// Write out whatever the protocol has to send.
    fn transmit(&mut self) -> Result<(), Stop> {
        let now = Instant::now();
        while let Some(out) = self.protocol.poll_transmit(now) {
            self.write_raw(&out.line)?;
        }
        Ok(())
    }

    /// One round: send, wait for the printer (blocking, with a timeout), handle what
    /// it said.
    fn pump(&mut self) -> Result<(), Stop> {
        let now = Instant::now();
        self.protocol.tick(now);
        self.transmit()?;
        self.handle_events();
        self.report(false);
        if let Some(w) = self.log.as_mut() {
            let _ = w.flush();
        }
        let mut wake = now + CONTROL_TICK;
        if let Some(d) = self.protocol.deadline() {
            wake = wake.min(d);
        }
        if let Some(t) = self.next_temperature_poll.filter(|_| !self.autoreport) {
            wake = wake.min(t);
        }
        let timeout = wake
            .saturating_duration_since(now)
            .max(Duration::from_millis(1));
        let mut buf = [0u8; 4096];
        let n = self
            .link
            .read_some(&mut buf, timeout)
            .map_err(|e| Stop::Failed(e.to_string()))?;
        if n > 0 {
            self.heard_anything = true;
            let now = Instant::now();
            let mut lines = Vec::new();
            self.reader.push(&buf[..n], |l| lines.push(l.to_string()));
            for l in lines {
                self.log_line('<', &l);
                self.protocol.receive_line(&l, now);
            }
            self.transmit()?;
            self.handle_events();
        }
        if self.phase != Phase::Connecting
            && self
                .last_state_write
                .is_none_or(|t| t.elapsed() >= self.options.state_interval)
        {
            let status = if self.phase == Phase::Paused {
                JobStatus::Paused
            } else {
                JobStatus::Running
            };
            self.write_state(status, None);
        }
        Ok(())
    }

    fn handle_events(&mut self) {
        while let Some(e) = self.protocol.poll_event() {
            match e {
                Event::Acknowledged {
                    command, source, ..
                } => {
                    self.machine.apply(&command);
                    if let Some(s) = source {
                        self.commands += 1;
                        self.acked_line = s.line;
                        self.done_bytes = s.offset;
                        let word = command_word(&command);
                        match word.as_deref() {
                            Some("G0" | "G1" | "G2" | "G3") => {
                                self.recent_moves.push_back(s.line);
                                if self.recent_moves.len() > self.options.replay_moves {
                                    self.recent_moves.pop_front();
                                }
                            }
                            // Answered once every move before has run.
                            Some("G4" | "G28" | "G29" | "M400") => self.recent_moves.clear(),
                            _ => {}
                        }
                        if word.as_deref() == Some("M73") {
                            if let Some(r) = param(&command, 'R') {
                                self.m73_remaining = Some((
                                    Instant::now(),
                                    Duration::from_secs_f64(r.max(0.0) * 60.0),
                                ));
                            }
                        }
                    }
                }
                Event::Resend { .. } => self.resends += 1,
                Event::LineError(_) => self.line_errors += 1,
                Event::Probe => self.probes += 1,
                Event::Temperature(t) => self.temperatures = Some(t),
                Event::DoubtfulResend { number } => self.log_note(&format!(
                    "the printer asked for line {number}, which cannot be right: probing"
                )),
                Event::Reset => self.printer_reset = true,
                Event::Notice(text) => self.message(&text),
                Event::Fatal(_)
                | Event::DuplicateResend { .. }
                | Event::Busy(_)
                | Event::Warning(_)
                | Event::Message(_) => {}
            }
        }
        // A resend request may take back acknowledgements counted too early.
        if let Some(s) = self.protocol.last_acknowledged() {
            self.acked_line = s.line;
            self.done_bytes = s.offset;
        }
    }

    fn check_cancel(&mut self) -> Result<(), Stop> {
        if self.controls.cancel.load(Ordering::Relaxed) {
            self.cancel()?;
            return Err(Stop::Cancelled);
        }
        Ok(())
    }

    fn check_controls(&mut self) -> Result<(), Stop> {
        self.check_cancel()?;
        if self.controls.pause.swap(false, Ordering::Relaxed) {
            self.pause()?;
        }
        Ok(())
    }

    fn pause(&mut self) -> Result<(), Stop> {
        self.message("pausing: finishing the commands in flight");
        self.controls.resume.store(false, Ordering::Relaxed);
        self.wait_idle(None)?;
        let saved = self.machine.clone();
        self.phase = Phase::Paused;
        for cmd in saved.fill_template(&self.options.pause_gcode) {
            self.send_host(&cmd)?;
        }
        self.wait_idle(None)?;
        self.write_state(JobStatus::Paused, None);
        self.message(&format!(
            "paused after line {} (press r or send SIGUSR2 to resume, Ctrl-C to cancel)",
            self.acked_line
        ));
        loop {
            self.check_cancel()?;
            if self.controls.resume.swap(false, Ordering::Relaxed) {
                break;
            }
            if self.temperature_due() && self.protocol.ready() {
                self.next_temperature_poll =
                    Some(Instant::now() + self.options.temperature_interval);
                let _ = self.protocol.send("M105", None);
            }
            self.pump()?;
        }
        self.message("resuming");
        for cmd in saved.fill_template(&self.options.resume_gcode) {
            self.send_host(&cmd)?;
        }
        self.wait_idle(None)?;
        self.machine = saved;
        self.phase = Phase::Printing;
        self.controls.pause.store(false, Ordering::Relaxed);
        Ok(())
    }

    /// Stop sending the file; stop the printer; heaters and motors off.
    fn cancel(&mut self) -> Result<(), Stop> {
        if self.phase == Phase::Cancelling {
            return Ok(());
        }
        self.phase = Phase::Cancelling;
        self.controls.interrupt.store(false, Ordering::Relaxed);
        self.cancel_deadline = Some(Instant::now() + self.options.cancel_timeout);
        self.message("cancelling (Ctrl-C again to stop waiting for the printer)");
        if self.protocol.firmware().emergency_parser {
            self.protocol.send_urgent("M108");
            self.protocol.send_urgent("M410");
            self.transmit()?;
        }
        for cmd in self.machine.fill_template(&self.options.cancel_gcode) {
            if self.cancel_given_up() {
                break;
            }
            self.send_host(&cmd)?;
        }
        self.wait_idle(None)?;
        Ok(())
    }

    fn message(&mut self, text: &str) {
        self.log_note(text);
        self.observer.message(text);
    }

    fn log_line(&mut self, direction: char, line: &str) {
        if let Some(w) = self.log.as_mut() {
            let _ = writeln!(w, "{} {direction} {line}", timestamp(self.started));
        }
    }

    fn log_note(&mut self, text: &str) {
        self.log_line('#', text);
    }

    fn progress(&self) -> Progress {
        let elapsed = self.started.elapsed();
        let done = if self.total_bytes == 0 {
            1.0
        } else {
            (self.done_bytes as f64 / self.total_bytes as f64).clamp(0.0, 1.0)
        };
        let remaining = if let Some((at, r)) = self.m73_remaining {
            Some(r.saturating_sub(at.elapsed()))
        } else {
            remaining_time(self.estimate, done, elapsed)
        };
        Progress {
            phase: self.phase,
            line: self.acked_line,
            done_bytes: self.done_bytes,
            total_bytes: self.total_bytes,
            layer: self.layer,
            z: self.z.or(self.machine.position()[2]),
            elapsed,
            remaining,
            temperatures: self.temperatures.clone(),
        }
    }

    fn report(&mut self, force: bool) {
        let due = self
            .last_progress_report
            .is_none_or(|t| t.elapsed() >= Duration::from_millis(100));
        if force || due {
            self.last_progress_report = Some(Instant::now());
            let p = self.progress();
            self.observer.progress(&p);
        }
    }

    fn write_state(&mut self, status: JobStatus, message: Option<String>) {
        self.last_state_write = Some(Instant::now());
        let state = JobState {
            file: self.path.clone(),
            file_size: self.total_bytes,
            status,
            last_acknowledged_line: self.acked_line,
            replay_line: self
                .recent_moves
                .front()
                .copied()
                .unwrap_or(self.acked_line + 1)
                .min(self.acked_line + 1),
            sent: self
                .protocol
                .unacknowledged()
                .into_iter()
                .map(|(number, source)| SentLine {
                    number,
                    line: source.map_or(0, |s| s.line),
                })
                .collect(),
            next_number: self.protocol.next_number(),
            message,
        };
        if let Err(e) = state.save(&self.state_path) {
            let text = format!(
                "cannot write the job state {}: {e}",
                self.state_path.display()
            );
            self.log_note(&text);
        }
    }

    fn finish(mut self, outcome: Result<(), Stop>) -> Summary {
        self.handle_events();
        self.report(true);
        let resume_hint = |line: u64| {
            format!(
                "the printer acknowledged up to line {line} of {}; resume with \
                 `lamina stream {} --port <PORT> --resume`",
                self.path.display(),
                self.path.display()
            )
        };
        let (status, message) = match outcome {
            Ok(()) => (JobStatus::Done, None),
            Err(Stop::Cancelled) => (
                JobStatus::Cancelled,
                Some(format!("cancelled; {}", resume_hint(self.acked_line))),
            ),
            Err(Stop::Failed(why)) => (
                JobStatus::Failed,
                Some(format!("{why}; {}", resume_hint(self.acked_line))),
            ),
            Err(Stop::NoAnswer) => (JobStatus::Failed, Some(no_answer_message("<PORT>"))),
        };
        match status {
            // A finished job leaves nothing to resume.
            JobStatus::Done => self.remove_state(),
            // Nothing was sent: the job state (if a run before left one) stays as it was.
            _ if !self.heard_anything => {}
            _ => self.write_state(status, message.clone()),
        }
        if let Some(m) = &message {
            self.log_note(m);
        } else {
            self.log_note("job done");
        }
        if let Some(w) = self.log.as_mut() {
            let _ = w.flush();
        }
        Summary {
            status,
            file: self.path.clone(),
            first_line: self.first_line,
            last_acknowledged_line: self.acked_line,
            commands: self.commands,
            resends: self.resends,
            line_errors: self.line_errors,
            probes: self.probes,
            elapsed_s: self.started.elapsed().as_secs_f64(),
            firmware: self.protocol.firmware().clone(),
            printer_reset: self.printer_reset,
            resumed: self.resumed,
            preamble: self.preamble.clone(),
            message,
            state_file: (status != JobStatus::Done).then(|| self.state_path.clone()),
        }
    }

    fn remove_state(&mut self) {
        match std::fs::remove_file(&self.state_path) {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(e) => {
                let text = format!(
                    "cannot remove the job state {}: {e}",
                    self.state_path.display()
                );
                self.log_note(&text);
            }
        }
    }
}

/// Time left: the file's estimate for what remains, blended with the pace observed so
/// far as the job advances (the estimate alone early on, the pace alone at the end).
///
/// ```
/// use std::time::Duration;
/// use lamina::serial::stream::remaining_time;
/// // Half done in exactly the estimated time: one half of the estimate left.
/// let r = remaining_time(Some(Duration::from_secs(3600)), 0.5, Duration::from_secs(1800));
/// assert_eq!(r, Some(Duration::from_secs(1800)));
/// assert_eq!(remaining_time(None, 0.0, Duration::from_secs(5)), None);
/// ```
pub fn remaining_time(
    estimate: Option<Duration>,
    done: f64,
    elapsed: Duration,
) -> Option<Duration> {
    let left = (1.0 - done).clamp(0.0, 1.0);
    let from_estimate = estimate.map(|e| e.as_secs_f64() * left);
    let from_pace = (done >= PACE_MIN_FRACTION).then(|| elapsed.as_secs_f64() * left / done);
    let secs = match (from_estimate, from_pace) {
        (Some(e), Some(p)) => e * left + p * done,
        (Some(e), None) => e,
        (None, Some(p)) => p,
        (None, None) => return None,
    };
    Some(Duration::from_secs_f64(secs.max(0.0)))
}

/// The slicer's own estimate of the printing time, searched in the first and last
/// 64 KiB of the file (PrusaSlicer writes it at the end, Cura at the start).
pub fn read_estimate(path: &Path) -> io::Result<Option<Duration>> {
    let mut file = File::open(path)?;
    let len = file.metadata()?.len();
    let mut head = Vec::new();
    (&mut file)
        .take(ESTIMATE_SCAN_BYTES)
        .read_to_end(&mut head)?;
    if let Some(d) = find_estimate(&String::from_utf8_lossy(&head)) {
        return Ok(Some(d));
    }
    if len > ESTIMATE_SCAN_BYTES {
        file.seek(SeekFrom::Start(len - ESTIMATE_SCAN_BYTES))?;
        let mut tail = Vec::new();
        file.read_to_end(&mut tail)?;
        return Ok(find_estimate(&String::from_utf8_lossy(&tail)));
    }
    Ok(None)
}

/// Find a time estimate in slicer comments.
///
/// ```
/// use std::time::Duration;
/// use lamina::serial::stream::find_estimate;
/// assert_eq!(find_estimate("; estimated printing time (normal mode) = 1h 2m 3s"),
///            Some(Duration::from_secs(3723)));
/// assert_eq!(find_estimate(";TIME:600\nG28"), Some(Duration::from_secs(600)));
/// ```
pub fn find_estimate(text: &str) -> Option<Duration> {
    for line in text.lines() {
        let l = line.trim();
        let lower = l.to_ascii_lowercase();
        if let Some(v) = l.strip_prefix(";TIME:") {
            if let Ok(s) = v.trim().parse::<f64>() {
                return Some(Duration::from_secs_f64(s.max(0.0)));
            }
        }
        if lower.starts_with(';') && lower.contains("estimated printing time") {
            if let Some((_, value)) = l.split_once('=') {
                if let Some(d) = parse_dhms(value) {
                    return Some(d);
                }
            }
        }
    }
    None
}

/// `1d 2h 3m 4s` → seconds.
fn parse_dhms(s: &str) -> Option<Duration> {
    let mut total = 0u64;
    let mut any = false;
    for word in s.split_whitespace() {
        let (num, unit) = word.split_at(word.find(|c: char| !c.is_ascii_digit())?);
        let n: u64 = num.parse().ok()?;
        total += n * match unit {
            "d" => 86_400,
            "h" => 3_600,
            "m" => 60,
            "s" => 1,
            _ => return None,
        };
        any = true;
    }
    any.then(|| Duration::from_secs(total))
}

/// `+12.345s` since the job started, and the wall-clock time in UTC.
fn timestamp(started: Instant) -> String {
    let since = started.elapsed().as_secs_f64();
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    format!("{} +{since:.3}s", utc(now))
}

/// `2026-01-31T12:34:56.789Z` from a time since the Unix epoch.
fn utc(since_epoch: Duration) -> String {
    let format = time::macros::format_description!(
        "[year]-[month]-[day]T[hour]:[minute]:[second].[subsecond digits:3]Z"
    );
    i128::try_from(since_epoch.as_nanos())
        .ok()
        .and_then(|n| time::OffsetDateTime::from_unix_timestamp_nanos(n).ok())
        .and_then(|t| t.format(format).ok())
        .unwrap_or_else(|| format!("{:.3}s", since_epoch.as_secs_f64()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn utc_formats_known_dates() {
        assert_eq!(utc(Duration::from_secs(0)), "1970-01-01T00:00:00.000Z");
        // 2000-02-29 12:00:00 UTC = 951825600.
        assert_eq!(
            utc(Duration::from_millis(951_825_600_250)),
            "2000-02-29T12:00:00.250Z"
        );
    }

    #[test]
    fn estimates_are_read() {
        assert_eq!(
            find_estimate("; estimated printing time (normal mode) = 2d 1m"),
            Some(Duration::from_secs(2 * 86_400 + 60))
        );
        assert_eq!(find_estimate("; nothing here"), None);
    }

    #[test]
    fn remaining_follows_pace_at_the_end() {
        // Estimate 1 h, but 90% took 2 h: the pace dominates.
        let r = remaining_time(
            Some(Duration::from_secs(3600)),
            0.9,
            Duration::from_secs(7200),
        )
        .expect("some");
        let pace = 7200.0 * 0.1 / 0.9;
        let est = 360.0;
        let expected = est * 0.1 + pace * 0.9;
        assert!((r.as_secs_f64() - expected).abs() < 1e-6);
    }
}
