//! `lamina stream`: send a G-code file to a printer over USB.

use std::fs::OpenOptions;
use std::io::{IsTerminal, Read, Write};
use std::path::PathBuf;
use std::sync::atomic::Ordering;
use std::time::Duration;

use anyhow::{Context, bail};
use clap::Args;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use lamina::serial::port::{Banner, SerialLink};
use lamina::serial::state::JobStatus;
use lamina::serial::stream::{
    self, Controls, Observer, Progress, StartAt, StreamError, StreamOptions,
};

use lamina::profile::{ProfileSelection, Settings, TemplateVars, render_template};

use super::Global;

/// Arguments of `lamina stream`.
#[derive(Args, Debug)]
#[command(after_help = "Examples:\n  \
    lamina stream skull.gcode --port /dev/ttyUSB0\n  \
    lamina stream skull.gcode --port /dev/ttyACM0 --baud 250000 --log skull.log\n  \
    lamina stream skull.gcode --port /dev/ttyUSB0 --resume\n  \
    lamina stream skull.gcode --port /dev/ttyUSB0 --from-line 12000\n\n\
    While streaming: p pauses, r resumes (or SIGUSR1 / SIGUSR2), Ctrl-C cancels.\n\
    A job state file FILE.gcode.lamina-job is kept up to date while the job runs: after a\n\
    disconnect or a crash, --resume continues where the printer stopped (and, if its board\n\
    reset, goes back before the moves it lost, re-heats and re-homes X and Y). The file is\n\
    removed when the job ends cleanly.\n\
    With --json, stdout gets one JSON object per line: events as they happen\n\
    (\"event\": \"message\" or \"progress\") and the summary last (\"event\": \"summary\").")]
pub struct StreamArgs {
    /// The G-code file to print.
    pub file: PathBuf,
    /// Printer profile whose pause, resume and cancel G-code to use (a built-in name or
    /// a TOML file); without it, lamina's defaults.
    #[arg(long, value_name = "P")]
    pub printer: Option<String>,
    #[command(flatten)]
    pub link: LinkArgs,
}

/// How to talk to the printer (shared by `lamina stream` and `lamina print`).
#[derive(Args, Debug)]
pub struct LinkArgs {
    /// Serial port of the printer (see `lamina ports`).
    #[arg(long)]
    pub port: String,
    /// Baud rate.
    #[arg(long, default_value_t = 115_200)]
    pub baud: u32,
    /// Start at this line of the file (1-based), bringing the printer back to the state
    /// the file had reached there (re-heat, re-home X and Y, set Z and E).
    #[arg(long, value_name = "N", conflicts_with = "resume",
          value_parser = clap::value_parser!(u64).range(1..))]
    pub from_line: Option<u64>,
    /// Continue a job cut by a disconnect, an error or a crash, from its job state file.
    #[arg(long)]
    pub resume: bool,
    /// Write every line sent and received, with timestamps, to this file (appended).
    #[arg(long, value_name = "FILE")]
    pub log: Option<PathBuf>,
    /// Commands in flight before waiting for an acknowledgement (default: 4, Marlin's
    /// command buffer, or the buffer size the firmware reports with advanced ok; 1 for a
    /// printer found to read only one line of what arrives at once).
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u64).range(1..=64))]
    pub window: Option<u64>,
    /// Seconds without an answer before the printer is probed for a lost `ok` (default:
    /// adaptive, from the printer's pace and what each command makes it do).
    #[arg(long, value_name = "SECS", value_parser = positive_seconds)]
    pub ok_timeout: Option<f64>,
    /// Seconds to wait for the board's reset banner after opening the port.
    #[arg(long, value_name = "SECS", default_value_t = 5.0, value_parser = positive_seconds)]
    pub banner_wait: f64,
    /// JSON on stdout, one object per line: events, then the summary.
    #[arg(long)]
    pub json: bool,
}

