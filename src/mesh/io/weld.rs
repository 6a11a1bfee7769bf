//! Welding vertices by exact position while a mesh is read.

use crate::mesh::Mesh;
use crate::timing::{self, Stage};

/// A hash map with a fast hasher for small integer keys (no hostile input: the keys
/// are coordinates' bit patterns and vertex numbers).
pub type FastMap<K, V> = rustc_hash::FxHashMap<K, V>;

/// Builds an indexed [`Mesh`] from triangles given by corner positions, merging
/// corners with bit-identical coordinates (`-0.0` and `0.0` count as the same).
#[derive(Default)]
pub struct Welder {
    mesh: Mesh,
    index: FastMap<[u32; 3], u32>,
}

impl Welder {
    /// A welder expecting about `triangles` faces.
    pub fn with_capacity(triangles: usize) -> Welder {
        // A closed mesh has about half as many vertices as faces.
        let vertices = triangles / 2 + 16;
        Welder {
            mesh: Mesh {
                vertices: Vec::with_capacity(vertices),
                faces: Vec::with_capacity(triangles),
            },
            index: FastMap::with_capacity_and_hasher(vertices, Default::default()),
        }
    }

    /// The index of the vertex at `p`, added if new.
    #[inline]
    pub fn vertex(&mut self, p: [f32; 3]) -> u32 {
        let _busy = timing::enter(Stage::Weld);
        self.weld(p)
    }

    #[inline]
    fn weld(&mut self, p: [f32; 3]) -> u32 {
        // Normalise -0.0 to 0.0 so both weld.
        let p = p.map(|c| if c == 0.0 { 0.0 } else { c });
        let key = p.map(f32::to_bits);
        let next = self.mesh.vertices.len() as u32;
        let id = *self.index.entry(key).or_insert(next);
        if id == next {
            self.mesh.vertices.push(p);
        }
        id
    }

    /// Add a triangle by its corner positions.
    #[inline]
    pub fn triangle(&mut self, corners: [[f32; 3]; 3]) {
        let _busy = timing::enter(Stage::Weld);
        let f = corners.map(|c| self.weld(c));
        self.mesh.faces.push(f);
    }

    /// Add a face by already-welded vertex indices.
    #[inline]
    pub fn face(&mut self, f: [u32; 3]) {
        self.mesh.faces.push(f);
    }

    /// Number of faces so far.
    pub fn faces(&self) -> usize {
        self.mesh.faces.len()
    }

    /// The finished mesh.
    pub fn finish(mut self) -> Mesh {
        self.mesh.vertices.shrink_to_fit();
        self.mesh.faces.shrink_to_fit();
        self.mesh
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identical_corners_share_an_index() {
        let mut w = Welder::default();
        w.triangle([[0.0, 0.0, 0.0], [1.0, 0.0, 0.0], [0.0, 1.0, 0.0]]);
        w.triangle([[1.0, 0.0, 0.0], [-0.0, 1.0, 0.0], [1.0, 1.0, 0.0]]);
        let m = w.finish();
        assert_eq!(m.vertices.len(), 4);
        assert_eq!(m.faces, vec![[0, 1, 2], [1, 2, 3]]);
    }

    #[test]
    fn nearly_equal_corners_stay_apart() {
        let mut w = Welder::default();
        let a = 1.0f32;
        let b = f32::from_bits(a.to_bits() + 1);
        w.triangle([[a, 0.0, 0.0], [b, 0.0, 0.0], [0.0, 1.0, 0.0]]);
        assert_eq!(w.finish().vertices.len(), 3);
    }
}
