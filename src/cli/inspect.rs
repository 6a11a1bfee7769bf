//! `lamina inspect`: what a mesh is and what is wrong with it.

use std::path::PathBuf;

use anyhow::Result;
use clap::Args;
use lamina::mesh::check::check;
use lamina::mesh::place::unit_warning;
use lamina::vessel::measure::{self, WallReport};

use super::models::load_models;
use super::profile_args::ProfileArgs;
use super::slice::VesselOpenArg;
use super::{Global, Reported, error_file, error_json, format_error, out, out_json};

/// Options of `lamina inspect`.
#[derive(Args, Debug)]
#[command(
    after_help = "Examples:\n  lamina inspect examples/vessel_phantom.stl\n  lamina inspect skull.stl brain.obj --json\n  \
    lamina inspect lumen.stl --vessel-wall 1.2\n\n\
    Every file is reported, even when some cannot be read; the command then ends with\n\
    status 1 (with --json, such a file's entry has an \"error\")."
)]
pub struct InspectArgs {
    /// Model files (STL, OBJ, 3MF).
    #[arg(required = true, value_name = "MODEL")]
    models: Vec<PathBuf>,
    /// Read each mesh as a vessel lumen and report the wall T mm thick that
    /// `slice --vessel-wall T` prints round it (its volume) and the lumen's narrowest
    /// width.
    #[arg(long, value_name = "T")]
    vessel_wall: Option<f64>,
    /// Where the vessel wall ends open (default auto: open and flat-cut ends).
    #[arg(long, value_enum, value_name = "WHERE", requires = "vessel_wall")]
    vessel_open: Option<VesselOpenArg>,
    #[command(flatten)]
    profiles: ProfileArgs,
    /// Print JSON on standard output.
    #[arg(long)]
    json: bool,
}

/// Run `lamina inspect`.
pub fn run(args: InspectArgs, global: Global) -> Result<()> {
    let mut extra = Vec::new();
    if let Some(t) = args.vessel_wall {
        extra.push(format!("vessel_wall={t}"));
    }
    extra.extend(args.vessel_open.map(VesselOpenArg::setting));
    let settings = lamina::profile::resolve(&args.profiles.selection(extra))?;
    let mut reports = Vec::new();
    let mut failed = 0;
    for path in &args.models {
        let objects = match load_models(std::slice::from_ref(path), &global) {
            Ok(o) => o,
            Err(e) => {
                failed += 1;
                let text = format_error(&e);
                eprintln!("error: {text}");
                let file = error_file(&e).unwrap_or_else(|| path.display().to_string());
                reports.push(error_json(&text, Some(&file)));
                continue;
            }
        };
        for obj in objects {
            let report = check(&obj.mesh);
            let warnings: Vec<String> = unit_warning(&obj.name, report.size).into_iter().collect();
            let wall =
                measure::report(std::slice::from_ref(&obj), &settings).and_then(|mut w| w.pop());
            if !args.json {
                out(format_args!("{} ({}):", obj.name, path.display()))?;
                for line in report.summary().lines() {
                    out(format_args!("  {line}"))?;
                }
                if let Some(w) = &wall {
                    out(format_args!("  {}", wall_text(w)))?;
                }
                for w in &warnings {
                    out(format_args!("  warning: {w}"))?;
                }
            }
            reports.push(serde_json::json!({
                "file": path.display().to_string(),
                "object": obj.name,
                "report": report,
                "vessel_wall": wall,
                "warnings": warnings,
            }));
        }
    }
    if args.json {
        out_json(&reports)?;
    }
    if failed > 0 {
        return Err(Reported(format!(
            "{failed} of {} files could not be read",
            args.models.len()
        ))
        .into());
    }
    Ok(())
}

/// A wall report in one line.
fn wall_text(w: &WallReport) -> String {
    let narrowest = match (w.narrowest_lumen_mm, w.narrowest_at) {
        (Some(d), Some([x, y, z])) => {
            format!("narrowest lumen {d:.2} mm (at {x:.1}, {y:.1}, {z:.1})")
        }
        _ => "no two lumen walls face each other".to_string(),
    };
    format!(
        "vessel wall {:.2} mm: {:.1} mm³, open at {} ends; {narrowest}",
        w.thickness_mm, w.wall_volume_mm3, w.openings
    )
}
