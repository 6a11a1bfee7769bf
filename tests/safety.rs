//! Safe with every file a lab hands it, run as a user runs the binary: outputs through
//! symlinks, refused pipes, devices and folders, missing folders refused before any
//! work, no temporary file left by Ctrl-C at any point of a slice, a closed pipe, the
//! exit codes and JSON errors, and the warning for models in inches.

mod run;

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use lamina::mesh::{Mesh, io, shapes};
use run::{bin, lamina, s, stderr};

/// Wait for a child at most `limit`; kill it after that (a test must not hang on a
/// binary that opened a pipe for writing).
fn wait_with_limit(mut child: Child, limit: Duration) -> Output {
    let start = Instant::now();
    while child.try_wait().unwrap().is_none() {
        if start.elapsed() > limit {
            let _ = child.kill();
            break;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    child.wait_with_output().unwrap()
}

fn run_with_limit(args: &[&str], limit: Duration) -> Output {
    let child = Command::new(bin())
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    wait_with_limit(child, limit)
}

/// Temporary output files in `dir`.
fn parts(dir: &Path) -> Vec<String> {
    std::fs::read_dir(dir)
        .unwrap()
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.contains(".part"))
        .collect()
}

fn cube(dir: &Path) -> PathBuf {
    let p = dir.join("cube.stl");
    io::write_stl(&p, &shapes::cuboid([0.0; 3], [10.0, 10.0, 3.0])).unwrap();
    p
}

/// The vessel phantom shipped with the project, as a path.
fn phantom() -> PathBuf {
    PathBuf::from(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/examples/vessel_phantom.stl"
    ))
}

#[cfg(unix)]
#[test]
fn output_through_a_symlink_updates_the_target_and_keeps_the_link() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let model = cube(d);
    std::fs::create_dir(d.join("jobs")).unwrap();
    let target = d.join("jobs/today.gcode");
    std::fs::write(&target, "old").unwrap();
    let link = d.join("latest.gcode");
    std::os::unix::fs::symlink("jobs/today.gcode", &link).unwrap();
    let o = lamina(&["slice", s(&model), "-o", s(&link), "-q"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let meta = std::fs::symlink_metadata(&link).unwrap();
    assert!(
        meta.file_type().is_symlink(),
        "the link was replaced by a file"
    );
    let g = std::fs::read_to_string(&target).unwrap();
    assert!(g.contains(";LAYER_CHANGE"), "the target was not updated");
    assert!(parts(d).is_empty() && parts(&d.join("jobs")).is_empty());
    // repair writes through the link too.
    let mesh_link = d.join("fixed.stl");
    std::os::unix::fs::symlink("jobs/fixed-real.stl", &mesh_link).unwrap();
    let o = lamina(&["repair", s(&model), "-o", s(&mesh_link), "-q"]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(
        std::fs::symlink_metadata(&mesh_link)
            .unwrap()
            .file_type()
            .is_symlink()
    );
    assert!(io::load(&d.join("jobs/fixed-real.stl")).is_ok());
}

#[cfg(unix)]
#[test]
fn a_named_pipe_is_refused_untouched_before_any_work() {
    use std::os::unix::fs::FileTypeExt;
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let model = cube(d);
    for (command, name) in [("slice", "out.gcode"), ("repair", "out.stl")] {
        let fifo = d.join(name);
        let c = std::ffi::CString::new(s(&fifo)).unwrap();
        assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o644) }, 0);
        let args = [command, s(&model), "-o", s(&fifo)];
        let o = run_with_limit(&args, Duration::from_secs(30));
        assert_eq!(o.status.code(), Some(1), "{args:?}: {}", stderr(&o));
        let e = stderr(&o);
        assert!(e.contains("named pipe") && e.contains(name), "{e}");
        let t = std::fs::symlink_metadata(&fifo).unwrap().file_type();
        assert!(t.is_fifo(), "the pipe was replaced");
    }
    assert!(parts(d).is_empty());
}

