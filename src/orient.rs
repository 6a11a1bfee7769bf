//! The orientation that needs the least support (`lamina orient`, `slice --orient auto`).
//!
//! For a direction turned up, the model is rotated and cast onto a grid of vertical
//! columns. Each column's crossings with the surface, sorted by height, give the solid
//! intervals above that point of the bed; every solid interval that starts on an
//! overhang (a surface flatter than the support threshold, seen from below) needs
//! support from the top of the interval below it, or from the bed. Summed over the
//! columns that gives the support volume, the overhang area it touches, and how much of
//! it stands inside the model (in a vessel's lumen, or in a void the model closes round
//! on every side), from the mesh alone. With a vessel wall the model is the wall: the
//! lumen's surface is its inside and the lumen's offset by the wall thickness its
//! outside.
//!
//! Directions are searched on a sphere of [`SPHERE_DIRECTIONS`] points, and the best
//! few refined by a local search in ever smaller steps.

use nalgebra::{Rotation3, Vector3};
use rayon::prelude::*;
use serde::Serialize;

use crate::mesh::Mesh;
use crate::mesh::topology::{corners, tet_volume};

/// Directions tried on the sphere before refining: about 13° apart, closer than the
/// refinement's first step reaches.
pub const SPHERE_DIRECTIONS: usize = 256;
/// Orientations reported (`lamina orient` prints the five best).
pub const REPORTED: usize = 5;
/// Coarse directions refined by local search: more than are reported, so that a
/// neighbour of a coarse winner that refines better is not lost.
const REFINED: usize = 10;
/// Steps of the local search, degrees: from half the sphere's spacing down to where the
/// support volume no longer changes measurably.
const REFINE_STEPS_DEG: [f64; 4] = [6.0, 3.0, 1.5, 0.75];
/// Reported orientations closer than this to a better one are the same choice, degrees.
const DISTINCT_DEG: f64 = 8.0;
/// Columns across the model's bounding sphere: about 0.3 mm on a 50 mm vessel tree,
/// 1.3 mm on a skull, fine enough that the volume is within a few percent.
const GRID_COLUMNS: f64 = 160.0;
/// The narrowest column, mm: finer than a printed line gains nothing.
const MIN_CELL: f64 = 0.2;
/// Support under a gap lower than this is not printed (the overhang bridges it), mm.
const MIN_GAP: f64 = 0.3;
/// Cost of a mm³ of support inside the model per mm³ outside: it cannot be reached
/// with pliers, only dissolved or dug out through the vessel's ends.
pub const ENCLOSED_WEIGHT: f64 = 3.0;
/// Cost of a mm² of support contact, in mm³ of support: the scar it leaves is
/// cleaned by hand, worth about a half-millimetre layer of support under it.
pub const CONTACT_WEIGHT: f64 = 0.5;
/// Cost of a mm of height, in mm³ of support: each layer adds travel and a layer
/// change; only a tie-breaker between orientations with the same support.
pub const HEIGHT_WEIGHT: f64 = 1.0;

/// How to weigh an orientation.
#[derive(Debug, Clone, Copy)]
pub struct Params {
    /// Surfaces flatter than this, degrees from the horizontal, need support.
    pub threshold_deg: f64,
    /// Vessel wall thickness, mm: the mesh is a lumen and the wall is printed (0: the
    /// mesh itself is printed).
    pub vessel_wall: f64,
}

/// The support an orientation needs, measured from the mesh.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
pub struct Cost {
    /// Support volume, mm³ (the columns under the overhangs, down to the model or the bed).
    pub support_mm3: f64,
    /// The part of it inside the model (lumens, sacs, voids), mm³.
    pub enclosed_mm3: f64,
    /// Area of the model's surface the support touches from below, mm² (projected).
    pub contact_mm2: f64,
    /// Height of the print, mm.
    pub height_mm: f64,
    /// All of the above weighed into one figure (lower is better), mm³.
    pub score: f64,
}

/// One orientation and what it costs.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct Orientation {
    /// The direction of the mesh, in its file's coordinates, that points up when printed.
    pub up: [f64; 3],
    /// The same as rotations about X, then Y, then Z (fixed axes), degrees: what
    /// `--rotate` takes.
    pub rotate_deg: [f64; 3],
    /// Its cost.
    pub cost: Cost,
}

impl Orientation {
    /// The rotation that prints the mesh this way up.
    pub fn rotation(&self) -> Rotation3<f64> {
        up_rotation(Vector3::from(self.up))
    }
}

