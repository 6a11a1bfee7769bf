//! Resolution against the built-in profiles and files written here.

use super::*;
use crate::profile::{TemplateVars, list, render_template};

fn sel(overrides: &[&str]) -> ProfileSelection {
    ProfileSelection {
        overrides: overrides.iter().map(|s| s.to_string()).collect(),
        ..Default::default()
    }
}

#[test]
fn every_shipped_profile_resolves() {
    for p in list() {
        let mut s = ProfileSelection::default();
        match p.kind {
            Kind::Printer => s.printer = p.name.clone(),
            Kind::Material => s.materials = vec![p.name.clone()],
            Kind::Quality => s.quality = p.name.clone(),
        }
        let r = resolve(&s).unwrap_or_else(|e| panic!("{}: {e}", p.name));
        assert!(!p.description.is_empty(), "{} has no description", p.name);
        if p.kind == Kind::Printer {
            // Start and end G-code render with every placeholder known.
            let vars = TemplateVars::from_settings(&r);
            render_template(&r.printer.start_gcode, &vars).unwrap();
            render_template(&r.printer.end_gcode, &vars).unwrap();
        }
    }
    let names: Vec<String> = list().into_iter().map(|p| p.name).collect();
    for needed in [
        "generic-220",
        "prusa-mk3s",
        "dual-marlin",
        "idex-marlin",
        "klipper-ender3",
        "duet-corexy-300",
        "pla",
        "petg",
        "tpu",
        "pva",
        "bvoh",
        "hips",
        "0.10mm",
        "0.20mm",
        "0.28mm",
    ] {
        assert!(names.iter().any(|n| n == needed), "{needed} missing");
    }
}

#[test]
fn defaults_and_inheritance() {
    let s = resolve(&ProfileSelection::default()).unwrap();
    assert_eq!(s.names.printer, "generic-220");
    assert_eq!(s.printer.bed_size, [220.0, 220.0]);
    // From the Marlin base, through inheritance.
    assert!(s.printer.start_gcode.contains("G28"));
    assert_eq!(s.print.layer_height, 0.2);
    // The quality inherits common speeds.
    assert_eq!(s.print.external_perimeter_speed, 25.0);
    assert_eq!(s.materials.len(), 1);
    let fine = resolve(&ProfileSelection {
        quality: "0.10mm".into(),
        ..Default::default()
    })
    .unwrap();
    assert_eq!(fine.print.layer_height, 0.1);
    assert_eq!(fine.print.external_perimeter_speed, 20.0);
}

#[test]
fn overrides_are_type_checked() {
    let s = resolve(&sel(&[
        "perimeters=3",
        "fill_density=20",
        "thin_walls=false",
        "seam_position=rear",
        "bed_size=250,210",
        "temperature=205",
    ]))
    .unwrap();
    assert_eq!(s.print.perimeters, 3);
    assert_eq!(s.print.fill_density, 20.0);
    assert!(!s.print.thin_walls);
    assert_eq!(s.print.seam_position, crate::profile::SeamPosition::Rear);
    assert_eq!(s.printer.bed_size, [250.0, 210.0]);
    assert_eq!(s.materials[0].temperature, 205.0);

    let e = resolve(&sel(&["perimeters=abc"])).unwrap_err().to_string();
    assert_eq!(e, "perimeters expects an integer, got 'abc'");
    let e = resolve(&sel(&["thin_walls=maybe"]))
        .unwrap_err()
        .to_string();
    assert_eq!(e, "thin_walls expects true or false, got 'maybe'");
    let e = resolve(&sel(&["seam_position=left"]))
        .unwrap_err()
        .to_string();
    assert!(e.contains("seam_position") || e.contains("left"), "{e}");
    assert!(e.contains("aligned"), "{e}");
    let e = resolve(&sel(&["perimeters"])).unwrap_err().to_string();
    assert_eq!(e, "--set expects KEY=VALUE, got 'perimeters'");
}

#[test]
fn per_tool_overrides() {
    let s = resolve(&ProfileSelection {
        printer: "dual-marlin".into(),
        materials: vec!["pla".into(), "pva".into()],
        overrides: vec!["temperature[1]=205".into(), "nozzle_diameter[1]=0.6".into()],
        ..Default::default()
    })
    .unwrap();
    assert_eq!(s.materials.len(), 2);
    assert_eq!(s.materials[0].temperature, 210.0);
    assert_eq!(s.materials[1].temperature, 205.0);
    assert!(s.materials[1].soluble);
    assert_eq!(s.printer.nozzle_diameter, vec![0.4, 0.6]);
    // PLA -> PVA and PVA -> PLA purge differently through one nozzle; a hotend per
    // tool only primes after a change.
    assert_ne!(
        s.materials[0].purge_to(&s.materials[1]),
        s.materials[1].purge_to(&s.materials[0])
    );
    assert!(s.printer.own_hotends());
    let (pla, pva) = (&s.materials[0], &s.materials[1]);
    assert_eq!(s.printer.purge(pla, pva), s.printer.toolchange_prime);
    let mut shared = s.printer.clone();
    shared.dual_kind = crate::profile::DualKind::Single;
    assert_eq!(shared.purge(pla, pva), pla.purge_to(pva));
}

