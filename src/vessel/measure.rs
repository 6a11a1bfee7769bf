//! What `inspect --vessel-wall T` reports of a lumen: the volume of the wall lamina
//! prints round it, and the narrowest point of the lumen.
//!
//! The wall's volume is taken from the wall's own layers, as they are printed (so the
//! cuts at the openings and the three-dimensional offset count as they do in the
//! G-code). The lumen's width is measured as a caliper would: from every vertex straight
//! across the lumen (along its inward normal) to the wall facing it. A ray that meets
//! the surface at a glancing angle has reached the flank of a fold (the crotch of a
//! bifurcation, say), not the opposite wall, and is not a width.

use nalgebra::Vector3;
use rayon::prelude::*;
use serde::Serialize;

use super::openings::face_normals;
use super::{WallSlicer, Walls};
use crate::geom::ExPolygon;
use crate::mesh::rays::RayGrid;
use crate::mesh::{Mesh, Object};
use crate::profile::Settings;
use crate::slice::{SliceOptions, layer_specs};

/// The wall met across the lumen faces back at least this much (cosine of 30°): a
/// caliper's jaws on opposite walls are about parallel.
const OPPOSITE_COS: f64 = 0.866;

/// A lumen's wall and narrowest point.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct WallReport {
    /// Wall thickness, mm.
    pub thickness_mm: f64,
    /// Volume of the wall as printed, mm³.
    pub wall_volume_mm3: f64,
    /// Where the wall ends open.
    pub openings: usize,
    /// The lumen's narrowest width, wall to opposite wall, mm (`None` when no two
    /// walls face each other).
    pub narrowest_lumen_mm: Option<f64>,
    /// Where it is: the point on the lumen's surface it was measured from, in the
    /// file's coordinates, mm.
    pub narrowest_at: Option<[f64; 3]>,
}

/// The wall `settings` ask for round each of `objects` read as a lumen, or `None`
/// when they ask for none.
pub fn report(objects: &[Object], settings: &Settings) -> Option<Vec<WallReport>> {
    let walls = Walls::new(objects, settings)?;
    let p = &settings.print;
    let options = SliceOptions::from_print(p);
    Some(
        objects
            .iter()
            .zip(walls.objects.iter().zip(&walls.walls))
            .map(|(given, (seated, wall))| {
                let specs = layer_specs(p.first_layer_height, p.layer_height, wall.height);
                let slicer = WallSlicer::new(
                    &seated.mesh,
                    &specs,
                    wall.thickness,
                    wall.openings.clone(),
                    &options,
                );
                let volume: f64 = (0..specs.len())
                    .into_par_iter()
                    .map(|i| {
                        let (layer, _) = slicer.layer(i);
                        let area: f64 = layer.islands.iter().map(ExPolygon::area_mm2).sum();
                        area * specs[i].height
                    })
                    .sum();
                let narrowest = narrowest(&given.mesh);
                WallReport {
                    thickness_mm: wall.thickness,
                    wall_volume_mm3: volume,
                    openings: wall.openings.len(),
                    narrowest_lumen_mm: narrowest.map(|n| n.0),
                    narrowest_at: narrowest.map(|n| n.1),
                }
            })
            .collect(),
    )
}

/// The lumen's narrowest width and the surface point it was measured from: the
/// shortest way straight across from any vertex to a wall facing it. Normals are
/// taken at the vertices (the faces round each, weighed by area) and blended across
/// the face met, so that the slivers a contouring leaves at sharp rims, whose own
/// normals point anywhere, do not count as walls; and each width is measured both
/// ways across, the larger kept.
pub fn narrowest(lumen: &Mesh) -> Option<(f64, [f64; 3])> {
    let (normals, areas) = face_normals(lumen);
    let mut at_vertex = vec![Vector3::zeros(); lumen.vertices.len()];
    for ((f, n), a) in lumen.faces.iter().zip(&normals).zip(&areas) {
        for &v in f {
            at_vertex[v as usize] += n * *a;
        }
    }
    for n in &mut at_vertex {
        *n = n.try_normalize(1e-12).unwrap_or_else(Vector3::zeros);
    }
    let grid = RayGrid::new(lumen);
    (0..lumen.vertices.len() as u32)
        .into_par_iter()
        .filter_map(|v| {
            let n = at_vertex[v as usize];
            if n == Vector3::zeros() {
                // Used by no face with an area.
                return None;
            }
            let from = Vector3::from(lumen.vertices[v as usize].map(f64::from));
            let hit = grid.first_hit_but(from, -n, |f| lumen.faces[f as usize].contains(&v))?;
            // The wall across faces back: its outward normal runs along the ray.
            let there: Vector3<f64> = lumen.faces[hit.face as usize]
                .iter()
                .zip(hit.weights)
                .map(|(&c, w)| at_vertex[c as usize] * w)
                .sum();
            let there = there.try_normalize(1e-12)?;
            if there.dot(&-n) < OPPOSITE_COS {
                return None;
            }
            // And measured back from there: a caliper sits square on both walls, so a
            // normal tilted by the mesh's noise on one side does not measure a chord.
            let to = from - n * hit.distance;
            let back = grid.first_hit_but(to, -there, |f| f == hit.face)?;
            Some((hit.distance.max(back.distance), from.into()))
        })
        .min_by(|a, b| a.0.total_cmp(&b.0))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mesh::implicit::contour;

    #[test]
    fn a_round_lumen_is_as_wide_as_its_diameter() {
        // A lumen of radius 2 mm, 10 mm long, cut flat at its ends on grid planes (the
        // rims' slivers point anywhere).
        let mesh = contour(
            |p| (p[0].hypot(p[1]) - 2.0).max(p[2].abs() - 5.0),
            [-3.0, -3.0, -6.0],
            [3.0, 3.0, 6.0],
            0.2,
        );
        let (d, at) = narrowest(&mesh).expect("a width");
        // Within 2%: the facets of a contouring a tenth of the radius apart lean by a
        // few degrees.
        assert!((d - 4.0).abs() < 0.08, "{d} at {at:?}");
        // Inside out, the same.
        let mut flipped = mesh.clone();
        for f in &mut flipped.faces {
            f.swap(1, 2);
        }
        assert!((narrowest(&flipped).unwrap().0 - d).abs() < 1e-9);
    }
}
