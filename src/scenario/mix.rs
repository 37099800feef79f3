//! `[workload.mix]`: which API route each request goes to, and what share of the completing
//! requests ask for a tool call or a structured (JSON-schema) answer.
//!
//! Read as a map and checked against [`Route::ALL`] and [`Ask::ALL`], so the keys a file may
//! write come from the one list of routes and asks, not from a second list here.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::client::Route;

/// `[workload.mix]` as written: share names to shares. Absent, every request is a chat
/// completion, as before the mix existed.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct MixSpec(pub BTreeMap<String, f64>);

/// What a chat or Responses request asks for beyond text, drawn per request.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub enum Ask {
    /// Plain text.
    #[default]
    Text,
    /// A tool definition with `tool_choice: "required"`: the answer is a function call.
    ToolCall,
    /// A JSON-schema response format: the answer is JSON following it.
    StructuredOutput,
}

impl Ask {
    /// The asks beyond plain text, in the order their shares are laid out on one draw.
    pub const ALL: [Ask; 2] = [Ask::ToolCall, Ask::StructuredOutput];

    /// The key of its share in `[workload.mix]`.
    pub fn key(self) -> &'static str {
        match self {
            Ask::Text => "text",
            Ask::ToolCall => "tool_calls",
            Ask::StructuredOutput => "structured_output",
        }
    }
}

/// The mix resolved and checked: a share per route (adding up to 1) and per ask (adding up to
/// at most 1; the rest is plain text).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Mix {
    /// Share of each route, indexed by [`Route::index`].
    pub routes: [f64; Route::ALL.len()],
    /// Share of each [`Ask::ALL`] entry among chat and Responses requests.
    pub asks: [f64; Ask::ALL.len()],
}

impl Default for Mix {
    fn default() -> Self {
        let mut routes = [0.0; Route::ALL.len()];
        routes[Route::Chat.index()] = 1.0;
        Self {
            routes,
            asks: [0.0; Ask::ALL.len()],
        }
    }
}

/// Why `[workload.mix]` does not make a mix; each names the key it is about.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum MixError {
    /// A key that is neither a route nor an ask.
    #[error("workload.mix.{0}: unknown key; known keys are {known}", known = known_keys().join(", "))]
    UnknownKey(String),
    /// A share that is not a finite number in 0..=1.
    #[error("workload.mix.{0}: a share is a number in 0..=1")]
    Share(String),
    /// Route shares that do not add up to 1.
    #[error("workload.mix: the route shares ({routes}) add up to {0}, not 1", routes = route_keys().join(", "))]
    RouteSum(f64),
    /// Ask shares that add up to more than 1 (a request asks for one of them at most).
    #[error("workload.mix: {asks} add up to {0}, more than 1 (a request asks for one of them at most)", asks = ask_keys().join(" and "))]
    AskSum(f64),
}

impl MixError {
    /// The key to point at in the file.
    pub fn key(&self) -> &str {
        match self {
            Self::UnknownKey(k) | Self::Share(k) => k,
            Self::RouteSum(_) | Self::AskSum(_) => "mix",
        }
    }
}

fn route_keys() -> Vec<&'static str> {
    Route::ALL.iter().map(|r| r.as_str()).collect()
}

fn ask_keys() -> Vec<&'static str> {
    Ask::ALL.iter().map(|a| a.key()).collect()
}

fn known_keys() -> Vec<&'static str> {
    let mut keys = route_keys();
    keys.extend(ask_keys());
    keys
}

/// How far from 1 the route shares may add up to (`0.1 + 0.2 + 0.7` is not exactly 1).
const SUM_TOLERANCE: f64 = 1e-9;

impl MixSpec {
    /// Whether nothing was written (the default mix; not written back either).
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The checked mix. Routes not written have a share of 0, unless none is written: then every
    /// request is a chat completion (so `[workload.mix] tool_calls = 0.2` alone means chat).
    pub fn resolve(&self) -> Result<Mix, MixError> {
        let mut mix = Mix::default();
        let mut route_written = false;
        for (key, &share) in &self.0 {
            if !(0.0..=1.0).contains(&share) {
                return Err(MixError::Share(key.clone()));
            }
            if let Some(r) = Route::ALL.iter().find(|r| r.as_str() == key) {
                if !route_written {
                    mix.routes = [0.0; Route::ALL.len()];
                    route_written = true;
                }
                mix.routes[r.index()] = share;
            } else if let Some(i) = Ask::ALL.iter().position(|a| a.key() == key) {
                mix.asks[i] = share;
            } else {
                return Err(MixError::UnknownKey(key.clone()));
            }
        }
        let routes: f64 = mix.routes.iter().sum();
        if (routes - 1.0).abs() > SUM_TOLERANCE {
            return Err(MixError::RouteSum(routes));
        }
        let asks: f64 = mix.asks.iter().sum();
        if asks > 1.0 + SUM_TOLERANCE {
            return Err(MixError::AskSum(asks));
        }
        Ok(mix)
    }
}

impl Mix {
    /// Whether every request is a plain chat completion (the draws then change nothing).
    pub fn is_all_chat(&self) -> bool {
        *self == Mix::default()
    }

    /// The route for a uniform draw `x` in `0..1`: the routes' shares laid end to end.
    pub fn route_at(&self, x: f64) -> Route {
        pick(&self.routes, x)
            .map(|i| Route::ALL[i])
            .unwrap_or_else(|| last_with_share(&self.routes, &Route::ALL, Route::Chat))
    }

