//! Tree support: small contact tips under the overhangs, branches that descend to the
//! bed (or onto the model) at a limited angle, keep clear of the model, thicken as they
//! go down and merge with their neighbours. Much less material than grid support, and a
//! tip small enough not to tear a thin vessel wall off when removed.
//!
//! The model's distance from every point of a layer comes from a raster distance field
//! (a Euclidean distance transform of the layer's islands), so steering a branch away
//! from the model is a look-up and a gradient, whatever the layer's complexity.

use rayon::prelude::*;
use std::collections::HashMap;

use super::areas::{AreaEdge, AreaParams, SupportLayer, coarse_islands, mark_interior};
use super::overhang::SurfacePoint;
use crate::geom::{self, ExPolygon, JoinType, Point, Polygon, scaled};
use crate::profile::Settings;
use crate::slice::Layer;

/// Raster resolution of the distance field, mm.
const PIXEL: f64 = 0.25;
/// Segments of the polygon drawn for a branch's circle.
const CIRCLE_SEGMENTS: usize = 16;
/// Branches merge when their centres are closer than this many times the larger
/// radius.
const MERGE_OVERLAP: f64 = 1.0;
/// Branches closer than this (mm) lean towards each other to merge further down.
const MERGE_REACH: f64 = 10.0;
/// Steering passes per layer when a branch must move away from the model.
const STEER_STEPS: usize = 3;
/// How far from a support bead (mm) an overhang still counts as held: a point of the
/// surface is held by extrusion within 1 mm of it, and the rest is margin for the
/// circle's polygon and the exact cut clear of the model.
const HOLD_REACH: f64 = 0.8;
/// Spacing (mm) of the points of the surface tree support checks it holds.
pub const SURFACE_SPACING: f64 = 0.4;
/// How far (mm) above the surface's tangent plane a support bead must lie to count as
/// under it (the outside measure asks for 0.02 mm).
const AIR_MARGIN: f64 = 0.05;
/// How far out along the slope (mm) a new tip starts its search for a clear spot.
const TIP_OUTSET: f64 = 0.3;
/// How far (mm) a new tip may move from the point it is to hold to get clear of the
/// model.
const TIP_SHIFT: f64 = 1.5;
/// How much (mm) a point's wait for a tip stays short of the last layer that could
/// hold it, for the layers' rounding.
const HOLD_WINDOW_MARGIN: f64 = 0.05;
/// Layer tops this close (mm) above the Z gap under a point still count as under it
/// (layer heights are rounded).
const LAYER_ROUNDING: f64 = 0.01;

/// Tree settings.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TreeParams {
    /// Largest angle of a branch from vertical, degrees.
    pub branch_angle: f64,
    /// Tip diameter, mm.
    pub tip_diameter: f64,
    /// Largest branch diameter, mm.
    pub branch_diameter: f64,
    /// Diameter growth angle, degrees.
    pub growth_angle: f64,
    /// Spacing of contact tips, mm.
    pub tip_spacing: f64,
}

impl TreeParams {
    /// From the settings.
    pub fn from_settings(s: &Settings) -> TreeParams {
        let p = &s.print;
        TreeParams {
            branch_angle: p.tree_branch_angle,
            tip_diameter: p.tree_tip_diameter,
            branch_diameter: p.tree_branch_diameter,
            growth_angle: p.tree_diameter_growth,
            tip_spacing: p.tree_tip_spacing,
        }
    }
}

/// Distance from the model, mm, on a raster over the layers' extent.
struct Field {
    x0: f64,
    y0: f64,
    w: usize,
    h: usize,
    dist: Vec<f32>,
}

