//! `llmux settings show`: the daemon's effective settings (admins).

use anyhow::Result;
use clap::Subcommand;
use serde_json::Value;

use super::Ctx;
use crate::output;

#[derive(Debug, Subcommand)]
pub(crate) enum SettingsCmd {
    /// The effective settings and where each came from, and the daemon's paths.
    #[command(visible_alias = "list")]
    Show,
}

impl SettingsCmd {
    pub async fn run(self, ctx: &Ctx) -> Result<u8> {
        match self {
            SettingsCmd::Show => {
                let settings = ctx.client()?.settings().await?;
                if ctx.json {
                    output::json(&settings)?;
                } else {
                    let mut rows = Vec::new();
                    flatten("", &serde_json::to_value(&settings)?, &mut rows);
                    output::table(&["SETTING", "SOURCE", "VALUE"], &rows)?;
                }
            }
        }
        Ok(0)
    }
}

/// One row per setting: `[name, source, value]`. Objects nest with dotted names; a
/// `{value, source}` object is one setting, named by its own `key` when it has one (the
/// daemon's `settings` list holds full dotted keys); lists of plain values stay on one line.
fn flatten(prefix: &str, value: &Value, rows: &mut Vec<Vec<String>>) {
    let key = |k: &str| if prefix.is_empty() { k.to_owned() } else { format!("{prefix}.{k}") };
    match value {
        Value::Object(map) if map.contains_key("value") && map.contains_key("source") => {
            let source = map.get("source").map_or_else(|| "-".to_owned(), scalar);
            let name = map.get("key").and_then(Value::as_str).unwrap_or(prefix).to_owned();
            rows.push(vec![name, source, scalar(&map["value"])]);
        }
        Value::Object(map) if !map.is_empty() => {
            for (k, v) in map {
                flatten(&key(k), v, rows);
            }
        }
        Value::Array(items)
            if !items.is_empty() && items.iter().all(|i| i.get("key").is_some()) =>
        {
            for item in items {
                flatten(prefix, item, rows);
            }
        }
        Value::Array(items) if items.iter().any(|i| i.is_object() || i.is_array()) => {
            for (i, v) in items.iter().enumerate() {
                flatten(&key(&i.to_string()), v, rows);
            }
        }
        other => rows.push(vec![prefix.to_owned(), "-".to_owned(), scalar(other)]),
    }
}

/// A value as text: strings bare, null as `-`, anything else as JSON.
fn scalar(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        Value::Null => "-".to_owned(),
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn settings_flatten_to_one_row_each() {
        let value = serde_json::json!({
            "version": "0.1.0",
            "socket": null,
            "initPrompts": {"value": ["a", "b"], "source": "config"},
            "settings": [
                {"key": "server.port", "value": 3001, "source": "flag"},
                {"key": "server.host", "value": "127.0.0.1", "source": "default"},
            ],
            "nested": {"list": [{"x": 1}]},
        });
        let mut rows = Vec::new();
        super::flatten("", &value, &mut rows);
        let rows: Vec<String> = rows.iter().map(|r| r.join(" ")).collect();
        assert_eq!(
            rows,
            [
                "initPrompts config [\"a\",\"b\"]",
                "nested.list.0.x - 1",
                "server.port flag 3001",
                "server.host default 127.0.0.1",
                "socket - -",
                "version - 0.1.0",
            ]
        );
    }
}
