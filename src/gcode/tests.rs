//! End-to-end checks of the writer and the estimator: a hand-made job is written, the
//! G-code re-read with a separate minimal reader, and every figure checked against
//! values computed here from the plan.

use std::f64::consts::PI;

use super::*;
use crate::geom::Point;
use crate::path::{Role, bead_area};
use crate::plan::{LayerPlan, Step};

/// One parsed G-code line: command and its words (letter, raw number text).
#[derive(Debug, Clone)]
struct Line {
    raw: String,
    cmd: String,
    words: Vec<(char, String)>,
}

impl Line {
    fn get(&self, c: char) -> Option<f64> {
        self.words
            .iter()
            .find(|(l, _)| *l == c)
            .and_then(|(_, v)| v.parse().ok())
    }
}

fn parse(text: &str) -> Vec<Line> {
    text.lines()
        .map(|raw| {
            let code = raw.split(';').next().unwrap_or("").trim();
            let mut it = code.split_whitespace();
            let cmd = it.next().unwrap_or("").to_string();
            let words = it
                .map(|w| {
                    let mut c = w.chars();
                    let l = c.next().unwrap();
                    (l, c.as_str().to_string())
                })
                .collect();
            Line {
                raw: raw.to_string(),
                cmd,
                words,
            }
        })
        .collect()
}

fn mm(x: f64, y: f64) -> Point {
    Point::from_mm(x, y)
}

const WIDTH: f64 = 0.45;
const HEIGHT: f64 = 0.2;

fn square(x0: f64, y0: f64, side: f64) -> Vec<Point> {
    vec![
        mm(x0, y0),
        mm(x0 + side, y0),
        mm(x0 + side, y0 + side),
        mm(x0, y0 + side),
        mm(x0, y0),
    ]
}

/// Three layers: a square perimeter, a travel with retraction to an infill line, a fan
/// change, and on layer 1 a tool change to tool 1 and back.
fn plans() -> Vec<LayerPlan> {
    (0..3)
        .map(|i| {
            let z = HEIGHT * (i + 1) as f64;
            let mut steps = vec![
                Step::Travel {
                    to: mm(10.0, 10.0),
                    speed: 150.0,
                    retract: true,
                    lift: true,
                },
                Step::Extrude {
                    role: Role::ExternalPerimeter,
                    points: square(10.0, 10.0, 20.0),
                    width: WIDTH,
                    height: HEIGHT,
                    speed: 30.0,
                    flow: 1.0,
                },
                Step::Wipe {
                    points: vec![mm(12.0, 10.0), mm(14.0, 10.0)],
                    speed: 40.0,
                },
                Step::Travel {
                    to: mm(12.5, 12.5),
                    speed: 150.0,
                    retract: true,
                    lift: false,
                },
                Step::Extrude {
                    role: Role::InternalInfill,
                    points: vec![mm(12.5, 12.5), mm(27.5, 27.5), mm(27.5, 12.25)],
                    width: 0.5,
                    height: HEIGHT,
                    speed: 60.0,
                    flow: 0.95,
                },
                Step::Fan(if i == 0 { 0 } else { 50 + 10 * i as u8 }),
            ];
            if i == 1 {
                steps.extend([
                    Step::Temperature {
                        tool: 1,
                        celsius: 215.0,
                        wait: true,
                    },
                    Step::ToolChange { tool: 1 },
                    Step::Travel {
                        to: mm(5.0, 5.0),
                        speed: 150.0,
                        retract: false,
                        lift: false,
                    },
                    Step::Extrude {
                        role: Role::SupportInterface,
                        points: vec![mm(5.0, 5.0), mm(35.0, 5.0)],
                        width: WIDTH,
                        height: HEIGHT,
                        speed: 25.0,
                        flow: 1.0,
                    },
                    Step::ToolChange { tool: 0 },
                    Step::Temperature {
                        tool: 1,
                        celsius: 170.0,
                        wait: false,
                    },
                ]);
            }
            LayerPlan {
                index: i,
                z,
                height: HEIGHT,
                steps,
            }
        })
        .collect()
}

