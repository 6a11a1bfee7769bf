//! Cooling: slow down layers that print too fast to cool, and set the fan per layer
//! (off on the first layers, more on short layers, bridge fan over air).
//!
//! Layer time here is the extrusion length over speed, summed: rough (no acceleration,
//! no travel), as the decision needs; the G-code writer's estimate is the precise one.

use crate::geom;

use super::params::{Cooling, PlanParams, is_bridging};
use super::{LayerPlan, Step};

/// Bisection steps when solving for the slowdown factor (far below 1e-9 relative).
const SLOWDOWN_ITERATIONS: usize = 64;

/// Extrusion time of `steps`, s: length over speed, summed.
///
/// ```
/// use lamina::geom::Point;
/// use lamina::path::Role;
/// use lamina::plan::{extrusion_time, Step};
/// let line = Step::Extrude { role: Role::Perimeter, points: vec![Point::from_mm(0.0, 0.0), Point::from_mm(10.0, 0.0)],
///                            width: 0.45, height: 0.2, speed: 20.0, flow: 1.0 };
/// assert!((extrusion_time(&[line]) - 0.5).abs() < 1e-12);
/// ```
pub fn extrusion_time(steps: &[Step]) -> f64 {
    steps
        .iter()
        .map(|s| match s {
            Step::Extrude { points, speed, .. } if *speed > 0.0 => polyline_mm(points) / speed,
            _ => 0.0,
        })
        .sum()
}

fn polyline_mm(points: &[geom::Point]) -> f64 {
    points.windows(2).map(|w| w[0].distance(w[1])).sum::<f64>() / geom::SCALE
}

/// The fan for a layer that takes `layer_time` s to extrude, %.
pub fn layer_fan(c: &Cooling, layer: usize, layer_time: f64) -> u8 {
    let fan = if layer < c.disable_fan_first_layers {
        0.0
    } else if c.slowdown_below_layer_time > 0.0 && layer_time < c.slowdown_below_layer_time {
        c.max_fan
    } else if layer_time < c.fan_below_layer_time {
        let lo = c.slowdown_below_layer_time.min(c.fan_below_layer_time);
        let span = (c.fan_below_layer_time - lo).max(1e-9);
        let t = ((layer_time - lo) / span).clamp(0.0, 1.0);
        c.max_fan + (c.min_fan - c.max_fan) * t
    } else {
        c.min_fan
    };
    fan.round().clamp(0.0, 100.0) as u8
}

/// Slow the extrusions of `plan` so they take at least `min_time` s: every speed is
/// scaled by one factor, none below `min_speed` (nor raised when already slower);
/// returns the factor.
pub fn slow_down(plan: &mut LayerPlan, min_time: f64, min_speed: impl Fn(usize) -> f64) -> f64 {
    // (length mm, speed, floor) per extrusion, with its tool.
    let mut items: Vec<(f64, f64, f64)> = Vec::new();
    let mut tool = usize::MAX;
    for s in &plan.steps {
        match s {
            Step::ToolChange { tool: t } => tool = *t,
            Step::Extrude { points, speed, .. } if *speed > 0.0 => {
                let floor = min_speed(tool).min(*speed);
                items.push((polyline_mm(points), *speed, floor));
            }
            _ => {}
        }
    }
    let time = |f: f64| -> f64 { items.iter().map(|(l, v, m)| l / (v * f).max(*m)).sum() };
    if items.is_empty() || time(1.0) >= min_time {
        return 1.0;
    }
    let (mut lo, mut hi) = (0.0f64, 1.0f64);
    for _ in 0..SLOWDOWN_ITERATIONS {
        let mid = 0.5 * (lo + hi);
        if time(mid) < min_time {
            hi = mid;
        } else {
            lo = mid;
        }
    }
    let f = lo;
    let mut tool = usize::MAX;
    for s in &mut plan.steps {
        match s {
            Step::ToolChange { tool: t } => tool = *t,
            Step::Extrude { speed, .. } if *speed > 0.0 => {
                let floor = min_speed(tool).min(*speed);
                *speed = (*speed * f).max(floor);
            }
            _ => {}
        }
    }
    f
}

