//! The planner against layers with known answers: islands built with the real wall
//! and fill generators, or by hand where the geometry must be exact.

use super::*;
use crate::fill::{FillParams, FillPattern, fill};
use crate::geom::{self, ExPolygon, Polygon, Polyline, scaled};
use crate::layer::perimeters::{PerimeterParams, perimeters};
use crate::layer::{IslandPaths, LayerRegions};
use crate::path::{ExtrusionPath, Role};

const W: f64 = 0.45;
const H: f64 = 0.2;

/// No skirt, no brim, no cooling slowdown, rear seams: each test turns on what it checks.
fn params() -> PlanParams {
    let mut p = PlanParams::default();
    p.skirt.loops = 0;
    p.brim.auto = false;
    p.seam = SeamPosition::Rear;
    p.tools[0].cooling.slowdown_below_layer_time = 0.0;
    p
}

/// An island with real walls (`loops` of them, contours CCW, holes CW) and sparse
/// infill lines, as the layer stage makes them.
fn island(boundary: ExPolygon, loops: usize) -> IslandPaths {
    let walls = perimeters(
        &boundary,
        &PerimeterParams {
            loops,
            ext_width: W,
            width: W,
            height: H,
            nozzle: 0.4,
            thin_walls: true,
            gap_fill: true,
            gap_fill_min_width: 0.1,
        },
    );
    let perims = walls
        .loops
        .iter()
        .map(|l| {
            let role = if l.depth == 0 {
                Role::ExternalPerimeter
            } else {
                Role::Perimeter
            };
            ExtrusionPath::from_loop(role, l.polygon.clone(), l.width, H)
        })
        .collect();
    let lines = fill(
        &walls.inner_area,
        &FillParams {
            pattern: FillPattern::Lines,
            density: 0.2,
            spacing: W,
            angle: 45.0,
            layer: 0,
            z: 1.0,
            connect: false,
        },
    );
    IslandPaths {
        boundary,
        tool: 0,
        object: 0,
        perimeters: perims,
        thin: walls.thin_walls.into_iter().chain(walls.gap_fill).collect(),
        infill: lines
            .into_iter()
            .map(|l| ExtrusionPath::open(Role::InternalInfill, l, W, H))
            .collect(),
    }
}

fn square(x: f64, y: f64, size: f64) -> ExPolygon {
    ExPolygon::new(Polygon::rectangle(
        scaled(x),
        scaled(y),
        scaled(x + size),
        scaled(y + size),
    ))
}

/// A square plate with a slot-shaped hole in the middle.
fn plate_with_slot() -> ExPolygon {
    let mut hole = Polygon::rectangle(scaled(8.0), scaled(2.0), scaled(12.0), scaled(18.0));
    hole.reverse();
    ExPolygon {
        contour: Polygon::rectangle(0, 0, scaled(20.0), scaled(20.0)),
        holes: vec![hole],
    }
}

fn layer(index: usize, islands: Vec<IslandPaths>) -> LayerRegions {
    LayerRegions {
        index,
        z: H * (index + 1) as f64,
        height: H,
        islands,
        support: vec![],
        support_areas: Vec::new(),
    }
}

/// Every extrusion: (role, points, width, height, speed, flow).
fn extrusions(plan: &LayerPlan) -> Vec<(Role, &Vec<Point>, f64, f64, f64)> {
    plan.steps
        .iter()
        .filter_map(|s| match s {
            Step::Extrude {
                role,
                points,
                width,
                height,
                speed,
                ..
            } => Some((*role, points, *width, *height, *speed)),
            _ => None,
        })
        .collect()
}

fn mm(points: &[Point]) -> f64 {
    points.windows(2).map(|w| w[0].distance(w[1])).sum::<f64>() / geom::SCALE
}

/// The nozzle's path through a plan: each travel or extrusion as (from, points).
fn check_continuity(plan: &LayerPlan) {
    let mut at: Option<Point> = None;
    for s in &plan.steps {
        match s {
            Step::Travel { to, .. } => at = Some(*to),
            Step::Extrude { points, .. } | Step::Wipe { points, .. } => {
                if let Some(a) = at {
                    assert_eq!(points[0], a, "a move starts where the nozzle is");
                }
                at = points.last().copied();
            }
            _ => {}
        }
    }
}

#[test]
fn two_islands_in_nearest_order_then_back_on_the_next_layer() {
    let near = island(square(5.0, 5.0, 10.0), 2);
    let far = island(square(100.0, 5.0, 10.0), 2);
    let layers = vec![
        layer(3, vec![far.clone(), near.clone()]),
        layer(4, vec![near, far]),
    ];
    let plans = plan_layers(&layers, &params());
    let first_x = |plan: &LayerPlan| extrusions(plan)[0].1[0].x;
    let last_x = |plan: &LayerPlan| {
        extrusions(plan)
            .last()
            .map(|e| e.1.last().unwrap().x)
            .unwrap()
    };
    // From the origin the near island comes first; the next layer starts where the
    // previous one ended: at the far island.
    assert!(first_x(&plans[0]) < scaled(20.0));
    assert!(last_x(&plans[0]) > scaled(90.0));
    assert!(first_x(&plans[1]) > scaled(90.0));
    // Each island is printed in one go: one long travel between them per layer.
    for plan in &plans {
        let long = plan
            .steps
            .iter()
            .filter(|s| matches!(s, Step::Travel { retract: true, .. }))
            .count();
        assert!(long <= 2, "{long}");
        check_continuity(plan);
    }
}

