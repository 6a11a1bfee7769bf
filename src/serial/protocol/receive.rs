//! The printer's answers: bytes cut into lines, each line classified and acted upon.

use std::time::Instant;

use super::super::response::{self, Response};
use super::{Event, Protocol};

/// Longest line kept while waiting for its end (a runaway line is cut there).
const MAX_RX_LINE: usize = 4096;

impl Protocol {
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
}
