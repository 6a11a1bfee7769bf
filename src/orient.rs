//! The orientation that needs the least support (`lamina orient`, `slice --orient auto`).
//!
//! For a direction turned up, the model is rotated and cast onto a grid of vertical
//! columns. Each column's crossings with the surface, sorted by height, give the solid
//! intervals above that point of the bed; every solid interval that starts on an
//! overhang (a surface flatter than the support threshold, seen from below) needs
//! support from the top of the interval below it, or from the bed. Summed over the
//! columns (the support's height times the share of it its lines fill: the interface
//! layers at the top densely, the body below sparsely) that gives the support material,
//! the overhang area it touches, and how much of
//! it stands inside the model (in a vessel's lumen, or in a void the model closes round
//! on every side), from the mesh alone. With a vessel wall the model is the wall: the
//! lumen's surface is its inside and the lumen's offset by the wall thickness its
//! outside.
//!
//! Directions are searched on a sphere of [`SPHERE_DIRECTIONS`] points, and the best
//! few refined by a local search in ever smaller steps. The finalists are then measured
//! as the support generator builds support (a layer's overhang pieces too small for
//! the profile's minimum area left out, layers of columns carried down under the
//! overhangs, kept clear of the model by the XY gap, reaching past it under steep
//! slopes, the inside found by closing the model's gaps on each layer), filled as the
//! support generator fills them (the interface at each column's top, lines at the
//! profile's spacing, and the joints between them along the outlines laid by the fill
//! itself), and ranked and reported by that: the material a slice in that orientation
//! extrudes for its support.

use nalgebra::{Rotation3, Vector3};
use rayon::prelude::*;
use rustc_hash::FxHashMap;
use serde::Serialize;

use crate::fill::lines::line_fill;
use crate::geom::{self, Coord, ExPolygon, FillRule, Polygon, Polyline, scaled};
use crate::mesh::Mesh;
use crate::mesh::topology::{corners, tet_volume};
use crate::support::overhang::{clip_to_slab, large_enough};

/// Directions tried on the sphere before refining: about 13° apart, closer than the
/// refinement's first step reaches.
pub const SPHERE_DIRECTIONS: usize = 256;
/// Orientations reported (`lamina orient` prints the five best).
pub const REPORTED: usize = 5;
/// Coarse directions refined by local search: more than are reported, so that a
/// neighbour of a coarse winner that refines better is not lost.
const REFINED: usize = 6;
/// Moves of the local search at each step size: a seed further than this many steps
/// from its best is refined at the next, smaller step anyway (keeps a 1M-triangle
/// mesh's search to a few seconds).
const MOVES_PER_STEP: usize = 2;
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
    /// Layer height, mm: the reported figures are measured on layers this thick.
    pub layer_height: f64,
    /// A layer's overhang pieces smaller than this, mm², get no support (the profile's
    /// `support_min_area`, as the support generator takes it).
    pub min_area: f64,
    /// How the support generator shapes its areas (gaps to the model, enclosure).
    pub areas: crate::support::AreaParams,
    /// How the support's lines fill its areas (body and interface).
    pub fill: crate::support::SupportFill,
}

/// The support an orientation needs, measured from the mesh.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
pub struct Cost {
    /// Support material, mm³: the volume of the lines that fill the columns under the
    /// overhangs (down to the model or the bed), sparse in the body and dense in the
    /// interface layers at the top, as a slice's G-code extrudes them.
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
    /// A face needs support when its normal is within the threshold of straight down
    /// (its slope from the horizontal below the threshold): this cosine of it.
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
            // The outside of a wall round the lumen: every vertex moved out along its
            // normal by the thickness, as the printed wall's surface is made.
            let (normals, _) = crate::vessel::vertex_normals(mesh);
            let outside = points
                .iter()
                .zip(&normals)
                .map(|(q, n)| q + n * p.vessel_wall)
                .collect();
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
            overhang_cos: p.threshold_deg.to_radians().cos(),
        }
    }
}

impl Model {
    /// Whether the face `a b c` of the outside (or, with `lumen`, of the lumen) is an
    /// overhang: it faces down, or as the lumen's roof up, within the threshold.
    fn overhang(&self, a: Vector3<f64>, b: Vector3<f64>, c: Vector3<f64>, lumen: bool) -> bool {
        let normal = (b - a).cross(&(c - a));
        let nz = normal.z / normal.norm();
        if lumen {
            // The lumen's roof, seen from the air inside it.
            nz > self.overhang_cos
        } else {
            -nz > self.overhang_cos
        }
    }