#[test]
fn travel_across_a_hole_combs_around_it_inside_the_island_without_retracting() {
    let boundary = plate_with_slot();
    // Infill lines on both sides of the slot only (so every link crosses it or
    // stays on one side), no walls, so only combing decides.
    let line = |x: f64| {
        ExtrusionPath::open(
            Role::InternalInfill,
            Polyline::new(vec![Point::from_mm(x, 5.0), Point::from_mm(x, 15.0)]),
            W,
            H,
        )
    };
    let isl = IslandPaths {
        boundary: boundary.clone(),
        tool: 0,
        object: 0,
        perimeters: vec![],
        thin: vec![],
        infill: vec![line(3.0), line(17.0), line(4.0), line(16.0)],
    };
    let plan = &plan_layers(&[layer(2, vec![isl])], &params())[0];
    let mut at: Option<Point> = None;
    let mut crossing = 0;
    for s in &plan.steps {
        match s {
            Step::Travel { to, retract, .. } => {
                if let Some(a) = at {
                    assert!(!retract, "travel inside the island needs no retraction");
                    // Every point of the segment (sampled every 0.05 mm) is inside.
                    let n = (a.distance(*to) / scaled(0.05) as f64).ceil() as usize + 1;
                    for k in 0..=n {
                        let p = a.lerp(*to, k as f64 / n as f64);
                        assert!(boundary.contains(p), "travel leaves the part at {p:?}");
                    }
                    if (a.x < scaled(10.0)) != (to.x < scaled(10.0)) {
                        crossing += 1;
                    }
                }
                at = Some(*to);
            }
            Step::Extrude { points, .. } => at = points.last().copied(),
            _ => {}
        }
    }
    assert!(
        crossing >= 1,
        "some travel went from one side of the slot to the other"
    );
    check_continuity(plan);
}

#[test]
fn walls_and_infill_of_a_plate_with_a_hole_need_no_retraction() {
    // Real walls round the plate and its slot, real infill: every travel inside the
    // island stays inside it and none retracts.
    let boundary = plate_with_slot();
    let isl = island(boundary.clone(), 2);
    assert!(isl.perimeters.len() >= 4 && isl.infill.len() > 10);
    let plan = &plan_layers(&[layer(2, vec![isl])], &params())[0];
    let mut at: Option<Point> = None;
    for s in &plan.steps {
        match s {
            Step::Travel { to, retract, .. } => {
                if let Some(a) = at {
                    assert!(!retract);
                    for k in 0..=20 {
                        assert!(boundary.contains(a.lerp(*to, k as f64 / 20.0)));
                    }
                }
                at = Some(*to);
            }
            Step::Extrude { points, .. } => at = points.last().copied(),
            _ => {}
        }
    }
}

#[test]
fn travel_between_islands_retracts_and_lifts_with_z_hop() {
    let mut p = params();
    p.retract.z_hop = 0.4;
    let layers = vec![layer(
        2,
        vec![
            island(square(0.0, 0.0, 10.0), 2),
            island(square(50.0, 0.0, 10.0), 2),
        ],
    )];
    let plan = &plan_layers(&layers, &p)[0];
    // The travel from the first island to the second is long and leaves the island.
    let mut at: Option<Point> = None;
    let mut between = 0;
    for s in &plan.steps {
        match s {
            Step::Travel {
                to, retract, lift, ..
            } => {
                if let Some(a) = at {
                    if (a.x < scaled(25.0)) != (to.x < scaled(25.0)) {
                        between += 1;
                        assert!(*retract && *lift);
                    }
                    if *retract {
                        assert!(*lift);
                    }
                }
                at = Some(*to);
            }
            Step::Extrude { points, .. } => at = points.last().copied(),
            _ => {}
        }
    }
    assert_eq!(between, 1);
    // Without z-hop: retract, no lift.
    let plan = &plan_layers(&layers, &params())[0];
    assert!(plan.steps.iter().any(|s| matches!(
        s,
        Step::Travel {
            retract: true,
            lift: false,
            ..
        }
    )));
    assert!(
        !plan
            .steps
            .iter()
            .any(|s| matches!(s, Step::Travel { lift: true, .. }))
    );
}

#[test]
fn short_hops_between_islands_do_not_retract() {
    // Two islands 1 mm apart: the link is shorter than the minimum travel.
    let layers = vec![layer(
        2,
        vec![
            island(square(0.0, 0.0, 10.0), 1),
            island(square(10.5, 0.0, 10.0), 1),
        ],
    )];
    let mut p = params();
    p.retract.min_travel = 5.0;
    let plan = &plan_layers(&layers, &p)[0];
    let mut at: Option<Point> = None;
    for s in &plan.steps {
        match s {
            Step::Travel { to, retract, .. } => {
                if let Some(a) = at {
                    if a.distance(*to) < scaled(5.0) as f64 {
                        assert!(!retract);
                    }
                }
                at = Some(*to);
            }
            Step::Extrude { points, .. } => at = points.last().copied(),
            _ => {}
        }
    }
}

#[test]
fn rear_seams_start_every_loop_at_its_back() {
    let mut p = params();
    p.seam = SeamPosition::Rear;
    // A disc with a round hole: outer loops and hole loops.
    let mut hole = Polygon::circle(Point::from_mm(30.0, 30.0), scaled(4.0), 96);
    hole.reverse();
    let disc = ExPolygon {
        contour: Polygon::circle(Point::from_mm(30.0, 30.0), scaled(12.0), 180),
        holes: vec![hole],
    };
    let isl = island(disc, 3);
    let loops = isl.perimeters.clone();
    let plan = &plan_layers(&[layer(4, vec![isl])], &p)[0];
    let printed: Vec<&Vec<Point>> = extrusions(plan)
        .into_iter()
        .filter(|e| matches!(e.0, Role::ExternalPerimeter | Role::Perimeter))
        .map(|e| e.1)
        .collect();
    assert_eq!(printed.len(), loops.len());
    for pts in printed {
        let max_y = pts.iter().map(|q| q.y).max().unwrap();
        // Round loops have no concave corner: the seam is the rear-most vertex.
        assert_eq!(pts[0].y, max_y);
    }
}

