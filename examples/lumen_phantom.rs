//! Writes the lumen example (to OUT.stl, by default `lumen.stl`): the blood volume
//! of a parent artery dividing into two branches, with a saccular aneurysm at the
//! bifurcation's apex, cut flat at its three ends as a segmentation tool cuts a vessel
//! out of a scan. It is what CT or MR angiography gives: a lumen, not a wall; lamina
//! prints the wall round it (`--vessel-wall`), or the lumen itself as a dissolvable
//! mould core (`--core`). The shape is made in `lamina::vessel::phantom`.
//!
//! ```text
//! cargo run --release --example lumen_phantom [OUT.stl]
//! ```

use std::path::PathBuf;

use lamina::vessel::phantom::{LUMEN_STEP, lumen};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let out = std::env::args()
        .nth(1)
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("lumen.stl"));
    let mesh = lumen(LUMEN_STEP);
    lamina::mesh::io::write_stl(&out, &mesh)?;
    println!("wrote {}: {} triangles", out.display(), mesh.faces.len());
    Ok(())
}
