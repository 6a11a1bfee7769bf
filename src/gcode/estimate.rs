//! Print time estimate: a simulation of the firmware's motion planner.
//!
//! Every move becomes a block with a trapezoidal speed profile (accelerate, cruise,
//! decelerate) under the machine's per-axis feed rate and acceleration limits. Speeds at
//! the junctions between blocks are limited as Marlin limits them (junction deviation,
//! or classic jerk), and a look-ahead pass (backward then forward over the layer's
//! blocks) keeps every speed change reachable within its block.

use serde::Serialize;

use super::events::{Event, MoveKind};
use crate::path::Role;

/// The machine's motion limits.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct MachineLimits {
    /// Maximum feed rate X, Y, Z, E, mm/s.
    pub max_feedrate: [f64; 4],
    /// Maximum acceleration X, Y, Z, E, mm/s².
    pub max_acceleration: [f64; 4],
    /// Acceleration of printing moves, mm/s².
    pub acceleration_print: f64,
    /// Acceleration of E-only moves, mm/s².
    pub acceleration_retract: f64,
    /// Acceleration of travel moves, mm/s².
    pub acceleration_travel: f64,
    /// Classic jerk X, Y, Z, E, mm/s.
    pub jerk: [f64; 4],
    /// Junction deviation, mm (0: classic jerk).
    pub junction_deviation: f64,
    /// Minimum feed rate, mm/s.
    pub min_feedrate: f64,
    /// Seconds a tool change takes.
    pub toolchange_time: f64,
}

impl Default for MachineLimits {
    fn default() -> Self {
        MachineLimits {
            max_feedrate: [500.0, 500.0, 12.0, 120.0],
            max_acceleration: [1000.0, 1000.0, 200.0, 5000.0],
            acceleration_print: 1000.0,
            acceleration_retract: 1000.0,
            acceleration_travel: 1000.0,
            jerk: [8.0, 8.0, 0.4, 5.0],
            junction_deviation: 0.0,
            min_feedrate: 0.0,
            toolchange_time: 10.0,
        }
    }
}

/// One planned move.
#[derive(Debug, Clone, Copy)]
struct Block {
    distance: f64,
    nominal: f64,
    accel: f64,
    max_entry: f64,
    /// Per-axis velocity at nominal speed (mm/s), for jerk.
    axis_v: [f64; 4],
    /// Unit vector of the XYZ motion (zero for E-only).
    unit: [f64; 3],
    /// Speed it may start or stop at from rest.
    safe: f64,
    role: Option<Role>,
}

/// Time taken over a block of length `d` starting at `v0`, ending at `v1`, cruising at
/// most at `vn`, accelerating at `a`.
pub fn trapezoid_time(d: f64, v0: f64, v1: f64, vn: f64, a: f64) -> f64 {
    if d <= 0.0 {
        return 0.0;
    }
    let vn = vn.max(1e-6);
    let (v0, v1) = (v0.min(vn), v1.min(vn));
    if a <= 0.0 {
        return d / vn;
    }
    let accel_d = (vn * vn - v0 * v0) / (2.0 * a);
    let decel_d = (vn * vn - v1 * v1) / (2.0 * a);
    if accel_d + decel_d <= d {
        (vn - v0) / a + (vn - v1) / a + (d - accel_d - decel_d) / vn
    } else {
        // Never reaches cruise: a triangle peaking where the two ramps meet.
        let peak = ((2.0 * a * d + v0 * v0 + v1 * v1) / 2.0).sqrt();
        ((peak - v0) + (peak - v1)) / a
    }
}

/// The motion simulator: feed it moves, flush at layer ends.
pub struct Simulator {
    limits: MachineLimits,
    pos: [f64; 4],
    blocks: Vec<Block>,
    /// Time of every flushed block so far.
    pub total: f64,
    /// Time per role.
    pub role_time: std::collections::BTreeMap<Role, f64>,
}

