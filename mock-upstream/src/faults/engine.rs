//! The fault engine: given the time and a request, decide what the mock does.
//!
//! It is a plain type with no HTTP in it (`decide(now, request) -> Decision`), so it can be
//! benchmarked, unit-tested without a runtime, and driven by a paused clock. The HTTP layer only
//! carries decisions out. Each random component (failures, latency, spikes) has its own RNG
//! stream derived from the seed, so adding a draw in one does not shift the others.

use std::collections::HashMap;
use std::ops::ControlFlow;
use std::time::Duration;

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use tokio::time::Instant;

use super::buckets::{Bucket, BucketView};
use super::config::{FaultConfig, FaultConfigSpec, LatencyConfig, Limits};
use super::distribution::{secs_to_duration, Distribution};
use super::failure::{FailureKind, FailureMode};
use super::values::MAX_LATENCY;
use crate::text::{plan_reply, ReplyPlan};
use crate::timeline::{limits_at, Effect, TimelineEvent};

const MINUTE: Duration = Duration::from_secs(60);
const DAY: Duration = Duration::from_secs(86_400);

/// The routes whose faults differ: every route but `/v1/models` is rate-limited, and each can
/// be deprecated on its own.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Route {
    /// `POST /v1/chat/completions`.
    ChatCompletions,
    /// `POST /v1/chat`, the legacy API.
    LegacyChat,
    /// `GET /v1/models` and `GET /v1/models/{id}`.
    Models,
    /// `POST /v1/responses`, the Responses API.
    Responses,
    /// `POST /v1/embeddings`.
    Embeddings,
    /// `POST /v1/messages`, Anthropic's Messages API.
    Messages,
}

impl Route {
    /// Every route the mock serves: the one list that `deprecate` events are checked against.
    pub const ALL: [Route; 6] = [
        Route::ChatCompletions,
        Route::LegacyChat,
        Route::Models,
        Route::Responses,
        Route::Embeddings,
        Route::Messages,
    ];

    /// The route with this path, as a `deprecate` event names it.
    pub fn from_path(path: &str) -> Option<Route> {
        Route::ALL.into_iter().find(|r| r.path() == path)
    }

    /// The path, as timeline `deprecate` events name it.
    pub fn path(self) -> &'static str {
        match self {
            Route::ChatCompletions => "/v1/chat/completions",
            Route::LegacyChat => "/v1/chat",
            Route::Models => "/v1/models",
            Route::Responses => "/v1/responses",
            Route::Embeddings => "/v1/embeddings",
            Route::Messages => "/v1/messages",
        }
    }

    /// Whether the route's answer is generated text, whose tokens count against TPM with the
    /// prompt's; an embedding has no completion tokens, so only its input is charged.
    pub fn completes(self) -> bool {
        !matches!(self, Route::Embeddings | Route::Models)
    }
}

/// What the engine needs to know about a request.
#[derive(Debug, Clone, Copy)]
pub struct RequestInfo<'a> {
    /// Decides which timeline `deprecate` events apply, and exempts `/v1/models` from limits.
    pub route: Route,
    /// The bearer token, if any.
    pub api_key: Option<&'a str>,
    /// The model asked for (empty for routes without one): which `[[models]]` entry, if any,
    /// applies.
    pub model: &'a str,
    /// Prompt tokens (see [`gauntlet_wire::tokens::prompt_tokens`]).
    pub prompt_tokens: u32,
    /// Hash of the prompt, which with the seed fixes the reply.
    pub prompt_hash: u64,
    /// The client's `max_tokens`.
    pub max_tokens: Option<u32>,
    /// Requests waiting for a slot when this one was admitted (queue mode).
    pub queued: u32,
}

/// The rate limit a 429 is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LimitResource {
    /// Requests per minute.
    Requests,
    /// Tokens per minute.
    Tokens,
}

/// What the mock does with a request.
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    /// Answer normally.
    Serve,
    /// 401: no key, or a key that is not listed.
    Unauthorized {
        /// Whether a key was sent at all.
        provided: bool,
    },
    /// 410: the route is deprecated.
    Gone,
    /// A timeline outage answering this status.
    Outage(u16),
    /// A timeline outage closing the connection.
    OutageReset,
    /// 429 `insufficient_quota`: the daily budget is spent.
    QuotaExhausted,
    /// 429 `rate_limit_exceeded`.
    RateLimited {
        /// Which limit.
        resource: LimitResource,
        /// When the request would fit.
        retry_after: Duration,
        /// The limit in force.
        limit: u32,
        /// What the request asked for (1 request, or its tokens).
        requested: u32,
    },
    /// A `[[failures]]` entry or a timeline error burst hit.
    Fail(InjectedFailure),
    /// 404 `model_not_found`: the fault file lists its models and the request named another.
    ModelNotFound,
}

