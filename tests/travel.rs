//! Travel judged from the G-code: support made of many small pieces (tree tips and
//! branches) must be visited in a short order, and the nozzle must not retract on
//! every move between them. The support's share is what the print with support adds
//! to the same print without it (`--support none`). A model of many small pieces must
//! be printed with little travel per millimetre of extrusion.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use common::travel::{Motion, motion};
use lamina::mesh::{Mesh, io, shapes};

fn stl(dir: &Path, name: &str, mesh: &Mesh) -> PathBuf {
    let p = dir.join(format!("{name}.stl"));
    io::write_stl(&p, mesh).unwrap();
    p
}

/// Slice `model` with `--support style` and read the moves back.
fn sliced(model: &Path, style: &str) -> Motion {
    sliced_with(model, style, &["--support", style])
}

/// Slice `model` with `args` (the output named after `label`) and read the moves back.
fn sliced_with(model: &Path, label: &str, args: &[&str]) -> Motion {
    motion(&gcode_of(model, label, args))
}

/// Slice `model` with `args` (the output named after `label`): the G-code.
fn gcode_of(model: &Path, label: &str, args: &[&str]) -> String {
    let out = model.with_extension(format!("{label}.gcode"));
    let o = Command::new(env!("CARGO_BIN_EXE_lamina"))
        .arg("slice")
        .arg(model)
        .arg("-o")
        .arg(&out)
        .args(args)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    std::fs::read_to_string(out).unwrap()
}

/// What support adds to a print: travel per millimetre of support extrusion, and
/// retractions per metre of it.
#[derive(Debug, Clone, Copy)]
struct Added {
    travel_per_mm: f64,
    retractions_per_m: f64,
}

fn added(with: &Motion, without: &Motion) -> Added {
    let extrusion = with.extrusion - without.extrusion;
    assert!(extrusion > 100.0, "support was printed: {extrusion:.0} mm");
    Added {
        travel_per_mm: (with.travel - without.travel) / extrusion,
        retractions_per_m: (with.retractions as f64 - without.retractions as f64) * 1000.0
            / extrusion,
    }
}

/// At most this many retractions per metre of the T's tree support: the moves inside a
/// branch and the short hops between branches clear of the model need none; what is
/// left is going to and from the model (lamina before this bar: 232, now 108).
const T_RETRACTIONS_PER_M: f64 = 150.0;

/// The same on the aorta, whose branches stand far more often side by side than
/// across the model (lamina before this bar: 92, now 13).
const AORTA_RETRACTIONS_PER_M: f64 = 30.0;

/// A T: a 4 mm stem under a 20 mm bar 15 mm above the bed, held by tree branches.
fn t_shape() -> Mesh {
    shapes::merge(&[
        shapes::cuboid([8.0, 0.0, 0.0], [12.0, 10.0, 15.0]),
        shapes::cuboid([0.0, 0.0, 15.0], [20.0, 10.0, 18.0]),
    ])
}

/// The support of `model` (tree) against the same print without support.
fn tree_support(model: &Path, label: &str) -> Added {
    let with = sliced(model, "tree");
    let without = sliced(model, "none");
    let a = added(&with, &without);
    println!(
        "{label}: tree {with:?} (travel/extrusion {:.3}), none {without:?}: support adds {:.2} mm of travel per mm and {:.0} retractions per metre",
        with.ratio(),
        a.travel_per_mm,
        a.retractions_per_m
    );
    a
}

#[test]
fn tree_branches_of_a_t_retract_seldom() {
    let dir = tempfile::tempdir().unwrap();
    let model = stl(dir.path(), "t", &t_shape());
    let a = tree_support(&model, "T");
    assert!(
        a.retractions_per_m <= T_RETRACTIONS_PER_M,
        "{:.0} retractions per metre of support",
        a.retractions_per_m
    );
}

#[test]
fn tree_support_of_the_aorta_retracts_seldom() {
    let Some(shared) = common::shared_meshes() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let model = dir.path().join("aorta.stl");
    std::fs::copy(shared.join("aorta_segment_01.stl"), &model).unwrap();
    let a = tree_support(&model, "aorta");
    assert!(
        a.retractions_per_m <= AORTA_RETRACTIONS_PER_M,
        "{:.0} retractions per metre of support",
        a.retractions_per_m
    );
}