#[test]
fn a_loop_is_rotated_but_not_otherwise_changed() {
    let isl = island(plate_with_slot(), 2);
    let originals = isl.perimeters.clone();
    let plan = &plan_layers(&[layer(4, vec![isl])], &params())[0];
    let printed: Vec<&Vec<Point>> = extrusions(plan)
        .into_iter()
        .filter(|e| matches!(e.0, Role::ExternalPerimeter | Role::Perimeter))
        .map(|e| e.1)
        .collect();
    assert_eq!(printed.len(), originals.len());
    for orig in &originals {
        let o = &orig.points;
        let n = o.len();
        // Find the printed loop with the same point set.
        let pts = printed
            .iter()
            .find(|p| p.len() == n + 1 && o.contains(&p[0]) && p[1..].iter().all(|q| o.contains(q)))
            .expect("every loop printed");
        assert_eq!(pts[0], pts[n], "closed");
        let start = o.iter().position(|q| *q == pts[0]).unwrap();
        for k in 0..n {
            assert_eq!(pts[k], o[(start + k) % n], "same direction, rotated");
        }
    }
}

#[test]
fn inner_walls_print_before_the_outer_one_unless_asked_otherwise() {
    let isl = island(square(0.0, 0.0, 20.0), 3);
    let order = |external_first: bool| {
        let mut p = params();
        p.external_perimeters_first = external_first;
        let plan = &plan_layers(&[layer(2, vec![isl.clone()])], &p)[0];
        extrusions(plan)
            .into_iter()
            .filter(|e| matches!(e.0, Role::ExternalPerimeter | Role::Perimeter))
            .map(|e| e.0)
            .collect::<Vec<_>>()
    };
    assert_eq!(
        order(false),
        vec![Role::Perimeter, Role::Perimeter, Role::ExternalPerimeter]
    );
    assert_eq!(
        order(true),
        vec![Role::ExternalPerimeter, Role::Perimeter, Role::Perimeter]
    );
}

#[test]
fn aligned_seams_of_a_stacked_cylinder_line_up() {
    let mut p = params();
    p.seam = SeamPosition::Aligned;
    // A cylinder whose outline is tessellated differently on every layer (rotated by a
    // few degrees): the seam must still stay in one place, near the previous one.
    let layers: Vec<LayerRegions> = (0..30)
        .map(|i| {
            let n = 120;
            let phase = (i as f64 * 1.37) % 3.0;
            let pts: Vec<Point> = (0..n)
                .map(|k| {
                    let a = (k as f64 * 3.0 + phase).to_radians();
                    Point::from_mm(40.0 + 10.0 * a.cos(), 40.0 + 10.0 * a.sin())
                })
                .collect();
            layer(i, vec![island(ExPolygon::new(Polygon::new(pts)), 2)])
        })
        .collect();
    let plans = plan_layers(&layers, &p);
    let seams: Vec<Point> = plans
        .iter()
        .map(|pl| {
            extrusions(pl)
                .into_iter()
                .find(|e| e.0 == Role::ExternalPerimeter)
                .unwrap()
                .1[0]
        })
        .collect();
    for s in &seams {
        assert!(
            s.distance(seams[0]) < scaled(0.6) as f64,
            "seams wander: {:?} vs {:?}",
            s.to_mm(),
            seams[0].to_mm()
        );
    }
}

#[test]
fn aligned_seams_hide_in_the_concave_corner_of_an_l() {
    let mut p = params();
    p.seam = SeamPosition::Aligned;
    let l = ExPolygon::new(Polygon::new(vec![
        Point::from_mm(0.0, 0.0),
        Point::from_mm(20.0, 0.0),
        Point::from_mm(20.0, 8.0),
        Point::from_mm(8.0, 8.0),
        Point::from_mm(8.0, 20.0),
        Point::from_mm(0.0, 20.0),
    ]));
    let layers: Vec<LayerRegions> = (0..5)
        .map(|i| layer(i, vec![island(l.clone(), 1)]))
        .collect();
    let plans = plan_layers(&layers, &p);
    // The rear is the top edge (y = 19.775), 12 mm from the corner: too far to hide
    // there on the first layer; every later layer follows the first.
    let seams: Vec<Point> = plans
        .iter()
        .map(|pl| {
            extrusions(pl)
                .into_iter()
                .find(|e| e.0 == Role::ExternalPerimeter)
                .unwrap()
                .1[0]
        })
        .collect();
    assert!(seams.iter().all(|s| *s == seams[0]), "{seams:?}");
    // With Rear on a notched back edge, the concave corner wins (see seam tests); with
    // the corner near the rear it is taken: a shorter L.
    let l2 = ExPolygon::new(Polygon::new(vec![
        Point::from_mm(0.0, 0.0),
        Point::from_mm(20.0, 0.0),
        Point::from_mm(20.0, 19.5),
        Point::from_mm(8.0, 19.5),
        Point::from_mm(8.0, 20.0),
        Point::from_mm(0.0, 20.0),
    ]));
    let plan = &plan_layers(&[layer(0, vec![island(l2, 1)])], &p)[0];
    let seam = extrusions(plan)
        .into_iter()
        .find(|e| e.0 == Role::ExternalPerimeter)
        .unwrap()
        .1[0];
    // The concave corner of the wall's centre line sits at (7.775, 19.275).
    assert!(
        seam.distance(Point::from_mm(7.775, 19.275)) < scaled(0.01) as f64,
        "{:?}",
        seam.to_mm()
    );
}

