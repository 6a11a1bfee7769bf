//! Dual-nozzle prints judged from the G-code: every tool change retracts and primes on
//! the tower before touching the part, the tower stands on every layer up to the last
//! change and clear of the model, the soluble tool prints the support under overhangs,
//! tools extrude only at their print temperature, idle tools wait at standby, and each
//! model is printed by its own tool.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use common::fidelity::{Bead, GLayer, LINE_WIDTH, dist_to_seg, parse_gcode};
use common::overhang::{facing_air, held_fraction, overhang_points, tool_share};
use common::travel::Step;
use common::{EModes, turned};
use lamina::mesh::{Mesh, io, place, shapes};

fn stl(dir: &Path, name: &str, mesh: &Mesh) -> PathBuf {
    let p = dir.join(format!("{name}.stl"));
    io::write_stl(&p, mesh).expect("write the model");
    p
}

/// A T: a 6 mm stem under a 30 mm bar, 10 mm above the bed.
fn t_shape() -> Mesh {
    shapes::merge(&[
        shapes::cuboid([12.0, 0.0, 0.0], [18.0, 10.0, 10.0]),
        shapes::cuboid([0.0, 0.0, 10.0], [30.0, 10.0, 14.0]),
    ])
}

/// One extrusion or event of the G-code, as the printer would meet it.
#[derive(Debug, Default)]
struct Run {
    /// Extrusions: (layer, tool, role, x, y).
    beads: Vec<(usize, usize, String, f64, f64)>,
    /// Tool changes: (layer, from, to, retracted before, first role after).
    changes: Vec<(usize, usize, usize, bool, Option<String>)>,
    /// Extrusions at the wrong temperature: (tool, target, print temperature).
    cold: Vec<(usize, f64, f64)>,
    /// Whether an idle tool was ever set to its standby temperature.
    standby_seen: bool,
    layers: usize,
    /// Filament pushed while printing the tower, mm.
    tower_filament: f64,
}

fn run(text: &str, print_temp: &[f64], idle_temp: &[f64]) -> Run {
    let mut r = Run::default();
    let (mut x, mut y, mut e) = (0.0f64, 0.0f64, 0.0f64);
    let mut relative = false;
    let mut tool = 0usize;
    let mut layer = 0usize;
    let mut started = false;
    let mut role = String::new();
    let mut target = vec![0.0f64; print_temp.len()];
    let mut retracted = false;
    let mut pending_change: Option<usize> = None;
    for raw in text.lines() {
        let line = raw.trim();
        if let Some(c) = line.strip_prefix(';') {
            if c == "LAYER_CHANGE" {
                if started {
                    layer += 1;
                }
                started = true;
            } else if let Some(v) = c.strip_prefix("TYPE:") {
                role = v.to_string();
            }
            continue;
        }
        let code = line.split(';').next().unwrap_or("").trim();
        let mut words = code.split_whitespace();
        let Some(cmd) = words.next() else { continue };
        let get = |k: char| {
            code.split_whitespace()
                .skip(1)
                .find(|w| w.starts_with(k))
                .and_then(|w| w[1..].parse::<f64>().ok())
        };
        match cmd {
            "M82" => relative = false,
            "M83" => relative = true,
            "G92" => e = get('E').unwrap_or(e),
            "M104" | "M109" => {
                let t = get('T').map_or(tool, |v| v as usize);
                if let (Some(s), Some(slot)) = (get('S'), target.get_mut(t)) {
                    *slot = s;
                    if t != tool && started && (s - idle_temp[t]).abs() < 0.5 {
                        r.standby_seen = true;
                    }
                }
            }
            c if c.starts_with('T') && c.len() > 1 => {
                let t: usize = c[1..].parse().expect("tool number");
                if started && t != tool {
                    r.changes.push((layer, tool, t, retracted, None));
                    pending_change = Some(r.changes.len() - 1);
                }
                tool = t;
            }
            "G0" | "G1" => {
                let nx = get('X').unwrap_or(x);
                let ny = get('Y').unwrap_or(y);
                let de = match get('E') {
                    Some(v) if relative => v,
                    Some(v) => v - e,
                    None => 0.0,
                };
                if let Some(v) = get('E') {
                    e = if relative { e + v } else { v };
                }
                let moved = (nx - x).hypot(ny - y) > 1e-9;
                if de < 0.0 {
                    retracted = true;
                } else if de > 0.0 && !moved {
                    retracted = false;
                } else if de > 0.0 && started {
                    retracted = false;
                    if let Some(k) = pending_change.take() {
                        r.changes[k].4 = Some(role.clone());
                    }
                    let want = print_temp[tool];
                    if (target[tool] - want).abs() > 0.5 {
                        r.cold.push((tool, target[tool], want));
                    }
                    if role == "Wipe tower" {
                        r.tower_filament += de;
                    }
                    r.beads.push((layer, tool, role.clone(), nx, ny));
                }
                x = nx;
                y = ny;
            }
            _ => {}
        }
    }
    r.layers = layer + 1;
    r
}

fn slice(model: &[&Path], args: &[&str], out: &Path) -> serde_json::Value {
    let o = Command::new(env!("CARGO_BIN_EXE_lamina"))
        .arg("slice")
        .args(model)
        .args(["--printer", "dual-marlin", "--json", "-o"])
        .arg(out)
        .args(args)
        .output()
        .expect("lamina runs");
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    serde_json::from_slice(&o.stdout).expect("JSON report")
}