fn job(relative_e: bool) -> GcodeJob {
    let mut t1 = ToolConfig::with_filament(Filament {
        diameter: 1.75,
        density: 1.23,
        cost_per_kg: 90.0,
    });
    t1.offset = [10.0, -2.0];
    t1.retraction.length_toolchange = 6.0;
    let mut t0 = ToolConfig::with_filament(Filament {
        diameter: 1.75,
        density: 1.24,
        cost_per_kg: 25.0,
    });
    t0.retraction.lift = 0.4;
    t0.extrusion_multiplier = 0.97;
    GcodeJob {
        relative_e,
        tools: vec![t0, t1],
        start_gcode: "G28 ; home\nM109 S215\nG1 X5 Y5 Z0.3 F3000\nG1 X100 E10 F1000 ; purge".into(),
        end_gcode: "G1 Z20 F600\nM104 S0\nM84".into(),
        toolchange_gcode:
            "; change {previous_tool} -> {next_tool} at {layer_z}\nG1 Z{layer_z} F600".into(),
        timestamp: Some("2024-05-01 at 10:11:12 UTC".into()),
        models: vec!["cube.stl".into()],
        settings: "layer_height = 0.2\nperimeters = 2".into(),
        thumbnails: vec![Thumbnail {
            width: 4,
            height: 4,
            png: vec![0x89, b'P', b'N', b'G', 1, 2, 3],
        }],
        ..GcodeJob::default()
    }
}

fn write(job: &GcodeJob, plans: &[LayerPlan]) -> (String, Estimate) {
    let e = estimate(job, plans).unwrap();
    let mut out = Vec::new();
    let stats = write_gcode(&mut out, job, plans, &e).unwrap();
    assert_eq!(stats.bytes as usize, out.len());
    let text = String::from_utf8(out).unwrap();
    assert_eq!(stats.lines as usize, text.lines().count());
    (text, e)
}

/// One extrusion or E move as re-read: XY length moved and E pushed.
#[derive(Debug, Clone, Copy)]
struct EMove {
    line: usize,
    xy: f64,
    e: f64,
    tool: usize,
    width: f64,
}

/// Replay the file the way a firmware does (after the start G-code), collecting every
/// move that changes E.
fn replay(lines: &[Line]) -> Vec<EMove> {
    let (mut x, mut y, mut e) = (0.0, 0.0, 0.0);
    let mut relative = false;
    let mut tool = 0;
    let mut width = 0.0;
    let mut out = Vec::new();
    for (i, l) in lines.iter().enumerate() {
        if let Some(w) = l.raw.strip_prefix(";WIDTH:") {
            width = w.parse().unwrap();
        }
        match l.cmd.as_str() {
            "M83" => relative = true,
            "M82" => relative = false,
            "G92" => e = l.get('E').unwrap_or(e),
            "G1" => {
                let nx = l.get('X').unwrap_or(x);
                let ny = l.get('Y').unwrap_or(y);
                if let Some(v) = l.get('E') {
                    let de = if relative { v } else { v - e };
                    e = if relative { e + v } else { v };
                    out.push(EMove {
                        line: i,
                        xy: (nx - x).hypot(ny - y),
                        e: de,
                        tool,
                        width,
                    });
                }
                x = nx;
                y = ny;
            }
            c if c.starts_with('T') && c.len() > 1 => tool = c[1..].parse().unwrap(),
            _ => {}
        }
    }
    out
}

#[test]
fn layers_are_marked_with_z_and_height() {
    let plans = plans();
    let (text, _) = write(&job(true), &plans);
    let lines: Vec<&str> = text.lines().collect();
    let changes: Vec<usize> = (0..lines.len())
        .filter(|&i| lines[i] == ";LAYER_CHANGE")
        .collect();
    assert_eq!(changes.len(), plans.len());
    for (k, &i) in changes.iter().enumerate() {
        let z: f64 = lines[i + 1].strip_prefix(";Z:").unwrap().parse().unwrap();
        assert!((z - plans[k].z).abs() < 1e-9);
        assert_eq!(lines[i + 2], ";HEIGHT:0.2");
    }
    // Every layer's extrusions are at its Z (the first move after the marker
    // carries the new Z).
    assert!(lines[changes[1]..].iter().any(|l| l.starts_with("G1 Z0.4")));
}

#[test]
fn extrusion_matches_bead_area() {
    let j = job(true);
    let plans = plans();
    let (text, _) = write(&j, &plans);
    let lines = parse(&text);
    let start = lines.iter().position(|l| l.raw == ";LAYER_CHANGE").unwrap();
    let moves: Vec<EMove> = replay(&lines)
        .into_iter()
        .filter(|m| m.line > start && m.xy > 0.0 && m.e > 0.0)
        .collect();
    assert!(moves.len() >= 3 * 6, "{}", moves.len());
    for m in &moves {
        let tool = &j.tools[m.tool];
        // Find the flow of the line: infill runs at 0.95.
        let role_flow = if (m.width - 0.5).abs() < 1e-9 {
            0.95
        } else {
            1.0
        };
        let expected = m.xy * bead_area(m.width, HEIGHT) * role_flow * tool.extrusion_multiplier
            / (PI / 4.0 * tool.filament.diameter.powi(2));
        assert!(
            (m.e - expected).abs() < 1e-4,
            "line {}: E {} vs {expected} ({})",
            m.line + 1,
            m.e,
            lines[m.line].raw
        );
    }
}

