//! The OpenAPI document as a test oracle: a small JSON Schema validator for the keywords the
//! document uses (an unknown keyword or pattern fails the test, so the validator can never
//! silently accept), and the route table checked against the document's paths.

use std::collections::BTreeSet;
use std::sync::{Arc, Mutex};

use serde_json::Value;

const KNOWN: &[&str] = &[
    "$ref",
    "prefixItems",
    "minItems",
    "maxProperties",
    "type",
    "enum",
    "const",
    "required",
    "properties",
    "additionalProperties",
    "items",
    "oneOf",
    "allOf",
    "minimum",
    "maximum",
    "minLength",
    "maxLength",
    "maxItems",
    "pattern",
    "format",
    "description",
    "contentMediaType",
    "default",
];

#[derive(Clone)]
pub struct Spec {
    pub doc: Value,
    /// `(method, template, status)` triples seen, to check coverage.
    pub seen: Arc<Mutex<BTreeSet<(String, String, u16)>>>,
}

impl Spec {
    pub fn load() -> Spec {
        let doc: Value = serde_json::from_str(payscope_http::openapi::DOCUMENT).unwrap();
        Spec { doc, seen: Arc::default() }
    }

    /// Checks a response against the document: the path, method and status must be
    /// documented and a JSON body must match the schema.
    pub fn check(&self, method: &str, template: &str, status: u16, body: &Value) {
        self.seen.lock().unwrap().insert((method.to_owned(), template.to_owned(), status));
        let op = &self.doc["paths"][template][method];
        assert!(op.is_object(), "{method} {template} is not in openapi.json");
        let response = &op["responses"][status.to_string()];
        assert!(
            response.is_object(),
            "{method} {template} answered {status}, which openapi.json does not list: {body}"
        );
        let Some(content) = response["content"].as_object() else {
            assert_eq!(
                body,
                &Value::String(String::new()),
                "{method} {template} {status} has no documented body"
            );
            return;
        };
        if let Some(media) = content.get("application/json") {
            if let Err(e) = self.validate(&media["schema"], body, "$") {
                panic!("{method} {template} {status}: {e}\nbody: {body}");
            }
        }
    }

    fn resolve<'a>(&'a self, reference: &str) -> &'a Value {
        let pointer = reference.strip_prefix('#').expect("local $ref");
        self.doc.pointer(pointer).unwrap_or_else(|| panic!("dangling $ref {reference}"))
    }

    pub fn validate(&self, schema: &Value, v: &Value, at: &str) -> Result<(), String> {
        let Some(s) = schema.as_object() else { return Err(format!("{at}: schema is not an object")) };
        for k in s.keys() {
            assert!(KNOWN.contains(&k.as_str()), "the test validator does not know keyword `{k}`");
        }
        if let Some(r) = s.get("$ref").and_then(Value::as_str) {
            self.validate(self.resolve(r), v, at)?;
        }
        if let Some(t) = s.get("type") {
            let types: Vec<&str> = match t {
                Value::String(t) => vec![t.as_str()],
                Value::Array(ts) => ts.iter().filter_map(Value::as_str).collect(),
                _ => return Err(format!("{at}: bad type keyword")),
            };
            if !types.iter().any(|t| type_matches(t, v)) {
                return Err(format!("{at}: expected {types:?}, got {v}"));
            }
        }
        if let Some(e) = s.get("enum").and_then(Value::as_array) {
            if !e.contains(v) {
                return Err(format!("{at}: {v} is not one of {e:?}"));
            }
        }
        if let Some(c) = s.get("const") {
            if c != v {
                return Err(format!("{at}: expected {c}, got {v}"));
            }
        }
        if let Some(obj) = v.as_object() {
            if s.get("maxProperties").and_then(Value::as_u64).is_some_and(|m| obj.len() as u64 > m) {
                return Err(format!("{at}: too many properties"));
            }
            if let Some(req) = s.get("required").and_then(Value::as_array) {
                for r in req.iter().filter_map(Value::as_str) {
                    if !obj.contains_key(r) {
                        return Err(format!("{at}: missing required `{r}`"));
                    }
                }
            }
            let props = s.get("properties").and_then(Value::as_object);
            for (k, val) in obj {
                match props.and_then(|p| p.get(k)) {
                    Some(ps) => self.validate(ps, val, &format!("{at}.{k}"))?,
                    None => match s.get("additionalProperties") {
                        Some(Value::Bool(false)) => return Err(format!("{at}: unexpected property `{k}`")),
                        Some(ap @ Value::Object(_)) => self.validate(ap, val, &format!("{at}.{k}"))?,
                        _ => {}
                    },
                }
            }
        }
        if let Some(items) = v.as_array() {
            if let Some(is) = s.get("items") {
                for (i, item) in items.iter().enumerate() {
                    self.validate(is, item, &format!("{at}[{i}]"))?;
                }
            }
            if let Some(max) = s.get("maxItems").and_then(Value::as_u64) {
                if items.len() as u64 > max {
                    return Err(format!("{at}: more than {max} items"));
                }
            }
            if let Some(min) = s.get("minItems").and_then(Value::as_u64) {
                if (items.len() as u64) < min {
                    return Err(format!("{at}: fewer than {min} items"));
                }
            }
            if let Some(prefix) = s.get("prefixItems").and_then(Value::as_array) {
                for (i, (is, item)) in prefix.iter().zip(items).enumerate() {
                    self.validate(is, item, &format!("{at}[{i}]"))?;
                }
            }
        }
        if let Some(n) = v.as_f64() {
            if s.get("minimum").and_then(Value::as_f64).is_some_and(|m| n < m) {
                return Err(format!("{at}: {n} is below the minimum"));
            }
            if s.get("maximum").and_then(Value::as_f64).is_some_and(|m| n > m) {
                return Err(format!("{at}: {n} is above the maximum"));
            }
        }
        if let Some(text) = v.as_str() {
            let chars = text.chars().count() as u64;
            if s.get("minLength").and_then(Value::as_u64).is_some_and(|m| chars < m)
                || s.get("maxLength").and_then(Value::as_u64).is_some_and(|m| chars > m)
            {
                return Err(format!("{at}: length {chars} out of bounds"));
            }
            if let Some(p) = s.get("pattern").and_then(Value::as_str) {
                if !pattern_matches(p, text) {
                    return Err(format!("{at}: {text:?} does not match {p}"));
                }
            }
            if let Some(f) = s.get("format").and_then(Value::as_str) {
                if !format_matches(f, text) {
                    return Err(format!("{at}: {text:?} is not a {f}"));
                }
            }
        }
        if let Some(all) = s.get("allOf").and_then(Value::as_array) {
            for sub in all {
                self.validate(sub, v, at)?;
            }
        }
        if let Some(one) = s.get("oneOf").and_then(Value::as_array) {
            let ok = one.iter().filter(|sub| self.validate(sub, v, at).is_ok()).count();
            if ok != 1 {
                return Err(format!("{at}: matches {ok} of the oneOf schemas, not exactly one"));
            }
        }
        Ok(())
    }
}

