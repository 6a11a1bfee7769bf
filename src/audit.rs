//! A print judged from its G-code against the models it was sliced from: how much of
//! the overhang surface has plastic under it, how much support stands on air, how much
//! support touches the model or fills its cavities, how often the nozzle retracts and
//! how far it travels.
//!
//! `lamina compare` reports these figures so support strategies are chosen by what the
//! file will print, not by what the support planner meant to print. The definitions are
//! those of the outside checker the tests use (`gcode_check.py`): an overhang point is
//! held when extrusion lies on the air side of the surface's tangent plane, near it in
//! XY, in a layer just below it.

use rayon::prelude::*;
use rustc_hash::FxHashMap;
use serde::Serialize;

use crate::geom::{BBox, ExPolygon, unscaled};
use crate::mesh::Mesh;
use crate::preview::toolpath::{Layer, Segment, Toolpath};
use crate::slice::{LayerSpec, SliceOptions, Slicer};

/// Overhang points sampled on the downward surface: enough for a held fraction good to
/// about 0.01, few enough to judge a million-triangle skull in a second.
pub const OVERHANG_SAMPLES: usize = 2000;

/// Extrusion holds an overhang point when it lies within this distance in XY, mm: a
/// bead farther away leaves the surface sagging over a gap wider than two lines.
pub const HOLD_REACH: f64 = 1.0;

/// Extrusion holds a point only this far on the air side of the surface's tangent
/// plane, mm: the model's own lower layers lie inside the solid and never count.
pub const AIR_SIDE: f64 = 0.02;

/// Overhang points lower than this stand on the bed, mm.
pub const BED_IGNORE: f64 = 0.2;

/// Extra depth below an overhang point, beyond two layers, where its support may end,
/// mm: the contact gap between support and model (0.2 mm is common) at any layer height.
pub const GAP_ALLOWANCE: f64 = 0.25;

/// Support farther than this from all extrusion of the layer below stands on air, mm;
/// nearer, it bridges (a dense interface over a sparse base).
pub const FLOAT_BRIDGE: f64 = 1.5;

/// Spacing of the samples taken along support lines, mm.
const STEP: f64 = 0.1;

/// Cell of the contact raster, mm: a quarter of a line width.
const CELL: f64 = 0.1;

/// How far above the contact gap the model's first bead over a support top may lie
/// and still rest on it, in layers: one for the bead's own height and two for the
/// steps of a sloped surface across a tip (on a 45° slope the surface over a 0.8 mm tip
/// rises by four layers of 0.2 mm from its low edge to its high one).
pub const CONTACT_LAYERS: f64 = 3.0;

/// Bead half-widths up to this are found by the line index's point queries, mm.
const MAX_HALF_WIDTH: f64 = 0.6;

/// Cell of the index that finds the lines near a point, mm.
const INDEX_CELL: f64 = 2.0;

/// Rows per millimetre of the section maps that tell a model's cavities.
const ROWS_PER_MM: f64 = 4.0;

/// What the audit needs to know besides the file.
#[derive(Debug, Clone, Copy)]
pub struct AuditOptions {
    /// Surfaces flatter than this (degrees from the horizontal) need support.
    pub threshold_deg: f64,
    /// Gap between the support's top and the model resting on it, mm.
    pub top_gap: f64,
    /// The meshes are lumens printed as walls this thick (`--vessel-wall`), mm; 0 for
    /// meshes printed as they are. A wall's outer surface is the lumen's surface moved
    /// out along its normal, so its overhang points are the lumen's, moved out.
    pub wall: f64,
}