/// PLA on T0 and PVA on T1.
const PLA_PVA: [&str; 4] = ["--material", "pla", "--material", "pva"];

/// Print (after the first layer) and standby temperatures of materials, from
/// `lamina profiles show`.
fn temps(materials: &[&str]) -> (Vec<f64>, Vec<f64>) {
    let mut print = Vec::new();
    let mut idle = Vec::new();
    for m in materials {
        let o = Command::new(env!("CARGO_BIN_EXE_lamina"))
            .args(["profiles", "show", m])
            .output()
            .expect("lamina runs");
        let text = String::from_utf8_lossy(&o.stdout).to_string();
        let value = |key: &str| -> f64 {
            text.lines()
                .find_map(|l| l.strip_prefix(&format!("{key} = ")))
                .and_then(|v| v.trim().parse().ok())
                .unwrap_or_else(|| panic!("{key} of {m} in {text}"))
        };
        print.push(value("temperature"));
        idle.push(value("idle_temperature"));
    }
    (print, idle)
}

fn check_changes_and_tower(r: &Run, model_box: ([f64; 2], [f64; 2])) {
    assert!(!r.changes.is_empty());
    for (layer, from, to, retracted, first) in &r.changes {
        assert!(
            retracted,
            "T{from} -> T{to} on layer {layer} without a retraction"
        );
        assert_eq!(
            first.as_deref(),
            Some("Wipe tower"),
            "T{to} on layer {layer} touched the part before priming on the tower"
        );
    }
    let last = r.changes.iter().map(|c| c.0).max().unwrap_or(0);
    for l in 0..=last {
        assert!(
            r.beads.iter().any(|b| b.0 == l && b.2 == "Wipe tower"),
            "no tower on layer {l} (last change on layer {last})"
        );
    }
    let (lo, hi) = model_box;
    for b in r.beads.iter().filter(|b| b.2 == "Wipe tower") {
        assert!(
            b.3 < lo[0] || b.3 > hi[0] || b.4 < lo[1] || b.4 > hi[1],
            "tower extrusion at ({}, {}) over the model",
            b.3,
            b.4
        );
    }
}

/// The model's XY box on the bed, from the extrusions that are not support or tower.
fn part_box(r: &Run) -> ([f64; 2], [f64; 2]) {
    let mut lo = [f64::INFINITY; 2];
    let mut hi = [f64::NEG_INFINITY; 2];
    for b in r
        .beads
        .iter()
        .filter(|b| b.2.contains("perimeter") || b.2.contains("infill"))
    {
        lo = [lo[0].min(b.3), lo[1].min(b.4)];
        hi = [hi[0].max(b.3), hi[1].max(b.4)];
    }
    (lo, hi)
}

#[test]
fn soluble_modes_on_a_t_shape() {
    let dir = tempfile::tempdir().expect("tempdir");
    let model = stl(dir.path(), "t", &t_shape());
    let mut soluble = Vec::new();
    for mode in [&["--soluble"][..], &["--soluble", "interface"][..]] {
        let out = dir.path().join("t.gcode");
        let mut args = PLA_PVA.to_vec();
        args.extend_from_slice(mode);
        let json = slice(&[&model], &args, &out);
        let text = std::fs::read_to_string(&out).expect("G-code");
        let (print, idle) = temps(&["pla", "pva"]);
        let r = run(&text, &print, &idle);
        check_changes_and_tower(&r, part_box(&r));
        // The interface under the bar is PVA, the part PLA.
        let iface: Vec<_> = r
            .beads
            .iter()
            .filter(|b| b.2 == "Support material interface")
            .collect();
        assert!(!iface.is_empty());
        assert!(iface.iter().all(|b| b.1 == 1), "interface not all soluble");
        assert!(
            r.beads
                .iter()
                .filter(|b| b.2.contains("perimeter") || b.2.contains("infill"))
                .all(|b| b.1 == 0)
        );
        let body_tool = if mode.len() == 1 { 1 } else { 0 };
        assert!(
            r.beads
                .iter()
                .filter(|b| b.2 == "Support material")
                .all(|b| b.1 == body_tool)
        );
        // No tool extrudes off its print temperature after the first layer.
        // Below the print temperature (the first layer's may be higher).
        let cold: Vec<_> = r.cold.iter().filter(|c| c.1 < c.2 - 0.5).collect();
        assert!(cold.is_empty(), "{cold:?}");
        soluble.push(
            json["soluble_filament_mm"]
                .as_f64()
                .expect("soluble figure"),
        );
        assert!(json["prime_tower"]["side"].as_f64().unwrap_or(0.0) >= 15.0);
    }
    assert!(
        soluble[1] < soluble[0],
        "interface only spends less PVA: {soluble:?}"
    );
}

