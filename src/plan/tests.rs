//! The planner against hand-made layers.

use super::*;
use crate::geom::{Polygon, Polyline};

fn params() -> PlanParams {
    let mut p = PlanParams::default();
    p.skirt.0 = 0;
    p.brim = (0.0, false);
    p.seam = SeamPosition::Rear;
    p
}

fn square_island(x: f64, y: f64, size: f64) -> IslandPaths {
    let sq = Polygon::rectangle(scaled(x), scaled(y), scaled(x + size), scaled(y + size));
    let inner = Polygon::rectangle(
        scaled(x + 0.225),
        scaled(y + 0.225),
        scaled(x + size - 0.225),
        scaled(y + size - 0.225),
    );
    IslandPaths {
        boundary: ExPolygon::new(sq),
        tool: 0,
        perimeters: vec![ExtrusionPath::from_loop(
            Role::ExternalPerimeter,
            inner,
            0.45,
            0.2,
        )],
        thin: vec![],
        infill: vec![ExtrusionPath::open(
            Role::InternalInfill,
            Polyline::new(vec![
                Point::from_mm(x + 1.0, y + size / 2.0),
                Point::from_mm(x + size - 1.0, y + size / 2.0),
            ]),
            0.45,
            0.2,
        )],
    }
}

fn layer(index: usize, islands: Vec<IslandPaths>) -> LayerRegions {
    LayerRegions {
        index,
        z: 0.2 * (index + 1) as f64,
        height: 0.2,
        islands,
        support: vec![],
    }
}

fn extruded_mm(plan: &LayerPlan) -> f64 {
    plan.steps
        .iter()
        .map(|s| match s {
            Step::Extrude { points, .. } => {
                points.windows(2).map(|w| w[0].distance(w[1])).sum::<f64>() / geom::SCALE
            }
            _ => 0.0,
        })
        .sum()
}

#[test]
fn islands_in_nearest_order_and_nothing_lost() {
    let far = square_island(100.0, 100.0, 10.0);
    let near = square_island(5.0, 5.0, 10.0);
    let l = layer(3, vec![far, near]);
    let expected: f64 = l
        .islands
        .iter()
        .flat_map(|i| i.perimeters.iter().chain(&i.infill))
        .map(ExtrusionPath::length_mm)
        .sum();
    let plan = &plan_layers(&[l], &params())[0];
    let first = plan
        .steps
        .iter()
        .find_map(|s| match s {
            Step::Extrude { points, .. } => Some(points[0]),
            _ => None,
        })
        .unwrap();
    assert!(first.x < scaled(50.0), "the near island comes first");
    assert!((extruded_mm(plan) - expected).abs() < 1e-6);
}

#[test]
fn travel_between_islands_retracts_and_lifts() {
    let mut p = params();
    p.z_hop = 0.4;
    let plan = &plan_layers(
        &[layer(
            2,
            vec![
                square_island(0.0, 0.0, 10.0),
                square_island(50.0, 0.0, 10.0),
            ],
        )],
        &p,
    )[0];
    let retracted: Vec<&Step> = plan
        .steps
        .iter()
        .filter(|s| matches!(s, Step::Travel { retract: true, .. }))
        .collect();
    assert!(!retracted.is_empty());
    assert!(
        retracted
            .iter()
            .all(|s| matches!(s, Step::Travel { lift: true, .. }))
    );
}

#[test]
fn combing_goes_around_a_hole_without_retracting() {
    // A ring-shaped island; the infill lies on both sides of the hole.
    let mut hole = Polygon::rectangle(scaled(8.0), scaled(2.0), scaled(12.0), scaled(18.0));
    hole.reverse();
    let boundary = ExPolygon {
        contour: Polygon::rectangle(0, 0, scaled(20.0), scaled(20.0)),
        holes: vec![hole],
    };
    let line = |x: f64| {
        ExtrusionPath::open(
            Role::InternalInfill,
            Polyline::new(vec![Point::from_mm(x, 5.0), Point::from_mm(x, 15.0)]),
            0.45,
            0.2,
        )
    };
    let island = IslandPaths {
        boundary: boundary.clone(),
        tool: 0,
        perimeters: vec![],
        thin: vec![],
        infill: vec![line(3.0), line(17.0)],
    };
    let plan = &plan_layers(&[layer(1, vec![island])], &params())[0];
    let mut at: Option<Point> = None;
    let mut combed = 0;
    for s in &plan.steps {
        match s {
            Step::Travel { to, retract, .. } => {
                if let Some(a) = at {
                    assert!(!retract, "travel inside the island needs no retraction");
                    let mid = a.lerp(*to, 0.5);
                    let grown =
                        geom::offset(std::slice::from_ref(&boundary), 10.0, JoinType::Miter);
                    assert!(
                        grown.iter().any(|e| e.contains(mid)),
                        "travel left the part at {mid:?}"
                    );
                    combed += 1;
                }
                at = Some(*to);
            }
            Step::Extrude { points, .. } => at = points.last().copied(),
            _ => {}
        }
    }
    assert!(combed >= 2, "{combed}");
}