/// A random failure the HTTP layer must carry out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InjectedFailure {
    /// Answer this status with OpenAI's body.
    Status(u16),
    /// Close the connection with no response.
    Reset,
    /// Say nothing, then close the connection after this long.
    Hang(Duration),
    /// Send half the body (or stream), then close the connection.
    Truncate,
    /// 200 with a body that is not JSON.
    Malformed,
    /// 200 with an empty body.
    Empty,
    /// A stream sends its head and `after` token pieces, then the dialect's error event with
    /// the object of `status`, and ends cleanly. Not streamed: the error answered as a status.
    StreamError {
        /// Token pieces sent first.
        after: u32,
        /// The status whose error object is sent (the stream itself is a 200).
        status: u16,
    },
    /// A stream is silent for `pause` after `after` token pieces, then goes on. Not streamed:
    /// the pause is spent before the answer.
    Stall {
        /// Token pieces sent before the silence.
        after: u32,
        /// How long the silence lasts.
        pause: Duration,
    },
    /// A stream sends its head and `after` token pieces (all when `None`) but no final event,
    /// and ends cleanly. Not streamed: the first half of the JSON, cleanly ended.
    Unfinished {
        /// Token pieces sent; `None` sends them all.
        after: Option<u32>,
    },
    /// The answer is cut at `after` tokens with `finish_reason: "length"`, streamed or not.
    EarlyLength {
        /// Tokens the answer keeps.
        after: u32,
    },
}

impl InjectedFailure {
    /// What a failure drawn from `[[failures]]` or a timeline burst does.
    pub fn from_mode(m: &FailureMode) -> Self {
        let after = m.after.unwrap_or(0);
        match m.kind {
            FailureKind::Status => InjectedFailure::Status(m.status),
            FailureKind::Reset => InjectedFailure::Reset,
            FailureKind::Hang => InjectedFailure::Hang(m.pause),
            FailureKind::Truncate => InjectedFailure::Truncate,
            FailureKind::Malformed => InjectedFailure::Malformed,
            FailureKind::Empty => InjectedFailure::Empty,
            FailureKind::StreamError => InjectedFailure::StreamError {
                after,
                status: m.status,
            },
            FailureKind::Stall => InjectedFailure::Stall {
                after,
                pause: m.pause,
            },
            FailureKind::Unfinished => InjectedFailure::Unfinished { after: m.after },
            FailureKind::EarlyLength => InjectedFailure::EarlyLength { after },
        }
    }

    /// Its kind, whose name is the fault's label in stats and metrics.
    pub fn kind(&self) -> FailureKind {
        match self {
            InjectedFailure::Status(_) => FailureKind::Status,
            InjectedFailure::Reset => FailureKind::Reset,
            InjectedFailure::Hang(_) => FailureKind::Hang,
            InjectedFailure::Truncate => FailureKind::Truncate,
            InjectedFailure::Malformed => FailureKind::Malformed,
            InjectedFailure::Empty => FailureKind::Empty,
            InjectedFailure::StreamError { .. } => FailureKind::StreamError,
            InjectedFailure::Stall { .. } => FailureKind::Stall,
            InjectedFailure::Unfinished { .. } => FailureKind::Unfinished,
            InjectedFailure::EarlyLength { .. } => FailureKind::EarlyLength,
        }
    }
}

impl Outcome {
    /// The fault's name in stats and metrics, `None` for a normal answer.
    pub fn fault_label(&self) -> Option<&'static str> {
        Some(match self {
            Outcome::Serve => return None,
            Outcome::Unauthorized { .. } => "unauthorized",
            Outcome::Gone => "deprecated",
            Outcome::Outage(_) | Outcome::OutageReset => "outage",
            Outcome::QuotaExhausted => "quota_exhausted",
            Outcome::ModelNotFound => "model_not_found",
            Outcome::RateLimited {
                resource: LimitResource::Requests,
                ..
            } => "rate_limit_requests",
            Outcome::RateLimited {
                resource: LimitResource::Tokens,
                ..
            } => "rate_limit_tokens",
            Outcome::Fail(f) => f.kind().as_str(),
        })
    }
}

/// The `x-ratelimit-*` figures of a response.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct RateLimitState {
    /// The requests-per-minute bucket, when limited.
    pub requests: Option<BucketView>,
    /// The tokens-per-minute bucket, when limited.
    pub tokens: Option<BucketView>,
}

