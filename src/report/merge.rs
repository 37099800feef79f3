//! `gauntlet merge`: one report from the run directories of a fleet's nodes. Histograms are
//! added exactly and percentiles read off the sum (never averaged), counters are summed, and the
//! time series are aligned by interval on the nodes' start times.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

use hdrhistogram::serialization::{Deserializer, Serializer as _, V2Serializer};
use hdrhistogram::Histogram;

use super::counters::Counters;
use super::load::{load_recorded, load_summary, LoadError};
use super::recovery::recoveries_of;
use super::summary::{Fleet, Percentiles, Quota, Summary, ThresholdResult};
use super::Recorded;
use crate::record::new_histogram;
use crate::record::IntervalRow;
use crate::scenario::{Condition, ConditionError};

/// Why a fleet's runs could not be merged.
#[derive(Debug, thiserror::Error)]
pub enum MergeError {
    /// A node's directory does not read.
    #[error(transparent)]
    Load(#[from] LoadError),
    /// A node's directory predates `histograms.hlog`.
    #[error("{0}: no histograms.hlog, so its percentiles cannot be merged exactly (run it again with this version of gauntlet)")]
    NoHistograms(String),
    /// Called with an empty list of run directories.
    #[error("nothing to merge")]
    Nothing,
    /// Two nodes ran different scenarios or modes.
    #[error("{first} is {first_run}, {other} {other_run}: only one scenario's nodes merge")]
    Unlike {
        /// The first node's directory.
        first: String,
        /// What it ran: `a sim run of "name"`.
        first_run: String,
        /// The other node's directory.
        other: String,
        /// What that one ran.
        other_run: String,
    },
    /// Two nodes' rows cover intervals of different lengths.
    #[error("{0} and {1} have different report intervals")]
    Intervals(String, String),
    /// Histograms that do not add or encode (a damaged file).
    #[error("{0}")]
    Histogram(String),
    /// A threshold in a node's summary no longer reads.
    #[error("threshold {metric}: {source}")]
    Threshold {
        /// The threshold's metric.
        metric: String,
        /// Why its condition does not read.
        source: ConditionError,
    },
}

/// One node's run directory, read back.
#[derive(Debug)]
pub struct NodeRun {
    /// The directory, as given.
    pub dir: String,
    /// Its `summary.json`.
    pub summary: Summary,
    /// Its rows and histograms.
    pub recorded: Recorded,
}

/// Reads a run directory for merging; it must have `histograms.hlog`.
pub fn load_node(dir: &Path) -> Result<NodeRun, MergeError> {
    let summary = load_summary(dir)?;
    let recorded = load_recorded(dir, &summary)?;
    if recorded.histograms.is_empty() {
        return Err(MergeError::NoHistograms(dir.display().to_string()));
    }
    Ok(NodeRun {
        dir: dir.display().to_string(),
        summary,
        recorded,
    })
}

fn add_into(into: &mut Histogram<u64>, h: &Histogram<u64>) -> Result<(), MergeError> {
    into.add(h)
        .map_err(|e| MergeError::Histogram(format!("adding histograms: {e}")))
}

fn merge_histograms(nodes: &[NodeRun]) -> Result<BTreeMap<String, Histogram<u64>>, MergeError> {
    let mut out: BTreeMap<String, Histogram<u64>> = BTreeMap::new();
    for n in nodes {
        for (name, h) in &n.recorded.histograms {
            add_into(out.entry(name.clone()).or_insert_with(new_histogram), h)?;
        }
    }
    Ok(out)
}

fn breaker_rank(s: &str) -> u8 {
    match s {
        "open" => 2,
        "half_open" => 1,
        _ => 0,
    }
}

/// Adds the nodes' rows interval by interval; a node that started later is shifted by whole
/// intervals (its Unix start time against the earliest node's).
fn merge_rows(nodes: &[NodeRun], interval: Duration) -> Result<Vec<IntervalRow>, MergeError> {
    let step = interval.as_secs_f64().max(1e-9);
    let first = nodes
        .iter()
        .map(|n| n.recorded.epoch_secs)
        .min()
        .unwrap_or(0);
    let mut slots: BTreeMap<u64, (IntervalRow, Histogram<u64>)> = BTreeMap::new();
    let mut de = Deserializer::new();
    for n in nodes {
        let shift = ((n.recorded.epoch_secs - first) as f64 / step).round() as u64;
        for r in &n.recorded.rows {
            let idx = ((r.start_s / step).round() as u64).saturating_add(shift);
            let (row, hist) = slots.entry(idx).or_insert_with(|| {
                let row = IntervalRow {
                    start_s: idx as f64 * step,
                    quota_remaining: None,
                    ..IntervalRow::default()
                };
                (row, new_histogram())
            });
            row.offered_rps += r.offered_rps;
            row.started += r.started;
            row.completed += r.completed;
            row.ok += r.ok;
            row.errors += r.errors;
            row.dropped += r.dropped;
            for (a, b) in row.outcomes.iter_mut().zip(r.outcomes) {
                *a += b;
            }
            row.attempts += r.attempts;
            row.retries += r.retries;
            row.limiter_wait_ms += r.limiter_wait_ms;
            row.queue_depth_max = row.queue_depth_max.max(r.queue_depth_max);
            if breaker_rank(r.breaker) > breaker_rank(row.breaker) {
                row.breaker = r.breaker;
            }
            row.quota_remaining = match (row.quota_remaining, r.quota_remaining) {
                (Some(a), Some(b)) => Some(a.min(b)),
                (a, b) => a.or(b),
            };
            if !r.histogram.is_empty() {
                let h: Histogram<u64> =
                    de.deserialize(&mut r.histogram.as_slice()).map_err(|e| {
                        MergeError::Histogram(format!("{}: interval histogram: {e}", n.dir))
                    })?;
                add_into(hist, &h)?;
            }
        }
    }
    let mut ser = V2Serializer::new();
    let mut rows = Vec::with_capacity(slots.len());
    for (_, (mut row, hist)) in slots {
        if !hist.is_empty() {
            row.p50_ms = hist.value_at_quantile(0.5) as f64 / 1000.0;
            row.p95_ms = hist.value_at_quantile(0.95) as f64 / 1000.0;
            row.p99_ms = hist.value_at_quantile(0.99) as f64 / 1000.0;
            row.max_ms = hist.max() as f64 / 1000.0;
        }
        let mut bytes = Vec::new();
        ser.serialize(&hist, &mut bytes)
            .map_err(|e| MergeError::Histogram(format!("encoding a histogram: {e}")))?;
        row.histogram = bytes;
        rows.push(row);
    }
    Ok(rows)
}

/// Checks that the nodes ran one scenario in one mode with one report interval.
fn check_alike(first: &NodeRun, nodes: &[NodeRun]) -> Result<(), MergeError> {
    for n in nodes {
        if n.summary.scenario != first.summary.scenario || n.summary.mode != first.summary.mode {
            let run = |s: &Summary| format!("a {} run of {:?}", s.mode, s.scenario);
            return Err(MergeError::Unlike {
                first: first.dir.clone(),
                first_run: run(&first.summary),
                other: n.dir.clone(),
                other_run: run(&n.summary),
            });
        }
        if n.recorded.interval != first.recorded.interval {
            return Err(MergeError::Intervals(first.dir.clone(), n.dir.clone()));
        }
    }
    Ok(())
}

/// The nodes' counts added up.
fn total_counters(nodes: &[NodeRun]) -> Counters {
    let mut sum = Counters::default();
    for n in nodes {
        sum += &Counters::of_summary(&n.summary);
    }
    sum
}

/// One account's quota, seen by every node: the most any node saw used.
fn merged_quota(nodes: &[NodeRun], quota: &Quota) -> Quota {
    let used = nodes
        .iter()
        .filter_map(|n| n.summary.quota.used)
        .reduce(f64::max);
    let ratio = match (used, quota.limit_per_day) {
        (Some(u), Some(l)) if l > 0 => Some(u / l as f64),
        _ => quota.ratio,
    };
    Quota {
        used,
        ratio,
        ..quota.clone()
    }
}

/// The percentile figures read off the merged histograms.
fn apply_histograms(s: &mut Summary, hists: &BTreeMap<String, Histogram<u64>>, c: &Counters) {
    let pct = |name: &str| hists.get(name).map(Percentiles::of).unwrap_or_default();
    s.latency_ms = pct("latency");
    s.ttft_ms = pct("ttft");
    s.schedule.lag_ms = pct("lag");
    s.schedule.service_ms = pct("service");
    s.latency_by_outcome_ms = hists
        .iter()
        .filter_map(|(k, h)| Some((k.strip_prefix("outcome.")?.to_string(), Percentiles::of(h))))
        .collect();
    s.by_priority = hists
        .iter()
        .filter_map(|(k, h)| {
            let class = k.strip_prefix("priority.")?;
            Some((class.to_string(), c.priority_figures(class, h)))
        })
        .collect();
    s.by_route = hists
        .iter()
        .filter_map(|(k, h)| {
            let route = k.strip_prefix("route.")?;
            Some((route.to_string(), c.route_figures(route, h)))
        })
        .collect();
}

/// The fleet's summary and recorded data from its nodes' runs.
pub fn merge(nodes: &[NodeRun]) -> Result<(Summary, Recorded), MergeError> {
    let Some(first) = nodes.first() else {
        return Err(MergeError::Nothing);
    };
    check_alike(first, &nodes[1..])?;
    let interval = first.recorded.interval;
    let hists = merge_histograms(nodes)?;
    let counters = total_counters(nodes);

    let mut s = first.summary.clone();
    s.duration_s = nodes
        .iter()
        .map(|n| n.summary.duration_s)
        .fold(0.0, f64::max);
    let secs = s.duration_s.max(1e-9);
    s.interrupted = nodes.iter().any(|n| n.summary.interrupted);
    counters.apply(&mut s, secs);
    apply_histograms(&mut s, &hists, &counters);
    s.quota = merged_quota(nodes, &s.quota);
    // Each node's mock saw its own share; the sum of views is not one upstream's view.
    s.upstream_view = None;
    s.fleet = Some(Fleet {
        nodes: nodes.len() as u32,
        node_id: None,
        merged_from: nodes.iter().map(|n| n.dir.clone()).collect(),
    });

    let rows = merge_rows(nodes, interval)?;
    let events = first.recorded.events.clone();
    let span = Duration::try_from_secs_f64(secs).unwrap_or(Duration::ZERO);
    s.recovery = recoveries_of(&rows, &events, interval, span);
    s.thresholds = s
        .thresholds
        .iter()
        .map(|t| recheck(&s, t))
        .collect::<Result<_, _>>()?;

    let latency = hists.get("latency").cloned().unwrap_or_else(new_histogram);
    let recorded = Recorded {
        rows,
        interval,
        epoch_secs: nodes
            .iter()
            .map(|n| n.recorded.epoch_secs)
            .min()
            .unwrap_or(0),
        latency,
        events,
        histograms: hists.into_iter().collect(),
    };
    Ok((s, recorded))
}

/// A threshold checked again on the merged figures.
fn recheck(s: &Summary, t: &ThresholdResult) -> Result<ThresholdResult, MergeError> {
    let cond: Condition =
        format!("{} {}", t.op, t.limit)
            .parse()
            .map_err(|source| MergeError::Threshold {
                metric: t.metric.clone(),
                source,
            })?;
    let actual = s.metric(&t.metric);
    let no_data = !s.has_data(&t.metric);
    Ok(ThresholdResult {
        actual,
        pass: !no_data && cond.op.holds(actual, cond.limit),
        no_data,
        ..t.clone()
    })
}
