//! `lamina stream` end to end, through the real binary, against a Marlin-like printer
//! on a pseudo-terminal that corrupts lines, loses acknowledgements, chatters, is busy,
//! disconnects and fails.

mod common;
mod emulator;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::Duration;

use common::EModes;
use emulator::{Config, End, Printer, is_host_command};

/// A G-code file written like a slicer's, and the commands the printer must execute.
struct Job {
    _dir: tempfile::TempDir,
    path: PathBuf,
    commands: Vec<String>,
}

/// `layers` layers of `moves` extrusion moves, with comments, blank lines, parenthesised
/// comments, heating and homing at the start.
fn job(layers: usize, moves: usize) -> Job {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("vessel.gcode");
    let mut text = String::new();
    let mut commands = Vec::new();
    let mut cmd = |text: &mut String, written: &str, expected: &str| {
        text.push_str(written);
        text.push('\n');
        commands.push(expected.to_string());
    };
    text.push_str("; generated for the lamina streaming tests\n\n");
    cmd(&mut text, "M140 S60 ; bed", "M140 S60");
    cmd(&mut text, "M104 S210", "M104 S210");
    cmd(&mut text, "G28 ; home all", "G28");
    cmd(&mut text, "M190 S60", "M190 S60");
    cmd(&mut text, "M109 S210", "M109 S210");
    cmd(&mut text, "G90", "G90");
    cmd(&mut text, "M83", "M83");
    cmd(&mut text, "G92 E0", "G92 E0");
    for layer in 0..layers {
        let z = 0.2 * (layer + 1) as f64;
        text.push_str(";LAYER_CHANGE\n");
        text.push_str(&format!(";Z:{z:.2}\n"));
        cmd(
            &mut text,
            &format!("G1 Z{z:.2} F600"),
            &format!("G1 Z{z:.2} F600"),
        );
        if layer == 1 {
            cmd(&mut text, "M106 S255", "M106 S255");
        }
        for i in 0..moves {
            let x = 50.0 + (i % 40) as f64 * 0.5;
            let y = 50.0 + (layer % 7) as f64 + (i / 40) as f64 * 0.25;
            let plain = format!("G1 X{x:.3} Y{y:.3} E0.0{} F1800", i % 9 + 1);
            match i % 5 {
                0 => cmd(&mut text, &format!("{plain} ; wall"), &plain),
                1 => cmd(&mut text, &format!("  {plain}  "), &plain),
                2 => {
                    text.push('\n');
                    cmd(&mut text, &plain, &plain);
                }
                3 => cmd(
                    &mut text,
                    &format!("G1 (travel) X{x:.3} Y{y:.3} F6000"),
                    &format!("G1 X{x:.3} Y{y:.3} F6000"),
                ),
                _ => cmd(&mut text, &plain, &plain),
            }
        }
    }
    cmd(&mut text, "M104 S0", "M104 S0");
    cmd(&mut text, "M140 S0", "M140 S0");
    cmd(&mut text, "M84", "M84");
    text.push_str("; estimated printing time (normal mode) = 0h 12m 30s\n");
    std::fs::write(&path, text).expect("written");
    Job {
        _dir: dir,
        path,
        commands,
    }
}

/// Run `lamina stream FILE --port <pty> ARGS` against `printer`; return the printer
/// afterwards, the process output and how the connection ended.
fn stream(printer: Printer, file: &Path, args: &[&str]) -> (Printer, Output, End) {
    let (master, port) = emulator::pty();
    let handle = std::thread::spawn(move || {
        let mut p = printer;
        let end = p.serve(master);
        (p, end)
    });
    let output = Command::new(env!("CARGO_BIN_EXE_lamina"))
        .arg("stream")
        .arg(file)
        .args(["--port", &port, "--banner-wait", "1", "--json", "-q"])
        .args(args)
        .output()
        .expect("lamina runs");
    let (printer, end) = handle.join().expect("emulator thread");
    (printer, output, end)
}

fn file_commands(executed: &[String]) -> Vec<String> {
    executed
        .iter()
        .filter(|c| !is_host_command(c))
        .cloned()
        .collect()
}

/// The JSON summary: the last of the JSON lines on stdout.
fn summary(output: &Output) -> serde_json::Value {
    let stdout = String::from_utf8_lossy(&output.stdout);
    let last = stdout.lines().last().unwrap_or("");
    let v: serde_json::Value = serde_json::from_str(last).unwrap_or_else(|e| {
        panic!(
            "no JSON summary ({e}); stdout: {stdout}; stderr: {}",
            String::from_utf8_lossy(&output.stderr)
        )
    });
    assert_eq!(v["event"], "summary", "{last}");
    v
}

fn faulty() -> Config {
    Config {
        seed: 20_240_611,
        corrupt: 0.05,
        lose_ok: 0.01,
        buffer: 4,
        chatter: Some(Duration::from_millis(20)),
        ..Config::default()
    }
}

