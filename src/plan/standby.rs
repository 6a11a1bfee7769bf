//! Idle tools on multi-tool prints: an idle nozzle drops to its standby temperature
//! (PVA cooks and clogs if it sits hot), is preheated in time for its next use (from the
//! estimated time until it is needed), and the change to it waits until it is at
//! temperature. A tool that is not needed again is turned off.
//!
//! Runs over the finished layer plans, with times from path lengths and speeds (the
//! same plan the estimator later simulates in full, close enough to choose when to start
//! heating).

use super::{LayerPlan, Step};
use crate::geom::{Point, SCALE};

/// Temperatures of idle tools.
#[derive(Debug, Clone, PartialEq)]
pub struct Standby {
    /// Standby temperature per tool, °C.
    pub idle: Vec<f64>,
    /// Print temperature per tool on the first layer and after it, °C.
    pub print: Vec<(f64, f64)>,
    /// Start reheating this long before the tool is needed, s.
    pub preheat_time: f64,
    /// Time a tool change takes, s.
    pub toolchange_time: f64,
}

/// An idle spell shorter than the preheat time plus this is not worth cooling for, s.
const MIN_COOL_SPELL: f64 = 20.0;

/// Where a step sits: layer and step index.
type At = (usize, usize);

/// An idle spell of a tool: where and when it starts, and its next use (if any).
type Spell = (At, f64, Option<(At, f64)>);

/// Add standby, preheat and wait-for-temperature steps for every tool that goes idle,
/// and drop the planner's own temperature changes for tools sitting at standby.
pub fn manage(plans: &mut [LayerPlan], s: &Standby) {
    let tools = s.idle.len();
    if tools < 2 {
        return;
    }
    // Time at the start of every step, and the tool changes.
    let mut t = 0.0;
    let mut pos: Option<Point> = None;
    let mut changes: Vec<(At, f64, usize, usize)> = Vec::new();
    let mut active = 0usize;
    let mut times: Vec<Vec<f64>> = Vec::with_capacity(plans.len());
    for (li, plan) in plans.iter().enumerate() {
        let mut row = Vec::with_capacity(plan.steps.len());
        for (si, step) in plan.steps.iter().enumerate() {
            row.push(t);
            t += step_time(step, &mut pos, s);
            if let Step::ToolChange { tool } = step {
                if *tool != active {
                    changes.push(((li, si), row[si], active, *tool));
                    active = *tool;
                }
            }
        }
        times.push(row);
    }
    if changes.is_empty() {
        return;
    }
    // Insertions: (position, kind, step); kind 0 puts the tool at standby (or off), 1
    // preheats it, 2 waits for it; at one position they go in that order.
    let mut inserts: Vec<(At, u8, Step)> = Vec::new();
    let target = |tool: usize, layer: usize| {
        let (first, rest) = s.print.get(tool).copied().unwrap_or((0.0, 0.0));
        if layer == 0 { first } else { rest }
    };
    // Position of the first step starting at or after time `when`.
    let at_time = |when: f64| -> At {
        for (li, row) in times.iter().enumerate() {
            if let Some(si) = row.iter().position(|&x| x >= when) {
                return (li, si);
            }
        }
        (plans.len().saturating_sub(1), usize::MAX)
    };
    for tool in 0..tools {
        // Idle spells: (start position, start time, next use).
        let mut spells: Vec<Spell> = Vec::new();
        let mut idle_since: Option<(At, f64)> = (tool != 0).then_some(((0, 0), 0.0));
        for &((li, si), time, from, to) in &changes {
            if to == tool {
                if let Some(start) = idle_since.take() {
                    spells.push((start.0, start.1, Some(((li, si), time))));
                }
            } else if from == tool {
                idle_since = Some(((li, si + 1), time));
            }
        }
        if let Some(start) = idle_since {
            spells.push((start.0, start.1, None));
        }
        for (start, since, next) in spells {
            match next {
                None => {
                    // Not needed again: off.
                    inserts.push((start, 0, temperature(tool, 0.0, false)));
                }
                Some((use_at, when)) => {
                    let hot = target(tool, use_at.0);
                    if hot <= 0.0 {
                        continue;
                    }
                    let idle = s.idle.get(tool).copied().unwrap_or(0.0);
                    if idle > 0.0 && when - since > s.preheat_time + MIN_COOL_SPELL {
                        inserts.push((start, 0, temperature(tool, idle, false)));
                        let heat_at = at_time(when - s.preheat_time);
                        inserts.push((heat_at, 1, temperature(tool, hot, false)));
                    } else if since == 0.0 && tool != 0 {
                        // Needed early: start heating at once.
                        inserts.push((start, 1, temperature(tool, hot, false)));
                    }
                    // Never extrude cold: right after the change (the old tool
                    // retracted and set to standby), wait for the temperature.
                    inserts.push(((use_at.0, use_at.1 + 1), 2, temperature(tool, hot, true)));
                }
            }
        }
    }
    apply(plans, inserts, tools);
}

