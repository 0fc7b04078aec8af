//! Output: a table for people, the API's JSON (`--json`) for scripts.

use comfy_table::presets::UTF8_FULL_CONDENSED;
use comfy_table::{ContentArrangement, Table};
use serde_json::Value;

/// Columns that hold Unix seconds: tables show them as UTC dates (RFC 3339).
const TIME_COLUMNS: &[&str] = &["issued_at", "expiry", "created_at"];

/// Unix seconds as an RFC 3339 UTC date (`2026-12-07T04:31:34Z`); other values as `cell`.
pub fn time_cell(v: Option<&Value>) -> String {
    let date = v
        .and_then(Value::as_i64)
        .and_then(|secs| time::OffsetDateTime::from_unix_timestamp(secs).ok())
        .and_then(|t| {
            t.format(&time::format_description::well_known::Rfc3339)
                .ok()
        });
    date.unwrap_or_else(|| cell(v))
}

/// The cell of `column`: a date for the time columns.
fn column_cell(column: &str, v: Option<&Value>) -> String {
    match TIME_COLUMNS.contains(&column) {
        true => time_cell(v),
        false => cell(v),
    }
}

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
        table.add_row(columns.iter().map(|c| column_cell(c, row.get(*c))));
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
            table.add_row(vec![k.clone(), column_cell(&k, Some(v))]);
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

#[cfg(test)]
mod tests {
    use serde_json::json;

    #[test]
    fn time_columns_read_as_utc_dates() {
        let row = json!({"token_id": "t1", "issued_at": 1796598251u64, "expiry": null});
        let table = super::rows(&["token_id", "issued_at", "expiry"], &[row]).to_string();
        assert!(table.contains("2026-12-06T23:04:11Z"), "{table}");
        assert!(!table.contains("1796598251"), "{table}");
        assert_eq!(super::time_cell(Some(&json!("x"))), "x");
    }
}