#[test]
fn every_extrusion_keeps_its_role_and_width_and_nothing_is_lost_or_doubled() {
    let mut islands = vec![
        island(plate_with_slot(), 2),
        island(square(30.0, 0.0, 8.0), 2),
        island(square(30.0, 20.0, 3.0), 1),
    ];
    // Variety: a top surface, a bridge, a thin wall of its own width.
    islands[1].infill.push(ExtrusionPath::open(
        Role::TopSolidInfill,
        Polyline::new(vec![Point::from_mm(31.0, 4.0), Point::from_mm(37.0, 4.0)]),
        0.42,
        H,
    ));
    islands[1].infill.push(ExtrusionPath::open(
        Role::BridgeInfill,
        Polyline::new(vec![Point::from_mm(31.0, 5.0), Point::from_mm(37.0, 5.0)]),
        0.5,
        0.3,
    ));
    islands[2].thin.push(ExtrusionPath::open(
        Role::GapFill,
        Polyline::new(vec![Point::from_mm(31.0, 21.5), Point::from_mm(32.0, 21.5)]),
        0.27,
        H,
    ));
    let support = vec![(
        0,
        ExtrusionPath::open(
            Role::SupportMaterial,
            Polyline::new(vec![Point::from_mm(60.0, 0.0), Point::from_mm(60.0, 10.0)]),
            0.4,
            H,
        ),
    )];
    let mut l = layer(3, islands);
    l.support = support;
    // Input: length per (role, width, height) key.
    let key = |r: Role, w: f64, h: f64| format!("{r:?} {w:.3} {h:.3}");
    let mut expected: std::collections::BTreeMap<String, f64> = Default::default();
    for isl in &l.islands {
        for path in isl.perimeters.iter().chain(&isl.thin).chain(&isl.infill) {
            *expected
                .entry(key(path.role, path.width, path.height))
                .or_default() += path.length_mm();
        }
    }
    for (_, path) in &l.support {
        *expected
            .entry(key(path.role, path.width, path.height))
            .or_default() += path.length_mm();
    }
    let mut p = params();
    p.retract.wipe = true;
    p.retract.z_hop = 0.2;
    for seam in [
        SeamPosition::Aligned,
        SeamPosition::Rear,
        SeamPosition::Nearest,
        SeamPosition::Random,
    ] {
        p.seam = seam;
        let plan = &plan_layers(std::slice::from_ref(&l), &p)[0];
        let mut got: std::collections::BTreeMap<String, f64> = Default::default();
        for (role, points, w, h, _) in extrusions(plan) {
            *got.entry(key(role, w, h)).or_default() += mm(points);
        }
        assert_eq!(
            got.keys().collect::<Vec<_>>(),
            expected.keys().collect::<Vec<_>>()
        );
        for (k, v) in &expected {
            assert!((got[k] - v).abs() < 1e-6, "{seam:?} {k}: {} vs {v}", got[k]);
        }
        check_continuity(plan);
    }
}

#[test]
fn support_first_top_surfaces_last_in_their_given_order() {
    let mut isl = island(square(0.0, 0.0, 20.0), 2);
    // Monotonic-style top lines, alternating direction, in a fixed order.
    let tops: Vec<ExtrusionPath> = (0..8)
        .map(|k| {
            let y = 2.0 + 2.0 * k as f64;
            let (a, b) = if k % 2 == 0 { (2.0, 18.0) } else { (18.0, 2.0) };
            ExtrusionPath::open(
                Role::TopSolidInfill,
                Polyline::new(vec![Point::from_mm(a, y), Point::from_mm(b, y)]),
                W,
                H,
            )
        })
        .collect();
    // Given in reverse Y order (the fill's sweep), mixed with sparse infill.
    isl.infill.splice(0..0, tops.iter().rev().cloned());
    let mut l = layer(6, vec![isl]);
    l.support.push((
        0,
        ExtrusionPath::open(
            Role::SupportMaterial,
            Polyline::new(vec![Point::from_mm(40.0, 0.0), Point::from_mm(40.0, 10.0)]),
            W,
            H,
        ),
    ));
    let plan = &plan_layers(&[l], &params())[0];
    let ex = extrusions(plan);
    assert_eq!(ex[0].0, Role::SupportMaterial);
    let printed_tops: Vec<Vec<Point>> = ex
        .iter()
        .filter(|e| e.0 == Role::TopSolidInfill)
        .map(|e| e.1.clone())
        .collect();
    let given: Vec<Vec<Point>> = tops.iter().rev().map(|t| t.points.clone()).collect();
    assert_eq!(printed_tops, given);
    // Tops are the island's last extrusions.
    let last_other = ex
        .iter()
        .rposition(|e| e.0 != Role::TopSolidInfill)
        .unwrap();
    let first_top = ex.iter().position(|e| e.0 == Role::TopSolidInfill).unwrap();
    assert!(last_other < first_top);
}

