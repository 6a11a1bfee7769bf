//! The fuzz targets (`fuzz/targets.rs`: STL, OBJ and 3MF readers, the G-code readers,
//! mesh repair) as tests: every input that once made one fail stays here as a
//! regression test (`tests/fuzz_regressions/<target>/`), the seeds must pass, and
//! proptest mutates the seeds as a stand-in fuzzer (`PROPTEST_CASES` sets how many
//! cases; `benches/fuzz.sh` runs the real fuzzer for a fixed time).

#[path = "../fuzz/targets.rs"]
mod targets;

use std::path::{Path, PathBuf};

use proptest::prelude::*;

fn files_in(dir: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .map(|d| d.filter_map(|e| e.ok()).map(|e| e.path()).collect())
        .unwrap_or_default();
    files.retain(|p| p.is_file() && !p.ends_with("README.md"));
    files.sort();
    files
}

fn folder(kind: &str, target: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join(kind)
        .join(target)
}

/// Run every file of `kind/<target>/` through its target; the number run.
fn replay(kind: &str) -> usize {
    let mut n = 0;
    for (name, run) in targets::TARGETS {
        for file in files_in(&folder(kind, name)) {
            let data = std::fs::read(&file).unwrap();
            let result = std::panic::catch_unwind(|| run(&data));
            assert!(result.is_ok(), "{name}: {} fails", file.display());
            n += 1;
        }
    }
    n
}

#[test]
fn inputs_that_once_failed_pass() {
    let n = replay("tests/fuzz_regressions");
    println!("{n} regression inputs replayed");
    assert!(n > 0, "no regression inputs found");
}

#[test]
fn the_seeds_pass() {
    assert!(replay("fuzz/seeds") >= targets::TARGETS.len());
}

/// The seeds of a target, to mutate.
fn seeds(target: &str) -> Vec<Vec<u8>> {
    files_in(&folder("fuzz/seeds", target))
        .iter()
        .map(|f| std::fs::read(f).unwrap())
        .collect()
}

/// A seed with byte edits, an inserted run of bytes, and a cut.
fn mutated(target: &'static str) -> impl Strategy<Value = Vec<u8>> {
    let seeds = seeds(target);
    assert!(!seeds.is_empty(), "no seeds for {target}");
    (
        0..seeds.len(),
        prop::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 0..24),
        prop::collection::vec(any::<u8>(), 0..16),
        any::<prop::sample::Index>(),
        any::<Option<prop::sample::Index>>(),
    )
        .prop_map(move |(which, edits, insert, at, cut)| {
            let mut bytes = seeds[which].clone();
            for (i, v) in edits {
                if !bytes.is_empty() {
                    let k = i.index(bytes.len());
                    bytes[k] = v;
                }
            }
            let k = at.index(bytes.len() + 1);
            bytes.splice(k..k, insert);
            if let Some(c) = cut {
                bytes.truncate(c.index(bytes.len() + 1));
            }
            bytes
        })
}

proptest! {
    #[test]
    fn stl_reader(data in mutated("stl")) {
        targets::stl(&data);
    }

    #[test]
    fn obj_reader(data in mutated("obj")) {
        targets::obj(&data);
    }

    #[test]
    fn threemf_reader(data in mutated("threemf")) {
        targets::threemf(&data);
    }

    #[test]
    fn gcode_readers(data in mutated("gcode")) {
        targets::gcode(&data);
    }

    #[test]
    fn repair_never_adds_a_defect(data in prop::collection::vec(any::<u8>(), 1..160)) {
        targets::repair(&data);
    }

    #[test]
    fn repair_of_mutated_meshes(data in mutated("repair")) {
        targets::repair(&data);
    }
}
