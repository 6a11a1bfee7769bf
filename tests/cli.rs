//! The `lamina` binary as a user meets it: help, exit codes, clear errors on bad input,
//! no half-written output, inspect and repair end to end.

mod common;

use std::path::Path;
use std::process::{Command, Output};

use lamina::mesh::{io, shapes};

fn lamina(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_lamina"))
        .args(args)
        .output()
        .unwrap()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

#[test]
fn every_command_has_help_with_examples() {
    for cmd in ["slice", "inspect", "repair", "profiles"] {
        let o = lamina(&[cmd, "--help"]);
        assert!(o.status.success(), "{cmd}");
        let text = String::from_utf8_lossy(&o.stdout);
        assert!(text.contains("Examples:"), "{cmd} --help has no examples");
    }
}

#[test]
fn usage_errors_exit_2() {
    assert_eq!(lamina(&["slice"]).status.code(), Some(2));
    assert_eq!(lamina(&["no-such-command"]).status.code(), Some(2));
    assert_eq!(
        lamina(&["slice", "x.stl", "-o", "y.gcode", "--support", "maybe"])
            .status
            .code(),
        Some(2)
    );
}

#[test]
fn bad_input_is_one_clear_sentence_and_exit_1() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::write(d.join("empty.stl"), b"").unwrap();
    let mut bytes = Vec::new();
    {
        let p = d.join("good.stl");
        io::write_stl(&p, &shapes::cuboid([0.0; 3], [10.0; 3])).unwrap();
        bytes = std::fs::read(&p)
            .map(|b| b[..b.len() - 30].to_vec())
            .unwrap_or(bytes);
    }
    std::fs::write(d.join("truncated.stl"), &bytes).unwrap();
    std::fs::write(d.join("notes.txt"), b"hello, this is not a mesh").unwrap();
    let cases = [
        ("empty.stl", "the file is empty"),
        ("truncated.stl", "truncated"),
        ("notes.txt", "unknown mesh format"),
        ("missing.stl", "cannot open"),
    ];
    for (file, needle) in cases {
        let path = d.join(file);
        let out = d.join("out.gcode");
        for args in [
            vec!["inspect", path.to_str().unwrap()],
            vec!["slice", path.to_str().unwrap(), "-o", out.to_str().unwrap()],
        ] {
            let o = lamina(&args);
            assert_eq!(o.status.code(), Some(1), "{args:?}");
            let e = stderr(&o);
            assert!(
                e.starts_with("error: ") && e.contains(file) && e.contains(needle),
                "{e}"
            );
            assert_eq!(e.trim().lines().count(), 1, "one line: {e}");
            assert!(!out.exists(), "a failed slice must not leave output");
        }
    }
    // A model too large for the printer says so, with the sizes and a hint.
    let big = d.join("big.stl");
    io::write_stl(&big, &shapes::cuboid([0.0; 3], [150_000.0; 3])).unwrap();
    let o = lamina(&[
        "slice",
        big.to_str().unwrap(),
        "-o",
        d.join("b.gcode").to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(1));
    let e = stderr(&o);
    assert!(
        e.contains("does not fit") && e.contains("220.0 x 220.0 x 250.0") && e.contains("--scale"),
        "{e}"
    );
    // A bad profile setting names the setting (a usage error).
    let cube = d.join("good.stl");
    let o = lamina(&[
        "slice",
        cube.to_str().unwrap(),
        "-o",
        d.join("c.gcode").to_str().unwrap(),
        "--set",
        "perimters=3",
    ]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).contains("did you mean 'perimeters'"),
        "{}",
        stderr(&o)
    );
}

#[test]
fn failed_write_leaves_the_old_file() {
    let dir = tempfile::tempdir().unwrap();
    let model = dir.path().join("cube.stl");
    io::write_stl(&model, &shapes::cuboid([0.0; 3], [10.0; 3])).unwrap();
    let out = dir.path().join("cube.gcode");
    std::fs::write(&out, "old").unwrap();
    // An invalid setting fails before writing: the old file stays as it was.
    let o = lamina(&[
        "slice",
        model.to_str().unwrap(),
        "-o",
        out.to_str().unwrap(),
        "--set",
        "layer_height=5",
    ]);
    assert_eq!(o.status.code(), Some(2));
    assert_eq!(std::fs::read_to_string(&out).unwrap(), "old");
    // No temporary files are left behind.
    let leftovers: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .filter_map(|e| e.ok())
        .filter(|e| e.file_name().to_string_lossy().contains(".part"))
        .collect();
    assert!(leftovers.is_empty());
}

