//! The user's requests while the job runs: pause, resume, cancel.

use std::sync::atomic::Ordering;
use std::time::Instant;

use super::super::state::JobStatus;
use super::{Phase, Session, Stop};

impl Session<'_> {
    /// Whether cancelling should stop waiting for the printer (second Ctrl-C, or the
    /// printer took too long).
    pub(super) fn cancel_given_up(&self) -> bool {
        self.phase == Phase::Cancelling
            && (self.controls.interrupt.load(Ordering::Relaxed)
                || self.cancel_deadline.is_some_and(|d| Instant::now() >= d))
    }

    pub(super) fn check_cancel(&mut self) -> Result<(), Stop> {
        if self.controls.cancel.load(Ordering::Relaxed) {
            self.cancel()?;
            return Err(Stop::Cancelled);
        }
        Ok(())
    }

    pub(super) fn check_controls(&mut self) -> Result<(), Stop> {
        self.check_cancel()?;
        if self.controls.pause.swap(false, Ordering::Relaxed) {
            self.pause()?;
        }
        Ok(())
    }

    pub(super) fn pause(&mut self) -> Result<(), Stop> {
        self.message("pausing: finishing the commands in flight");
        self.controls.resume.store(false, Ordering::Relaxed);
        self.wait_idle(None)?;
        let saved = self.machine.clone();
        self.phase = Phase::Paused;
        for cmd in saved.fill_template(&self.options.pause_gcode) {
            self.send_host(&cmd)?;
        }
        self.wait_idle(None)?;
        self.write_state(JobStatus::Paused, None);
        self.message(&format!(
            "paused after line {} (press r or send SIGUSR2 to resume, Ctrl-C to cancel)",
            self.acked_line
        ));
        loop {
            self.check_cancel()?;
            if self.controls.resume.swap(false, Ordering::Relaxed) {
                break;
            }
            if self.temperature_due() && self.protocol.ready() {
                self.next_temperature_poll =
                    Some(Instant::now() + self.options.temperature_interval);
                let _ = self.protocol.send("M105", None);
            }
            self.pump()?;
        }
        self.message("resuming");
        for cmd in saved.fill_template(&self.options.resume_gcode) {
            self.send_host(&cmd)?;
        }
        self.wait_idle(None)?;
        self.machine = saved;
        self.phase = Phase::Printing;
        self.controls.pause.store(false, Ordering::Relaxed);
        Ok(())
    }

    /// Stop sending the file; stop the printer; heaters and motors off.
    pub(super) fn cancel(&mut self) -> Result<(), Stop> {
        if self.phase == Phase::Cancelling {
            return Ok(());
        }
        self.phase = Phase::Cancelling;
        self.controls.interrupt.store(false, Ordering::Relaxed);
        self.cancel_deadline = Some(Instant::now() + self.options.cancel_timeout);
        self.message("cancelling (Ctrl-C again to stop waiting for the printer)");
        if self.protocol.firmware().emergency_parser {
            self.protocol.send_urgent("M108");
            self.protocol.send_urgent("M410");
            self.transmit()?;
        }
        for cmd in self.machine.fill_template(&self.options.cancel_gcode) {
            if self.cancel_given_up() {
                break;
            }
            self.send_host(&cmd)?;
        }
        self.wait_idle(None)?;
        Ok(())
    }
}