#[test]
fn retractions_are_balanced_and_tool_changes_retract() {
    let j = job(true);
    let (text, _) = write(&j, &plans());
    let lines = parse(&text);
    let start = lines.iter().position(|l| l.raw == ";LAYER_CHANGE").unwrap();
    let end = lines.iter().rposition(|l| l.raw == "G1 Z20 F600").unwrap();
    // Before every extrusion the tool holds all its filament: the running sum of
    // non-printing E moves per tool is back at zero whenever a tool prints.
    let mut pending = [0.0f64; 2];
    let mut retractions = 0;
    for m in replay(&lines) {
        if m.line < start || m.line > end {
            continue;
        }
        let printing = m.xy > 0.0 && m.e > 0.0;
        if printing {
            assert!(
                pending[m.tool].abs() < 1e-9,
                "line {} prints with {} mm retracted",
                m.line + 1,
                -pending[m.tool]
            );
        } else {
            pending[m.tool] += m.e;
            if m.e < 0.0 {
                retractions += 1;
            }
        }
    }
    assert!(retractions >= 6, "{retractions}");
    // The final retraction before the end G-code is the only one left open.
    assert!(
        (pending[0] + j.tools[0].retraction.length).abs() < 1e-9,
        "{pending:?}"
    );
    // Each tool change retracts by the tool-change length first, then selects.
    for (i, l) in lines.iter().enumerate() {
        if l.cmd == "T1" || (l.cmd == "T0" && i > start) {
            let from = if l.cmd == "T1" { 0 } else { 1 };
            let before = lines[..i]
                .iter()
                .rev()
                .find(|p| p.cmd == "G1" && p.get('E').is_some_and(|e| e < 0.0))
                .unwrap();
            let tc = j.tools[from].retraction.length_toolchange;
            let already = j.tools[from].retraction.length;
            // Tool 0 was already retracted by a travel; it tops up to the full length.
            let e = -before.get('E').unwrap();
            assert!(
                (e - tc).abs() < 1e-9 || (e - (tc - already)).abs() < 1e-9,
                "{e}"
            );
            assert!(
                lines[..i]
                    .iter()
                    .rev()
                    .take(4)
                    .any(|p| p.raw.starts_with("; change"))
            );
        }
    }
}

#[test]
fn tool_offsets_move_the_head() {
    let (text, _) = write(&job(true), &plans());
    // Tool 1 prints (5,5)-(35,5) with offset (10,-2): the head goes to (-5,7)-(25,7).
    let t1 = text.find("\nT1\n").unwrap();
    let after = &text[t1..];
    assert!(after.contains("G1 X-5 Y7 Z0.4"), "{}", &after[..200]);
    assert!(after.contains("G1 X25 E"));
    assert!(text.contains("M109 T1 S215\n"));
    assert!(text.contains("M104 T1 S170\n"));
}

#[test]
fn feedrate_is_always_in_force() {
    let (text, _) = write(&job(true), &plans());
    let lines = parse(&text);
    let start = lines.iter().position(|l| l.raw == ";LAYER_CHANGE").unwrap();
    // After any text we did not write (start G-code, tool change) F is unknown: the
    // first move must carry one; every F written differs from the one in force.
    let mut f: Option<f64> = None;
    for l in &lines[start..] {
        if l.raw.starts_with("; change") || l.cmd.starts_with('T') {
            f = None;
        }
        if l.cmd == "G1" {
            match (l.get('F'), f) {
                (Some(v), Some(old)) => assert_ne!(v, old, "{}", l.raw),
                (Some(_), None) => {}
                (None, None) => panic!("no feedrate for {}", l.raw),
                (None, Some(_)) => {}
            }
            if let Some(v) = l.get('F') {
                f = Some(v);
            }
        }
    }
}

#[test]
fn numbers_are_tight() {
    let (text, _) = write(&job(false), &plans());
    let mut seen = 0;
    for l in parse(&text) {
        if l.cmd != "G1" {
            continue;
        }
        for (c, v) in &l.words {
            seen += 1;
            assert!(!v.is_empty(), "{}", l.raw);
            assert!(!v.starts_with("-0") || v.starts_with("-0."), "{}", l.raw);
            assert!(v != "-0", "{}", l.raw);
            if let Some((_, frac)) = v.split_once('.') {
                assert!(!frac.is_empty() && !frac.ends_with('0'), "{}", l.raw);
                let max = if *c == 'E' { 5 } else { 3 };
                assert!(frac.len() <= max, "{}", l.raw);
            }
            if *c == 'F' {
                assert!(!v.contains('.'), "{}", l.raw);
            }
        }
    }
    assert!(seen > 100);
    assert!(text.contains("G1 X10 Y10"), "integers are written bare");
    assert!(
        text.contains("Y12.25 E"),
        "fractions keep only their digits"
    );
}

