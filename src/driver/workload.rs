//! What each session sends: prompts from a Zipf-weighted pool, turns, tenants, end users,
//! priority classes, streaming, and each turn's route and ask (`[workload.mix]`), all drawn
//! from seeded streams in arrival order, so a run's requests do not depend on how tasks
//! interleave.

use std::time::Duration;

use mock_upstream::faults::distribution::DistError;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution as _, Zipf};

use crate::client::stack::stream_seed;
use crate::client::{Priority, Route};
use crate::scenario::{Ask, Dataset, Mix, MixError, WorkloadSpec};
use mock_upstream::faults::distribution::Distribution;

const TEMPLATES: &[&str] = &[
    "Summarise the main idea of",
    "Explain in two sentences",
    "Give three examples of",
    "What are the risks of",
    "Write a short haiku about",
    "Translate into French:",
    "List the pros and cons of",
    "How would you test",
    "Suggest a name for",
    "What is a common mistake with",
];

const TOPICS: &[&str] = &[
    "rate limiting",
    "exponential backoff",
    "circuit breakers",
    "response caching",
    "retry budgets",
    "token buckets",
    "load shedding",
    "queueing theory",
    "tail latency",
    "connection pooling",
    "idempotency keys",
    "graceful degradation",
    "timeouts",
    "service level objectives",
    "fair queueing",
    "backpressure",
    "chaos testing",
    "streaming responses",
    "API versioning",
    "quota management",
];

/// Why the workload's prompts or sessions could not be set up.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum WorkloadSetupError {
    /// The prompts file has nothing to send.
    #[error("the prompts file has no non-empty line")]
    EmptyPrompts,
    /// A Zipf exponent the distribution refuses.
    #[error("zipf: {0}")]
    Zipf(rand_distr::ZipfError),
    /// The think-time distribution does not build.
    #[error("think_time: {0}")]
    ThinkTime(DistError),
    /// `[workload.mix]` does not make a mix.
    #[error(transparent)]
    Mix(MixError),
}

/// The prompt pool: the built-in corpus (written on demand, so a pool of a million distinct
/// prompts costs nothing up front), lines of a file, or a dataset's conversations.
#[derive(Debug, Clone)]
pub(crate) struct PromptPool {
    prompts: std::sync::Arc<Vec<String>>,
    built_in: usize,
    /// A dataset's conversations: entry `i` is a session's turns.
    dialogues: Option<std::sync::Arc<Dataset>>,
}

/// The `i`-th prompt of the built-in corpus.
fn built_in_prompt(i: usize) -> String {
    let t = TEMPLATES[i % TEMPLATES.len()];
    let topic = TOPICS[(i / TEMPLATES.len()) % TOPICS.len()];
    let round = i / (TEMPLATES.len() * TOPICS.len());
    // Pieces pushed rather than `format!`ted: one prompt per request, and the formatting
    // machinery showed in the driver's profile.
    let mut p = String::with_capacity(t.len() + topic.len() + 32);
    p.push_str(t);
    p.push(' ');
    p.push_str(topic);
    if round > 0 {
        p.push_str(" (variant ");
        push_decimal(&mut p, round as u64);
        p.push(')');
    }
    p.push('.');
    p
}

/// Appends `n` in decimal.
fn push_decimal(out: &mut String, n: u64) {
    let mut digits = [0u8; 20];
    let mut len = 0;
    let mut rest = n;
    loop {
        digits[len] = b'0' + (rest % 10) as u8;
        len += 1;
        rest /= 10;
        if rest == 0 {
            break;
        }
    }
    out.extend(digits[..len].iter().rev().map(|&d| char::from(d)));
}

impl PromptPool {
    /// `distinct` prompts from the built-in corpus.
    pub fn built_in(distinct: u32) -> Self {
        Self {
            prompts: std::sync::Arc::new(Vec::new()),
            built_in: distinct.max(1) as usize,
            dialogues: None,
        }
    }

