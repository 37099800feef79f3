//! Embedding vectors for `POST /v1/embeddings`: a cheap, deterministic sketch of the text's
//! surface, **not semantics**.
//!
//! A client under test needs vectors that behave like embeddings where its code can tell —
//! the same text always gives the same unit vector, a near copy (a changed word, other case or
//! punctuation, a typo) lands closer than an unrelated text, shortening a vector keeps it
//! meaningful — without a model. So:
//!
//! 1. the text is lower-cased and split into words at every non-alphanumeric character; each
//!    word is a feature, and so is each character trigram of `#word#` (which keeps typos and
//!    inflections close). Token-id inputs use each id, and each pair of neighbours, instead.
//! 2. each feature is hashed, with the seed, to one of [`BUCKETS`] buckets and a sign (feature
//!    hashing), giving a sparse sketch of at most [`BUCKETS`] non-zero values;
//! 3. the sketch is multiplied by a seeded random ±1 matrix with [`MAX_DIMENSIONS`] rows (a
//!    random projection, which keeps inner products, hence cosines, close), of which the first
//!    `dimensions` rows are used, and the result is normalised to length 1.
//!
//! Texts sharing words and letter runs therefore have a high cosine; texts that share nothing
//! are near 0 (within about `1/√BUCKETS`); synonyms with no letters in common are *not* close.
//! Because the first rows of a random projection are a random projection, a vector shortened
//! to `n` and renormalised equals the one asked with `dimensions = n`, as OpenAI documents for
//! its `text-embedding-3` models.

use std::sync::{Arc, Mutex};

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use gauntlet_wire::hash::stable_hash;

/// Buckets of the hashed sketch: the projection's cost per input is at most
/// `BUCKETS × dimensions`, and unrelated texts' cosines scatter by about `1/√BUCKETS`.
pub const BUCKETS: usize = 256;

/// The longest vector made (`text-embedding-3-large`'s 3072).
pub const MAX_DIMENSIONS: usize = 3072;

/// Weight of a whole word in the sketch.
const WORD_WEIGHT: f32 = 1.0;
/// Weight of each character trigram of a word.
const TRIGRAM_WEIGHT: f32 = 0.5;
/// Weight of each pair of neighbouring token ids.
const PAIR_WEIGHT: f32 = 0.5;

/// Projections kept for the seeds seen last (one per mock; tests run several in a process).
const CACHED_SEEDS: usize = 8;

/// The seeded projection matrix, column by column (one column of [`MAX_DIMENSIONS`] signs per
/// bucket), built once per seed: 3 MiB, shared by every request.
#[derive(Debug)]
pub struct Projection {
    seed: u64,
    columns: Vec<f32>,
}