/// A print's figures, measured from its G-code.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Audit {
    /// Overhang points sampled (above the bed).
    pub overhang_points: usize,
    /// Share of them held by extrusion below; `None` without overhangs.
    pub held: Option<f64>,
    /// Length of support lines, mm.
    pub support_mm: f64,
    /// Of it, lines farther than [`FLOAT_BRIDGE`] from everything printed in the layer
    /// below, mm.
    pub floating_mm: f64,
    /// Area of support the model rests on, mm²: the support's top surface (support
    /// with nothing printed over it in the next layer) whose first extrusion above is
    /// the model's, within the contact gap plus [`CONTACT_LAYERS`] layers. On a slope
    /// the model's bead over a tree tip lies a few layers higher than over a flat
    /// underside; support under more support is not touched by the model.
    pub contact_area_mm2: f64,
    /// Volume of support printed inside the model's cavities (a lumen, a braincase):
    /// in the holes of the model's sections, mm³.
    pub inside_mm3: f64,
    /// Volume of all support, mm³.
    pub support_mm3: f64,
    /// Retractions in the file.
    pub retractions: usize,
    /// Length of travel moves, mm (when the file was read with its travels).
    pub travel_mm: f64,
    /// Length of extrusion moves, mm.
    pub extrusion_mm: f64,
}

impl Audit {
    /// Floating share of the support length (0 without support).
    pub fn floating_share(&self) -> f64 {
        share(self.floating_mm, self.support_mm)
    }

    /// Share of the support volume inside the model's cavities (0 without support).
    pub fn inside_share(&self) -> f64 {
        share(self.inside_mm3, self.support_mm3)
    }
}

fn share(part: f64, whole: f64) -> f64 {
    if whole > 0.0 { part / whole } else { 0.0 }
}

/// Judge `toolpath` against the meshes it was sliced from, as placed on the bed.
///
/// ```
/// use lamina::audit::{audit, AuditOptions};
/// use lamina::mesh::implicit::contour;
/// use lamina::preview::toolpath::{parse_bytes, ParseOptions};
/// // A 10 mm cube floating 2 mm above the bed: its whole underside is overhang.
/// let cube = contour(|p| (p[0] - 5.0).abs().max((p[1] - 5.0).abs()).max((p[2] - 7.0).abs()) - 5.0,
///                    [-1.0, -1.0, 1.0], [11.0, 11.0, 13.0], 0.5);
/// // Only a line at the first layer, far from the cube: nothing holds it.
/// let g = b"M83\nG1 Z0.2\nG1 X30 Y0\nG1 X40 E1\nG1 E-0.8\n";
/// let tp = parse_bytes(g, &ParseOptions::default()).unwrap();
/// let a = audit(&tp, &[&cube], &AuditOptions { threshold_deg: 45.0, top_gap: 0.2, wall: 0.0 });
/// assert!(a.overhang_points > 1000);
/// assert_eq!(a.held, Some(0.0));
/// assert_eq!(a.retractions, 1);
/// ```
pub fn audit(toolpath: &Toolpath, meshes: &[&Mesh], opts: &AuditOptions) -> Audit {
    let mut layers: Vec<&Layer> = toolpath.layers.iter().collect();
    layers.sort_by(|a, b| a.z.total_cmp(&b.z));
    let index: Vec<LineIndex> = layers.par_iter().map(|l| LineIndex::new(l)).collect();

    let mut a = Audit {
        retractions: toolpath.retractions,
        ..Audit::default()
    };
    for l in &layers {
        for s in &l.segments {
            let len = f64::from(s.length());
            a.extrusion_mm += len;
            if is_support(s) {
                a.support_mm += len;
                a.support_mm3 += len * f64::from(s.width) * f64::from(l.height);
            }
        }
        a.travel_mm += l
            .travels
            .iter()
            .map(|t| f64::from((t.x1 - t.x0).hypot(t.y1 - t.y0)))
            .sum::<f64>();
    }

    let points = overhang_points(meshes, opts.threshold_deg, opts.wall);
    let held = held_points(&points, &layers, &index);
    a.overhang_points = points.len();
    a.held = (!points.is_empty()).then(|| held as f64 / points.len() as f64);
    a.floating_mm = floating(&layers, &index);
    a.contact_area_mm2 = contact(&layers, &index, opts.top_gap);
    a.inside_mm3 = inside(&layers, meshes);
    // Empty sums are -0.0; the figures are printed.
    for v in [
        &mut a.floating_mm,
        &mut a.contact_area_mm2,
        &mut a.inside_mm3,
        &mut a.support_mm,
        &mut a.support_mm3,
        &mut a.travel_mm,
    ] {
        *v += 0.0;
    }
    a
}

