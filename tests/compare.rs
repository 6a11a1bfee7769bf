//! `lamina compare` measures each strategy from the G-code it writes: the held share of
//! overhang points, support on air, contact, support inside the model and retractions.
//! Its figures are checked against the independent checker in ../shared/tools on a real
//! vessel, and against known geometry (a T's underside, a closed cavity), each with the
//! case where the figure must come out the other way.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use common::checker;
use common::fidelity::parse_gcode;
use common::support::{CONTACT_LAYERS, contact_area, contact_under_mesh};
use lamina::mesh::{Mesh, io};
use serde_json::Value;

/// The support angle compared at, degrees from the horizontal (issue 14's).
const ANGLE: &str = "45";

/// The default profile's gap between the support's top and the model, mm.
const TOP_GAP: f64 = 0.2;

/// Largest difference allowed between compare's held share and the checker's: both
/// sample 2,000 points, so each is good to about 0.01.
const HELD_AGREE: f64 = 0.03;

/// Run `lamina compare --json` keeping the G-code in `dir`; its rows.
fn compare(models: &[&Path], strategies: &str, dir: &Path, extra: &[&str]) -> Vec<Value> {
    let mut args: Vec<&str> = vec!["-q", "compare"];
    args.extend(models.iter().map(|m| m.to_str().unwrap()));
    args.extend([
        "--support",
        strategies,
        "--support-angle",
        ANGLE,
        "--gcode-dir",
        dir.to_str().unwrap(),
        "--json",
    ]);
    args.extend(extra);
    let o = Command::new(env!("CARGO_BIN_EXE_lamina"))
        .args(&args)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    serde_json::from_slice::<Value>(&o.stdout)
        .unwrap()
        .as_array()
        .unwrap()
        .clone()
}

fn num(row: &Value, key: &str) -> f64 {
    row[key]
        .as_f64()
        .unwrap_or_else(|| panic!("{key} in {row}"))
}

fn row<'a>(rows: &'a [Value], strategy: &str) -> &'a Value {
    rows.iter().find(|r| r["strategy"] == strategy).unwrap()
}

fn write(dir: &Path, name: &str, m: &Mesh) -> PathBuf {
    let p = dir.join(name);
    io::write_stl(&p, m).unwrap();
    p
}

#[test]
fn figures_agree_with_the_checker_on_a_real_aneurysm() {
    let Some(meshes) = common::shared_meshes() else {
        return;
    };
    if !checker::available() {
        return;
    }
    let mesh = meshes.join("aneurysm_bifurcation_01.stl");
    let dir = tempfile::tempdir().unwrap();
    let rows = compare(&[&mesh], "none,grid,tree", dir.path(), &[]);
    for r in &rows {
        let strategy = r["strategy"].as_str().unwrap();
        let gcode = PathBuf::from(r["gcode"].as_str().unwrap());
        assert!(gcode.starts_with(dir.path()), "{gcode:?}");
        let center = format!("{},{}", common::BED_CENTER[0], common::BED_CENTER[1]);
        let c = checker::check(
            &gcode,
            &mesh,
            &[
                "--overhang-angle".into(),
                ANGLE.into(),
                "--center".into(),
                center,
            ],
        );
        let held = num(r, "held");
        let theirs = checker::figure(&c, "geometry.supported_fraction");
        assert!(
            (held - theirs).abs() <= HELD_AGREE,
            "{strategy}: held {held} here, {theirs} by the checker"
        );
        let retractions =
            checker::figure(&c, "sanity.retracts") + checker::figure(&c, "sanity.fw_retracts");
        assert_eq!(num(r, "retractions"), retractions, "{strategy}");
        let floating = checker::figure(&c, "sanity.floating_support_frac");
        assert!(
            (num(r, "floating_share") - floating).abs() <= 0.005,
            "{strategy}: floating {} here, {floating} by the checker",
            num(r, "floating_share")
        );
        // Support the checker counts (above the first layer) is part of ours.
        let length = checker::figure(&c, "sanity.support_length_mm");
        assert!(num(r, "support_length_mm") >= length - 1.0, "{strategy}");
    }
    // The figure can fail: without support most of the aneurysm hangs in the air.
    assert!(num(row(&rows, "none"), "held") < 0.5, "{rows:?}");
    for s in ["grid", "tree"] {
        assert!(num(row(&rows, s), "held") >= 0.97, "{s}: {rows:?}");
        assert!(num(row(&rows, s), "support_length_mm") > 100.0, "{s}");
    }
    assert_eq!(num(row(&rows, "none"), "support_length_mm"), 0.0);
}

#[test]
fn contact_is_the_underside_the_support_holds() {
    let dir = tempfile::tempdir().unwrap();
    let t = write(dir.path(), "t.stl", &common::t_shape());
    let rows = compare(&[&t], "none,grid,tree", dir.path(), &[]);
    let grid = row(&rows, "grid");
    // Under the 240 mm² underside, less the gap kept from the stem and the edges.
    let contact = num(grid, "contact_area_mm2");
    assert!((150.0..=250.0).contains(&contact), "{contact}");
    assert!(num(grid, "held") >= 0.97, "{grid}");
    // An open overhang is not a cavity.
    assert!(num(grid, "support_inside_mm3") < 1.0, "{grid}");
    // Tree tips touch less of it; no support touches nothing.
    let tree = num(row(&rows, "tree"), "contact_area_mm2");
    assert!(tree < contact / 2.0, "tree {tree} vs grid {contact}");
    assert_eq!(num(row(&rows, "none"), "contact_area_mm2"), 0.0);
    // Without support only a strip beside the stem is held.
    assert!(num(row(&rows, "none"), "held") < 0.3, "{rows:?}");
}

