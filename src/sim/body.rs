//! Simulator: a request body taken apart field by field.
//!
//! Every problem found becomes `"<field>: <why>"`, and all of a body's problems are reported at
//! once. Values are never echoed back: a body may carry a password.

use std::fmt;

use serde::de::DeserializeOwned;
use serde_json::{Map, Value};

/// One problem with one field.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    pub field: String,
    pub why: &'static str,
}

/// All the problems found in one request, in the order the fields were checked.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct ValidationError {
    pub problems: Vec<Problem>,
}

impl fmt::Display for ValidationError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, p) in self.problems.iter().enumerate() {
            if i > 0 {
                f.write_str("; ")?;
            }
            write!(f, "{}: {}", p.field, p.why)?;
        }
        Ok(())
    }
}

impl ValidationError {
    pub(crate) fn one(field: &str, why: &'static str) -> Self {
        Self {
            problems: vec![Problem {
                field: field.to_owned(),
                why,
            }],
        }
    }
}

/// A JSON object body, taken apart field by field; what is left at the end is unknown.
pub(super) struct Body {
    map: Map<String, Value>,
    problems: Vec<Problem>,
}

impl Body {
    pub(super) fn parse(body: &[u8]) -> Result<Self, ValidationError> {
        if body.iter().all(u8::is_ascii_whitespace) {
            return Err(ValidationError::one("body", "required (a JSON object)"));
        }
        match serde_json::from_slice::<Value>(body) {
            Ok(Value::Object(map)) => Ok(Self {
                map,
                problems: Vec::new(),
            }),
            Ok(_) => Err(ValidationError::one("body", "must be a JSON object")),
            Err(_) => Err(ValidationError::one("body", "not valid JSON")),
        }
    }

    pub(super) fn problem(&mut self, field: &str, why: &'static str) {
        self.problems.push(Problem {
            field: field.to_owned(),
            why,
        });
    }

    /// A present, non-null value of the field (removed from the body).
    fn take(&mut self, field: &str) -> Option<Value> {
        self.map.remove(field).filter(|v| !v.is_null())
    }

    pub(super) fn required_string(&mut self, field: &str) -> Option<String> {
        if self.map.get(field).is_none_or(Value::is_null) {
            self.map.remove(field);
            self.problem(field, "required");
            return None;
        }
        self.optional_string(field)
    }

    pub(super) fn optional_string(&mut self, field: &str) -> Option<String> {
        self.optional(field, "must be a string")
    }

    pub(super) fn optional_bool(&mut self, field: &str) -> Option<bool> {
        self.optional(field, "must be a boolean")
    }

    /// A present, non-null value of the field as a `T`, or a problem saying `why` it is not one.
    fn optional<T: DeserializeOwned>(&mut self, field: &str, why: &'static str) -> Option<T> {
        let value = serde_json::from_value(self.take(field)?).ok();
        if value.is_none() {
            self.problem(field, why);
        }
        value
    }

    /// Drops the fields not taken yet, for a body whose extra fields are ignored.
    pub(super) fn ignore_the_rest(&mut self) {
        self.map.clear();
    }

    /// Fails with every problem found, plus one per field left over: `immutable` ones "cannot be
    /// changed", the rest are unknown.
    pub(super) fn finish(mut self, immutable: &[&str]) -> Result<(), ValidationError> {
        let mut leftover: Vec<String> = self.map.keys().cloned().collect();
        // Sorted: serde_json's map order depends on a crate feature.
        leftover.sort();
        for field in leftover {
            let why = if immutable.contains(&field.as_str()) {
                "cannot be changed"
            } else {
                "unknown field"
            };
            self.problems.push(Problem { field, why });
        }
        if self.problems.is_empty() {
            Ok(())
        } else {
            Err(ValidationError {
                problems: self.problems,
            })
        }
    }
}