fn is_support(s: &Segment) -> bool {
    s.role.is_some_and(|r| r.is_support())
}

fn is_model(s: &Segment) -> bool {
    s.role.is_none_or(|r| r.is_model())
}

/// A point of the downward surface and the surface's outward normal there.
#[derive(Debug, Clone, Copy)]
struct OverhangPoint {
    p: [f64; 3],
    n: [f64; 3],
}

/// [`OVERHANG_SAMPLES`] points spread over the downward faces flatter than
/// `threshold_deg` by area, the same every run (a stratified, low-discrepancy draw),
/// moved out along the normal by `offset`; points below [`BED_IGNORE`] are left out.
fn overhang_points(meshes: &[&Mesh], threshold_deg: f64, offset: f64) -> Vec<OverhangPoint> {
    let cos_t = threshold_deg.clamp(0.0, 90.0).to_radians().cos();
    // Faces that need support, with their area.
    let mut faces: Vec<([[f64; 3]; 3], [f64; 3], f64)> = Vec::new();
    for m in meshes {
        faces.par_extend(m.faces.par_iter().filter_map(|f| {
            let v = f.map(|i| m.vertices[i as usize].map(f64::from));
            let u = sub(v[1], v[0]);
            let w = sub(v[2], v[0]);
            let c = [
                u[1] * w[2] - u[2] * w[1],
                u[2] * w[0] - u[0] * w[2],
                u[0] * w[1] - u[1] * w[0],
            ];
            let len = (c[0] * c[0] + c[1] * c[1] + c[2] * c[2]).sqrt();
            if len < 1e-12 {
                return None;
            }
            let n = c.map(|x| x / len);
            (n[2] < -cos_t).then_some((v, n, len / 2.0))
        }));
    }
    let total: f64 = faces.iter().map(|f| f.2).sum();
    if total <= 0.0 {
        return Vec::new();
    }
    let mut cumulative = Vec::with_capacity(faces.len());
    let mut sum = 0.0;
    for f in &faces {
        sum += f.2;
        cumulative.push(sum);
    }
    // The plastic constant's powers give an even spread of barycentric coordinates.
    const G1: f64 = 0.754_877_666_246_692_7;
    const G2: f64 = 0.569_840_290_998_053_3;
    (0..OVERHANG_SAMPLES)
        .filter_map(|k| {
            let u = (k as f64 + 0.5) / OVERHANG_SAMPLES as f64 * total;
            let i = cumulative.partition_point(|&c| c < u).min(faces.len() - 1);
            let (v, n, _) = faces[i];
            let (mut r1, mut r2) = ((k as f64 * G1).fract(), (k as f64 * G2).fract());
            if r1 + r2 > 1.0 {
                (r1, r2) = (1.0 - r1, 1.0 - r2);
            }
            let p: [f64; 3] = std::array::from_fn(|j| {
                v[0][j] + r1 * (v[1][j] - v[0][j]) + r2 * (v[2][j] - v[0][j]) + offset * n[j]
            });
            (p[2] >= BED_IGNORE).then_some(OverhangPoint { p, n })
        })
        .collect()
}

fn sub(a: [f64; 3], b: [f64; 3]) -> [f64; 3] {
    [a[0] - b[0], a[1] - b[1], a[2] - b[2]]
}

