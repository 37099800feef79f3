//! A caller's JSON body read into a `serde_json::Value` in one pass that also tells whether any
//! object in it repeats a key. `serde_json` keeps the last of repeated keys; another parser (the
//! upstream's) may keep the first, so a body with one is never forwarded as its own bytes: the
//! proxy's layers (cache key, filter, limits) must judge exactly what the upstream reads.

use std::cell::Cell;
use std::fmt;

use serde::de::{DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Number, Value};

/// Parses `bytes`; the flag is whether an object (at any depth) repeats a key.
pub fn parse_checked(bytes: &[u8]) -> serde_json::Result<(Value, bool)> {
    let repeated = Cell::new(false);
    let mut de = serde_json::Deserializer::from_slice(bytes);
    let value = Checked(&repeated).deserialize(&mut de)?;
    de.end()?;
    Ok((value, repeated.get()))
}

/// Builds a `Value` as `serde_json` does, noting a repeated key in the cell.
#[derive(Clone, Copy)]
struct Checked<'a>(&'a Cell<bool>);

impl<'de> DeserializeSeed<'de> for Checked<'_> {
    type Value = Value;

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Value, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Checked<'_> {
    type Value = Value;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("any JSON value")
    }

    fn visit_bool<E>(self, v: bool) -> Result<Value, E> {
        Ok(Value::Bool(v))
    }

    fn visit_i64<E>(self, v: i64) -> Result<Value, E> {
        Ok(Value::Number(v.into()))
    }

    fn visit_u64<E>(self, v: u64) -> Result<Value, E> {
        Ok(Value::Number(v.into()))
    }

    fn visit_f64<E>(self, v: f64) -> Result<Value, E> {
        Ok(Number::from_f64(v).map_or(Value::Null, Value::Number))
    }

    fn visit_str<E>(self, v: &str) -> Result<Value, E> {
        Ok(Value::String(v.to_owned()))
    }

    fn visit_string<E>(self, v: String) -> Result<Value, E> {
        Ok(Value::String(v))
    }

    fn visit_unit<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_none<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Value, D::Error> {
        self.deserialize(d)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let mut out = Vec::with_capacity(seq.size_hint().unwrap_or(0).min(64));
        while let Some(v) = seq.next_element_seed(self)? {
            out.push(v);
        }
        Ok(Value::Array(out))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        let mut out = Map::new();
        while let Some(key) = map.next_key::<String>()? {
            let value = map.next_value_seed(self)?;
            if out.insert(key, value).is_some() {
                self.0.set(true);
            }
        }
        Ok(Value::Object(out))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_as_serde_json_does_and_tells_a_repeated_key_at_any_depth() {
        for body in [
            r#"{"model":"m","messages":[{"role":"user","content":"q"}],"t":0.5,"n":-3,"x":null,"b":true}"#,
            r#"[1, 2.5e3, "é\n", {}, []]"#,
            r#"{"a":{"a":{"a":1}}}"#,
        ] {
            let (v, repeated) = parse_checked(body.as_bytes()).unwrap();
            assert_eq!(v, serde_json::from_str::<Value>(body).unwrap(), "{body}");
            assert!(!repeated, "{body}");
        }
        for body in [
            r#"{"model":"a","model":"b"}"#,
            r#"{"messages":[{"role":"user","content":"x","content":"y"}]}"#,
        ] {
            let (v, repeated) = parse_checked(body.as_bytes()).unwrap();
            assert_eq!(v, serde_json::from_str::<Value>(body).unwrap(), "{body}");
            assert!(repeated, "{body}");
        }
        assert!(parse_checked(b"{} x").is_err());
        assert!(parse_checked(b"{").is_err());
        assert!(parse_checked("[".repeat(100_000).as_bytes()).is_err());
    }
}
