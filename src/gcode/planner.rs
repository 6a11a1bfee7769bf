//! A motion planner like the firmware's: the time each move takes.
//!
//! Every move becomes a block with a trapezoidal speed profile (accelerate, cruise,
//! decelerate). A block's nominal speed is its feedrate limited by the per-axis maximum
//! feedrates; its acceleration is the print, travel or retract acceleration limited by
//! the per-axis maxima. The speed allowed where two blocks meet comes from Marlin's
//! junction deviation (or classic jerk when the deviation is 0), or, for Klipper, from
//! its square corner velocity (with its minimum cruise ratio capping the peak speed of
//! moves that accelerate and then brake). Like the firmware, the
//! planner looks ahead over a queue of `planner_queue` blocks: the newest block always
//! plans to stop, a backward pass lowers entry speeds to what can still brake in time,
//! and a forward pass lowers them to what can be reached by accelerating. The oldest
//! block is executed (its time is final) when a new block arrives at a full queue.

// Per-axis formulas read best indexed by axis (X, Y, Z, E), as the firmware writes them.
#![allow(clippy::needless_range_loop)]

use std::collections::VecDeque;

use super::config::{KlipperMotion, MachineConfig};

/// Marlin's `MINIMUM_PLANNER_SPEED`, mm/s: the speed at a full stop or reversal.
pub const MINIMUM_PLANNER_SPEED: f64 = 0.05;

/// Moves shorter than this (mm) are dropped, as the firmware drops moves of no steps.
pub const MIN_MOVE_LENGTH: f64 = 1e-6;

/// Segments shorter than this (mm) get Marlin's arc-speed limit at sharp-enough
/// junctions (`JD_HANDLE_SMALL_SEGMENTS`).
const SMALL_SEGMENT_LENGTH: f64 = 1.0;

/// Junctions turning more than 45° from straight (cosine below -cos 45°) count as arcs.
const SMALL_SEGMENT_COS: f64 = -std::f64::consts::FRAC_1_SQRT_2;

/// Smallest turning angle Marlin's arc estimate uses, rad (its `acos` approximation
/// bottoms out there).
const SMALL_SEGMENT_MIN_ANGLE: f64 = 0.033;

/// Cosine bound of the junction computation, as in Marlin (avoids division by zero).
const JUNCTION_COS_LIMIT: f64 = 0.999999;

/// Classic jerk: a junction is taken at the safe speed when both safe speeds are within
/// this fraction of the computed junction speed (Marlin's 0.99 threshold).
const JERK_SAFE_THRESHOLD: f64 = 0.99;

/// Klipper's default `instantaneous_corner_velocity`, mm/s: the extruder's speed change
/// allowed where the extrusion rate per mm changes (printing to travel and back).
const KLIPPER_EXTRUDER_CORNER_VELOCITY: f64 = 1.0;

/// Which acceleration a move uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MoveType {
    /// XYZ motion with extrusion (or wiping with retraction).
    Print,
    /// XYZ motion without E.
    Travel,
    /// E alone (retraction, prime).
    Retract,
}

#[derive(Debug, Clone, Copy)]
struct Block<T> {
    tag: T,
    length: f64,
    nominal: f64,
    accel: f64,
    max_entry: f64,
    /// Entry speed; final for the front block, provisional for the others.
    entry: f64,
    /// Speed the block may stop from at once (classic jerk), else the planner minimum.
    stop: f64,
    /// Acceleration that bounds the peak of a move that accelerates and then brakes
    /// (Klipper's `accel * (1 - minimum_cruise_ratio)`); infinite elsewhere.
    smooth_accel: f64,
}

#[derive(Debug, Clone, Copy)]
struct Previous {
    unit: [f64; 4],
    nominal: f64,
    axis_speed: [f64; 4],
    safe: f64,
    accel: f64,
    length: f64,
    kind: MoveType,
}

/// The look-ahead planner. `T` tags each move so the caller can attribute its time.
#[derive(Debug, Clone)]
pub struct Planner<T: Copy> {
    queue: VecDeque<Block<T>>,
    prev: Option<Previous>,
}

impl<T: Copy> Default for Planner<T> {
    fn default() -> Self {
        Planner {
            queue: VecDeque::new(),
            prev: None,
        }
    }
}

impl<T: Copy> Planner<T> {
    /// A planner with an empty queue, the machine at rest.
    pub fn new() -> Self {
        Self::default()
    }

