//! An instance of a JSON Schema, drawn from a seeded RNG: the arguments of a tool call and the
//! content of a `json_schema` answer, which a client's parser must accept.
//!
//! Supported: `type` (each JSON type and type arrays), `properties`, `required`,
//! `additionalProperties`, `minProperties`, `enum`, `const`, `items` (a schema, or draft-4
//! tuples), `prefixItems`, `minItems`/`maxItems`, `uniqueItems` (best effort),
//! `minimum`/`maximum`/`exclusiveMinimum`/`exclusiveMaximum` (draft-4 booleans and later
//! numbers), `multipleOf` (exact for integers; for numbers `k × multipleOf`, which floating
//! point may miss), `minLength`/`maxLength`, `format` (`date-time`, `date`, `time`, `email`,
//! `uuid`, `uri`, `hostname`, `ipv4`, `ipv6`, `duration`), `anyOf`/`oneOf` (one branch is
//! drawn; overlapping `oneOf` branches are not told apart), `allOf` (the branches' keywords
//! merged: properties and required are joined, any other keyword the last branch says wins),
//! `$ref` to any `#/...` JSON pointer (so `#/$defs/…`, `#/definitions/…` and `#`), and
//! OpenAPI's `nullable`.
//!
//! `pattern` is parsed with `regex-syntax` and a string is built from its syntax tree
//! (literals, classes — printable ASCII preferred —, repetitions, alternations, groups).
//! Assertions (`^`, `$`, `\b`) are skipped, which is right for `^`/`$` at the ends and may miss
//! a `\b` in the middle; a pattern `regex-syntax` cannot parse (look-around, back-references)
//! gets a plain string. Not supported: `not`, `if`/`then`/`else`, `dependent*`,
//! `patternProperties`, `propertyNames`, `contains`, `unevaluated*`.
//!
//! Hostile schemas are bounded, never a panic or a hang: past [`SOFT_DEPTH`] levels (of nesting
//! or `$ref` hops) only required properties and minimum counts are generated and `anyOf`
//! prefers a branch that ends the recursion; past [`MAX_DEPTH`] the value is the smallest of its
//! type; at most [`MAX_NODES`] values, [`MAX_ITEMS`] items per array and [`MAX_STRING`]
//! characters per string are generated. An unsatisfiable schema (`minimum` over `maximum`,
//! `false`, `minItems: 1e9`) gets the best bounded attempt, which a validator will refuse:
//! schema errors a client could fix are found beforehand by [`super::check`].

use rand::Rng;
use rand_chacha::ChaCha8Rng;
use serde_json::{Map, Number, Value};

/// Depth (nesting plus `$ref` hops) past which only what is required is generated.
pub const SOFT_DEPTH: usize = 8;
/// Depth past which a value is the smallest of its type, so recursion through `$ref` ends.
pub const MAX_DEPTH: usize = 32;
/// Values generated for one instance at most; past it every value is minimal.
pub const MAX_NODES: usize = 4096;
/// Items of one array at most, whatever `minItems` says.
pub const MAX_ITEMS: usize = 64;
/// Characters of one string at most, whatever `minLength` says.
pub const MAX_STRING: usize = 4096;
/// Characters of text (strings, `const`s and `enum` values copied) in one instance at most,
/// the size of the longest text reply, so `n` instances stay as bounded as `n` replies.
pub const MAX_TEXT: usize = 32 * 1024;
/// Patterns longer than this get a plain string instead of being parsed.
pub const MAX_PATTERN: usize = 1024;

const WORDS: &[&str] = &[
    "alpha", "bravo", "cedar", "delta", "ember", "fjord", "grove", "harbor", "iris", "juniper",
    "kestrel", "lumen", "meadow", "nectar", "orbit", "pebble", "quartz", "river", "summit",
    "tundra",
];

/// A value valid against `schema` (as far as the module doc says), the same for the same RNG
/// state. `schema` is also the root `$ref`s resolve against.
pub fn instance(schema: &Value, rng: &mut ChaCha8Rng) -> Value {
    let mut g = Generator {
        root: schema,
        rng,
        nodes: 0,
        chars: 0,
    };
    g.value(schema, 0)
}

