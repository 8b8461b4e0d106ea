//! `--junit FILE`: the verify report as JUnit XML, which the common CI
//! systems render natively. One `<testsuite>` per campaign, holding one
//! passing `<testcase>` for the campaign's budget and one failing
//! `<testcase>` per failure, named by its replay token. The exit code stays
//! the gate; this is for people reading the CI run.

use quick_xml::events::{BytesDecl, BytesText, Event};
use quick_xml::Writer;

use crate::report::Report;

/// The report as a JUnit XML document.
pub fn render(report: &Report) -> String {
    let mut writer = Writer::new_with_indent(Vec::new(), b' ', 2);
    write(&mut writer, report).expect("writing to memory cannot fail");
    String::from_utf8(writer.into_inner()).expect("the writer emits UTF-8")
}

fn write(writer: &mut Writer<Vec<u8>>, report: &Report) -> std::io::Result<()> {
    writer.write_event(Event::Decl(BytesDecl::new("1.0", Some("UTF-8"), None)))?;
    let cases = |r: &crate::tally::CampaignResult| r.failures.len() + 1;
    let tests: usize = report.results.iter().map(cases).sum();
    let failures: usize = report.results.iter().map(|r| r.failures.len()).sum();
    let seconds: f64 = report.results.iter().map(|r| r.seconds).sum();
    let b = &report.budgets;
    writer
        .create_element("testsuites")
        .with_attribute(("name", "stampede verify"))
        .with_attribute(("tests", tests.to_string().as_str()))
        .with_attribute(("failures", failures.to_string().as_str()))
        .with_attribute(("time", format!("{seconds:.3}").as_str()))
        .write_inner_content(|w| {
            for result in &report.results {
                let name = result.campaign.name();
                let class = format!("stampede.{name}");
                w.create_element("testsuite")
                    .with_attribute(("name", name))
                    .with_attribute(("tests", cases(result).to_string().as_str()))
                    .with_attribute(("failures", result.failures.len().to_string().as_str()))
                    .with_attribute(("errors", "0"))
                    .with_attribute(("time", format!("{:.3}", result.seconds).as_str()))
                    .write_inner_content(|w| {
                        w.create_element("properties").write_inner_content(|w| {
                            for (key, value) in [
                                ("seed", b.seed.to_string()),
                                ("revision", report.revision.clone()),
                                ("units", result.units.to_string()),
                                ("ops", result.ops.to_string()),
                            ] {
                                w.create_element("property")
                                    .with_attribute(("name", key))
                                    .with_attribute(("value", value.as_str()))
                                    .write_empty()?;
                            }
                            Ok::<_, std::io::Error>(())
                        })?;
                        // The campaign's budget, run: passes when nothing failed.
                        w.create_element("testcase")
                            .with_attribute(("classname", class.as_str()))
                            .with_attribute((
                                "name",
                                format!("{name}: {} {}", result.units, result.campaign.unit())
                                    .as_str(),
                            ))
                            .with_attribute(("time", format!("{:.3}", result.seconds).as_str()))
                            .write_empty()?;
                        for failure in &result.failures {
                            w.create_element("testcase")
                                .with_attribute(("classname", class.as_str()))
                                .with_attribute(("name", failure.replay.as_str()))
                                .write_inner_content(|w| {
                                    w.create_element("failure")
                                        .with_attribute(("type", name))
                                        .with_attribute((
                                            "message",
                                            report.replay_line(failure).as_str(),
                                        ))
                                        .write_text_content(BytesText::new(&format!(
                                            "{}\n{}",
                                            failure.message,
                                            report.replay_line(failure)
                                        )))?;
                                    Ok::<_, std::io::Error>(())
                                })?;
                        }
                        Ok::<_, std::io::Error>(())
                    })?;
            }
            Ok::<_, std::io::Error>(())
        })?;
    Ok(())
}
