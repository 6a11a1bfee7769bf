//! Klipper and RepRapFirmware G-code read back per flavor: the commands each firmware
//! needs, in its units; every model's paths inside its own `EXCLUDE_OBJECT` block and
//! its declared outline; and each file's time estimate following its firmware's
//! motion model (square corner velocity, per-minute jerk) when the file is read again.

use std::path::{Path, PathBuf};
use std::process::Command;

use lamina::gcode::{MachineConfig, estimate_gcode};
use lamina::mesh::{io, shapes};
use lamina::profile::{ProfileSelection, resolve};

/// Slice two separate cylinders with `printer`; the G-code's text.
fn slice(dir: &Path, printer: &str) -> String {
    let a = dir.join("left.stl");
    let b = dir.join("right.stl");
    io::write_stl(&a, &shapes::cylinder([0.0; 3], 6.0, 4.0, 48)).unwrap();
    io::write_stl(&b, &shapes::cuboid([0.0; 3], [14.0, 8.0, 3.0])).unwrap();
    let out: PathBuf = dir.join(format!("{printer}.gcode"));
    let o = Command::new(env!("CARGO_BIN_EXE_lamina"))
        .args(["slice", a.to_str().unwrap(), b.to_str().unwrap(), "-o"])
        .arg(&out)
        .args(["--printer", printer])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    std::fs::read_to_string(out).unwrap()
}

/// The value of `KEY=` in a Klipper command line.
fn arg<'a>(line: &'a str, key: &str) -> Option<&'a str> {
    line.split_whitespace()
        .find_map(|w| w.strip_prefix(key)?.strip_prefix('='))
}

/// The numbers of `[[x,y],[x,y],...]`.
fn polygon(text: &str) -> Vec<[f64; 2]> {
    let nums: Vec<f64> = text
        .split(|c: char| !(c.is_ascii_digit() || c == '.' || c == '-'))
        .filter(|s| !s.is_empty())
        .map(|s| s.parse().unwrap())
        .collect();
    nums.chunks(2).map(|c| [c[0], c[1]]).collect()
}

/// Whether `p` is inside the convex polygon `poly` grown by `margin` mm.
fn inside(poly: &[[f64; 2]], p: [f64; 2], margin: f64) -> bool {
    let n = poly.len();
    let area: f64 = (0..n)
        .map(|i| {
            let (a, b) = (poly[i], poly[(i + 1) % n]);
            a[0] * b[1] - b[0] * a[1]
        })
        .sum();
    (0..n).all(|i| {
        let (a, b) = (poly[i], poly[(i + 1) % n]);
        let (ex, ey) = (b[0] - a[0], b[1] - a[1]);
        let cross = ex * (p[1] - a[1]) - ey * (p[0] - a[0]);
        // Signed distance to the edge's line, positive inside.
        cross * area.signum() / ex.hypot(ey) >= -margin
    })
}

/// Every extrusion move of a model role (not skirt, brim or support): its end point
/// and the object block it is in (`None`: outside every block). Checks that blocks
/// open and close in pairs and never nest.
fn model_extrusions(gcode: &str) -> Vec<([f64; 2], Option<String>)> {
    let mut open: Option<String> = None;
    let mut role = String::new();
    let mut pos = [0.0f64; 2];
    let mut out = Vec::new();
    for line in gcode.lines() {
        if let Some(r) = line.strip_prefix(";TYPE:") {
            role = r.to_string();
        }
        let code = line.split(';').next().unwrap().trim();
        if code.starts_with("EXCLUDE_OBJECT_START") {
            assert!(open.is_none(), "nested block at {line}");
            open = arg(code, "NAME").map(str::to_string);
        } else if code.starts_with("EXCLUDE_OBJECT_END") {
            assert_eq!(open.as_deref(), arg(code, "NAME"), "unmatched {line}");
            open = None;
        } else if code.starts_with("G1 ") || code.starts_with("G0 ") {
            let mut e = 0.0;
            for w in code.split_whitespace().skip(1) {
                let v: f64 = w[1..].parse().unwrap_or(0.0);
                match &w[..1] {
                    "X" => pos[0] = v,
                    "Y" => pos[1] = v,
                    "E" => e = v,
                    _ => {}
                }
            }
            let model = !matches!(
                role.as_str(),
                "Skirt/Brim"
                    | "Support material"
                    | "Support material interface"
                    | "Wipe tower"
                    | "Custom"
                    | ""
            );
            if e > 0.0 && model {
                out.push((pos, open.clone()));
            }
        }
    }
    assert!(open.is_none(), "a block is left open");
    out
}

