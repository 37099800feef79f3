//! The scorecard: every question's verdict for one system, and the terminal table and
//! `scorecard.md` made from it (`junit.xml` and `scorecard.html` are in their own files).

use std::io::{self, Write};

use serde::Serialize;

use super::question::Question;
use super::rule::{Evidence, Verdict};

/// One question's result, with where its run's report is.
#[derive(Debug, Clone, Serialize)]
pub struct Answer {
    /// The question.
    #[serde(serialize_with = "question_id")]
    pub question: Question,
    /// Its rule's verdict.
    #[serde(flatten)]
    pub verdict: Verdict,
    /// The run's report directory, relative to the scorecard's.
    pub run_dir: String,
    /// Seconds the run took.
    pub seconds: f64,
}

fn question_id<S: serde::Serializer>(q: &Question, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(q.id())
}

/// Every asked question's result for one system; `scorecard.json` is this, serialised.
#[derive(Debug, Clone, Serialize)]
pub struct Scorecard {
    /// What was graded: the `[system]` command or URL.
    pub system: String,
    /// One per question asked, in [`Question::ALL`]'s order.
    pub answers: Vec<Answer>,
}

impl Scorecard {
    /// Whether every question asked passed.
    pub fn passed(&self) -> bool {
        self.answers.iter().all(|a| a.verdict.pass)
    }

    /// Passed and asked.
    pub fn tally(&self) -> (usize, usize) {
        let passed = self.answers.iter().filter(|a| a.verdict.pass).count();
        (passed, self.answers.len())
    }
}

/// `pass` or `FAIL`.
pub(crate) fn mark(pass: bool) -> &'static str {
    if pass {
        "pass"
    } else {
        "FAIL"
    }
}

/// The evidence as lines of text (no markup).
pub(crate) fn evidence_lines(e: &Evidence) -> Vec<String> {
    let mut lines = Vec::new();
    if let Some((from, until)) = e.interval {
        lines.push(format!("interval: {from:.2} s to {until:.2} s of the run"));
    }
    for (k, v) in &e.counts {
        lines.push(format!("{k}: {v}"));
    }
    if let Some(x) = &e.example {
        lines.push(format!("example request: {x}"));
    }
    lines
}

/// The terminal table: one line per question, then the failed ones' evidence.
pub fn write_table<W: Write>(card: &Scorecard, mut out: W) -> io::Result<()> {
    let width = Question::ALL
        .iter()
        .map(|q| q.id().len())
        .max()
        .unwrap_or(0);
    writeln!(out, "scorecard  {}", card.system)?;
    for a in &card.answers {
        writeln!(
            out,
            "  {:<width$}  {}  {}",
            a.question.id(),
            mark(a.verdict.pass),
            a.verdict.measured
        )?;
    }
    let (passed, asked) = card.tally();
    writeln!(out, "  {passed} of {asked} passed")?;
    for a in card.answers.iter().filter(|a| !a.verdict.pass) {
        writeln!(out, "{} ({}):", a.question.id(), a.run_dir)?;
        for line in evidence_lines(&a.verdict.evidence) {
            writeln!(out, "    {line}")?;
        }
    }
    Ok(())
}

/// Escapes `|` so a cell cannot end a Markdown table's column.
fn cell(s: &str) -> String {
    s.replace('|', "\\|").replace('\n', " ")
}

/// `scorecard.md`: the table, then per failed question the evidence and why the rule is right.
pub fn write_markdown<W: Write>(card: &Scorecard, mut out: W) -> io::Result<()> {
    let (passed, asked) = card.tally();
    writeln!(out, "# Scorecard: {}\n", cell(&card.system))?;
    writeln!(out, "{passed} of {asked} questions passed.\n")?;
    writeln!(out, "| question | result | measured | scenario |")?;
    writeln!(out, "| --- | --- | --- | --- |")?;
    for a in &card.answers {
        writeln!(
            out,
            "| {} | {} | {} | `{}` |",
            cell(a.question.title()),
            mark(a.verdict.pass),
            cell(&a.verdict.measured),
            a.question.scenario_path()
        )?;
    }
    for a in card.answers.iter().filter(|a| !a.verdict.pass) {
        writeln!(out, "\n## {}: {}\n", a.question.id(), a.question.title())?;
        writeln!(out, "{}\n", a.verdict.measured)?;
        for line in evidence_lines(&a.verdict.evidence) {
            writeln!(out, "- {}", cell(&line))?;
        }
        writeln!(out, "- the run's report: `{}`\n", a.run_dir)?;
        writeln!(out, "Why: {}", a.question.why())?;
    }
    Ok(())
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// A scorecard with one pass and one failure, for the writers' tests.
    pub(crate) fn sample() -> Scorecard {
        let ok = Verdict {
            pass: true,
            measured: "0 retries came early (want 0)".into(),
            evidence: Evidence::default(),
        };
        let bad = Verdict {
            pass: false,
            measured: "3.00 upstream attempts per caller request | <b>".into(),
            evidence: Evidence {
                interval: Some((1.0, 5.0)),
                counts: vec![("upstream attempts".into(), "120".into())],
                example: Some("at 1.2 s: /v1/chat/completions from key key#1a2b3c4d".into()),
            },
        };
        Scorecard {
            system: "python app.py & <x>".into(),
            answers: vec![
                Answer {
                    question: Question::RetryAfter,
                    verdict: ok,
                    run_dir: "retry_after".into(),
                    seconds: 5.0,
                },
                Answer {
                    question: Question::OutageAmplification,
                    verdict: bad,
                    run_dir: "outage_amplification".into(),
                    seconds: 6.0,
                },
            ],
        }
    }

    #[test]
    fn the_table_and_markdown_show_failures_with_evidence() {
        let card = sample();
        let mut t = Vec::new();
        write_table(&card, &mut t).unwrap();
        let t = String::from_utf8(t).unwrap();
        assert!(
            t.contains("retry_after") && t.contains("1 of 2 passed"),
            "{t}"
        );
        assert!(t.contains("upstream attempts: 120"), "{t}");
        let mut m = Vec::new();
        write_markdown(&card, &mut m).unwrap();
        let m = String::from_utf8(m).unwrap();
        assert!(m.contains("| honours Retry-After | pass |"), "{m}");
        assert!(
            m.contains("request \\| <b>"),
            "a pipe cannot break the table: {m}"
        );
        assert!(
            m.contains("## outage_amplification") && m.contains("Why: "),
            "{m}"
        );
        assert!(!m.contains("## retry_after"), "{m}");
        let json = serde_json::to_value(&card).unwrap();
        assert_eq!(json["answers"][1]["question"], "outage_amplification");
        assert_eq!(json["answers"][1]["pass"], false);
    }
}
