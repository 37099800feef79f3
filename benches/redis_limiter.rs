//! What a shared limit costs: decisions per second and the latency the limiter adds (p50, p99)
//! with the Redis backend on loopback, against the local limiter, in the same run.
//!
//! `cargo bench --bench redis_limiter` starts its own `redis-server` on a free loopback port
//! (it says so and exits when redis-server is not on PATH). The limit is set far above what a
//! loop can ask (10 M/s, burst 1 M), so every decision is "go now" and what is measured is the
//! decision itself: one Lua script call on Redis, a mutex and some arithmetic locally. Requests
//! are bounded: 20 000 one at a time, then 64 callers × 1 000.

use std::net::TcpListener;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::Duration;

use gauntlet::client::limiter::{Backend, LimiterConfig, LimiterLayer};
use gauntlet::client::testing::Scripted;
use gauntlet::client::{ChatRequest, NoopObserver};
use gauntlet_wire::rate::Rate;
use hdrhistogram::Histogram;
use tokio::time::Instant;
use tower::{Layer, ServiceExt};

const SEQUENTIAL: usize = 20_000;
const CALLERS: usize = 64;
const PER_CALLER: usize = 1_000;

fn config(redis: Option<&str>) -> LimiterConfig {
    LimiterConfig {
        rate: Rate::per_second(10_000_000.0),
        burst: 1_000_000,
        max_wait: gauntlet_duration(Duration::from_secs(1)),
        queue_size: 100_000,
        backend: if redis.is_some() {
            Backend::Redis
        } else {
            Backend::Local
        },
        redis_url: redis.map(str::to_string),
        key: "bench:limiter".into(),
        redis_timeout: gauntlet_duration(Duration::from_secs(1)),
        ..LimiterConfig::default()
    }
}

fn gauntlet_duration(d: Duration) -> gauntlet_wire::duration::HumanDuration {
    gauntlet_wire::duration::HumanDuration(d)
}

struct Figures {
    sequential_per_s: f64,
    p50_us: f64,
    p99_us: f64,
    concurrent_per_s: f64,
}

async fn measure(redis: Option<&str>) -> Figures {
    let up = Scripted::default();
    let svc = LimiterLayer::new(config(redis), Arc::new(NoopObserver))
        .expect("limiter")
        .layer(up);
    // Warm up (connects to Redis and loads the script).
    for _ in 0..200 {
        svc.clone()
            .oneshot(ChatRequest::user_text("m", "q"))
            .await
            .expect("admitted");
    }
    let mut hist = Histogram::<u64>::new_with_bounds(1, 60_000_000, 3).expect("histogram");
    let t0 = Instant::now();
    for _ in 0..SEQUENTIAL {
        let t = Instant::now();
        svc.clone()
            .oneshot(ChatRequest::user_text("m", "q"))
            .await
            .expect("admitted");
        hist.record(t.elapsed().as_nanos() as u64)
            .expect("in range");
    }
    let sequential = t0.elapsed();
    let t0 = Instant::now();
    let tasks: Vec<_> = (0..CALLERS)
        .map(|_| {
            let svc = svc.clone();
            tokio::spawn(async move {
                for _ in 0..PER_CALLER {
                    svc.clone()
                        .oneshot(ChatRequest::user_text("m", "q"))
                        .await
                        .expect("admitted");
                }
            })
        })
        .collect();
    for t in tasks {
        t.await.expect("caller");
    }
    let concurrent = t0.elapsed();
    Figures {
        sequential_per_s: SEQUENTIAL as f64 / sequential.as_secs_f64(),
        p50_us: hist.value_at_quantile(0.5) as f64 / 1000.0,
        p99_us: hist.value_at_quantile(0.99) as f64 / 1000.0,
        concurrent_per_s: (CALLERS * PER_CALLER) as f64 / concurrent.as_secs_f64(),
    }
}

fn main() {
    // `cargo bench` passes --bench; `cargo test --benches` runs benches too: only the former
    // measures.
    if !std::env::args().any(|a| a == "--bench") {
        return;
    }
    let port = TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port");
    let Ok(mut server) = Command::new("redis-server")
        .args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
        .args(["--save", "", "--appendonly", "no"])
        .stdout(Stdio::null())
        .spawn()
    else {
        println!("redis_limiter: skipped, redis-server is not on PATH");
        return;
    };
    let url = format!("redis://127.0.0.1:{port}");
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    runtime.block_on(async {
        for _ in 0..100 {
            if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let local = measure(None).await;
        let shared = measure(Some(&url)).await;
        println!(
            "{:<16} {:>16} {:>10} {:>10} {:>22}",
            "limiter", "sequential/s", "p50 µs", "p99 µs", "64 callers, per s"
        );
        for (name, f) in [("local", &local), ("redis (loopback)", &shared)] {
            println!(
                "{name:<16} {:>16.0} {:>10.1} {:>10.1} {:>22.0}",
                f.sequential_per_s, f.p50_us, f.p99_us, f.concurrent_per_s
            );
        }
        println!(
            "redis adds {:.0} µs at p50 and {:.0} µs at p99 per decision; concurrent throughput is {:.2} of local",
            shared.p50_us - local.p50_us,
            shared.p99_us - local.p99_us,
            shared.concurrent_per_s / local.concurrent_per_s
        );
    });
    let _ = server.kill();
    let _ = server.wait();
}
