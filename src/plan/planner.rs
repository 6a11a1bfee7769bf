//! The planner: every layer's paths put in print order with travels, seams, skirt and
//! brim, speeds and fan.
//!
//! Per layer, for each tool in turn (the tool left active by the layer below first):
//! skirt and brim (first layers), support, then the islands nearest-first. Inside an
//! island: wall loops by nesting (see [`perimeter_nests`]), then bridges, then thin
//! walls, gap fill, solid and sparse infill in one chain nearest-end-first mended by
//! 2-opt (see [`shorten_chain`]), then top surfaces in the order the fill gave them
//! (monotonic tops stay monotonic). Where a
//! prime tower is printed (multi-tool prints) it belongs right after each tool change,
//! before the new tool touches the part.
//!
//! The comb regions (one Clipper offset per island) are computed in parallel a chunk of
//! layers ahead of the sequential pass, which carries the nozzle position, the tool,
//! the fan and the previous layer's seams from layer to layer.

use rayon::prelude::*;

use crate::geom::{self, Point};
use crate::layer::{IslandPaths, LayerRegions};
use crate::path::{ExtrusionPath, Role};
use crate::timing;

use super::comb::CombRegion;
use super::cooling::apply_cooling;
use super::order::{
    NearestIslands, PathEnds, chain_paths, perimeter_nests, shorten_chain, two_opt,
};
use super::params::{PlanParams, SeamPosition};
use super::seam::{SeamHistory, rotate_loop, seam_and_anchor};
use super::skirt::{Adhesion, adhesion};
use super::standby;
use super::tower::{Tower, TowerError, layer_tools, place_tower, tool_changes};
use super::{LayerPlan, Step};

/// Layers whose comb regions are prepared together (in parallel, while the previous
/// chunk is planned).
const PREPARE_CHUNK: usize = 16;

/// Comb inset (mm) of islands without a wall to take it from.
const DEFAULT_COMB_INSET: f64 = 0.45;

/// Inset of an island's last comb region, mm: through a neck narrower than a wall's
/// width the travel may pass anywhere over the island's own beads, and this keeps it
/// off the very outline (about a tenth of the nozzle's bore).
const EDGE_COMB_INSET: f64 = 0.05;

/// A travel from one support piece to another counts as crossing the model when it
/// comes this near the model's outline, mm: closer, the 0.4 mm nozzle would brush the
/// outer wall.
const SUPPORT_TRAVEL_CLEARANCE: f64 = 0.3;

/// Longest travel between support pieces made without retracting, mm: over a short
/// hop through the air between branches a string is harmless (it comes away with the
/// support), over a long one the nozzle would ooze enough to start the next piece
/// thin.
const SUPPORT_HOP_MAX: f64 = 20.0;

/// The free space a travel between support pieces may go round the model in reaches
/// this far past the layer's model and support, mm: room to pass round an island at
/// the edge of the print.
const AIR_MARGIN: f64 = 5.0;

/// Plan every layer: order, seams, travels, skirt and brim, speeds and fan.
///
/// `layers` is the whole print, first layer first. The result has one [`LayerPlan`]
/// per input layer, in the same order. Every extrusion of the input appears exactly
/// once (loops rotated to their seam and closed, open paths possibly reversed), with
/// its role, width and height; skirt and brim are added on the first layers.
///
/// ```
/// use lamina::geom::{scaled, ExPolygon, Polygon};
/// use lamina::layer::{IslandPaths, LayerRegions};
/// use lamina::path::{ExtrusionPath, Role};
/// use lamina::plan::{plan_layers, PlanParams, Step};
/// let outline = Polygon::rectangle(0, 0, scaled(10.0), scaled(10.0));
/// let wall = Polygon::rectangle(scaled(0.225), scaled(0.225), scaled(9.775), scaled(9.775));
/// let layer = LayerRegions {
///     index: 0, z: 0.2, height: 0.2, support: vec![], support_areas: vec![],
///     islands: vec![IslandPaths {
///         boundary: ExPolygon::new(outline), tool: 0, object: 0,
///         perimeters: vec![ExtrusionPath::from_loop(Role::ExternalPerimeter, wall, 0.45, 0.2)],
///         thin: vec![], infill: vec![],
///     }],
/// };
/// let plans = plan_layers(&[layer], &PlanParams::default());
/// let walls = plans[0].steps.iter().filter(|s| matches!(s, Step::Extrude { role: Role::ExternalPerimeter, .. })).count();
/// assert_eq!(walls, 1);
/// ```
pub fn plan_layers(layers: &[LayerRegions], params: &PlanParams) -> Vec<LayerPlan> {
    match plan_job(layers, params) {
        Ok((plans, _)) => plans,
        Err(_) => {
            let without = PlanParams {
                tower: None,
                ..params.clone()
            };
            plan_job(layers, &without)
                .map(|(plans, _)| plans)
                .unwrap_or_default()
        }
    }
}

