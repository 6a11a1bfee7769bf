//! Placing objects on the bed: scale, rotate, drop to the bed, arrange several objects
//! without overlap, and check they fit the printer.

use nalgebra::{Matrix4, Point3, Rotation3, Vector3};
use serde::Serialize;

use super::{BoundingBox, Mesh, Object};

/// Free space kept between arranged objects, mm (room for a brim and a skirt line).
pub const DEFAULT_SPACING: f64 = 6.0;

/// A model whose largest dimension is below this (mm) is taken for a unit mistake.
const TINY_MODEL: f64 = 1.0;

/// The printable volume, in the printer's coordinates (mm).
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Bed {
    /// Smallest X and Y the nozzle may print at.
    pub min: [f64; 2],
    /// Largest X and Y.
    pub max: [f64; 2],
    /// Largest printable Z.
    pub max_height: f64,
}

impl Bed {
    /// A bed `x` by `y` with its origin at the front-left corner, `z` tall.
    pub fn corner_origin(x: f64, y: f64, z: f64) -> Bed {
        Bed {
            min: [0.0, 0.0],
            max: [x, y],
            max_height: z,
        }
    }

    /// Width and depth.
    pub fn size(&self) -> [f64; 2] {
        [self.max[0] - self.min[0], self.max[1] - self.min[1]]
    }

    /// The centre of the bed.
    pub fn center(&self) -> [f64; 2] {
        [
            0.5 * (self.min[0] + self.max[0]),
            0.5 * (self.min[1] + self.max[1]),
        ]
    }
}

/// How the user asked to transform a model before placing it.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Transform {
    /// Scale factors along X, Y, Z (negative mirrors).
    pub scale: [f64; 3],
    /// Rotations about X, then Y, then Z (fixed axes), in degrees.
    pub rotate_deg: [f64; 3],
}

impl Default for Transform {
    fn default() -> Self {
        Transform {
            scale: [1.0; 3],
            rotate_deg: [0.0; 3],
        }
    }
}

impl Transform {
    /// The 4×4 matrix: scale first, then rotate.
    ///
    /// ```
    /// use lamina::mesh::place::Transform;
    /// let t = Transform { scale: [2.0; 3], rotate_deg: [0.0, 0.0, 90.0] };
    /// let p = t.matrix().transform_point(&nalgebra::Point3::new(1.0, 0.0, 0.0));
    /// assert!((p.x).abs() < 1e-12 && (p.y - 2.0).abs() < 1e-12);
    /// ```
    pub fn matrix(&self) -> Matrix4<f64> {
        let [rx, ry, rz] = self.rotate_deg.map(f64::to_radians);
        let rotation = Rotation3::from_euler_angles(rx, ry, rz).to_homogeneous();
        let scale = Matrix4::new_nonuniform_scaling(&Vector3::from(self.scale));
        rotation * scale
    }

    /// Whether this transform changes nothing.
    pub fn is_identity(&self) -> bool {
        *self == Transform::default()
    }
}

/// Apply an affine transform to every vertex. A mirroring transform (negative
/// determinant) also reverses every face, so normals keep pointing outward.
pub fn apply(mesh: &mut Mesh, m: &Matrix4<f64>) {
    for v in &mut mesh.vertices {
        let p = m.transform_point(&Point3::new(
            f64::from(v[0]),
            f64::from(v[1]),
            f64::from(v[2]),
        ));
        *v = [p.x as f32, p.y as f32, p.z as f32];
    }
    if m.fixed_view::<3, 3>(0, 0).determinant() < 0.0 {
        for f in &mut mesh.faces {
            f.swap(1, 2);
        }
    }
}

/// Move a mesh by `d` (mm).
pub fn translate(mesh: &mut Mesh, d: [f64; 3]) {
    for v in &mut mesh.vertices {
        for (c, dc) in v.iter_mut().zip(d) {
            *c = (f64::from(*c) + dc) as f32;
        }
    }
}

/// Where an object ended up on the bed.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Placement {
    /// The object's name.
    pub name: String,
    /// Its bounding box after placement, printer coordinates.
    pub bbox: BoundingBox,
}

