//! `lamina preview` and the preview library end to end: pictures measured against the
//! G-code they come from.
//!
//! Set `LAMINA_PREVIEW_KEEP=DIR` to keep the pictures made here for a look.

mod common;

use std::collections::HashSet;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use lamina::mesh::{io, shapes};
use lamina::path::Role;
use lamina::preview::toolpath::{ParseOptions, parse_bytes, read_file};
use lamina::preview::{contact_sheet_png, role_color, side_view_png, thumbnail_png};
use tiny_skia::Pixmap;

fn lamina(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_lamina"))
        .args(args)
        .output()
        .unwrap()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn keep(name: &str, bytes: &[u8]) {
    if let Some(dir) = std::env::var_os("LAMINA_PREVIEW_KEEP") {
        let _ = std::fs::create_dir_all(&dir);
        let _ = std::fs::write(PathBuf::from(dir).join(name), bytes);
    }
}

/// Square of side 20 mm (100..120) for the external perimeter.
const SIDE: f64 = 20.0;
const X0: f64 = 100.0;
const Y0: f64 = 100.0;
const W: f64 = 0.45;

/// A three-layer print written like lamina writes it (absolute E, retractions,
/// `;TYPE:`/`;WIDTH:` comments): per layer an external perimeter square, an inner
/// perimeter, diagonal-free zigzag infill in two runs, gap fill, and a support column
/// beside the part. Returns the G-code and the extrusion runs of each layer.
fn square_gcode() -> (String, Vec<usize>) {
    let mut g = String::from(
        "; generated for a test\nG21\nG90\nM82\nG92 E0\nG1 X1 Y20 Z0.3 F5000\nG1 X1 Y80 E4 F1500 ; prime line\nG92 E0\n",
    );
    let mut e = 0.0f64;
    let mut runs = Vec::new();
    let ext = |e: &mut f64, len: f64| {
        *e += len * 0.0334;
        *e
    };
    for layer in 0..3 {
        let z = 0.2 * (layer + 1) as f64;
        let mut n = 0;
        let _ = writeln!(g, ";LAYER_CHANGE\n;Z:{z:.1}\n;HEIGHT:0.2\nG1 Z{z:.1} F300");
        // A loop: travel to its start, one run around.
        let square = |g: &mut String, role: &str, inset: f64, e: &mut f64| {
            let (a, b) = (X0 + inset, X0 + SIDE - inset);
            let (c, d) = (Y0 + inset, Y0 + SIDE - inset);
            let _ = writeln!(
                g,
                "G1 E{:.5} F2700\nG1 X{a:.3} Y{c:.3} F9000\nG1 E{:.5} F2700",
                *e - 0.8,
                *e
            );
            let _ = writeln!(g, ";TYPE:{role}\n;WIDTH:{W}");
            for (x, y) in [(b, c), (b, d), (a, d), (a, c)] {
                let _ = writeln!(g, "G1 X{x:.3} Y{y:.3} E{:.5} F1800", ext(e, b - a));
            }
        };
        square(&mut g, "External perimeter", 0.0, &mut e);
        n += 1;
        square(&mut g, "Perimeter", W, &mut e);
        n += 1;
        // Infill: two zigzag runs separated by a travel.
        for half in 0..2 {
            let y_start = Y0 + 2.0 + half as f64 * 8.0;
            let _ = writeln!(
                g,
                "G1 X{:.3} Y{:.3} F9000\n;TYPE:Internal infill",
                X0 + 2.0,
                y_start
            );
            for k in 0..4 {
                let y = y_start + k as f64 * 2.0;
                let (xa, xb) = if k % 2 == 0 {
                    (X0 + 2.0, X0 + 18.0)
                } else {
                    (X0 + 18.0, X0 + 2.0)
                };
                if k > 0 {
                    let _ = writeln!(g, "G1 X{xa:.3} Y{y:.3} E{:.5}", ext(&mut e, 2.0));
                }
                let _ = writeln!(g, "G1 X{xb:.3} Y{y:.3} E{:.5} F3000", ext(&mut e, 16.0));
            }
            n += 1;
        }
        // Gap fill: one short line.
        let _ = writeln!(
            g,
            "G1 X105 Y119 F9000\n;TYPE:Gap fill\n;WIDTH:0.3\nG1 X115 Y119 E{:.5} F1200",
            ext(&mut e, 10.0)
        );
        n += 1;
        // Support: a small square beside the part.
        let _ = writeln!(g, "G1 X125 Y105 F9000\n;TYPE:Support material\n;WIDTH:0.4");
        for (x, y) in [
            (129.0, 105.0),
            (129.0, 109.0),
            (125.0, 109.0),
            (125.0, 105.0),
        ] {
            let _ = writeln!(g, "G1 X{x} Y{y} E{:.5} F2400", ext(&mut e, 4.0));
        }
        n += 1;
        runs.push(n + usize::from(layer == 0)); // the prime line joins layer 1
    }
    g.push_str("M104 S0\n; filament_diameter = 1.75\n; bed_shape = 0x0,220x0,220x220,0x220\n");
    (g, runs)
}

/// Extrusion runs of each layer counted from the G-code text itself: an extruding
/// move (X/Y with E growing) after anything that is not one, or after a `;TYPE:`.
fn count_runs(g: &str) -> Vec<usize> {
    let mut runs: Vec<usize> = Vec::new();
    let mut e = 0.0;
    let mut prev_extruding = false;
    let mut early = 0;
    for line in g.lines() {
        let code = line.split(';').next().unwrap().trim();
        if line.starts_with(";LAYER_CHANGE") {
            runs.push(if runs.is_empty() { early } else { 0 });
            prev_extruding = false;
            continue;
        }
        if line.starts_with(";TYPE:") {
            prev_extruding = false;
            continue;
        }
        if code.starts_with("G92") {
            e = 0.0;
            continue;
        }
        if !code.starts_with("G1") {
            continue;
        }
        let word = |c: char| {
            code.split_whitespace()
                .find(|w| w.starts_with(c))
                .map(|w| w[1..].parse::<f64>().unwrap())
        };
        let moves = word('X').is_some() || word('Y').is_some();
        let extruding = match word('E') {
            Some(v) => {
                let d = v - e;
                e = v;
                moves && d > 0.0
            }
            None => false,
        };
        if extruding && !prev_extruding {
            match runs.last_mut() {
                Some(r) => *r += 1,
                None => early += 1,
            }
        }
        prev_extruding = extruding;
    }
    runs
}

fn write_square(dir: &Path) -> (PathBuf, Vec<usize>) {
    let (g, runs) = square_gcode();
    assert_eq!(count_runs(&g), runs, "the test's own count agrees");
    let p = dir.join("square.gcode");
    std::fs::write(&p, g).unwrap();
    (p, runs)
}

/// Numbers in a path's `d` attribute, as (x, y) pairs.
fn path_points(d: &str) -> Vec<(f64, f64)> {
    let nums: Vec<f64> = d
        .split([' ', 'M', 'L'])
        .filter(|s| !s.is_empty())
        .map(|s| s.parse().unwrap())
        .collect();
    nums.chunks(2).map(|c| (c[0], c[1])).collect()
}

fn attr<'a>(tag: &'a str, name: &str) -> Option<&'a str> {
    let key = format!(" {name}=\"");
    let i = tag.find(&key)? + key.len();
    let j = tag[i..].find('"')? + i;
    Some(&tag[i..j])
}