    /// A dataset's conversations: a session is one of them, its turns in order.
    pub fn from_dataset(dataset: Dataset) -> Self {
        Self {
            prompts: std::sync::Arc::new(Vec::new()),
            built_in: 0,
            dialogues: Some(std::sync::Arc::new(dataset)),
        }
    }

    /// The `i`-th prompt (a dataset's `i`-th conversation's first turn).
    pub fn get(&self, i: usize) -> String {
        self.turn(i, 0)
    }

    /// Turn `turn` of entry `i`: the dataset conversation's, or the prompt itself (which has
    /// one turn) for a pool of prompts.
    fn turn(&self, i: usize, turn: usize) -> String {
        if let Some(d) = &self.dialogues {
            d.conversations[i].turns[turn].clone()
        } else if self.prompts.is_empty() {
            built_in_prompt(i)
        } else {
            self.prompts[i].clone()
        }
    }

    /// Turns of entry `i` when it is a dataset's conversation.
    fn dialogue_turns(&self, i: usize) -> Option<usize> {
        self.dialogues
            .as_ref()
            .map(|d| d.conversations[i].turns.len())
    }

    /// Up to `distinct` non-empty lines of `text`.
    pub fn from_text(text: &str, distinct: u32) -> Result<Self, WorkloadSetupError> {
        let prompts: Vec<String> = text
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty())
            .take(distinct as usize)
            .map(str::to_string)
            .collect();
        if prompts.is_empty() {
            return Err(WorkloadSetupError::EmptyPrompts);
        }
        Ok(Self {
            prompts: std::sync::Arc::new(prompts),
            built_in: 0,
            dialogues: None,
        })
    }

    /// Number of prompts (of conversations for a dataset).
    pub fn len(&self) -> usize {
        if let Some(d) = &self.dialogues {
            d.conversations.len()
        } else if self.prompts.is_empty() {
            self.built_in
        } else {
            self.prompts.len()
        }
    }
}

/// One request of a session.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct TurnPlan {
    /// The user message sent, drawn from the prompt pool.
    pub prompt: String,
    /// Think time before this turn (zero for the first).
    pub think: Duration,
    /// The API route it goes to.
    pub route: Route,
    /// What it asks for beyond text (always text for embeddings).
    pub ask: Ask,
    /// A trace line's model, instead of `[workload] model_name`.
    pub model: Option<String>,
    /// A trace line's `max_tokens`, instead of `[workload] max_tokens`.
    pub max_tokens: Option<u32>,
}

/// A session: one or more turns sent one after the other by one end user.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct SessionPlan {
    /// Session id, for the context layer.
    pub id: String,
    /// Turns in order.
    pub turns: Vec<TurnPlan>,
    /// The tenant key, if tenants are configured.
    pub api_key: Option<String>,
    /// The end user, if end users are configured.
    pub user: Option<String>,
    /// Priority class of every turn: batch with probability `batch_share`.
    pub priority: Priority,
    /// Whether to stream.
    pub stream: bool,
}

/// Draws sessions; every random choice has its own stream.
#[derive(Debug)]
pub(crate) struct SessionFactory {
    pool: PromptPool,
    prompt_zipf: Option<Zipf<f64>>,
    user_zipf: Option<Zipf<f64>>,
    tenants: Vec<(String, f64)>,
    tenant_total: f64,
    min_turns: u32,
    max_turns: u32,
    think: Option<Distribution>,
    stream_share: f64,
    batch_share: f64,
    rng_prompt: ChaCha8Rng,
    rng_shape: ChaCha8Rng,
    rng_think: ChaCha8Rng,
    mix: Mix,
    /// Its own stream, so a scenario without a mix draws exactly what it always drew.
    rng_mix: ChaCha8Rng,
    next_id: u64,
    prefix: String,
}