impl Field {
    /// The distance field of `islands` over the box `(x0, y0)`-`(x0 + w·PIXEL, ...)`.
    fn new(islands: &[ExPolygon], x0: f64, y0: f64, w: usize, h: usize) -> Field {
        const FAR: f32 = 1e12;
        let mut sq = vec![FAR; w * h];
        // Rasterise: pixel centres inside the islands are at distance 0.
        let offset = scaled(y0 + 0.5 * PIXEL) as f64;
        let rows = crate::fill::line_fill(islands, scaled(PIXEL) as f64, 0.0, offset, false);
        for seg in rows {
            let (Some(a), Some(b)) = (seg.first(), seg.last()) else {
                continue;
            };
            let y = (a.y as f64 / geom::SCALE - y0) / PIXEL - 0.5;
            let r = y.round();
            if r < 0.0 || r >= h as f64 {
                continue;
            }
            let (xa, xb) = (
                a.x.min(b.x) as f64 / geom::SCALE,
                a.x.max(b.x) as f64 / geom::SCALE,
            );
            let c0 = ((xa - x0) / PIXEL - 0.5).ceil().max(0.0) as usize;
            let c1 = ((xb - x0) / PIXEL - 0.5).floor().min(w as f64 - 1.0);
            if c1 < 0.0 {
                continue;
            }
            let row = r as usize * w;
            for c in c0..=c1 as usize {
                sq[row + c] = 0.0;
            }
        }
        edt(&mut sq, w, h);
        let dist = sq.into_iter().map(|d| d.sqrt() * PIXEL as f32).collect();
        Field { x0, y0, w, h, dist }
    }

    fn at(&self, c: isize, r: isize) -> f32 {
        let c = c.clamp(0, self.w as isize - 1) as usize;
        let r = r.clamp(0, self.h as isize - 1) as usize;
        self.dist[r * self.w + c]
    }

    /// Distance from the model at `p` (mm), bilinear, never more than the true
    /// distance: the raster measures to the nearest pixel centre inside the model, up to
    /// a pixel inside its true edge, so a pixel is taken off.
    fn sample(&self, p: (f64, f64)) -> f64 {
        (self.raw(p) - PIXEL).max(0.0)
    }

    /// The rasterised distance, bilinear.
    fn raw(&self, p: (f64, f64)) -> f64 {
        let fx = (p.0 - self.x0) / PIXEL - 0.5;
        let fy = (p.1 - self.y0) / PIXEL - 0.5;
        let (c, r) = (fx.floor(), fy.floor());
        let (tx, ty) = ((fx - c) as f32, (fy - r) as f32);
        let (c, r) = (c as isize, r as isize);
        let a = self.at(c, r) * (1.0 - tx) + self.at(c + 1, r) * tx;
        let b = self.at(c, r + 1) * (1.0 - tx) + self.at(c + 1, r + 1) * tx;
        f64::from(a * (1.0 - ty) + b * ty)
    }

    /// The direction in which the distance grows fastest at `p` (unit, or zero).
    fn gradient(&self, p: (f64, f64)) -> (f64, f64) {
        let e = PIXEL;
        let gx = self.raw((p.0 + e, p.1)) - self.raw((p.0 - e, p.1));
        let gy = self.raw((p.0, p.1 + e)) - self.raw((p.0, p.1 - e));
        let n = gx.hypot(gy);
        if n > 1e-9 {
            (gx / n, gy / n)
        } else {
            (0.0, 0.0)
        }
    }
}

/// Squared Euclidean distance transform in place (Felzenszwalb and Huttenlocher):
/// rows, then columns (as the rows of the transposed grid), each a lower envelope of
/// parabolas, lines in parallel.
fn edt(grid: &mut [f32], w: usize, h: usize) {
    if w == 0 || h == 0 {
        return;
    }
    let lines = |g: &mut [f32], n: usize| {
        g.par_chunks_mut(n)
            .for_each_init(|| Envelope::new(n), |e, line| e.run(line));
    };
    lines(grid, w);
    let mut t = transposed(grid, w, h);
    lines(&mut t, h);
    grid.copy_from_slice(&transposed(&t, h, w));
}

/// `src` (`h` rows of `w`) as `w` rows of `h`.
fn transposed(src: &[f32], w: usize, h: usize) -> Vec<f32> {
    // Blocks of columns, so each pass over the source reads whole cache lines.
    const BLOCK: usize = 16;
    let mut out = vec![0f32; w * h];
    out.par_chunks_mut(h * BLOCK)
        .enumerate()
        .for_each(|(b, chunk)| {
            let c0 = b * BLOCK;
            let cols = chunk.len() / h;
            for r in 0..h {
                let row = &src[r * w + c0..r * w + c0 + cols];
                for (k, &x) in row.iter().enumerate() {
                    chunk[k * h + r] = x;
                }
            }
        });
    out
}