fn type_matches(t: &str, v: &Value) -> bool {
    match t {
        "object" => v.is_object(),
        "array" => v.is_array(),
        "string" => v.is_string(),
        "boolean" => v.is_boolean(),
        "null" => v.is_null(),
        "number" => v.is_number(),
        "integer" => v.is_i64() || v.is_u64(),
        other => panic!("unknown type {other}"),
    }
}

fn pattern_matches(p: &str, s: &str) -> bool {
    match p {
        "^[a-z_]+$" => !s.is_empty() && s.bytes().all(|b| b.is_ascii_lowercase() || b == b'_'),
        "^[0-9a-f]{64}$" => {
            s.len() == 64 && s.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
        }
        "^[0-9a-f]{16}$" => {
            s.len() == 16 && s.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
        }
        "^(ok|not_configured|error: .*)$" => s == "ok" || s == "not_configured" || s.starts_with("error: "),
        other => panic!("the test validator does not know pattern {other}"),
    }
}

fn format_matches(f: &str, s: &str) -> bool {
    match f {
        "uuid" => uuid::Uuid::parse_str(s).is_ok(),
        "date-time" => payscope_core::calendar::Timestamp::parse_rfc3339(s).is_ok(),
        "date" => s.len() == 10 && s.as_bytes()[4] == b'-' && s.as_bytes()[7] == b'-',
        other => panic!("the test validator does not know format {other}"),
    }
}

#[test]
fn every_route_is_documented_and_every_documented_path_is_routed() {
    let spec = Spec::load();
    let paths = spec.doc["paths"].as_object().unwrap();
    let table: Vec<(String, Vec<String>)> = payscope_http::app::ROUTES
        .iter()
        .map(|(t, ms)| (t.to_string(), ms.iter().map(|m| m.as_str().to_lowercase()).collect()))
        .collect();
    for (template, methods) in &table {
        let doc_methods: BTreeSet<String> = paths
            .get(template)
            .unwrap_or_else(|| panic!("{template} undocumented"))
            .as_object()
            .unwrap()
            .keys()
            .cloned()
            .collect();
        assert_eq!(doc_methods, methods.iter().cloned().collect(), "{template}");
    }
    assert_eq!(paths.len(), table.len(), "openapi.json documents paths the server does not route");
    // Every $ref resolves, and every schema uses only keywords the validator checks.
    fn walk(spec: &Spec, v: &Value) {
        match v {
            Value::Object(m) => {
                if let Some(r) = m.get("$ref").and_then(Value::as_str) {
                    spec.resolve(r);
                }
                m.values().for_each(|x| walk(spec, x));
            }
            Value::Array(a) => a.iter().for_each(|x| walk(spec, x)),
            _ => {}
        }
    }
    walk(&spec, &spec.doc);
    assert_eq!(spec.doc["openapi"], "3.1.0");
}

#[test]
fn the_validator_rejects_what_it_should() {
    let spec = Spec::load();
    let error = serde_json::json!({"$ref": "#/components/schemas/Error"});
    assert!(spec
        .validate(&error, &serde_json::json!({"error": {"code": "not_found", "message": "x"}}), "$")
        .is_ok());
    assert!(spec
        .validate(&error, &serde_json::json!({"error": {"code": "Not Found", "message": "x"}}), "$")
        .is_err());
    assert!(spec.validate(&error, &serde_json::json!({"error": {"code": "x"}}), "$").is_err());
    assert!(spec
        .validate(&error, &serde_json::json!({"error": {"code": "x", "message": "y"}, "extra": 1}), "$")
        .is_err());
    let answer = serde_json::json!({"$ref": "#/components/schemas/Answer"});
    assert!(spec.validate(&answer, &serde_json::json!({"summary": "no id"}), "$").is_err());
}