#[test]
fn progress_is_monotonic_and_complete() {
    let (text, e) = write(&job(true), &plans());
    let progress: Vec<(u32, u32)> = parse(&text)
        .iter()
        .filter(|l| l.cmd == "M73")
        .map(|l| (l.get('P').unwrap() as u32, l.get('R').unwrap() as u32))
        .collect();
    assert!(progress.len() >= 2);
    assert_eq!(progress[0], (0, (e.total_time / 60.0).round() as u32));
    assert_eq!(*progress.last().unwrap(), (100, 0));
    for w in progress.windows(2) {
        assert!(w[1].0 >= w[0].0 && w[1].1 <= w[0].1, "{w:?}");
        assert_ne!(w[0], w[1]);
    }
    // No M73 for RepRapFirmware.
    let mut j = job(true);
    j.flavor = Flavor::RepRapFirmware;
    let (text, _) = write(&j, &plans());
    assert!(!text.contains("M73"));
    assert!(text.contains("G10 P1 S215\nM116 P1\n"));
}

#[test]
fn header_and_footer_hold_the_estimate() {
    let j = job(true);
    let (text, e) = write(&j, &plans());
    let first = text.lines().next().unwrap();
    assert_eq!(
        first,
        "; generated by lamina 0.1.0 on 2024-05-01 at 10:11:12 UTC".replace("0.1.0", &j.version)
    );
    let value = |key: &str| -> Vec<String> {
        text.lines()
            .filter_map(|l| l.strip_prefix(&format!("; {key} = ")))
            .map(str::to_string)
            .collect()
    };
    let time = value("estimated printing time (normal mode)");
    assert_eq!(time.len(), 2, "header and footer");
    assert!(time.iter().all(|t| *t == format_duration(e.total_time)));
    let mm = value("filament used [mm]");
    assert_eq!(mm.len(), 2);
    let parsed: Vec<f64> = mm[0].split(", ").map(|v| v.parse().unwrap()).collect();
    assert_eq!(parsed.len(), 2);
    for (p, t) in parsed.iter().zip(&e.tools) {
        assert!(
            (p - t.filament_mm).abs() <= 0.005 + 1e-9,
            "{p} vs {}",
            t.filament_mm
        );
    }
    let grams: Vec<f64> = value("filament used [g]")[0]
        .split(", ")
        .map(|v| v.parse().unwrap())
        .collect();
    for ((g, t), tool) in grams.iter().zip(&e.tools).zip(&j.tools) {
        let expected = t.filament_mm * tool.filament.area() / 1000.0 * tool.filament.density;
        assert!((g - expected).abs() <= 0.005 + 1e-9);
    }
    assert_eq!(value("total layers count"), vec!["3", "3"]);
    assert_eq!(value("total toolchanges"), vec![e.tool_changes.to_string()]);
    assert_eq!(e.tool_changes, 2);
    // The settings close the file.
    let tail: Vec<&str> = text.lines().rev().take(4).collect();
    assert_eq!(
        tail,
        vec![
            "; lamina_config = end",
            "; perimeters = 2",
            "; layer_height = 0.2",
            "; lamina_config = begin"
        ]
    );
    assert!(text.contains("; thumbnail begin 4x4 12\n; iVBORwECAw==\n; thumbnail end\n"));
}

#[test]
fn absolute_and_relative_e_extrude_the_same() {
    let plans = plans();
    let (rel, er) = write(&job(true), &plans);
    let (abs, ea) = write(&job(false), &plans);
    let a: Vec<f64> = replay(&parse(&abs)).iter().map(|m| m.e).collect();
    let r: Vec<f64> = replay(&parse(&rel)).iter().map(|m| m.e).collect();
    assert_eq!(a.len(), r.len());
    for (x, y) in a.iter().zip(&r) {
        assert!((x - y).abs() < 1e-9, "{x} vs {y}");
    }
    assert!(abs.contains("M82 ;") && rel.contains("M83 ;"));
    assert!((er.total_time - ea.total_time).abs() < 1e-9);
    for (x, y) in er.tools.iter().zip(&ea.tools) {
        assert!((x.filament_mm - y.filament_mm).abs() < 1e-9);
    }
}

