//! Checking a mesh: counts, size, area, volume, and the defects segmentations have
//! (holes, non-manifold edges, inconsistent or inverted winding, degenerate and
//! duplicate faces).

use std::collections::HashMap;

use rayon::prelude::*;
use serde::Serialize;

use super::topology::{
    VertexFaces, YzIndex, corners, inside_other_shell, key_vertices, shells_around, tet_volume,
    tri_area,
};
use super::{BoundingBox, Mesh};

/// Faces with less area than this (mm²) count as degenerate.
pub const DEGENERATE_AREA: f64 = 1e-12;

/// What `lamina inspect` says about a mesh.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct MeshReport {
    /// Triangles.
    pub triangles: usize,
    /// Vertices used by the faces (after welding).
    pub vertices: usize,
    /// Bounding box, mm.
    pub bbox: Option<BoundingBox>,
    /// Size along X, Y, Z, mm.
    pub size: [f64; 3],
    /// Surface area, mm².
    pub area_mm2: f64,
    /// Signed volume, mm³ (meaningful for closed meshes; negative when turned inside out).
    pub volume_mm3: f64,
    /// Connected pieces (faces joined through edges shared by exactly two faces).
    pub shells: usize,
    /// Edges used by one face: the rims of holes.
    pub boundary_edges: usize,
    /// Holes: closed chains of boundary edges.
    pub boundary_loops: usize,
    /// Length of the longest hole rim, mm.
    pub longest_loop_mm: f64,
    /// Edges used by more than two faces.
    pub non_manifold_edges: usize,
    /// Edges whose two faces run the same way along them (winding disagrees).
    pub inconsistent_edges: usize,
    /// Faces with a repeated vertex or no area.
    pub degenerate_faces: usize,
    /// Faces on the same three vertices as another face, every one of them counted
    /// (see [`duplicate_groups`]).
    pub duplicate_faces: usize,
    /// Closed shells with negative volume that are not cavities of another shell.
    pub inside_out_shells: usize,
    /// Closed shells with negative volume inside another shell (cavities).
    pub cavities: usize,
    /// Every edge shared by exactly two faces (as trimesh's `is_watertight`).
    pub watertight: bool,
    /// Every shared edge traversed in opposite directions by its two faces.
    pub winding_consistent: bool,
}