/// A device node named `name` to write at: a copy of /dev/null made in `dir` when
/// running as root (so that a regression could never replace a real device), else
/// /dev/null itself (a user cannot replace it).
#[cfg(unix)]
fn device(dir: &Path, name: &str) -> PathBuf {
    if unsafe { libc::geteuid() } == 0 {
        let p = dir.join(name);
        let c = std::ffi::CString::new(s(&p)).unwrap();
        let dev = libc::makedev(1, 3);
        assert_eq!(
            unsafe { libc::mknod(c.as_ptr(), libc::S_IFCHR | 0o666, dev) },
            0
        );
        p
    } else {
        PathBuf::from("/dev/null")
    }
}

#[cfg(unix)]
#[test]
fn a_device_is_refused_untouched() {
    use std::os::unix::fs::{FileTypeExt, MetadataExt};
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let model = cube(d);
    for (command, name) in [("slice", "null.gcode"), ("repair", "null.stl")] {
        let dev = device(d, name);
        if command == "repair" && dev.extension().is_none() {
            // /dev/null has no mesh extension: repair would refuse it for that.
            continue;
        }
        let rdev = std::fs::metadata(&dev).unwrap().rdev();
        let args = [command, s(&model), "-o", s(&dev)];
        let o = run_with_limit(&args, Duration::from_secs(30));
        assert_eq!(o.status.code(), Some(1), "{args:?}: {}", stderr(&o));
        assert!(stderr(&o).contains("device"), "{}", stderr(&o));
        let m = std::fs::symlink_metadata(&dev).unwrap();
        assert!(
            m.file_type().is_char_device() && m.rdev() == rdev,
            "the device node was replaced"
        );
    }
    assert!(parts(d).is_empty());
}

#[test]
fn a_folder_as_output_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let model = cube(d);
    let o = lamina(&["slice", s(&model), "-o", s(d)]);
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("it is a folder"), "{}", stderr(&o));
    assert!(d.is_dir() && parts(d).is_empty());
    // And a file given as the folder for pictures, before any slicing.
    let out = d.join("cube.gcode");
    let o = lamina(&["slice", s(&model), "-o", s(&out), "--preview", s(&model)]);
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("not a folder"), "{}", stderr(&o));
    assert!(!out.exists());
    // And a folder for pictures that cannot be made, before any slicing too.
    let under_a_file = model.join("pictures");
    let mut cases = vec![(s(&under_a_file), "cube.stl' is not a folder")];
    if cfg!(target_os = "linux") {
        cases.push(("/proc/pictures", "folder '/proc'"));
    }
    for (pictures, needle) in cases {
        let o = lamina(&["slice", s(&model), "-o", s(&out), "--preview", pictures]);
        assert_eq!(o.status.code(), Some(1));
        assert!(stderr(&o).contains(needle), "{}", stderr(&o));
        assert!(
            !out.exists(),
            "sliced before the picture folder was checked"
        );
    }
}

/// A model that takes several seconds to slice: a sphere of 150 mm with 200,000
/// triangles.
fn big_model(dir: &Path) -> PathBuf {
    let p = dir.join("big.stl");
    io::write_stl(&p, &shapes::uv_sphere([0.0; 3], 75.0, 250, 400)).unwrap();
    p
}

#[test]
fn a_missing_output_folder_is_refused_at_once_naming_the_users_path() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let model = big_model(d);
    let out = d.join("no-such-folder/skull.gcode");
    let mesh_out = d.join("no-such-folder/skull.gcode.stl");
    for args in [
        vec!["slice", s(&model), "-o", s(&out)],
        vec!["repair", s(&model), "-o", s(&mesh_out)],
        vec![
            "slice",
            s(&model),
            "-o",
            s(&out),
            "--printer",
            "dual-marlin",
            "--material",
            "pla",
            "--material",
            "pva",
            "--soluble",
        ],
    ] {
        let t = Instant::now();
        let o = lamina(&args);
        let took = t.elapsed();
        assert_eq!(o.status.code(), Some(1), "{args:?}");
        let e = stderr(&o);
        assert!(
            e.contains("no-such-folder/skull.gcode") && e.contains("does not exist"),
            "{e}"
        );
        assert!(
            !e.contains(".part"),
            "the error names the temporary file: {e}"
        );
        assert!(
            took < Duration::from_secs(1),
            "refused after {took:?} (the model was loaded or sliced first)"
        );
    }
}

