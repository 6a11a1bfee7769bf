//! A Marlin-like printer on a pseudo-terminal, for end-to-end tests of `lamina stream`.
//!
//! It behaves like Marlin's serial code where it matters to a host: numbered lines with
//! XOR checksums, `Error:checksum mismatch` / `Error:Line Number is not Last Line
//! Number+1` followed by `Resend:` and `ok` (and the receive buffer flushed), duplicates
//! of the last line dropped silently, a small command buffer read only when there is
//! room, `echo:busy: processing` during slow commands, `M110` applied both when received
//! and when executed, unsolicited temperature and `echo:` lines.
//!
//! Like Marlin (docs/Queue.md), a move is acknowledged when it enters the planner
//! (`planner` blocks), not when it has run: `executed`, the log of what the printer
//! really did, gets a move when the planner has finished it, and any other command once
//! the moves before it are done. A reset (the host re-opens the port, or the board
//! resets on a disconnect) loses the command queue and every planned move, acknowledged
//! or not. Faults are seeded: corrupted lines, lost `ok`s, garbled replies, a
//! disconnect, a fatal error.

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
    /// Probability that a line the printer writes gets one bit flipped.
    pub garble_replies: f64,
    /// Command buffer size (Marlin's BUFSIZE).
    pub buffer: usize,
    /// Planner blocks (Marlin's BLOCK_BUFFER_SIZE).
    pub planner: usize,
    /// Time each command takes to be processed (parsed, planned).
    pub exec_time: Duration,
    /// Time each move takes in the planner once planned (zero: done at once).
    pub move_time: Duration,
    /// Moves take their length divided by their feedrate (a printer without
    /// acceleration) instead of `move_time`.
    pub timed_moves: bool,
    /// Time slow commands (G28, G29, M109, M190) take once the moves before them are
    /// done, with busy messages meanwhile.
    pub slow_time: Duration,
    /// Period of `echo:busy: processing` during slow commands (None: never).
    pub busy_interval: Option<Duration>,
    /// Period of unsolicited temperature / echo lines (None: never).
    pub chatter: Option<Duration>,
    /// Report ADVANCED_OK and answer `ok N.. P.. B..`.
    pub advanced_ok: bool,
    /// Report AUTOREPORT_TEMP.
    pub autoreport: bool,
    /// Print `start` when the host connects (the board resets: counter, queue and
    /// planner lost).
    pub reset_on_connect: bool,
    /// Cut the connection once this many commands have executed in total.
    pub disconnect_after: Option<usize>,
    /// When the connection is cut, the printer keeps running what it had queued and
    /// planned (a board on its own power); otherwise the board resets and loses both.
    pub keep_running_on_disconnect: bool,
    /// Report a fatal error (thermal runaway) once this many commands have executed.
    pub fatal_after: Option<usize>,
    /// Lose the `ok` of this many numbered `M105`s from now on, the next ones first (a
    /// lost answer where it hurts most, not left to chance).
    pub lose_m105_oks: usize,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            seed: 1,
            corrupt: 0.0,
            lose_ok: 0.0,
            garble_replies: 0.0,
            buffer: 4,
            planner: 16,
            exec_time: Duration::ZERO,
            move_time: Duration::ZERO,
            timed_moves: false,
            slow_time: Duration::from_millis(600),
            busy_interval: Some(Duration::from_millis(200)),
            chatter: None,
            advanced_ok: false,
            autoreport: false,
            reset_on_connect: true,
            disconnect_after: None,
            keep_running_on_disconnect: true,
            fatal_after: None,
            lose_m105_oks: 0,
        }
    }
}

/// What happened, for the test to check.
#[derive(Debug, Default, Clone)]
pub struct Stats {
    pub corrupted: usize,
    pub lost_oks: usize,
    pub garbled: usize,
    pub resends: usize,
    pub chatter: usize,
    pub busy: usize,
    /// Lines received after the fatal error was reported.
    pub lines_after_fatal: usize,
    pub connections: usize,
    /// Commands acknowledged (planned) and then lost by a reset before they ran.
    pub discarded_acked: usize,
    /// Commands received but not yet processed when a reset lost them.
    pub discarded_queued: usize,
    /// `M105` received while no ok was outstanding for the host: a probe sent though
    /// nothing was lost.
    pub needless_m105: usize,
    /// Every `M105` received (temperature polls and probes alike).
    pub m105: usize,
    /// When each ok was dropped, and when the next `M105` arrived after it (the time a
    /// host took to notice).
    pub lost_ok_noticed: Vec<Duration>,
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

/// A queued command and its line number (for advanced ok).
struct Queued {
    command: String,
    number: Option<i64>,
}

/// A command processed but not yet finished: planned moves, and the commands behind
/// them that the log keeps in order.
struct Pending {
    done_at: Instant,
    command: String,
    is_move: bool,
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
    pending: VecDeque<Pending>,
    /// Position and feedrate, for timed moves.
    position: [f64; 3],
    feedrate: f64,
    /// When the last ok was dropped, until the host sends an M105.
    dropped_at: Option<Instant>,
}

/// Feedrate a printer starts with, mm/min (Marlin's default for G0/G1 without F).
const DEFAULT_FEEDRATE: f64 = 1500.0;

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
            pending: VecDeque::new(),
            position: [0.0; 3],
            feedrate: DEFAULT_FEEDRATE,
            dropped_at: None,
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