#[test]
fn minimum_layer_time_slows_a_tiny_layer_to_the_expected_speed() {
    // One 5 mm square loop: 4 × 4.55 mm of wall at 25 mm/s takes 0.728 s; with a
    // 10 s minimum it is slowed to 18.2 mm / 10 s = 1.82 mm/s... but not below the
    // 5 mm/s floor: at 5 mm/s it takes 3.64 s.
    let wall = Polygon::rectangle(scaled(0.225), scaled(0.225), scaled(4.775), scaled(4.775));
    let isl = IslandPaths {
        boundary: square(0.0, 0.0, 5.0),
        tool: 0,
        object: 0,
        perimeters: vec![ExtrusionPath::from_loop(
            Role::ExternalPerimeter,
            wall,
            W,
            H,
        )],
        thin: vec![],
        infill: vec![],
    };
    let mut p = params();
    p.tools[0].cooling.slowdown_below_layer_time = 10.0;
    p.tools[0].cooling.min_print_speed = 1.0;
    let plan = &plan_layers(&[layer(5, vec![isl.clone()])], &p)[0];
    let speed = extrusions(plan)[0].4;
    assert!((speed - 18.2 / 10.0).abs() < 1e-6, "{speed}");
    p.tools[0].cooling.min_print_speed = 5.0;
    let plan = &plan_layers(&[layer(5, vec![isl.clone()])], &p)[0];
    assert!((extrusions(plan)[0].4 - 5.0).abs() < 1e-9);
    // A long layer keeps its speed.
    p.tools[0].cooling.slowdown_below_layer_time = 0.5;
    let plan = &plan_layers(&[layer(5, vec![isl])], &p)[0];
    assert_eq!(extrusions(plan)[0].4, 25.0);
}

#[test]
fn first_layer_speed_caps_every_extrusion() {
    let mut p = params();
    p.speeds.first_layer = 15.0;
    let layers = vec![
        layer(0, vec![island(square(0.0, 0.0, 20.0), 2)]),
        layer(1, vec![island(square(0.0, 0.0, 20.0), 2)]),
    ];
    let plans = plan_layers(&layers, &p);
    assert!(extrusions(&plans[0]).iter().all(|e| e.4 <= 15.0));
    assert!(extrusions(&plans[1]).iter().any(|e| e.4 > 15.0));
}

#[test]
fn fan_stays_off_on_the_first_layers_then_follows_the_layer_time() {
    let mut p = params();
    p.tools[0].cooling = Cooling {
        min_fan: 35.0,
        max_fan: 100.0,
        bridge_fan: 100.0,
        disable_fan_first_layers: 3,
        fan_below_layer_time: 60.0,
        slowdown_below_layer_time: 15.0,
        min_print_speed: 10.0,
    };
    let mut isl = island(square(0.0, 0.0, 10.0), 2);
    isl.infill.push(ExtrusionPath::open(
        Role::BridgeInfill,
        Polyline::new(vec![Point::from_mm(1.0, 5.0), Point::from_mm(9.0, 5.0)]),
        W,
        H,
    ));
    let layers: Vec<LayerRegions> = (0..6).map(|i| layer(i, vec![isl.clone()])).collect();
    let plans = plan_layers(&layers, &p);
    for plan in &plans[..3] {
        for s in &plan.steps {
            assert!(
                !matches!(s, Step::Fan(v) if *v > 0),
                "fan on layer {}",
                plan.index
            );
        }
    }
    // A short layer (a few seconds, under the slowdown time) gets the maximum fan;
    // bridges too.
    for plan in &plans[3..] {
        let fans: Vec<u8> = plan
            .steps
            .iter()
            .filter_map(|s| match s {
                Step::Fan(v) => Some(*v),
                _ => None,
            })
            .collect();
        assert!(fans.iter().all(|v| *v == 100));
    }
    assert!(plans[3].steps.contains(&Step::Fan(100)));
}

#[test]
fn skirt_and_brim_on_the_first_layer_enclose_and_touch_the_parts() {
    let mut p = params();
    p.skirt.loops = 1;
    p.skirt.distance = 3.0;
    p.skirt.height = 2;
    p.skirt.min_length = 0.0;
    p.brim.width = 2.0;
    let part = square(10.0, 10.0, 10.0);
    let layers: Vec<LayerRegions> = (0..4)
        .map(|i| layer(i, vec![island(part.clone(), 2)]))
        .collect();
    let plans = plan_layers(&layers, &p);
    let adhesion: Vec<Vec<&Vec<Point>>> = plans
        .iter()
        .map(|pl| {
            extrusions(pl)
                .into_iter()
                .filter(|e| e.0 == Role::SkirtBrim)
                .map(|e| e.1)
                .collect()
        })
        .collect();
    // Layer 0: skirt then brim, before the part; layer 1: skirt only; above: none.
    let brim_loops = (2.0 / crate::path::bead_spacing(W, H)).round() as usize;
    assert_eq!(adhesion[0].len(), 1 + brim_loops);
    assert_eq!(adhesion[1].len(), 1);
    assert!(adhesion[2].is_empty() && adhesion[3].is_empty());
    let first = extrusions(&plans[0]);
    assert!(
        first[..1 + brim_loops]
            .iter()
            .all(|e| e.0 == Role::SkirtBrim)
    );
    // The brim's last loop touches the part from outside; the skirt is 3 mm beyond
    // the brim's outer edge.
    let dist = |pts: &Vec<Point>| {
        pts.iter()
            .map(|q| part.distance_squared_to_boundary(*q).sqrt() / geom::SCALE)
            .fold(f64::INFINITY, f64::min)
    };
    let last_brim = adhesion[0][brim_loops];
    assert!((dist(last_brim) - W / 2.0).abs() < 0.01);
    assert!(last_brim.iter().all(|q| !part.contains(*q)));
    let outer_brim_edge = dist(adhesion[0][1]) + W / 2.0;
    let skirt_gap = dist(adhesion[0][0]) - W / 2.0 - outer_brim_edge;
    assert!((skirt_gap - 3.0).abs() < 0.02, "{skirt_gap}");
    let skirt = Polygon::new(adhesion[0][0].clone());
    assert!(part.contour.points.iter().all(|q| skirt.contains(*q)));
}

