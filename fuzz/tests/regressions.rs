//! Replays the committed corpus and every crash the fuzzer found, through every target: none may
//! panic. A crash found by `session-host-fuzz` is added here by name (and its input to
//! `fuzz/corpus/TARGET/`) when it is fixed.

use std::path::Path;

use session_host_fuzz::TARGETS;

/// Crashes found by fuzzing or by users, each with the issue it was reported in.
const CRASHES: &[(&str, &str)] = &[
    // Issue 12: a non-ASCII public suffix followed by an empty label sliced the host inside a
    // character (`rules/pattern.rs`, the ICANN suffix count).
    ("url_rules", "https://x.рф../"),
    ("gateway_request", r#"{"url": "https://x.рф../"}"#),
    ("batch_line", "https://x.рф../"),
];

#[test]
fn issue_12_crashes_found_stay_fixed() {
    for (name, input) in CRASHES {
        let target = TARGETS.iter().find(|t| t.name == *name).expect("a target");
        (target.run)(input.as_bytes());
    }
}

#[test]
fn issue_12_the_corpus_never_panics_any_target() {
    let corpus = Path::new(env!("CARGO_MANIFEST_DIR")).join("corpus");
    for folder in std::fs::read_dir(&corpus).expect("the corpus folder") {
        for file in std::fs::read_dir(folder.expect("a folder").path()).expect("a folder") {
            let input = std::fs::read(file.expect("a file").path()).expect("a corpus file");
            for target in TARGETS {
                (target.run)(&input);
            }
        }
    }
}
