//! The toolpath reader's tests.

use super::*;
use crate::gcode::read::Corrupt;

fn parse_str(g: &str) -> Toolpath {
    parse_bytes(g.as_bytes(), &ParseOptions::default()).unwrap()
}

#[test]
fn absolute_and_relative_e_retractions_and_g92() {
    let g = "M82\nG92 E0\n;LAYER_CHANGE\n;Z:0.2\nG1 Z0.2\nG1 X0 Y0\n;TYPE:Perimeter\n\
             G1 X10 E1\nG1 E-1\nG1 X20\nG1 E1\nG1 X30 E2\nG92 E0\nG1 X40 E1\n\
             M83\nG1 X50 E0.5\nG1 E-2\nG1 X60\nG1 E2\nG1 X70 E0.5\n";
    let tp = parse_str(g);
    let segs = &tp.layers[0].segments;
    let xs: Vec<(f32, f32)> = segs.iter().map(|s| (s.x0, s.x1)).collect();
    assert_eq!(
        xs,
        vec![(0., 10.), (20., 30.), (30., 40.), (40., 50.), (60., 70.)]
    );
    let joined: Vec<bool> = segs.iter().map(|s| s.joined).collect();
    assert_eq!(joined, vec![false, false, true, true, false]);
    assert!(segs.iter().all(|s| s.role == Some(Role::Perimeter)));
    // Two pulled back by E, none by the un-retractions.
    assert_eq!(tp.retractions, 2);
    let fw =
        parse_str("M83\nG1 Z0.2\nG1 X0 Y0\nG1 X10 E1\nG10\nG1 X20\nG11\nG10 P0 S200\nG1 X30 E1\n");
    assert_eq!(fw.retractions, 1);
}

#[test]
fn relative_xyz_and_offsets() {
    let g = "G91\nM83\nG1 Z0.2\nG1 X5 Y5\nG1 X10 E1\nG90\nM83\nG92 X0 Y0\nG1 X10 E1\n";
    let tp = parse_str(g);
    let s = &tp.layers[0].segments;
    assert_eq!((s[0].x0, s[0].x1, s[0].y1), (5.0, 15.0, 5.0));
    // After G92 X0 at X15, X10 is physical X25.
    assert_eq!((s[1].x0, s[1].x1), (15.0, 25.0));
    assert!((tp.layers[0].z - 0.2).abs() < 1e-6);
}

#[test]
fn width_from_comment_or_filament() {
    // 0.45 x 0.2 line: area = (0.45 - 0.2) * 0.2 + pi * 0.01.
    let area = (0.45 - 0.2) * 0.2 + std::f64::consts::PI * 0.01;
    let e_per_mm = area / (std::f64::consts::PI * 1.75 * 1.75 / 4.0);
    let g = format!(
        "M83\n;LAYER_CHANGE\n;Z:0.2\n;HEIGHT:0.2\nG1 Z0.2\nG1 X0 Y0\nG1 X10 E{:.6}\n;WIDTH:0.6\nG1 X20 E0.5\n",
        e_per_mm * 10.0
    );
    let tp = parse_str(&g);
    let s = &tp.layers[0].segments;
    assert!((s[0].width - 0.45).abs() < 1e-3, "{}", s[0].width);
    assert!(s[0].width_from_e);
    assert_eq!(s[1].width, 0.6);
    // With a 2.85 mm filament stated at the end (as PrusaSlicer does), derived
    // widths are redone.
    let g2 = format!("{g}; filament_diameter = 2.85\n");
    let tp = parse_str(&g2);
    let w = tp.layers[0].segments[0].width;
    assert!(w > 1.0, "{w}");
    assert_eq!(tp.filament_diameter, 2.85);
}