#[cfg(unix)]
#[test]
fn a_read_only_output_folder_is_refused_at_once() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let model = big_model(d);
    // Permission bits do not stop root: then /sys, which no one may create files in.
    let ro = if unsafe { libc::geteuid() } == 0 {
        PathBuf::from("/sys")
    } else {
        let ro = d.join("ro");
        std::fs::create_dir(&ro).unwrap();
        std::fs::set_permissions(&ro, std::fs::Permissions::from_mode(0o555)).unwrap();
        ro
    };
    let probe = ro.join("lamina-probe.gcode");
    if std::fs::File::create(&probe).is_ok() {
        let _ = std::fs::remove_file(&probe);
        panic!(
            "{} is writable here: no read-only folder to test with",
            ro.display()
        );
    }
    let out = ro.join("x.gcode");
    let t = Instant::now();
    let o = lamina(&["slice", s(&model), "-o", s(&out)]);
    assert!(t.elapsed() < Duration::from_secs(1));
    assert_eq!(o.status.code(), Some(1));
    let e = stderr(&o);
    assert!(e.contains("not writable") && e.contains("x.gcode"), "{e}");
}

/// Folders that cannot take the output: each is named, never the temporary file.
#[test]
fn an_output_folder_that_cannot_take_a_file_is_named() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let model = cube(d);
    let notes = d.join("notes.txt");
    std::fs::write(&notes, "x").unwrap();
    let mut cases = vec![(
        notes.join("x.gcode"),
        "notes.txt' is not a folder".to_string(),
    )];
    if cfg!(target_os = "linux") {
        // /proc takes no new file, from root either.
        cases.push((PathBuf::from("/proc/x.gcode"), "folder '/proc'".to_string()));
    }
    for (out, needle) in cases {
        let o = lamina(&["slice", s(&model), "-o", s(&out), "--json"]);
        assert_eq!(o.status.code(), Some(1));
        let e = stderr(&o);
        assert!(e.contains(s(&out)) && e.contains(&needle), "{e}");
        assert!(!e.contains(".part") && !e.contains(".lamina-"), "{e}");
        let j: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
        assert_eq!(j["file"], s(&out), "{j}");
    }
}

/// Interrupt a slice at a moment chosen by `when` (called with the child and the
/// temporary file folder; returns once it is time), then check that no temporary file
/// is left and the output is either absent or complete.
#[cfg(unix)]
fn interrupt_at(
    signal: i32,
    when: impl FnOnce(&Child, &Path),
    label: &str,
) -> (std::process::ExitStatus, bool) {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let out = d.join("v.gcode");
    let child = Command::new(bin())
        .args(["slice", s(&phantom()), "--scale", "3", "-o", s(&out), "-q"])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    when(&child, d);
    unsafe { libc::kill(child.id() as i32, signal) };
    let o = wait_with_limit(child, Duration::from_secs(120));
    let left = parts(d);
    assert!(left.is_empty(), "{label}: left {left:?}");
    let finished = o.status.success();
    if finished {
        let g = std::fs::read_to_string(&out).unwrap();
        assert!(
            g.trim_end().ends_with("; lamina_config = end"),
            "{label}: incomplete output"
        );
    } else if out.exists() {
        // The signal came after the finished file was renamed into place: what is
        // there is whole.
        let g = std::fs::read_to_string(&out).unwrap();
        assert!(
            g.trim_end().ends_with("; lamina_config = end"),
            "{label}: a partial output is in place"
        );
    }
    (o.status, finished)
}

/// Whether a process ended on `signal` as it should: with status 128 + the signal after
/// cleaning up, or by the signal itself when it came before there was anything to
/// clean (the handler is installed once the command starts).
#[cfg(unix)]
fn ended_by(status: std::process::ExitStatus, signal: i32) -> bool {
    use std::os::unix::process::ExitStatusExt;
    status.code() == Some(128 + signal) || status.signal() == Some(signal)
}

