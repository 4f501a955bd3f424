//! Reading JSON with exact numbers and field paths for error messages.
//!
//! The document is checked for syntax once, then walked as `RawValue`s, so a
//! number is read from its own text (never through f64) and every error can
//! name the field it is about (`events[7].activity`).

use std::collections::BTreeMap;

use chrono::{DateTime, FixedOffset};
use rust_decimal::Decimal;
use serde_json::value::RawValue;

use super::ScoreError;
use crate::policy::parse_dec;

pub(crate) fn field_err(path: &str, reason: impl Into<String>) -> ScoreError {
    ScoreError::Field {
        path: path.to_owned(),
        reason: reason.into(),
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    Null,
    Bool,
    Number,
    String,
    Array,
    Object,
}

pub(crate) fn kind(raw: &RawValue) -> Kind {
    match raw.get().trim_start().as_bytes().first() {
        Some(b'n') => Kind::Null,
        Some(b't' | b'f') => Kind::Bool,
        Some(b'"') => Kind::String,
        Some(b'[') => Kind::Array,
        Some(b'{') => Kind::Object,
        _ => Kind::Number,
    }
}

/// A JSON object with the path it was found at.
pub(crate) struct Obj<'a> {
    pub path: String,
    map: BTreeMap<String, &'a RawValue>,
}

impl<'a> Obj<'a> {
    pub fn new(raw: &'a RawValue, path: String) -> Result<Self, ScoreError> {
        if kind(raw) != Kind::Object {
            return Err(field_err(&path, "expected an object"));
        }
        let map: BTreeMap<String, &'a RawValue> =
            serde_json::from_str(raw.get()).map_err(|e| field_err(&path, e.to_string()))?;
        Ok(Self { path, map })
    }

    pub fn at(&self, key: &str) -> String {
        if self.path.is_empty() {
            key.to_owned()
        } else {
            format!("{}.{}", self.path, key)
        }
    }

    pub fn keys(&self) -> impl Iterator<Item = (&str, &'a RawValue)> {
        self.map.iter().map(|(k, v)| (k.as_str(), *v))
    }

    /// The value at `key`; JSON `null` counts as absent.
    pub fn get(&self, key: &str) -> Option<&'a RawValue> {
        self.map.get(key).copied().filter(|v| kind(v) != Kind::Null)
    }

    pub fn str(&self, key: &str) -> Result<Option<String>, ScoreError> {
        self.get(key).map(|v| string(v, &self.at(key))).transpose()
    }

    pub fn req_str(&self, key: &str) -> Result<String, ScoreError> {
        self.str(key)?
            .ok_or_else(|| field_err(&self.at(key), "missing"))
    }

    pub fn decimal(&self, key: &str) -> Result<Option<Decimal>, ScoreError> {
        self.get(key).map(|v| decimal(v, &self.at(key))).transpose()
    }

    pub fn bool(&self, key: &str) -> Result<Option<bool>, ScoreError> {
        self.get(key).map(|v| boolean(v, &self.at(key))).transpose()
    }

    pub fn time(&self, key: &str) -> Result<Option<DateTime<FixedOffset>>, ScoreError> {
        self.str(key)?
            .map(|s| {
                DateTime::parse_from_rfc3339(&s).map_err(|_| {
                    field_err(
                        &self.at(key),
                        format!("malformed timestamp \"{s}\" (RFC 3339 with offset)"),
                    )
                })
            })
            .transpose()
    }

    pub fn req_time(&self, key: &str) -> Result<DateTime<FixedOffset>, ScoreError> {
        self.time(key)?
            .ok_or_else(|| field_err(&self.at(key), "missing"))
    }

    /// The array at `key` (absent: empty).
    pub fn array(&self, key: &str) -> Result<Vec<&'a RawValue>, ScoreError> {
        match self.get(key) {
            None => Ok(Vec::new()),
            Some(v) => array(v, &self.at(key)),
        }
    }
}

pub(crate) fn string(raw: &RawValue, path: &str) -> Result<String, ScoreError> {
    if kind(raw) != Kind::String {
        return Err(field_err(path, "expected a string"));
    }
    serde_json::from_str(raw.get()).map_err(|e| field_err(path, e.to_string()))
}

pub(crate) fn decimal(raw: &RawValue, path: &str) -> Result<Decimal, ScoreError> {
    if kind(raw) != Kind::Number {
        return Err(field_err(path, "expected a number"));
    }
    parse_dec(raw.get())
        .ok_or_else(|| field_err(path, format!("number {} is out of range", raw.get())))
}

pub(crate) fn boolean(raw: &RawValue, path: &str) -> Result<bool, ScoreError> {
    match raw.get().trim() {
        "true" => Ok(true),
        "false" => Ok(false),
        _ => Err(field_err(path, "expected true or false")),
    }
}

pub(crate) fn array<'a>(raw: &'a RawValue, path: &str) -> Result<Vec<&'a RawValue>, ScoreError> {
    if kind(raw) != Kind::Array {
        return Err(field_err(path, "expected an array"));
    }
    serde_json::from_str(raw.get()).map_err(|e| field_err(path, e.to_string()))
}
