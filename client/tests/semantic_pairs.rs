//! The semantic cache's local embedder measured on the shipped labelled pairs
//! (`scenarios/data/paraphrase-pairs.json`): per threshold, the share of paraphrase pairs that
//! would hit (hit rate) and of near-miss pairs that would hit (false-hit rate). A pair hits when
//! the cosine of its two prompts' embeddings reaches the threshold, as in the cache.
//!
//! Print the table: `cargo test -p gauntlet-client --test semantic_pairs -- --nocapture`.

use gauntlet_client::cache::semantic::{cosine, local_embedding, SemanticConfig};
use serde::Deserialize;

#[derive(Deserialize)]
struct Pairs {
    pairs: Vec<Pair>,
}

#[derive(Deserialize)]
struct Pair {
    a: String,
    b: String,
    paraphrase: bool,
    #[serde(default)]
    kind: Option<String>,
}

/// Thresholds the table shows.
const THRESHOLDS: [f32; 12] = [
    0.60, 0.65, 0.70, 0.75, 0.80, 0.85, 0.88, 0.90, 0.92, 0.94, 0.96, 0.98,
];

fn load() -> Vec<(Pair, f32)> {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../scenarios/data/paraphrase-pairs.json"
    );
    let text = std::fs::read_to_string(path).expect("the shipped pairs");
    let pairs: Pairs = serde_json::from_str(&text).expect("pairs JSON");
    pairs
        .pairs
        .into_iter()
        .map(|p| {
            let s = cosine(&local_embedding(&p.a), &local_embedding(&p.b));
            (p, s)
        })
        .collect()
}

/// (hit rate, false-hit rate) at `t`.
fn rates(scored: &[(Pair, f32)], t: f32) -> (f64, f64) {
    let share = |para: bool| {
        let of: Vec<_> = scored
            .iter()
            .filter(|(p, _)| p.paraphrase == para)
            .collect();
        of.iter().filter(|(_, s)| *s >= t).count() as f64 / of.len() as f64
    };
    (share(true), share(false))
}

#[test]
fn the_shipped_set_is_large_and_balanced() {
    let scored = load();
    let para = scored.iter().filter(|(p, _)| p.paraphrase).count();
    assert!(scored.len() >= 150, "{}", scored.len());
    assert!(para >= 60 && scored.len() - para >= 60, "{para}");
    assert!(scored
        .iter()
        .all(|(p, _)| p.paraphrase == p.kind.is_none() && p.a != p.b));
}

#[test]
fn prints_the_table_per_threshold() {
    let scored = load();
    println!("| threshold | hit rate (paraphrases) | false-hit rate (near misses) |");
    println!("|---|---|---|");
    for t in THRESHOLDS {
        let (hit, false_hit) = rates(&scored, t);
        println!(
            "| {t:.2} | {:.1} % | {:.1} % |",
            hit * 100.0,
            false_hit * 100.0
        );
    }
    let mut worst: Vec<_> = scored.iter().filter(|(p, _)| !p.paraphrase).collect();
    worst.sort_by(|a, b| b.1.total_cmp(&a.1));
    println!("\nclosest near misses:");
    for (p, s) in worst.iter().take(8) {
        println!(
            "  {s:.3} [{}] {:?} / {:?}",
            p.kind.as_deref().unwrap_or(""),
            p.a,
            p.b
        );
    }
    // More paraphrases hit at a lower threshold, never fewer: the table is monotone.
    for w in THRESHOLDS.windows(2) {
        let (lo, hi) = (rates(&scored, w[0]), rates(&scored, w[1]));
        assert!(lo.0 >= hi.0 && lo.1 >= hi.1);
    }
}

/// The default threshold's false-hit rate on the shipped near misses stays under 5 %. The
/// bound: the local embedder is a bag of words, so the word-order near misses ("from savings to
/// checking" / "from checking to savings") embed identically and hit at any threshold — 3 of 82
/// pairs, 3.7 % — and the bound leaves room for one more pair, no more: at 0.85 the opposite
/// verbs ("turn on" / "turn off") start to hit (6.1 %).
#[test]
fn the_default_threshold_keeps_false_hits_under_the_bound() {
    let scored = load();
    let t = SemanticConfig::default().threshold;
    let (hit, false_hit) = rates(&scored, t);
    assert!(false_hit < 0.05, "false-hit rate {false_hit:.3} at {t}");
    // And it still serves a useful share of the paraphrases.
    assert!(hit > 0.30, "hit rate {hit:.3} at {t}");
}
