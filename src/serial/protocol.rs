//! Marlin's host protocol as a sans-IO state machine.
//!
//! [`Protocol`] never touches a port or a clock: the caller feeds it the bytes it
//! received ([`Protocol::receive`]) and the current [`Instant`] ([`Protocol::tick`]), hands
//! it commands when it is ready for them ([`Protocol::send`]), writes out whatever
//! [`Protocol::poll_transmit`] returns and reads what happened from
//! [`Protocol::poll_event`]. Everything, timeouts included, is therefore testable with
//! scripted exchanges.
//!
//! How the exchange stays exact:
//! - every command is sent as `N<n> <command>*<xor>`; the printer rejects a line whose
//!   number is not the one after the last it accepted, so a line can never be executed
//!   twice, whatever is resent;
//! - `Resend: n` (or `rs n`) rewinds to line `n` in a history window and sends again from
//!   there; the `ok` that Marlin writes right after a resend request belongs to the
//!   rejected line and is not counted as an acknowledgement; the same request repeated by
//!   the other lines that were in flight is recognised and not acted upon twice;
//! - `ok` acknowledges the oldest line in flight; at most `window` lines are in flight;
//!   an advanced `ok N<n> P<p> B<b>` names the line it acknowledges and sizes the window
//!   from the firmware's free buffer slots;
//! - without advanced `ok`, oks are counted against the firmware's buffer (Marlin's
//!   BUFSIZE, 4): a lost `ok` leaves a line counted in flight that is not, which only
//!   narrows the window. Every so often (more often when oks get lost) a numbered `M105`
//!   goes with the stream: its answer, `ok T:...`, comes after every command sent before
//!   it, so it closes them all and the count is right again;
//! - a lost `ok` that stalls the stream is found by a deadline per command (see
//!   [`pace`](super::pace): what the printer must do before it can answer, how fast it
//!   answered so far): a numbered `M105` is then sent as a probe, outside the window. If
//!   the printer had in fact missed a line, the probe's number makes it ask for that line.
//!   The probe carries a checksum like every line, so noise can never turn it into
//!   another command. Nothing is ever resent without the printer asking for it;
//! - a resend request that cannot be right (a line never sent, or far behind those in
//!   flight: a garbled number) is checked with a probe before anything is resent; only
//!   when the printer repeats it is it taken for a board that restarted;
//! - line numbers wrap before `line_number_limit` with `M110 N0`.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use serde::Serialize;

use super::gcode::{self, frame};
use super::pace::{Motion, Pace, Work};
use super::response::{self, FirmwareLine, OkReply, Position, Response, Temperatures};

/// Where a sent command came from in the G-code file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Source {
    /// 1-based line number in the file.
    pub line: u64,
    /// Byte offset just past this line (for the percentage done).
    pub offset: u64,
}

/// Settings of the exchange. [`ProtocolConfig::default`] suits Marlin over USB.
#[derive(Debug, Clone)]
pub struct ProtocolConfig {
    /// Commands in flight before waiting for an `ok`: the firmware's command buffer.
    pub window: usize,
    /// Let an advanced `ok ... B<n>` enlarge the window to the firmware's buffer size.
    pub auto_window: bool,
    /// Upper bound for the automatic window.
    pub max_window: usize,
    /// Lines kept for resend requests.
    pub history: usize,
    /// A fixed wait for an `ok` before probing, instead of the adaptive one (see
    /// [`pace`](super::pace)).
    pub ok_timeout: Option<Duration>,
    /// The wait for long commands (heating, homing, probing...) on a printer that has not
    /// shown it says `busy:` while it works.
    pub long_timeout: Duration,
    /// Planner blocks of the printer, for the adaptive wait.
    pub planner_blocks: usize,
    /// With work in flight and no byte at all from the printer for this long, the job
    /// fails: the printer stopped answering.
    pub silence_limit: Duration,
    /// Line numbers are reset with `M110 N0` before reaching this value.
    pub line_number_limit: u32,
}

/// Commands in flight without advanced `ok`: Marlin's default BUFSIZE, so every line
/// sent waits in the firmware's command queue, none in its small receive buffer.
pub const DEFAULT_WINDOW: usize = 4;
/// Wait for a long command's `ok` on a printer known to say `busy:` (every 2 s by
/// default, `M113`) or to report temperatures while it heats: silence this long means
/// the `ok` was lost.
pub const KEEPALIVE_WAIT: Duration = Duration::from_secs(10);
/// Default timeout for heating, homing, probing and the like.
pub const DEFAULT_LONG_TIMEOUT: Duration = Duration::from_secs(300);
/// Default silence after which the printer is taken for dead.
pub const DEFAULT_SILENCE_LIMIT: Duration = Duration::from_secs(600);
/// Default history window for resends (Marlin only asks for lines still in flight).
pub const DEFAULT_HISTORY: usize = 512;
/// Default largest automatic window.
pub const DEFAULT_MAX_WINDOW: usize = 16;
/// Default line number limit (Marlin keeps a signed 32-bit counter).
pub const DEFAULT_LINE_NUMBER_LIMIT: u32 = 2_000_000_000;

impl Default for ProtocolConfig {
    fn default() -> Self {
        ProtocolConfig {
            window: DEFAULT_WINDOW,
            auto_window: true,
            max_window: DEFAULT_MAX_WINDOW,
            history: DEFAULT_HISTORY,
            ok_timeout: None,
            long_timeout: DEFAULT_LONG_TIMEOUT,
            planner_blocks: super::pace::DEFAULT_PLANNER_BLOCKS,
            silence_limit: DEFAULT_SILENCE_LIMIT,
            line_number_limit: DEFAULT_LINE_NUMBER_LIMIT,
        }
    }
}

/// What the printer told about itself in its `M115` answer.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct FirmwareInfo {
    /// `FIRMWARE_NAME` and friends.
    pub firmware: Option<FirmwareLine>,
    /// `Cap:AUTOREPORT_TEMP:1`: `M155 S<n>` makes it report temperatures by itself.
    pub autoreport_temp: bool,
    /// `Cap:EMERGENCY_PARSER:1`: `M108`, `M410`, `M112` act at once.
    pub emergency_parser: bool,
    /// `Cap:ADVANCED_OK:1`: `ok N.. P.. B..`.
    pub advanced_ok: bool,
    /// Every capability reported, in order.
    pub capabilities: Vec<(String, bool)>,
}

/// Something that happened in the exchange.
#[derive(Debug, Clone, PartialEq)]
pub enum Event {
    /// The printer acknowledged (executed) a command.
    Acknowledged {
        /// Its line number.
        number: u32,
        /// The command.
        command: String,
        /// Where it came from in the file (`None` for lamina's own commands).
        source: Option<Source>,
    },
    /// The printer asked for lines again from `number`.
    Resend {
        /// First line number asked for.
        number: u32,
    },
    /// A repeat of a resend request already acted upon (one per line that was in flight).
    DuplicateResend {
        /// The line number asked for.
        number: u32,
    },
    /// A line the printer rejected; a resend request follows.
    LineError(String),
    /// A resend request that cannot be right (a garbled number): checked with a probe.
    DoubtfulResend {
        /// The line number asked for.
        number: u32,
    },
    /// The printer is busy with a long command.
    Busy(String),
    /// The printer reported temperatures.
    Temperature(Temperatures),
    /// An `Error:` that does not stop the printer, or a line that could not be read.
    Warning(String),
    /// Something the user should hear of (a line the printer claimed and had not run).
    Notice(String),
    /// The board printed its reset banner: it restarted and lost what it held.
    Reset,
    /// No answer in time: a probe `M105` was sent.
    Probe,
    /// The job cannot go on (fatal printer error, reset, unanswerable resend request).
    Fatal(String),
    /// A line not otherwise understood (`echo:` messages...).
    Message(String),
}

/// A line to write to the printer.
#[derive(Debug, Clone, PartialEq)]
pub struct Outgoing {
    /// The bytes, ending with `\n`.
    pub line: String,
    /// Why it is sent.
    pub kind: OutgoingKind,
}

/// Why a line is sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OutgoingKind {
    /// First transmission of a numbered line.
    New,
    /// Sent again because the printer asked for it.
    Resend,
    /// A numbered `M105` probing for a lost `ok`.
    Probe,
    /// An unnumbered command for the firmware's emergency parser.
    Urgent,
}

/// One numbered line in the history.
#[derive(Debug, Clone)]
struct Entry {
    number: u32,
    command: String,
    source: Option<Source>,
    work: Work,
    m105: bool,
    m110: bool,
    probe: bool,
    /// For a move in absolute coordinates: where it starts and where it ends (X, Y, Z).
    span: Option<([f64; 3], [f64; 3])>,
}