/// The job finished well; otherwise fail with what lamina said.
fn assert_ok(output: &Output) {
    assert!(
        output.status.success(),
        "stderr: {}",
        String::from_utf8_lossy(&output.stderr)
    );
}

fn assert_same_commands(got: &[String], want: &[String]) {
    if got != want {
        let first = got
            .iter()
            .zip(want)
            .position(|(a, b)| a != b)
            .unwrap_or(got.len().min(want.len()));
        panic!(
            "executed {} commands, file has {}; first difference at {first}: got {:?}, want {:?}",
            got.len(),
            want.len(),
            got.get(first.saturating_sub(2)..(first + 3).min(got.len())),
            want.get(first.saturating_sub(2)..(first + 3).min(want.len())),
        );
    }
}

#[test]
fn faulty_printer_executes_exactly_the_file() {
    let job = job(30, 60);
    let log_dir = tempfile::tempdir().expect("tempdir");
    let log = log_dir.path().join("job.log");
    let log_arg = log.to_string_lossy().to_string();
    let (printer, output, end) = stream(
        Printer::new(faulty()),
        &job.path,
        &["--window", "4", "--log", &log_arg],
    );
    assert_ok(&output);
    assert_eq!(end, End::HostClosed);
    assert_same_commands(&file_commands(&printer.executed), &job.commands);
    outside_check(&job.commands, &printer.executed, &[]);
    // The faults did happen.
    assert!(printer.stats.corrupted > 50, "{:?}", printer.stats);
    assert!(printer.stats.lost_oks > 5, "{:?}", printer.stats);
    assert!(
        printer.stats.busy > 0 && printer.stats.chatter > 0,
        "{:?}",
        printer.stats
    );
    let s = summary(&output);
    assert_eq!(s["status"], "done");
    assert!(s["resends"].as_u64().unwrap_or(0) > 0);
    assert_eq!(s["firmware"]["emergency_parser"], true);
    // The log holds every line both ways, timestamped.
    let text = std::fs::read_to_string(&log).expect("log written");
    assert!(
        text.lines()
            .any(|l| l.contains(" > N1 ") && l.contains("Z +"))
    );
    assert!(text.lines().any(|l| l.ends_with(" < ok")));
    assert!(text.contains("< Resend: "));
    assert!(text.contains(" M105*"));
    // A finished job leaves no state file behind.
    assert!(!Path::new(&format!("{}.lamina-job", job.path.display())).exists());
    assert_eq!(s["state_file"], serde_json::Value::Null);
    // Every line of stdout is a JSON event.
    let stdout = String::from_utf8_lossy(&output.stdout);
    for line in stdout.lines() {
        let v: serde_json::Value = serde_json::from_str(line).expect("a JSON line");
        assert!(v["event"].is_string(), "{line}");
    }
}

#[test]
fn advanced_ok_sizes_the_window_from_the_firmware() {
    let job = job(10, 60);
    let config = Config {
        advanced_ok: true,
        autoreport: true,
        seed: 99,
        ..faulty()
    };
    let (printer, output, _) = stream(Printer::new(config), &job.path, &[]);
    assert_ok(&output);
    assert_same_commands(&file_commands(&printer.executed), &job.commands);
    assert!(printer.executed.iter().any(|c| c == "M155 S2"));
    assert_eq!(summary(&output)["firmware"]["advanced_ok"], true);
}

#[test]
fn disconnect_then_resume_on_a_printer_that_kept_running() {
    let job = job(20, 60);
    let config = Config {
        disconnect_after: Some(700),
        keep_running_on_disconnect: true,
        ..faulty()
    };
    let (printer, output, end) = stream(Printer::new(config), &job.path, &["--window", "4"]);
    assert_eq!(end, End::Disconnected);
    assert_eq!(output.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("disconnected"), "{stderr}");
    assert!(stderr.contains("acknowledged up to line"), "{stderr}");
    assert!(stderr.contains("--resume"), "{stderr}");
    let before = file_commands(&printer.executed);
    assert!(printer.executed.len() >= 700 && before.len() < job.commands.len());

    // Plugged back in: the board did not reset (no banner), it kept its line counter.
    let mut printer = printer;
    printer.config.reset_on_connect = false;
    let (printer, output, _) = stream(printer, &job.path, &["--window", "4", "--resume"]);
    assert_ok(&output);
    let s = summary(&output);
    assert_eq!(s["printer_reset"], false);
    assert_eq!(s["resumed"], "kept_running");
    assert_eq!(s["preamble"].as_array().map(Vec::len), Some(0));
    assert_same_commands(&file_commands(&printer.executed), &job.commands);
}