/// What the search found.
#[derive(Debug, Clone, Serialize)]
pub struct Search {
    /// The orientation as the file has it.
    pub as_is: Orientation,
    /// The best orientations, best first, at most [`REPORTED`].
    pub best: Vec<Orientation>,
    /// Orientations weighed.
    pub evaluated: usize,
}

/// The rotation that turns `up` (need not be unit) to +Z, turning as little as possible.
pub fn up_rotation(up: Vector3<f64>) -> Rotation3<f64> {
    let z = Vector3::z();
    Rotation3::rotation_between(&up, &z).unwrap_or_else(|| {
        // Straight down: turn over about X.
        Rotation3::from_axis_angle(&Vector3::x_axis(), std::f64::consts::PI)
    })
}

/// A surface's vertices and faces.
type Surface = (Vec<Vector3<f64>>, Vec<[u32; 3]>);

/// The surfaces an orientation is weighed on.
struct Model {
    /// Each surface's vertices and faces; the first is the outside, the second (with a
    /// vessel wall) the lumen, whose inside is air.
    surfaces: Vec<Surface>,
    /// Column width, mm.
    cell: f64,
    /// Cosine of the angle from straight down within which a face needs support.
    overhang_cos: f64,
}

impl Model {
    fn new(mesh: &Mesh, p: &Params) -> Model {
        // A mesh wound inside out is read the right way out.
        let volume: f64 = (0..mesh.faces.len())
            .map(|f| {
                let [a, b, c] = corners(mesh, f);
                tet_volume(a, b, c)
            })
            .sum();
        let mut faces = mesh.faces.clone();
        if volume < 0.0 {
            for f in &mut faces {
                f.swap(1, 2);
            }
        }
        let points: Vec<Vector3<f64>> = mesh
            .vertices
            .iter()
            .map(|v| Vector3::new(v[0].into(), v[1].into(), v[2].into()))
            .collect();
        let surfaces = if p.vessel_wall > 0.0 {
            let outside = offset_vertices(&points, &faces, p.vessel_wall);
            vec![(outside, faces.clone()), (points, faces)]
        } else {
            vec![(points, faces)]
        };
        let (lo, hi) = surfaces[0].0.iter().fold(
            (
                Vector3::repeat(f64::INFINITY),
                Vector3::repeat(f64::NEG_INFINITY),
            ),
            |(lo, hi), p| (lo.inf(p), hi.sup(p)),
        );
        let diameter = if lo.x <= hi.x { (hi - lo).norm() } else { 0.0 };
        Model {
            surfaces,
            cell: (diameter / GRID_COLUMNS).max(MIN_CELL),
            overhang_cos: (90.0 - p.threshold_deg).to_radians().cos(),
        }
    }
}

/// Every vertex moved `t` along its normal (the faces' normals round it, weighed by
/// their areas): the outside of a wall `t` thick round a lumen.
fn offset_vertices(points: &[Vector3<f64>], faces: &[[u32; 3]], t: f64) -> Vec<Vector3<f64>> {
    let mut normals = vec![Vector3::zeros(); points.len()];
    for f in faces {
        let [a, b, c] = f.map(|v| points[v as usize]);
        // Twice the area along the normal.
        let n = (b - a).cross(&(c - a));
        for v in f {
            normals[*v as usize] += n;
        }
    }
    points
        .iter()
        .zip(&normals)
        .map(|(p, n)| p + n.try_normalize(1e-12).unwrap_or_else(Vector3::zeros) * t)
        .collect()
}

/// A surface crossing of a column: bit 0 the lumen (else the outside), bit 1 entering
/// the surface going up (else leaving), bit 2 an overhang seen from below.
const LUMEN: u8 = 1;
const ENTER: u8 = 2;
const OVERHANG: u8 = 4;

/// The cost of printing `mesh` with `up` pointing up.
pub fn cost(mesh: &Mesh, up: [f64; 3], p: &Params) -> Cost {
    let model = Model::new(mesh, p);
    weigh(&model, Vector3::from(up), &mut Vec::new())
}