/// A line the printer claims to have taken though its `ok` never came, being checked
/// by asking the printer where its moves end (see [`Protocol::check_claim`]).
#[derive(Debug, Clone)]
struct Claim {
    /// History position and number of the line claimed.
    at: u64,
    number: u32,
    /// The line the printer asked for instead, and its history position.
    asked: (u32, u64),
    started: Instant,
    /// The position in the answer awaited, and the one before.
    position: Option<Position>,
    previous: Option<Position>,
    /// When to ask again (the head was still on its way).
    ask_at: Option<Instant>,
    /// A line to write out now.
    outgoing: Option<String>,
}

/// The host side of Marlin's serial protocol. See the [module documentation](self).
///
/// ```
/// use std::time::Instant;
/// use lamina::serial::protocol::{Protocol, ProtocolConfig, Event};
///
/// let now = Instant::now();
/// let mut p = Protocol::new(ProtocolConfig::default());
/// p.start();
/// assert_eq!(p.poll_transmit(now).unwrap().line, "N0 M110 N0*125\n");
/// assert!(!p.ready()); // window of 1: waiting for the ok
/// p.receive(b"ok\n", now);
/// assert!(p.ready());
/// p.send("G28", None).unwrap();
/// assert!(p.poll_transmit(now).unwrap().line.starts_with("N1 G28*"));
/// p.receive(b"ok\n", now);
/// assert!(p.is_idle());
/// ```
#[derive(Debug)]
pub struct Protocol {
    config: ProtocolConfig,
    window: usize,
    history: VecDeque<Entry>,
    /// Sequence number of `history[0]`.
    base: u64,
    /// Next history entry to transmit; `< sent_upto` while resending.
    cursor: u64,
    /// One past the highest entry ever transmitted.
    sent_upto: u64,
    next_number: u32,
    /// History positions transmitted and waiting for their `ok`, oldest first.
    inflight: VecDeque<u64>,
    acked: Option<u64>,
    last_acked_source: Option<Source>,
    swallow_ok: bool,
    /// After a resend request: the line number asked for, how many repeats of the
    /// request may still come (one per other line that was in flight), and where the
    /// history was rewound to.
    duplicates: Option<(u32, usize, u64)>,
    urgent: VecDeque<String>,
    /// Urgent commands sent and waiting for their `ok` (the firmware queues them too and
    /// acknowledges each): for each, how many numbered lines in flight were sent before
    /// it, so oks are counted against the right transmission.
    urgent_inflight: VecDeque<usize>,
    /// Probes to transmit at once, out of turn.
    forced: VecDeque<u64>,
    last_progress: Option<Instant>,
    last_rx: Option<Instant>,
    rx_buffer: Vec<u8>,
    events: VecDeque<Event>,
    firmware: FirmwareInfo,
    failed: Option<String>,
    max_buffer_free: Option<u32>,
    /// The model of the printer's planner, for the adaptive deadline.
    pace: Pace,
    /// Position and feedrate along the commands handed over, for move times.
    motion: Motion,
    /// The printer has said `busy:` or reported temperatures while waiting for a heater:
    /// a long command that falls silent has lost its `ok`.
    keepalive_seen: bool,
    /// Commands handed over since the last `M105` (a sync point).
    since_sync: usize,
    /// Oks counted, and lines found acknowledged without their own `ok` (lost oks), for
    /// how often to send a sync point.
    oks_counted: u64,
    oks_lost: u64,
    /// A resend request that could not be right, and the history position of the probe
    /// sent to check it.
    doubtful: Option<(u32, u64)>,
    /// Whether the line error before a resend request was about a line number (it may
    /// come from a line sent before the latest rewind) or about a checksum (a line the
    /// printer has just refused); `None` when no error text came with the request.
    line_number_error: Option<bool>,
    /// The last error the printer reported without stopping (the cause of a halt that
    /// follows).
    last_warning: Option<String>,
    /// Lines in flight behind the one refused at the latest rewind, and how many of them
    /// the printer refused in turn: fewer means it threw them away unread.
    stale_expected: usize,
    stale_seen: usize,
    /// The line asked for at the latest rewind has been sent again once for want of an
    /// answer.
    recovery_retried: bool,
    /// Rewinds after which fewer refusals came than lines were in flight, less those
    /// after which all came: positive for a firmware that empties its receive buffer on
    /// an error.
    flush_evidence: i32,
    /// The history position of the latest rewind, until a line from there on is
    /// acknowledged.
    rewound_to: Option<u64>,
    /// A claimed line being checked.
    claim: Option<Claim>,
}

/// Errors of [`Protocol::send`].
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum SendError {
    /// The job already failed.
    #[error("the job has stopped: {0}")]
    Failed(String),
    /// The window is full or a resend is under way: wait for [`Protocol::ready`].
    #[error("the printer is not ready for another command")]
    NotReady,
    /// Nothing to send once comments and blanks are stripped.
    #[error("empty command")]
    Empty,
}

/// Longest line kept while waiting for its end (a runaway line is cut there).
const MAX_RX_LINE: usize = 4096;

impl Protocol {
    /// A protocol machine with nothing sent yet.
    pub fn new(config: ProtocolConfig) -> Self {
        let window = config.window.max(1);
        let config_blocks = config.planner_blocks;
        Protocol {
            config,
            window,
            history: VecDeque::new(),
            base: 0,
            cursor: 0,
            sent_upto: 0,
            next_number: 0,
            inflight: VecDeque::new(),
            acked: None,
            last_acked_source: None,
            swallow_ok: false,
            duplicates: None,
            urgent: VecDeque::new(),
            urgent_inflight: VecDeque::new(),
            forced: VecDeque::new(),
            last_progress: None,
            last_rx: None,
            rx_buffer: Vec::new(),
            events: VecDeque::new(),
            firmware: FirmwareInfo::default(),
            failed: None,
            max_buffer_free: None,
            pace: Pace::new(config_blocks),
            motion: Motion::default(),
            keepalive_seen: false,
            since_sync: 0,
            oks_counted: 0,
            oks_lost: 0,
            doubtful: None,
            line_number_error: None,
            last_warning: None,
            stale_expected: 0,
            stale_seen: 0,
            recovery_retried: false,
            flush_evidence: 0,
            rewound_to: None,
            claim: None,
        }
    }

    /// Queue `N0 M110 N0`, which sets the printer's line counter; numbering starts over.
    pub fn start(&mut self) {
        self.next_number = 0;
        self.push_entry("M110 N0".to_string(), None);
        self.next_number = 1;
    }

    /// Continue numbering from `next` without `M110` (reconnecting to a printer that
    /// kept its line counter).
    pub fn continue_from(&mut self, next: u32) {
        self.next_number = next;
    }

    /// The line number the next new command will get.
    pub fn next_number(&self) -> u32 {
        self.next_number
    }

    /// Whether a new command can be handed over with [`Protocol::send`] now.
    pub fn ready(&self) -> bool {
        self.failed.is_none()
            && self.claim.is_none()
            && self.cursor == self.next_seq()
            && self.live_inflight() < self.window
    }

    /// Nothing in flight, nothing waiting to be sent.
    pub fn is_idle(&self) -> bool {
        self.inflight.is_empty()
            && self.claim.is_none()
            && self.cursor == self.next_seq()
            && self.urgent.is_empty()
            && self.urgent_inflight.is_empty()
            && self.forced.is_empty()
    }

    /// The fatal error that stopped the exchange, if any.
    pub fn failure(&self) -> Option<&str> {
        self.failed.as_deref()
    }

    /// Numbered lines sent and waiting for their answer.
    pub fn in_flight(&self) -> usize {
        self.inflight.len()
    }

    /// The current window (commands in flight allowed).
    pub fn window(&self) -> usize {
        self.window
    }

    /// Keep at most `window` commands in flight from now on, whatever the firmware
    /// reports later (for a printer found to read only one line of what arrives at once).
    pub fn limit_window(&mut self, window: usize) {
        self.window = window.max(1);
        self.config.max_window = self.window;
        self.config.auto_window = false;
    }

    /// Capabilities read so far from the printer's `M115` answer.
    pub fn firmware(&self) -> &FirmwareInfo {
        &self.firmware
    }

    /// The file position of the last command the printer acknowledged.
    pub fn last_acknowledged(&self) -> Option<Source> {
        self.last_acked_source
    }

    /// Line numbers and file positions of lines sent but not known to be acknowledged,
    /// oldest first, preceded by the last acknowledged one (for resuming on a printer
    /// that kept running).
    pub fn unacknowledged(&self) -> Vec<(u32, Option<Source>)> {
        let first = self.acked.unwrap_or(self.base).max(self.base);
        (first..self.sent_upto)
            .filter_map(|seq| self.entry(seq))
            .map(|e| (e.number, e.source))
            .collect()
    }

