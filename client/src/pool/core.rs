//! The pool's decisions, on any clock: which key a request goes with now, and what an answer
//! says about the key. No I/O and no sleeping, so paused-clock tests drive every case.

use std::sync::Arc;
use std::time::Duration;

use tokio::time::Instant;

use super::config::{KeyEntry, PoolConfig, Strategy};
use super::window::MinuteWindow;

const DAY: Duration = Duration::from_secs(86_400);

/// What [`KeyPool::decide`] says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Choice {
    /// Send with key number `0` (its place in the config); counted against its limits already.
    Key(usize),
    /// Every key with quota left is at a limit or cooling down until `until`.
    Busy {
        /// The earliest a key may have room again.
        until: Instant,
    },
    /// Every key's daily quota is spent.
    Spent,
}

/// How an attempt with a key ended, as [`KeyPool::finished`] learns it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Finish {
    /// Answered; `tokens` of usage count against the key's `tpm`.
    Answered {
        /// Prompt plus completion tokens.
        tokens: u64,
    },
    /// 429: rest the key for `retry_after`, or the pool's `cooldown` when `None`.
    RateLimited {
        /// What the upstream said.
        retry_after: Option<Duration>,
    },
    /// 429 `insufficient_quota`: the key is spent until its day ends.
    QuotaExhausted,
    /// Any other end (an error that says nothing about the key, a dropped call).
    Other,
}

/// One key's state.
#[derive(Debug)]
struct KeyState {
    name: Arc<str>,
    rpm: Option<u64>,
    tpm: Option<u64>,
    rpd: Option<u64>,
    tier: u32,
    cost_per_1k: f64,
    requests: MinuteWindow,
    tokens: MinuteWindow,
    /// Which day (since the epoch) `today` counts.
    day: u64,
    today: u64,
    cooled_until: Option<Instant>,
    spent_until: Option<Instant>,
    in_flight: u64,
}

/// Every key's counts and rests; [`decide`](Self::decide) reserves a request on the key it
/// picks, so concurrent requests never overshoot a limit together.
#[derive(Debug)]
pub struct KeyPool {
    keys: Vec<KeyState>,
    strategy: Strategy,
    cooldown: Duration,
    epoch: Instant,
    /// Where round-robin looks first.
    cursor: usize,
}

impl KeyPool {
    /// A pool whose minutes and days start at `epoch`.
    pub fn new(config: &PoolConfig, epoch: Instant) -> Self {
        let keys = config.keys.iter().map(KeyState::new).collect();
        Self {
            keys,
            strategy: config.strategy,
            cooldown: config.cooldown.0,
            epoch,
            cursor: 0,
        }
    }

    /// The key's name, for events.
    pub fn name(&self, key: usize) -> Arc<str> {
        self.keys[key].name.clone()
    }

    /// The key's price per 1 000 tokens.
    pub fn cost_per_1k(&self, key: usize) -> f64 {
        self.keys[key].cost_per_1k
    }

    /// Requests sent with `key` since the start of the current day (for tests and displays).
    pub fn sent_today(&mut self, key: usize, now: Instant) -> u64 {
        let day = self.day(now);
        self.keys[key].roll_day(day);
        self.keys[key].today
    }

    fn sec(&self, now: Instant) -> u64 {
        now.saturating_duration_since(self.epoch).as_secs()
    }

    fn day(&self, now: Instant) -> u64 {
        self.sec(now) / DAY.as_secs()
    }

    /// Picks the key for a request sent at `now` and counts it there.
    pub fn decide(&mut self, now: Instant) -> Choice {
        let (sec, day) = (self.sec(now), self.day(now));
        let mut open = Vec::with_capacity(self.keys.len());
        let mut until: Option<Instant> = None;
        let mut any_left = false;
        for (i, k) in self.keys.iter_mut().enumerate() {
            match k.room(now, sec, day, self.epoch) {
                Room::Yes => open.push(i),
                Room::At(t) => {
                    any_left = true;
                    until = Some(until.map_or(t, |u| u.min(t)));
                }
                Room::Spent => {}
            }
        }
        let Some(tier) = open.iter().map(|i| self.keys[*i].tier).min() else {
            return match (any_left, until) {
                (true, Some(until)) => Choice::Busy { until },
                _ => Choice::Spent,
            };
        };
        open.retain(|i| self.keys[*i].tier == tier);
        let pick = self.pick(&open, sec, day);
        let k = &mut self.keys[pick];
        k.requests.add(sec, 1);
        k.today += 1;
        k.in_flight += 1;
        Choice::Key(pick)
    }