/// Pacing of a streamed answer, decided with the rest so that a timeline latency window and
/// queue slowdown stretch streams too.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct StreamTiming {
    /// Delay before the first chunk.
    pub first_token: Duration,
    /// Delay between content chunks.
    pub per_token: Duration,
}

/// Everything the HTTP layer needs to answer one request, decided under the engine's lock so
/// that the answer itself is built without holding it.
#[derive(Debug, Clone, PartialEq)]
pub struct Decision {
    /// Position of the request since start or reset; ids derive from it.
    pub sequence: u64,
    /// Time since the timeline started, when the request arrived.
    pub offset: Duration,
    /// Whether to answer, refuse or fail, and how.
    pub outcome: Outcome,
    /// Processing time before a non-streamed answer or an injected failure.
    pub delay: Duration,
    /// Pacing if the answer is streamed.
    pub stream: StreamTiming,
    /// Whether a latency spike was added.
    pub spiked: bool,
    /// Sent as `x-ratelimit-*` headers on answers and refusals alike, as OpenAI does.
    pub rate_limits: RateLimitState,
    /// The reply's plan, for requests that passed the limits.
    pub reply: Option<ReplyPlan>,
    /// The request's prompt tokens, for the upstream's view (what a retry sends again).
    pub prompt_tokens: u32,
}

/// One set of a key's buckets: the key's own, or those of a model with limits of its own.
#[derive(Debug, Clone, Copy)]
struct Buckets {
    requests: Bucket,
    tokens: Bucket,
    daily: Bucket,
}

#[derive(Debug)]
struct KeyState {
    /// Every request's, except those naming a model with limits of its own.
    shared: Buckets,
    /// Per model with limits of its own (at most one entry per listed model).
    per_model: HashMap<String, Buckets>,
    served: u64,
    prompt_tokens: u64,
    completion_tokens: u64,
}

/// A key's bucket checks for one request, made before anything is taken so that a request
/// refused by one limit costs nothing from the others.
#[derive(Debug, Clone, Copy)]
struct LimitChecks {
    /// The daily quota's check, when the key has one.
    daily: Option<Result<(), Duration>>,
    /// The requests-per-minute cap and its check, when limited.
    rpm: Option<(u32, Result<(), Duration>)>,
    /// The tokens-per-minute cap and its check, when limited.
    tpm: Option<(u32, Result<(), Duration>)>,
}

impl LimitChecks {
    /// The refusal, if any; a spent quota wins over a rate limit (the provider answers
    /// `insufficient_quota`, which clients must not retry), and requests over tokens.
    fn refusal(&self, token_cost: f64) -> Option<Outcome> {
        if let Some(Err(_)) = self.daily {
            Some(Outcome::QuotaExhausted)
        } else if let Some((cap, Err(wait))) = self.rpm {
            Some(Outcome::RateLimited {
                resource: LimitResource::Requests,
                retry_after: wait,
                limit: cap,
                requested: 1,
            })
        } else if let Some((cap, Err(wait))) = self.tpm {
            Some(Outcome::RateLimited {
                resource: LimitResource::Tokens,
                retry_after: wait,
                limit: cap,
                requested: token_cost as u32,
            })
        } else {
            None
        }
    }
}

impl KeyState {
    fn new(now: Instant) -> Self {
        Self {
            shared: Buckets::new(now),
            per_model: HashMap::new(),
            served: 0,
            prompt_tokens: 0,
            completion_tokens: 0,
        }
    }

    /// The buckets a request counts against: `model`'s own when it names a model with limits
    /// of its own, the key's shared ones otherwise.
    fn buckets(&mut self, now: Instant, model: Option<&str>) -> &mut Buckets {
        let Some(id) = model else {
            return &mut self.shared;
        };
        // `contains_key` first: the hit path, every request after a model's first, allocates
        // nothing.
        if !self.per_model.contains_key(id) {
            self.per_model.insert(id.to_string(), Buckets::new(now));
        }
        self.per_model.get_mut(id).unwrap_or(&mut self.shared)
    }

    /// Checks the quota and rate limits in `model`'s buckets (see [`Self::buckets`]); when all
    /// admit the request, takes from each and counts its usage. Returns the refusal otherwise,
    /// and the `x-ratelimit-*` figures after the request either way.
    fn admit(
        &mut self,
        now: Instant,
        limits: &Limits,
        model: Option<&str>,
        tokens: (u32, u32),
    ) -> (Option<Outcome>, RateLimitState) {
        let (prompt_tokens, completion_tokens) = tokens;
        let token_cost = f64::from(prompt_tokens) + f64::from(completion_tokens);
        let buckets = self.buckets(now, model);
        let checks = buckets.check(now, limits, token_cost);
        let refusal = checks.refusal(token_cost);
        if refusal.is_none() {
            buckets.take(&checks, token_cost);
        }
        let rate_limits = buckets.rate_limits(now, limits);
        if refusal.is_none() {
            self.served += 1;
            self.prompt_tokens += u64::from(prompt_tokens);
            self.completion_tokens += u64::from(completion_tokens);
        }
        (refusal, rate_limits)
    }
}

