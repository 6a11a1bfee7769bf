//! Slicing: a mesh into layers of islands (polygons with holes).
//!
//! 1. Layer heights ([`layer_specs`]): a first layer, then regular layers, the top one
//!    fitted to the object.
//! 2. Triangles are bucketed by the layers they span, so each layer only looks at its
//!    own triangles.
//! 3. Each layer cuts its triangles at mid-height ([`section`]) and chains the segments
//!    into loops by mesh-edge identity ([`chain`]); gaps left by broken meshes are
//!    closed within a closing radius.
//! 4. Loops become islands under the non-zero fill rule: overlapping shells merge,
//!    cavities stay holes, and a shell whose faces all point inward still counts as
//!    solid. Slivers below a minimum area are dropped.
//!
//! Layers are independent and sliced in parallel.

mod bucket;
pub mod chain;
mod heights;
pub mod section;

use rayon::prelude::*;
use serde::Serialize;

#[cfg(test)]
use crate::geom::Point;
use crate::geom::{self, ExPolygon, FillRule, Polygon, scaled};
use crate::mesh::Mesh;
use crate::timing;

pub use chain::ChainStats;
pub use heights::{LayerSpec, layer_specs};

/// How to turn sections into islands.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct SliceOptions {
    /// Largest gap (mm) bridged between the ends of open outline pieces (holes or
    /// missing faces in the mesh).
    pub closing_radius: f64,
    /// Islands and holes smaller than this (mm²) are dropped.
    pub min_area: f64,
    /// Outline points closer than this (mm) to the line through their neighbours are
    /// dropped.
    pub resolution: f64,
}

impl SliceOptions {
    /// The options the print settings give.
    pub fn from_print(p: &crate::profile::Print) -> SliceOptions {
        SliceOptions {
            closing_radius: p.slice_closing_radius,
            min_area: p.slice_min_area,
            resolution: p.resolution,
        }
    }
}

impl Default for SliceOptions {
    fn default() -> Self {
        SliceOptions {
            closing_radius: 1.0,
            min_area: 0.01,
            resolution: crate::profile::DEFAULT_RESOLUTION,
        }
    }
}

/// One sliced layer.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Layer {
    /// Top of the layer, mm.
    pub z: f64,
    /// Thickness, mm.
    pub height: f64,
    /// Height the mesh was cut at, mm.
    pub slice_z: f64,
    /// The solid areas of the layer.
    pub islands: Vec<ExPolygon>,
}

impl Layer {
    /// Total solid area, mm².
    pub fn area_mm2(&self) -> f64 {
        self.islands.iter().map(ExPolygon::area_mm2).sum()
    }
}

/// Slice `mesh` at every layer of `specs`, in parallel.
///
/// ```
/// use lamina::mesh::implicit::contour;
/// use lamina::slice::{layer_specs, slice_mesh, SliceOptions};
/// // A 10 mm cube standing on the bed.
/// let cube = contour(|p| (p[0] - 5.0).abs().max((p[1] - 5.0).abs()).max((p[2] - 5.0).abs()) - 5.0,
///                    [-1.0; 3], [11.0; 3], 0.5);
/// let (layers, _) = slice_mesh(&cube, &layer_specs(0.2, 0.2, 10.0), &SliceOptions::default());
/// assert_eq!(layers.len(), 50);
/// assert!((layers[10].area_mm2() - 100.0).abs() < 0.5);
/// ```
pub fn slice_mesh(
    mesh: &Mesh,
    specs: &[LayerSpec],
    options: &SliceOptions,
) -> (Vec<Layer>, ChainStats) {
    let slicer = Slicer::new(mesh, specs);
    let results: Vec<(Layer, ChainStats)> = (0..specs.len())
        .into_par_iter()
        .map_init(Vec::new, |segments, i| slicer.layer(i, options, segments))
        .collect();
    let mut total = ChainStats::default();
    let layers = results
        .into_iter()
        .map(|(l, s)| {
            total += s;
            l
        })
        .collect();
    (layers, total)
}