/// Scratch space for one line of the distance transform.
struct Envelope {
    f: Vec<f32>,
    v: Vec<usize>,
    z: Vec<f32>,
}

impl Envelope {
    fn new(n: usize) -> Self {
        Envelope {
            f: vec![0.0; n],
            v: vec![0; n],
            z: vec![0.0; n + 1],
        }
    }

    /// Squared distances along `line` (values: squared distances so far).
    fn run(&mut self, line: &mut [f32]) {
        let n = line.len();
        let (f, v, z) = (&mut self.f, &mut self.v, &mut self.z);
        f[..n].copy_from_slice(line);
        let mut k = 0;
        v[0] = 0;
        z[0] = f32::NEG_INFINITY;
        z[1] = f32::INFINITY;
        for q in 1..n {
            loop {
                let p = v[k];
                let s = ((f[q] + (q * q) as f32) - (f[p] + (p * p) as f32))
                    / (2.0 * (q as f32 - p as f32));
                if s <= z[k] && k > 0 {
                    k -= 1;
                    continue;
                }
                if s <= z[k] {
                    // k == 0: replace.
                    v[0] = q;
                    z[0] = f32::NEG_INFINITY;
                    z[1] = f32::INFINITY;
                    break;
                }
                k += 1;
                v[k] = q;
                z[k] = s;
                z[k + 1] = f32::INFINITY;
                break;
            }
        }
        k = 0;
        for (q, dq) in line.iter_mut().enumerate() {
            while z[k + 1] < q as f32 {
                k += 1;
            }
            let p = v[k];
            *dq = (q as f32 - p as f32).powi(2) + f[p];
        }
    }
}

/// A branch being grown downwards.
#[derive(Debug, Clone)]
struct Node {
    pos: (f64, f64),
    radius: f64,
    /// Layers since the tip.
    depth: usize,
    /// The tips this branch carries (merged branches carry several).
    ids: Vec<u32>,
    /// Whether the branch is following an overhang down (it does not lean towards its
    /// neighbours then).
    following: bool,
}

/// One layer's circle of a branch.
#[derive(Debug, Clone, Copy)]
struct Mark {
    id: u32,
    layer: usize,
    pos: (f64, f64),
    radius: f64,
    interface: bool,
    tip: bool,
}

/// A point of the surface waiting to be held (from the highest layer whose top is at
/// least the Z gap below it), and the lowest layer that may still hold it.
#[derive(Debug, Clone, Copy)]
struct Sample {
    point: SurfacePoint,
    /// The highest layer whose top is the Z gap below the point.
    first: usize,
    /// The lowest layer whose top is at most two layers and the Z gap below the point.
    last: usize,
}

/// What tree support needs to know of the layers and the settings.
struct Geometry<'a> {
    layers: &'a [Layer],
    /// Half a support line: a branch's printed edge lies this far inside its circle.
    edge_inset: f64,
}

impl Geometry<'_> {
    /// Whether a branch at `pos` of `radius` on layer `layer` holds `s`: some point of
    /// its edge (or, over its inside, the point itself) lies within [`HOLD_REACH`] of
    /// the point in XY and on the air side of the surface there.
    fn holds(&self, pos: (f64, f64), radius: f64, layer: usize, s: &SurfacePoint) -> bool {
        let l = &self.layers[layer];
        let dz = l.z - l.height / 2.0 - s.pos[2];
        let n = s.normal;
        let air = |q: (f64, f64)| {
            (q.0 - s.pos[0]) * n[0] + (q.1 - s.pos[1]) * n[1] + dz * n[2] > AIR_MARGIN
        };
        let rho = (radius - self.edge_inset).max(0.0);
        let (vx, vy) = (s.pos[0] - pos.0, s.pos[1] - pos.1);
        let d = vx.hypot(vy);
        if d <= rho {
            return air((s.pos[0], s.pos[1]));
        }
        if d - rho > HOLD_REACH {
            return false;
        }
        // The edge's point nearest the surface point, and its point furthest out along
        // the surface's slope (the one most surely under it).
        let nearest = (pos.0 + vx / d * rho, pos.1 + vy / d * rho);
        if air(nearest) {
            return true;
        }
        let nh = n[0].hypot(n[1]);
        if nh < 1e-9 {
            return false;
        }
        let out = (pos.0 + n[0] / nh * rho, pos.1 + n[1] / nh * rho);
        near(out, (s.pos[0], s.pos[1]), HOLD_REACH) && air(out)
    }
}