impl Simulator {
    /// A simulator at the origin.
    pub fn new(limits: MachineLimits) -> Simulator {
        Simulator {
            limits,
            pos: [0.0; 4],
            blocks: Vec::new(),
            total: 0.0,
            role_time: Default::default(),
        }
    }

    /// Set the position without moving (G92, a known start).
    pub fn set_position(&mut self, p: [f64; 4]) {
        self.pos = p;
    }

    /// The current position.
    pub fn position(&self) -> [f64; 4] {
        self.pos
    }

    /// Add a fixed delay (dwell, tool change), s.
    pub fn dwell(&mut self, seconds: f64) {
        self.flush();
        self.total += seconds.max(0.0);
    }

    /// Queue a move to `to` (X, Y, Z, E) at `feed` mm/s.
    pub fn move_to(&mut self, to: [f64; 4], feed: f64, kind: MoveKind, role: Option<Role>) {
        let d = [
            to[0] - self.pos[0],
            to[1] - self.pos[1],
            to[2] - self.pos[2],
            to[3] - self.pos[3],
        ];
        self.pos = to;
        let xyz = (d[0] * d[0] + d[1] * d[1] + d[2] * d[2]).sqrt();
        let distance = if xyz > 1e-9 { xyz } else { d[3].abs() };
        if distance <= 1e-9 {
            return;
        }
        let l = &self.limits;
        let mut nominal = feed.max(l.min_feedrate).max(1e-3);
        // Per-axis feed rate limits.
        for (a, da) in d.iter().enumerate() {
            let share = da.abs() / distance;
            if share > 0.0 && nominal * share > l.max_feedrate[a] {
                nominal = l.max_feedrate[a] / share;
            }
        }
        let mut accel = if xyz <= 1e-9 {
            l.acceleration_retract
        } else if d[3] > 0.0 && kind == MoveKind::Extrude {
            l.acceleration_print
        } else {
            l.acceleration_travel
        };
        for (a, da) in d.iter().enumerate() {
            let share = da.abs() / distance;
            if share > 0.0 && accel * share > l.max_acceleration[a] {
                accel = l.max_acceleration[a] / share;
            }
        }
        let axis_v = [0, 1, 2, 3].map(|a| nominal * d[a] / distance);
        let unit = if xyz > 1e-9 {
            [d[0] / xyz, d[1] / xyz, d[2] / xyz]
        } else {
            [0.0; 3]
        };
        // From rest: classic jerk allows the safe speed; junction deviation starts at 0.
        let safe = if l.junction_deviation > 0.0 {
            0.0
        } else {
            self.safe_speed(nominal, &axis_v)
        };
        let max_entry = match self.blocks.last() {
            Some(prev) => self.junction_speed(prev, nominal, &axis_v, unit),
            None => safe,
        };
        self.blocks.push(Block {
            distance,
            nominal,
            accel,
            max_entry,
            axis_v,
            unit,
            safe,
            role,
        });
    }

    /// The speed a block may start at from rest: each axis within its jerk.
    fn safe_speed(&self, nominal: f64, axis_v: &[f64; 4]) -> f64 {
        let mut v = nominal;
        for a in 0..4 {
            let va = axis_v[a].abs();
            if va > self.limits.jerk[a] && va > 0.0 {
                v = v.min(nominal * self.limits.jerk[a] / va);
            }
        }
        v
    }