#[test]
fn rereading_the_file_gives_the_same_estimate() {
    for relative in [true, false] {
        let mut j = job(relative);
        j.machine.tool_change_time = 5.0;
        j.machine.heating_rate = 2.5;
        j.machine.junction_deviation = 0.0;
        let plans = plans();
        let (text, e) = write(&j, &plans);
        let filaments: Vec<Filament> = j.tools.iter().map(|t| t.filament).collect();
        let again = estimate_gcode(text.as_bytes(), &j.machine, &filaments).unwrap();
        assert!(
            (again.total_time - e.total_time).abs() < 1e-6,
            "{} vs {}",
            again.total_time,
            e.total_time
        );
        assert_eq!(again.layer_times.len(), e.layer_times.len());
        for (a, b) in again.layer_times.iter().zip(&e.layer_times) {
            // The re-read file counts the end G-code into the last layer.
            assert!((a - b).abs() < 1e-6 || (a - b - e.end_time).abs() < 1e-6);
        }
        assert_eq!(again.tool_changes, e.tool_changes);
        for (a, b) in again.tools.iter().zip(&e.tools) {
            assert!((a.filament_mm - b.filament_mm).abs() < 1e-6);
            assert!((a.weight_g - b.weight_g).abs() < 1e-6);
        }
        assert_eq!(again.role_times.len(), e.role_times.len());
    }
}

#[test]
fn corrupt_lines_in_a_file_are_errors_naming_them() {
    let j = job(true);
    let (text, _) = write(&j, &plans());
    let lines: Vec<&str> = text.lines().collect();
    // The file as written reads back without complaint.
    assert!(estimate_gcode(text.as_bytes(), &j.machine, &[]).is_ok());
    // The line after the tenth move replaced by a corrupt one.
    let at = lines
        .iter()
        .enumerate()
        .filter(|(_, l)| l.starts_with("G1 X"))
        .nth(10)
        .map(|(i, _)| i)
        .expect("ten moves");
    let overlong = "G1 X1".to_string() + &" ".repeat(read::MAX_LINE);
    for (corrupt, why) in [
        ("G1 X10 YNaN E0.5", "its Y is not a usable number"),
        ("G1 X10 Y5 Einf", "its E is not a usable number"),
        ("G1 X12345678901 Y5", "its X is not a usable number"),
        ("M104 T4000000000 S200", "names tool 4000000000"),
        (&overlong, "longer than 1048576 bytes"),
    ] {
        let mut broken = lines.clone();
        broken[at] = corrupt;
        let e = estimate_gcode(broken.join("\n").as_bytes(), &j.machine, &[])
            .expect_err(corrupt.get(..20).unwrap_or(corrupt))
            .to_string();
        let named = format!("line {} of the G-code is corrupt", at + 1);
        assert!(e.contains(&named) && e.contains(why), "{e}");
    }
    // A message with text in it is no corrupt line.
    let mut fine = lines.clone();
    fine[at] = "M117 banana nan";
    assert!(estimate_gcode(fine.join("\n").as_bytes(), &j.machine, &[]).is_ok());
}

#[test]
fn estimate_counts_material_per_role() {
    let j = job(true);
    let e = estimate(&j, &plans()).unwrap();
    let area = |t: usize| j.tools[t].filament.area();
    // Per layer the perimeter is 80 mm of 0.45 x 0.2 bead at multiplier 0.97.
    let per = &e.tools[0].roles[&Role::ExternalPerimeter];
    assert!((per.path_mm - 240.0).abs() < 1e-6, "{}", per.path_mm);
    let expected = 240.0 * bead_area(WIDTH, HEIGHT) * 0.97 / area(0);
    assert!((per.filament_mm - expected).abs() < 1e-4);
    let sup = &e.tools[1].roles[&Role::SupportInterface];
    assert!((sup.path_mm - 30.0).abs() < 1e-6);
    // Tool 1: its line (the tool-change retraction it ended with is not used).
    let t1 = 30.0 * bead_area(WIDTH, HEIGHT) / area(1);
    assert!(
        (e.tools[1].filament_mm - t1).abs() < 1e-4,
        "{}",
        e.tools[1].filament_mm
    );
    assert!(e.role_times[&Role::ExternalPerimeter] > 240.0 / 30.0);
    let parts = e.start_time + e.layer_times.iter().sum::<f64>() + e.end_time;
    assert!((parts - e.total_time).abs() < 1e-9);
    let buckets = e.role_times.values().sum::<f64>()
        + e.travel_time
        + e.retract_time
        + e.wipe_time
        + e.wait_time
        + e.other_time;
    assert!((buckets - e.total_time).abs() < 1e-9);
    // The purge line of the start G-code is filament too (10 mm, no role).
    assert!(e.other_time > 0.0);
}