    /// The board resets: what was queued or planned is lost.
    fn reset(&mut self, queue: &mut VecDeque<Queued>) {
        self.stats.discarded_acked += self.pending.len();
        self.stats.discarded_queued += queue.len();
        self.pending.clear();
        queue.clear();
        self.last_n = 0;
        self.halted = false;
        self.dropped_at = None;
    }

    /// Log what has finished by `now`; a fatal error fires on the count.
    fn drain(&mut self, master: &mut TTYPort, now: Instant) -> Result<(), ()> {
        while self.pending.front().is_some_and(|p| p.done_at <= now) {
            if let Some(p) = self.pending.pop_front() {
                self.record(master, p.command)?;
            }
        }
        Ok(())
    }

    fn record(&mut self, master: &mut TTYPort, command: String) -> Result<(), ()> {
        self.executed.push(command);
        if let Some(limit) = self.config.fatal_after {
            if self.executed.len() >= limit && !self.halted {
                self.halted = true;
                self.pending.clear();
                self.write(
                    master,
                    "Error:Thermal Runaway, system stopped! Heater_ID: 0",
                )?;
                self.write(master, "Error:Printer halted. kill() called!")?;
            }
        }
        Ok(())
    }

    fn planned_moves(&self, now: Instant) -> usize {
        self.pending
            .iter()
            .filter(|p| p.is_move && p.done_at > now)
            .count()
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
            self.reset(&mut queue);
            if self.write(&mut master, "start").is_err() {
                return End::HostClosed;
            }
            let _ = self.write(&mut master, "echo:Marlin 2.1.2 (lamina test printer)");
            let _ = self.write(&mut master, "echo: Last Updated: 2024-01-01");
        }
        let end = self
            .run(&mut master, &mut queue, &mut rx)
            .unwrap_or(End::HostClosed);
        if end == End::HostClosed && !self.halted {
            // The host let go of the port; the board goes on with what it holds.
            for p in self.pending.drain(..).collect::<Vec<_>>() {
                self.executed.push(p.command);
            }
            for q in queue.drain(..) {
                self.executed.push(q.command);
            }
        }
        end
    }

    fn run(
        &mut self,
        master: &mut TTYPort,
        queue: &mut VecDeque<Queued>,
        rx: &mut Vec<u8>,
    ) -> Result<End, ()> {
        let mut buf = [0u8; 512];
        // When the head of the queue has been processed far enough to act on it.
        let mut head_ready: Option<Instant> = None;
        // A slow command's own time, once the moves before it are done.
        let mut slow_until: Option<Instant> = None;
        let mut next_busy = Instant::now();
        let mut next_chatter = self.config.chatter.map(|d| Instant::now() + d);
        let mut chatter_flip = false;
        loop {
            let now = Instant::now();
            if !self.halted {
                self.drain(master, now)?;
            }
            // Cut the cable?
            if let Some(limit) = self.config.disconnect_after {
                if !self.disconnected_once && self.executed.len() >= limit {
                    self.disconnected_once = true;
                    if self.config.keep_running_on_disconnect {
                        // The board goes on with what it had: planned moves, queue.
                        for p in self.pending.drain(..).collect::<Vec<_>>() {
                            self.executed.push(p.command);
                        }
                        for q in queue.drain(..) {
                            self.executed.push(q.command);
                        }
                    } else {
                        // Give the host time to read the oks already written, then the
                        // board resets: planned and queued commands are lost.
                        std::thread::sleep(Duration::from_millis(200));
                        self.reset(queue);
                    }
                    return Ok(End::Disconnected);
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
                    self.write(master, line)?;
                    self.stats.chatter += 1;
                    next_chatter = self.config.chatter.map(|d| now + d);
                }
            }
            // Work on the command at the head of the queue. `wake` is when something
            // may change without input.
            let mut wake = now + Duration::from_millis(20);
            if let Some(t) = next_chatter {
                wake = wake.min(t);
            }
            if let Some(p) = self.pending.front() {
                wake = wake.min(p.done_at);
            }
            if !self.halted {
                if let Some(head) = queue.front() {
                    let ready = *head_ready.get_or_insert(now + self.config.exec_time);
                    let word = command_word(&head.command);
                    if now < ready {
                        wake = wake.min(ready);
                    } else if is_move(&word) {
                        if self.planned_moves(now) < self.config.planner {
                            let Some(q) = queue.pop_front() else { continue };
                            head_ready = None;
                            self.plan(q.command.clone(), now);
                            self.ok(master, q.number, queue.len())?;
                            continue;
                        }
                        // Planner full: the queue waits for a block to free.
                    } else if is_slow(&word) || word == "M400" || word == "G4" {
                        if !self.pending.is_empty() {
                            // Wait for the moves before it (Marlin's synchronize).
                            self.busy(master, now, &mut next_busy)?;
                        } else {
                            let until = *slow_until.get_or_insert(
                                now + if is_slow(&word) {
                                    self.config.slow_time
                                } else {
                                    Duration::ZERO
                                },
                            );
                            if now >= until {
                                slow_until = None;
                                head_ready = None;
                                let Some(q) = queue.pop_front() else { continue };
                                self.execute(master, q, queue.len())?;
                                continue;
                            }
                            wake = wake.min(until);
                            self.busy(master, now, &mut next_busy)?;
                        }
                    } else {
                        head_ready = None;
                        let Some(q) = queue.pop_front() else { continue };
                        self.execute(master, q, queue.len())?;
                        continue;
                    }
                }
            }
            if let Some(interval) = self.config.busy_interval {
                wake = wake.min(next_busy.max(now + interval.min(Duration::from_millis(20))));
            }
            // Read only when the command buffer has room (Marlin leaves the rest in its
            // receive buffer; here it stays in the pseudo-terminal).
            if queue.len() < self.config.buffer || self.halted {
                let wait = wake
                    .saturating_duration_since(now)
                    .clamp(Duration::from_micros(200), Duration::from_millis(20));
                let _ = master.set_timeout(wait);
                match master.read(&mut buf) {
                    Ok(0) => return Ok(End::HostClosed),
                    Ok(n) => rx.extend_from_slice(&buf[..n]),
                    Err(e) if e.kind() == ErrorKind::TimedOut => {}
                    Err(_) => return Ok(End::HostClosed),
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
                    if self.receive(master, text, queue)? {
                        // A rejected line: Marlin empties its receive buffer.
                        rx.clear();
                    }
                }
            } else {
                let wait = wake
                    .saturating_duration_since(now)
                    .clamp(Duration::from_micros(200), Duration::from_millis(20));
                std::thread::sleep(wait);
            }
        }
    }

    /// `echo:busy: processing` every `busy_interval` while blocked.
    fn busy(&mut self, master: &mut TTYPort, now: Instant, next: &mut Instant) -> Result<(), ()> {
        let Some(interval) = self.config.busy_interval else {
            return Ok(());
        };
        if now >= *next {
            *next = now + interval;
            self.stats.busy += 1;
            self.write(master, "echo:busy: processing")?;
        }
        Ok(())
    }

    /// Put a move into the planner behind the others.
    fn plan(&mut self, command: String, now: Instant) {
        let duration = self.move_duration(&command);
        let start = self.pending.back().map_or(now, |p| p.done_at.max(now));
        self.pending.push_back(Pending {
            done_at: start + duration,
            command,
            is_move: true,
        });
    }

    fn move_duration(&mut self, command: &str) -> Duration {
        let mut length2 = 0.0;
        for (i, axis) in ['X', 'Y', 'Z'].iter().enumerate() {
            if let Some(v) = param(command, *axis) {
                length2 += (v - self.position[i]).powi(2);
                self.position[i] = v;
            }
        }
        if let Some(f) = param(command, 'F').filter(|f| *f > 0.0) {
            self.feedrate = f;
        }
        if self.config.timed_moves {
            Duration::from_secs_f64(length2.sqrt() / (self.feedrate / 60.0))
        } else {
            self.config.move_time
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
        let last = self.last_n;
        self.write(master, &format!("Error:{why}, Last Line: {last}"))?;
        self.write(master, &format!("Resend: {}", last + 1))?;
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

    /// Write one line to the host, now and then with a bit flipped.
    fn write(&mut self, master: &mut TTYPort, line: &str) -> Result<(), ()> {
        let mut bytes = line.as_bytes().to_vec();
        if !bytes.is_empty() && self.chance(self.config.garble_replies) {
            let pos = (self.next_u64() % bytes.len() as u64) as usize;
            let flipped = bytes[pos] ^ (1 << (self.next_u64() % 7));
            // A flip that makes a line end would split it: flip another bit.
            bytes[pos] = if flipped == b'\n' || flipped == b'\r' {
                bytes[pos] ^ 0x40
            } else {
                flipped
            };
            self.stats.garbled += 1;
        }
        bytes.push(b'\n');
        let _ = master.set_timeout(Duration::from_millis(500));
        master.write_all(&bytes).map_err(|_| ())
    }

    fn ok(&mut self, master: &mut TTYPort, number: Option<i64>, queued: usize) -> Result<(), ()> {
        if self.chance(self.config.lose_ok) {
            self.stats.lost_oks += 1;
            self.dropped_at.get_or_insert_with(Instant::now);
            return Ok(());
        }
        if self.config.advanced_ok {
            let n = number.map(|n| format!(" N{n}")).unwrap_or_default();
            let free = self.config.buffer.saturating_sub(queued + 1);
            let planner_free = self.config.planner.saturating_sub(self.pending.len());
            self.write(master, &format!("ok{n} P{planner_free} B{free}"))
        } else {
            self.write(master, "ok")
        }
    }

    /// Run a command that is not a move, log it behind the moves before it, and
    /// acknowledge it.
    fn execute(&mut self, master: &mut TTYPort, q: Queued, queued: usize) -> Result<(), ()> {
        let command = q.command.clone();
        let word = command_word(&command);
        let known = word
            .chars()
            .next()
            .is_some_and(|c| matches!(c, 'G' | 'M' | 'T'))
            && word[1..].chars().all(|c| c.is_ascii_digit() || c == '.')
            && word.len() > 1;
        if !known {
            self.write(master, &format!("echo:Unknown command: \"{command}\""))?;
            return self.ok(master, q.number, queued);
        }
        if word == "M105" {
            self.stats.m105 += 1;
            match self.dropped_at.take() {
                Some(t) => self.stats.lost_ok_noticed.push(t.elapsed()),
                None => self.stats.needless_m105 += 1,
            }
        }
        if let Some(last) = self.pending.back() {
            let done_at = last.done_at;
            self.pending.push_back(Pending {
                done_at,
                command: command.clone(),
                is_move: false,
            });
        } else {
            self.record(master, command.clone())?;
            if self.halted {
                return Ok(());
            }
        }
        match word.as_str() {
            "G92" => {
                for (i, axis) in ['X', 'Y', 'Z'].iter().enumerate() {
                    if let Some(v) = param(&command, *axis) {
                        self.position[i] = v;
                    }
                }
                self.ok(master, q.number, queued)
            }
            "G28" => {
                self.position = [0.0; 3];
                self.ok(master, q.number, queued)
            }
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
                let forced = q.number.is_some() && self.config.lose_m105_oks > 0;
                if forced {
                    self.config.lose_m105_oks -= 1;
                }
                if forced || self.chance(self.config.lose_ok) {
                    self.stats.lost_oks += 1;
                    self.dropped_at.get_or_insert_with(Instant::now);
                    return Ok(());
                }
                self.write(master, "ok T:210.0 /210.0 B:60.0 /60.0 @:64 B@:0")
            }
            "M115" => {
                self.write(
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
                    self.write(master, &format!("Cap:{name}:{}", u8::from(on)))?;
                }
                self.ok(master, q.number, queued)
            }
            _ => self.ok(master, q.number, queued),
        }
    }
}

/// The command word, upper-cased (`G1`, `M109`).
fn command_word(command: &str) -> String {
    command
        .split_whitespace()
        .next()
        .unwrap_or("")
        .to_ascii_uppercase()
}

fn is_move(word: &str) -> bool {
    matches!(word, "G0" | "G1" | "G2" | "G3")
}

fn is_slow(word: &str) -> bool {
    matches!(word, "G28" | "G29" | "M109" | "M190")
}

/// The value of parameter `letter` in a command (`X` of `G1 X10 Y2`).
fn param(command: &str, letter: char) -> Option<f64> {
    command
        .split_whitespace()
        .skip(1)
        .find_map(|w| w.strip_prefix(letter).and_then(|v| v.parse().ok()))
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