/// The measure can fail: the same reading of a file that retracts before every move
/// counts every one of them.
#[test]
fn retractions_and_travel_are_read_back() {
    let gcode = "M83\nG1 X0 Y0 F9000\nG1 X10 E0.4 F900\nG1 E-1 F2700\nG1 X10 Y10 F9000\nG1 E1\nG1 X0 Y10 E0.4\nG1 X5 Y15 E-0.5\nG1 X6 Y15 E-0.3\nG1 X6 Y20\nG1 E0.8\nG1 X6 Y21 E0.04\n";
    let m = motion(gcode);
    assert_eq!(m.retractions, 2, "{m:?}");
    assert!((m.extrusion - 21.0).abs() < 1e-9, "{m:?}");
    let wipe = 50f64.sqrt() + 1.0;
    assert!((m.travel - (10.0 + wipe + 5.0)).abs() < 1e-9, "{m:?}");
}

/// A field of many small pieces, as a segmented bone slices: twelve thick-walled
/// tubes of ten sides (corners on every wall), spread unevenly, beside a block with a
/// row of square holes.
fn scattered_pieces() -> Mesh {
    let mut parts = Vec::new();
    for k in 0..12 {
        let (i, j) = ((k % 4) as f64, (k / 4) as f64);
        let jitter = ((k * 7) % 5) as f64 * 0.6;
        parts.push(shapes::tube(
            [i * 7.0 + jitter, j * 7.0 + 0.5 * jitter, 0.0],
            1.4,
            2.6,
            4.0,
            10,
        ));
    }
    parts.push(shapes::cuboid([30.0, -3.0, 0.0], [44.0, 18.0, 4.0]));
    shapes::merge(&parts)
}

/// At most this much travel per millimetre of extrusion on [`scattered_pieces`]: the
/// walls' seams start where the nozzle comes in when a concave corner hides them
/// there, inner walls start where the nozzle is, and chains of paths are mended by
/// 2-opt (lamina: 0.225; random seams, which send the nozzle round every loop: 0.269).
const PIECES_TRAVEL_PER_MM: f64 = 0.25;

#[test]
fn scattered_pieces_travel_little_per_mm_of_extrusion() {
    let dir = tempfile::tempdir().unwrap();
    let model = stl(dir.path(), "pieces", &scattered_pieces());
    let m = sliced_with(&model, "default", &["--support", "none"]);
    println!("pieces: {m:?}, travel/extrusion {:.3}", m.ratio());
    assert!(
        m.ratio() <= PIECES_TRAVEL_PER_MM,
        "{:.3} mm of travel per mm of extrusion",
        m.ratio()
    );
    // Control: the same paths (the same extrusion to the micrometre) entered at
    // scattered seams read back more travel than the bar allows.
    let scattered = sliced_with(
        &model,
        "random",
        &["--support", "none", "--set", "seam_position=random"],
    );
    println!(
        "random seams: {scattered:?}, travel/extrusion {:.3}",
        scattered.ratio()
    );
    assert!((scattered.extrusion - m.extrusion).abs() < 1e-3 * m.extrusion);
    assert!(
        scattered.ratio() > PIECES_TRAVEL_PER_MM,
        "the control stays under the bar: {:.3}",
        scattered.ratio()
    );
}

/// Two 10 mm squares 4 mm apart, 4 mm tall, joined at mid-height of their facing
/// sides by a neck `neck` mm wide (none when 0): one island per layer with a neck,
/// two without. Returns the mesh and its outline as rectangles (x0, y0, x1, y1).
fn dumbbell(neck: f64) -> (Mesh, Vec<[f64; 4]>) {
    let mut rects = vec![[0.0, 0.0, 10.0, 10.0], [14.0, 0.0, 24.0, 10.0]];
    if neck > 0.0 {
        rects.push([10.0, 5.0 - neck / 2.0, 14.0, 5.0 + neck / 2.0]);
    }
    let parts: Vec<Mesh> = rects
        .iter()
        .map(|r| shapes::cuboid([r[0], r[1], 0.0], [r[2], r[3], 4.0]))
        .collect();
    (shapes::merge(&parts), rects)
}

/// A straight move in XY: from, to (mm).
type Hop = ((f64, f64), (f64, f64));

