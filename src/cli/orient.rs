//! `lamina orient`: the orientations of a model that need the least support.

use std::path::PathBuf;

use anyhow::Result;
use clap::Args;
use lamina::mesh::place;
use lamina::orient::Orientation;

use super::models::{load_models, transform};
use super::profile_args::ProfileArgs;
use super::{Global, out, out_json};

/// Options of `lamina orient`.
#[derive(Args, Debug)]
#[command(after_help = "Examples:\n  \
    lamina orient examples/vessel_phantom.stl\n  \
    lamina orient lumen.stl --vessel-wall 1.2 --json\n\n\
    Support is weighed from the mesh: the material of the lines filling the columns\n\
    under every overhang flatter than the support threshold (down to the model or the\n\
    bed; sparse body, dense interface), the part of it inside the model (lumens, sacs),\n\
    the overhang area it touches, and the height. The finalists are then sliced (the\n\
    profile's support, grid if it has none) and their figures read from the slices,\n\
    unless their support is too large to slice in a few seconds or --estimate is given.\n\
    Apply the best with `lamina slice --orient auto`, or any row with its --rotate.")]
pub struct OrientArgs {
    /// Model files (STL, OBJ, 3MF); several are weighed as one assembly.
    #[arg(required = true, value_name = "MODEL")]
    models: Vec<PathBuf>,
    #[command(flatten)]
    profiles: ProfileArgs,
    /// Overhang threshold in degrees from the horizontal (default: the quality profile's).
    #[arg(long, value_name = "DEG")]
    support_angle: Option<f64>,
    /// Weigh the wall T mm thick round the mesh read as a vessel lumen.
    #[arg(long, value_name = "T")]
    vessel_wall: Option<f64>,
    /// Scale: one factor, or X,Y,Z factors (applied before weighing).
    #[arg(long, value_name = "F")]
    scale: Option<String>,
    /// Take the figures from the search's estimates, without slicing the finalists
    /// (faster; the support figure is then within about 15% of a slice's).
    #[arg(long)]
    estimate: bool,
    /// Print JSON on standard output.
    #[arg(long)]
    json: bool,
}

/// An orientation as `--rotate` takes it.
pub fn rotate_text(o: &Orientation) -> String {
    let [x, y, z] = o.rotate_deg;
    format!("{x:.1},{y:.1},{z:.1}")
}

/// Run `lamina orient`.
pub fn run(args: OrientArgs, global: Global) -> Result<()> {
    let mut extra = Vec::new();
    if let Some(a) = args.support_angle {
        extra.push(format!("support_threshold={a}"));
    }
    if let Some(t) = args.vessel_wall {
        extra.push(format!("vessel_wall={t}"));
    }
    let settings = lamina::profile::resolve(&args.profiles.selection(extra))?;
    let t = transform(args.scale.as_deref(), None)?;
    let mut objects = load_models(&args.models, &global)?;
    if !t.is_identity() {
        for o in &mut objects {
            place::apply(&mut o.mesh, &t.matrix());
        }
    }
    let found = lamina::orient::exact::search(&objects, &settings, !args.estimate);
    if args.json {
        return out_json(&found);
    }
    out(format_args!(
        "{:>4}  {:>18}  {:>12}  {:>11}  {:>12}  {:>9}",
        "rank", "--rotate X,Y,Z", "support mm³", "inside mm³", "contact mm²", "height mm"
    ))?;
    let row = |rank: &str, o: &Orientation| {
        out(format_args!(
            "{rank:>4}  {:>18}  {:>12.0}  {:>11.0}  {:>12.0}  {:>9.1}",
            rotate_text(o),
            o.cost.support_mm3,
            o.cost.enclosed_mm3,
            o.cost.contact_mm2,
            o.cost.height_mm
        ))
    };
    for (i, o) in found.best.iter().enumerate() {
        row(&(i + 1).to_string(), o)?;
    }
    row("file", &found.as_is)?;
    if !global.quiet {
        let figures = match &found.estimated {
            None => "read from a slice of each row".to_string(),
            Some(why) => format!("estimated from the mesh ({why})"),
        };
        eprintln!(
            "{} orientations weighed; the figures are {figures}; apply the best with \
             `lamina slice --orient auto`",
            found.evaluated
        );
    }
    Ok(())
}
