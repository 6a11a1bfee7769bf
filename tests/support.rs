//! Support judged from the G-code: points sampled on the model's downward-facing
//! surfaces flatter than the threshold must have extrusion right beneath them; no
//! support may lie inside the model or closer to it than the XY gap.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use common::fidelity::{GLayer, is_closed, parse_gcode, section};
use common::overhang::{held_fraction, overhang_points};
use lamina::mesh::{Mesh, io, shapes};

fn lamina() -> Command {
    Command::new(env!("CARGO_BIN_EXE_lamina"))
}

fn stl(dir: &Path, name: &str, mesh: &Mesh) -> PathBuf {
    let p = dir.join(format!("{name}.stl"));
    io::write_stl(&p, mesh).unwrap();
    p
}

/// Slice with arguments, returning the G-code and the JSON report.
fn slice(model: &Path, args: &[&str]) -> (Vec<GLayer>, serde_json::Value) {
    let out = model.with_extension(format!("{}.gcode", args.join("_").replace(['-', '='], "")));
    let o = lamina()
        .arg("slice")
        .arg(model)
        .arg("-o")
        .arg(&out)
        .arg("--json")
        .args(args)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let json: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    (parse_gcode(&std::fs::read_to_string(out).unwrap()), json)
}

fn placed(mesh: &Mesh) -> Mesh {
    let mut m = mesh.clone();
    let bb = m.bounding_box().unwrap();
    let c = bb.center();
    lamina::mesh::place::translate(&mut m, [110.0 - c[0], 110.0 - c[1], -bb.min[2]]);
    m
}

fn support_beads(l: &GLayer) -> impl Iterator<Item = &common::fidelity::Bead> {
    l.beads.iter().filter(|b| b.role.starts_with("Support"))
}

/// No support extrusion inside the model's section, nor closer to it than the gap.
fn assert_support_clear(m: &Mesh, layers: &[GLayer], min_gap: f64) {
    for l in layers {
        let boundary = section(&m.vertices, &m.faces, l.z - l.height / 2.0);
        // Inside and outside only mean something where the section closes (meshes
        // with holes leave it open); the distance is checked everywhere.
        let closed = is_closed(&boundary);
        for b in support_beads(l) {
            for p in [b.a, b.b, [(b.a[0] + b.b[0]) / 2.0, (b.a[1] + b.b[1]) / 2.0]] {
                let d = boundary
                    .iter()
                    .map(|s| {
                        let (dx, dy) = (s[1][0] - s[0][0], s[1][1] - s[0][1]);
                        let l2 = dx * dx + dy * dy;
                        let t = if l2 > 0.0 {
                            (((p[0] - s[0][0]) * dx + (p[1] - s[0][1]) * dy) / l2).clamp(0.0, 1.0)
                        } else {
                            0.0
                        };
                        (s[0][0] + t * dx - p[0]).hypot(s[0][1] + t * dy - p[1])
                    })
                    .fold(f64::INFINITY, f64::min);
                let crossings = boundary
                    .iter()
                    .filter(|s| {
                        (s[0][1] > p[1]) != (s[1][1] > p[1])
                            && s[0][0]
                                + (p[1] - s[0][1]) / (s[1][1] - s[0][1]) * (s[1][0] - s[0][0])
                                > p[0]
                    })
                    .count();
                assert!(
                    !closed || crossings % 2 == 0,
                    "support inside the model at z {} ({p:?})",
                    l.z
                );
                assert!(
                    d >= min_gap,
                    "support {d:.3} mm from the model at z {} ({p:?})",
                    l.z
                );
            }
        }
    }
}

const ANGLE: f64 = 55.0;

#[test]
fn t_shape_bar_is_held_and_the_stem_is_bare() {
    let dir = tempfile::tempdir().unwrap();
    let t = shapes::merge(&[
        shapes::cuboid([8.0, 0.0, 0.0], [12.0, 10.0, 15.0]),
        shapes::cuboid([0.0, 0.0, 15.0], [20.0, 10.0, 18.0]),
    ]);
    let model = stl(dir.path(), "t", &t);
    let m = placed(&t);
    let points = overhang_points(&m, ANGLE, 0.5);
    assert!(!points.is_empty());
    for style in ["grid", "tree"] {
        let (layers, json) = slice(&model, &["--support", style]);
        let held = held_fraction(&points, &layers, 1.0, 0.2 + 2.0 * 0.2 + 1e-6);
        println!("T-shape {style}: {held:.3} held, {}", json["support"]);
        assert!(held >= 0.95, "{style}: {held}");
        assert_support_clear(&m, &layers, 0.6 - 0.1);
        // No support on the stem's sides: nothing below the bar outside its shadow.
        for l in &layers {
            for b in support_beads(l) {
                assert!(
                    b.a[0] > 99.0 && b.a[0] < 121.0,
                    "{style}: support outside the bar's shadow"
                );
            }
        }
    }
    let (none, json) = slice(&model, &["--support", "none"]);
    assert!(none.iter().all(|l| support_beads(l).next().is_none()));
    assert!(json["support"].is_null());
}

