//! `[client.cache] normalize`: which trivial differences between two prompts the cache key
//! ignores, so "How do I reset my password?" and "how do i reset my password" share an answer.
//! Only the key is normalised; the request sent upstream keeps its text.

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// One kind of difference the key can fold away. Whitespace runs are always folded (the key has
/// done so since before this option), so they are not listed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Fold {
    /// Letters compared lower-cased (Unicode lower case).
    Case,
    /// Punctuation characters dropped (so "order, please!" reads "order please").
    Punctuation,
}

impl Fold {
    /// Every fold, the list `normalize = true` turns on.
    pub const ALL: [Fold; 2] = [Fold::Case, Fold::Punctuation];

    const fn bit(self) -> u8 {
        1 << (self as u8)
    }
}

/// The set of folds in force; empty (the default) keeps the key every earlier release computed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub struct Folds(u8);

impl Folds {
    /// No folds: exact text (whitespace runs aside).
    pub const NONE: Folds = Folds(0);

    /// Every fold in [`Fold::ALL`].
    pub fn all() -> Self {
        Self::from_list(&Fold::ALL)
    }

    /// The folds listed.
    pub fn from_list(list: &[Fold]) -> Self {
        Folds(list.iter().fold(0, |acc, f| acc | f.bit()))
    }

    /// Whether `fold` is on.
    pub fn has(self, fold: Fold) -> bool {
        self.0 & fold.bit() != 0
    }

    /// Whether no fold is on (the key then needs no copy of the text).
    pub fn is_empty(self) -> bool {
        self.0 == 0
    }

    /// `text` with the folds applied (whitespace is folded later, by the key).
    pub fn apply(self, text: &str) -> String {
        let punct = self.has(Fold::Punctuation);
        let case = self.has(Fold::Case);
        let mut out = String::with_capacity(text.len());
        for c in text.chars() {
            if punct && is_punctuation(c) {
                // A dropped mark between two words still separates them ("a/b" reads "a b").
                out.push(' ');
            } else if case {
                out.extend(c.to_lowercase());
            } else {
                out.push(c);
            }
        }
        out
    }
}

/// ASCII punctuation and the common Unicode quotes, dashes and ellipsis.
fn is_punctuation(c: char) -> bool {
    c.is_ascii_punctuation()
        || matches!(
            c,
            '\u{2018}'..='\u{201f}' | '\u{2010}'..='\u{2015}' | '\u{2026}' | '\u{00bf}' | '\u{00a1}'
        )
}

/// How the key is written in TOML: `normalize = true` (every fold), `false`, or a list such as
/// `["case"]`.
#[derive(Serialize, Deserialize)]
#[serde(untagged)]
enum Spec {
    Flag(bool),
    List(Vec<Fold>),
}

impl Serialize for Folds {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let list: Vec<Fold> = Fold::ALL.into_iter().filter(|f| self.has(*f)).collect();
        Spec::List(list).serialize(s)
    }
}

impl<'de> Deserialize<'de> for Folds {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Ok(match Spec::deserialize(d)? {
            Spec::Flag(true) => Folds::all(),
            Spec::Flag(false) => Folds::NONE,
            Spec::List(list) => Folds::from_list(&list),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Deserialize)]
    struct T {
        normalize: Folds,
    }

    fn read(s: &str) -> Result<Folds, toml::de::Error> {
        toml::from_str::<T>(s).map(|t| t.normalize)
    }

    #[test]
    fn reads_a_flag_or_a_list() {
        assert_eq!(read("normalize = true").unwrap(), Folds::all());
        assert_eq!(read("normalize = false").unwrap(), Folds::NONE);
        let case = read("normalize = [\"case\"]").unwrap();
        assert!(case.has(Fold::Case) && !case.has(Fold::Punctuation));
        assert!(read("normalize = [\"spelling\"]").is_err());
        assert!(read("normalize = 3").is_err());
    }

    #[test]
    fn folds_case_and_punctuation() {
        assert_eq!(
            Folds::all().apply("Reset MY password?!"),
            "reset my password  "
        );
        assert_eq!(Folds::from_list(&[Fold::Case]).apply("Hi, Bob"), "hi, bob");
        assert_eq!(Folds::NONE.apply("Hi, Bob"), "Hi, Bob");
        assert_eq!(Folds::all().apply("“Ça va…”"), " ça va  ");
    }
}
