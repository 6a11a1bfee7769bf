//! The writer re-read: extrusion amounts, retractions, formatting, progress, header.

use super::*;
use crate::geom::{Point, scaled};
use crate::path::{Role, bead_area};
use crate::plan::Step;
use crate::profile::{ProfileSelection, resolve};

fn job(relative: bool) -> GcodeJob {
    let mut s = resolve(&ProfileSelection::default()).unwrap();
    s.printer.relative_e = relative;
    s.printer.start_gcode = "; start".into();
    s.printer.end_gcode = "; end".into();
    GcodeJob::from_settings(&s, vec!["cube".into()]).unwrap()
}

fn square_plan(index: usize) -> LayerPlan {
    let z = 0.2 * (index + 1) as f64;
    let sq = |x: f64, y: f64| Point::from_mm(x, y);
    LayerPlan {
        index,
        z,
        height: 0.2,
        steps: vec![
            Step::Fan(if index == 0 { 0 } else { 100 }),
            Step::Travel {
                to: sq(10.0, 10.0),
                speed: 150.0,
                retract: true,
                lift: false,
            },
            Step::Extrude {
                role: Role::ExternalPerimeter,
                points: vec![
                    sq(10.0, 10.0),
                    sq(30.0, 10.0),
                    sq(30.0, 30.0),
                    sq(10.0, 30.0),
                    sq(10.0, 10.0),
                ],
                width: 0.45,
                height: 0.2,
                speed: 25.0,
                flow: 1.0,
            },
            Step::Travel {
                to: sq(50.0, 10.0),
                speed: 150.0,
                retract: true,
                lift: false,
            },
            Step::Extrude {
                role: Role::InternalInfill,
                points: vec![sq(50.0, 10.0), sq(60.0, 12.5)],
                width: 0.45,
                height: 0.2,
                speed: 80.0,
                flow: 1.0,
            },
        ],
    }
}

struct Parsed {
    layers: usize,
    extruded: f64,
    path_mm: f64,
    net_retract: f64,
    lines: Vec<String>,
}

fn parse(text: &str) -> Parsed {
    let (mut e, mut rel, mut x, mut y) = (0.0f64, false, 0.0f64, 0.0f64);
    let mut p = Parsed {
        layers: 0,
        extruded: 0.0,
        path_mm: 0.0,
        net_retract: 0.0,
        lines: vec![],
    };
    for line in text.lines() {
        p.lines.push(line.to_string());
        if line == ";LAYER_CHANGE" {
            p.layers += 1;
        }
        let code = line.split(';').next().unwrap().trim();
        let words: Vec<&str> = code.split_whitespace().collect();
        let get = |c: char| {
            words
                .iter()
                .find(|w| w.starts_with(c))
                .map(|w| w[1..].parse::<f64>().unwrap())
        };
        match words.first().copied() {
            Some("M83") => rel = true,
            Some("M82") => rel = false,
            Some("G92") => e = get('E').unwrap_or(e),
            Some("G1") => {
                let nx = get('X').unwrap_or(x);
                let ny = get('Y').unwrap_or(y);
                if let Some(v) = get('E') {
                    let de = if rel { v } else { v - e };
                    e = if rel { e + v } else { v };
                    if nx != x || ny != y {
                        p.extruded += de;
                        p.path_mm += (nx - x).hypot(ny - y);
                    } else {
                        p.net_retract += de;
                    }
                }
                x = nx;
                y = ny;
            }
            _ => {}
        }
    }
    p
}

#[test]
fn extrusion_matches_length_times_bead_area() {
    for relative in [false, true] {
        let j = job(relative);
        let plans: Vec<LayerPlan> = (0..3).map(square_plan).collect();
        let est = estimate(&j, &plans);
        let mut out = Vec::new();
        write_gcode(&mut out, &j, &plans, &est).unwrap();
        let text = String::from_utf8(out).unwrap();
        let p = parse(&text);
        assert_eq!(p.layers, 3);
        let path = 3.0 * (80.0 + 10.0f64.hypot(2.5));
        assert!((p.path_mm - path).abs() < 1e-3, "{}", p.path_mm);
        let area = std::f64::consts::FRAC_PI_4 * 1.75 * 1.75;
        let expected = path * bead_area(0.45, 0.2) / area;
        assert!(
            (p.extruded - expected).abs() < 1e-3,
            "relative {relative}: {} vs {expected}",
            p.extruded
        );
        // Every retraction is undone except the final one (nozzle left retracted).
        assert!(
            (p.net_retract + j.tools[0].retract_length).abs() < 1e-4,
            "{}",
            p.net_retract
        );
        // The header states the estimate's filament.
        let mm = est.tools[0].filament_mm;
        assert!((mm - expected).abs() < 1e-3);
        assert!(text.contains(&format!("; filament used [mm] = {mm:.2}")));
        assert!(text.contains("; estimated printing time (normal mode) = "));
        assert!(text.contains("; total layers count = 3"));
        assert!(text.contains("; lamina_config = begin"));
    }
}

