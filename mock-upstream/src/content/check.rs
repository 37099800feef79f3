//! Which schemas a request may carry: the checks the real API makes before it answers, so a
//! client meets its 400s at the mock rather than in production.
//!
//! [`check`] is what every schema (tool `parameters`, `response_format.json_schema.schema`)
//! must pass: an object, `type`s that are JSON types, keywords of the right JSON kind and
//! `$ref`s that resolve (OpenAI validates against the meta-schema; this is the part of it a
//! hand-written schema gets wrong). [`check_strict`] adds OpenAI's structured-output rules for
//! `strict: true`: an object at the root (not `anyOf`), every object with
//! `additionalProperties: false` and every property listed in `required`, only the keywords
//! OpenAI supports, at most [`STRICT_MAX_DEPTH`] levels of nesting, [`STRICT_MAX_PROPERTIES`]
//! properties and [`STRICT_MAX_ENUM`] enum values. The messages follow OpenAI's
//! (`In context=('properties', 'b'), 'additionalProperties' is required to be supplied and to
//! be false.`).

use serde_json::{Map, Value};

use super::schema::{is_type_name, resolve};

/// Nesting levels OpenAI accepts in a strict schema.
pub const STRICT_MAX_DEPTH: usize = 10;
/// Object properties OpenAI accepts in a strict schema, all objects together.
pub const STRICT_MAX_PROPERTIES: usize = 5000;
/// Enum values OpenAI accepts in a strict schema, all enums together.
pub const STRICT_MAX_ENUM: usize = 1000;
/// Schema nodes walked at most by the plain check, so a huge schema costs bounded time.
const MAX_WALK: usize = 20_000;

/// Keywords a strict schema may not use (OpenAI: "... is not permitted").
const STRICT_FORBIDDEN: [&str; 12] = [
    "allOf",
    "oneOf",
    "not",
    "if",
    "then",
    "else",
    "dependentRequired",
    "dependentSchemas",
    "patternProperties",
    "propertyNames",
    "unevaluatedProperties",
    "minProperties",
];

/// What is wrong with a schema, and where: `context` is the path of keys to the offending
/// subschema, printed as OpenAI prints it.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("In context=({}), {problem}", show_context(.context))]
pub struct SchemaError {
    /// Keys from the schema's root to the subschema at fault.
    pub context: Vec<String>,
    /// What is wrong there.
    pub problem: Problem,
}

/// The ways a schema is refused.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum Problem {
    /// A schema (or subschema) that is not a JSON object or boolean.
    #[error("schema must be a JSON object")]
    NotAnObject,
    /// The root of function parameters or a strict schema is not `type: "object"`.
    #[error("schema must be a JSON Schema of 'type: \"object\"', got 'type: \"{got}\"'.")]
    RootNotObject {
        /// The root's type, or `None` as OpenAI writes it.
        got: String,
    },
    /// `type` names something that is not a JSON type.
    #[error("'{name}' is not valid under any of the given schemas.")]
    UnknownType {
        /// The name given.
        name: String,
    },
    /// A keyword's value has the wrong JSON kind (`required` not an array of strings, ...).
    #[error("'{keyword}' must be {expected}.")]
    BadKeyword {
        /// The keyword.
        keyword: &'static str,
        /// What it must be.
        expected: &'static str,
    },
    /// A `$ref` that does not resolve inside the schema.
    #[error("reference to component '{reference}' which was not found in the schema.")]
    UnresolvedRef {
        /// The reference.
        reference: String,
    },
    /// Strict: an object without `additionalProperties: false`.
    #[error("'additionalProperties' is required to be supplied and to be false.")]
    AdditionalProperties,
    /// Strict: a property missing from `required`.
    #[error("'required' is required to be supplied and to be an array including every key in properties. Missing '{key}'.")]
    NotRequired {
        /// The property.
        key: String,
    },
    /// Strict: a keyword OpenAI does not support there.
    #[error("'{keyword}' is not permitted.")]
    NotPermitted {
        /// The keyword.
        keyword: &'static str,
    },
    /// Strict: the root is an `anyOf`.
    #[error("root schema must not be 'anyOf'; wrap it in an object.")]
    RootAnyOf,
    /// Strict: deeper than [`STRICT_MAX_DEPTH`].
    #[error("schema nesting exceeds the maximum depth of {max}.", max = STRICT_MAX_DEPTH)]
    TooDeep,
    /// Strict: more than [`STRICT_MAX_PROPERTIES`] properties or [`STRICT_MAX_ENUM`] values, or
    /// too large to walk.
    #[error("schema has more than {what} allowed.")]
    TooLarge {
        /// What there are too many of.
        what: &'static str,
    },
}

