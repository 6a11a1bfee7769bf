//! Resend requests: rewinding the history, recognising repeats of a request already
//! acted upon, and checking requests that cannot be right.

use std::time::Instant;

use super::{Event, Protocol};

/// Lines a resend request may reach behind the oldest line in flight, beyond twice the
/// window, before it is taken for a printer that restarted.
const RESEND_SLACK: usize = 8;

/// Bound of the evidence on how the firmware treats its receive buffer (a few rewinds
/// change its mind).
const FLUSH_EVIDENCE: i32 = 4;

impl Protocol {
    pub(super) fn handle_resend(&mut self, n: u32, now: Instant) {
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
        let oldest_open = self.oldest_open();
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
    pub(super) fn rewind(&mut self, n: u32, seq: u64) {
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

    /// Learn from the rewind just over whether the firmware empties its receive buffer
    /// when it refuses a line.
    pub(super) fn settle_rewind(&mut self) {
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
    pub(super) fn find_resend_target(&self, n: u32) -> Option<u64> {
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