#[test]
fn rear_seams_and_loop_rotation() {
    let island = square_island(0.0, 0.0, 10.0);
    let original = island.perimeters[0].points.clone();
    let plan = &plan_layers(&[layer(5, vec![island])], &params())[0];
    let pts = plan
        .steps
        .iter()
        .find_map(|s| match s {
            Step::Extrude {
                role: Role::ExternalPerimeter,
                points,
                ..
            } => Some(points.clone()),
            _ => None,
        })
        .unwrap();
    assert_eq!(pts[0].y, scaled(9.775));
    assert_eq!(pts.first(), pts.last());
    // Same points, same direction, rotated.
    let n = original.len();
    let start = original.iter().position(|p| *p == pts[0]).unwrap();
    for k in 0..n {
        assert_eq!(pts[k], original[(start + k) % n]);
    }
}

#[test]
fn aligned_seams_stack() {
    let mut p = params();
    p.seam = SeamPosition::Aligned;
    let circle = |_: usize| {
        let c = Polygon::circle(Point::from_mm(50.0, 50.0), scaled(10.0), 180);
        IslandPaths {
            boundary: ExPolygon::new(Polygon::circle(
                Point::from_mm(50.0, 50.0),
                scaled(10.3),
                180,
            )),
            tool: 0,
            perimeters: vec![ExtrusionPath::from_loop(
                Role::ExternalPerimeter,
                c,
                0.45,
                0.2,
            )],
            thin: vec![],
            infill: vec![],
        }
    };
    let layers: Vec<LayerRegions> = (0..6).map(|i| layer(i, vec![circle(i)])).collect();
    let plans = plan_layers(&layers, &p);
    let seams: Vec<Point> = plans
        .iter()
        .map(|pl| {
            pl.steps
                .iter()
                .find_map(|s| match s {
                    Step::Extrude { points, .. } => Some(points[0]),
                    _ => None,
                })
                .unwrap()
        })
        .collect();
    for s in &seams[1..] {
        assert!(s.distance(seams[1]) < scaled(0.5) as f64, "{seams:?}");
    }
}

#[test]
fn short_layer_is_slowed_and_fan_rules_hold() {
    let mut p = params();
    p.cooling = vec![Cooling {
        fan_min: 35.0,
        fan_max: 100.0,
        bridge_fan: 100.0,
        disable_first_layers: 1,
        fan_below_layer_time: 60.0,
        min_layer_time: 10.0,
        min_print_speed: 1.0,
    }];
    let tiny = |i| layer(i, vec![square_island(0.0, 0.0, 5.0)]);
    let plans = plan_layers(&[tiny(0), tiny(1)], &p);
    assert_eq!(plans[0].steps[0], Step::Fan(0));
    assert_eq!(plans[1].steps[0], Step::Fan(100));
    let t = rough_time(&plans[1]);
    assert!(
        (t - 10.0).abs() < 1.0,
        "slowed to about the minimum layer time: {t}"
    );
}

#[test]
fn skirt_and_auto_brim_on_the_first_layer() {
    let mut p = params();
    p.skirt = (1, 3.0, 1, 0.0);
    p.brim = (0.0, true);
    let small = |_| {
        let c = Polygon::circle(Point::from_mm(50.0, 50.0), scaled(3.0), 64);
        IslandPaths {
            boundary: ExPolygon::new(c.clone()),
            tool: 0,
            perimeters: vec![],
            thin: vec![],
            infill: vec![],
        }
    };
    let layers: Vec<LayerRegions> = (0..100).map(|i| layer(i, vec![small(i)])).collect();
    let plans = plan_layers(&layers, &p);
    let brims = plans[0]
        .steps
        .iter()
        .filter(|s| {
            matches!(
                s,
                Step::Extrude {
                    role: Role::SkirtBrim,
                    ..
                }
            )
        })
        .count();
    assert!(brims > 5, "{brims}");
    assert!(!plans[1].steps.iter().any(|s| matches!(
        s,
        Step::Extrude {
            role: Role::SkirtBrim,
            ..
        }
    )));
}
