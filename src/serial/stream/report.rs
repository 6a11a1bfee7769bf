//! What the job tells: messages, the log, progress and the time left, the job state
//! file, and the summary at the end.

use std::fs::File;
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::path::Path;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use super::super::state::{JobState, JobStatus, SentLine};
use super::{Progress, Session, Stop, Summary, no_answer_message};

/// Bytes of the file's head and tail searched for the slicer's time estimate.
const ESTIMATE_SCAN_BYTES: u64 = 64 * 1024;

/// Fraction of the file after which the observed pace starts to weigh in the estimate.
const PACE_MIN_FRACTION: f64 = 0.02;

impl Session<'_> {
    pub(super) fn message(&mut self, text: &str) {
        self.log_note(text);
        self.observer.message(text);
    }

    pub(super) fn log_line(&mut self, direction: char, line: &str) {
        if let Some(w) = self.log.as_mut() {
            let _ = writeln!(w, "{} {direction} {line}", timestamp(self.started));
        }
    }

    pub(super) fn log_note(&mut self, text: &str) {
        self.log_line('#', text);
    }

    pub(super) fn progress(&self) -> Progress {
        let elapsed = self.started.elapsed();
        let done = if self.total_bytes == 0 {
            1.0
        } else {
            (self.done_bytes as f64 / self.total_bytes as f64).clamp(0.0, 1.0)
        };
        let remaining = if let Some((at, r)) = self.m73_remaining {
            Some(r.saturating_sub(at.elapsed()))
        } else {
            remaining_time(self.estimate, done, elapsed)
        };
        Progress {
            phase: self.phase,
            line: self.acked_line,
            done_bytes: self.done_bytes,
            total_bytes: self.total_bytes,
            layer: self.layer,
            z: self.z.or(self.machine.position()[2]),
            elapsed,
            remaining,
            temperatures: self.temperatures.clone(),
        }
    }

    pub(super) fn report(&mut self, force: bool) {
        let due = self
            .last_progress_report
            .is_none_or(|t| t.elapsed() >= Duration::from_millis(100));
        if force || due {
            self.last_progress_report = Some(Instant::now());
            let p = self.progress();
            self.observer.progress(&p);
        }
    }

    pub(super) fn write_state(&mut self, status: JobStatus, message: Option<String>) {
        self.last_state_write = Some(Instant::now());
        let state = JobState {
            file: self.path.clone(),
            file_size: self.total_bytes,
            status,
            last_acknowledged_line: self.acked_line,
            replay_line: self
                .recent_moves
                .front()
                .copied()
                .unwrap_or(self.acked_line + 1)
                .min(self.acked_line + 1),
            sent: self
                .protocol
                .unacknowledged()
                .into_iter()
                .map(|(number, source)| SentLine {
                    number,
                    line: source.map_or(0, |s| s.line),
                })
                .collect(),
            next_number: self.protocol.next_number(),
            message,
        };
        if let Err(e) = state.save(&self.state_path) {
            let text = format!(
                "cannot write the job state {}: {e}",
                self.state_path.display()
            );
            self.log_note(&text);
        }
    }

    pub(super) fn finish(mut self, outcome: Result<(), Stop>) -> Summary {
        self.handle_events();
        self.report(true);
        let resume_hint = |line: u64| {
            format!(
                "the printer acknowledged up to line {line} of {}; resume with \
                 `lamina stream {} --port <PORT> --resume`",
                self.path.display(),
                self.path.display()
            )
        };
        let (status, message) = match outcome {
            Ok(()) => (JobStatus::Done, None),
            Err(Stop::Cancelled) => (
                JobStatus::Cancelled,
                Some(format!("cancelled; {}", resume_hint(self.acked_line))),
            ),
            Err(Stop::Failed(why)) => (
                JobStatus::Failed,
                Some(format!("{why}; {}", resume_hint(self.acked_line))),
            ),
            Err(Stop::NoAnswer) => (JobStatus::Failed, Some(no_answer_message("<PORT>"))),
        };
        match status {
            // A finished job leaves nothing to resume.
            JobStatus::Done => self.remove_state(),
            // Nothing was sent: the job state (if a run before left one) stays as it was.
            _ if !self.heard_anything => {}
            _ => self.write_state(status, message.clone()),
        }
        if let Some(m) = &message {
            self.log_note(m);
        } else {
            self.log_note("job done");
        }
        if let Some(w) = self.log.as_mut() {
            let _ = w.flush();
        }
        Summary {
            status,
            file: self.path.clone(),
            first_line: self.first_line,
            last_acknowledged_line: self.acked_line,
            commands: self.commands,
            resends: self.resends,
            line_errors: self.line_errors,
            probes: self.probes,
            elapsed_s: self.started.elapsed().as_secs_f64(),
            firmware: self.protocol.firmware().clone(),
            printer_reset: self.printer_reset,
            resumed: self.resumed,
            preamble: self.preamble.clone(),
            message,
            state_file: (status != JobStatus::Done).then(|| self.state_path.clone()),
        }
    }

    pub(super) fn remove_state(&mut self) {
        match std::fs::remove_file(&self.state_path) {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(e) => {
                let text = format!(
                    "cannot remove the job state {}: {e}",
                    self.state_path.display()
                );
                self.log_note(&text);
            }
        }
    }
}

