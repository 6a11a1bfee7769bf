//! What `lamina slice` tells a lab about support, on the terminal and in `--json`:
//! overhangs left in the air, parts above the bed with nothing under them, support
//! filling the model's cavities. Each warning is checked against the known geometry
//! and against the same model sliced so that it must not appear.

mod common;

use std::path::Path;
use std::process::{Command, Output};

use lamina::mesh::{Mesh, io, shapes};
use serde_json::Value;

fn lamina(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_lamina"))
        .args(args)
        .output()
        .unwrap()
}

/// Slice with `--json`: the warnings' details and the text on standard error.
fn warnings(models: &[&Path], extra: &[&str]) -> (Vec<Value>, String) {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out.gcode");
    let mut args: Vec<&str> = vec!["slice"];
    args.extend(models.iter().map(|m| m.to_str().unwrap()));
    args.extend(["-o", out.to_str().unwrap(), "--json"]);
    args.extend(extra);
    let o = lamina(&args);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let j: Value = serde_json::from_slice(&o.stdout).unwrap();
    let details = j["warning_details"].as_array().unwrap().clone();
    // Every detailed warning is among the plain ones too.
    let plain: Vec<&str> = j["warnings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|w| w.as_str().unwrap())
        .collect();
    for d in &details {
        let m = d["message"].as_str().unwrap();
        assert!(plain.iter().any(|p| p.contains(m)), "{m} not in {plain:?}");
    }
    let without_json: Vec<&str> = args.iter().copied().filter(|a| *a != "--json").collect();
    let text = lamina(&without_json);
    (details, String::from_utf8_lossy(&text.stderr).into_owned())
}

fn of_kind<'a>(w: &'a [Value], kind: &str) -> Vec<&'a Value> {
    w.iter().filter(|w| w["kind"] == kind).collect()
}

fn write(dir: &Path, name: &str, m: &Mesh) -> std::path::PathBuf {
    let p = dir.join(name);
    io::write_stl(&p, m).unwrap();
    p
}

#[test]
fn overhang_without_support_is_told_with_its_area_and_height() {
    let dir = tempfile::tempdir().unwrap();
    let t = write(dir.path(), "t.stl", &common::t_shape());
    let (w, text) = warnings(&[&t], &["--support", "none"]);
    let over = of_kind(&w, "unsupported_overhang");
    assert_eq!(over.len(), 1, "{w:?}");
    let area = over[0]["area_mm2"].as_f64().unwrap();
    // The merged T keeps the stem's top inside the bar: the bar's whole underside,
    // 30 x 10 mm, faces down (the stem's 60 mm² of it are held by the stem, but a
    // triangle soup cannot tell): between the 240 mm² that overhang and 300.
    assert!((240.0..=300.0).contains(&area), "{area}");
    assert!((over[0]["z_from"].as_f64().unwrap() - 10.0).abs() < 0.01);
    assert!((over[0]["z_to"].as_f64().unwrap() - 10.0).abs() < 0.01);
    assert!(over[0]["hint"].as_str().unwrap().contains("--support"));
    assert!(
        text.contains("warning:") && text.contains("overhang"),
        "{text}"
    );
    // Held by support, or a model with nothing to hold: no warning.
    let (w, _) = warnings(&[&t], &["--support", "tree"]);
    assert!(of_kind(&w, "unsupported_overhang").is_empty(), "{w:?}");
    let cube = write(
        dir.path(),
        "cube.stl",
        &shapes::cuboid([0.0; 3], [20.0, 20.0, 20.0]),
    );
    let (w, _) = warnings(&[&cube], &["--support", "none"]);
    assert!(w.is_empty(), "{w:?}");
}

