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
//!
//! The pieces: `history` numbers the lines and keeps those sent for resends;
//! `receive` reads the printer's answers; `window` counts oks against the flow
//! window; `timeout` finds lost oks and probes for them; `resend` rewinds on a
//! resend request; `claim` checks a line the printer claims without its `ok`.

mod claim;
mod history;
mod receive;
mod resend;
mod timeout;
mod window;

#[cfg(test)]
mod tests;

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use serde::Serialize;

use super::pace::{Motion, Pace};
use super::response::{FirmwareLine, Temperatures};
use claim::Claim;
use history::Entry;

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

/// The probe sent when an `ok` is overdue: harmless, answered with `ok T:...`.
pub const PROBE_COMMAND: &str = "M105";

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

    /// The next event, if any.
    pub fn poll_event(&mut self) -> Option<Event> {
        self.events.pop_front()
    }

    fn fail(&mut self, message: String) {
        if self.failed.is_none() {
            self.failed = Some(message.clone());
            self.urgent.clear();
            self.forced.clear();
            self.events.push_back(Event::Fatal(message));
        }
    }
}
