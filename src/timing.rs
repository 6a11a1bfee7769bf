//! Where the time and memory go: wall time and peak memory per pipeline stage.
//!
//! Code doing a stage's work marks its thread with [`enter`] (a guard: the thread's
//! previous stage comes back when it drops). A [`Recorder`], when one runs, samples
//! every thread's mark and the process's resident memory a thousand times a second
//! and splits each interval of wall time among the stages busy in it, in proportion
//! to the threads working on each. Stages overlap (the next layers are sectioned while
//! the last ones are written), so this is how their seconds add up to the wall time:
//! an interval with two threads slicing and one writing counts two thirds slicing,
//! one third writing. An interval in which no thread is marked counts as `other`
//! (settings, placement, process start and end).
//!
//! Marking costs a thread-local write and an atomic store, so the marks stay in the
//! code whether or not anything records them.

use std::cell::Cell;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU8, AtomicUsize, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use serde::Serialize;

/// A stage of the work, as timed and as shown in progress messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum Stage {
    /// Reading the mesh file.
    Load = 1,
    /// Merging corners at the same position into shared vertices.
    Weld,
    /// Counting defects (`inspect`).
    Check,
    /// Cutting the meshes into layers.
    Slice,
    /// Walls, skins and infill.
    Regions,
    /// Support.
    Support,
    /// Ordering, travels, seams, cooling.
    Plan,
    /// G-code, its estimate and its header.
    Write,
    /// Pictures: thumbnails, previews, the 3D viewer.
    Preview,
}

impl Stage {
    /// Every stage, in pipeline order.
    pub const ALL: [Stage; 9] = [
        Stage::Load,
        Stage::Weld,
        Stage::Check,
        Stage::Slice,
        Stage::Regions,
        Stage::Support,
        Stage::Plan,
        Stage::Write,
        Stage::Preview,
    ];

    /// The stage's key in `--json` output.
    pub fn key(self) -> &'static str {
        match self {
            Stage::Load => "load",
            Stage::Weld => "weld",
            Stage::Check => "check",
            Stage::Slice => "slice",
            Stage::Regions => "regions",
            Stage::Support => "support",
            Stage::Plan => "plan",
            Stage::Write => "write",
            Stage::Preview => "preview",
        }
    }

    /// A short description, for progress display.
    pub fn name(self) -> &'static str {
        match self {
            Stage::Load => "loading",
            Stage::Weld => "welding",
            Stage::Check => "checking",
            Stage::Slice => "slicing",
            Stage::Regions => "walls and infill",
            Stage::Support => "support",
            Stage::Plan => "planning",
            Stage::Write => "writing G-code",
            Stage::Preview => "drawing",
        }
    }
}

/// Threads that can be told apart; more share the last slot (a machine with more cores
/// than this still gets its stage split, slightly blurred).
const SLOTS: usize = 64;
/// A slot whose thread does no marked work.
const IDLE: u8 = 0;
/// Sampling interval: fine enough that a stage of a few milliseconds registers, coarse
/// enough that the sampler costs well under one percent of a core.
const TICK: Duration = Duration::from_millis(1);

/// Each thread's current stage.
static MARKS: [AtomicU8; SLOTS] = [const { AtomicU8::new(IDLE) }; SLOTS];
static NEXT_SLOT: AtomicUsize = AtomicUsize::new(0);

thread_local! {
    static SLOT: usize = NEXT_SLOT.fetch_add(1, Ordering::Relaxed).min(SLOTS - 1);
    static CURRENT: Cell<u8> = const { Cell::new(IDLE) };
}

/// Mark the current thread as working on `stage` until the guard drops.
///
/// ```
/// use lamina::timing::{enter, Stage};
/// let _busy = enter(Stage::Slice);
/// ```
#[must_use = "the stage ends when the guard drops"]
pub fn enter(stage: Stage) -> StageGuard {
    let previous = CURRENT.with(|c| c.replace(stage as u8));
    SLOT.with(|&s| MARKS[s].store(stage as u8, Ordering::Relaxed));
    StageGuard { previous }
}

/// Restores the thread's previous stage when dropped.
pub struct StageGuard {
    previous: u8,
}

impl Drop for StageGuard {
    fn drop(&mut self) {
        CURRENT.with(|c| c.set(self.previous));
        SLOT.with(|&s| MARKS[s].store(self.previous, Ordering::Relaxed));
    }
}

/// One stage's share of a run.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct StageTime {
    /// Wall time, s (shared among the stages busy at the same moment).
    pub seconds: f64,
    /// Largest resident memory sampled while the stage was busy, MB (0 when it never
    /// ran).
    pub peak_mb: f64,
}

/// Where a run's time and memory went.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Timings {
    /// Per stage ([`Stage::key`]), plus `other` for time no stage claimed.
    pub stages: std::collections::BTreeMap<&'static str, StageTime>,
    /// Wall time from the recorder's start to its end, s: the sum of the stages.
    pub wall_s: f64,
    /// The process's peak resident memory, MB (the kernel's high-water mark).
    pub peak_mb: f64,
}