#[test]
fn firmware_retraction_writes_g10_g11() {
    let mut j = job(true);
    j.firmware_retraction = true;
    let (text, e) = write(&j, &plans());
    let lines = parse(&text);
    let g10 = lines.iter().filter(|l| l.cmd == "G10").count();
    let g11 = lines.iter().filter(|l| l.cmd == "G11").count();
    assert!(g10 >= 6);
    // Left retracted at the end: tool 0 by the final retraction, tool 1 since its
    // tool change (the firmware keeps the state per extruder).
    assert!(g10 == g11 + 2, "{g10} {g11}");
    assert!(text.contains("M207 S0.8 F2100 Z0"));
    let again = estimate_gcode(text.as_bytes(), &j.machine, &[]).unwrap();
    assert!((again.total_time - e.total_time).abs() < 1e-6);
}

#[test]
fn bad_plans_are_errors_not_panics() {
    let j = job(true);
    let mut p = plans();
    p[1].steps.push(Step::ToolChange { tool: 5 });
    let err = estimate(&j, &p).unwrap_err();
    assert!(err.to_string().contains("extruder 5"), "{err}");
    let mut p = plans();
    p[2].steps.push(Step::Extrude {
        role: Role::Perimeter,
        points: vec![mm(0.0, 0.0), mm(1.0, 0.0)],
        width: f64::NAN,
        height: 0.2,
        speed: 10.0,
        flow: 1.0,
    });
    let mut out = Vec::new();
    assert!(write_gcode(&mut out, &j, &p, &Estimate::default()).is_err());
    let mut j = job(true);
    j.tools.clear();
    assert!(matches!(estimate(&j, &plans()), Err(GcodeError::NoTools)));
    // Degenerate paths are skipped.
    let p = vec![LayerPlan {
        index: 0,
        z: 0.2,
        height: 0.2,
        steps: vec![
            Step::Extrude {
                role: Role::Perimeter,
                points: vec![mm(1.0, 1.0)],
                width: 0.4,
                height: 0.2,
                speed: 10.0,
                flow: 1.0,
            },
            Step::Wipe {
                points: vec![],
                speed: 10.0,
            },
        ],
    }];
    assert!(estimate(&job(true), &p).is_ok());
}

// ---- Analytic cases for the time estimate (hand formulas). ----

fn limits() -> MachineConfig {
    MachineConfig {
        max_feedrate: [500.0, 500.0, 12.0, 25.0],
        max_acceleration: [10_000.0, 10_000.0, 500.0, 1_000.0],
        acceleration: 1_000.0,
        retract_acceleration: 1_500.0,
        travel_acceleration: 1_000.0,
        junction_deviation: 0.05,
        ..MachineConfig::default()
    }
}

fn time_of(gcode: &str, m: &MachineConfig) -> f64 {
    estimate_gcode(gcode.as_bytes(), m, &[]).unwrap().total_time
}

/// The firmware ends a move "at rest" at its minimum planner speed, not at zero.
const V_STOP: f64 = planner::MINIMUM_PLANNER_SPEED;

/// Hand formula of a trapezoid: from speed `u` up to `v`, cruise, down to `w` over
/// `l` mm at acceleration `a` (the ramps must fit).
fn trapezoid(l: f64, u: f64, v: f64, w: f64, a: f64) -> f64 {
    let ramps = (v * v - u * u) / (2.0 * a) + (v * v - w * w) / (2.0 * a);
    assert!(ramps <= l);
    (v - u) / a + (v - w) / a + (l - ramps) / v
}

#[test]
fn long_move_time_is_length_over_speed_plus_ramp() {
    let m = limits();
    // 200 mm at 100 mm/s: accelerating and braking cost v/a over L/v.
    let (l, v, a) = (200.0, 100.0, m.acceleration);
    let t = time_of("G1 X200 F6000", &m);
    assert!((t - trapezoid(l, 0.0, v, V_STOP, a)).abs() < 1e-9, "{t}");
    assert!((t - (l / v + v / a)).abs() < 1e-4, "{t}");
}

#[test]
fn short_move_never_reaches_cruise() {
    let m = limits();
    // 2 mm at 200 mm/s would need 40 mm to reach speed: a triangle peaking at
    // v² = a·L (+ half the stop speed²), taking 2·sqrt(L/a).
    let (l, a) = (2.0, m.acceleration);
    let t = time_of("G1 X2 F12000", &m);
    let peak = (a * l + V_STOP * V_STOP / 2.0).sqrt();
    assert!((t - (peak / a + (peak - V_STOP) / a)).abs() < 1e-9, "{t}");
    assert!((t - 2.0 * (l / a).sqrt()).abs() < 1e-4, "{t}");
}

