//! Line numbering and the history of lines sent: commands handed over, numbered,
//! kept for resend requests and written out in turn.

use std::time::Instant;

use super::super::gcode::{self, frame};
use super::super::pace::Work;
use super::{Outgoing, OutgoingKind, PROBE_COMMAND, Protocol, SendError, Source};

/// One numbered line in the history.
#[derive(Debug, Clone)]
pub(super) struct Entry {
    pub(super) number: u32,
    pub(super) command: String,
    pub(super) source: Option<Source>,
    pub(super) work: Work,
    pub(super) m105: bool,
    pub(super) m110: bool,
    pub(super) probe: bool,
    /// For a move in absolute coordinates: where it starts and where it ends (X, Y, Z).
    pub(super) span: Option<([f64; 3], [f64; 3])>,
}

impl Protocol {
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

    /// Send `command` unnumbered, ahead of everything queued (for `M108`, `M410`,
    /// `M112` on a firmware with an emergency parser).
    pub fn send_urgent(&mut self, command: &str) {
        self.urgent.push_back(command.trim().to_string());
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

    pub(super) fn transmit(
        &mut self,
        seq: u64,
        kind: OutgoingKind,
        now: Instant,
    ) -> Option<Outgoing> {
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

    pub(super) fn next_seq(&self) -> u64 {
        self.base + self.history.len() as u64
    }

    pub(super) fn entry(&self, seq: u64) -> Option<&Entry> {
        let index = usize::try_from(seq.checked_sub(self.base)?).ok()?;
        self.history.get(index)
    }

    pub(super) fn push_entry(&mut self, command: String, source: Option<Source>) {
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

    /// The oldest history position still open: the oldest line in flight, or the next to
    /// transmit.
    pub(super) fn oldest_open(&self) -> u64 {
        self.inflight
            .iter()
            .copied()
            .min()
            .unwrap_or(self.cursor)
            .min(self.cursor)
    }

    pub(super) fn trim_history(&mut self) {
        let keep_from = self.oldest_open();
        while self.history.len() > self.config.history.max(1) && self.base < keep_from {
            self.history.pop_front();
            self.base += 1;
        }
    }
}