    /// Queue a move by `delta` (X, Y, Z, E, mm) at `feedrate` mm/s; moves leaving the
    /// queue are reported to `done` with their time in seconds. Returns whether the
    /// move was queued (false for a move of zero length).
    pub fn push(
        &mut self,
        m: &MachineConfig,
        delta: [f64; 4],
        feedrate: f64,
        tag: T,
        done: &mut impl FnMut(T, f64),
    ) -> bool {
        let xyz = (delta[0] * delta[0] + delta[1] * delta[1] + delta[2] * delta[2]).sqrt();
        let (length, kind) = if xyz >= MIN_MOVE_LENGTH {
            let kind = if delta[3] != 0.0 {
                MoveType::Print
            } else {
                MoveType::Travel
            };
            (xyz, kind)
        } else if delta[3].abs() >= MIN_MOVE_LENGTH {
            (delta[3].abs(), MoveType::Retract)
        } else {
            return false;
        };
        let mut block = self.make_block(m, delta, length, kind, feedrate, tag);
        if self.queue.len() >= m.planner_queue.max(2) {
            self.execute_front(done);
        }
        if self.queue.is_empty() {
            // Starting from rest: the entry is final.
            block.entry = block.max_entry;
            self.queue.push_back(block);
            return true;
        }
        // The newest block must be able to stop; the blocks before it may now enter
        // faster (or must enter slower). Walk back while entries change: an unchanged
        // entry leaves every earlier one unchanged too.
        block.entry = block
            .max_entry
            .min((block.stop * block.stop + 2.0 * block.accel * block.length).sqrt());
        self.queue.push_back(block);
        let mut i = self.queue.len() - 1;
        while i >= 2 {
            let exit = self.queue[i].entry;
            let b = &mut self.queue[i - 1];
            let entry = b
                .max_entry
                .min((exit * exit + 2.0 * b.accel * b.length).sqrt());
            if entry == b.entry {
                break;
            }
            b.entry = entry;
            i -= 1;
        }
        true
    }

    /// Execute every queued move, ending at rest (the firmware's `synchronize`).
    pub fn flush(&mut self, done: &mut impl FnMut(T, f64)) {
        while !self.queue.is_empty() {
            self.execute_front(done);
        }
        self.prev = None;
    }

    /// Number of moves waiting in the queue.
    pub fn queued(&self) -> usize {
        self.queue.len()
    }

    fn make_block(
        &mut self,
        m: &MachineConfig,
        delta: [f64; 4],
        length: f64,
        kind: MoveType,
        feedrate: f64,
        tag: T,
    ) -> Block<T> {
        let inv = 1.0 / length;
        let min_feed = if delta[3] != 0.0 {
            m.minimum_feedrate
        } else {
            m.minimum_travel_feedrate
        };
        let mut speed = if feedrate.is_finite() { feedrate } else { 0.0 };
        speed = speed.max(min_feed).max(MINIMUM_PLANNER_SPEED);
        if let Some(k) = m.klipper
            && kind != MoveType::Retract
        {
            // Klipper limits the toolhead's speed, not each axis's.
            speed = speed.min(k.max_velocity);
        }
        // Per-axis feedrate limits.
        let mut factor: f64 = 1.0;
        for a in 0..4 {
            let axis = delta[a].abs() * speed * inv;
            if axis > m.max_feedrate[a] {
                factor = factor.min(m.max_feedrate[a] / axis);
            }
        }
        let nominal = speed * factor;
        let axis_speed = delta.map(|d| d * nominal * inv);
        // Acceleration by move type, limited per axis.
        let mut accel = match kind {
            // Klipper has one toolhead acceleration for every XYZ move.
            MoveType::Travel if m.klipper.is_some() => m.acceleration,
            MoveType::Print => m.acceleration,
            MoveType::Travel => m.travel_acceleration,
            MoveType::Retract => m.retract_acceleration,
        };
        for a in 0..4 {
            if delta[a] != 0.0 {
                accel = accel.min(m.max_acceleration[a] * length / delta[a].abs());
            }
        }
        let unit = delta.map(|d| d * inv);
        let jerk_mode = m.junction_deviation <= 0.0 && m.klipper.is_none();
        let safe = if jerk_mode {
            let mut f: f64 = 1.0;
            for a in 0..4 {
                let s = axis_speed[a].abs();
                if s > m.jerk[a] {
                    f = f.min(m.jerk[a] / s);
                }
            }
            nominal * f
        } else {
            MINIMUM_PLANNER_SPEED.min(nominal)
        };
        let max_entry = match self.prev {
            None => {
                if jerk_mode {
                    safe
                } else {
                    0.0
                }
            }
            Some(p) => match m.klipper {
                Some(k) => {
                    klipper_junction(&k, m.acceleration, &p, &unit, nominal, accel, length, kind)
                }
                None if jerk_mode => jerk_junction(m, &p, nominal, &axis_speed, safe),
                None => deviation_junction(m, &p, &unit, nominal, accel, length),
            },
        };
        self.prev = Some(Previous {
            unit,
            nominal,
            axis_speed,
            safe,
            accel,
            length,
            kind,
        });
        let smooth_accel = match m.klipper {
            Some(k) if kind != MoveType::Retract => accel * (1.0 - k.minimum_cruise_ratio),
            _ => f64::INFINITY,
        };
        Block {
            tag,
            length,
            nominal,
            accel,
            max_entry,
            // Set by `push` once the block's place in the queue is known.
            entry: max_entry,
            stop: safe,
            smooth_accel,
        }
    }