/// Plan every layer, with the prime tower of multi-tool prints (returned too) and
/// standby temperatures for idle tools. Fails when the tower has no room.
pub fn plan_job(
    layers: &[LayerRegions],
    params: &PlanParams,
) -> Result<(Vec<LayerPlan>, Option<Tower>), TowerError> {
    let adhesion = adhesion(layers, params);
    let changes = tool_changes(layers, JobPlanner::adhesion_layers(params, &adhesion));
    let tower = match &params.tower {
        Some(t) => place_tower(layers, &changes, t)?,
        None => None,
    };
    let mut planner = JobPlanner::new(params, &adhesion, changes, tower.clone());
    let mut out = Vec::with_capacity(layers.len());
    let chunks: Vec<&[LayerRegions]> = layers.chunks(PREPARE_CHUNK).collect();
    let mut ready = chunks.first().map(|c| prepare_combs(c, params));
    for k in 0..chunks.len() {
        let combs = ready.take().unwrap_or_default();
        let next = chunks.get(k + 1);
        let (prepared, plans) = rayon::join(
            || next.map(|c| prepare_combs(c, params)),
            || {
                chunks[k]
                    .iter()
                    .zip(&combs)
                    .map(|(layer, comb)| planner.plan_layer(layer, comb))
                    .collect::<Vec<_>>()
            },
        );
        out.extend(plans);
        ready = prepared;
    }
    if let Some(s) = &params.standby {
        standby::manage(&mut out, s);
    }
    Ok((out, tower))
}

/// A job planned layer by layer, for callers that make the layers as they go and let
/// each go once planned: [`plan_job`] is this over a whole stack of layers, with the
/// standby temperatures (which look ahead to each tool's next use) added at the end.
pub struct JobPlanner<'a> {
    planner: Planner<'a>,
}

impl<'a> JobPlanner<'a> {
    /// Start a job with its skirt and brim (from [`adhesion`]), the tool changes of
    /// every layer (from [`tool_changes`]; layers past the end change no tool) and
    /// the prime tower (from [`place_tower`]).
    pub fn new(
        params: &'a PlanParams,
        adhesion: &'a Adhesion,
        changes: Vec<Vec<(usize, usize)>>,
        tower: Option<Tower>,
    ) -> JobPlanner<'a> {
        JobPlanner {
            planner: Planner {
                p: params,
                adhesion,
                pos: None,
                tool: 0,
                seams: SeamHistory::default(),
                fan: None,
                primed: vec![0],
                tower,
                changes,
            },
        }
    }

    /// The layers the skirt and brim are printed on (what [`tool_changes`] needs).
    pub fn adhesion_layers(params: &PlanParams, adhesion: &Adhesion) -> usize {
        JobPlanner::new(params, adhesion, Vec::new(), None)
            .planner
            .adhesion_layers()
    }

    /// Plan the next layer (layers come in order, first layer first); `combs` are its
    /// comb regions from [`prepare_combs`].
    pub fn plan_layer(&mut self, layer: &LayerRegions, combs: &LayerCombs) -> LayerPlan {
        self.planner.plan_layer(layer, combs)
    }
}

/// What the planner needs to travel inside one layer's islands and support pieces,
/// made ahead of the sequential planning (see [`prepare_combs`]).
#[derive(Debug, Clone, Default)]
pub struct LayerCombs {
    /// Island `i`'s comb regions.
    pub islands: Vec<IslandComb>,
    /// Support piece `k`'s comb region (the piece is the layer's `support_areas[k]`).
    pub support: Vec<Option<CombRegion>>,
    /// The piece each support path lies in (by the layer's `support` index), `None`
    /// for a path outside every piece.
    pub support_piece: Vec<Option<usize>>,
    /// The free space round the layer's model (layers with support and islands): the
    /// box of its islands and support grown by [`AIR_MARGIN`], less the islands grown
    /// by [`SUPPORT_TRAVEL_CLEARANCE`]. Travel between support pieces that stays in it
    /// (straight, or round the model) needs no retraction.
    pub air: Option<CombRegion>,
    /// The part of the free space round the model (the box of [`LayerCombs::air`]
    /// less the islands, one part outside them and one inside each hole of theirs)
    /// each support piece stands in, by `support_areas` index: going from one part to
    /// another crosses the model, so the planner prints one part's pieces before the
    /// next's.
    pub support_side: Vec<Option<usize>>,
}

/// The regions travel inside one island may take without retracting, tried in order
/// (empty where there is nothing to comb):
/// - inside the outer wall's inner edge, so what oozes lands on inner walls and
///   infill;
/// - inside the outer wall's centre line, where the nozzle lays that wall anyway: the
///   way through necks too narrow for the first (on a voxel-stepped bone it falls
///   apart into pieces there) and to path ends in parts too thin for it;
/// - just inside the island's outline ([`EDGE_COMB_INSET`]), through the narrowest
///   necks.
///
/// Every one keeps the travel over the island's own beads, never over air or a hole.
#[derive(Debug, Clone, Default)]
pub struct IslandComb {
    /// The regions, innermost first.
    pub regions: Vec<CombRegion>,
}

