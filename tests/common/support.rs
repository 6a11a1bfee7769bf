//! Support judged from the G-code alone: how much was printed, how much of it touches
//! the model, whether any of it stands on air, and whether it keeps clear of the
//! model's sections.
#![allow(dead_code)]

use std::collections::HashSet;

use rayon::prelude::*;

use super::fidelity::{Bead, GLayer, Grid, Seg, Slicer, dist_to_seg};

/// Filament cross-section for 1.75 mm filament, mm².
pub const FILAMENT_AREA: f64 = std::f64::consts::PI * 0.875 * 0.875;

/// Support farther than this from all extrusion of the layer below stands on air, mm;
/// nearer, it is a short bridge (a dense interface over a sparse base).
pub const FLOAT_BRIDGE: f64 = 1.5;

/// Cell of the contact raster, mm.
const CELL: f64 = 0.1;

/// How far above the contact gap the model's first bead over a support top may lie and
/// still rest on it, in layers: one for the bead's own height and two for the steps of
/// a slope across a tip.
pub const CONTACT_LAYERS: f64 = 3.0;

/// What the support of a print amounts to, measured from its beads.
#[derive(Debug, Clone, Copy, Default)]
pub struct SupportFigures {
    /// Length of support beads, mm.
    pub length: f64,
    /// Filament fed for them, mm.
    pub filament: f64,
    /// Plastic they hold, mm³.
    pub volume: f64,
    /// Area of support top the model rests on, mm² ([`contact_area`] with
    /// [`CONTACT_LAYERS`]).
    pub contact_area: f64,
}

/// Cells of the contact raster.
type Cells = HashSet<(i64, i64)>;

/// Cells of a 0.1 mm raster within half a bead's width of its centre line.
fn raster(beads: &[&Bead]) -> Cells {
    let mut cells = HashSet::new();
    for b in beads {
        let r = b.width / 2.0;
        let (x0, x1) = (b.a[0].min(b.b[0]) - r, b.a[0].max(b.b[0]) + r);
        let (y0, y1) = (b.a[1].min(b.b[1]) - r, b.a[1].max(b.b[1]) + r);
        for gx in (x0 / CELL).floor() as i64..=(x1 / CELL).ceil() as i64 {
            for gy in (y0 / CELL).floor() as i64..=(y1 / CELL).ceil() as i64 {
                let c = [(gx as f64 + 0.5) * CELL, (gy as f64 + 0.5) * CELL];
                if dist_to_seg(c, &[b.a, b.b]) <= r {
                    cells.insert((gx, gy));
                }
            }
        }
    }
    cells
}

/// Support length, filament, volume and the contact area (`gap`: the top contact gap).
pub fn figures(layers: &[GLayer], gap: f64) -> SupportFigures {
    let mut f = SupportFigures::default();
    for l in layers {
        for b in l.beads.iter().filter(|b| b.is_support()) {
            f.length += b.len();
            f.filament += b.e;
        }
    }
    f.volume = f.filament * FILAMENT_AREA;
    f.contact_area = contact_area(layers, gap, CONTACT_LAYERS);
    f
}

/// The median layer height, mm.
fn median_height(layers: &[GLayer]) -> f64 {
    let mut h: Vec<f64> = layers.iter().map(|l| l.height).collect();
    h.sort_by(f64::total_cmp);
    h.get(h.len() / 2).copied().unwrap_or(0.0)
}

fn support(l: &GLayer) -> Vec<&Bead> {
    l.beads.iter().filter(|b| b.is_support()).collect()
}

/// For each layer, the cells of its support's top surface: support bead area (on a
/// 0.1 mm raster) with no support bead of the next layer over it.
fn support_tops(layers: &[GLayer]) -> Vec<Cells> {
    (0..layers.len())
        .into_par_iter()
        .map(|i| {
            let mut top = raster(&support(&layers[i]));
            if let Some(next) = layers.get(i + 1) {
                let over = raster(&support(next));
                top.retain(|c| !over.contains(c));
            }
            top
        })
        .collect()
}

