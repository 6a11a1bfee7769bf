//! `lamina repair`: fix what can be fixed in a mesh and say what was done.

use std::path::PathBuf;

use anyhow::{Context, Result, bail};
use clap::Args;
use lamina::mesh::repair::{RepairOptions, repair};
use lamina::mesh::{Mesh, io};

use super::Global;
use super::models::load_models;

/// Options of `lamina repair`.
#[derive(Args, Debug)]
#[command(
    after_help = "Examples:\n  lamina repair heart.stl -o heart-fixed.stl\n  lamina repair aneurysm.stl -o closed.stl --json\n  lamina repair vessel.stl -o v.stl --max-hole 64   # keep the clipped vessel ends open"
)]
pub struct RepairArgs {
    /// The mesh to repair (STL, OBJ, 3MF; several objects are repaired and written together).
    #[arg(value_name = "MODEL")]
    model: PathBuf,
    /// Output STL file.
    #[arg(short, long, value_name = "OUT.stl")]
    output: PathBuf,
    /// Leave holes with more boundary edges than this open (0: fill every hole).
    #[arg(long, value_name = "EDGES", default_value_t = 0)]
    max_hole: usize,
    /// Do not fill holes.
    #[arg(long)]
    no_fill: bool,
    /// Print JSON on standard output.
    #[arg(long)]
    json: bool,
}

/// Run `lamina repair`.
pub fn run(args: RepairArgs, global: Global) -> Result<()> {
    if args.output.as_os_str() == "-" {
        bail!("repair writes a binary STL file: give -o FILE.stl");
    }
    let objects = load_models(std::slice::from_ref(&args.model), &global)?;
    let options = RepairOptions {
        max_hole_edges: args.max_hole,
        fill_holes: !args.no_fill,
    };
    let mut all = Mesh::default();
    let mut reports = Vec::new();
    for obj in &objects {
        let (fixed, report) = repair(&obj.mesh, &options);
        let base = all.vertices.len() as u32;
        all.vertices.extend_from_slice(&fixed.vertices);
        all.faces
            .extend(fixed.faces.iter().map(|f| f.map(|v| v + base)));
        if !args.json && !global.quiet {
            eprintln!("{}:", obj.name);
            eprintln!(
                "  removed {} degenerate and {} duplicate faces",
                report.degenerate_removed, report.duplicates_removed
            );
            eprintln!(
                "  flipped {} faces to agree with their neighbours, turned {} inside-out shells",
                report.faces_flipped, report.shells_reoriented
            );
            eprintln!(
                "  filled {} holes with {} triangles",
                report.holes_filled, report.triangles_added
            );
            for h in &report.holes_left_open {
                eprintln!("  left open: {h}");
            }
            if report.non_manifold_edges > 0 {
                eprintln!(
                    "  {} non-manifold edges remain (not fixed; lamina slices them anyway)",
                    report.non_manifold_edges
                );
            }
            eprintln!(
                "  {}",
                if report.watertight_after {
                    "now watertight"
                } else {
                    "still not watertight"
                }
            );
        }
        reports.push(serde_json::json!({ "object": obj.name, "report": report }));
    }
    io::write_stl(&args.output, &all)
        .with_context(|| "the repaired mesh was not written".to_string())?;
    if args.json {
        println!(
            "{}",
            serde_json::to_string_pretty(&serde_json::json!({
                "output": args.output.display().to_string(),
                "objects": reports,
            }))?
        );
    } else if !global.quiet {
        eprintln!("wrote {}", args.output.display());
    }
    Ok(())
}