/// The comb regions of every island and support piece of `layers`, in parallel (they
/// need no state, so they are made ahead of the sequential planning).
pub fn prepare_combs(layers: &[LayerRegions], params: &PlanParams) -> Vec<LayerCombs> {
    let needed = params.combing || params.retract.only_when_crossing_perimeters;
    layers
        .par_iter()
        .map(|l| {
            let _busy = timing::enter(timing::Stage::Plan);
            let islands = l
                .islands
                .par_iter()
                .map(|isl| {
                    let _busy = timing::enter(timing::Stage::Plan);
                    let paths = isl.perimeters.len() + isl.thin.len() + isl.infill.len();
                    if !needed || paths < 2 {
                        return IslandComb::default();
                    }
                    let inset = comb_inset(isl);
                    let regions = [inset, inset / 2.0, EDGE_COMB_INSET]
                        .into_iter()
                        .filter_map(|d| CombRegion::new(&isl.boundary, d))
                        .collect();
                    IslandComb { regions }
                })
                .collect();
            let support_piece = support_pieces(l);
            let inset = support_comb_inset(l);
            let mut count = vec![0usize; l.support_areas.len()];
            for k in support_piece.iter().flatten() {
                count[*k] += 1;
            }
            let support = l
                .support_areas
                .iter()
                .zip(&count)
                .map(|(area, &n)| {
                    if !needed || n < 2 {
                        return None;
                    }
                    CombRegion::new(area, inset)
                })
                .collect();
            let (air, support_side) = if l.support.is_empty() || l.islands.is_empty() {
                (None, vec![None; l.support_areas.len()])
            } else {
                match air_around_model(l) {
                    Some((air, parts)) => (Some(air), sides(&l.support_areas, &parts)),
                    None => (None, vec![None; l.support_areas.len()]),
                }
            };
            LayerCombs {
                islands,
                support,
                support_piece,
                air,
                support_side,
            }
        })
        .collect()
}

/// The free space round a layer's model for travel between support pieces (see
/// [`LayerCombs::air`]). Its rings are the box and the islands grown by the
/// clearance, so [`CombRegion::route`] goes round an island the way it goes round a
/// hole, and support ends just beside the model (soluble support keeps only 0.15 mm
/// off it) hop out onto it. Also returns the free space's parts before the clearance.
fn air_around_model(l: &LayerRegions) -> Option<(CombRegion, Vec<geom::ExPolygon>)> {
    let mut all: Option<geom::BBox> = None;
    let boxes = l
        .islands
        .iter()
        .map(|i| &i.boundary)
        .chain(&l.support_areas)
        .filter_map(geom::ExPolygon::bbox);
    for b in boxes {
        match all.as_mut() {
            Some(a) => a.merge(&b),
            None => all = Some(b),
        }
    }
    let b = all?.inflated(geom::scaled(AIR_MARGIN + SUPPORT_TRAVEL_CLEARANCE));
    let frame = geom::ExPolygon::new(geom::Polygon::rectangle(b.min.x, b.min.y, b.max.x, b.max.y));
    let outlines: Vec<geom::ExPolygon> = l.islands.iter().map(|i| i.boundary.clone()).collect();
    let air = geom::difference(std::slice::from_ref(&frame), &outlines);
    let region = CombRegion::of_areas(&air, SUPPORT_TRAVEL_CLEARANCE)?;
    Some((region, air))
}

/// The part of `parts` each of `pieces` starts in (by its outline's first point).
fn sides(pieces: &[geom::ExPolygon], parts: &[geom::ExPolygon]) -> Vec<Option<usize>> {
    let boxes: Vec<Option<geom::BBox>> = parts.iter().map(geom::ExPolygon::bbox).collect();
    let index = BoxIndex::new(&boxes);
    pieces
        .iter()
        .map(|piece| {
            let p = *piece.contour.points.first()?;
            index.candidates(p).find(|&k| parts[k].contains(p))
        })
        .collect()
}

/// The support piece (index in `layer.support_areas`) each support path starts in.
fn support_pieces(layer: &LayerRegions) -> Vec<Option<usize>> {
    if layer.support_areas.is_empty() {
        return vec![None; layer.support.len()];
    }
    let boxes: Vec<Option<geom::BBox>> = layer
        .support_areas
        .iter()
        .map(geom::ExPolygon::bbox)
        .collect();
    let index = BoxIndex::new(&boxes);
    layer
        .support
        .iter()
        .map(|(_, path)| {
            let p = *path.points.first()?;
            index
                .candidates(p)
                .find(|&k| layer.support_areas[k].contains(p))
        })
        .collect()
}

/// Half the widest support line of the layer: the comb region of a support piece is
/// where the beads' centres go.
fn support_comb_inset(layer: &LayerRegions) -> f64 {
    let w = layer
        .support
        .iter()
        .map(|(_, p)| p.width)
        .fold(0.0, f64::max);
    if w > 0.0 {
        w / 2.0
    } else {
        DEFAULT_COMB_INSET / 2.0
    }
}

/// Boxes in a uniform grid, to find the few whose box holds a point.
struct BoxIndex<'b> {
    boxes: &'b [Option<geom::BBox>],
    origin: Point,
    cell: i64,
    nx: usize,
    ny: usize,
    /// Boxes of cell `c`: `slots[start[c]..start[c + 1]]`.
    start: Vec<usize>,
    slots: Vec<usize>,
}

