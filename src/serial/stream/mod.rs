//! A whole print job: the file read line by line (memory does not grow with its size),
//! fed to the [`Protocol`], with progress, temperatures, pause/resume, cancel, a log,
//! and a job state file so that a job cut by a disconnect or a crash can be resumed at
//! the right line.
//!
//! The pieces: `connect` greets the board and checks how it reads lines; `job` is the
//! loop that feeds the file and pumps the port; `resume` finds where a cut job starts
//! again; `controls` pauses, resumes and cancels; `report` keeps the user, the log and
//! the job state file informed, and estimates the time left.

mod connect;
mod controls;
mod job;
mod report;
mod resume;

use std::collections::VecDeque;
use std::fs::File;
use std::io::{self, BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use std::time::{Duration, Instant};

use serde::Serialize;

use super::port::{Banner, LineReader, Link, PortError};
use super::protocol::{FirmwareInfo, Protocol, ProtocolConfig, Source};
use super::response::Temperatures;
use super::state::{JobState, JobStatus, MachineState};

pub use connect::greet;
pub use report::{find_estimate, read_estimate, remaining_time};

/// Default G-code run when the job is paused: retract, lift, park.
pub const DEFAULT_PAUSE_GCODE: &str = "M83\nG1 E-2 F2400\nG91\nG1 Z10 F600\nG90\nG1 X0 Y0 F6000";

/// Default G-code run when a paused job resumes: re-heat, return, prime, restore modes
/// (the coordinates' mode first: on Marlin 2 a `G90` makes E absolute again).
pub const DEFAULT_RESUME_GCODE: &str = "M109 S{hotend}\nM190 S{bed}\nG90\nG1 X{x} Y{y} F6000\n\
     G1 Z{z} F600\nM83\nG1 E2 F2400\nG92 E{e}\n{xyz_mode}\n{e_mode}\nG1 F{feedrate}";
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