#[test]
fn arcs_become_chords_on_the_circle() {
    // A half circle of radius 10 around (10, 0), counter-clockwise from (20,0).
    let g = "M83\nG1 Z0.2\nG1 X20 Y0\nG3 X0 Y0 I-10 J0 E3\n";
    let tp = parse_str(g);
    let s = &tp.layers[0].segments;
    assert!(s.len() > 20);
    for seg in s {
        let r = (seg.x1 - 10.0).hypot(seg.y1);
        assert!((r - 10.0).abs() < 1e-3);
        assert!(seg.y1 >= -1e-4, "ccw from (20,0) to (0,0) passes y > 0");
    }
    let last = s.last().unwrap();
    assert_eq!((last.x1, last.y1), (0.0, 0.0));
    assert!(s[1..].iter().all(|s| s.joined));
    // Clockwise with R: passes below.
    let tp = parse_str("M83\nG1 Z0.2\nG1 X20 Y0\nG2 X0 Y0 R10 E3\n");
    assert!(tp.layers[0].segments.iter().all(|s| s.y1 <= 1e-4));
}

#[test]
fn layers_from_comments_z_or_cura() {
    // No comments: layers follow Z; a z-hop travel does not make a layer.
    let g = "M83\nG1 Z0.2\nG1 X0 Y0\nG1 X10 E1\nG1 Z0.6\nG1 X0\nG1 Z0.2\nG1 X5 E1\n\
             G1 Z0.4\nG1 X10 E1\n";
    let tp = parse_str(g);
    assert_eq!(tp.layers.len(), 2);
    assert_eq!(tp.layers[0].segments.len(), 2);
    assert!((tp.layers[1].height - 0.2).abs() < 1e-6);
    // Cura: ;LAYER:n, types in capitals, tool changes.
    let g = ";FLAVOR:Marlin\n;LAYER_COUNT:2\nM82\n;LAYER:0\nG0 Z0.3\nG0 X0 Y0\n\
             ;TYPE:WALL-OUTER\nG1 X10 E1\n;TYPE:FILL\nG1 Y10 E2\n;LAYER:1\nT1\nG0 Z0.5\n\
             ;TYPE:SUPPORT\nG1 X0 E3\n";
    let tp = parse_str(g);
    assert_eq!(tp.layers.len(), 2);
    let s0 = &tp.layers[0].segments;
    assert_eq!(s0[0].role, Some(Role::ExternalPerimeter));
    assert_eq!(s0[1].role, Some(Role::InternalInfill));
    assert!(!s0[1].joined, "a role change breaks the run");
    assert_eq!(tp.layers[1].segments[0].tool, 1);
    assert_eq!(tp.layers[1].segments[0].role, Some(Role::SupportMaterial));
    assert_eq!(tp.tool_count(), 2);
}

#[test]
fn prime_line_joins_the_first_layer() {
    let g = "M83\nG1 Z0.3\nG1 X0 Y0\nG1 Y100 E10\n;LAYER_CHANGE\n;Z:0.2\n;HEIGHT:0.2\n\
             G1 Z0.2\nG1 X50 Y50\n;TYPE:Perimeter\nG1 X60 E1\n;LAYER_CHANGE\n;Z:0.4\n\
             ;HEIGHT:0.2\nG1 Z0.4\nG1 X70 E1\n";
    let tp = parse_str(g);
    assert_eq!(tp.layers.len(), 2);
    assert_eq!(tp.layers[0].z, 0.2);
    assert_eq!(tp.layers[0].segments.len(), 2);
    assert_eq!(tp.layers[0].segments[0].role, None);
}

#[test]
fn outside_only_keeps_what_shows() {
    let g = "M83\n;LAYER_CHANGE\n;Z:0.2\nG1 Z0.2\nG1 X0 Y0\n;TYPE:Perimeter\nG1 X10 E1\n\
             ;TYPE:External perimeter\nG1 Y10 E1\n;TYPE:Internal infill\nG1 X0 E1\n\
             ;TYPE:Top solid infill\nG1 Y0 E1\n";
    let opts = ParseOptions {
        outside_only: true,
        ..ParseOptions::default()
    };
    let tp = parse_bytes(g.as_bytes(), &opts).unwrap();
    let roles: Vec<_> = tp.layers[0].segments.iter().map(|s| s.role).collect();
    assert_eq!(
        roles,
        [Some(Role::ExternalPerimeter), Some(Role::TopSolidInfill)]
    );
    assert!(tp.layers[0].segments.iter().all(|s| !s.joined));
    assert_eq!(parse_str(g).layers[0].segments.len(), 4);
}