/// Check `mesh`. Linear in its size.
///
/// ```
/// use lamina::mesh::{check::check, shapes::cuboid};
/// let r = check(&cuboid([0.0; 3], [10.0; 3]));
/// assert!(r.watertight && r.winding_consistent);
/// assert_eq!((r.shells, r.boundary_edges), (1, 0));
/// assert!((r.volume_mm3 - 1000.0).abs() < 1e-9 && (r.area_mm2 - 600.0).abs() < 1e-9);
/// ```
pub fn check(mesh: &Mesh) -> MeshReport {
    // Walked through the faces around each vertex rather than a sorted list of every
    // edge use: the check then needs little more memory than the mesh itself.
    let around = VertexFaces::new(mesh);
    let (labels, n_shells) = shells_around(mesh, &around);

    let (mut area, mut volume, mut degenerate) = (0.0f64, 0.0f64, 0usize);
    let mut shell_volume = vec![0.0f64; n_shells];
    for (f, face) in mesh.faces.iter().enumerate() {
        let [a, b, c] = corners(mesh, f);
        let (s, v) = (tri_area(a, b, c), tet_volume(a, b, c));
        area += s;
        volume += v;
        shell_volume[labels[f] as usize] += v;
        if face[0] == face[1] || face[1] == face[2] || face[0] == face[2] || s < DEGENERATE_AREA {
            degenerate += 1;
        }
    }
    let duplicate = duplicate_count(mesh, &around);

    let (mut boundary, mut non_manifold, mut inconsistent) = (0, 0, 0);
    let mut shell_open = vec![false; n_shells];
    let mut boundary_edges: Vec<(u32, u32)> = Vec::new();
    around.for_each_edge(mesh, |g| match g.len() {
        1 => {
            boundary += 1;
            shell_open[labels[g[0].face as usize] as usize] = true;
            let (lo, hi) = key_vertices(g[0].key);
            boundary_edges.push(if g[0].forward { (lo, hi) } else { (hi, lo) });
        }
        2 => {
            if g[0].forward == g[1].forward {
                inconsistent += 1;
            }
        }
        _ => {
            non_manifold += 1;
            for u in g {
                shell_open[labels[u.face as usize] as usize] = true;
            }
        }
    });
    drop(around);
    let (loops, longest) = boundary_loops(mesh, &boundary_edges);

    // Negative closed shells are cavities when inside another shell.
    let negative: Vec<usize> = (0..n_shells)
        .filter(|&s| !shell_open[s] && shell_volume[s] < 0.0)
        .collect();
    let mut cavities = 0;
    if !negative.is_empty() {
        let probes: Vec<(usize, [f64; 3])> = negative
            .iter()
            .filter_map(|&s| {
                let f = labels.iter().position(|&l| l as usize == s)?;
                let [a, b, c] = corners(mesh, f);
                Some((
                    s,
                    [
                        (a[0] + b[0] + c[0]) / 3.0,
                        (a[1] + b[1] + c[1]) / 3.0,
                        (a[2] + b[2] + c[2]) / 3.0,
                    ],
                ))
            })
            .collect();
        let index = YzIndex::new(mesh);
        cavities = probes
            .par_iter()
            .filter(|(s, p)| inside_other_shell(mesh, &index, &labels, *s as u32, *p))
            .count();
    }

    let bbox = mesh.bounding_box();
    let used = {
        let mut seen = vec![false; mesh.vertices.len()];
        for f in &mesh.faces {
            for &v in f {
                seen[v as usize] = true;
            }
        }
        seen.iter().filter(|s| **s).count()
    };
    MeshReport {
        triangles: mesh.faces.len(),
        vertices: used,
        size: bbox.map(|b| b.size()).unwrap_or([0.0; 3]),
        bbox,
        area_mm2: area,
        volume_mm3: volume,
        shells: n_shells,
        boundary_edges: boundary,
        boundary_loops: loops,
        longest_loop_mm: longest,
        non_manifold_edges: non_manifold,
        inconsistent_edges: inconsistent,
        degenerate_faces: degenerate,
        duplicate_faces: duplicate,
        inside_out_shells: negative.len() - cavities,
        cavities,
        watertight: boundary == 0 && non_manifold == 0 && !mesh.faces.is_empty(),
        winding_consistent: inconsistent == 0 && non_manifold == 0,
    }
}

/// The duplicate faces of a mesh: groups of two or more faces on the same three
/// vertices (whichever way they face). `lamina inspect` counts every face in a group,
/// and `lamina repair` removes all of a group but what the surface needs (see
/// [`crate::mesh::repair`]).
///
/// ```
/// use lamina::mesh::{check::duplicate_groups, shapes::cuboid};
/// let mut m = cuboid([0.0; 3], [1.0; 3]);
/// m.faces.push(m.faces[0]); // a copy
/// let f = m.faces[1];
/// m.faces.push([f[0], f[2], f[1]]); // a back-to-back twin
/// assert_eq!(duplicate_groups(&m), vec![vec![0, 12], vec![1, 13]]);
/// ```
pub fn duplicate_groups(mesh: &Mesh) -> Vec<Vec<u32>> {
    let mut keys: Vec<([u32; 3], u32)> = mesh
        .faces
        .iter()
        .enumerate()
        .map(|(i, f)| {
            let mut k = *f;
            k.sort_unstable();
            (k, i as u32)
        })
        .collect();
    keys.par_sort_unstable();
    let mut groups: Vec<Vec<u32>> = keys
        .chunk_by(|a, b| a.0 == b.0)
        .filter(|g| g.len() > 1)
        .map(|g| g.iter().map(|&(_, f)| f).collect())
        .collect();
    groups.sort_unstable();
    groups
}

/// The number of faces that share their three vertices with another face: the faces of
/// every [`duplicate_groups`] group, found through the faces around each face's lowest
/// vertex.
fn duplicate_count(mesh: &Mesh, around: &VertexFaces) -> usize {
    let sorted = |f: [u32; 3]| {
        let mut k = f;
        k.sort_unstable();
        k
    };
    (0..mesh.faces.len())
        .into_par_iter()
        .filter(|&f| {
            let k = sorted(mesh.faces[f]);
            around
                .around(k[0])
                .iter()
                .any(|&g| g as usize != f && sorted(mesh.faces[g as usize]) == k)
        })
        .count()
}