/// The same, when the answer to lamina's first question for the printer's line counter
/// is lost: the printer took the question, so a repeat with the same number would be
/// dropped as a duplicate and the printer's silence taken for a reset (the file printed
/// again from the restart line). No command is lost or doubled.
#[test]
fn resume_on_a_printer_that_kept_running_when_the_first_answer_is_lost() {
    let job = job(20, 60);
    let config = Config {
        disconnect_after: Some(700),
        keep_running_on_disconnect: true,
        ..Config::default()
    };
    let (printer, output, end) = stream(Printer::new(config), &job.path, &["--window", "4"]);
    assert_eq!(end, End::Disconnected);
    assert_eq!(output.status.code(), Some(1));
    let mut printer = printer;
    printer.config.reset_on_connect = false;
    printer.config.lose_m105_oks = 1;
    let (printer, output, _) = stream(printer, &job.path, &["--window", "4", "--resume"]);
    assert_ok(&output);
    assert_eq!(printer.stats.lost_oks, 1, "{:?}", printer.stats);
    let s = summary(&output);
    assert_eq!(s["resumed"], "kept_running", "{s}");
    assert_same_commands(&file_commands(&printer.executed), &job.commands);
}

/// How a resumed job went, measured from what the printer executed: file commands never
/// executed, and file commands executed twice.
#[derive(Debug)]
struct Resumed {
    lost: usize,
    doubled: usize,
}

/// Judge a job cut after `before` (what the printer had executed) and resumed: the rest
/// of `executed` must be the preamble, then the file from some command on, to the end.
fn judge_resumed(
    executed: &[String],
    before: usize,
    preamble: &[String],
    file: &[String],
) -> Resumed {
    assert_same_commands(&executed[..before], &file[..before]);
    let rest = &executed[before..];
    let preamble: Vec<String> = preamble
        .iter()
        .filter(|c| !is_host_command(c))
        .cloned()
        .collect();
    assert!(
        rest.starts_with(&preamble),
        "the resume preamble {preamble:?} runs first: {:?}",
        &rest[..rest.len().min(preamble.len())]
    );
    let replay = &rest[preamble.len()..];
    let from = file.len() - replay.len();
    assert_same_commands(replay, &file[from..]);
    Resumed {
        lost: from.saturating_sub(before),
        doubled: before.saturating_sub(from),
    }
}

/// Most file commands a resume after a reset may run twice: the planner's 16 moves and
/// the 4 commands of Marlin's queue, with room for a few non-moves among them.
const MAX_REDO: usize = 24;

#[test]
fn disconnect_then_resume_after_the_board_reset() {
    let job = job(20, 60);
    // Moves take time in the planner, as on a printer: when the board resets, up to 16
    // acknowledged moves are lost with it.
    let config = Config {
        lose_ok: 0.0,
        move_time: Duration::from_millis(4),
        disconnect_after: Some(500),
        keep_running_on_disconnect: false,
        ..faulty()
    };
    let (printer, output, end) = stream(Printer::new(config), &job.path, &[]);
    assert_eq!(end, End::Disconnected);
    assert_eq!(output.status.code(), Some(1));
    assert!(printer.stats.discarded_acked >= 8, "{:?}", printer.stats);
    let before = file_commands(&printer.executed).len();

    let (printer, output, _) = stream(printer, &job.path, &["--resume"]);
    assert_ok(&output);
    let s = summary(&output);
    assert_eq!(s["printer_reset"], true);
    assert_eq!(s["resumed"], "reset");
    let stderr = String::from_utf8_lossy(&output.stderr);
    let preamble: Vec<String> = s["preamble"]
        .as_array()
        .expect("preamble")
        .iter()
        .filter_map(|v| v.as_str().map(String::from))
        .collect();
    // Re-heat, re-home X and Y only, Z and E set, modes restored.
    for expected in [
        "M140 S60",
        "M104 S210",
        "G28 X Y",
        "M190 S60",
        "M109 S210",
        "M106 S255",
        "M83",
    ] {
        assert!(
            preamble.iter().any(|c| c == expected),
            "{expected} in {preamble:?}"
        );
    }
    assert!(preamble.iter().any(|c| c.starts_with("G92 Z")));
    assert!(preamble.iter().any(|c| c.starts_with("G92 E")));
    assert!(!preamble.iter().any(|c| c == "G28"));
    let all = file_commands(&printer.executed);
    let r = judge_resumed(&all, before, &preamble, &job.commands);
    assert_eq!(r.lost, 0, "{r:?}; lamina said: {stderr}");
    assert!(r.doubled <= MAX_REDO, "{r:?}");
    outside_check(&job.commands, &printer.executed, &["--resumed"]);
}