    /// Hand over a command (raw G-code; comments are stripped here too).
    ///
    /// `source` says where it came from in the file. Fails when not [`ready`](Self::ready).
    pub fn send(&mut self, command: &str, source: Option<Source>) -> Result<(), SendError> {
        if let Some(f) = &self.failed {
            return Err(SendError::Failed(f.clone()));
        }
        if !self.ready() {
            return Err(SendError::NotReady);
        }
        let Some(clean) = gcode::clean_line(command) else {
            return Err(SendError::Empty);
        };
        if self.next_number >= self.config.line_number_limit {
            // N<limit> M110 N0: Marlin takes the second N as its new counter.
            self.push_entry("M110 N0".to_string(), None);
            self.next_number = 1;
        }
        if self.sync_due() {
            self.push_entry(PROBE_COMMAND.to_string(), None);
        }
        self.push_entry(clean, source);
        Ok(())
    }

    /// Whether an `M105` should go with the stream now, to find lines whose `ok` was lost
    /// before they narrow the window to nothing: about every [`SYNC_LOST_OKS`] lost oks,
    /// as the rate of lost oks seen so far says.
    fn sync_due(&self) -> bool {
        if self.window <= 1 || self.firmware.advanced_ok {
            return false;
        }
        let rate = (self.oks_lost as f64 + 1.0) / (self.oks_counted as f64 + SYNC_PRIOR_OKS);
        let every = (SYNC_LOST_OKS / rate).clamp(SYNC_MIN_COMMANDS, SYNC_MAX_COMMANDS);
        self.since_sync as f64 >= every
    }

    /// Send `command` unnumbered, ahead of everything queued (for `M108`, `M410`,
    /// `M112` on a firmware with an emergency parser).
    pub fn send_urgent(&mut self, command: &str) {
        self.urgent.push_back(command.trim().to_string());
    }

    /// Feed bytes read from the printer at time `now`.
    pub fn receive(&mut self, bytes: &[u8], now: Instant) {
        for &b in bytes {
            if b == b'\n' || b == b'\r' {
                if !self.rx_buffer.is_empty() {
                    let line = String::from_utf8_lossy(&self.rx_buffer).into_owned();
                    self.rx_buffer.clear();
                    self.receive_line(&line, now);
                }
            } else if self.rx_buffer.len() < MAX_RX_LINE {
                self.rx_buffer.push(b);
            }
        }
    }

    /// Feed one complete line read from the printer at time `now`.
    pub fn receive_line(&mut self, line: &str, now: Instant) {
        if line.trim().is_empty() {
            return;
        }
        self.last_rx = Some(now);
        match response::parse(line) {
            Response::Ok(reply) => {
                self.handle_ok(reply, now);
                self.last_progress = Some(now);
            }
            Response::Resend(n) => {
                self.last_progress = Some(now);
                self.handle_resend(n, now);
            }
            Response::Busy(text) => {
                self.last_progress = Some(now);
                self.keepalive_seen = true;
                self.events.push_back(Event::Busy(text));
            }
            Response::Wait => {
                // The firmware's queue is empty: anything still counted in flight had its
                // ok lost (or never arrived). Probe right away.
                if !self.inflight.is_empty() && !self.probe_in_flight() && self.claim.is_none() {
                    let _ = self.probe();
                }
            }
            Response::Start => {
                if self.sent_upto > 0 {
                    self.pace.clear();
                    self.events.push_back(Event::Reset);
                    self.fail(
                        "the printer reset (its board restarted) during the job and lost the \
                         moves it had planned"
                            .into(),
                    );
                }
            }
            Response::LineError(text) => {
                self.line_number_error = Some(response::is_line_number_error(&text));
                self.events.push_back(Event::LineError(text));
            }
            Response::FatalError(text) => {
                let cause = self
                    .last_warning
                    .take()
                    .map(|w| format!("{w}; "))
                    .unwrap_or_default();
                self.fail(format!("the printer halted: {cause}{text}"));
            }
            Response::Warning(text) => {
                self.last_warning = Some(text.clone());
                self.events.push_back(Event::Warning(text));
            }
            Response::Temperature(t) => {
                if response::is_heating_report(line) {
                    // M109 / M190 report while they wait: the printer is at work.
                    self.last_progress = Some(now);
                    self.keepalive_seen = true;
                }
                self.events.push_back(Event::Temperature(t));
            }
            Response::FirmwareName(f) => {
                self.firmware.firmware = Some(f);
                self.firmware.capabilities.clear();
            }
            Response::Capability(name, on) => {
                match name.as_str() {
                    "AUTOREPORT_TEMP" => self.firmware.autoreport_temp = on,
                    "EMERGENCY_PARSER" => self.firmware.emergency_parser = on,
                    "ADVANCED_OK" => self.firmware.advanced_ok = on,
                    _ => {}
                }
                self.firmware.capabilities.push((name, on));
            }
            Response::Position(p) => match self.claim.as_mut() {
                Some(c) => c.position = Some(p),
                _ => self
                    .events
                    .push_back(Event::Message(line.trim().to_string())),
            },
            Response::Other(text) => self.events.push_back(Event::Message(text)),
        }
    }

    /// Let time pass: sends a probe when an `ok` is overdue, fails the job when the
    /// printer has been silent too long.
    pub fn tick(&mut self, now: Instant) {
        if self.failed.is_some() {
            return;
        }
        if let Some(c) = self.claim.as_mut() {
            if c.ask_at.is_some_and(|t| now >= t) {
                c.ask_at = None;
                c.outgoing = Some(POSITION_COMMAND.to_string());
            }
            if now >= c.started + CLAIM_WAIT {
                // No answer to the check: take the printer at its word.
                let asked = c.asked;
                self.claim = None;
                self.events.push_back(Event::Notice(format!(
                    "no clear answer to M114: taking line {} as done",
                    asked.0.wrapping_sub(1)
                )));
                self.accept_claim(asked);
            }
            return;
        }
        if self.inflight.is_empty() && self.urgent_inflight.is_empty() {
            return;
        }
        if let Some(since) = self.last_rx.map(|t| now.saturating_duration_since(t)) {
            if since >= self.config.silence_limit {
                self.fail(format!(
                    "the printer has not said anything for {} s",
                    since.as_secs()
                ));
                return;
            }
        }
        if let Some(deadline) = self.deadline() {
            if now >= deadline {
                if self.inflight.is_empty() {
                    // Only urgent commands were waiting: they were taken at once by
                    // the emergency parser; their oks are not worth a probe.
                    self.urgent_inflight.clear();
                } else if let Some((_, _, at)) = self.duplicates.filter(|_| !self.recovery_retried)
                {
                    // The line the printer asked for has not been answered: it was lost
                    // again on the way (or its answer was). Send it again once, out of
                    // turn; a copy too many is refused, never run twice. If that is not
                    // answered either, the probe below settles it.
                    self.recovery_retried = true;
                    if !self.forced.contains(&at) {
                        self.forced.push_back(at);
                        self.events.push_back(Event::Probe);
                    }
                } else if self.cursor < self.sent_upto {
                    // The printer asked for a line that the window holds back, behind a
                    // line whose ok was lost. A probe numbered after it would only be
                    // refused: send the requested line itself, out of turn.
                    if !self.forced.contains(&self.cursor) {
                        self.forced.push_back(self.cursor);
                        self.events.push_back(Event::Probe);
                    }
                } else {
                    let _ = self.probe();
                }
                self.last_progress = Some(now);
            }
        }
    }

    /// When [`tick`](Self::tick) next has something to do (block on the port until then).
    pub fn deadline(&self) -> Option<Instant> {
        if self.failed.is_some() {
            return None;
        }
        if let Some(c) = &self.claim {
            let give_up = c.started + CLAIM_WAIT;
            return Some(c.ask_at.map_or(give_up, |t| t.min(give_up)));
        }
        if self.inflight.is_empty() && self.urgent_inflight.is_empty() {
            return None;
        }
        let since = self.last_progress?;
        // The answer awaited: the oldest line in flight's, or while a probe is out, the
        // probe's, which comes after everything sent before it.
        let upto = self
            .inflight
            .iter()
            .position(|seq| self.entry(*seq).is_some_and(|e| e.probe))
            .map_or(1, |i| i + 1);
        let awaited: Vec<Work> = self
            .inflight
            .iter()
            .take(upto)
            .filter_map(|seq| self.entry(*seq).map(|e| e.work))
            .collect();
        if awaited.contains(&Work::Long) {
            let wait = if self.keepalive_seen {
                KEEPALIVE_WAIT
            } else {
                self.config.long_timeout
            };
            return Some(since + wait);
        }
        if let Some(fixed) = self.config.ok_timeout {
            return Some(since + fixed);
        }
        let moves = awaited
            .iter()
            .filter(|w| matches!(w, Work::Move(_)))
            .count();
        let expected = match awaited.as_slice() {
            [] => Some(Duration::ZERO),
            [one] => self.pace.expected_wait(*one, since),
            // Several moves ahead of the answer may each wait for a planner block: at
            // most until the planner has run dry.
            _ if moves > 1 => self.pace.expected_wait(Work::Drain(Duration::ZERO), since),
            many => many
                .iter()
                .filter_map(|w| self.pace.expected_wait(*w, since))
                .max(),
        };
        Some(since + self.pace.allowance(expected.unwrap_or_default()))
    }

