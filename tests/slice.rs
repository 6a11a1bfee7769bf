//! `lamina slice` end to end: meshes with known answers written to files, sliced by the
//! real binary, the G-code re-read and checked against the mesh's own sections.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use common::fidelity::{GLayer, Tolerance, fidelity, parse_gcode};
use lamina::mesh::{Mesh, io, shapes};

fn lamina() -> Command {
    Command::new(env!("CARGO_BIN_EXE_lamina"))
}

/// Write `mesh` to `dir/name.stl`.
fn stl(dir: &Path, name: &str, mesh: &Mesh) -> PathBuf {
    let p = dir.join(format!("{name}.stl"));
    io::write_stl(&p, mesh).unwrap();
    p
}

/// Slice `model` with extra arguments beside it; returns the G-code text.
fn slice(model: &Path, args: &[&str]) -> String {
    slice_to(model, &model.with_extension("gcode"), args)
}

/// Slice `model` with extra arguments into `out`; returns the G-code text.
fn slice_to(model: &Path, out: &Path, args: &[&str]) -> String {
    let o = lamina()
        .arg("slice")
        .arg(model)
        .arg("-o")
        .arg(out)
        .arg("-q")
        .args(args)
        .output()
        .unwrap();
    assert!(
        o.status.success(),
        "{}: {}",
        model.display(),
        String::from_utf8_lossy(&o.stderr)
    );
    std::fs::read_to_string(out).unwrap()
}

fn model_beads(l: &GLayer) -> impl Iterator<Item = &common::fidelity::Bead> {
    l.beads.iter().filter(|b| b.is_model())
}

/// Coverage and spill on every layer (open sections closed as a slicer would, so open
/// meshes are judged too), within w/2 + 0.05 mm of each bead; asserts the judged
/// thresholds and that no layer with a section lacks extrusion.
fn check_fidelity(mesh: &Mesh, layers: &[GLayer], label: &str) -> (f64, f64) {
    let m = common::placed_at(mesh, common::BED_CENTER);
    let f = fidelity(&m.vertices, &m.faces, layers, Tolerance::BEAD, |b| {
        b.is_model()
    });
    assert!(
        f.empty_layers.is_empty(),
        "{label}: layers at z {:?} have no extrusion",
        f.empty_layers
    );
    let (mean, p5, spill) = (f.coverage_mean(), f.coverage_p5(), f.spill());
    let open = f.layers.iter().filter(|l| !l.1.closed).count();
    println!(
        "{label}: {} layers ({open} cut through holes), coverage mean {mean:.4}, 5th percentile {p5:.4} ({:.4} of the outline out of a bead's reach), spill {spill:.5}",
        f.layers.len(),
        f.unreachable()
    );
    assert!(mean >= 0.99, "{label}: mean coverage {mean}");
    assert!(p5 >= 0.97, "{label}: 5% of layers below {p5}");
    assert!(spill <= 0.01, "{label}: spill {spill}");
    (mean, spill)
}

#[test]
fn cube_layers_are_20mm_squares() {
    let dir = tempfile::tempdir().unwrap();
    let cube = shapes::cuboid([0.0; 3], [20.0; 3]);
    let g = slice(&stl(dir.path(), "cube", &cube), &["--set", "skirts=0"]);
    let layers = parse_gcode(&g);
    assert_eq!(layers.len(), 100);
    for (i, l) in layers.iter().enumerate() {
        assert!((l.z - 0.2 * (i + 1) as f64).abs() < 1e-6);
        // The outer bead's outer edge lies on the 20 mm square.
        let ext: Vec<_> = l
            .beads
            .iter()
            .filter(|b| b.role == "External perimeter")
            .collect();
        assert!(!ext.is_empty());
        let (mut x0, mut x1, mut y0, mut y1) = (f64::MAX, f64::MIN, f64::MAX, f64::MIN);
        for b in &ext {
            for p in [b.a, b.b] {
                x0 = x0.min(p[0] - b.width / 2.0);
                x1 = x1.max(p[0] + b.width / 2.0);
                y0 = y0.min(p[1] - b.width / 2.0);
                y1 = y1.max(p[1] + b.width / 2.0);
            }
        }
        assert!(
            ((x1 - x0) - 20.0).abs() < 0.05 && ((y1 - y0) - 20.0).abs() < 0.05,
            "layer {i}: {} x {}",
            x1 - x0,
            y1 - y0
        );
    }
    // Bottom and top are closed: solid lines fill the whole inside.
    for i in [0, 1, 2, 97, 98, 99] {
        let solid: f64 = layers[i]
            .beads
            .iter()
            .filter(|b| b.role.contains("olid infill"))
            .map(|b| (b.b[0] - b.a[0]).hypot(b.b[1] - b.a[1]) * b.width)
            .sum();
        assert!(solid > 0.9 * 18.0 * 18.0, "layer {i}: {solid}");
    }
    check_fidelity(&cube, &layers, "cube");
}

