//! `[client.pool]` as written, and the checks a config file may fail.

use std::collections::HashSet;
use std::time::Duration;

use gauntlet_wire::duration::HumanDuration;
use serde::{Deserialize, Serialize};

/// The most keys a pool holds: each request looks at every one.
pub const MAX_KEYS: usize = 256;

/// The largest per-key limit accepted, so a typo (`rpm = 1e12`) is an error rather than a
/// limit that never binds.
pub const MAX_LIMIT: u64 = 1_000_000_000;

/// How the pool picks among the keys of the lowest tier that still has room.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Strategy {
    /// The first key in the listed order with room: a free key until its limit, then the next
    /// (spill over).
    #[default]
    Ordered,
    /// Each request the next key with room, in turn, so keys wear evenly.
    RoundRobin,
    /// The key with the smallest share of its limits used (requests in flight break ties), so
    /// no key hits its limit while another idles.
    LeastLoaded,
}

impl Strategy {
    /// Every strategy, in declaration order.
    pub const ALL: [Strategy; 3] = [
        Strategy::Ordered,
        Strategy::RoundRobin,
        Strategy::LeastLoaded,
    ];

    /// The name a config file writes.
    pub fn as_str(self) -> &'static str {
        match self {
            Strategy::Ordered => "ordered",
            Strategy::RoundRobin => "round_robin",
            Strategy::LeastLoaded => "least_loaded",
        }
    }
}

/// `[client.pool]`: several API keys for one logical model, each with its own limits and price,
/// so a free quota is used first and a paid key takes the overflow.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct PoolConfig {
    /// `false` sends every request with the adapter's key, as without the table.
    pub enabled: bool,
    /// `ordered` (the default), `round_robin` or `least_loaded`; applied within the lowest tier
    /// that has a key with room.
    pub strategy: Strategy,
    /// How long a key rests after a 429 whose answer names no `retry-after`.
    pub cooldown: HumanDuration,
    /// The keys, `[[client.pool.keys]]`.
    pub keys: Vec<KeyEntry>,
}

impl Default for PoolConfig {
    fn default() -> Self {
        Self {
            enabled: true,
            strategy: Strategy::default(),
            cooldown: HumanDuration(Duration::from_secs(30)),
            keys: Vec::new(),
        }
    }
}

/// `[[client.pool.keys]]`: one key, its limits and its price. Limits not written do not bind
/// (the upstream's own still do: a 429 cools the key down).
#[derive(Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KeyEntry {
    /// The name events and reports show; never the secret.
    pub name: String,
    /// The environment variable holding the secret: how a production config names a key, so the
    /// secret is in no file.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key_env: Option<String>,
    /// The secret written inline, as `[client.adapter] api_key` is: for the mock's keys in a
    /// scenario.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key: Option<String>,
    /// Requests per minute this key may send (sliding 60 s window).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rpm: Option<u64>,
    /// Tokens (prompt plus completion, from the answers' usage) per minute; a request is sent
    /// while the last minute's tokens are under it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tpm: Option<u64>,
    /// Requests per day (the daily quota); the day starts when the pool is built.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rpd: Option<u64>,
    /// Price per 1 000 tokens (prompt plus completion); 0, the default, is a free key.
    #[serde(default)]
    pub cost_per_1k_tokens: f64,
    /// Lower tiers are used first (free keys 0, paid ones 1, say); the listed order breaks
    /// ties.
    #[serde(default)]
    pub tier: u32,
}

impl std::fmt::Debug for KeyEntry {
    /// Shows everything but the inline secret, so a logged config leaks no key.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KeyEntry")
            .field("name", &self.name)
            .field("key_env", &self.key_env)
            .field("key", &self.key.as_ref().map(|_| "<hidden>"))
            .field("rpm", &self.rpm)
            .field("tpm", &self.tpm)
            .field("rpd", &self.rpd)
            .field("cost_per_1k_tokens", &self.cost_per_1k_tokens)
            .field("tier", &self.tier)
            .finish()
    }
}