    /// The next line to write, if any. `now` starts the ok timer.
    pub fn poll_transmit(&mut self, now: Instant) -> Option<Outgoing> {
        if self.failed.is_some() {
            return None;
        }
        if let Some(cmd) = self.urgent.pop_front() {
            self.urgent_inflight.push_back(self.inflight.len());
            if self.last_rx.is_none() {
                self.last_rx = Some(now);
            }
            if self.inflight.is_empty() && self.urgent_inflight.len() == 1 {
                self.last_progress = Some(now);
            }
            return Some(Outgoing {
                line: format!("{cmd}\n"),
                kind: OutgoingKind::Urgent,
            });
        }
        if let Some(c) = self.claim.as_mut() {
            return c.outgoing.take().map(|line| Outgoing {
                line: format!("{}\n", line.trim_end()),
                kind: OutgoingKind::Probe,
            });
        }
        if let Some(seq) = self.forced.pop_front() {
            if self.cursor == seq {
                self.cursor += 1;
            }
            let kind = if self.entry(seq).is_some_and(|e| e.probe) {
                OutgoingKind::Probe
            } else if seq < self.sent_upto {
                OutgoingKind::Resend
            } else {
                OutgoingKind::New
            };
            return self.transmit(seq, kind, now);
        }
        if self.cursor < self.next_seq() && self.live_inflight() < self.window {
            let seq = self.cursor;
            let kind = if seq < self.sent_upto {
                OutgoingKind::Resend
            } else {
                OutgoingKind::New
            };
            self.cursor += 1;
            return self.transmit(seq, kind, now);
        }
        None
    }

    fn transmit(&mut self, seq: u64, kind: OutgoingKind, now: Instant) -> Option<Outgoing> {
        let entry = self.entry(seq)?;
        let line = frame(entry.number, &entry.command);
        self.sent_upto = self.sent_upto.max(seq + 1);
        if self.inflight.is_empty() {
            self.last_progress = Some(now);
        }
        if self.last_rx.is_none() {
            self.last_rx = Some(now);
        }
        // One answer is awaited per line, however many copies went.
        if !self.inflight.contains(&seq) {
            self.inflight.push_back(seq);
        }
        self.trim_history();
        Some(Outgoing { line, kind })
    }

    /// The next event, if any.
    pub fn poll_event(&mut self) -> Option<Event> {
        self.events.pop_front()
    }

    // ---- internals ----

    fn next_seq(&self) -> u64 {
        self.base + self.history.len() as u64
    }

    fn entry(&self, seq: u64) -> Option<&Entry> {
        let index = usize::try_from(seq.checked_sub(self.base)?).ok()?;
        self.history.get(index)
    }

    /// Transmissions in flight that count against the window (probes do not, unless the
    /// window is a single line: then nothing goes with anything, as some printers read
    /// only one line of what arrives at once). An `M110` in flight fills the window on
    /// its own: Marlin sets its counter again when it executes it, so a line sent behind
    /// it would be asked for, and run, twice.
    fn live_inflight(&self) -> usize {
        let mut count = 0;
        for seq in &self.inflight {
            match self.entry(*seq) {
                Some(e) if e.m110 => return usize::MAX,
                Some(e) if e.probe && self.window > 1 => {}
                _ => count += 1,
            }
        }
        count
    }

    fn probe_in_flight(&self) -> bool {
        !self.forced.is_empty()
            || self
                .inflight
                .iter()
                .any(|seq| self.entry(*seq).is_some_and(|e| e.probe))
    }

    fn push_entry(&mut self, command: String, source: Option<Source>) {
        let word = gcode::command_word(&command);
        let m105 = word.as_deref() == Some("M105");
        if m105 {
            self.since_sync = 0;
        } else {
            self.since_sync += 1;
        }
        let (from, _) = self.motion.position();
        let work = self.motion.work(&command);
        let (to, absolute) = self.motion.position();
        let entry = Entry {
            number: self.next_number,
            span: (matches!(work, Work::Move(_)) && absolute).then_some((from, to)),
            work,
            m105,
            m110: word.as_deref() == Some("M110"),
            probe: false,
            command,
            source,
        };
        self.history.push_back(entry);
        self.next_number = self.next_number.wrapping_add(1);
    }

    fn trim_history(&mut self) {
        let keep_from = self
            .inflight
            .iter()
            .copied()
            .min()
            .unwrap_or(self.cursor)
            .min(self.cursor);
        while self.history.len() > self.config.history.max(1) && self.base < keep_from {
            self.history.pop_front();
            self.base += 1;
        }
    }

    fn fail(&mut self, message: String) {
        if self.failed.is_none() {
            self.failed = Some(message.clone());
            self.urgent.clear();
            self.forced.clear();
            self.events.push_back(Event::Fatal(message));
        }
    }

    /// Queue a probe out of turn; returns its history position.
    fn probe(&mut self) -> u64 {
        // Whatever the printer asks for after this is a fresh request.
        self.duplicates = None;
        let seq = self.next_seq();
        if self.next_number >= self.config.line_number_limit {
            self.push_entry("M110 N0".to_string(), None);
            self.next_number = 1;
            self.forced.push_back(seq);
        }
        let probe_seq = self.next_seq();
        self.push_entry(PROBE_COMMAND.to_string(), None);
        if let Some(e) = self.history.back_mut() {
            e.probe = true;
        }
        self.forced.push_back(probe_seq);
        self.events.push_back(Event::Probe);
        probe_seq
    }

    fn acknowledge_front(&mut self) {
        let Some(seq) = self.inflight.pop_front() else {
            return;
        };
        if let Some(e) = self.entry(seq) {
            let event = Event::Acknowledged {
                number: e.number,
                command: e.command.clone(),
                source: e.source,
            };
            if e.source.is_some() {
                self.last_acked_source = e.source;
            }
            self.acked = Some(self.acked.map_or(seq, |a| a.max(seq)));
            if self.rewound_to.is_some_and(|at| seq >= at) {
                self.rewound_to = None;
            }
            if self.duplicates.is_some_and(|(_, _, at)| seq >= at) {
                // A line sent after the rewind went through: any later request for the
                // same line is a new one.
                self.settle_rewind();
                self.duplicates = None;
            }
            self.events.push_back(event);
        }
    }

    fn handle_ok(&mut self, reply: OkReply, now: Instant) {
        if let Some(t) = reply.temperatures.clone() {
            self.events.push_back(Event::Temperature(t));
        }
        if self.swallow_ok {
            // The ok Marlin writes right after "Resend:" belongs to the rejected line.
            self.swallow_ok = false;
            return;
        }
        if self.claim.is_some() {
            self.claim_answered(reply.position, now);
            return;
        }
        if let Some(free) = reply.buffer_free {
            self.max_buffer_free = Some(self.max_buffer_free.map_or(free, |m| m.max(free)));
            if self.config.auto_window {
                let size = usize::try_from(self.max_buffer_free.unwrap_or(0)).unwrap_or(0) + 1;
                self.window = size.clamp(1, self.config.max_window.max(1));
            }
        }
        // How many transmissions this ok closes: normally the oldest one; an ok that
        // names its line, or the answer to an M105, closes everything up to it.
        let upto = if let Some(n) = reply.line {
            self.inflight
                .iter()
                .position(|seq| self.entry(*seq).is_some_and(|e| e.number == n))
        } else if reply.temperatures.is_some() {
            // The answer to an M105: a probe's when one is out (it went because what was
            // sent before it, M105s included, was overdue: their answers are taken as
            // lost), otherwise the oldest M105's.
            self.inflight
                .iter()
                .position(|seq| self.entry(*seq).is_some_and(|e| e.probe))
                .or_else(|| {
                    self.inflight
                        .iter()
                        .position(|seq| self.entry(*seq).is_some_and(|e| e.m105))
                })
        } else {
            None
        };
        if upto.is_none() && self.urgent_inflight.front() == Some(&0) {
            // The oldest transmission is an urgent command: this is its ok.
            self.urgent_inflight.pop_front();
            return;
        }
        let count = upto.map_or(1, |i| i + 1).min(self.inflight.len());
        // The pace: the oldest line's answer tells how long the printer took; lines
        // closed with it had their own oks lost.
        let probing = self.probe_in_flight();
        let since = self.last_progress.unwrap_or(now);
        for i in 0..count {
            let Some(work) = self
                .inflight
                .get(i)
                .and_then(|s| self.entry(*s))
                .map(|e| e.work)
            else {
                continue;
            };
            if i == 0 && !probing {
                let expected = self.pace.expected_wait(work, since).unwrap_or_default();
                self.pace
                    .acknowledged(work, now, now.saturating_duration_since(since), expected);
            } else {
                self.pace.entered(work, now);
            }
        }
        self.oks_counted += 1;
        self.oks_lost += count.saturating_sub(1) as u64;
        if count > 1 {
            // A probe found lines that had lost their ok: whatever the printer asked
            // for before is settled.
            self.doubtful = None;
        }
        for _ in 0..count {
            self.acknowledge_front();
        }
        // Urgent commands sent before the lines just acknowledged had their ok lost (or
        // it was this one): they are done.
        self.urgent_inflight.retain_mut(|ahead| {
            let keep = *ahead >= count;
            *ahead = ahead.saturating_sub(count);
            keep
        });
    }