    fn pick(&mut self, open: &[usize], sec: u64, day: u64) -> usize {
        match self.strategy {
            Strategy::Ordered => open[0],
            Strategy::RoundRobin => {
                let pick = open
                    .iter()
                    .copied()
                    .find(|i| *i >= self.cursor)
                    .unwrap_or(open[0]);
                self.cursor = pick + 1;
                pick
            }
            Strategy::LeastLoaded => {
                let mut best = (f64::INFINITY, u64::MAX, open[0]);
                for &i in open {
                    let k = &mut self.keys[i];
                    let load = (k.load(sec, day), k.in_flight, i);
                    if (load.0, load.1) < (best.0, best.1) {
                        best = load;
                    }
                }
                best.2
            }
        }
    }

    /// Records how an attempt with `key` ended at `now`; returns how long the key now rests
    /// (a cooldown), if it does.
    pub fn finished(&mut self, key: usize, now: Instant, how: Finish) -> Option<Duration> {
        let (sec, day) = (self.sec(now), self.day(now));
        let next_day = crate::layer_support::deadline_after(
            self.epoch,
            Duration::from_secs(day.saturating_add(1).saturating_mul(DAY.as_secs())),
        );
        let cooldown = self.cooldown;
        let k = &mut self.keys[key];
        k.in_flight = k.in_flight.saturating_sub(1);
        match how {
            Finish::Answered { tokens } => {
                k.tokens.add(sec, tokens);
                None
            }
            Finish::RateLimited { retry_after } => {
                let rest = retry_after.unwrap_or(cooldown);
                k.cooled_until = Some(crate::layer_support::deadline_after(now, rest));
                Some(rest)
            }
            Finish::QuotaExhausted => {
                k.spent_until = Some(next_day);
                None
            }
            Finish::Other => None,
        }
    }
}

/// Whether a key can take a request now.
enum Room {
    Yes,
    /// Not before this instant.
    At(Instant),
    /// Not today.
    Spent,
}

impl KeyState {
    fn new(e: &KeyEntry) -> Self {
        Self {
            name: Arc::from(e.name.as_str()),
            rpm: e.rpm,
            tpm: e.tpm,
            rpd: e.rpd,
            tier: e.tier,
            cost_per_1k: e.cost_per_1k_tokens,
            requests: MinuteWindow::new(),
            tokens: MinuteWindow::new(),
            day: 0,
            today: 0,
            cooled_until: None,
            spent_until: None,
            in_flight: 0,
        }
    }

    fn roll_day(&mut self, day: u64) {
        if day != self.day {
            self.day = day;
            self.today = 0;
        }
    }

    fn room(&mut self, now: Instant, sec: u64, day: u64, epoch: Instant) -> Room {
        self.roll_day(day);
        if self.spent_until.is_some_and(|t| now < t) {
            return Room::Spent;
        }
        if self.rpd.is_some_and(|l| self.today >= l) {
            return Room::Spent;
        }
        if let Some(t) = self.cooled_until.filter(|t| now < *t) {
            return Room::At(t);
        }
        if self.rpm.is_some_and(|l| self.requests.sum(sec) >= l) {
            return Room::At(self.requests.frees_at(epoch, sec));
        }
        if self.tpm.is_some_and(|l| self.tokens.sum(sec) >= l) {
            return Room::At(self.tokens.frees_at(epoch, sec));
        }
        Room::Yes
    }

