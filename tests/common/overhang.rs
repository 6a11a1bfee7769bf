//! Overhangs judged from the G-code, independently of the slicer: points sampled on
//! the model's downward-facing surfaces, whether extrusion holds them from the air
//! side of the surface, and which tool printed the contact under them.
//!
//! A point P with outward normal n is held when some extrusion Q (sampled every 0.1 mm
//! along the beads, at its layer's mid-height) lies within 1 mm of P in XY, in a layer whose top is at most
//! `window` below P (two layers plus the top contact gap) and not above it, and on the
//! air side of the surface's tangent plane at P: (Q - P)·n > 0.02 mm. The model's own
//! lower layers are inside the solid, so on a slope they never count, however close.
#![allow(dead_code)]

use lamina::mesh::Mesh;
use nalgebra::Vector3;
use rayon::prelude::*;

use super::fidelity::{Bead, GLayer, Grid, Seg};

/// A point on a downward-facing surface and the surface's outward unit normal there.
#[derive(Debug, Clone, Copy)]
pub struct OverhangPoint {
    pub p: [f64; 3],
    pub n: [f64; 3],
}

/// Extrusion counts as holding a point only this far on the air side of its tangent
/// plane, mm (a bead merely touching the surface does not hold it).
pub const AIR_SIDE: f64 = 0.02;

/// How far in XY holding extrusion may lie from the point, mm.
pub const HOLD_RADIUS: f64 = 1.0;

/// Overhang points below this height lie on the bed, mm.
pub const BED_IGNORE: f64 = 0.2;

/// About `count` points spread over the faces whose outward normal lies within
/// `threshold` degrees of straight down (the surface flatter than `threshold` from the
/// horizontal: the slicer's support threshold), by area: a stratified, deterministic
/// sample (the i-th point falls where the cumulative area reaches (i + ½)/count of the
/// total, at low-discrepancy barycentric coordinates). Points below [`BED_IGNORE`] are
/// left out.
pub fn overhang_points(m: &Mesh, threshold: f64, count: usize) -> Vec<OverhangPoint> {
    let cos = threshold.to_radians().cos();
    let corners = |f: &[u32; 3]| f.map(|i| Vector3::from(m.vertices[i as usize].map(f64::from)));
    // A mesh whose faces all point inward (negative signed volume) is read the right
    // way out, as a slicer prints it.
    let volume: f64 = m
        .faces
        .iter()
        .map(|f| {
            let [a, b, c] = corners(f);
            a.dot(&b.cross(&c))
        })
        .sum();
    let outward = if volume < 0.0 { -1.0 } else { 1.0 };
    let mut faces = Vec::new();
    let mut cumulative = Vec::new();
    let mut total = 0.0;
    for f in &m.faces {
        let [a, b, c] = corners(f);
        let n = (b - a).cross(&(c - a)) * outward;
        let len = n.norm();
        let area = len / 2.0;
        // Faces of area 1e-6 mm² or less carry no direction worth trusting.
        if area <= 1e-6 || n.z / len >= -cos || a.z.max(b.z).max(c.z) <= BED_IGNORE {
            continue;
        }
        total += area;
        faces.push((a, b, c, n / len));
        cumulative.push(total);
    }
    let mut out = Vec::with_capacity(count);
    if faces.is_empty() {
        return out;
    }
    // The plastic sequence (R2) spreads barycentric coordinates evenly.
    const G: f64 = 1.324_717_957_244_746;
    let (a1, a2) = (1.0 / G, 1.0 / (G * G));
    for i in 0..count {
        let target = (i as f64 + 0.5) / count as f64 * total;
        let k = cumulative
            .partition_point(|&c| c < target)
            .min(faces.len() - 1);
        let (a, b, c, n) = faces[k];
        let (r1, r2) = ((0.5 + a1 * i as f64).fract(), (0.5 + a2 * i as f64).fract());
        let s = r1.sqrt();
        let p = a * (1.0 - s) + b * (s * (1.0 - r2)) + c * (s * r2);
        if p.z > BED_IGNORE {
            out.push(OverhangPoint {
                p: p.into(),
                n: n.into(),
            });
        }
    }
    out
}

