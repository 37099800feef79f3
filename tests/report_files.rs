//! The report files of a run: charts decode at their size, the HTML is self-contained, and
//! (where Chromium is installed) a real browser renders it to something that is not blank.

use std::path::{Path, PathBuf};
use std::process::Command;

const BIN: &str = env!("CARGO_BIN_EXE_gauntlet");

fn report(name: &str) -> PathBuf {
    let out = std::env::temp_dir().join(format!("gauntlet-report-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&out);
    let st = Command::new(BIN)
        .args(["run", "--sim", "--quiet", "--out"])
        .arg(&out)
        .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios/canonical.toml"))
        .output()
        .unwrap();
    assert_eq!(
        st.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&st.stderr)
    );
    out
}

#[test]
fn charts_decode_and_the_html_is_self_contained() {
    let dir = report("files");
    for (name, w, h) in [
        ("latency_over_time", 1000, 560),
        ("percentiles", 1000, 560),
        ("throughput_by_outcome", 1000, 560),
        ("client_insides", 1000, 840),
        ("upstream_view", 1000, 560),
        ("tokens_over_time", 1000, 840),
    ] {
        let img = image::open(dir.join(format!("{name}.png"))).unwrap();
        assert_eq!((img.width(), img.height()), (w, h), "{name}.png");
        let svg = std::fs::read_to_string(dir.join(format!("{name}.svg"))).unwrap();
        assert!(
            svg.contains("<svg") && svg.contains("<text"),
            "{name}.svg has text"
        );
    }
    let html = std::fs::read_to_string(dir.join("report.html")).unwrap();
    assert_eq!(html.matches("<svg").count(), 6);
    for external in ["<script", "<link", "<img", "src=", "url("] {
        assert!(
            !html.contains(external),
            "report.html refers to something outside: {external}"
        );
    }
    assert!(html.contains("Poisson load ramping"), "the story is there");
    assert!(html.contains("outage 503"), "the fault timeline is there");
}

/// Chromium renders the report; the screenshot must not be blank. `.ci/run` installs Chromium and
/// sets GAUNTLET_REQUIRE_BROWSER=1, so CI never skips this.
#[test]
fn a_real_browser_renders_the_report() {
    let chromium = ["chromium", "chromium-browser"].into_iter().find(|c| {
        Command::new(c)
            .arg("--version")
            .output()
            .is_ok_and(|o| o.status.success())
    });
    let Some(chromium) = chromium else {
        assert!(
            std::env::var_os("GAUNTLET_REQUIRE_BROWSER").is_none(),
            "GAUNTLET_REQUIRE_BROWSER is set but no chromium is installed"
        );
        eprintln!("skipped: no chromium on PATH (apt-get install chromium)");
        return;
    };
    let dir = report("browser");
    let shot = dir.join("screenshot.png");
    let profile = dir.join("chromium-profile");
    let out = Command::new(chromium)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--no-first-run",
            "--window-size=1100,2400",
        ])
        .arg(format!("--user-data-dir={}", profile.display()))
        .arg(format!("--screenshot={}", shot.display()))
        .arg(format!("file://{}", dir.join("report.html").display()))
        .output()
        .unwrap();
    assert!(
        shot.exists(),
        "no screenshot: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let img = image::open(&shot).unwrap().to_rgb8();
    let total = u64::from(img.width()) * u64::from(img.height());
    let ink = img
        .pixels()
        .filter(|p| p.0.iter().any(|c| *c < 200))
        .count() as u64;
    assert!(
        ink * 100 > total,
        "the screenshot is blank ({ink} of {total} pixels have ink)"
    );
}

/// `gauntlet report DIR` rebuilds every file from summary.json, timeseries.csv, latency.hlog and
/// histograms.hlog.
#[test]
fn report_rebuilds_every_file_from_the_recorded_data() {
    let dir = report("rebuild");
    let keep = [
        "summary.json",
        "timeseries.csv",
        "latency.hlog",
        "histograms.hlog",
    ];
    let mut before = std::collections::BTreeMap::new();
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_string_lossy().to_string();
        before.insert(name.clone(), std::fs::read(&path).unwrap());
        if !keep.contains(&name.as_str()) {
            std::fs::remove_file(&path).unwrap();
        }
    }
    let st = Command::new(BIN).arg("report").arg(&dir).output().unwrap();
    assert_eq!(
        st.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&st.stderr)
    );
    for (name, bytes) in &before {
        let now =
            std::fs::read(dir.join(name)).unwrap_or_else(|_| panic!("{name} was not rebuilt"));
        // Text files whose figures survive the CSV's 3 decimals come back byte for byte.
        if [
            "summary.json",
            "summary.md",
            "junit.xml",
            "latency.hgrm",
            "latency.hlog",
            "histograms.hlog",
            "timeseries.csv",
        ]
        .contains(&name.as_str())
        {
            assert!(&now == bytes, "{name} differs after `gauntlet report`");
        }
    }
    let bad = Command::new(BIN)
        .arg("report")
        .arg(dir.join("nothing"))
        .output()
        .unwrap();
    assert_eq!(bad.status.code(), Some(2));
}
