#![allow(dead_code)]
//! Helpers shared by the harness's integration tests.

use std::path::Path;

pub mod held;
pub mod live_check;
pub mod paused;

use stampede_harness::report::Report;

/// A `stampede verify --json` (or `report merge --json`) report.
pub fn read_report(path: &Path) -> Report {
    Report::read(path).unwrap_or_else(|e| panic!("{e}"))
}

/// One `<testsuite>` of a JUnit report: its passing cases and failures.
#[derive(Debug, Default)]
pub struct Suite {
    pub name: String,
    pub passing: usize,
    /// (test case name, failure message) of each failing case.
    pub failures: Vec<(String, String)>,
    /// (test case name, skip message) of each skipped case: a unit an
    /// open finding explains.
    pub skipped: Vec<(String, String)>,
}

/// Parse a JUnit report as CI systems read it, checking its structure:
/// `testsuites` > `testsuite` (`name`, `tests`, `failures`) > `testcase`
/// (`classname`, `name`) > optional `failure` or `skipped` (`message`).
pub fn junit_suites(xml: &str) -> Vec<Suite> {
    use quick_xml::events::Event;
    let mut reader = quick_xml::Reader::from_str(xml);
    let mut suites: Vec<Suite> = Vec::new();
    let mut declared: Vec<(usize, usize, usize)> = Vec::new();
    let mut path: Vec<String> = Vec::new();
    let mut case = String::new();
    let mut in_failure = false;
    loop {
        let event = reader.read_event().expect("well-formed XML");
        let (start, empty) = match &event {
            Event::Start(e) => (Some(e.clone()), false),
            Event::Empty(e) => (Some(e.clone()), true),
            _ => (None, false),
        };
        if let Some(e) = start {
            let name = String::from_utf8(e.name().as_ref().to_vec()).unwrap();
            let attr = |key: &str| {
                e.attributes()
                    .map(|a| a.expect("an attribute"))
                    .find(|a| a.key.as_ref() == key.as_bytes())
                    .map(|a| a.unescape_value().expect("text").into_owned())
            };
            let parent = path.last().map(String::as_str);
            match (parent, name.as_str()) {
                (None, "testsuites") => {}
                (Some("testsuites"), "testsuite") => {
                    let number = |key| attr(key).expect(key).parse::<usize>().expect(key);
                    let skipped = attr("skipped").map_or(0, |n| n.parse().expect("skipped"));
                    declared.push((number("tests"), number("failures"), skipped));
                    suites.push(Suite {
                        name: attr("name").expect("a suite name"),
                        ..Suite::default()
                    });
                }
                (Some("testsuite"), "properties") | (Some("properties"), "property") => {}
                (Some("testsuite"), "testcase") => {
                    assert!(attr("classname").is_some());
                    case = attr("name").expect("a case name");
                    if empty {
                        suites.last_mut().unwrap().passing += 1;
                    }
                }
                (Some("testcase"), verdict @ ("failure" | "skipped")) => {
                    let message = attr("message").expect("a message");
                    let suite = suites.last_mut().unwrap();
                    let cases = match verdict {
                        "failure" => &mut suite.failures,
                        _ => &mut suite.skipped,
                    };
                    cases.push((case.clone(), message));
                    in_failure = verdict == "failure" && !empty;
                }
                other => panic!("unexpected element {other:?}"),
            }
            if !empty {
                path.push(name);
            }
            continue;
        }
        match event {
            Event::End(_) => {
                let closed = path.pop();
                in_failure &= closed.as_deref() != Some("failure");
            }
            Event::Eof => break,
            _ => {}
        }
    }
    assert!(
        !in_failure && path.is_empty(),
        "unclosed elements: {path:?}"
    );
    assert_counts(&suites, &declared);
    suites
}

/// Each suite's declared `tests`, `failures` and `skipped` are its cases.
fn assert_counts(suites: &[Suite], declared: &[(usize, usize, usize)]) {
    for (suite, &(tests, failures, skipped)) in suites.iter().zip(declared) {
        let cases = suite.passing + suite.failures.len() + suite.skipped.len();
        assert_eq!(tests, cases, "{suite:?}");
        assert_eq!(failures, suite.failures.len(), "{suite:?}");
        assert_eq!(skipped, suite.skipped.len(), "{suite:?}");
    }
}