impl Buckets {
    fn new(now: Instant) -> Self {
        Self {
            requests: Bucket::new(now),
            tokens: Bucket::new(now),
            daily: Bucket::new(now),
        }
    }

    /// Checks every limit in force, quota first, without taking anything.
    fn check(&mut self, now: Instant, limits: &Limits, token_cost: f64) -> LimitChecks {
        LimitChecks {
            daily: limits
                .requests_per_day
                .map(|cap| self.daily.check(now, cap, DAY, 1.0)),
            rpm: limits
                .requests_per_minute
                .map(|cap| (cap, self.requests.check(now, cap, MINUTE, 1.0))),
            tpm: limits
                .tokens_per_minute
                .map(|cap| (cap, self.tokens.check(now, cap, MINUTE, token_cost))),
        }
    }

    /// Takes the request's cost from each bucket that was checked.
    fn take(&mut self, checks: &LimitChecks, token_cost: f64) {
        if checks.daily.is_some() {
            self.daily.take(1.0);
        }
        if checks.rpm.is_some() {
            self.requests.take(1.0);
        }
        if checks.tpm.is_some() {
            self.tokens.take(token_cost);
        }
    }

    /// The `x-ratelimit-*` figures after this request, for both answers and refusals.
    fn rate_limits(&mut self, now: Instant, limits: &Limits) -> RateLimitState {
        RateLimitState {
            requests: limits
                .requests_per_minute
                .map(|cap| self.requests.view(now, cap, MINUTE)),
            tokens: limits
                .tokens_per_minute
                .map(|cap| self.tokens.view(now, cap, MINUTE)),
        }
    }
}

/// Per-key usage for `/_mock/stats`.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct KeyUsage {
    /// The key, or `anonymous`.
    pub key: String,
    /// Requests that passed the limits.
    pub requests: u64,
    /// Prompt tokens of those.
    pub prompt_tokens: u64,
    /// Completion tokens of those.
    pub completion_tokens: u64,
    /// Daily quota in force, if any.
    pub quota_limit: Option<u32>,
    /// Daily quota spent (the continuously refilling bucket's deficit).
    pub quota_used: f64,
}

/// Name under which requests without a key are accounted.
pub const ANONYMOUS: &str = "anonymous";

/// Decides the fate of each request; see the module docs.
#[derive(Debug)]
pub struct FaultEngine {
    config: FaultConfig,
    seed: u64,
    start: Instant,
    sequence: u64,
    keys: HashMap<String, KeyState>,
    reply_length: Distribution,
    rng_failures: ChaCha8Rng,
    rng_latency: ChaCha8Rng,
    rng_spikes: ChaCha8Rng,
}

fn rng_stream(seed: u64, stream: u64) -> ChaCha8Rng {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    rng.set_stream(stream);
    rng
}

impl FaultEngine {
    /// An engine whose timeline starts at `now`; `seed` overrides the file's seed.
    pub fn new(config: FaultConfig, seed: Option<u64>, now: Instant) -> Self {
        let seed = seed.or(config.spec().seed).unwrap_or(0);
        let reply_length = config.spec().reply.distribution();
        Self {
            config,
            seed,
            start: now,
            sequence: 0,
            keys: HashMap::new(),
            reply_length,
            rng_failures: rng_stream(seed, 1),
            rng_latency: rng_stream(seed, 2),
            rng_spikes: rng_stream(seed, 3),
        }
    }

    /// The seed in use after `--seed` overrides the file's: the one that reproduces this run.
    pub fn seed(&self) -> u64 {
        self.seed
    }

    /// The config in force, which [`set_config`](Self::set_config) may have replaced since start.
    pub fn config(&self) -> &FaultConfig {
        &self.config
    }

    /// When the timeline started (or was last reset): timeline offsets count from here.
    pub fn start(&self) -> Instant {
        self.start
    }

    /// Replaces the config live; buckets and the timeline's start stay, so a running test sees
    /// a policy change, not a restart.
    pub fn set_config(&mut self, config: FaultConfig) {
        self.reply_length = config.spec().reply.distribution();
        self.config = config;
    }

