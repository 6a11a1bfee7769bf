//! `lamina inspect`: what a mesh is and what is wrong with it.

use std::path::PathBuf;

use anyhow::Result;
use clap::Args;
use lamina::mesh::check::check;
use lamina::mesh::place::unit_warning;

use super::models::load_models;
use super::{Global, Reported, error_file, error_json, format_error, out, out_json};

/// Options of `lamina inspect`.
#[derive(Args, Debug)]
#[command(
    after_help = "Examples:\n  lamina inspect examples/vessel_phantom.stl\n  lamina inspect skull.stl brain.obj --json\n\n\
    Every file is reported, even when some cannot be read; the command then ends with\n\
    status 1 (with --json, such a file's entry has an \"error\")."
)]
pub struct InspectArgs {
    /// Model files (STL, OBJ, 3MF).
    #[arg(required = true, value_name = "MODEL")]
    models: Vec<PathBuf>,
    /// Print JSON on standard output.
    #[arg(long)]
    json: bool,
}

/// Run `lamina inspect`.
pub fn run(args: InspectArgs, global: Global) -> Result<()> {
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
            if !args.json {
                out(format_args!("{} ({}):", obj.name, path.display()))?;
                for line in report.summary().lines() {
                    out(format_args!("  {line}"))?;
                }
                for w in &warnings {
                    out(format_args!("  warning: {w}"))?;
                }
            }
            reports.push(serde_json::json!({
                "file": path.display().to_string(),
                "object": obj.name,
                "report": report,
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