#[test]
fn two_materials_each_printed_by_its_tool() {
    let dir = tempfile::tempdir().expect("tempdir");
    // A clear vessel block and the coloured core it holds (overlapping volumes).
    let shell = stl(
        dir.path(),
        "shell",
        &shapes::cuboid([0.0, 0.0, 0.0], [20.0, 20.0, 6.0]),
    );
    let core = stl(
        dir.path(),
        "core",
        &shapes::cuboid([6.0, 6.0, 0.0], [14.0, 14.0, 6.0]),
    );
    let core_arg = format!("{}@1", core.display());
    let out = dir.path().join("two.gcode");
    let mut args = vec!["--material", "pla", "--material", "petg"];
    args.push(&core_arg);
    let json = slice(&[&shell], &args, &out);
    let text = std::fs::read_to_string(&out).expect("G-code");
    let (print, idle) = temps(&["pla", "petg"]);
    let r = run(&text, &print, &idle);
    assert!(json["tool_changes"].as_u64().unwrap_or(0) >= 10);
    let (lo, hi) = part_box(&r);
    check_changes_and_tower(&r, (lo, hi));
    let centre = [(lo[0] + hi[0]) / 2.0, (lo[1] + hi[1]) / 2.0];
    // Core area (within 3 mm of the centre) by T1, the shell's outer ring by T0.
    for b in r
        .beads
        .iter()
        .filter(|b| b.2 != "Wipe tower" && b.2 != "Skirt/Brim")
    {
        let d = (b.3 - centre[0]).abs().max((b.4 - centre[1]).abs());
        if d < 3.0 {
            assert_eq!(b.1, 1, "core printed by T{} at ({}, {})", b.1, b.3, b.4);
        } else if d > 5.0 {
            assert_eq!(b.1, 0, "shell printed by T{} at ({}, {})", b.1, b.3, b.4);
        }
    }
    assert!(
        r.standby_seen || r.changes.len() < 3,
        "idle tool never at standby"
    );
}

/// The mesh moved to where the G-code printed it: on the bed, centred on the box of
/// its external perimeters.
fn as_printed(m: &Mesh, layers: &[GLayer]) -> Mesh {
    let mut lo = [f64::INFINITY; 2];
    let mut hi = [f64::NEG_INFINITY; 2];
    for b in layers
        .iter()
        .flat_map(|l| &l.beads)
        .filter(|b| b.role == "External perimeter")
    {
        for p in [b.a, b.b] {
            lo = [lo[0].min(p[0]), lo[1].min(p[1])];
            hi = [hi[0].max(p[0]), hi[1].max(p[1])];
        }
    }
    let mut out = m.clone();
    let bb = out.bounding_box().expect("a mesh");
    let c = bb.center();
    place::translate(
        &mut out,
        [
            (lo[0] + hi[0]) / 2.0 - c[0],
            (lo[1] + hi[1]) / 2.0 - c[1],
            -bb.min[2],
        ],
    );
    out
}

/// The angle support is judged at (the independent checker's default and issue 14's),
/// degrees from the horizontal.
const ANGLE: f64 = 45.0;

/// Overhang points sampled per model.
const POINTS: usize = 4000;

/// The share of overhang points held, and the share of the contact under them printed
/// in the soluble tool, that soluble support must reach (issue 14).
const HELD: f64 = 0.97;
const SOLUBLE_CONTACT: f64 = 0.97;

/// Overhang points this low rest on the first layers (the brim and the part's own
/// first layer, in the model's material, with no room for a soluble layer between
/// part and bed): left out of the soluble share, mm.
const ON_THE_BED: f64 = 0.6;

/// How a soluble print holds its overhangs: the number of overhang points, the share
/// held from within two layers plus the top contact gap below (`window`), and the share
/// of the contact directly beneath those above [`ON_THE_BED`] (the highest holding
/// layer, within a line width) printed by the soluble tool T1.
fn overhangs_held(m: &Mesh, layers: &[GLayer], window: f64) -> (usize, f64, Option<f64>) {
    let m = common::placed_at(m, common::DUAL_BED_CENTER);
    let points = facing_air(&m, overhang_points(&m, ANGLE, POINTS));
    let held = held_fraction(&points, layers, window);
    let lifted: Vec<_> = points
        .iter()
        .filter(|o| o.p[2] > ON_THE_BED)
        .copied()
        .collect();
    let share = tool_share(&lifted, layers, window, LINE_WIDTH, 1);
    (points.len(), held, share)
}

/// A tube lying on the bed along X: 30 mm long, 8 mm across, a 6 mm lumen.
fn lying_tube() -> Mesh {
    turned(&shapes::tube([0.0; 3], 3.0, 4.0, 30.0, 64), 90.0)
}

#[test]
fn soluble_tool_prints_under_every_overhang() {
    let dir = tempfile::tempdir().expect("tempdir");
    for (name, mesh) in [("t", t_shape()), ("tube", lying_tube())] {
        let model = stl(dir.path(), name, &mesh);
        let mut spent = Vec::new();
        for mode in [
            &["--soluble"][..],
            &["--soluble", "interface"][..],
            &["--support", "grid", "--support-inside", "soluble"][..],
        ] {
            let out = dir.path().join(format!("{name}.gcode"));
            let mut args = PLA_PVA.to_vec();
            args.extend_from_slice(mode);
            slice(&[&model], &args, &out);
            let layers = parse_gcode(&std::fs::read_to_string(&out).expect("G-code"));
            // Soluble support meets the model with no Z gap; the model-material
            // columns of `--support-inside soluble` keep the 0.2 mm gap.
            let window = if mode[0] == "--soluble" { 0.4 } else { 0.6 };
            let (n, held, share) = overhangs_held(&mesh, &layers, window);
            // PVA spent on support, from the beads.
            let pva: f64 = layers
                .iter()
                .flat_map(|l| &l.beads)
                .filter(|b| b.is_support() && b.tool == 1)
                .fold(0.0, |sum, b| sum + b.e);
            println!(
                "{name} {mode:?}: {n} overhang points, held {held:.3}, \
                 soluble share {share:?}, PVA {pva:.0} mm"
            );
            assert!(n > 100, "{name}: too few overhang points ({n})");
            assert!(held >= HELD, "{name} {mode:?}: held {held:.3}");
            if mode[0] == "--soluble" {
                let share = share.expect("extrusion under the overhangs");
                assert!(
                    share >= SOLUBLE_CONTACT,
                    "{name} {mode:?}: soluble share {share:.3}"
                );
            }
            spent.push(pva);
        }
        // The negative control: without support the same points are not held.
        let out = dir.path().join(format!("{name}-bare.gcode"));
        let mut args = PLA_PVA.to_vec();
        args.extend_from_slice(&["--support", "none"]);
        slice(&[&model], &args, &out);
        let bare = parse_gcode(&std::fs::read_to_string(&out).expect("G-code"));
        let (_, held, _) = overhangs_held(&mesh, &bare, 0.4);
        assert!(held < HELD, "{name}: {held:.3} held without support");
        assert!(
            spent[1] < spent[0],
            "{name}: interface only spends less PVA: {spent:?}"
        );
        // The T encloses nothing: soluble only inside lumens prints no PVA there; the
        // tube's lumen takes some, less than soluble everywhere.
        if name == "t" {
            assert_eq!(spent[2], 0.0, "PVA without a lumen");
        } else {
            assert!(spent[2] > 0.0 && spent[2] < spent[0], "{spent:?}");
        }
    }
}