    /// Starts over at `now`: full buckets, the timeline from zero, the RNGs from the seed.
    pub fn reset(&mut self, now: Instant) {
        let config = self.config.clone();
        *self = Self::new(config, Some(self.seed), now);
    }

    fn account_key<'a>(&self, api_key: Option<&'a str>) -> Result<&'a str, bool> {
        let spec = self.config.spec();
        match api_key {
            Some(k) if spec.keys.is_empty() || spec.accept_unknown_keys => Ok(k),
            Some(k) if self.config.key(k).is_some() => Ok(k),
            Some(_) => Err(true),
            None if spec.keys.is_empty() => Ok(ANONYMOUS),
            None => Err(false),
        }
    }

    fn limits_for(&self, key: &str, offset: Duration) -> Limits {
        let spec = self.config.spec();
        let own = self.config.key(key).map(|k| (key, k.own_limits()));
        limits_at(&spec.timeline, offset, spec.limits, own)
    }

    /// Decides what happens to a request arriving at `now`.
    ///
    /// The steps run in a fixed order, and each RNG is drawn from in the same order on every
    /// run, so a seeded run decides the same things byte for byte: who the key is, what the
    /// timeline does, the limits and quota, injected failures, then latency.
    pub fn decide(&mut self, now: Instant, req: &RequestInfo<'_>) -> Decision {
        self.sequence += 1;
        let offset = now.saturating_duration_since(self.start);
        let mut decision = Decision::serve(self.sequence, offset);
        decision.prompt_tokens = req.prompt_tokens;
        let key = match self.account_key(req.api_key) {
            Ok(k) => k,
            Err(provided) => return decision.with(Outcome::Unauthorized { provided }),
        };
        let window = match timeline_effect(&self.config.spec().timeline, offset, req.route) {
            ControlFlow::Break(outcome) => return decision.with(outcome),
            ControlFlow::Continue(window) => window,
        };
        if self.config.refuses_model(req.model) {
            return decision.with(Outcome::ModelNotFound);
        }
        if req.route == Route::Models {
            return decision;
        }

        let entry = self.config.model(req.model);
        let own = entry.filter(|m| m.has_own_limits());
        let mut limits = self.limits_for(key, offset);
        if let Some(m) = own {
            limits = limits.overridden_by(&m.limits);
        }
        let mut reply = plan_reply(
            self.seed,
            req.prompt_hash,
            &self.reply_length,
            req.max_tokens,
        );
        if !req.route.completes() {
            // Nothing generated, nothing charged but the input; the plan stays for
            // `carry_out`, and the route's dialect writes its answer without it.
            reply.tokens = 0;
        }
        // `get_mut` first: the hit path, every request after a key's first, allocates nothing.
        let state = match self.keys.get_mut(key) {
            Some(s) => s,
            None => self
                .keys
                .entry(key.to_string())
                .or_insert(KeyState::new(now)),
        };
        let (blocked, rate_limits) = state.admit(
            now,
            &limits,
            own.map(|m| m.id.as_str()),
            (req.prompt_tokens, reply.tokens),
        );
        decision.rate_limits = rate_limits;
        if let Some(outcome) = blocked {
            return decision.with(outcome);
        }

        let spec = self.config.spec();
        decision.outcome = draw_failure(spec, &mut self.rng_failures, offset);
        let latency = draw_latency(
            spec,
            entry
                .and_then(|m| m.latency.as_ref())
                .or(spec.latency.as_ref()),
            &window,
            req.queued,
            &mut self.rng_latency,
            &mut self.rng_spikes,
        );
        decision.delay = latency.delay;
        decision.stream = latency.stream;
        decision.spiked = latency.spiked;
        decision.reply = Some(reply);
        decision
    }

    /// Usage per key, sorted by key, for `/_mock/stats`.
    pub fn key_usage(&self, now: Instant) -> Vec<KeyUsage> {
        let offset = now.saturating_duration_since(self.start);
        let mut out: Vec<KeyUsage> = self
            .keys
            .iter()
            .map(|(key, s)| {
                let quota_limit = self.limits_for(key, offset).requests_per_day;
                let mut daily = s.shared.daily;
                KeyUsage {
                    key: key.clone(),
                    requests: s.served,
                    prompt_tokens: s.prompt_tokens,
                    completion_tokens: s.completion_tokens,
                    quota_limit,
                    quota_used: quota_limit
                        .map(|cap| {
                            daily.view(now, cap, DAY);
                            daily.used(cap)
                        })
                        .unwrap_or(0.0),
                }
            })
            .collect();
        out.sort_by(|a, b| a.key.cmp(&b.key));
        out
    }
}