struct Generator<'a, 'r> {
    root: &'a Value,
    rng: &'r mut ChaCha8Rng,
    nodes: usize,
    /// Text generated or copied so far, against [`MAX_TEXT`].
    chars: usize,
}

/// The JSON types, in the order a minimal value is preferred (cheapest first).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Null,
    Boolean,
    Integer,
    Number,
    String,
    Array,
    Object,
}

impl Kind {
    /// Every type, cheapest first; also what `{}` may be.
    const ALL: [Kind; 7] = [
        Kind::Null,
        Kind::Boolean,
        Kind::Integer,
        Kind::Number,
        Kind::String,
        Kind::Array,
        Kind::Object,
    ];

    fn from_name(name: &str) -> Option<Kind> {
        Kind::ALL.into_iter().find(|k| k.name() == name)
    }

    pub(crate) fn name(self) -> &'static str {
        match self {
            Kind::Null => "null",
            Kind::Boolean => "boolean",
            Kind::Integer => "integer",
            Kind::Number => "number",
            Kind::String => "string",
            Kind::Array => "array",
            Kind::Object => "object",
        }
    }
}

/// Whether `name` is one of JSON Schema's type names (for [`super::check`]).
pub(crate) fn is_type_name(name: &str) -> bool {
    Kind::from_name(name).is_some()
}

/// The schema a `$ref` points at, if it is a local JSON pointer that resolves.
pub(crate) fn resolve<'a>(root: &'a Value, reference: &str) -> Option<&'a Value> {
    let pointer = reference.strip_prefix('#')?;
    if pointer.is_empty() {
        return Some(root);
    }
    root.pointer(pointer)
}

impl Generator<'_, '_> {
    fn value(&mut self, schema: &Value, depth: usize) -> Value {
        self.nodes += 1;
        let obj = match schema {
            Value::Object(o) => o,
            // `true` accepts anything, `false` nothing: the best attempt is null.
            Value::Bool(true) => return Value::String(self.word()),
            _ => return Value::Null,
        };
        let minimal = depth >= MAX_DEPTH || self.nodes >= MAX_NODES || self.chars >= MAX_TEXT;
        if let Some(Value::String(r)) = obj.get("$ref") {
            return match resolve(self.root, r) {
                Some(target) if !minimal => self.value(target, depth + 1),
                _ => Value::Null,
            };
        }
        if let Some(c) = obj.get("const") {
            return self.copied(c);
        }
        if let Some(Value::Array(options)) = obj.get("enum") {
            return self.pick_enum(options);
        }
        if let Some(Value::Array(all)) = obj.get("allOf") {
            let merged = self.merge_all_of(obj, all);
            return self.value(&Value::Object(merged), depth + 1);
        }
        for key in ["anyOf", "oneOf"] {
            if let Some(Value::Array(branches)) = obj.get(key) {
                if !branches.is_empty() {
                    let branch = self.pick_branch(branches, depth);
                    return self.value(branch, depth + 1);
                }
            }
        }
        let kind = self.pick_kind(obj, depth);
        if minimal {
            return smallest(kind);
        }
        match kind {
            Kind::Null => Value::Null,
            Kind::Boolean => Value::Bool(self.rng.random()),
            Kind::Integer => self.integer(obj),
            Kind::Number => self.number(obj),
            Kind::String => {
                let s = self.string(obj);
                self.chars += s.len();
                Value::String(s)
            }
            Kind::Array => self.array(obj, depth),
            Kind::Object => self.object(obj, depth),
        }
    }

    fn pick_enum(&mut self, options: &[Value]) -> Value {
        if options.is_empty() {
            return Value::Null;
        }
        let pick = &options[self.rng.random_range(0..options.len())];
        self.copied(pick)
    }

    /// A copy of a schema's value, unless it would take the instance past [`MAX_TEXT`].
    fn copied(&mut self, v: &Value) -> Value {
        let size = text_size(v, MAX_TEXT + 1);
        if self.chars + size > MAX_TEXT {
            return Value::Null;
        }
        self.chars += size;
        v.clone()
    }