    fn handle_resend(&mut self, n: u32, now: Instant) {
        self.swallow_ok = true;
        if self.claim.is_some() {
            // Lines refused while the claim is checked are stale copies.
            return;
        }
        // A request repeated by lines sent before the latest rewind is not acted upon
        // twice; one that follows a checksum error is the printer refusing a line just
        // resent, and is.
        let maybe_repeat = self.line_number_error.take() != Some(false);
        if let Some((number, remaining, at)) = self.duplicates {
            if number == n && remaining > 0 && maybe_repeat {
                self.duplicates = Some((number, remaining - 1, at));
                self.events.push_back(Event::DuplicateResend { number: n });
                self.stale_seen += 1;
                // A firmware that empties its receive buffer each time it refuses a line
                // (Marlin) may have thrown away the copy of line n sent since the rewind
                // with it: send that one line again (a copy too many is refused, never
                // run twice). Where the firmware keeps what it received, every repeat
                // is answered in turn and an extra copy would only start another round.
                if self.flush_evidence > 0 && self.cursor > at && !self.forced.contains(&at) {
                    self.forced.push_back(at);
                }
                return;
            }
        }
        // The printer only ever asks for the line after the last one it took, which is
        // never far behind what is in flight. A request for a line never sent, or much
        // further back, is a garbled number or a printer that restarted and lost its
        // queue (resending would print those lines twice): a probe tells which.
        let oldest_open = self
            .inflight
            .iter()
            .copied()
            .min()
            .unwrap_or(self.cursor)
            .min(self.cursor);
        let tolerance = (self.config.max_window.max(self.window) * 2 + RESEND_SLACK) as u64;
        let target = self
            .find_resend_target(n)
            .filter(|seq| seq + tolerance >= oldest_open);
        if let Some(seq) = target {
            if self.check_claim(n, seq, now) {
                return;
            }
        }
        let Some(seq) = target else {
            match self.doubtful {
                Some((number, probe)) if number == n && probe < self.sent_upto => {
                    self.fail(format!(
                        "the printer asks for line {n} again, far behind the lines in \
                         flight: it restarted and lost what it held"
                    ));
                }
                _ => {
                    self.events.push_back(Event::DoubtfulResend { number: n });
                    let probe_seq = self.probe();
                    self.doubtful = Some((n, probe_seq));
                }
            }
            return;
        };
        self.rewind(n, seq);
    }

    /// Send again from history position `seq` (line `n`): every transmission from there
    /// on was (or will be) rejected by the printer.
    fn rewind(&mut self, n: u32, seq: u64) {
        self.rewound_to = Some(seq);
        let before = self.inflight.len();
        self.inflight.retain(|s| *s < seq);
        self.forced.retain(|s| *s < seq);
        // Urgent commands are not numbered: the printer took them, their oks will come.
        let open = self.inflight.len();
        for ahead in self.urgent_inflight.iter_mut() {
            *ahead = (*ahead).min(open);
        }
        let dead = before - self.inflight.len();
        self.settle_rewind();
        self.recovery_retried = false;
        self.duplicates = Some((n, dead.saturating_sub(1), seq));
        self.stale_expected = dead.saturating_sub(1);
        self.stale_seen = 0;
        self.cursor = seq;
        if self.acked.is_some_and(|a| a >= seq) {
            // An ok was counted for a line the printer never accepted: take it back.
            self.acked = seq.checked_sub(1);
            self.last_acked_source = (self.base..seq)
                .rev()
                .filter_map(|s| self.entry(s))
                .find_map(|e| e.source);
        }
        self.events.push_back(Event::Resend { number: n });
    }

    /// The printer asks for line `n` (history position `seq`) right after the line it
    /// was last asked for, whose `ok` never came: it claims that line. Marlin does so
    /// when the line's ok was lost; a firmware that dropped the line without a word
    /// (OctoPrint's virtual printer does, on purpose) does the same, and the move would
    /// be missing from the part. For a move in absolute coordinates the printer can tell
    /// which: once its moves have run (`M400`), `M114` says where the head is. Returns
    /// whether a check started (the request is then settled by its outcome).
    fn check_claim(&mut self, n: u32, seq: u64, now: Instant) -> bool {
        let Some(at) = self.rewound_to else {
            return false;
        };
        let checkable = seq == at + 1
            && self.inflight.iter().all(|s| *s == at)
            && self.urgent_inflight.is_empty()
            && self
                .entry(at)
                .and_then(|e| e.span)
                .is_some_and(|(from, to)| {
                    from.iter()
                        .zip(to)
                        .any(|(a, b)| (a - b).abs() > 2.0 * POSITION_TOLERANCE)
                });
        let Some(number) = self.entry(at).map(|e| e.number).filter(|_| checkable) else {
            return false;
        };
        self.events.push_back(Event::Notice(format!(
            "the printer asks for line {n} though line {number} was never acknowledged: \
             asking where its moves end (M114)"
        )));
        self.claim = Some(Claim {
            at,
            number,
            asked: (n, seq),
            started: now,
            position: None,
            previous: None,
            ask_at: None,
            outgoing: Some(POSITION_COMMAND.to_string()),
        });
        true
    }

    /// The `ok` of the claim check's `M114`. The head at the end of the claimed move:
    /// it ran. At its start, twice in a row (a firmware may report where the head is
    /// rather than where its planned moves end, so the head may still be on its way):
    /// it never ran. Anything else: ask again a little later.
    fn claim_answered(&mut self, position: Option<Position>, now: Instant) {
        let Some(mut c) = self.claim.take() else {
            return;
        };
        let Some(position) = position.or(c.position.take()) else {
            // An ok without a position: a late one of something else.
            self.claim = Some(c);
            return;
        };
        let near = |p: &Position, q: [f64; 3]| {
            p.axes
                .iter()
                .zip(q)
                .all(|(a, b)| a.is_none_or(|a| (a - b).abs() <= POSITION_TOLERANCE))
        };
        let Some((from, to)) = self.entry(c.at).and_then(|e| e.span) else {
            self.accept_claim(c.asked);
            return;
        };
        if near(&position, to) {
            self.accept_claim(c.asked);
            return;
        }
        let not_run = near(&position, from) && c.previous.is_some_and(|p| near(&p, from));
        if !not_run {
            c.previous = Some(position);
            c.ask_at = Some(now + CLAIM_ASK_AGAIN);
            self.claim = Some(c);
            return;
        }
        // Send the line again under the number the printer expects (and the lines after
        // it renumbered in turn): no M110, which some firmwares take as a reason to forget
        // what they had already refused.
        let (n, _) = c.asked;
        self.events.push_back(Event::Notice(format!(
            "the printer never ran line {} though it claims it: sending it again as line {n}",
            c.number
        )));
        let shift = n.wrapping_sub(c.number);
        let skip = usize::try_from(c.at - self.base).unwrap_or(usize::MAX);
        for e in self.history.iter_mut().skip(skip) {
            e.number = e.number.wrapping_add(shift);
        }
        self.next_number = self.next_number.wrapping_add(shift);
        self.recovery_retried = false;
        self.rewind(n, c.at);
    }

    /// Take the printer at its word: the claimed line is done, go on from the line it
    /// asked for.
    fn accept_claim(&mut self, (n, seq): (u32, u64)) {
        if self.inflight.front().is_some_and(|s| *s + 1 == seq) {
            self.acknowledge_front();
        }
        self.rewind(n, seq);
    }

    /// Learn from the rewind just over whether the firmware empties its receive buffer
    /// when it refuses a line.
    fn settle_rewind(&mut self) {
        if self.stale_expected > 0 {
            let step = if self.stale_seen < self.stale_expected {
                1
            } else {
                -1
            };
            self.flush_evidence =
                (self.flush_evidence + step).clamp(-FLUSH_EVIDENCE, FLUSH_EVIDENCE);
        }
        self.stale_expected = 0;
        self.stale_seen = 0;
    }

    /// The history position to resend from when the printer asks for line `n`.
    fn find_resend_target(&self, n: u32) -> Option<u64> {
        // The newest transmitted entry with that number.
        let found = (self.base..self.sent_upto)
            .rev()
            .find(|&s| self.entry(s).is_some_and(|e| e.number == n));
        if found.is_some() {
            return found;
        }
        // The printer wants the line after the last one sent: nothing to resend.
        let next_number = self
            .entry(self.sent_upto)
            .map_or(self.next_number, |e| e.number);
        if n == next_number {
            return Some(self.sent_upto);
        }
        // The printer's counter does not match ours (M110 not taken): start again from
        // the latest M110 sent.
        (self.base..self.sent_upto)
            .rev()
            .find(|&s| self.entry(s).is_some_and(|e| e.m110))
    }
}