fn centre(c: (i64, i64)) -> [f64; 2] {
    [(c.0 as f64 + 0.5) * CELL, (c.1 as f64 + 0.5) * CELL]
}

/// Area of the support's top surface the model rests on, mm²: top cells whose first
/// extrusion above, in the layers up to `gap` plus `extra` layers higher, is a model
/// bead. `extra` is 1 for a flat underside; on a slope the model's bead over a tip lies
/// a few layers higher ([`CONTACT_LAYERS`]).
pub fn contact_area(layers: &[GLayer], gap: f64, extra: f64) -> f64 {
    let reach = gap + extra * median_height(layers) + 1e-6;
    let tops = support_tops(layers);
    tops.par_iter()
        .enumerate()
        .map(|(i, top)| {
            if top.is_empty() {
                return 0.0;
            }
            // The support and model cells of each layer within reach.
            let above: Vec<(Cells, Cells)> = layers[i + 1..]
                .iter()
                .take_while(|u| u.z <= layers[i].z + reach)
                .map(|u| {
                    let (s, m): (Vec<&Bead>, Vec<&Bead>) =
                        u.beads.iter().partition(|b| b.is_support());
                    (raster(&s), raster(&m))
                })
                .collect();
            let touched = top
                .iter()
                .filter(|c| {
                    above
                        .iter()
                        .find(|(s, m)| s.contains(c) || m.contains(c))
                        .is_some_and(|(_, m)| m.contains(c))
                })
                .count();
            touched as f64 * CELL * CELL
        })
        .sum()
}

/// The same area judged against the mesh the print was sliced from (as placed on the
/// bed): support top cells with the model's downward surface straight above them at
/// most `gap` plus `extra` layers higher. An outside view of [`contact_area`]: it reads
/// the surface, not the model's beads.
pub fn contact_under_mesh(
    layers: &[GLayer],
    mesh: &lamina::mesh::Mesh,
    gap: f64,
    extra: f64,
) -> f64 {
    let reach = gap + extra * median_height(layers) + 1e-6;
    let faces: Vec<[[f64; 3]; 3]> = mesh
        .faces
        .iter()
        .map(|f| f.map(|i| mesh.vertices[i as usize].map(f64::from)))
        .collect();
    // The lowest face straight above (x, y, z): its height and whether it faces down.
    let above = |p: [f64; 2], z: f64| -> Option<(f64, bool)> {
        let mut best: Option<(f64, bool)> = None;
        for v in &faces {
            let (a, b, c) = (v[0], v[1], v[2]);
            let d = (b[0] - a[0]) * (c[1] - a[1]) - (c[0] - a[0]) * (b[1] - a[1]);
            if d.abs() < 1e-12 {
                continue;
            }
            let u = ((p[0] - a[0]) * (c[1] - a[1]) - (c[0] - a[0]) * (p[1] - a[1])) / d;
            let w = ((b[0] - a[0]) * (p[1] - a[1]) - (p[0] - a[0]) * (b[1] - a[1])) / d;
            if u < 0.0 || w < 0.0 || u + w > 1.0 {
                continue;
            }
            let h = a[2] + u * (b[2] - a[2]) + w * (c[2] - a[2]);
            // Counter-clockwise seen from above: the face looks up.
            if h > z && best.is_none_or(|(bh, _)| h < bh) {
                best = Some((h, d < 0.0));
            }
        }
        best
    };
    let tops = support_tops(layers);
    tops.par_iter()
        .enumerate()
        .map(|(i, top)| {
            let z = layers[i].z;
            top.iter()
                .filter(|c| above(centre(**c), z).is_some_and(|(h, down)| down && h - z <= reach))
                .count() as f64
                * CELL
                * CELL
        })
        .sum()
}

