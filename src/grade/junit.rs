//! `junit.xml`: one test case per question, so CI systems show the scorecard as tests; a
//! failure's message is the rule's measurement and its text the evidence and why.

use std::io::{self, Write};

use super::scorecard::{evidence_lines, Scorecard};

fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
        .replace('\'', "&apos;")
}

/// Writes the scorecard as JUnit XML.
pub fn write_junit<W: Write>(card: &Scorecard, mut out: W) -> io::Result<()> {
    let (passed, asked) = card.tally();
    let failures = asked - passed;
    let time: f64 = card.answers.iter().map(|a| a.seconds).sum();
    writeln!(out, r#"<?xml version="1.0" encoding="UTF-8"?>"#)?;
    writeln!(
        out,
        r#"<testsuites name="gauntlet grade" tests="{asked}" failures="{failures}">"#
    )?;
    writeln!(
        out,
        r#"  <testsuite name="{}" tests="{asked}" failures="{failures}" errors="0" time="{time:.3}">"#,
        escape(&card.system)
    )?;
    for a in &card.answers {
        write!(
            out,
            r#"    <testcase classname="gauntlet.grade" name="{}" time="{:.3}""#,
            a.question.id(),
            a.seconds
        )?;
        if a.verdict.pass {
            writeln!(out, "/>")?;
            continue;
        }
        let mut text = evidence_lines(&a.verdict.evidence).join("\n");
        text.push_str(&format!(
            "\nthe run's report: {}\nwhy: {}",
            a.run_dir,
            a.question.why()
        ));
        writeln!(out, ">")?;
        writeln!(
            out,
            r#"      <failure message="{}" type="{}">{}</failure>"#,
            escape(&a.verdict.measured),
            a.question.id(),
            escape(&text)
        )?;
        writeln!(out, "    </testcase>")?;
    }
    writeln!(out, "  </testsuite>")?;
    writeln!(out, "</testsuites>")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_case_per_question_and_escaped() {
        let mut out = Vec::new();
        write_junit(&super::super::scorecard::tests::sample(), &mut out).unwrap();
        let x = String::from_utf8(out).unwrap();
        assert_eq!(x.matches("<testcase ").count(), 2, "{x}");
        assert_eq!(x.matches("<failure ").count(), 1, "{x}");
        assert!(x.contains(r#"tests="2" failures="1""#), "{x}");
        assert!(
            x.contains("&lt;b&gt;") && x.contains("&amp; &lt;x&gt;"),
            "{x}"
        );
        assert!(!x.contains("<b>"), "{x}");
    }
}