impl<'b> BoxIndex<'b> {
    fn new(boxes: &'b [Option<geom::BBox>]) -> BoxIndex<'b> {
        let mut all: Option<geom::BBox> = None;
        let mut side = 0.0;
        let mut n = 0usize;
        for b in boxes.iter().flatten() {
            match all.as_mut() {
                Some(a) => a.merge(b),
                None => all = Some(*b),
            }
            let s = b.size();
            side += s.x.max(s.y) as f64;
            n += 1;
        }
        let Some(all) = all else {
            return BoxIndex {
                boxes,
                origin: Point::default(),
                cell: 1,
                nx: 0,
                ny: 0,
                start: vec![0],
                slots: Vec::new(),
            };
        };
        let size = all.size();
        // Cells about the size of a typical box, no more of them than a few per box.
        let mut cell = (side / n as f64).max(1.0);
        while ((size.x as f64 / cell).ceil() + 1.0) * ((size.y as f64 / cell).ceil() + 1.0)
            > 4.0 * n as f64 + 16.0
        {
            cell *= 1.5;
        }
        let cell = cell.ceil() as i64;
        let nx = (size.x / cell) as usize + 1;
        let ny = (size.y / cell) as usize + 1;
        let span = |b: &geom::BBox| {
            let c0 = ((b.min.x - all.min.x) / cell) as usize;
            let c1 = (((b.max.x - all.min.x) / cell) as usize).min(nx - 1);
            let r0 = ((b.min.y - all.min.y) / cell) as usize;
            let r1 = (((b.max.y - all.min.y) / cell) as usize).min(ny - 1);
            (c0..=c1, r0..=r1)
        };
        let mut len = vec![0usize; nx * ny];
        for b in boxes.iter().flatten() {
            let (cs, rs) = span(b);
            for r in rs {
                for c in cs.clone() {
                    len[r * nx + c] += 1;
                }
            }
        }
        let mut start = Vec::with_capacity(nx * ny + 1);
        start.push(0);
        for l in &len {
            start.push(start.last().copied().unwrap_or(0) + l);
        }
        let mut fill = start.clone();
        let mut slots = vec![0usize; start[nx * ny]];
        for (k, b) in boxes.iter().enumerate() {
            let Some(b) = b else { continue };
            let (cs, rs) = span(b);
            for r in rs {
                for c in cs.clone() {
                    slots[fill[r * nx + c]] = k;
                    fill[r * nx + c] += 1;
                }
            }
        }
        BoxIndex {
            boxes,
            origin: all.min,
            cell,
            nx,
            ny,
            start,
            slots,
        }
    }

    /// The boxes holding `p`, in index order.
    fn candidates(&self, p: Point) -> impl Iterator<Item = usize> + '_ {
        let (dx, dy) = (p.x - self.origin.x, p.y - self.origin.y);
        let cell = if dx < 0 || dy < 0 || self.nx == 0 {
            None
        } else {
            let (c, r) = ((dx / self.cell) as usize, (dy / self.cell) as usize);
            (c < self.nx && r < self.ny).then_some(r * self.nx + c)
        };
        let slots = cell.map_or(&[][..], |c| &self.slots[self.start[c]..self.start[c + 1]]);
        slots
            .iter()
            .copied()
            .filter(move |&k| self.boxes[k].is_some_and(|b| b.contains(p)))
    }
}

/// About one external wall width: the island's outer wall's width.
fn comb_inset(isl: &IslandPaths) -> f64 {
    isl.perimeters
        .iter()
        .chain(&isl.thin)
        .filter(|p| p.role == Role::ExternalPerimeter)
        .map(|p| p.width)
        .fold(None, |acc: Option<f64>, w| {
            Some(acc.map_or(w, |a| a.max(w)))
        })
        .unwrap_or(DEFAULT_COMB_INSET)
}

/// State carried from layer to layer.
struct Planner<'a> {
    p: &'a PlanParams,
    adhesion: &'a Adhesion,
    /// Where the nozzle is (`None` before the first move).
    pos: Option<Point>,
    /// The active tool.
    tool: usize,
    /// Seams of the latest layer with loops.
    seams: SeamHistory,
    /// The fan as last set.
    fan: Option<u8>,
    /// Tools primed so far: the one the print starts with (by the start G-code), then
    /// each tool's prime line (prints without a tower).
    primed: Vec<usize>,
    /// The prime tower, when there is one.
    tower: Option<Tower>,
    /// Every layer's tool changes (from, to).
    changes: Vec<Vec<(usize, usize)>>,
}

/// State of the layer being planned.
struct LayerState {
    steps: Vec<Step>,
    first_layer: bool,
    index: usize,
    height: f64,
    /// The island the last extrusion belongs to.
    island: Option<usize>,
    /// Whether the last extrusion was support.
    on_support: bool,
    /// A tool change just happened (it retracted): the next travel does not.
    after_tool_change: bool,
    new_seams: SeamHistory,
    loops: u64,
}

/// Where a path sits: which island (for combing), and its comb regions (each tried
/// when the ones before it have no way); for support, the layer's model outline to
/// keep clear of between pieces.
#[derive(Clone, Copy)]
struct Place<'c> {
    island: Option<usize>,
    comb: &'c [CombRegion],
    support: Option<SupportPlace<'c>>,
}