#[cfg(unix)]
#[test]
fn no_temporary_file_is_left_by_an_interrupt_at_any_point_of_a_slice() {
    // How long a whole slice takes here.
    let dir = tempfile::tempdir().unwrap();
    let t = Instant::now();
    let o = lamina(&[
        "slice",
        s(&phantom()),
        "--scale",
        "3",
        "-o",
        s(&dir.path().join("v.gcode")),
        "-q",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let whole = t.elapsed();
    let mut interrupted = 0;
    for fraction in [0.0, 0.1, 0.3, 0.5, 0.7, 0.9] {
        let (status, finished) = interrupt_at(
            libc::SIGINT,
            |_, _| std::thread::sleep(whole.mul_f64(fraction)),
            &format!("Ctrl-C at {fraction} of the slice"),
        );
        if !finished {
            assert!(
                ended_by(status, libc::SIGINT),
                "Ctrl-C at {fraction}: {status:?}"
            );
            interrupted += 1;
        }
    }
    assert!(
        interrupted >= 3,
        "the slice finished before most interrupts"
    );
    // While the G-code is being written: the temporary file has data.
    let (status, finished) = interrupt_at(
        libc::SIGINT,
        |child, d| {
            let start = Instant::now();
            while start.elapsed() < Duration::from_secs(120) {
                let writing = std::fs::read_dir(d)
                    .unwrap()
                    .filter_map(|e| e.ok())
                    .any(|e| {
                        e.file_name().to_string_lossy().contains(".part")
                            && e.metadata().is_ok_and(|m| m.len() > 0)
                    });
                if writing {
                    return;
                }
                let _ = child.id();
                std::thread::sleep(Duration::from_micros(200));
            }
        },
        "Ctrl-C while writing",
    );
    assert!(finished || status.code() == Some(130), "{status:?}");
    // SIGTERM (a kill, a closing session) is handled the same way.
    let (status, finished) = interrupt_at(
        libc::SIGTERM,
        |_, _| std::thread::sleep(whole.mul_f64(0.5)),
        "SIGTERM",
    );
    assert!(finished || status.code() == Some(143), "{status:?}");
}

#[test]
fn a_closed_pipe_ends_quietly_with_success() {
    let mut child = Command::new(bin())
        .args(["slice", s(&phantom()), "-o", "-"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Read the first lines, as `| head` would, and close the pipe.
    let mut stdout = child.stdout.take().unwrap();
    let mut first = [0u8; 200];
    stdout.read_exact(&mut first).unwrap();
    assert!(first.starts_with(b"; generated by lamina"));
    drop(stdout);
    let o = wait_with_limit(child, Duration::from_secs(120));
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert!(stderr(&o).is_empty(), "{}", stderr(&o));
}

/// Usage errors: status 2, one clear sentence, and with --json a JSON object on
/// standard output.
#[test]
fn every_usage_error_exits_2() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let model = cube(d);
    let m = s(&model);
    let out = d.join("o.gcode");
    let o_ = s(&out);
    let (ply, bmp, at4) = (d.join("x.ply"), d.join("x.bmp"), format!("{m}@4"));
    let cases: Vec<(Vec<&str>, &str)> = vec![
        (
            vec!["slice", m, "-o", o_, "--set", "perimters=3"],
            "did you mean 'perimeters'",
        ),
        (
            vec!["slice", m, "-o", o_, "--set", "perimeters"],
            "KEY=VALUE",
        ),
        (
            vec!["slice", m, "-o", o_, "--set", "perimeters=three"],
            "perimeters expects",
        ),
        (
            vec!["slice", m, "-o", o_, "--set", "layer_height=5"],
            "layer_height",
        ),
        (vec!["slice", m, "-o", o_, "--support", "maybe"], "maybe"),
        (vec!["slice", m, "-o", o_, "--support", "tre"], "tree"),
        (
            vec!["slice", m, "-o", o_, "--support-inside", "maybe"],
            "maybe",
        ),
        (
            vec!["slice", m, "-o", o_, "--rotate", "90"],
            "--rotate 0,0,90",
        ),
        (vec!["slice", m, "-o", o_, "--rotate", "90,0"], "X,Y,Z"),
        (vec!["slice", m, "-o", o_, "--scale", "0"], "--scale"),
        (vec!["slice", m, "-o", o_, "--scale", "big"], "not a number"),
        (
            vec!["slice", m, "-o", o_, "--material", "PLA"],
            "did you mean 'pla'",
        ),
        (
            vec!["slice", m, "-o", o_, "--printer", "Prusa-MK3S"],
            "did you mean 'prusa-mk3s'",
        ),
        (
            vec!["slice", m, "-o", o_, "--quality", "fine"],
            "quality profile",
        ),
        (vec!["slice", m, "-o", o_, "--soluble"], "two tools"),
        (vec!["slice", &at4, "-o", o_], "tool 4"),
        (vec!["slice", m, "-o", "-", "--json"], "-o FILE"),
        (vec!["compare", m, "--support", "grid,glue"], "glue"),
        (vec!["repair", m, "-o", s(&ply)], ".stl, .obj or .3mf"),
        (vec!["preview", o_, "-o", s(&bmp)], ".svg, .png or .html"),
        (
            vec!["profiles", "show", "Ender3"],
            "no printer, material or quality profile",
        ),
        (vec!["slice", m], "--output"),
        (
            vec!["slice", m, "-o", o_, "--no-such-flag"],
            "--no-such-flag",
        ),
    ];
    for (args, needle) in &cases {
        let o = lamina(args);
        let e = stderr(&o);
        assert_eq!(o.status.code(), Some(2), "{args:?}: {e}");
        assert!(
            e.starts_with("error: ") && e.contains(needle),
            "{args:?}: {e}"
        );
        assert!(!out.exists(), "{args:?} wrote an output");
        // The same with --json: a JSON object on standard output too (preview has
        // no --json).
        if args.contains(&"--json") || args[0] == "preview" {
            continue;
        }
        let mut with_json = args.clone();
        with_json.push("--json");
        let o = lamina(&with_json);
        assert_eq!(o.status.code(), Some(2), "{with_json:?}");
        let j: serde_json::Value = serde_json::from_slice(&o.stdout)
            .unwrap_or_else(|e| panic!("{with_json:?}: stdout is not JSON ({e}): {:?}", o.stdout));
        assert!(
            j["error"].as_str().is_some_and(|t| t.contains(needle)),
            "{with_json:?}: {j}"
        );
        assert!(j.get("file").is_some(), "{j}");
        assert!(stderr(&o).starts_with("error: "), "{with_json:?}");
    }
    // Values and names in another case: options take them, profiles suggest them.
    let o = lamina(&[
        "slice",
        m,
        "-o",
        o_,
        "--support",
        "Tree",
        "--support-inside",
        "NONE",
        "-q",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    std::fs::remove_file(&out).unwrap();
    // Job failures are status 1, and their JSON names the file.
    let missing = d.join("missing.stl");
    let o = lamina(&["slice", s(&missing), "-o", o_, "--json"]);
    assert_eq!(o.status.code(), Some(1));
    let j: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(j["file"], s(&missing));
    assert!(j["error"].as_str().unwrap().contains("cannot open"), "{j}");
}

#[test]
fn slicing_onto_a_model_is_refused_and_leaves_it_as_it_was() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let model = cube(d);
    let bytes = std::fs::read(&model).unwrap();
    // A scan without an extension (lamina reads STL by its content).
    let scan = d.join("scan");
    std::fs::copy(&model, &scan).unwrap();
    let mut cases: Vec<(Vec<String>, &str)> = vec![
        (
            vec![s(&model).into(), "-o".into(), s(&model).into()],
            "would replace",
        ),
        (
            vec![s(&scan).into(), "-o".into(), s(&scan).into()],
            "would replace",
        ),
        (
            vec![format!("{}@0", s(&scan)), "-o".into(), s(&scan).into()],
            "would replace",
        ),
        (
            vec![
                "--tool".into(),
                "0".into(),
                s(&scan).into(),
                "-o".into(),
                s(&scan).into(),
            ],
            "would replace",
        ),
        (
            vec![s(&model).into(), "-o".into(), s(&d.join("new.STL")).into()],
            ".stl mesh file",
        ),
        (
            vec![s(&model).into(), "-o".into(), s(&d.join("new.3mf")).into()],
            ".3mf mesh file",
        ),
    ];
    #[cfg(unix)]
    {
        let link = d.join("latest.gcode");
        std::os::unix::fs::symlink(&model, &link).unwrap();
        cases.push((
            vec![s(&model).into(), "-o".into(), s(&link).into()],
            "would replace",
        ));
    }
    for (args, needle) in &cases {
        let args: Vec<&str> = [
            &["slice"][..],
            &args.iter().map(String::as_str).collect::<Vec<_>>(),
        ]
        .concat();
        let o = lamina(&args);
        assert_eq!(o.status.code(), Some(2), "{args:?}: {}", stderr(&o));
        assert!(stderr(&o).contains(needle), "{args:?}: {}", stderr(&o));
        assert_eq!(std::fs::read(&model).unwrap(), bytes, "{args:?}");
        assert_eq!(std::fs::read(&scan).unwrap(), bytes, "{args:?}");
    }
    assert!(!d.join("new.STL").exists() && !d.join("new.3mf").exists());
    // A G-code name beside the model is fine.
    let o = lamina(&["slice", s(&scan), "-o", s(&d.join("scan.gcode")), "-q"]);
    assert!(o.status.success(), "{}", stderr(&o));
}

/// `lamina print` finds the same usage errors as `slice`, before it opens the port (a
/// port that does not exist would otherwise be the error, with status 1).
#[test]
fn print_tells_usage_errors_before_it_opens_the_port() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let model = cube(d);
    let m = s(&model);
    let port = d.join("no-such-port");
    let cases: [(&[&str], &str); 5] = [
        (&["--rotate", "90"], "--rotate 0,0,90"),
        (&["--scale", "0"], "--scale"),
        (&["-o", "-"], "-o FILE"),
        (&["-o", m], "would replace"),
        (&["-o", "skull.3mf"], "mesh file"),
    ];
    for (extra, needle) in cases {
        let args = [&["print", m, "--port", s(&port)][..], extra].concat();
        let o = lamina(&args);
        let e = stderr(&o);
        assert_eq!(o.status.code(), Some(2), "{args:?}: {e}");
        assert!(
            e.contains(needle) && !e.contains("no-such-port"),
            "{args:?}: {e}"
        );
    }
}

#[test]
fn inspect_reports_every_file_and_fails_if_any_did() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let good = cube(d);
    let bad = d.join("notes.stl");
    std::fs::write(&bad, "these are not triangles").unwrap();
    let missing = d.join("missing.stl");
    let other = d.join("sphere.stl");
    io::write_stl(&other, &shapes::uv_sphere([0.0; 3], 5.0, 12, 24)).unwrap();
    let args = [s(&good), s(&bad), s(&missing), s(&other)];
    let o = lamina(&[&["inspect"][..], &args[..]].concat());
    assert_eq!(o.status.code(), Some(1));
    let text = String::from_utf8_lossy(&o.stdout);
    assert!(
        text.contains("cube (") && text.contains("sphere ("),
        "both readable files are reported: {text}"
    );
    let e = stderr(&o);
    assert!(e.contains("notes.stl") && e.contains("missing.stl"), "{e}");
    let o = lamina(&[&["inspect", "--json"][..], &args[..]].concat());
    assert_eq!(o.status.code(), Some(1));
    let j: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let entries = j.as_array().unwrap();
    assert_eq!(entries.len(), 4, "{j}");
    assert_eq!(entries[0]["report"]["triangles"], 12);
    assert_eq!(entries[1]["file"], s(&bad));
    assert!(
        entries[1]["error"]
            .as_str()
            .unwrap()
            .contains("unknown mesh format")
    );
    assert_eq!(entries[2]["file"], s(&missing));
    assert!(entries[3]["report"]["triangles"].as_u64().unwrap() > 0);
    // All readable: success.
    let o = lamina(&["inspect", s(&good), s(&other)]);
    assert_eq!(o.status.code(), Some(0));
}

/// An ellipsoid with a skull's proportions, `size` mm.
fn skull_like(size: [f64; 3]) -> Mesh {
    let mut m = shapes::uv_sphere([0.0; 3], 1.0, 24, 48);
    for v in &mut m.vertices {
        for (c, s) in v.iter_mut().zip(size) {
            *c *= (s / 2.0) as f32;
        }
    }
    m
}

#[test]
fn a_model_in_inches_or_metres_gets_a_warning_with_the_scale() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let out = d.join("o.gcode");
    // Few lines per layer: the big models slice quickly.
    let fast = [
        "--quality",
        "0.28mm",
        "--set",
        "fill_density=0",
        "--set",
        "perimeters=1",
        "--set",
        "top_solid_layers=0",
        "--set",
        "bottom_solid_layers=0",
    ];
    let slice_warnings = |size: [f64; 3], extra: &[&str]| {
        let p = d.join("m.stl");
        io::write_stl(&p, &skull_like(size)).unwrap();
        let extra = [extra, &fast[..]].concat();
        let extra = &extra[..];
        let o = lamina(&[&["slice", s(&p), "-o", s(&out), "--json"][..], extra].concat());
        assert!(o.status.success(), "{size:?}: {}", stderr(&o));
        let j: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
        let w: Vec<String> = j["warnings"]
            .as_array()
            .unwrap()
            .iter()
            .map(|w| w.as_str().unwrap().to_string())
            .collect();
        let text = lamina(&[&["slice", s(&p), "-o", s(&out)][..], extra].concat());
        (w, stderr(&text))
    };
    // A skull exported in inches.
    let (w, e) = slice_warnings([5.3, 8.5, 7.4], &[]);
    assert!(w.iter().any(|w| w.contains("--scale 25.4")), "{w:?}");
    assert!(e.contains("warning:") && e.contains("--scale 25.4"), "{e}");
    // The same skull in millimetres, and the inch one scaled: no unit warning.
    for (size, extra) in [
        ([134.6, 215.9, 188.0], &[][..]),
        ([5.3, 8.5, 7.4], &["--scale", "25.4"][..]),
    ] {
        let (w, _) = slice_warnings(size, extra);
        assert!(
            !w.iter().any(|w| w.contains("--scale")),
            "{size:?} {extra:?}: {w:?}"
        );
    }
    // A small vessel segment (long and thin) is a real millimetre model.
    let (w, _) = slice_warnings([1.6, 1.6, 9.0], &[]);
    assert!(!w.iter().any(|w| w.contains("--scale")), "{w:?}");
    // inspect says so too.
    let p = d.join("inch.stl");
    io::write_stl(&p, &skull_like([5.3, 8.5, 7.4])).unwrap();
    let o = lamina(&["inspect", s(&p), "--json"]);
    let j: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert!(
        j[0]["warnings"][0]
            .as_str()
            .unwrap()
            .contains("--scale 25.4")
    );
    // Far over the bed by a unit factor: the error names the scale.
    for (size, scale) in [
        (
            [134.6 * 25.4, 215.9 * 25.4, 188.0 * 25.4],
            "--scale 0.03937",
        ),
        ([15_000.0, 5_000.0, 16_000.0], "--scale 0.001"),
        // A skull in metres: far too small to slice.
        ([0.135, 0.216, 0.188], "--scale 1000"),
    ] {
        let p = d.join("off.stl");
        io::write_stl(&p, &skull_like(size)).unwrap();
        let o = lamina(&["slice", s(&p), "-o", s(&out)]);
        assert_eq!(o.status.code(), Some(1));
        assert!(stderr(&o).contains(scale), "{size:?}: {}", stderr(&o));
        // The JSON error names the file.
        let o = lamina(&["slice", s(&p), "-o", s(&out), "--json"]);
        let j: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
        assert_eq!(j["file"], s(&p), "{j}");
        assert!(j["error"].as_str().unwrap().contains(scale), "{j}");
    }
}