#[test]
fn sphere_outlines_enclose_the_circle_area() {
    let dir = tempfile::tempdir().unwrap();
    let r = 15.0;
    let sphere = shapes::uv_sphere([0.0, 0.0, r], r, 120, 240);
    let layers = parse_gcode(&slice(
        &stl(dir.path(), "sphere", &sphere),
        &["--set", "skirts=0", "--set", "brim_auto=false"],
    ));
    for l in &layers[2..layers.len() - 2] {
        let z = l.z - l.height / 2.0 - r;
        // The external perimeter's outer edge encloses a circle of radius r(z).
        let ext: Vec<_> = l
            .beads
            .iter()
            .filter(|b| b.role == "External perimeter")
            .collect();
        let centre = [110.0, 110.0];
        let mean_r = ext
            .iter()
            .map(|b| (b.a[0] - centre[0]).hypot(b.a[1] - centre[1]) + b.width / 2.0)
            .fold(0.0, f64::max);
        let area = std::f64::consts::PI * mean_r * mean_r;
        let expected = std::f64::consts::PI * (r * r - z * z);
        assert!(
            (area - expected).abs() / expected < 0.02,
            "z {z}: {area} vs {expected}"
        );
    }
    check_fidelity(&sphere, &layers, "sphere");
}

#[test]
fn thin_tubes_print_all_the_way_round() {
    let dir = tempfile::tempdir().unwrap();
    for wall in [0.8, 0.5] {
        let tube = shapes::tube([0.0; 3], 3.0, 3.0 + wall, 15.0, 96);
        let layers = parse_gcode(&slice(&stl(dir.path(), &format!("tube{wall}"), &tube), &[]));
        assert_eq!(layers.len(), 75);
        check_fidelity(&tube, &layers, &format!("tube with a {wall} mm wall"));
        // Extrusion all the way round: every 10° sector of every layer has some.
        for l in &layers {
            let mut sectors = [false; 36];
            for b in model_beads(l) {
                let n = ((b.b[0] - b.a[0]).hypot(b.b[1] - b.a[1]) / 0.1).ceil() as usize + 1;
                for k in 0..=n {
                    let t = k as f64 / n as f64;
                    let p = [
                        b.a[0] + t * (b.b[0] - b.a[0]),
                        b.a[1] + t * (b.b[1] - b.a[1]),
                    ];
                    let a = (p[1] - 110.0)
                        .atan2(p[0] - 110.0)
                        .to_degrees()
                        .rem_euclid(360.0);
                    sectors[(a / 10.0) as usize % 36] = true;
                }
            }
            assert!(
                sectors.iter().all(|s| *s),
                "wall {wall}, z {}: a sector has no extrusion",
                l.z
            );
        }
    }
}

#[test]
fn broken_meshes_slice_without_missing_layers() {
    let dir = tempfile::tempdir().unwrap();
    // Two overlapping shells.
    let overlap = shapes::merge(&[
        shapes::cuboid([0.0; 3], [20.0, 20.0, 10.0]),
        shapes::cylinder([20.0, 10.0, 0.0], 8.0, 10.0, 64),
    ]);
    // A sphere with a missing triangle, and one with flipped faces.
    let mut holed = shapes::uv_sphere([0.0, 0.0, 10.0], 10.0, 40, 80);
    holed.faces.remove(1000);
    let mut flipped = shapes::uv_sphere([0.0, 0.0, 10.0], 10.0, 40, 80);
    for f in flipped.faces.iter_mut().step_by(5) {
        f.swap(1, 2);
    }
    for (name, mesh) in [("overlap", overlap), ("holed", holed), ("flipped", flipped)] {
        let layers = parse_gcode(&slice(&stl(dir.path(), name, &mesh), &[]));
        assert_eq!(
            layers.len(),
            (mesh.bounding_box().unwrap().size()[2] / 0.2).round() as usize,
            "{name}"
        );
        check_fidelity(&mesh, &layers, name);
    }
}

#[test]
fn shared_meshes_coverage_and_spill() {
    // The smaller real meshes here; the large ones in the test below, on demand.
    shared_meshes_through_the_checker(&[
        "aneurysm_bifurcation_01.stl",
        "artery_ica_aneurisk_c0015.stl",
        "aorta_flipped_normals_01.stl",
        "aorta_segment_01.stl",
        "heart_ct_defects_01.stl",
    ]);
}