/// What is embedded: a text, or ids from a tokenizer.
#[derive(Debug, Clone, Copy)]
pub enum Input<'a> {
    /// Text, read as words and their trigrams.
    Text(&'a str),
    /// Token ids, read as ids and neighbouring pairs.
    Tokens(&'a [u32]),
}

/// A sparse sketch of one input: `BUCKETS` signed weights.
struct Sketch {
    seed: u64,
    values: [f32; BUCKETS],
}

impl Sketch {
    fn new(seed: u64) -> Self {
        Self {
            seed,
            values: [0.0; BUCKETS],
        }
    }

    /// Adds a feature (already hashed) with its weight to its bucket, with its sign.
    fn add(&mut self, feature: u64, weight: f32) {
        let h = mix(feature ^ self.seed);
        let bucket = (h % BUCKETS as u64) as usize;
        let sign = if h >> 63 == 1 { 1.0 } else { -1.0 };
        self.values[bucket] += sign * weight;
    }

    fn add_text(&mut self, text: &str) {
        let mut word: Vec<u8> = Vec::with_capacity(32);
        for raw in text.split(|c: char| !c.is_alphanumeric()) {
            if raw.is_empty() {
                continue;
            }
            word.clear();
            word.push(b'#');
            for c in raw.chars().flat_map(char::to_lowercase) {
                let mut buf = [0u8; 4];
                word.extend_from_slice(c.encode_utf8(&mut buf).as_bytes());
            }
            word.push(b'#');
            self.add(stable_hash(&word), WORD_WEIGHT);
            for tri in word.windows(3) {
                self.add(stable_hash(tri).rotate_left(23), TRIGRAM_WEIGHT);
            }
        }
        if self.values.iter().all(|v| *v == 0.0) {
            // No letters or digits ("?!"): the text itself is the one feature, so it still has
            // a direction of its own.
            self.add(stable_hash(text.as_bytes()).rotate_left(41), WORD_WEIGHT);
        }
    }

    fn add_tokens(&mut self, ids: &[u32]) {
        for id in ids {
            self.add(u64::from(*id) | 1 << 40, WORD_WEIGHT);
        }
        for pair in ids.windows(2) {
            self.add(u64::from(pair[0]) << 32 | u64::from(pair[1]), PAIR_WEIGHT);
        }
    }
}

/// SplitMix64's finaliser: spreads a hash's bits so that bucket and sign are independent.
fn mix(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

impl Projection {
    /// The matrix for `seed`, drawn from a ChaCha8 stream of its own.
    pub fn new(seed: u64) -> Self {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        rng.set_stream(0xe3b);
        let mut columns = Vec::with_capacity(BUCKETS * MAX_DIMENSIONS);
        while columns.len() < BUCKETS * MAX_DIMENSIONS {
            let bits: u64 = rng.random();
            columns.extend((0..64).map(|i| if bits >> i & 1 == 1 { 1.0 } else { -1.0 }));
        }
        columns.truncate(BUCKETS * MAX_DIMENSIONS);
        Self { seed, columns }
    }

    /// The projection for `seed`, built on first use and kept for the last few seeds.
    pub fn for_seed(seed: u64) -> Arc<Self> {
        static CACHE: Mutex<Vec<Arc<Projection>>> = Mutex::new(Vec::new());
        let mut cache = CACHE.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(i) = cache.iter().position(|p| p.seed == seed) {
            let p = cache.remove(i);
            cache.push(p.clone());
            return p;
        }
        let p = Arc::new(Self::new(seed));
        if cache.len() >= CACHED_SEEDS {
            cache.remove(0);
        }
        cache.push(p.clone());
        p
    }

    /// The unit vector of `input`, `dimensions` long (clamped to `1..=`[`MAX_DIMENSIONS`]).
    pub fn embed(&self, input: Input<'_>, dimensions: usize) -> Vec<f32> {
        let dims = dimensions.clamp(1, MAX_DIMENSIONS);
        let mut sketch = Sketch::new(mix(self.seed ^ 0x5eed));
        match input {
            Input::Text(t) => sketch.add_text(t),
            Input::Tokens(ids) => sketch.add_tokens(ids),
        }
        let mut v = vec![0.0f32; dims];
        for (j, w) in sketch.values.iter().enumerate() {
            if *w == 0.0 {
                continue;
            }
            let column = &self.columns[j * MAX_DIMENSIONS..j * MAX_DIMENSIONS + dims];
            for (x, r) in v.iter_mut().zip(column) {
                *x += w * r;
            }
        }
        normalise(&mut v);
        v
    }
}

/// Scales `v` to length 1; a zero vector (only possible for an empty input, which the route
/// refuses) gets a unit first coordinate so that every answer is a unit vector.
fn normalise(v: &mut [f32]) {
    let norm = v.iter().map(|x| x * x).sum::<f32>().sqrt();
    if norm > 0.0 && norm.is_finite() {
        v.iter_mut().for_each(|x| *x /= norm);
    } else if !v.is_empty() {
        v.fill(0.0);
        v[0] = 1.0;
    }
}

/// Cosine of two vectors of the same length (for unit vectors, their dot product).
pub fn cosine(a: &[f32], b: &[f32]) -> f32 {
    let dot: f32 = a.iter().zip(b).map(|(x, y)| x * y).sum();
    let na = a.iter().map(|x| x * x).sum::<f32>().sqrt();
    let nb = b.iter().map(|x| x * x).sum::<f32>().sqrt();
    dot / (na * nb)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(p: &Projection, t: &str) -> Vec<f32> {
        p.embed(Input::Text(t), 1536)
    }

    /// (text, a near copy of it, an unrelated text).
    const LABELLED: [(&str, &str, &str); 8] = [
        (
            "The quick brown fox jumps over the lazy dog",
            "The quick brown fox jumped over the lazy dog",
            "Quarterly revenue grew by twelve percent",
        ),
        (
            "How do I reset my password?",
            "how do i reset my password",
            "Best hiking trails near the coast",
        ),
        (
            "Retry the request with exponential backoff",
            "Retry the requests using exponential back-off",
            "A recipe for lemon cake with icing",
        ),
        (
            "The invoice is due at the end of the month",
            "The invoice is due at the end of this month",
            "Photosynthesis converts light into chemical energy",
        ),
        (
            "Please receive the package tomorrow",
            "Please recieve the package tomorrow",
            "The orchestra played a symphony by Brahms",
        ),
        (
            "rate limits apply to every API key",
            "Rate limits apply to each API key!",
            "volcanic eruptions shaped the island",
        ),
        (
            "embedding vectors for semantic search",
            "embedding vector for semantic searching",
            "the goalkeeper saved a penalty",
        ),
        (
            "Café prices rose in Zürich",
            "CAFÉ PRICES ROSE IN ZÜRICH.",
            "Les enfants jouent dans le parc",
        ),
    ];

    #[test]
    fn near_copies_are_closer_than_unrelated_texts() {
        let p = Projection::new(7);
        let (mut near, mut far) = (0.0, 0.0);
        for (a, b, c) in LABELLED {
            let (va, vb, vc) = (text(&p, a), text(&p, b), text(&p, c));
            let (sim, unrel) = (cosine(&va, &vb), cosine(&va, &vc));
            assert!(sim > unrel + 0.3, "{a:?}: near {sim}, unrelated {unrel}");
            near += sim;
            far += unrel;
        }
        let n = LABELLED.len() as f32;
        assert!(near / n > 0.75, "mean near cosine {}", near / n);
        assert!((far / n).abs() < 0.2, "mean unrelated cosine {}", far / n);
    }

    #[test]
    fn vectors_are_unit_and_deterministic() {
        let p = Projection::new(1);
        for t in ["hello", "?!", "a b c d e f g", "日本語のテキスト"] {
            let v = text(&p, t);
            let norm: f32 = v.iter().map(|x| x * x).sum::<f32>().sqrt();
            assert!((norm - 1.0).abs() < 1e-4, "{t}: {norm}");
            assert_eq!(v, text(&Projection::new(1), t), "{t}");
        }
        // Another seed, another (unrelated) vector.
        let other = text(&Projection::new(2), "hello");
        assert!(cosine(&text(&p, "hello"), &other).abs() < 0.3);
        // The cache hands out the same matrix.
        let cached = Projection::for_seed(1).embed(Input::Text("hello"), 1536);
        assert_eq!(cached, text(&p, "hello"));
    }

    #[test]
    fn dimensions_are_honoured_and_a_prefix_is_the_shorter_vector() {
        let p = Projection::new(3);
        let full = p.embed(Input::Text("shorten me"), 3072);
        assert_eq!(full.len(), 3072);
        for n in [1, 8, 256, 1536] {
            let short = p.embed(Input::Text("shorten me"), n);
            assert_eq!(short.len(), n);
            let mut prefix = full[..n].to_vec();
            normalise(&mut prefix);
            assert!(cosine(&short, &prefix) > 0.9999, "{n}");
        }
        assert_eq!(p.embed(Input::Text("x"), 0).len(), 1);
        assert_eq!(p.embed(Input::Text("x"), 10_000).len(), MAX_DIMENSIONS);
    }

    #[test]
    fn token_ids_are_hashed_like_words() {
        let p = Projection::new(4);
        let a = p.embed(Input::Tokens(&[10, 20, 30, 40, 50, 60]), 512);
        let b = p.embed(Input::Tokens(&[10, 20, 30, 40, 50, 61]), 512);
        let c = p.embed(Input::Tokens(&[7, 8, 9, 11, 12, 13]), 512);
        assert!(cosine(&a, &b) > cosine(&a, &c) + 0.3);
        assert_eq!(a, p.embed(Input::Tokens(&[10, 20, 30, 40, 50, 60]), 512));
        let norm: f32 = a.iter().map(|x| x * x).sum::<f32>().sqrt();
        assert!((norm - 1.0).abs() < 1e-4);
    }
}