/// The lines of one layer bucketed by the cells of a coarse grid they cross.
struct LineIndex<'a> {
    layer: &'a Layer,
    cells: FxHashMap<(i32, i32), Vec<u32>>,
}

fn cell_of(x: f64) -> i32 {
    (x / INDEX_CELL).floor() as i32
}

impl<'a> LineIndex<'a> {
    fn new(layer: &'a Layer) -> Self {
        let mut cells: FxHashMap<(i32, i32), Vec<u32>> = FxHashMap::default();
        for (i, s) in layer.segments.iter().enumerate() {
            let (x0, x1) = (s.x0.min(s.x1), s.x0.max(s.x1));
            let (y0, y1) = (s.y0.min(s.y1), s.y0.max(s.y1));
            for cx in cell_of(f64::from(x0))..=cell_of(f64::from(x1)) {
                for cy in cell_of(f64::from(y0))..=cell_of(f64::from(y1)) {
                    cells.entry((cx, cy)).or_default().push(i as u32);
                }
            }
        }
        LineIndex { layer, cells }
    }

    /// Lines whose cells lie within `r` of `(x, y)` (each once per cell it crosses).
    fn near(&self, x: f64, y: f64, r: f64) -> impl Iterator<Item = &'a Segment> + '_ {
        let (cx0, cx1) = (cell_of(x - r), cell_of(x + r));
        let (cy0, cy1) = (cell_of(y - r), cell_of(y + r));
        (cx0..=cx1)
            .flat_map(move |cx| (cy0..=cy1).map(move |cy| (cx, cy)))
            .filter_map(|c| self.cells.get(&c))
            .flatten()
            .map(|&i| &self.layer.segments[i as usize])
    }

    /// Whether some line lies within `r` of `(x, y)`.
    fn any_within(&self, x: f64, y: f64, r: f64) -> bool {
        self.near(x, y, r).any(|s| distance_to_line(x, y, s) <= r)
    }
}

fn ends(s: &Segment) -> ([f64; 2], [f64; 2]) {
    (
        [f64::from(s.x0), f64::from(s.y0)],
        [f64::from(s.x1), f64::from(s.y1)],
    )
}

fn distance_to_line(x: f64, y: f64, s: &Segment) -> f64 {
    let (a, b) = ends(s);
    let d = [b[0] - a[0], b[1] - a[1]];
    let len2 = d[0] * d[0] + d[1] * d[1];
    let t = if len2 > 0.0 {
        (((x - a[0]) * d[0] + (y - a[1]) * d[1]) / len2).clamp(0.0, 1.0)
    } else {
        0.0
    };
    let (ex, ey) = (x - a[0] - t * d[0], y - a[1] - t * d[1]);
    // Not `hypot`: this runs for every raster cell, and the lengths are tame.
    (ex * ex + ey * ey).sqrt()
}

/// The part of a line within `r` of `(x, y)` in XY, as parameters along it.
fn within_disc(s: &Segment, x: f64, y: f64, r: f64) -> Option<(f64, f64)> {
    let (a, b) = ends(s);
    let d = [b[0] - a[0], b[1] - a[1]];
    let f = [a[0] - x, a[1] - y];
    let qa = d[0] * d[0] + d[1] * d[1];
    let qb = 2.0 * (f[0] * d[0] + f[1] * d[1]);
    let qc = f[0] * f[0] + f[1] * f[1] - r * r;
    if qa <= 1e-12 {
        return (qc <= 0.0).then_some((0.0, 0.0));
    }
    let disc = qb * qb - 4.0 * qa * qc;
    if disc < 0.0 {
        return None;
    }
    let root = disc.sqrt();
    let t0 = ((-qb - root) / (2.0 * qa)).max(0.0);
    let t1 = ((-qb + root) / (2.0 * qa)).min(1.0);
    (t0 <= t1).then_some((t0, t1))
}