    /// One branch; deep in a recursion, the first that ends it (null, a scalar, no `$ref`).
    fn pick_branch<'v>(&mut self, branches: &'v [Value], depth: usize) -> &'v Value {
        if depth >= SOFT_DEPTH {
            if let Some(b) = branches.iter().find(|b| is_terminal(b)) {
                return b;
            }
        }
        &branches[self.rng.random_range(0..branches.len())]
    }

    /// `allOf`'s branches (refs resolved one level) and the schema's own keywords as one
    /// schema: properties and required joined, other keywords overwritten in order.
    fn merge_all_of(&self, own: &Map<String, Value>, all: &[Value]) -> Map<String, Value> {
        let mut merged = Map::new();
        let mut own = own.clone();
        own.remove("allOf");
        let branches = all
            .iter()
            .map(|b| match b.get("$ref").and_then(Value::as_str) {
                Some(r) => resolve(self.root, r).unwrap_or(&Value::Null),
                None => b,
            })
            .chain(std::iter::once(&Value::Null));
        for branch in branches {
            let map = match branch {
                Value::Object(m) => m,
                Value::Null => &own,
                _ => continue,
            };
            for (k, v) in map {
                match (k.as_str(), merged.get_mut(k), v) {
                    ("properties", Some(Value::Object(have)), Value::Object(add)) => {
                        have.extend(add.clone());
                    }
                    ("required", Some(Value::Array(have)), Value::Array(add)) => {
                        have.extend(
                            add.iter()
                                .filter(|r| !have.contains(r))
                                .cloned()
                                .collect::<Vec<_>>(),
                        );
                    }
                    _ => {
                        merged.insert(k.clone(), v.clone());
                    }
                }
            }
        }
        merged
    }

    /// The type to generate: one of `type` (null preferred deep down), or what the keywords
    /// imply, or anything for `{}`.
    fn pick_kind(&mut self, obj: &Map<String, Value>, depth: usize) -> Kind {
        let nullable = obj.get("nullable") == Some(&Value::Bool(true));
        let mut kinds: Vec<Kind> = match obj.get("type") {
            Some(Value::String(t)) => Kind::from_name(t).into_iter().collect(),
            Some(Value::Array(ts)) => ts
                .iter()
                .filter_map(|t| t.as_str().and_then(Kind::from_name))
                .collect(),
            _ => implied_kind(obj).into_iter().collect(),
        };
        if kinds.is_empty() {
            kinds = vec![Kind::String, Kind::Integer, Kind::Boolean];
        }
        if depth >= SOFT_DEPTH {
            if nullable {
                return Kind::Null;
            }
            return kinds
                .into_iter()
                .min_by_key(|k| *k as u8)
                .unwrap_or(Kind::Null);
        }
        kinds[self.rng.random_range(0..kinds.len())]
    }

    fn integer(&mut self, obj: &Map<String, Value>) -> Value {
        let (lo, hi) = bounds(obj);
        let lo = lo.map(|(v, excl)| if excl { v.floor() + 1.0 } else { v.ceil() });
        let hi = hi.map(|(v, excl)| if excl { v.ceil() - 1.0 } else { v.floor() });
        let (lo, hi) = span(lo.map(clamp_i64), hi.map(clamp_i64));
        let step = obj
            .get("multipleOf")
            .and_then(Value::as_f64)
            .filter(|m| *m >= 1.0 && m.fract() == 0.0)
            .map(clamp_i64)
            .unwrap_or(1);
        let (k_lo, k_hi) = (div_ceil(lo, step), hi.div_euclid(step));
        let n = if k_lo <= k_hi {
            self.rng.random_range(k_lo..=k_hi).saturating_mul(step)
        } else {
            lo
        };
        Value::Number(n.into())
    }

    fn number(&mut self, obj: &Map<String, Value>) -> Value {
        let (lo, hi) = bounds(obj);
        // Exclusive bounds are stepped over by a little.
        let nudge = |v: f64, up: bool| {
            let d = (v.abs() * 1e-9).max(0.01);
            if up {
                v + d
            } else {
                v - d
            }
        };
        let lo = lo.map(|(v, excl)| if excl { nudge(v, true) } else { v });
        let hi = hi.map(|(v, excl)| if excl { nudge(v, false) } else { v });
        let (lo, hi) = match (lo.map(clamp_f64), hi.map(clamp_f64)) {
            (Some(l), Some(h)) => (l, h),
            (Some(l), None) => (l, l + 100.0),
            (None, Some(h)) => (h - 100.0, h),
            (None, None) => (0.0, 100.0),
        };
        let multiple = obj.get("multipleOf").and_then(Value::as_f64);
        if let Some(m) = multiple.filter(|m| *m >= 1e-6) {
            let (k_lo, k_hi) = ((lo / m).ceil(), (hi / m).floor());
            let k = if k_lo < k_hi {
                self.rng.random_range(k_lo..=k_hi).round()
            } else {
                k_lo
            };
            return Number::from_f64(k * m).map_or(Value::Null, Value::Number);
        }
        let x = if lo < hi {
            // Two decimals when they stay inside the bounds.
            let raw = self.rng.random_range(lo..hi);
            let rounded = (raw * 100.0).round() / 100.0;
            if rounded >= lo && rounded <= hi {
                rounded
            } else {
                raw
            }
        } else {
            lo
        };
        Number::from_f64(x).map_or(Value::Null, Value::Number)
    }

    fn string(&mut self, obj: &Map<String, Value>) -> String {
        let cap = MAX_STRING.min(MAX_TEXT.saturating_sub(self.chars)) as u64;
        let min = obj
            .get("minLength")
            .and_then(Value::as_u64)
            .map_or(0, |n| n.min(cap) as usize);
        let max = obj
            .get("maxLength")
            .and_then(Value::as_u64)
            .map_or(usize::MAX, |n| n.min(cap) as usize);
        if let Some(f) = obj.get("format").and_then(Value::as_str) {
            if let Some(s) = self.formatted(f) {
                return s;
            }
        }
        if let Some(p) = obj.get("pattern").and_then(Value::as_str) {
            if let Some(s) = self.matching(p, min, max) {
                return s;
            }
        }
        let hi = if max == usize::MAX {
            (min.max(5) + 16).min(cap as usize)
        } else {
            max
        };
        let lo = min.min(hi);
        let wanted = self.rng.random_range(lo..=hi.min(lo.max(5) + 16).max(lo));
        let mut s = String::with_capacity(wanted + 8);
        while s.len() < wanted {
            if !s.is_empty() {
                s.push(' ');
            }
            s.push_str(&self.word());
        }
        s.truncate(wanted);
        if s.ends_with(' ') {
            s.pop();
            s.push('x');
        }
        s
    }

    fn word(&mut self) -> String {
        WORDS[self.rng.random_range(0..WORDS.len())].to_string()
    }

    fn formatted(&mut self, format: &str) -> Option<String> {
        let r = &mut self.rng;
        let date = format!(
            "{:04}-{:02}-{:02}",
            r.random_range(2000..=2030),
            r.random_range(1..=12),
            r.random_range(1..=28)
        );
        let time = format!(
            "{:02}:{:02}:{:02}Z",
            r.random_range(0..24),
            r.random_range(0..60),
            r.random_range(0..60)
        );
        let word = WORDS[r.random_range(0..WORDS.len())];
        Some(match format {
            "date-time" => format!("{date}T{time}"),
            "date" => date,
            "time" => time,
            "email" => format!("{word}{}@example.com", r.random_range(1..1000)),
            "hostname" => format!("{word}.example.com"),
            "uri" | "url" | "iri" => {
                format!("https://example.com/{word}/{}", r.random_range(1..1000))
            }
            "uuid" => {
                let a: u128 = r.random();
                let a = (a & !(0xf << 76) | (0x4 << 76)) & !(0x3 << 62) | (0x2 << 62);
                let h = format!("{a:032x}");
                format!(
                    "{}-{}-{}-{}-{}",
                    &h[0..8],
                    &h[8..12],
                    &h[12..16],
                    &h[16..20],
                    &h[20..32]
                )
            }
            "ipv4" => format!("192.0.2.{}", r.random_range(1..255)),
            "ipv6" => format!("2001:db8::{:x}", r.random_range(1..0xffffu32)),
            "duration" => format!("P{}D", r.random_range(1..30)),
            _ => return None,
        })
    }

    /// A string the pattern matches, within the length bounds if a few tries find one.
    fn matching(&mut self, pattern: &str, min: usize, max: usize) -> Option<String> {
        if pattern.len() > MAX_PATTERN {
            return None;
        }
        let hir = regex_syntax::ParserBuilder::new()
            .nest_limit(64)
            .build()
            .parse(pattern)
            .ok()?;
        let mut last = String::new();
        // Later tries repeat more, for a `minLength` beyond what a few repetitions give.
        for extra in [3, 3, 6, 12, 24, 48, 96, 192] {
            last.clear();
            let mut budget = MAX_EMIT_STEPS;
            let mut emitter = Emitter {
                rng: self.rng,
                extra,
                budget: &mut budget,
            };
            emitter.emit(&hir, &mut last);
            let n = last.chars().count();
            if n >= min && n <= max {
                break;
            }
        }
        Some(last)
    }

    fn array(&mut self, obj: &Map<String, Value>, depth: usize) -> Value {
        let min = obj
            .get("minItems")
            .and_then(Value::as_u64)
            .map_or(0, |n| n.min(MAX_ITEMS as u64) as usize);
        let max = obj
            .get("maxItems")
            .and_then(Value::as_u64)
            .map_or(MAX_ITEMS, |n| n.min(MAX_ITEMS as u64) as usize);
        let count = if depth >= SOFT_DEPTH || min >= max {
            min
        } else {
            self.rng.random_range(min..=max.min(min + 3))
        };
        let tuple: &[Value] = match (obj.get("prefixItems"), obj.get("items")) {
            (Some(Value::Array(p)), _) | (None, Some(Value::Array(p))) => p,
            _ => &[],
        };
        let rest = match obj.get("items") {
            Some(s @ (Value::Object(_) | Value::Bool(_))) => s.clone(),
            _ => match obj.get("additionalItems") {
                Some(s @ Value::Object(_)) => s.clone(),
                _ => Value::Object(Map::new()),
            },
        };
        // `items: false` (or draft 4's `additionalItems: false`) allows the tuple alone.
        let closed = matches!(obj.get("items"), Some(Value::Bool(false)))
            || (obj.get("additionalItems") == Some(&Value::Bool(false)) && !tuple.is_empty());
        let count = count.max(tuple.len().min(MAX_ITEMS));
        let count = if closed {
            count.min(tuple.len())
        } else {
            count
        };
        let unique = obj.get("uniqueItems") == Some(&Value::Bool(true));
        let mut items = Vec::with_capacity(count);
        for i in 0..count {
            let schema = tuple.get(i).unwrap_or(&rest);
            let mut item = self.value(schema, depth + 1);
            for _ in 0..4 {
                if !unique || !items.contains(&item) {
                    break;
                }
                item = self.value(schema, depth + 1);
            }
            if unique && items.contains(&item) && items.len() >= min {
                break;
            }
            items.push(item);
        }
        Value::Array(items)
    }

    fn object(&mut self, obj: &Map<String, Value>, depth: usize) -> Value {
        let empty = Map::new();
        let props = obj
            .get("properties")
            .and_then(Value::as_object)
            .unwrap_or(&empty);
        let required: Vec<&str> = obj
            .get("required")
            .and_then(Value::as_array)
            .map(|r| r.iter().filter_map(Value::as_str).collect())
            .unwrap_or_default();
        let extra = match obj.get("additionalProperties") {
            Some(Value::Bool(false)) => None,
            Some(s @ Value::Object(_)) => Some(s.clone()),
            _ => Some(Value::Object(Map::new())),
        };
        let mut out = Map::new();
        for (name, schema) in props {
            let wanted = required.contains(&name.as_str())
                || (depth < SOFT_DEPTH && self.rng.random_bool(0.7));
            if wanted {
                let v = self.value(schema, depth + 1);
                out.insert(name.clone(), v);
            }
        }
        for name in required.iter().filter(|r| !props.contains_key(**r)) {
            let schema = extra.clone().unwrap_or(Value::Object(Map::new()));
            let v = self.value(&schema, depth + 1);
            out.insert((*name).to_string(), v);
        }
        let min_props = obj
            .get("minProperties")
            .and_then(Value::as_u64)
            .map_or(0, |n| n.min(MAX_ITEMS as u64) as usize);
        if let Some(schema) = extra {
            let mut i = 0;
            while out.len() < min_props {
                let v = self.value(&schema, depth + 1);
                out.insert(format!("extra_{i}"), v);
                i += 1;
            }
        }
        Value::Object(out)
    }
}

