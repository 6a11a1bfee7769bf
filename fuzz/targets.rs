//! What each fuzz target does with its input: read it as a user's file would be read and
//! check what came out. Shared by the cargo-fuzz targets (`fuzz/fuzz_targets`), the
//! tests that replay every input that once failed (`tests/fuzz.rs`,
//! `tests/fuzz_regressions/<target>/`) and their proptest stand-ins.
#![allow(dead_code)]

use lamina::gcode::{MachineConfig, estimate_gcode};
use lamina::mesh::check::check;
use lamina::mesh::io;
use lamina::mesh::repair::{RepairOptions, defect_counts, repair as repair_mesh};
use lamina::mesh::{Mesh, Object};
use lamina::preview::toolpath::{ParseOptions, parse_bytes};

/// A fuzz target: takes any bytes, panics on what it finds wrong.
pub type Target = fn(&[u8]);

/// Every target, by name, as the replay test finds its folder.
pub const TARGETS: [(&str, Target); 5] = [
    ("stl", stl),
    ("obj", obj),
    ("threemf", threemf),
    ("gcode", gcode),
    ("repair", repair),
];

/// What a reader hands on: faces within the vertices, every coordinate finite.
fn sound(objects: &[Object]) {
    for o in objects {
        let n = o.mesh.vertices.len();
        assert!(!o.mesh.faces.is_empty(), "an object without faces");
        assert!(
            o.mesh.faces.iter().flatten().all(|&v| (v as usize) < n),
            "a face refers to a missing vertex"
        );
        assert!(
            o.mesh.vertices.iter().flatten().all(|c| c.is_finite()),
            "a coordinate is not finite"
        );
    }
}

fn mesh_reader(data: &[u8], ext: &str) {
    if let Ok(objects) = io::read(data, "fuzz", Some(ext)) {
        sound(&objects);
    }
}

/// STL, binary or ASCII (the extension only breaks ties: any format may be found).
pub fn stl(data: &[u8]) {
    mesh_reader(data, "stl");
}

/// Wavefront OBJ.
pub fn obj(data: &[u8]) {
    mesh_reader(data, "obj");
}

/// 3MF packages.
pub fn threemf(data: &[u8]) {
    mesh_reader(data, "3mf");
}

/// G-code, read by the time estimator and by the preview's toolpath reader.
pub fn gcode(data: &[u8]) {
    let _ = estimate_gcode(data, &MachineConfig::default(), &[]);
    let _ = parse_bytes(data, &ParseOptions::default());
}

/// Vertices a repair input may have at most (on a small grid, so that faces share
/// vertices, edges and positions often).
const REPAIR_VERTICES: usize = 24;
/// Side of the grid the vertices lie on.
const REPAIR_GRID: u8 = 4;

/// A small mesh spelled by the bytes: the first gives the vertex count, the next that
/// many pick grid points, the rest are read three at a time as faces. Repair must
/// neither panic nor raise any defect count.
pub fn repair(data: &[u8]) {
    let Some((&n, rest)) = data.split_first() else {
        return;
    };
    let n = usize::from(n) % REPAIR_VERTICES + 1;
    if rest.len() < n {
        return;
    }
    let (points, faces) = rest.split_at(n);
    let g = REPAIR_GRID;
    let mesh = Mesh {
        vertices: points
            .iter()
            .map(|&p| {
                let p = p % (g * g * g);
                [p % g, p / g % g, p / (g * g)].map(f32::from)
            })
            .collect(),
        faces: faces
            .chunks_exact(3)
            .map(|f| [f[0], f[1], f[2]].map(|v| u32::from(v) % n as u32))
            .collect(),
    };
    if mesh.faces.is_empty() {
        return;
    }
    let before = check(&mesh);
    for options in [
        RepairOptions::default(),
        RepairOptions {
            max_hole_edges: 4,
            fill_holes: true,
        },
    ] {
        let (fixed, _) = repair_mesh(&mesh, &options);
        assert!(
            fixed
                .faces
                .iter()
                .flatten()
                .all(|&v| (v as usize) < fixed.vertices.len()),
            "a repaired face refers to a missing vertex"
        );
        let after = check(&fixed);
        for ((name, b), (_, a)) in defect_counts(&before)
            .into_iter()
            .zip(defect_counts(&after))
        {
            assert!(a <= b, "repair raised {name} from {b} to {a}");
        }
    }
}