/// Why objects could not be placed.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum PlaceError {
    /// The object has no faces.
    #[error("'{name}' has no triangles to print")]
    Empty {
        /// Object name.
        name: String,
    },
    /// The object alone is larger than the build volume.
    #[error(
        "'{name}' does not fit the printer: it measures {} mm, the build volume is {} mm{hint}",
        fmt_size(*size), fmt_size(*build)
    )]
    TooLarge {
        /// Object name.
        name: String,
        /// Object size, mm.
        size: [f64; 3],
        /// Build volume, mm.
        build: [f64; 3],
        /// A suggestion, starting with "; ".
        hint: String,
    },
    /// The object is so small it was probably exported in other units.
    #[error(
        "'{name}' is only {} mm: was it exported in metres? try --scale 1000 (or --scale 25.4 for inches)",
        fmt_size(*size)
    )]
    TooSmall {
        /// Object name.
        name: String,
        /// Object size, mm.
        size: [f64; 3],
    },
    /// Every object fits alone but not all together.
    #[error(
        "the {count} objects do not fit on the bed together ({} mm needed, {} mm available); print them in several jobs or scale them down",
        fmt_size2(*needed), fmt_size2(*bed)
    )]
    BedFull {
        /// Number of objects.
        count: usize,
        /// Footprint of the arrangement, mm.
        needed: [f64; 2],
        /// Bed size, mm.
        bed: [f64; 2],
    },
}

impl PlaceError {
    /// The name of the object the error is about, if it is about one.
    pub fn object(&self) -> Option<&str> {
        match self {
            PlaceError::Empty { name }
            | PlaceError::TooLarge { name, .. }
            | PlaceError::TooSmall { name, .. } => Some(name),
            PlaceError::BedFull { .. } => None,
        }
    }
}

fn fmt_size(s: [f64; 3]) -> String {
    format!("{:.1} x {:.1} x {:.1}", s[0], s[1], s[2])
}

fn fmt_size2(s: [f64; 2]) -> String {
    format!("{:.1} x {:.1}", s[0], s[1])
}

/// An object more than this many times larger than the build volume is taken for a
/// unit mistake rather than a model to scale down a little.
const UNIT_MISTAKE_RATIO: f64 = 4.0;

/// Millimetres per inch.
const MM_PER_INCH: f64 = 25.4;

/// Factors a model in the wrong unit is off by, smallest first, and what each suggests.
const UNIT_FACTORS: [(f64, &str); 3] = [
    (10.0, "in tenths of a millimetre"),
    (
        MM_PER_INCH,
        "converted from inches though it was in millimetres",
    ),
    (1000.0, "in micrometres"),
];

/// A model whose largest dimension is below this (mm) while its proportions are those
/// of an organ is taken for one exported in inches: a whole skull, brain or heart is 5
/// to 10 inches, while real millimetre models this small are vessels (long and thin)
/// or test pieces.
pub const INCH_SUSPECT_MM: f64 = 10.0;

/// Longest over shortest side of the organs printed whole (skull, brain, heart,
/// kidney, liver are within 1:3; vessel segments are longer).
pub const ORGAN_ASPECT: f64 = 3.0;

/// A hint for an object too large for `build`.
fn too_large_hint(size: [f64; 3], build: [f64; 3]) -> String {
    let ratio = (0..3).map(|i| size[i] / build[i]).fold(0.0f64, f64::max);
    let unit = UNIT_FACTORS
        .iter()
        .find(|(f, _)| ratio > UNIT_MISTAKE_RATIO && ratio <= *f);
    if let Some((f, what)) = unit {
        let s = size.map(|v| v / f);
        return format!(
            "; it is about {f} times too large: if it was exported {what}, use --scale {} (it would measure {} mm)",
            scale_text(1.0 / f),
            fmt_size(s)
        );
    }
    // Rotating about Z can help when only X or Y is too large.
    let fits_z = size[2] <= build[2];
    let diag_hint = if fits_z {
        " or turn it on the bed (--rotate 0,0,45)"
    } else {
        " or lay it down (--rotate 90,0,0)"
    };
    let s = (1.0 / ratio * 0.98 * 100.0).floor() / 100.0;
    format!("; scale it down (--scale {s}){diag_hint}")
}

/// A scale factor as short as it can be written without losing what matters.
fn scale_text(f: f64) -> String {
    let t = format!("{f:.6}");
    t.trim_end_matches('0').trim_end_matches('.').to_string()
}

