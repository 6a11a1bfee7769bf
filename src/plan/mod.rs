//! Motion planning: the ordered moves of each layer, ready to be written as G-code.
//!
//! A [`LayerPlan`] is a flat list of [`Step`]s in machine order: travels (with the
//! decision whether to retract and lift), extrusions at their speed, and the machine
//! state changes (fan, temperatures, tools) that belong between them. Positions are in
//! the printer's bed coordinates; tool offsets are applied by the G-code writer.

use crate::path::Role;

/// Everything the printer does for one layer, in order.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct LayerPlan {
    /// Layer number, 0 = first layer.
    pub index: usize,
    /// Nozzle height while printing the layer (top of the layer), mm.
    pub z: f64,
    /// Layer thickness, mm.
    pub height: f64,
    /// The moves and state changes, in order.
    pub steps: Vec<Step>,
}

/// One thing the printer does.
#[derive(Debug, Clone, PartialEq)]
pub enum Step {
    /// Move without extruding to `to` (the layer's Z).
    Travel {
        /// Destination.
        to: Point,
        /// Speed, mm/s.
        speed: f64,
        /// Retract before the move and unretract after it.
        retract: bool,
        /// Lift the nozzle (z-hop) during the move; only with `retract`.
        lift: bool,
    },
    /// Extrude along `points`, starting from the current position (which is where the
    /// preceding travel ended, equal to `points[0]`).
    Extrude {
        /// What the line is for (written as `;TYPE:`).
        role: Role,
        /// The polyline, first point = current position.
        points: Vec<Point>,
        /// Line width, mm.
        width: f64,
        /// Line height, mm.
        height: f64,
        /// Speed, mm/s.
        speed: f64,
        /// Flow multiplier on top of the material's (bridges use their own flow).
        flow: f64,
    },
    /// Move along `points` without extruding while retracting (a wipe at the end of a
    /// loop); the writer spreads the retraction over the move.
    Wipe {
        /// The wipe path, starting at the current position.
        points: Vec<Point>,
        /// Speed, mm/s.
        speed: f64,
    },
    /// Part-cooling fan, 0-100 %.
    Fan(u8),
    /// Set a tool's temperature, °C; `wait` blocks until it is reached.
    Temperature {
        /// Tool number.
        tool: usize,
        /// Target, °C.
        celsius: f64,
        /// Wait for it (M109) or not (M104).
        wait: bool,
    },
    /// Change to another tool (the writer emits retraction, the profile's tool-change
    /// template and `T<n>`).
    ToolChange {
        /// The new tool.
        tool: usize,
    },
    /// Raw G-code from a profile template, already rendered.
    Custom(String),
}

mod comb;
mod order;
mod seam;
mod skirt;

pub use comb::comb;
pub use order::nearest_order;
pub use seam::choose_seam;
pub use skirt::{AUTO_BRIM_WIDTH, brim, needs_auto_brim, skirt};

use crate::geom::{self, ExPolygon, JoinType, Point, scaled};
use crate::layer::{IslandPaths, LayerRegions};
use crate::path::ExtrusionPath;
use crate::profile::{SeamPosition, Settings};

/// Everything the planner needs, in plain numbers (filled from the settings by
/// [`PlanParams::from_settings`]).
#[derive(Debug, Clone, PartialEq)]
pub struct PlanParams {
    /// Speed per role, mm/s.
    pub speeds: RoleSpeeds,
    /// Speed cap on the first layer, mm/s.
    pub first_layer_speed: f64,
    /// Travel speed, mm/s.
    pub travel_speed: f64,
    /// Flow multiplier of bridges.
    pub bridge_flow: f64,
    /// Travels shorter than this (mm) never retract.
    pub retract_min_travel: f64,
    /// Z lift on retracted travels, mm.
    pub z_hop: f64,
    /// Wipe at the end of loops.
    pub wipe: bool,
    /// Travel inside the part around holes instead of crossing walls.
    pub combing: bool,
    /// Seam placement.
    pub seam: SeamPosition,
    /// Skirt loops, distance (mm), height (layers), minimum length (mm).
    pub skirt: (usize, f64, usize, f64),
    /// Brim width, mm, and whether small footprints get one automatically.
    pub brim: (f64, bool),
    /// Line width of skirt and brim, mm.
    pub skirt_width: f64,
    /// Cooling of each tool's material.
    pub cooling: Vec<Cooling>,
    /// Largest volumetric flow of each tool, mm³/s (0: none).
    pub max_volumetric: Vec<f64>,
}