/// Why a pool config cannot be used; each message names the key to fix.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum InvalidPool {
    /// No `[[client.pool.keys]]`: nothing to send with.
    #[error("pool.keys is empty: list at least one [[client.pool.keys]]")]
    NoKeys,
    /// More than [`MAX_KEYS`] keys.
    #[error("pool.keys lists {0} keys, more than {MAX_KEYS}")]
    TooManyKeys(usize),
    /// A key without a name, which events could not tell apart.
    #[error("pool.keys[{0}].name is empty")]
    EmptyName(usize),
    /// Two keys with one name.
    #[error("pool.keys: name {0:?} is listed twice")]
    DuplicateName(String),
    /// Neither or both of `key` and `key_env`.
    #[error("pool.keys {0:?}: give exactly one of key and key_env")]
    KeySource(String),
    /// `key_env` names a variable that is not set (or not UTF-8).
    #[error("pool.keys {name:?}: environment variable {var} is not set")]
    MissingEnv {
        /// The key's name.
        name: String,
        /// The variable.
        var: String,
    },
    /// A limit of 0 (never sends) or above [`MAX_LIMIT`].
    #[error("pool.keys {name:?}: {limit} = {value} is outside 1..={MAX_LIMIT}")]
    Limit {
        /// The key's name.
        name: String,
        /// `rpm`, `tpm` or `rpd`.
        limit: &'static str,
        /// The value given.
        value: u64,
    },
    /// A price that is negative, NaN or infinite.
    #[error("pool.keys {name:?}: cost_per_1k_tokens = {value} must be a finite number >= 0")]
    Cost {
        /// The key's name.
        name: String,
        /// The value given.
        value: f64,
    },
    /// A `cooldown` of 0 would send straight back to a key that just said 429.
    #[error("pool.cooldown must be longer than 0")]
    ZeroCooldown,
}

impl PoolConfig {
    /// Checks the values a config file may get wrong (the secrets from the environment are
    /// read when the layer is built).
    pub fn validate(&self) -> Result<(), InvalidPool> {
        if self.keys.is_empty() {
            return Err(InvalidPool::NoKeys);
        }
        if self.keys.len() > MAX_KEYS {
            return Err(InvalidPool::TooManyKeys(self.keys.len()));
        }
        if self.cooldown.0.is_zero() {
            return Err(InvalidPool::ZeroCooldown);
        }
        let mut names = HashSet::new();
        for (i, k) in self.keys.iter().enumerate() {
            if k.name.trim().is_empty() {
                return Err(InvalidPool::EmptyName(i));
            }
            if !names.insert(k.name.as_str()) {
                return Err(InvalidPool::DuplicateName(k.name.clone()));
            }
            k.validate()?;
        }
        Ok(())
    }
}

impl KeyEntry {
    fn validate(&self) -> Result<(), InvalidPool> {
        if self.key.is_some() == self.key_env.is_some() {
            return Err(InvalidPool::KeySource(self.name.clone()));
        }
        for (limit, value) in [("rpm", self.rpm), ("tpm", self.tpm), ("rpd", self.rpd)] {
            if let Some(value) = value.filter(|v| !(1..=MAX_LIMIT).contains(v)) {
                return Err(InvalidPool::Limit {
                    name: self.name.clone(),
                    limit,
                    value,
                });
            }
        }
        let c = self.cost_per_1k_tokens;
        if !(c.is_finite() && c >= 0.0) {
            return Err(InvalidPool::Cost {
                name: self.name.clone(),
                value: c,
            });
        }
        Ok(())
    }

