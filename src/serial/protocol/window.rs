//! Oks and the flow window: which lines an `ok` closes, how many may be in flight, and
//! when an `M105` goes with the stream as a sync point.

use std::time::Instant;

use super::super::response::OkReply;
use super::{Event, Protocol};

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

impl Protocol {
    /// Whether an `M105` should go with the stream now, to find lines whose `ok` was lost
    /// before they narrow the window to nothing: about every [`SYNC_LOST_OKS`] lost oks,
    /// as the rate of lost oks seen so far says.
    pub(super) fn sync_due(&self) -> bool {
        if self.window <= 1 || self.firmware.advanced_ok {
            return false;
        }
        let rate = (self.oks_lost as f64 + 1.0) / (self.oks_counted as f64 + SYNC_PRIOR_OKS);
        let every = (SYNC_LOST_OKS / rate).clamp(SYNC_MIN_COMMANDS, SYNC_MAX_COMMANDS);
        self.since_sync as f64 >= every
    }

    /// Transmissions in flight that count against the window (probes do not, unless the
    /// window is a single line: then nothing goes with anything, as some printers read
    /// only one line of what arrives at once). An `M110` in flight fills the window on
    /// its own: Marlin sets its counter again when it executes it, so a line sent behind
    /// it would be asked for, and run, twice.
    pub(super) fn live_inflight(&self) -> usize {
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

    pub(super) fn probe_in_flight(&self) -> bool {
        !self.forced.is_empty()
            || self
                .inflight
                .iter()
                .any(|seq| self.entry(*seq).is_some_and(|e| e.probe))
    }

    pub(super) fn acknowledge_front(&mut self) {
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

    pub(super) fn handle_ok(&mut self, reply: OkReply, now: Instant) {
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
}