/// The orientations of `mesh` that need the least support.
pub fn search(mesh: &Mesh, p: &Params) -> Search {
    let model = Model::new(mesh, p);
    let eval = |dirs: &[Vector3<f64>]| -> Vec<Cost> {
        dirs.par_iter()
            .map_init(Vec::new, |scratch, d| weigh(&model, *d, scratch))
            .collect()
    };
    let as_is = weigh(&model, Vector3::z(), &mut Vec::new());
    let sphere = fibonacci_sphere(SPHERE_DIRECTIONS);
    let costs = eval(&sphere);
    let mut evaluated = sphere.len() + 1;
    let mut tried: Vec<(Vector3<f64>, Cost)> = sphere.into_iter().zip(costs).collect();
    tried.push((Vector3::z(), as_is));
    let mut seeds = distinct(&tried, REFINED);
    // Local search from each seed, all seeds a step at a time.
    for step in REFINE_STEPS_DEG {
        loop {
            let neighbours: Vec<Vector3<f64>> =
                seeds.iter().flat_map(|(d, _)| around(*d, step)).collect();
            let costs = eval(&neighbours);
            evaluated += neighbours.len();
            let mut moved = false;
            for (k, seed) in seeds.iter_mut().enumerate() {
                let row = &costs[4 * k..4 * k + 4];
                let (j, c) = row
                    .iter()
                    .enumerate()
                    .min_by(|a, b| a.1.score.total_cmp(&b.1.score))
                    .expect("four neighbours");
                if c.score < seed.1.score {
                    *seed = (neighbours[4 * k + j], *c);
                    moved = true;
                }
            }
            tried.extend(seeds.iter().copied());
            if !moved {
                break;
            }
        }
    }
    let best = distinct(&tried, REPORTED)
        .into_iter()
        .map(|(d, c)| orientation(d, c))
        .collect();
    Search {
        as_is: orientation(Vector3::z(), as_is),
        best,
        evaluated,
    }
}

/// The orientation printing `up` upwards.
fn orientation(up: Vector3<f64>, cost: Cost) -> Orientation {
    let (x, y, z) = up_rotation(up).euler_angles();
    Orientation {
        up: up.normalize().into(),
        rotate_deg: [x, y, z].map(|a| {
            let d = a.to_degrees();
            // -0.0 reads badly.
            if d.abs() < 1e-9 { 0.0 } else { d }
        }),
        cost,
    }
}

/// The `n` best of `tried`, no two closer than [`DISTINCT_DEG`].
fn distinct(tried: &[(Vector3<f64>, Cost)], n: usize) -> Vec<(Vector3<f64>, Cost)> {
    let mut order: Vec<&(Vector3<f64>, Cost)> = tried.iter().collect();
    order.sort_by(|a, b| a.1.score.total_cmp(&b.1.score));
    let near = DISTINCT_DEG.to_radians().cos();
    let mut out: Vec<(Vector3<f64>, Cost)> = Vec::new();
    for t in order {
        if out.len() == n {
            break;
        }
        if out
            .iter()
            .all(|o| o.0.normalize().dot(&t.0.normalize()) < near)
        {
            out.push(*t);
        }
    }
    out
}

/// Four directions `deg` degrees from `d`, a quarter turn apart round it.
fn around(d: Vector3<f64>, deg: f64) -> [Vector3<f64>; 4] {
    let d = d.normalize();
    let helper = if d.x.abs() < 0.9 {
        Vector3::x()
    } else {
        Vector3::y()
    };
    let u = d.cross(&helper).normalize();
    let v = d.cross(&u);
    let (s, c) = deg.to_radians().sin_cos();
    [u, -u, v, -v].map(|t| d * c + t * s)
}

/// `n` directions spread evenly over the sphere (a Fibonacci lattice).
pub fn fibonacci_sphere(n: usize) -> Vec<Vector3<f64>> {
    let golden = std::f64::consts::PI * (3.0 - 5f64.sqrt());
    (0..n)
        .map(|i| {
            let z = 1.0 - 2.0 * (i as f64 + 0.5) / n as f64;
            let r = (1.0 - z * z).sqrt();
            let a = golden * i as f64;
            Vector3::new(r * a.cos(), r * a.sin(), z)
        })
        .collect()
}