/// What a support path's travel needs to know.
#[derive(Clone, Copy)]
struct SupportPlace<'c> {
    /// The free space round the layer's model (`None`: no model).
    air: Option<&'c CombRegion>,
}

const OUTSIDE: Place<'static> = Place {
    island: None,
    comb: &[],
    support: None,
};

impl Planner<'_> {
    fn plan_layer(&mut self, layer: &LayerRegions, combs: &LayerCombs) -> LayerPlan {
        let mut st = LayerState {
            steps: Vec::new(),
            first_layer: layer.index == 0,
            index: layer.index,
            height: layer.height,
            island: None,
            on_support: false,
            after_tool_change: false,
            new_seams: SeamHistory::default(),
            loops: 0,
        };
        if layer.index == 1 {
            self.after_first_layer_temperatures(&mut st);
        }
        let start_tool = self.tool;
        let tower = self.tower.clone().filter(|t| layer.index <= t.last_layer);
        let changes = self.changes.get(layer.index).cloned().unwrap_or_default();
        let purges = tower.as_ref().map(|t| {
            let volumes: Vec<f64> = changes
                .iter()
                .map(|&(f, to)| {
                    self.p
                        .tower
                        .as_ref()
                        .map_or(0.0, |tp| tp.purge_volume(f, to))
                })
                .collect();
            t.purges(&volumes, st.first_layer, layer.height)
        });
        let order = self.tool_order(layer);
        // The tower's wall goes down with the layer's first tool on the first layer
        // (with the brim it holds) and on layers without a tool change; on the others
        // the first incoming tool lays it right after its purge, while it is at the
        // tower anyway, so the tool the layer starts with makes no trip there and back.
        let walls_at_change = !st.first_layer && !changes.is_empty();
        let mut change = 0;
        for (g, &tool) in order.iter().enumerate() {
            if tool != self.tool {
                st.steps.push(Step::ToolChange { tool });
                st.after_tool_change = true;
                st.island = None;
                st.on_support = false;
                self.tool = tool;
                // The new tool purges on the tower before it touches the part.
                if let Some(Some(band)) = purges.as_ref().and_then(|p| p.get(change)) {
                    self.print_path(&mut st, band, false, SeamPosition::Nearest, OUTSIDE);
                }
                if let (0, true, Some(t)) = (change, walls_at_change, &tower) {
                    self.print_tower_layer(&mut st, t, false, layer.height);
                }
                self.prime(&mut st, tool);
                change += 1;
            }
            if g == 0 {
                self.print_adhesion(&mut st);
                if let (false, Some(t)) = (walls_at_change, &tower) {
                    self.print_tower_layer(&mut st, t, changes.is_empty(), layer.height);
                }
            }
            self.print_support(&mut st, layer, combs, tool);
            self.print_islands(&mut st, layer, &combs.islands, tool);
        }
        if order.is_empty() {
            if let Some(t) = &tower {
                self.print_tower_layer(&mut st, t, true, layer.height);
            }
        }
        if st.first_layer {
            // Tools first needed above the first layer prime on it too, while the
            // nozzle is at the bed.
            let later: Vec<usize> = self.changes.iter().flatten().map(|&(_, to)| to).collect();
            for tool in later {
                if !self.primed.contains(&tool) && self.can_prime() {
                    st.steps.push(Step::ToolChange { tool });
                    st.after_tool_change = true;
                    st.island = None;
                    st.on_support = false;
                    self.tool = tool;
                    self.prime(&mut st, tool);
                }
            }
        }
        if !st.new_seams.is_empty() {
            self.seams = std::mem::take(&mut st.new_seams);
        }
        let mut plan = LayerPlan {
            index: layer.index,
            z: layer.z,
            height: layer.height,
            steps: st.steps,
        };
        apply_cooling(&mut plan, self.p, start_tool, &mut self.fan);
        plan
    }

    /// Nozzle (and bed) temperatures after the first layer.
    fn after_first_layer_temperatures(&self, st: &mut LayerState) {
        for (tool, t) in self.p.tools.iter().enumerate() {
            if t.temperature > 0.0 && t.temperature != t.first_layer_temperature {
                st.steps.push(Step::Temperature {
                    tool,
                    celsius: t.temperature,
                    wait: false,
                });
            }
        }
        let (first, rest) = self.p.bed_temperature;
        if rest > 0.0 && rest != first {
            st.steps
                .push(Step::Custom(format!("M140 S{}", format_number(rest))));
        }
    }

    /// Whether tools get prime lines: a multi-tool print with no tower to purge on.
    fn can_prime(&self) -> bool {
        self.p.prime.is_some() && self.tower.is_none()
    }

    /// The prime line of `tool` (just made the active tool), on the first layer, the
    /// first time the tool is used.
    fn prime(&mut self, st: &mut LayerState, tool: usize) {
        let p = self.p;
        let Some(lines) = p.prime.as_ref() else {
            return;
        };
        if !st.first_layer || self.primed.contains(&tool) || !self.can_prime() {
            return;
        }
        let path = lines.path(tool, st.height);
        self.primed.push(tool);
        self.print_path(st, &path, false, SeamPosition::Nearest, OUTSIDE);
    }

    /// The tools the layer uses, the active one first (fewest changes).
    fn tool_order(&self, layer: &LayerRegions) -> Vec<usize> {
        layer_tools(layer, self.tool, layer.index < self.adhesion_layers())
    }

    /// The tower's wall (and brim) by the layer's first tool, and its sparse inside
    /// when the layer changes no tool.
    fn print_tower_layer(&mut self, st: &mut LayerState, t: &Tower, sparse: bool, h: f64) {
        let mut paths = t.walls(st.first_layer, h);
        if sparse {
            paths.extend(t.sparse(st.first_layer, h));
        }
        for p in &paths {
            self.print_path(st, p, false, SeamPosition::Nearest, OUTSIDE);
        }
    }

    fn adhesion_layers(&self) -> usize {
        if self.adhesion.skirt.is_empty() {
            usize::from(!self.adhesion.brim.is_empty())
        } else {
            self.p
                .skirt
                .height
                .max(usize::from(!self.adhesion.brim.is_empty()))
        }
    }

    fn print_adhesion(&mut self, st: &mut LayerState) {
        let adhesion = self.adhesion;
        if st.index < self.p.skirt.height {
            for ring in &adhesion.skirt {
                let path = ExtrusionPath::from_loop(
                    Role::SkirtBrim,
                    ring.clone(),
                    self.p.skirt.width,
                    st.height,
                );
                self.print_path(st, &path, false, SeamPosition::Nearest, OUTSIDE);
            }
        }
        if st.index == 0 && !adhesion.brim.is_empty() {
            let starts: Vec<PathEnds> = adhesion
                .brim
                .iter()
                .map(|g| {
                    let p = g
                        .first()
                        .and_then(|p| p.points.first())
                        .copied()
                        .unwrap_or_default();
                    PathEnds {
                        start: p,
                        end: p,
                        reversible: false,
                    }
                })
                .collect();
            for (g, _) in chain_paths(&starts, self.pos.unwrap_or_default()) {
                for path in &adhesion.brim[g] {
                    let rev = !path.closed && self.nearer_end_is_last(path);
                    self.print_path(st, path, rev, SeamPosition::Nearest, OUTSIDE);
                }
            }
        }
    }

    fn nearer_end_is_last(&self, path: &ExtrusionPath) -> bool {
        let at = self.pos.unwrap_or_default();
        match (path.points.first(), path.points.last()) {
            (Some(a), Some(b)) => (*b - at).length_squared() < (*a - at).length_squared(),
            _ => false,
        }
    }

    /// The support paths of `tool`, piece by piece (nearest piece first), so travel
    /// between paths of one piece stays inside it (combed, no retraction); paths
    /// outside every piece after them.
    fn print_support(
        &mut self,
        st: &mut LayerState,
        layer: &LayerRegions,
        combs: &LayerCombs,
        tool: usize,
    ) {
        let mut pieces: Vec<Vec<&ExtrusionPath>> = vec![Vec::new(); layer.support_areas.len()];
        let mut loose: Vec<&ExtrusionPath> = Vec::new();
        for (k, (t, path)) in layer.support.iter().enumerate() {
            if *t != tool {
                continue;
            }
            match combs.support_piece.get(k).copied().flatten() {
                Some(g) => pieces[g].push(path),
                None => loose.push(path),
            }
        }
        let members: Vec<usize> = (0..pieces.len())
            .filter(|&g| !pieces[g].is_empty())
            .collect();
        let support = SupportPlace {
            air: combs.air.as_ref(),
        };
        if !members.is_empty() {
            let outlines: Vec<&geom::ExPolygon> =
                members.iter().map(|&g| &layer.support_areas[g]).collect();
            // The pieces of one part of the free space (outside the model, or inside
            // one of its holes) before the next part's, parts in the order the
            // nozzle comes to them; in each, nearest piece first, then mended by
            // 2-opt between the points each piece is entered at.
            let side = |k: usize| combs.support_side.get(members[k]).copied().flatten();
            let mut left: Vec<usize> = (0..members.len()).collect();
            let mut seq = Vec::with_capacity(members.len());
            let mut at = self.pos.unwrap_or_default();
            while !left.is_empty() {
                let rings: Vec<&geom::ExPolygon> = left.iter().map(|&k| outlines[k]).collect();
                let mut picker = NearestIslands::new(&rings);
                let Some((first, _)) = picker.next(at) else {
                    break;
                };
                let part = side(left[first]);
                let (here, rest): (Vec<usize>, Vec<usize>) =
                    left.into_iter().partition(|&k| side(k) == part);
                let rings: Vec<&geom::ExPolygon> = here.iter().map(|&k| outlines[k]).collect();
                let (tour, end) = tour(&rings, at);
                seq.extend(tour.into_iter().map(|j| here[j]));
                at = end;
                left = rest;
            }
            for k in seq {
                let g = members[k];
                let place = Place {
                    // Support pieces are places of their own, after the islands.
                    island: Some(layer.islands.len() + g),
                    comb: combs
                        .support
                        .get(g)
                        .and_then(Option::as_ref)
                        .map_or(&[][..], std::slice::from_ref),
                    support: Some(support),
                };
                self.print_chained(st, &pieces[g], place);
            }
        }
        let place = Place {
            support: Some(support),
            ..OUTSIDE
        };
        self.print_chained(st, &loose, place);
    }

    fn print_islands(
        &mut self,
        st: &mut LayerState,
        layer: &LayerRegions,
        combs: &[IslandComb],
        tool: usize,
    ) {
        let members: Vec<usize> = (0..layer.islands.len())
            .filter(|&i| layer.islands[i].tool == tool)
            .collect();
        if members.is_empty() {
            return;
        }
        let outlines: Vec<&geom::ExPolygon> = members
            .iter()
            .map(|&i| &layer.islands[i].boundary)
            .collect();
        let mut picker = NearestIslands::new(&outlines);
        while let Some((k, _)) = picker.next(self.pos.unwrap_or_default()) {
            let i = members[k];
            let place = Place {
                island: Some(i),
                comb: combs.get(i).map_or(&[][..], |c| &c.regions[..]),
                support: None,
            };
            if self.p.mark_objects {
                st.steps.push(Step::Object(Some(layer.islands[i].object)));
            }
            self.print_island(st, &layer.islands[i], place);
        }
        if self.p.mark_objects {
            st.steps.push(Step::Object(None));
        }
    }

    fn print_island(&mut self, st: &mut LayerState, isl: &IslandPaths, place: Place<'_>) {
        // Walls: nests nearest-first (by the points of the loop each starts with),
        // each in nest order.
        let nests = perimeter_nests(&isl.perimeters, self.p.external_perimeters_first);
        let firsts: Vec<&[Point]> = nests
            .iter()
            .map(|n| {
                n.first()
                    .map_or(&[][..], |&i| &isl.perimeters[i].points[..])
            })
            .collect();
        let mut picker = NearestIslands::of_rings(&firsts);
        while let Some((k, _)) = picker.next(self.pos.unwrap_or_default()) {
            for &i in &nests[k] {
                // Inner walls' seams never show: with aligned seams (lined up for
                // looks) they start where the nozzle is. Rear seams stay at the back on
                // every wall, as asked.
                let inner = isl.perimeters[i].role == Role::Perimeter;
                let seam = if inner && self.p.seam == SeamPosition::Aligned {
                    SeamPosition::Nearest
                } else {
                    self.p.seam
                };
                self.print_path(st, &isl.perimeters[i], false, seam, place);
            }
        }
        // Bridges first (one stretch of bridge fan), then thin walls, gap fill and the
        // rest of the infill in one chain (as PrusaSlicer chains gap fill with the
        // infill): they lie side by side between the walls, and a chain of each
        // over the whole island would cross it once per kind. Then top surfaces as
        // ordered by the fill.
        let (bridges, rest): (Vec<&ExtrusionPath>, Vec<&ExtrusionPath>) = isl
            .infill
            .iter()
            .partition(|p| p.role == Role::BridgeInfill);
        let (tops, mut other): (Vec<&ExtrusionPath>, Vec<&ExtrusionPath>) = rest
            .into_iter()
            .partition(|p| p.role == Role::TopSolidInfill);
        other.extend(&isl.thin);
        self.print_chained(st, &bridges, place);
        self.print_chained(st, &other, place);
        for path in tops {
            self.print_path(st, path, false, SeamPosition::Nearest, place);
        }
    }

    /// Print `paths` nearest-end-first, the order then shortened by 2-opt (open paths
    /// may be reversed).
    fn print_chained(&mut self, st: &mut LayerState, paths: &[&ExtrusionPath], place: Place<'_>) {
        if paths.is_empty() {
            return;
        }
        let ends: Vec<PathEnds> = paths.iter().map(|p| PathEnds::of(p)).collect();
        let from = self.pos.unwrap_or_default();
        let mut order = chain_paths(&ends, from);
        shorten_chain(&ends, &mut order, from);
        for (i, reversed) in order {
            self.print_path(st, paths[i], reversed, SeamPosition::Nearest, place);
        }
    }

    /// Travel to the start of `path` and extrude it. Loops start at their seam (chosen
    /// by `seam`) and are closed; open paths are printed as given or reversed.
    fn print_path(
        &mut self,
        st: &mut LayerState,
        path: &ExtrusionPath,
        reversed: bool,
        seam: SeamPosition,
        place: Place<'_>,
    ) {
        let points = if path.closed && path.points.len() >= 3 {
            let salt = self
                .p
                .seam_seed
                .wrapping_mul(0x9E37_79B9_7F4A_7C15)
                .wrapping_add((st.index as u64) << 32)
                .wrapping_add(st.loops);
            st.loops += 1;
            let (start, anchor) = seam_and_anchor(
                &path.points,
                seam,
                self.pos.unwrap_or_default(),
                &self.seams,
                salt,
            );
            if path.role != Role::SkirtBrim && !path.role.is_support() && seam == self.p.seam {
                st.new_seams.insert(anchor);
            }
            rotate_loop(&path.points, start)
        } else if path.closed && path.points.len() == 2 {
            vec![path.points[0], path.points[1], path.points[0]]
        } else if reversed {
            path.points.iter().rev().copied().collect()
        } else {
            path.points.clone()
        };
        if points.len() < 2 {
            return;
        }
        self.travel_to(st, points[0], place);
        let speed = self.p.speed(path, self.tool, st.first_layer);
        self.pos = points.last().copied();
        st.steps.push(Step::Extrude {
            role: path.role,
            points,
            width: path.width,
            height: path.height,
            speed,
            flow: self.p.flow(path.role),
        });
        st.island = place.island;
        st.on_support = place.support.is_some();
    }

    /// Move to `to`: combed inside the island when it can be, else straight, retracting
    /// (with wipe and lift) where the travel is long and leaves the island.
    fn travel_to(&mut self, st: &mut LayerState, to: Point, place: Place<'_>) {
        let speed = self.p.travel_speed(st.first_layer);
        let Some(from) = self.pos else {
            st.steps.push(Step::Travel {
                to,
                speed,
                retract: false,
                lift: false,
            });
            self.pos = Some(to);
            return;
        };
        if from == to {
            return;
        }
        let r = &self.p.retract;
        let long = from.distance(to) / geom::SCALE > r.min_travel;
        let same_island = place.island.is_some() && place.island == st.island;
        let mut combed: Option<Vec<Point>> = None;
        let mut inside = false;
        if same_island {
            if self.p.combing {
                combed = place.comb.iter().find_map(|r| r.route(from, to));
                inside = combed.is_some();
            } else {
                inside = place.comb.iter().any(|r| r.straight_inside(from, to));
            }
        }
        // From one support piece to another through the air, straight or round the
        // model, clear of it.
        let hop: Option<Vec<Point>> = match place.support {
            Some(sp) if st.on_support && r.only_when_crossing_perimeters && !inside => {
                let route = match sp.air {
                    Some(air) if self.p.combing => air.route(from, to),
                    Some(air) => air.straight_inside(from, to).then(|| vec![from, to]),
                    None => Some(vec![from, to]),
                };
                route.filter(|p| {
                    let len: f64 = p.windows(2).map(|w| w[0].distance(w[1])).sum();
                    len / geom::SCALE <= SUPPORT_HOP_MAX
                })
            }
            _ => None,
        };
        if hop.is_some() {
            combed = hop;
            inside = true;
        }
        let retract =
            !st.after_tool_change && long && (!inside || !r.only_when_crossing_perimeters);
        st.after_tool_change = false;
        self.pos = Some(to);
        if retract {
            if r.wipe && r.wipe_distance > 0.0 {
                if let Some(wipe) = wipe_path(st.steps.last(), r.wipe_distance) {
                    st.steps.push(Step::Wipe {
                        points: wipe,
                        speed: self.p.speeds.wipe,
                    });
                }
            }
            st.steps.push(Step::Travel {
                to,
                speed,
                retract: true,
                lift: r.z_hop > 0.0,
            });
            return;
        }
        match combed {
            Some(path) => {
                for p in path.into_iter().skip(1) {
                    st.steps.push(Step::Travel {
                        to: p,
                        speed,
                        retract: false,
                        lift: false,
                    });
                }
            }
            None => st.steps.push(Step::Travel {
                to,
                speed,
                retract: false,
                lift: false,
            }),
        }
    }
}