/// A warning for a model whose size suggests it was exported in inches (or metres):
/// every dimension under [`INCH_SUSPECT_MM`] with the proportions of an organ. It
/// names the `--scale` to use. `size` is the model's size as it will be printed.
///
/// ```
/// use lamina::mesh::place::unit_warning;
/// let w = unit_warning("skull", [5.3, 8.5, 7.4]).unwrap();
/// assert!(w.contains("--scale 25.4"), "{w}");
/// assert!(unit_warning("skull", [134.6, 215.9, 188.0]).is_none());
/// assert!(unit_warning("vessel", [1.5, 1.5, 9.0]).is_none()); // long and thin
/// ```
pub fn unit_warning(name: &str, size: [f64; 3]) -> Option<String> {
    let largest = size.iter().copied().fold(0.0f64, f64::max);
    let smallest = size.iter().copied().fold(f64::INFINITY, f64::min);
    if largest >= INCH_SUSPECT_MM || largest <= 0.0 || smallest * ORGAN_ASPECT < largest {
        return None;
    }
    let (factor, unit) = if largest < TINY_MODEL {
        (1000.0, "metres")
    } else {
        (MM_PER_INCH, "inches")
    };
    Some(format!(
        "'{name}' measures {} mm, small for an anatomical model: if it was exported in {unit}, use --scale {} (it would measure {} mm)",
        fmt_size(size),
        scale_text(factor),
        fmt_size(size.map(|v| v * factor))
    ))
}

/// Check that one object fits the build volume on its own.
pub fn check_fits(name: &str, bbox: &BoundingBox, bed: &Bed) -> Result<(), PlaceError> {
    let size = bbox.size();
    let [bx, by] = bed.size();
    let build = [bx, by, bed.max_height];
    let largest = size.iter().copied().fold(0.0f64, f64::max);
    if largest < TINY_MODEL {
        return Err(PlaceError::TooSmall {
            name: name.to_string(),
            size,
        });
    }
    if size[0] > build[0] || size[1] > build[1] || size[2] > build[2] {
        return Err(PlaceError::TooLarge {
            name: name.to_string(),
            size,
            build,
            hint: too_large_hint(size, build),
        });
    }
    Ok(())
}

/// Transform every object, set it on the bed (lowest point at Z = 0), and arrange the
/// objects side by side, the group centred on the bed, `spacing` mm apart.
///
/// ```
/// use lamina::mesh::{Mesh, Object, place::{self, Bed, Transform}};
/// let tri = Mesh {
///     vertices: vec![[0.0, 0.0, 5.0], [10.0, 0.0, 5.0], [0.0, 10.0, 8.0]],
///     faces: vec![[0, 1, 2]],
/// };
/// let mut objects = vec![Object { name: "a".into(), mesh: tri, tool: None, group: None }];
/// let bed = Bed::corner_origin(220.0, 220.0, 250.0);
/// let placed = place::arrange(&mut objects, &[Transform::default()], &bed, 6.0).unwrap();
/// assert_eq!(placed[0].bbox.min[2], 0.0);
/// assert_eq!(placed[0].bbox.center()[0], 110.0);
/// ```
pub fn arrange(
    objects: &mut [Object],
    transforms: &[Transform],
    bed: &Bed,
    spacing: f64,
) -> Result<Vec<Placement>, PlaceError> {
    let mut boxes = Vec::with_capacity(objects.len());
    for (i, obj) in objects.iter_mut().enumerate() {
        let t = transforms
            .get(i)
            .or(transforms.last())
            .copied()
            .unwrap_or_default();
        if !t.is_identity() {
            apply(&mut obj.mesh, &t.matrix());
        }
        let bbox = obj.mesh.bounding_box().ok_or_else(|| PlaceError::Empty {
            name: obj.name.clone(),
        })?;
        check_fits(&obj.name, &bbox, bed)?;
        boxes.push(bbox);
    }

    // Units packed on the bed: each ungrouped object alone, each group as one.
    let mut units: Vec<Vec<usize>> = Vec::new();
    let mut group_unit: std::collections::HashMap<usize, usize> = Default::default();
    for (i, obj) in objects.iter().enumerate() {
        match obj.group {
            Some(g) => {
                let u = *group_unit.entry(g).or_insert_with(|| {
                    units.push(Vec::new());
                    units.len() - 1
                });
                units[u].push(i);
            }
            None => units.push(vec![i]),
        }
    }
    let unit_boxes: Vec<BoundingBox> = units
        .iter()
        .map(|members| {
            let mut b = boxes[members[0]];
            for &m in &members[1..] {
                b.merge(&boxes[m]);
            }
            b
        })
        .collect();
    for (members, b) in units.iter().zip(&unit_boxes) {
        if members.len() > 1 {
            check_fits(&objects[members[0]].name, b, bed)?;
        }
    }
    let footprints: Vec<[f64; 2]> = unit_boxes
        .iter()
        .map(|b| {
            let s = b.size();
            [s[0], s[1]]
        })
        .collect();
    let (offsets, extent) = shelf_pack(&footprints, bed.size()[0], spacing);
    let bed_size = bed.size();
    if extent[0] > bed_size[0] + 1e-9 || extent[1] > bed_size[1] + 1e-9 {
        return Err(PlaceError::BedFull {
            count: objects.len(),
            needed: extent,
            bed: bed_size,
        });
    }
    let c = bed.center();
    let origin = [c[0] - 0.5 * extent[0], c[1] - 0.5 * extent[1]];

    let mut shifts = vec![[0.0; 3]; objects.len()];
    for ((members, ub), off) in units.iter().zip(&unit_boxes).zip(&offsets) {
        let d = [
            origin[0] + off[0] - ub.min[0],
            origin[1] + off[1] - ub.min[1],
            -ub.min[2],
        ];
        for &m in members {
            shifts[m] = d;
        }
    }
    let mut placements = Vec::with_capacity(objects.len());
    for ((obj, bbox), d) in objects.iter_mut().zip(&boxes).zip(shifts) {
        translate(&mut obj.mesh, d);
        let placed = obj.mesh.bounding_box().unwrap_or(*bbox);
        placements.push(Placement {
            name: obj.name.clone(),
            bbox: placed,
        });
    }
    Ok(placements)
}