#[test]
fn a_part_above_the_bed_is_told() {
    let Some(shared) = common::shared_meshes() else {
        common::skip("../shared/meshes is missing");
        return;
    };
    let artery = shared.join("artery_ica_aneurisk_c0015.stl");
    let aneurysm = shared.join("aneurysm_bifurcation_01.stl");
    let on_tool_1 = format!("{}@1", aneurysm.display());
    let dual = [
        "--printer",
        "dual-marlin",
        "--material",
        "pla",
        "--material",
        "petg",
    ];
    let (w, text) = warnings(
        &[&artery, Path::new(&on_tool_1)],
        &[&dual[..], &["--support", "none"]].concat(),
    );
    let above = of_kind(&w, "starts_above_bed");
    assert_eq!(above.len(), 1, "{w:?}");
    assert_eq!(above[0]["object"], "artery_ica_aneurisk_c0015");
    assert!(above[0]["z_to"].as_f64().unwrap() > 1.0, "{w:?}");
    assert!(text.contains("nothing under it"), "{text}");
    // Each on its own stands on the bed; with support the part is held.
    let (w, _) = warnings(&[&artery], &["--support", "none"]);
    assert!(of_kind(&w, "starts_above_bed").is_empty(), "{w:?}");
    let (w, _) = warnings(
        &[&artery, Path::new(&on_tool_1)],
        &[&dual[..], &["--support", "tree"]].concat(),
    );
    assert!(of_kind(&w, "starts_above_bed").is_empty(), "{w:?}");
}

#[test]
fn support_inside_the_model_is_told() {
    let dir = tempfile::tempdir().unwrap();
    let b = write(dir.path(), "box.stl", &common::hollow_box());
    let fast = ["--set", "fill_density=0", "--set", "perimeters=1"];
    let (w, text) = warnings(&[&b], &[&fast[..], &["--support", "grid"]].concat());
    let inside = of_kind(&w, "support_inside");
    assert_eq!(inside.len(), 1, "{w:?}");
    // The cavity is 18 x 18 x 18 mm: the support in it, less its gaps, is most of that.
    let v = inside[0]["volume_mm3"].as_f64().unwrap();
    assert!((2000.0..=18.0f64.powi(3)).contains(&v), "{v}");
    assert!(text.contains("inside"), "{text}");
    // Left out on request: nothing to warn of.
    let (w, _) = warnings(
        &[&b],
        &[
            &fast[..],
            &["--support", "grid", "--support-inside", "none"],
        ]
        .concat(),
    );
    assert!(of_kind(&w, "support_inside").is_empty(), "{w:?}");
}

#[test]
fn overhang_of_a_vessel_wall_is_the_wall_s_own() {
    // A lumen lying along Y, r = 4 mm, 30 mm long, printed as a 1.2 mm wall without
    // support. Facing down flatter than 45° are the wall's outside below the lumen
    // (a quarter of the circle of r + T, less the strip within the first layer of the
    // bed, 0.2 mm by default) and the lumen's ceiling, the top quarter of its circle, seen from inside.
    let (r, t, len, first) = (4.0_f64, 1.2_f64, 30.0_f64, 0.2_f64);
    let dir = tempfile::tempdir().unwrap();
    let lumen = write(
        dir.path(),
        "lumen.stl",
        &shapes::cylinder([0.0, 0.0, 0.0], r, len, 96),
    );
    let (w, _) = warnings(
        &[&lumen],
        &[
            "--rotate",
            "90,0,0",
            "--vessel-wall",
            "1.2",
            "--support",
            "none",
            "--support-angle",
            "45",
        ],
    );
    // The wall stands on the bed though the lumen starts T above it.
    assert!(of_kind(&w, "starts_above_bed").is_empty(), "{w:?}");
    let over = of_kind(&w, "unsupported_overhang");
    assert_eq!(over.len(), 1, "{w:?}");
    let area = over[0]["area_mm2"].as_f64().unwrap();
    let quarter = std::f64::consts::FRAC_PI_2;
    let strip = 2.0 * (1.0 - first / (r + t)).acos() * (r + t) * len;
    let expected = quarter * r * len + quarter * (r + t) * len - strip;
    // The lumen's own underside, about 190 mm², is not the answer.
    assert!(
        (area - expected).abs() < 0.08 * expected,
        "{area} mm², expected {expected:.0}"
    );
}