/// Travel moves made without a retraction, read back from the G-code, from the first
/// typed extrusion on (the start G-code's purge line and the move to the part are not
/// among them): `(from, to)`.
fn unretracted_travel(text: &str) -> Vec<Hop> {
    use common::travel::{Step, walk};
    let mut retracted = false;
    let mut out = Vec::new();
    walk(text, |step| match step {
        Step::Retract => retracted = true,
        Step::Unretract | Step::Tool(_) => retracted = false,
        Step::Move {
            role, from, to, de, ..
        } => {
            if de < -1e-9 {
                retracted = true;
            } else if de > 1e-9 {
                retracted = false;
            } else if !role.is_empty() && !retracted && from != to {
                out.push((from, to));
            }
        }
    });
    out
}

/// Retractions between two extrusions of one layer (not those of the move up to the
/// next layer).
fn retractions_within_layers(text: &str) -> usize {
    retractions_between(text, |_, _| true)
}

/// Retractions between two extrusions of one layer whose roles (the `;TYPE:` before
/// and after) pass `roles`.
fn retractions_between(text: &str, roles: impl Fn(&str, &str) -> bool) -> usize {
    use common::travel::{Step, walk};
    let (mut last, mut pending, mut count) = (None, false, 0);
    walk(text, |step| match step {
        Step::Retract => pending = true,
        Step::Move {
            role,
            z,
            from,
            to,
            de,
        } => {
            if de < -1e-9 {
                pending = true;
            } else if de > 1e-9 && from != to {
                if let (true, Some((z0, r0))) = (pending, last) {
                    if z0 == z && roles(r0, role) {
                        count += 1;
                    }
                }
                pending = false;
                last = Some((z, role));
            }
        }
        _ => {}
    });
    count
}

/// The unretracted travels that pass over air: sampled every 0.05 mm, a point farther
/// than `tolerance` mm from every rectangle of `rects` (shifted by `offset`).
fn over_air(travel: &[Hop], rects: &[[f64; 4]], offset: (f64, f64), tolerance: f64) -> usize {
    let outside = |x: f64, y: f64| {
        rects.iter().all(|r| {
            let dx = (r[0] + offset.0 - x).max(x - r[2] - offset.0).max(0.0);
            let dy = (r[1] + offset.1 - y).max(y - r[3] - offset.1).max(0.0);
            dx.hypot(dy) > tolerance
        })
    };
    travel
        .iter()
        .filter(|(a, b)| {
            let n = ((b.0 - a.0).hypot(b.1 - a.1) / 0.05).ceil().max(1.0) as usize;
            (0..=n).any(|k| {
                let t = k as f64 / n as f64;
                outside(a.0 + (b.0 - a.0) * t, a.1 + (b.1 - a.1) * t)
            })
        })
        .count()
}

/// Where lamina put the model's origin: the middle of the extrusion's box (the start
/// G-code's purge line and the skirt left out) less the middle of the model's.
fn model_offset(text: &str, rects: &[[f64; 4]]) -> (f64, f64) {
    use common::travel::{Step, walk};
    let (mut lo, mut hi) = ((f64::MAX, f64::MAX), (f64::MIN, f64::MIN));
    walk(text, |step| {
        if let Step::Move {
            role, from, to, de, ..
        } = step
        {
            if de > 1e-9 && from != to && !role.is_empty() && !role.contains("Skirt") {
                for p in [from, to] {
                    lo = (lo.0.min(p.0), lo.1.min(p.1));
                    hi = (hi.0.max(p.0), hi.1.max(p.1));
                }
            }
        }
    });
    let x0 = rects.iter().map(|r| r[0]).fold(f64::MAX, f64::min);
    let x1 = rects.iter().map(|r| r[2]).fold(f64::MIN, f64::max);
    let y0 = rects.iter().map(|r| r[1]).fold(f64::MAX, f64::min);
    let y1 = rects.iter().map(|r| r[3]).fold(f64::MIN, f64::max);
    ((lo.0 + hi.0 - x0 - x1) / 2.0, (lo.1 + hi.1 - y0 - y1) / 2.0)
}