/// How many points have extrusion under them on the air side, near enough, in a layer
/// whose top is at most two layers plus [`GAP_ALLOWANCE`] below them.
fn held_points(points: &[OverhangPoint], layers: &[&Layer], index: &[LineIndex]) -> usize {
    let Some(first) = layers.first() else {
        return 0;
    };
    let first_top = f64::from(first.z);
    let window = 2.0 * median_height(layers) + GAP_ALLOWANCE;
    let tops: Vec<f64> = layers.iter().map(|l| f64::from(l.z)).collect();
    points
        .par_iter()
        .filter(|o| {
            if o.p[2] <= first_top + 1e-6 {
                return true; // On the bed.
            }
            let lo = tops.partition_point(|&z| z < o.p[2] - window);
            let hi = tops.partition_point(|&z| z <= o.p[2] + AIR_SIDE);
            (lo..hi).any(|li| {
                let l = layers[li];
                let zq = f64::from(l.z) - f64::from(l.height) / 2.0;
                index[li].near(o.p[0], o.p[1], HOLD_REACH).any(|s| {
                    let Some((t0, t1)) = within_disc(s, o.p[0], o.p[1], HOLD_REACH) else {
                        return false;
                    };
                    let (a, b) = ends(s);
                    // The height of the air side is linear along the line: its ends
                    // within the disc tell.
                    [t0, t1].iter().any(|&t| {
                        let q = [a[0] + t * (b[0] - a[0]), a[1] + t * (b[1] - a[1]), zq];
                        let d = sub(q, o.p);
                        d[0] * o.n[0] + d[1] * o.n[1] + d[2] * o.n[2] > AIR_SIDE
                    })
                })
            })
        })
        .count()
}

/// Points every [`STEP`] along a line, each with the length it stands for.
fn samples(s: &Segment) -> impl Iterator<Item = ([f64; 2], f64)> {
    let (a, b) = ends(s);
    let len = (b[0] - a[0]).hypot(b[1] - a[1]);
    let n = (len / STEP).ceil().max(1.0) as usize;
    let each = len / n as f64;
    (0..n).map(move |i| {
        let t = (i as f64 + 0.5) / n as f64;
        ([a[0] + t * (b[0] - a[0]), a[1] + t * (b[1] - a[1])], each)
    })
}

/// Support length above the first layer farther than [`FLOAT_BRIDGE`] from everything
/// printed in the layer below.
fn floating(layers: &[&Layer], index: &[LineIndex]) -> f64 {
    (1..layers.len())
        .into_par_iter()
        .map(|li| {
            layers[li]
                .segments
                .iter()
                .filter(|s| is_support(s))
                .flat_map(samples)
                .filter(|(p, _)| !index[li - 1].any_within(p[0], p[1], FLOAT_BRIDGE))
                .map(|(_, len)| len)
                .sum::<f64>()
        })
        .sum()
}

/// Cells of the [`CELL`] raster over a box, marked where lines cover them (within
/// half their width).
struct Raster {
    x0: i32,
    y0: i32,
    w: usize,
    h: usize,
    cells: Vec<bool>,
}