impl SessionFactory {
    /// A factory for `spec`, seeded from `seed` (plus `salt` for per-user streams).
    pub fn new(
        spec: &WorkloadSpec,
        pool: PromptPool,
        seed: u64,
        salt: &str,
    ) -> Result<Self, WorkloadSetupError> {
        let zipf = |n: usize, s: f64| -> Result<Option<Zipf<f64>>, WorkloadSetupError> {
            if s <= 0.0 {
                Ok(None)
            } else {
                Zipf::new(n as f64, s)
                    .map(Some)
                    .map_err(WorkloadSetupError::Zipf)
            }
        };
        let think = spec
            .think_time
            .as_ref()
            .map(|t| t.distribution())
            .transpose()
            .map_err(WorkloadSetupError::ThinkTime)?;
        let tenants: Vec<(String, f64)> = spec
            .tenants
            .iter()
            .map(|t| (t.key.clone(), t.share))
            .collect();
        Ok(Self {
            prompt_zipf: zipf(pool.len(), spec.prompts.zipf_exponent)?,
            user_zipf: match spec.end_users {
                Some(u) => zipf(u.count.max(1) as usize, u.zipf_exponent.max(1e-9))?,
                None => None,
            },
            tenant_total: tenants.iter().map(|t| t.1).sum(),
            tenants,
            pool,
            min_turns: spec.turns.min,
            max_turns: spec.turns.max,
            think,
            stream_share: spec.stream_share,
            batch_share: spec.batch_share,
            rng_prompt: ChaCha8Rng::seed_from_u64(stream_seed(seed, &format!("prompts{salt}"))),
            rng_shape: ChaCha8Rng::seed_from_u64(stream_seed(seed, &format!("sessions{salt}"))),
            rng_think: ChaCha8Rng::seed_from_u64(stream_seed(seed, &format!("think{salt}"))),
            mix: spec.mix.resolve().map_err(WorkloadSetupError::Mix)?,
            rng_mix: ChaCha8Rng::seed_from_u64(stream_seed(seed, &format!("mix{salt}"))),
            next_id: 0,
            prefix: format!("s{salt}-"),
        })
    }

    fn prompt_index(&mut self) -> usize {
        let n = self.pool.len();
        match &self.prompt_zipf {
            Some(z) => (z.sample(&mut self.rng_prompt) as usize).clamp(1, n) - 1,
            None => self.rng_prompt.random_range(0..n),
        }
    }

    /// A turn's route and ask: two uniform draws from the mix's stream (none for an all-chat
    /// mix); embeddings ask for nothing beyond the input.
    fn route_and_ask(&mut self) -> (Route, Ask) {
        if self.mix.is_all_chat() {
            return (Route::Chat, Ask::Text);
        }
        let route = self.mix.route_at(self.rng_mix.random_range(0.0..1.0));
        let ask = self.mix.ask_at(self.rng_mix.random_range(0.0..1.0));
        (route, if route.completes() { ask } else { Ask::Text })
    }

    /// A think time.
    pub fn think(&mut self) -> Duration {
        self.think
            .as_ref()
            .map(|d| d.sample_duration(&mut self.rng_think))
            .unwrap_or_default()
    }

    /// The next session.
    pub fn next_session(&mut self) -> SessionPlan {
        let draw = self.draw();
        self.build(draw)
    }

    /// Draws the next session and throws it away: a driver thread passes over the sessions
    /// another thread sends, so that every thread sees the same sequence, without building their
    /// strings.
    pub fn skip_session(&mut self) {
        let _ = self.draw();
    }