#[test]
fn svg_layer_matches_the_gcode() {
    let dir = tempfile::tempdir().unwrap();
    let (gcode, runs) = write_square(dir.path());
    for layer in 1..=3usize {
        let out = dir.path().join(format!("l{layer}.svg"));
        let o = lamina(&[
            "preview",
            gcode.to_str().unwrap(),
            "--layer",
            &layer.to_string(),
            "-o",
            out.to_str().unwrap(),
        ]);
        assert!(o.status.success(), "{}", stderr(&o));
        let svg = std::fs::read_to_string(&out).unwrap();
        keep(&format!("square-l{layer}.svg"), svg.as_bytes());

        // Size in mm equals the viewBox: one unit is one millimetre.
        let head = &svg[svg.find("<svg").unwrap()..];
        let head = &head[..head.find('>').unwrap()];
        let w: f64 = attr(head, "width")
            .unwrap()
            .trim_end_matches("mm")
            .parse()
            .unwrap();
        let vb: Vec<f64> = attr(head, "viewBox")
            .unwrap()
            .split(' ')
            .map(|v| v.parse().unwrap())
            .collect();
        assert!((vb[2] - w).abs() < 1e-9, "width {w} mm, viewBox {vb:?}");

        // One path per extrusion run.
        let group = &svg[svg.find("<g id=\"extrusions\"").unwrap()..];
        let group = &group[..group.find("</g>").unwrap()];
        let paths: Vec<&str> = group.split("<path ").skip(1).collect();
        assert_eq!(paths.len(), runs[layer - 1], "layer {layer}");

        // The external perimeter measures 20 mm square, drawn 0.45 mm wide.
        let ext_color = format!("#{:02x}{:02x}{:02x}", 0xff, 0x8c, 0x1a);
        assert_eq!(
            role_color(Some(Role::ExternalPerimeter)),
            [0xff, 0x8c, 0x1a]
        );
        let ext: Vec<&&str> = paths
            .iter()
            .filter(|p| attr(&format!(" {p}"), "stroke") == Some(ext_color.as_str()))
            .collect();
        assert_eq!(ext.len(), 1);
        let tag = format!(" {}", ext[0]);
        let pts = path_points(attr(&tag, "d").unwrap());
        let (xs, ys): (Vec<f64>, Vec<f64>) = pts.iter().copied().unzip();
        let span = |v: &[f64]| {
            v.iter().cloned().fold(f64::MIN, f64::max) - v.iter().cloned().fold(f64::MAX, f64::min)
        };
        assert!((span(&xs) - SIDE).abs() < 1e-3, "x span {}", span(&xs));
        assert!((span(&ys) - SIDE).abs() < 1e-3, "y span {}", span(&ys));
        let sw: f64 = attr(&tag, "stroke-width").unwrap().parse().unwrap();
        assert!((sw - W).abs() < 1e-9);
        // Y points down in the picture: the G-code's first corner (100, 100) is the
        // bottom left of the square.
        let (x0, y0) = pts[0];
        assert!((x0 - xs.iter().cloned().fold(f64::MAX, f64::min)).abs() < 1e-6);
        assert!((y0 - ys.iter().cloned().fold(f64::MIN, f64::max)).abs() < 1e-6);

        // All lines lie in the viewBox.
        for p in &paths {
            for (x, y) in path_points(attr(&format!(" {p}"), "d").unwrap()) {
                assert!(x > 0.0 && y > 0.0 && x < vb[2] && y < vb[3]);
            }
        }

        // Scale bar: drawn as long as it says.
        let bar = &svg[svg.find("<line id=\"scale-bar-line\"").unwrap()..];
        let bar = &bar[..bar.find("/>").unwrap()];
        let len = attr(bar, "x2").unwrap().parse::<f64>().unwrap()
            - attr(bar, "x1").unwrap().parse::<f64>().unwrap();
        let label = &svg[svg.find("id=\"scale-bar-label\"").unwrap()..];
        let label = &label[label.find('>').unwrap() + 1..label.find("</text>").unwrap()];
        let stated: f64 = label.trim_end_matches(" mm").parse().unwrap();
        assert!((len - stated).abs() < 1e-6, "bar {len} vs '{label}'");
        assert!(
            [1.0, 2.0, 5.0, 10.0, 20.0, 50.0].contains(&stated),
            "a round length: {stated}"
        );

        // Title and legend.
        assert!(svg.contains(&format!(
            "Layer {layer} of 3, Z {:.2} mm",
            0.2 * layer as f64
        )));
        for name in [
            "External perimeter",
            "Perimeter",
            "Internal infill",
            "Gap fill",
            "Support material",
        ] {
            assert!(svg.contains(&format!(">{name}</text>")), "{name}");
        }
        assert!(!svg.contains(">Bridge infill<"), "only roles present");
        assert_eq!(
            svg.contains(">Custom<"),
            layer == 1,
            "the prime line is on layer 1"
        );
    }
}

