//! Turning layer plans into machine events: the one place that decides the exact moves
//! (retractions, lifts, wipes, tool offsets, extrusion amounts). The writer prints these
//! events and the estimator times them, so the estimate is the time of what is written.

use super::{GcodeJob, ToolConfig};
use crate::geom::{self, Point};
use crate::path::{Role, bead_area};
use crate::plan::{LayerPlan, Step};

/// Why a move is made.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MoveKind {
    /// Moving without extruding.
    Travel,
    /// Laying down material.
    Extrude,
    /// Pulling filament back (E only).
    Retract,
    /// Pushing it back after a travel (E only).
    Unretract,
    /// Z lift or return.
    Lift,
    /// Moving while retracting.
    Wipe,
    /// Moving to the layer's height.
    LayerZ,
}

/// What the machine is told, in order.
#[derive(Debug, Clone, PartialEq)]
pub enum Event<'a> {
    /// A new layer begins (before its Z move).
    LayerStart {
        /// Layer number.
        index: usize,
        /// Print height, mm.
        z: f64,
        /// Layer thickness, mm.
        height: f64,
    },
    /// The layer's Z move has been made; the layer's body follows.
    LayerBody {
        /// Layer number.
        index: usize,
    },
    /// The extrusion role changes.
    Role(Role),
    /// The line width changes, mm.
    Width(f64),
    /// A move to (x, y, z) in machine coordinates, `de` mm of filament (negative:
    /// retraction), at `feed` mm/s.
    Move {
        /// Target X, mm.
        x: f64,
        /// Target Y, mm.
        y: f64,
        /// Target Z, mm.
        z: f64,
        /// Filament change, mm.
        de: f64,
        /// Feed rate, mm/s.
        feed: f64,
        /// Why.
        kind: MoveKind,
        /// Tool extruding.
        tool: usize,
    },
    /// Firmware retraction (G10) or recovery (G11).
    FirmwareRetract(bool),
    /// Fan speed, %.
    Fan(u8),
    /// Tool temperature, °C.
    Temperature {
        /// Tool.
        tool: usize,
        /// Target.
        celsius: f64,
        /// Wait for it.
        wait: bool,
    },
    /// Change tools (after retraction; the writer adds the template and `T<n>`).
    ToolChange {
        /// Old tool.
        from: usize,
        /// New tool.
        to: usize,
    },
    /// Raw G-code lines (templates).
    Custom(&'a str),
}

/// The machine state while walking the plans.
struct State {
    x: f64,
    y: f64,
    z: f64,
    layer_z: f64,
    known: bool,
    tool: usize,
    retracted: f64,
    /// Retraction left in each tool while it is parked.
    parked: Vec<f64>,
    lifted: bool,
    role: Option<Role>,
    width: f64,
}

fn tool_cfg(job: &GcodeJob, tool: usize) -> &ToolConfig {
    job.tools
        .get(tool)
        .or(job.tools.first())
        .expect("a job has at least one tool")
}