/// Soluble support on the shared vessels nobody tuned for: held at the bar, the
/// contact under the overhangs in the soluble tool (issue 14), nothing floating; the
/// same vessel without support fails the held bar.
fn vessel_soluble(name: &str) {
    let Some(shared) = common::shared_meshes() else {
        return;
    };
    let path = shared.join(name);
    let mesh = io::load(&path).expect("load").remove(0).mesh;
    let dir = tempfile::tempdir().expect("tempdir");
    let judge = |extra: &[&str]| {
        let out = dir.path().join("v.gcode");
        let mut args = PLA_PVA.to_vec();
        args.extend_from_slice(extra);
        slice(&[&path], &args, &out);
        let layers = parse_gcode(&std::fs::read_to_string(&out).expect("G-code"));
        let m = common::placed_at(&mesh, common::DUAL_BED_CENTER);
        let points = overhang_points(&m, ANGLE, POINTS);
        let held = held_fraction(&points, &layers, 0.4);
        let share = tool_share(&points, &layers, 0.4, LINE_WIDTH, 1);
        (held, share, common::support::floating(&layers))
    };
    let (bare, ..) = judge(&["--support", "none"]);
    let (held, share, floating) = judge(&["--soluble"]);
    println!(
        "{name} soluble: held {held:.3} ({bare:.3} bare), soluble contact {share:?}, floating {:.4}",
        floating.fraction()
    );
    assert!(bare < HELD, "{name}: {bare:.3} held without support");
    assert!(held >= HELD, "{name}: held {held:.3}");
    let share = share.expect("contact under the overhangs");
    assert!(
        share >= SOLUBLE_CONTACT,
        "{name}: soluble contact {share:.3}"
    );
    assert!(floating.fraction() <= 0.005, "{floating:?}");
}

#[test]
fn artery_is_held_by_soluble_support() {
    vessel_soluble("artery_ica_aneurisk_c0015.stl");
}

#[test]
fn aneurysm_is_held_by_soluble_support() {
    vessel_soluble("aneurysm_bifurcation_01.stl");
}

#[test]
fn support_inside_the_lumen_is_soluble_and_outside_it_is_not() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mesh = lying_tube();
    let model = stl(dir.path(), "tube", &mesh);
    let out = dir.path().join("tube.gcode");
    let mut args = PLA_PVA.to_vec();
    args.extend_from_slice(&["--support", "grid", "--support-inside", "soluble"]);
    slice(&[&model], &args, &out);
    let layers = parse_gcode(&std::fs::read_to_string(&out).expect("G-code"));
    // The tube's axis on the bed: the middle of its external perimeters in Y, 4 mm up.
    let placed = as_printed(&mesh, &layers);
    let bb = placed.bounding_box().expect("a mesh");
    let cy = bb.center()[1];
    // Within the tube's length (the columns may reach a little past its open ends).
    let along = |b: &Bead| {
        [b.a[0], b.b[0]]
            .iter()
            .all(|&x| x > bb.min[0] + 0.5 && x < bb.max[0] - 0.5)
    };
    let (mut inside, mut outside) = (0usize, 0usize);
    for l in &layers {
        for b in l.beads.iter().filter(|b| b.role.starts_with("Support")) {
            if !along(b) {
                continue;
            }
            let y = (b.a[1] + b.b[1]) / 2.0;
            let r = ((y - cy).powi(2) + (l.z - 4.0).powi(2)).sqrt();
            if r < 3.0 {
                inside += 1;
                assert_eq!(b.tool, 1, "lumen support by T{} at z {}", b.tool, l.z);
            } else if r > 4.0 {
                outside += 1;
                assert_eq!(b.tool, 0, "outer support by T{} at z {}", b.tool, l.z);
            }
        }
    }
    assert!(inside > 20, "support in the lumen: {inside} beads");
    assert!(outside > 20, "support under the outside: {outside} beads");
}

/// The G-code PrusaSlicer 2.5 wrote for the same T at the same settings (two nozzles,
/// PLA and PVA, soluble support at 45°, a tower; tests/fixtures/README.md says how).
const PRUSASLICER_T: &[u8] = include_bytes!("fixtures/prusaslicer_t_soluble.gcode.gz");