#[test]
fn sphere_on_the_bed_is_held_below_the_threshold() {
    let dir = tempfile::tempdir().unwrap();
    let sphere = shapes::uv_sphere([0.0, 0.0, 10.0], 10.0, 60, 120);
    let model = stl(dir.path(), "sphere", &sphere);
    let m = placed(&sphere);
    let points = overhang_points(&m, ANGLE, 0.3);
    for style in ["grid", "tree"] {
        let (layers, _) = slice(&model, &["--support", style]);
        let held = held_fraction(&points, &layers, 1.0, 0.2 + 2.0 * 0.2 + 1e-6);
        println!("sphere {style}: {held:.3} held");
        assert!(held >= 0.95, "{style}: {held}");
        assert_support_clear(&m, &layers, 0.5);
        // Nothing supports the upper hemisphere.
        for l in layers.iter().filter(|l| l.z > 10.5) {
            assert!(support_beads(l).next().is_none(), "support at z {}", l.z);
        }
    }
}

#[test]
fn arch_bridge_is_supported_only_when_asked() {
    let dir = tempfile::tempdir().unwrap();
    let arch = shapes::merge(&[
        shapes::cuboid([0.0, 0.0, 0.0], [5.0, 10.0, 10.0]),
        shapes::cuboid([15.0, 0.0, 0.0], [20.0, 10.0, 10.0]),
        shapes::cuboid([0.0, 0.0, 10.0], [20.0, 10.0, 12.0]),
    ]);
    let model = stl(dir.path(), "arch", &arch);
    let count = |layers: &[GLayer]| {
        layers
            .iter()
            .map(|l| support_beads(l).count())
            .sum::<usize>()
    };
    let (with, _) = slice(&model, &["--support", "grid"]);
    let (without, _) = slice(
        &model,
        &["--support", "grid", "--set", "support_bridges=false"],
    );
    assert!(count(&with) > 0);
    assert_eq!(count(&without), 0);
    // The bridge itself is printed as bridge infill over the gap.
    let bridge_layer = without.iter().find(|l| (l.z - 10.2).abs() < 1e-6).unwrap();
    assert!(bridge_layer.beads.iter().any(|b| b.role == "Bridge infill"));
}

#[test]
fn horizontal_tube_lumen_support_can_be_left_out() {
    let dir = tempfile::tempdir().unwrap();
    // A tube lying along X: rotate a standing tube by 90° about Y.
    let tube = shapes::tube([0.0; 3], 3.0, 4.0, 30.0, 64);
    let model = stl(dir.path(), "tube", &tube);
    let (allow, a) = slice(&model, &["--support", "grid", "--rotate", "0,90,0"]);
    let (none, b) = slice(
        &model,
        &[
            "--support",
            "grid",
            "--rotate",
            "0,90,0",
            "--support-inside",
            "none",
        ],
    );
    let inside = |layers: &[GLayer]| {
        // Support within the lumen: |y - 110| < 2.5 mm, 1 < z < 7 (the lumen spans z
        // 1..7), away from the open ends (the tube spans x 95..125).
        layers
            .iter()
            .filter(|l| l.z > 1.4 && l.z < 6.6)
            .flat_map(|l| support_beads(l).map(move |b| (l, b)))
            .filter(|(_, b)| (b.a[1] - 110.0).abs() < 2.5 && (96.0..124.0).contains(&b.a[0]))
            .count()
    };
    assert!(
        inside(&allow) > 0,
        "the lumen's ceiling needs support when allowed"
    );
    assert!(a["support"]["interior_volume_mm3"].as_f64().unwrap() > 10.0);
    assert_eq!(
        inside(&none),
        0,
        "nothing inside the lumen with --support-inside none"
    );
    assert_eq!(b["support"]["interior_removed"], true);
    // The outside of the tube is still held from below.
    assert!(none.iter().any(|l| support_beads(l).next().is_some()));
}