/// Judge the printer's log with the independent checker `stream_check.py` (in
/// `../shared/tools`), when it is there.
fn outside_check(file: &[String], executed: &[String], args: &[&str]) {
    let tool = Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/tools/stream_check.py");
    if !tool.is_file() {
        common::skip(&format!("{} is missing", tool.display()));
        return;
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let log = dir.path().join("executed.log");
    std::fs::write(&log, executed.join("\n") + "\n").expect("log written");
    // The checker reads ';' comments only: give it the commands as they must be sent.
    let commands = dir.path().join("job.gcode");
    std::fs::write(&commands, file.join("\n") + "\n").expect("commands written");
    let out = Command::new("python3")
        .arg(&tool)
        .arg(&commands)
        .arg(&log)
        .args(args)
        .output()
        .expect("python3 runs");
    assert!(
        out.status.success(),
        "stream_check.py {args:?}: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn fatal_error_stops_the_job_within_one_line() {
    let job = job(10, 60);
    let config = Config {
        fatal_after: Some(200),
        ..faulty()
    };
    let (printer, output, _) = stream(Printer::new(config), &job.path, &[]);
    assert_eq!(output.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("Thermal Runaway"), "{stderr}");
    // Only the lines already in flight (the window of 4) can follow the error.
    assert!(
        printer.stats.lines_after_fatal <= 4,
        "{} lines sent after the fatal error",
        printer.stats.lines_after_fatal
    );
    assert_eq!(summary(&output)["status"], "failed");
}

#[test]
fn from_line_restores_the_printer_then_continues() {
    let job = job(5, 40);
    // File line of the 100th command: count lines in the file.
    let text = std::fs::read_to_string(&job.path).expect("read");
    let line_no = text
        .lines()
        .position(|l| l.contains("G1 Z0.60 F600"))
        .expect("layer 3")
        + 1;
    let first_command = job
        .commands
        .iter()
        .position(|c| c == "G1 Z0.60 F600")
        .expect("in commands");
    let config = Config {
        seed: 5,
        ..faulty()
    };
    let arg = line_no.to_string();
    let (printer, output, _) = stream(Printer::new(config), &job.path, &["--from-line", &arg]);
    assert_ok(&output);
    let s = summary(&output);
    let preamble: Vec<String> = s["preamble"]
        .as_array()
        .expect("preamble")
        .iter()
        .filter_map(|v| v.as_str().map(String::from))
        .collect();
    assert!(preamble.iter().any(|c| c == "G92 Z0.4"), "{preamble:?}");
    let mut want = preamble.clone();
    want.extend(job.commands[first_command..].iter().cloned());
    assert_same_commands(&file_commands(&printer.executed), &want);
}

#[test]
fn bad_usage_and_bad_files() {
    let bin = env!("CARGO_BIN_EXE_lamina");
    let out = Command::new(bin)
        .args(["stream", "x.gcode"])
        .output()
        .expect("runs");
    assert_eq!(out.status.code(), Some(2), "missing --port is bad usage");
    let out = Command::new(bin)
        .args([
            "stream",
            "x.gcode",
            "--port",
            "/dev/null",
            "--from-line",
            "0",
        ])
        .output()
        .expect("runs");
    assert_eq!(out.status.code(), Some(2));
    let out = Command::new(bin)
        .args(["stream", "/nonexistent/x.gcode", "--port", "/dev/null"])
        .output()
        .expect("runs");
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("/nonexistent/x.gcode"), "{stderr}");
    let job = job(1, 5);
    let out = Command::new(bin)
        .arg("stream")
        .arg(&job.path)
        .args(["--port", "/nonexistent/ttyUSB9"])
        .output()
        .expect("runs");
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("/nonexistent/ttyUSB9"));
    // --resume without a state file says so.
    let out = Command::new(bin)
        .arg("stream")
        .arg(&job.path)
        .args(["--port", "/dev/null", "--resume"])
        .output()
        .expect("runs");
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("lamina-job"));
}

#[test]
fn ports_lists_as_json() {
    let out = Command::new(env!("CARGO_BIN_EXE_lamina"))
        .args(["ports", "--json"])
        .output()
        .expect("runs");
    assert!(out.status.success());
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    assert!(v.is_array());
}

/// Start `lamina ARGS --port <pty>` against `printer`, send it `signals` (each after its
/// delay), and wait for it.
fn stream_with_signals(
    printer: Printer,
    args: &[&str],
    signals: &[(Duration, i32)],
    envs: &[(&str, &Path)],
) -> (Printer, Output) {
    let (master, port) = emulator::pty();
    let handle = std::thread::spawn(move || {
        let mut p = printer;
        p.serve(master);
        p
    });
    let child = Command::new(env!("CARGO_BIN_EXE_lamina"))
        .args(args)
        .args(["--port", &port, "--banner-wait", "1", "--json", "-q"])
        .envs(envs.iter().copied())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("lamina runs");
    let pid = child.id() as i32;
    for (delay, signal) in signals {
        std::thread::sleep(*delay);
        // SAFETY: signalling our own child process.
        unsafe {
            libc::kill(pid, *signal);
        }
    }
    let output = child.wait_with_output().expect("lamina ends");
    (handle.join().expect("emulator thread"), output)
}

fn slow_printer() -> Config {
    Config {
        exec_time: Duration::from_millis(2),
        slow_time: Duration::from_millis(100),
        ..Config::default()
    }
}

