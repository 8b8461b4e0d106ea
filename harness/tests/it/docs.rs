//! The docs' commands run as written. Every `console` block of README.md,
//! docs/ci.md and docs/cli.md, and every example at the end of a
//! subcommand's `--help`, runs with trycmd against this build's
//! `stampede`, each document in its own scratch directory, and its shown
//! output is compared (`...` and `[..]` elide what varies). A `stampede`
//! command in any other block of README.md or docs/ci.md fails the test,
//! so nothing a newcomer copies escapes it (docs/ci.md's YAML is checked
//! by `ci_recipe.rs`).

use std::path::{Path, PathBuf};

use stampede_engine::schema::EXAMPLE_SCHEMA;

/// The documents whose console blocks run.
const DOCUMENTS: [&str; 3] = ["README.md", "docs/ci.md", "docs/cli.md"];

/// The documents where every `stampede` command must be in a console block.
const FULLY_TESTED: [&str; 2] = ["README.md", "docs/ci.md"];

fn repository() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// What a document's commands find in their directory: the example schema,
/// a later version of it, rows to load, and a document with a figure block.
fn inputs(dir: &Path) {
    std::fs::create_dir_all(dir).unwrap();
    std::fs::write(dir.join("schema.pg"), EXAMPLE_SCHEMA).unwrap();
    let v2 = EXAMPLE_SCHEMA.replace("age: I32?", "age: I32?\n    email: String?");
    assert_ne!(v2, EXAMPLE_SCHEMA, "the later schema adds a property");
    std::fs::write(dir.join("schema-v2.pg"), v2).unwrap();
    std::fs::write(
        dir.join("people.jsonl"),
        "{\"name\":\"ada\",\"age\":36}\n{\"name\":\"grace\"}\n",
    )
    .unwrap();
    std::fs::write(
        dir.join("figures.md"),
        "# Figures\n\n<!-- generated:verify-plan -->\n<!-- /generated:verify-plan -->\n",
    )
    .unwrap();
}

/// Lay `name` (a Markdown case) out in `scratch` as trycmd reads it: the
/// case, its inputs (`NAME.in/`, copied to a sandbox per case) and an empty
/// `NAME.out/` (which makes the case's commands share that sandbox).
fn lay_out(scratch: &Path, name: &str, text: &str) -> PathBuf {
    let case = scratch.join(format!("{name}.md"));
    std::fs::write(&case, text).unwrap();
    inputs(&scratch.join(format!("{name}.in")));
    let out = scratch.join(format!("{name}.out"));
    std::fs::create_dir_all(&out).unwrap();
    std::fs::write(out.join(".keep"), "").unwrap();
    case
}

/// Every subcommand's examples as one console case, in the CLI's order, on
/// a graph `g` made first.
fn help_examples() -> String {
    let mut text = String::from("```console\n$ stampede init g --schema schema.pg\n...\n```\n");
    for (path, examples) in stampede_harness::cli::examples() {
        text += &format!("\n`stampede {path}`:\n\n```console\n");
        for example in examples {
            text += &format!("$ {example}\n...\n");
        }
        text += "```\n";
    }
    text
}

/// The test's cases, on `stampede` (on the PATH too, for `--engine-cmd`).
fn cases(scratch: &Path, docs: &[(&str, String)]) -> trycmd::TestCases {
    let binary = Path::new(env!("CARGO_BIN_EXE_stampede"));
    let path = std::env::join_paths(
        std::iter::once(binary.parent().unwrap().to_path_buf()).chain(std::env::split_paths(
            &std::env::var_os("PATH").unwrap_or_default(),
        )),
    )
    .unwrap();
    let cases = trycmd::TestCases::new();
    cases
        .register_bin("stampede", binary)
        .env("PATH", path.to_string_lossy())
        .env("NO_COLOR", "1");
    for (name, text) in docs {
        cases.case(lay_out(scratch, name, text));
    }
    cases
}

fn read(doc: &str) -> String {
    std::fs::read_to_string(repository().join(doc)).unwrap_or_else(|e| panic!("{doc}: {e}"))
}

#[test]
fn the_docs_commands_run_as_written() {
    let scratch = tempfile::tempdir().unwrap();
    let mut docs: Vec<(&str, String)> = DOCUMENTS
        .iter()
        .map(|doc| (case_name(doc), read(doc)))
        .collect();
    docs.push(("help-examples", help_examples()));
    cases(scratch.path(), &docs).run();
}

fn case_name(doc: &str) -> &str {
    Path::new(doc).file_stem().unwrap().to_str().unwrap()
}

#[test]
fn every_subcommand_ends_its_help_with_an_example() {
    let examples = stampede_harness::cli::examples();
    let parents = ["branch", "schema", "report"];
    let missing: Vec<&String> = examples
        .iter()
        .filter(|(path, lines)| lines.is_empty() && !parents.contains(&path.as_str()))
        .map(|(path, _)| path)
        .collect();
    assert!(
        missing.is_empty(),
        "subcommands without an example: {missing:?}"
    );
    for (path, lines) in &examples {
        for line in lines {
            let args: Vec<&str> = line.split_whitespace().collect();
            assert_eq!(args[0], "stampede", "`{path}`'s example `{line}`");
        }
    }
}