#[test]
fn numbers_are_tight_and_comments_are_prusaslicer_style() {
    let j = job(false);
    let plans = vec![square_plan(0)];
    let est = estimate(&j, &plans);
    let mut out = Vec::new();
    write_gcode(&mut out, &j, &plans, &est).unwrap();
    let text = String::from_utf8(out).unwrap();
    assert!(text.contains("G1 X10 Y10 F9000"), "{text}");
    assert!(text.contains("G1 X60 Y12.5 E"));
    for needle in [
        ";LAYER_CHANGE",
        ";Z:0.2",
        ";HEIGHT:0.2",
        ";TYPE:External perimeter",
        ";TYPE:Internal infill",
        ";WIDTH:0.45",
    ] {
        assert!(text.contains(needle), "{needle}");
    }
    for line in text.lines().filter(|l| !l.starts_with(';')) {
        assert!(
            !line.contains(".000") && !line.contains("-0 ") && !line.ends_with("-0"),
            "{line}"
        );
        for w in line.split_whitespace() {
            assert!(!w.ends_with('.'), "{line}");
        }
    }
}

#[test]
fn progress_is_monotonic_and_ends_at_100() {
    let j = job(true);
    let plans: Vec<LayerPlan> = (0..20).map(square_plan).collect();
    let est = estimate(&j, &plans);
    let mut out = Vec::new();
    write_gcode(&mut out, &j, &plans, &est).unwrap();
    let text = String::from_utf8(out).unwrap();
    let m73: Vec<(u64, u64)> = text
        .lines()
        .filter_map(|l| l.strip_prefix("M73 P"))
        .map(|r| {
            let (p, m) = r.split_once(" R").unwrap();
            (p.parse().unwrap(), m.parse().unwrap())
        })
        .collect();
    assert!(m73.len() >= 2);
    assert!(m73.windows(2).all(|w| w[0].0 <= w[1].0 && w[0].1 >= w[1].1));
    assert_eq!(*m73.last().unwrap(), (100, 0));
    assert_eq!(m73[0].0, 0);
    assert_eq!(est.layer_times.len(), 20);
    assert!((est.layer_times.iter().sum::<f64>() - est.total_time).abs() < 1e-6);
}

#[test]
fn text_estimate_agrees_with_the_plan_estimate() {
    let j = job(false);
    let plans: Vec<LayerPlan> = (0..5).map(square_plan).collect();
    let est = estimate(&j, &plans);
    let mut out = Vec::new();
    write_gcode(&mut out, &j, &plans, &est).unwrap();
    let from_text = text::estimate_text(&out[..], &j.limits).unwrap();
    assert!(
        (from_text.total_time - est.total_time).abs() / est.total_time < 0.01,
        "{} vs {}",
        from_text.total_time,
        est.total_time
    );
}

#[test]
fn tool_change_retracts_and_switches() {
    let mut s = resolve(&ProfileSelection {
        printer: "dual-marlin".into(),
        materials: vec!["pla".into(), "pva".into()],
        ..Default::default()
    })
    .unwrap();
    s.printer.start_gcode = String::new();
    let j = GcodeJob::from_settings(&s, vec![]).unwrap();
    let mut plan = square_plan(0);
    plan.steps.push(Step::ToolChange { tool: 1 });
    plan.steps.push(Step::Extrude {
        role: Role::SupportMaterial,
        points: vec![Point::from_mm(80.0, 10.0), Point::from_mm(90.0, 10.0)],
        width: 0.4,
        height: 0.2,
        speed: 40.0,
        flow: 1.0,
    });
    let plans = vec![plan];
    let est = estimate(&j, &plans);
    assert_eq!(est.tool_changes, 1);
    assert!(est.tools[1].filament_mm > 0.0);
    let mut out = Vec::new();
    write_gcode(&mut out, &j, &plans, &est).unwrap();
    let text = String::from_utf8(out).unwrap();
    let t1 = text.lines().position(|l| l == "T1").unwrap();
    // The line before the template and T1 is the tool-change retraction.
    let before: Vec<&str> = text.lines().take(t1).collect();
    let retract = before.iter().rev().find(|l| l.starts_with("G1 E")).unwrap();
    assert!(retract.contains("E-"), "{retract}");
    assert!(text.contains("; tool change 0 -> 1"));
    let _ = scaled(1.0);
}

#[test]
fn base64_matches_known_values() {
    assert_eq!(base64(b""), "");
    assert_eq!(base64(b"f"), "Zg==");
    assert_eq!(base64(b"fo"), "Zm8=");
    assert_eq!(base64(b"foo"), "Zm9v");
    assert_eq!(base64(b"foobar"), "Zm9vYmFy");
}
