//! The key pool and the model chain over real HTTP on 127.0.0.1 against the real mock, whose
//! `[[keys]]` and `models` carry their own limits: the mock's per-key counts show the pool
//! keeps each key under its limit, fails over when a key's daily quota runs out, rests a key
//! after a 429, and that the chain answers from the next model when the first is spent.

use std::sync::Arc;

use gauntlet_client::{
    ChatRequest, ClientConfig, ClientError, ClientStack, CountingObserver, Event, Outcome,
};
use hyper_util::rt::{TokioExecutor, TokioIo};
use mock_upstream::server::MockState;
use tokio::net::TcpListener;
use tower::ServiceExt;

/// The real mock with fault file `faults`, served on 127.0.0.1 (a free port): its URL and its
/// state (for the per-key counts).
async fn mock(faults: &str) -> (String, MockState) {
    let config = mock_upstream::faults::parse_toml(faults, "pool.toml").unwrap();
    let state = MockState::new(config, Default::default());
    let app = mock_upstream::server::router(state.clone());
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move {
        while let Ok((socket, _)) = listener.accept().await {
            let app = app.clone();
            tokio::spawn(async move {
                let service = hyper::service::service_fn(move |req| app.clone().oneshot(req));
                let _ = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new())
                    .serve_connection(TokioIo::new(socket), service)
                    .await;
            });
        }
    });
    (url, state)
}

/// Requests that passed the mock's limits with `key`.
fn passed(state: &MockState, key: &str) -> u64 {
    state
        .key_usage()
        .iter()
        .find(|u| u.key == key)
        .map_or(0, |u| u.requests)
}

/// Answers the mock gave with `status`.
fn status_count(state: &MockState, status: u16) -> u64 {
    state
        .stats()
        .by_status
        .get(&status.to_string())
        .copied()
        .unwrap_or(0)
}

fn stack(url: &str, client: &str, obs: &Arc<CountingObserver>) -> ClientStack {
    let text = format!("[adapter]\nbase_url = \"{url}\"\n{client}");
    let config: ClientConfig = toml::from_str(&text).unwrap();
    ClientStack::builder(&config)
        .observer(obs.clone())
        .build()
        .unwrap()
}

async fn send_n(stack: &ClientStack, n: usize, model: &str) -> Vec<Result<Outcome, ClientError>> {
    let mut out = Vec::new();
    for i in 0..n {
        let r = stack
            .send(ChatRequest::user_text(model, format!("question {i}")))
            .await;
        out.push(r.map(|r| r.outcome));
    }
    out
}

fn key_events(obs: &CountingObserver, f: impl Fn(&Event) -> bool) -> usize {
    obs.events().iter().filter(|e| f(e)).count()
}

const FREE_AND_PAID: &str = r#"
[[keys]]
key = "sk-free"
requests_per_minute = 5
[[keys]]
key = "sk-paid"
"#;

#[tokio::test]
async fn the_pool_never_sends_a_key_over_its_limit() {
    let (url, state) = mock(FREE_AND_PAID).await;
    let obs = Arc::new(CountingObserver::default());
    let pool = r#"
        [pool]
        [[pool.keys]]
        name = "free"
        key = "sk-free"
        rpm = 5
        [[pool.keys]]
        name = "paid"
        key = "sk-paid"
        cost_per_1k_tokens = 2.0
        tier = 1
    "#;
    let s = stack(&url, pool, &obs);
    let results = send_n(&s, 20, "gpt-4o-mini").await;
    assert!(
        results.iter().all(|r| *r == Ok(Outcome::Upstream)),
        "{results:?}"
    );
    assert_eq!(passed(&state, "sk-free"), 5);
    assert_eq!(passed(&state, "sk-paid"), 15);
    assert_eq!(
        status_count(&state, 429),
        0,
        "the pool sent a key over its limit"
    );
    // The limit binds at the mock: a sixth request with the free key is refused.
    let direct = stack(&url, "", &obs);
    let mut req = ChatRequest::user_text("gpt-4o-mini", "over the limit");
    req.api_key = Some("sk-free".into());
    assert!(matches!(
        direct.send(req).await,
        Err(ClientError::RateLimited { .. })
    ));
    // Cost: every paid answer's tokens at 2.0 per 1 000.
    let (mut cost, mut paid) = (0.0, 0);
    for e in obs.events() {
        if let Event::KeyCost {
            cost: c, paid: p, ..
        } = e
        {
            cost += c;
            paid += usize::from(p);
        }
    }
    assert_eq!(paid, 15);
    assert!(cost > 0.0);
}