#[test]
fn pause_and_resume_run_the_profile_templates_and_keep_every_command() {
    let job = job(30, 60);
    let path = job.path.to_string_lossy().to_string();
    let (printer, output) = stream_with_signals(
        Printer::new(slow_printer()),
        &["stream", &path, "--printer", "generic-220"],
        &[
            (Duration::from_millis(1500), libc::SIGUSR1),
            (Duration::from_millis(1500), libc::SIGUSR2),
        ],
        &[],
    );
    assert_ok(&output);
    let executed = file_commands(&printer.executed);
    // The profile's pause: retract, lift, park at the back of the 220 mm bed.
    let p = executed
        .iter()
        .position(|c| c == "G1 E-2 F2700")
        .expect("the pause template ran");
    assert_eq!(executed[p - 1], "M83");
    assert_eq!(executed[p + 4], "G1 X10 Y220 F6000");
    // The resume returns to where the print stopped, at its height.
    let last_xy = executed[..p - 1]
        .iter()
        .rev()
        .find(|c| c.starts_with("G1 X"))
        .expect("a move before the pause");
    let xy: Vec<&str> = last_xy.split_whitespace().take(3).collect();
    let resume = &executed[p + 5..p + 16];
    assert_eq!(resume[0], "M109 S210");
    assert_eq!(resume[1], "M190 S60");
    let num = |w: &str| w[1..].parse::<f64>().expect("a number");
    let back: Vec<&str> = resume[3].split_whitespace().collect();
    assert_eq!(back.len(), 4, "{resume:?}");
    assert_eq!((num(back[1]), num(back[2])), (num(xy[1]), num(xy[2])));
    assert!(
        resume[4].starts_with("G1 Z") && resume[4].ends_with(" F600"),
        "{resume:?}"
    );
    assert_eq!(resume[6], "G1 E2 F2700");
    // The filament pushed, read as Marlin 2 reads E modes, is the file's: the pause's
    // retraction and the resume's prime cancel out, and the job's relative E is still
    // relative after the resume restored the modes.
    let marlin2 =
        |c: &[String]| common::filament_pushed(c.iter().map(|c| c.as_str()), EModes::Marlin2)[0];
    let (pushed, wanted) = (marlin2(&executed), marlin2(&job.commands));
    assert!(
        (pushed - wanted).abs() < 1e-6,
        "{pushed} mm pushed, the file has {wanted}"
    );
    // Without the pause and resume, exactly the file.
    let mut rest = executed[..p - 1].to_vec();
    rest.extend_from_slice(&executed[p + 16..]);
    assert_same_commands(&rest, &job.commands);
}

#[test]
fn cancel_stops_between_commands_and_turns_the_heaters_off() {
    let job = job(30, 60);
    let path = job.path.to_string_lossy().to_string();
    let (printer, output) = stream_with_signals(
        Printer::new(slow_printer()),
        &["stream", &path],
        &[(Duration::from_millis(1500), libc::SIGINT)],
        &[],
    );
    assert_eq!(output.status.code(), Some(1));
    assert_eq!(summary(&output)["status"], "cancelled");
    let executed = file_commands(&printer.executed);
    let cancel = executed
        .iter()
        .position(|c| c == "M104 S0")
        .expect("heaters off");
    assert!(executed[cancel..].iter().any(|c| c == "M140 S0"));
    assert!(
        executed[cancel..].iter().any(|c| c == "M84"),
        "{:?}",
        &executed[cancel - 3..]
    );
    // Everything before the emergency stop (M108, M410) and the cancel G-code is a
    // whole prefix of the file.
    let stop = executed
        .iter()
        .position(|c| c == "M108" || c == "M104 S0")
        .unwrap_or(cancel);
    assert!(stop > 10 && stop < job.commands.len(), "{stop}");
    assert_same_commands(&executed[..stop], &job.commands[..stop]);
}

#[test]
fn print_slices_then_streams_the_same_commands() {
    let dir = tempfile::tempdir().expect("tempdir");
    let model = dir.path().join("cube.stl");
    let cube = lamina::mesh::shapes::cuboid([0.0; 3], [10.0, 10.0, 2.0]);
    lamina::mesh::io::write_stl(&model, &cube).expect("write the cube");
    let model_arg = model.to_string_lossy().to_string();
    let cache = tempfile::tempdir().expect("tempdir");
    let (printer, output) = stream_with_signals(
        Printer::new(Config {
            seed: 77,
            ..faulty()
        }),
        &["print", &model_arg],
        &[],
        &[("XDG_CACHE_HOME", cache.path())],
    );
    assert_ok(&output);
    // Kept in the cache folder, not beside the model.
    assert!(!dir.path().join("cube.gcode").exists());
    let gcode =
        std::fs::read_to_string(cache.path().join("lamina/cube.gcode")).expect("G-code kept");
    let want: Vec<String> = gcode
        .lines()
        .filter_map(lamina::serial::gcode::clean_line)
        .collect();
    assert!(want.len() > 500, "{}", want.len());
    assert!(gcode.contains(";LAYER_CHANGE"));
    let got: Vec<String> = printer
        .executed
        .iter()
        .filter(|c| !matches!(c.split_whitespace().next(), Some("M110" | "M115" | "M155")))
        // The host's own questions: temperatures, and where the head is when the
        // printer claims a line whose ok was lost (the faults make that happen or not
        // depending on timing).
        .filter(|c| !matches!(c.as_str(), "M105" | "M114") || want.iter().any(|w| w == *c))
        .cloned()
        .collect();
    assert_same_commands(&got, &want);
}

