//! Running the `lamina` binary from the integration tests. `LAMINA_BIN` runs them
//! against another build of it (to show what they catch in an older one).
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// The binary under test.
pub fn bin() -> PathBuf {
    std::env::var_os("LAMINA_BIN")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_BIN_EXE_lamina")))
}

/// Run it to the end.
pub fn lamina(args: &[&str]) -> Output {
    Command::new(bin()).args(args).output().unwrap()
}

/// What it said on standard error.
pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// A path as an argument.
pub fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

/// Whether a missing prerequisite (shared meshes, Python packages) must fail the test
/// rather than skip it: CI sets `LAMINA_REQUIRE_DATA=1`.
pub fn required() -> bool {
    std::env::var("LAMINA_REQUIRE_DATA").is_ok_and(|v| v == "1")
}
