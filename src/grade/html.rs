//! `scorecard.html`: one self-contained page (inline CSS, no network) — the verdicts, and for
//! each failed question its evidence, why the rule is right, and a link to its run's report.

use std::fmt::Write as _;
use std::io::{self, Write};

use super::scorecard::{evidence_lines, mark, Scorecard};

fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// Writes the scorecard page.
pub fn write_html<W: Write>(card: &Scorecard, mut out: W) -> io::Result<()> {
    let (passed, asked) = card.tally();
    let mut h = String::new();
    let _ = write!(
        h,
        r#"<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>Gauntlet scorecard: {system}</title>
<style>
body {{ font-family: sans-serif; margin: 2em auto; max-width: 1040px; color: #222; }}
table {{ border-collapse: collapse; margin: 1em 0; }} td, th {{ border: 1px solid #ccc; padding: 4px 10px; text-align: left; vertical-align: top; }}
th {{ background: #f3f3f3; }} .pass {{ color: #176a17; font-weight: bold; }} .FAIL {{ color: #b00; font-weight: bold; }}
.why {{ color: #444; }} code {{ background: #f6f6f6; }}
</style></head><body>
<h1>Scorecard</h1>
<p><code>{system}</code>: {passed} of {asked} questions passed.</p>
<table><tr><th>question</th><th>result</th><th>measured</th></tr>
"#,
        system = esc(&card.system),
    );
    for a in &card.answers {
        let m = mark(a.verdict.pass);
        let _ = writeln!(
            h,
            r##"<tr><td><a href="#{id}">{title}</a></td><td class="{m}">{m}</td><td>{measured}</td></tr>"##,
            id = a.question.id(),
            title = esc(a.question.title()),
            measured = esc(&a.verdict.measured),
        );
    }
    h.push_str("</table>\n");
    for a in &card.answers {
        let m = mark(a.verdict.pass);
        let _ = writeln!(
            h,
            r#"<h2 id="{id}">{title} <span class="{m}">{m}</span></h2><p>{measured}</p>"#,
            id = a.question.id(),
            title = esc(a.question.title()),
            measured = esc(&a.verdict.measured),
        );
        if !a.verdict.pass {
            h.push_str("<ul>\n");
            for line in evidence_lines(&a.verdict.evidence) {
                let _ = writeln!(h, "<li>{}</li>", esc(&line));
            }
            h.push_str("</ul>\n");
        }
        let _ = writeln!(
            h,
            r#"<p class="why">{why}</p><p>Scenario <code>{scenario}</code>; the run's report: <a href="{dir}/report.html">{dir}/report.html</a></p>"#,
            why = esc(a.question.why()),
            scenario = a.question.scenario_path(),
            dir = esc(&a.run_dir),
        );
    }
    h.push_str("</body></html>\n");
    out.write_all(h.as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_page_is_escaped_and_links_each_run() {
        let mut out = Vec::new();
        write_html(&super::super::scorecard::tests::sample(), &mut out).unwrap();
        let h = String::from_utf8(out).unwrap();
        assert!(h.contains("1 of 2 questions passed"), "{h}");
        assert!(
            h.contains(r#"href="outage_amplification/report.html""#),
            "{h}"
        );
        assert!(h.contains("&lt;b&gt;") && !h.contains("<b>"), "{h}");
        assert!(h.contains("upstream attempts: 120"), "{h}");
    }
}