fn show_context(context: &[String]) -> String {
    context
        .iter()
        .map(|c| format!("'{c}'"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// The checks every schema passes; `object_root` also requires `type: "object"` at the root,
/// as function `parameters` must have.
pub fn check(schema: &Value, object_root: bool) -> Result<(), SchemaError> {
    if object_root {
        root_is_object(schema)?;
    }
    let mut walk = Walk {
        root: schema,
        path: Vec::new(),
        seen: 0,
        strict: None,
    };
    walk.visit(schema)
}

/// [`check`] plus OpenAI's rules for `strict: true`.
pub fn check_strict(schema: &Value) -> Result<(), SchemaError> {
    if schema.get("anyOf").is_some() && schema.get("type").is_none() {
        return Err(at(Vec::new(), Problem::RootAnyOf));
    }
    root_is_object(schema)?;
    let mut walk = Walk {
        root: schema,
        path: Vec::new(),
        seen: 0,
        strict: Some(StrictCounts::default()),
    };
    walk.visit(schema)
}

fn root_is_object(schema: &Value) -> Result<(), SchemaError> {
    let got = match schema.get("type") {
        Some(Value::String(t)) if t == "object" => return Ok(()),
        Some(Value::String(t)) => t.clone(),
        Some(other) => other.to_string(),
        None if !schema.is_object() => return Err(at(Vec::new(), Problem::NotAnObject)),
        None => "None".into(),
    };
    Err(at(Vec::new(), Problem::RootNotObject { got }))
}

fn at(context: Vec<String>, problem: Problem) -> SchemaError {
    SchemaError { context, problem }
}

#[derive(Debug, Default)]
struct StrictCounts {
    properties: usize,
    enum_values: usize,
}

struct Walk<'a> {
    root: &'a Value,
    path: Vec<String>,
    seen: usize,
    /// `Some` when checking OpenAI's strict rules.
    strict: Option<StrictCounts>,
}

/// Keywords holding a count.
const COUNTS: [&str; 5] = [
    "minItems",
    "maxItems",
    "minLength",
    "maxLength",
    "minProperties",
];

/// Keywords holding one subschema, a map of them, or a list of them.
const ONE: [&str; 6] = ["items", "additionalProperties", "not", "if", "then", "else"];
const MAP: [&str; 4] = ["properties", "$defs", "definitions", "patternProperties"];
const LIST: [&str; 4] = ["anyOf", "oneOf", "allOf", "prefixItems"];

impl Walk<'_> {
    fn fail(&self, problem: Problem) -> SchemaError {
        at(self.path.clone(), problem)
    }

    fn visit(&mut self, schema: &Value) -> Result<(), SchemaError> {
        self.seen += 1;
        if self.seen > MAX_WALK {
            return Err(self.fail(Problem::TooLarge {
                what: "20000 subschemas",
            }));
        }
        let obj = match schema {
            Value::Object(o) => o,
            Value::Bool(_) if self.strict.is_none() => return Ok(()),
            _ => return Err(self.fail(Problem::NotAnObject)),
        };
        self.keywords(obj)?;
        if self.strict.is_some() {
            self.strict_rules(obj)?;
        }
        self.children(obj)
    }

    fn keywords(&self, obj: &Map<String, Value>) -> Result<(), SchemaError> {
        match obj.get("type") {
            None => {}
            Some(Value::String(t)) => self.type_name(t)?,
            Some(Value::Array(ts)) => {
                for t in ts {
                    match t.as_str() {
                        Some(t) => self.type_name(t)?,
                        None => return Err(self.bad("type", "a string or an array of strings")),
                    }
                }
            }
            Some(_) => return Err(self.bad("type", "a string or an array of strings")),
        }
        if let Some(r) = obj.get("required") {
            let ok = r.as_array().is_some_and(|a| a.iter().all(Value::is_string));
            if !ok {
                return Err(self.bad("required", "an array of strings"));
            }
        }
        if obj.get("enum").is_some_and(|e| !e.is_array()) {
            return Err(self.bad("enum", "an array"));
        }
        for k in COUNTS {
            if obj.get(k).is_some_and(|v| v.as_u64().is_none()) {
                return Err(self.bad(k, "a non-negative integer"));
            }
        }
        if obj
            .get("multipleOf")
            .is_some_and(|v| !v.as_f64().is_some_and(|m| m > 0.0))
        {
            return Err(self.bad("multipleOf", "a number greater than 0"));
        }
        if obj.get("pattern").is_some_and(|v| !v.is_string()) {
            return Err(self.bad("pattern", "a string"));
        }
        match obj.get("$ref") {
            None => Ok(()),
            Some(Value::String(r)) if resolve(self.root, r).is_some() => Ok(()),
            Some(r) => Err(self.fail(Problem::UnresolvedRef {
                reference: r.as_str().unwrap_or("").to_string(),
            })),
        }
    }

    fn type_name(&self, t: &str) -> Result<(), SchemaError> {
        if is_type_name(t) {
            Ok(())
        } else {
            Err(self.fail(Problem::UnknownType { name: t.into() }))
        }
    }

    fn bad(&self, keyword: &'static str, expected: &'static str) -> SchemaError {
        self.fail(Problem::BadKeyword { keyword, expected })
    }

    fn strict_rules(&mut self, obj: &Map<String, Value>) -> Result<(), SchemaError> {
        let depth = self
            .path
            .iter()
            .filter(|p| *p == "properties" || *p == "items")
            .count();
        if depth > STRICT_MAX_DEPTH {
            return Err(self.fail(Problem::TooDeep));
        }
        if let Some(keyword) = STRICT_FORBIDDEN.into_iter().find(|k| obj.contains_key(*k)) {
            return Err(self.fail(Problem::NotPermitted { keyword }));
        }
        let is_object = match obj.get("type") {
            Some(Value::String(t)) => t == "object",
            Some(Value::Array(ts)) => ts.iter().any(|t| t == "object"),
            _ => obj.contains_key("properties"),
        };
        let counts = self.strict.get_or_insert_with(StrictCounts::default);
        counts.enum_values += obj
            .get("enum")
            .and_then(Value::as_array)
            .map_or(0, Vec::len);
        if counts.enum_values > STRICT_MAX_ENUM {
            return Err(self.fail(Problem::TooLarge {
                what: "1000 enum values",
            }));
        }
        if !is_object {
            return Ok(());
        }
        if obj.get("additionalProperties") != Some(&Value::Bool(false)) {
            return Err(self.fail(Problem::AdditionalProperties));
        }
        let empty = Map::new();
        let props = obj
            .get("properties")
            .and_then(Value::as_object)
            .unwrap_or(&empty);
        let counts = self.strict.get_or_insert_with(StrictCounts::default);
        counts.properties += props.len();
        if counts.properties > STRICT_MAX_PROPERTIES {
            return Err(self.fail(Problem::TooLarge {
                what: "5000 properties",
            }));
        }
        let required: Vec<&str> = obj
            .get("required")
            .and_then(Value::as_array)
            .map(|r| r.iter().filter_map(Value::as_str).collect())
            .unwrap_or_default();
        match props.keys().find(|k| !required.contains(&k.as_str())) {
            Some(key) => Err(self.fail(Problem::NotRequired { key: key.clone() })),
            None => Ok(()),
        }
    }

    fn children(&mut self, obj: &Map<String, Value>) -> Result<(), SchemaError> {
        for k in ONE {
            match obj.get(k) {
                Some(Value::Array(items)) if k == "items" => self.each(k, items)?,
                // `additionalProperties: false` is a boolean schema even in strict mode.
                Some(Value::Bool(_)) if k == "additionalProperties" => {}
                Some(sub) => self.child(&[k], sub)?,
                None => {}
            }
        }
        for k in MAP {
            match obj.get(k) {
                Some(Value::Object(m)) => {
                    for (name, sub) in m {
                        self.child(&[k, name], sub)?;
                    }
                }
                Some(_) => return Err(self.bad(map_keyword(k), "an object")),
                None => {}
            }
        }
        for k in LIST {
            match obj.get(k) {
                Some(Value::Array(items)) => self.each(k, items)?,
                Some(_) => return Err(self.bad(list_keyword(k), "an array")),
                None => {}
            }
        }
        Ok(())
    }

    fn each(&mut self, key: &str, items: &[Value]) -> Result<(), SchemaError> {
        for (i, sub) in items.iter().enumerate() {
            self.child(&[key, &i.to_string()], sub)?;
        }
        Ok(())
    }

    fn child(&mut self, keys: &[&str], sub: &Value) -> Result<(), SchemaError> {
        let before = self.path.len();
        self.path.extend(keys.iter().map(|k| k.to_string()));
        let result = self.visit(sub);
        self.path.truncate(before);
        result
    }
}

fn map_keyword(k: &str) -> &'static str {
    MAP.into_iter().find(|m| *m == k).unwrap_or("properties")
}

fn list_keyword(k: &str) -> &'static str {
    LIST.into_iter().find(|m| *m == k).unwrap_or("anyOf")
}