impl Raster {
    /// A raster over the cells `lines` cover.
    fn around<'a>(lines: impl Iterator<Item = &'a Segment>) -> Option<Raster> {
        let (mut lo, mut hi) = ([i32::MAX; 2], [i32::MIN; 2]);
        for s in lines {
            let r = f64::from(s.width) / 2.0;
            let (a, b) = ends(s);
            for k in 0..2 {
                lo[k] = lo[k].min(((a[k].min(b[k]) - r) / CELL).floor() as i32);
                hi[k] = hi[k].max(((a[k].max(b[k]) + r) / CELL).floor() as i32);
            }
        }
        (lo[0] <= hi[0]).then(|| {
            let (w, h) = ((hi[0] - lo[0] + 1) as usize, (hi[1] - lo[1] + 1) as usize);
            Raster {
                x0: lo[0],
                y0: lo[1],
                w,
                h,
                cells: vec![false; w * h],
            }
        })
    }

    /// Mark the cells (within the raster) whose centres lie within half a line's width
    /// of its centre line.
    fn paint<'a>(&mut self, lines: impl Iterator<Item = &'a Segment>) {
        for s in lines {
            let r = f64::from(s.width) / 2.0;
            let (a, b) = ends(s);
            let gx0 = (((a[0].min(b[0]) - r) / CELL).floor() as i32).max(self.x0);
            let gx1 =
                (((a[0].max(b[0]) + r) / CELL).floor() as i32).min(self.x0 + self.w as i32 - 1);
            let gy0 = (((a[1].min(b[1]) - r) / CELL).floor() as i32).max(self.y0);
            let gy1 =
                (((a[1].max(b[1]) + r) / CELL).floor() as i32).min(self.y0 + self.h as i32 - 1);
            for gy in gy0..=gy1 {
                let row = (gy - self.y0) as usize * self.w;
                for gx in gx0..=gx1 {
                    let (x, y) = centre((gx, gy));
                    if distance_to_line(x, y, s) <= r {
                        self.cells[row + (gx - self.x0) as usize] = true;
                    }
                }
            }
        }
    }

    /// The marked cells.
    fn marked(&self) -> impl Iterator<Item = (i32, i32)> + '_ {
        self.cells
            .iter()
            .enumerate()
            .filter(|(_, m)| **m)
            .map(|(i, _)| (self.x0 + (i % self.w) as i32, self.y0 + (i / self.w) as i32))
    }
}

/// The centre of a [`CELL`] raster's cell, mm.
fn centre(c: (i32, i32)) -> (f64, f64) {
    ((f64::from(c.0) + 0.5) * CELL, (f64::from(c.1) + 0.5) * CELL)
}

/// The median layer height, mm (0 without layers).
fn median_height(layers: &[&Layer]) -> f64 {
    let mut heights: Vec<f64> = layers.iter().map(|l| f64::from(l.height)).collect();
    heights.sort_by(f64::total_cmp);
    heights.get(heights.len() / 2).copied().unwrap_or(0.0)
}

/// What is printed over a point of a layer, looking up layer by layer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Over {
    Model,
    Support,
    Nothing,
}

impl LineIndex<'_> {
    /// Whether a model bead, else a support bead, covers `(x, y)` (within half its
    /// width); a skirt or a tower is neither.
    fn over(&self, x: f64, y: f64) -> Over {
        let mut over = Over::Nothing;
        for s in self.near(x, y, MAX_HALF_WIDTH) {
            if distance_to_line(x, y, s) <= f64::from(s.width) / 2.0 {
                if is_model(s) {
                    return Over::Model;
                }
                if is_support(s) {
                    over = Over::Support;
                }
            }
        }
        over
    }
}

/// Area of the support's top surface the model rests on: cells of the support raster
/// not covered by support in the next layer, whose first extrusion above is the
/// model's, at most `gap` plus [`CONTACT_LAYERS`] layers higher.
fn contact<'a>(layers: &[&'a Layer], index: &[LineIndex], gap: f64) -> f64 {
    let reach = gap + CONTACT_LAYERS * median_height(layers) + 1e-4;
    (0..layers.len())
        .into_par_iter()
        .map(|li| {
            let l = layers[li];
            if !l.segments.iter().any(is_support) {
                return 0.0;
            }
            let above = layers[li + 1..]
                .iter()
                .take_while(|u| f64::from(u.z) <= f64::from(l.z) + reach)
                .count();
            if above == 0 {
                return 0.0;
            }
            let support = |l: &'a Layer| l.segments.iter().filter(|s| is_support(s));
            let Some(mut top) = Raster::around(support(l)) else {
                return 0.0;
            };
            top.paint(support(l));
            // What the next layer's support covers is not the top.
            let mut next = Raster {
                cells: vec![false; top.cells.len()],
                ..top
            };
            next.paint(support(layers[li + 1]));
            for (t, n) in top.cells.iter_mut().zip(&next.cells) {
                *t &= !n;
            }
            let touched = top
                .marked()
                .filter(|&c| {
                    let (x, y) = centre(c);
                    index[li + 1..=li + above]
                        .iter()
                        .map(|u| u.over(x, y))
                        .find(|o| *o != Over::Nothing)
                        == Some(Over::Model)
                })
                .count();
            touched as f64 * CELL * CELL
        })
        .sum()
}