#[test]
fn svg_by_z_with_travels_and_bed() {
    let dir = tempfile::tempdir().unwrap();
    let (gcode, _) = write_square(dir.path());
    let out = dir.path().join("z.svg");
    let o = lamina(&[
        "preview",
        gcode.to_str().unwrap(),
        "--z",
        "0.5",
        "--travel",
        "--bed",
        "--color",
        "tool",
        "-o",
        out.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let svg = std::fs::read_to_string(&out).unwrap();
    assert!(
        svg.contains("Layer 3 of 3"),
        "Z 0.5 is in layer 3 (0.4 to 0.6)"
    );
    assert!(svg.contains("<g id=\"travels\""));
    assert!(svg.contains(">T0</text>"));
    // The whole 220 mm bed is drawn.
    let bed = &svg[svg.find("<rect id=\"bed\"").unwrap()..];
    let bed = &bed[..bed.find("/>").unwrap()];
    assert_eq!(attr(bed, "width"), Some("220"));
}

fn decode(bytes: &[u8]) -> Pixmap {
    Pixmap::decode_png(bytes).expect("a PNG")
}

/// Opaque colours of a picture and how often each occurs.
fn colours(p: &Pixmap) -> std::collections::HashMap<[u8; 3], usize> {
    let mut m = std::collections::HashMap::new();
    for px in p.pixels() {
        if px.alpha() == 255 {
            *m.entry([px.red(), px.green(), px.blue()]).or_insert(0) += 1;
        }
    }
    m
}

#[test]
fn png_layer_is_to_scale_and_coloured_by_role() {
    let dir = tempfile::tempdir().unwrap();
    let (gcode, _) = write_square(dir.path());
    let out = dir.path().join("l2.png");
    let o = lamina(&[
        "preview",
        gcode.to_str().unwrap(),
        "--layer",
        "2",
        "--px-per-mm",
        "10",
        "-o",
        out.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let bytes = std::fs::read(&out).unwrap();
    keep("square-l2.png", &bytes);
    let p = decode(&bytes);
    // The external perimeter's colour spans 20 mm plus a line width: 204.5 px. Rows
    // and columns holding many of its pixels are the square's sides (the legend's
    // swatch is far smaller).
    let ext = role_color(Some(Role::ExternalPerimeter));
    let is_ext = |x: u32, y: u32| {
        let px = p.pixel(x, y).unwrap();
        [px.red(), px.green(), px.blue()] == ext
    };
    let rows: Vec<u32> = (0..p.height())
        .filter(|&y| (0..p.width()).filter(|&x| is_ext(x, y)).count() > 30)
        .collect();
    let cols: Vec<u32> = (0..p.width())
        .filter(|&x| (0..p.height()).filter(|&y| is_ext(x, y)).count() > 30)
        .collect();
    let span = |v: &[u32]| f64::from(v[v.len() - 1] - v[0] + 1);
    assert!(
        (span(&cols) - 204.5).abs() <= 3.0,
        "x span {} px",
        span(&cols)
    );
    assert!(
        (span(&rows) - 204.5).abs() <= 3.0,
        "y span {} px",
        span(&rows)
    );
    // The role colours are all there, and many shades from anti-aliasing.
    let c = colours(&p);
    for r in [
        Role::ExternalPerimeter,
        Role::Perimeter,
        Role::InternalInfill,
        Role::GapFill,
        Role::SupportMaterial,
    ] {
        assert!(
            c.get(&role_color(Some(r))).copied().unwrap_or(0) > 20,
            "{r:?}"
        );
    }
    assert!(c.len() > 20);

    // A width in pixels is honoured exactly.
    let out = dir.path().join("w.png");
    let o = lamina(&[
        "preview",
        gcode.to_str().unwrap(),
        "--layer",
        "3",
        "--size",
        "640",
        "--color",
        "speed",
        "-o",
        out.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let p = decode(&std::fs::read(&out).unwrap());
    assert_eq!(p.width(), 640);
    assert!(colours(&p).len() > 10);
}

fn square_toolpath() -> lamina::preview::Toolpath {
    parse_bytes(square_gcode().0.as_bytes(), &ParseOptions::default()).unwrap()
}

#[test]
fn thumbnails_side_views_and_contact_sheets_fit_and_show_the_part() {
    let tp = square_toolpath();
    for (w, h) in [(16, 16), (220, 124), (300, 300), (640, 480)] {
        let bytes = thumbnail_png(&tp, w, h);
        keep(&format!("thumb-{w}x{h}.png"), &bytes);
        let p = decode(&bytes);
        assert_eq!((p.width(), p.height()), (w, h));
        let drawn = p.pixels().iter().filter(|px| px.alpha() > 0).count();
        let share = drawn as f64 / f64::from(w * h);
        assert!(share > 0.05, "{w}x{h}: {share} drawn");
        // Transparent corners: the part is fitted, not clipped.
        assert_eq!(p.pixel(0, 0).unwrap().alpha(), 0);
        if w >= 200 {
            assert!(colours(&p).len() > 30, "shaded, several roles");
        }
    }
    let p = decode(&side_view_png(&tp, 400, 200));
    assert_eq!((p.width(), p.height()), (400, 200));
    assert!(colours(&p).len() > 10);
    let p = decode(&contact_sheet_png(&tp, 4, 500));
    assert_eq!(p.width(), 500);
    assert!(p.height() > 100);
    let ext = role_color(Some(Role::ExternalPerimeter));
    assert!(colours(&p).get(&ext).copied().unwrap_or(0) > 50);
}

#[test]
fn html_embeds_every_layer_and_fetches_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let (gcode, _) = write_square(dir.path());
    let out = dir.path().join("view.html");
    let o = lamina(&[
        "preview",
        gcode.to_str().unwrap(),
        "-o",
        out.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    // The page is windows-1252 with the packed toolpath as raw bytes.
    let html = String::from_utf8_lossy(&std::fs::read(&out).unwrap()).into_owned();
    for needle in [
        "http://",
        "https://",
        "src=",
        "import(",
        "fetch(",
        "XMLHttpRequest",
    ] {
        assert!(!html.contains(needle), "{needle}");
    }
    let start = html.find("id=\"lamina-data\">").unwrap() + "id=\"lamina-data\">".len();
    let end = start + html[start..].find("</script>").unwrap();
    let data: serde_json::Value = serde_json::from_str(&html[start..end]).unwrap();
    let layers = data["layers"].as_array().unwrap();
    assert_eq!(layers.len(), 3);
    let segments: u64 = layers.iter().map(|l| l[2].as_u64().unwrap()).sum();
    assert!(html.contains("id=\"lamina-bytes\">"));
    let tp = square_toolpath();
    assert_eq!(segments as usize, tp.segment_count());
    screenshot(&out, "square");
}

/// Open the page in headless Chromium (software WebGL); the picture must not be blank
/// and the page must log no error.
fn screenshot(page: &Path, name: &str) {
    let chromium = Path::new("/usr/bin/chromium");
    if !chromium.exists() {
        common::skip("/usr/bin/chromium not installed (Debian package chromium)");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let shot = dir.path().join("shot.png");
    let o = Command::new(chromium)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--use-gl=swiftshader",
            "--enable-unsafe-swiftshader",
            "--hide-scrollbars",
            "--virtual-time-budget=5000",
            &format!("--user-data-dir={}", dir.path().join("profile").display()),
            &format!("--screenshot={}", shot.display()),
            "--window-size=800,600",
            "--enable-logging=stderr",
            "--v=0",
            &format!("file://{}", page.display()),
        ])
        .output()
        .unwrap();
    let log = stderr(&o);
    let errors: Vec<&str> = log
        .lines()
        .filter(|l| {
            (l.contains("CONSOLE") || l.contains("Uncaught")) && !l.contains("GL Driver Message")
        })
        .collect();
    assert!(errors.is_empty(), "page errors: {errors:#?}");
    let bytes = std::fs::read(&shot).unwrap_or_else(|_| panic!("no screenshot: {log}"));
    keep(&format!("{name}-chromium.png"), &bytes);
    let p = decode(&bytes);
    // The page's panel and the toolpath colours: many colours, and the external
    // perimeter's orange (or its highlighted/dimmed shades) in the 3D view.
    let c = colours(&p);
    assert!(c.len() > 50, "blank screenshot ({} colours)", c.len());
    let orange = c
        .keys()
        .filter(|k| k[0] > 150 && k[1] > 60 && k[1] < 200 && k[2] < 120 && k[0] > k[1] + 40)
        .count();
    assert!(orange > 0, "no orange lines drawn");
    let error_box = c.get(&[0x5a, 0x1f, 0x1f]).copied().unwrap_or(0);
    assert_eq!(error_box, 0, "the page shows an error");
}

#[test]
fn errors_name_the_file_and_leave_no_output() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let (gcode, _) = write_square(d);
    let g = gcode.to_str().unwrap();
    std::fs::write(d.join("notes.gcode"), "hello, this is not G-code\nat all\n").unwrap();
    std::fs::write(d.join("empty.gcode"), "").unwrap();
    std::fs::write(d.join("travel.gcode"), "G28\nG1 X10 Y10 F3000\n").unwrap();
    let out = d.join("out.svg");
    let o_ = out.to_str().unwrap();
    // Job failures: exit 1, one sentence naming the file.
    for (file, needle) in [
        ("missing.gcode", "cannot open"),
        ("notes.gcode", "not G-code"),
        ("empty.gcode", "empty"),
        ("travel.gcode", "no extrusion"),
    ] {
        let p = d.join(file);
        let o = lamina(&["preview", p.to_str().unwrap(), "--layer", "1", "-o", o_]);
        assert_eq!(o.status.code(), Some(1), "{file}");
        let e = stderr(&o);
        assert!(
            e.starts_with("error: ") && e.contains(file) && e.contains(needle),
            "{e}"
        );
        assert_eq!(e.trim().lines().count(), 1, "{e}");
        assert!(!out.exists());
    }
    // Usage errors: exit 2, the valid range named.
    std::fs::write(&out, "old").unwrap();
    let cases: [(&[&str], &str); 6] = [
        (&["--layer", "9"], "layers 1 to 3"),
        (&["--layer", "0"], "layers 1 to 3"),
        (&["--z", "7"], "0.20 to 0.60"),
        (&[], "--layer N or --z Z"),
        (&["--layer", "1", "--size", "10"], "at least"),
        (&["--layer", "1", "--px-per-mm", "100000"], "pixels"),
    ];
    for (extra, needle) in cases {
        let target = if extra.contains(&"--size") || extra.contains(&"--px-per-mm") {
            d.join("out.png")
        } else {
            out.clone()
        };
        let mut args = vec!["preview", g, "-o", target.to_str().unwrap()];
        args.extend_from_slice(extra);
        let o = lamina(&args);
        assert_eq!(o.status.code(), Some(2), "{args:?}: {}", stderr(&o));
        assert!(stderr(&o).contains(needle), "{args:?}: {}", stderr(&o));
        assert!(!stderr(&o).contains("panicked"));
    }
    assert_eq!(std::fs::read_to_string(&out).unwrap(), "old");
    assert!(!d.join("out.png").exists());
    let o = lamina(&[
        "preview",
        g,
        "--layer",
        "1",
        "-o",
        d.join("x.jpg").to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("x.jpg") && stderr(&o).contains(".svg, .png or .html"));
    // No temporary files left.
    let leftovers: Vec<_> = std::fs::read_dir(d)
        .unwrap()
        .filter_map(|e| e.ok())
        .filter(|e| e.file_name().to_string_lossy().contains(".part"))
        .collect();
    assert!(leftovers.is_empty());
    // Help has examples.
    let o = lamina(&["preview", "--help"]);
    assert!(String::from_utf8_lossy(&o.stdout).contains("Examples:"));
}

#[test]
fn a_sliced_cube_measures_its_size() {
    let dir = tempfile::tempdir().unwrap();
    let model = dir.path().join("cube.stl");
    io::write_stl(&model, &shapes::cuboid([0.0; 3], [12.0, 12.0, 3.0])).unwrap();
    let gcode = dir.path().join("cube.gcode");
    let o = lamina(&[
        "slice",
        model.to_str().unwrap(),
        "-o",
        gcode.to_str().unwrap(),
        "-q",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let tp = read_file(&gcode, &ParseOptions::default()).unwrap();
    assert_eq!(tp.layers.len(), 15, "3 mm in 0.2 mm layers");
    // The external perimeter's centre line is half a line inside the 12 mm side.
    let l = &tp.layers[7];
    let mut r = lamina::preview::Rect::EMPTY;
    for s in l
        .segments
        .iter()
        .filter(|s| s.role == Some(Role::ExternalPerimeter))
    {
        r.add(s.x0, s.y0);
        r.add(s.x1, s.y1);
    }
    let w = l
        .segments
        .iter()
        .find(|s| s.role == Some(Role::ExternalPerimeter))
        .unwrap()
        .width;
    assert!((r.width() + w - 12.0).abs() < 0.05, "{} + {w}", r.width());
    assert!((r.height() + w - 12.0).abs() < 0.05);
    // Its SVG and HTML are drawn.
    let svg = dir.path().join("cube.svg");
    let o = lamina(&[
        "preview",
        gcode.to_str().unwrap(),
        "--layer",
        "8",
        "-o",
        svg.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let s = std::fs::read_to_string(&svg).unwrap();
    assert!(s.contains(">External perimeter</text>"));
    let html = dir.path().join("cube.html");
    let o = lamina(&[
        "preview",
        gcode.to_str().unwrap(),
        "-o",
        html.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    keep("cube.html", &std::fs::read(&html).unwrap());
    screenshot(&html, "cube");
    keep("cube-thumb.png", &thumbnail_png(&tp, 300, 300));
    keep("cube-side.png", &side_view_png(&tp, 600, 300));
    keep("cube-sheet.png", &contact_sheet_png(&tp, 9, 900));
}

/// `lamina slice --preview` draws its side view and contact sheet from the G-code's
/// events while it writes the file: the pictures are those of the file read back, byte
/// for byte, for each firmware and for two tools.
#[test]
fn slice_previews_are_those_of_the_file_written() {
    let dir = tempfile::tempdir().unwrap();
    let cube = dir.path().join("cube.stl");
    io::write_stl(&cube, &shapes::cuboid([0.0; 3], [12.0, 12.0, 3.0])).unwrap();
    let post = dir.path().join("post.stl");
    io::write_stl(&post, &shapes::cuboid([0.0; 3], [5.0, 5.0, 4.0])).unwrap();
    let cube = cube.to_str().unwrap();
    let post = format!("{}@1", post.display());
    for (name, printer, models) in [
        ("marlin", "generic-220", vec![cube]),
        ("klipper", "klipper-ender3", vec![cube]),
        ("rrf", "duet-corexy-300", vec![cube]),
        ("dual", "dual-marlin", vec![cube, post.as_str()]),
    ] {
        let gcode = dir.path().join(format!("{name}.gcode"));
        let pictures = dir.path().join(name);
        let mut args = vec!["slice"];
        args.extend(&models);
        args.extend([
            "--printer",
            printer,
            "-o",
            gcode.to_str().unwrap(),
            "--preview",
            pictures.to_str().unwrap(),
            "-q",
        ]);
        let o = lamina(&args);
        assert!(o.status.success(), "{name}: {}", stderr(&o));
        let tp = read_file(&gcode, &ParseOptions::default()).unwrap();
        let side = std::fs::read(pictures.join(format!("{name}-side.png"))).unwrap();
        let sheet = std::fs::read(pictures.join(format!("{name}-layers.png"))).unwrap();
        // The sizes `lamina slice --preview` draws.
        assert!(side == side_view_png(&tp, 1200, 800), "{name}: side view");
        assert!(sheet == contact_sheet_png(&tp, 12, 1600), "{name}: sheet");
        // The comparison tells toolpaths apart: the file's outside alone draws another.
        let outside = ParseOptions {
            outside_only: true,
            ..ParseOptions::default()
        };
        let outside = read_file(&gcode, &outside).unwrap();
        assert!(sheet != contact_sheet_png(&outside, 12, 1600), "{name}");
    }
}

/// A few megabytes of G-code: every line becomes a segment, and the memory held is
/// the segments' (no per-line allocation kept).
#[test]
fn a_large_file_parses_into_compact_segments() {
    let layers = 100;
    let per_layer = 1000;
    let mut g = String::with_capacity(6 << 20);
    g.push_str("G90\nM83\n");
    for l in 0..layers {
        let z = 0.2 * (l + 1) as f64;
        let _ = writeln!(
            g,
            ";LAYER_CHANGE\n;Z:{z:.1}\n;HEIGHT:0.2\nG1 Z{z:.1}\nG1 X0 Y0 F9000\n;TYPE:Internal infill\n;WIDTH:0.45"
        );
        for k in 0..per_layer {
            let x = (k % 100) as f64 * 0.5 + 0.25;
            let y = (k / 100) as f64 * 0.5 + if k % 2 == 0 { 0.0 } else { 0.1 };
            let _ = writeln!(g, "G1 X{x:.3} Y{y:.3} E0.01234 F3000");
        }
    }
    assert!(g.len() > 3 << 20, "{} bytes", g.len());
    let tp = parse_bytes(g.as_bytes(), &ParseOptions::default()).unwrap();
    assert_eq!(tp.layers.len(), layers);
    assert_eq!(tp.segment_count(), layers * per_layer);
    assert!(std::mem::size_of::<lamina::preview::Segment>() <= 28);
    let held: usize = tp.layers.iter().map(|l| l.segments.capacity()).sum();
    assert!(held <= 2 * tp.segment_count(), "{held}");
    let roles: HashSet<_> = tp
        .layers
        .iter()
        .flat_map(|l| l.segments.iter().map(|s| s.role))
        .collect();
    assert_eq!(roles.len(), 1);
}