/// Speeds per role, mm/s.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RoleSpeeds {
    /// Outer wall.
    pub external_perimeter: f64,
    /// Inner walls.
    pub perimeter: f64,
    /// Gap fill.
    pub gap_fill: f64,
    /// Solid infill.
    pub solid: f64,
    /// Top surfaces.
    pub top: f64,
    /// Bridges.
    pub bridge: f64,
    /// Sparse infill.
    pub infill: f64,
    /// Support body.
    pub support: f64,
    /// Support interface.
    pub support_interface: f64,
}

impl RoleSpeeds {
    /// The speed for `role`.
    pub fn of(&self, role: Role) -> f64 {
        match role {
            Role::ExternalPerimeter => self.external_perimeter,
            Role::Perimeter | Role::OverhangPerimeter => self.perimeter,
            Role::GapFill => self.gap_fill,
            Role::SolidInfill => self.solid,
            Role::TopSolidInfill => self.top,
            Role::BridgeInfill => self.bridge,
            Role::InternalInfill => self.infill,
            Role::SupportMaterial => self.support,
            Role::SupportInterface => self.support_interface,
            Role::SkirtBrim | Role::PrimeTower => self.perimeter,
        }
    }
}

/// Fan and slowdown rules of one material.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Cooling {
    /// Fan on long layers, %.
    pub fan_min: f64,
    /// Fan on short layers, %.
    pub fan_max: f64,
    /// Fan during bridges, %.
    pub bridge_fan: f64,
    /// Fan off for this many first layers.
    pub disable_first_layers: usize,
    /// Layers shorter than this (s) get more fan, up to the maximum.
    pub fan_below_layer_time: f64,
    /// Layers are slowed to last at least this long, s.
    pub min_layer_time: f64,
    /// Never slower than this, mm/s.
    pub min_print_speed: f64,
}

impl PlanParams {
    /// Plan parameters from resolved settings.
    pub fn from_settings(s: &Settings) -> PlanParams {
        let p = &s.print;
        PlanParams {
            speeds: RoleSpeeds {
                external_perimeter: p.external_perimeter_speed,
                perimeter: p.perimeter_speed,
                gap_fill: p.gap_fill_speed,
                solid: p.solid_infill_speed,
                top: p.top_solid_infill_speed,
                bridge: p.bridge_speed,
                infill: p.infill_speed,
                support: p.support_material_speed,
                support_interface: p.support_material_interface_speed,
            },
            first_layer_speed: p.first_layer_speed,
            travel_speed: p.travel_speed,
            bridge_flow: p.bridge_flow_ratio,
            retract_min_travel: s.printer.retract_before_travel,
            z_hop: s.printer.retract_lift,
            wipe: s.printer.wipe,
            combing: p.avoid_crossing_perimeters,
            seam: p.seam_position,
            skirt: (
                p.skirts,
                p.skirt_distance,
                p.skirt_height,
                p.min_skirt_length,
            ),
            brim: (p.brim_width, p.brim_auto),
            skirt_width: s.line_width(crate::profile::WidthRole::Perimeter, 0, true),
            cooling: s
                .materials
                .iter()
                .map(|m| Cooling {
                    fan_min: m.min_fan_speed,
                    fan_max: m.max_fan_speed,
                    bridge_fan: m.bridge_fan_speed,
                    disable_first_layers: m.disable_fan_first_layers,
                    fan_below_layer_time: m.fan_below_layer_time,
                    min_layer_time: m.slowdown_below_layer_time,
                    min_print_speed: m.min_print_speed,
                })
                .collect(),
            max_volumetric: s.materials.iter().map(|m| m.max_volumetric_speed).collect(),
        }
    }
}

impl Default for PlanParams {
    fn default() -> Self {
        PlanParams::from_settings(
            &crate::profile::resolve(&crate::profile::ProfileSelection::default())
                .expect("the default profiles resolve"),
        )
    }
}

/// Combing keeps travel this far (mm) inside the island: over the outer wall's bead,
/// so every loop start is reachable without crossing a wall.
const COMB_INSET: f64 = 0.1;

/// Wipe distance along a loop's start, mm.
const WIPE_DISTANCE: f64 = 1.0;

/// The planner's state carried from layer to layer.
struct Cursor {
    at: Point,
    seams: Vec<Point>,
    tool: usize,
}

/// Plan every layer: order, seams, travels, skirt and brim, speeds, fan.
pub fn plan_layers(layers: &[LayerRegions], params: &PlanParams) -> Vec<LayerPlan> {
    let height = layers.last().map_or(0.0, |l| l.z);
    let mut cursor = Cursor {
        at: Point::new(0, 0),
        seams: Vec::new(),
        tool: 0,
    };
    let mut plans = Vec::with_capacity(layers.len());
    for layer in layers {
        plans.push(plan_layer(layer, params, height, &mut cursor));
    }
    plans
}

