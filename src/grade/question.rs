//! The scorecard's questions: one enum, and everything about a question (its id, its scenario,
//! why its rule is the right behaviour) derives from it, so the list is written once.

use std::fmt;
use std::str::FromStr;

/// One question the scorecard asks of a system under test. Each has a ready-made scenario in
/// `scenarios/grade/<id>.toml` (compiled in, so `gauntlet grade` runs from any directory) and a
/// pass/fail rule on what the upstream saw and what the driver saw (see [`super::rule`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Question {
    /// After a 429 with `retry-after`, no attempt of that key comes earlier than it says.
    RetryAfter,
    /// A 429 `insufficient_quota` (`x-should-retry: false`) is never sent again.
    QuotaNotRetried,
    /// Retries after an error burst are spread out (jitter), not fired in lock-step.
    Jitter,
    /// During an outage the upstream gets at most a bounded multiple of the callers' requests.
    OutageAmplification,
    /// After an outage ends, callers are served normally again within a few seconds.
    Recovery,
    /// When the upstream slows 10×, callers get a fast refusal or a queued answer, not a timeout.
    Slowdown,
    /// A stream that breaks upstream reaches the caller as an error, not as a silent partial answer.
    BrokenStream,
    /// During an outage callers still get answers (a fallback: cache, another model, a local answer).
    Fallback,
    /// The upstream's concurrency cap is never exceeded.
    ConcurrencyCap,
}

impl Question {
    /// Every question, in the scorecard's order.
    pub const ALL: [Question; 9] = [
        Question::RetryAfter,
        Question::QuotaNotRetried,
        Question::Jitter,
        Question::OutageAmplification,
        Question::Recovery,
        Question::Slowdown,
        Question::BrokenStream,
        Question::Fallback,
        Question::ConcurrencyCap,
    ];