#[test]
fn print_checks_the_port_before_slicing() {
    let dir = tempfile::tempdir().expect("tempdir");
    let model = dir.path().join("cube.stl");
    let cube = lamina::mesh::shapes::cuboid([0.0; 3], [10.0, 10.0, 2.0]);
    lamina::mesh::io::write_stl(&model, &cube).expect("write the cube");
    let out = dir.path().join("cube.gcode");
    let output = Command::new(env!("CARGO_BIN_EXE_lamina"))
        .arg("print")
        .arg(&model)
        .arg("-o")
        .arg(&out)
        .args(["--port", "/nonexistent/ttyUSB7"])
        .output()
        .expect("lamina runs");
    assert_eq!(output.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&output.stderr).contains("/nonexistent/ttyUSB7"));
    assert!(!out.exists(), "sliced before the port was checked");
}

#[test]
fn print_waits_for_the_printer_to_answer_before_slicing() {
    let dir = tempfile::tempdir().expect("tempdir");
    let model = dir.path().join("cube.stl");
    let cube = lamina::mesh::shapes::cuboid([0.0; 3], [10.0, 10.0, 2.0]);
    lamina::mesh::io::write_stl(&model, &cube).expect("write the cube");
    let out = dir.path().join("cube.gcode");
    let out_arg = out.to_string_lossy().to_string();
    let model_arg = model.to_string_lossy().to_string();
    refused_on_a_silent_port(&["print", &model_arg, "-o", &out_arg]);
    assert!(!out.exists(), "sliced before the printer answered");
    // With a printer there, the G-code goes where -o says, and nowhere else.
    let cache = tempfile::tempdir().expect("tempdir");
    let (printer, output) = stream_with_signals(
        Printer::new(Config::default()),
        &["print", &model_arg, "-o", &out_arg],
        &[],
        &[("XDG_CACHE_HOME", cache.path())],
    );
    assert_ok(&output);
    let gcode = std::fs::read_to_string(&out).expect("G-code written where -o says");
    assert!(!cache.path().join("lamina/cube.gcode").exists());
    let want: Vec<String> = gcode
        .lines()
        .filter_map(lamina::serial::gcode::clean_line)
        .filter(|c| !is_host_command(c))
        .collect();
    assert_same_commands(&file_commands(&printer.executed), &want);
}

#[test]
fn a_mesh_or_binary_file_is_refused_before_the_port_is_opened() {
    let dir = tempfile::tempdir().expect("tempdir");
    let model = dir.path().join("aorta.stl");
    let cube = lamina::mesh::shapes::cuboid([0.0; 3], [10.0, 10.0, 2.0]);
    lamina::mesh::io::write_stl(&model, &cube).expect("write the cube");
    let text = dir.path().join("notes.gcode");
    std::fs::write(&text, "; only settings\nM104 S200\nM140 S60\n").expect("written");
    for (file, says) in [
        (&model, "aorta.stl looks like a binary STL"),
        (&text, "no motion command"),
    ] {
        let started = std::time::Instant::now();
        // The port does not exist: had lamina opened it, the error would say so.
        let output = Command::new(env!("CARGO_BIN_EXE_lamina"))
            .arg("stream")
            .arg(file)
            .args(["--port", "/nonexistent/ttyUSB8"])
            .output()
            .expect("lamina runs");
        assert!(started.elapsed() < Duration::from_secs(2));
        assert_eq!(output.status.code(), Some(1));
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(stderr.contains(says), "{stderr}");
        assert!(!stderr.contains("ttyUSB8"), "{stderr}");
    }
}

#[test]
fn a_port_with_nothing_on_it_is_said_within_the_banner_wait_and_two_seconds() {
    let job = job(2, 10);
    refused_on_a_silent_port(&["stream", &job.path.to_string_lossy()]);
    assert!(!Path::new(&format!("{}.lamina-job", job.path.display())).exists());
}

/// Run `lamina ARGS --port <pty> --banner-wait 1` on a pseudo-terminal whose other side
/// never answers: it must say so and exit 1 within the banner wait and two seconds.
fn refused_on_a_silent_port(args: &[&str]) {
    let (master, port) = emulator::pty();
    let started = std::time::Instant::now();
    let output = Command::new(env!("CARGO_BIN_EXE_lamina"))
        .args(args)
        .args(["--port", &port, "--banner-wait", "1"])
        .output()
        .expect("lamina runs");
    let took = started.elapsed();
    drop(master);
    assert_eq!(output.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains(&format!("no answer from a printer on {port}")),
        "{stderr}"
    );
    assert!(took < Duration::from_secs(3), "{took:?}");
}

