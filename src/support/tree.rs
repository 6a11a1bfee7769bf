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
use crate::geom::{self, ExPolygon, JoinType, Point, Polygon, scaled};
use crate::profile::Settings;
use crate::slice::Layer;

/// Raster resolution of the distance field, mm.
const PIXEL: f64 = 0.25;
/// Segments of the polygon drawn for a branch's circle.
const CIRCLE_SEGMENTS: usize = 16;
/// Branches closer than this (mm) lean towards each other to merge further down.
const MERGE_REACH: f64 = 10.0;
/// Steering passes per layer when a branch must move away from the model.
const STEER_STEPS: usize = 3;
/// How far from a support bead (mm) an overhang still counts as held: a point of the
/// surface is held by extrusion within 1 mm of it, and the rest is margin for the
/// circle's polygon and the exact cut clear of the model.
const HOLD_REACH: f64 = 0.8;
/// Spacing (mm) of the points a contact area is sampled at to find what no branch holds.
const CONTACT_SAMPLE: f64 = 0.4;
/// How far (mm) a new tip may move from the point it is to hold to get clear of the
/// model.
const TIP_SHIFT: f64 = 1.5;

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

/// Tree support for the layers of one object.
///
/// Layers are walked from the top down. On each layer the branches grown so far descend
/// (thicken, merge, lean towards their neighbours, keep clear of the model); then every
/// part of the layer's contact area (the overhang the support top holds across the Z
/// gap) that no branch holds yet gets a new tip, placed where it is clear of the model
/// and near enough to hold it (see [`HOLD_REACH`]). A branch that cannot keep clear ends
/// there: it lands on the model under it.
pub fn tree_support(
    layers: &[Layer],
    overhangs: &[Vec<ExPolygon>],
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
    // A branch's printed edge lies half a line inside its circle.
    let edge_inset = area.line_inset;
    let reach = |radius: f64| (radius - edge_inset).max(0.0) + HOLD_REACH;

    let mut nodes: Vec<Node> = Vec::new();
    let mut trail: Vec<Mark> = Vec::new();
    let mut next_id = 0u32;
    // Fields for the layers being processed, computed one layer ahead in parallel.
    let field_of = |j: usize| Field::new(&layers[j].islands, x0, y0, w, h);
    let contact_of = |j: usize| overhangs.get(j + 1 + k_top).filter(|o| !o.is_empty());
    // Branches that end: each tip's marks below this layer are dropped at the end.
    let mut ended: HashMap<u32, usize> = HashMap::new();
    let mut next_field: Option<Field> = None;
    for j in (0..n).rev() {
        // Layers with no branch and no new tip need no field.
        let busy = !nodes.is_empty() || contact_of(j).is_some();
        let ahead = j > 0 && (busy || contact_of(j - 1).is_some());
        let field = next_field.take();
        // This layer's branches grow while the next layer's field is computed.
        let grow_layer = || {
            if !busy {
                return;
            }
            let field = field.unwrap_or_else(|| field_of(j));
            // 1. Existing branches descend one layer: grow, merge with or lean
            // towards their neighbours, keep clear of the model.
            for node in &mut nodes {
                node.depth += 1;
                node.radius = (tip_r + grow * node.depth as f64).min(max_r);
            }
            let samples =
                contact_of(j).map(|c| ContactSamples::new(c, tree.tip_spacing, CONTACT_SAMPLE));
            if let Some(samples) = &samples {
                // Branches still under an overhang they can hold follow it down.
                for node in &mut nodes {
                    if let Some(target) = samples.nearest(node.pos, reach(node.radius) + step) {
                        let d = (target.0 - node.pos.0).hypot(target.1 - node.pos.1);
                        if d > reach(node.radius) * 0.5 {
                            let mv = step.min(d - reach(node.radius) * 0.5);
                            node.pos.0 += (target.0 - node.pos.0) / d * mv;
                            node.pos.1 += (target.1 - node.pos.1) / d * mv;
                            node.following = true;
                            continue;
                        }
                    }
                    node.following = false;
                }
            } else {
                for node in &mut nodes {
                    node.following = false;
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
                    node.depth = ((thin - tip_r) / grow.max(1e-9)) as usize;
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

            // 2. New tips where the contact area is not held yet.
            if let Some(samples) = &samples {
                let mut held = vec![false; samples.points.len()];
                for node in &nodes {
                    samples.mark_within(node.pos, reach(node.radius), &mut held);
                }
                let tip_reach = reach(tip_r);
                for k in 0..samples.points.len() {
                    if held[k] {
                        continue;
                    }
                    let p = samples.points[k];
                    let mut pos = p;
                    if !steer(&field, &mut pos, tip_r + clearance, TIP_SHIFT) {
                        continue;
                    }
                    if (pos.0 - p.0).hypot(pos.1 - p.1) > tip_reach {
                        // No room near enough to hold it.
                        continue;
                    }
                    samples.mark_within(pos, tip_reach, &mut held);
                    nodes.push(Node {
                        pos,
                        radius: tip_r,
                        depth: 0,
                        ids: vec![next_id],
                        following: true,
                    });
                    next_id += 1;
                }
            }
            if std::env::var("LAMINA_TREE_DEBUG").is_ok() {
                eprintln!(
                    "layer {j}: nodes {} tips {} following {} samples {}",
                    nodes.len(),
                    nodes.iter().filter(|n| n.depth == 0).count(),
                    nodes.iter().filter(|n| n.following).count(),
                    samples.as_ref().map_or(0, |s| s.points.len())
                );
            }
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
        };
        let ((), prefetched) = rayon::join(grow_layer, || ahead.then(|| field_of(j - 1)));
        next_field = prefetched;
    }
    trail.retain(|m| ended.get(&m.id).is_none_or(|&cut| m.layer >= cut));

    // Draw the circles of every layer.
    let mut by_layer: Vec<(Vec<Polygon>, Vec<Polygon>, f64)> =
        vec![(Vec::new(), Vec::new(), 0.0); n];
    for m in &trail {
        let c = Polygon::circle(
            Point::from_mm(m.pos.0, m.pos.1),
            scaled(m.radius),
            CIRCLE_SEGMENTS,
        );
        let slot = &mut by_layer[m.layer];
        if m.tip {
            slot.2 += c.area_mm2();
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
        |(j, (layer, (base, interface, contact)))| {
            if base.is_empty() && interface.is_empty() {
                return;
            }
            let mut near = geom::offset(
                &model[j.saturating_sub(k_bottom)..=j].concat(),
                gap,
                JoinType::Miter,
            );
            // Nor may a tip reach under the model of the Z gap's layers above it (a
            // gently sloping surface sticks out far on each layer).
            near.extend(model[(j + 1).min(n)..(j + 1 + k_top).min(n)].concat());
            let interface = geom::difference(&interface, &near);
            let base = geom::difference(&base, &near);
            layer.base = geom::difference(&base, &interface);
            layer.interface = interface;
            layer.contact_area = contact;
        },
    );
    mark_interior(&model, &mut out, area.enclosure_radius);
    out
}

/// Points spread over a layer's contact area (a lattice inside it and its outline
/// walked), to tell which parts of it the branches hold.
struct ContactSamples {
    points: Vec<(f64, f64)>,
    cell: f64,
    grid: HashMap<(i64, i64), Vec<u32>>,
}

impl ContactSamples {
    /// Tips are tried on a lattice of `tip_spacing` first (evenly spaced tips), the
    /// rest of the area is sampled every `spacing`.
    fn new(areas: &[ExPolygon], tip_spacing: f64, spacing: f64) -> ContactSamples {
        let mut points = tip_positions(areas, tip_spacing);
        points.extend(area_samples(areas, spacing));
        let cell = 1.0;
        let mut grid: HashMap<(i64, i64), Vec<u32>> = HashMap::new();
        for (k, p) in points.iter().enumerate() {
            grid.entry(Self::key(*p, cell)).or_default().push(k as u32);
        }
        ContactSamples { points, cell, grid }
    }

    fn key(p: (f64, f64), cell: f64) -> (i64, i64) {
        ((p.0 / cell).floor() as i64, (p.1 / cell).floor() as i64)
    }

    /// The samples within `r` of `p`.
    fn within(&self, p: (f64, f64), r: f64) -> impl Iterator<Item = usize> + '_ {
        let (kx0, ky0) = Self::key((p.0 - r, p.1 - r), self.cell);
        let (kx1, ky1) = Self::key((p.0 + r, p.1 + r), self.cell);
        (kx0..=kx1)
            .flat_map(move |kx| (ky0..=ky1).map(move |ky| (kx, ky)))
            .filter_map(|k| self.grid.get(&k))
            .flatten()
            .map(|&k| k as usize)
            .filter(move |&k| near(self.points[k], p, r))
    }

    fn mark_within(&self, p: (f64, f64), r: f64, held: &mut [bool]) {
        for k in self.within(p, r) {
            held[k] = true;
        }
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

/// Points over `areas`: a square lattice of `spacing` inside them, and their rings
/// walked at `spacing` (thin bands the lattice misses).
fn area_samples(areas: &[ExPolygon], spacing: f64) -> Vec<(f64, f64)> {
    let mut out = Vec::new();
    for e in areas {
        let Some(b) = e.bbox() else { continue };
        let (bx0, by0) = b.min.to_mm();
        let (bx1, by1) = b.max.to_mm();
        let (c0, c1) = (
            (bx0 / spacing).floor() as i64,
            (bx1 / spacing).ceil() as i64,
        );
        let (r0, r1) = (
            (by0 / spacing).floor() as i64,
            (by1 / spacing).ceil() as i64,
        );
        for r in r0..=r1 {
            for c in c0..=c1 {
                let p = (c as f64 * spacing, r as f64 * spacing);
                if e.contains(Point::from_mm(p.0, p.1)) {
                    out.push(p);
                }
            }
        }
        for ring in e.rings() {
            let mut walked = 0.0;
            let mut next = 0.0;
            for (a, bp) in ring.edges() {
                let len = a.distance(bp) / geom::SCALE;
                while next <= walked + len && len > 0.0 {
                    let t = (next - walked) / len;
                    out.push(a.lerp(bp, t).to_mm());
                    next += spacing;
                }
                walked += len;
            }
        }
    }
    out
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
        if d <= 0.5 * (a.radius + b.radius) {
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

/// Contact tip positions over `areas`: a hexagonal lattice anchored to the bed, and for
/// regions the lattice misses (thin rings of a gently sloped overhang), points along
/// their outline.
fn tip_positions(areas: &[ExPolygon], spacing: f64) -> Vec<(f64, f64)> {
    let mut out = Vec::new();
    let row = spacing * 3f64.sqrt() / 2.0;
    for e in areas {
        let Some(b) = e.bbox() else { continue };
        let (bx0, by0) = b.min.to_mm();
        let (bx1, by1) = b.max.to_mm();
        let mut found = false;
        let r0 = (by0 / row).floor() as i64;
        let r1 = (by1 / row).ceil() as i64;
        for r in r0..=r1 {
            let y = r as f64 * row;
            let shift = if r % 2 == 0 { 0.0 } else { spacing / 2.0 };
            let c0 = ((bx0 - shift) / spacing).floor() as i64;
            let c1 = ((bx1 - shift) / spacing).ceil() as i64;
            for c in c0..=c1 {
                let x = c as f64 * spacing + shift;
                if e.contains(Point::from_mm(x, y)) {
                    out.push((x, y));
                    found = true;
                }
            }
        }
        // Thin regions: walk the outline.
        let perimeter = e.contour.length() / geom::SCALE;
        if !found || e.area_mm2() < perimeter * spacing * 0.25 {
            let mut walked = 0.0;
            let mut next = 0.0;
            for (a, bp) in e.contour.edges() {
                let len = a.distance(bp) / geom::SCALE;
                while next <= walked + len && len > 0.0 {
                    let t = (next - walked) / len;
                    out.push(a.lerp(bp, t).to_mm());
                    next += spacing;
                }
                walked += len;
            }
        }
    }
    out
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

    #[test]
    fn tips_cover_an_area_and_a_thin_ring() {
        let sq = ExPolygon::new(Polygon::rectangle(0, 0, scaled(10.0), scaled(10.0)));
        let tips = tip_positions(&[sq], 2.0);
        assert!(tips.len() >= 20 && tips.len() <= 35, "{}", tips.len());
        let mut ring_hole = Polygon::circle(Point::new(0, 0), scaled(9.9), 200);
        ring_hole.reverse();
        let ring = ExPolygon {
            contour: Polygon::circle(Point::new(0, 0), scaled(10.0), 200),
            holes: vec![ring_hole],
        };
        let tips = tip_positions(&[ring], 2.0);
        assert!(tips.len() >= 30, "{}", tips.len());
    }
}
