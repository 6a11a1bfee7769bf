//! Time: the deadline for the answer awaited, probes for lost oks, a printer gone
//! silent.

use std::time::{Duration, Instant};

use super::super::pace::Work;
use super::claim::{CLAIM_WAIT, POSITION_COMMAND};
use super::{Event, KEEPALIVE_WAIT, PROBE_COMMAND, Protocol};

impl Protocol {
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

    /// Queue a probe out of turn; returns its history position.
    pub(super) fn probe(&mut self) -> u64 {
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
}
