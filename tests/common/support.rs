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

/// What the support of a print amounts to, measured from its beads.
#[derive(Debug, Clone, Copy, Default)]
pub struct SupportFigures {
    /// Length of support beads, mm.
    pub length: f64,
    /// Filament fed for them, mm.
    pub filament: f64,
    /// Plastic they hold, mm³.
    pub volume: f64,
    /// Area of support top the model rests on, mm²: support bead area (on a 0.1 mm
    /// raster) with model extrusion above it within `gap` plus one layer.
    pub contact_area: f64,
}

/// Cells of a 0.1 mm raster within half a bead's width of its centre line.
fn raster(beads: &[&Bead]) -> HashSet<(i64, i64)> {
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

/// Support length, filament, volume and the contact area under model extrusion that
/// lies at most `gap` plus one layer above the support (`gap`: the top contact gap).
pub fn figures(layers: &[GLayer], gap: f64) -> SupportFigures {
    let mut f = SupportFigures::default();
    for l in layers {
        for b in l.beads.iter().filter(|b| b.is_support()) {
            f.length += b.len();
            f.filament += b.e;
        }
    }
    f.volume = f.filament * FILAMENT_AREA;
    f.contact_area = layers
        .par_iter()
        .enumerate()
        .map(|(i, l)| {
            let support: Vec<&Bead> = l.beads.iter().filter(|b| b.is_support()).collect();
            if support.is_empty() {
                return 0.0;
            }
            let above: Vec<&Bead> = layers[i + 1..]
                .iter()
                .take_while(|u| u.z <= l.z + gap + u.height + 1e-6)
                .flat_map(|u| u.beads.iter().filter(|b| b.is_model()))
                .collect();
            if above.is_empty() {
                return 0.0;
            }
            let under = raster(&above);
            raster(&support).intersection(&under).count() as f64 * CELL * CELL
        })
        .sum();
    f
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
