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
//! When the finalists are small enough to slice in a few seconds, [`exact`] slices
//! each and ranks them by the figures read from the slices.

mod columns;
pub mod exact;
mod measure;
mod search;

use nalgebra::{Rotation3, Vector3};
use rustc_hash::FxHashMap;
use serde::Serialize;

use crate::mesh::Mesh;
use crate::mesh::topology::{corners, tet_volume};

use measure::measure;
pub use search::{REPORTED, SPHERE_DIRECTIONS, fibonacci_sphere, search, search_with};

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

impl Params {
    /// The parameters `settings` slice with.
    pub fn from_settings(settings: &crate::profile::Settings) -> Params {
        Params {
            threshold_deg: settings.print.support_threshold,
            vessel_wall: settings.print.vessel_wall,
            layer_height: settings.print.layer_height,
            min_area: settings.print.support_min_area,
            areas: crate::support::area_params(settings),
            fill: crate::support::support_fill(
                &settings.print,
                settings.line_width(
                    crate::profile::WidthRole::Support,
                    settings.print.support_tool,
                    false,
                ),
                settings.print.layer_height,
            ),
        }
    }
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
    /// Whether the cost was read from a slice in this orientation (else it is the
    /// search's estimate from the mesh).
    pub sliced: bool,
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
    /// Why the figures are the search's estimates rather than read from slices (`None`:
    /// every reported orientation was sliced).
    pub estimated: Option<String>,
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

/// The cost of printing `mesh` with `up` pointing up.
pub fn cost(mesh: &Mesh, up: [f64; 3], p: &Params) -> Cost {
    let model = Model::new(mesh, p);
    measure(&model, Vector3::from(up), p)
}

/// `x.floor()` for `x` within ±2⁵² (cells and layers), inline: a baseline x86-64 build
/// calls the library for it, and the columns take four per face of every direction.
#[inline]
fn round_down(x: f64) -> f64 {
    let t = x as i64 as f64;
    if t > x { t - 1.0 } else { t }
}

/// `x.ceil()` for `x` within ±2⁵², inline (see [`round_down`]).
#[inline]
fn round_up(x: f64) -> f64 {
    let t = x as i64 as f64;
    if t < x { t + 1.0 } else { t }
}

/// The figures weighed into one.
fn score(c: &Cost) -> f64 {
    c.support_mm3
        + (ENCLOSED_WEIGHT - 1.0) * c.enclosed_mm3
        + CONTACT_WEIGHT * c.contact_mm2
        + HEIGHT_WEIGHT * c.height_mm
}

#[cfg(test)]
mod tests {
    use super::*;

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
}