#[test]
fn square_corners_follow_junction_deviation() {
    let m = limits();
    let (a, v, side) = (m.travel_acceleration, 50.0, 20.0);
    let t = time_of("G1 X20 F3000\nG1 Y20\nG1 X0\nG1 Y0", &m);
    // A right angle: cos θ = 0, sin(θ/2) = √½, v² = a·δ·sin(θ/2)/(1 - sin(θ/2)).
    let s = 0.5f64.sqrt();
    let vc = (a * m.junction_deviation * s / (1.0 - s)).sqrt();
    assert!((vc - 10.987).abs() < 1e-3);
    let expected = trapezoid(side, 0.0, v, vc, a)
        + 2.0 * trapezoid(side, vc, v, vc, a)
        + trapezoid(side, vc, v, V_STOP, a);
    assert!((t - expected).abs() < 1e-9, "{t} vs {expected}");
}

/// Klipper's limits for the analytic cases: square corner velocity 5 mm/s, and no
/// minimum cruise ratio unless a case sets one.
fn klipper_limits() -> MachineConfig {
    MachineConfig {
        klipper: Some(crate::gcode::KlipperMotion {
            max_velocity: 300.0,
            square_corner_velocity: 5.0,
            minimum_cruise_ratio: 0.0,
        }),
        ..limits()
    }
}

#[test]
fn klipper_square_corners_are_taken_at_the_square_corner_velocity() {
    let m = klipper_limits();
    let (a, v, side) = (m.acceleration, 50.0, 20.0);
    let square = "G1 X20 F3000\nG1 Y20\nG1 X0\nG1 Y0";
    let t = time_of(square, &m);
    // By Klipper's definition a right angle is taken at square_corner_velocity.
    let vc = 5.0;
    let expected = trapezoid(side, 0.0, v, vc, a)
        + 2.0 * trapezoid(side, vc, v, vc, a)
        + trapezoid(side, vc, v, V_STOP, a);
    assert!((t - expected).abs() < 1e-9, "{t} vs {expected}");
    // Negative control: Marlin's junction deviation (0.05 mm) corners at 11 mm/s.
    assert!(time_of(square, &limits()) < t - 0.01);
    // Klipper has one acceleration: a slower travel acceleration is not used.
    let slow_travel = MachineConfig {
        travel_acceleration: 100.0,
        ..klipper_limits()
    };
    assert!((time_of(square, &slow_travel) - t).abs() < 1e-12);
}

#[test]
fn klipper_minimum_cruise_ratio_lowers_the_peak_of_short_moves() {
    let mut m = klipper_limits();
    let (l, a) = (2.0, m.acceleration);
    let full = time_of("G1 X2 F12000", &m);
    m.klipper.as_mut().unwrap().minimum_cruise_ratio = 0.5;
    let t = time_of("G1 X2 F12000", &m);
    // From rest to rest the peak is where braking at half the acceleration would
    // meet: v² = L·a/2 (plus half the stop speed²); the ramps still use a.
    let peak = (0.5 * V_STOP * V_STOP + l * a * 0.5).sqrt();
    let ramp_up = peak * peak / (2.0 * a);
    let ramp_down = (peak * peak - V_STOP * V_STOP) / (2.0 * a);
    let expected = peak / a + (peak - V_STOP) / a + (l - ramp_up - ramp_down) / peak;
    assert!((t - expected).abs() < 1e-9, "{t} vs {expected}");
    assert!(t > full * 1.05, "{t} vs {full}");
    // The toolhead velocity caps the XY speed, not each axis: a diagonal at 400 mm/s
    // runs at 300 mm/s along the diagonal.
    let m = klipper_limits();
    let diagonal = time_of("G1 X300 Y300 F24000", &m);
    let l = 300.0 * 2f64.sqrt();
    assert!((diagonal - trapezoid(l, 0.0, 300.0, V_STOP, a)).abs() < 1e-9);
}

#[test]
fn reprapfirmware_limits_are_read_per_minute() {
    // The same moves (asked at 100 mm/s) under the same limits (50 mm/s) written in
    // each firmware's units.
    let body = "G1 X20 F6000\nG1 Y20\nG1 X0\nG1 Y0\n";
    let marlin = format!("M203 X50 Y50\nM205 X8 Y8\nM205 J0\n{body}");
    let rrf = format!("; flavor = reprapfirmware\nM203 X3000 Y3000\nM566 X480 Y480\n{body}");
    let m = limits();
    let (tm, tr) = (time_of(&marlin, &m), time_of(&rrf, &m));
    assert!((tm - tr).abs() < 1e-9, "{tm} vs {tr}");
    // Negative control: read as Marlin, M203 X3000 would allow 3000 mm/s.
    let misread = rrf.replace("; flavor = reprapfirmware\n", "");
    assert!((time_of(&misread, &m) - tr).abs() > 0.01);
}

