//! The independent G-code checker in ../shared/tools (Python, written apart from
//! lamina): run on a G-code file and its mesh, its figures read from its JSON.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;

/// The checker script, beside the project.
pub fn script() -> PathBuf {
    PathBuf::from(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../shared/tools/gcode_check.py"
    ))
}

/// Whether the checker can run here: the script, python3 and the packages it needs.
/// When it cannot, the test is skipped visibly (or fails under LAMINA_REQUIRE_DATA=1)
/// and `false` comes back.
pub fn available() -> bool {
    if !script().is_file() {
        super::skip("../shared/tools/gcode_check.py not found");
        return false;
    }
    let ok = Command::new("python3")
        .args(["-c", "import numpy, scipy, shapely, trimesh"])
        .output()
        .is_ok_and(|o| o.status.success());
    if !ok {
        super::skip(
            "python3 with numpy, scipy, shapely and trimesh not found \
             (pip install numpy scipy shapely trimesh rtree)",
        );
    }
    ok
}

/// Run the checker on `gcode` against `mesh` with extra arguments; its JSON.
pub fn check(gcode: &Path, mesh: &Path, args: &[String]) -> Value {
    let o = Command::new("python3")
        .arg(script())
        .arg(gcode)
        .arg("--mesh")
        .arg(mesh)
        .arg("--json")
        .args(args)
        .output()
        .expect("run python3");
    assert!(
        o.status.success(),
        "gcode_check.py on {}: {}",
        gcode.display(),
        String::from_utf8_lossy(&o.stderr)
    );
    serde_json::from_slice(&o.stdout).expect("the checker's JSON")
}

/// A number from the checker's JSON by path (`"geometry.coverage_mean"`).
pub fn figure(v: &Value, path: &str) -> f64 {
    path.split('.')
        .fold(v, |v, k| &v[k])
        .as_f64()
        .unwrap_or_else(|| panic!("the checker gave no {path}"))
}