/// The travel between the lobes of an island joined by a neck narrower than two walls
/// goes through the neck over the island's own beads, without retracting; without the
/// neck (two islands) the same travel crosses air and retracts on every layer.
#[test]
fn travel_through_a_narrow_neck_stays_inside_without_retracting() {
    let dir = tempfile::tempdir().unwrap();
    let layers = 20; // 4 mm at 0.2 mm
    for (neck, label) in [(0.8, "neck"), (0.0, "apart")] {
        let (mesh, rects) = dumbbell(neck);
        let model = stl(dir.path(), label, &mesh);
        let text = gcode_of(&model, label, &["--support", "none", "--set", "skirts=0"]);
        let m = motion(&text);
        let within = retractions_within_layers(&text);
        let travel = unretracted_travel(&text);
        let offset = model_offset(&text, &rects);
        let air = over_air(&travel, &rects, offset, 0.01);
        println!(
            "{label}: {m:?}, {within} retractions within layers, {} unretracted travels, {air} over air (model at {offset:?})",
            travel.len()
        );
        assert_eq!(air, 0, "{label}: unretracted travel over air");
        if neck > 0.0 {
            assert!(
                within < layers / 4,
                "{label}: {within} retractions within {layers} layers"
            );
        } else {
            assert!(
                within >= layers,
                "{label}: {within} retractions within {layers} layers"
            );
        }
    }
    // The reading can fail: a travel straight across the gap without a retraction is
    // over air.
    let (_, rects) = dumbbell(0.0);
    let gcode =
        "M83\nG1 X5 Y5 F9000\n;TYPE:Perimeter\nG1 X9.5 Y5 E0.2\nG1 X18 Y5 F9000\nG1 X20 Y5 E0.1\n";
    let travel = unretracted_travel(gcode);
    assert_eq!(travel.len(), 1);
    assert_eq!(over_air(&travel, &rects, (0.0, 0.0), 0.01), 1);
    assert_eq!(retractions_within_layers(gcode), 0);
    let retracted = "M83\nG1 Z0.2\nG1 X5 Y5\nG1 X9.5 Y5 E0.2\nG1 E-1\nG1 X18 Y5\nG1 E1\nG1 X20 Y5 E0.1\nG1 E-1\nG1 Z0.4\nG1 X5 Y5\nG1 E1\nG1 X9 Y5 E0.1\n";
    assert_eq!(retractions_within_layers(retracted), 1);
}

/// A square tube (20 mm, walls 1.2 mm, 10 mm tall) under a 32 mm plate: the plate
/// overhangs inside the tube and round it, so tree branches stand on both sides of the
/// tube's wall.
fn capped_tube() -> Mesh {
    shapes::merge(&[
        shapes::cuboid([0.0, 0.0, 0.0], [20.0, 1.2, 10.0]),
        shapes::cuboid([0.0, 18.8, 0.0], [20.0, 20.0, 10.0]),
        shapes::cuboid([0.0, 1.2, 0.0], [1.2, 18.8, 10.0]),
        shapes::cuboid([18.8, 1.2, 0.0], [20.0, 18.8, 10.0]),
        shapes::cuboid([-6.0, -6.0, 10.0], [26.0, 26.0, 12.0]),
    ])
}

/// At most this many retractions between two support extrusions per layer with
/// support on [`capped_tube`]: one to cross the wall from the branches inside the tube
/// to those round it.
const TUBE_SUPPORT_RETRACTIONS_PER_LAYER: f64 = 1.5;

/// Branches inside a tube and round it are printed side by side, not in turn: the
/// nozzle crosses the wall (and retracts) once a layer, not at every other branch.
#[test]
fn support_inside_and_round_a_wall_is_printed_side_by_side() {
    let dir = tempfile::tempdir().unwrap();
    let model = stl(dir.path(), "tube", &capped_tube());
    let text = gcode_of(&model, "tree", &["--support", "tree"]);
    let support = |r: &str| r.starts_with("Support");
    let crossings = retractions_between(&text, |a, b| support(a) && support(b));
    let mut layers = std::collections::BTreeSet::new();
    common::travel::walk(&text, |step| {
        if let common::travel::Step::Move {
            role,
            z,
            de,
            from,
            to,
        } = step
        {
            if support(role) && de > 1e-9 && from != to {
                layers.insert((z * 1000.0).round() as i64);
            }
        }
    });
    let per_layer = crossings as f64 / layers.len().max(1) as f64;
    println!(
        "capped tube: {crossings} retractions between support extrusions on {} layers with support ({per_layer:.2} a layer)",
        layers.len()
    );
    assert!(layers.len() > 20, "support on {} layers", layers.len());
    assert!(
        per_layer <= TUBE_SUPPORT_RETRACTIONS_PER_LAYER,
        "{per_layer:.2} retractions between support extrusions a layer"
    );
}

