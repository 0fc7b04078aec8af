//! Output: a table for people, the API's JSON (`--json`) for scripts.

use comfy_table::presets::UTF8_FULL_CONDENSED;
use comfy_table::{ContentArrangement, Table};
use serde_json::Value;

/// A JSON value as a table cell: strings bare, null empty, lists comma-joined.
pub fn cell(v: Option<&Value>) -> String {
    match v {
        None | Some(Value::Null) => String::new(),
        Some(Value::String(s)) => s.clone(),
        Some(Value::Array(items)) => items
            .iter()
            .map(|i| cell(Some(i)))
            .collect::<Vec<_>>()
            .join(","),
        Some(other) => other.to_string(),
    }
}

/// A table of `rows` (JSON objects) with the given columns.
pub fn rows(columns: &[&str], rows: &[Value]) -> Table {
    let mut table = Table::new();
    table
        .load_preset(UTF8_FULL_CONDENSED)
        .set_content_arrangement(ContentArrangement::Dynamic)
        .set_header(columns.iter().copied());
    for row in rows {
        table.add_row(columns.iter().map(|c| cell(row.get(*c))));
    }
    table
}

/// A two-column table of an object's fields (in the given order; all fields when empty).
pub fn fields(value: &Value, keys: &[&str]) -> Table {
    let mut table = Table::new();
    table
        .load_preset(UTF8_FULL_CONDENSED)
        .set_content_arrangement(ContentArrangement::Dynamic);
    let names: Vec<String> = if keys.is_empty() {
        value
            .as_object()
            .map(|o| o.keys().cloned().collect())
            .unwrap_or_default()
    } else {
        keys.iter().map(|k| k.to_string()).collect()
    };
    for k in names {
        if let Some(v) = value.get(&k).filter(|v| !v.is_null()) {
            table.add_row(vec![k.clone(), cell(Some(v))]);
        }
    }
    table
}

/// Print `value` as JSON with `--json`, else the table `table` makes of it.
pub fn print(json: bool, value: &Value, table: impl FnOnce(&Value) -> Table) {
    if json {
        println!(
            "{}",
            serde_json::to_string_pretty(value).unwrap_or_else(|_| value.to_string())
        );
    } else {
        println!("{}", table(value));
    }
}

/// The list under `key` of an answer (`{"users":[...]}`).
pub fn list<'a>(value: &'a Value, key: &str) -> &'a [Value] {
    value
        .get(key)
        .and_then(Value::as_array)
        .map(Vec::as_slice)
        .unwrap_or(&[])
}
