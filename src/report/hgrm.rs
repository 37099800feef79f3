//! `latency.hgrm`: the percentile distribution as HdrHistogram's `outputPercentileDistribution`
//! prints it (values in milliseconds, 5 ticks per half distance), which HdrHistogram's plotters
//! read.

use std::io::{self, Write};

use hdrhistogram::Histogram;

/// Sub-buckets per bucket for a precision, as HdrHistogram computes it: the power of two that
/// holds `2 x 10^sigfig` distinct values.
fn sub_buckets(sigfig: u8) -> u64 {
    (2 * 10u64.pow(u32::from(sigfig))).next_power_of_two()
}

/// Writes `h` (microseconds) in milliseconds.
pub fn write_hgrm<W: Write>(h: &Histogram<u64>, mut out: W) -> io::Result<()> {
    writeln!(
        out,
        "{:>12} {:>14} {:>10} {:>14}\n",
        "Value", "Percentile", "TotalCount", "1/(1-Percentile)"
    )?;
    let scale = 1000.0;
    if !h.is_empty() {
        let mut cumulative = 0u64;
        for v in h.iter_quantiles(5) {
            cumulative += v.count_since_last_iteration();
            let q = v.quantile_iterated_to();
            let value = h.highest_equivalent(v.value_iterated_to()) as f64 / scale;
            if q < 1.0 {
                writeln!(
                    out,
                    "{value:>12.3} {q:>14.12} {cumulative:>10} {:>14.2}",
                    1.0 / (1.0 - q)
                )?;
            } else {
                writeln!(out, "{value:>12.3} {q:>14.12} {cumulative:>10}")?;
            }
        }
    }
    let (mean, sd, max) = if h.is_empty() {
        (0.0, 0.0, 0.0)
    } else {
        (h.mean() / scale, h.stdev() / scale, h.max() as f64 / scale)
    };
    writeln!(
        out,
        "#[Mean    = {mean:>12.3}, StdDeviation   = {sd:>12.3}]"
    )?;
    writeln!(
        out,
        "#[Max     = {max:>12.3}, Total count    = {:>12}]",
        h.len()
    )?;
    writeln!(
        out,
        "#[Buckets = {:>12}, SubBuckets     = {:>12}]",
        h.buckets(),
        sub_buckets(h.sigfig())
    )?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::record::new_histogram;

    #[test]
    fn prints_the_distribution_and_the_footer() {
        let mut h = new_histogram();
        for v in 1..=1000u64 {
            h.record(v * 1000).unwrap();
        }
        let mut out = Vec::new();
        write_hgrm(&h, &mut out).unwrap();
        let text = String::from_utf8(out).unwrap();
        assert!(text.starts_with("       Value     Percentile TotalCount 1/(1-Percentile)\n\n"));
        let last = text
            .lines()
            .rev()
            .find(|l| !l.starts_with('#') && !l.is_empty())
            .unwrap();
        assert!(
            last.contains("1.000000000000") && last.trim_end().ends_with("1000"),
            "{last}"
        );
        assert!(
            text.contains("#[Max     =     1000.447, Total count    =         1000]"),
            "{text}"
        );
        assert!(text.contains("SubBuckets     =         2048]"), "{text}");
        // The median row says 500 ms with about half the samples below it.
        let median = text
            .lines()
            .find(|l| l.contains(" 0.500000000000 "))
            .unwrap();
        assert!(median.trim_start().starts_with("500."), "{median}");
    }
}
