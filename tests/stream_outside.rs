//! `lamina stream` against printers written by others than lamina's authors, judged by a
//! checker written by others too: `../shared/tools/printer_emu.py` (Marlin's host
//! protocol on a pseudo-terminal, with its planner: `ok` when a move is planned, the log
//! written when it has run, queue and planner lost on a reset; seeded faults) and
//! OctoPrint's own virtual printer served by `../shared/tools/octo_pty.py`; the printers'
//! logs are compared with the file by `../shared/tools/stream_check.py`.
//!
//! The jobs here are small so that CI stays quick; `benches/stream.sh` streams the
//! full-size jobs and prints the figures streaming is judged by.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

/// The shared tools folder, or a visible skip (a failure under `LAMINA_REQUIRE_DATA=1`).
fn tools() -> Option<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/tools");
    if dir.join("printer_emu.py").is_file() && dir.join("stream_check.py").is_file() {
        Some(dir)
    } else {
        common::skip(&format!(
            "{} has no printer_emu.py / stream_check.py",
            dir.display()
        ));
        None
    }
}

/// A Python that can import OctoPrint: `LAMINA_OCTOPRINT_PYTHON` (CI installs OctoPrint
/// in a virtual environment and names its Python there), else `python3` if it has it.
fn octoprint_python() -> Option<String> {
    let candidates = std::env::var("LAMINA_OCTOPRINT_PYTHON")
        .ok()
        .into_iter()
        .chain(["python3".to_string()]);
    for python in candidates {
        let ok = Command::new(&python)
            .args(["-c", "import octoprint.plugins.virtual_printer"])
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        if ok {
            return Some(python);
        }
    }
    common::skip("no Python with OctoPrint (set LAMINA_OCTOPRINT_PYTHON)");
    None
}

/// A printer emulator running on a pseudo-terminal, and where it writes.
struct Emulator {
    child: Child,
    dir: tempfile::TempDir,
}

