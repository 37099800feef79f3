//! The sweep's Pareto chart as a small self-contained SVG: p99 latency against error rate, one
//! labelled point per combination, the Pareto front drawn as a line. SVG text is rendered by
//! whatever displays it, so no font has to be embedded.

use std::fmt::Write as _;
use std::io::{self, Write};

/// One point of the chart.
#[derive(Debug, Clone, PartialEq)]
pub struct ParetoPoint {
    /// Its label (the combination's settings).
    pub label: String,
    /// p99, ms.
    pub p99_ms: f64,
    /// Error rate, 0..=1.
    pub error_rate: f64,
    /// On the front.
    pub front: bool,
}

fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// Writes the chart.
pub fn write_pareto_svg<W: Write>(
    title: &str,
    points: &[ParetoPoint],
    mut out: W,
) -> io::Result<()> {
    let (w, h) = (960.0, 640.0);
    let (left, right, top, bottom) = (90.0, 40.0, 60.0, 70.0);
    let max_x = points
        .iter()
        .map(|p| p.error_rate * 100.0)
        .fold(0.0, f64::max)
        .max(1e-9)
        * 1.1;
    let max_y = points
        .iter()
        .map(|p| p.p99_ms)
        .fold(0.0, f64::max)
        .max(1e-9)
        * 1.1;
    let x = |v: f64| left + v / max_x * (w - left - right);
    let y = |v: f64| h - bottom - v / max_y * (h - top - bottom);
    let mut s = String::new();
    let _ = writeln!(
        s,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{w}" height="{h}" viewBox="0 0 {w} {h}" font-family="sans-serif" font-size="12">"#
    );
    let _ = writeln!(s, r#"<rect width="{w}" height="{h}" fill="white"/>"#);
    let _ = writeln!(
        s,
        r#"<text x="{}" y="30" font-size="18" text-anchor="middle">{}</text>"#,
        w / 2.0,
        escape(title)
    );
    // Axes and ticks.
    let _ = writeln!(
        s,
        r#"<line x1="{left}" y1="{}" x2="{}" y2="{}" stroke="black"/><line x1="{left}" y1="{top}" x2="{left}" y2="{}" stroke="black"/>"#,
        h - bottom,
        w - right,
        h - bottom,
        h - bottom
    );
    for i in 0..=5 {
        let vx = max_x * f64::from(i) / 5.0;
        let vy = max_y * f64::from(i) / 5.0;
        let _ = writeln!(
            s,
            r#"<text x="{:.1}" y="{}" text-anchor="middle">{vx:.2}</text><text x="{}" y="{:.1}" text-anchor="end">{vy:.0}</text>"#,
            x(vx),
            h - bottom + 18.0,
            left - 8.0,
            y(vy) + 4.0
        );
    }
    let _ = writeln!(
        s,
        r#"<text x="{}" y="{}" text-anchor="middle">error rate (%)</text>"#,
        (left + w - right) / 2.0,
        h - 20.0
    );
    let _ = writeln!(
        s,
        r#"<text x="20" y="{}" text-anchor="middle" transform="rotate(-90 20 {})">p99 latency (ms)</text>"#,
        (top + h - bottom) / 2.0,
        (top + h - bottom) / 2.0
    );
    // The front, left to right.
    let mut front: Vec<&ParetoPoint> = points.iter().filter(|p| p.front).collect();
    front.sort_by(|a, b| a.error_rate.total_cmp(&b.error_rate));
    if front.len() > 1 {
        let path: Vec<String> = front
            .iter()
            .map(|p| format!("{:.1},{:.1}", x(p.error_rate * 100.0), y(p.p99_ms)))
            .collect();
        let _ = writeln!(
            s,
            r##"<polyline points="{}" fill="none" stroke="#d62728" stroke-width="2"/>"##,
            path.join(" ")
        );
    }
    for p in points {
        let (cx, cy) = (x(p.error_rate * 100.0), y(p.p99_ms));
        let colour = if p.front { "#d62728" } else { "#1f77b4" };
        let _ = writeln!(
            s,
            r#"<circle cx="{cx:.1}" cy="{cy:.1}" r="5" fill="{colour}"/><text x="{:.1}" y="{:.1}" font-size="10">{}</text>"#,
            cx + 7.0,
            cy - 7.0,
            escape(&p.label)
        );
    }
    let _ = writeln!(
        s,
        r##"<text x="{}" y="{}" text-anchor="end" fill="#d62728">red: Pareto front (no other setting has both lower p99 and lower error rate)</text>"##,
        w - right,
        top - 10.0
    );
    s.push_str("</svg>\n");
    out.write_all(s.as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn draws_every_point_and_the_front() {
        let pts = vec![
            ParetoPoint {
                label: "a=1".into(),
                p99_ms: 100.0,
                error_rate: 0.05,
                front: true,
            },
            ParetoPoint {
                label: "a=2".into(),
                p99_ms: 300.0,
                error_rate: 0.01,
                front: true,
            },
            ParetoPoint {
                label: "a=3 <x>".into(),
                p99_ms: 400.0,
                error_rate: 0.06,
                front: false,
            },
        ];
        let mut out = Vec::new();
        write_pareto_svg("sweep", &pts, &mut out).unwrap();
        let svg = String::from_utf8(out).unwrap();
        assert_eq!(svg.matches("<circle").count(), 3);
        assert_eq!(svg.matches("<polyline").count(), 1);
        assert!(svg.contains("a=3 &lt;x&gt;"));
        assert!(svg.starts_with("<svg") && svg.trim_end().ends_with("</svg>"));
    }
}