    /// The same surfaces with their vertices merged on a grid of cubes a column wide
    /// (each cube's vertices into their mean, the faces that lose a corner dropped):
    /// columns a cell apart see the same solid stretches to within a cell, and a
    /// million-face scan has a few hundred thousand faces left. A closed surface stays
    /// closed, so counting crossings still tells inside from outside.
    fn coarse(&self) -> Model {
        let surfaces = self
            .surfaces
            .iter()
            .map(|(points, faces)| cluster(points, faces, self.cell))
            .collect();
        Model {
            surfaces,
            cell: self.cell,
            overhang_cos: self.overhang_cos,
        }
    }
}

/// `points` merged on a grid of cubes `cell` wide, and the faces left with three
/// corners.
fn cluster(points: &[Vector3<f64>], faces: &[[u32; 3]], cell: f64) -> Surface {
    let mut index: FxHashMap<[i64; 3], u32> = FxHashMap::default();
    let mut sums: Vec<(Vector3<f64>, f64)> = Vec::new();
    let of: Vec<u32> = points
        .iter()
        .map(|p| {
            let key = [p.x, p.y, p.z].map(|c| (c / cell).floor() as i64);
            let k = *index.entry(key).or_insert_with(|| {
                sums.push((Vector3::zeros(), 0.0));
                (sums.len() - 1) as u32
            });
            sums[k as usize].0 += p;
            sums[k as usize].1 += 1.0;
            k
        })
        .collect();
    let merged = sums.into_iter().map(|(sum, n)| sum / n).collect();
    let kept = faces
        .iter()
        .map(|f| f.map(|v| of[v as usize]))
        .filter(|[a, b, c]| a != b && b != c && a != c)
        .collect();
    (merged, kept)
}

/// A surface crossing of a column: bit 0 the lumen (else the outside), bit 1 entering
/// the surface going up (else leaving), bit 2 an overhang seen from below.
const LUMEN: u8 = 1;
const ENTER: u8 = 2;
const OVERHANG: u8 = 4;

/// The cost of printing `mesh` with `up` pointing up.
pub fn cost(mesh: &Mesh, up: [f64; 3], p: &Params) -> Cost {
    let model = Model::new(mesh, p);
    measure(&model, Vector3::from(up), p)
}

