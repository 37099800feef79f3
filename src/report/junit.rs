//! `junit.xml`: one test case per threshold, so CI systems show a run's thresholds as tests,
//! failures with the actual value against the limit.

use std::io::{self, Write};

use super::summary::Summary;
use super::table::threshold_actual;

fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
        .replace('\'', "&apos;")
}

/// Writes the JUnit XML report.
pub fn write_junit<W: Write>(s: &Summary, mut out: W) -> io::Result<()> {
    let failures = s.thresholds.iter().filter(|t| !t.pass).count();
    writeln!(out, r#"<?xml version="1.0" encoding="UTF-8"?>"#)?;
    writeln!(
        out,
        r#"<testsuites name="gauntlet" tests="{}" failures="{failures}">"#,
        s.thresholds.len()
    )?;
    writeln!(
        out,
        r#"  <testsuite name="{}" tests="{}" failures="{failures}" errors="0" time="{:.3}">"#,
        escape(&s.scenario),
        s.thresholds.len(),
        s.duration_s
    )?;
    for t in &s.thresholds {
        let name = format!("{} {} {}", t.metric, t.op, t.limit);
        write!(
            out,
            r#"    <testcase classname="gauntlet.{}" name="{}""#,
            escape(&s.scenario),
            escape(&name)
        )?;
        if t.pass {
            writeln!(out, "/>")?;
        } else {
            let msg = format!(
                "{}: actual {}, limit {} {}",
                t.metric,
                threshold_actual(t),
                t.op,
                t.limit
            );
            writeln!(out, ">")?;
            writeln!(
                out,
                r#"      <failure message="{}" type="threshold">{}</failure>"#,
                escape(&msg),
                escape(&msg)
            )?;
            writeln!(out, "    </testcase>")?;
        }
    }
    writeln!(out, "  </testsuite>")?;
    writeln!(out, "</testsuites>")
}