    /// What a completing request asks for at a uniform draw `x` in `0..1`: the asks' shares laid
    /// end to end, plain text after them.
    pub fn ask_at(&self, x: f64) -> Ask {
        pick(&self.asks, x).map_or(Ask::Text, |i| Ask::ALL[i])
    }
}

/// The index whose share covers `x`, the shares laid end to end from 0.
fn pick(shares: &[f64], x: f64) -> Option<usize> {
    let mut end = 0.0;
    for (i, s) in shares.iter().enumerate() {
        end += s;
        if *s > 0.0 && x < end {
            return Some(i);
        }
    }
    None
}

/// The last entry with a share: where a draw lands when rounding leaves it past every share.
fn last_with_share<T: Copy>(shares: &[f64], items: &[T], none: T) -> T {
    shares
        .iter()
        .rposition(|s| *s > 0.0)
        .map_or(none, |i| items[i])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(pairs: &[(&str, f64)]) -> MixSpec {
        MixSpec(pairs.iter().map(|(k, v)| (k.to_string(), *v)).collect())
    }

    #[test]
    fn no_routes_written_means_all_chat() {
        assert!(MixSpec::default().resolve().unwrap().is_all_chat());
        let m = spec(&[("tool_calls", 0.25)]).resolve().unwrap();
        assert_eq!(m.routes, [1.0, 0.0, 0.0]);
        assert_eq!(m.ask_at(0.2), Ask::ToolCall);
        assert_eq!(m.ask_at(0.3), Ask::Text);
    }

    #[test]
    fn shares_are_laid_end_to_end() {
        let m = spec(&[
            ("chat", 0.5),
            ("responses", 0.3),
            ("embeddings", 0.2),
            ("tool_calls", 0.1),
            ("structured_output", 0.2),
        ])
        .resolve()
        .unwrap();
        assert_eq!(m.route_at(0.0), Route::Chat);
        assert_eq!(m.route_at(0.49), Route::Chat);
        assert_eq!(m.route_at(0.5), Route::Responses);
        assert_eq!(m.route_at(0.81), Route::Embeddings);
        assert_eq!(m.route_at(1.0), Route::Embeddings);
        assert_eq!(m.ask_at(0.05), Ask::ToolCall);
        assert_eq!(m.ask_at(0.25), Ask::StructuredOutput);
        assert_eq!(m.ask_at(0.31), Ask::Text);
        // A route of share 0 is never drawn, even at its boundary.
        let m = spec(&[("chat", 0.0), ("responses", 1.0)])
            .resolve()
            .unwrap();
        assert_eq!(m.route_at(0.0), Route::Responses);
        assert_eq!(m.route_at(1.0), Route::Responses);
    }

    #[test]
    fn bad_mixes_name_their_key() {
        let e = spec(&[("chats", 1.0)]).resolve().unwrap_err();
        assert_eq!(e.key(), "chats");
        assert_eq!(
            e.to_string(),
            "workload.mix.chats: unknown key; known keys are chat, responses, embeddings, tool_calls, structured_output"
        );
        for bad in [-0.1, 1.5, f64::NAN, f64::INFINITY] {
            let e = spec(&[("chat", 1.0), ("responses", bad)])
                .resolve()
                .unwrap_err();
            assert_eq!(e, MixError::Share("responses".into()));
        }
        let e = spec(&[("chat", 0.5), ("responses", 0.4)])
            .resolve()
            .unwrap_err();
        assert!(
            matches!(e, MixError::RouteSum(s) if (s - 0.9).abs() < 1e-12),
            "{e}"
        );
        assert_eq!(e.key(), "mix");
        let e = spec(&[("tool_calls", 0.6), ("structured_output", 0.5)])
            .resolve()
            .unwrap_err();
        assert!(matches!(e, MixError::AskSum(_)), "{e}");
        // Sums that are 1 up to rounding are accepted.
        spec(&[("chat", 0.1), ("responses", 0.2), ("embeddings", 0.7)])
            .resolve()
            .unwrap();
    }

    #[test]
    fn a_scenario_points_at_the_bad_mix_key() {
        let head = "name = \"x\"\nduration = \"1s\"\n[workload]\nstages = [{ for = \"1s\", rate = \"1/s\" }]\n";
        let parse = |mix: &str| {
            crate::scenario::Scenario::parse(&format!("{head}{mix}"), "x.toml")
                .map_err(|e| e.to_string())
        };
        let e = parse("[workload.mix]\nchat = 0.5\nresponses = 0.6\n").unwrap_err();
        assert!(e.starts_with("x.toml:5:1"), "{e}");
        assert!(e.contains("add up to 1.1"), "{e}");
        let e = parse("[workload.mix]\nchat = 1.0\n  tool_calls = 2\n").unwrap_err();
        assert!(e.starts_with("x.toml:7:3"), "{e}");
        assert!(e.contains("workload.mix.tool_calls: a share"), "{e}");
        let e = parse("mix = { chat = 1.0, pictures = 0.5 }\n").unwrap_err();
        assert!(e.starts_with("x.toml:5:21"), "{e}");
        assert!(e.contains("unknown key"), "{e}");
        let e = parse("[workload.mix]\nchat = \"half\"\n").unwrap_err();
        assert!(e.starts_with("x.toml:6:"), "{e}");
        let s = parse("[workload.mix]\nchat = 0.25\nembeddings = 0.75\n").unwrap();
        let mix = s.workload.mix.resolve().unwrap();
        assert_eq!(mix.routes, [0.25, 0.0, 0.75]);
        // No mix written: all chat, and nothing written back.
        let s = parse("").unwrap();
        assert!(s.workload.mix.is_empty());
        assert!(!toml::to_string(&s).unwrap().contains("mix"));
    }
}
