//! A strict reader of the text exposition format (version 0.0.4) for the tests: no well-kept Rust
//! crate parses it (`prometheus` only writes, `prometheus-parse` is unmaintained), and a small one
//! that panics naming the offending line says more than a lenient one.

use std::collections::BTreeMap;

/// One sample line: family-suffixed name, labels in order, value.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct Sample {
    pub name: String,
    pub labels: Labels,
    pub value: f64,
}

/// A parsed exposition: the samples in order and each family's `# TYPE`.
#[derive(Debug, Default)]
pub(super) struct Exposition {
    pub samples: Vec<Sample>,
    pub types: BTreeMap<String, String>,
}

impl Exposition {
    /// The value of the one sample named `name` whose labels include every pair of `labels`.
    pub fn value(&self, name: &str, labels: &[(&str, &str)]) -> Option<f64> {
        let matching: Vec<&Sample> = self
            .samples
            .iter()
            .filter(|s| s.name == name)
            .filter(|s| {
                labels
                    .iter()
                    .all(|(k, v)| s.labels.iter().any(|(sk, sv)| sk == k && sv == v))
            })
            .collect();
        assert!(matching.len() <= 1, "{name} {labels:?} is ambiguous");
        matching.first().map(|s| s.value)
    }

    /// Every sample of a family (for a histogram, its buckets, sum and count).
    pub fn family(&self, family: &str) -> Vec<&Sample> {
        self.samples
            .iter()
            .filter(|s| family_of(&s.name, &self.types) == family)
            .collect()
    }
}

/// The family a sample belongs to: a histogram's `_bucket`, `_sum` and `_count` lines belong to the
/// histogram's name.
fn family_of<'a>(name: &'a str, types: &BTreeMap<String, String>) -> &'a str {
    for suffix in ["_bucket", "_sum", "_count"] {
        if let Some(base) = name.strip_suffix(suffix) {
            if types.get(base).map(String::as_str) == Some("histogram") {
                return base;
            }
        }
    }
    name
}

fn is_name(s: &str) -> bool {
    let mut chars = s.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_' || c == ':')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':')
}

/// Parses version 0.0.4 of the text format strictly: `# HELP` / `# TYPE` before a family's
/// samples, each family's lines together, names and label names well-formed, label values with
/// only the three escapes, values numbers. Panics naming the line that breaks a rule.
pub(super) fn parse(text: &str) -> Exposition {
    assert!(text.ends_with('\n'), "the exposition ends with a newline");
    let mut exp = Exposition::default();
    let mut helped = Vec::new();
    let mut current: Option<String> = None;
    for (n, line) in text.lines().enumerate() {
        let at = |msg: &str| format!("line {}: {msg}: {line:?}", n + 1);
        if let Some(rest) = line.strip_prefix("# HELP ") {
            let (name, help) = rest
                .split_once(' ')
                .unwrap_or_else(|| panic!("{}", at("HELP without text")));
            assert!(is_name(name) && !help.is_empty(), "{}", at("bad HELP"));
            assert!(!helped.contains(&name.to_string()), "{}", at("second HELP"));
            helped.push(name.to_string());
        } else if let Some(rest) = line.strip_prefix("# TYPE ") {
            let (name, kind) = rest
                .split_once(' ')
                .unwrap_or_else(|| panic!("{}", at("TYPE without type")));
            assert!(
                ["counter", "gauge", "histogram", "summary", "untyped"].contains(&kind),
                "{}",
                at("unknown type")
            );
            assert!(
                exp.types
                    .insert(name.to_string(), kind.to_string())
                    .is_none(),
                "{}",
                at("second TYPE")
            );
            current = Some(name.to_string());
        } else {
            assert!(!line.starts_with('#'), "{}", at("stray comment"));
            let s = parse_sample(line).unwrap_or_else(|e| panic!("{}", at(e)));
            let family = family_of(&s.name, &exp.types);
            assert_eq!(
                current.as_deref(),
                Some(family),
                "{}",
                at("sample outside its family's block")
            );
            exp.samples.push(s);
        }
    }
    exp
}

pub(super) fn parse_sample(line: &str) -> Result<Sample, &'static str> {
    let name_end = line.find(['{', ' ']).ok_or("no value")?;
    let name = &line[..name_end];
    if !is_name(name) {
        return Err("bad metric name");
    }
    let mut rest = &line[name_end..];
    let mut labels = Vec::new();
    if let Some(body) = rest.strip_prefix('{') {
        let (parsed, after) = parse_labels(body)?;
        labels = parsed;
        rest = after;
    }
    let value = rest.strip_prefix(' ').ok_or("no space before the value")?;
    let value = match value {
        "+Inf" => f64::INFINITY,
        "-Inf" => f64::NEG_INFINITY,
        v => v.parse().map_err(|_| "value is not a number")?,
    };
    Ok(Sample {
        name: name.to_string(),
        labels,
        value,
    })
}

/// Label pairs, in order.
type Labels = Vec<(String, String)>;

/// Label pairs up to the closing brace; returns them and what follows the brace.
fn parse_labels(mut s: &str) -> Result<(Labels, &str), &'static str> {
    let mut labels = Vec::new();
    loop {
        if let Some(after) = s.strip_prefix('}') {
            return Ok((labels, after));
        }
        let (key, rest) = s.split_once("=\"").ok_or("label without =\"")?;
        if !is_name(key) || key.starts_with("__") {
            return Err("bad label name");
        }
        let mut value = String::new();
        let mut chars = rest.char_indices();
        let end = loop {
            match chars.next().ok_or("unterminated label value")? {
                (i, '"') => break i,
                (_, '\\') => match chars.next().ok_or("dangling escape")?.1 {
                    '\\' => value.push('\\'),
                    '"' => value.push('"'),
                    'n' => value.push('\n'),
                    _ => return Err("unknown escape"),
                },
                (_, c) => value.push(c),
            }
        };
        labels.push((key.to_string(), value));
        s = &rest[end + 1..];
        s = s.strip_prefix(',').unwrap_or(s);
    }
}

#[test]
#[should_panic(expected = "sample outside its family's block")]
fn a_sample_before_its_type_is_refused() {
    parse("# TYPE a_total counter\na_total 1\nb_total 2\n");
}

#[test]
#[should_panic(expected = "value is not a number")]
fn a_value_that_is_no_number_is_refused() {
    parse("# TYPE a_total counter\na_total{x=\"1\"} one\n");
}

#[test]
fn histogram_lines_belong_to_their_family() {
    let exp = parse(
        "# HELP h_seconds H.\n# TYPE h_seconds histogram\n\
         h_seconds_bucket{le=\"+Inf\"} 2\nh_seconds_sum 0.5\nh_seconds_count 2\n",
    );
    assert_eq!(exp.family("h_seconds").len(), 3);
    assert_eq!(exp.value("h_seconds_bucket", &[("le", "+Inf")]), Some(2.0));
}