/// Tree support for the layers of one object.
///
/// Layers are walked from the top down. On each layer the branches grown so far descend
/// (thicken, merge, lean towards their neighbours, keep clear of the model); branches
/// still under an overhang follow it down. Every point of the surface to support
/// (`points`, from [`overhang::surface_points`]) waits, from the highest layer whose
/// support may hold it to the lowest, for a branch to hold it; on its lowest layer it
/// gets a new tip, placed where it is clear of the model and holds it. A branch that
/// cannot keep clear ends there: it lands on the model under it.
///
/// [`overhang::surface_points`]: super::overhang::surface_points
pub fn tree_support(
    layers: &[Layer],
    points: &[SurfacePoint],
    area: &AreaParams,
    tree: &TreeParams,
) -> Vec<SupportLayer> {
    let n = layers.len();
    let branch = SupportLayer {
        edge: AreaEdge::Printed,
        ..SupportLayer::default()
    };
    let mut out = vec![branch; n];
    if n == 0 {
        return out;
    }
    // The raster covers every island with room for branches around them.
    let margin = tree.branch_diameter + area.xy_gap + 5.0;
    let Some(bb) = geom::BBox::of_areas(layers.iter().flat_map(|l| &l.islands)) else {
        return out;
    };
    let x0 = bb.min.x as f64 / geom::SCALE - margin;
    let y0 = bb.min.y as f64 / geom::SCALE - margin;
    let w = ((bb.size().x as f64 / geom::SCALE + 2.0 * margin) / PIXEL).ceil() as usize + 1;
    let h = ((bb.size().y as f64 / geom::SCALE + 2.0 * margin) / PIXEL).ceil() as usize + 1;

    let lh = layers.get(1).map_or(layers[0].height, |l| l.height);
    let gap_layers = |gap: f64| {
        if gap <= 1e-9 {
            0
        } else {
            (gap / lh - 1e-6).ceil() as usize
        }
    };
    let k_top = gap_layers(area.top_z_gap);
    let k_bottom = gap_layers(area.bottom_z_gap);
    let step = lh * tree.branch_angle.clamp(0.0, 80.0).to_radians().tan();
    let grow = lh * tree.growth_angle.clamp(0.0, 60.0).to_radians().tan();
    let tip_r = tree.tip_diameter / 2.0;
    let max_r = (tree.branch_diameter / 2.0).max(tip_r);
    let clearance = area.xy_gap;
    let geo = Geometry {
        layers,
        edge_inset: area.line_inset,
    };
    let reach = |radius: f64| (radius - area.line_inset).max(0.0) + HOLD_REACH;

    // Each point waits from the highest layer whose top is the Z gap below it down to
    // the lowest whose top is at most two layers and the gap below it.
    let window = 2.0 * lh + area.top_z_gap - HOLD_WINDOW_MARGIN;
    let tops: Vec<f64> = layers.iter().map(|l| l.z).collect();
    let mut arriving: Vec<Vec<Sample>> = vec![Vec::new(); n];
    for p in points {
        let z = p.pos[2];
        let below = tops.partition_point(|&t| t <= z - area.top_z_gap + LAYER_ROUNDING);
        let Some(first) = below.checked_sub(1) else {
            continue;
        };
        let last = tops.partition_point(|&t| t < z - window).min(first);
        arriving[first].push(Sample {
            point: *p,
            first,
            last,
        });
    }

    let mut nodes: Vec<Node> = Vec::new();
    let mut trail: Vec<Mark> = Vec::new();
    let mut next_id = 0u32;
    // Fields for the layers being processed, computed one layer ahead in parallel.
    let field_of = |j: usize| Field::new(&layers[j].islands, x0, y0, w, h);
    let mut pending: Vec<Sample> = Vec::new();
    // Branches that end: each tip's marks below this layer are dropped at the end.
    let mut ended: HashMap<u32, usize> = HashMap::new();
    let mut next_field: Option<Field> = None;
    let mut above: Option<Field> = None;
    for j in (0..n).rev() {
        // Layers with no branch and no point to hold need no field.
        let busy = !nodes.is_empty() || !arriving[j].is_empty() || !pending.is_empty();
        let ahead = j > 0 && (busy || !arriving[j - 1].is_empty());
        let field = next_field.take();
        let field_above = above.take();
        // This layer's branches grow while the next layer's field is computed.
        let grow_layer = || -> Option<Field> {
            if !busy {
                return None;
            }
            let field = field.unwrap_or_else(|| field_of(j));
            pending.append(&mut arriving[j]);
            let index = SampleIndex::new(&pending);
            // 1. Existing branches descend one layer: grow, follow the overhang they
            // hold, merge with or lean towards their neighbours, keep clear of the
            // model.
            for node in &mut nodes {
                node.depth += 1;
                node.radius = (node.radius + grow).min(max_r);
                node.following = false;
                let r = reach(node.radius);
                if let Some(t) = index.nearest(node.pos, r + step) {
                    let d = (t.0 - node.pos.0).hypot(t.1 - node.pos.1);
                    if d > r * 0.5 {
                        let mv = step.min(d - r * 0.5);
                        node.pos.0 += (t.0 - node.pos.0) / d * mv;
                        node.pos.1 += (t.1 - node.pos.1) / d * mv;
                    }
                    node.following = true;
                }
            }
            merge_nodes(&mut nodes, step);
            let mut kept = Vec::with_capacity(nodes.len());
            for mut node in nodes.drain(..) {
                if steer(&field, &mut node.pos, node.radius + clearance, step) {
                    kept.push(node);
                    continue;
                }
                // Squeezed: a thinner branch, bent harder, may still pass.
                let thin = tip_r.max(node.radius * 0.5);
                if steer(&field, &mut node.pos, thin + clearance, step) {
                    node.radius = thin;
                    kept.push(node);
                    continue;
                }
                // Cannot reach the bed: the whole branch goes. Or it lands on the
                // model: the bottom gap is left above the landing.
                let cut = if area.buildplate_only {
                    usize::MAX
                } else {
                    j + 1 + k_bottom
                };
                for id in node.ids {
                    ended.insert(id, cut);
                }
            }
            nodes = kept;

            // 2. What the branches hold; new tips for what cannot wait any longer.
            let mut held = vec![false; pending.len()];
            let mark = |pos: (f64, f64), radius: f64, held: &mut [bool]| {
                for k in index.within(pos, reach(radius)) {
                    if !held[k] && geo.holds(pos, radius, j, &pending[k].point) {
                        held[k] = true;
                    }
                }
            };
            for node in &nodes {
                mark(node.pos, node.radius, &mut held);
            }
            // Points near the tip lattice first, so tips come out evenly spaced.
            let mut due: Vec<usize> = (0..pending.len())
                .filter(|&k| !held[k] && (pending[k].last >= j || j == 0))
                .collect();
            let lattice = |k: usize| {
                let p = pending[k].point.pos;
                let s = tree.tip_spacing;
                let (dx, dy) = (p[0] / s - (p[0] / s).round(), p[1] / s - (p[1] / s).round());
                dx * dx + dy * dy
            };
            due.sort_by(|&a, &b| lattice(a).total_cmp(&lattice(b)));
            for k in due {
                if held[k] {
                    continue;
                }
                let s = pending[k].point;
                // Start a little out along the slope (under the surface), then get
                // clear of the model.
                let nh = s.normal[0].hypot(s.normal[1]);
                let starts = [
                    if nh > 1e-9 {
                        (
                            s.pos[0] + s.normal[0] / nh * TIP_OUTSET,
                            s.pos[1] + s.normal[1] / nh * TIP_OUTSET,
                        )
                    } else {
                        (s.pos[0], s.pos[1])
                    },
                    (s.pos[0], s.pos[1]),
                ];
                for start in starts {
                    let mut pos = start;
                    if !steer(&field, &mut pos, tip_r + clearance, TIP_SHIFT) {
                        continue;
                    }
                    // Not right under the layer above either: the Z gap stays open.
                    let open = field_above.as_ref().is_none_or(|f| f.sample(pos) >= tip_r);
                    if !open || !geo.holds(pos, tip_r, j, &s) {
                        continue;
                    }
                    // The tip rises to the highest layer every point it holds
                    // allows: its top the Z gap under the surface, not deeper.
                    let mut top = usize::MAX;
                    for k in index.within(pos, reach(tip_r)) {
                        if !held[k] && geo.holds(pos, tip_r, j, &pending[k].point) {
                            held[k] = true;
                            top = top.min(pending[k].first);
                        }
                    }
                    let top = if top == usize::MAX { j } else { top.max(j) };
                    for l in j + 1..=top {
                        trail.push(Mark {
                            id: next_id,
                            layer: l,
                            pos,
                            radius: tip_r,
                            interface: true,
                            tip: l == top,
                        });
                    }
                    nodes.push(Node {
                        pos,
                        radius: tip_r,
                        depth: top - j,
                        ids: vec![next_id],
                        following: true,
                    });
                    next_id += 1;
                    break;
                }
            }
            // What is held, and what can no longer be (its last layer is past), goes.
            let mut k = 0;
            pending.retain(|s| {
                k += 1;
                !held[k - 1] && s.last < j
            });
            for node in &nodes {
                trail.push(Mark {
                    id: node.ids[0],
                    layer: j,
                    pos: node.pos,
                    radius: node.radius,
                    interface: node.depth < area.interface_layers,
                    tip: node.depth == 0,
                });
            }
            Some(field)
        };
        let (here, prefetched) = rayon::join(grow_layer, || ahead.then(|| field_of(j - 1)));
        above = here;
        next_field = prefetched;
    }
    trail.retain(|m| ended.get(&m.id).is_none_or(|&cut| m.layer >= cut));

    // Draw the circles of every layer.
    let mut by_layer: Vec<(Vec<Polygon>, Vec<Polygon>, Vec<Polygon>)> =
        vec![(Vec::new(), Vec::new(), Vec::new()); n];
    for m in &trail {
        let c = Polygon::circle(
            Point::from_mm(m.pos.0, m.pos.1),
            scaled(m.radius),
            CIRCLE_SEGMENTS,
        );
        let slot = &mut by_layer[m.layer];
        if m.tip {
            slot.2.push(c.clone());
        }
        if m.interface {
            slot.1.push(c);
        } else {
            slot.0.push(c);
        }
    }
    // Branches were steered on a raster a pixel coarse, and against their own layer
    // only: cut them clear of the model (and of the layers the Z gaps keep free)
    // exactly, as grid support is.
    let model = coarse_islands(layers);
    let gap = scaled(area.xy_gap) as f64;
    out.par_iter_mut().zip(by_layer).enumerate().for_each(
        |(j, (layer, (base, interface, tips)))| {
            if base.is_empty() && interface.is_empty() {
                return;
            }
            // Only the model near this layer's branches matters.
            let boxes: Vec<geom::BBox> = base
                .iter()
                .chain(&interface)
                .filter_map(Polygon::bbox)
                .map(|b| b.inflated(2 * gap as geom::Coord))
                .collect();
            let nearby = |l: &[Vec<ExPolygon>]| -> Vec<ExPolygon> {
                l.iter()
                    .flatten()
                    .filter(|e| {
                        e.bbox()
                            .is_some_and(|b| boxes.iter().any(|c| c.overlaps(&b)))
                    })
                    .cloned()
                    .collect()
            };
            let mut near = geom::offset(
                &nearby(&model[j.saturating_sub(k_bottom)..=j]),
                gap,
                JoinType::Miter,
            );
            // Nor may a tip reach under the model of the Z gap's layers above it (a
            // gently sloping surface sticks out far on each layer).
            near.extend(nearby(&model[(j + 1).min(n)..(j + 1 + k_top).min(n)]));
            let interface = geom::difference(&interface, &near);
            let base = geom::difference(&base, &near);
            layer.base = geom::difference(&base, &interface);
            layer.interface = interface;
            // Contact: the tips right under the model across the Z gap (as for grid
            // support; a tip beside a sloping surface holds it without touching it).
            let over = nearby(&model[(j + 1).min(n)..(j + 2 + k_top).min(n)]);
            if !tips.is_empty() && !over.is_empty() {
                let tips = geom::difference(&tips, &near);
                layer.contact_area = geom::intersection(&tips, &over)
                    .iter()
                    .map(ExPolygon::area_mm2)
                    .sum();
            }
        },
    );
    mark_interior(&model, &mut out, area.enclosure_radius);
    out
}