    /// Every random choice of a session, in the order they have always been drawn (changing it
    /// would change every report of a seed).
    fn draw(&mut self) -> SessionDraw {
        self.next_id += 1;
        let mut turns = self.rng_shape.random_range(self.min_turns..=self.max_turns);
        // A dataset's session is one conversation, drawn first: its turns are the session's.
        let dialogue = self.pool.dialogues.is_some().then(|| self.prompt_index());
        if let Some(d) = dialogue {
            turns = self.pool.dialogue_turns(d).unwrap_or(1) as u32;
        }
        let tenant = if self.tenants.is_empty() {
            None
        } else {
            let mut x = self.rng_shape.random_range(0.0..self.tenant_total);
            let mut chosen = self.tenants.len() - 1;
            for (i, (_, share)) in self.tenants.iter().enumerate() {
                if x < *share {
                    chosen = i;
                    break;
                }
                x -= share;
            }
            Some(chosen)
        };
        let user = self.user_zipf.map(|z| z.sample(&mut self.rng_shape) as u64);
        let priority = if self.rng_shape.random_bool(self.batch_share) {
            Priority::Batch
        } else {
            Priority::Interactive
        };
        let stream = self.rng_shape.random_bool(self.stream_share);
        let turns = (0..turns)
            .map(|i| {
                let prompt = match dialogue {
                    Some(d) => (d, i as usize),
                    None => (self.prompt_index(), 0),
                };
                let think = if i == 0 { Duration::ZERO } else { self.think() };
                let (route, ask) = self.route_and_ask();
                (prompt, think, route, ask)
            })
            .collect();
        SessionDraw {
            turns,
            tenant,
            user,
            priority,
            stream,
        }
    }

    fn build(&self, draw: SessionDraw) -> SessionPlan {
        SessionPlan {
            id: {
                let mut id = String::with_capacity(self.prefix.len() + 20);
                id.push_str(&self.prefix);
                push_decimal(&mut id, self.next_id);
                id
            },
            turns: draw
                .turns
                .into_iter()
                .map(|((entry, turn), think, route, ask)| TurnPlan {
                    prompt: self.pool.turn(entry, turn),
                    think,
                    route,
                    ask,
                    model: None,
                    max_tokens: None,
                })
                .collect(),
            api_key: draw.tenant.map(|i| self.tenants[i].0.clone()),
            user: draw.user.map(|u| {
                let mut s = String::with_capacity(21);
                s.push('u');
                push_decimal(&mut s, u);
                s
            }),
            priority: draw.priority,
            stream: draw.stream,
        }
    }
}

/// A session's random choices before any string is built.
struct SessionDraw {
    /// Prompt (entry and turn of it), think time, route and ask of each turn.
    turns: Vec<((usize, usize), Duration, Route, Ask)>,
    tenant: Option<usize>,
    user: Option<u64>,
    priority: Priority,
    stream: bool,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scenario::Scenario;

    fn spec(extra: &str) -> WorkloadSpec {
        let text = format!(
            "name = \"x\"\nduration = \"1s\"\n[workload]\nstages = [{{ for = \"1s\", rate = \"1/s\" }}]\n{extra}"
        );
        Scenario::parse(&text, "x").unwrap().workload
    }

    #[test]
    fn prompts_and_ids_read_as_formatted() {
        for n in [0u64, 7, 10, 99, 12345, u64::MAX] {
            let mut s = String::from("s-");
            push_decimal(&mut s, n);
            assert_eq!(s, format!("s-{n}"));
        }
        let per_round = TEMPLATES.len() * TOPICS.len();
        assert_eq!(
            built_in_prompt(per_round * 3 + 1),
            format!("{} {} (variant 3).", TEMPLATES[1], TOPICS[0])
        );
        assert_eq!(
            built_in_prompt(0),
            format!("{} {}.", TEMPLATES[0], TOPICS[0])
        );
    }

    #[test]
    fn zipf_makes_a_few_prompts_common() {
        let s = spec("prompts = { distinct = 200, zipf_exponent = 1.1 }");
        let mut f = SessionFactory::new(&s, PromptPool::built_in(200), 1, "").unwrap();
        let mut counts = std::collections::HashMap::new();
        for _ in 0..5000 {
            *counts
                .entry(f.next_session().turns[0].prompt.clone())
                .or_insert(0) += 1;
        }
        let mut v: Vec<i32> = counts.values().copied().collect();
        v.sort_unstable_by(|a, b| b.cmp(a));
        // The most common prompt is far more frequent than the median one.
        assert!(v[0] > 10 * v[v.len() / 2], "{:?}", &v[..5]);
        assert!(counts.len() > 100);
    }