impl Decision {
    /// A normal answer with no delay, which the steps of [`FaultEngine::decide`] then change.
    fn serve(sequence: u64, offset: Duration) -> Self {
        Self {
            sequence,
            offset,
            outcome: Outcome::Serve,
            delay: Duration::ZERO,
            stream: StreamTiming::default(),
            spiked: false,
            rate_limits: RateLimitState::default(),
            reply: None,
            prompt_tokens: 0,
        }
    }

    /// This decision ending in `outcome`, for the steps that stop a request early.
    fn with(mut self, outcome: Outcome) -> Self {
        self.outcome = outcome;
        self
    }
}

/// What the active timeline events do to the latency of a request they let through.
#[derive(Debug, Clone, Copy)]
struct LatencyWindow<'a> {
    /// The product of the active `latency` events' multipliers.
    multiplier: f64,
    /// The replacement for `[latency]` of the last active `latency` event that has one.
    replaced: Option<&'a Distribution>,
}

/// The active events' effect on a request: a deprecation or outage ends it (the first active
/// one in file order), otherwise the latency events shape its delay.
fn timeline_effect(
    timeline: &[TimelineEvent],
    offset: Duration,
    route: Route,
) -> ControlFlow<Outcome, LatencyWindow<'_>> {
    let mut window = LatencyWindow {
        multiplier: 1.0,
        replaced: None,
    };
    for ev in timeline.iter().filter(|e| e.is_active(offset)) {
        match &ev.effect {
            Effect::Deprecate { route: r } if r == route.path() => {
                return ControlFlow::Break(Outcome::Gone)
            }
            Effect::Outage { status } => {
                return ControlFlow::Break(match status {
                    Some(s) => Outcome::Outage(*s),
                    None => Outcome::OutageReset,
                })
            }
            Effect::Latency {
                multiplier: m,
                replace,
            } => {
                window.multiplier *= m;
                window.replaced = replace.as_ref().or(window.replaced);
            }
            _ => {}
        }
    }
    ControlFlow::Continue(window)
}

/// A request's drawn delays.
#[derive(Debug, Clone, Copy)]
struct Latency {
    delay: Duration,
    stream: StreamTiming,
    spiked: bool,
}

/// Draws the base latency (the timeline's replacement, else `latency`: the model's own or
/// `[latency]`) from `rng_latency` and a spike from `rng_spikes`, then scales the base by the
/// timeline's multiplier and the queue's slowdown. Spikes are added after scaling, so a spike is as long as the config says.
fn draw_latency(
    spec: &FaultConfigSpec,
    latency: Option<&LatencyConfig>,
    window: &LatencyWindow<'_>,
    queued: u32,
    rng_latency: &mut ChaCha8Rng,
    rng_spikes: &mut ChaCha8Rng,
) -> Latency {
    let base = window
        .replaced
        .or(latency.map(|l| &l.base))
        .map(|d| d.sample_duration(rng_latency))
        .unwrap_or_default();
    let slowdown = spec
        .concurrency
        .map(|c| 1.0 + c.queue_slowdown * f64::from(queued))
        .unwrap_or(1.0);
    let mut extra = Duration::ZERO;
    let mut spiked = false;
    if let Some(spike) = latency.and_then(|l| l.spike.as_ref()) {
        if rng_spikes.random_bool(spike.probability) {
            extra = spike.extra.sample_duration(rng_spikes);
            spiked = true;
        }
    }
    let scale = window.multiplier * slowdown;
    let delay = add_capped(scaled(base, scale), extra);
    let stream = StreamTiming {
        first_token: match spec.stream.time_to_first_token {
            Some(t) => add_capped(scaled(t.0, scale), extra),
            None => delay,
        },
        per_token: scaled(spec.stream.per_token.0, scale),
    };
    Latency {
        delay,
        stream,
        spiked,
    }
}

/// `d` × `scale`, capped at [`MAX_LATENCY`]. Each factor is validated, but their product is
/// not (several latency events multiply), and `Duration::mul_f64` panics on overflow.
fn scaled(d: Duration, scale: f64) -> Duration {
    secs_to_duration(d.as_secs_f64() * scale)
}

/// `a + b`, capped at [`MAX_LATENCY`].
fn add_capped(a: Duration, b: Duration) -> Duration {
    a.saturating_add(b).min(MAX_LATENCY)
}