/// Number of hole rims (chains of boundary edges) and the longest one's length (mm).
fn boundary_loops(mesh: &Mesh, edges: &[(u32, u32)]) -> (usize, f64) {
    if edges.is_empty() {
        return (0, 0.0);
    }
    let mut index: HashMap<u32, Vec<usize>> = HashMap::new();
    for (i, &(a, b)) in edges.iter().enumerate() {
        index.entry(a).or_default().push(i);
        index.entry(b).or_default().push(i);
    }
    let mut used = vec![false; edges.len()];
    let (mut loops, mut longest) = (0, 0.0f64);
    for start in 0..edges.len() {
        if used[start] {
            continue;
        }
        loops += 1;
        let mut len = 0.0;
        let mut stack = vec![start];
        used[start] = true;
        while let Some(e) = stack.pop() {
            let (a, b) = edges[e];
            let pa = mesh.vertices[a as usize].map(f64::from);
            let pb = mesh.vertices[b as usize].map(f64::from);
            len += ((pa[0] - pb[0]).powi(2) + (pa[1] - pb[1]).powi(2) + (pa[2] - pb[2]).powi(2))
                .sqrt();
            for v in [a, b] {
                for &n in &index[&v] {
                    if !used[n] {
                        used[n] = true;
                        stack.push(n);
                    }
                }
            }
        }
        longest = longest.max(len);
    }
    (loops, longest)
}