fn prusaslicer_t() -> String {
    let mut text = String::new();
    std::io::Read::read_to_string(&mut flate2::read::GzDecoder::new(PRUSASLICER_T), &mut text)
        .expect("PrusaSlicer's G-code of the T");
    assert!(text.starts_with("; generated by PrusaSlicer"));
    text
}

/// One tool's retractions in a G-code file, told apart by where they fall, and the
/// filament it fed outside the tower (the same reading for any slicer's file: a tower
/// is `;TYPE:Wipe tower` in both).
#[derive(Debug, Default)]
struct ToolRetractions {
    /// Retractions between two of the tool's extrusions off the tower with no tool
    /// change between: what printing support as dashes instead of paths multiplies.
    among_extrusions: usize,
    /// Retractions next to a tool change or the tower (leaving the support for the
    /// change, leaving the tower after the prime): one or two for each time the tool
    /// takes over, whatever the paths.
    at_changes: usize,
    /// Filament fed on extruding moves off the tower, mm.
    filament: f64,
}

impl ToolRetractions {
    fn total(&self) -> usize {
        self.among_extrusions + self.at_changes
    }

    /// Retractions between extrusions per metre of filament off the tower.
    fn among_per_m(&self) -> f64 {
        self.among_extrusions as f64 * 1000.0 / self.filament
    }

    /// All retractions per metre of filament off the tower.
    fn total_per_m(&self) -> f64 {
        self.total() as f64 * 1000.0 / self.filament
    }
}

/// What happens to `tool`, in order, for [`tool_retractions`].
#[derive(Debug, Clone, Copy, PartialEq)]
enum ToolEvent {
    /// A tool change to or from it, or an extrusion on the tower.
    Change,
    /// An extrusion off the tower.
    Extrusion,
    /// The start of a retraction (a run of moves pulling filament back, or `G10`,
    /// counted once as tests/common/travel.rs counts it).
    Retraction,
}

/// `tool`'s retractions in `text` and its filament off the tower.
fn tool_retractions(text: &str, tool: usize) -> ToolRetractions {
    let mut r = ToolRetractions::default();
    let mut events = Vec::new();
    let mut active = 0usize;
    let mut retracting = false;
    common::travel::walk(text, |step| match step {
        Step::Tool(t) => {
            if (t == tool) != (active == tool) {
                events.push(ToolEvent::Change);
            }
            active = t;
            retracting = false;
        }
        _ if active != tool => {}
        Step::Retract => {
            if !retracting {
                events.push(ToolEvent::Retraction);
            }
            retracting = true;
        }
        Step::Unretract => retracting = false,
        Step::Move {
            role, from, to, de, ..
        } => {
            let d = (to.0 - from.0).hypot(to.1 - from.1);
            if de > 1e-9 && d > 0.0 {
                if role == "Wipe tower" {
                    events.push(ToolEvent::Change);
                } else {
                    events.push(ToolEvent::Extrusion);
                    r.filament += de;
                }
            }
            if de < -1e-9 {
                if !retracting {
                    events.push(ToolEvent::Retraction);
                }
                retracting = true;
            } else if de > 1e-9 {
                retracting = false;
            }
        }
    });
    // The nearest event other than a retraction, in the order `it` walks.
    let nearest = |mut it: std::slice::Iter<'_, ToolEvent>, back: bool| {
        let not_retraction = |e: &&ToolEvent| **e != ToolEvent::Retraction;
        if back {
            it.rev().find(not_retraction).copied()
        } else {
            it.find(not_retraction).copied()
        }
    };
    for (i, _) in events
        .iter()
        .enumerate()
        .filter(|(_, e)| **e == ToolEvent::Retraction)
    {
        let before = nearest(events[..i].iter(), true);
        let after = nearest(events[i + 1..].iter(), false);
        if before == Some(ToolEvent::Extrusion) && after == Some(ToolEvent::Extrusion) {
            r.among_extrusions += 1;
        } else {
            r.at_changes += 1;
        }
    }
    r
}

/// The same G-code printed as dashes: `tool` retracts after every extruding move that
/// another extruding move follows (each line of the support on its own), and primes
/// again before the next (in relative E, whatever mode the file is in).
fn dashed(text: &str, tool: usize) -> String {
    let mut out = String::new();
    let mut active = 0usize;
    let mut absolute = true;
    let mut extruded = false;
    for line in text.lines() {
        let code = line.split(';').next().unwrap_or("").trim();
        if let Some(t) = code.strip_prefix('T').and_then(|t| t.parse::<usize>().ok()) {
            active = t;
        }
        match code {
            "M82" => absolute = true,
            "M83" => absolute = false,
            _ => {}
        }
        let words: Vec<&str> = code.split_whitespace().collect();
        let moves = words.first().is_some_and(|c| *c == "G1" || *c == "G0");
        let xy = words
            .iter()
            .any(|w| w.starts_with('X') || w.starts_with('Y'));
        let feeds = words.iter().any(|w| w.starts_with('E'));
        let extrudes = moves && xy && feeds;
        if extrudes && extruded && active == tool {
            out.push_str("M83\nG1 E-1.5 F2100\nG1 E1.5 F2100\n");
            if absolute {
                out.push_str("M82\n");
            }
        }
        extruded = extrudes;
        out.push_str(line);
        out.push('\n');
    }
    out
}

/// The G-code of the T sliced in PLA and PVA with `extra` arguments.
fn sliced_t(extra: &[&str]) -> String {
    let dir = tempfile::tempdir().expect("tempdir");
    let model = stl(dir.path(), "t", &t_shape());
    let out = dir.path().join("t.gcode");
    let mut args = PLA_PVA.to_vec();
    args.extend_from_slice(extra);
    slice(&[&model], &args, &out);
    std::fs::read_to_string(&out).expect("G-code")
}

