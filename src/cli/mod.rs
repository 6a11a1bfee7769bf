//! Command-line interface: argument parsing, progress display, JSON output and exit
//! codes. Every command lives in its own file and calls into the library.

use std::io::{IsTerminal, Write};
use std::process::ExitCode;

use clap::{Parser, Subcommand};

mod compare;
mod inspect;
mod models;
mod orient;
mod ports;
mod preview;
mod print;
mod profile_args;
mod profiles;
mod repair;
mod slice;
mod stream;

/// Exit status when the job failed (bad file, port error, ...).
const EXIT_FAILURE: u8 = 1;
/// Exit status for bad usage (clap uses it too).
const EXIT_USAGE: u8 = 2;

#[derive(Parser, Debug)]
#[command(
    name = "lamina",
    version,
    about = "Slice anatomical models for FDM printers and stream them to the printer",
    long_about = "lamina slices patient-specific anatomical meshes (skulls, brains, vessels, \
                  aneurysms from CT/MRI segmentations) for FDM printers, repairs broken \
                  meshes, and streams G-code to Marlin printers over USB.",
    after_help = "Examples:\n  lamina slice examples/vessel_phantom.stl -o vessel.gcode\n  \
                  lamina inspect examples/vessel_phantom.stl\n  \
                  lamina repair broken.stl -o fixed.stl\n  lamina profiles list"
)]
struct Cli {
    /// Print nothing on stderr but errors.
    #[arg(short, long, global = true)]
    quiet: bool,

    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Slice models into G-code.
    Slice(Box<slice::SliceArgs>),
    /// Report a mesh's size, volume and defects.
    Inspect(inspect::InspectArgs),
    /// Fix holes, winding, degenerate and duplicate faces; write an STL, OBJ or 3MF.
    Repair(repair::RepairArgs),
    /// List profiles or show one's values.
    Profiles(profiles::ProfilesArgs),
    /// Send a G-code file to a printer over USB (Marlin host protocol).
    Stream(stream::StreamArgs),
    /// List the serial ports a printer may be connected to.
    Ports(ports::PortsArgs),
    /// Slice models and stream the G-code to a printer in one go.
    Print(Box<print::PrintArgs>),
    /// Slice a model once per support strategy and compare material, contact and time.
    Compare(Box<compare::CompareArgs>),
    /// Rank a model's orientations by the support they need (least first).
    Orient(orient::OrientArgs),
    /// Draw a G-code file's toolpaths: one layer as SVG/PNG, or all layers in 3D HTML.
    Preview(preview::PreviewArgs),
}

/// Options every command sees.
#[derive(Debug, Clone, Copy)]
pub struct Global {
    /// `-q`: no progress or chatter on stderr.
    pub quiet: bool,
}

impl Global {
    /// Whether progress bars should be drawn (not quiet, stderr is a terminal).
    pub fn show_progress(&self) -> bool {
        !self.quiet && std::io::stderr().is_terminal()
    }
}

/// A mistake in the command line itself (a malformed option value, an unknown name):
/// the command exits with status 2, as for the errors the argument parser finds.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct Usage(pub String);

/// A usage error with a formatted message.
macro_rules! usage {
    ($($arg:tt)*) => {
        anyhow::Error::new($crate::cli::Usage(format!($($arg)*)))
    };
}
pub(crate) use usage;

/// The command has already told the user what failed (per file, say); it only needs
/// to end with the failure status.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct Reported(pub String);

/// An object of a model file could not be placed: the error names the object, this
/// names its file too ("skull.stl: 'skull' is only 0.2 mm ...").
#[derive(Debug, thiserror::Error)]
#[error("{}", .path.display())]
pub struct ModelFile {
    /// The file the object came from.
    pub path: std::path::PathBuf,
    /// What is wrong with the object.
    #[source]
    pub error: lamina::mesh::place::PlaceError,
}

/// Standard output was closed by the reader (`lamina ... | head`): nothing more is
/// wanted, the command ends quietly with success.
#[derive(Debug, thiserror::Error)]
#[error("standard output was closed")]
pub struct ClosedPipe;

/// An error from writing to standard output, a closed pipe told apart.
pub fn stdout_error(e: std::io::Error) -> anyhow::Error {
    if e.kind() == std::io::ErrorKind::BrokenPipe {
        anyhow::Error::new(ClosedPipe)
    } else {
        anyhow::Error::new(e).context("cannot write to standard output")
    }
}

/// Print `text` and a new line on standard output.
pub fn out(text: impl std::fmt::Display) -> anyhow::Result<()> {
    let mut lock = std::io::stdout().lock();
    writeln!(lock, "{text}")
        .and_then(|()| lock.flush())
        .map_err(stdout_error)
}

/// Print `value` as pretty JSON on standard output.
pub fn out_json(value: &impl serde::Serialize) -> anyhow::Result<()> {
    out(serde_json::to_string_pretty(value)?)
}