    #[test]
    fn same_seed_same_sessions() {
        let s = spec("turns = { min = 1, max = 3 }\ntenants = [{ key = \"a\", share = 3.0 }, { key = \"b\", share = 1.0 }]\nend_users = { count = 10, zipf_exponent = 1.2 }\nbatch_share = 0.3\nthink_time = \"1s\"");
        let mut a = SessionFactory::new(&s, PromptPool::built_in(50), 9, "").unwrap();
        let mut b = SessionFactory::new(&s, PromptPool::built_in(50), 9, "").unwrap();
        let sa: Vec<_> = (0..100).map(|_| a.next_session()).collect();
        let sb: Vec<_> = (0..100).map(|_| b.next_session()).collect();
        assert_eq!(sa, sb);
        let share_a = sa
            .iter()
            .filter(|s| s.api_key.as_deref() == Some("a"))
            .count();
        assert!((60..=90).contains(&share_a), "{share_a}");
        assert!(sa.iter().any(|s| s.turns.len() == 3));
        assert!(sa.iter().any(|s| s.priority == Priority::Batch));
        // Skipping a session draws what building it would have drawn.
        let mut c = SessionFactory::new(&s, PromptPool::built_in(50), 9, "").unwrap();
        for (i, expected) in sa.iter().enumerate() {
            if i % 3 == 1 {
                c.skip_session();
            } else {
                assert_eq!(&c.next_session(), expected);
            }
        }
    }

    #[test]
    fn the_mix_is_drawn_per_turn_from_its_own_stream() {
        let plain = spec("turns = { min = 1, max = 3 }\nbatch_share = 0.3");
        let mixed = spec("turns = { min = 1, max = 3 }\nbatch_share = 0.3\n[workload.mix]\nchat = 0.5\nresponses = 0.3\nembeddings = 0.2\ntool_calls = 0.2\nstructured_output = 0.1");
        let mut a = SessionFactory::new(&plain, PromptPool::built_in(50), 3, "").unwrap();
        let mut b = SessionFactory::new(&mixed, PromptPool::built_in(50), 3, "").unwrap();
        let mut counts = std::collections::HashMap::new();
        let mut turns = 0;
        for _ in 0..4000 {
            let (sa, sb) = (a.next_session(), b.next_session());
            // The mix changes nothing else that is drawn.
            assert_eq!(sa.turns.len(), sb.turns.len());
            assert_eq!((sa.priority, sa.stream), (sb.priority, sb.stream));
            for (ta, tb) in sa.turns.iter().zip(&sb.turns) {
                assert_eq!(ta.prompt, tb.prompt);
                assert_eq!((ta.route, ta.ask), (Route::Chat, Ask::Text));
                if tb.route == Route::Embeddings {
                    assert_eq!(tb.ask, Ask::Text);
                }
                *counts.entry((tb.route, tb.ask)).or_insert(0u32) += 1;
                turns += 1;
            }
        }
        let share = |f: &dyn Fn(Route, Ask) -> bool| {
            counts
                .iter()
                .filter(|((r, a), _)| f(*r, *a))
                .map(|(_, n)| *n)
                .sum::<u32>() as f64
                / turns as f64
        };
        assert!((share(&|r, _| r == Route::Chat) - 0.5).abs() < 0.03);
        assert!((share(&|r, _| r == Route::Responses) - 0.3).abs() < 0.03);
        assert!((share(&|r, _| r == Route::Embeddings) - 0.2).abs() < 0.03);
        // Asks are shares of the completing routes (80 % of turns here).
        assert!((share(&|_, a| a == Ask::ToolCall) - 0.8 * 0.2).abs() < 0.03);
        assert!((share(&|_, a| a == Ask::StructuredOutput) - 0.8 * 0.1).abs() < 0.03);
        // Seeded: the same again.
        let mut c = SessionFactory::new(&mixed, PromptPool::built_in(50), 3, "").unwrap();
        let mut d = SessionFactory::new(&mixed, PromptPool::built_in(50), 3, "").unwrap();
        for _ in 0..100 {
            assert_eq!(c.next_session(), d.next_session());
        }
    }
}