#[test]
fn klipper_gcode_declares_each_model_and_keeps_its_paths_in_its_block() {
    let dir = tempfile::tempdir().unwrap();
    let g = slice(dir.path(), "klipper-ender3");
    let first_extrusion = g.lines().position(|l| l.starts_with(";TYPE:")).unwrap();
    let start = g
        .lines()
        .position(|l| l.starts_with("PRINT_START BED_TEMP=60 EXTRUDER_TEMP="))
        .expect("the PRINT_START macro is called");
    assert!(start < first_extrusion);
    assert!(g.contains("\nPRINT_END"));
    assert!(g.contains(
        "\nSET_VELOCITY_LIMIT VELOCITY=300 ACCEL=3000 SQUARE_CORNER_VELOCITY=5 MINIMUM_CRUISE_RATIO=0.5\n"
    ));
    let defined: Vec<(String, Vec<[f64; 2]>)> = g
        .lines()
        .filter(|l| l.starts_with("EXCLUDE_OBJECT_DEFINE "))
        .map(|l| {
            let name = arg(l, "NAME").unwrap().to_string();
            let poly = polygon(l.split("POLYGON=").nth(1).unwrap());
            assert!(poly.len() >= 3, "{l}");
            (name, poly)
        })
        .collect();
    assert_eq!(defined.len(), 2, "one definition per model");
    assert_ne!(defined[0].0, defined[1].0);
    let moves = model_extrusions(&g);
    assert!(moves.len() > 100);
    let outline = |name: &str| &defined.iter().find(|(n, _)| n == name).unwrap().1;
    let mut per_object = [0usize; 2];
    for (p, block) in &moves {
        let name = block
            .as_deref()
            .unwrap_or_else(|| panic!("{p:?} outside every block"));
        // Within its model's outline (half a line width of walls may stand out).
        assert!(inside(outline(name), *p, 0.3), "{p:?} outside {name}");
        per_object[defined.iter().position(|(n, _)| n == name).unwrap()] += 1;
    }
    assert!(per_object.iter().all(|&n| n > 20), "{per_object:?}");
    // Negative control: the other model's outline does not hold these paths.
    let swapped = moves
        .iter()
        .filter(|(p, b)| {
            let other = if b.as_deref() == Some(defined[0].0.as_str()) {
                1
            } else {
                0
            };
            !inside(&defined[other].1, *p, 0.3)
        })
        .count();
    assert!(swapped > moves.len() / 2, "{swapped} of {}", moves.len());
    // Marlin's file has none of it.
    let marlin = slice(dir.path(), "generic-220");
    assert!(!marlin.contains("EXCLUDE_OBJECT") && !marlin.contains("SET_VELOCITY_LIMIT"));
    assert!(model_extrusions(&marlin).iter().all(|(_, b)| b.is_none()));
}

#[test]
fn reprapfirmware_gcode_writes_limits_and_temperatures_in_its_units() {
    let dir = tempfile::tempdir().unwrap();
    let g = slice(dir.path(), "duet-corexy-300");
    for line in [
        "M201 X3000 Y3000 Z250 E3000",
        "M203 X15000 Y15000 Z900 E3600",
        "M204 P2000 T3000",
        "M566 X900 Y900 Z30 E1200 P1",
    ] {
        assert!(g.contains(&format!("\n{line} ;")), "{line} missing");
    }
    // Temperatures are tool temperatures (G10 P S) and waits M116, never M104/M109.
    let codes: Vec<&str> = g
        .lines()
        .map(|l| l.split(';').next().unwrap().trim())
        .collect();
    assert!(
        !codes
            .iter()
            .any(|c| c.starts_with("M104") || c.starts_with("M109"))
    );
    assert!(codes.iter().any(|c| c.starts_with("G10 P0 S")));
    assert!(codes.iter().any(|c| c.starts_with("M116")));
    assert!(!g.contains("EXCLUDE_OBJECT"));
    // Negative control: Marlin's file keeps M104/M109 and has no M566.
    let marlin = slice(dir.path(), "generic-220");
    assert!(marlin.contains("\nM109 ") && !marlin.contains("M566"));
}

/// The estimate in the header, seconds.
fn header_estimate(g: &str) -> f64 {
    let text = g
        .lines()
        .find_map(|l| l.strip_prefix("; estimated printing time (normal mode) = "))
        .unwrap();
    text.split_whitespace()
        .map(|p| {
            let (n, unit) = p.split_at(p.len() - 1);
            let n: f64 = n.parse().unwrap();
            n * match unit {
                "d" => 86_400.0,
                "h" => 3_600.0,
                "m" => 60.0,
                _ => 1.0,
            }
        })
        .sum()
}

/// The printer profile's motion limits, as the estimate of its own files uses them.
fn machine(printer: &str) -> MachineConfig {
    let s = resolve(&ProfileSelection {
        printer: printer.into(),
        ..ProfileSelection::default()
    })
    .unwrap();
    lamina::pipeline::gcode_job(&s, Vec::new()).unwrap().machine
}

#[test]
fn each_flavors_estimate_follows_its_firmware_when_the_file_is_read_again() {
    let dir = tempfile::tempdir().unwrap();
    for printer in ["klipper-ender3", "duet-corexy-300", "generic-220"] {
        let g = slice(dir.path(), printer);
        let header = header_estimate(&g);
        // Read again from the text alone (the flavor comment and the limits in the
        // file), starting from a Marlin machine with the profile's axis limits.
        let mut start = machine(printer);
        if printer != "generic-220" {
            start.klipper = None;
            start.junction_deviation = 0.013;
        }
        let again = estimate_gcode(g.as_bytes(), &start, &[])
            .unwrap()
            .total_time;
        assert!(
            (again - header).abs() <= 1.0 + 0.01 * header,
            "{printer}: header {header} s, read again {again} s"
        );
        // Negative control: without the flavor line and the firmware's own limit
        // commands, the file is read as Marlin with junction deviation.
        if printer != "generic-220" {
            let as_marlin: String = g
                .lines()
                .filter(|l| {
                    !(l.starts_with("; flavor = ")
                        || l.starts_with("SET_VELOCITY_LIMIT")
                        || l.starts_with("M566"))
                })
                .map(|l| format!("{l}\n"))
                .collect();
            let marlin = estimate_gcode(as_marlin.as_bytes(), &start, &[])
                .unwrap()
                .total_time;
            assert!(
                (marlin - again).abs() > 0.02 * again,
                "{printer}: the firmware's model changes nothing ({marlin} s vs {again} s)"
            );
        }
    }
}
