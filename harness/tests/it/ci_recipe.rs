//! `docs/ci.md`'s recipe stays runnable: every `stampede` command in its
//! YAML parses as this build's CLI does (the matrix variable filled in),
//! and every `make` target it runs exists in the Makefile.

use std::path::Path;

fn doc() -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs/ci.md");
    std::fs::read_to_string(path).expect("docs/ci.md exists")
}

/// Each `run:` of the YAML blocks, its folded lines joined (a folded
/// scalar ends at a line indented less than the step's keys' lines).
fn runs(doc: &str) -> Vec<String> {
    let mut runs = Vec::new();
    let mut current: Option<(usize, String)> = None;
    for line in doc.lines() {
        let indent = line.len() - line.trim_start().len();
        if let Some((run_indent, text)) = current.as_mut() {
            // `- run: >` at n: the step's other keys at n + 2, its text deeper.
            if indent > *run_indent + 2 && !line.trim().is_empty() {
                text.push(' ');
                text.push_str(line.trim());
                continue;
            }
            runs.push(std::mem::take(text));
            current = None;
        }
        if let Some(rest) = line.trim_start().strip_prefix("- run:") {
            let rest = rest.trim();
            if rest == ">" {
                current = Some((indent, String::new()));
            } else {
                runs.push(rest.to_string());
            }
        }
    }
    runs.extend(current.map(|(_, text)| text));
    runs.into_iter().map(|r| r.trim().to_string()).collect()
}

#[test]
fn every_command_of_the_ci_recipe_exists_and_parses() {
    let doc = doc();
    let runs = runs(&doc);
    let makefile =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("../Makefile"))
            .expect("the Makefile");
    let (mut stampede, mut make) = (0, 0);
    for run in &runs {
        let filled = run.replace("${{ matrix.shard }}", "1");
        // A redirection of the output is the shell's, not the command's.
        let words: Vec<&str> = filled
            .split_whitespace()
            .take_while(|word| !word.starts_with('>'))
            .collect();
        match words.first() {
            Some(&"make") => {
                make += 1;
                for target in &words[1..] {
                    assert!(
                        makefile
                            .lines()
                            .any(|l| l.starts_with(&format!("{target}:"))),
                        "docs/ci.md runs `make {target}`, which the Makefile does not have"
                    );
                }
            }
            Some(program) if program.ends_with("/stampede") => {
                stampede += 1;
                let mut args = vec!["stampede"];
                args.extend(&words[1..]);
                if let Err(e) = stampede_harness::cli::parses(&args) {
                    panic!("docs/ci.md: `{filled}` does not parse:\n{e}");
                }
            }
            other => panic!("docs/ci.md runs {other:?}, which this test does not know"),
        }
    }
    assert_eq!((stampede, make), (5, 3), "the recipe's commands: {runs:#?}");
}

/// The check has a control: a command the CLI would refuse fails it.
#[test]
fn a_command_the_cli_refuses_is_caught() {
    assert!(stampede_harness::cli::parses(&["stampede", "verify", "--shard", "5/4"]).is_err());
    assert!(stampede_harness::cli::parses(&["stampede", "verify", "--shard", "4/4"]).is_ok());
}