/// Walk `plans` and call `sink` with every event, in order.
pub fn walk<'a>(job: &'a GcodeJob, plans: &'a [LayerPlan], sink: &mut dyn FnMut(Event<'a>)) {
    let mut st = State {
        x: 0.0,
        y: 0.0,
        z: 0.0,
        layer_z: 0.0,
        known: false,
        tool: job.initial_tool,
        retracted: 0.0,
        parked: vec![0.0; job.tools.len().max(1)],
        lifted: false,
        role: None,
        width: 0.0,
    };
    let travel_z_speed = job.z_speed;
    for plan in plans {
        sink(Event::LayerStart {
            index: plan.index,
            z: plan.z,
            height: plan.height,
        });
        st.layer_z = plan.z;
        st.lifted = false;
        // Layer change: retract first if moving up with material in the nozzle.
        let cfg = tool_cfg(job, st.tool);
        if st.known {
            retract(job, &mut st, cfg.retract_length, sink);
        }
        st.z = plan.z;
        sink(Event::Move {
            x: st.x,
            y: st.y,
            z: st.z,
            de: 0.0,
            feed: travel_z_speed,
            kind: MoveKind::LayerZ,
            tool: st.tool,
        });
        sink(Event::LayerBody { index: plan.index });
        for step in &plan.steps {
            match step {
                Step::Travel {
                    to,
                    speed,
                    retract: want_retract,
                    lift,
                } => {
                    let (tx, ty) = machine_xy(job, st.tool, *to);
                    if st.known && (tx - st.x).abs() < 1e-9 && (ty - st.y).abs() < 1e-9 {
                        continue;
                    }
                    if *want_retract && st.known {
                        let len = tool_cfg(job, st.tool).retract_length;
                        retract(job, &mut st, len, sink);
                        let hop = tool_cfg(job, st.tool).z_hop;
                        if *lift && hop > 0.0 && !st.lifted {
                            st.z = st.layer_z + hop;
                            st.lifted = true;
                            sink(Event::Move {
                                x: st.x,
                                y: st.y,
                                z: st.z,
                                de: 0.0,
                                feed: travel_z_speed,
                                kind: MoveKind::Lift,
                                tool: st.tool,
                            });
                        }
                    }
                    st.x = tx;
                    st.y = ty;
                    st.known = true;
                    sink(Event::Move {
                        x: tx,
                        y: ty,
                        z: st.z,
                        de: 0.0,
                        feed: *speed,
                        kind: MoveKind::Travel,
                        tool: st.tool,
                    });
                }
                Step::Extrude {
                    role,
                    points,
                    width,
                    height,
                    speed,
                    flow,
                } => {
                    if points.len() < 2 {
                        continue;
                    }
                    // Be at the start, down, and primed.
                    let (sx, sy) = machine_xy(job, st.tool, points[0]);
                    if !st.known || (sx - st.x).abs() > 1e-9 || (sy - st.y).abs() > 1e-9 {
                        st.x = sx;
                        st.y = sy;
                        st.known = true;
                        sink(Event::Move {
                            x: sx,
                            y: sy,
                            z: st.z,
                            de: 0.0,
                            feed: job.travel_speed,
                            kind: MoveKind::Travel,
                            tool: st.tool,
                        });
                    }
                    unlift(job, &mut st, sink);
                    unretract(job, &mut st, sink);
                    if st.role != Some(*role) {
                        st.role = Some(*role);
                        sink(Event::Role(*role));
                    }
                    if (st.width - width).abs() > 1e-6 {
                        st.width = *width;
                        sink(Event::Width(*width));
                    }
                    let cfg = tool_cfg(job, st.tool);
                    let per_mm = bead_area(*width, *height) * flow * cfg.extrusion_multiplier
                        / cfg.filament_area();
                    for p in &points[1..] {
                        let (x, y) = machine_xy(job, st.tool, *p);
                        let len = (x - st.x).hypot(y - st.y);
                        if len < 1e-9 {
                            continue;
                        }
                        st.x = x;
                        st.y = y;
                        sink(Event::Move {
                            x,
                            y,
                            z: st.z,
                            de: len * per_mm,
                            feed: *speed,
                            kind: MoveKind::Extrude,
                            tool: st.tool,
                        });
                    }
                }
                Step::Wipe { points, speed } => {
                    let cfg = tool_cfg(job, st.tool);
                    let total: f64 =
                        points.windows(2).map(|w| w[0].distance(w[1])).sum::<f64>() / geom::SCALE;
                    let want = cfg.retract_length - st.retracted;
                    if job.firmware_retraction || total <= 0.0 || want <= 0.0 {
                        continue;
                    }
                    // Spread up to the full retraction over the wipe.
                    for p in &points[1..] {
                        let (x, y) = machine_xy(job, st.tool, *p);
                        let len = (x - st.x).hypot(y - st.y);
                        if len < 1e-9 {
                            continue;
                        }
                        let de = want * len / total;
                        st.x = x;
                        st.y = y;
                        st.retracted += de;
                        sink(Event::Move {
                            x,
                            y,
                            z: st.z,
                            de: -de,
                            feed: *speed,
                            kind: MoveKind::Wipe,
                            tool: st.tool,
                        });
                    }
                }
                Step::Fan(f) => sink(Event::Fan(*f)),
                Step::Temperature {
                    tool,
                    celsius,
                    wait,
                } => sink(Event::Temperature {
                    tool: *tool,
                    celsius: *celsius,
                    wait: *wait,
                }),
                Step::ToolChange { tool } => {
                    if *tool == st.tool {
                        continue;
                    }
                    let len = tool_cfg(job, st.tool).retract_toolchange;
                    retract(job, &mut st, len, sink);
                    let from = st.tool;
                    // Each tool keeps its own retraction while parked.
                    if let Some(slot) = st.parked.get_mut(from) {
                        *slot = st.retracted;
                    }
                    st.tool = *tool;
                    st.retracted = st.parked.get(*tool).copied().unwrap_or(0.0);
                    // The new nozzle sits elsewhere: the next move re-positions.
                    st.known = false;
                    st.role = None;
                    sink(Event::ToolChange { from, to: *tool });
                }
                Step::Custom(text) => sink(Event::Custom(text)),
            }
        }
    }
    // Leave the nozzle retracted for the end G-code.
    if st.known {
        let len = tool_cfg(job, st.tool).retract_length;
        retract(job, &mut st, len, sink);
    }
}

