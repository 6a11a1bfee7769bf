//! Scripted exchanges with the protocol: a fixed clock, every line written, the printer's
//! answers typed in.

mod claim;
mod history;
mod receive;
mod resend;
mod timeout;
mod window;

use std::time::{Duration, Instant};

use super::super::gcode::frame;
use super::{Event, Protocol, ProtocolConfig, Source};

/// A scripted exchange: the protocol, a fixed clock and every line written.
struct Script {
    p: Protocol,
    t0: Instant,
    now: Instant,
    written: Vec<String>,
    acked: Vec<u32>,
    fed: u64,
}

impl Script {
    fn new(config: ProtocolConfig) -> Self {
        let t0 = Instant::now();
        let mut p = Protocol::new(config);
        p.start();
        let mut s = Script {
            p,
            t0,
            now: t0,
            written: Vec::new(),
            acked: Vec::new(),
            fed: 0,
        };
        s.flush();
        assert_eq!(s.written, ["N0 M110 N0*125"]);
        s.printer("ok");
        s.written.clear();
        s.acked.clear();
        s
    }

    fn with_window(window: usize) -> Self {
        Script::new(ProtocolConfig {
            window,
            auto_window: false,
            ..ProtocolConfig::default()
        })
    }

    /// Write out everything the protocol wants to send; collect events.
    fn flush(&mut self) {
        while let Some(out) = self.p.poll_transmit(self.now) {
            self.written.push(out.line.trim_end().to_string());
        }
        while let Some(e) = self.p.poll_event() {
            if let Event::Acknowledged { number, .. } = e {
                self.acked.push(number);
            }
        }
    }

    /// Hand over file lines while the protocol is ready.
    fn feed(&mut self, commands: &mut std::slice::Iter<'_, &str>) {
        while self.p.ready() {
            let Some(c) = commands.next() else { break };
            self.fed += 1;
            let line = self.fed;
            self.p
                .send(c, Some(Source { line, offset: 0 }))
                .expect("ready");
            self.flush();
        }
    }

    fn printer(&mut self, line: &str) {
        self.p.receive_line(line, self.now);
        self.flush();
    }

    fn advance(&mut self, d: Duration) {
        self.now += d;
        self.p.tick(self.now);
        self.flush();
    }

    fn elapsed(&self) -> Duration {
        self.now - self.t0
    }
}

/// Longer than the adaptive wait for an ok when the printer has nothing to do.
const OK_WAIT: Duration = Duration::from_secs(1);

fn numbered(n: u32, cmd: &str) -> String {
    frame(n, cmd).trim_end().to_string()
}