/// Slice shared meshes unrepaired and check every layer's fidelity (skipped clearly
/// when the folder is absent).
fn shared_meshes_through_the_checker(files: &[&str]) {
    let Some(dir) = common::shared_meshes() else {
        return;
    };
    for &file in files {
        let path = dir.join(file);
        let mesh = io::load(&path).unwrap().remove(0).mesh;
        let tmp = tempfile::tempdir().unwrap();
        let layers = parse_gcode(&slice_to(&path, &tmp.path().join("out.gcode"), &[]));
        check_fidelity(&mesh, &layers, file);
    }
}

/// The fidelity measure can fail: a cube printed 0.1 mm undersize per side leaves its
/// outline uncovered (the old reach of max(0.45, w) passed it), one printed 1 mm
/// oversize spills, and on an open mesh a print 1 mm off its place spills too.
#[test]
fn fidelity_fails_an_undersize_or_oversize_print() {
    let dir = tempfile::tempdir().unwrap();
    let cube = shapes::cuboid([0.0; 3], [20.0; 3]);
    let model = stl(dir.path(), "cube", &cube);
    let m = common::placed_at(&cube, common::BED_CENTER);
    let judge = |layers: &[GLayer]| {
        fidelity(&m.vertices, &m.faces, layers, Tolerance::BEAD, |b| {
            b.is_model()
        })
    };
    // 19.8 mm: 0.1 mm short on every side.
    let under = judge(&parse_gcode(&slice(&model, &["--scale", "0.99"])));
    println!(
        "cube 0.1 mm undersize per side: coverage {:.4}",
        under.coverage_mean()
    );
    assert!(under.coverage_mean() < 0.5, "{}", under.coverage_mean());
    // 22 mm: the outer beads' centre lines 0.775 mm outside the true outline.
    let over = judge(&parse_gcode(&slice(&model, &["--scale", "1.1"])));
    println!("cube 1 mm oversize per side: spill {:.4}", over.spill());
    assert!(over.spill() > 0.05, "{}", over.spill());
    // An open mesh measured 1 mm away from where it was printed.
    let Some(shared) = common::shared_meshes() else {
        return;
    };
    let path = shared.join("aneurysm_bifurcation_01.stl");
    let mesh = io::load(&path).unwrap().remove(0).mesh;
    let layers = parse_gcode(&slice_to(&path, &dir.path().join("aneurysm.gcode"), &[]));
    let shifted = common::placed_at(&mesh, [111.0, 110.0]);
    let f = fidelity(
        &shifted.vertices,
        &shifted.faces,
        &layers,
        Tolerance::BEAD,
        |b| b.is_model(),
    );
    println!(
        "aneurysm (open) measured 1 mm off: coverage {:.4}, spill {:.4}",
        f.coverage_mean(),
        f.spill()
    );
    assert!(f.spill() > 0.05 && f.coverage_mean() < 0.9);
}

#[test]
fn a_tip_thinner_than_a_line_leaves_no_empty_layer() {
    // A 10 mm square pyramid 10.1 mm tall: the last, partial layer cuts only its tip.
    let mesh = Mesh {
        vertices: vec![
            [0.0, 0.0, 0.0],
            [10.0, 0.0, 0.0],
            [10.0, 10.0, 0.0],
            [0.0, 10.0, 0.0],
            [5.0, 5.0, 10.1],
        ],
        faces: vec![
            [0, 2, 1],
            [0, 3, 2],
            [0, 1, 4],
            [1, 2, 4],
            [2, 3, 4],
            [3, 0, 4],
        ],
    };
    let dir = tempfile::tempdir().unwrap();
    let layers = parse_gcode(&slice(&stl(dir.path(), "pyramid", &mesh), &[]));
    assert!(layers.len() >= 49, "{} layers", layers.len());
    for l in &layers {
        assert!(
            model_beads(l).next().is_some(),
            "layer at z {} has no extrusion",
            l.z
        );
    }
}

/// The large shared meshes (skulls and brains up to 1.08M triangles, broken ones
/// included) through the same checker: minutes, so run on demand with
/// `cargo test --release --test slice -- --ignored --nocapture`.
#[test]
#[ignore = "minutes on 2 cores: the large shared meshes, run on demand"]
fn large_shared_meshes_coverage_and_spill() {
    shared_meshes_through_the_checker(&[
        "skull_mri_seg14_1mm_voxel.stl",
        "brain_mri_seg10_0p8mm.stl",
        "skull_mri_seg03_1p5mm.stl",
        "brain_mri_seg02_1p5mm.stl",
        "skull_scan_yahoo_01.stl",
    ]);
}