    /// The secret: inline, or read from `key_env` now.
    pub fn secret(&self) -> Result<String, InvalidPool> {
        match (&self.key, &self.key_env) {
            (Some(k), _) => Ok(k.clone()),
            (None, Some(var)) => std::env::var(var).map_err(|_| InvalidPool::MissingEnv {
                name: self.name.clone(),
                var: var.clone(),
            }),
            (None, None) => Err(InvalidPool::KeySource(self.name.clone())),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(s: &str) -> Result<PoolConfig, String> {
        let c: PoolConfig = toml::from_str(s).map_err(|e| e.to_string())?;
        c.validate().map_err(|e| e.to_string())?;
        Ok(c)
    }

    const ONE: &str = "[[keys]]\nname = \"free\"\nkey = \"sk-1\"\n";

    #[test]
    fn a_good_pool_parses_with_defaults() {
        let c = parse(&format!("{ONE}rpm = 60\nrpd = 1000\n")).unwrap();
        assert_eq!(c.strategy, Strategy::Ordered);
        assert_eq!(c.keys[0].rpm, Some(60));
        assert_eq!(c.keys[0].cost_per_1k_tokens, 0.0);
        for s in Strategy::ALL {
            let c = parse(&format!("strategy = \"{}\"\n{ONE}", s.as_str())).unwrap();
            assert_eq!(c.strategy, s);
        }
    }

    #[test]
    fn bad_values_are_refused_with_the_key_named() {
        let cases = [
            ("", "empty"),
            (
                "strategy = \"random\"\n[[keys]]\nname = \"a\"\nkey = \"k\"",
                "random",
            ),
            (
                "cooldown = \"0s\"\n[[keys]]\nname = \"a\"\nkey = \"k\"",
                "cooldown",
            ),
            ("[[keys]]\nname = \"\"\nkey = \"k\"", "name is empty"),
            (
                "[[keys]]\nname = \"a\"\nkey = \"k\"\n[[keys]]\nname = \"a\"\nkey = \"j\"",
                "twice",
            ),
            ("[[keys]]\nname = \"a\"", "exactly one"),
            (
                "[[keys]]\nname = \"a\"\nkey = \"k\"\nkey_env = \"V\"",
                "exactly one",
            ),
            ("[[keys]]\nname = \"a\"\nkey = \"k\"\nrpm = 0", "rpm = 0"),
            ("[[keys]]\nname = \"a\"\nkey = \"k\"\nrpd = -1", "rpd"),
            ("[[keys]]\nname = \"a\"\nkey = \"k\"\ntpm = 1.5", "tpm"),
            (
                "[[keys]]\nname = \"a\"\nkey = \"k\"\nrpm = 99999999999",
                "rpm",
            ),
            (
                "[[keys]]\nname = \"a\"\nkey = \"k\"\ncost_per_1k_tokens = nan",
                "cost",
            ),
            (
                "[[keys]]\nname = \"a\"\nkey = \"k\"\ncost_per_1k_tokens = -1.0",
                "cost",
            ),
            (
                "[[keys]]\nname = \"a\"\nkey = \"k\"\ncost_per_1k_tokens = inf",
                "cost",
            ),
            ("[[keys]]\nname = \"a\"\nkey = \"k\"\nkye = 1", "kye"),
        ];
        for (toml, want) in cases {
            let e = parse(toml).unwrap_err();
            assert!(e.contains(want), "{toml:?}: {e}");
        }
    }

    #[test]
    fn a_missing_env_var_is_named_and_the_debug_hides_the_secret() {
        let c =
            parse("[[keys]]\nname = \"a\"\nkey_env = \"GAUNTLET_POOL_TEST_UNSET_VAR\"").unwrap();
        let e = c.keys[0].secret().unwrap_err().to_string();
        assert!(e.contains("GAUNTLET_POOL_TEST_UNSET_VAR"), "{e}");
        let c = parse("[[keys]]\nname = \"a\"\nkey = \"sk-secret-123\"").unwrap();
        assert!(!format!("{c:?}").contains("sk-secret-123"));
        assert_eq!(c.keys[0].secret().unwrap(), "sk-secret-123");
    }
}
