//! The JSON Schema of results files, generated from [`Report`]; committed
//! as `reports/schema.json` for the tools that read them.

use super::Report;

/// The schema of a results file as pretty JSON, ending in a newline.
pub fn schema_json() -> String {
    let schema = schemars::schema_for!(Report);
    // `{:#}` pretty-prints a JSON value and cannot fail, unlike serde_json::to_string_pretty.
    format!("{:#}\n", schema.as_value())
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;

    /// Set to `1` to rewrite `reports/schema.json` from the types.
    const BLESS: &str = "HOPCHECK_BLESS";

    #[test]
    fn committed_schema_matches_the_types() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../reports/schema.json");
        let generated = schema_json();
        if std::env::var(BLESS).as_deref() == Ok("1") {
            std::fs::write(&path, &generated).expect("write reports/schema.json");
            return;
        }
        let committed = std::fs::read_to_string(&path).unwrap_or_default();
        assert!(
            committed == generated,
            "reports/schema.json is out of date with the report types; refresh it with\n    \
             {BLESS}=1 cargo test -p hopcheck --lib report::schema"
        );
    }

    #[test]
    fn schema_describes_results_files() {
        let schema: serde_json::Value = serde_json::from_str(&schema_json()).expect("valid JSON");
        assert_eq!(schema["title"], "Report");
        let required = schema["required"].as_array().expect("required keys");
        for key in [
            "format", "hopcheck", "suite", "target", "profile", "date", "machine", "results",
        ] {
            assert!(required.iter().any(|k| k == key), "{key} not required: {required:?}");
        }
        assert!(schema["properties"]["shard"].is_object());
    }
}