/// Characters of text in `v` (strings and keys; a few for other scalars), counted up to `limit`.
fn text_size(v: &Value, limit: usize) -> usize {
    match v {
        Value::String(s) => s.len(),
        Value::Array(items) => items.iter().fold(0, |n, i| {
            if n > limit {
                n
            } else {
                n + 1 + text_size(i, limit)
            }
        }),
        Value::Object(m) => m.iter().fold(0, |n, (k, i)| {
            if n > limit {
                n
            } else {
                n + k.len() + 1 + text_size(i, limit)
            }
        }),
        _ => 4,
    }
}

/// Whether a branch ends a recursion: no `$ref`, and a scalar or null type.
fn is_terminal(branch: &Value) -> bool {
    let Some(obj) = branch.as_object() else {
        return true;
    };
    if obj.contains_key("$ref") {
        return false;
    }
    match obj.get("type").and_then(Value::as_str) {
        Some("object" | "array") => false,
        Some(_) => true,
        None => obj.contains_key("enum") || obj.contains_key("const"),
    }
}

/// The type a schema without `type` implies by its keywords.
fn implied_kind(obj: &Map<String, Value>) -> Option<Kind> {
    let has = |keys: &[&str]| keys.iter().any(|k| obj.contains_key(*k));
    if has(&[
        "properties",
        "required",
        "additionalProperties",
        "minProperties",
    ]) {
        Some(Kind::Object)
    } else if has(&["items", "prefixItems", "minItems", "maxItems"]) {
        Some(Kind::Array)
    } else if has(&["minLength", "maxLength", "pattern", "format"]) {
        Some(Kind::String)
    } else if has(&[
        "minimum",
        "maximum",
        "exclusiveMinimum",
        "exclusiveMaximum",
        "multipleOf",
    ]) {
        Some(Kind::Number)
    } else {
        None
    }
}

