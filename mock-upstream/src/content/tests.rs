//! Generated instances checked by a real validator (`jsonschema`) over schemas of the kinds
//! SDKs send: pydantic's `$defs` and `anyOf`-null optionals, zod's `definitions` and
//! `additionalProperties: false`, hand-written ones, and hostile ones.

use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use serde_json::{json, Value};

use super::{check, check_strict, pieces, schema, SchemaError};
use crate::content::check::Problem;

fn validator(s: &Value) -> jsonschema::Validator {
    jsonschema::options()
        .should_validate_formats(true)
        .build(s)
        .unwrap_or_else(|e| panic!("schema {s} is valid: {e}"))
}

/// Every seed in 0..200 gives an instance the validator accepts.
fn assert_generates_valid(s: &Value) {
    let v = validator(s);
    for seed in 0..200 {
        let inst = schema::instance(s, &mut ChaCha8Rng::seed_from_u64(seed));
        let errors: Vec<String> = v.iter_errors(&inst).map(|e| e.to_string()).collect();
        assert!(
            errors.is_empty(),
            "schema {s}\nseed {seed}: {inst}\n{errors:?}"
        );
    }
}

fn pydantic_order() -> Value {
    // What `Order.model_json_schema()` gives for nested models, an enum, an optional and a list.
    json!({
        "$defs": {
            "Address": {"properties": {"street": {"title": "Street", "type": "string"},
                "zip": {"pattern": "^[0-9]{5}(-[0-9]{4})?$", "title": "Zip", "type": "string"}},
                "required": ["street", "zip"], "title": "Address", "type": "object"},
            "Item": {"properties": {"sku": {"title": "Sku", "type": "string", "minLength": 3, "maxLength": 12},
                "qty": {"exclusiveMinimum": 0, "maximum": 99, "title": "Qty", "type": "integer"},
                "price": {"minimum": 0.5, "title": "Price", "type": "number"}},
                "required": ["sku", "qty", "price"], "title": "Item", "type": "object"},
            "Status": {"enum": ["pending", "shipped", "delivered"], "title": "Status", "type": "string"}
        },
        "properties": {
            "id": {"format": "uuid", "title": "Id", "type": "string"},
            "placed_at": {"format": "date-time", "title": "Placed At", "type": "string"},
            "email": {"format": "email", "type": "string"},
            "status": {"$ref": "#/$defs/Status"},
            "ship_to": {"$ref": "#/$defs/Address"},
            "bill_to": {"anyOf": [{"$ref": "#/$defs/Address"}, {"type": "null"}], "default": null},
            "items": {"items": {"$ref": "#/$defs/Item"}, "minItems": 1, "maxItems": 5, "title": "Items", "type": "array"},
            "tags": {"items": {"type": "string"}, "type": "array", "uniqueItems": true},
            "note": {"anyOf": [{"type": "string"}, {"type": "null"}]}
        },
        "required": ["id", "placed_at", "status", "ship_to", "items"],
        "title": "Order", "type": "object"
    })
}

fn zod_event() -> Value {
    // zod-to-json-schema with `definitions`, `additionalProperties: false` and a literal.
    json!({
        "type": "object",
        "properties": {
            "kind": {"type": "string", "const": "event"},
            "when": {"type": "string", "format": "date"},
            "site": {"type": "string", "format": "uri"},
            "where": {"$ref": "#/definitions/place"},
            "score": {"type": "number", "minimum": -1, "maximum": 1},
            "count": {"type": "integer", "minimum": 10, "maximum": 1000, "multipleOf": 7},
            "flags": {"type": "array", "items": {"type": "boolean"}, "minItems": 2, "maxItems": 2},
            "pair": {"type": "array", "items": [{"type": "string"}, {"type": "integer"}], "minItems": 2, "maxItems": 2}
        },
        "required": ["kind", "when", "where", "score", "count", "flags"],
        "additionalProperties": false,
        "definitions": {"place": {"type": "object", "properties": {"lat": {"type": "number"}, "lon": {"type": "number"},
            "name": {"type": ["string", "null"]}}, "required": ["lat", "lon", "name"], "additionalProperties": false}},
        "$schema": "http://json-schema.org/draft-07/schema#"
    })
}

