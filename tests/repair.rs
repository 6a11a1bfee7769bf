//! `lamina repair` on the real anatomical meshes in ../shared/meshes: it never adds a
//! defect (every count `lamina inspect` reports is lower or equal afterwards, and
//! trimesh, an outside opinion, agrees), inspect and repair count duplicates alike, and
//! the output format follows -o's extension.

mod common;
mod run;

use std::path::{Path, PathBuf};
use std::process::Command;

use lamina::mesh::{io, shapes};
use run::{lamina, s};

fn shared() -> Option<PathBuf> {
    common::shared_meshes()
}

/// The shared meshes repaired in CI.
const SMALL: [&str; 8] = [
    "aneurysm_bifurcation_01.stl",
    "aorta_flipped_normals_01.stl",
    "aorta_segment_01.stl",
    "artery_ica_aneurisk_c0015.stl",
    "brain_mri_seg02_1p5mm.stl",
    "heart_ct_defects_01.stl",
    "skull_mri_seg03_1p5mm.stl",
    "skull_scan_yahoo_01.stl",
];

/// The two largest (0.9 and 1.1 million triangles), left out of CI for time.
const LARGE: [&str; 2] = ["brain_mri_seg10_0p8mm.stl", "skull_mri_seg14_1mm_voxel.stl"];

/// The counts of `lamina inspect --json` that are defects (a repair must not raise
/// them), and the number of pieces.
const DEFECTS: [&str; 8] = [
    "boundary_edges",
    "boundary_loops",
    "non_manifold_edges",
    "inconsistent_edges",
    "degenerate_faces",
    "duplicate_faces",
    "inside_out_shells",
    "shells",
];

/// Defect counts by trimesh and numpy, for each file given: boundary, non-manifold and
/// disagreeing-winding edges, faces without area, faces on the same three vertices as
/// another, and face-connected bodies.
const TRIMESH_COUNTS: &str = r#"
import json, sys
import numpy as np, trimesh
out = []
for path in sys.argv[1:]:
    m = trimesh.load(path, force="mesh")
    f = m.faces
    e = np.sort(m.edges, axis=1)
    key, inverse, uses = np.unique(e, axis=0, return_inverse=True, return_counts=True)
    inverse = inverse.reshape(-1)
    forward = (m.edges[:, 0] < m.edges[:, 1]).astype(int)
    fwd = np.bincount(inverse, weights=forward, minlength=len(key))
    two = uses == 2
    _, group = np.unique(np.sort(f, axis=1), axis=0, return_counts=True)
    bodies = trimesh.graph.connected_components(m.face_adjacency, nodes=np.arange(len(f)), min_len=1)
    out.append({
        "boundary_edges": int((uses == 1).sum()),
        "non_manifold_edges": int((uses > 2).sum()),
        "inconsistent_edges": int((two & (fwd != 1)).sum()),
        "degenerate_faces": int((m.area_faces < 1e-12).sum()),
        "duplicate_faces": int(group[group > 1].sum()),
        "shells": len(bodies),
    })
print(json.dumps(out))
"#;

/// trimesh's counts for `files`, or `None` when Python with trimesh is not installed
/// (a failure when LAMINA_REQUIRE_DATA=1).
fn trimesh_counts(files: &[&Path]) -> Option<Vec<serde_json::Value>> {
    let mut cmd = Command::new("python3");
    cmd.arg("-c").arg(TRIMESH_COUNTS);
    for f in files {
        cmd.arg(f);
    }
    match cmd.output() {
        Ok(o) if o.status.success() => {
            let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
            Some(v.as_array().unwrap().clone())
        }
        Ok(o) => {
            let e = String::from_utf8_lossy(&o.stderr);
            common::skip(&format!("the trimesh cross-check could not run: {e}"));
            None
        }
        Err(e) => {
            common::skip(&format!("the trimesh cross-check needs python3 ({e})"));
            None
        }
    }
}