#[tokio::test]
async fn failover_when_the_free_keys_daily_quota_runs_out() {
    let faults = r#"
        [[keys]]
        key = "sk-free"
        requests_per_day = 3
        [[keys]]
        key = "sk-paid"
    "#;
    let (url, state) = mock(faults).await;
    let obs = Arc::new(CountingObserver::default());
    // The pool is not told the daily limit: it learns it from the mock's insufficient_quota.
    let pool = r#"
        [pool]
        [[pool.keys]]
        name = "free"
        key = "sk-free"
        [[pool.keys]]
        name = "paid"
        key = "sk-paid"
        cost_per_1k_tokens = 1.0
        tier = 1
    "#;
    let s = stack(&url, pool, &obs);
    let results = send_n(&s, 10, "gpt-4o-mini").await;
    assert!(
        results.iter().all(|r| *r == Ok(Outcome::Upstream)),
        "{results:?}"
    );
    assert_eq!(passed(&state, "sk-free"), 3);
    assert_eq!(passed(&state, "sk-paid"), 7);
    // One insufficient_quota, then the free key is left alone for the rest of its day.
    assert_eq!(status_count(&state, 429), 1);
    assert_eq!(
        key_events(
            &obs,
            |e| matches!(e, Event::KeySpent { key } if &**key == "free")
        ),
        1
    );
    let chosen: Vec<String> = obs
        .events()
        .iter()
        .filter_map(|e| match e {
            Event::KeyChosen { key } => Some(key.to_string()),
            _ => None,
        })
        .collect();
    assert_eq!(chosen.len(), 11);
    assert!(chosen[..4].iter().all(|k| k == "free"), "{chosen:?}");
    assert!(chosen[4..].iter().all(|k| k == "paid"), "{chosen:?}");
}

#[tokio::test]
async fn a_429_cools_the_key_down_and_the_next_key_answers() {
    let faults = r#"
        [[keys]]
        key = "sk-a"
        requests_per_minute = 2
        [[keys]]
        key = "sk-b"
    "#;
    let (url, state) = mock(faults).await;
    let obs = Arc::new(CountingObserver::default());
    // Both keys in one tier, in order; the pool does not know sk-a's rpm.
    let pool = r#"
        [pool]
        cooldown = "5m"
        [[pool.keys]]
        name = "a"
        key = "sk-a"
        [[pool.keys]]
        name = "b"
        key = "sk-b"
    "#;
    let s = stack(&url, pool, &obs);
    let results = send_n(&s, 8, "gpt-4o-mini").await;
    assert!(
        results.iter().all(|r| *r == Ok(Outcome::Upstream)),
        "{results:?}"
    );
    assert_eq!(passed(&state, "sk-a"), 2);
    assert_eq!(passed(&state, "sk-b"), 6);
    // One 429 for sk-a; resting, it is not tried again while it cools down.
    assert_eq!(status_count(&state, 429), 1);
    let rests: Vec<_> = obs
        .events()
        .into_iter()
        .filter_map(|e| match e {
            Event::KeyCooledDown { key, rest } => Some((key.to_string(), rest)),
            _ => None,
        })
        .collect();
    assert_eq!(rests.len(), 1, "{rests:?}");
    assert_eq!(rests[0].0, "a");
    // The mock's retry-after (under a minute) is honoured rather than the 5 min cooldown.
    assert!(
        rests[0].1 <= std::time::Duration::from_secs(60),
        "{rests:?}"
    );
}

#[tokio::test]
async fn a_spent_model_degrades_to_the_next_and_is_marked() {
    let faults = r#"
        accept_unknown_keys = true
        models = [
            { id = "gpt-4o", requests_per_day = 2 },
            "gpt-4o-mini",
        ]
    "#;
    let (url, state) = mock(faults).await;
    let obs = Arc::new(CountingObserver::default());
    let chain = "[models]\nchain = [\"gpt-4o\", \"gpt-4o-mini\"]\n";
    let s = stack(&url, chain, &obs);
    let mut outcomes = Vec::new();
    let mut answered_by = Vec::new();
    for i in 0..5 {
        let req = ChatRequest::user_text("gpt-4o", format!("q{i}"));
        let trace = req.trace.clone();
        outcomes.push(s.send(req).await.unwrap().outcome);
        answered_by.push(trace.answered_by());
    }
    use Outcome::{Degraded, Upstream};
    assert_eq!(outcomes, [Upstream, Upstream, Degraded, Degraded, Degraded]);
    assert_eq!(answered_by[1], None);
    assert_eq!(answered_by[4].as_deref(), Some("gpt-4o-mini"));
    assert_eq!(
        key_events(
            &obs,
            |e| matches!(e, Event::Degraded { to, .. } if &**to == "gpt-4o-mini")
        ),
        3
    );
    // The mock answered 2 with gpt-4o and 3 with gpt-4o-mini, after 3 insufficient_quota.
    assert_eq!(status_count(&state, 429), 3);
    assert_eq!(status_count(&state, 200), 5);
}
