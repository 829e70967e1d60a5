//! Replays the seeds and every input a fuzzer ever crashed on (`fuzz/seeds/<target>/` and
//! `fuzz/regressions/<target>/`) through the harnesses.

use std::path::PathBuf;

#[test]
fn seeds_and_past_crashes_pass_every_harness() {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../fuzz");
    let mut replayed = 0;
    for (name, harness) in llm_security_fuzz::TARGETS {
        let mut seen = 0;
        for folder in ["seeds", "regressions"] {
            let dir = root.join(folder).join(name);
            let Ok(entries) = std::fs::read_dir(&dir) else {
                continue;
            };
            for entry in entries {
                let path = entry.unwrap().path();
                let data = std::fs::read(&path).unwrap();
                let outcome = std::panic::catch_unwind(|| harness(&data));
                assert!(outcome.is_ok(), "{name} fails on {}", path.display());
                seen += 1;
            }
        }
        assert!(seen > 0, "target {name} has no seeds");
        replayed += seen;
    }
    assert!(replayed >= llm_security_fuzz::TARGETS.len());
}
