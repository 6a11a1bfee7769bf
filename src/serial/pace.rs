//! How long an `ok` may take before the printer is probed for it.
//!
//! Marlin answers a move when the move enters its planner (16 blocks), not when it has
//! run. So while the planner has room, a move is answered at once; when it is full, the
//! answer to the next move comes when the oldest planned move has run; a command that
//! waits for the moves (`M400`, `G4`) is answered when every planned move has run, and
//! heating, homing and probing take as long as they take (the printer says `busy:`
//! meanwhile).
//!
//! [`Pace`] keeps a model of the printer's planner: the moves it acknowledged, each with
//! the time it needs (its length over its feedrate, with a modest acceleration, see
//! [`Motion`]). An `ok` that arrives while the model says the planner is full tells that a
//! block has just been freed, which corrects the model whatever the real speeds are. The
//! deadline for the oldest command in flight is then the time the printer needs before
//! it can answer it, with a margin, plus the lateness observed in its recent answers,
//! plus a small floor for the link itself. A lost `ok` is found within a fraction of a
//! second on a printer running short moves, and a long move, a dwell or a full planner
//! of slow moves never looks like one.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use super::gcode::{command_word, param};

/// What a command makes the printer do before it can answer it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Work {
    /// Answered as soon as it is read (settings, fan, temperatures without waiting).
    Quick,
    /// A move of this estimated duration: answered when it enters the planner.
    Move(Duration),
    /// Answered once every planned move has run and this much more time has passed
    /// (`M400`: nothing more; `G4 P500`: half a second).
    Drain(Duration),
    /// Heating, homing, probing, waiting for the user: no estimate.
    Long,
}

/// Planner blocks of a Marlin printer (`BLOCK_BUFFER_SIZE`, 16 on most boards).
pub const DEFAULT_PLANNER_BLOCKS: usize = 16;
/// Acceleration assumed for move times, mm/s². Low on purpose: a slower estimate only
/// delays finding a lost `ok`, a faster one would take a long move for a lost `ok`.
const ASSUMED_ACCELERATION: f64 = 500.0;
/// Feedrate until the file sets one, mm/min (Marlin's default for moves without `F`).
const DEFAULT_FEEDRATE: f64 = 1500.0;
/// Smallest wait for an `ok`: the link's round trip and the firmware's parsing, with room
/// for a busy host or a slow board.
pub const MIN_OK_WAIT: Duration = Duration::from_millis(250);
/// Margin on the modelled wait: real moves may be slower than the estimate.
const MODEL_MARGIN: f64 = 1.5;
/// Margin on the lateness observed recently.
const LATENESS_MARGIN: f64 = 2.0;
/// Answers remembered for the observed lateness.
const LATENESS_WINDOW: usize = 32;

/// Follows the position and feedrate through the commands sent, to estimate how long
/// each move takes.
///
/// ```
/// use std::time::Duration;
/// use lamina::serial::pace::{Motion, Work};
/// let mut m = Motion::default();
/// // 60 mm at 3600 mm/min (60 mm/s): one second, plus the time to speed up and slow down.
/// let Work::Move(t) = m.work("G1 X60 F3600") else { panic!() };
/// assert!(t > Duration::from_millis(1000) && t < Duration::from_millis(1200));
/// assert_eq!(m.work("M106 S255"), Work::Quick);
/// assert_eq!(m.work("M109 S210"), Work::Long);
/// assert_eq!(m.work("G4 P500"), Work::Drain(Duration::from_millis(500)));
/// ```
#[derive(Debug, Clone)]
pub struct Motion {
    position: [f64; 3],
    feedrate: f64,
    absolute: bool,
}

impl Default for Motion {
    fn default() -> Self {
        Motion {
            position: [0.0; 3],
            feedrate: DEFAULT_FEEDRATE,
            absolute: true,
        }
    }
}

impl Motion {
    /// Where the commands handed over so far leave the head (X, Y, Z), and whether
    /// moves are absolute (`G90`).
    pub fn position(&self) -> ([f64; 3], bool) {
        (self.position, self.absolute)
    }

