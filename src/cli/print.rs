//! `lamina print`: slice models and stream the G-code to the printer in one go.

use std::path::PathBuf;

use anyhow::{Context, Result};
use clap::Args;

use super::slice::{JobArgs, slice_to, tell};
use super::stream::{LinkArgs, open_and_greet, profile_templates, stream_file};
use super::{Global, usage};

/// Options of `lamina print`.
#[derive(Args, Debug)]
#[command(after_help = "Examples:\n  \
    lamina print aneurysm.stl --port /dev/ttyUSB0 --support tree\n  \
    lamina print skull.stl --port /dev/ttyACM0 --printer prusa-mk3s -o skull.gcode --log skull.log\n  \
    lamina print skull.stl --port /dev/ttyACM0 -o skull.gcode --resume\n\n\
    The printer must answer on its port before slicing starts, so a wrong port is said\n\
    at once. The G-code is kept (default: in lamina's cache folder, $XDG_CACHE_HOME/lamina\n\
    or ~/.cache/lamina, named after the first model) so a cut job can go on with --resume,\n\
    which streams the kept file without slicing again.")]
pub struct PrintArgs {
    /// Model files (STL, OBJ, 3MF); several are placed side by side.
    #[arg(required = true, value_name = "MODEL")]
    models: Vec<PathBuf>,
    /// Where to keep the G-code (default: the first model's name with `.gcode`, in
    /// lamina's cache folder).
    #[arg(short, long, value_name = "OUT.gcode")]
    output: Option<PathBuf>,
    #[command(flatten)]
    job: JobArgs,
    #[command(flatten)]
    link: LinkArgs,
}

/// Run `lamina print`.
pub fn run(args: PrintArgs, global: Global) -> Result<()> {
    let output = match args.output.clone() {
        Some(o) => o,
        None => cached_gcode(&args.models[0])?,
    };
    if output.as_os_str() == "-" {
        return Err(usage!(
            "lamina print keeps the G-code in a file: give -o FILE, not -o -"
        ));
    }
    // Mistakes in the command line are told before the port is opened.
    super::models::check_gcode_output(&output, &args.models, args.job.tools())?;
    args.job.check()?;
    let settings = args.job.settings()?;
    let templates = profile_templates(&settings)?;
    // A wrong port, or one with no printer answering on it, is said before slicing.
    let link = open_and_greet(&args.link)?;
    let continuing = args.link.resume || args.link.from_line.is_some();
    if continuing && output.is_file() {
        if !global.quiet {
            eprintln!("continuing with {}", output.display());
        }
    } else {
        let report = slice_to(&args.models, &args.job, &settings, &output, false, &global)?;
        tell(&report, &output, &global);
    }
    stream_file(&output, &args.link, templates, global, Some(link))
}

/// Where `lamina print` keeps the G-code of `model` when `-o` is not given:
/// `$XDG_CACHE_HOME/lamina/MODEL.gcode`, or `~/.cache/lamina/MODEL.gcode`.
fn cached_gcode(model: &std::path::Path) -> Result<PathBuf> {
    let base = std::env::var_os("XDG_CACHE_HOME")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .or_else(|| {
            std::env::var_os("HOME")
                .filter(|v| !v.is_empty())
                .map(|h| PathBuf::from(h).join(".cache"))
        })
        .unwrap_or_else(std::env::temp_dir);
    let dir = base.join("lamina");
    std::fs::create_dir_all(&dir).with_context(|| {
        format!(
            "cannot make the cache folder {} for the G-code (give -o FILE)",
            dir.display()
        )
    })?;
    let name = model
        .file_stem()
        .map_or_else(|| "model".into(), |s| s.to_os_string());
    Ok(dir.join(name).with_extension("gcode"))
}
