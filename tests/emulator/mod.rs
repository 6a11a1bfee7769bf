//! A Marlin-like printer on a pseudo-terminal, for end-to-end tests of `lamina stream`.
//!
//! It behaves like Marlin's serial code where it matters to a host: numbered lines with
//! XOR checksums, `Error:checksum mismatch` / `Error:Line Number is not Last Line
//! Number+1` followed by `Resend:` and `ok` (and the receive buffer flushed), duplicates
//! of the last line dropped silently, a small command buffer read only when there is
//! room, `ok` after each command executes, `echo:busy: processing` during slow commands,
//! `M110` applied both when received and when executed, unsolicited temperature and
//! `echo:` lines. Faults are seeded: corrupted lines, lost `ok`s, a disconnect, a fatal
//! error.

#![allow(dead_code)]

use std::collections::VecDeque;
use std::io::{ErrorKind, Read, Write};
use std::time::{Duration, Instant};

use serialport::{SerialPort, TTYPort};

/// Faults and behaviour of the emulated printer.
#[derive(Debug, Clone)]
pub struct Config {
    /// Seed of the fault generator.
    pub seed: u64,
    /// Probability that a received line is corrupted.
    pub corrupt: f64,
    /// Probability that an `ok` is not sent.
    pub lose_ok: f64,
    /// Command buffer size (Marlin's BUFSIZE).
    pub buffer: usize,
    /// Time each ordinary command takes.
    pub exec_time: Duration,
    /// Time slow commands (G28, G29, M109, M190) take, with busy messages meanwhile.
    pub slow_time: Duration,
    /// Period of `echo:busy: processing` during slow commands.
    pub busy_interval: Duration,
    /// Period of unsolicited temperature / echo lines (None: never).
    pub chatter: Option<Duration>,
    /// Report ADVANCED_OK and answer `ok N.. P.. B..`.
    pub advanced_ok: bool,
    /// Report AUTOREPORT_TEMP.
    pub autoreport: bool,
    /// Print `start` when the host connects (the board resets: counter and queue lost).
    pub reset_on_connect: bool,
    /// Cut the connection once this many commands have executed in total.
    pub disconnect_after: Option<usize>,
    /// When the connection is cut, the printer keeps running what it had queued (a board
    /// on its own power); otherwise the queue is lost with it.
    pub keep_running_on_disconnect: bool,
    /// Report a fatal error (thermal runaway) once this many commands have executed.
    pub fatal_after: Option<usize>,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            seed: 1,
            corrupt: 0.0,
            lose_ok: 0.0,
            buffer: 4,
            exec_time: Duration::ZERO,
            slow_time: Duration::from_millis(600),
            busy_interval: Duration::from_millis(200),
            chatter: None,
            advanced_ok: false,
            autoreport: false,
            reset_on_connect: true,
            disconnect_after: None,
            keep_running_on_disconnect: true,
            fatal_after: None,
        }
    }
}

/// What happened, for the test to check.
#[derive(Debug, Default, Clone)]
pub struct Stats {
    pub corrupted: usize,
    pub lost_oks: usize,
    pub resends: usize,
    pub chatter: usize,
    pub busy: usize,
    /// Lines received after the fatal error was reported.
    pub lines_after_fatal: usize,
    /// Lines received after the fatal error and before lamina could have read it
    /// (already in the pseudo-terminal's buffer).
    pub connections: usize,
}

/// How a connection ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum End {
    /// The host closed the port.
    HostClosed,
    /// The emulator cut the connection (`disconnect_after`).
    Disconnected,
    /// Nobody opened the port in time.
    NeverConnected,
}

/// The printer: its state survives connections (unless it resets).
pub struct Printer {
    pub config: Config,
    /// Every command executed, in order, as received (without N and checksum).
    pub executed: Vec<String>,
    pub stats: Stats,
    last_n: i64,
    rng: u64,
    halted: bool,
    disconnected_once: bool,
}

/// A queued command and its line number (for advanced ok).
struct Queued {
    command: String,
    number: Option<i64>,
}

impl Printer {
    pub fn new(config: Config) -> Printer {
        let rng = config.seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
        Printer {
            config,
            executed: Vec::new(),
            stats: Stats::default(),
            last_n: 0,
            rng,
            halted: false,
            disconnected_once: false,
        }
    }

