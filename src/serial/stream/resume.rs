//! Resuming a job that was cut: whether the printer kept running (its line counter
//! says which line it received last) or reset and lost what it had planned.

use std::time::{Duration, Instant};

use super::super::gcode::{self, clean_line};
use super::super::response::{self, Response};
use super::super::state::{JobState, MachineState};
use super::{GcodeReader, Phase, Resumed, Session, StartAt, Stop};

/// Attempts at asking a printer that kept running for its line counter.
const CONTINUITY_ATTEMPTS: u32 = 3;

/// Wait for each of those answers.
const CONTINUITY_WAIT: Duration = Duration::from_secs(3);

impl Session<'_> {
    /// Where the job starts, and whether the printer needs to be brought back to the state
    /// the file had reached there first. `reset`: the board printed its reset banner.
    pub(super) fn start_point(
        &mut self,
        reset: bool,
        previous: Option<&JobState>,
    ) -> Result<(u64, bool), Stop> {
        let mut needs_restore = false;
        let start_line = match (&self.options.start, previous) {
            (StartAt::Beginning, _) => 1,
            (StartAt::Line(n), _) => {
                needs_restore = *n > 1;
                (*n).max(1)
            }
            (StartAt::Resume, Some(state)) => {
                let kept = if reset || state.sent.is_empty() {
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
        Ok((start_line, needs_restore))
    }

    /// Read the file up to `start_line`: the machine state there, layer and position.
    pub(super) fn skip_to(
        &mut self,
        reader: &mut GcodeReader,
        start_line: u64,
    ) -> Result<MachineState, Stop> {
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
        Ok(skipped)
    }

    /// Bring the printer back to the state the file had reached at `start_line`
    /// (`skipped`): re-heat, re-home X and Y, prime, return there, set Z and E.
    pub(super) fn restore(&mut self, skipped: &MachineState, start_line: u64) -> Result<(), Stop> {
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
        Ok(())
    }

    /// Ask a printer that did not reset which line it received last: a numbered `M105`
    /// with the next number (on a retry, the number after the last question's) is
    /// accepted (it has them all) or answered with `Resend: n`.
    pub(super) fn ask_line_counter(&mut self, next: u32) -> Result<Option<u32>, Stop> {
        // Each attempt asks with a number of its own: a printer that took an earlier
        // question but whose ok was lost drops a repeated line silently (or calls it out
        // of order), and would look like one that reset.
        for attempt in 0..CONTINUITY_ATTEMPTS {
            let probe = next.wrapping_add(attempt);
            self.write_raw(&gcode::frame(probe, "M105"))?;
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
                                && (reply.temperatures.is_some() || reply.line == Some(probe)) =>
                        {
                            answer = Some(probe.wrapping_sub(1));
                        }
                        Response::Ok(_) => {}
                        Response::FatalError(e) => {
                            return Err(Stop::Failed(format!("the printer halted: {e}")));
                        }
                        _ => {}
                    }
                }
                if let Some(last) = answer {
                    // Let the ok that follows a resend request arrive and go.
                    self.drain_quiet(Duration::from_millis(200))?;
                    // A counter at one of the questions: the job's last line received
                    // is the one before the first.
                    let asked = last.wrapping_sub(next) < CONTINUITY_ATTEMPTS;
                    return Ok(Some(if asked { next.wrapping_sub(1) } else { last }));
                }
            }
        }
        if !self.heard_anything {
            return Err(Stop::NoAnswer);
        }
        Ok(None)
    }
}