fn temperature(tool: usize, celsius: f64, wait: bool) -> Step {
    Step::Temperature {
        tool,
        celsius,
        wait,
    }
}

/// Insert the steps, and drop the planner's own (non-waiting) temperature changes for
/// a tool while it stands by, so they do not heat it early.
fn apply(plans: &mut [LayerPlan], mut inserts: Vec<(At, u8, Step)>, tools: usize) {
    inserts.sort_by_key(|(at, order, _)| (*at, *order));
    let mut standing_by = vec![false; tools];
    let mut next = inserts.into_iter().peekable();
    for (li, plan) in plans.iter_mut().enumerate() {
        let old = std::mem::take(&mut plan.steps);
        let mut out = Vec::with_capacity(old.len() + 4);
        let mut push_inserts = |si: usize, out: &mut Vec<Step>, standing_by: &mut Vec<bool>| {
            while let Some(((l, s), _, _)) = next.peek() {
                if *l < li || (*l == li && *s <= si) {
                    let (_, order, step) = next.next().expect("peeked");
                    let order = &order;
                    if let Step::Temperature { tool, wait, .. } = &step {
                        if let Some(b) = standing_by.get_mut(*tool) {
                            // Standby (or off) until the preheat or the change sets the
                            // print temperature again.
                            *b = *order == 0 && !*wait;
                        }
                    }
                    out.push(step);
                } else {
                    break;
                }
            }
        };
        for (si, step) in old.into_iter().enumerate() {
            push_inserts(si, &mut out, &mut standing_by);
            if let Step::Temperature {
                tool, wait: false, ..
            } = &step
            {
                if standing_by.get(*tool).copied().unwrap_or(false) {
                    continue;
                }
            }
            out.push(step);
        }
        push_inserts(usize::MAX - 1, &mut out, &mut standing_by);
        plan.steps = out;
    }
    // Anything left (past the end) goes on the last layer.
    if let Some(last) = plans.last_mut() {
        last.steps.extend(next.map(|(_, _, s)| s));
    }
}

/// Seconds a step takes (lengths over speeds; a tool change its fixed time).
fn step_time(step: &Step, pos: &mut Option<Point>, s: &Standby) -> f64 {
    let dist = |a: Point, b: Point| a.distance(b) / SCALE;
    match step {
        Step::Travel { to, speed, .. } => {
            let d = pos.map_or(0.0, |p| dist(p, *to));
            *pos = Some(*to);
            d / speed.max(1.0)
        }
        Step::Extrude { points, speed, .. } | Step::Wipe { points, speed } => {
            let mut d = 0.0;
            let mut prev = *pos;
            for &p in points {
                if let Some(q) = prev {
                    d += dist(q, p);
                }
                prev = Some(p);
            }
            *pos = prev;
            d / speed.max(1.0)
        }
        Step::ToolChange { .. } => s.toolchange_time,
        _ => 0.0,
    }
}