    /// What `command` (a cleaned line) makes the printer do; follows its position.
    pub fn work(&mut self, command: &str) -> Work {
        let Some(word) = command_word(command) else {
            return Work::Quick;
        };
        match word.as_str() {
            "G0" | "G1" | "G2" | "G3" => Work::Move(self.move_time(command, &word)),
            "G4" => {
                let ms = param(command, 'P').unwrap_or(0.0)
                    + param(command, 'S').unwrap_or(0.0) * 1000.0;
                Work::Drain(Duration::from_secs_f64(ms.max(0.0) / 1000.0))
            }
            "M400" => Work::Drain(Duration::ZERO),
            "G90" => {
                self.absolute = true;
                Work::Quick
            }
            "G91" => {
                self.absolute = false;
                Work::Quick
            }
            "G92" => {
                for (i, axis) in ['X', 'Y', 'Z'].iter().enumerate() {
                    if let Some(v) = param(command, *axis) {
                        self.position[i] = v;
                    }
                }
                Work::Quick
            }
            "G28" => {
                self.position = [0.0; 3];
                Work::Long
            }
            _ if super::gcode::is_long_command(command) => Work::Long,
            _ => Work::Quick,
        }
    }

    fn move_time(&mut self, command: &str, word: &str) -> Duration {
        if let Some(f) = param(command, 'F').filter(|f| *f > 0.0) {
            self.feedrate = f;
        }
        let mut length2 = 0.0;
        for (i, axis) in ['X', 'Y', 'Z'].iter().enumerate() {
            if let Some(v) = param(command, *axis) {
                let target = if self.absolute {
                    v
                } else {
                    self.position[i] + v
                };
                length2 += (target - self.position[i]).powi(2);
                self.position[i] = target;
            }
        }
        let mut length = length2.sqrt();
        if matches!(word, "G2" | "G3") {
            // An arc is longer than its chord: at most half a circle more.
            length *= std::f64::consts::FRAC_PI_2;
        }
        Duration::from_secs_f64(travel_time(length, self.feedrate / 60.0))
    }
}

/// Time to travel `length` mm at `speed` mm/s, starting and ending at rest with
/// [`ASSUMED_ACCELERATION`].
fn travel_time(length: f64, speed: f64) -> f64 {
    if length <= 0.0 || speed <= 0.0 {
        return 0.0;
    }
    let a = ASSUMED_ACCELERATION;
    if length >= speed * speed / a {
        length / speed + speed / a
    } else {
        2.0 * (length / a).sqrt()
    }
}

/// The model of the printer's planner and of its answering pace. See the
/// [module documentation](self).
#[derive(Debug, Clone)]
pub struct Pace {
    blocks: usize,
    /// Durations of the moves modelled as still in the planner, oldest first.
    planned: VecDeque<Duration>,
    /// When the oldest of them started to run.
    head_started: Option<Instant>,
    /// How much later than modelled the recent answers came.
    lateness: VecDeque<Duration>,
}

impl Pace {
    /// A model of a planner with `blocks` blocks, empty.
    pub fn new(blocks: usize) -> Pace {
        Pace {
            blocks: blocks.max(1),
            planned: VecDeque::new(),
            head_started: None,
            lateness: VecDeque::new(),
        }
    }

    /// Forget the planner (the printer reset or was drained).
    pub fn clear(&mut self) {
        self.planned.clear();
        self.head_started = None;
    }

    /// How many planned moves have run by `now`, and when the first still running
    /// started.
    fn done_by(&self, now: Instant) -> (usize, Option<Instant>) {
        let mut t = self.head_started;
        let mut done = 0;
        for &d in &self.planned {
            match t {
                Some(start) if start + d <= now => {
                    t = Some(start + d);
                    done += 1;
                }
                _ => break,
            }
        }
        (done, t)
    }

    /// Run the model up to `now`: moves whose time is over leave the planner.
    fn advance(&mut self, now: Instant) {
        let (done, t) = self.done_by(now);
        self.planned.drain(..done);
        self.head_started = if self.planned.is_empty() { None } else { t };
    }

    /// The printer acknowledged a command doing `work` at `now`, `waited` after the
    /// previous answer (or after the command was sent, if nothing was in flight), when
    /// the model expected `expected`.
    pub fn acknowledged(&mut self, work: Work, now: Instant, waited: Duration, expected: Duration) {
        self.entered(work, now);
        if !matches!(work, Work::Long) {
            if self.lateness.len() == LATENESS_WINDOW {
                self.lateness.pop_front();
            }
            self.lateness.push_back(waited.saturating_sub(expected));
        }
    }