#[derive(Default)]
struct Tally {
    seconds: [f64; Stage::ALL.len() + 1],
    peak: [u64; Stage::ALL.len() + 1],
}

/// Samples the stage marks on a thread of its own until [`Recorder::finish`].
pub struct Recorder {
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<Tally>>,
    start: Instant,
}

impl Recorder {
    /// Start sampling.
    pub fn start() -> Recorder {
        let stop = Arc::new(AtomicBool::new(false));
        let flag = Arc::clone(&stop);
        let start = Instant::now();
        let thread = std::thread::Builder::new()
            .name("lamina-timing".into())
            .spawn(move || sample(&flag, start))
            .ok();
        Recorder {
            stop,
            thread,
            start,
        }
    }

    /// Stop sampling and tell where the time went.
    pub fn finish(mut self) -> Timings {
        self.stop.store(true, Ordering::Relaxed);
        let tally = self
            .thread
            .take()
            .and_then(|t| t.join().ok())
            .unwrap_or_default();
        let mb = |bytes: u64| bytes as f64 / (1024.0 * 1024.0);
        let mut stages = std::collections::BTreeMap::new();
        for (k, s) in Stage::ALL.iter().enumerate() {
            stages.insert(
                s.key(),
                StageTime {
                    seconds: tally.seconds[k + 1],
                    peak_mb: mb(tally.peak[k + 1]),
                },
            );
        }
        stages.insert(
            "other",
            StageTime {
                seconds: tally.seconds[0],
                peak_mb: mb(tally.peak[0]),
            },
        );
        Timings {
            stages,
            wall_s: self.start.elapsed().as_secs_f64(),
            peak_mb: mb(memory::peak()),
        }
    }
}

/// The sampling loop: every tick, the time since the last one is shared among the
/// stages marked on the threads.
fn sample(stop: &AtomicBool, start: Instant) -> Tally {
    let mut tally = Tally::default();
    let mut last = start;
    loop {
        let done = stop.load(Ordering::Relaxed);
        let now = Instant::now();
        let dt = now.duration_since(last).as_secs_f64();
        last = now;
        let mut busy = [0usize; Stage::ALL.len() + 1];
        let used = NEXT_SLOT.load(Ordering::Relaxed).min(SLOTS);
        for m in &MARKS[..used] {
            busy[usize::from(m.load(Ordering::Relaxed))] += 1;
        }
        let working: usize = busy[1..].iter().sum();
        let rss = memory::resident();
        if working == 0 {
            tally.seconds[0] += dt;
            tally.peak[0] = tally.peak[0].max(rss);
        } else {
            for (k, &n) in busy.iter().enumerate().skip(1) {
                if n > 0 {
                    tally.seconds[k] += dt * n as f64 / working as f64;
                    tally.peak[k] = tally.peak[k].max(rss);
                }
            }
        }
        if done {
            return tally;
        }
        std::thread::sleep(TICK);
    }
}

/// The process's memory as the kernel counts it.
pub mod memory {
    /// Resident memory now, bytes (0 where unknown).
    pub fn resident() -> u64 {
        // statm: size resident shared ... in pages; one short read.
        std::fs::read_to_string("/proc/self/statm")
            .ok()
            .and_then(|s| s.split_whitespace().nth(1)?.parse::<u64>().ok())
            .map_or(0, |pages| pages * page_size())
    }

    /// Peak resident memory so far, bytes (0 where unknown).
    pub fn peak() -> u64 {
        std::fs::read_to_string("/proc/self/status")
            .ok()
            .and_then(|s| {
                let line = s.lines().find(|l| l.starts_with("VmHWM:"))?;
                line.split_whitespace().nth(1)?.parse::<u64>().ok()
            })
            .map_or(0, |kb| kb * 1024)
    }

    fn page_size() -> u64 {
        u64::try_from(rustix::param::page_size()).unwrap_or(4096)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn busy_stages_share_the_wall_time() {
        let rec = Recorder::start();
        {
            let _s = enter(Stage::Slice);
            std::thread::sleep(Duration::from_millis(60));
            let _w = enter(Stage::Write);
            std::thread::sleep(Duration::from_millis(30));
        }
        let t = rec.finish();
        let slice = t.stages["slice"].seconds;
        let write = t.stages["write"].seconds;
        let total: f64 = t.stages.values().map(|s| s.seconds).sum();
        assert!((total - t.wall_s).abs() < 0.01, "{total} vs {}", t.wall_s);
        // Other tests' threads may mark stages too and take a share; these two got some.
        assert!(slice > 0.0 && write > 0.0, "{slice} {write}");
        assert!(t.stages["slice"].peak_mb > 0.0 || memory::resident() == 0);
    }

    #[test]
    fn the_previous_stage_comes_back() {
        let _a = enter(Stage::Regions);
        {
            let _b = enter(Stage::Plan);
            assert_eq!(CURRENT.with(Cell::get), Stage::Plan as u8);
        }
        assert_eq!(CURRENT.with(Cell::get), Stage::Regions as u8);
    }
}