/// The cost of `model` printed with `up` pointing up; `events` is scratch space.
fn weigh(model: &Model, up: Vector3<f64>, events: &mut Vec<(u64, u8)>) -> Cost {
    let r = up_rotation(up);
    let turned: Vec<Vec<Vector3<f64>>> = model
        .surfaces
        .iter()
        .map(|(pts, _)| pts.iter().map(|p| r * p).collect())
        .collect();
    let (lo, hi) = turned[0].iter().fold(
        (
            Vector3::repeat(f64::INFINITY),
            Vector3::repeat(f64::NEG_INFINITY),
        ),
        |(lo, hi), p| (lo.inf(p), hi.sup(p)),
    );
    if lo.x > hi.x {
        return Cost::default();
    }
    let s = model.cell;
    // The grid is shifted off round numbers, so that cell centres do not fall on the
    // edges of meshes contoured on a grid.
    let origin = [lo.x - 0.371 * s, lo.y - 0.529 * s];
    let nu = ((hi.x - origin[0]) / s).ceil() as usize + 1;
    let nv = ((hi.y - origin[1]) / s).ceil() as usize + 1;
    events.clear();
    for (k, ((_, faces), pts)) in model.surfaces.iter().zip(&turned).enumerate() {
        let lumen = k == 1;
        for f in faces {
            let [a, b, c] = f.map(|v| pts[v as usize]);
            cross_columns(a, b, c, lumen, lo.z, model, origin, [nu, nv], events);
        }
    }
    events.sort_unstable_by_key(|e| e.0);
    let area = s * s;
    let mut cost = Cost {
        height_mm: hi.z - lo.z,
        ..Cost::default()
    };
    let mut i = 0;
    while i < events.len() {
        let cell = events[i].0 >> 32;
        let (mut outside, mut lumen) = (0i32, 0i32);
        let mut top: Option<f64> = None;
        let mut solid = false;
        while i < events.len() && events[i].0 >> 32 == cell {
            let (key, flags) = events[i];
            i += 1;
            let h = f64::from(f32::from_bits(key as u32));
            let step = if flags & ENTER != 0 { 1 } else { -1 };
            if flags & LUMEN != 0 {
                lumen += step;
            } else {
                outside += step;
            }
            let now = outside > 0 && lumen <= 0;
            if now && !solid {
                let gap = h - top.unwrap_or(0.0);
                if flags & OVERHANG != 0 && gap > MIN_GAP {
                    cost.support_mm3 += gap * area;
                    cost.contact_mm2 += area;
                    // Leaving the lumen upwards: the gap below was the lumen.
                    if flags & LUMEN != 0 && top.is_some() {
                        cost.enclosed_mm3 += gap * area;
                    }
                }
            } else if solid && !now {
                top = Some(h);
            }
            solid = now;
        }
    }
    if model.surfaces.len() == 1 {
        cost.enclosed_mm3 = enclosed_voids(events, [nu, nv], s);
    }
    cost.score = cost.support_mm3
        + (ENCLOSED_WEIGHT - 1.0) * cost.enclosed_mm3
        + CONTACT_WEIGHT * cost.contact_mm2
        + HEIGHT_WEIGHT * cost.height_mm;
    cost
}

/// Support inside a model without a lumen: gaps between two solid intervals of a
/// column whose middle has the model on all four sides along the grid's rows.
fn enclosed_voids(events: &[(u64, u8)], n: [usize; 2], s: f64) -> f64 {
    // Solid intervals of every column (CSR), and the supported gaps.
    let cells = n[0] * n[1];
    let mut start = vec![0u32; cells + 1];
    let mut intervals: Vec<(f32, f32)> = Vec::new();
    let mut gaps: Vec<(usize, f32, f32)> = Vec::new();
    let mut i = 0;
    let mut next_cell = 0usize;
    while i < events.len() {
        let cell = (events[i].0 >> 32) as usize;
        while next_cell <= cell {
            start[next_cell] = intervals.len() as u32;
            next_cell += 1;
        }
        let mut w = 0i32;
        let mut from = 0f32;
        let mut top: Option<f32> = None;
        while i < events.len() && (events[i].0 >> 32) as usize == cell {
            let (key, flags) = events[i];
            i += 1;
            let h = f32::from_bits(key as u32);
            let before = w > 0;
            w += if flags & ENTER != 0 { 1 } else { -1 };
            let after = w > 0;
            if after && !before {
                if let Some(t) = top
                    && flags & OVERHANG != 0
                    && f64::from(h - t) > MIN_GAP
                {
                    gaps.push((cell, t, h));
                }
                from = h;
            } else if before && !after {
                intervals.push((from, h));
                top = Some(h);
            }
        }
    }
    while next_cell <= cells {
        start[next_cell] = intervals.len() as u32;
        next_cell += 1;
    }
    let solid_at = |cell: usize, z: f32| {
        intervals[start[cell] as usize..start[cell + 1] as usize]
            .iter()
            .any(|&(a, b)| a <= z && z <= b)
    };
    let mut volume = 0.0;
    for (cell, a, b) in gaps {
        let z = 0.5 * (a + b);
        let (u, v) = (cell % n[0], cell / n[0]);
        let hit = |du: isize, dv: isize| {
            let (mut x, mut y) = (u as isize, v as isize);
            loop {
                x += du;
                y += dv;
                if x < 0 || y < 0 || x >= n[0] as isize || y >= n[1] as isize {
                    return false;
                }
                if solid_at(y as usize * n[0] + x as usize, z) {
                    return true;
                }
            }
        };
        if hit(1, 0) && hit(-1, 0) && hit(0, 1) && hit(0, -1) {
            volume += f64::from(b - a) * s * s;
        }
    }
    volume
}