impl MeshReport {
    /// The report in a few lines for `lamina inspect`.
    pub fn summary(&self) -> String {
        let mut s = String::new();
        s += &format!(
            "{} triangles, {} vertices, {} shell{}\n",
            self.triangles,
            self.vertices,
            self.shells,
            if self.shells == 1 { "" } else { "s" }
        );
        s += &format!(
            "size {:.1} x {:.1} x {:.1} mm, surface {:.1} cm², volume {:.2} cm³\n",
            self.size[0],
            self.size[1],
            self.size[2],
            self.area_mm2 / 100.0,
            self.volume_mm3 / 1000.0
        );
        let mut defects = Vec::new();
        let plural =
            |n: usize, one: &str, many: &str| format!("{n} {}", if n == 1 { one } else { many });
        if self.boundary_loops > 0 {
            defects.push(format!(
                "{} ({} boundary edges, longest rim {:.1} mm)",
                plural(self.boundary_loops, "hole", "holes"),
                self.boundary_edges,
                self.longest_loop_mm
            ));
        }
        if self.non_manifold_edges > 0 {
            defects.push(plural(
                self.non_manifold_edges,
                "non-manifold edge",
                "non-manifold edges",
            ));
        }
        if self.inconsistent_edges > 0 {
            defects.push(format!(
                "{} where neighbouring faces disagree on winding",
                plural(self.inconsistent_edges, "edge", "edges")
            ));
        }
        if self.inside_out_shells > 0 {
            defects.push(plural(
                self.inside_out_shells,
                "inside-out shell",
                "inside-out shells",
            ));
        }
        if self.degenerate_faces > 0 {
            defects.push(plural(
                self.degenerate_faces,
                "degenerate face",
                "degenerate faces",
            ));
        }
        if self.duplicate_faces > 0 {
            defects.push(plural(
                self.duplicate_faces,
                "duplicate face",
                "duplicate faces",
            ));
        }
        if self.cavities > 0 {
            s += &format!(
                "{} (closed inner shells facing inward)\n",
                plural(self.cavities, "cavity", "cavities")
            );
        }
        if defects.is_empty() {
            s += "no defects found\n";
        } else {
            s += &format!("defects: {}\n", defects.join(", "));
        }
        if self.watertight && self.winding_consistent {
            s += "watertight\n";
        } else {
            s += "not watertight: `lamina repair` can fill holes and fix the winding (lamina slices it as it is too)\n";
        }
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mesh::shapes::{cuboid, merge, tube, uv_sphere};
    use crate::mesh::topology::EdgeUse;

    #[test]
    fn cube_known_answers() {
        let r = check(&cuboid([0.0; 3], [1.0; 3]));
        assert_eq!((r.triangles, r.vertices, r.shells), (12, 8, 1));
        assert!((r.area_mm2 - 6.0).abs() < 1e-12 && (r.volume_mm3 - 1.0).abs() < 1e-12);
        assert!(r.watertight && r.winding_consistent);
        assert_eq!(
            r.inside_out_shells + r.cavities + r.degenerate_faces + r.duplicate_faces,
            0
        );
    }

    #[test]
    fn missing_face_is_a_hole() {
        let mut m = cuboid([0.0; 3], [1.0; 3]);
        m.faces.remove(0);
        let r = check(&m);
        assert_eq!((r.boundary_edges, r.boundary_loops), (3, 1));
        assert!((r.longest_loop_mm - (2.0 + 2f64.sqrt())).abs() < 1e-6);
        assert!(!r.watertight);
    }

    #[test]
    fn flipped_face_disagrees_and_inverted_shell_is_inside_out() {
        let mut m = cuboid([0.0; 3], [1.0; 3]);
        m.faces[0].swap(1, 2);
        let r = check(&m);
        assert_eq!(r.inconsistent_edges, 3);
        assert!(r.watertight && !r.winding_consistent);
        let mut inv = cuboid([0.0; 3], [1.0; 3]);
        for f in &mut inv.faces {
            f.swap(1, 2);
        }
        let r = check(&inv);
        assert!(r.volume_mm3 < 0.0);
        assert_eq!((r.inside_out_shells, r.cavities), (1, 0));
    }

    #[test]
    fn cavity_is_not_a_defect() {
        let mut inner = cuboid([2.0; 3], [4.0; 3]);
        for f in &mut inner.faces {
            f.swap(1, 2);
        }
        let r = check(&merge(&[cuboid([0.0; 3], [6.0; 3]), inner]));
        assert_eq!((r.shells, r.cavities, r.inside_out_shells), (2, 1, 0));
        assert!((r.volume_mm3 - (216.0 - 8.0)).abs() < 1e-9);
    }

    #[test]
    fn degenerate_duplicate_and_non_manifold() {
        let mut m = cuboid([0.0; 3], [1.0; 3]);
        m.faces.push(m.faces[3]);
        m.faces.push([0, 0, 1]);
        let r = check(&m);
        assert_eq!(r.duplicate_faces, 2);
        assert_eq!(r.degenerate_faces, 1);
        // The duplicated face makes its three edges used three times, and the
        // degenerate face runs along cube edge 0-1 twice more.
        assert_eq!(r.non_manifold_edges, 4);
    }

    #[test]
    fn edges_around_vertices_are_the_sorted_edge_groups() {
        use crate::mesh::topology::{EdgeMap, VertexFaces};
        let mut m = merge(&[cuboid([0.0; 3], [1.0; 3]), tube([3.0; 3], 1.0, 2.0, 2.0, 8)]);
        m.faces.push(m.faces[3]);
        m.faces.push([0, 0, 1]);
        m.faces.push([2, 2, 2]);
        m.faces.push([4, 5, 4]);
        m.faces.remove(7);
        let mut walked: Vec<Vec<EdgeUse>> = Vec::new();
        VertexFaces::new(&m).for_each_edge(&m, |g| walked.push(g.to_vec()));
        walked.sort();
        let sorted: Vec<Vec<EdgeUse>> = EdgeMap::new(&m).groups().map(<[_]>::to_vec).collect();
        assert_eq!(walked, sorted);
        // A face lost from the walk would show.
        walked.pop();
        assert_ne!(walked, sorted);
    }

    #[test]
    fn sphere_area_and_volume_near_analytic() {
        let r = check(&uv_sphere([0.0; 3], 10.0, 90, 180));
        let (a, v) = (
            4.0 * std::f64::consts::PI * 100.0,
            4.0 / 3.0 * std::f64::consts::PI * 1000.0,
        );
        assert!((r.area_mm2 - a).abs() / a < 2e-3 && (r.volume_mm3 - v).abs() / v < 2e-3);
    }

    #[test]
    fn open_tube_has_two_rims() {
        let mut t = tube([0.0; 3], 3.0, 4.0, 10.0, 32);
        // Remove the end rings: the inner and outer walls alone, open at both ends.
        t.faces.retain(|f| {
            let z: Vec<f32> = f.iter().map(|&v| t.vertices[v as usize][2]).collect();
            !(z.iter().all(|&z| z == 0.0) || z.iter().all(|&z| z == 10.0))
        });
        let r = check(&t);
        assert_eq!(r.boundary_loops, 4);
        assert_eq!(r.shells, 2);
    }
}