/// A strict OpenAI tree with recursion through `$ref`.
fn recursive_tree() -> Value {
    json!({
        "type": "object",
        "properties": {"root": {"$ref": "#/$defs/node"}},
        "required": ["root"], "additionalProperties": false,
        "$defs": {"node": {"type": "object", "properties": {
            "label": {"type": "string"},
            "children": {"type": "array", "items": {"$ref": "#/$defs/node"}}},
            "required": ["label", "children"], "additionalProperties": false}}
    })
}

#[test]
fn sdk_shaped_schemas_get_valid_instances() {
    for s in [pydantic_order(), zod_event(), recursive_tree()] {
        assert_generates_valid(&s);
    }
}

#[test]
fn each_keyword_is_honoured() {
    let corpus = [
        json!({"type": "string"}),
        json!({"type": "integer", "minimum": -5, "maximum": -5}),
        json!({"type": "integer", "exclusiveMinimum": 3, "exclusiveMaximum": 5}),
        json!({"type": "integer", "minimum": 1000000, "multipleOf": 1000}),
        json!({"type": "integer", "maximum": -200}),
        json!({"type": "number", "exclusiveMinimum": 0, "exclusiveMaximum": 0.05}),
        json!({"type": "number", "multipleOf": 0.5, "minimum": 1, "maximum": 3}),
        json!({"type": "boolean"}),
        json!({"type": "null"}),
        json!({"type": ["integer", "string", "null"]}),
        json!({"type": "string", "minLength": 40, "maxLength": 41}),
        json!({"type": "string", "maxLength": 2}),
        json!({"type": "string", "format": "time"}),
        json!({"type": "string", "format": "ipv4"}),
        json!({"type": "string", "format": "ipv6"}),
        json!({"type": "string", "format": "hostname"}),
        json!({"type": "string", "pattern": "^[A-Z]{3}-\\d{2,4}$"}),
        json!({"type": "string", "pattern": "^(cat|dog)s?\\.(png|jpe?g)$"}),
        json!({"type": "string", "pattern": "[a-f0-9]+", "minLength": 8}),
        json!({"enum": ["a", 1, null, {"x": [1]}]}),
        json!({"const": {"nested": true}}),
        json!({"type": "array", "items": {"type": "integer", "minimum": 0, "maximum": 3}, "uniqueItems": true, "minItems": 2}),
        json!({"type": "array", "prefixItems": [{"type": "string"}, {"type": "boolean"}], "items": false}),
        json!({"type": "object", "required": ["free"], "additionalProperties": {"type": "integer"}}),
        json!({"type": "object", "minProperties": 3, "additionalProperties": {"type": "string"}}),
        json!({"oneOf": [{"type": "string", "maxLength": 3}, {"type": "integer", "minimum": 10}]}),
        json!({"allOf": [{"type": "object", "properties": {"a": {"type": "integer"}}, "required": ["a"]},
                         {"properties": {"b": {"type": "string"}}, "required": ["b"]}]}),
        json!({"properties": {"inferred": {"minimum": 2, "maximum": 4}}, "required": ["inferred"]}),
        json!({"$ref": "#/definitions/x", "definitions": {"x": {"type": "string", "format": "email"}}}),
        json!({}),
        json!(true),
    ];
    for s in &corpus {
        assert_generates_valid(s);
    }
}

#[test]
fn nullable_is_read_as_openapi_writes_it() {
    // A validator that knows no `nullable` still accepts what is generated; deep in a
    // recursion `nullable` ends it with null.
    let s = json!({"type": "object", "properties": {"next": {"$ref": "#"}, "v": {"type": "integer"}},
        "required": ["next", "v"], "nullable": true});
    let inst = schema::instance(&s, &mut ChaCha8Rng::seed_from_u64(3));
    let mut depth = 0;
    let mut at = &inst;
    while let Some(next) = at.get("next") {
        depth += 1;
        at = next;
    }
    assert!(
        at.is_null() && (1..=schema::SOFT_DEPTH).contains(&depth),
        "{depth}: {inst}"
    );
}