/// The points waiting to be held, indexed for near queries.
struct SampleIndex {
    points: Vec<(f64, f64)>,
    grid: HashMap<(i64, i64), Vec<u32>>,
}

impl SampleIndex {
    /// Cell size of the index, mm.
    const CELL: f64 = 1.0;

    fn new(samples: &[Sample]) -> SampleIndex {
        let points: Vec<(f64, f64)> = samples
            .iter()
            .map(|s| (s.point.pos[0], s.point.pos[1]))
            .collect();
        let mut grid: HashMap<(i64, i64), Vec<u32>> = HashMap::new();
        for (k, p) in points.iter().enumerate() {
            grid.entry(Self::key(*p)).or_default().push(k as u32);
        }
        SampleIndex { points, grid }
    }

    fn key(p: (f64, f64)) -> (i64, i64) {
        (
            (p.0 / Self::CELL).floor() as i64,
            (p.1 / Self::CELL).floor() as i64,
        )
    }

    /// The samples within `r` of `p`.
    fn within(&self, p: (f64, f64), r: f64) -> impl Iterator<Item = usize> + '_ {
        let (kx0, ky0) = Self::key((p.0 - r, p.1 - r));
        let (kx1, ky1) = Self::key((p.0 + r, p.1 + r));
        (kx0..=kx1)
            .flat_map(move |kx| (ky0..=ky1).map(move |ky| (kx, ky)))
            .filter_map(|k| self.grid.get(&k))
            .flatten()
            .map(|&k| k as usize)
            .filter(move |&k| near(self.points[k], p, r))
    }

    /// The nearest sample within `r` of `p`.
    fn nearest(&self, p: (f64, f64), r: f64) -> Option<(f64, f64)> {
        self.within(p, r).map(|k| self.points[k]).min_by(|a, b| {
            let da = (a.0 - p.0).hypot(a.1 - p.1);
            let db = (b.0 - p.0).hypot(b.1 - p.1);
            da.total_cmp(&db)
        })
    }
}