impl Emulator {
    /// Start `python SCRIPT --port-file F --log L ARGS` and wait for its port.
    fn start(python: &str, script: &Path, args: &[&str]) -> Emulator {
        let dir = tempfile::tempdir().expect("tempdir");
        let child = Command::new(python)
            .arg(script)
            .arg("--port-file")
            .arg(dir.path().join("port"))
            .arg("--log")
            .arg(dir.path().join("exec.log"))
            .args(["--idle-timeout", "120"])
            .args(args)
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("python runs");
        let e = Emulator { child, dir };
        let started = Instant::now();
        while e.port().is_none() {
            assert!(
                started.elapsed() < Duration::from_secs(30),
                "{} published no port",
                script.display()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        e
    }

    fn port(&self) -> Option<String> {
        std::fs::read_to_string(self.dir.path().join("port"))
            .ok()
            .map(|s| s.trim().to_string())
            .filter(|s| !s.is_empty())
    }

    fn log(&self) -> PathBuf {
        self.dir.path().join("exec.log")
    }

    /// Stop it (as a printer keeps running what it planned, the log gets it) and return
    /// what it said on stderr.
    fn stop(self) -> (tempfile::TempDir, String) {
        // SAFETY: signalling our own child process.
        unsafe {
            libc::kill(self.child.id() as i32, libc::SIGTERM);
        }
        let out = self.child.wait_with_output().expect("emulator ends");
        (self.dir, String::from_utf8_lossy(&out.stderr).into_owned())
    }
}

/// A job written by the tools' own generator: heating, homing, `moves` moves in layers,
/// comments and blank lines.
fn job(tools: &Path, dir: &Path, moves: usize) -> PathBuf {
    let path = dir.join("job.gcode");
    let status = Command::new("python3")
        .arg(tools.join("make_test_gcode.py"))
        .arg(&path)
        .arg(moves.to_string())
        .status()
        .expect("python3 runs");
    assert!(status.success());
    path
}

fn lamina_stream(file: &Path, port: &str, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_lamina"))
        .arg("stream")
        .arg(file)
        .args(["--port", port, "--banner-wait", "2", "--json", "-q"])
        .args(args)
        .output()
        .expect("lamina runs")
}

/// `stream_check.py FILE LOG ARGS --json`: whether it passed, and its figures.
fn stream_check(tools: &Path, file: &Path, log: &Path, args: &[&str]) -> (bool, serde_json::Value) {
    let out = Command::new("python3")
        .arg(tools.join("stream_check.py"))
        .arg(file)
        .arg(log)
        .args(args)
        .arg("--json")
        .output()
        .expect("python3 runs");
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "stream_check.py said no JSON ({e}): {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    });
    (out.status.success(), v)
}

fn assert_ok(output: &Output) {
    assert!(
        output.status.success(),
        "lamina failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
}

/// The faults of the judging job: 5% corrupted lines, 1% lost oks, 2% noise, a 4-slot
/// buffer, moves taking time in the planner.
const FAULTS: [&str; 10] = [
    "--bufsize",
    "4",
    "--corrupt",
    "0.05",
    "--drop-ok",
    "0.01",
    "--noise",
    "0.02",
    "--seed",
    "7",
];

/// Stream a job through printer_emu.py with `emu_args`; the checker's verdict.
fn emu_run(tools: &Path, file: &Path, emu_args: &[&str]) -> (bool, serde_json::Value) {
    let emu = Emulator::start("python3", &tools.join("printer_emu.py"), emu_args);
    let port = emu.port().expect("port");
    let output = lamina_stream(file, &port, &[]);
    assert_ok(&output);
    let log = emu.log();
    let (_dir, _) = emu.stop();
    stream_check(tools, file, &log, &[])
}

#[test]
fn faulty_marlin_executes_exactly_the_file() {
    let Some(tools) = tools() else { return };
    let dir = tempfile::tempdir().expect("tempdir");
    let file = job(&tools, dir.path(), 1500);
    let mut args = FAULTS.to_vec();
    args.extend(["--move-time", "0.002"]);
    let (pass, v) = emu_run(&tools, &file, &args);
    assert!(pass, "{v}");
}

/// Cut a job with a board reset after `reset_after` executed commands, resume it, and
/// return the checker's verdict on the whole log (`--resumed`).
fn reset_and_resume(
    tools: &Path,
    file: &Path,
    reset_after: usize,
    move_time: &str,
) -> (bool, serde_json::Value) {
    let after = reset_after.to_string();
    let emu = Emulator::start(
        "python3",
        &tools.join("printer_emu.py"),
        &[
            "--move-time",
            move_time,
            "--disconnect-after",
            &after,
            "--reopen",
        ],
    );
    let port = emu.port().expect("port");
    let first = lamina_stream(file, &port, &[]);
    assert_eq!(first.status.code(), Some(1), "the reset cuts the job");
    // The board comes back on a new pseudo-terminal (often at the same path).
    std::thread::sleep(Duration::from_millis(1500));
    let port = emu.port().expect("port");
    let second = lamina_stream(file, &port, &["--resume"]);
    assert_ok(&second);
    let log = emu.log();
    let (_dir, emu_said) = emu.stop();
    assert!(
        emu_said.contains("acknowledged commands still planned"),
        "{emu_said}"
    );
    let (pass, v) = stream_check(tools, file, &log, &["--resumed"]);
    let summary: serde_json::Value = serde_json::from_str(
        String::from_utf8_lossy(&second.stdout)
            .lines()
            .last()
            .unwrap_or(""),
    )
    .expect("JSON summary");
    assert_eq!(summary["resumed"], "reset", "{summary}");
    (pass, v)
}

#[test]
fn board_reset_at_forty_percent_then_resume_loses_nothing() {
    let Some(tools) = tools() else { return };
    let dir = tempfile::tempdir().expect("tempdir");
    let file = job(&tools, dir.path(), 1000);
    let (pass, v) = reset_and_resume(&tools, &file, 400, "0.005");
    assert!(pass, "{v}");
    assert_eq!(v["lost"], 0, "{v}");
    assert!(v["doubled"].as_u64().is_some_and(|d| d <= 24), "{v}");
}

/// OctoPrint's virtual printer with its default faults: a missing checksum at line 100,
/// a resend request at 105 after which it drops the line sent again yet claims it, a
/// line refused at 110 without a resend request, a checksum mismatch at 115. It reads
/// one line of whatever arrives at once and leaves the rest until more comes: lamina
/// finds that out on connecting and streams to it one line at a time, as OctoPrint
/// does, with its default settings.
#[test]
fn octoprint_virtual_printer_with_its_default_faults() {
    let Some(tools) = tools() else { return };
    let Some(python) = octoprint_python() else {
        return;
    };
    let dir = tempfile::tempdir().expect("tempdir");
    let file = job(&tools, dir.path(), 150);
    let emu = Emulator::start(&python, &tools.join("octo_pty.py"), &[]);
    let port = emu.port().expect("port");
    let output = lamina_stream(&file, &port, &[]);
    assert_ok(&output);
    let log = emu.log();
    let (_dir, _) = emu.stop();
    let (pass, v) = stream_check(&tools, &file, &log, &[]);
    assert!(pass, "{v}");
    let said = String::from_utf8_lossy(&output.stdout);
    assert!(
        said.contains("reads one line of what arrives at once"),
        "{said}"
    );
    // The claimed line was found out by asking the printer where its moves end.
    assert!(said.contains("never ran line"), "{said}");
}

/// Negative control of the test above: with several lines in flight (`--window 4`,
/// which also skips the check on connecting), the same printer leaves lines unread and
/// answers for old copies, and lines are skipped or run twice. The job has no heat-up,
/// so that the faults come within seconds; lamina is stopped after a while, as it may
/// wait for lines the printer never reads.
#[test]
fn octoprint_virtual_printer_with_several_lines_in_flight_goes_wrong() {
    let Some(tools) = tools() else { return };
    let Some(python) = octoprint_python() else {
        return;
    };
    let dir = tempfile::tempdir().expect("tempdir");
    // Long enough that the printer's race shows even on a loaded machine, where its
    // replies come more slowly (the run is cut at NEGATIVE_RUN anyway).
    let hot = job(&tools, dir.path(), 1500);
    let file = dir.path().join("cold.gcode");
    let text = std::fs::read_to_string(&hot).expect("job");
    let cold: String = text
        .lines()
        .filter(|l| !l.starts_with("M109") && !l.starts_with("M190"))
        .map(|l| format!("{l}\n"))
        .collect();
    std::fs::write(&file, cold).expect("written");
    let emu = Emulator::start(&python, &tools.join("octo_pty.py"), &[]);
    let port = emu.port().expect("port");
    let mut lamina = Command::new(env!("CARGO_BIN_EXE_lamina"))
        .arg("stream")
        .arg(&file)
        .args(["--port", &port, "--banner-wait", "2", "-q", "--window", "4"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("lamina runs");
    let started = Instant::now();
    while lamina.try_wait().expect("wait").is_none() && started.elapsed() < NEGATIVE_RUN {
        std::thread::sleep(Duration::from_millis(50));
    }
    let _ = lamina.kill();
    let _ = lamina.wait();
    let log = emu.log();
    let (_dir, _) = emu.stop();
    // A job cut short passes --prefix; one with a line skipped or doubled does not.
    let (pass, v) = stream_check(&tools, &file, &log, &["--prefix"]);
    assert!(!pass, "{v}");
}

/// How long the negative control streams: the faults come after about 3 s.
const NEGATIVE_RUN: Duration = Duration::from_secs(12);
