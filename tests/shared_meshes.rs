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
