//! The real anatomical meshes in ../shared/meshes (skipped when absent): import figures
//! against the independent ones trimesh gives.

mod common;

use lamina::mesh::io;

#[test]
fn every_shared_mesh_loads_with_trimesh_counts() {
    let Some(dir) = common::shared_meshes() else {
        return;
    };
    for (file, triangles, vertices, ..) in common::TRIMESH {
        let path = dir.join(file);
        let objects = io::load(&path).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(objects.len(), 1, "{file}");
        let m = &objects[0].mesh;
        assert_eq!(m.faces.len(), triangles, "{file}: triangles");
        assert_eq!(m.vertices.len(), vertices, "{file}: welded vertices");
        println!(
            "{file}: {} triangles, {} vertices",
            m.faces.len(),
            m.vertices.len()
        );
    }
}

#[test]
fn check_agrees_with_trimesh() {
    let Some(dir) = common::shared_meshes() else {
        return;
    };
    for (file, triangles, _, watertight, bodies, boundary, non_manifold, volume) in common::TRIMESH
    {
        let mesh = io::load(&dir.join(file)).unwrap().remove(0).mesh;
        let t = std::time::Instant::now();
        let r = lamina::mesh::check::check(&mesh);
        println!(
            "{file}: {} tri, watertight {}, shells {}, boundary {}, non-manifold {}, volume {:.1} cm³, {} holes, {} inside-out, {} cavities ({:?})",
            r.triangles,
            r.watertight,
            r.shells,
            r.boundary_edges,
            r.non_manifold_edges,
            r.volume_mm3 / 1000.0,
            r.boundary_loops,
            r.inside_out_shells,
            r.cavities,
            t.elapsed()
        );
        assert_eq!(r.triangles, triangles, "{file}");
        assert_eq!(r.watertight, watertight, "{file}: watertight");
        assert_eq!(r.shells, bodies, "{file}: bodies");
        assert_eq!(r.boundary_edges, boundary, "{file}: boundary edges");
        assert_eq!(
            r.non_manifold_edges, non_manifold,
            "{file}: non-manifold edges"
        );
        if let Some(v) = volume {
            assert!(
                (r.volume_mm3 / 1000.0 - v).abs() < 0.05 + v.abs() * 1e-3,
                "{file}: volume {}",
                r.volume_mm3 / 1000.0
            );
        }
    }
}