    /// xorshift64*: deterministic for a seed.
    fn next_u64(&mut self) -> u64 {
        let mut x = self.rng;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.rng = x;
        x.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    fn chance(&mut self, p: f64) -> bool {
        p > 0.0 && (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64 <= p
    }

    /// Serve one connection on the master side of a pseudo-terminal until the host
    /// closes it or the emulator cuts it.
    pub fn serve(&mut self, mut master: TTYPort) -> End {
        let _ = master.set_timeout(Duration::from_millis(5));
        // Wait for the host to open the slave side: until then the master hangs up.
        let waited = Instant::now();
        let mut buf = [0u8; 512];
        loop {
            match master.read(&mut buf) {
                Err(e) if e.kind() == ErrorKind::TimedOut => break,
                Ok(_) => break,
                Err(_) => {
                    if waited.elapsed() > Duration::from_secs(20) {
                        return End::NeverConnected;
                    }
                    std::thread::sleep(Duration::from_millis(5));
                }
            }
        }
        self.stats.connections += 1;
        let mut queue: VecDeque<Queued> = VecDeque::new();
        let mut rx: Vec<u8> = Vec::new();
        if self.config.reset_on_connect {
            // The bootloader's delay, then the banner; the host's open has flushed by then.
            std::thread::sleep(Duration::from_millis(150));
            self.last_n = 0;
            self.halted = false;
            if write_line(&mut master, "start").is_err() {
                return End::HostClosed;
            }
            let _ = write_line(&mut master, "echo:Marlin 2.1.2 (lamina test printer)");
            let _ = write_line(&mut master, "echo: Last Updated: 2024-01-01");
        }
        let mut busy_until: Option<Instant> = None;
        let mut next_busy = Instant::now();
        let mut exec_done: Option<Instant> = None;
        let mut next_chatter = self.config.chatter.map(|d| Instant::now() + d);
        let mut chatter_flip = false;
        loop {
            let now = Instant::now();
            // Cut the cable?
            if let Some(limit) = self.config.disconnect_after {
                if !self.disconnected_once && self.executed.len() >= limit {
                    self.disconnected_once = true;
                    if self.config.keep_running_on_disconnect {
                        for q in queue.drain(..) {
                            self.executed.push(q.command);
                        }
                    } else {
                        // Give the host time to read the oks already written.
                        std::thread::sleep(Duration::from_millis(200));
                    }
                    return End::Disconnected;
                }
            }
            // Unsolicited chatter.
            if let Some(t) = next_chatter {
                if now >= t {
                    chatter_flip = !chatter_flip;
                    let line = if chatter_flip {
                        "T:209.7 /210.0 B:59.8 /60.0 @:64 B@:0"
                    } else {
                        "echo:Settings Stored (lamina test printer)"
                    };
                    if write_line(&mut master, line).is_err() {
                        return End::HostClosed;
                    }
                    self.stats.chatter += 1;
                    next_chatter = self.config.chatter.map(|d| now + d);
                }
            }
            // Execute the command at the head of the queue.
            if !self.halted {
                if let Some(head) = queue.front() {
                    let slow = is_slow(&head.command);
                    let done_at = *exec_done.get_or_insert_with(|| {
                        now + if slow {
                            self.config.slow_time
                        } else {
                            self.config.exec_time
                        }
                    });
                    if slow {
                        busy_until = Some(done_at);
                    }
                    if now >= done_at {
                        exec_done = None;
                        busy_until = None;
                        let Some(q) = queue.pop_front() else { continue };
                        if let Err(()) = self.execute(&mut master, q, queue.len()) {
                            return End::HostClosed;
                        }
                        continue;
                    }
                }
            }
            if let Some(until) = busy_until {
                if now < until && now >= next_busy {
                    next_busy = now + self.config.busy_interval;
                    self.stats.busy += 1;
                    if write_line(&mut master, "echo:busy: processing").is_err() {
                        return End::HostClosed;
                    }
                }
            }
            // Read only when the command buffer has room (Marlin leaves the rest in its
            // receive buffer; here it stays in the pseudo-terminal).
            if queue.len() < self.config.buffer || self.halted {
                let wait = match (exec_done, queue.is_empty()) {
                    (Some(t), false) => t
                        .saturating_duration_since(now)
                        .clamp(Duration::from_millis(1), Duration::from_millis(20)),
                    _ => Duration::from_millis(20),
                };
                let _ = master.set_timeout(wait);
                match master.read(&mut buf) {
                    Ok(0) => return End::HostClosed,
                    Ok(n) => rx.extend_from_slice(&buf[..n]),
                    Err(e) if e.kind() == ErrorKind::TimedOut => {}
                    Err(_) => return End::HostClosed,
                }
                // Parse complete lines while there is room.
                while queue.len() < self.config.buffer || self.halted {
                    let Some(pos) = rx.iter().position(|&b| b == b'\n' || b == b'\r') else {
                        break;
                    };
                    let line: Vec<u8> = rx.drain(..=pos).collect();
                    let text = String::from_utf8_lossy(&line[..line.len() - 1]).to_string();
                    if text.trim().is_empty() {
                        continue;
                    }
                    if self.halted {
                        self.stats.lines_after_fatal += 1;
                        continue;
                    }
                    match self.receive(&mut master, text, &mut queue) {
                        Ok(true) => {
                            // A rejected line: Marlin empties its receive buffer.
                            rx.clear();
                        }
                        Ok(false) => {}
                        Err(()) => return End::HostClosed,
                    }
                }
            } else {
                let wait = exec_done
                    .map(|t| t.saturating_duration_since(now))
                    .unwrap_or(Duration::from_millis(1))
                    .clamp(Duration::from_micros(200), Duration::from_millis(20));
                std::thread::sleep(wait);
            }
        }
    }

    /// Handle one received line. Ok(true) when it was rejected (resend requested).
    fn receive(
        &mut self,
        master: &mut TTYPort,
        mut text: String,
        queue: &mut VecDeque<Queued>,
    ) -> Result<bool, ()> {
        if self.chance(self.config.corrupt) {
            self.stats.corrupted += 1;
            text = self.corrupt(&text);
        }
        let line = text.trim_start();
        if let Some(rest) = line.strip_prefix('N') {
            let is_m110 = line.contains("M110");
            // M110 takes the N after it as the new counter.
            let number_text = if is_m110 {
                line.find("M110")
                    .and_then(|i| line[i + 4..].find('N').map(|j| &line[i + 4 + j + 1..]))
                    .unwrap_or(rest)
            } else {
                rest
            };
            let digits: String = number_text
                .chars()
                .take_while(|c| c.is_ascii_digit() || *c == '-')
                .collect();
            let n: i64 = digits.parse().unwrap_or(0);
            if n != self.last_n + 1 && !is_m110 {
                if n == self.last_n || n == self.last_n - 1 {
                    return Ok(false); // a repeat already in transit: dropped silently
                }
                return self.reject(master, "Line Number is not Last Line Number+1");
            }
            let Some(star) = line.rfind('*') else {
                return self.reject(master, "No Checksum with line number");
            };
            let sum = line[..star].bytes().fold(0u8, |a, b| a ^ b);
            let given: String = line[star + 1..]
                .chars()
                .take_while(|c| c.is_ascii_digit())
                .collect();
            if given.parse::<u32>().ok() != Some(u32::from(sum)) {
                return self.reject(master, "checksum mismatch");
            }
            self.last_n = n;
            // The command: after "N<n> ", before '*'.
            let body = &line[..star];
            let command = body
                .find(' ')
                .map(|i| body[i + 1..].trim().to_string())
                .unwrap_or_default();
            let own_number: i64 = rest
                .chars()
                .take_while(|c| c.is_ascii_digit())
                .collect::<String>()
                .parse()
                .unwrap_or(n);
            queue.push_back(Queued {
                command,
                number: Some(own_number),
            });
        } else if line.contains('*') {
            // A checksum without a line number: the line's N was lost on the way.
            return self.reject(master, "No Line Number with checksum");
        } else {
            queue.push_back(Queued {
                command: line.trim().to_string(),
                number: None,
            });
        }
        Ok(false)
    }

    fn reject(&mut self, master: &mut TTYPort, why: &str) -> Result<bool, ()> {
        self.stats.resends += 1;
        write_line(master, &format!("Error:{why}, Last Line: {}", self.last_n))?;
        write_line(master, &format!("Resend: {}", self.last_n + 1))?;
        self.ok(master, None, 0)?;
        Ok(true)
    }

    /// Flip one character (or, now and then, cut the line short).
    fn corrupt(&mut self, text: &str) -> String {
        let mut bytes = text.as_bytes().to_vec();
        if bytes.is_empty() {
            return String::new();
        }
        let pos = (self.next_u64() % bytes.len() as u64) as usize;
        if self.next_u64() % 10 == 0 {
            bytes.truncate(pos);
        } else {
            let old = bytes[pos];
            let mut new = b'!' + (self.next_u64() % 94) as u8;
            if new == old || new == b'N' {
                new = if old == b'#' { b'$' } else { b'#' };
            }
            bytes[pos] = new;
        }
        String::from_utf8_lossy(&bytes).to_string()
    }

    fn ok(&mut self, master: &mut TTYPort, number: Option<i64>, queued: usize) -> Result<(), ()> {
        if self.chance(self.config.lose_ok) {
            self.stats.lost_oks += 1;
            return Ok(());
        }
        if self.config.advanced_ok {
            let n = number.map(|n| format!(" N{n}")).unwrap_or_default();
            let free = self.config.buffer.saturating_sub(queued + 1);
            write_line(master, &format!("ok{n} P15 B{free}"))
        } else {
            write_line(master, "ok")
        }
    }

    /// Run a command and acknowledge it.
    fn execute(&mut self, master: &mut TTYPort, q: Queued, queued: usize) -> Result<(), ()> {
        let command = q.command.clone();
        let word: String = command
            .split_whitespace()
            .next()
            .unwrap_or("")
            .to_ascii_uppercase();
        let known = word
            .chars()
            .next()
            .is_some_and(|c| matches!(c, 'G' | 'M' | 'T'))
            && word[1..].chars().all(|c| c.is_ascii_digit() || c == '.')
            && word.len() > 1;
        if !known {
            write_line(master, &format!("echo:Unknown command: \"{command}\""))?;
            return self.ok(master, q.number, queued);
        }
        self.executed.push(command.clone());
        if let Some(limit) = self.config.fatal_after {
            if self.executed.len() >= limit && !self.halted {
                self.halted = true;
                write_line(
                    master,
                    "Error:Thermal Runaway, system stopped! Heater_ID: 0",
                )?;
                write_line(master, "Error:Printer halted. kill() called!")?;
                return Ok(());
            }
        }
        match word.as_str() {
            "M110" => {
                // Executing M110 sets the counter again (as Marlin does).
                if let Some(i) = command.find('N') {
                    let digits: String = command[i + 1..]
                        .chars()
                        .take_while(|c| c.is_ascii_digit())
                        .collect();
                    self.last_n = digits.parse().unwrap_or(0);
                }
                self.ok(master, q.number, queued)
            }
            "M105" => {
                if self.chance(self.config.lose_ok) {
                    self.stats.lost_oks += 1;
                    return Ok(());
                }
                write_line(master, "ok T:210.0 /210.0 B:60.0 /60.0 @:64 B@:0")
            }
            "M115" => {
                write_line(
                    master,
                    "FIRMWARE_NAME:Marlin 2.1.2 (lamina test printer) SOURCE_CODE_URL:example \
                     PROTOCOL_VERSION:1.0 MACHINE_TYPE:Emulated EXTRUDER_COUNT:1 UUID:0",
                )?;
                let caps = [
                    ("AUTOREPORT_TEMP", self.config.autoreport),
                    ("EMERGENCY_PARSER", true),
                    ("ADVANCED_OK", self.config.advanced_ok),
                ];
                for (name, on) in caps {
                    write_line(master, &format!("Cap:{name}:{}", u8::from(on)))?;
                }
                self.ok(master, q.number, queued)
            }
            _ => self.ok(master, q.number, queued),
        }
    }
}

fn is_slow(command: &str) -> bool {
    let word = command.split_whitespace().next().unwrap_or("");
    matches!(word, "G28" | "G29" | "M109" | "M190")
}

fn write_line(master: &mut TTYPort, line: &str) -> Result<(), ()> {
    let _ = master.set_timeout(Duration::from_millis(500));
    master
        .write_all(format!("{line}\n").as_bytes())
        .map_err(|_| ())
}

/// Commands a host adds on its own (capabilities, temperatures, line counter): left out
/// when comparing what the printer executed with the file.
pub fn is_host_command(command: &str) -> bool {
    let word = command.split_whitespace().next().unwrap_or("");
    matches!(word, "M110" | "M105" | "M115" | "M155")
}

/// A pseudo-terminal pair: the master for the emulator, the slave's path for lamina.
pub fn pty() -> (TTYPort, String) {
    use std::os::fd::AsRawFd;
    let (master, slave) = TTYPort::pair().expect("a pseudo-terminal pair");
    // Keep the master out of the processes the tests start: a child holding it would
    // keep the line up after the emulator hangs up.
    // SAFETY: plain fcntl on a descriptor owned by `master`.
    unsafe {
        libc::fcntl(master.as_raw_fd(), libc::F_SETFD, libc::FD_CLOEXEC);
    }
    let name = slave.name().expect("the slave has a path");
    drop(slave);
    (master, name)
}