/// Visit order of the islands `outlines` from `from`: nearest first, each entered at
/// its outline sample nearest to the previous entry, then mended by 2-opt between
/// those entries. Returns the order and the last entry.
fn tour(outlines: &[&geom::ExPolygon], from: Point) -> (Vec<usize>, Point) {
    let mut picker = NearestIslands::new(outlines);
    let mut seq = Vec::with_capacity(outlines.len());
    let mut entries = vec![Point::default(); outlines.len()];
    let mut at = from;
    while let Some((k, entry)) = picker.next(at) {
        seq.push(k);
        entries[k] = entry;
        at = entry;
    }
    two_opt(&entries, &mut seq, from);
    let end = seq.last().map_or(from, |&k| entries[k]);
    (seq, end)
}

/// The wipe after the extrusion `last`: on along a loop from its start, or back along
/// an open path, for `distance` mm (less when the path is shorter).
fn wipe_path(last: Option<&Step>, distance: f64) -> Option<Vec<Point>> {
    let Some(Step::Extrude { points, .. }) = last else {
        return None;
    };
    let n = points.len();
    if n < 2 {
        return None;
    }
    let end = points[n - 1];
    let is_loop = n > 3 && points[0] == end;
    let route: Box<dyn Iterator<Item = Point> + '_> = if is_loop {
        Box::new(points[1..].iter().copied())
    } else {
        Box::new(points[..n - 1].iter().rev().copied())
    };
    let mut left = distance * geom::SCALE;
    let mut out = vec![end];
    let mut prev = end;
    for q in route {
        let d = prev.distance(q);
        if d >= left {
            out.push(prev.lerp(q, left / d));
            break;
        }
        out.push(q);
        left -= d;
        prev = q;
    }
    out.dedup();
    (out.len() >= 2).then_some(out)
}

/// A number as G-code wants it: no trailing zeros.
fn format_number(v: f64) -> String {
    let s = format!("{v:.3}");
    s.trim_end_matches('0').trim_end_matches('.').to_string()
}