/// One layer's items: support, skirt/brim, then islands.
fn plan_layer(
    layer: &LayerRegions,
    params: &PlanParams,
    height: f64,
    cursor: &mut Cursor,
) -> LayerPlan {
    let mut steps: Vec<Step> = Vec::new();
    let mut seams: Vec<Point> = Vec::new();
    let first = layer.index == 0;

    // Skirt and brim on the first layers.
    let mut skirt_paths: Vec<ExtrusionPath> = Vec::new();
    if layer.index < params.skirt.2.max(1) && (params.skirt.0 > 0 || first) {
        let mut footprint: Vec<ExPolygon> =
            layer.islands.iter().map(|i| i.boundary.clone()).collect();
        if first {
            for island in &layer.islands {
                let width = if params.brim.0 > 0.0 {
                    params.brim.0
                } else if params.brim.1 && needs_auto_brim(&island.boundary, height) {
                    AUTO_BRIM_WIDTH
                } else {
                    0.0
                };
                if width > 0.0 {
                    footprint.extend(geom::offset(
                        &[ExPolygon::new(island.boundary.contour.clone())],
                        scaled(width) as f64,
                        JoinType::Round,
                    ));
                    skirt_paths.extend(brim(
                        &island.boundary,
                        width,
                        params.skirt_width,
                        layer.height,
                    ));
                }
            }
        }
        for (_, s) in &layer.support {
            footprint.extend(geom::offset_polylines(
                &[geom::Polyline::new(s.points.clone())],
                scaled(s.width / 2.0) as f64,
            ));
        }
        if params.skirt.0 > 0 {
            let loops = skirt(
                &footprint,
                params.skirt.0,
                params.skirt.1,
                params.skirt.3,
                params.skirt_width,
                layer.height,
            );
            // Skirt first (it primes the nozzle), then brim.
            let mut all = loops;
            all.append(&mut skirt_paths);
            skirt_paths = all;
        }
    }
    for p in &skirt_paths {
        emit_loop_or_path(
            p,
            None,
            params,
            cursor,
            &mut steps,
            &mut seams,
            first,
            layer.index,
        );
    }

    // Support, grouped by tool, nearest first.
    if !layer.support.is_empty() {
        let paths: Vec<&ExtrusionPath> = layer.support.iter().map(|(_, p)| p).collect();
        emit_ordered(
            &paths,
            None,
            params,
            cursor,
            &mut steps,
            &mut seams,
            first,
            layer.index,
            false,
        );
    }

    // Islands, nearest first.
    let mut remaining: Vec<&IslandPaths> = layer.islands.iter().collect();
    while !remaining.is_empty() {
        let k = (0..remaining.len())
            .min_by(|&a, &b| {
                let da = island_distance(remaining[a], cursor.at);
                let db = island_distance(remaining[b], cursor.at);
                da.total_cmp(&db)
            })
            .unwrap_or(0);
        let island = remaining.swap_remove(k);
        let comb_area: Vec<ExPolygon> = if params.combing {
            geom::offset(
                std::slice::from_ref(&island.boundary),
                -scaled(COMB_INSET) as f64,
                JoinType::Miter,
            )
        } else {
            Vec::new()
        };
        for p in &island.perimeters {
            emit_loop_or_path(
                p,
                Some(&comb_area),
                params,
                cursor,
                &mut steps,
                &mut seams,
                first,
                layer.index,
            );
        }
        let thin: Vec<&ExtrusionPath> = island.thin.iter().collect();
        emit_ordered(
            &thin,
            Some(&comb_area),
            params,
            cursor,
            &mut steps,
            &mut seams,
            first,
            layer.index,
            false,
        );
        let infill: Vec<&ExtrusionPath> = island.infill.iter().collect();
        emit_ordered(
            &infill,
            Some(&comb_area),
            params,
            cursor,
            &mut steps,
            &mut seams,
            first,
            layer.index,
            true,
        );
    }
    cursor.seams = seams;

    let mut plan = LayerPlan {
        index: layer.index,
        z: layer.z,
        height: layer.height,
        steps,
    };
    apply_cooling(&mut plan, params, cursor.tool);
    plan
}

/// Distance from `p` to the nearest point of an island's outline.
fn island_distance(island: &IslandPaths, p: Point) -> f64 {
    if island.boundary.contains(p) {
        return 0.0;
    }
    island.boundary.contour.distance_squared_to(p)
}