/// Run `lamina stream FILE --port <pty> ARGS` with its stderr on a terminal (a
/// pseudo-terminal 120 columns wide); what it drew there.
fn stream_on_a_terminal(printer: Printer, file: &Path, args: &[&str]) -> (Printer, String) {
    use serialport::SerialPort;
    use std::io::Read;
    use std::os::fd::AsRawFd;
    let (master, port) = emulator::pty();
    let handle = std::thread::spawn(move || {
        let mut p = printer;
        p.serve(master);
        p
    });
    let (mut terminal, terminal_path) = emulator::pty();
    terminal
        .set_timeout(Duration::from_millis(100))
        .expect("a read timeout");
    let size = libc::winsize {
        ws_row: 40,
        ws_col: 120,
        ws_xpixel: 0,
        ws_ypixel: 0,
    };
    // SAFETY: TIOCSWINSZ reads the winsize it is given.
    unsafe {
        libc::ioctl(terminal.as_raw_fd(), libc::TIOCSWINSZ, &size);
    }
    let stderr = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open(&terminal_path)
        .expect("the terminal opens");
    // The test holds the terminal open too: when the last holder closes it, reading it
    // fails at once, even with lamina's last words still on their way through the
    // kernel on a loaded machine.
    let _held = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open(&terminal_path)
        .expect("the terminal opens");
    let mut child = Command::new(env!("CARGO_BIN_EXE_lamina"))
        .arg("stream")
        .arg(file)
        .args(["--port", &port, "--banner-wait", "1"])
        .args(args)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(stderr)
        .spawn()
        .expect("lamina runs");
    let mut drawn = Vec::new();
    let mut buf = [0u8; 4096];
    let mut finished = false;
    // Quiet reads after lamina ended: the terminal hands on what was written a little
    // later on a loaded machine, so one quiet read is not the end of it.
    let mut quiet = 0;
    loop {
        match terminal.read(&mut buf) {
            Ok(n) if n > 0 => drawn.extend_from_slice(&buf[..n]),
            Ok(_) => {}
            Err(e) if e.kind() == std::io::ErrorKind::TimedOut => {
                if finished {
                    quiet += 1;
                    if quiet >= 10 {
                        break;
                    }
                }
            }
            Err(_) => break,
        }
        if !finished && child.try_wait().expect("wait").is_some() {
            finished = true;
        }
    }
    let status = child.wait().expect("lamina ends");
    let drawn = String::from_utf8_lossy(&drawn).into_owned();
    assert!(status.success(), "{drawn}");
    (handle.join().expect("emulator thread"), drawn)
}

#[test]
fn a_progress_line_on_a_terminal() {
    let job = job(8, 40);
    let printer = || {
        Printer::new(Config {
            exec_time: Duration::from_millis(4),
            ..Config::default()
        })
    };
    let (printer_after, drawn) = stream_on_a_terminal(printer(), &job.path, &[]);
    assert_same_commands(&file_commands(&printer_after.executed), &job.commands);
    // Percent, layer, elapsed and remaining time (the file has the slicer's estimate).
    for part in ["%", "printing", "layer ", "elapsed", "left"] {
        assert!(drawn.contains(part), "no {part:?} in {drawn:?}");
    }
    assert!(drawn.contains("done: "), "{drawn:?}");
    // Negative control: --quiet draws nothing.
    let (_, drawn) = stream_on_a_terminal(printer(), &job.path, &["-q"]);
    assert!(!drawn.contains("elapsed"), "{drawn:?}");
}

/// A job with a slow homing and a slow heat-up, then more long moves than the planner
/// holds, so that their oks come as slowly as they run.
fn slow_work_job() -> Job {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("slow.gcode");
    let mut commands: Vec<String> = ["G28", "M109 S210", "G90", "G1 X1 Y1 F1200"]
        .iter()
        .map(|c| c.to_string())
        .collect();
    // 10 mm at 20 mm/s: half a second each.
    for i in 0..20 {
        commands.push(format!("G1 X{} Y1", if i % 2 == 0 { 11 } else { 1 }));
    }
    commands.push("G1 Z5 F600".into());
    std::fs::write(&path, commands.join("\n") + "\n").expect("written");
    Job {
        _dir: dir,
        path,
        commands,
    }
}

#[test]
fn no_probe_during_long_moves_heating_or_homing() {
    // Moves take their length over their feedrate; homing and heating take a second and
    // a half without a word.
    let config = Config {
        timed_moves: true,
        slow_time: Duration::from_millis(1500),
        busy_interval: None,
        autoreport: true,
        ..Config::default()
    };
    let job = slow_work_job();
    let (printer, output, _) = stream(Printer::new(config.clone()), &job.path, &[]);
    assert_ok(&output);
    assert_same_commands(&file_commands(&printer.executed), &job.commands);
    assert_eq!(
        probes_during_the_job(&printer.executed),
        0,
        "probes sent though no ok was lost"
    );
    // Negative control: a fixed wait shorter than a move takes the moves for lost oks.
    let (printer, output, _) = stream(Printer::new(config), &job.path, &["--ok-timeout", "0.3"]);
    assert!(output.status.success());
    assert!(
        probes_during_the_job(&printer.executed) > 0,
        "{:?}",
        printer.stats
    );
}