/// On a slope the model's first bead over a tree tip lies a few layers above it, beside
/// the bead of the layer just above: the tip still holds the surface across the gap.
/// Compare's contact agrees with the same measure in the tests and with the support
/// tops found straight under the mesh's downward surface.
#[test]
fn contact_on_a_slope_counts_the_tips_under_the_surface() {
    let dir = tempfile::tempdir().unwrap();
    // The T's bar tilted 20°: a sloping underside on both sides of the stem.
    let tilted = common::turned(&common::t_shape(), 20.0);
    let path = write(dir.path(), "tilted.stl", &tilted);
    let rows = compare(&[&path], "none,grid,tree", dir.path(), &[]);
    let placed = common::placed_at(&tilted, common::BED_CENTER);
    let mut figures = Vec::new();
    for strategy in ["grid", "tree"] {
        let r = row(&rows, strategy);
        let ours = num(r, "contact_area_mm2");
        let text = std::fs::read_to_string(r["gcode"].as_str().unwrap()).unwrap();
        let layers = parse_gcode(&text);
        let beads = contact_area(&layers, TOP_GAP, CONTACT_LAYERS);
        // The mesh's surface lies half a layer to a layer and a half under the top of
        // the first bead over it: the tops within reach lie under the surface at most
        // 2.5 layers over the gap, and include those under it within 1.5 layers.
        let low = contact_under_mesh(&layers, &placed, TOP_GAP, CONTACT_LAYERS - 1.5);
        let high = contact_under_mesh(&layers, &placed, TOP_GAP, CONTACT_LAYERS - 0.5);
        // What the model's beads of the next layer or two cover.
        let flat = contact_area(&layers, TOP_GAP, 1.0);
        println!(
            "{strategy}: contact {ours:.1} mm² (tests' measure {beads:.1}, under the mesh \
             {low:.1}-{high:.1}, under the next layer's beads {flat:.1})"
        );
        assert!(num(r, "held") >= 0.97, "{r}");
        assert!((ours - beads).abs() <= 0.05 * beads.max(1.0), "{strategy}");
        assert!(
            (low..=high).contains(&ours),
            "{strategy}: {ours} against {low}-{high} under the mesh"
        );
        figures.push((ours, flat));
    }
    let ((grid, _), (tree, tree_flat)) = (figures[0], figures[1]);
    assert!(tree > 0.0 && tree < grid, "tree {tree}, grid {grid}");
    // Counting only the beads of the layer just over the gap misses the tips.
    assert!(tree_flat < tree / 2.0, "{tree_flat} {tree}");
    assert_eq!(num(row(&rows, "none"), "contact_area_mm2"), 0.0);
}

#[test]
fn support_in_a_cavity_is_counted_and_none_when_left_out() {
    let dir = tempfile::tempdir().unwrap();
    let b = write(dir.path(), "box.stl", &common::hollow_box());
    let fast = ["--set", "fill_density=0", "--set", "perimeters=1"];
    let rows = compare(&[&b], "grid", dir.path(), &fast);
    let grid = row(&rows, "grid");
    // All the support stands in the cavity.
    assert!(num(grid, "support_inside_share") > 0.9, "{grid}");
    assert!(num(grid, "support_inside_mm3") > 500.0, "{grid}");
    assert!(num(grid, "held") > 0.97, "{grid}");
    let rows = compare(
        &[&b],
        "grid",
        dir.path(),
        &[&fast[..], &["--support-inside", "none"]].concat(),
    );
    let left_out = row(&rows, "grid");
    assert_eq!(num(left_out, "support_inside_mm3"), 0.0, "{left_out}");
    // The cavity's ceiling then hangs in the air (only its rim is held by the walls),
    // and compare says so.
    assert!(num(left_out, "held") < 0.5, "{left_out}");
}

#[test]
fn a_folder_that_cannot_take_the_gcode_is_refused_before_slicing() {
    let dir = tempfile::tempdir().unwrap();
    let t = write(dir.path(), "t.stl", &common::t_shape());
    // Under a file, no folder can be made.
    let under_file = t.join("kept");
    let o = Command::new(env!("CARGO_BIN_EXE_lamina"))
        .args(["compare", t.to_str().unwrap(), "--gcode-dir"])
        .arg(&under_file)
        .output()
        .unwrap();
    assert!(!o.status.success());
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("t.stl"), "{err}");
    assert!(!err.contains("slicing with"), "{err}");
    // A folder that does not exist yet is made.
    let new = dir.path().join("new").join("folder");
    let rows = compare(&[&t], "none", &new, &[]);
    assert!(new.join("t-none.gcode").is_file(), "{rows:?}");
}