/// Millimetres within which a reported position is taken for a move's end (Marlin
/// reports two decimals).
const POSITION_TOLERANCE: f64 = 0.02;
/// Longest a claim check goes on: the head may have a planner full of moves to run
/// before it stands still.
const CLAIM_WAIT: Duration = Duration::from_secs(60);
/// Wait before asking for the position again while the head is on its way.
const CLAIM_ASK_AGAIN: Duration = Duration::from_millis(250);
/// The command that asks for the position.
const POSITION_COMMAND: &str = "M114";

/// Lines a resend request may reach behind the oldest line in flight, beyond twice the
/// window, before it is taken for a printer that restarted.
const RESEND_SLACK: usize = 8;

/// The probe sent when an `ok` is overdue: harmless, answered with `ok T:...`.
pub const PROBE_COMMAND: &str = "M105";
/// Bound of the evidence on how the firmware treats its receive buffer (a few rewinds
/// change its mind).
const FLUSH_EVIDENCE: i32 = 4;
/// Lost oks expected between two sync points.
const SYNC_LOST_OKS: f64 = 0.25;
/// Oks taken as seen, one of them lost, before the first is counted: the first sync
/// points come every [`SYNC_LOST_OKS`] × 100 = 25 commands, then further apart on a link
/// that loses nothing.
const SYNC_PRIOR_OKS: f64 = 100.0;
/// Fewest commands between sync points (each is one more line and one more answer).
const SYNC_MIN_COMMANDS: f64 = 16.0;
/// Most commands between sync points, however clean the link.
const SYNC_MAX_COMMANDS: f64 = 1000.0;

#[cfg(test)]
mod tests {
    use super::*;

    /// A scripted exchange: the protocol, a fixed clock and every line written.
    struct Script {
        p: Protocol,
        t0: Instant,
        now: Instant,
        written: Vec<String>,
        acked: Vec<u32>,
        fed: u64,
    }

    impl Script {
        fn new(config: ProtocolConfig) -> Self {
            let t0 = Instant::now();
            let mut p = Protocol::new(config);
            p.start();
            let mut s = Script {
                p,
                t0,
                now: t0,
                written: Vec::new(),
                acked: Vec::new(),
                fed: 0,
            };
            s.flush();
            assert_eq!(s.written, ["N0 M110 N0*125"]);
            s.printer("ok");
            s.written.clear();
            s.acked.clear();
            s
        }

        fn with_window(window: usize) -> Self {
            Script::new(ProtocolConfig {
                window,
                auto_window: false,
                ..ProtocolConfig::default()
            })
        }

        /// Write out everything the protocol wants to send; collect events.
        fn flush(&mut self) {
            while let Some(out) = self.p.poll_transmit(self.now) {
                self.written.push(out.line.trim_end().to_string());
            }
            while let Some(e) = self.p.poll_event() {
                if let Event::Acknowledged { number, .. } = e {
                    self.acked.push(number);
                }
            }
        }

        /// Hand over file lines while the protocol is ready.
        fn feed(&mut self, commands: &mut std::slice::Iter<'_, &str>) {
            while self.p.ready() {
                let Some(c) = commands.next() else { break };
                self.fed += 1;
                let line = self.fed;
                self.p
                    .send(c, Some(Source { line, offset: 0 }))
                    .expect("ready");
                self.flush();
            }
        }

        fn printer(&mut self, line: &str) {
            self.p.receive_line(line, self.now);
            self.flush();
        }

        fn advance(&mut self, d: Duration) {
            self.now += d;
            self.p.tick(self.now);
            self.flush();
        }

        fn elapsed(&self) -> Duration {
            self.now - self.t0
        }
    }

    /// Longer than the adaptive wait for an ok when the printer has nothing to do.
    const OK_WAIT: Duration = Duration::from_secs(1);

    fn numbered(n: u32, cmd: &str) -> String {
        frame(n, cmd).trim_end().to_string()
    }

    #[test]
    fn window_of_one_waits_for_each_ok() {
        let mut s = Script::with_window(1);
        let cmds = ["G28", "G1 X10 ; go", "", "G1 Y10"];
        let mut it = cmds.iter();
        s.feed(&mut it);
        assert_eq!(s.written, [numbered(1, "G28")]);
        s.printer("ok");
        s.feed(&mut it);
        assert_eq!(s.written.last(), Some(&numbered(2, "G1 X10")));
        s.printer("ok");
        // The blank line is refused (never sent), the next command goes.
        assert_eq!(s.p.send("", None), Err(SendError::Empty));
        s.p.send("G1 Y10", None).expect("ready");
        s.flush();
        s.printer("ok");
        assert_eq!(
            s.written,
            [
                numbered(1, "G28"),
                numbered(2, "G1 X10"),
                numbered(3, "G1 Y10")
            ]
        );
        assert_eq!(s.acked, [1, 2, 3]);
        assert!(s.p.is_idle());
    }

    #[test]
    fn window_of_one_sends_nothing_beside_a_probe() {
        let mut s = Script::with_window(1);
        let cmds = ["M84", "G1 X10"];
        let mut it = cmds.iter();
        s.feed(&mut it);
        s.advance(OK_WAIT);
        assert_eq!(s.written, [numbered(1, "M84"), numbered(2, "M105")]);
        // The late ok of line 1: the probe is still out, so line 2 waits for its answer
        // (a printer that reads one line of a burst would leave it unread).
        s.printer("ok");
        assert!(!s.p.ready());
        s.printer("ok T:200.0 /200.0");
        assert!(s.p.ready());
        s.feed(&mut it);
        assert_eq!(s.written.last(), Some(&numbered(3, "G1 X10")));
    }

    #[test]
    fn a_probe_answer_closes_an_m105_whose_answer_was_lost() {
        let mut s = Script::with_window(1);
        s.p.send("M105", None).expect("ready");
        s.flush();
        s.advance(OK_WAIT);
        assert_eq!(s.written, [numbered(1, "M105"), numbered(2, "M105")]);
        // One answer comes: the probe's (the first M105's was lost).
        s.printer("ok T:200.0 /200.0");
        assert!(s.p.ready() && s.p.is_idle());
        assert_eq!(s.acked, [1, 2]);
    }

    /// The printer asks for line 2 again, then, when it gets no answer to the copy and
    /// sends another, claims it (asks for line 3): OctoPrint's virtual printer does so
    /// on purpose, Marlin when the copy's ok was lost. `M114` tells which.
    fn claimed_line(position: &str) -> Script {
        let mut s = Script::with_window(1);
        let cmds = ["G1 X10 F6000", "G1 X20", "G1 X30"];
        let mut it = cmds.iter();
        s.feed(&mut it);
        s.printer("ok");
        s.feed(&mut it);
        s.printer("Error: Missing checksum");
        s.printer("Resend:2");
        s.printer("ok");
        s.advance(OK_WAIT);
        s.printer("Error: expected line 3 got 2");
        s.printer("Resend:3");
        s.printer("ok");
        assert_eq!(s.written.last().map(String::as_str), Some("M114"));
        assert!(!s.p.ready());
        s.printer(position);
        s
    }

    #[test]
    fn a_claimed_move_that_never_ran_is_sent_again() {
        let mut s = claimed_line("ok X:10.00 Y:0.00 Z:0.00 E:0.00");
        // At the move's start: maybe still on the way there; asked again.
        s.advance(Duration::from_millis(300));
        assert_eq!(s.written.last().map(String::as_str), Some("M114"));
        s.printer("X:10.00 Y:0.00 Z:0.00 E:0.00 Count X:800 Y:0 Z:0");
        s.printer("ok");
        // Still there: the move never ran. It goes under the number the printer expects.
        assert_eq!(s.written.last(), Some(&numbered(3, "G1 X20")));
        s.printer("ok");
        let mut rest = ["G1 X30"].iter();
        s.feed(&mut rest);
        assert_eq!(s.written.last(), Some(&numbered(4, "G1 X30")));
        assert_eq!(s.acked, [1, 3]);
    }

    #[test]
    fn a_claimed_move_that_ran_is_not_sent_again() {
        let mut s = claimed_line("ok X:20.00 Y:0.00 Z:0.00 E:0.00");
        s.flush();
        let mut rest = ["G1 X30"].iter();
        s.feed(&mut rest);
        assert_eq!(s.written.last(), Some(&numbered(3, "G1 X30")));
        assert_eq!(
            s.written.iter().filter(|l| l.contains("G1 X20")).count(),
            3,
            "{:?}",
            s.written
        );
        assert_eq!(s.acked, [1, 2]);
    }