#[test]
fn same_seed_same_instance_other_seed_other_instance() {
    let s = pydantic_order();
    let a = schema::instance(&s, &mut ChaCha8Rng::seed_from_u64(9));
    let b = schema::instance(&s, &mut ChaCha8Rng::seed_from_u64(9));
    let c = schema::instance(&s, &mut ChaCha8Rng::seed_from_u64(10));
    assert_eq!(a, b);
    assert_ne!(a, c);
}

#[test]
fn hostile_schemas_are_bounded() {
    let s = json!({"type": "array", "minItems": 1_000_000_000u64, "items": {"type": "string", "minLength": 1_000_000_000u64}});
    let inst = schema::instance(&s, &mut ChaCha8Rng::seed_from_u64(1));
    let items = inst.as_array().unwrap();
    assert_eq!(items.len(), schema::MAX_ITEMS);
    assert_eq!(items[0].as_str().unwrap().len(), schema::MAX_STRING);
    let text: usize = items.iter().map(|i| i.as_str().unwrap().len()).sum();
    assert_eq!(
        text,
        schema::MAX_TEXT,
        "the text budget, not 64 strings of 4096"
    );
    // A large `const` copied many times stops at the budget too.
    let big = "x".repeat(10_000);
    let s = json!({"type": "array", "minItems": 64, "items": {"const": big}});
    let inst = schema::instance(&s, &mut ChaCha8Rng::seed_from_u64(1));
    assert!(serde_json::to_string(&inst).unwrap().len() < 2 * schema::MAX_TEXT);

    // A ref to itself, with no way out, and mutual recursion: bounded depth, no hang.
    for s in [
        json!({"$ref": "#"}),
        json!({"$defs": {"a": {"$ref": "#/$defs/b"}, "b": {"$ref": "#/$defs/a"}}, "$ref": "#/$defs/a"}),
        json!({"type": "object", "properties": {"a": {"$ref": "#"}, "b": {"$ref": "#"}}, "required": ["a", "b"]}),
    ] {
        let inst = schema::instance(&s, &mut ChaCha8Rng::seed_from_u64(1));
        assert!(serde_json::to_string(&inst).unwrap().len() < 1 << 20, "{s}");
    }
    // A wide tree hits the node budget, not the memory.
    let wide = json!({"type": "array", "minItems": 64, "items": {"$ref": "#"}});
    let inst = schema::instance(&wide, &mut ChaCha8Rng::seed_from_u64(1));
    assert!(serde_json::to_string(&inst).unwrap().len() < 1 << 20);

    // Contradictions get a best attempt and no panic.
    for s in [
        json!({"type": "integer", "minimum": 10, "maximum": 1}),
        json!({"type": "number", "minimum": 1e300, "maximum": -1e300}),
        json!({"type": "number", "minimum": -1e308, "maximum": 1e308}),
        json!({"type": "integer", "multipleOf": 1e18, "minimum": 1, "maximum": 2}),
        json!({"type": "number", "multipleOf": 1e-300}),
        json!({"type": "string", "minLength": 10, "maxLength": 2}),
        json!({"type": "string", "pattern": "(?=lookahead)"}),
        json!({"type": "string", "pattern": "a{1000000}"}),
        json!({"type": "string", "pattern": "((((((((((x*)*)*)*)*)*)*)*)*)*)*"}),
        json!({"type": "array", "minItems": 5, "maxItems": 1}),
        json!({"type": "array", "items": {"enum": [1]}, "uniqueItems": true, "minItems": 3}),
        json!({"enum": []}),
        json!(false),
        json!({"$ref": "#/nowhere"}),
        json!({"type": "unknown"}),
    ] {
        let _ = schema::instance(&s, &mut ChaCha8Rng::seed_from_u64(1));
    }
}

