//! Embedding vectors for `POST /v1/embeddings`: a cheap, deterministic sketch of the text's
//! surface, **not semantics**.
//!
//! A client under test needs vectors that behave like embeddings where its code can tell —
//! the same text always gives the same unit vector, a near copy (a changed word, other case or
//! punctuation, a typo) lands closer than an unrelated text, shortening a vector keeps it
//! meaningful — without a model. So, for a model whose vectors are `native` long:
//!
//! 1. the text is lower-cased and split into words at every non-alphanumeric character; each
//!    word is a feature, and so is each character trigram of `#word#` (which keeps typos and
//!    inflections close). Token-id inputs use each id, and each pair of neighbours, instead.
//! 2. each feature is hashed, with the seed, to one of `n` buckets and a sign (feature hashing),
//!    `n` being `native` rounded up to a power of two: a sparse sketch of the input;
//! 3. the sketch is rotated by `H·D·H` — `H` the Walsh–Hadamard transform, `D` seeded random
//!    signs — an orthogonal map (so inner products, hence cosines, are kept exactly) that
//!    spreads every feature over every coordinate, as a random projection does, in
//!    `O(n log n)` rather than `O(n²)`;
//! 4. the first `dimensions` coordinates are kept and normalised to length 1.
//!
//! Texts sharing words and letter runs therefore have a high cosine; texts sharing nothing are
//! near 0; synonyms with no letters in common are *not* close. A vector's first `k` values,
//! renormalised, are the vector asked with `dimensions = k`, as OpenAI documents for its
//! `text-embedding-3` models.

use std::sync::{Arc, Mutex};

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use gauntlet_wire::hash::stable_hash;

/// The longest vector made (`text-embedding-3-large`'s 3072).
pub const MAX_DIMENSIONS: usize = 3072;

/// The largest rotation: [`MAX_DIMENSIONS`] rounded up to a power of two.
const MAX_SPACE: usize = 4096;

/// Weight of a whole word in the sketch.
const WORD_WEIGHT: f32 = 1.0;
/// Weight of each character trigram of a word.
const TRIGRAM_WEIGHT: f32 = 0.5;
/// Weight of each pair of neighbouring token ids.
const PAIR_WEIGHT: f32 = 0.5;

/// Seeds whose signs are kept (one per mock; tests run several in a process).
const CACHED_SEEDS: usize = 8;

/// The seeded part of the rotation: [`MAX_SPACE`] random signs (a smaller rotation uses the
/// first `n`), and the salt of the feature hashes.
#[derive(Debug)]
pub struct Projection {
    seed: u64,
    salt: u64,
    signs: Vec<f32>,
}