    #[test]
    fn resend_in_the_middle_of_a_window() {
        let mut s = Script::with_window(4);
        let cmds = ["G1 X1", "G1 X2", "G1 X3", "G1 X4", "G1 X5", "G1 X6"];
        let mut it = cmds.iter();
        s.feed(&mut it);
        assert_eq!(s.written.len(), 4);
        // Line 1 executes; line 2 arrives corrupted; lines 3 and 4 are refused in turn.
        s.printer("ok");
        s.printer("Error:checksum mismatch, Last Line: 1");
        s.printer("Resend: 2");
        s.printer("ok");
        s.printer("Error:Line Number is not Last Line Number+1, Last Line: 1");
        s.printer("Resend: 2");
        s.printer("ok");
        s.printer("Error:Line Number is not Last Line Number+1, Last Line: 1");
        s.printer("Resend: 2");
        s.printer("ok");
        // Lines 2, 3, 4 went again exactly once, then line 5 (window 4).
        assert_eq!(
            s.written[4..],
            [
                numbered(2, "G1 X2"),
                numbered(3, "G1 X3"),
                numbered(4, "G1 X4"),
            ]
        );
        assert_eq!(s.acked, [1]);
        s.feed(&mut it);
        assert_eq!(s.written.last(), Some(&numbered(5, "G1 X5")));
        for _ in 0..4 {
            s.printer("ok");
            s.feed(&mut it);
        }
        s.printer("ok");
        assert_eq!(s.acked, [1, 2, 3, 4, 5, 6]);
        assert!(s.p.is_idle());
        assert_eq!(s.p.last_acknowledged().map(|x| x.line), Some(6));
    }

    #[test]
    fn resend_for_a_line_already_acknowledged() {
        let mut s = Script::with_window(2);
        let cmds = ["G1 X1", "G1 X2", "G1 X3"];
        let mut it = cmds.iter();
        s.feed(&mut it);
        s.printer("ok");
        s.printer("ok");
        assert_eq!(s.acked, [1, 2]);
        let acked_line = s.p.last_acknowledged().map(|x| x.line);
        s.feed(&mut it);
        assert_eq!(s.written.last(), Some(&numbered(3, "G1 X3")));
        // The printer says it never took line 2: the ok counted for it was not its own.
        s.printer("Resend: 2");
        s.printer("ok");
        assert_eq!(s.written[3..], [numbered(2, "G1 X2"), numbered(3, "G1 X3")]);
        assert!(s.p.last_acknowledged().map(|x| x.line) < acked_line);
        s.printer("ok");
        s.printer("ok");
        assert!(s.p.is_idle());
        assert_eq!(s.p.last_acknowledged().map(|x| x.line), Some(3));
    }

    #[test]
    fn refused_probe_behind_a_lost_ok_is_sent_again_out_of_turn() {
        let mut s = Script::with_window(1);
        let cmds = ["G1 X1", "G1 X2"];
        let mut it = cmds.iter();
        s.feed(&mut it);
        // The ok for line 1 is lost; the probe is garbled on the way.
        s.advance(OK_WAIT);
        assert_eq!(s.written[1], numbered(2, "M105"));
        s.printer("Error:No Checksum with line number, Last Line: 1");
        s.printer("Resend: 2");
        s.printer("ok");
        // The window is still held by line 1: the refused probe goes again on the next
        // timeout, not a new probe the printer would refuse as out of sequence.
        s.advance(OK_WAIT);
        assert_eq!(s.written[2], numbered(2, "M105"));
        s.printer("ok T:200.0 /200.0");
        assert_eq!(s.acked, [1, 2]);
        s.feed(&mut it);
        assert_eq!(s.written[3], numbered(3, "G1 X2"));
        s.printer("ok");
        assert!(s.p.is_idle());
    }

    #[test]
    fn urgent_commands_take_their_own_oks() {
        let mut s = Script::with_window(2);
        let cmds = ["G1 X1", "G1 X2", "M104 S0"];
        let mut it = cmds.iter();
        s.feed(&mut it);
        assert_eq!(s.written.len(), 2);
        s.p.send_urgent("M108");
        s.flush();
        assert_eq!(s.written[2], "M108");
        // Oks come in the order the printer queued the lines.
        s.printer("ok");
        s.printer("ok");
        assert_eq!(s.acked, [1, 2]);
        s.printer("ok"); // M108's
        assert!(s.p.is_idle());
        s.feed(&mut it);
        s.printer("ok");
        assert_eq!(s.acked, [1, 2, 3]);
        assert!(s.p.is_idle());
        // An urgent command whose ok is lost does not hold the stream forever.
        s.p.send_urgent("M410");
        s.flush();
        assert!(!s.p.is_idle());
        s.advance(OK_WAIT);
        assert!(s.p.is_idle());
    }

    #[test]
    fn lost_ok_is_recovered_by_a_probe_without_resending() {
        let mut s = Script::with_window(1);
        let cmds = ["G1 X1", "G1 X2"];
        let mut it = cmds.iter();
        s.feed(&mut it);
        // The ok for line 1 is lost. Nothing happens before the deadline, well under a
        // second for a printer with nothing else to do...
        let deadline = s.p.deadline().expect("a deadline");
        assert!(deadline - s.now < Duration::from_millis(500));
        s.advance(deadline - s.now - Duration::from_millis(1));
        assert_eq!(s.written.len(), 1);
        // ...then a probe, never the command again.
        s.advance(Duration::from_millis(1));
        assert_eq!(s.written[1], numbered(2, "M105"));
        s.printer("T:200.0 /200.0 B:60.0 /60.0 @:0 B@:0"); // autoreport: not an answer
        assert!(!s.p.ready());
        s.printer("ok T:200.0 /200.0 B:60.0 /60.0 @:0 B@:0");
        assert_eq!(s.acked, [1, 2], "line 1 and the probe");
        s.feed(&mut it);
        assert_eq!(
            s.written,
            [
                numbered(1, "G1 X1"),
                numbered(2, "M105"),
                numbered(3, "G1 X2")
            ]
        );
    }

    #[test]
    fn lost_ok_then_probe_answered_after_queued_commands() {
        // Window 3, two oks lost: the probe's answer closes everything before it.
        let mut s = Script::with_window(3);
        let cmds = ["G1 X1", "G1 X2", "G1 X3", "G1 X4"];
        let mut it = cmds.iter();
        s.feed(&mut it);
        s.printer("ok");
        s.feed(&mut it);
        assert_eq!(s.written.len(), 4);
        s.advance(OK_WAIT);
        assert_eq!(s.written[4], numbered(5, "M105"));
        s.printer("ok T:200.0 /200.0");
        assert_eq!(s.acked, [1, 2, 3, 4, 5]);
        assert!(s.p.is_idle());
    }

    #[test]
    fn busy_for_a_minute_is_not_a_lost_ok() {
        let mut s = Script::with_window(1);
        let cmds = ["G29", "G1 X1"];
        let mut it = cmds.iter();
        s.feed(&mut it);
        for _ in 0..30 {
            s.advance(Duration::from_secs(2));
            s.printer("echo:busy: processing");
        }
        assert!(s.elapsed() >= Duration::from_secs(60));
        assert_eq!(s.written.len(), 1, "no probe while the printer says busy");
        s.printer("ok");
        s.feed(&mut it);
        assert_eq!(s.written.last(), Some(&numbered(2, "G1 X1")));
    }

    #[test]
    fn heating_gets_a_long_timeout_even_without_keepalive() {
        let mut s = Script::with_window(1);
        let cmds = ["M109 S215"];
        let mut it = cmds.iter();
        s.feed(&mut it);
        for _ in 0..60 {
            s.advance(Duration::from_secs(1));
            s.printer("T:150.0 /215.0 B:60.0 /60.0 W:?");
        }
        assert_eq!(s.written.len(), 1);
        s.advance(DEFAULT_LONG_TIMEOUT);
        assert_eq!(s.written.last(), Some(&numbered(2, "M105")));
    }

    #[test]
    fn silent_printer_fails_the_job() {
        let mut s = Script::with_window(1);
        s.p.send("G1 X1", None).expect("ready");
        s.flush();
        let mut waited = Duration::ZERO;
        while s.p.failure().is_none() && waited < DEFAULT_SILENCE_LIMIT * 2 {
            s.advance(OK_WAIT);
            waited += OK_WAIT;
        }
        assert!(
            s.p.failure()
                .is_some_and(|f| f.contains("not said anything"))
        );
        assert!(waited >= DEFAULT_SILENCE_LIMIT);
    }