/// `M105` the printer executed after the job's first command (those before are the
/// connection's: the check of how the printer reads lines).
fn probes_during_the_job(executed: &[String]) -> usize {
    executed
        .iter()
        .skip_while(|c| is_host_command(c))
        .filter(|c| c.as_str() == "M105")
        .count()
}

#[test]
fn a_lost_ok_is_found_well_under_a_second() {
    let job = job(6, 60);
    let config = Config {
        seed: 4242,
        lose_ok: 0.03,
        move_time: Duration::from_millis(2),
        ..Config::default()
    };
    // One command in flight: every lost ok stalls the stream until lamina probes.
    let (printer, output, _) = stream(Printer::new(config), &job.path, &["--window", "1"]);
    assert_ok(&output);
    assert_same_commands(&file_commands(&printer.executed), &job.commands);
    let mut noticed = printer.stats.lost_ok_noticed.clone();
    assert!(noticed.len() >= 5, "{:?}", printer.stats);
    noticed.sort();
    let median = noticed[noticed.len() / 2];
    assert!(median < Duration::from_millis(600), "{noticed:?}");
    assert!(
        noticed[noticed.len() - 1] < Duration::from_secs(2),
        "{noticed:?}"
    );
}

#[test]
fn garbled_replies_never_end_the_job() {
    // One reply line in 30 has a bit flipped: oks, resend requests and errors alike.
    let job = job(10, 60);
    let config = Config {
        seed: 31337,
        garble_replies: 0.033,
        ..faulty()
    };
    let (printer, output, _) = stream(Printer::new(config), &job.path, &[]);
    assert_ok(&output);
    assert!(printer.stats.garbled > 20, "{:?}", printer.stats);
    assert_same_commands(&file_commands(&printer.executed), &job.commands);
    outside_check(&job.commands, &printer.executed, &[]);
}

/// Wait for `child` and return whether it succeeded and the CPU time (user and system)
/// it used, from the kernel's accounting of that one process (`wait4`): other processes
/// on the machine do not count, however loaded it is.
fn wait_with_cpu(child: std::process::Child) -> (bool, Duration) {
    let mut status = 0;
    // SAFETY: wait4 fills the zeroed rusage and the status it is given, for our own child.
    let usage = unsafe {
        let mut u: libc::rusage = std::mem::zeroed();
        let pid = libc::wait4(child.id() as i32, &mut status, 0, &mut u);
        assert_eq!(pid, child.id() as i32, "wait4");
        u
    };
    let time = |t: libc::timeval| {
        Duration::from_secs(t.tv_sec as u64) + Duration::from_micros(t.tv_usec as u64)
    };
    let ok = libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0;
    (ok, time(usage.ru_utime) + time(usage.ru_stime))
}

/// Under 5% of a core while streaming: lamina's CPU time against the least time the
/// printer needs for the job (the wall time can only be longer, so a loaded machine
/// does not make this easier to pass). `benches/stream.sh cpu` measures it on the
/// 8,000-command job against the outside emulator.
#[test]
fn streaming_takes_under_five_percent_of_a_core() {
    let job = job(6, 100);
    let exec = Duration::from_millis(4);
    let printer = Printer::new(Config {
        exec_time: exec,
        chatter: Some(Duration::from_secs(1)),
        ..Config::default()
    });
    let (master, port) = emulator::pty();
    let handle = std::thread::spawn(move || {
        let mut p = printer;
        p.serve(master);
        p
    });
    let child = Command::new(env!("CARGO_BIN_EXE_lamina"))
        .arg("stream")
        .arg(&job.path)
        .args(["--port", &port, "--banner-wait", "1", "-q"])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("lamina runs");
    let (ok, cpu) = wait_with_cpu(child);
    let printer = handle.join().expect("emulator thread");
    assert!(ok);
    assert_same_commands(&file_commands(&printer.executed), &job.commands);
    let printer_time = exec * job.commands.len() as u32;
    assert!(
        cpu.as_secs_f64() < 0.05 * printer_time.as_secs_f64(),
        "lamina used {cpu:?} of CPU while the printer worked at least {printer_time:?}"
    );
    // The measure sees a process that keeps a core busy.
    let spin = Command::new("sh")
        .args(["-c", "while :; do :; done"])
        .spawn()
        .expect("sh runs");
    std::thread::sleep(Duration::from_millis(500));
    // SAFETY: signalling our own child process.
    unsafe {
        libc::kill(spin.id() as i32, libc::SIGKILL);
    }
    let (_, spun) = wait_with_cpu(spin);
    assert!(spun > Duration::from_millis(20), "{spun:?}");
}