/// One layer's section of the models, row by row: where each row crosses the outer
/// contours and where it crosses every ring. A point is in a cavity when it is inside
/// an outer contour but not in material.
struct SectionRows {
    y0: f64,
    contours: Vec<Vec<f64>>,
    rings: Vec<Vec<f64>>,
}

impl SectionRows {
    fn new(islands: &[ExPolygon]) -> Option<Self> {
        let bbox = BBox::of_areas(islands)?;
        let (lo, hi) = (unscaled(bbox.min.y), unscaled(bbox.max.y));
        let rows = ((hi - lo) * ROWS_PER_MM).ceil() as usize + 1;
        let mut contours = vec![Vec::new(); rows];
        let mut rings = vec![Vec::new(); rows];
        for e in islands {
            for (k, ring) in e.rings().enumerate() {
                for (a, b) in ring.edges() {
                    let (ya, yb) = (unscaled(a.y), unscaled(b.y));
                    let (xa, xb) = (unscaled(a.x), unscaled(b.x));
                    let rmin = ((ya.min(yb) - lo) * ROWS_PER_MM - 0.5).ceil().max(0.0);
                    let rmax = ((ya.max(yb) - lo) * ROWS_PER_MM - 0.5)
                        .floor()
                        .min((rows - 1) as f64);
                    if rmax < rmin {
                        continue;
                    }
                    for r in rmin as usize..=rmax as usize {
                        let y = lo + (r as f64 + 0.5) / ROWS_PER_MM;
                        // Half-open in y, so a vertex on a row counts once.
                        if (ya <= y) == (yb <= y) {
                            continue;
                        }
                        let x = xa + (y - ya) / (yb - ya) * (xb - xa);
                        rings[r].push(x);
                        if k == 0 {
                            contours[r].push(x);
                        }
                    }
                }
            }
        }
        for v in contours.iter_mut().chain(rings.iter_mut()) {
            v.sort_by(f64::total_cmp);
        }
        Some(SectionRows {
            y0: lo,
            contours,
            rings,
        })
    }

    fn in_cavity(&self, x: f64, y: f64) -> bool {
        let r = ((y - self.y0) * ROWS_PER_MM).floor();
        if r < 0.0 || r as usize >= self.rings.len() {
            return false;
        }
        let odd = |v: &Vec<f64>| v.partition_point(|&c| c < x) % 2 == 1;
        odd(&self.contours[r as usize]) && !odd(&self.rings[r as usize])
    }
}

