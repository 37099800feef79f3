//! Reading one sample out of the proxy's `/metrics` text, for the tests that scrape it.

/// The value of the sample line `name{labels}` in `text`, which must be there exactly once.
pub fn sample(text: &str, series: &str) -> f64 {
    let values: Vec<f64> = text
        .lines()
        .filter_map(|l| l.strip_prefix(series)?.strip_prefix(' '))
        .map(|v| v.parse().expect("a number"))
        .collect();
    assert_eq!(values.len(), 1, "{series} once in:\n{text}");
    values[0]
}

/// The `/metrics` text of the proxy at `base` (`http://127.0.0.1:PORT`).
pub async fn scrape(base: &str) -> String {
    reqwest::get(format!("{base}/metrics"))
        .await
        .expect("/metrics answers")
        .text()
        .await
        .expect("/metrics has a body")
}