    /// Largest speed through the junction between `prev` and a new block.
    fn junction_speed(&self, prev: &Block, nominal: f64, axis_v: &[f64; 4], unit: [f64; 3]) -> f64 {
        let l = &self.limits;
        let v_limit = prev.nominal.min(nominal);
        let e_only = |u: &[f64; 3]| u.iter().all(|c| *c == 0.0);
        if l.junction_deviation > 0.0 && !e_only(&unit) && !e_only(&prev.unit) {
            // Marlin's junction deviation: the speed at which a circle of radius set by
            // the deviation, tangent to both moves, is taken at the acceleration.
            let cos_theta =
                -(prev.unit[0] * unit[0] + prev.unit[1] * unit[1] + prev.unit[2] * unit[2]);
            if cos_theta > 0.999_999 {
                // A full reversal.
                return self.safe_speed(nominal, axis_v).min(v_limit);
            }
            if cos_theta < -0.999_999 {
                return v_limit;
            }
            let sin_theta_d2 = (0.5 * (1.0 - cos_theta)).sqrt();
            let accel = prev.accel.min(self.accel_of(nominal, axis_v));
            let v2 = accel * l.junction_deviation * sin_theta_d2 / (1.0 - sin_theta_d2);
            return v2.sqrt().min(v_limit);
        }
        // Classic jerk: scale the junction speed until every axis' velocity change is
        // within its jerk (Marlin's rule, including the same-direction case).
        let mut factor = 1.0;
        let scale_p = v_limit / prev.nominal.max(1e-9);
        let scale_c = v_limit / nominal.max(1e-9);
        for a in 0..4 {
            let v_exit = prev.axis_v[a] * scale_p * factor;
            let v_entry = axis_v[a] * scale_c * factor;
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
            if jerk > l.jerk[a] {
                factor *= l.jerk[a] / jerk;
            }
        }
        v_limit * factor
    }

    fn accel_of(&self, _nominal: f64, axis_v: &[f64; 4]) -> f64 {
        let speed = (axis_v[0] * axis_v[0] + axis_v[1] * axis_v[1] + axis_v[2] * axis_v[2]).sqrt();
        if speed > 0.0 {
            self.limits.acceleration_print
        } else {
            self.limits.acceleration_retract
        }
    }

    /// Plan and time every queued block (the machine comes to rest at the end), and
    /// return their time.
    pub fn flush(&mut self) -> f64 {
        let n = self.blocks.len();
        if n == 0 {
            return 0.0;
        }
        let mut entry: Vec<f64> = self.blocks.iter().map(|b| b.max_entry).collect();
        // Backward: each block must be able to slow to the next block's entry; the last
        // one stops at its safe speed.
        let final_exit = self.blocks[n - 1].safe;
        let mut next_entry = final_exit;
        for i in (0..n).rev() {
            let b = &self.blocks[i];
            entry[i] = entry[i].min((next_entry * next_entry + 2.0 * b.accel * b.distance).sqrt());
            next_entry = entry[i];
        }
        // Forward: each block can only reach what its acceleration allows.
        for i in 0..n - 1 {
            let b = &self.blocks[i];
            let reach = (entry[i] * entry[i] + 2.0 * b.accel * b.distance).sqrt();
            entry[i + 1] = entry[i + 1].min(reach);
        }
        let mut t_total = 0.0;
        for i in 0..n {
            let b = &self.blocks[i];
            let exit = if i + 1 < n { entry[i + 1] } else { final_exit };
            let t = trapezoid_time(b.distance, entry[i], exit, b.nominal, b.accel);
            t_total += t;
            if let Some(r) = b.role {
                *self.role_time.entry(r).or_default() += t;
            }
        }
        self.blocks.clear();
        self.total += t_total;
        t_total
    }
}

/// Filament and cost of one tool.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
pub struct ToolUsage {
    /// Filament extruded, mm (retractions and their recoveries cancel out).
    pub filament_mm: f64,
    /// Volume, cm³.
    pub volume_cm3: f64,
    /// Weight, g.
    pub grams: f64,
    /// Cost, in the profile's currency.
    pub cost: f64,
}

/// What a print will take.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Estimate {
    /// Total print time, s (moves, dwells and tool changes; not heating).
    pub total_time: f64,
    /// Time of each layer, s, in order.
    pub layer_times: Vec<f64>,
    /// Time per role, s.
    pub role_times: Vec<(Role, f64)>,
    /// Extruded path length per role, mm.
    pub role_lengths: Vec<(Role, f64)>,
    /// Per tool.
    pub tools: Vec<ToolUsage>,
    /// Number of tool changes.
    pub tool_changes: usize,
}