/// Bed coordinates of a point to the coordinates the machine is sent for `tool`.
fn machine_xy(job: &GcodeJob, tool: usize, p: Point) -> (f64, f64) {
    let (x, y) = p.to_mm();
    if job.firmware_tool_offsets {
        (x, y)
    } else {
        let o = tool_cfg(job, tool).offset;
        (x - o[0], y - o[1])
    }
}

fn retract<'a>(job: &GcodeJob, st: &mut State, length: f64, sink: &mut dyn FnMut(Event<'a>)) {
    let more = length - st.retracted;
    if more <= 1e-9 {
        return;
    }
    if job.firmware_retraction {
        if st.retracted <= 0.0 {
            st.retracted = length;
            sink(Event::FirmwareRetract(true));
        }
        return;
    }
    st.retracted = length;
    let cfg = tool_cfg(job, st.tool);
    sink(Event::Move {
        x: st.x,
        y: st.y,
        z: st.z,
        de: -more,
        feed: cfg.retract_speed,
        kind: MoveKind::Retract,
        tool: st.tool,
    });
}

fn unretract<'a>(job: &GcodeJob, st: &mut State, sink: &mut dyn FnMut(Event<'a>)) {
    if st.retracted <= 0.0 {
        return;
    }
    if job.firmware_retraction {
        st.retracted = 0.0;
        sink(Event::FirmwareRetract(false));
        return;
    }
    let cfg = tool_cfg(job, st.tool);
    let de = st.retracted + cfg.restart_extra;
    st.retracted = 0.0;
    sink(Event::Move {
        x: st.x,
        y: st.y,
        z: st.z,
        de,
        feed: cfg.retract_speed,
        kind: MoveKind::Unretract,
        tool: st.tool,
    });
}

fn unlift<'a>(job: &GcodeJob, st: &mut State, sink: &mut dyn FnMut(Event<'a>)) {
    if !st.lifted {
        return;
    }
    st.lifted = false;
    st.z = st.layer_z;
    sink(Event::Move {
        x: st.x,
        y: st.y,
        z: st.z,
        de: 0.0,
        feed: job.z_speed,
        kind: MoveKind::Lift,
        tool: st.tool,
    });
}
