//! The job's loop: the file read and handed to the protocol, the port pumped, the
//! protocol's events turned into progress.

use std::fs::File;
use std::io::Write;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use super::super::gcode::{clean_line, command_word, param};
use super::super::port;
use super::super::protocol::{Event, Source};
use super::super::state::{JobState, JobStatus};
use super::report::timestamp;
use super::{GcodeReader, NO_ANSWER_WAIT, Phase, Resumed, Session, Stop};

/// Longest wait between two looks at the pause/cancel controls.
const CONTROL_TICK: Duration = Duration::from_millis(200);

impl Session<'_> {
    /// The whole job on a port just opened: the banner, where to start, the firmware's
    /// capabilities, then the file to its end.
    pub(super) fn job(&mut self, previous: Option<JobState>, file: File) -> Result<(), Stop> {
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
        let (start_line, needs_restore) = self.start_point(banner.reset, previous.as_ref())?;
        self.first_line = start_line;
        self.acked_line = start_line.saturating_sub(1);

        let mut reader = GcodeReader::new(file);
        let skipped = self.skip_to(&mut reader, start_line)?;
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
            self.restore(&skipped, start_line)?;
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
    pub(super) fn next_command(
        &mut self,
        reader: &mut GcodeReader,
    ) -> Result<Option<(String, Source)>, Stop> {
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
    pub(super) fn note_comment(&mut self, raw: &str) {
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

    pub(super) fn temperature_due(&self) -> bool {
        !self.autoreport
            && self
                .next_temperature_poll
                .is_some_and(|t| Instant::now() >= t)
    }

    pub(super) fn control_requested(&self) -> bool {
        self.controls.cancel.load(Ordering::Relaxed) || self.controls.pause.load(Ordering::Relaxed)
    }

    /// Send a command of lamina's own (not from the file), waiting for room.
    pub(super) fn send_host(&mut self, command: &str) -> Result<(), Stop> {
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
    pub(super) fn wait_idle(&mut self, limit: Option<Duration>) -> Result<(), Stop> {
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

    pub(super) fn write_raw(&mut self, line: &str) -> Result<(), Stop> {
        self.log_line('>', line.trim_end());
        self.link
            .write_line(line.as_bytes())
            .map_err(|e| Stop::Failed(e.to_string()))
    }

    /// Write out whatever the protocol has to send.
    pub(super) fn transmit(&mut self) -> Result<(), Stop> {
        let now = Instant::now();
        while let Some(out) = self.protocol.poll_transmit(now) {
            self.write_raw(&out.line)?;
        }
        Ok(())
    }

    /// One round: send, wait for the printer (blocking, with a timeout), handle what
    /// it said.
    pub(super) fn pump(&mut self) -> Result<(), Stop> {
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

    pub(super) fn handle_events(&mut self) {
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
}