impl Estimate {
    /// Time formatted as PrusaSlicer does: `1d 2h 3m 4s`.
    pub fn time_string(seconds: f64) -> String {
        let s = seconds.round().max(0.0) as u64;
        let (d, h, m, sec) = (s / 86400, s / 3600 % 24, s / 60 % 60, s % 60);
        let mut out = String::new();
        if d > 0 {
            out += &format!("{d}d ");
        }
        if d > 0 || h > 0 {
            out += &format!("{h}h ");
        }
        if d > 0 || h > 0 || m > 0 {
            out += &format!("{m}m ");
        }
        out += &format!("{sec}s");
        out
    }
}

/// Time and material of the events of a print.
pub(super) fn estimate_events<'a>(
    limits: &MachineLimits,
    tools: &[super::ToolConfig],
    walk: impl FnOnce(&mut dyn FnMut(Event<'a>)),
) -> Estimate {
    let mut sim = Simulator::new(*limits);
    let mut est = Estimate {
        tools: vec![ToolUsage::default(); tools.len().max(1)],
        ..Default::default()
    };
    let mut role: Option<Role> = None;
    let mut e = 0.0;
    let mut layer_start = 0.0;
    let mut in_layer = false;
    let mut lengths: std::collections::BTreeMap<Role, f64> = Default::default();
    let mut last = [0.0f64; 3];
    walk(&mut |ev| match ev {
        Event::LayerStart { .. } => {
            sim.flush();
            if in_layer {
                est.layer_times.push(sim.total - layer_start);
            }
            in_layer = true;
            layer_start = sim.total;
        }
        Event::Role(r) => role = Some(r),
        Event::Move {
            x,
            y,
            z,
            de,
            feed,
            kind,
            tool,
        } => {
            e += de;
            let r = if kind == MoveKind::Extrude {
                role
            } else {
                None
            };
            sim.move_to([x, y, z, e], feed, kind, r);
            // Filament used: what extrusions push through (retractions come back).
            if kind == MoveKind::Extrude {
                if let Some(u) = est.tools.get_mut(tool) {
                    u.filament_mm += de;
                }
            }
            if kind == MoveKind::Extrude {
                if let Some(r) = role {
                    *lengths.entry(r).or_default() += (x - last[0]).hypot(y - last[1]);
                }
            }
            last = [x, y, z];
        }
        Event::ToolChange { .. } => {
            est.tool_changes += 1;
            sim.dwell(limits.toolchange_time);
        }
        _ => {}
    });
    sim.flush();
    if in_layer {
        est.layer_times.push(sim.total - layer_start);
    }
    est.total_time = sim.total;
    est.role_times = sim.role_time.into_iter().collect();
    est.role_lengths = lengths.into_iter().collect();
    for (u, t) in est.tools.iter_mut().zip(tools) {
        u.filament_mm = u.filament_mm.max(0.0);
        u.volume_cm3 = u.filament_mm * t.filament_area() / 1000.0;
        u.grams = u.volume_cm3 * t.density;
        u.cost = u.grams / 1000.0 * t.cost_per_kg;
    }
    est
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limits() -> MachineLimits {
        MachineLimits {
            max_feedrate: [500.0, 500.0, 12.0, 120.0],
            max_acceleration: [10_000.0, 10_000.0, 200.0, 5000.0],
            acceleration_print: 1000.0,
            acceleration_retract: 1000.0,
            acceleration_travel: 1000.0,
            jerk: [0.0, 0.0, 0.0, 0.0],
            junction_deviation: 0.0,
            min_feedrate: 0.0,
            toolchange_time: 0.0,
        }
    }

    #[test]
    fn long_move_reaches_cruise() {
        let mut s = Simulator::new(limits());
        s.move_to([200.0, 0.0, 0.0, 0.0], 100.0, MoveKind::Travel, None);
        let t = s.flush();
        // t = L/v + v/a (accelerate and decelerate from and to rest).
        let expected = 200.0 / 100.0 + 100.0 / 1000.0;
        assert!((t - expected).abs() < 1e-9, "{t}");
    }

    #[test]
    fn short_move_is_a_triangle() {
        let mut s = Simulator::new(limits());
        s.move_to([2.0, 0.0, 0.0, 0.0], 100.0, MoveKind::Travel, None);
        let t = s.flush();
        let expected = 2.0 * (2.0f64 / 1000.0).sqrt();
        assert!((t - expected).abs() < 1e-9, "{t}");
    }

    #[test]
    fn square_corners_follow_junction_deviation() {
        let mut l = limits();
        l.junction_deviation = 0.05;
        let mut s = Simulator::new(l);
        let side = 50.0;
        let v = 80.0;
        for p in [[side, 0.0], [side, side], [0.0, side], [0.0, 0.0]] {
            s.move_to([p[0], p[1], 0.0, 0.0], v, MoveKind::Travel, None);
        }
        let t = s.flush();
        // 90° corners: sin(θ/2) = sqrt(0.5 (1 - cos θ)) with cos θ = -(u1·u2) = 0.
        let sin_half = (0.5f64).sqrt();
        let vj = (1000.0 * 0.05 * sin_half / (1.0 - sin_half)).sqrt();
        let a: f64 = 1000.0;
        let side_time = |v0: f64, v1: f64| trapezoid_time(side, v0, v1, v, a);
        let expected = side_time(0.0, vj) + 2.0 * side_time(vj, vj) + side_time(vj, 0.0);
        assert!((t - expected).abs() < 1e-9, "{t} vs {expected}");
        assert!(vj > 5.0 && vj < v);
    }

    #[test]
    fn many_tiny_collinear_segments_do_not_crawl() {
        let mut l = limits();
        l.junction_deviation = 0.02;
        let mut s = Simulator::new(l);
        for i in 1..=10_000 {
            s.move_to(
                [i as f64 * 0.01, 0.0, 0.0, 0.0],
                100.0,
                MoveKind::Travel,
                None,
            );
        }
        let t = s.flush();
        let one = trapezoid_time(100.0, 0.0, 0.0, 100.0, 1000.0);
        assert!((t - one).abs() / one < 1e-6, "{t} vs {one}");
    }

    #[test]
    fn retraction_is_limited_by_the_extruder() {
        let mut l = limits();
        l.max_feedrate[3] = 40.0;
        let mut s = Simulator::new(l);
        s.move_to([0.0, 0.0, 0.0, -5.0], 70.0, MoveKind::Retract, None);
        let t = s.flush();
        let expected = trapezoid_time(5.0, 0.0, 0.0, 40.0, 1000.0);
        assert!((t - expected).abs() < 1e-12);
    }

    #[test]
    fn classic_jerk_allows_the_jerk_at_a_right_angle() {
        let mut l = limits();
        l.jerk = [10.0, 10.0, 0.4, 5.0];
        let mut s = Simulator::new(l);
        s.move_to([100.0, 0.0, 0.0, 0.0], 100.0, MoveKind::Travel, None);
        s.move_to([100.0, 100.0, 0.0, 0.0], 100.0, MoveKind::Travel, None);
        let t = s.flush();
        // At the corner X drops from v to 0 and Y rises from 0 to v: each change must be
        // within 10 mm/s, so the junction speed is 10 (and the start/end safe speed too).
        let expected = trapezoid_time(100.0, 10.0, 10.0, 100.0, 1000.0) * 2.0;
        assert!((t - expected).abs() < 1e-9, "{t} vs {expected}");
    }
}