/// Pause, resume and cancel G-code from a printer profile, with the streamer's own
/// placeholders (`{x}`, `{hotend}`, ...) kept for filling in when they run.
pub fn profile_templates(settings: &Settings) -> anyhow::Result<[Option<String>; 3]> {
    let mut vars = TemplateVars::from_settings(settings);
    for key in RUNTIME_KEYS {
        vars.set_list(key, vec![format!("{{{key}}}")]);
    }
    let p = &settings.printer;
    let mut out: [Option<String>; 3] = Default::default();
    for (slot, (name, t)) in out.iter_mut().zip([
        ("pause_gcode", &p.pause_gcode),
        ("resume_gcode", &p.resume_gcode),
        ("cancel_gcode", &p.cancel_gcode),
    ]) {
        if !t.trim().is_empty() {
            *slot = Some(
                render_template(t, &vars)
                    .with_context(|| format!("the printer profile's {name}"))?,
            );
        }
    }
    Ok(out)
}

/// Placeholders the streamer fills from the printer's state when a template runs.
const RUNTIME_KEYS: [&str; 10] = [
    "x", "y", "z", "e", "feedrate", "hotend", "bed", "fan", "e_mode", "xyz_mode",
];

fn positive_seconds(s: &str) -> Result<f64, String> {
    let v: f64 = s
        .parse()
        .map_err(|_| format!("`{s}` is not a number of seconds"))?;
    if v.is_finite() && v > 0.0 && v < 86_400.0 {
        Ok(v)
    } else {
        Err(format!("`{s}` must be between 0 and 86400 seconds"))
    }
}

/// Progress on stderr: a bar on a terminal, messages otherwise; with `--json`, events on
/// stdout.
struct Display {
    bar: Option<ProgressBar>,
    quiet: bool,
    json: bool,
    last_json_progress: Option<std::time::Instant>,
}

/// Least time between two JSON progress events.
const JSON_PROGRESS_EVERY: Duration = Duration::from_secs(1);

impl Display {
    fn json_event(&self, value: serde_json::Value) {
        let mut out = std::io::stdout().lock();
        let _ = writeln!(out, "{value}");
        let _ = out.flush();
    }
}

impl Observer for Display {
    fn progress(&mut self, p: &Progress) {
        if self.json
            && self
                .last_json_progress
                .is_none_or(|t| t.elapsed() >= JSON_PROGRESS_EVERY)
        {
            self.last_json_progress = Some(std::time::Instant::now());
            self.json_event(serde_json::json!({
                "event": "progress",
                "phase": p.phase,
                "percent": (p.fraction() * 1000.0).round() / 10.0,
                "line": p.line,
                "layer": p.layer,
                "z": p.z,
                "elapsed_s": p.elapsed.as_secs_f64(),
                "remaining_s": p.remaining.map(|r| r.as_secs_f64()),
                "temperatures": p.temperatures,
            }));
        }
        let Some(bar) = &self.bar else { return };
        bar.set_position((p.fraction() * 1000.0).round() as u64);
        let mut parts = vec![format!("{:?}", p.phase).to_lowercase()];
        if let Some(l) = p.layer {
            parts.push(format!("layer {l}"));
        }
        if let Some(z) = p.z {
            parts.push(format!("Z {z:.2}"));
        }
        parts.push(format!("line {}", p.line));
        if let Some(t) = &p.temperatures {
            parts.push(t.summary());
        }
        parts.push(format!("{} elapsed", hms(p.elapsed)));
        if let Some(r) = p.remaining {
            parts.push(format!("{} left", hms(r)));
        }
        bar.set_message(parts.join(" | "));
    }

    fn message(&mut self, text: &str) {
        if self.json {
            self.json_event(serde_json::json!({"event": "message", "text": text}));
        }
        if self.quiet {
            return;
        }
        match &self.bar {
            Some(bar) => bar.println(text),
            None => eprintln!("{text}"),
        }
    }
}