    /// Plan the queue and execute its front block.
    fn execute_front(&mut self, done: &mut impl FnMut(T, f64)) {
        let n = self.queue.len();
        if n == 0 {
            return;
        }
        // The entries behind the front are the backward pass's (kept up to date by
        // `push`): the fastest from which each block can still brake in time. The front
        // block's entry is fixed; its exit is what the next block allows and what it
        // can reach by accelerating (the forward pass).
        let front = self.queue[0];
        let reach = (front.entry * front.entry + 2.0 * front.accel * front.length).sqrt();
        let exit = if n > 1 {
            self.queue[1].entry.min(reach)
        } else {
            front.stop.min(reach)
        };
        // Klipper's smoothed look-ahead: a move that speeds up and then brakes peaks
        // no higher than its minimum cruise ratio allows.
        let peak = (0.5 * (front.entry * front.entry + exit * exit)
            + front.length * front.smooth_accel)
            .sqrt();
        let cruise = front.nominal.min(peak);
        done(
            front.tag,
            trapezoid_time(front.length, front.entry, cruise, exit, front.accel),
        );
        self.queue.pop_front();
        if let Some(next) = self.queue.front_mut() {
            next.entry = exit;
        }
    }
}

/// Junction speed by junction deviation (Marlin 2), mm/s.
fn deviation_junction(
    m: &MachineConfig,
    p: &Previous,
    unit: &[f64; 4],
    nominal: f64,
    accel: f64,
    length: f64,
) -> f64 {
    let mut cos = 0.0;
    for a in 0..4 {
        cos -= p.unit[a] * unit[a];
    }
    let mut v2 = if cos > JUNCTION_COS_LIMIT {
        // A reversal: stop.
        MINIMUM_PLANNER_SPEED * MINIMUM_PLANNER_SPEED
    } else {
        let cos = cos.max(-JUNCTION_COS_LIMIT);
        let mut ju = [0.0; 4];
        let mut norm = 0.0;
        for a in 0..4 {
            ju[a] = unit[a] - p.unit[a];
            norm += ju[a] * ju[a];
        }
        let norm = norm.sqrt();
        let mut ja = accel;
        if norm > 0.0 {
            for a in 0..4 {
                let c = (ju[a] / norm).abs();
                if c > 0.0 {
                    ja = ja.min(m.max_acceleration[a] / c);
                }
            }
        }
        let sin_half = (0.5 * (1.0 - cos)).sqrt();
        let mut v2 = ja * m.junction_deviation * sin_half / (1.0 - sin_half);
        if length < SMALL_SEGMENT_LENGTH && cos < SMALL_SEGMENT_COS {
            // Short segments around a curve: the speed of the arc they approximate.
            let theta = (-cos).clamp(-1.0, 1.0).acos().max(SMALL_SEGMENT_MIN_ANGLE);
            v2 = v2.min(length * ja / theta);
        }
        v2
    };
    v2 = v2.min(nominal * nominal).min(p.nominal * p.nominal);
    v2.sqrt()
}

