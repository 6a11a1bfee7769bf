//! Command-line interface: argument parsing, progress display, JSON output and exit
//! codes. Every command lives in its own file and calls into the library.

use std::io::IsTerminal;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

mod compare;
mod inspect;
mod models;
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
    /// Fix holes, winding, degenerate and duplicate faces; write an STL.
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

/// Parse the command line, run the command, and map the outcome to an exit code.
pub fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            let usage = e.use_stderr();
            let _ = e.print();
            return if usage {
                ExitCode::from(EXIT_USAGE)
            } else {
                ExitCode::SUCCESS
            };
        }
    };
    let global = Global { quiet: cli.quiet };
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
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {}", format_error(&e));
            ExitCode::from(EXIT_FAILURE)
        }
    }
}

/// One readable sentence from an error chain: "context: cause: cause".
fn format_error(e: &anyhow::Error) -> String {
    let mut parts: Vec<String> = Vec::new();
    for cause in e.chain() {
        let s = cause.to_string();
        if !parts.iter().any(|p| p.contains(&s)) {
            parts.push(s);
        }
    }
    parts.join(": ")
}
