//! Helpers shared by the integration tests.
#![allow(dead_code)]

pub mod fidelity;
pub mod overhang;

use std::path::PathBuf;

use lamina::mesh::{Mesh, place};

/// A mesh turned about Y by `deg` degrees.
pub fn turned(m: &Mesh, deg: f64) -> Mesh {
    let mut m = m.clone();
    let t = place::Transform {
        scale: [1.0; 3],
        rotate_deg: [0.0, deg, 0.0],
    };
    place::apply(&mut m, &t.matrix());
    m
}

/// The shared anatomical meshes, when the folder is there (it sits beside the project).
pub fn shared_meshes() -> Option<PathBuf> {
    let dir = PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../shared/meshes"));
    if dir.is_dir() {
        Some(dir)
    } else {
        eprintln!("skipping: ../shared/meshes not found");
        None
    }
}

/// One row of [`TRIMESH`].
pub type TrimeshRow = (
    &'static str,
    usize,
    usize,
    bool,
    usize,
    usize,
    usize,
    Option<f64>,
);

/// Figures trimesh 5.2 gives for the shared meshes (from the folder's README): file,
/// triangles, welded vertices, watertight, bodies, boundary edges, non-manifold edges,
/// signed volume in cm³ (None where the README calls it not meaningful).
pub const TRIMESH: [TrimeshRow; 10] = [
    (
        "aneurysm_bifurcation_01.stl",
        44_443,
        22_365,
        false,
        1,
        289,
        0,
        None,
    ),
    (
        "aorta_segment_01.stl",
        24_372,
        12_188,
        true,
        1,
        0,
        0,
        Some(36.3),
    ),
    (
        "brain_mri_seg02_1p5mm.stl",
        268_878,
        134_081,
        false,
        129,
        0,
        4,
        Some(1183.3),
    ),
    (
        "heart_ct_defects_01.stl",
        65_734,
        32_033,
        false,
        78,
        0,
        179,
        Some(1046.0),
    ),
    (
        "skull_mri_seg03_1p5mm.stl",
        298_014,
        148_590,
        false,
        184,
        0,
        14,
        Some(493.8),
    ),
    (
        "skull_scan_yahoo_01.stl",
        100_002,
        49_999,
        true,
        1,
        0,
        0,
        Some(2098.1),
    ),
    (
        "aorta_flipped_normals_01.stl",
        12_932,
        6_468,
        true,
        1,
        0,
        0,
        Some(-13.2),
    ),
    (
        "artery_ica_aneurisk_c0015.stl",
        7_485,
        3_862,
        false,
        1,
        241,
        0,
        None,
    ),
    (
        "brain_mri_seg10_0p8mm.stl",
        859_860,
        429_505,
        false,
        56,
        0,
        2,
        Some(1095.0),
    ),
    (
        "skull_mri_seg14_1mm_voxel.stl",
        1_078_622,
        533_259,
        false,
        4361,
        0,
        477,
        Some(612.7),
    ),
];
