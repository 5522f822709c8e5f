//! Validation of answers against `docs/openapi.yaml`: the response schema of
//! a path, method and HTTP status, compiled as a JSON Schema document that is
//! the whole OpenAPI document plus a top-level `$ref` to that schema (so its
//! `#/components/…` references resolve).

use std::collections::{BTreeSet, HashMap};
use std::path::Path;

use jsonschema::{Draft, Validator};
use serde_json::Value;

/// The OpenAPI document and the validators compiled so far.
pub struct OpenApi {
    doc: Value,
    validators: HashMap<String, Validator>,
}

/// Escapes a JSON pointer token (RFC 6901).
fn token(text: &str) -> String {
    text.replace('~', "~0").replace('/', "~1")
}

impl OpenApi {
    /// Reads and parses the YAML document.
    pub fn load(path: &Path) -> Result<Self, String> {
        let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
        let doc: Value =
            serde_norway::from_str(&text).map_err(|e| format!("{}: {e}", path.display()))?;
        if doc["openapi"]
            .as_str()
            .is_none_or(|v| !v.starts_with("3.1"))
        {
            return Err(format!("{}: not an OpenAPI 3.1 document", path.display()));
        }
        Ok(Self {
            doc,
            validators: HashMap::new(),
        })
    }

    /// The methods a path lists, upper case; `None` for an unlisted path.
    pub fn methods(&self, path: &str) -> Option<BTreeSet<String>> {
        const METHODS: [&str; 8] = [
            "get", "put", "post", "delete", "options", "head", "patch", "trace",
        ];
        let item = self.doc["paths"].get(path)?.as_object()?;
        Some(
            METHODS
                .iter()
                .filter(|m| item.contains_key(**m))
                .map(|m| m.to_uppercase())
                .collect(),
        )
    }

    /// JSON pointer to the response object documented for this answer.
    fn response_pointer(&self, path: &str, method: &str, status: u16) -> Result<String, String> {
        let Some(methods) = self.methods(path) else {
            return if status == 404 {
                Ok("/components/responses/NotFound".into())
            } else {
                Err(format!(
                    "{path} is not documented, so only 404 may answer it"
                ))
            };
        };
        if !methods.contains(method) {
            return if status == 405 {
                Ok("/components/responses/MethodNotAllowed".into())
            } else {
                Err(format!(
                    "{method} {path} is not documented, so only 405 may answer it"
                ))
            };
        }
        let pointer = format!(
            "/paths/{}/{}/responses/{status}",
            token(path),
            method.to_lowercase()
        );
        let response = self
            .doc
            .pointer(&pointer)
            .ok_or_else(|| format!("{method} {path} does not document HTTP {status}"))?;
        match response.get("$ref").and_then(Value::as_str) {
            Some(target) => target
                .strip_prefix('#')
                .map(str::to_owned)
                .ok_or_else(|| format!("{pointer}: only local $refs are supported")),
            None => Ok(pointer),
        }
    }

    /// Validates one answer body; the errors, if any, one per line.
    pub fn validate(
        &mut self,
        path: &str,
        method: &str,
        status: u16,
        body: &Value,
    ) -> Result<(), Vec<String>> {
        let response = self
            .response_pointer(path, method, status)
            .map_err(|e| vec![e])?;
        let schema = format!("{response}/content/application~1json/schema");
        if self.doc.pointer(&schema).is_none() {
            return Err(vec![format!("{response} has no application/json schema")]);
        }
        if !self.validators.contains_key(&schema) {
            let mut root = self.doc.clone();
            root["$ref"] = Value::String(format!("#{schema}"));
            let validator = jsonschema::options()
                .with_draft(Draft::Draft202012)
                .build(&root)
                .map_err(|e| vec![format!("schema {schema} does not compile: {e}")])?;
            self.validators.insert(schema.clone(), validator);
        }
        let validator = &self.validators[&schema];
        let errors: Vec<String> = validator
            .iter_errors(body)
            .map(|e| format!("openapi ({schema}): {} at {}", e, e.instance_path()))
            .collect();
        if errors.is_empty() {
            Ok(())
        } else {
            Err(errors)
        }
    }
}
