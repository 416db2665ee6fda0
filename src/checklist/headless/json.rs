//! The typed output of `moveday checklist --json`, with a JSON Schema under `schema/`
//! generated from these types.
//!
//! After `schema`, fields are declared in alphabetical order: the order the output has
//! always had (it used to be built as `serde_json::Value` maps, which sort their keys).

use schemars::JsonSchema;
use serde::Serialize;

use crate::schema::SchemaVersion;

/// `moveday checklist --json`: the plan, phase by phase, with who ticked what and when.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct ChecklistOutput {
    pub schema: SchemaVersion,
    /// Items ticked, over the whole plan.
    pub done: usize,
    /// The move's name (`[move] name`).
    #[serde(rename = "move")]
    pub move_name: String,
    /// Ids in the state file that the inventory no longer has (kept).
    pub orphans: Vec<String>,
    /// In order of first appearance in the inventory.
    pub phases: Vec<PhaseOutput>,
    /// The checklist's state file read.
    pub state_file: String,
    pub total: usize,
}

#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct PhaseOutput {
    pub done: usize,
    pub items: Vec<ItemOutput>,
    pub name: String,
    pub total: usize,
}

/// One `[[checklist]]` item. `who` and `at` are those of the latest tick or untick.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct ItemOutput {
    /// RFC 3339, UTC.
    pub at: Option<String>,
    /// The linked probe, `HOST.PROBE`.
    pub check: Option<String>,
    pub id: String,
    pub note: Option<NoteOutput>,
    /// `open`, `ready`, `done` or `done-by-check`.
    pub state: &'static str,
    pub text: String,
    pub who: Option<String>,
}

#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct NoteOutput {
    /// RFC 3339, UTC.
    pub at: String,
    pub text: String,
    pub who: String,
}