#[test]
fn travels_kept_when_asked() {
    let g = "M83\n;LAYER_CHANGE\n;Z:0.2\nG1 Z0.2\nG1 X5 Y5\nG1 X10 E1\nG1 X20 Y20\nG1 X30 E1\n";
    let opts = ParseOptions {
        travels: true,
        ..ParseOptions::default()
    };
    let tp = parse_bytes(g.as_bytes(), &opts).unwrap();
    assert_eq!(tp.layers[0].travels.len(), 2);
    assert_eq!(parse_str(g).layers[0].travels.len(), 0);
}

#[test]
fn bad_input_is_told_apart() {
    let o = ParseOptions::default();
    assert!(matches!(parse_bytes(b"", &o), Err(ParseError::Empty)));
    assert!(matches!(parse_bytes(b"\n\n", &o), Err(ParseError::Empty)));
    let e = parse_bytes(b"solid cube\n facet normal 0 0 1\n outer loop\n", &o).unwrap_err();
    assert!(
        matches!(&e, ParseError::NotGcodeAt { line: 1, text } if text == "solid cube"),
        "{e}"
    );
    assert!(e.to_string().contains("line 1 (`solid cube`)"), "{e}");
    // The first line that is no command is named, not the first line.
    let e = parse_bytes(b"G28\nhello there\nand more\nyet more\n", &o).unwrap_err();
    assert!(matches!(e, ParseError::NotGcodeAt { line: 2, .. }), "{e}");
    assert!(matches!(
        parse_bytes(b"G28\n\x00\x01\x02binary", &o),
        Err(ParseError::Binary { line: 2 })
    ));
    assert!(matches!(
        parse_bytes(b"GCDE\x01\x00\x00\x00", &o),
        Err(ParseError::BinaryGcode)
    ));
    assert!(matches!(
        parse_bytes(b"G28\nG1 X10 Y10 F3000\nM104 S0\n", &o),
        Err(ParseError::NoExtrusion)
    ));
    // A corrupt line is named, as the estimator and the streamer name it; the same
    // file without it draws.
    let good = "M83\nG1 Z0.2\nG1 X0 Y0\nG1 X10 E1\n";
    assert!(parse_bytes(good.as_bytes(), &o).is_ok());
    for (bad, letter) in [
        ("G1 XNaN Y5 E1", 'X'),
        ("G1 X5 Yinf E1", 'Y'),
        ("G1 X5 Y5 E1.2.3", 'E'),
        ("G1 X20000000000 E1", 'X'),
    ] {
        let e = parse_bytes(format!("{good}{bad}\nG1 X0 E1\n").as_bytes(), &o).unwrap_err();
        assert!(
            matches!(e, ParseError::Corrupt { line: 5, why: Corrupt::Unusable(l) } if l == letter as u8),
            "{bad}: {e}"
        );
    }
    let e = parse_bytes(format!("{good}T4000000000\n").as_bytes(), &o).unwrap_err();
    assert!(e.to_string().contains("line 5 is corrupt"), "{e}");
}

#[test]
fn bed_from_comments() {
    let base = "M83\nG1 Z0.2\nG1 X5 Y5\nG1 X10 E1\n";
    let tp = parse_str(&format!("{base}; bed_shape = 0x0,250x0,250x210,0x210\n"));
    assert_eq!(tp.bed.unwrap().max_x, 250.0);
    assert_eq!(tp.bed.unwrap().max_y, 210.0);
    let tp = parse_str(&format!(
        "{base}; bed_size = [220.0, 200.0]\n; origin = \"center\"\n"
    ));
    assert_eq!(tp.bed.unwrap().min_x, -110.0);
    assert_eq!(tp.bed.unwrap().max_y, 100.0);
}

#[test]
fn layer_at_z_picks_the_layer_holding_it() {
    let g = "M83\n;LAYER_CHANGE\n;Z:0.2\n;HEIGHT:0.2\nG1 Z0.2\nG1 X10 E1\n\
             ;LAYER_CHANGE\n;Z:0.4\n;HEIGHT:0.2\nG1 Z0.4\nG1 X0 E1\n";
    let tp = parse_str(g);
    assert_eq!(tp.layer_at_z(0.2), Some(0));
    assert_eq!(tp.layer_at_z(0.3), Some(1));
    assert_eq!(tp.layer_at_z(0.4), Some(1));
    assert_eq!(tp.layer_at_z(0.5), None);
}