fn inspect(path: &Path) -> serde_json::Value {
    let o = lamina(&["inspect", s(path), "--json"]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let j: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    j[0]["report"].clone()
}

/// Repair each mesh and check that no count went up, by lamina's own inspect and by
/// trimesh; print the figures.
fn repair_never_adds_a_defect(files: &[&str]) {
    let Some(dir) = shared() else {
        return;
    };
    let tmp = tempfile::tempdir().unwrap();
    // (input, output, inspect before, inspect after) of each file.
    let mut repaired = Vec::new();
    for file in files {
        let input = dir.join(file);
        let output = tmp.path().join(file);
        let before = inspect(&input);
        let o = lamina(&["repair", s(&input), "-o", s(&output), "--json"]);
        assert!(
            o.status.success(),
            "{file}: {}",
            String::from_utf8_lossy(&o.stderr)
        );
        let json: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
        let report = &json["objects"][0]["report"];
        let after = inspect(&output);
        let mut line = format!("{file}:");
        for key in DEFECTS {
            let (b, a) = (before[key].as_u64().unwrap(), after[key].as_u64().unwrap());
            line += &format!(" {key} {b}->{a}");
            assert!(a <= b, "{file}: repair raised {key} from {b} to {a}");
        }
        println!("{line}");
        // One definition: what inspect counts is what repair removed or kept.
        let removed = report["duplicates_removed"].as_u64().unwrap_or(0);
        let kept = report["duplicates_kept"].as_u64().unwrap_or(0);
        assert_eq!(
            removed + kept,
            before["duplicate_faces"].as_u64().unwrap(),
            "{file}: duplicates"
        );
        assert_eq!(
            report["non_manifold_edges"], after["non_manifold_edges"],
            "{file}"
        );
        assert_eq!(
            report["watertight_after"].as_bool(),
            Some(after["watertight"] == true && after["winding_consistent"] == true),
            "{file}"
        );
        repaired.push((file, input, output, before, after));
    }
    // The outside opinion: trimesh's counts before and after, in one run of Python.
    let paths: Vec<&Path> = repaired
        .iter()
        .flat_map(|(_, i, o, _, _)| [i.as_path(), o.as_path()])
        .collect();
    let Some(t) = trimesh_counts(&paths) else {
        return;
    };
    for ((file, _, _, before, after), pair) in repaired.iter().zip(t.chunks(2)) {
        let (tb, ta) = (&pair[0], &pair[1]);
        let mut line = format!("{file} (trimesh):");
        for (key, value) in tb.as_object().unwrap() {
            let (b, a) = (value.as_u64().unwrap(), ta[key].as_u64().unwrap());
            line += &format!(" {key} {b}->{a}");
            assert!(a <= b, "{file}: trimesh counts {key} {b} before, {a} after");
            // And lamina counts as trimesh does.
            assert_eq!(before[key].as_u64(), Some(b), "{file}: {key} before");
            assert_eq!(after[key].as_u64(), Some(a), "{file}: {key} after");
        }
        println!("{line}");
    }
}

#[test]
fn repair_never_adds_a_defect_on_the_shared_meshes() {
    repair_never_adds_a_defect(&SMALL);
}

#[test]
#[ignore = "the two largest shared meshes take a minute: cargo test --release --test repair -- --ignored"]
fn repair_never_adds_a_defect_on_the_largest_shared_meshes() {
    repair_never_adds_a_defect(&LARGE);
}

#[test]
fn the_heart_with_defects_gets_no_hole_and_loses_its_duplicates() {
    let Some(dir) = shared() else {
        return;
    };
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("heart.stl");
    let input = dir.join("heart_ct_defects_01.stl");
    let o = lamina(&["repair", s(&input), "-o", s(&out), "-q"]);
    assert!(o.status.success());
    let (b, a) = (inspect(&input), inspect(&out));
    assert_eq!(
        (b["boundary_edges"].as_u64(), a["boundary_edges"].as_u64()),
        (Some(0), Some(0))
    );
    assert!(b["duplicate_faces"].as_u64().unwrap() > 0);
    assert_eq!(a["duplicate_faces"], 0);
    assert!(a["non_manifold_edges"].as_u64() < b["non_manifold_edges"].as_u64());
}

/// Read an OBJ or 3MF file with Python alone (no lamina code): (vertices, faces,
/// watertight as trimesh sees the faces).
const READ_OUTSIDE: &str = r#"
import json, sys, zipfile, re
import numpy as np, trimesh
path = sys.argv[1]
if path.lower().endswith(".obj"):
    v, f = [], []
    for line in open(path):
        w = line.split()
        if w and w[0] == "v": v.append([float(x) for x in w[1:4]])
        if w and w[0] == "f": f.append([int(x.split("/")[0]) - 1 for x in w[1:4]])
else:
    z = zipfile.ZipFile(path)
    xml = z.read("3D/3dmodel.model").decode()
    v = [[float(a), float(b), float(c)] for a, b, c in re.findall(r'<vertex x="([^"]+)" y="([^"]+)" z="([^"]+)"', xml)]
    f = [[int(a), int(b), int(c)] for a, b, c in re.findall(r'<triangle v1="(\d+)" v2="(\d+)" v3="(\d+)"', xml)]
m = trimesh.Trimesh(np.array(v), np.array(f), process=False)
print(json.dumps([len(v), len(f), bool(m.is_watertight and m.is_winding_consistent), float(m.volume)]))
"#;

#[test]
fn the_output_format_follows_the_extension_or_the_command_refuses() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let mut m = shapes::uv_sphere([0.0; 3], 10.0, 16, 32);
    m.faces.remove(40);
    let input = d.join("holed.stl");
    io::write_stl(&input, &m).unwrap();
    for ext in ["stl", "obj", "3mf", "OBJ"] {
        let out = d.join(format!("fixed.{ext}"));
        let o = lamina(&["repair", s(&input), "-o", s(&out), "-q"]);
        assert!(
            o.status.success(),
            "{ext}: {}",
            String::from_utf8_lossy(&o.stderr)
        );
        let bytes = std::fs::read(&out).unwrap();
        match ext.to_ascii_lowercase().as_str() {
            "stl" => assert_eq!(bytes.len(), 84 + 50 * m.faces.len().saturating_add(1)),
            "obj" => assert!(bytes.starts_with(b"# written by lamina\no ")),
            _ => assert!(bytes.starts_with(b"PK\x03\x04")),
        }
        // lamina reads it back watertight.
        let r = inspect(&out);
        assert_eq!(r["watertight"], true, "{ext}");
        // And so does an outside reader.
        if ext != "stl" {
            let o = Command::new("python3")
                .args(["-c", READ_OUTSIDE, s(&out)])
                .output();
            match o {
                Ok(o) if o.status.success() => {
                    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
                    assert_eq!(v[1].as_u64(), Some(m.faces.len() as u64 + 1), "{ext}: {v}");
                    assert_eq!(v[2], true, "{ext}: not watertight for trimesh");
                    assert!(v[3].as_f64().unwrap() > 4000.0, "{ext}: {v}");
                }
                other => common::skip(&format!("the outside reader could not run: {other:?}")),
            }
        }
    }
    for bad in ["fixed.ply", "fixed", "-"] {
        let out = d.join(bad);
        let target = if bad == "-" {
            "-".to_string()
        } else {
            s(&out).to_string()
        };
        let o = lamina(&["repair", s(&input), "-o", &target]);
        assert_eq!(o.status.code(), Some(2), "{bad}");
        assert!(String::from_utf8_lossy(&o.stderr).contains(".stl, .obj or .3mf"));
        assert!(!out.exists(), "{bad} was written");
    }
}
