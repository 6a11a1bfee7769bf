//! Vessel models from lumen segmentations.
//!
//! CT and MR angiography segment the lumen (the blood volume), not the vessel wall.
//! With `vessel_wall` set, lamina reads each mesh as a lumen and prints the shell
//! between its surface and its outward offset by the wall thickness, the lumen left
//! hollow and open where the segmentation cut it ([`openings`], [`wall`]). The wall is
//! seated on the bed (its lowest point, not the lumen's, at z = 0) and sectioned in
//! place of the mesh.
//!
//! ```
//! use lamina::vessel::phantom::lumen;
//! use lamina::vessel::openings::{find, OpeningKind};
//! // The generated lumen: a bifurcation with flat cuts at its three ends.
//! let caps = find(&lumen(0.5)).into_iter().filter(|o| o.kind == OpeningKind::Cap).count();
//! assert_eq!(caps, 3);
//! ```

pub mod core;
pub mod measure;
pub mod openings;
pub mod phantom;
pub mod wall;

use nalgebra::Vector3;

use crate::mesh::Object;
use crate::mesh::place::translate;
use crate::profile::{Settings, VesselOpen};
use crate::slice::{self, ChainStats, LayerSpec, SliceOptions};

pub use openings::{Opening, OpeningKind};
pub use wall::WallSlicer;

/// A lumen to print the wall of: where it opens and how tall its wall stands.
#[derive(Debug, Clone)]
pub struct Wall {
    /// Wall thickness, mm.
    pub thickness: f64,
    /// Where the wall ends open.
    pub openings: Vec<Opening>,
    /// Height of the wall's top above the bed, mm.
    pub height: f64,
}

/// The objects of a job read as lumens, each seated so its wall stands on the bed.
#[derive(Debug, Clone)]
pub struct Walls {
    /// The lumens, moved up so the lowest point of each wall is at z = 0.
    pub objects: Vec<Object>,
    /// The wall of each.
    pub walls: Vec<Wall>,
}

impl Walls {
    /// The walls of `objects` (placed on the bed as meshes) when `settings` ask for
    /// vessel walls, else `None`.
    pub fn new(objects: &[Object], settings: &Settings) -> Option<Walls> {
        let t = settings.print.vessel_wall;
        if t <= 0.0 {
            return None;
        }
        let mut seated = objects.to_vec();
        let walls = seated
            .iter_mut()
            .map(|o| {
                let openings = match settings.print.vessel_open {
                    VesselOpen::None => Vec::new(),
                    VesselOpen::Auto => openings::find(&o.mesh),
                    VesselOpen::Z => openings::z_planes(&o.mesh),
                };
                let (bottom, top) = extent(&o.mesh, t, &openings);
                translate(&mut o.mesh, [0.0, 0.0, -bottom]);
                let openings = openings
                    .into_iter()
                    .map(|mut p| {
                        p.centre[2] -= bottom;
                        p
                    })
                    .collect();
                Wall {
                    thickness: t,
                    openings,
                    height: (top - bottom).max(0.0),
                }
            })
            .collect();
        Some(Walls {
            objects: seated,
            walls,
        })
    }
}

/// How an object is sectioned: its mesh as it is, or the wall round it.
pub enum ObjectSlicer<'m> {
    /// The mesh's own sections.
    Mesh(slice::Slicer<'m>),
    /// The wall round the mesh read as a lumen.
    Wall(Box<WallSlicer>),
}

impl<'m> ObjectSlicer<'m> {
    /// Prepare `mesh` for sectioning at `specs`, as the wall `wall` when given.
    pub fn new(
        mesh: &'m crate::mesh::Mesh,
        specs: &'m [LayerSpec],
        wall: Option<&Wall>,
        options: &SliceOptions,
    ) -> ObjectSlicer<'m> {
        match wall {
            None => ObjectSlicer::Mesh(slice::Slicer::new(mesh, specs)),
            Some(w) => ObjectSlicer::Wall(Box::new(WallSlicer::new(
                mesh,
                specs,
                w.thickness,
                w.openings.clone(),
                options,
            ))),
        }
    }

    /// Layer `i`; `segments` is scratch space reused between calls.
    pub fn layer(
        &self,
        i: usize,
        options: &SliceOptions,
        segments: &mut Vec<slice::section::Segment>,
    ) -> (slice::Layer, ChainStats) {
        match self {
            ObjectSlicer::Mesh(s) => s.layer(i, options, segments),
            ObjectSlicer::Wall(w) => w.layer(i),
        }
    }
}

/// Whether the point `q` lies where the wall is cut away at an opening.
fn cut_away(q: Vector3<f64>, t: f64, openings: &[Opening]) -> bool {
    openings.iter().any(|o| {
        if o.kind == OpeningKind::Plane {
            return (q.z - o.centre[2]) * o.normal[2] > 0.0;
        }
        let (along, radial) = o.local(q.into());
        along > 0.0 && along <= t + wall::CUT_MARGIN && radial <= o.radius + t + wall::CUT_MARGIN
    })
}

