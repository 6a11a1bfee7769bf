//! Edge topology of a triangle mesh: which faces share each edge, in which direction,
//! and the shells (pieces) faces form through shared edges.

use std::collections::HashMap;

use nalgebra::Vector3;
use rayon::prelude::*;

use super::{BoundingBox, Mesh};

/// One use of an undirected edge by a face.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct EdgeUse {
    /// The edge: lower vertex index in the high 32 bits.
    pub key: u64,
    /// The face.
    pub face: u32,
    /// Whether the face runs from the lower to the higher vertex.
    pub forward: bool,
}

/// Every edge use, sorted by edge: runs of equal `key` are the faces around an edge.
pub struct EdgeMap {
    /// The uses, grouped by edge.
    pub uses: Vec<EdgeUse>,
}

/// Lower and higher vertex of an edge key.
#[inline]
pub fn key_vertices(key: u64) -> (u32, u32) {
    ((key >> 32) as u32, key as u32)
}

#[inline]
fn key_of(a: u32, b: u32) -> (u64, bool) {
    if a < b {
        ((u64::from(a) << 32) | u64::from(b), true)
    } else {
        ((u64::from(b) << 32) | u64::from(a), false)
    }
}

impl EdgeMap {
    /// Build the map. A face repeating a vertex keeps its zero-length edge (two such
    /// faces on the same vertex share it), as trimesh counts edges, so the figures match.
    pub fn new(mesh: &Mesh) -> EdgeMap {
        let mut uses: Vec<EdgeUse> = Vec::with_capacity(mesh.faces.len() * 3);
        for (f, face) in mesh.faces.iter().enumerate() {
            for k in 0..3 {
                let (a, b) = (face[k], face[(k + 1) % 3]);
                let (key, forward) = key_of(a, b);
                uses.push(EdgeUse {
                    key,
                    face: f as u32,
                    forward,
                });
            }
        }
        uses.par_sort_unstable();
        EdgeMap { uses }
    }

    /// The groups of uses sharing an edge.
    pub fn groups(&self) -> impl Iterator<Item = &[EdgeUse]> {
        self.uses.chunk_by(|a, b| a.key == b.key)
    }
}

/// Union-find over faces.
pub struct Components {
    parent: Vec<u32>,
}

impl Components {
    /// Every face its own component.
    pub fn new(n: usize) -> Components {
        Components {
            parent: (0..n as u32).collect(),
        }
    }

    /// The representative of `x`.
    pub fn find(&mut self, mut x: u32) -> u32 {
        while self.parent[x as usize] != x {
            let p = self.parent[x as usize];
            self.parent[x as usize] = self.parent[p as usize];
            x = p;
        }
        x
    }

    /// Join the components of `a` and `b`.
    pub fn union(&mut self, a: u32, b: u32) {
        let (ra, rb) = (self.find(a), self.find(b));
        if ra != rb {
            self.parent[ra.max(rb) as usize] = ra.min(rb);
        }
    }

    /// A dense shell number for every face (numbered in order of their first face),
    /// and the number of shells. The labels take the place of the parents: no second
    /// array of a face's size.
    pub fn labels(mut self) -> (Vec<u32>, usize) {
        let n = self.parent.len() as u32;
        // A component's root is its lowest face (union keeps the lower root), so after
        // full compression every face points at a face at or before it.
        for f in 0..n {
            let r = self.find(f);
            self.parent[f as usize] = r;
        }
        let mut next = 0u32;
        for f in 0..n as usize {
            let r = self.parent[f] as usize;
            self.parent[f] = if r == f {
                next += 1;
                next - 1
            } else {
                // The root came earlier and holds its label already.
                self.parent[r]
            };
        }
        (self.parent, next as usize)
    }
}

/// The faces around every vertex, in compressed rows: 4 bytes per vertex and per face
/// corner, where an [`EdgeMap`] takes 16 bytes per edge use. What `check` walks the
/// edges with, so that checking a mesh costs little more memory than the mesh.
pub struct VertexFaces {
    /// `faces[start[v]..start[v + 1]]` are the faces on vertex `v`, ascending.
    start: Vec<u32>,
    faces: Vec<u32>,
}