#[test]
fn tree_uses_less_material_and_touches_less() {
    let dir = tempfile::tempdir().unwrap();
    // A branching vessel: a trunk with two branches leaving it nearly sideways (15°
    // above the horizontal), their undersides overhanging.
    let branch = shapes::tube([0.0; 3], 2.2, 3.0, 22.0, 48);
    let mut left = common::turned(&branch, -75.0);
    let mut right = common::turned(&branch, 75.0);
    lamina::mesh::place::translate(&mut left, [0.0, 0.0, 14.0]);
    lamina::mesh::place::translate(&mut right, [0.0, 0.0, 14.0]);
    let vessel = shapes::merge(&[shapes::tube([0.0; 3], 2.2, 3.0, 17.0, 48), left, right]);
    let model = stl(dir.path(), "branching", &vessel);
    let m = placed(&vessel);
    let points = overhang_points(&m, ANGLE, 0.3);
    let (grid, g) = slice(&model, &["--support", "grid"]);
    let (tree, t) = slice(&model, &["--support", "tree"]);
    let held_g = held_fraction(&points, &grid, 1.0, 0.6 + 1e-6);
    let held_t = held_fraction(&points, &tree, 1.0, 0.6 + 1e-6);
    let fg = g["support"]["filament_mm"].as_f64().unwrap();
    let ft = t["support"]["filament_mm"].as_f64().unwrap();
    let cg = g["support"]["contact_area_mm2"].as_f64().unwrap();
    let ct = t["support"]["contact_area_mm2"].as_f64().unwrap();
    println!(
        "branching vessel: {} overhang points; grid {held_g:.3} held, {fg:.0} mm, contact {cg:.1} mm²; tree {held_t:.3} held, {ft:.0} mm, contact {ct:.1} mm²",
        points.len()
    );
    assert!(held_g >= 0.95 && held_t >= 0.95, "{held_g} {held_t}");
    assert!(ft > 0.0 && ft <= 0.6 * fg, "tree {ft} vs grid {fg}");
    assert!(ct > 0.0 && ct < cg);
    assert_support_clear(&m, &grid, 0.5);
    assert_support_clear(&m, &tree, 0.5);
}

#[test]
fn buildplate_only_keeps_support_off_the_model() {
    let dir = tempfile::tempdir().unwrap();
    let shelf = shapes::merge(&[
        shapes::cuboid([0.0, 0.0, 0.0], [4.0, 10.0, 14.0]),
        shapes::cuboid([4.0, 0.0, 12.0], [24.0, 10.0, 14.0]),
        shapes::cuboid([6.0, 0.0, 0.0], [12.0, 10.0, 5.0]),
    ]);
    let model = stl(dir.path(), "shelf", &shelf);
    let (layers, _) = slice(
        &model,
        &["--support", "grid", "--set", "support_buildplate_only=true"],
    );
    // The lower part spans x 6..12 of the model (placed: centred on X 110).
    let x0 = 110.0 - 12.0;
    for l in layers.iter().filter(|l| l.z > 5.0) {
        for b in support_beads(l) {
            let x = (b.a[0] + b.b[0]) / 2.0 - x0;
            assert!(
                !(6.0..12.0).contains(&x),
                "support above the lower part at z {} x {x}",
                l.z
            );
        }
    }
    assert!(layers.iter().any(|l| support_beads(l).next().is_some()));
}

/// The shared anatomical meshes nobody tuned for (the small ones, so the suite stays
/// quick): grid and tree hold at least 95% of the overhang points and keep clear of
/// the model; tree spends less.
#[test]
fn real_vessels_are_held_by_grid_and_tree() {
    let Some(shared) = common::shared_meshes() else {
        return;
    };
    for name in [
        "artery_ica_aneurisk_c0015.stl",
        "aneurysm_bifurcation_01.stl",
        "aorta_segment_01.stl",
    ] {
        let path = shared.join(name);
        let mesh = io::load(&path).unwrap().remove(0).mesh;
        let m = placed(&mesh);
        let points = overhang_points(&m, ANGLE, 0.3);
        let dir = tempfile::tempdir().unwrap();
        let model = dir.path().join(name);
        std::fs::copy(&path, &model).unwrap();
        let mut spent = Vec::new();
        for style in ["grid", "tree"] {
            let (layers, json) = slice(&model, &["--support", style]);
            let held = held_fraction(&points, &layers, 1.0, 0.6 + 1e-6);
            let f = json["support"]["filament_mm"].as_f64().unwrap();
            let c = json["support"]["contact_area_mm2"].as_f64().unwrap();
            println!(
                "{name} {style}: {} overhang points, {held:.3} held, {f:.0} mm, contact {c:.1} mm²",
                points.len()
            );
            assert!(held >= 0.95, "{name} {style}: {held:.3} held");
            assert_support_clear(&m, &layers, 0.5);
            spent.push(f);
        }
        assert!(spent[1] < spent[0], "{name}: tree {spent:?}");
    }
}