/// Junction speed by Klipper's square corner velocity ("approximated centripetal
/// velocity", `toolhead.py`), mm/s: a virtual arc touching both moves with the
/// junction deviation `scv² (√2 - 1) / accel`, no further than halfway along either
/// move, and the extruder's instantaneous corner velocity. Moves of E alone stop.
#[allow(clippy::too_many_arguments)]
fn klipper_junction(
    k: &KlipperMotion,
    toolhead_accel: f64,
    p: &Previous,
    unit: &[f64; 4],
    nominal: f64,
    accel: f64,
    length: f64,
    kind: MoveType,
) -> f64 {
    if kind == MoveType::Retract || p.kind == MoveType::Retract {
        return 0.0;
    }
    let mut v2 = (nominal * nominal).min(p.nominal * p.nominal);
    let de = unit[3] - p.unit[3];
    if de != 0.0 {
        v2 = v2.min((KLIPPER_EXTRUDER_CORNER_VELOCITY / de.abs()).powi(2));
    }
    let cos = -(unit[0] * p.unit[0] + unit[1] * p.unit[1] + unit[2] * p.unit[2]);
    let sin_half = (0.5 * (1.0 - cos)).max(0.0).sqrt();
    let cos_half = (0.5 * (1.0 + cos)).max(0.0).sqrt();
    if 1.0 - sin_half > 0.0 && cos_half > 0.0 {
        let deviation =
            k.square_corner_velocity.powi(2) * (std::f64::consts::SQRT_2 - 1.0) / toolhead_accel;
        let r = sin_half / (1.0 - sin_half);
        let quarter_tan = 0.25 * sin_half / cos_half;
        v2 = v2
            .min(r * deviation * accel)
            .min(r * deviation * p.accel)
            .min(2.0 * length * accel * quarter_tan)
            .min(2.0 * p.length * p.accel * quarter_tan);
    }
    v2.sqrt()
}

/// Junction speed by classic jerk (Marlin's), mm/s.
fn jerk_junction(
    m: &MachineConfig,
    p: &Previous,
    nominal: f64,
    axis_speed: &[f64; 4],
    safe: f64,
) -> f64 {
    if p.nominal <= 0.0 {
        return safe;
    }
    let mut vmax = nominal.min(p.nominal);
    let smaller = vmax / p.nominal;
    let mut v_factor = 1.0;
    let mut limited = false;
    for a in 0..4 {
        let mut v_exit = p.axis_speed[a] * smaller;
        let mut v_entry = axis_speed[a];
        if limited {
            v_exit *= v_factor;
            v_entry *= v_factor;
        }
        let jerk = if v_exit > v_entry {
            if v_entry > 0.0 || v_exit < 0.0 {
                v_exit - v_entry
            } else {
                v_exit.max(-v_entry)
            }
        } else if v_entry < 0.0 || v_exit > 0.0 {
            v_entry - v_exit
        } else {
            (-v_exit).max(v_entry)
        };
        if jerk > m.jerk[a] {
            v_factor *= m.jerk[a] / jerk;
            limited = true;
        }
    }
    if limited {
        vmax *= v_factor;
    }
    let threshold = vmax * JERK_SAFE_THRESHOLD;
    if p.safe > threshold && safe > threshold {
        vmax = safe;
    }
    vmax
}