#[test]
fn inspect_json_and_repair_make_a_holed_mesh_watertight() {
    let dir = tempfile::tempdir().unwrap();
    let mut m = shapes::uv_sphere([0.0; 3], 10.0, 30, 60);
    m.faces.remove(100);
    m.faces.remove(500);
    let holed = dir.path().join("holed.stl");
    io::write_stl(&holed, &m).unwrap();
    let o = lamina(&["inspect", holed.to_str().unwrap(), "--json"]);
    assert!(o.status.success());
    let j: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let r = &j[0]["report"];
    assert_eq!(r["boundary_loops"], 2);
    assert_eq!(r["watertight"], false);
    let fixed = dir.path().join("fixed.stl");
    let o = lamina(&[
        "repair",
        holed.to_str().unwrap(),
        "-o",
        fixed.to_str().unwrap(),
        "--json",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let j: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(j["objects"][0]["report"]["holes_filled"], 2);
    let o = lamina(&["inspect", fixed.to_str().unwrap(), "--json"]);
    let j: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(j[0]["report"]["watertight"], true);
    trimesh_agrees_watertight(&fixed);
}

/// When Python with trimesh is installed, it must agree that the file is watertight.
fn trimesh_agrees_watertight(path: &Path) {
    let script = format!(
        "import trimesh; m = trimesh.load(r'{}'); print(m.is_watertight and m.is_winding_consistent)",
        path.display()
    );
    match Command::new("python3").args(["-c", &script]).output() {
        Ok(o) if o.status.success() => {
            assert_eq!(
                String::from_utf8_lossy(&o.stdout).trim(),
                "True",
                "trimesh disagrees"
            );
        }
        _ => common::skip("the trimesh cross-check needs python3 with trimesh"),
    }
}

#[test]
fn repaired_shared_meshes_are_watertight_for_trimesh() {
    let Some(dir) = common::shared_meshes() else {
        return;
    };
    let tmp = tempfile::tempdir().unwrap();
    for file in [
        "aneurysm_bifurcation_01.stl",
        "artery_ica_aneurisk_c0015.stl",
        "aorta_flipped_normals_01.stl",
    ] {
        let out = tmp.path().join(file);
        let o = lamina(&[
            "repair",
            dir.join(file).to_str().unwrap(),
            "-o",
            out.to_str().unwrap(),
            "-q",
        ]);
        assert!(o.status.success(), "{file}: {}", stderr(&o));
        let o = lamina(&["inspect", out.to_str().unwrap(), "--json"]);
        let j: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
        assert_eq!(j[0]["report"]["watertight"], true, "{file}");
        assert!(
            j[0]["report"]["volume_mm3"].as_f64().unwrap() > 0.0,
            "{file} faces outward"
        );
        trimesh_agrees_watertight(&out);
    }
}

#[test]
fn profiles_list_and_show() {
    let o = lamina(&["profiles", "list", "--json"]);
    assert!(o.status.success());
    let j: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert!(j.as_array().unwrap().len() >= 13);
    let o = lamina(&["profiles", "show", "pva", "--json"]);
    let j: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(j["values"]["soluble"], true);
    let o = lamina(&["profiles", "show", "ender3"]);
    assert_eq!(o.status.code(), Some(2));
}

#[test]
fn slice_preview_writes_a_contact_sheet_and_a_side_view() {
    let dir = tempfile::tempdir().unwrap();
    let model = dir.path().join("cube.stl");
    io::write_stl(&model, &shapes::cuboid([0.0; 3], [20.0, 20.0, 4.0])).unwrap();
    let out = dir.path().join("cube.gcode");
    let pics = dir.path().join("pics");
    let o = lamina(&[
        "slice",
        model.to_str().unwrap(),
        "-o",
        out.to_str().unwrap(),
        "--preview",
        pics.to_str().unwrap(),
        "--json",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let json: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let listed = json["preview"].as_array().expect("pictures listed");
    assert_eq!(listed.len(), 2);
    for p in listed {
        let bytes = std::fs::read(p.as_str().unwrap()).expect("picture written");
        assert!(bytes.starts_with(b"\x89PNG\r\n\x1a\n"), "{p} is a PNG");
        assert!(bytes.len() > 2000, "{p} has content");
    }
    // Thumbnails from the printer profile are in the G-code header.
    let gcode = std::fs::read_to_string(&out).unwrap();
    assert!(gcode.contains("; thumbnail begin 220x124"));
}

#[test]
fn compare_lists_each_strategy() {
    let dir = tempfile::tempdir().unwrap();
    let model = dir.path().join("t.stl");
    let t = shapes::merge(&[
        shapes::cuboid([12.0, 0.0, 0.0], [18.0, 10.0, 10.0]),
        shapes::cuboid([0.0, 0.0, 10.0], [30.0, 10.0, 14.0]),
    ]);
    io::write_stl(&model, &t).unwrap();
    let o = lamina(&[
        "compare",
        model.to_str().unwrap(),
        "--support",
        "none,grid,tree",
        "--json",
        "-q",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let rows: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let rows = rows.as_array().expect("a row per strategy");
    assert_eq!(rows.len(), 3);
    assert_eq!(rows[0]["support_filament_mm"].as_f64(), Some(0.0));
    for r in &rows[1..] {
        assert!(r["support_filament_mm"].as_f64().unwrap() > 10.0, "{r}");
        assert!(r["contact_area_mm2"].as_f64().unwrap() > 0.0, "{r}");
    }
    assert!(rows[1]["time_s"].as_f64() > rows[0]["time_s"].as_f64());
    let bad = lamina(&["compare", model.to_str().unwrap(), "--support", "glue"]);
    assert_eq!(bad.status.code(), Some(2));
    assert!(stderr(&bad).contains("glue"));
}

/// A corrupt tool number is refused before the port is opened, naming the line; the
/// same file with a real tool number gets as far as the port (which does not exist).
#[test]
fn stream_refuses_an_absurd_tool_number_naming_the_line() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("corrupt.gcode");
    let port = dir.path().join("no-such-port");
    let run = |body: &str| {
        std::fs::write(&file, body).unwrap();
        lamina(&[
            "stream",
            file.to_str().unwrap(),
            "--port",
            port.to_str().unwrap(),
        ])
    };
    let out = run("G28\nG1 X10 Y10 F3000\nM104 T4000000000 S200\nG1 X20\n");
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let e = stderr(&out);
    assert!(
        e.contains("corrupt.gcode line 3: `M104 T4000000000 S200`"),
        "{e}"
    );
    assert!(!e.contains("no-such-port"), "refused before the port: {e}");
    // Negative control: tool 1 passes the check and fails at the port instead.
    let out = run("G28\nG1 X10 Y10 F3000\nM104 T1 S200\nG1 X20\n");
    assert_eq!(out.status.code(), Some(1));
    let e = stderr(&out);
    assert!(e.contains("no-such-port") && !e.contains("line 3"), "{e}");
}