fn hms(d: Duration) -> String {
    let s = d.as_secs();
    format!("{}:{:02}:{:02}", s / 3600, (s / 60) % 60, s % 60)
}

/// Puts a terminal's stdin in key-at-a-time mode (no echo, no line editing; Ctrl-C
/// still signals) for as long as it lives, and back when dropped.
struct RawStdin {
    saved: Option<rustix::termios::Termios>,
}

impl RawStdin {
    fn enable() -> RawStdin {
        let stdin = std::io::stdin();
        if !stdin.is_terminal() {
            return RawStdin { saved: None };
        }
        let Ok(saved) = rustix::termios::tcgetattr(&stdin) else {
            return RawStdin { saved: None };
        };
        let mut t = saved.clone();
        t.local_modes &= !(rustix::termios::LocalModes::ICANON | rustix::termios::LocalModes::ECHO);
        t.special_codes[rustix::termios::SpecialCodeIndex::VMIN] = 1;
        t.special_codes[rustix::termios::SpecialCodeIndex::VTIME] = 0;
        if rustix::termios::tcsetattr(&stdin, rustix::termios::OptionalActions::Now, &t).is_err() {
            return RawStdin { saved: None };
        }
        RawStdin { saved: Some(saved) }
    }
}

impl Drop for RawStdin {
    fn drop(&mut self) {
        if let Some(saved) = &self.saved {
            let stdin = std::io::stdin();
            // Nothing more can be done if the terminal refuses its own settings back.
            let _ =
                rustix::termios::tcsetattr(&stdin, rustix::termios::OptionalActions::Now, saved);
        }
    }
}

/// Run `lamina stream`.
pub fn run(args: StreamArgs, global: Global) -> anyhow::Result<()> {
    if !args.file.is_file() {
        bail!("{} is not a readable G-code file", args.file.display());
    }
    let templates = match &args.printer {
        Some(name) => {
            let selection = ProfileSelection {
                printer: name.clone(),
                ..ProfileSelection::default()
            };
            profile_templates(&lamina::profile::resolve(&selection)?)?
        }
        None => Default::default(),
    };
    // A mesh or a binary file never reaches the printer.
    lamina::serial::check::check_file(&args.file)?;
    stream_file(&args.file, &args.link, templates, global, None)
}

/// Open the printer's port and wait for the printer to answer (before long work, so
/// that a wrong port is said at once); the board's banner goes on to [`stream_file`].
pub fn open_and_greet(args: &LinkArgs) -> anyhow::Result<(SerialLink, Banner)> {
    let mut link = SerialLink::open(&args.port, args.baud)?;
    match stream::greet(&mut link, Duration::from_secs_f64(args.banner_wait)) {
        Ok(banner) => Ok((link, banner)),
        Err(StreamError::NoAnswer) => bail!("{}", stream::no_answer_message(&args.port)),
        Err(e) => Err(e.into()),
    }
}

