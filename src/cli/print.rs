//! `lamina print`: slice models and stream the G-code to the printer in one go.

use std::path::PathBuf;

use anyhow::Result;
use clap::Args;

use super::Global;
use super::slice::{JobArgs, slice_to, tell};
use super::stream::{LinkArgs, profile_templates, stream_file};

/// Options of `lamina print`.
#[derive(Args, Debug)]
#[command(after_help = "Examples:\n  \
    lamina print aneurysm.stl --port /dev/ttyUSB0 --support tree\n  \
    lamina print skull.stl --port /dev/ttyACM0 --printer prusa-mk3s -o skull.gcode --log skull.log\n  \
    lamina print skull.stl --port /dev/ttyACM0 -o skull.gcode --resume\n\n\
    The G-code is kept (default: beside the first model) so a cut job can go on with\n\
    --resume, which streams the kept file without slicing again.")]
pub struct PrintArgs {
    /// Model files (STL, OBJ, 3MF); several are placed side by side.
    #[arg(required = true, value_name = "MODEL")]
    models: Vec<PathBuf>,
    /// Where to keep the G-code (default: the first model's name with `.gcode`).
    #[arg(short, long, value_name = "OUT.gcode")]
    output: Option<PathBuf>,
    #[command(flatten)]
    job: JobArgs,
    #[command(flatten)]
    link: LinkArgs,
}

/// Run `lamina print`.
pub fn run(args: PrintArgs, global: Global) -> Result<()> {
    let output = args
        .output
        .clone()
        .unwrap_or_else(|| args.models[0].with_extension("gcode"));
    if output.as_os_str() == "-" {
        anyhow::bail!("lamina print keeps the G-code in a file: give -o FILE, not -o -");
    }
    let settings = args.job.settings()?;
    let templates = profile_templates(&settings)?;
    let continuing = args.link.resume || args.link.from_line.is_some();
    if continuing && output.is_file() {
        if !global.quiet {
            eprintln!("continuing with {}", output.display());
        }
    } else {
        let report = slice_to(&args.models, &args.job, &settings, &output, &global)?;
        tell(&report, &output, &global);
    }
    stream_file(&output, &args.link, templates, global)
}
