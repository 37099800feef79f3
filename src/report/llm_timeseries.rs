//! The token columns of `timeseries.csv` (after the others): TTFT and inter-token percentiles,
//! TPOT, tokens and output tokens per second, requests per second and SLO goodput, per interval.
//! A file written before these columns existed reads back with them at 0.

use super::timeseries::ReadError;
use crate::record::{IntervalRow, TokenRow};

/// The token columns, in file order.
pub const COLUMNS: [&str; 11] = [
    "ttft_p50_ms",
    "ttft_p99_ms",
    "itl_p50_ms",
    "itl_p99_ms",
    "tpot_p50_ms",
    "input_tokens",
    "output_tokens",
    "output_tokens_per_s",
    "requests_per_s",
    "slo_met",
    "slo_goodput_rps",
];

/// A row's token fields, as written; `interval_s` turns counts into rates.
pub fn values(r: &IntervalRow, interval_s: f64) -> [String; 11] {
    let f = |v: f64| format!("{v:.3}");
    let t = &r.tokens;
    let per_s = |n: u64| f(n as f64 / interval_s);
    [
        f(t.ttft_p50_ms),
        f(t.ttft_p99_ms),
        f(t.itl_p50_ms),
        f(t.itl_p99_ms),
        f(t.tpot_p50_ms),
        t.input_tokens.to_string(),
        t.output_tokens.to_string(),
        per_s(t.output_tokens),
        per_s(r.completed),
        t.slo_met.to_string(),
        per_s(t.slo_met),
    ]
}

/// Where each token column is in a file's header (`None`: an older file without it).
pub fn positions(headers: &csv::StringRecord) -> [Option<usize>; 11] {
    COLUMNS.map(|c| headers.iter().position(|h| h == c))
}

/// Reads a row's token fields (the rates are derived again, not read).
pub fn read(
    at: &[Option<usize>; 11],
    record: &csv::StringRecord,
    line: u64,
) -> Result<TokenRow, ReadError> {
    let field = |i: usize| at[i].and_then(|p| record.get(p)).unwrap_or("");
    let bad = |i: usize, detail: String| ReadError::BadField {
        line,
        column: COLUMNS[i].to_string(),
        value: field(i).to_string(),
        detail,
    };
    let float = |i: usize| -> Result<f64, ReadError> {
        match field(i) {
            "" => Ok(0.0),
            v => v
                .parse::<f64>()
                .ok()
                .filter(|x| x.is_finite() && *x >= 0.0)
                .ok_or_else(|| bad(i, "not a figure of 0 or more".into())),
        }
    };
    let count = |i: usize| -> Result<u64, ReadError> {
        match field(i) {
            "" => Ok(0),
            v => v
                .parse()
                .map_err(|e: std::num::ParseIntError| bad(i, e.to_string())),
        }
    };
    Ok(TokenRow {
        ttft_p50_ms: float(0)?,
        ttft_p99_ms: float(1)?,
        itl_p50_ms: float(2)?,
        itl_p99_ms: float(3)?,
        tpot_p50_ms: float(4)?,
        input_tokens: count(5)?,
        output_tokens: count(6)?,
        slo_met: count(9)?,
        ttft_histogram: Vec::new(),
        itl_histogram: Vec::new(),
        tpot_histogram: Vec::new(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_older_file_reads_as_zero_and_a_bad_field_is_named() {
        let headers = csv::StringRecord::from(vec!["ok", "itl_p99_ms", "output_tokens"]);
        let at = positions(&headers);
        let old = csv::StringRecord::from(vec!["1"]);
        assert_eq!(read(&at, &old, 2).unwrap(), TokenRow::default());
        let row = csv::StringRecord::from(vec!["1", "20.5", "17"]);
        let t = read(&at, &row, 2).unwrap();
        assert_eq!((t.itl_p99_ms, t.output_tokens), (20.5, 17));
        let bad = csv::StringRecord::from(vec!["1", "-3", "17"]);
        let e = read(&at, &bad, 4).unwrap_err().to_string();
        assert!(e.starts_with("line 4: itl_p99_ms = \"-3\""), "{e}");
    }
}
