//! `--set key=v1,v2`: any scenario key, swept over values. Keys are dotted paths into the
//! scenario's TOML (`client.retry.max_attempts`, `upstream.timeline.0.for`); each value is read
//! as TOML (`3`, `true`, `0.5`) or, failing that, as a string (`10/s`, `5s`).

use toml::{Table, Value};

/// One swept key and its values.
#[derive(Debug, Clone, PartialEq)]
pub struct Axis {
    /// The dotted path.
    pub key: String,
    /// Values, as written.
    pub values: Vec<String>,
}

/// Why a `--set` argument could not be read.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum AxisError {
    /// No `=`.
    #[error("--set {0:?}: write key=value1,value2")]
    NoValues(String),
    /// An empty key or an empty segment in it.
    #[error("--set {0:?}: the key must be a dotted path like client.retry.max_attempts")]
    BadKey(String),
    /// An empty value in the list.
    #[error("--set {0:?}: a value is empty")]
    EmptyValue(String),
}

/// Why a value could not be set at a dotted path of a scenario.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum SetError {
    /// The path has no segments.
    #[error("empty key")]
    EmptyKey,
    /// A segment under an array is not a number.
    #[error("{path}: {segment:?} is not an index")]
    NotAnIndex {
        /// The whole path.
        path: String,
        /// The segment that should have been an array index.
        segment: String,
    },
    /// An index past the array's end.
    #[error("{path}: index {index} out of range (the array has {len})")]
    OutOfRange {
        /// The whole path.
        path: String,
        /// The index asked for, 0-based.
        index: usize,
        /// The array's length.
        len: usize,
    },
    /// A segment under a string, number or boolean.
    #[error("{0}: cannot set a key inside a plain value")]
    InsidePlainValue(String),
}

/// Reads `key=v1,v2,...`.
pub fn parse_axis(arg: &str) -> Result<Axis, AxisError> {
    let (key, values) = arg
        .split_once('=')
        .ok_or_else(|| AxisError::NoValues(arg.to_string()))?;
    let key = key.trim();
    if key.is_empty() || key.split('.').any(str::is_empty) {
        return Err(AxisError::BadKey(arg.to_string()));
    }
    let values: Vec<String> = values.split(',').map(|v| v.trim().to_string()).collect();
    if values.iter().any(String::is_empty) {
        return Err(AxisError::EmptyValue(arg.to_string()));
    }
    Ok(Axis {
        key: key.to_string(),
        values,
    })
}

/// A value as TOML: a number, boolean or inline table/array when it parses as one, else a string.
pub fn toml_value(text: &str) -> Value {
    toml::from_str::<Table>(&format!("v = {text}"))
        .ok()
        .and_then(|mut t| t.remove("v"))
        .unwrap_or_else(|| Value::String(text.to_string()))
}

/// Sets `path` in `root`, creating tables on the way; numeric segments index arrays.
pub fn set_path(root: &mut Table, path: &str, value: Value) -> Result<(), SetError> {
    let parts: Vec<&str> = path.split('.').collect();
    set_in_table(root, &parts, value, path)
}

fn set_in_table(t: &mut Table, parts: &[&str], value: Value, path: &str) -> Result<(), SetError> {
    let (first, rest) = parts.split_first().ok_or(SetError::EmptyKey)?;
    if rest.is_empty() {
        t.insert((*first).to_string(), value);
        return Ok(());
    }
    let child = t
        .entry((*first).to_string())
        .or_insert_with(|| Value::Table(Table::new()));
    set_in_value(child, rest, value, path)
}

fn set_in_value(v: &mut Value, parts: &[&str], value: Value, path: &str) -> Result<(), SetError> {
    match v {
        Value::Table(t) => set_in_table(t, parts, value, path),
        Value::Array(a) => {
            let (first, rest) = parts.split_first().ok_or(SetError::EmptyKey)?;
            let i: usize = first.parse().map_err(|_| SetError::NotAnIndex {
                path: path.to_string(),
                segment: (*first).to_string(),
            })?;
            let len = a.len();
            let item = a.get_mut(i).ok_or_else(|| SetError::OutOfRange {
                path: path.to_string(),
                index: i,
                len,
            })?;
            if rest.is_empty() {
                *item = value;
                Ok(())
            } else {
                set_in_value(item, rest, value, path)
            }
        }
        _ => Err(SetError::InsidePlainValue(path.to_string())),
    }
}

/// Every combination of the axes' values, first axis slowest.
pub fn combinations(axes: &[Axis]) -> Vec<Vec<String>> {
    axes.iter().fold(vec![Vec::new()], |acc, axis| {
        acc.iter()
            .flat_map(|prefix| {
                axis.values.iter().map(move |v| {
                    let mut c = prefix.clone();
                    c.push(v.clone());
                    c
                })
            })
            .collect()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sets_nested_keys_and_array_items() {
        let mut t: Table = toml::from_str(
            "name = \"x\"\n[[upstream.timeline]]\nat = \"1s\"\nfor = \"2s\"\nkind = \"outage\"\n",
        )
        .unwrap();
        set_path(&mut t, "client.retry.max_attempts", toml_value("5")).unwrap();
        set_path(&mut t, "upstream.timeline.0.for", toml_value("10s")).unwrap();
        assert_eq!(t["client"]["retry"]["max_attempts"].as_integer(), Some(5));
        assert_eq!(t["upstream"]["timeline"][0]["for"].as_str(), Some("10s"));
        assert!(set_path(&mut t, "upstream.timeline.3.for", toml_value("1s")).is_err());
        assert!(set_path(&mut t, "name.x", toml_value("1")).is_err());
    }

    #[test]
    fn grid_is_the_cartesian_product() {
        let axes = [
            parse_axis("a=1,3,5").unwrap(),
            parse_axis("b=10/s,20/s").unwrap(),
        ];
        let c = combinations(&axes);
        assert_eq!(c.len(), 6);
        assert_eq!(c[1], ["1", "20/s"]);
        assert!(parse_axis("novalue").is_err());
        assert!(parse_axis("a=1,,2").is_err());
        assert_eq!(toml_value("10/s").as_str(), Some("10/s"));
        assert_eq!(toml_value("0.5").as_float(), Some(0.5));
    }
}