/// Whether the command line asks for JSON (looked up in the raw arguments, so that
/// errors the parser finds are JSON too).
fn wants_json() -> bool {
    std::env::args_os()
        .skip(1)
        .take_while(|a| a != "--")
        .any(|a| a == "--json")
}

/// Parse the command line, run the command, and map the outcome to an exit code.
pub fn main() -> ExitCode {
    let json = wants_json();
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            if !e.use_stderr() {
                // --help and --version.
                let _ = e.print();
                return ExitCode::SUCCESS;
            }
            let _ = e.print();
            if json {
                // The message without the usage and help lines that follow it.
                let text = e.render().to_string();
                let message: Vec<&str> = text
                    .lines()
                    .map(str::trim)
                    .take_while(|l| !l.is_empty())
                    .collect();
                let message = message.join(" ");
                print_json_error(message.strip_prefix("error: ").unwrap_or(&message), None);
            }
            return ExitCode::from(EXIT_USAGE);
        }
    };
    let global = Global { quiet: cli.quiet };
    // `stream` and `print` report on standard output as JSON lines of their own (a
    // failed job's summary says why), so their errors are not repeated there.
    let json = json && !matches!(cli.command, Command::Stream(_) | Command::Print(_));
    // Ctrl-C removes temporary output files and ends the command; the commands that
    // talk to a printer handle it themselves (a job is cancelled gracefully), `print`
    // leaving it to the output while it slices.
    let _interrupts = match cli.command {
        Command::Stream(_) | Command::Print(_) => None,
        _ => Some(lamina::output::ExitOnSignal::new()),
    };
    let result: anyhow::Result<()> = match cli.command {
        Command::Slice(a) => slice::run(*a, global),
        Command::Inspect(a) => inspect::run(a, global),
        Command::Repair(a) => repair::run(a, global),
        Command::Profiles(a) => profiles::run(a),
        Command::Stream(args) => stream::run(args, global),
        Command::Ports(args) => ports::run(args, global),
        Command::Print(args) => print::run(*args, global),
        Command::Preview(a) => preview::run(a, global),
        Command::Compare(a) => compare::run(*a, global),
        Command::Orient(a) => orient::run(a, global),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) if e.chain().any(|c| c.is::<ClosedPipe>()) => ExitCode::SUCCESS,
        Err(e) if e.chain().any(|c| c.is::<Reported>()) => ExitCode::from(EXIT_FAILURE),
        Err(e) => {
            let text = format_error(&e);
            eprintln!("error: {text}");
            if json {
                print_json_error(&text, error_file(&e).as_deref());
            }
            ExitCode::from(if is_usage(&e) {
                EXIT_USAGE
            } else {
                EXIT_FAILURE
            })
        }
    }
}

/// The error as a JSON object on standard output: `{"error": ..., "file": ...}`.
fn print_json_error(text: &str, file: Option<&str>) {
    let _ = out_json(&error_json(text, file));
}

/// The JSON object that reports an error.
pub fn error_json(text: &str, file: Option<&str>) -> serde_json::Value {
    serde_json::json!({ "error": text, "file": file })
}

/// Whether an error is a mistake in the command line (exit status 2).
fn is_usage(e: &anyhow::Error) -> bool {
    e.chain().any(|c| {
        c.is::<Usage>()
            || c.downcast_ref::<lamina::profile::ProfileError>()
                .is_some_and(lamina::profile::ProfileError::is_usage)
    })
}

/// The file an error is about, if it names one.
pub fn error_file(e: &anyhow::Error) -> Option<String> {
    use lamina::mesh::io::{LoadError, SaveError};
    use lamina::output::OutputError;
    use lamina::preview::toolpath::LoadError as GcodeLoadError;
    use lamina::profile::ProfileError;
    e.chain().find_map(|c| {
        let path = if let Some(e) = c.downcast_ref::<ModelFile>() {
            &e.path
        } else if let Some(e) = c.downcast_ref::<OutputError>() {
            &e.path
        } else if let Some(e) = c.downcast_ref::<LoadError>() {
            e.path()
        } else if let Some(e) = c.downcast_ref::<GcodeLoadError>() {
            e.path()
        } else if let Some(e) = c.downcast_ref::<SaveError>() {
            &e.path
        } else if let Some(ProfileError::File { path, .. }) = c.downcast_ref::<ProfileError>() {
            path
        } else {
            return None;
        };
        Some(path.display().to_string())
    })
}

/// One readable sentence from an error chain: "context: cause: cause".
pub fn format_error(e: &anyhow::Error) -> String {
    let mut parts: Vec<String> = Vec::new();
    for cause in e.chain() {
        let s = cause.to_string();
        if !parts.iter().any(|p| p.contains(&s)) {
            parts.push(s);
        }
    }
    parts.join(": ")
}