/// Extrusion samples of one layer (every [`super::fidelity::STEP`] mm along its beads), indexed for
/// near queries.
struct LayerSamples {
    /// Top of the layer and its middle (where its extrusion sits), mm.
    z: f64,
    mid: f64,
    /// Sample point, the length it stands for, and the tool that printed it.
    points: Vec<([f64; 2], f64, usize)>,
    grid: Grid,
}

/// Layers' extrusion sampled every [`super::fidelity::STEP`] mm and indexed for near queries.
pub struct Indexed {
    layers: Vec<LayerSamples>,
    /// The first printed layer's top, mm.
    first_top: f64,
}

impl Indexed {
    pub fn new(layers: &[GLayer]) -> Self {
        let first_top = layers
            .iter()
            .find(|l| !l.beads.is_empty())
            .map_or(0.0, |l| l.z);
        let layers = layers
            .par_iter()
            .map(|l| {
                let points: Vec<([f64; 2], f64, usize)> = l
                    .beads
                    .iter()
                    .flat_map(|b| b.samples().map(move |(p, w)| (p, w, b.tool)))
                    .collect();
                let segs: Vec<Seg> = points.iter().map(|q| [q.0, q.0]).collect();
                LayerSamples {
                    z: l.z,
                    mid: l.mid(),
                    grid: Grid::new(&segs, HOLD_RADIUS),
                    points,
                }
            })
            .collect();
        Indexed { layers, first_top }
    }

    /// Samples of the layers whose top lies within `window` below the point (and no
    /// higher than [`AIR_SIDE`] above it), within `r` of it in XY and on the air side
    /// of its tangent plane: (layer top, length, tool).
    fn holding<'s>(
        &'s self,
        o: &'s OverhangPoint,
        window: f64,
        r: f64,
    ) -> impl Iterator<Item = (f64, f64, usize)> + 's {
        let z = o.p[2];
        self.layers
            .iter()
            .filter(move |l| l.z <= z + AIR_SIDE && l.z >= z - window - 1e-9)
            .flat_map(move |l| {
                l.grid
                    .near([o.p[0], o.p[1]], r)
                    .map(move |i| (l, l.points[i]))
            })
            .filter(move |(l, (q, ..))| {
                let d = [q[0] - o.p[0], q[1] - o.p[1], l.mid - z];
                d[0].hypot(d[1]) <= r && d[0] * o.n[0] + d[1] * o.n[1] + d[2] * o.n[2] > AIR_SIDE
            })
            .map(|(l, (_, w, tool))| (l.z, w, tool))
    }

    /// Whether extrusion holds the point (see the module's definition); points within
    /// the first layer rest on the bed.
    pub fn held(&self, o: &OverhangPoint, window: f64) -> bool {
        o.p[2] <= self.first_top + AIR_SIDE || self.holding(o, window, HOLD_RADIUS).next().is_some()
    }

    /// Share of the points held (1 when there are none).
    pub fn held_fraction(&self, points: &[OverhangPoint], window: f64) -> f64 {
        if points.is_empty() {
            return 1.0;
        }
        let held = points.par_iter().filter(|o| self.held(o, window)).count();
        held as f64 / points.len() as f64
    }

    /// The contact under each point: of the holding extrusion within `reach` of the
    /// point in XY, that of the highest layer. Returns the length of that contact
    /// printed by `tool` and in all, summed over the points.
    pub fn contact_by_tool(
        &self,
        points: &[OverhangPoint],
        window: f64,
        reach: f64,
        tool: usize,
    ) -> (f64, f64) {
        points
            .par_iter()
            .map(|o| {
                let near: Vec<(f64, f64, usize)> = self.holding(o, window, reach).collect();
                let Some(top) = near.iter().map(|s| s.0).reduce(f64::max) else {
                    return (0.0, 0.0);
                };
                near.iter()
                    .filter(|s| s.0 >= top - 1e-9)
                    .fold((0.0, 0.0), |(t, a), s| {
                        (t + if s.2 == tool { s.1 } else { 0.0 }, a + s.1)
                    })
            })
            .reduce(|| (0.0, 0.0), |a, b| (a.0 + b.0, a.1 + b.1))
    }
}