#[test]
fn klipper_velocity_limit_is_read_back() {
    let body = "G1 X20 F3000\nG1 Y20\nG1 X0\nG1 Y0\n";
    let file = format!(
        "; flavor = klipper\nSET_VELOCITY_LIMIT VELOCITY=300 ACCEL=1000 SQUARE_CORNER_VELOCITY=5 MINIMUM_CRUISE_RATIO=0\n{body}"
    );
    let t = time_of(&file, &limits());
    assert!((t - time_of(body, &klipper_limits())).abs() < 1e-9);
    // A larger corner velocity is faster.
    let fast = file.replace("SQUARE_CORNER_VELOCITY=5", "SQUARE_CORNER_VELOCITY=20");
    assert!(time_of(&fast, &limits()) < t - 0.01);
}

#[test]
fn many_tiny_collinear_segments_cost_no_more_than_one_move() {
    let m = limits();
    let mut g = String::from("M83\nG1 F3000\n");
    for i in 1..=500 {
        g.push_str(&format!("G1 X{:.1} E0.01\n", i as f64 * 0.2));
    }
    let tiny = time_of(&g, &m);
    let one = time_of("M83\nG1 X100 E5 F3000", &m);
    assert!((tiny - one).abs() / one < 0.005, "{tiny} vs {one}");
}

#[test]
fn retraction_is_limited_by_the_extruder() {
    let m = limits();
    // 0.8 mm asked at 35 mm/s: E's maximum of 25 mm/s and 1000 mm/s² rule; 0.625 mm
    // of ramps fit in 0.8 mm, so it is a trapezoid: L/v + v/a.
    let t = time_of("M83\nG1 E-0.8 F2100", &m);
    assert!(
        (t - trapezoid(0.8, 0.0, 25.0, V_STOP, 1000.0)).abs() < 1e-9,
        "{t}"
    );
    assert!((t - (0.8 / 25.0 + 25.0 / 1000.0)).abs() < 1e-4, "{t}");
}

#[test]
fn dwell_and_tool_change_time() {
    let m = MachineConfig {
        tool_change_time: 4.0,
        ..limits()
    };
    let t = time_of("G4 P1500\nG4 S2\nT1\nT1\nT0", &m);
    assert!((t - (1.5 + 2.0 + 8.0)).abs() < 1e-9, "{t}");
}

#[test]
fn renderer_supplies_layer_and_tool_change_gcode() {
    let mut j = job(true);
    j.renderer = Some(TemplateRenderer::new(|c| match c.hook {
        GcodeHook::BeforeLayer => Ok(format!("; before {}", c.layer_num)),
        GcodeHook::AfterLayer => Ok(format!("; after {} at {}", c.layer_num, c.layer_z)),
        GcodeHook::ToolChange {
            previous_tool,
            next_tool,
        } => Ok(format!("; park {previous_tool}\nT{next_tool} ; select")),
    }));
    let (text, e) = write(&j, &plans());
    let lines: Vec<&str> = text.lines().collect();
    let at = |s: &str| lines.iter().position(|l| *l == s).unwrap();
    // Before-layer text precedes the marker; after-layer text follows the Z move.
    let change = at(";LAYER_CHANGE");
    assert_eq!(lines[change - 1], "; before 0");
    let after = at("; after 1 at 0.4");
    assert!(
        lines[after - 2].starts_with("G1 Z0.4"),
        "{}",
        lines[after - 2]
    );
    // The tool change G-code selects the tool itself: no second T1.
    assert_eq!(lines.iter().filter(|l| l.starts_with("T1")).count(), 1);
    assert!(text.contains("; park 0\nT1 ; select\n"));
    assert_eq!(e.tool_changes, 2);
    // A failing template stops the job with its message.
    j.renderer = Some(TemplateRenderer::new(|c| match c.hook {
        GcodeHook::ToolChange { .. } => Err("unknown placeholder '{purge}'".into()),
        _ => Ok(String::new()),
    }));
    let err = estimate(&j, &plans()).unwrap_err().to_string();
    assert!(
        err.contains("tool-change") && err.contains("{purge}"),
        "{err}"
    );
}

#[test]
fn estimate_serializes_to_json() {
    let e = estimate(&job(true), &plans()).unwrap();
    let json = serde_json::to_string(&e).unwrap();
    assert!(json.contains("\"ExternalPerimeter\":"), "{json}");
    let back: Estimate = serde_json::from_str(&json).unwrap();
    assert_eq!(back.tools.len(), 2);
    assert_eq!(back.layer_times, e.layer_times);
}