fn smallest(kind: Kind) -> Value {
    match kind {
        Kind::Null => Value::Null,
        Kind::Boolean => Value::Bool(false),
        Kind::Integer | Kind::Number => Value::Number(0.into()),
        Kind::String => Value::String(String::new()),
        Kind::Array => Value::Array(Vec::new()),
        Kind::Object => Value::Object(Map::new()),
    }
}

/// A bound's value and whether it is exclusive.
type Bound = (f64, bool);

/// The lower and upper bounds, each with whether it is exclusive; draft 4 spells exclusivity as
/// a boolean beside `minimum`, later drafts as a number of its own (the tighter bound wins).
fn bounds(obj: &Map<String, Value>) -> (Option<Bound>, Option<Bound>) {
    let side = |incl: &str, excl: &str, lower: bool| -> Option<Bound> {
        let inclusive = obj.get(incl).and_then(Value::as_f64);
        match obj.get(excl) {
            Some(Value::Bool(true)) => inclusive.map(|v| (v, true)),
            Some(Value::Number(n)) => {
                let e = n.as_f64()?;
                match inclusive {
                    Some(i) if (lower && i > e) || (!lower && i < e) => Some((i, false)),
                    _ => Some((e, true)),
                }
            }
            _ => inclusive.map(|v| (v, false)),
        }
    };
    (
        side("minimum", "exclusiveMinimum", true),
        side("maximum", "exclusiveMaximum", false),
    )
}

