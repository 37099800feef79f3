use super::*;

/// A trace file of `text` in a fresh directory.
fn file(name: &str, text: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("gauntlet-trace-{}-{name}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("t.jsonl");
    std::fs::write(&path, text).unwrap();
    path
}

fn read(spec: &TraceSpec, until: u64) -> Result<Vec<TraceLine>, TraceError> {
    TraceReader::open(spec, 7, Duration::from_secs(until))?.collect()
}

#[test]
fn times_are_offsets_over_speed_in_order() {
    let path = file(
        "order",
        "{\"offset\": 0}\n\n{\"offset\": 1.0, \"session\": \"a\"}\n{\"offset\": 0.5}\n",
    );
    let mut spec = TraceSpec::of(&path);
    spec.speed = 2.0;
    let lines = read(&spec, 60).unwrap();
    let at: Vec<_> = lines.iter().map(|l| (l.line, l.at.as_millis())).collect();
    assert_eq!(at, [(1, 0), (4, 250), (3, 500)]);
    assert_eq!(lines[2].session, "a");
    assert_eq!(lines[1].session, "line-4");
}

#[test]
fn timestamps_count_from_the_first_line() {
    let path = file(
        "stamps",
        "{\"timestamp\": \"2026-05-01T12:00:00Z\"}\n{\"timestamp\": 1777636801.5}\n",
    );
    let lines = read(&TraceSpec::of(&path), 60).unwrap();
    assert_eq!(lines[1].at, Duration::from_millis(1500));
}

#[test]
fn a_looped_trace_runs_until_the_end_with_sessions_of_their_own() {
    let path = file(
        "loop",
        "{\"offset\": 0, \"session\": \"a\"}\n{\"offset\": 1, \"session\": \"a\"}\n",
    );
    let mut spec = TraceSpec::of(&path);
    spec.looped = true;
    // Period: the last offset plus the mean gap, 2 s; laps start at 0, 2 and 4 s (before 5 s).
    let lines = read(&spec, 5).unwrap();
    let at: Vec<_> = lines.iter().map(|l| l.at.as_secs()).collect();
    assert_eq!(at, [0, 1, 2, 3, 4, 5]);
    assert_eq!(lines[2].session, "a#1");
    assert_eq!(lines[5].lap, 2);
}

#[test]
fn sampling_keeps_whole_sessions_and_about_the_share() {
    let text: String = (0..2000)
        .map(|i| {
            format!(
                "{{\"offset\": {}, \"session\": \"s{}\"}}\n",
                i as f64 / 100.0,
                i / 4
            )
        })
        .collect();
    let path = file("sample", &text);
    let mut spec = TraceSpec::of(&path);
    spec.sample = 0.25;
    let lines = read(&spec, 60).unwrap();
    let mut per = std::collections::HashMap::new();
    for l in &lines {
        *per.entry(l.session.clone()).or_insert(0) += 1;
    }
    assert!(per.values().all(|n| *n == 4), "a session cut in part");
    assert!(
        (90..=160).contains(&per.len()),
        "{} of 500 sessions",
        per.len()
    );
    // The same seed keeps the same sessions.
    assert_eq!(read(&spec, 60).unwrap(), lines);
}

#[test]
fn a_bad_line_names_its_line_and_column() {
    let path = file(
        "bad",
        "{\"offset\": 0}\n{\"offset\": 1}\n{\"offset\": 2, \"strem\": true}\n",
    );
    let e = read(&TraceSpec::of(&path), 60).unwrap_err().to_string();
    assert!(e.starts_with(&format!("{}:3:", path.display())), "{e}");
    assert!(e.contains("strem"), "{e}");
    let path = file("syntax", "{\"offset\": 0}\n{\"offset\": 1,\n");
    let e = read(&TraceSpec::of(&path), 60).unwrap_err().to_string();
    assert!(e.contains(":2:"), "{e}");
    let path = file("route", "{\"offset\": 0, \"route\": \"images\"}\n");
    let e = check_trace(&TraceSpec::of(&path), 1)
        .unwrap_err()
        .to_string();
    assert!(e.contains(":1:1: route"), "{e}");
    let path = file("empty", "\n\n");
    assert!(matches!(
        check_trace(&TraceSpec::of(&path), 1),
        Err(TraceError::Empty { .. })
    ));
    let missing = TraceSpec::of("/nonexistent/trace.jsonl");
    assert!(matches!(
        check_trace(&missing, 1),
        Err(TraceError::Io { .. })
    ));
}

#[test]
fn out_of_order_beyond_the_window_is_an_error_within_it_is_sorted() {
    let mut text = String::from("{\"offset\": 5}\n");
    for i in 0..10 {
        text.push_str(&format!("{{\"offset\": {}}}\n", 5.0 + i as f64));
    }
    text.push_str("{\"offset\": 1}\n");
    let lines = read(&TraceSpec::of(file("near", &text)), 60).unwrap();
    assert_eq!(lines[0].line, 12);
    let mut far = String::new();
    for i in 0..REORDER_LINES + 5 {
        far.push_str(&format!("{{\"offset\": {}}}\n", 5.0 + i as f64));
    }
    far.push_str("{\"offset\": 1}\n");
    let e = read(&TraceSpec::of(file("far", &far)), 60_000)
        .unwrap_err()
        .to_string();
    assert!(
        e.contains(&format!(":{}:1: earlier", REORDER_LINES + 6)),
        "{e}"
    );
}

#[test]
fn a_line_too_long_is_refused_not_read() {
    let long = format!(
        "{{\"offset\": 0, \"prompt\": \"{}\"}}\n",
        "x".repeat(MAX_LINE_BYTES)
    );
    let e = read(&TraceSpec::of(file("long", &long)), 60)
        .unwrap_err()
        .to_string();
    assert!(e.contains(":1:1: longer than"), "{e}");
}