/// The points that face air: those with the model's solid right beneath them (faces
/// of one shell lying inside another, as where merged primitives overlap) rest on the
/// model and are dropped. Inside is the winding number of a ray cast straight down,
/// so use this on closed meshes only.
pub fn facing_air(m: &Mesh, points: Vec<OverhangPoint>) -> Vec<OverhangPoint> {
    points
        .into_par_iter()
        .filter(|o| !inside(m, [o.p[0], o.p[1], o.p[2] - 0.1]))
        .collect()
}

/// Whether a point lies inside the model: the winding number of a ray cast straight
/// down from it (each face the ray crosses counts by the sign of its normal's Z), so
/// overlapping shells count as one solid.
pub fn inside(m: &Mesh, q: [f64; 3]) -> bool {
    let mut winding = 0i32;
    for f in &m.faces {
        let [a, b, c] = f.map(|i| m.vertices[i as usize].map(f64::from));
        // Barycentric coordinates of q's XY in the face's XY projection.
        let d = (b[1] - c[1]) * (a[0] - c[0]) + (c[0] - b[0]) * (a[1] - c[1]);
        if d.abs() < 1e-12 {
            continue;
        }
        let l1 = ((b[1] - c[1]) * (q[0] - c[0]) + (c[0] - b[0]) * (q[1] - c[1])) / d;
        let l2 = ((c[1] - a[1]) * (q[0] - c[0]) + (a[0] - c[0]) * (q[1] - c[1])) / d;
        let l3 = 1.0 - l1 - l2;
        if l1 < 0.0 || l2 < 0.0 || l3 < 0.0 {
            continue;
        }
        if l1 * a[2] + l2 * b[2] + l3 * c[2] < q[2] {
            // The projection's orientation is the sign of the normal's Z.
            winding += if d > 0.0 { 1 } else { -1 };
        }
    }
    winding != 0
}

/// Share of `points` held by the extrusion of `layers` within `window` below them.
pub fn held_fraction(points: &[OverhangPoint], layers: &[GLayer], window: f64) -> f64 {
    Indexed::new(layers).held_fraction(points, window)
}

/// Of the contact directly under the points (holding extrusion within a line width of
/// them, in the highest such layer), the share printed by `tool`, by length. `None`
/// when nothing lies under any point.
pub fn tool_share(
    points: &[OverhangPoint],
    layers: &[GLayer],
    window: f64,
    reach: f64,
    tool: usize,
) -> Option<f64> {
    let (t, all) = Indexed::new(layers).contact_by_tool(points, window, reach, tool);
    (all > 0.0).then(|| t / all)
}

/// Distance in XY from a point to a bead's centre line, mm.
pub fn distance(b: &Bead, p: &[f64; 3]) -> f64 {
    super::fidelity::dist_to_seg([p[0], p[1]], &[b.a, b.b])
}

/// Whether each point has a support bead within `r` of it in XY, in a layer whose top
/// lies at most `window` below it (and no higher than [`AIR_SIDE`] above): how far the
/// point is from the contact patch of the support under it, whatever side of the
/// surface the bead lies on.
pub fn near_support(points: &[OverhangPoint], layers: &[GLayer], window: f64, r: f64) -> Vec<bool> {
    let support: Vec<(f64, Vec<Seg>, Grid)> = layers
        .par_iter()
        .map(|l| {
            let segs: Vec<Seg> = l
                .beads
                .iter()
                .filter(|b| b.is_support())
                .map(|b| [b.a, b.b])
                .collect();
            let grid = Grid::new(&segs, HOLD_RADIUS);
            (l.z, segs, grid)
        })
        .collect();
    points
        .par_iter()
        .map(|o| {
            let z = o.p[2];
            let q = [o.p[0], o.p[1]];
            support
                .iter()
                .filter(|(lz, ..)| *lz <= z + AIR_SIDE && *lz >= z - window - 1e-9)
                .any(|(_, segs, grid)| {
                    grid.near(q, r)
                        .any(|i| super::fidelity::dist_to_seg(q, &segs[i]) <= r)
                })
        })
        .collect()
}