/// Each fenced block of `doc` as (info string, lines).
fn blocks(doc: &str) -> Vec<(String, Vec<String>)> {
    let mut blocks = Vec::new();
    let mut open: Option<(String, Vec<String>)> = None;
    for line in doc.lines() {
        let fence = line.trim_start().strip_prefix("```");
        match (&mut open, fence) {
            (None, Some(info)) => open = Some((info.trim().to_string(), Vec::new())),
            (Some(_), Some(_)) => blocks.extend(open.take()),
            (Some((_, lines)), None) => lines.push(line.to_string()),
            (None, None) => {}
        }
    }
    blocks
}

/// `stampede` commands of `doc` that no console block runs.
fn untested_commands(doc: &str) -> Vec<String> {
    blocks(doc)
        .into_iter()
        .filter(|(info, _)| !matches!(info.split(',').next(), Some("console" | "yaml")))
        .flat_map(|(_, lines)| lines)
        .filter(|line| line.trim_start().starts_with("stampede "))
        .collect()
}

#[test]
fn every_stampede_command_of_the_readme_and_the_ci_recipe_is_run() {
    for doc in FULLY_TESTED {
        let untested = untested_commands(&read(doc));
        assert!(
            untested.is_empty(),
            "{doc}: `stampede` commands outside a console block, which no test runs: {untested:#?}"
        );
    }
}

/// The guard has a control: a command in a `sh` block is found, one in a
/// console block is not.
#[test]
fn a_command_outside_a_console_block_is_found() {
    let doc = "```sh\nstampede check g\n```\n\n```console\n$ stampede check g\n```\n";
    assert_eq!(untested_commands(doc), ["stampede check g"]);
}

/// The docs run has a control: a flag renamed in a document fails it.
#[test]
fn a_renamed_flag_fails_the_docs_run() {
    let scratch = tempfile::tempdir().unwrap();
    let renamed = read("README.md").replace("open g --json", "open g --as-json");
    assert_ne!(renamed, read("README.md"), "the README opens g with --json");
    let docs = [("README", renamed)];
    let run = std::panic::catch_unwind(|| cases(scratch.path(), &docs).run());
    assert!(run.is_err(), "a README with a renamed flag passed");
}

/// A report as a sharded S3 run on a peer left it, with two failures: the
/// summary's every part shows (the revision fixed, so the snapshot holds).
fn failing_report() -> stampede_harness::report::Report {
    use stampede_harness::budgets::Budgets;
    use stampede_harness::report::Report;
    use stampede_harness::tally::CampaignResult;
    use stampede_harness::verdict::{Campaign, Failure};
    let result = |campaign, units, ops, seconds, failures: Vec<Failure>| {
        let mut result: CampaignResult = serde_json::from_value(serde_json::json!({
            "campaign": campaign, "units": units, "ops": ops, "faulted_ops": 0,
            "failures": [], "seconds": seconds, "crash": [],
        }))
        .expect("a campaign result");
        result.failures = failures;
        result
    };
    let failure = |campaign, unit, replay: &str, message: &str| Failure {
        campaign,
        unit,
        replay: replay.into(),
        message: message.into(),
        divergence: None,
    };
    let budgets = Budgets {
        seed: 7,
        engine_cmd: Some("my-engine serve".into()),
        s3: Some(stampede_harness::place::S3Place {
            prefix: None,
            options: Default::default(),
            server: Some(stampede_harness::place::Kind::SeaweedFs),
        }),
        ..Default::default()
    };
    let mut report = Report::new(
        &budgets,
        2,
        vec![
            result(
                "sequential",
                40,
                812,
                10.5,
                vec![failure(
                    Campaign::Sequential,
                    17,
                    "seq:0b331645445bcd27:30",
                    "outcome of Open(ReadWrite) (engine left, model right)\n  left: ...",
                )],
            ),
            result(
                "concurrent",
                12,
                60,
                8.25,
                vec![failure(
                    Campaign::Concurrent,
                    3,
                    "concurrent:7:3:5:tasks:pct3:4@0.1.0",
                    "no serial order explains the round\n  setup: None",
                )],
            ),
        ],
    );
    report.revision = "0123456789ab".into();
    report.shard = Some([2, 4]);
    report
}

#[test]
fn the_summary_of_a_failing_report_is_pinned() {
    let report = failing_report();
    assert!(!report.passed, "the report has failures");
    insta::with_settings!({snapshot_path => "../../../snapshots", prepend_module_to_snapshot => false}, {
        insta::assert_snapshot!("summary_markdown", stampede_harness::summary::render(&report, true));
        insta::assert_snapshot!("summary_text", stampede_harness::summary::render(&report, false));
    });
}
