//! Writes the benchmark brain: a clean, watertight, brain-like model of about 1.2
//! million triangles made in code (see `lamina::mesh::phantom`), for timing lamina
//! against other slicers on a mesh anyone can reproduce.
//!
//! ```text
//! cargo run --release --example brain_phantom -- OUT.stl [STEP_MM]
//! ```

use std::path::PathBuf;

use lamina::mesh::{io, phantom};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let out = PathBuf::from(
        args.next()
            .ok_or("usage: brain_phantom OUT.stl [STEP_MM]")?,
    );
    let step = match args.next() {
        Some(s) => s.parse::<f64>().map_err(|e| format!("step '{s}': {e}"))?,
        None => phantom::BRAIN_STEP,
    };
    let mesh = phantom::brain(step);
    io::write_stl(&out, &mesh)?;
    eprintln!("wrote {}: {} triangles", out.display(), mesh.faces.len());
    Ok(())
}