    /// The id used on the command line (`--only`), in file names and as the JUnit case name.
    pub fn id(self) -> &'static str {
        match self {
            Question::RetryAfter => "retry_after",
            Question::QuotaNotRetried => "quota_not_retried",
            Question::Jitter => "jitter",
            Question::OutageAmplification => "outage_amplification",
            Question::Recovery => "recovery",
            Question::Slowdown => "slowdown",
            Question::BrokenStream => "broken_stream",
            Question::Fallback => "fallback",
            Question::ConcurrencyCap => "concurrency_cap",
        }
    }

    /// The question as a reader asks it.
    pub fn title(self) -> &'static str {
        match self {
            Question::RetryAfter => "honours Retry-After",
            Question::QuotaNotRetried => "never retries a quota error",
            Question::Jitter => "backs off with jitter (no lock-step)",
            Question::OutageAmplification => "bounded amplification during an outage",
            Question::Recovery => "recovers within 3 s after an outage",
            Question::Slowdown => {
                "sheds or queues instead of timing out when the upstream slows 10×"
            }
            Question::BrokenStream => "reports a broken stream to the caller",
            Question::Fallback => "a fallback answers during an outage",
            Question::ConcurrencyCap => "respects the upstream's concurrency cap",
        }
    }

    /// The scenario's path in the repository, for the scorecard and for errors.
    pub fn scenario_path(self) -> String {
        format!("scenarios/grade/{}.toml", self.id())
    }

    /// The scenario's text (the file, compiled in).
    pub fn scenario_text(self) -> &'static str {
        match self {
            Question::RetryAfter => include_str!("../../scenarios/grade/retry_after.toml"),
            Question::QuotaNotRetried => {
                include_str!("../../scenarios/grade/quota_not_retried.toml")
            }
            Question::Jitter => include_str!("../../scenarios/grade/jitter.toml"),
            Question::OutageAmplification => {
                include_str!("../../scenarios/grade/outage_amplification.toml")
            }
            Question::Recovery => include_str!("../../scenarios/grade/recovery.toml"),
            Question::Slowdown => include_str!("../../scenarios/grade/slowdown.toml"),
            Question::BrokenStream => include_str!("../../scenarios/grade/broken_stream.toml"),
            Question::Fallback => include_str!("../../scenarios/grade/fallback.toml"),
            Question::ConcurrencyCap => include_str!("../../scenarios/grade/concurrency_cap.toml"),
        }
    }

    /// Why the rule is the right behaviour, with its source: shown beside each result.
    pub fn why(self) -> &'static str {
        match self {
            Question::RetryAfter => {
                "A 429 rate_limit_exceeded carries `retry-after` (seconds) and `retry-after-ms`: the \
                 time until the key's bucket has room again. OpenAI's rate-limit guide notes that \
                 unsuccessful requests count against the per-minute limit, so an attempt before \
                 that time is refused again and only burns the limit; the official SDKs wait \
                 exactly that long (openai-python `_calculate_retry_timeout`, up to 120 s)."
            }
            Question::QuotaNotRetried => {
                "A 429 `insufficient_quota` means the account's quota or budget is spent; OpenAI's \
                 error-code guide says to check the plan and billing, and waiting does not help. \
                 The API sends `x-should-retry: false` with it, and the official SDKs obey that \
                 header before any status rule (openai-python `_should_retry`). Retrying burns \
                 what is left of a free tier's daily requests in minutes."
            }
            Question::Jitter => {
                "OpenAI's rate-limit guide recommends random exponential backoff; retries fired a \
                 fixed delay after a shared error arrive together and hit the upstream as a second \
                 burst (the thundering herd). The SDKs scale each backoff by a random 0.75-1.0."
            }
            Question::OutageAmplification => {
                "While the upstream answers 503, every retry is load on a service that is already \
                 down: client-side retry budgets (Google SRE book, \"Handling Overload\": retries \
                 at most 10 % of requests) and circuit breakers keep the upstream's load near the \
                 callers' own. The bound here is 1.5 attempts per caller request."
            }
            Question::Recovery => {
                "Once the upstream answers again, a breaker that stays open, a queue that drains \
                 slowly or retries that keep the upstream overloaded (a metastable failure) keep \
                 callers failing after the cause is gone; a free tier's users see that as an \
                 outage of your service."
            }
            Question::Slowdown => {
                "When the upstream slows down, an integration that only waits holds every caller \
                 until its deadline. Shedding (a fast 429/503 with retry-after) or a bounded queue \
                 gives the caller an answer it can act on within its deadline; a timeout gives it \
                 nothing and keeps load on the slow upstream."
            }
            Question::BrokenStream => {
                "A chat completion stream ends with a chunk that has a `finish_reason`, then \
                 `data: [DONE]`; an `error` event or a stream cut before them means the answer is \
                 incomplete. Passing the first half on as a finished answer is a silent wrong \
                 answer; the SDKs raise `APIError` on the error event."
            }
            Question::Fallback => {
                "During an outage (503, OpenAI's \"the server is overloaded or not ready yet\") a \
                 caller of an integration with a fallback (a cached answer, another model or \
                 provider, a local answer) still gets an answer; without one every request fails \
                 for the whole outage. Pass: at least 90 % of the requests in the outage answered."
            }
            Question::ConcurrencyCap => {
                "Providers cap requests in flight per account or deployment and refuse the excess \
                 (503 here); a gateway that limits its own concurrency, or its rate to what the \
                 cap carries, never sends an attempt the upstream must refuse."
            }
        }
    }
}

impl fmt::Display for Question {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.id())
    }
}

/// A question id that is not one of [`Question::ALL`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown question `{0}`; the questions are: {list}", list = Question::ALL.map(Question::id).join(", "))]
pub struct UnknownQuestion(pub String);

impl FromStr for Question {
    type Err = UnknownQuestion;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Question::ALL
            .into_iter()
            .find(|q| q.id() == s)
            .ok_or_else(|| UnknownQuestion(s.to_string()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_round_trip_and_are_unique() {
        for q in Question::ALL {
            assert_eq!(q.id().parse::<Question>(), Ok(q));
            assert!(!q.why().is_empty() && !q.title().is_empty());
        }
        let mut ids: Vec<_> = Question::ALL.iter().map(|q| q.id()).collect();
        ids.sort_unstable();
        ids.dedup();
        assert_eq!(ids.len(), Question::ALL.len());
        let e = "retry".parse::<Question>().unwrap_err().to_string();
        assert!(
            e.contains("retry_after") && e.contains("concurrency_cap"),
            "{e}"
        );
    }

    #[test]
    fn every_scenario_parses() {
        for q in Question::ALL {
            let s = crate::scenario::Scenario::parse(q.scenario_text(), &q.scenario_path());
            let s = s.unwrap_or_else(|e| panic!("{q}: {e}"));
            assert!(
                s.duration.0.as_secs() <= 10,
                "{q}: a grade scenario is short"
            );
        }
    }
}