/// Travel from the cursor to `to`, deciding retraction and combing.
fn travel(
    to: Point,
    comb_area: Option<&[ExPolygon]>,
    params: &PlanParams,
    cursor: &mut Cursor,
    steps: &mut Vec<Step>,
) {
    let from = cursor.at;
    if from == to {
        return;
    }
    let dist = from.distance(to) / geom::SCALE;
    let speed = params.travel_speed;
    let combed = comb_area.and_then(|areas| {
        areas
            .iter()
            .find(|a| a.contains(from) && a.contains(to))
            .and_then(|a| comb(a, from, to))
    });
    match combed {
        Some(path) => {
            for p in path.into_iter().skip(1) {
                steps.push(Step::Travel {
                    to: p,
                    speed,
                    retract: false,
                    lift: false,
                });
            }
        }
        None => {
            let retract = dist >= params.retract_min_travel;
            steps.push(Step::Travel {
                to,
                speed,
                retract,
                lift: retract && params.z_hop > 0.0,
            });
        }
    }
    cursor.at = to;
}

/// Speed for a path, capped on the first layer and by the volumetric limit.
fn path_speed(p: &ExtrusionPath, params: &PlanParams, first: bool, tool: usize) -> f64 {
    let mut v = params.speeds.of(p.role);
    if first {
        v = v.min(params.first_layer_speed);
    }
    let limit = params.max_volumetric.get(tool).copied().unwrap_or(0.0);
    if limit > 0.0 {
        v = v.min(limit / p.cross_section().max(1e-9));
    }
    v
}

fn flow_of(p: &ExtrusionPath, params: &PlanParams) -> f64 {
    if p.role == Role::BridgeInfill {
        params.bridge_flow
    } else {
        1.0
    }
}

/// Emit a loop (choosing its seam) or an open path (as given).
#[allow(clippy::too_many_arguments)]
fn emit_loop_or_path(
    p: &ExtrusionPath,
    comb_area: Option<&[ExPolygon]>,
    params: &PlanParams,
    cursor: &mut Cursor,
    steps: &mut Vec<Step>,
    seams: &mut Vec<Point>,
    first: bool,
    layer: usize,
) {
    if p.points.len() < 2 {
        return;
    }
    let speed = path_speed(p, params, first, cursor.tool);
    if p.closed {
        let poly = geom::Polygon::new(p.points.clone());
        let salt = (layer as u64) << 32 ^ seams.len() as u64;
        let start = choose_seam(&poly, params.seam, cursor.at, &cursor.seams, salt);
        let n = p.points.len();
        let mut pts: Vec<Point> = (0..=n).map(|k| p.points[(start + k) % n]).collect();
        pts.dedup();
        seams.push(pts[0]);
        travel(pts[0], comb_area, params, cursor, steps);
        let end = *pts.last().unwrap_or(&pts[0]);
        steps.push(Step::Extrude {
            role: p.role,
            points: pts,
            width: p.width,
            height: p.height,
            speed,
            flow: flow_of(p, params),
        });
        cursor.at = end;
        if params.wipe {
            // Move on along the loop's start while retracting.
            let mut wipe = vec![end];
            let mut left = scaled(WIPE_DISTANCE) as f64;
            let mut prev = end;
            for k in 1..n {
                let q = p.points[(start + k) % n];
                let d = prev.distance(q);
                if d >= left {
                    wipe.push(prev.lerp(q, left / d));
                    break;
                }
                wipe.push(q);
                left -= d;
                prev = q;
            }
            if let Some(&last) = wipe.last() {
                steps.push(Step::Wipe {
                    points: wipe,
                    speed: params.travel_speed * 0.8,
                });
                cursor.at = last;
            }
        }
    } else {
        travel(p.points[0], comb_area, params, cursor, steps);
        steps.push(Step::Extrude {
            role: p.role,
            points: p.points.clone(),
            width: p.width,
            height: p.height,
            speed,
            flow: flow_of(p, params),
        });
        cursor.at = *p.points.last().unwrap_or(&p.points[0]);
    }
}

