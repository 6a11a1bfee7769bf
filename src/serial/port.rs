//! The serial port: opening it, reading lines with timeouts, writing whole lines, and
//! telling a disconnect from a quiet printer.

use std::io::{self, Read, Write};
use std::time::{Duration, Instant};

use serde::Serialize;

/// Errors of the serial link.
#[derive(Debug, thiserror::Error)]
pub enum PortError {
    /// The port could not be opened.
    #[error("cannot open {port} at {baud} baud: {source}")]
    Open {
        /// Device path.
        port: String,
        /// Baud rate asked for.
        baud: u32,
        /// Why.
        source: serialport::Error,
    },
    /// The printer went away (cable pulled, board powered off, port closed).
    #[error("the printer disconnected ({0})")]
    Disconnected(String),
    /// Writing did not make progress for too long.
    #[error("the printer stopped taking data for {0} s")]
    WriteStalled(u64),
}

/// How long a single write may block before it is retried.
const WRITE_POLL: Duration = Duration::from_millis(200);
/// A write that makes no progress for this long fails.
const WRITE_STALL_LIMIT: Duration = Duration::from_secs(60);
/// Bytes read per call.
const READ_CHUNK: usize = 4096;

/// A byte link to the printer. [`SerialLink`] is the real one; tests may use others.
pub trait Link {
    /// Read what is available, waiting at most `timeout`. `Ok(0)` means nothing came.
    fn read_some(&mut self, buf: &mut [u8], timeout: Duration) -> Result<usize, PortError>;
    /// Write all of `bytes` (a line is never left half-written unless the link died).
    fn write_line(&mut self, bytes: &[u8]) -> Result<(), PortError>;
}

/// A serial port opened with `serialport`.
pub struct SerialLink {
    port: Box<dyn serialport::SerialPort>,
}

impl SerialLink {
    /// Open `path` at `baud`, 8N1, no flow control.
    pub fn open(path: &str, baud: u32) -> Result<SerialLink, PortError> {
        let port = serialport::new(path, baud)
            .timeout(WRITE_POLL)
            .open()
            .map_err(|source| PortError::Open {
                port: path.to_string(),
                baud,
                source,
            })?;
        Ok(SerialLink { port })
    }
}

fn is_benign(kind: io::ErrorKind) -> bool {
    matches!(
        kind,
        io::ErrorKind::TimedOut | io::ErrorKind::Interrupted | io::ErrorKind::WouldBlock
    )
}

impl Link for SerialLink {
    fn read_some(&mut self, buf: &mut [u8], timeout: Duration) -> Result<usize, PortError> {
        let _ = self.port.set_timeout(timeout.max(Duration::from_millis(1)));
        match self.port.read(buf) {
            // A tty that reports readable and gives nothing has hung up.
            Ok(0) => Err(PortError::Disconnected("end of stream".into())),
            Ok(n) => Ok(n),
            Err(e) if is_benign(e.kind()) => Ok(0),
            Err(e) => Err(PortError::Disconnected(e.to_string())),
        }
    }

    fn write_line(&mut self, bytes: &[u8]) -> Result<(), PortError> {
        let _ = self.port.set_timeout(WRITE_POLL);
        let mut written = 0;
        let mut last_progress = Instant::now();
        while written < bytes.len() {
            match self.port.write(&bytes[written..]) {
                Ok(0) => return Err(PortError::Disconnected("write returned nothing".into())),
                Ok(n) => {
                    written += n;
                    last_progress = Instant::now();
                }
                Err(e) if is_benign(e.kind()) => {
                    if last_progress.elapsed() > WRITE_STALL_LIMIT {
                        return Err(PortError::WriteStalled(WRITE_STALL_LIMIT.as_secs()));
                    }
                }
                Err(e) => return Err(PortError::Disconnected(e.to_string())),
            }
        }
        Ok(())
    }
}

/// Splits the byte stream into lines (`\n` or `\r` ends a line; empty lines dropped).
#[derive(Debug, Default)]
pub struct LineReader {
    partial: Vec<u8>,
}

/// Longest line kept (a runaway line is cut there).
const MAX_LINE: usize = 4096;

impl LineReader {
    /// Add bytes; every completed line goes to `sink`.
    pub fn push(&mut self, bytes: &[u8], mut sink: impl FnMut(&str)) {
        for &b in bytes {
            if b == b'\n' || b == b'\r' {
                if !self.partial.is_empty() {
                    let line = String::from_utf8_lossy(&self.partial).into_owned();
                    self.partial.clear();
                    sink(&line);
                }
            } else if self.partial.len() < MAX_LINE {
                self.partial.push(b);
            }
        }
    }
}

/// What was seen while waiting for the board after opening the port.
#[derive(Debug, Clone, Default)]
pub struct Banner {
    /// The board printed `start`: it has just reset.
    pub reset: bool,
    /// Every line received meanwhile.
    pub lines: Vec<String>,
}

/// Silence after `start` that ends the boot chatter.
const BOOT_QUIET: Duration = Duration::from_millis(300);
/// Longest wait for that silence (a printer reporting temperatures never falls quiet).
const BOOT_MAX: Duration = Duration::from_secs(2);