/// Bounds past ±9e15 are clamped, so ranges stay finite and integers exact.
const NUMBER_LIMIT: f64 = 9.0e15;

fn clamp_f64(v: f64) -> f64 {
    v.clamp(-NUMBER_LIMIT, NUMBER_LIMIT)
}

fn clamp_i64(v: f64) -> i64 {
    clamp_f64(v) as i64
}

/// The range to draw from: both bounds, or 100 wide from the one given, or 0..=100.
fn span(lo: Option<i64>, hi: Option<i64>) -> (i64, i64) {
    match (lo, hi) {
        (Some(l), Some(h)) => (l, h),
        (Some(l), None) => (l, l.saturating_add(100)),
        (None, Some(h)) => (h.saturating_sub(100), h),
        (None, None) => (0, 100),
    }
}

fn div_ceil(a: i64, b: i64) -> i64 {
    let q = a.div_euclid(b);
    if a.rem_euclid(b) == 0 {
        q
    } else {
        q + 1
    }
}

/// Steps (nodes of the pattern visited) one string costs at most, so nested empty
/// repetitions such as `(()*)*` end.
const MAX_EMIT_STEPS: usize = 100_000;

/// Writes a string a pattern's syntax tree matches.
struct Emitter<'r, 'b> {
    rng: &'r mut ChaCha8Rng,
    /// Repetitions drawn beyond a quantifier's minimum, at most.
    extra: u32,
    budget: &'b mut usize,
}