/// Emit paths nearest-first (open paths may be reversed; loops get seams). With
/// `keep_ordered`, top surfaces keep the order the fill gave them.
#[allow(clippy::too_many_arguments)]
fn emit_ordered(
    paths: &[&ExtrusionPath],
    comb_area: Option<&[ExPolygon]>,
    params: &PlanParams,
    cursor: &mut Cursor,
    steps: &mut Vec<Step>,
    seams: &mut Vec<Point>,
    first: bool,
    layer: usize,
    keep_ordered: bool,
) {
    if paths.is_empty() {
        return;
    }
    // Monotonic top surfaces print in their given order as one block.
    let (ordered, free): (Vec<&ExtrusionPath>, Vec<&ExtrusionPath>) = paths
        .iter()
        .copied()
        .partition(|p| keep_ordered && p.role == Role::TopSolidInfill);
    let ends: Vec<(Point, Point)> = free
        .iter()
        .map(|p| {
            let a = p.points.first().copied().unwrap_or_default();
            let b = if p.closed {
                a
            } else {
                p.points.last().copied().unwrap_or_default()
            };
            (a, b)
        })
        .collect();
    let fixed: Vec<bool> = free.iter().map(|p| p.closed).collect();
    for (i, rev) in nearest_order(&ends, &fixed, cursor.at) {
        if rev {
            let mut q = free[i].clone();
            q.points.reverse();
            emit_loop_or_path(&q, comb_area, params, cursor, steps, seams, first, layer);
        } else {
            emit_loop_or_path(
                free[i], comb_area, params, cursor, steps, seams, first, layer,
            );
        }
    }
    for p in ordered {
        emit_loop_or_path(p, comb_area, params, cursor, steps, seams, first, layer);
    }
}

/// Rough time of a plan's moves, s (no acceleration), for cooling decisions:
/// (extrusion time, travel and wipe time).
fn rough_times(plan: &LayerPlan) -> (f64, f64) {
    let mut at: Option<Point> = None;
    let (mut extruding, mut moving) = (0.0, 0.0);
    for s in &plan.steps {
        match s {
            Step::Travel { to, speed, .. } => {
                if let Some(a) = at {
                    moving += a.distance(*to) / geom::SCALE / speed.max(1.0);
                }
                at = Some(*to);
            }
            Step::Extrude { points, speed, .. } => {
                let len: f64 = points.windows(2).map(|w| w[0].distance(w[1])).sum();
                extruding += len / geom::SCALE / speed.max(1.0);
                at = points.last().copied();
            }
            Step::Wipe { points, speed } => {
                let len: f64 = points.windows(2).map(|w| w[0].distance(w[1])).sum();
                moving += len / geom::SCALE / speed.max(1.0);
                at = points.last().copied();
            }
            _ => {}
        }
    }
    (extruding, moving)
}

#[cfg(test)]
fn rough_time(plan: &LayerPlan) -> f64 {
    let (e, m) = rough_times(plan);
    e + m
}

/// Slow short layers down and set the fan (with bridge fan around bridges).
fn apply_cooling(plan: &mut LayerPlan, params: &PlanParams, tool: usize) {
    let Some(c) = params.cooling.get(tool).or(params.cooling.first()).copied() else {
        return;
    };
    let (extruding, moving) = rough_times(plan);
    let time = extruding + moving;
    if c.min_layer_time > 0.0 && extruding > 0.0 && time < c.min_layer_time {
        // Stretch the extrusions so the whole layer takes the minimum time.
        let factor = extruding / (c.min_layer_time - moving).max(1e-6);
        for s in &mut plan.steps {
            if let Step::Extrude { speed, .. } = s {
                *speed = (*speed * factor).max(c.min_print_speed.min(*speed));
            }
        }
    }
    let fan = if plan.index < c.disable_first_layers {
        0.0
    } else if time < c.min_layer_time {
        c.fan_max
    } else if time < c.fan_below_layer_time {
        // Between the two times, from max to min.
        let t = (time - c.min_layer_time) / (c.fan_below_layer_time - c.min_layer_time).max(1e-9);
        c.fan_max + (c.fan_min - c.fan_max) * t
    } else {
        c.fan_min
    };
    let fan = fan.round().clamp(0.0, 100.0) as u8;
    let mut steps = Vec::with_capacity(plan.steps.len() + 4);
    steps.push(Step::Fan(fan));
    let bridge_fan = if plan.index < c.disable_first_layers {
        0
    } else {
        c.bridge_fan.round() as u8
    };
    let mut in_bridge = false;
    for s in plan.steps.drain(..) {
        if let Step::Extrude { role, .. } = &s {
            let bridge = *role == Role::BridgeInfill;
            if bridge != in_bridge && bridge_fan != fan {
                steps.push(Step::Fan(if bridge { bridge_fan } else { fan }));
            }
            in_bridge = bridge;
        }
        steps.push(s);
    }
    if in_bridge && bridge_fan != fan {
        steps.push(Step::Fan(fan));
    }
    plan.steps = steps;
}

#[cfg(test)]
mod tests;