/// A dual job with relative E reads the same on Marlin 2, where the tool change's
/// `G90` makes E absolute again, as on Klipper: each tool pushes the same filament,
/// the amount the file's header reports less the retraction a parked tool keeps. The control: the same file without the `M83`
/// lamina writes after the tool change's G-code pushes far less on Marlin 2.
#[test]
fn relative_e_reads_the_same_on_marlin_2_after_a_tool_change() {
    let text = sliced_t(&["--soluble", "--set", "relative_e=true"]);
    assert!(text.lines().any(|l| l.starts_with("M83")), "relative E");
    let header: Vec<f64> = text
        .lines()
        .find_map(|l| l.strip_prefix("; filament used [mm] = "))
        .expect("filament used")
        .split(", ")
        .map(|v| v.parse().expect("a length"))
        .collect();
    let read = |t: &str, modes| common::filament_pushed(t.lines(), modes);
    let (marlin2, klipper) = (read(&text, EModes::Marlin2), read(&text, EModes::Klipper));
    for tool in 0..2 {
        let (m, k, h) = (marlin2[tool], klipper[tool], header[tool]);
        assert!(h > 100.0, "T{tool} prints: {h} mm");
        assert!(
            (m - k).abs() < 0.01 && (m - h).abs() < 0.05 * h,
            "T{tool}: Marlin 2 {m:.2} mm, Klipper {k:.2} mm, header {h} mm"
        );
    }
    let bare: String = text
        .lines()
        .filter(|l| !l.starts_with("M83 ; relative E again"))
        .map(|l| format!("{l}\n"))
        .collect();
    let broken = read(&bare, EModes::Marlin2);
    assert!(
        (0..2).any(|t| (broken[t] - header[t]).abs() > 0.5 * header[t]),
        "the control reads {broken:?} against {header:?}"
    );
}

/// The soluble tool retracts no more than PrusaSlicer's on the same T, both files
/// read the same way: as often between support extrusions per metre of PVA printed off
/// the tower (the tower left out on both sides: its volume is each slicer's choice of
/// purge), and no more often in all. The negative control: the same support printed as
/// dashes (the PVA fed unchanged) fails both.
#[test]
fn soluble_support_of_a_t_retracts_no_more_than_prusaslicer() {
    let text = sliced_t(&["--soluble", "--support-angle", "45"]);
    let ours = tool_retractions(&text, 1);
    let theirs = tool_retractions(&prusaslicer_t(), 1);
    for (who, r) in [("lamina", &ours), ("PrusaSlicer", &theirs)] {
        println!(
            "{who}: T1 {:.0} mm of PVA off the tower, {} retractions between extrusions \
             ({:.0} per metre), {} at tool changes; {:.0} in all per metre",
            r.filament,
            r.among_extrusions,
            r.among_per_m(),
            r.at_changes,
            r.total_per_m()
        );
    }
    assert!(
        theirs.filament > 100.0 && ours.filament > 100.0,
        "{theirs:?} {ours:?}"
    );
    assert!(
        ours.among_per_m() <= theirs.among_per_m(),
        "T1 retracts {:.0} times per metre of PVA between extrusions, PrusaSlicer {:.0}",
        ours.among_per_m(),
        theirs.among_per_m()
    );
    assert!(
        ours.total() <= theirs.total(),
        "T1 retracts {} times, PrusaSlicer {}",
        ours.total(),
        theirs.total()
    );
    let dashes = tool_retractions(&dashed(&text, 1), 1);
    println!("as dashes: {dashes:?}");
    assert!(
        dashes.among_per_m() > theirs.among_per_m(),
        "{:.0}",
        dashes.among_per_m()
    );
    assert!(dashes.total() > theirs.total(), "{}", dashes.total());
}

/// Shortest prime a tool lays before its first extrusion on the part or its support,
/// mm of line (the start G-code's line on the first tool, lamina's own on the others).
const PRIME_MIN_MM: f64 = 30.0;

/// For each tool that prints the part or its support: the length (mm) it extruded on
/// the first layer's height before that, and the role of its first such extrusion.
fn primes(text: &str) -> Vec<(usize, f64, String)> {
    let mut tool = 0usize;
    let mut before: Vec<f64> = Vec::new();
    let mut used: Vec<(usize, f64, String)> = Vec::new();
    let mut first_z: Option<f64> = None;
    common::travel::walk(text, |step| match step {
        Step::Tool(t) => tool = t,
        Step::Move {
            role,
            z,
            from,
            to,
            de,
        } => {
            let d = (to.0 - from.0).hypot(to.1 - from.1);
            if de <= 1e-9 || d == 0.0 {
                return;
            }
            let part = role.starts_with("Support")
                || role.contains("perimeter")
                || role.contains("infill")
                || role == "Gap fill";
            if part {
                first_z.get_or_insert(z);
                if !used.iter().any(|u| u.0 == tool) {
                    let primed = before.get(tool).copied().unwrap_or(0.0);
                    used.push((tool, primed, role.to_string()));
                }
            } else if first_z.is_none_or(|f| z <= f + 1e-6) {
                if before.len() <= tool {
                    before.resize(tool + 1, 0.0);
                }
                before[tool] += d;
            }
        }
        Step::Retract | Step::Unretract => {}
    });
    used
}