/// Support standing on air.
#[derive(Debug, Clone, Copy, Default)]
pub struct Floating {
    /// Support length above the first layer, mm.
    pub support: f64,
    /// Of it, the length farther than [`FLOAT_BRIDGE`] from all extrusion of the layer
    /// below, mm.
    pub floating: f64,
    /// The layer (top Z) with the most floating support, and that length.
    pub worst: (f64, f64),
}

impl Floating {
    /// Floating share of the support length (0 without support).
    pub fn fraction(&self) -> f64 {
        if self.support > 0.0 {
            self.floating / self.support
        } else {
            0.0
        }
    }
}

/// Support extrusion above the first layer whose centre line (sampled every 0.1 mm)
/// lies more than [`FLOAT_BRIDGE`] from every extrusion of the layer below.
pub fn floating(layers: &[GLayer]) -> Floating {
    let printed: Vec<&GLayer> = layers.iter().filter(|l| !l.beads.is_empty()).collect();
    let rows: Vec<(f64, f64, f64)> = printed
        .par_windows(2)
        .map(|w| {
            let (below, l) = (w[0], w[1]);
            let segs: Vec<Seg> = below.beads.iter().map(|b| [b.a, b.b]).collect();
            let grid = Grid::new(&segs, FLOAT_BRIDGE);
            let (mut total, mut air) = (0.0, 0.0);
            for b in l.beads.iter().filter(|b| b.is_support()) {
                for (p, len) in b.samples() {
                    total += len;
                    if !grid
                        .near(p, FLOAT_BRIDGE)
                        .any(|i| dist_to_seg(p, &segs[i]) <= FLOAT_BRIDGE)
                    {
                        air += len;
                    }
                }
            }
            (l.z, total, air)
        })
        .collect();
    let mut f = Floating::default();
    for (z, total, air) in rows {
        f.support += total;
        f.floating += air;
        if air > f.worst.1 {
            f.worst = (z, air);
        }
    }
    f
}

/// Where support comes nearest the model: the smallest distance from a support bead's
/// centre line (sampled every 0.1 mm) to the model's section at the layer's middle,
/// and support found inside the section. Returns (distance, z, point) of the nearest
/// sample and every (z, point) inside.
#[derive(Debug, Clone, Default)]
pub struct Clearance {
    pub nearest: (f64, f64, [f64; 2]),
    pub inside: Vec<(f64, [f64; 2])>,
}

/// Measure the clearance of the support beads `pick` selects from the model
/// `vertices`/`faces` as placed on the bed; distances are looked for up to `max` mm.
pub fn clearance(
    vertices: &[[f32; 3]],
    faces: &[[u32; 3]],
    layers: &[GLayer],
    max: f64,
    pick: impl Fn(&Bead) -> bool + Sync,
) -> Clearance {
    let slicer = Slicer::new(vertices, faces);
    let rows: Vec<Clearance> = layers
        .par_iter()
        .filter_map(|l| {
            let beads: Vec<&Bead> = l
                .beads
                .iter()
                .filter(|b| b.is_support() && pick(b))
                .collect();
            if beads.is_empty() {
                return None;
            }
            let s = slicer.at(l.mid());
            if s.is_empty() {
                return None;
            }
            let mut c = Clearance {
                nearest: (max, l.z, [0.0; 2]),
                inside: Vec::new(),
            };
            for b in beads {
                for (p, _) in b.samples() {
                    let d = s.edge_distance(p, max);
                    if d < c.nearest.0 {
                        c.nearest = (d, l.z, p);
                    }
                    if s.inside(p) {
                        c.inside.push((l.z, p));
                    }
                }
            }
            Some(c)
        })
        .collect();
    let mut out = Clearance {
        nearest: (max, 0.0, [0.0; 2]),
        inside: Vec::new(),
    };
    for r in rows {
        if r.nearest.0 < out.nearest.0 {
            out.nearest = r.nearest;
        }
        out.inside.extend(r.inside);
    }
    out
}