#[test]
fn wipe_moves_along_the_loop_just_printed_before_retracting() {
    let mut p = params();
    p.retract.wipe = true;
    p.retract.wipe_distance = 1.0;
    let layers = vec![layer(
        2,
        vec![
            island(square(0.0, 0.0, 10.0), 1),
            island(square(40.0, 0.0, 10.0), 1),
        ],
    )];
    let plan = &plan_layers(&layers, &p)[0];
    let mut wipes = 0;
    for (k, s) in plan.steps.iter().enumerate() {
        if let Step::Wipe { points, .. } = s {
            wipes += 1;
            assert!(
                (mm(points) - 1.0).abs() < 1e-3
                    || matches!(plan.steps[k - 1], Step::Extrude { .. })
            );
            assert!(matches!(
                plan.steps[k + 1],
                Step::Travel { retract: true, .. }
            ));
            // It runs over the extrusion before it.
            let Step::Extrude { points: last, .. } = &plan.steps[k - 1] else {
                panic!("a wipe follows an extrusion");
            };
            for q in points {
                let on = last
                    .windows(2)
                    .any(|w| q.distance_to_segment_squared(w[0], w[1]) < 4.0);
                assert!(on, "wipe leaves the path");
            }
        }
    }
    assert!(wipes >= 1);
    check_continuity(plan);
}

#[test]
fn tool_changes_keep_the_active_tool_first_on_the_next_layer() {
    let mut a = island(square(0.0, 0.0, 10.0), 1);
    let mut b = island(square(20.0, 0.0, 10.0), 1);
    a.tool = 0;
    b.tool = 1;
    let layers: Vec<LayerRegions> = (0..3)
        .map(|i| layer(i, vec![a.clone(), b.clone()]))
        .collect();
    let plans = plan_layers(&layers, &params());
    let changes: Vec<Vec<usize>> = plans
        .iter()
        .map(|pl| {
            pl.steps
                .iter()
                .filter_map(|s| match s {
                    Step::ToolChange { tool } => Some(*tool),
                    _ => None,
                })
                .collect()
        })
        .collect();
    // One change per layer: 0 → 1, then 1 → 0, then 0 → 1.
    assert_eq!(changes, vec![vec![1], vec![0], vec![1]]);
}

#[test]
fn temperatures_change_after_the_first_layer() {
    let mut p = params();
    p.tools[0].first_layer_temperature = 215.0;
    p.tools[0].temperature = 205.0;
    p.bed_temperature = (65.0, 60.0);
    let layers: Vec<LayerRegions> = (0..3)
        .map(|i| layer(i, vec![island(square(0.0, 0.0, 10.0), 1)]))
        .collect();
    let plans = plan_layers(&layers, &p);
    let temps = |pl: &LayerPlan| {
        pl.steps
            .iter()
            .filter(|s| matches!(s, Step::Temperature { .. } | Step::Custom(_)))
            .cloned()
            .collect::<Vec<_>>()
    };
    assert!(temps(&plans[0]).is_empty());
    assert_eq!(
        temps(&plans[1]),
        vec![
            Step::Temperature {
                tool: 0,
                celsius: 205.0,
                wait: false
            },
            Step::Custom("M140 S60".into())
        ]
    );
    assert!(temps(&plans[2]).is_empty());
}

#[test]
fn many_small_islands_plan_every_path_once() {
    // 20 x 20 islands with walls and infill: every path printed once, travel short.
    let mut islands = Vec::new();
    for i in 0..20 {
        for j in 0..20 {
            islands.push(island(square(i as f64 * 6.0, j as f64 * 6.0, 4.0), 1));
        }
    }
    let total: usize = islands
        .iter()
        .map(|i| i.perimeters.len() + i.thin.len() + i.infill.len())
        .sum();
    let plan = &plan_layers(&[layer(1, islands)], &params())[0];
    assert_eq!(extrusions(plan).len(), total);
    check_continuity(plan);
}

#[test]
fn sliced_tube_and_rod_end_to_end() {
    use crate::mesh::shapes::{cylinder, merge, tube};
    use crate::slice::{SliceOptions, layer_specs, slice_mesh};
    // A vessel-like tube (0.8 mm wall, 7.6 mm wide, 20 mm tall) next to a 12 mm rod.
    let mesh = merge(&[
        tube([20.0, 20.0, 0.0], 3.0, 3.8, 20.0, 96),
        cylinder([45.0, 20.0, 0.0], 6.0, 20.0, 96),
    ]);
    let (sliced, _) = slice_mesh(
        &mesh,
        &layer_specs(0.2, 0.2, 20.0),
        &SliceOptions::default(),
    );
    let layers: Vec<LayerRegions> = sliced
        .iter()
        .enumerate()
        .map(|(i, l)| LayerRegions {
            index: i,
            z: l.z,
            height: l.height,
            islands: l.islands.iter().map(|b| island(b.clone(), 2)).collect(),
            support: vec![],
            support_areas: Vec::new(),
        })
        .collect();
    let p = PlanParams::default();
    let plans = plan_layers(&layers, &p);
    assert_eq!(plans.len(), layers.len());
    // The tube stands on a small footprint: it gets the automatic brim, the rod (12
    // mm wide, 20 mm tall) does not.
    let brim_near = |x: f64| {
        extrusions(&plans[0])
            .iter()
            .filter(|e| e.0 == Role::SkirtBrim)
            .filter(|e| {
                e.1.iter()
                    .all(|q| (q.x as f64 / geom::SCALE - x).abs() < 10.0)
            })
            .count()
    };
    assert!(brim_near(20.0) >= 5);
    assert_eq!(brim_near(45.0), 0);
    for (plan, l) in plans.iter().zip(&layers) {
        // Nothing of the model lost or doubled.
        let input: f64 = l
            .islands
            .iter()
            .flat_map(|i| i.perimeters.iter().chain(&i.thin).chain(&i.infill))
            .map(ExtrusionPath::length_mm)
            .sum();
        let output: f64 = extrusions(plan)
            .iter()
            .filter(|e| e.0.is_model())
            .map(|e| mm(e.1))
            .sum();
        assert!((input - output).abs() < 1e-6, "layer {}", l.index);
        check_continuity(plan);
        // Long travels that do not retract stay inside an island.
        let mut at: Option<Point> = None;
        for s in &plan.steps {
            match s {
                Step::Travel { to, retract, .. } => {
                    if let (Some(a), false) = (at, *retract) {
                        if a.distance(*to) > scaled(p.retract.min_travel) as f64 {
                            for k in 0..=10 {
                                let q = a.lerp(*to, k as f64 / 10.0);
                                assert!(
                                    l.islands.iter().any(|i| i.boundary.contains(q)),
                                    "layer {}",
                                    l.index
                                );
                            }
                        }
                    }
                    at = Some(*to);
                }
                Step::Extrude { points, .. } | Step::Wipe { points, .. } => {
                    at = points.last().copied()
                }
                _ => {}
            }
        }
    }
    // Aligned seams: the rod's outer wall starts at the same spot on every layer above
    // the first few.
    let rod_seams: Vec<Point> = plans[5..]
        .iter()
        .map(|pl| {
            extrusions(pl)
                .into_iter()
                .find(|e| e.0 == Role::ExternalPerimeter && e.1[0].x > scaled(35.0))
                .unwrap()
                .1[0]
        })
        .collect();
    for s in &rod_seams {
        assert!(
            s.distance(rod_seams[0]) < scaled(0.6) as f64,
            "{:?} {:?}",
            s.to_mm(),
            rod_seams[0].to_mm()
        );
    }
}

