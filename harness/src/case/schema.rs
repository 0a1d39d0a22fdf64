//! The JSON schema of case files, generated from the model; committed as
//! `suites/schema.json` so editors can complete and check case files.

use super::CaseFile;

/// The schema of a case file as pretty JSON, ending in a newline.
pub fn schema_json() -> String {
    let schema = schemars::schema_for!(CaseFile);
    // `{:#}` pretty-prints a JSON value and cannot fail, unlike serde_json::to_string_pretty.
    format!("{:#}\n", schema.as_value())
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;

    /// Set to `1` to rewrite `suites/schema.json` from the model.
    const BLESS: &str = "HOPCHECK_BLESS";

    #[test]
    fn committed_schema_matches_the_model() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../suites/schema.json");
        let generated = schema_json();
        if std::env::var(BLESS).as_deref() == Ok("1") {
            std::fs::write(&path, &generated).expect("write suites/schema.json");
            return;
        }
        let committed = std::fs::read_to_string(&path).unwrap_or_default();
        assert!(
            committed == generated,
            "suites/schema.json is out of date with case/model.rs; refresh it with\n    \
             {BLESS}=1 cargo test -p hopcheck --lib case::schema"
        );
    }

    #[test]
    fn schema_describes_case_files() {
        let schema: serde_json::Value = serde_json::from_str(&schema_json()).expect("valid JSON");
        assert_eq!(schema["title"], "CaseFile");
        let required = schema["required"].as_array().expect("required keys");
        for key in ["title", "requirements", "step"] {
            assert!(required.iter().any(|k| k == key), "{key} not required: {required:?}");
        }
        assert!(schema["properties"]["step"].is_object());
        assert_eq!(schema["additionalProperties"], false);
    }
}