/// Draws at most one random failure: `[[failures]]` by cumulative probability, then active
/// timeline error and failure bursts in file order.
fn draw_failure(spec: &FaultConfigSpec, rng: &mut ChaCha8Rng, offset: Duration) -> Outcome {
    let u: f64 = rng.random();
    let mut acc = 0.0;
    for f in spec.failures.iter() {
        acc += f.probability;
        if u < acc {
            return Outcome::Fail(InjectedFailure::from_mode(&f.mode));
        }
    }
    for ev in spec.timeline.iter().filter(|e| e.is_active(offset)) {
        let (failure, probability) = match &ev.effect {
            Effect::Errors {
                status,
                probability,
            } => (InjectedFailure::Status(*status), *probability),
            Effect::Failures {
                failure,
                probability,
            } => (InjectedFailure::from_mode(failure), *probability),
            _ => continue,
        };
        if rng.random_bool(probability) {
            return Outcome::Fail(failure);
        }
    }
    Outcome::Serve
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::faults::load::parse_toml;

    fn engine(text: &str) -> (FaultEngine, Instant) {
        let cfg = parse_toml(text, "test.toml").unwrap();
        let now = Instant::now();
        (FaultEngine::new(cfg, None, now), now)
    }

    fn req(key: Option<&str>) -> RequestInfo<'_> {
        RequestInfo {
            route: Route::ChatCompletions,
            api_key: key,
            model: "gpt-4o-mini",
            prompt_tokens: 10,
            prompt_hash: 1,
            max_tokens: None,
            queued: 0,
        }
    }

    #[test]
    fn rpm_breach_says_when_to_retry() {
        let (mut e, t0) = engine("[limits]\nrequests_per_minute = 3");
        for _ in 0..3 {
            assert_eq!(e.decide(t0, &req(Some("k"))).outcome, Outcome::Serve);
        }
        let d = e.decide(t0, &req(Some("k")));
        assert_eq!(
            d.outcome,
            Outcome::RateLimited {
                resource: LimitResource::Requests,
                retry_after: Duration::from_secs(20),
                limit: 3,
                requested: 1
            }
        );
        assert_eq!(d.rate_limits.requests.unwrap().remaining, 0);
        // Another key has its own bucket.
        assert_eq!(e.decide(t0, &req(Some("other"))).outcome, Outcome::Serve);
    }

    #[test]
    fn daily_quota_is_not_a_rate_limit() {
        let (mut e, t0) = engine("[limits]\nrequests_per_day = 2");
        e.decide(t0, &req(None));
        e.decide(t0, &req(None));
        assert_eq!(e.decide(t0, &req(None)).outcome, Outcome::QuotaExhausted);
        let usage = e.key_usage(t0);
        assert_eq!(usage[0].key, ANONYMOUS);
        assert_eq!(usage[0].quota_used, 2.0);
    }

    #[test]
    fn listed_keys_only() {
        let (mut e, t0) = engine("[[keys]]\nkey = \"a\"");
        assert_eq!(e.decide(t0, &req(Some("a"))).outcome, Outcome::Serve);
        assert_eq!(
            e.decide(t0, &req(Some("b"))).outcome,
            Outcome::Unauthorized { provided: true }
        );
        assert_eq!(
            e.decide(t0, &req(None)).outcome,
            Outcome::Unauthorized { provided: false }
        );
    }

    #[test]
    fn failure_rate_matches_probability() {
        let (mut e, t0) =
            engine("[[failures]]\nkind = \"status\"\nstatus = 500\nprobability = 0.3");
        let n = 10_000;
        let fails = (0..n)
            .filter(|_| matches!(e.decide(t0, &req(None)).outcome, Outcome::Fail(_)))
            .count();
        // 0.3 ± 4 standard deviations of a binomial(10 000, 0.3).
        assert!((2817..=3183).contains(&fails), "{fails}");
    }

    #[test]
    fn failure_bursts_strike_only_in_their_window_under_their_own_label() {
        let (mut e, t0) = engine(
            "[[timeline]]\nat = \"10s\"\nfor = \"5s\"\nkind = \"failures\"\n\
             probability = 1.0\nfailure = { kind = \"stream_error\", after = 2, status = 503 }",
        );
        assert_eq!(e.decide(t0, &req(None)).outcome, Outcome::Serve);
        let d = e.decide(t0 + Duration::from_secs(12), &req(None));
        let want = InjectedFailure::StreamError {
            after: 2,
            status: 503,
        };
        assert_eq!(d.outcome, Outcome::Fail(want));
        assert_eq!(d.outcome.fault_label(), Some("stream_error"));
        let later = e.decide(t0 + Duration::from_secs(15), &req(None));
        assert_eq!(later.outcome, Outcome::Serve);
    }

    #[test]
    fn each_stream_kind_is_carried_with_its_numbers_and_label() {
        for (entry, want, label) in [
            (
                "kind = \"stall\"\nafter = 3\nfor = \"250ms\"",
                InjectedFailure::Stall {
                    after: 3,
                    pause: Duration::from_millis(250),
                },
                "stall",
            ),
            (
                "kind = \"unfinished\"",
                InjectedFailure::Unfinished { after: None },
                "unfinished",
            ),
            (
                "kind = \"early_length\"\nafter = 4",
                InjectedFailure::EarlyLength { after: 4 },
                "early_length",
            ),
        ] {
            let (mut e, t0) = engine(&format!("[[failures]]\nprobability = 1.0\n{entry}"));
            let d = e.decide(t0, &req(None));
            assert_eq!(d.outcome, Outcome::Fail(want), "{entry}");
            assert_eq!(d.outcome.fault_label(), Some(label));
        }
    }

    #[test]
    fn same_seed_same_decisions() {
        let text =
            "seed = 5\n[latency]\ndistribution = \"uniform\"\nmin = \"10ms\"\nmax = \"1s\"\n\
                    [[failures]]\nkind = \"reset\"\nprobability = 0.2";
        let (mut a, t0) = engine(text);
        let (mut b, _) = engine(text);
        for _ in 0..500 {
            let (da, db) = (a.decide(t0, &req(None)), b.decide(t0, &req(None)));
            assert_eq!(da, db);
        }
    }

    #[test]
    fn queue_slowdown_and_multiplier_scale_latency() {
        let (mut e, t0) = engine(
            "[latency]\ndistribution = \"fixed\"\nvalue = \"100ms\"\n\
             [concurrency]\nlimit = 1\nmode = \"queue\"\nqueue_slowdown = 0.5\n\
             [[timeline]]\nat = \"1s\"\nkind = \"latency\"\nmultiplier = 8.0",
        );
        let mut r = req(None);
        r.queued = 2;
        assert_eq!(e.decide(t0, &r).delay, Duration::from_millis(200));
        let later = t0 + Duration::from_secs(1);
        assert_eq!(e.decide(later, &r).delay, Duration::from_millis(1600));
    }

    #[test]
    fn listed_models_have_their_own_buckets_latency_and_a_404_for_others() {
        let (mut e, t0) = engine(
            "models = [\"a\", { id = \"b\", requests_per_minute = 1, \
             latency = { distribution = \"fixed\", value = \"2s\" } }]\n\
             [limits]\nrequests_per_minute = 2\n",
        );
        let mut r = req(Some("k"));
        r.model = "b";
        assert_eq!(e.decide(t0, &r).delay, Duration::from_secs(2));
        assert!(matches!(
            e.decide(t0, &r).outcome,
            Outcome::RateLimited { limit: 1, .. }
        ));
        // `a` uses the key's shared bucket, which `b`'s requests did not spend.
        r.model = "a";
        assert_eq!(e.decide(t0, &r).outcome, Outcome::Serve);
        assert_eq!(e.decide(t0, &r).delay, Duration::ZERO);
        r.model = "c";
        assert_eq!(e.decide(t0, &r).outcome, Outcome::ModelNotFound);
        assert_eq!(e.key_usage(t0)[0].requests, 3);
    }

    #[test]
    fn embeddings_are_charged_their_input_only() {
        let (mut e, t0) = engine("[limits]\ntokens_per_minute = 10");
        let mut r = req(None);
        r.route = Route::Embeddings;
        let d = e.decide(t0, &r);
        assert_eq!(d.outcome, Outcome::Serve);
        assert_eq!(d.reply.map(|p| p.tokens), Some(0));
        assert_eq!(d.rate_limits.tokens.unwrap().remaining, 0);
        assert_eq!(e.key_usage(t0)[0].completion_tokens, 0);
    }

    #[test]
    fn stacked_multipliers_are_capped_not_overflowed() {
        let mut text = String::from(
            "[latency]\ndistribution = \"fixed\"\nvalue = \"1d\"\n\
             [stream]\nper_token = \"1d\"\n\
             [concurrency]\nlimit = 1\nmode = \"queue\"\nqueue_slowdown = 100.0\n",
        );
        for _ in 0..200 {
            text.push_str("[[timeline]]\nat = \"0s\"\nkind = \"latency\"\nmultiplier = 1000.0\n");
        }
        let (mut e, t0) = engine(&text);
        let mut r = req(None);
        r.queued = u32::MAX;
        let d = e.decide(t0, &r);
        assert_eq!(d.delay, MAX_LATENCY);
        assert_eq!(d.stream.per_token, MAX_LATENCY);
    }
}
