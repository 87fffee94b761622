//! The JSON Schema of the runbook format, generated from the serde model so that it cannot
//! drift from what `validate` accepts. Editors use it to complete keys and flag typos as
//! the runbook is written; `validate` stays the authority on everything a schema cannot
//! say (references, cycles, templates, the plan's fit).

use schemars::transform::{RecursiveTransform, Transform};
use schemars::{Schema, SchemaGenerator, generate::SchemaSettings, json_schema};
use serde_json::Value;

use super::model::RunbookFile;
use super::template::MESSAGE_PHASES;

/// What `validate` accepts as an id (see its `id_shapes` check).
pub const ID_PATTERN: &str = "^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$";

/// The schema as a JSON value. Draft-07 rather than 2020-12: it is the draft every TOML
/// editor extension understands.
pub fn generate() -> Value {
    let mut schema = SchemaSettings::draft07()
        .into_generator()
        .into_root_schema_for::<RunbookFile>();
    // TOML has no null, so the `null` that schemars allows for every `Option` could only
    // mislead an editor's completion.
    RecursiveTransform(strip_null).transform(&mut schema);
    schema.insert("title".into(), "cutover runbook".into());
    schema.to_value()
}

/// The schema as `cutover schema` prints it and `assets/runbook.schema.json` holds it.
pub fn render() -> String {
    // A `Value` always serializes; the fallback only keeps this function total.
    let mut text = serde_json::to_string_pretty(&generate()).unwrap_or_default();
    text.push('\n');
    text
}

fn strip_null(schema: &mut Schema) {
    let Some(obj) = schema.as_object_mut() else {
        return;
    };
    let is_null = |v: &Value| v.get("type").and_then(Value::as_str) == Some("null");
    if let Some(Value::Array(types)) = obj.get_mut("type") {
        types.retain(|t| t.as_str() != Some("null"));
        if types.len() == 1 {
            let only = types.remove(0);
            obj.insert("type".into(), only);
        }
    }
    if let Some(Value::Array(list)) = obj.get_mut("anyOf")
        && list.iter().any(is_null)
    {
        list.retain(|s| !is_null(s));
        if list.len() == 1
            && let Some(Value::Object(only)) = list.pop()
        {
            obj.remove("anyOf");
            if only.contains_key("$ref") {
                // Draft-07 ignores the siblings of a `$ref`, and the description beside it
                // is what an editor shows on hover.
                obj.insert("allOf".into(), Value::Array(vec![Value::Object(only)]));
            } else {
                for (k, v) in only {
                    obj.entry(k).or_insert(v);
                }
            }
        }
    }
    if let Some(Value::Array(values)) = obj.get_mut("enum") {
        values.retain(|v| !v.is_null());
    }
    if obj.get("default").is_some_and(Value::is_null) {
        obj.remove("default");
    }
}

/// A field holding one id.
pub fn id(_: &mut SchemaGenerator) -> Schema {
    json_schema!({ "type": "string", "pattern": ID_PATTERN })
}

/// A field holding a list of ids.
pub fn ids(_: &mut SchemaGenerator) -> Schema {
    json_schema!({
        "type": "array",
        "items": { "type": "string", "pattern": ID_PATTERN }
    })
}

/// What `validate` accepts as a secret's name: an environment variable's.
pub const ENV_NAME_PATTERN: &str = "^[A-Za-z_][A-Za-z0-9_]*$";

/// A list of environment variable names (the runbook's `secrets`).
pub fn env_names(_: &mut SchemaGenerator) -> Schema {
    json_schema!({
        "type": "array",
        "items": { "type": "string", "pattern": ENV_NAME_PATTERN },
        "uniqueItems": true
    })
}

/// A window time: `validate` wants RFC 3339 with an offset, which is what `date-time` means.
pub fn time(_: &mut SchemaGenerator) -> Schema {
    json_schema!({ "type": "string", "format": "date-time" })
}

/// A step's `message`: the moment whose template it sends.
pub fn message_phase(_: &mut SchemaGenerator) -> Schema {
    json_schema!({ "type": "string", "enum": MESSAGE_PHASES })
}

/// `validate` refuses a window with both: one of them would silently lose.
pub fn duration_or_end(schema: &mut Schema) {
    schema.insert(
        "not".into(),
        serde_json::json!({ "required": ["duration", "end"] }),
    );
}

/// A step is of one kind at most: `run`, `backups` and `message` exclude one another.
pub fn one_kind(schema: &mut Schema) {
    schema.insert(
        "not".into(),
        serde_json::json!({
            "anyOf": [
                { "required": ["run", "backups"] },
                { "required": ["run", "message"] },
                { "required": ["backups", "message"] }
            ]
        }),
    );
}