/// The orientations of `mesh` that need the least support.
pub fn search(mesh: &Mesh, p: &Params) -> Search {
    let model = Model::new(mesh, p);
    // The search weighs the merged surfaces; the finalists are measured on the mesh.
    let coarse = model.coarse();
    let eval = |dirs: &[Vector3<f64>]| -> Vec<Cost> {
        dirs.par_iter()
            .map_init(Vec::new, |scratch, d| weigh(&coarse, *d, p, scratch))
            .collect()
    };
    let as_is = weigh(&coarse, Vector3::z(), p, &mut Vec::new());
    let sphere = fibonacci_sphere(SPHERE_DIRECTIONS);
    let costs = eval(&sphere);
    let mut evaluated = sphere.len() + 1;
    let mut tried: Vec<(Vector3<f64>, Cost)> = sphere.into_iter().zip(costs).collect();
    tried.push((Vector3::z(), as_is));
    let mut seeds = distinct(&tried, REFINED);
    // Local search from each seed, all seeds a step at a time.
    for step in REFINE_STEPS_DEG {
        for _ in 0..MOVES_PER_STEP {
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
    // The finalists are measured as the support generator builds support, and ranked
    // by that.
    let mut finalists: Vec<Vector3<f64>> =
        distinct(&tried, REFINED).into_iter().map(|t| t.0).collect();
    finalists.push(Vector3::z());
    let mut best: Vec<Orientation> = finalists
        .par_iter()
        .map(|d| orientation(*d, measure(&model, *d, p)))
        .collect();
    let as_is = best.pop().expect("the file's orientation");
    best.sort_by(|a, b| a.cost.score.total_cmp(&b.cost.score));
    best.truncate(REPORTED);
    Search {
        as_is,
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

/// The grid of columns an orientation is cast onto.
struct Grid {
    /// Columns along X and Y.
    n: [usize; 2],
    /// Height of the turned model, mm.
    height: f64,
    /// The turned model's XY where the grid's first cell begins, mm.
    origin: [f64; 2],
    /// The turned model's lowest point, mm: heights are measured from it.
    floor: f64,
}

/// Cast `model` turned with `up` pointing up onto the columns: `events` gets every
/// crossing, sorted by column and height above the model's lowest point.
fn columns(model: &Model, up: Vector3<f64>, events: &mut Vec<(u64, u8)>) -> Option<Grid> {
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
        return None;
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
    // At one height a surface is left before one is entered: faces merged onto each
    // other back to back make no solid stretch of no thickness.
    events.sort_unstable_by_key(|e| (e.0, e.1 & ENTER));
    Some(Grid {
        n: [nu, nv],
        height: hi.z - lo.z,
        origin,
        floor: lo.z,
    })
}

/// A solid stretch of one column of the turned model.
#[derive(Debug, Clone, Copy)]
struct Run {
    /// The column.
    cell: usize,
    /// Where it starts and ends, mm above the model's lowest point.
    from: f64,
    to: f64,
    /// It starts on an overhang (a surface the support threshold says needs support).
    overhang: bool,
    /// It starts on the lumen's roof (leaving the lumen upwards).
    lumen_roof: bool,
    /// The top of the solid stretch below it in the same column, if any.
    below: Option<f64>,
}

/// Call `visit` with every solid stretch of the columns, column by column and upwards,
/// from `events` sorted by column and height. Solid is inside the outside surface and
/// out of the lumen; a stretch that never ends is visited as ending where it starts.
fn runs(events: &[(u64, u8)], mut visit: impl FnMut(Run)) {
    let mut i = 0;
    while i < events.len() {
        let cell = events[i].0 >> 32;
        let (mut outside, mut lumen) = (0i32, 0i32);
        let mut open: Option<Run> = None;
        let mut below: Option<f64> = None;
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
            let solid = outside > 0 && lumen <= 0;
            match (open, solid) {
                (None, true) => {
                    open = Some(Run {
                        cell: cell as usize,
                        from: h,
                        to: h,
                        overhang: flags & OVERHANG != 0,
                        lumen_roof: flags & LUMEN != 0,
                        below,
                    });
                }
                (Some(mut run), false) => {
                    run.to = h;
                    visit(run);
                    below = Some(h);
                    open = None;
                }
                _ => {}
            }
        }
        if let Some(run) = open {
            visit(run);
        }
    }
}

/// The cost of `model` printed with `up` pointing up, from the columns alone;
/// `events` is scratch space.
fn weigh(model: &Model, up: Vector3<f64>, p: &Params, events: &mut Vec<(u64, u8)>) -> Cost {
    let Some(grid) = columns(model, up, events) else {
        return Cost::default();
    };
    let [nu, nv] = grid.n;
    let s = model.cell;
    let area = s * s;
    let mut cost = Cost {
        height_mm: grid.height,
        ..Cost::default()
    };
    let interface = p.areas.interface_layers as f64 * p.layer_height;
    runs(events, |run| {
        let gap = run.from - run.below.unwrap_or(0.0);
        if run.overhang && gap > MIN_GAP {
            let top = gap.min(interface);
            let material =
                (top * p.fill.interface_density + (gap - top) * p.fill.base_density) * area;
            cost.support_mm3 += material;
            cost.contact_mm2 += area;
            // Leaving the lumen upwards: the gap below was the lumen.
            if run.lumen_roof && run.below.is_some() {
                cost.enclosed_mm3 += material;
            }
        }
    });
    if model.surfaces.len() == 1 {
        cost.enclosed_mm3 = enclosed_voids(events, [nu, nv], s, p);
    }
    cost.score = score(&cost);
    cost
}

/// The figures weighed into one.
fn score(c: &Cost) -> f64 {
    c.support_mm3
        + (ENCLOSED_WEIGHT - 1.0) * c.enclosed_mm3
        + CONTACT_WEIGHT * c.contact_mm2
        + HEIGHT_WEIGHT * c.height_mm
}

/// The figures of `model` printed with `up` pointing up, measured as the support
/// generator builds support: the model is cut into layers of columns; under every
/// overhang a column is carried down (a Z gap below it) until the model stops it; each
/// layer prints the part of the columns clear of the model by the XY gap; what the
/// model closes round on a layer (gaps narrower than twice the enclosure radius
/// closed) is inside.
fn measure(model: &Model, up: Vector3<f64>, p: &Params) -> Cost {
    let mut events = Vec::new();
    let Some(grid) = columns(model, up, &mut events) else {
        return Cost::default();
    };
    let s = model.cell;
    let lh = p.layer_height.max(0.01);
    let cells = grid.n[0] * grid.n[1];
    let layers = (grid.height / lh).ceil() as usize + 1;
    let layer_of = |h: f64| ((h / lh - 0.5).ceil().max(0.0) as usize).min(layers - 1);
    // Solid cells per layer (at the layer's middle), and overhangs starting per layer.
    let mut solid = vec![false; layers * cells];
    let mut contacts: Vec<Vec<usize>> = vec![Vec::new(); layers];
    runs(&events, |run| {
        if run.overhang && run.from - run.below.unwrap_or(0.0) > MIN_GAP {
            contacts[layer_of(run.from)].push(run.cell);
        }
        for l in layer_of(run.from)..layers {
            if (l as f64 + 0.5) * lh > run.to {
                break;
            }
            solid[l * cells + run.cell] = true;
        }
    });
    drop_small_overhangs(model, up, &grid, lh, p.min_area, &mut contacts);
    let a = &p.areas;
    let gap_layers = |g: f64| {
        if g <= 1e-9 {
            0
        } else {
            (g / lh - 1e-6).ceil() as usize
        }
    };
    let (k_top, k_bottom) = (gap_layers(a.top_z_gap), gap_layers(a.bottom_z_gap));
    // A cell's centre samples the model and the overhangs: their true edge lies on
    // average half a cell past the last centre inside. A cell as far from the nearest
    // centre inside as `d` cells is then covered by the overhang grown by the margin
    // for `1 + margin - d` of its width, and clear of the model grown by the gap for
    // `d - gap` (both clamped to 0..1): the fractions sum to the true areas on average.
    let gap = (a.interface_xy_gap.min(a.xy_gap) + a.line_inset) / s;
    let margin = crate::support::areas::CONTACT_MARGIN / s;
    let reach = ((a.xy_gap + a.line_inset + crate::support::areas::CONTACT_MARGIN) / s) as f32;
    let above_clear = ((crate::support::areas::REACH_CLEAR + a.line_inset) / s) as f32;
    let enclose = a.enclosure_radius / s;
    // How much of each cell the columns carried down to this layer cover.
    let mut want = vec![0f32; cells];
    let mut dist = vec![0f32; cells];
    let mut to_contact = vec![f32::INFINITY; cells];
    let mut to_up = vec![0f32; cells];
    // The joints of the body, and of the interface on even and odd layers (whose
    // lines cross): a column carried down unchanged has the same ones layer after layer.
    let mut body_joints = Joints::default();
    let mut face_joints = [Joints::default(), Joints::default()];
    let mut mask = vec![false; cells];
    let mut printed = vec![0f32; cells];
    let mut cost = Cost {
        height_mm: grid.height,
        ..Cost::default()
    };
    let voxel = s * s * lh;
    // What the `interface_layers` layers above printed of each cell (layer `l` in row
    // `l % interface_layers`): the part of a cell not printed on all of them is the top
    // of a column, the dense interface; the rest is the sparse body.
    let k_face = a.interface_layers;
    let mut above = vec![0f32; k_face * cells];
    let mut body = vec![0f32; cells];
    // Cells with some interface, and with some body.
    let mut has_face = vec![false; cells];
    let mut has_body = vec![false; cells];
    for j in (0..layers).rev() {
        // This layer's row of `above` takes what this layer prints, once weighed.
        let row = if k_face > 0 { j % k_face } else { 0 };
        let here = &solid[j * cells..(j + 1) * cells];
        // New contacts: the overhangs k_top layers up, grown by the margin.
        if let Some(c) = contacts.get(j + 1 + k_top).filter(|c| !c.is_empty()) {
            mask.fill(false);
            for &cell in c {
                mask[cell] = true;
            }
            distance(&mask, grid.n, &mut to_contact);
            for (w, d) in want.iter_mut().zip(&to_contact) {
                *w = w.max((1.0 + margin as f32 - d).clamp(0.0, 1.0));
            }
        }
        let reaching = contacts.get(j + 1 + k_top).is_some_and(|c| !c.is_empty());
        let mut any = false;
        for (w, h) in want.iter_mut().zip(here) {
            if *h {
                *w = 0.0;
            }
            any |= *w > 0.0;
        }
        if !any {
            if k_face > 0 {
                above[row * cells..(row + 1) * cells].fill(0.0);
            }
            continue;
        }
        // Clear of the model here and k_bottom layers below by the XY gap.
        mask.fill(false);
        for l in j.saturating_sub(k_bottom)..=j {
            for (m, h) in mask.iter_mut().zip(&solid[l * cells..(l + 1) * cells]) {
                *m |= *h;
            }
        }
        distance(&mask, grid.n, &mut dist);
        for ((o, w), d) in printed.iter_mut().zip(&want).zip(&dist) {
            *o = w * (d - gap as f32).clamp(0.0, 1.0);
        }
        if reaching {
            // Under a steep slope the contact reaches past the gap on its own layer,
            // near the model here (or the layers the Z gap keeps it off) and clear of
            // the model of the layer above, as the support generator reaches it.
            let up_solid = solid.get((j + 1) * cells..(j + 2) * cells);
            match up_solid {
                Some(up) => distance(up, grid.n, &mut to_up),
                None => to_up.fill(f32::INFINITY),
            }
            for c in 0..cells {
                let within = |d: f32| (1.0 + reach - d).clamp(0.0, 1.0);
                let clear = |d: f32, by: f32| (d - by).clamp(0.0, 1.0);
                let extra = within(to_contact[c])
                    * within(dist[c])
                    * clear(dist[c], gap as f32)
                    * clear(to_up[c], above_clear);
                printed[c] = printed[c].max(extra);
            }
        }
        let mut material = 0.0;
        for (c, o) in printed.iter().enumerate() {
            let b = (0..k_face).fold(*o, |m, r| m.min(above[r * cells + c]));
            body[c] = b;
            has_face[c] = *o > b;
            has_body[c] = b > 0.0;
            material +=
                f64::from(o - b) * p.fill.interface_density + f64::from(b) * p.fill.base_density;
        }
        if k_face > 0 {
            above[row * cells..(row + 1) * cells].copy_from_slice(&printed);
        }
        if material == 0.0 {
            continue;
        }
        // The joints between neighbouring lines along the areas' outlines.
        let base = p.fill.base_angle_deg;
        let turn = if j % 2 == 1 { 180.0 } else { 90.0 };
        let joints = body_joints.length(
            &has_body,
            grid.n,
            s,
            base,
            p.fill.spacing / p.fill.base_density,
        ) + face_joints[j % 2].length(
            &has_face,
            grid.n,
            s,
            base + turn,
            p.fill.spacing / p.fill.interface_density,
        );
        let lines = material * voxel;
        let material = lines + joints * p.fill.spacing * lh;
        cost.support_mm3 += material;
        if let Some(c) = contacts.get(j + 1 + k_top) {
            cost.contact_mm2 += c.iter().map(|&cell| f64::from(printed[cell])).sum::<f64>() * s * s;
        }
        let outside = exterior(here, grid.n, enclose, &mut dist);
        let inside: f64 = printed
            .iter()
            .zip(&body)
            .zip(&outside)
            .filter(|(_, o)| !**o)
            .map(|((o, b), _)| {
                f64::from(o - b) * p.fill.interface_density + f64::from(*b) * p.fill.base_density
            })
            .sum();
        // The joints shared out with the lines.
        cost.enclosed_mm3 += inside * voxel * material / lines;
    }
    cost.score = score(&cost);
    cost
}

/// Leave out of `contacts` (each layer's cells where an overhang starts) the pieces
/// of a layer's overhang the support generator leaves out, smaller than `min_area`
/// mm² (the rule of [`crate::support::overhang::large_enough`]). A piece's area is
/// that of the overhang faces' bands between the layer's cutting planes, where the
/// generator finds it; a band's area is counted at the cells its corners and its
/// middle fall in, and a piece is the cells with contacts or band area touching at
/// least at a corner.
fn drop_small_overhangs(
    model: &Model,
    up: Vector3<f64>,
    grid: &Grid,
    lh: f64,
    min_area: f64,
    contacts: &mut [Vec<usize>],
) {
    if min_area <= 0.0 || contacts.iter().all(Vec::is_empty) {
        return;
    }
    let layers = contacts.len();
    let s = model.cell;
    let [nu, nv] = grid.n;
    let cell_of = |p: &[f64; 3]| -> Option<usize> {
        let x = ((p[0] - grid.origin[0]) / s).floor();
        let y = ((p[1] - grid.origin[1]) / s).floor();
        (x >= 0.0 && y >= 0.0 && x < nu as f64 && y < nv as f64)
            .then(|| y as usize * nu + x as usize)
    };
    // Layer `l`'s cutting plane is at the middle of the layer, its overhang the band
    // above the plane below (see `layer_of` in [`measure`]).
    let layer_of = |h: f64| ((h / lh - 0.5).ceil().max(0.0) as usize).min(layers - 1);
    let r = up_rotation(up);
    let mut bands: Vec<FxHashMap<usize, f64>> = vec![FxHashMap::default(); layers];
    for (k, (points, faces)) in model.surfaces.iter().enumerate() {
        let lumen = k == 1;
        for f in faces {
            let [a, b, c] = f.map(|v| r * points[v as usize]);
            if !model.overhang(a, b, c, lumen) {
                continue;
            }
            let tri = [a, b, c].map(|q| [q.x, q.y, q.z - grid.floor]);
            let (lo, hi) = (a.z.min(b.z).min(c.z), a.z.max(b.z).max(c.z));
            for l in layer_of(lo - grid.floor)..=layer_of(hi - grid.floor) {
                if contacts[l].is_empty() {
                    continue;
                }
                let band = clip_to_slab(tri, (l as f64 - 0.5) * lh, (l as f64 + 0.5) * lh);
                if band.len() < 3 {
                    continue;
                }
                let m = band.len();
                let twice: f64 = (0..m)
                    .map(|i| {
                        let (p, q) = (band[i], band[(i + 1) % m]);
                        p[0] * q[1] - q[0] * p[1]
                    })
                    .sum();
                let middle = band
                    .iter()
                    .fold([0.0; 3], |acc, q| [acc[0] + q[0], acc[1] + q[1], 0.0])
                    .map(|v| v / m as f64);
                let mut at: Vec<usize> = band
                    .iter()
                    .chain(std::iter::once(&middle))
                    .filter_map(cell_of)
                    .collect();
                at.sort_unstable();
                at.dedup();
                for &cell in &at {
                    *bands[l].entry(cell).or_default() += 0.5 * twice.abs() / at.len() as f64;
                }
            }
        }
    }
    let mut stack = Vec::new();
    let mut group = Vec::new();
    for (l, here) in contacts.iter_mut().enumerate() {
        if here.is_empty() {
            continue;
        }
        // Every cell of the layer's overhang: its band area, and whether it is still
        // to be grouped.
        let mut cells: FxHashMap<usize, (f64, bool)> =
            bands[l].iter().map(|(&c, &a)| (c, (a, true))).collect();
        for &c in here.iter() {
            cells.entry(c).or_insert((0.0, true));
        }
        let mut small: Vec<usize> = Vec::new();
        for &first in here.iter() {
            if !cells.get(&first).is_some_and(|c| c.1) {
                continue;
            }
            cells.get_mut(&first).expect("a contact cell").1 = false;
            stack.push(first);
            group.clear();
            let mut area = 0.0;
            while let Some(i) = stack.pop() {
                group.push(i);
                area += cells[&i].0;
                let (x, y) = ((i % nu) as isize, (i / nu) as isize);
                for (dx, dy) in NEIGHBOURS {
                    let (u, v) = (x + dx, y + dy);
                    if u < 0 || v < 0 || u >= nu as isize || v >= nv as isize {
                        continue;
                    }
                    let j = v as usize * nu + u as usize;
                    if let Some(c) = cells.get_mut(&j).filter(|c| c.1) {
                        c.1 = false;
                        stack.push(j);
                    }
                }
            }
            if !large_enough(area, min_area) {
                small.extend_from_slice(&group);
            }
        }
        if !small.is_empty() {
            small.sort_unstable();
            here.retain(|c| small.binary_search(c).is_err());
        }
    }
}

/// Where the slice's support lines fall across the columns is not known here (the
/// slice centres the model on the bed), so their joints are averaged over this many
/// placements, spread evenly over a line gap.
const LINE_PHASES: usize = 1;

/// The cells' outline is smoothed off its staircase by this share of a cell, as the
/// outline the support generator fills is a smooth one.
const STAIRCASE: f64 = 1.0;

/// The joints of the last area weighed by [`joint_length`], kept for the next layer.
#[derive(Default)]
struct Joints {
    area: Vec<bool>,
    angle_deg: f64,
    length: f64,
}

impl Joints {
    /// [`joint_length`] of `area`, reusing the last one's when the area is the same.
    fn length(&mut self, area: &[bool], n: [usize; 2], s: f64, angle_deg: f64, gap: f64) -> f64 {
        if self.angle_deg != angle_deg || self.area != area {
            self.length = joint_length(area, n, s, angle_deg, gap);
            self.area.clear();
            self.area.extend_from_slice(area);
            self.angle_deg = angle_deg;
        }
        self.length
    }
}

/// Length of the joints the support fill lays along the outline of the cells set in
/// `area` between its lines `gap` mm apart at `angle_deg`, mm: the cells joined into
/// outlines, smoothed off their staircase, and filled by the fill itself, joined and
/// unjoined; the difference is the joints.
fn joint_length(area: &[bool], n: [usize; 2], s: f64, angle_deg: f64, gap: f64) -> f64 {
    let nu = n[0];
    let cell = scaled(s);
    let mut rects: Vec<Polygon> = Vec::new();
    for (y, row) in area.chunks(nu).enumerate() {
        let mut x = 0;
        while x < nu {
            if !row[x] {
                x += 1;
                continue;
            }
            let start = x;
            while x < nu && row[x] {
                x += 1;
            }
            rects.push(Polygon::rectangle(
                start as Coord * cell,
                y as Coord * cell,
                x as Coord * cell,
                (y + 1) as Coord * cell,
            ));
        }
    }
    if rects.is_empty() {
        return 0.0;
    }
    let tol = STAIRCASE * cell as f64;
    let pieces: Vec<ExPolygon> = geom::union(&rects, FillRule::NonZero)
        .into_iter()
        .map(|e| ExPolygon {
            contour: e.contour.simplified(tol),
            holes: e.holes.iter().map(|h| h.simplified(tol)).collect(),
        })
        .collect();
    let (g, angle) = (scaled(gap) as f64, angle_deg.to_radians());
    let length = |v: Vec<Polyline>| v.iter().map(Polyline::length).sum::<f64>();
    let joints: f64 = (0..LINE_PHASES)
        .map(|k| {
            let offset = g * (k as f64 + 0.5) / LINE_PHASES as f64;
            length(line_fill(&pieces, g, angle, offset, true))
                - length(line_fill(&pieces, g, angle, offset, false))
        })
        .sum();
    joints / LINE_PHASES as f64 / geom::SCALE
}

/// The eight cells round a cell, as steps along X and Y.
const NEIGHBOURS: [(isize, isize); 8] = [
    (-1, -1),
    (0, -1),
    (1, -1),
    (-1, 0),
    (1, 0),
    (-1, 1),
    (0, 1),
    (1, 1),
];

/// Chamfer distance (cells) of every cell from the nearest set cell of `mask`.
fn distance(mask: &[bool], n: [usize; 2], dist: &mut [f32]) {
    const D: f32 = std::f32::consts::SQRT_2;
    let [nu, nv] = n;
    for (d, m) in dist.iter_mut().zip(mask) {
        *d = if *m { 0.0 } else { f32::INFINITY };
    }
    for y in 0..nv {
        for x in 0..nu {
            let i = y * nu + x;
            let mut d = dist[i];
            if x > 0 {
                d = d.min(dist[i - 1] + 1.0);
            }
            if y > 0 {
                d = d.min(dist[i - nu] + 1.0);
                if x > 0 {
                    d = d.min(dist[i - nu - 1] + D);
                }
                if x + 1 < nu {
                    d = d.min(dist[i - nu + 1] + D);
                }
            }
            dist[i] = d;
        }
    }
    for y in (0..nv).rev() {
        for x in (0..nu).rev() {
            let i = y * nu + x;
            let mut d = dist[i];
            if x + 1 < nu {
                d = d.min(dist[i + 1] + 1.0);
            }
            if y + 1 < nv {
                d = d.min(dist[i + nu] + 1.0);
                if x + 1 < nu {
                    d = d.min(dist[i + nu + 1] + D);
                }
                if x > 0 {
                    d = d.min(dist[i + nu - 1] + D);
                }
            }
            dist[i] = d;
        }
    }
}

/// The cells outside what `solid` encloses once its gaps narrower than twice `radius`
/// cells are closed: flooded from the border past the solid grown by `radius`, and
/// the flood grown back by as much.
fn exterior(solid: &[bool], n: [usize; 2], radius: f64, dist: &mut [f32]) -> Vec<bool> {
    let [nu, nv] = n;
    distance(solid, n, dist);
    let open: Vec<bool> = dist.iter().map(|d| *d > radius as f32).collect();
    let mut reached = vec![false; open.len()];
    let mut stack: Vec<usize> = (0..nu)
        .flat_map(|x| [x, (nv - 1) * nu + x])
        .chain((0..nv).flat_map(|y| [y * nu, y * nu + nu - 1]))
        .filter(|&i| open[i])
        .collect();
    for &i in &stack {
        reached[i] = true;
    }
    while let Some(i) = stack.pop() {
        let (x, y) = (i % nu, i / nu);
        let mut push = |j: usize| {
            if open[j] && !reached[j] {
                reached[j] = true;
                stack.push(j);
            }
        };
        if x > 0 {
            push(i - 1);
        }
        if x + 1 < nu {
            push(i + 1);
        }
        if y > 0 {
            push(i - nu);
        }
        if y + 1 < nv {
            push(i + nu);
        }
    }
    distance(&reached, n, dist);
    dist.iter().map(|d| *d <= radius as f32 + 0.5).collect()
}

/// Support inside a model without a lumen: gaps between two solid intervals of a
/// column whose middle has the model on all four sides along the grid's rows.
fn enclosed_voids(events: &[(u64, u8)], n: [usize; 2], s: f64, p: &Params) -> f64 {
    // Solid intervals of every column (CSR), and the supported gaps.
    let cells = n[0] * n[1];
    let mut start = vec![0u32; cells + 1];
    let mut intervals: Vec<(f32, f32)> = Vec::new();
    let mut gaps: Vec<(usize, f32, f32)> = Vec::new();
    let mut next_cell = 0usize;
    runs(events, |run| {
        while next_cell <= run.cell {
            start[next_cell] = intervals.len() as u32;
            next_cell += 1;
        }
        if let Some(t) = run.below
            && run.overhang
            && run.from - t > MIN_GAP
        {
            gaps.push((run.cell, t as f32, run.from as f32));
        }
        intervals.push((run.from as f32, run.to as f32));
    });
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
            let gap = f64::from(b - a);
            let top = gap.min(p.areas.interface_layers as f64 * p.layer_height);
            volume += (top * p.fill.interface_density + (gap - top) * p.fill.base_density) * s * s;
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
    let mut flags = if lumen { LUMEN } else { 0 };
    if det < 0.0 {
        // Looking down: going up, the column enters the model (or the lumen).
        flags |= ENTER;
    }
    if model.overhang(a, b, c, lumen) {
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

    fn params(min_area: f64) -> Params {
        Params {
            threshold_deg: 55.0,
            vessel_wall: 0.0,
            layer_height: 0.2,
            min_area,
            areas: crate::support::AreaParams {
                xy_gap: 0.6,
                interface_xy_gap: 0.6,
                line_inset: 0.2,
                top_z_gap: 0.2,
                bottom_z_gap: 0.2,
                interface_layers: 3,
                bottom_interface_layers: 0,
                buildplate_only: false,
                enclosure_radius: 4.0,
            },
            fill: crate::support::SupportFill {
                base_density: 0.2,
                interface_density: 0.67,
                spacing: 0.4,
                base_angle_deg: 0.0,
            },
        }
    }

    #[test]
    fn overhang_pieces_under_the_minimum_area_get_no_support() {
        use crate::mesh::shapes::{cuboid, merge};
        // A block on the bed and, 3 mm beside it, a speck of a cube held at z 5 (as a
        // lumen's roof holds a bump): its underside is the overhang.
        let with_speck = |side: f64| {
            merge(&[
                cuboid([0.0; 3], [10.0, 10.0, 10.0]),
                cuboid([13.0, 5.0, 5.0], [13.0 + side, 5.0 + side, 5.6]),
            ])
        };
        let support = |side: f64, min_area: f64| {
            cost(&with_speck(side), [0.0, 0.0, 1.0], &params(min_area)).support_mm3
        };
        // 0.09 mm² is under the default 0.1 mm², 0.36 mm² is not.
        assert_eq!(support(0.3, 0.1), 0.0);
        assert!(support(0.6, 0.1) > 0.0, "{}", support(0.6, 0.1));
        // Negative control: without the minimum the speck is held up too.
        assert!(support(0.3, 0.0) > 0.0, "{}", support(0.3, 0.0));
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