#[test]
fn without_a_tower_every_tool_primes_before_its_first_use() {
    // Soluble support reaches the bed (T1 on the first layer), interface only does not
    // (T1 first needed at the bar, far above it).
    for mode in [&["--soluble"][..], &["--soluble", "interface"][..]] {
        let mut args = mode.to_vec();
        args.extend_from_slice(&["--set", "prime_tower=false"]);
        let text = sliced_t(&args);
        let used = primes(&text);
        println!("{mode:?}: {used:?}");
        assert_eq!(used.len(), 2, "both tools print: {used:?}");
        for (tool, primed, first) in &used {
            assert!(
                *primed >= PRIME_MIN_MM,
                "{mode:?}: T{tool} printed {first} after {primed:.1} mm of prime"
            );
        }
        // The negative control: the same file without lamina's prime lines (their
        // moves made travels) leaves T1 unprimed.
        let unprimed = without_prime_lines(&text);
        let used = primes(&unprimed);
        assert!(
            used.iter().any(|(_, primed, _)| *primed < PRIME_MIN_MM),
            "{mode:?}: {used:?}"
        );
    }
}

/// `text` with the extrusions of lamina's prime lines (skirt-typed moves of tools other
/// than the first) turned into plain moves.
fn without_prime_lines(text: &str) -> String {
    let mut out = String::new();
    let mut tool = 0usize;
    let mut role = "";
    for line in text.lines() {
        let code = line.split(';').next().unwrap_or("").trim();
        if let Some(t) = code.strip_prefix('T').and_then(|t| t.parse::<usize>().ok()) {
            tool = t;
        }
        if let Some(r) = line.trim().strip_prefix(";TYPE:") {
            role = r;
        }
        let moves = code.starts_with("G1 ") && (code.contains('X') || code.contains('Y'));
        if moves && tool != 0 && role == "Skirt/Brim" {
            let kept: Vec<&str> = code
                .split_whitespace()
                .filter(|w| !w.starts_with('E'))
                .collect();
            out.push_str(&kept.join(" "));
        } else {
            out.push_str(line);
        }
        out.push('\n');
    }
    out
}

/// Share of the soluble interface's lowest layer (sampled along its beads) that lies
/// on a bead of the model-material body in the layer `depth` layers below it, and how
/// many samples there were.
fn interface_footing(layers: &[GLayer], depth: usize) -> (f64, usize) {
    let lowest = layers
        .iter()
        .position(|l| {
            l.beads
                .iter()
                .any(|b| b.tool == 1 && b.role == "Support material interface")
        })
        .expect("a soluble interface");
    let below = &layers[lowest - depth];
    let (mut on, mut n) = (0usize, 0usize);
    for b in layers[lowest]
        .beads
        .iter()
        .filter(|b| b.tool == 1 && b.role == "Support material interface")
    {
        for (p, _) in b.samples() {
            n += 1;
            let covered = below
                .beads
                .iter()
                .filter(|c| c.tool == 0 && c.is_support())
                .any(|c| dist_to_seg(p, &[c.a, c.b]) <= c.width / 2.0 + 0.05);
            on += usize::from(covered);
        }
    }
    (on as f64 / n.max(1) as f64, n)
}

/// Least share of a soluble interface that stands on a dense layer of the support
/// body's material (its sparse body covers about a fifth).
const TRANSITION_COVER: f64 = 0.9;

#[test]
fn a_soluble_interface_stands_on_a_dense_layer_of_the_body() {
    let layers = parse_gcode(&sliced_t(&["--soluble", "interface"]));
    let (dense, n) = interface_footing(&layers, 1);
    // The negative control: the body a layer further down is sparse, and the same
    // measure says so.
    let (sparse, _) = interface_footing(&layers, 2);
    println!("interface on the layer below: {dense:.3} ({n} samples), two below: {sparse:.3}");
    assert!(n > 100, "{n} samples");
    assert!(dense >= TRANSITION_COVER, "{dense:.3}");
    assert!(sparse < TRANSITION_COVER, "{sparse:.3}");
}

/// Cross-section of 1.75 mm filament, mm².
const FILAMENT_AREA: f64 = std::f64::consts::PI * 0.875 * 0.875;

/// Tower volume per tool change, mm³, and the number of changes, of the README's
/// core example (the generated lumen as a PVA core, grid support in PLA from the other
/// tool) sliced with `extra` arguments.
fn core_tower(dir: &Path, extra: &[&str]) -> (f64, usize) {
    let lumen = stl(
        dir,
        "lumen",
        &lamina::vessel::phantom::lumen(lamina::vessel::phantom::LUMEN_STEP),
    );
    let out = dir.join(format!("core{}.gcode", extra.len()));
    let mut args = vec!["--core", "--support", "grid"];
    args.extend_from_slice(extra);
    slice(&[&lumen], &args, &out);
    let text = std::fs::read_to_string(&out).unwrap();
    let (print, idle) = temps(&["pva", "pla"]);
    let r = run(&text, &print, &idle);
    assert!(r.changes.len() > 100, "{} tool changes", r.changes.len());
    (
        r.tower_filament * FILAMENT_AREA / r.changes.len() as f64,
        r.changes.len(),
    )
}

