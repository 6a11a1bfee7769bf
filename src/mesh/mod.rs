//! Triangle meshes: the indexed [`Mesh`], the named [`Object`] a file yields, and the
//! stages that work on them: import ([`io`]), placement on the bed ([`place`]).

pub mod check;
pub mod implicit;
pub mod io;
pub mod phantom;
pub mod place;
pub mod rays;
pub mod repair;
pub mod shapes;
pub mod topology;

use serde::Serialize;

/// An indexed triangle mesh: vertex positions in millimetres and faces as triples of
/// vertex indices, counter-clockwise seen from outside (right-hand rule gives the
/// outward normal).
///
/// Vertices are welded by exact position when a mesh is read, so two faces that share
/// a corner share its index: edges can be matched by index pairs, never by comparing
/// floats.
///
/// ```
/// use lamina::mesh::Mesh;
/// let mesh = Mesh {
///     vertices: vec![[0.0, 0.0, 0.0], [1.0, 0.0, 0.0], [0.0, 1.0, 0.0]],
///     faces: vec![[0, 1, 2]],
/// };
/// assert_eq!(mesh.bounding_box().unwrap().size(), [1.0, 1.0, 0.0]);
/// ```
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Mesh {
    /// Vertex positions, millimetres.
    pub vertices: Vec<[f32; 3]>,
    /// Triangles as indices into `vertices`.
    pub faces: Vec<[u32; 3]>,
}

impl Mesh {
    /// The axis-aligned bounding box of the vertices that faces use, or `None` for a
    /// mesh without faces.
    pub fn bounding_box(&self) -> Option<BoundingBox> {
        if self.faces.is_empty() {
            return None;
        }
        let mut used = vec![false; self.vertices.len()];
        for face in &self.faces {
            for &v in face {
                used[v as usize] = true;
            }
        }
        let mut bbox = BoundingBox::EMPTY;
        for (v, _) in self.vertices.iter().zip(&used).filter(|(_, u)| **u) {
            bbox.include([f64::from(v[0]), f64::from(v[1]), f64::from(v[2])]);
        }
        Some(bbox)
    }

    /// The three corner positions of face `f`.
    #[inline]
    pub fn triangle(&self, f: usize) -> [[f32; 3]; 3] {
        let [a, b, c] = self.faces[f];
        [
            self.vertices[a as usize],
            self.vertices[b as usize],
            self.vertices[c as usize],
        ]
    }
}

/// An axis-aligned box in millimetres.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct BoundingBox {
    /// Smallest corner.
    pub min: [f64; 3],
    /// Largest corner.
    pub max: [f64; 3],
}

impl BoundingBox {
    /// A box that contains nothing; [`BoundingBox::include`] grows it.
    pub const EMPTY: BoundingBox = BoundingBox {
        min: [f64::INFINITY; 3],
        max: [f64::NEG_INFINITY; 3],
    };

    /// Grow the box to contain `p`.
    #[inline]
    pub fn include(&mut self, p: [f64; 3]) {
        for ((lo, hi), v) in self.min.iter_mut().zip(&mut self.max).zip(p) {
            *lo = lo.min(v);
            *hi = hi.max(v);
        }
    }

    /// Grow the box to contain `other`.
    pub fn merge(&mut self, other: &BoundingBox) {
        self.include(other.min);
        self.include(other.max);
    }

    /// Extent along each axis.
    pub fn size(&self) -> [f64; 3] {
        [
            self.max[0] - self.min[0],
            self.max[1] - self.min[1],
            self.max[2] - self.min[2],
        ]
    }

    /// Centre point.
    pub fn center(&self) -> [f64; 3] {
        [
            0.5 * (self.min[0] + self.max[0]),
            0.5 * (self.min[1] + self.max[1]),
            0.5 * (self.min[2] + self.max[2]),
        ]
    }
}

/// One printable object: a mesh with the name it had in its file.
///
/// A file may hold several objects (a 3MF build, an OBJ with several groups is still
/// one object); several files give several objects.
#[derive(Debug, Clone, Default)]
pub struct Object {
    /// Name shown to the user: the object's name in the file, else the file stem.
    pub name: String,
    /// The geometry.
    pub mesh: Mesh,
    /// The extruder the file assigns to this object (3MF), if any; 0-based.
    pub tool: Option<usize>,
    /// Objects with the same group are parts of one assembly (a multi-material model):
    /// they keep their positions relative to each other when placed on the bed.
    pub group: Option<usize>,
}