/// Apply cooling to one planned layer: slow it down when short and insert the fan
/// steps (layer fan at the start and after tool changes, bridge fan around bridging
/// extrusions). `tool` is the tool active when the layer starts; `fan` the fan state
/// carried from layer to layer (`None` before the first).
pub fn apply_cooling(plan: &mut LayerPlan, params: &PlanParams, tool: usize, fan: &mut Option<u8>) {
    let layer_time = extrusion_time(&plan.steps);
    // The strictest minimum layer time among the layer's tools.
    let mut tools = vec![tool];
    tools.extend(plan.steps.iter().filter_map(|s| match s {
        Step::ToolChange { tool } => Some(*tool),
        _ => None,
    }));
    let min_time = tools
        .iter()
        .map(|t| params.tool(*t).cooling.slowdown_below_layer_time)
        .fold(0.0, f64::max);
    if min_time > 0.0 {
        slow_down(plan, min_time, |t| {
            params
                .tool(if t == usize::MAX { tool } else { t })
                .cooling
                .min_print_speed
        });
    }

    let index = plan.index;
    let fans = |t: usize| {
        let c = &params.tool(t).cooling;
        let base = layer_fan(c, index, layer_time);
        let bridge = if index < c.disable_fan_first_layers {
            0
        } else {
            c.bridge_fan.round().clamp(0.0, 100.0) as u8
        };
        (base, bridge)
    };
    let mut out = Vec::with_capacity(plan.steps.len() + 4);
    let set = |out: &mut Vec<Step>, v: u8, fan: &mut Option<u8>| {
        if *fan != Some(v) {
            out.push(Step::Fan(v));
            *fan = Some(v);
        }
    };
    let (mut base, mut bridge) = fans(tool);
    set(&mut out, base, fan);
    for s in std::mem::take(&mut plan.steps) {
        match &s {
            Step::ToolChange { tool } => {
                (base, bridge) = fans(*tool);
                out.push(s);
                set(&mut out, base, fan);
                continue;
            }
            Step::Extrude { role, .. } => {
                let want = if is_bridging(*role) { bridge } else { base };
                set(&mut out, want, fan);
            }
            _ => {}
        }
        out.push(s);
    }
    plan.steps = out;
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::geom::Point;
    use crate::path::Role;

    fn line(len: f64, speed: f64, role: Role) -> Step {
        Step::Extrude {
            role,
            points: vec![Point::from_mm(0.0, 0.0), Point::from_mm(len, 0.0)],
            width: 0.45,
            height: 0.2,
            speed,
            flow: 1.0,
        }
    }

    #[test]
    fn fan_between_the_layer_times() {
        let c = Cooling {
            min_fan: 40.0,
            max_fan: 100.0,
            bridge_fan: 100.0,
            disable_fan_first_layers: 2,
            fan_below_layer_time: 60.0,
            slowdown_below_layer_time: 10.0,
            min_print_speed: 10.0,
        };
        assert_eq!(layer_fan(&c, 1, 5.0), 0);
        assert_eq!(layer_fan(&c, 2, 5.0), 100);
        assert_eq!(layer_fan(&c, 2, 35.0), 70);
        assert_eq!(layer_fan(&c, 2, 100.0), 40);
    }

    #[test]
    fn slowdown_stretches_to_the_minimum_time_respecting_the_floor() {
        // 10 mm at 50 mm/s and 100 mm at 100 mm/s: 1.2 s. To last 10 s, one factor
        // would give 6 and 12 mm/s; with a floor of 8 mm/s the first line takes
        // 1.25 s at the floor, so the second takes 8.75 s: 100 / 8.75 mm/s.
        let mut plan = LayerPlan {
            index: 3,
            z: 0.8,
            height: 0.2,
            steps: vec![
                line(10.0, 50.0, Role::Perimeter),
                line(100.0, 100.0, Role::InternalInfill),
            ],
        };
        slow_down(&mut plan, 10.0, |_| 8.0);
        let speeds: Vec<f64> = plan
            .steps
            .iter()
            .filter_map(|s| match s {
                Step::Extrude { speed, .. } => Some(*speed),
                _ => None,
            })
            .collect();
        assert!((speeds[0] - 8.0).abs() < 1e-6, "{speeds:?}");
        assert!((speeds[1] - 100.0 / 8.75).abs() < 1e-6, "{speeds:?}");
        assert!((extrusion_time(&plan.steps) - 10.0).abs() < 1e-6);
    }

    #[test]
    fn bridge_fan_around_bridges_only() {
        let mut params = PlanParams::default();
        params.tools[0].cooling = Cooling {
            min_fan: 30.0,
            max_fan: 30.0,
            bridge_fan: 90.0,
            disable_fan_first_layers: 1,
            fan_below_layer_time: 0.0,
            slowdown_below_layer_time: 0.0,
            min_print_speed: 10.0,
        };
        let steps = vec![
            line(10.0, 50.0, Role::Perimeter),
            line(10.0, 50.0, Role::BridgeInfill),
            line(10.0, 50.0, Role::BridgeInfill),
            line(10.0, 50.0, Role::SolidInfill),
        ];
        let mut plan = LayerPlan {
            index: 5,
            z: 1.2,
            height: 0.2,
            steps: steps.clone(),
        };
        let mut fan = None;
        apply_cooling(&mut plan, &params, 0, &mut fan);
        let fans: Vec<(usize, u8)> = plan
            .steps
            .iter()
            .enumerate()
            .filter_map(|(i, s)| match s {
                Step::Fan(v) => Some((i, *v)),
                _ => None,
            })
            .collect();
        assert_eq!(fans, vec![(0, 30), (2, 90), (5, 30)]);
        // On the first layer: no fan at all, bridges included.
        let mut first = LayerPlan {
            index: 0,
            z: 0.2,
            height: 0.2,
            steps,
        };
        let mut fan = None;
        apply_cooling(&mut first, &params, 0, &mut fan);
        assert!(
            first
                .steps
                .iter()
                .all(|s| !matches!(s, Step::Fan(v) if *v > 0))
        );
    }
}