impl Emitter<'_, '_> {
    fn emit(&mut self, hir: &regex_syntax::hir::Hir, out: &mut String) {
        use regex_syntax::hir::{Class, HirKind};
        if out.len() > MAX_STRING || *self.budget == 0 {
            return;
        }
        *self.budget -= 1;
        match hir.kind() {
            HirKind::Empty | HirKind::Look(_) => {}
            HirKind::Literal(lit) => out.push_str(&String::from_utf8_lossy(&lit.0)),
            HirKind::Class(Class::Unicode(c)) => {
                let ranges: Vec<(u32, u32)> = c
                    .ranges()
                    .iter()
                    .map(|r| (r.start() as u32, r.end() as u32))
                    .collect();
                out.extend(pick_char(&ranges, self.rng));
            }
            HirKind::Class(Class::Bytes(c)) => {
                let ranges: Vec<(u32, u32)> = c
                    .ranges()
                    .iter()
                    .map(|r| (u32::from(r.start()), u32::from(r.end().min(0x7f))))
                    .filter(|(a, b)| a <= b)
                    .collect();
                out.extend(pick_char(&ranges, self.rng));
            }
            HirKind::Repetition(rep) => {
                let max = rep.max.unwrap_or(u32::MAX);
                let extra = max.saturating_sub(rep.min).min(self.extra);
                let n = rep.min.min(MAX_ITEMS as u32) + self.rng.random_range(0..=extra);
                for _ in 0..n {
                    self.emit(&rep.sub, out);
                }
            }
            HirKind::Capture(cap) => self.emit(&cap.sub, out),
            HirKind::Concat(parts) => parts.iter().for_each(|p| self.emit(p, out)),
            HirKind::Alternation(alts) => {
                if !alts.is_empty() {
                    let i = self.rng.random_range(0..alts.len());
                    self.emit(&alts[i], out);
                }
            }
        }
    }
}

/// A character of the class: printable ASCII when the class has some, else any of its first
/// range.
fn pick_char(ranges: &[(u32, u32)], rng: &mut ChaCha8Rng) -> Option<char> {
    let printable: Vec<(u32, u32)> = ranges
        .iter()
        .filter_map(|&(a, b)| {
            let (a, b) = (a.max(0x20), b.min(0x7e));
            (a <= b).then_some((a, b))
        })
        .collect();
    let pool = if printable.is_empty() {
        ranges
    } else {
        &printable
    };
    let &(a, b) = pool.get(rng.random_range(0..pool.len().max(1)))?;
    (0..8)
        .find_map(|_| char::from_u32(rng.random_range(a..=b)))
        .or_else(|| char::from_u32(a))
}