/// Volume of support in the holes of the models' sections at its layer's mid-height.
fn inside(layers: &[&Layer], meshes: &[&Mesh]) -> f64 {
    let with_support: Vec<&Layer> = layers
        .iter()
        .copied()
        .filter(|l| l.segments.iter().any(is_support))
        .collect();
    if with_support.is_empty() || meshes.is_empty() {
        return 0.0;
    }
    let specs: Vec<LayerSpec> = with_support
        .iter()
        .map(|l| LayerSpec {
            z: f64::from(l.z),
            height: f64::from(l.height),
            slice_z: f64::from(l.z) - f64::from(l.height) / 2.0,
        })
        .collect();
    let slicers: Vec<Slicer> = meshes.iter().map(|m| Slicer::new(m, &specs)).collect();
    let options = SliceOptions::default();
    (0..with_support.len())
        .into_par_iter()
        .map_init(Vec::new, |scratch, i| {
            let l = with_support[i];
            let sections: Vec<SectionRows> = slicers
                .iter()
                .filter_map(|s| SectionRows::new(&s.layer(i, &options, scratch).0.islands))
                .collect();
            let area: f64 = l
                .segments
                .iter()
                .filter(|s| is_support(s))
                .flat_map(|s| samples(s).map(move |(p, len)| (p, len * f64::from(s.width))))
                .filter(|(p, _)| sections.iter().any(|r| r.in_cavity(p[0], p[1])))
                .map(|(_, a)| a)
                .sum();
            area * f64::from(l.height)
        })
        .sum()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::preview::toolpath::{ParseOptions, parse_bytes};

    const OPTS: AuditOptions = AuditOptions {
        threshold_deg: 45.0,
        top_gap: 0.2,
        wall: 0.0,
    };

    fn read(g: &str) -> Toolpath {
        parse_bytes(g.as_bytes(), &ParseOptions::default()).unwrap()
    }

    /// A 10 mm support line at z 0.4 over a line at z 0.2 that is `offset` mm away.
    fn support_over(offset: f64) -> Toolpath {
        read(&format!(
            "M83\n;LAYER_CHANGE\n;Z:0.2\nG1 Z0.2\nG1 X0 Y{offset}\n;TYPE:Perimeter\n;WIDTH:0.45\n\
             G1 X10 E0.5\n;LAYER_CHANGE\n;Z:0.4\nG1 Z0.4\nG1 X0 Y0\n;TYPE:Support material\n\
             G1 X10 E0.5\n"
        ))
    }

    #[test]
    fn support_on_air_is_measured_and_support_on_a_line_is_not() {
        let standing = audit(&support_over(1.0), &[], &OPTS);
        assert!((standing.support_mm - 10.0).abs() < 1e-3);
        assert_eq!(standing.floating_mm, 0.0);
        let on_air = audit(&support_over(5.0), &[], &OPTS);
        assert!((on_air.floating_mm - 10.0).abs() < 1e-3, "{on_air:?}");
        assert!((on_air.floating_share() - 1.0).abs() < 1e-6);
    }

    /// Five 10 mm lines 0.4 mm apart at `z`, as `kind`.
    fn patch(z: f64, kind: &str) -> String {
        let mut g =
            format!(";LAYER_CHANGE\n;Z:{z}\n;HEIGHT:0.2\nG1 Z{z}\n;TYPE:{kind}\n;WIDTH:0.45\n");
        for i in 0..5 {
            let y = 0.2 + 0.4 * f64::from(i);
            g += &format!("G1 X0 Y{y}\nG1 X10 E0.4\n");
        }
        g
    }

    #[test]
    fn contact_is_the_support_top_the_model_rests_on_across_the_gap() {
        // A 10 x 2 mm patch of support lines at z 0.2, model lines over it at z 0.6 (the
        // 0.2 mm gap plus a layer), at z 1.0 (two layers higher, as over a tip on a
        // slope) or at z 1.2 (too high to rest on it).
        let over = |model_z: f64| {
            let g = format!(
                "M83\n{}{}",
                patch(0.2, "Support material interface"),
                patch(model_z, "Solid infill")
            );
            audit(&read(&g), &[], &OPTS).contact_area_mm2
        };
        let resting = over(0.6);
        assert!((17.0..=23.0).contains(&resting), "{resting}");
        assert_eq!(over(1.0), resting);
        assert_eq!(over(1.2), 0.0);
        // Support printed over the patch: only the upper patch's top is touched.
        let g = format!(
            "M83\n{}{}{}",
            patch(0.2, "Support material"),
            patch(0.4, "Support material interface"),
            patch(0.8, "Solid infill")
        );
        assert_eq!(audit(&read(&g), &[], &OPTS).contact_area_mm2, resting);
    }
}