/// Wait for the board's reset banner (`start`) for at most `timeout`, then for its boot
/// messages to end. Boards that do not reset on connection say nothing: the wait simply
/// runs out.
pub fn wait_for_banner(
    link: &mut dyn Link,
    timeout: Duration,
    mut on_line: impl FnMut(&str),
) -> Result<Banner, PortError> {
    let started = Instant::now();
    let mut banner = Banner::default();
    let mut reader = LineReader::default();
    let mut buf = [0u8; READ_CHUNK];
    let mut quiet_since: Option<Instant> = None;
    let mut reset_at: Option<Instant> = None;
    loop {
        let now = Instant::now();
        if reset_at.is_some_and(|t| now.duration_since(t) >= BOOT_MAX) {
            return Ok(banner);
        }
        let wait = if banner.reset {
            match quiet_since {
                Some(t) if now.duration_since(t) >= BOOT_QUIET => return Ok(banner),
                Some(t) => BOOT_QUIET - now.duration_since(t),
                None => BOOT_QUIET,
            }
        } else {
            let spent = now.duration_since(started);
            if spent >= timeout {
                return Ok(banner);
            }
            timeout - spent
        };
        let n = link.read_some(&mut buf, wait)?;
        if n == 0 {
            if banner.reset {
                quiet_since.get_or_insert(Instant::now());
            }
            continue;
        }
        quiet_since = Some(Instant::now());
        reader.push(&buf[..n], |line| {
            on_line(line);
            if super::response::is_start(line) {
                banner.reset = true;
                reset_at = Some(Instant::now());
            }
            banner.lines.push(line.to_string());
        });
    }
}

/// A serial port found on this computer.
#[derive(Debug, Clone, Serialize)]
pub struct PortInfo {
    /// Device path to pass to `--port`.
    pub name: String,
    /// `usb`, `pci`, `bluetooth` or `unknown`.
    pub kind: String,
    /// USB vendor and product ids (`1a86:7523`), when known.
    pub usb_id: Option<String>,
    /// Manufacturer and product strings, when known.
    pub description: Option<String>,
}

/// The serial ports of this computer, USB ones (where printers are) first.
pub fn list_ports() -> Result<Vec<PortInfo>, serialport::Error> {
    let mut ports: Vec<PortInfo> = serialport::available_ports()?
        .into_iter()
        .map(|p| {
            let (kind, usb_id, description) = match p.port_type {
                serialport::SerialPortType::UsbPort(u) => {
                    let desc = [u.manufacturer, u.product]
                        .into_iter()
                        .flatten()
                        .collect::<Vec<_>>()
                        .join(" ");
                    (
                        "usb",
                        Some(format!("{:04x}:{:04x}", u.vid, u.pid)),
                        (!desc.is_empty()).then_some(desc),
                    )
                }
                serialport::SerialPortType::PciPort => ("pci", None, None),
                serialport::SerialPortType::BluetoothPort => ("bluetooth", None, None),
                serialport::SerialPortType::Unknown => ("unknown", None, None),
            };
            PortInfo {
                name: p.port_name,
                kind: kind.to_string(),
                usb_id,
                description,
            }
        })
        .collect();
    ports.sort_by(|a, b| (a.kind != "usb", &a.name).cmp(&(b.kind != "usb", &b.name)));
    Ok(ports)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::VecDeque;

    /// A link that plays back chunks, one per read.
    struct Script(VecDeque<Vec<u8>>);

    impl Link for Script {
        fn read_some(&mut self, buf: &mut [u8], _timeout: Duration) -> Result<usize, PortError> {
            match self.0.pop_front() {
                Some(chunk) => {
                    let n = chunk.len().min(buf.len());
                    buf[..n].copy_from_slice(&chunk[..n]);
                    Ok(n)
                }
                None => Ok(0),
            }
        }
        fn write_line(&mut self, _bytes: &[u8]) -> Result<(), PortError> {
            Ok(())
        }
    }

    #[test]
    fn banner_detects_reset_and_reads_boot_messages() {
        let mut link = Script(
            [&b"\0\xffstart\r\necho:Marlin 2.1"[..], b".2\nok\n"]
                .iter()
                .map(|c| c.to_vec())
                .collect(),
        );
        let b = wait_for_banner(&mut link, Duration::from_millis(50), |_| {}).expect("banner");
        assert!(b.reset);
        assert!(b.lines.iter().any(|l| l == "echo:Marlin 2.1.2"));
    }

    #[test]
    fn no_banner_times_out_without_reset() {
        let mut link = Script(VecDeque::new());
        let t = Instant::now();
        let b = wait_for_banner(&mut link, Duration::from_millis(30), |_| {}).expect("banner");
        assert!(!b.reset);
        assert!(t.elapsed() >= Duration::from_millis(30));
    }

    #[test]
    fn line_reader_splits_crlf_and_partials() {
        let mut r = LineReader::default();
        let mut lines = Vec::new();
        r.push(b"ok\r\nResend", |l| lines.push(l.to_string()));
        r.push(b": 3\nok", |l| lines.push(l.to_string()));
        assert_eq!(lines, ["ok", "Resend: 3"]);
    }
}