#[test]
fn plain_check_refuses_what_the_api_refuses() {
    assert_eq!(check(&pydantic_order(), true), Ok(()));
    assert_eq!(check(&zod_event(), true), Ok(()));
    let cases = [
        (
            json!({"type": "array"}),
            "schema must be a JSON Schema of 'type: \"object\"', got 'type: \"array\"'.",
        ),
        (
            json!({"type": "object", "properties": {"a": {"type": "strin"}}}),
            "'strin' is not valid",
        ),
        (
            json!({"type": "object", "properties": {"a": {"$ref": "#/$defs/missing"}}}),
            "'#/$defs/missing' which was not found",
        ),
        (
            json!({"type": "object", "required": "a"}),
            "'required' must be an array of strings.",
        ),
        (
            json!({"type": "object", "properties": {"a": {"type": "array", "minItems": -1}}}),
            "'minItems' must be a non-negative integer.",
        ),
        (
            json!({"type": "object", "properties": []}),
            "'properties' must be an object.",
        ),
        (json!("object"), "schema must be a JSON object"),
    ];
    for (s, want) in cases {
        let e = check(&s, true).unwrap_err().to_string();
        assert!(e.contains(want), "{s}: {e}");
    }
    let e = check(
        &json!({"type": "object", "properties": {"a": {"type": "strin"}}}),
        true,
    )
    .unwrap_err();
    assert_eq!(e.context, ["properties", "a"]);
    assert!(
        e.to_string()
            .starts_with("In context=('properties', 'a'), "),
        "{e}"
    );
    // Without the object-root rule, any schema is fine.
    assert_eq!(check(&json!({"type": "array"}), false), Ok(()));
}

#[test]
fn strict_check_follows_openais_rules() {
    assert_eq!(check_strict(&recursive_tree()), Ok(()));
    let strict_zod = {
        let mut z = zod_event();
        let props: Vec<Value> = z["properties"]
            .as_object()
            .unwrap()
            .keys()
            .map(|k| json!(k))
            .collect();
        z["required"] = Value::Array(props);
        z
    };
    assert_eq!(check_strict(&strict_zod), Ok(()));
    let problem = |s: Value| -> SchemaError { check_strict(&s).unwrap_err() };
    let missing = problem(
        json!({"type": "object", "properties": {"a": {"type": "string"}, "b": {"type": "string"}},
        "required": ["a"], "additionalProperties": false}),
    );
    assert_eq!(missing.problem, Problem::NotRequired { key: "b".into() });
    let open = problem(
        json!({"type": "object", "properties": {"o": {"type": "object", "properties": {}}},
        "required": ["o"], "additionalProperties": false}),
    );
    assert_eq!(
        (open.context.clone(), open.problem),
        (
            vec!["properties".to_string(), "o".into()],
            Problem::AdditionalProperties
        )
    );
    assert_eq!(
        open_text(),
        "In context=('properties', 'o'), 'additionalProperties' is required to be supplied and to be false."
    );
    assert_eq!(
        problem(json!({"anyOf": [{"type": "object"}]})).problem,
        Problem::RootAnyOf
    );
    let all_of = problem(
        json!({"type": "object", "properties": {"x": {"allOf": [{"type": "string"}]}},
        "required": ["x"], "additionalProperties": false}),
    );
    assert_eq!(all_of.problem, Problem::NotPermitted { keyword: "allOf" });
    // Pydantic's default output is not strict (no additionalProperties).
    assert_eq!(
        problem(pydantic_order()).problem,
        Problem::AdditionalProperties
    );
    // Eleven levels of nesting.
    let mut deep = json!({"type": "string"});
    for _ in 0..11 {
        deep = json!({"type": "object", "properties": {"n": deep}, "required": ["n"], "additionalProperties": false});
    }
    assert_eq!(problem(deep).problem, Problem::TooDeep);
}

fn open_text() -> String {
    check_strict(
        &json!({"type": "object", "properties": {"o": {"type": "object"}},
        "required": ["o"], "additionalProperties": false}),
    )
    .unwrap_err()
    .to_string()
}

#[test]
fn pieces_cut_on_character_boundaries() {
    assert_eq!(pieces("abcdefghij", 4), ["abcd", "efgh", "ij"]);
    assert_eq!(pieces("", 4), Vec::<&str>::new());
    assert_eq!(pieces("ééééé", 2), ["éé", "éé", "é"]);
    assert_eq!(pieces("abcd", 4), ["abcd"]);
}