/// A printer with a hotend per tool primes a few mm³ on the tower after a tool change
/// (the idle nozzle kept its material; it only oozed), where one nozzle fed both
/// filaments must flush the old material out: the README's core example on the dual
/// printer against the same printer taken for a shared nozzle (the negative control),
/// measured from the tower's extrusion in the G-code.
#[test]
fn own_hotends_prime_little_where_a_shared_nozzle_purges() {
    let dir = tempfile::tempdir().unwrap();
    let (own, changes) = core_tower(dir.path(), &[]);
    let (shared, _) = core_tower(dir.path(), &["--set", "dual_kind=single"]);
    println!(
        "tower per tool change over {changes} changes: {own:.1} mm³ with a hotend per tool, \
         {shared:.1} mm³ through one nozzle"
    );
    // The prime (6 mm³) and the tower's walls and sparse layers shared among the
    // changes; the lightest material purge of a shared nozzle is 35 mm³.
    assert!(own < 12.0, "{own} mm³ a change with a hotend per tool");
    assert!(shared > 35.0, "{shared} mm³ a change through one nozzle");
}

/// How far a prime line's centre line must keep from every first-layer bead of the
/// models, their skirt and brim, mm (lamina keeps its bead 2 mm clear of them).
const PRIME_CLEAR: f64 = 2.0;

/// A bead's centre line, from one end to the other, mm.
type Line = [[f64; 2]; 2];

/// The first layer of a file split in two: the prime lines (the start G-code's
/// extrusions, before any `;TYPE:`, and lamina's own lines for the tools after the
/// first, skirt-typed) and everything else laid at the first layer's height.
fn first_layer_primes(text: &str) -> (Vec<Line>, Vec<Line>) {
    let (mut primes, mut rest) = (Vec::new(), Vec::new());
    let mut tool = 0usize;
    let mut first_z: Option<f64> = None;
    common::travel::walk(text, |step| match step {
        Step::Tool(t) => tool = t,
        Step::Move {
            role,
            z,
            from,
            to,
            de,
        } => {
            if de <= 1e-9 || from == to {
                return;
            }
            let seg = [[from.0, from.1], [to.0, to.1]];
            if role.is_empty() || (tool != 0 && role == "Skirt/Brim") {
                primes.push(seg);
            } else if *first_z.get_or_insert(z) >= z - 1e-6 {
                rest.push(seg);
            }
        }
        Step::Retract | Step::Unretract => {}
    });
    (primes, rest)
}

/// The least distance from the prime lines' centre lines (sampled every 0.2 mm) to
/// any of `beads`.
fn prime_distance(primes: &[Line], beads: &[Line]) -> f64 {
    let mut least = f64::INFINITY;
    for [a, b] in primes {
        let n = ((b[0] - a[0]).hypot(b[1] - a[1]) / 0.2).ceil().max(1.0) as usize;
        for i in 0..=n {
            let t = i as f64 / n as f64;
            let p = [a[0] + t * (b[0] - a[0]), a[1] + t * (b[1] - a[1])];
            for s in beads {
                least = least.min(dist_to_seg(p, s));
            }
        }
    }
    least
}

/// A model at the bed's front edge: the start G-code's prime line (along the front)
/// and the second tool's prime line move off it. The control: where the profile and
/// lamina put them for a model in the middle, they cross it.
#[test]
fn prime_lines_keep_off_a_model_at_the_front_edge() {
    let dir = tempfile::tempdir().unwrap();
    // A plate at the front left and a small cube at the back right, one assembly: the
    // plate's first layer comes within 10 mm of the bed's front edge.
    let plate = stl(
        dir.path(),
        "plate",
        &shapes::cuboid([0.0; 3], [100.0, 60.0, 1.0]),
    );
    let cube = stl(
        dir.path(),
        "cube",
        &shapes::cuboid([180.0, 130.0, 0.0], [186.0, 136.0, 3.0]),
    );
    let small = stl(
        dir.path(),
        "small",
        &shapes::cuboid([0.0; 3], [10.0, 10.0, 3.0]),
    );
    let args = [
        "--material",
        "pla",
        "--material",
        "pla",
        "--set",
        "prime_tower=false",
    ];
    let out = dir.path().join("edge.gcode");
    let plate_at = format!("{}@0", plate.display());
    let cube_at = format!("{}@1", cube.display());
    let json = slice(&[Path::new(&plate_at), Path::new(&cube_at)], &args, &out);
    let text = std::fs::read_to_string(&out).unwrap();
    let (primes, first) = first_layer_primes(&text);
    // Both tools primed: the start G-code's line and T1's own.
    let length: f64 = primes
        .iter()
        .map(|[a, b]| (b[0] - a[0]).hypot(b[1] - a[1]))
        .sum();
    assert!(length >= 2.0 * PRIME_MIN_MM, "{length} mm of prime lines");
    let clear = prime_distance(&primes, &first);
    println!(
        "prime lines {length:.0} mm, {clear:.2} mm from the first layer; {}",
        json["warnings"]
    );
    assert!(
        clear >= PRIME_CLEAR,
        "prime lines {clear:.2} mm from the first layer"
    );
    assert!(
        json["warnings"].to_string().contains("prime line"),
        "{}",
        json["warnings"]
    );

    // Where they go beside a small model in the middle, they would cross the plate.
    let centred = dir.path().join("centred.gcode");
    let small_at = format!("{}@1", small.display());
    slice(&[Path::new(&small_at)], &args, &centred);
    let (usual, _) = first_layer_primes(&std::fs::read_to_string(&centred).unwrap());
    let crossing = prime_distance(&usual, &first);
    println!("the usual prime lines: {crossing:.2} mm from the first layer");
    assert!(
        crossing < LINE_WIDTH,
        "the usual prime lines lie {crossing:.2} mm from the plate"
    );
}
