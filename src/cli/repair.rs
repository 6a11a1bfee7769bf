//! `lamina repair`: fix what can be fixed in a mesh and say what was done.

use std::path::PathBuf;

use anyhow::Result;
use clap::Args;
use lamina::mesh::io::{self, SaveFormat};
use lamina::mesh::repair::{RepairOptions, RepairReport, repair};
use lamina::output::PendingFile;

use super::models::load_models;
use super::{Global, out_json, usage};

/// Options of `lamina repair`.
#[derive(Args, Debug)]
#[command(after_help = "Examples:\n  \
    lamina repair heart.stl -o heart-fixed.stl\n  \
    lamina repair aneurysm.stl -o closed.3mf --json\n  \
    lamina repair vessel.stl -o v.obj --max-hole 64   # keep the clipped vessel ends open\n\n\
    The output format follows -o's extension: .stl (binary), .obj or .3mf. A repair never\n\
    adds a defect: every count `lamina inspect` reports is the same or lower afterwards.")]
pub struct RepairArgs {
    /// The mesh to repair (STL, OBJ, 3MF; several objects are repaired and written together).
    #[arg(value_name = "MODEL")]
    model: PathBuf,
    /// Output file: .stl, .obj or .3mf.
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
    let Some(format) = SaveFormat::from_path(&args.output) else {
        return Err(usage!(
            "repair writes .stl, .obj or .3mf files: give -o a name with one of these extensions (got '{}')",
            args.output.display()
        ));
    };
    let pending = PendingFile::create(&args.output)?;
    let objects = load_models(std::slice::from_ref(&args.model), &global)?;
    let options = RepairOptions {
        max_hole_edges: args.max_hole,
        fill_holes: !args.no_fill,
    };
    let mut fixed = Vec::with_capacity(objects.len());
    let mut reports = Vec::new();
    for obj in &objects {
        let (mesh, report) = repair(&obj.mesh, &options);
        if !args.json && !global.quiet {
            eprintln!("{}:", obj.name);
            for line in describe(&report) {
                eprintln!("  {line}");
            }
        }
        reports.push(serde_json::json!({ "object": obj.name, "report": report }));
        fixed.push(mesh);
    }
    let named: Vec<io::Named<'_>> = objects
        .iter()
        .zip(&fixed)
        .map(|(o, m)| (o.name.as_str(), m))
        .collect();
    pending.write(|w| io::write_to(w, &named, format))?;
    if args.json {
        out_json(&serde_json::json!({
            "output": args.output.display().to_string(),
            "objects": reports,
        }))?;
    } else if !global.quiet {
        eprintln!("wrote {}", args.output.display());
    }
    Ok(())
}

/// What a repair did, a line per kind of fix.
fn describe(r: &RepairReport) -> Vec<String> {
    let mut lines = vec![
        format!(
            "removed {} degenerate faces (kept {}, turned {} into faces with area) and {} duplicate faces (kept {})",
            r.degenerate_removed,
            r.degenerate_kept,
            r.degenerate_flipped,
            r.duplicates_removed,
            r.duplicates_kept
        ),
        format!(
            "flipped {} faces to agree with their neighbours, turned {} inside-out shells",
            r.faces_flipped, r.shells_reoriented
        ),
        format!(
            "filled {} holes with {} triangles",
            r.holes_filled, r.triangles_added
        ),
    ];
    lines.extend(r.holes_left_open.iter().map(|h| format!("left open: {h}")));
    lines.extend(
        r.withheld
            .iter()
            .map(|w| format!("not done, as it would add a defect: {w}")),
    );
    if r.non_manifold_edges > 0 {
        lines.push(format!(
            "{} non-manifold edges remain (not fixed; lamina slices them anyway)",
            r.non_manifold_edges
        ));
    }
    lines.push(
        if r.watertight_after {
            "now watertight"
        } else {
            "still not watertight"
        }
        .to_string(),
    );
    lines
}