/// Push the crossings of triangle `a b c` with the columns whose centres it covers.
#[allow(clippy::too_many_arguments)]
fn cross_columns(
    a: Vector3<f64>,
    b: Vector3<f64>,
    c: Vector3<f64>,
    lumen: bool,
    floor: f64,
    model: &Model,
    origin: [f64; 2],
    n: [usize; 2],
    events: &mut Vec<(u64, u8)>,
) {
    let s = model.cell;
    // Twice the signed projected area: positive when the face looks up.
    let det = (b.x - a.x) * (c.y - a.y) - (c.x - a.x) * (b.y - a.y);
    if det.abs() < 1e-12 {
        return;
    }
    let lo_u = a.x.min(b.x).min(c.x);
    let hi_u = a.x.max(b.x).max(c.x);
    let lo_v = a.y.min(b.y).min(c.y);
    let hi_v = a.y.max(b.y).max(c.y);
    let i0 = ((lo_u - origin[0]) / s - 0.5).ceil().max(0.0) as usize;
    let i1 = ((hi_u - origin[0]) / s - 0.5).floor();
    let j0 = ((lo_v - origin[1]) / s - 0.5).ceil().max(0.0) as usize;
    let j1 = ((hi_v - origin[1]) / s - 0.5).floor();
    if i1 < 0.0 || j1 < 0.0 {
        return;
    }
    let (i1, j1) = ((i1 as usize).min(n[0] - 1), (j1 as usize).min(n[1] - 1));
    if i0 > i1 || j0 > j1 {
        return;
    }
    let normal = (b - a).cross(&(c - a));
    let nz = normal.z / normal.norm();
    let mut flags = if lumen { LUMEN } else { 0 };
    if det < 0.0 {
        // Looking down: going up, the column enters the model (or the lumen).
        flags |= ENTER;
    }
    let overhang = if lumen {
        // The lumen's roof, seen from the air inside it.
        nz > model.overhang_cos
    } else {
        -nz > model.overhang_cos
    };
    if overhang {
        flags |= OVERHANG;
    }
    for j in j0..=j1 {
        let y = origin[1] + (j as f64 + 0.5) * s;
        for i in i0..=i1 {
            let x = origin[0] + (i as f64 + 0.5) * s;
            // Barycentric coordinates of the column in the projected triangle.
            let w1 = ((x - a.x) * (c.y - a.y) - (c.x - a.x) * (y - a.y)) / det;
            let w2 = ((b.x - a.x) * (y - a.y) - (x - a.x) * (b.y - a.y)) / det;
            let w0 = 1.0 - w1 - w2;
            if w0 < 0.0 || w1 < 0.0 || w2 < 0.0 {
                continue;
            }
            let h = (a.z * w0 + b.z * w1 + c.z * w2 - floor).max(0.0) as f32;
            let cell = (j * n[0] + i) as u64;
            events.push(((cell << 32) | u64::from(h.to_bits()), flags));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sphere_directions_cover_the_sphere() {
        let dirs = fibonacci_sphere(SPHERE_DIRECTIONS);
        // Every direction of a finer lattice has a neighbour within 10°.
        for d in fibonacci_sphere(2000) {
            let best = dirs.iter().map(|e| e.dot(&d)).fold(-1.0, f64::max);
            assert!(best > 10f64.to_radians().cos(), "{d:?}");
        }
    }

    #[test]
    fn up_rotation_turns_up_to_z() {
        for d in fibonacci_sphere(50) {
            let r = up_rotation(d);
            assert!((r * d - Vector3::z()).norm() < 1e-9, "{d:?}");
            // And --rotate's Euler angles give the same rotation.
            let o = orientation(d, Cost::default());
            let [x, y, z] = o.rotate_deg.map(f64::to_radians);
            let again = Rotation3::from_euler_angles(x, y, z);
            assert!((again * d - Vector3::z()).norm() < 1e-9);
        }
    }
}