fn near(a: (f64, f64), b: (f64, f64), d: f64) -> bool {
    (a.0 - b.0).hypot(a.1 - b.1) < d
}

/// Move `pos` up the distance field until it is at least `required` from the model,
/// moving at most `step` in total. Returns whether it got clear.
fn steer(field: &Field, pos: &mut (f64, f64), required: f64, step: f64) -> bool {
    let mut budget = step;
    for _ in 0..STEER_STEPS {
        let d = field.sample(*pos);
        if d >= required {
            return true;
        }
        let (gx, gy) = field.gradient(*pos);
        if gx == 0.0 && gy == 0.0 {
            return false;
        }
        let mv = (required - d + 0.5 * PIXEL).min(budget);
        if mv <= 0.0 {
            break;
        }
        pos.0 += gx * mv;
        pos.1 += gy * mv;
        budget -= mv;
    }
    field.sample(*pos) >= required - 0.5 * PIXEL
}

/// Merge branches that touch, and draw close neighbours towards each other so they
/// join further down.
fn merge_nodes(nodes: &mut Vec<Node>, step: f64) {
    if nodes.len() < 2 {
        return;
    }
    let cell = MERGE_REACH;
    let key = |p: (f64, f64)| ((p.0 / cell).floor() as i64, (p.1 / cell).floor() as i64);
    let mut grid: HashMap<(i64, i64), Vec<usize>> = HashMap::new();
    for (i, n) in nodes.iter().enumerate() {
        grid.entry(key(n.pos)).or_default().push(i);
    }
    let mut alive = vec![true; nodes.len()];
    let mut moves = vec![(0.0, 0.0); nodes.len()];
    for i in 0..nodes.len() {
        if !alive[i] {
            continue;
        }
        let (kx, ky) = key(nodes[i].pos);
        let mut nearest: Option<(usize, f64)> = None;
        for dx in -1..=1 {
            for dy in -1..=1 {
                for &j in grid.get(&(kx + dx, ky + dy)).into_iter().flatten() {
                    if j == i || !alive[j] {
                        continue;
                    }
                    let d =
                        (nodes[i].pos.0 - nodes[j].pos.0).hypot(nodes[i].pos.1 - nodes[j].pos.1);
                    if nearest.is_none_or(|(_, b)| d < b) {
                        nearest = Some((j, d));
                    }
                }
            }
        }
        let Some((j, d)) = nearest else { continue };
        let (a, b) = (nodes[i].clone(), nodes[j].clone());
        if d <= MERGE_OVERLAP * a.radius.max(b.radius) {
            // Merge into one branch at the weighted middle.
            let wa = a.radius * a.radius;
            let wb = b.radius * b.radius;
            let t = wb / (wa + wb);
            nodes[i].pos = (
                a.pos.0 + (b.pos.0 - a.pos.0) * t,
                a.pos.1 + (b.pos.1 - a.pos.1) * t,
            );
            nodes[i].depth = a.depth.max(b.depth);
            nodes[i].radius = a.radius.max(b.radius);
            nodes[i].ids.extend(b.ids);
            nodes[i].following = a.following || b.following;
            alive[j] = false;
        } else if d < cell && !a.following {
            // Lean towards the neighbour (branches following an overhang stay under it).
            let mv = step.min(d / 2.0);
            moves[i] = ((b.pos.0 - a.pos.0) / d * mv, (b.pos.1 - a.pos.1) / d * mv);
        }
    }
    let mut k = 0;
    nodes.retain(|_| {
        k += 1;
        alive[k - 1]
    });
    let mut idx = 0;
    for (i, m) in moves.iter().enumerate() {
        if !alive[i] {
            continue;
        }
        nodes[idx].pos.0 += m.0;
        nodes[idx].pos.1 += m.1;
        idx += 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn transform_matches_brute_force_on_an_oblong_grid() {
        // 37 x 23 (more columns than one transposition block, a partial last block)
        // with a few model pixels: every squared distance equals the nearest one's.
        let (w, h) = (37, 23);
        let model = [(0, 0), (36, 22), (20, 5), (3, 17), (21, 5)];
        let mut grid = vec![1e12f32; w * h];
        for &(c, r) in &model {
            grid[r * w + c] = 0.0;
        }
        edt(&mut grid, w, h);
        for r in 0..h {
            for c in 0..w {
                let best = model
                    .iter()
                    .map(|&(mc, mr)| {
                        let (dc, dr) = (c as f32 - mc as f32, r as f32 - mr as f32);
                        dc * dc + dr * dr
                    })
                    .fold(f32::INFINITY, f32::min);
                assert_eq!(grid[r * w + c], best, "pixel {c}, {r}");
            }
        }
    }

    #[test]
    fn distance_field_is_euclidean() {
        let sq = ExPolygon::new(Polygon::rectangle(0, 0, scaled(10.0), scaled(10.0)));
        let f = Field::new(&[sq], -10.0, -10.0, 120, 120);
        assert!(f.sample((5.0, 5.0)) < 1e-6);
        // 3 mm right of the square.
        assert!(
            (f.sample((13.0, 5.0)) - 3.0).abs() < 0.2,
            "{}",
            f.sample((13.0, 5.0))
        );
        // Diagonal from the corner: 3-4-5.
        assert!(
            (f.sample((13.0, 14.0)) - 5.0).abs() < 0.2,
            "{}",
            f.sample((13.0, 14.0))
        );
        let (gx, gy) = f.gradient((13.0, 5.0));
        assert!(gx > 0.9 && gy.abs() < 0.2);
    }
}