#[test]
fn unknown_keys_suggest_the_nearest() {
    let e = resolve(&sel(&["layer_heigth=0.1"]))
        .unwrap_err()
        .to_string();
    assert_eq!(
        e,
        "unknown setting 'layer_heigth' in --set layer_heigth=0.1; did you mean 'layer_height'?"
    );
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("my.toml");
    std::fs::write(&path, "inherits = \"0.20mm\"\nperimters = 3\n").unwrap();
    let e = resolve(&ProfileSelection {
        quality: path.display().to_string(),
        ..Default::default()
    })
    .unwrap_err()
    .to_string();
    assert!(
        e.contains("unknown setting 'perimters'") && e.contains("did you mean 'perimeters'"),
        "{e}"
    );
    let e = resolve(&ProfileSelection {
        printer: "ender3".into(),
        ..Default::default()
    })
    .unwrap_err()
    .to_string();
    assert!(
        e.starts_with("no printer profile 'ender3'") && e.contains("generic-220"),
        "{e}"
    );
}

#[test]
fn user_file_inherits_a_builtin() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("lab-mk3s.toml");
    std::fs::write(&path, "inherits = \"prusa-mk3s\"\nretract_length = 1.2\n").unwrap();
    let s = resolve(&ProfileSelection {
        printer: path.display().to_string(),
        ..Default::default()
    })
    .unwrap();
    assert_eq!(s.printer.retract_length, 1.2);
    assert_eq!(s.printer.bed_size, [250.0, 210.0]);
}

#[test]
fn cycles_and_wrong_kinds_are_caught() {
    let dir = tempfile::tempdir().unwrap();
    let a = dir.path().join("a.toml");
    let b = dir.path().join("b.toml");
    std::fs::write(&a, format!("inherits = \"{}\"\n", b.display())).unwrap();
    std::fs::write(&b, format!("inherits = \"{}\"\n", a.display())).unwrap();
    let e = resolve(&ProfileSelection {
        quality: a.display().to_string(),
        ..Default::default()
    })
    .unwrap_err();
    assert!(matches!(e, ProfileError::Cycle(_)), "{e}");
    let c = dir.path().join("c.toml");
    std::fs::write(&c, "temperature = 200\n").unwrap();
    let e = resolve(&ProfileSelection {
        quality: c.display().to_string(),
        ..Default::default()
    })
    .unwrap_err()
    .to_string();
    assert!(e.contains("is a material setting"), "{e}");
}

#[test]
fn validation_names_the_problem() {
    let e = resolve(&sel(&["layer_height=0.5"]))
        .unwrap_err()
        .to_string();
    assert!(e.starts_with("layer_height must be"), "{e}");
    let e = resolve(&sel(&["fill_density=150"]))
        .unwrap_err()
        .to_string();
    assert!(e.contains("fill_density"), "{e}");
    let e = resolve(&sel(&["support_tool=1"])).unwrap_err().to_string();
    assert!(e.contains("has 1 tool"), "{e}");
    let e = resolve(&ProfileSelection {
        materials: vec!["pla".into(), "pva".into()],
        ..Default::default()
    })
    .unwrap_err()
    .to_string();
    assert!(e.contains("has 1 tool but 2 materials"), "{e}");
    let e = resolve(&sel(&["toolchange_prime=-1"]))
        .unwrap_err()
        .to_string();
    assert!(e.contains("toolchange_prime") && e.contains("-1"), "{e}");
}

#[test]
fn settings_round_trip_through_toml() {
    let s = resolve(&ProfileSelection {
        printer: "idex-marlin".into(),
        materials: vec!["petg".into(), "bvoh".into()],
        quality: "0.28mm".into(),
        overrides: vec![],
    })
    .unwrap();
    let text = s.to_toml();
    let (printer, print, materials) = from_toml(&text).unwrap();
    assert_eq!(printer, s.printer);
    assert_eq!(print, s.print);
    assert_eq!(materials, s.materials);
}

#[test]
fn show_gives_resolved_values() {
    let (kind, text) = show("prusa-mk3s").unwrap();
    assert_eq!(kind, Kind::Printer);
    let t: toml::Table = text.parse().unwrap();
    assert_eq!(t["retract_length"].as_float(), Some(0.8));
    assert!(t["start_gcode"].as_str().unwrap().contains("G80"));
    assert!(show("_marlin").is_err());
    let e = show("pva2").unwrap_err().to_string();
    assert!(e.contains("did you mean 'pva'"), "{e}");
    // The start of a longer name, in any case.
    let e = show("PRUSA").unwrap_err().to_string();
    assert!(e.contains("did you mean 'prusa-mk3s'"), "{e}");
    // Too short or matching several: no guess.
    for vague in ["zz", "0.2"] {
        let e = show(vague).unwrap_err().to_string();
        assert!(!e.contains("did you mean"), "{vague}: {e}");
    }
}