/// A mesh ready to be sliced layer by layer, in any order: its triangles bucketed by
/// the layers they cross.
pub struct Slicer<'m> {
    mesh: &'m Mesh,
    specs: &'m [LayerSpec],
    buckets: bucket::Buckets,
}

impl<'m> Slicer<'m> {
    /// Prepare `mesh` for slicing at `specs`.
    pub fn new(mesh: &'m Mesh, specs: &'m [LayerSpec]) -> Slicer<'m> {
        let _busy = timing::enter(timing::Stage::Slice);
        let planes: Vec<f64> = specs.iter().map(|s| s.slice_z).collect();
        Slicer {
            mesh,
            specs,
            buckets: bucket::Buckets::new(mesh, &planes),
        }
    }

    /// Layer `i`; `segments` is scratch space reused between calls.
    pub fn layer(
        &self,
        i: usize,
        options: &SliceOptions,
        segments: &mut Vec<section::Segment>,
    ) -> (Layer, ChainStats) {
        let _busy = timing::enter(timing::Stage::Slice);
        let spec = &self.specs[i];
        segments.clear();
        section::section(self.mesh, self.buckets.faces(i), spec.slice_z, segments);
        let (islands, stats) = islands_from_segments(segments, options);
        (
            Layer {
                z: spec.z,
                height: spec.height,
                slice_z: spec.slice_z,
                islands,
            },
            stats,
        )
    }
}