/// A bar 2.2 mm wide with a 4 mm block across it every 8 mm: along the bar the room
/// between the walls is gap fill, in each block solid infill, the two side by side.
fn beaded_bar() -> Mesh {
    let mut parts = vec![shapes::cuboid([0.0, 0.0, 0.0], [80.0, 2.2, 3.0])];
    for k in 0..10 {
        let x = k as f64 * 8.0;
        parts.push(shapes::cuboid([x, -0.6, 0.0], [x + 4.0, 2.8, 3.0]));
    }
    shapes::merge(&parts)
}

/// One extrusion after another in one role: where it starts and ends.
#[derive(Debug, Clone, Copy)]
struct Block<'a> {
    role: &'a str,
    start: (f64, f64),
    end: (f64, f64),
}

/// Per layer, the runs of extrusion in `roles` (a travel or a change of role ends a
/// run), with the travel between consecutive runs as printed.
fn fill_runs<'a>(text: &'a str, roles: &[&str]) -> Vec<(Vec<Block<'a>>, f64)> {
    use common::travel::{Step, walk};
    let mut layers: Vec<(f64, Vec<Block<'a>>, f64)> = Vec::new();
    let mut open = false;
    let mut gap = 0.0;
    walk(text, |step| {
        let Step::Move {
            role,
            z,
            from,
            to,
            de,
        } = step
        else {
            return;
        };
        let d = (to.0 - from.0).hypot(to.1 - from.1);
        if de > 1e-9 && d > 0.0 && roles.contains(&role) {
            if layers.last().is_none_or(|l| l.0 != z) {
                layers.push((z, Vec::new(), 0.0));
                gap = 0.0;
                open = false;
            }
            let layer = layers.last_mut().unwrap();
            match layer.1.last_mut() {
                Some(b) if open && b.role == role && b.end == from => b.end = to,
                _ => {
                    if !layer.1.is_empty() {
                        layer.2 += gap;
                    }
                    layer.1.push(Block {
                        role,
                        start: from,
                        end: to,
                    });
                }
            }
            open = true;
            gap = 0.0;
        } else if de > 1e-9 && d > 0.0 {
            open = false;
        } else {
            gap += d;
            open = false;
        }
    });
    layers.into_iter().map(|(_, b, t)| (b, t)).collect()
}

/// Straight travel through `blocks` in the order given.
fn straight_travel(blocks: &[Block<'_>]) -> f64 {
    blocks
        .windows(2)
        .map(|w| (w[1].start.0 - w[0].end.0).hypot(w[1].start.1 - w[0].end.1))
        .sum()
}

/// Gap fill and infill lying side by side are printed in one pass over the island:
/// on [`beaded_bar`] the travel between them is at most this share of what the same
/// runs cost printed kind by kind (all gap fill, then all infill, each in the order
/// printed), even counted straight (lamina before: 1.0, printed kind by kind; now 0.26).
const FILL_ONE_PASS_SHARE: f64 = 0.6;

#[test]
fn gap_fill_and_infill_side_by_side_are_printed_in_one_pass() {
    let dir = tempfile::tempdir().unwrap();
    let model = stl(dir.path(), "beads", &beaded_bar());
    let text = gcode_of(&model, "beads", &["--support", "none"]);
    let runs = fill_runs(&text, &["Gap fill", "Solid infill", "Internal infill"]);
    let (mut printed, mut by_kind, mut layers) = (0.0, 0.0, 0);
    for (blocks, travel) in &runs {
        let gap: Vec<Block<'_>> = blocks
            .iter()
            .copied()
            .filter(|b| b.role == "Gap fill")
            .collect();
        if gap.is_empty() || gap.len() == blocks.len() {
            continue;
        }
        let mut kinds = gap;
        kinds.extend(blocks.iter().copied().filter(|b| b.role != "Gap fill"));
        printed += travel;
        by_kind += straight_travel(&kinds);
        layers += 1;
    }
    println!(
        "beaded bar: {layers} layers with gap fill and infill, travel between them {printed:.0} mm, kind by kind {by_kind:.0} mm straight; whole print {:?}",
        motion(&text)
    );
    assert!(layers >= 10, "{layers} layers with gap fill and infill");
    assert!(
        printed <= FILL_ONE_PASS_SHARE * by_kind,
        "{printed:.0} mm of travel between gap fill and infill, {by_kind:.0} mm kind by kind"
    );
    // Control: the reading tells the two orders apart. Runs printed kind by kind read
    // back as that order's travel, over the bar.
    let kinds = [
        (5.0, 0.0),
        (25.0, 0.0),
        (45.0, 0.0),
        (0.0, 0.0),
        (20.0, 0.0),
        (40.0, 0.0),
    ];
    let mut g = String::from("M83\nG1 Z0.2\n");
    for (k, (x, y)) in kinds.iter().enumerate() {
        let role = if k < 3 { "Gap fill" } else { "Solid infill" };
        g += &format!(
            ";TYPE:{role}\nG1 X{x} Y{y} F9000\nG1 X{} Y{y} E0.1\n",
            x + 2.0
        );
    }
    let runs = fill_runs(&g, &["Gap fill", "Solid infill"]);
    assert_eq!(runs.len(), 1);
    let (blocks, travel) = &runs[0];
    assert_eq!(blocks.len(), 6);
    let (gap, infill): (Vec<Block<'_>>, Vec<Block<'_>>) =
        blocks.iter().partition(|b| b.role == "Gap fill");
    let mut interleaved = Vec::new();
    for (a, b) in infill.iter().zip(&gap) {
        interleaved.extend([*a, *b]);
    }
    assert!((travel - straight_travel(blocks)).abs() < 1e-9);
    assert!(*travel > 1.0 / FILL_ONE_PASS_SHARE * straight_travel(&interleaved));
}

/// Pins 0.5 mm wide along both long sides of a 30 x 10 mm block, `length` mm out.
fn pinned_block(length: f64) -> Mesh {
    let mut parts = vec![shapes::cuboid([0.0, 0.0, 0.0], [30.0, 10.0, 2.0])];
    for k in 0..10 {
        let x = 1.0 + k as f64 * 3.0;
        parts.push(shapes::cuboid([x, -length, 0.0], [x + 0.5, 0.5, 2.0]));
        parts.push(shapes::cuboid(
            [x + 1.0, 9.5, 0.0],
            [x + 1.5, 10.0 + length, 2.0],
        ));
    }
    shapes::merge(&parts)
}

/// Thin walls (external perimeter lines that do not close) per layer, read back.
fn thin_walls_per_layer(text: &str) -> f64 {
    let mut runs = fill_runs(text, &["External perimeter"]);
    runs.retain(|(b, _)| !b.is_empty());
    let open: usize = runs
        .iter()
        .map(|(b, _)| b.iter().filter(|r| r.start != r.end).count())
        .sum();
    open as f64 / runs.len().max(1) as f64
}

/// At most this much travel per millimetre of extrusion on [`pinned_block`] with pins
/// 0.8 mm long (lamina before: 0.22, a travel to each pin's dot of a thin wall and
/// back; now 0.10).
const DOT_PINS_TRAVEL_PER_MM: f64 = 0.15;

/// A thin wall no longer than it is wide is a dot, not a wall: pins 0.5 mm wide and
/// 0.8 mm long are left out, and with them the travel to each; pins 1.5 mm long keep
/// their thin walls.
#[test]
fn thin_wall_dots_are_left_out() {
    let dir = tempfile::tempdir().unwrap();
    let short = stl(dir.path(), "short", &pinned_block(0.8));
    let text = gcode_of(&short, "short", &["--support", "none"]);
    let m = motion(&text);
    let thin = thin_walls_per_layer(&text);
    println!(
        "0.8 mm pins: {m:?}, travel/extrusion {:.3}, {thin:.1} thin walls a layer",
        m.ratio()
    );
    assert!(thin < 1.0, "{thin:.1} thin walls a layer");
    assert!(
        m.ratio() <= DOT_PINS_TRAVEL_PER_MM,
        "{:.3} mm of travel per mm of extrusion",
        m.ratio()
    );
    // Control: pins long enough to be walls are printed, one thin wall each, and the
    // travel to them reads back over the bar.
    let long = stl(dir.path(), "long", &pinned_block(1.5));
    let text = gcode_of(&long, "long", &["--support", "none"]);
    let m = motion(&text);
    let thin = thin_walls_per_layer(&text);
    println!(
        "1.5 mm pins: {m:?}, travel/extrusion {:.3}, {thin:.1} thin walls a layer",
        m.ratio()
    );
    assert!(thin >= 19.0, "{thin:.1} thin walls a layer");
    assert!(m.ratio() > DOT_PINS_TRAVEL_PER_MM, "{:.3}", m.ratio());
}