/// Stream `file` to the printer on `args.port` (through `link` when it is open and
/// greeted already);
/// `templates` replace the default pause, resume and cancel G-code.
pub fn stream_file(
    file: &std::path::Path,
    args: &LinkArgs,
    templates: [Option<String>; 3],
    global: Global,
    link: Option<(SerialLink, Banner)>,
) -> anyhow::Result<()> {
    let mut options = StreamOptions {
        start: match (args.resume, args.from_line) {
            (true, _) => StartAt::Resume,
            (false, Some(n)) => StartAt::Line(n),
            (false, None) => StartAt::Beginning,
        },
        banner_timeout: Duration::from_secs_f64(args.banner_wait),
        ..StreamOptions::default()
    };
    let [pause, resume, cancel] = templates;
    if let Some(t) = pause {
        options.pause_gcode = t;
    }
    if let Some(t) = resume {
        options.resume_gcode = t;
    }
    if let Some(t) = cancel {
        options.cancel_gcode = t;
    }
    options.protocol.ok_timeout = args.ok_timeout.map(Duration::from_secs_f64);
    if let Some(w) = args.window {
        options.protocol.window = usize::try_from(w).unwrap_or(1);
        options.protocol.auto_window = false;
        options.check_line_reading = false;
    }

    let controls = Controls::default();
    for (signal, flag) in [
        (signal_hook::consts::SIGINT, &controls.cancel),
        (signal_hook::consts::SIGINT, &controls.interrupt),
        (signal_hook::consts::SIGTERM, &controls.cancel),
        (signal_hook::consts::SIGTERM, &controls.interrupt),
        (signal_hook::consts::SIGUSR1, &controls.pause),
        (signal_hook::consts::SIGUSR2, &controls.resume),
    ] {
        signal_hook::flag::register(signal, flag.clone())
            .context("cannot install the signal handlers")?;
    }
    let _raw = RawStdin::enable();
    if _raw.saved.is_some() {
        let pause = controls.pause.clone();
        let resume = controls.resume.clone();
        std::thread::spawn(move || {
            let mut stdin = std::io::stdin();
            let mut byte = [0u8; 1];
            while let Ok(1) = stdin.read(&mut byte) {
                match byte[0] {
                    b'p' | b'P' => pause.store(true, Ordering::Relaxed),
                    b'r' | b'R' => resume.store(true, Ordering::Relaxed),
                    _ => {}
                }
            }
        });
    }

    let mut log_file = match &args.log {
        Some(p) => Some(
            OpenOptions::new()
                .create(true)
                .append(true)
                .open(p)
                .with_context(|| format!("cannot open the log file {}", p.display()))?,
        ),
        None => None,
    };
    let mut log_writer = log_file.as_mut().map(std::io::BufWriter::new);

    if args.resume {
        // Say what is wrong with the job state before touching the printer.
        lamina::serial::state::JobState::load(&lamina::serial::state::JobState::path_for(file))
            .context("cannot resume")?;
    }
    let (mut link, greeted) = match link {
        Some((link, banner)) => (link, Some(banner)),
        None => (SerialLink::open(&args.port, args.baud)?, None),
    };
    let bar = global.show_progress().then(|| {
        let bar = ProgressBar::with_draw_target(Some(1000), ProgressDrawTarget::stderr());
        bar.set_style(
            ProgressStyle::with_template("{bar:30.cyan/blue} {percent:>3}% {wide_msg}")
                .unwrap_or_else(|_| ProgressStyle::default_bar()),
        );
        bar.enable_steady_tick(Duration::from_millis(500));
        bar
    });
    let mut display = Display {
        bar,
        quiet: global.quiet,
        json: args.json,
        last_json_progress: None,
    };
    let summary = stream::run(
        file,
        &mut link,
        &options,
        &controls,
        &mut display,
        log_writer.as_mut().map(|w| w as &mut dyn Write),
        greeted,
    )
    .with_context(|| format!("cannot stream {}", file.display()))?;
    if let Some(bar) = &display.bar {
        bar.finish_and_clear();
    }
    if let Some(w) = log_writer.as_mut() {
        let _ = w.flush();
    }
    if args.json {
        let mut value = serde_json::to_value(&summary)?;
        if let Some(map) = value.as_object_mut() {
            map.insert("event".into(), "summary".into());
        }
        display.json_event(value);
    }
    match summary.status {
        JobStatus::Done => {
            if !global.quiet {
                eprintln!(
                    "done: {} commands in {}, {} resends, {} probes",
                    summary.commands,
                    hms(Duration::from_secs_f64(summary.elapsed_s)),
                    summary.resends,
                    summary.probes
                );
            }
            Ok(())
        }
        _ => bail!(
            "{}",
            summary
                .message
                .unwrap_or_else(|| "the job did not finish".to_string())
                .replace("<PORT>", &args.port)
        ),
    }
}
