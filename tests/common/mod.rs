//! Helpers shared by the integration tests.
#![allow(dead_code)]

pub mod checker;
pub mod fidelity;
pub mod overhang;
pub mod support;
pub mod travel;

use std::io::Write;
use std::path::PathBuf;

use lamina::mesh::{Mesh, place, shapes};

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

/// Whether a test that lacks what it needs must fail rather than skip: CI sets
/// `LAMINA_REQUIRE_DATA=1` so nothing is skipped there unseen.
pub fn data_required() -> bool {
    std::env::var("LAMINA_REQUIRE_DATA").is_ok_and(|v| v == "1")
}

/// Skip the running test because `why`: a failure under `LAMINA_REQUIRE_DATA=1`,
/// otherwise a line on the terminal. The line is written to the process's standard
/// error directly, past the harness's capture, so a passing run shows it too.
pub fn skip(why: &str) {
    let thread = std::thread::current();
    let test = thread.name().unwrap_or("a test");
    assert!(
        !data_required(),
        "{test}: {why}; LAMINA_REQUIRE_DATA=1 forbids skipping it"
    );
    let _ = writeln!(
        std::io::stderr(),
        "SKIPPED {test}: {why} (LAMINA_REQUIRE_DATA=1 makes this a failure)"
    );
}

/// The shared anatomical meshes, when the folder is there (it sits beside the project);
/// otherwise the test is skipped ([`skip`]).
pub fn shared_meshes() -> Option<PathBuf> {
    let dir = PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../shared/meshes"));
    if dir.is_dir() {
        Some(dir)
    } else {
        skip("../shared/meshes not found");
        None
    }
}

/// The mesh as the printer sees it: placed like lamina places a single model (its
/// bounding box centred on `center`, the bed's centre, and dropped onto Z = 0).
pub fn placed_at(mesh: &Mesh, center: [f64; 2]) -> Mesh {
    let mut m = mesh.clone();
    let bb = m.bounding_box().expect("a mesh with triangles");
    let c = bb.center();
    place::translate(&mut m, [center[0] - c[0], center[1] - c[1], -bb.min[2]]);
    m
}

/// Centre of the 220 mm bed of the default printer profile, mm.
pub const BED_CENTER: [f64; 2] = [110.0, 110.0];

/// Centre of the `dual-marlin` printer's 230 x 150 mm bed, mm.
pub const DUAL_BED_CENTER: [f64; 2] = [115.0, 75.0];

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

/// A T: a 6 x 10 mm stem under a 30 x 10 mm bar from z 10 to 14. The bar's underside
/// beside the stem, 24 x 10 mm, overhangs.
pub fn t_shape() -> Mesh {
    shapes::merge(&[
        shapes::cuboid([12.0, 0.0, 0.0], [18.0, 10.0, 10.0]),
        shapes::cuboid([0.0, 0.0, 10.0], [30.0, 10.0, 14.0]),
    ])
}

/// A 24 mm box with a closed 18 mm cavity: its ceiling overhangs inside the model.
pub fn hollow_box() -> Mesh {
    let mut cavity = shapes::cuboid([3.0, 3.0, 3.0], [21.0, 21.0, 21.0]);
    for f in &mut cavity.faces {
        f.swap(1, 2);
    }
    shapes::merge(&[shapes::cuboid([0.0; 3], [24.0, 24.0, 24.0]), cavity])
}

/// How a firmware reads E modes: Marlin 2 sets E's mode with every `G90`/`G91`;
/// Klipper (and Marlin 1) keep `M82`/`M83` apart, E being relative under `G91` too.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EModes {
    /// `G90`/`G91` set every axis, E included; `M82`/`M83` then set E alone.
    Marlin2,
    /// E is relative after `M83` or under `G91`; `G90` does not undo `M83`.
    Klipper,
}

/// The net filament (mm) each tool's G-code commands push (comments allowed), read as
/// `modes` says: `G92 E` sets E; a tool change (`T<n>`) keeps E's position.
pub fn filament_pushed<'a>(lines: impl IntoIterator<Item = &'a str>, modes: EModes) -> Vec<f64> {
    let (mut absolute_xyz, mut absolute_e, mut e) = (true, true, 0.0);
    let mut tool = 0usize;
    let mut net: Vec<f64> = vec![0.0];
    for line in lines {
        let mut words = line.split(';').next().unwrap_or("").split_whitespace();
        let code = words.next().unwrap_or("").to_ascii_uppercase();
        // Only moves and G92 read an E word (`M84 E` names the motor).
        let e_word = words
            .find_map(|w| w.strip_prefix(['E', 'e']))
            .filter(|_| matches!(code.as_str(), "G0" | "G1" | "G2" | "G3" | "G92"))
            .map(|v| v.parse::<f64>().expect("an E number"));
        match code.as_str() {
            "G90" | "G91" => {
                absolute_xyz = code == "G90";
                if modes == EModes::Marlin2 {
                    absolute_e = absolute_xyz;
                }
            }
            "M82" => absolute_e = true,
            "M83" => absolute_e = false,
            "G92" => e = e_word.unwrap_or(e),
            "G0" | "G1" | "G2" | "G3" => {
                if let Some(v) = e_word {
                    let relative = match modes {
                        EModes::Marlin2 => !absolute_e,
                        EModes::Klipper => !(absolute_xyz && absolute_e),
                    };
                    let to = if relative { e + v } else { v };
                    net[tool] += to - e;
                    e = to;
                }
            }
            t if t.starts_with('T') => {
                if let Ok(n) = t[1..].parse::<usize>() {
                    tool = n;
                    if net.len() <= n {
                        net.resize(n + 1, 0.0);
                    }
                }
            }
            _ => {}
        }
    }
    net
}