/// Time left: the file's estimate for what remains, blended with the pace observed so
/// far as the job advances (the estimate alone early on, the pace alone at the end).
///
/// ```
/// use std::time::Duration;
/// use lamina::serial::stream::remaining_time;
/// // Half done in exactly the estimated time: one half of the estimate left.
/// let r = remaining_time(Some(Duration::from_secs(3600)), 0.5, Duration::from_secs(1800));
/// assert_eq!(r, Some(Duration::from_secs(1800)));
/// assert_eq!(remaining_time(None, 0.0, Duration::from_secs(5)), None);
/// ```
pub fn remaining_time(
    estimate: Option<Duration>,
    done: f64,
    elapsed: Duration,
) -> Option<Duration> {
    let left = (1.0 - done).clamp(0.0, 1.0);
    let from_estimate = estimate.map(|e| e.as_secs_f64() * left);
    let from_pace = (done >= PACE_MIN_FRACTION).then(|| elapsed.as_secs_f64() * left / done);
    let secs = match (from_estimate, from_pace) {
        (Some(e), Some(p)) => e * left + p * done,
        (Some(e), None) => e,
        (None, Some(p)) => p,
        (None, None) => return None,
    };
    Some(Duration::from_secs_f64(secs.max(0.0)))
}

/// The slicer's own estimate of the printing time, searched in the first and last
/// 64 KiB of the file (PrusaSlicer writes it at the end, Cura at the start).
pub fn read_estimate(path: &Path) -> io::Result<Option<Duration>> {
    let mut file = File::open(path)?;
    let len = file.metadata()?.len();
    let mut head = Vec::new();
    (&mut file)
        .take(ESTIMATE_SCAN_BYTES)
        .read_to_end(&mut head)?;
    if let Some(d) = find_estimate(&String::from_utf8_lossy(&head)) {
        return Ok(Some(d));
    }
    if len > ESTIMATE_SCAN_BYTES {
        file.seek(SeekFrom::Start(len - ESTIMATE_SCAN_BYTES))?;
        let mut tail = Vec::new();
        file.read_to_end(&mut tail)?;
        return Ok(find_estimate(&String::from_utf8_lossy(&tail)));
    }
    Ok(None)
}

/// Find a time estimate in slicer comments.
///
/// ```
/// use std::time::Duration;
/// use lamina::serial::stream::find_estimate;
/// assert_eq!(find_estimate("; estimated printing time (normal mode) = 1h 2m 3s"),
///            Some(Duration::from_secs(3723)));
/// assert_eq!(find_estimate(";TIME:600\nG28"), Some(Duration::from_secs(600)));
/// ```
pub fn find_estimate(text: &str) -> Option<Duration> {
    for line in text.lines() {
        let l = line.trim();
        let lower = l.to_ascii_lowercase();
        if let Some(v) = l.strip_prefix(";TIME:") {
            if let Ok(s) = v.trim().parse::<f64>() {
                return Some(Duration::from_secs_f64(s.max(0.0)));
            }
        }
        if lower.starts_with(';') && lower.contains("estimated printing time") {
            if let Some((_, value)) = l.split_once('=') {
                if let Some(d) = parse_dhms(value) {
                    return Some(d);
                }
            }
        }
    }
    None
}

/// `1d 2h 3m 4s` → seconds.
fn parse_dhms(s: &str) -> Option<Duration> {
    let mut total = 0u64;
    let mut any = false;
    for word in s.split_whitespace() {
        let (num, unit) = word.split_at(word.find(|c: char| !c.is_ascii_digit())?);
        let n: u64 = num.parse().ok()?;
        total += n * match unit {
            "d" => 86_400,
            "h" => 3_600,
            "m" => 60,
            "s" => 1,
            _ => return None,
        };
        any = true;
    }
    any.then(|| Duration::from_secs(total))
}

/// `+12.345s` since the job started, and the wall-clock time in UTC.
pub(super) fn timestamp(started: Instant) -> String {
    let since = started.elapsed().as_secs_f64();
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    format!("{} +{since:.3}s", utc(now))
}

/// `2026-01-31T12:34:56.789Z` from a time since the Unix epoch.
fn utc(since_epoch: Duration) -> String {
    let format = time::macros::format_description!(
        "[year]-[month]-[day]T[hour]:[minute]:[second].[subsecond digits:3]Z"
    );
    i128::try_from(since_epoch.as_nanos())
        .ok()
        .and_then(|n| time::OffsetDateTime::from_unix_timestamp_nanos(n).ok())
        .and_then(|t| t.format(format).ok())
        .unwrap_or_else(|| format!("{:.3}s", since_epoch.as_secs_f64()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn utc_formats_known_dates() {
        assert_eq!(utc(Duration::from_secs(0)), "1970-01-01T00:00:00.000Z");
        // 2000-02-29 12:00:00 UTC = 951825600.
        assert_eq!(
            utc(Duration::from_millis(951_825_600_250)),
            "2000-02-29T12:00:00.250Z"
        );
    }

    #[test]
    fn estimates_are_read() {
        assert_eq!(
            find_estimate("; estimated printing time (normal mode) = 2d 1m"),
            Some(Duration::from_secs(2 * 86_400 + 60))
        );
        assert_eq!(find_estimate("; nothing here"), None);
    }

    #[test]
    fn remaining_follows_pace_at_the_end() {
        // Estimate 1 h, but 90% took 2 h: the pace dominates.
        let r = remaining_time(
            Some(Duration::from_secs(3600)),
            0.9,
            Duration::from_secs(7200),
        )
        .expect("some");
        let pace = 7200.0 * 0.1 / 0.9;
        let est = 360.0;
        let expected = est * 0.1 + pace * 0.9;
        assert!((r.as_secs_f64() - expected).abs() < 1e-6);
    }
}