    /// A command doing `work` was taken by the printer by `now` (its own `ok` was lost:
    /// nothing is learnt about the pace).
    pub fn entered(&mut self, work: Work, now: Instant) {
        self.advance(now);
        match work {
            Work::Move(d) => {
                if self.planned.len() >= self.blocks {
                    // The move got in, so a block was freed just now: the planner runs
                    // faster than the model thought.
                    self.planned.pop_front();
                    self.head_started = Some(now);
                }
                if self.planned.is_empty() {
                    self.head_started = Some(now);
                }
                self.planned.push_back(d);
            }
            Work::Drain(_) | Work::Long => self.clear(),
            Work::Quick => {}
        }
    }

    /// How long, from `now`, the printer needs before it can answer a command doing
    /// `work` (`None`: no estimate, heating or homing).
    pub fn expected_wait(&self, work: Work, now: Instant) -> Option<Duration> {
        let (done, started) = self.done_by(now);
        let left = self.planned.len() - done;
        let head_left = match (self.planned.get(done), started) {
            (Some(&d), Some(t)) => (t + d).saturating_duration_since(now),
            _ => Duration::ZERO,
        };
        match work {
            Work::Quick => Some(Duration::ZERO),
            Work::Move(_) if left >= self.blocks => Some(head_left),
            Work::Move(_) => Some(Duration::ZERO),
            Work::Drain(own) => {
                let rest: Duration = self.planned.iter().skip(done + 1).sum();
                Some(head_left + rest + own)
            }
            Work::Long => None,
        }
    }

    /// How long to wait, from the last sign of progress, for the answer to a command
    /// doing `work` whose printer needs `expected` first.
    pub fn allowance(&self, expected: Duration) -> Duration {
        let late = self.lateness.iter().max().copied().unwrap_or_default();
        MIN_OK_WAIT + expected.mul_f64(MODEL_MARGIN) + late.mul_f64(LATENESS_MARGIN)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    #[test]
    fn short_moves_wait_little_long_moves_long() {
        let t0 = Instant::now();
        let mut p = Pace::new(4);
        let short = Work::Move(ms(10));
        for i in 0..4 {
            p.acknowledged(short, t0, ms(1), Duration::ZERO);
            assert_eq!(
                p.expected_wait(short, t0),
                Some(if i < 3 { Duration::ZERO } else { ms(10) })
            );
        }
        assert!(p.allowance(ms(10)) < ms(300));
        // A planner full of 20 s moves: the next move is answered when the first has run.
        let mut p = Pace::new(4);
        for _ in 0..4 {
            p.acknowledged(
                Work::Move(Duration::from_secs(20)),
                t0,
                ms(1),
                Duration::ZERO,
            );
        }
        let wait = p
            .expected_wait(Work::Move(ms(1)), t0 + Duration::from_secs(5))
            .unwrap();
        assert_eq!(wait, Duration::from_secs(15));
        // M400 waits for all of them.
        let wait = p
            .expected_wait(Work::Drain(Duration::ZERO), t0 + Duration::from_secs(5))
            .unwrap();
        assert_eq!(wait, Duration::from_secs(75));
        assert_eq!(p.expected_wait(Work::Long, t0), None);
    }

    #[test]
    fn an_ok_on_a_full_planner_corrects_a_slow_model() {
        // The model thinks moves take 100 ms; the printer runs them in 3 ms.
        let t0 = Instant::now();
        let mut p = Pace::new(16);
        let mv = Work::Move(ms(100));
        let mut now = t0;
        for _ in 0..1000 {
            now += ms(3);
            p.acknowledged(mv, now, ms(3), Duration::ZERO);
        }
        // The wait stays one modelled move, not the backlog of a thousand.
        let wait = p.expected_wait(mv, now).unwrap();
        assert!(wait <= ms(100), "{wait:?}");
    }

    #[test]
    fn late_answers_raise_the_allowance() {
        let t0 = Instant::now();
        let mut p = Pace::new(16);
        let base = p.allowance(Duration::ZERO);
        p.acknowledged(Work::Quick, t0, ms(400), Duration::ZERO);
        assert_eq!(p.allowance(Duration::ZERO), base + ms(800));
    }

    #[test]
    fn relative_moves_and_arcs() {
        let mut m = Motion::default();
        m.work("G91");
        let Work::Move(a) = m.work("G1 X10 F600") else {
            panic!()
        };
        let Work::Move(b) = m.work("G1 X10") else {
            panic!()
        };
        assert_eq!(a, b, "relative moves of the same length");
        m.work("G90");
        let Work::Move(c) = m.work("G1 X20") else {
            panic!()
        };
        assert_eq!(c, Duration::ZERO, "already there");
        let Work::Move(arc) = m.work("G2 X30 I5 J0") else {
            panic!()
        };
        assert!(arc > a);
    }
}