/// Time to cover `length` mm entering at `v0`, cruising at most at `vn` and leaving at
/// `v1` with acceleration `a` (a trapezoid, or a triangle when cruise is not reached).
///
/// ```
/// use lamina::gcode::planner::trapezoid_time;
/// // 100 mm at 50 mm/s from and to rest at 1000 mm/s²: 2 s cruising plus 0.05 s lost
/// // accelerating and braking (v/a in all).
/// assert!((trapezoid_time(100.0, 0.0, 50.0, 0.0, 1000.0) - (100.0 / 50.0 + 50.0 / 1000.0)).abs() < 1e-12);
/// ```
pub fn trapezoid_time(length: f64, v0: f64, vn: f64, v1: f64, a: f64) -> f64 {
    if length <= 0.0 {
        return 0.0;
    }
    if !(a > 0.0 && a.is_finite()) {
        return length / vn.max(MINIMUM_PLANNER_SPEED);
    }
    let vn = vn.max(v0).max(v1).max(MINIMUM_PLANNER_SPEED);
    let d_acc = (vn * vn - v0 * v0) / (2.0 * a);
    let d_dec = (vn * vn - v1 * v1) / (2.0 * a);
    if d_acc + d_dec <= length {
        (vn - v0) / a + (vn - v1) / a + (length - d_acc - d_dec) / vn
    } else {
        let vp = (a * length + 0.5 * (v0 * v0 + v1 * v1))
            .sqrt()
            .max(v0)
            .max(v1);
        (vp - v0) / a + (vp - v1) / a
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn machine() -> MachineConfig {
        MachineConfig {
            max_feedrate: [500.0, 500.0, 10.0, 50.0],
            max_acceleration: [10000.0, 10000.0, 1000.0, 5000.0],
            acceleration: 1000.0,
            retract_acceleration: 1500.0,
            travel_acceleration: 2000.0,
            junction_deviation: 0.05,
            ..MachineConfig::default()
        }
    }

    fn run(m: &MachineConfig, moves: &[([f64; 4], f64)]) -> f64 {
        let mut p = Planner::new();
        let mut total = 0.0;
        let mut add = |_: (), t: f64| total += t;
        for (d, f) in moves {
            p.push(m, *d, *f, (), &mut add);
        }
        p.flush(&mut add);
        total
    }

    #[test]
    fn long_move_reaches_cruise() {
        let m = machine();
        let (l, v, a) = (100.0, 50.0, m.acceleration);
        let t = run(&m, &[([l, 0.0, 0.0, 1.0], v)]);
        // Accelerate and brake take v/a each and cover v²/a in all.
        let expected = l / v + v / a;
        assert!((t - expected).abs() < 1e-3, "{t} vs {expected}");
    }

    #[test]
    fn short_move_is_a_triangle() {
        let m = machine();
        let (l, a) = (1.0, m.travel_acceleration);
        let t = run(&m, &[([0.0, l, 0.0, 0.0], 200.0)]);
        let expected = 2.0 * (l / a).sqrt();
        assert!((t - expected).abs() < 1e-3, "{t} vs {expected}");
    }

    #[test]
    fn tiny_collinear_segments_keep_speed() {
        let m = machine();
        // 0.2 mm segments (a finely tessellated curve): 16 queued blocks give 3.2 mm
        // to brake in, enough for 50 mm/s; the time is that of one long move.
        let (n, seg, v) = (1000, 0.2, 50.0);
        let moves: Vec<_> = (0..n).map(|_| ([seg, 0.0, 0.0, 0.01], v)).collect();
        let t = run(&m, &moves);
        let l = n as f64 * seg;
        let one = run(&m, &[([l, 0.0, 0.0, 0.01 * n as f64], v)]);
        assert!((t - one).abs() / one < 0.005, "{t} vs {one}");
    }

    #[test]
    fn look_ahead_bounds_speed_on_very_short_segments() {
        let m = machine();
        // 0.05 mm segments: the front block must be able to stop within the 15
        // blocks queued behind it, so the speed is capped at sqrt(2·a·15·L), as on
        // the firmware; the time is L_total / v_cap plus the ramp at each end.
        let (n, seg, v) = (2000, 0.05, 50.0);
        let moves: Vec<_> = (0..n).map(|_| ([seg, 0.0, 0.0, 0.002], v)).collect();
        let t = run(&m, &moves);
        let a = m.acceleration;
        let cap = (2.0 * a * (m.planner_queue - 1) as f64 * seg).sqrt();
        assert!(cap < v);
        let expected = n as f64 * seg / cap + cap / a;
        assert!((t - expected).abs() / expected < 0.01, "{t} vs {expected}");
    }

    #[test]
    fn axis_limits_cap_speed_and_acceleration() {
        let m = machine();
        // Z alone: 10 mm/s max and 1000 mm/s² max.
        let t = run(&m, &[([0.0, 0.0, 20.0, 0.0], 100.0)]);
        assert!((t - (20.0 / 10.0 + 10.0 / 1000.0)).abs() < 1e-3, "{t}");
    }

    #[test]
    fn reversal_stops() {
        let m = machine();
        let there = run(&m, &[([10.0, 0.0, 0.0, 0.0], 100.0)]);
        let back = run(
            &m,
            &[
                ([10.0, 0.0, 0.0, 0.0], 100.0),
                ([-10.0, 0.0, 0.0, 0.0], 100.0),
            ],
        );
        assert!((back - 2.0 * there).abs() < 1e-3, "{back} vs 2×{there}");
    }

    #[test]
    fn classic_jerk_corner() {
        let mut m = machine();
        m.junction_deviation = 0.0;
        m.jerk = [8.0, 8.0, 0.4, 2.5];
        let v = 40.0;
        let a = m.travel_acceleration;
        // A right angle at 40 mm/s with 8 mm/s jerk: the exit of X (40) to entry of Y
        // (40): X drops 40→0 (jerk 40), so speed scales by 8/40 → 8 mm/s; then Y rises
        // from 0 to 8 (jerk 8, fine). Both safe speeds are 8 → junction at 8 mm/s.
        let t = run(
            &m,
            &[([20.0, 0.0, 0.0, 0.0], v), ([0.0, 20.0, 0.0, 0.0], v)],
        );
        // Each leg starts (or ends) at the safe speed 8 mm/s and meets the other at 8.
        let leg = trapezoid_time(20.0, 8.0, v, 8.0, a);
        assert!((t - 2.0 * leg).abs() < 1e-3, "{t} vs {}", 2.0 * leg);
    }
}