    #[test]
    fn line_numbers_wrap_with_m110() {
        let mut s = Script::new(ProtocolConfig {
            line_number_limit: 4,
            ..ProtocolConfig::default()
        });
        let cmds = ["G1 X1", "G1 X2", "G1 X3", "G1 X4", "G1 X5"];
        let mut it = cmds.iter();
        for _ in 0..3 {
            s.feed(&mut it);
            s.printer("ok");
        }
        s.feed(&mut it);
        assert_eq!(s.written[3], numbered(4, "M110 N0"));
        // The counter reset was corrupted: the printer wants line 4 (the M110) again.
        s.printer("Error:checksum mismatch, Last Line: 3");
        s.printer("Resend: 4");
        s.printer("ok");
        assert_eq!(s.written[4], numbered(4, "M110 N0"));
        s.printer("ok");
        assert_eq!(s.written[5], numbered(1, "G1 X4"));
        s.printer("ok");
        s.feed(&mut it);
        assert_eq!(s.written[6], numbered(2, "G1 X5"));
        s.printer("Resend: 2");
        s.printer("ok");
        assert_eq!(s.written[7], numbered(2, "G1 X5"));
    }

    #[test]
    fn nothing_follows_an_m110_before_its_ok() {
        let mut s = Script::new(ProtocolConfig {
            window: 4,
            auto_window: false,
            line_number_limit: 3,
            ..ProtocolConfig::default()
        });
        let cmds = ["G1 X1", "G1 X2", "G1 X3", "G1 X4"];
        let mut it = cmds.iter();
        s.feed(&mut it);
        assert_eq!(
            s.written,
            [
                numbered(1, "G1 X1"),
                numbered(2, "G1 X2"),
                numbered(3, "M110 N0")
            ]
        );
        s.printer("ok");
        s.printer("ok");
        s.feed(&mut it);
        assert_eq!(
            s.written.len(),
            3,
            "held back until the M110 is acknowledged"
        );
        s.printer("ok");
        s.feed(&mut it);
        assert_eq!(s.written[3..], [numbered(1, "G1 X3"), numbered(2, "G1 X4")]);
    }

    #[test]
    fn request_far_behind_the_window_is_a_restart() {
        let mut s = Script::with_window(1);
        let cmds: Vec<String> = (0..60).map(|i| format!("G1 X{i}")).collect();
        for c in &cmds {
            s.p.send(c, None).expect("ready");
            s.flush();
            s.printer("ok");
        }
        s.p.send("G1 Y1", None).expect("ready");
        s.flush();
        // A board that reset asks for line 1: resending would print 60 lines twice.
        // It might also be a garbled number: a probe asks again first.
        s.printer("Resend: 1");
        assert!(s.p.failure().is_none());
        assert_eq!(s.written[61], numbered(62, "M105"));
        // The printer's counter did start over: it refuses the probe and asks again.
        s.printer("Error:Line Number is not Last Line Number+1, Last Line: 0");
        s.printer("Resend: 1");
        assert!(s.p.failure().is_some_and(|f| f.contains("restarted")));
        assert_eq!(s.written.len(), 62, "nothing resent");
    }

    #[test]
    fn a_garbled_resend_number_is_checked_not_obeyed() {
        let mut s = Script::with_window(1);
        for i in 0..100 {
            s.p.send(&format!("G1 X{i}"), None).expect("ready");
            s.flush();
            s.printer("ok");
        }
        s.p.send("G1 Y1", None).expect("ready");
        s.flush();
        let sent = s.written.len();
        // "Resend: 101" arrives with its digits garbled: a line far behind.
        s.printer("Error:checksum mismatch, Last Line: 100");
        s.printer("Resend: 41");
        s.printer("ok");
        assert!(s.p.failure().is_none());
        assert_eq!(
            s.written[sent..],
            [numbered(102, "M105")],
            "a probe, nothing resent"
        );
        // The probe, numbered after the refused line, makes the printer ask properly.
        s.printer("Error:Line Number is not Last Line Number+1, Last Line: 100");
        s.printer("Resend: 101");
        s.printer("ok");
        assert_eq!(s.written[sent + 1], numbered(101, "G1 Y1"));
        s.printer("ok");
        s.printer("ok T:210.0 /210.0");
        assert!(s.p.is_idle());
        assert!(s.p.failure().is_none());
        assert_eq!(s.acked.len(), 102);
    }

    #[test]
    fn fatal_error_stops_at_once() {
        let mut s = Script::with_window(2);
        let cmds = ["G1 X1", "G1 X2", "G1 X3"];
        let mut it = cmds.iter();
        s.feed(&mut it);
        s.printer("Error:Thermal Runaway, system stopped! Heater_ID: 0");
        s.printer("Error:Printer halted. kill() called!");
        s.printer("ok");
        let sent = s.written.len();
        assert!(!s.p.ready());
        assert!(matches!(s.p.send("G1 X3", None), Err(SendError::Failed(_))));
        s.advance(OK_WAIT * 2);
        assert_eq!(s.written.len(), sent, "nothing sent after a fatal error");
        assert!(s.p.failure().is_some_and(|f| f.contains("Thermal Runaway")));
    }

    #[test]
    fn printer_reset_mid_job_is_fatal() {
        let mut s = Script::with_window(1);
        s.p.send("G1 X1", None).expect("ready");
        s.flush();
        s.printer("start");
        assert!(s.p.failure().is_some_and(|f| f.contains("restarted")));
    }

    #[test]
    fn advanced_ok_sizes_the_window_and_names_lines() {
        let mut s = Script::new(ProtocolConfig::default());
        assert_eq!(s.p.window(), DEFAULT_WINDOW);
        let cmds = [
            "G1 X1", "G1 X2", "G1 X3", "G1 X4", "G1 X5", "G1 X6", "G1 X7", "G1 X8",
        ];
        let mut it = cmds.iter();
        s.feed(&mut it);
        assert_eq!(s.written.len(), 4);
        s.printer("ok N1 P15 B5");
        assert_eq!(s.p.window(), 6);
        s.feed(&mut it);
        assert_eq!(s.written.len(), 7);
        // The oks for lines 2 and 3 are lost; the one for line 4 names it.
        s.printer("ok N4 P14 B2");
        assert_eq!(s.acked, [1, 2, 3, 4]);
        s.feed(&mut it);
        for n in 5..=8 {
            s.printer(&format!("ok N{n} P14 B3"));
        }
        assert!(s.p.is_idle());
    }

    #[test]
    fn m110_not_taken_restarts_from_it() {
        let t = Instant::now();
        let mut p = Protocol::new(ProtocolConfig::default());
        p.start();
        assert!(p.poll_transmit(t).is_some());
        // A printer still counting from an earlier session, M110 corrupted on the way.
        p.receive(
            b"Error:checksum mismatch, Last Line: 5000\nResend: 5001\nok\n",
            t,
        );
        assert_eq!(
            p.poll_transmit(t).map(|o| o.line),
            Some("N0 M110 N0*125\n".into())
        );
    }

    #[test]
    fn rs_form_and_split_reads() {
        let mut s = Script::with_window(1);
        let cmds = ["G1 X1", "G1 X2"];
        let mut it = cmds.iter();
        s.feed(&mut it);
        s.p.receive(b"rs N", s.now);
        s.p.receive(b"1\r\no", s.now);
        s.p.receive(b"k\n", s.now);
        s.flush();
        assert_eq!(s.written, [numbered(1, "G1 X1"), numbered(1, "G1 X1")]);
    }

    #[test]
    fn repeated_request_after_a_probe_is_honoured() {
        // The resent line is lost again while the repeat budget is still open: the
        // request looks like a repeat. Without an answer the line goes once more, then a
        // probe settles it.
        let mut s = Script::with_window(2);
        let cmds = ["G1 X1", "G1 X2", "G1 X3"];
        let mut it = cmds.iter();
        s.feed(&mut it);
        s.printer("Resend: 1");
        s.printer("ok");
        assert_eq!(s.written[2..], [numbered(1, "G1 X1"), numbered(2, "G1 X2")]);
        // Line 2's original transmission was flushed by the firmware (no repeat came),
        // and the resent line 1 is lost again:
        s.printer("Resend: 1");
        s.printer("ok");
        assert_eq!(
            s.written.len(),
            4,
            "taken for the repeat of the first request"
        );
        s.advance(OK_WAIT);
        assert_eq!(s.written[4..], [numbered(1, "G1 X1")]);
        // Lost once more: the probe, numbered after the lines sent, makes the printer
        // ask for the missing one.
        s.advance(OK_WAIT);
        assert_eq!(s.written.last(), Some(&numbered(3, "M105")));
        s.printer("Error:Line Number is not Last Line Number+1, Last Line: 0");
        s.printer("Resend: 1");
        s.printer("ok");
        assert_eq!(s.written[6..], [numbered(1, "G1 X1"), numbered(2, "G1 X2")]);
        s.printer("ok");
        s.printer("ok");
        // The probe goes again in its turn (harmless), and the stream goes on.
        assert_eq!(s.written.last(), Some(&numbered(3, "M105")));
        s.printer("ok T:210.0 /210.0");
        assert!(s.p.is_idle());
        assert_eq!(s.acked, [1, 2, 3]);
    }
}
