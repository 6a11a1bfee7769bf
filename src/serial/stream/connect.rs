//! Connecting: the board's banner or an answer to `M110`, and whether the printer reads
//! every line of what arrives at once.

use std::time::{Duration, Instant};

use super::super::gcode;
use super::super::port::{self, Banner, LineReader, Link};
use super::super::protocol::{PROBE_COMMAND, Protocol};
use super::{NO_ANSWER_WAIT, Session, Stop, StreamError};

/// Silence that ends the answer to the greeting's `M110`.
const GREETING_QUIET: Duration = Duration::from_millis(200);

/// Longest wait for the answers to the two `M105` of the line-reading check: a printer
/// with nothing else to do answers within milliseconds.
const LINE_READING_WAIT: Duration = Duration::from_millis(500);

/// Longest wait for the printer to fall quiet after asking for its line counter.
pub(super) const DRAIN_MAX: Duration = Duration::from_secs(1);

/// Wait for the board on a port just opened and make sure a printer is there: its reset
/// banner, or else an answer to `M110 N0`, within `banner_timeout` and
/// [`NO_ANSWER_WAIT`]. `lamina print` does this before slicing, so that a wrong port is
/// said before minutes of work; the banner then goes to [`run`](super::run), which would otherwise
/// wait for it itself.
pub fn greet(link: &mut dyn Link, banner_timeout: Duration) -> Result<Banner, StreamError> {
    let mut banner = port::wait_for_banner(link, banner_timeout, |_| {})?;
    if !banner.lines.is_empty() {
        return Ok(banner);
    }
    link.write_line(gcode::frame(0, "M110 N0").as_bytes())?;
    let mut reader = LineReader::default();
    let mut buf = [0u8; 1024];
    let until = Instant::now() + NO_ANSWER_WAIT;
    // The answer, then whatever follows it until a short silence (the ok of the
    // M110 must not be taken later for the answer to something else).
    let mut quiet_until: Option<Instant> = None;
    let mut answered_at: Option<Instant> = None;
    loop {
        let now = Instant::now();
        let end = quiet_until.unwrap_or(until);
        if now >= end {
            break;
        }
        let n = link.read_some(&mut buf, end - now)?;
        if n == 0 {
            continue;
        }
        reader.push(&buf[..n], |l| banner.lines.push(l.to_string()));
        if !banner.lines.is_empty() {
            // A printer reporting temperatures is never quiet for long.
            let now = Instant::now();
            let first = *answered_at.get_or_insert(now);
            quiet_until = Some((now + GREETING_QUIET).min(first + DRAIN_MAX));
        }
    }
    if banner.lines.is_empty() {
        return Err(StreamError::NoAnswer);
    }
    Ok(banner)
}

impl Session<'_> {
    /// Find out whether the printer reads every line of what arrives at once.
    ///
    /// Two numbered `M105` go in one write while nothing else is in flight: a printer
    /// that reads each line it receives answers both within milliseconds. One that takes
    /// a single line per arrival and keeps the rest until more bytes come (OctoPrint's
    /// virtual printer does) answers only the first. Lines sent to it several at a time
    /// pile up unread: its answers lag behind the lines, its resend requests follow old
    /// copies, and the last lines of the job never run. It gets one command at a time.
    /// The line it left unread is fetched with a write that ends no line (the first
    /// byte of the next line, whose rest follows): it answers that line then, which
    /// confirms the finding; any other printer just waits for the rest of the line.
    pub(super) fn check_line_reading(&mut self) -> Result<(), Stop> {
        if !self.options.check_line_reading
            || self.protocol.window() < 2
            || !self.protocol.is_idle()
        {
            return Ok(());
        }
        let troubles = self.resends + self.line_errors;
        let now = Instant::now();
        let mut burst = String::new();
        for _ in 0..2 {
            if self.protocol.send(PROBE_COMMAND, None).is_err() {
                break;
            }
            while let Some(out) = self.protocol.poll_transmit(now) {
                self.log_line('>', out.line.trim_end());
                burst.push_str(&out.line);
            }
        }
        self.link
            .write_line(burst.as_bytes())
            .map_err(|e| Stop::Failed(e.to_string()))?;
        self.read_while(LINE_READING_WAIT, |p| !p.is_idle())?;
        let one_unread = self.protocol.in_flight() == 1
            && self.resends + self.line_errors == troubles
            && self.protocol.failure().is_none();
        if !one_unread {
            // Both answered, or something else happened (a corrupted line, a lost
            // answer): the exchange goes on as usual and settles it.
            return Ok(());
        }
        self.write_raw("N")?;
        self.read_while(LINE_READING_WAIT, |p| p.in_flight() > 0)?;
        let confirmed = self.protocol.in_flight() == 0 && self.protocol.failure().is_none();
        if confirmed {
            self.protocol.limit_window(1);
            self.message(
                "the printer reads one line of what arrives at once: sending one command at \
                 a time",
            );
        }
        // The rest of the line begun.
        let _ = self.protocol.send(PROBE_COMMAND, None);
        let now = Instant::now();
        let mut first = true;
        while let Some(out) = self.protocol.poll_transmit(now) {
            let line = match out.line.strip_prefix('N') {
                Some(rest) if first => rest,
                _ => out.line.as_str(),
            };
            first = false;
            self.log_line('>', out.line.trim_end());
            self.link
                .write_line(line.as_bytes())
                .map_err(|e| Stop::Failed(e.to_string()))?;
        }
        self.wait_idle(None)
    }

    /// Read and hand to the protocol what the printer says, for at most `limit` and while
    /// `go_on` holds; time does not pass for the protocol meanwhile (no probe goes).
    pub(super) fn read_while(
        &mut self,
        limit: Duration,
        go_on: fn(&Protocol) -> bool,
    ) -> Result<(), Stop> {
        let until = Instant::now() + limit;
        while go_on(&self.protocol) {
            let now = Instant::now();
            if now >= until {
                break;
            }
            let mut buf = [0u8; 1024];
            let n = self
                .link
                .read_some(&mut buf, until - now)
                .map_err(|e| Stop::Failed(e.to_string()))?;
            self.heard_anything |= n > 0;
            let mut lines = Vec::new();
            self.reader.push(&buf[..n], |l| lines.push(l.to_string()));
            let now = Instant::now();
            for l in lines {
                self.log_line('<', &l);
                self.protocol.receive_line(&l, now);
            }
            self.handle_events();
        }
        Ok(())
    }

    /// Read and log whatever comes until `quiet` passes without a byte, or at most
    /// [`DRAIN_MAX`] (a printer reporting temperatures is never quiet for long).
    pub(super) fn drain_quiet(&mut self, quiet: Duration) -> Result<(), Stop> {
        let until = Instant::now() + DRAIN_MAX;
        loop {
            let now = Instant::now();
            if now >= until {
                return Ok(());
            }
            let mut buf = [0u8; 1024];
            let n = self
                .link
                .read_some(&mut buf, quiet.min(until - now))
                .map_err(|e| Stop::Failed(e.to_string()))?;
            if n == 0 {
                return Ok(());
            }
            let mut lines = Vec::new();
            self.reader.push(&buf[..n], |l| lines.push(l.to_string()));
            for l in lines {
                self.log_line('<', &l);
            }
        }
    }
}