/// A support piece: a branch circle of radius `r` at (`x`, `y`) with its wall ring and
/// a line through the middle, as the support stage makes tree branches.
fn branch(x: f64, y: f64, r: f64) -> (ExPolygon, Vec<(usize, ExtrusionPath)>) {
    let circle = |rad: f64| {
        Polygon::new(
            (0..16)
                .map(|k| {
                    let a = k as f64 * std::f64::consts::TAU / 16.0;
                    Point::from_mm(x + rad * a.cos(), y + rad * a.sin())
                })
                .collect(),
        )
    };
    let ring = ExtrusionPath::from_loop(Role::SupportMaterial, circle(r - W / 2.0), W, H);
    let line = ExtrusionPath::open(
        Role::SupportMaterial,
        Polyline::new(vec![
            Point::from_mm(x - r + W, y),
            Point::from_mm(x + r - W, y),
        ]),
        W,
        H,
    );
    (ExPolygon::new(circle(r)), vec![(0, ring), (0, line)])
}

/// Travels of a plan with their start and whether they retract, support only (from the
/// end of a support extrusion to the start of the next one).
fn support_travels(plan: &LayerPlan) -> Vec<(Point, Point, bool)> {
    let mut out = Vec::new();
    let mut last: Option<(Point, bool)> = None;
    let mut travel: Option<(Point, bool)> = None;
    for s in &plan.steps {
        match s {
            Step::Travel { retract, .. } => {
                if let Some((from, true)) = last {
                    let r = travel.map_or(*retract, |t| t.1 || *retract);
                    travel = Some((from, r));
                }
            }
            Step::Extrude { role, points, .. } => {
                if let (Some((from, r)), true) = (travel.take(), role.is_support()) {
                    out.push((from, points[0], r));
                }
                last = points.last().map(|p| (*p, role.is_support()));
            }
            _ => {}
        }
    }
    out
}

#[test]
fn support_pieces_in_a_short_order_without_retracting_inside_or_between_them() {
    // Forty branches 3 mm wide on a ring of radius 30 mm round a model island, given in
    // a shuffled order, and one wide piece with lines to comb between.
    let mut areas = Vec::new();
    let mut support = Vec::new();
    let centre = (60.0, 60.0);
    let n = 40;
    for k in 0..n {
        let j = (k * 17) % n;
        let a = j as f64 * std::f64::consts::TAU / n as f64;
        let (area, paths) = branch(centre.0 + 30.0 * a.cos(), centre.1 + 30.0 * a.sin(), 1.5);
        areas.push(area);
        support.extend(paths);
    }
    let wide = square(100.0, 0.0, 10.0);
    for k in 0..8 {
        let x = 100.5 + 1.2 * k as f64;
        support.push((
            0,
            ExtrusionPath::open(
                Role::SupportMaterial,
                Polyline::new(vec![Point::from_mm(x, 0.5), Point::from_mm(x, 9.5)]),
                W,
                H,
            ),
        ));
    }
    areas.push(wide);
    let mut l = layer(5, vec![island(square(50.0, 50.0, 20.0), 2)]);
    l.support = support;
    l.support_areas = areas;
    let plan = &plan_layers(&[l], &params())[0];
    check_continuity(plan);
    let travels = support_travels(plan);
    assert_eq!(travels.len(), 2 * n + 8 - 1);
    // Between the branches of the ring: about the ring's circumference (the 3 mm
    // circles are entered near where the last one was left), nowhere near the
    // criss-cross of the given order.
    let ring_travel: f64 = travels
        .iter()
        .filter(|(a, b, _)| a.x < scaled(95.0) && b.x < scaled(95.0))
        .map(|(a, b, _)| a.distance(*b) / geom::SCALE)
        .sum();
    assert!(
        ring_travel < 2.0 * std::f64::consts::PI * 30.0 * 1.1,
        "{ring_travel:.1} mm"
    );
    // No retraction inside a piece, none on the short hops between branches, which
    // keep clear of the model; the one long move to the wide piece retracts.
    let retracted: Vec<f64> = travels
        .iter()
        .filter(|t| t.2)
        .map(|(a, b, _)| a.distance(*b) / geom::SCALE)
        .collect();
    assert!(retracted.len() <= 1, "{retracted:?}");
    assert!(retracted.iter().all(|&d| d > 20.0), "{retracted:?}");
}

