//! Which triangles each layer plane crosses, in one flat array (no per-layer vectors).

use crate::mesh::Mesh;

/// For every plane, the faces that cross it: a face with lowest vertex `zmin` and
/// highest `zmax` crosses plane `z` when `zmin < z <= zmax`, the same rule
/// [`super::section::section`] uses (a vertex on the plane counts as above it).
pub struct Buckets {
    /// `faces[offsets[i]..offsets[i + 1]]` are plane `i`'s faces.
    offsets: Vec<usize>,
    faces: Vec<u32>,
}

impl Buckets {
    /// Bucket the faces of `mesh` over `planes` (ascending).
    pub fn new(mesh: &Mesh, planes: &[f64]) -> Buckets {
        let range = |f: &[u32; 3]| {
            let z = f.map(|v| f64::from(mesh.vertices[v as usize][2]));
            let zmin = z[0].min(z[1]).min(z[2]);
            let zmax = z[0].max(z[1]).max(z[2]);
            let first = planes.partition_point(|&p| p <= zmin);
            let end = planes.partition_point(|&p| p <= zmax);
            first..end.max(first)
        };
        let mut offsets = vec![0usize; planes.len() + 1];
        for f in &mesh.faces {
            for i in range(f) {
                offsets[i + 1] += 1;
            }
        }
        for i in 0..planes.len() {
            offsets[i + 1] += offsets[i];
        }
        let mut cursor = offsets.clone();
        let mut faces = vec![0u32; offsets[planes.len()]];
        for (fi, f) in mesh.faces.iter().enumerate() {
            for i in range(f) {
                faces[cursor[i]] = fi as u32;
                cursor[i] += 1;
            }
        }
        Buckets { offsets, faces }
    }

    /// The faces crossing plane `i`.
    pub fn faces(&self, i: usize) -> &[u32] {
        &self.faces[self.offsets[i]..self.offsets[i + 1]]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn faces_land_in_the_planes_they_cross() {
        let mesh = Mesh {
            vertices: vec![
                [0.0, 0.0, 0.0],
                [1.0, 0.0, 0.0],
                [0.0, 1.0, 1.0],
                [0.0, 0.0, 2.0],
            ],
            faces: vec![[0, 1, 2], [1, 2, 3], [0, 1, 0]],
        };
        let b = Buckets::new(&mesh, &[0.0, 0.5, 1.0, 1.5, 2.5]);
        assert_eq!(b.faces(0), &[] as &[u32]); // zmin < 0 is false for z = 0
        assert_eq!(b.faces(1), &[0, 1]);
        assert_eq!(b.faces(2), &[0, 1]); // a vertex at 1.0 counts as above
        assert_eq!(b.faces(3), &[1]);
        assert_eq!(b.faces(4), &[] as &[u32]);
    }
}
