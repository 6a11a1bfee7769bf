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
//! - a lost `ok` would stall the stream: after a timeout without word from the printer
//!   (long for heating, homing, probing) a numbered `M105` is sent as a probe, outside
//!   the window. Its answer, `ok T:...`, comes after every command sent before it, so it
//!   acknowledges them all at once; if the printer had in fact missed a line, the probe's
//!   number makes it ask for that line. The probe carries a checksum like every line, so
//!   noise can never turn it into another command. Nothing is ever resent without the
//!   printer asking for it.
//! - line numbers wrap before `line_number_limit` with `M110 N0`.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use serde::Serialize;

use super::gcode::{self, frame};
use super::response::{self, FirmwareLine, OkReply, Response, Temperatures};

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
    /// Commands in flight before waiting for an `ok`. 1 is always safe.
    pub window: usize,
    /// Let an advanced `ok ... B<n>` enlarge the window to the firmware's buffer size.
    pub auto_window: bool,
    /// Upper bound for the automatic window.
    pub max_window: usize,
    /// Lines kept for resend requests.
    pub history: usize,
    /// Silence after which a probe is sent while ordinary commands are in flight.
    pub ok_timeout: Duration,
    /// The same for long commands (heating, homing, probing...).
    pub long_timeout: Duration,
    /// With work in flight and no byte at all from the printer for this long, the job
    /// fails: the printer stopped answering.
    pub silence_limit: Duration,
    /// Line numbers are reset with `M110 N0` before reaching this value.
    pub line_number_limit: u32,
}