#[test]
fn a_move_between_support_pieces_across_the_model_retracts() {
    // Two branches on either side of a model island: the straight line between them
    // crosses the island, so the move retracts (and is not combed through support).
    let (a, pa) = branch(10.0, 20.0, 1.5);
    let (b, pb) = branch(30.0, 20.0, 1.5);
    let mut l = layer(5, vec![island(square(15.0, 15.0, 10.0), 2)]);
    l.support = pa.into_iter().chain(pb).collect();
    l.support_areas = vec![a, b];
    let plan = &plan_layers(&[l], &params())[0];
    let travels = support_travels(plan);
    let across: Vec<&(Point, Point, bool)> = travels
        .iter()
        .filter(|(a, b, _)| (a.x < scaled(20.0)) != (b.x < scaled(20.0)))
        .collect();
    assert_eq!(across.len(), 1);
    assert!(across[0].2, "the move over the model retracts");
    assert!(
        travels.iter().filter(|t| !across.contains(t)).all(|t| !t.2),
        "moves inside a branch do not"
    );
}

/// The travels between two support extrusions: each as its list of travel steps (the
/// nozzle's path, from the first extrusion's end) and whether any of them retracts.
fn support_hops(plan: &LayerPlan) -> Vec<(Vec<Point>, bool)> {
    let mut out = Vec::new();
    let mut open: Option<(Vec<Point>, bool)> = None;
    for s in &plan.steps {
        match s {
            Step::Travel { to, retract, .. } => {
                if let Some((path, r)) = open.as_mut() {
                    path.push(*to);
                    *r |= *retract;
                }
            }
            Step::Extrude { role, points, .. } => {
                if let (Some(hop), true) = (open.take(), role.is_support()) {
                    if hop.0.len() > 1 {
                        out.push(hop);
                    }
                }
                if role.is_support() {
                    open = points.last().map(|p| (vec![*p], false));
                }
            }
            _ => {}
        }
    }
    out
}

#[test]
fn a_short_move_between_support_pieces_goes_round_the_model_without_retracting() {
    // Two branches on either side of a 4 mm model island, 1.5 mm from it: the way
    // round the island is a few millimetres, so the move takes it and needs no
    // retraction; it never passes over the island (grown by the travel clearance).
    let (a, pa) = branch(10.0, 20.0, 1.5);
    let (b, pb) = branch(20.0, 20.0, 1.5);
    let model = square(13.0, 18.0, 4.0);
    let over_model = |p: Point| {
        let (x, y) = (p.x as f64 / geom::SCALE, p.y as f64 / geom::SCALE);
        x > 12.75 && x < 17.25 && y > 17.75 && y < 22.25
    };
    let crosses = |path: &[Point]| {
        path.windows(2)
            .any(|w| (0..=100).any(|k| over_model(w[0].lerp(w[1], k as f64 / 100.0))))
    };
    let mut l = layer(5, vec![island(model, 2)]);
    l.support = pa.into_iter().chain(pb).collect();
    l.support_areas = vec![a, b];
    let plan = &plan_layers(std::slice::from_ref(&l), &params())[0];
    check_continuity(plan);
    // The one move from one side of the model to the other.
    let across = |plan: &LayerPlan| {
        let hops = support_hops(plan);
        let mut across: Vec<(Vec<Point>, bool)> = hops
            .iter()
            .filter(|(p, _)| (p[0].x < scaled(15.0)) != (p[p.len() - 1].x < scaled(15.0)))
            .cloned()
            .collect();
        assert_eq!(across.len(), 1, "{hops:?}");
        across.remove(0)
    };
    let across_once = across(plan);
    assert!(!across_once.1, "the move round the model does not retract");
    assert!(!crosses(&across_once.0), "{:?}", across_once.0);
    // The negative control: without combing the move goes straight over the model,
    // which the same reading sees, and it retracts.
    let mut straight = params();
    straight.combing = false;
    let (path, retracted) = across(&plan_layers(&[l], &straight)[0]);
    assert!(retracted, "the move over the model retracts");
    assert!(crosses(&path));
}

#[test]
fn the_brim_keeps_clear_of_first_layer_support() {
    // A part with a brim and a support piece beside it on the first layer, inside the
    // brim's reach: no brim bead comes within the gap of the support.
    let mut p = params();
    p.brim.width = 5.0;
    let part = square(10.0, 10.0, 10.0);
    let piece = square(21.0, 12.0, 4.0);
    let brim_near = |support_areas: Vec<ExPolygon>| {
        let mut l = layer(0, vec![island(part.clone(), 2)]);
        l.support_areas = support_areas;
        let plan = &plan_layers(&[l], &p)[0];
        extrusions(plan)
            .into_iter()
            .filter(|e| e.0 == Role::SkirtBrim)
            .flat_map(|e| {
                e.1.windows(2)
                    .flat_map(|w| (0..=20).map(move |k| w[0].lerp(w[1], k as f64 / 20.0)))
                    .collect::<Vec<_>>()
            })
            .map(|q| {
                if piece.contains(q) {
                    0.0
                } else {
                    piece.distance_squared_to_boundary(q).sqrt() / geom::SCALE
                }
            })
            .fold(f64::INFINITY, f64::min)
    };
    let near = brim_near(vec![piece.clone()]);
    assert!(
        near >= W / 2.0 + 0.19,
        "a brim bead {near:.3} mm from support"
    );
    // The negative control: without the support the brim runs over its place.
    assert_eq!(brim_near(Vec::new()), 0.0);
}
