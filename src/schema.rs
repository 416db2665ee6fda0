//! The version of moveday's public JSON (`check --json`, `dns --json`, `checklist --json`,
//! `report --format json`), said once: every output carries it as its `"schema"` field, and
//! the JSON Schemas under `schema/` say it too.
//!
//! It changes when a field is renamed, removed or changes meaning; adding a field does not
//! change it (scripts ignore fields they do not know).

use std::borrow::Cow;

use schemars::{JsonSchema, Schema, SchemaGenerator, json_schema};
use serde::{Serialize, Serializer};

/// The version of the public JSON.
pub const JSON_SCHEMA_VERSION: u32 = 1;

/// The `"schema"` field of a public JSON output: always [`JSON_SCHEMA_VERSION`], so that a
/// script can refuse an output it was not written for.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SchemaVersion;

impl Serialize for SchemaVersion {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_u32(JSON_SCHEMA_VERSION)
    }
}

impl JsonSchema for SchemaVersion {
    fn inline_schema() -> bool {
        true
    }

    fn schema_name() -> Cow<'static, str> {
        "SchemaVersion".into()
    }

    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({
            "description": "The version of moveday's public JSON.",
            "type": "integer",
            "const": JSON_SCHEMA_VERSION,
        })
    }
}