/// Chain one layer's segments and resolve the loops into islands.
pub fn islands_from_segments(
    segments: &[section::Segment],
    options: &SliceOptions,
) -> (Vec<ExPolygon>, ChainStats) {
    let (loops, stats) = chain::chain_segments(segments, scaled(options.closing_radius) as f64);
    let tolerance = scaled(options.resolution) as f64;
    let polygons: Vec<Polygon> = loops
        .into_iter()
        .map(|l| l.polygon.simplified(tolerance))
        .filter(|p| p.points.len() >= 3)
        .collect();
    let mut islands = geom::union(&polygons, FillRule::NonZero);
    let min_area = options.min_area * geom::SCALE * geom::SCALE;
    islands.retain(|ex| ex.contour.area().abs() >= min_area);
    for ex in &mut islands {
        ex.holes.retain(|h| h.area().abs() >= min_area);
    }
    (islands, stats)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mesh::shapes::{cuboid, merge, tube, uv_sphere};

    fn slice(mesh: &Mesh, height: f64) -> (Vec<Layer>, ChainStats) {
        slice_mesh(
            mesh,
            &layer_specs(0.2, 0.2, height),
            &SliceOptions::default(),
        )
    }

    #[test]
    fn cube_slices_into_squares() {
        let (layers, stats) = slice(&cuboid([0.0; 3], [20.0; 3]), 20.0);
        assert_eq!(layers.len(), 100);
        assert_eq!(stats, ChainStats::default());
        for l in &layers {
            assert_eq!(l.islands.len(), 1);
            let bb = l.islands[0].bbox().unwrap();
            assert_eq!(
                (bb.min, bb.max),
                (Point::new(0, 0), Point::from_mm(20.0, 20.0))
            );
            assert!((l.area_mm2() - 400.0).abs() < 1e-9);
        }
    }

    #[test]
    fn sphere_sections_match_circle_areas() {
        let r = 15.0;
        let mesh = uv_sphere([0.0, 0.0, r], r, 180, 360);
        let (layers, stats) = slice(&mesh, 2.0 * r);
        assert_eq!(stats.open_chains, 0);
        for l in &layers {
            let z = l.slice_z - r;
            let expected = std::f64::consts::PI * (r * r - z * z);
            let got = l.area_mm2();
            assert!(
                (got - expected).abs() / expected < 0.02,
                "z {z}: {got} vs {expected}"
            );
            assert_eq!(l.islands.len(), 1);
        }
    }

    #[test]
    fn overlapping_shells_are_unioned() {
        let mesh = merge(&[
            cuboid([0.0; 3], [20.0, 20.0, 10.0]),
            cuboid([10.0, 0.0, 0.0], [30.0, 20.0, 10.0]),
        ]);
        for l in &slice(&mesh, 10.0).0 {
            assert_eq!(l.islands.len(), 1);
            assert!(l.islands[0].holes.is_empty());
            assert!((l.area_mm2() - 600.0).abs() < 1e-9, "{}", l.area_mm2());
        }
    }

    #[test]
    fn inside_out_mesh_still_slices_solid() {
        let mut mesh = cuboid([0.0; 3], [10.0; 3]);
        for f in &mut mesh.faces {
            f.swap(1, 2);
        }
        for l in &slice(&mesh, 10.0).0 {
            assert!((l.area_mm2() - 100.0).abs() < 1e-9);
        }
    }

    #[test]
    fn cavity_stays_a_hole() {
        // A 20 mm cube with an inward-facing 10 mm cube inside it.
        let mut cavity = cuboid([5.0; 3], [15.0; 3]);
        for f in &mut cavity.faces {
            f.swap(1, 2);
        }
        let mesh = merge(&[cuboid([0.0; 3], [20.0; 3]), cavity]);
        let (layers, _) = slice(&mesh, 20.0);
        for l in &layers {
            let inside = l.slice_z > 5.0 && l.slice_z < 15.0;
            let expected = if inside { 300.0 } else { 400.0 };
            assert!((l.area_mm2() - expected).abs() < 1e-9, "z {}", l.slice_z);
            assert_eq!(l.islands[0].holes.len(), usize::from(inside));
        }
    }

    #[test]
    fn tube_keeps_its_hole() {
        let n = 96;
        let mesh = tube([0.0; 3], 4.2, 5.0, 10.0, n);
        // Finer than the default resolution: a 96-gon's corners lie 0.011 mm off its
        // neighbours' chord, and the section itself is what is checked here.
        let options = SliceOptions {
            resolution: 0.001,
            ..SliceOptions::default()
        };
        let (layers, _) = slice_mesh(&mesh, &layer_specs(0.2, 0.2, 10.0), &options);
        let poly = |r: f64| 0.5 * n as f64 * r * r * (std::f64::consts::TAU / n as f64).sin();
        let expected = poly(5.0) - poly(4.2);
        for l in &layers {
            assert_eq!(l.islands.len(), 1);
            assert_eq!(l.islands[0].holes.len(), 1);
            assert!(
                (l.area_mm2() - expected).abs() / expected < 1e-3,
                "{}",
                l.area_mm2()
            );
        }
    }

    #[test]
    fn flipped_faces_do_not_break_layers() {
        let mut mesh = uv_sphere([0.0, 0.0, 10.0], 10.0, 40, 80);
        for f in mesh.faces.iter_mut().step_by(7) {
            f.swap(1, 2);
        }
        let (layers, _) = slice(&mesh, 20.0);
        for l in &layers[1..layers.len() - 1] {
            let z = l.slice_z - 10.0;
            let expected = std::f64::consts::PI * (100.0 - z * z);
            assert!(
                (l.area_mm2() - expected).abs() / expected < 0.03,
                "z {z}: {}",
                l.area_mm2()
            );
        }
    }

    #[test]
    fn mesh_with_missing_triangles_has_no_missing_layer() {
        let mut mesh = uv_sphere([0.0, 0.0, 10.0], 10.0, 40, 80);
        // Punch holes: remove every 50th face.
        let mut i = 0;
        mesh.faces.retain(|_| {
            i += 1;
            i % 50 != 0
        });
        let (layers, stats) = slice(&mesh, 20.0);
        assert!(stats.open_chains > 0);
        assert_eq!(stats.dropped, 0);
        for l in &layers[1..layers.len() - 1] {
            let z = l.slice_z - 10.0;
            let expected = std::f64::consts::PI * (100.0 - z * z);
            assert!(
                (l.area_mm2() - expected).abs() / expected < 0.03,
                "z {z}: {}",
                l.area_mm2()
            );
        }
    }
}