impl VertexFaces {
    /// Build the rows (a face repeating a vertex is listed once on it).
    pub fn new(mesh: &Mesh) -> VertexFaces {
        let distinct = |f: [u32; 3]| {
            [
                Some(f[0]),
                (f[1] != f[0]).then_some(f[1]),
                (f[2] != f[0] && f[2] != f[1]).then_some(f[2]),
            ]
        };
        let mut start = vec![0u32; mesh.vertices.len() + 1];
        for f in &mesh.faces {
            for v in distinct(*f).into_iter().flatten() {
                start[v as usize + 1] += 1;
            }
        }
        for i in 0..mesh.vertices.len() {
            start[i + 1] += start[i];
        }
        let mut faces = vec![0u32; start[mesh.vertices.len()] as usize];
        let mut cursor = start.clone();
        for (i, f) in mesh.faces.iter().enumerate() {
            for v in distinct(*f).into_iter().flatten() {
                faces[cursor[v as usize] as usize] = i as u32;
                cursor[v as usize] += 1;
            }
        }
        VertexFaces { start, faces }
    }

    /// The faces on vertex `v`.
    pub fn around(&self, v: u32) -> &[u32] {
        &self.faces[self.start[v as usize] as usize..self.start[v as usize + 1] as usize]
    }

    /// Call `visit` once for every edge with its uses, as [`EdgeMap::groups`] gives
    /// them (sorted by face, then direction), edge by edge in order of their first use.
    pub fn for_each_edge(&self, mesh: &Mesh, mut visit: impl FnMut(&[EdgeUse])) {
        let mut group: Vec<EdgeUse> = Vec::new();
        for (f, face) in mesh.faces.iter().enumerate() {
            for k in 0..3 {
                let (key, _) = key_of(face[k], face[(k + 1) % 3]);
                // Visit the edge at its first use only: no earlier corner of this
                // face and no earlier face has it.
                let first_here = (0..k).all(|j| key_of(face[j], face[(j + 1) % 3]).0 != key);
                if !first_here {
                    continue;
                }
                group.clear();
                for &g in self.around(key_vertices(key).0) {
                    let other = mesh.faces[g as usize];
                    for j in 0..3 {
                        let (kj, forward) = key_of(other[j], other[(j + 1) % 3]);
                        if kj == key {
                            group.push(EdgeUse {
                                key,
                                face: g,
                                forward,
                            });
                        }
                    }
                }
                if group[0].face as usize != f {
                    continue;
                }
                group.sort_unstable();
                visit(&group);
            }
        }
    }
}

/// Shell label of every face: faces are in one shell when they share an edge used by
/// exactly two faces (as trimesh's face adjacency counts them; faces meeting at a
/// non-manifold edge or a single vertex are separate pieces).
pub fn shells(mesh: &Mesh, edges: &EdgeMap) -> (Vec<u32>, usize) {
    let mut c = Components::new(mesh.faces.len());
    for g in edges.groups() {
        if g.len() == 2 {
            c.union(g[0].face, g[1].face);
        }
    }
    c.labels()
}

/// [`shells`] found through the faces around each vertex.
pub fn shells_around(mesh: &Mesh, around: &VertexFaces) -> (Vec<u32>, usize) {
    let mut c = Components::new(mesh.faces.len());
    around.for_each_edge(mesh, |g| {
        if g.len() == 2 {
            c.union(g[0].face, g[1].face);
        }
    });
    c.labels()
}

/// Signed volume contributed by one triangle (to the origin), mm³.
#[inline]
pub fn tet_volume(a: [f64; 3], b: [f64; 3], c: [f64; 3]) -> f64 {
    Vector3::from(a).dot(&Vector3::from(b).cross(&Vector3::from(c))) / 6.0
}

/// Area of a triangle, mm².
#[inline]
pub fn tri_area(a: [f64; 3], b: [f64; 3], c: [f64; 3]) -> f64 {
    let a = Vector3::from(a);
    0.5 * (Vector3::from(b) - a).cross(&(Vector3::from(c) - a)).norm()
}

/// The corner positions of face `f` in f64.
#[inline]
pub fn corners(mesh: &Mesh, f: usize) -> [[f64; 3]; 3] {
    mesh.faces[f].map(|v| mesh.vertices[v as usize].map(f64::from))
}

