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