/// Default ok timeout: Marlin's keepalive says `busy` every 2 s during long work.
pub const DEFAULT_OK_TIMEOUT: Duration = Duration::from_secs(5);
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
            window: 1,
            auto_window: true,
            max_window: DEFAULT_MAX_WINDOW,
            history: DEFAULT_HISTORY,
            ok_timeout: DEFAULT_OK_TIMEOUT,
            long_timeout: DEFAULT_LONG_TIMEOUT,
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
    /// The printer is busy with a long command.
    Busy(String),
    /// The printer reported temperatures.
    Temperature(Temperatures),
    /// An `Error:` that does not stop the printer.
    Warning(String),
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
    long: bool,
    m105: bool,
    m110: bool,
    probe: bool,
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
            && self.cursor == self.next_seq()
            && self.live_inflight() < self.window
    }

    /// Nothing in flight, nothing waiting to be sent.
    pub fn is_idle(&self) -> bool {
        self.inflight.is_empty()
            && self.cursor == self.next_seq()
            && self.urgent.is_empty()
            && self.urgent_inflight.is_empty()
            && self.forced.is_empty()
    }

    /// The fatal error that stopped the exchange, if any.
    pub fn failure(&self) -> Option<&str> {
        self.failed.as_deref()
    }

    /// The current window (commands in flight allowed).
    pub fn window(&self) -> usize {
        self.window
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
        self.push_entry(clean, source);
        Ok(())
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
                self.last_progress = Some(now);
                self.handle_ok(reply);
            }
            Response::Resend(n) => {
                self.last_progress = Some(now);
                self.handle_resend(n);
            }
            Response::Busy(text) => {
                self.last_progress = Some(now);
                self.events.push_back(Event::Busy(text));
            }
            Response::Wait => {
                // The firmware's queue is empty: anything still counted in flight had its
                // ok lost (or never arrived). Probe right away.
                if !self.inflight.is_empty() && !self.probe_in_flight() {
                    self.probe();
                }
            }
            Response::Start => {
                if self.sent_upto > 0 {
                    self.fail("the printer restarted (its board reset) during the job".into());
                }
            }
            Response::LineError(text) => self.events.push_back(Event::LineError(text)),
            Response::FatalError(text) => self.fail(format!("the printer reported: {text}")),
            Response::Warning(text) => self.events.push_back(Event::Warning(text)),
            Response::Temperature(t) => self.events.push_back(Event::Temperature(t)),
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
            Response::Other(text) => self.events.push_back(Event::Message(text)),
        }
    }

    /// Let time pass: sends a probe when an `ok` is overdue, fails the job when the
    /// printer has been silent too long.
    pub fn tick(&mut self, now: Instant) {
        if self.failed.is_some() || (self.inflight.is_empty() && self.urgent_inflight.is_empty()) {
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
                } else if self.cursor < self.sent_upto {
                    // The printer asked for a line that the window holds back, behind a
                    // line whose ok was lost. A probe numbered after it would only be
                    // refused: send the requested line itself, out of turn.
                    if !self.forced.contains(&self.cursor) {
                        self.forced.push_back(self.cursor);
                        self.events.push_back(Event::Probe);
                    }
                } else {
                    self.probe();
                }
                self.last_progress = Some(now);
            }
        }
    }

    /// When [`tick`](Self::tick) next has something to do (block on the port until then).
    pub fn deadline(&self) -> Option<Instant> {
        if self.failed.is_some() || (self.inflight.is_empty() && self.urgent_inflight.is_empty()) {
            return None;
        }
        let since = self.last_progress?;
        let long = self
            .inflight
            .iter()
            .any(|seq| self.entry(*seq).is_some_and(|e| e.long));
        let timeout = if long {
            self.config.long_timeout
        } else {
            self.config.ok_timeout
        };
        Some(since + timeout)
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
        self.inflight.push_back(seq);
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

    /// Transmissions in flight that count against the window (probes do not). An `M110`
    /// in flight fills the window on its own: Marlin sets its counter again when it
    /// executes it, so a line sent behind it would be asked for, and run, twice.
    fn live_inflight(&self) -> usize {
        let mut count = 0;
        for seq in &self.inflight {
            match self.entry(*seq) {
                Some(e) if e.m110 => return usize::MAX,
                Some(e) if e.probe => {}
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
        let entry = Entry {
            number: self.next_number,
            long: gcode::is_long_command(&command),
            m105: word.as_deref() == Some("M105"),
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

    fn probe(&mut self) {
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
            if self.duplicates.is_some_and(|(_, _, at)| seq >= at) {
                // A line sent after the rewind went through: any later request for the
                // same line is a new one.
                self.duplicates = None;
            }
            self.events.push_back(event);
        }
    }

    fn handle_ok(&mut self, reply: OkReply) {
        if let Some(t) = reply.temperatures.clone() {
            self.events.push_back(Event::Temperature(t));
        }
        if self.swallow_ok {
            // The ok Marlin writes right after "Resend:" belongs to the rejected line.
            self.swallow_ok = false;
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
            self.inflight
                .iter()
                .position(|seq| self.entry(*seq).is_some_and(|e| e.m105))
        } else {
            None
        };
        if upto.is_none() && self.urgent_inflight.front() == Some(&0) {
            // The oldest transmission is an urgent command: this is its ok.
            self.urgent_inflight.pop_front();
            return;
        }
        let count = upto.map_or(1, |i| i + 1);
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

    fn handle_resend(&mut self, n: u32) {
        self.swallow_ok = true;
        if let Some((number, remaining, at)) = self.duplicates {
            if number == n && remaining > 0 {
                self.duplicates = Some((number, remaining - 1, at));
                self.events.push_back(Event::DuplicateResend { number: n });
                return;
            }
        }
        let Some(seq) = self.find_resend_target(n) else {
            self.fail(format!(
                "the printer asked for line {n} again, which is no longer in lamina's \
                 history of the last {} lines",
                self.config.history
            ));
            return;
        };
        // The printer only ever asks for the line after the last one it took, which is
        // never far behind what is in flight. A request much further back means it
        // restarted and lost its queue: resending would print those lines twice.
        let oldest_open = self
            .inflight
            .iter()
            .copied()
            .min()
            .unwrap_or(self.cursor)
            .min(self.cursor);
        let tolerance = (self.config.max_window.max(self.window) * 2 + RESEND_SLACK) as u64;
        if seq + tolerance < oldest_open {
            self.fail(format!(
                "the printer asked for line {n} again, far behind the lines in flight; \
                 it probably restarted"
            ));
            return;
        }
        // Every transmission from `seq` on was (or will be) rejected by the printer.
        let before = self.inflight.len();
        self.inflight.retain(|s| *s < seq);
        self.forced.retain(|s| *s < seq);
        // Urgent commands are not numbered: the printer took them, their oks will come.
        let open = self.inflight.len();
        for ahead in self.urgent_inflight.iter_mut() {
            *ahead = (*ahead).min(open);
        }
        let dead = before - self.inflight.len();
        self.duplicates = Some((n, dead.saturating_sub(1), seq));
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

/// Lines a resend request may reach behind the oldest line in flight, beyond twice the
/// window, before it is taken for a printer that restarted.
const RESEND_SLACK: usize = 8;

/// The probe sent when an `ok` is overdue: harmless, answered with `ok T:...`.
pub const PROBE_COMMAND: &str = "M105";

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
        s.advance(DEFAULT_OK_TIMEOUT);
        assert_eq!(s.written[1], numbered(2, "M105"));
        s.printer("Error:No Checksum with line number, Last Line: 1");
        s.printer("Resend: 2");
        s.printer("ok");
        // The window is still held by line 1: the refused probe goes again on the next
        // timeout, not a new probe the printer would refuse as out of sequence.
        s.advance(DEFAULT_OK_TIMEOUT);
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
        s.advance(DEFAULT_OK_TIMEOUT);
        assert!(s.p.is_idle());
    }

    #[test]
    fn lost_ok_is_recovered_by_a_probe_without_resending() {
        let mut s = Script::with_window(1);
        let cmds = ["G1 X1", "G1 X2"];
        let mut it = cmds.iter();
        s.feed(&mut it);
        // The ok for line 1 is lost. Nothing happens before the timeout...
        s.advance(DEFAULT_OK_TIMEOUT - Duration::from_millis(1));
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
        s.advance(DEFAULT_OK_TIMEOUT);
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
            s.advance(DEFAULT_OK_TIMEOUT);
            waited += DEFAULT_OK_TIMEOUT;
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
        s.printer("Resend: 1");
        assert!(s.p.failure().is_some_and(|f| f.contains("restarted")));
        assert_eq!(s.written.len(), 61);
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
        s.advance(DEFAULT_OK_TIMEOUT * 2);
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
        assert_eq!(s.p.window(), 1);
        let cmds = ["G1 X1", "G1 X2", "G1 X3", "G1 X4", "G1 X5", "G1 X6"];
        let mut it = cmds.iter();
        s.feed(&mut it);
        s.printer("ok N1 P15 B3");
        assert_eq!(s.p.window(), 4);
        s.feed(&mut it);
        assert_eq!(s.written.len(), 5);
        // The oks for lines 2 and 3 are lost; the one for line 4 names it.
        s.printer("ok N4 P14 B2");
        assert_eq!(s.acked, [1, 2, 3, 4]);
        s.feed(&mut it);
        s.printer("ok N5 P14 B3");
        s.printer("ok N6 P14 B3");
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
        // The resent line is corrupted again while the repeat budget is still open: the
        // request looks like a repeat. The probe clears the doubt; the next request is
        // acted upon.
        let mut s = Script::with_window(2);
        let cmds = ["G1 X1", "G1 X2", "G1 X3"];
        let mut it = cmds.iter();
        s.feed(&mut it);
        s.printer("Resend: 1");
        s.printer("ok");
        assert_eq!(s.written.len(), 4);
        // Line 2's original transmission was flushed by the firmware (no repeat came),
        // and the resent line 1 is corrupted again:
        s.printer("Resend: 1");
        s.printer("ok");
        assert_eq!(
            s.written.len(),
            4,
            "taken for the repeat of the first request"
        );
        s.advance(DEFAULT_OK_TIMEOUT);
        assert_eq!(s.written.last(), Some(&numbered(3, "M105")));
        // The probe, numbered after the missing line, makes the printer ask for it.
        s.printer("Error:Line Number is not Last Line Number+1, Last Line: 0");
        s.printer("Resend: 1");
        s.printer("ok");
        assert_eq!(s.written[5..], [numbered(1, "G1 X1"), numbered(2, "G1 X2")]);
        s.printer("ok");
        s.printer("ok");
        // The probe goes again in its turn (harmless), and the stream goes on.
        assert_eq!(s.written.last(), Some(&numbered(3, "M105")));
        s.printer("ok T:210.0 /210.0");
        assert!(s.p.is_idle());
        assert_eq!(s.acked, [1, 2, 3]);
    }
}