/// What is embedded: a text, or ids from a tokenizer.
#[derive(Debug, Clone, Copy)]
pub enum Input<'a> {
    /// Text, read as words and their trigrams.
    Text(&'a str),
    /// Token ids, read as ids and neighbouring pairs.
    Tokens(&'a [u32]),
}

/// The feature-hashed sketch of one input, `n` (a power of two) signed buckets.
struct Sketch {
    salt: u64,
    values: Vec<f32>,
}

impl Sketch {
    fn new(salt: u64, n: usize) -> Self {
        Self {
            salt,
            values: vec![0.0; n],
        }
    }

    /// Adds a feature (already hashed) to its bucket with its sign and its weight, scaled by
    /// a factor in `[0.5, 1.5)` of its own: the rotation's entries are integers, so without it
    /// a short text's vector would hold only a few hundred distinct values.
    fn add(&mut self, feature: u64, weight: f32) {
        let h = mix(feature ^ self.salt);
        let bucket = (h as usize) & (self.values.len() - 1);
        let sign = if h >> 63 == 1 { 1.0 } else { -1.0 };
        let jitter = 0.5 + ((h >> 32) & 0xffff) as f32 / 65536.0;
        self.values[bucket] += sign * weight * jitter;
    }

    fn add_text(&mut self, text: &str) {
        let mut word: Vec<u8> = Vec::with_capacity(32);
        let mut any = false;
        for raw in text.split(|c: char| !c.is_alphanumeric()) {
            if raw.is_empty() {
                continue;
            }
            any = true;
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
        if !any {
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

/// The Walsh–Hadamard transform in place (unnormalised: it scales lengths by `√len`, which the
/// final normalisation removes); `a.len()` is a power of two.
fn hadamard(a: &mut [f32]) {
    let mut h = 1;
    while h < a.len() {
        for chunk in a.chunks_exact_mut(2 * h) {
            let (x, y) = chunk.split_at_mut(h);
            for (u, v) in x.iter_mut().zip(y.iter_mut()) {
                let (s, d) = (*u + *v, *u - *v);
                *u = s;
                *v = d;
            }
        }
        h *= 2;
    }
}

impl Projection {
    /// The rotation's signs and the hash salt for `seed`, from a ChaCha8 stream of its own.
    pub fn new(seed: u64) -> Self {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        rng.set_stream(0xe3b);
        let salt = rng.random();
        let mut signs = Vec::with_capacity(MAX_SPACE);
        while signs.len() < MAX_SPACE {
            let bits: u64 = rng.random();
            signs.extend((0..64).map(|i| if bits >> i & 1 == 1 { 1.0 } else { -1.0 }));
        }
        Self { seed, salt, signs }
    }

    /// The projection for `seed`, built on first use and kept for the last few seeds.
    pub fn for_seed(seed: u64) -> Arc<Self> {
        static CACHE: Mutex<Vec<Arc<Projection>>> = Mutex::new(Vec::new());
        let mut cache = CACHE.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(i) = cache.iter().position(|p| p.seed == seed) {
            // Most recently used last; the common case (one mock, one seed) moves nothing.
            if i + 1 < cache.len() {
                let p = cache.remove(i);
                cache.push(p);
            }
            return cache[cache.len() - 1].clone();
        }
        let p = Arc::new(Self::new(seed));
        if cache.len() >= CACHED_SEEDS {
            cache.remove(0);
        }
        cache.push(p.clone());
        p
    }

    /// The size of the rotation for a model whose vectors are `native` long.
    pub fn space(native: usize) -> usize {
        native.clamp(1, MAX_DIMENSIONS).next_power_of_two()
    }

    /// The unit vector of `input` for a model whose vectors are `native` long, cut to
    /// `dimensions` (both clamped to `1..=`[`MAX_DIMENSIONS`], `dimensions` to `native`).
    pub fn embed(&self, input: Input<'_>, native: usize, dimensions: usize) -> Vec<f32> {
        let n = Self::space(native);
        let dims = dimensions.clamp(1, native.clamp(1, MAX_DIMENSIONS));
        let mut sketch = Sketch::new(self.salt, n);
        match input {
            Input::Text(t) => sketch.add_text(t),
            Input::Tokens(ids) => sketch.add_tokens(ids),
        }
        let mut v = sketch.values;
        hadamard(&mut v);
        v.iter_mut().zip(&self.signs).for_each(|(x, s)| *x *= s);
        hadamard(&mut v);
        v.truncate(dims);
        normalise(&mut v);
        v
    }
}

/// Scales `v` to length 1; a zero vector (possible only when a shortened vector lost every
/// feature) gets a unit first coordinate so that every answer is a unit vector.
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
        p.embed(Input::Text(t), 1536, 1536)
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
        let cached = Projection::for_seed(1).embed(Input::Text("hello"), 1536, 1536);
        assert_eq!(cached, text(&p, "hello"));
    }

    #[test]
    fn dimensions_are_honoured_and_a_prefix_is_the_shorter_vector() {
        let p = Projection::new(3);
        let full = p.embed(Input::Text("shorten me"), 3072, 3072);
        assert_eq!(full.len(), 3072);
        for n in [1, 8, 256, 1536] {
            let short = p.embed(Input::Text("shorten me"), 3072, n);
            assert_eq!(short.len(), n);
            let mut prefix = full[..n].to_vec();
            normalise(&mut prefix);
            assert!(cosine(&short, &prefix) > 0.9999, "{n}");
        }
        assert_eq!(p.embed(Input::Text("x"), 1536, 0).len(), 1);
        assert_eq!(p.embed(Input::Text("x"), 1536, 2000).len(), 1536);
        assert_eq!(
            p.embed(Input::Text("x"), 10_000, 10_000).len(),
            MAX_DIMENSIONS
        );
        // Values are spread, not a few repeated sums.
        let mut distinct = full.clone();
        distinct.sort_by(f32::total_cmp);
        distinct.dedup();
        assert!(distinct.len() > 3000, "{}", distinct.len());
    }

    #[test]
    fn token_ids_are_hashed_like_words() {
        let p = Projection::new(4);
        let a = p.embed(Input::Tokens(&[10, 20, 30, 40, 50, 60]), 512, 512);
        let b = p.embed(Input::Tokens(&[10, 20, 30, 40, 50, 61]), 512, 512);
        let c = p.embed(Input::Tokens(&[7, 8, 9, 11, 12, 13]), 512, 512);
        assert!(cosine(&a, &b) > cosine(&a, &c) + 0.3);
        assert_eq!(
            a,
            p.embed(Input::Tokens(&[10, 20, 30, 40, 50, 60]), 512, 512)
        );
        let norm: f32 = a.iter().map(|x| x * x).sum::<f32>().sqrt();
        assert!((norm - 1.0).abs() < 1e-4);
    }
}