/// Outward unit normals at the vertices of `lumen`, weighted by the faces' areas (zero
/// at a vertex no face uses), and the faces' own outward unit normals.
pub(crate) fn vertex_normals(lumen: &crate::mesh::Mesh) -> (Vec<Vector3<f64>>, Vec<Vector3<f64>>) {
    let (normals, areas) = openings::face_normals(lumen);
    let mut at_vertices = vec![Vector3::zeros(); lumen.vertices.len()];
    for ((f, n), a) in lumen.faces.iter().zip(&normals).zip(&areas) {
        for &v in f {
            at_vertices[v as usize] += n * *a;
        }
    }
    for n in &mut at_vertices {
        *n = n.try_normalize(1e-12).unwrap_or_else(Vector3::zeros);
    }
    (at_vertices, normals)
}

/// How far a face of the lumen is moved out along its normal to tell whether it lies in
/// an opening's plane (a cap, cut away with the wall), mm: well above the caps' own
/// flatness tolerance, well below a face's size.
const ON_OPENING: f64 = 0.05;

impl Wall {
    /// The printed wall's surface round `lumen` (as seated): outside, the lumen's
    /// surface moved out along its vertex normals by the thickness; inside, the
    /// lumen's surface wound the other way (it faces into the lumen). Faces where the
    /// wall is cut away at its openings (the offset beyond a cut, the caps closing the
    /// lumen) are left out. This is the surface that support holds, not the lumen's.
    ///
    /// ```
    /// use lamina::vessel::{openings, phantom::lumen, Wall};
    /// let m = lumen(0.5);
    /// let wall = Wall { thickness: 1.2, openings: openings::find(&m), height: 0.0 };
    /// let surface = wall.surface(&m);
    /// // Both sides of the wall, less the lumen's three caps.
    /// assert!(surface.faces.len() < 2 * m.faces.len());
    /// assert!(surface.faces.len() > 18 * m.faces.len() / 10);
    /// // The outside stands 1.2 mm proud of the lumen.
    /// let (inner, outer) = (m.bounding_box().unwrap(), surface.bounding_box().unwrap());
    /// assert!((outer.max[1] - inner.max[1] - 1.2).abs() < 0.05);
    /// ```
    pub fn surface(&self, lumen: &crate::mesh::Mesh) -> crate::mesh::Mesh {
        let t = self.thickness;
        let (at_vertices, normals) = vertex_normals(lumen);
        let n = lumen.vertices.len() as u32;
        let mut vertices: Vec<[f32; 3]> = lumen
            .vertices
            .iter()
            .zip(&at_vertices)
            .map(|(p, v)| {
                (Vector3::from(p.map(f64::from)) + v * t)
                    .map(|x| x as f32)
                    .into()
            })
            .collect();
        vertices.extend_from_slice(&lumen.vertices);
        let point = |v: u32| Vector3::from(vertices[v as usize].map(f64::from));
        let mut faces = Vec::with_capacity(2 * lumen.faces.len());
        for (f, normal) in lumen.faces.iter().zip(&normals) {
            let [a, b, c] = *f;
            // The winding that faces out of the lumen.
            let stored = (point(b + n) - point(a + n)).cross(&(point(c + n) - point(a + n)));
            let out = if stored.dot(normal) >= 0.0 {
                [a, b, c]
            } else {
                [a, c, b]
            };
            let centre = |k: u32| (point(a + k) + point(b + k) + point(c + k)) / 3.0;
            if !cut_away(centre(0), t, &self.openings) {
                faces.push(out);
            }
            if !cut_away(centre(n) + normal * ON_OPENING, t, &self.openings) {
                faces.push([out[0] + n, out[2] + n, out[1] + n]);
            }
        }
        crate::mesh::Mesh { vertices, faces }
    }
}

/// The lowest and highest points of the wall `t` mm thick round `lumen`, cut at
/// `openings`: of the points a wall thickness from each vertex along its normal,
/// straight down and straight up, those not cut away.
fn extent(lumen: &crate::mesh::Mesh, t: f64, openings: &[Opening]) -> (f64, f64) {
    let (vertex_normals, _) = vertex_normals(lumen);
    let (mut lo, mut hi) = (f64::INFINITY, f64::NEG_INFINITY);
    for f in &lumen.faces {
        for &v in f {
            let p = Vector3::from(lumen.vertices[v as usize].map(f64::from));
            let n = vertex_normals[v as usize];
            for q in [p + n * t, p - Vector3::z() * t, p + Vector3::z() * t] {
                if !cut_away(q, t, openings) {
                    lo = lo.min(q.z);
                    hi = hi.max(q.z);
                }
            }
        }
    }
    if lo > hi {
        // Everything is cut away: nothing to seat.
        return (0.0, 0.0);
    }
    (lo, hi)
}