/// Pack rectangles in rows ("shelves"), tallest first, rows no wider than `width`
/// (unless a single rectangle is wider). Returns each rectangle's lower-left offset in
/// input order and the extent of the whole arrangement.
fn shelf_pack(sizes: &[[f64; 2]], width: f64, spacing: f64) -> (Vec<[f64; 2]>, [f64; 2]) {
    let mut order: Vec<usize> = (0..sizes.len()).collect();
    order.sort_by(|&a, &b| sizes[b][1].total_cmp(&sizes[a][1]));
    let mut offsets = vec![[0.0; 2]; sizes.len()];
    let (mut x, mut y, mut row_h, mut max_x) = (0.0f64, 0.0f64, 0.0f64, 0.0f64);
    for i in order {
        let [w, h] = sizes[i];
        if x > 0.0 && x + w > width {
            y += row_h + spacing;
            x = 0.0;
            row_h = 0.0;
        }
        offsets[i] = [x, y];
        max_x = max_x.max(x + w);
        row_h = row_h.max(h);
        x += w + spacing;
    }
    (offsets, [max_x, y + row_h])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cube(size: f32, at: [f32; 3]) -> Mesh {
        let mut vertices = Vec::new();
        for i in 0..8u32 {
            vertices.push([
                at[0] + size * (i & 1) as f32,
                at[1] + size * ((i >> 1) & 1) as f32,
                at[2] + size * ((i >> 2) & 1) as f32,
            ]);
        }
        let faces = vec![
            [0, 2, 1],
            [1, 2, 3],
            [4, 5, 6],
            [5, 7, 6],
            [0, 1, 4],
            [1, 5, 4],
            [2, 6, 3],
            [3, 6, 7],
            [0, 4, 2],
            [2, 4, 6],
            [1, 3, 5],
            [3, 7, 5],
        ];
        Mesh { vertices, faces }
    }

    fn object(name: &str, mesh: Mesh) -> Object {
        Object {
            name: name.into(),
            mesh,
            tool: None,
            group: None,
        }
    }

    /// The signed volume `check` reports.
    fn signed_volume(m: &Mesh) -> f64 {
        crate::mesh::check::check(m).volume_mm3
    }

    #[test]
    fn single_object_is_centred_and_dropped() {
        let mut objs = vec![object("c", cube(20.0, [-50.0, 30.0, 12.0]))];
        let bed = Bed::corner_origin(220.0, 220.0, 250.0);
        let p = arrange(&mut objs, &[Transform::default()], &bed, DEFAULT_SPACING).unwrap();
        assert_eq!(p[0].bbox.min, [100.0, 100.0, 0.0]);
        assert_eq!(p[0].bbox.max, [120.0, 120.0, 20.0]);
    }

    #[test]
    fn scale_and_rotation_change_size() {
        let mut objs = vec![object("c", cube(10.0, [0.0; 3]))];
        let bed = Bed::corner_origin(220.0, 220.0, 250.0);
        let t = Transform {
            scale: [2.0, 1.0, 3.0],
            rotate_deg: [0.0, 0.0, 90.0],
        };
        let p = arrange(&mut objs, &[t], &bed, DEFAULT_SPACING).unwrap();
        let s = p[0].bbox.size();
        assert!((s[0] - 10.0).abs() < 1e-4 && (s[1] - 20.0).abs() < 1e-4);
        assert!((s[2] - 30.0).abs() < 1e-4);
        assert!((signed_volume(&objs[0].mesh) - 6000.0).abs() < 0.1);
    }

    #[test]
    fn mirroring_keeps_faces_outward() {
        let mut m = cube(10.0, [0.0; 3]);
        let t = Transform {
            scale: [-1.0, 1.0, 1.0],
            rotate_deg: [0.0; 3],
        };
        apply(&mut m, &t.matrix());
        assert!((signed_volume(&m) - 1000.0).abs() < 1e-3);
    }

    #[test]
    fn several_objects_do_not_overlap() {
        let mut objs: Vec<Object> = (0..7)
            .map(|i| object(&format!("c{i}"), cube(30.0 + i as f32 * 5.0, [0.0; 3])))
            .collect();
        let bed = Bed::corner_origin(220.0, 220.0, 250.0);
        let p = arrange(&mut objs, &[Transform::default()], &bed, DEFAULT_SPACING).unwrap();
        for (i, a) in p.iter().enumerate() {
            assert!(a.bbox.min[0] >= 0.0 && a.bbox.max[0] <= 220.0);
            assert!(a.bbox.min[1] >= 0.0 && a.bbox.max[1] <= 220.0);
            for b in &p[i + 1..] {
                let apart = a.bbox.max[0] + DEFAULT_SPACING <= b.bbox.min[0] + 1e-6
                    || b.bbox.max[0] + DEFAULT_SPACING <= a.bbox.min[0] + 1e-6
                    || a.bbox.max[1] + DEFAULT_SPACING <= b.bbox.min[1] + 1e-6
                    || b.bbox.max[1] + DEFAULT_SPACING <= a.bbox.min[1] + 1e-6;
                assert!(apart, "{} and {} overlap", a.name, b.name);
            }
        }
    }

    #[test]
    fn oversized_model_gets_a_unit_hint() {
        let mut objs = vec![object("skull", cube(150_000.0, [0.0; 3]))];
        let bed = Bed::corner_origin(220.0, 220.0, 250.0);
        let e = arrange(&mut objs, &[Transform::default()], &bed, DEFAULT_SPACING).unwrap_err();
        let msg = e.to_string();
        assert!(msg.contains("150000.0 x 150000.0 x 150000.0 mm"), "{msg}");
        assert!(msg.contains("220.0 x 220.0 x 250.0"), "{msg}");
        assert!(msg.contains("--scale 0.001"), "{msg}");
    }

    #[test]
    fn model_in_metres_gets_scale_hint() {
        let mut objs = vec![object("skull", cube(0.15, [0.0; 3]))];
        let bed = Bed::corner_origin(220.0, 220.0, 250.0);
        let e = arrange(&mut objs, &[Transform::default()], &bed, DEFAULT_SPACING).unwrap_err();
        assert!(e.to_string().contains("--scale 1000"), "{e}");
    }

    #[test]
    fn slightly_too_large_model_suggests_a_scale_that_fits() {
        let mut objs = vec![object("c", cube(240.0, [0.0; 3]))];
        let bed = Bed::corner_origin(220.0, 220.0, 250.0);
        let e = arrange(&mut objs, &[Transform::default()], &bed, DEFAULT_SPACING).unwrap_err();
        let msg = e.to_string();
        let s: f64 = msg
            .split("--scale ")
            .nth(1)
            .and_then(|r| r.split(')').next())
            .and_then(|v| v.parse().ok())
            .expect("a scale in the hint");
        assert!(240.0 * s <= 220.0, "{msg}");
    }

    #[test]
    fn too_many_objects_fill_the_bed() {
        let mut objs: Vec<Object> = (0..9)
            .map(|i| object(&format!("c{i}"), cube(100.0, [0.0; 3])))
            .collect();
        let bed = Bed::corner_origin(220.0, 220.0, 250.0);
        let e = arrange(&mut objs, &[Transform::default()], &bed, DEFAULT_SPACING).unwrap_err();
        assert!(matches!(e, PlaceError::BedFull { count: 9, .. }), "{e}");
    }
}