/// Faces bucketed by their extent in Y and Z, for casting rays along X.
pub(crate) struct YzIndex {
    y0: f64,
    z0: f64,
    cell: f64,
    ny: usize,
    nz: usize,
    /// `faces[start[c]..start[c + 1]]` are the faces over cell `c`.
    start: Vec<usize>,
    faces: Vec<u32>,
}

impl YzIndex {
    /// Cells per side (at most), to keep the index small.
    const CELLS: usize = 256;

    pub(crate) fn new(mesh: &Mesh) -> YzIndex {
        let bb = mesh.bounding_box().unwrap_or(BoundingBox::EMPTY);
        let size = bb.size();
        // About one face per cell: a small mesh needs no fine grid.
        let cells = ((mesh.faces.len() as f64).sqrt().ceil() as usize).clamp(1, Self::CELLS);
        let cell = (size[1].max(size[2]) / cells as f64).max(1e-6);
        let ny = (size[1] / cell) as usize + 1;
        let nz = (size[2] / cell) as usize + 1;
        let range = |f: usize| {
            let [a, b, c] = corners(mesh, f);
            let cy = |v: f64| (((v - bb.min[1]) / cell) as usize).min(ny - 1);
            let cz = |v: f64| (((v - bb.min[2]) / cell) as usize).min(nz - 1);
            (
                cy(a[1].min(b[1]).min(c[1])),
                cy(a[1].max(b[1]).max(c[1])),
                cz(a[2].min(b[2]).min(c[2])),
                cz(a[2].max(b[2]).max(c[2])),
            )
        };
        let mut count = vec![0usize; ny * nz + 1];
        for f in 0..mesh.faces.len() {
            let (y0, y1, z0, z1) = range(f);
            for z in z0..=z1 {
                for y in y0..=y1 {
                    count[z * ny + y + 1] += 1;
                }
            }
        }
        for i in 0..ny * nz {
            count[i + 1] += count[i];
        }
        let mut cursor = count.clone();
        let mut faces = vec![0u32; count[ny * nz]];
        for f in 0..mesh.faces.len() {
            let (y0, y1, z0, z1) = range(f);
            for z in z0..=z1 {
                for y in y0..=y1 {
                    faces[cursor[z * ny + y]] = f as u32;
                    cursor[z * ny + y] += 1;
                }
            }
        }
        YzIndex {
            y0: bb.min[1],
            z0: bb.min[2],
            cell,
            ny,
            nz,
            start: count,
            faces,
        }
    }

    /// Faces whose Y-Z extent may contain `(y, z)`.
    fn at(&self, y: f64, z: f64) -> &[u32] {
        let cy = ((y - self.y0) / self.cell).floor();
        let cz = ((z - self.z0) / self.cell).floor();
        if cy < 0.0 || cz < 0.0 || cy as usize >= self.ny || cz as usize >= self.nz {
            return &[];
        }
        let c = cz as usize * self.ny + cy as usize;
        &self.faces[self.start[c]..self.start[c + 1]]
    }
}

/// Whether `p` lies inside any shell but `own` (a ray along +X crossing an odd number of
/// that shell's faces).
pub(crate) fn inside_other_shell(
    mesh: &Mesh,
    index: &YzIndex,
    labels: &[u32],
    own: u32,
    p: [f64; 3],
) -> bool {
    let mut crossings: HashMap<u32, u32> = HashMap::new();
    for &f in index.at(p[1], p[2]) {
        let l = labels[f as usize];
        if l == own {
            continue;
        }
        let [a, b, c] = corners(mesh, f as usize);
        // Project on the YZ plane: does the ray's (y, z) fall inside the triangle?
        let (y, z) = (p[1], p[2]);
        let d = (b[1] - a[1]) * (c[2] - a[2]) - (c[1] - a[1]) * (b[2] - a[2]);
        if d.abs() < 1e-18 {
            continue;
        }
        let u = ((y - a[1]) * (c[2] - a[2]) - (c[1] - a[1]) * (z - a[2])) / d;
        let v = ((b[1] - a[1]) * (z - a[2]) - (y - a[1]) * (b[2] - a[2])) / d;
        if u < 0.0 || v < 0.0 || u + v > 1.0 {
            continue;
        }
        let x = a[0] + u * (b[0] - a[0]) + v * (c[0] - a[0]);
        if x > p[0] {
            *crossings.entry(l).or_default() += 1;
        }
    }
    crossings.values().any(|c| c % 2 == 1)
}