    /// The largest share of a limit used (0 with no limits).
    fn load(&mut self, sec: u64, day: u64) -> f64 {
        self.roll_day(day);
        let share = |used: u64, limit: Option<u64>| limit.map_or(0.0, |l| used as f64 / l as f64);
        let rpm = share(self.requests.sum(sec), self.rpm);
        let tpm = share(self.tokens.sum(sec), self.tpm);
        let rpd = share(self.today, self.rpd);
        rpm.max(tpm).max(rpd)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pool(toml: &str) -> KeyPool {
        let c: PoolConfig = toml::from_str(toml).unwrap();
        c.validate().unwrap();
        KeyPool::new(&c, Instant::now())
    }

    const FREE_THEN_PAID: &str = r#"
        [[keys]]
        name = "free"
        key = "f"
        rpm = 2
        rpd = 3
        [[keys]]
        name = "paid"
        key = "p"
        cost_per_1k_tokens = 0.5
        tier = 1
    "#;

    #[tokio::test(start_paused = true)]
    async fn ordered_spills_to_the_paid_tier_at_the_free_limits() {
        let mut p = pool(FREE_THEN_PAID);
        let now = Instant::now();
        assert_eq!(p.decide(now), Choice::Key(0));
        assert_eq!(p.decide(now), Choice::Key(0));
        // rpm = 2 reached: the paid key takes the overflow.
        assert_eq!(p.decide(now), Choice::Key(1));
        // A minute on, the free key has room again, but only one more today (rpd = 3).
        tokio::time::advance(Duration::from_secs(61)).await;
        let now = Instant::now();
        assert_eq!(p.decide(now), Choice::Key(0));
        assert_eq!(p.decide(now), Choice::Key(1));
        assert_eq!(p.sent_today(0, now), 3);
        // The next day the free key is back.
        tokio::time::advance(DAY).await;
        assert_eq!(p.decide(Instant::now()), Choice::Key(0));
    }

    #[tokio::test(start_paused = true)]
    async fn a_429_cools_the_key_for_retry_after_or_the_cooldown() {
        let mut p = pool(
            "cooldown = \"10s\"\n[[keys]]\nname = \"a\"\nkey = \"a\"\n[[keys]]\nname = \"b\"\nkey = \"b\"",
        );
        let t0 = Instant::now();
        assert_eq!(p.decide(t0), Choice::Key(0));
        let rest = p.finished(0, t0, Finish::RateLimited { retry_after: None });
        assert_eq!(rest, Some(Duration::from_secs(10)));
        assert_eq!(p.decide(t0), Choice::Key(1));
        let rest = p.finished(
            1,
            t0,
            Finish::RateLimited {
                retry_after: Some(Duration::from_secs(3)),
            },
        );
        assert_eq!(rest, Some(Duration::from_secs(3)));
        assert_eq!(
            p.decide(t0),
            Choice::Busy {
                until: t0 + Duration::from_secs(3)
            }
        );
        tokio::time::advance(Duration::from_secs(3)).await;
        assert_eq!(p.decide(Instant::now()), Choice::Key(1));
        tokio::time::advance(Duration::from_secs(7)).await;
        assert_eq!(p.decide(Instant::now()), Choice::Key(0));
    }

    #[tokio::test(start_paused = true)]
    async fn a_spent_key_stays_spent_until_its_day_ends() {
        let mut p = pool("[[keys]]\nname = \"a\"\nkey = \"a\"");
        let t0 = Instant::now();
        assert_eq!(p.decide(t0), Choice::Key(0));
        p.finished(0, t0, Finish::QuotaExhausted);
        assert_eq!(p.decide(t0), Choice::Spent);
        tokio::time::advance(DAY - Duration::from_secs(1)).await;
        assert_eq!(p.decide(Instant::now()), Choice::Spent);
        tokio::time::advance(Duration::from_secs(1)).await;
        assert_eq!(p.decide(Instant::now()), Choice::Key(0));
    }

    #[tokio::test(start_paused = true)]
    async fn round_robin_takes_turns_and_least_loaded_evens_out() {
        let keys = "[[keys]]\nname = \"a\"\nkey = \"a\"\nrpm = 10\n[[keys]]\nname = \"b\"\nkey = \"b\"\nrpm = 10\n[[keys]]\nname = \"c\"\nkey = \"c\"\nrpm = 20\n";
        let mut p = pool(&format!("strategy = \"round_robin\"\n{keys}"));
        let t0 = Instant::now();
        let picks: Vec<_> = (0..4).map(|_| p.decide(t0)).collect();
        assert_eq!(
            picks,
            [
                Choice::Key(0),
                Choice::Key(1),
                Choice::Key(2),
                Choice::Key(0)
            ]
        );
        let mut p = pool(&format!("strategy = \"least_loaded\"\n{keys}"));
        let mut counts = [0; 3];
        for _ in 0..40 {
            let Choice::Key(k) = p.decide(t0) else {
                panic!("no key")
            };
            counts[k] += 1;
        }
        // Every key full at once: a, b 10 each, c 20.
        assert_eq!(counts, [10, 10, 20]);
        assert!(matches!(p.decide(t0), Choice::Busy { .. }));
    }

    #[tokio::test(start_paused = true)]
    async fn tokens_per_minute_close_a_key_until_they_age_out() {
        let mut p = pool("[[keys]]\nname = \"a\"\nkey = \"a\"\ntpm = 100");
        let t0 = Instant::now();
        assert_eq!(p.decide(t0), Choice::Key(0));
        p.finished(0, t0, Finish::Answered { tokens: 150 });
        assert_eq!(
            p.decide(t0),
            Choice::Busy {
                until: t0 + Duration::from_secs(61)
            }
        );
        tokio::time::advance(Duration::from_secs(61)).await;
        assert_eq!(p.decide(Instant::now()), Choice::Key(0));
    }
}
