//! `lamina inspect`: what a mesh is and what is wrong with it.

use std::path::PathBuf;

use anyhow::Result;
use clap::Args;
use lamina::mesh::check::check;

use super::Global;
use super::models::load_models;

/// Options of `lamina inspect`.
#[derive(Args, Debug)]
#[command(
    after_help = "Examples:\n  lamina inspect examples/vessel_phantom.stl\n  lamina inspect skull.stl brain.obj --json"
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
    for path in &args.models {
        for obj in load_models(std::slice::from_ref(path), &global)? {
            let report = check(&obj.mesh);
            if !args.json {
                println!("{} ({}):", obj.name, path.display());
                for line in report.summary().lines() {
                    println!("  {line}");
                }
            }
            reports.push(serde_json::json!({
                "file": path.display().to_string(),
                "object": obj.name,
                "report": report,
            }));
        }
    }
    if args.json {
        println!("{}", serde_json::to_string_pretty(&reports)?);
    }
    Ok(())
}
