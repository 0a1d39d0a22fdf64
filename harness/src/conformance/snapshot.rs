//! Snapshots of what a client did: per case, the verdict, every hop the
//! origin saw and every step result, under rfc9110, plus what differs under
//! fetch; with nothing that changes from run to run or from release to
//! release of the client (ports, timings, `User-Agent` versions).

use std::path::Path;

use crate::case::Profile;
use crate::runner::CaseResult;
use crate::verdict::describe_bytes;

/// Compare what a target did under both profiles with `dir/<case id>.snap`:
/// the rfc9110 observations, plus a `fetch` object holding only what differs
/// under fetch (usually the verdict and outcome; nothing when the profiles
/// agree). Insta's settings apply: `INSTA_UPDATE=always` rewrites the file,
/// `cargo insta review` accepts pending ones.
pub fn compare(dir: &Path, id: &str, results: &[(Profile, CaseResult)]) -> Result<(), String> {
    let (sub, name) = id.rsplit_once('/').unwrap_or(("", id));
    let by_profile = |wanted: Profile| {
        results
            .iter()
            .find(|(profile, _)| *profile == wanted)
            .map(|(_, result)| observed(result))
    };
    let (Some(mut recorded), Some(fetch)) = (by_profile(Profile::Rfc9110), by_profile(Profile::Fetch)) else {
        return Err(format!("{id}: a snapshot needs both profiles' results"));
    };
    if let (Some(base), Some(fetch)) = (recorded.as_object_mut(), fetch.as_object()) {
        let differs: serde_json::Map<String, serde_json::Value> = fetch
            .iter()
            .filter(|(key, value)| base.get(*key) != Some(value))
            .map(|(key, value)| (key.clone(), value.clone()))
            .collect();
        if !differs.is_empty() {
            base.insert("fetch".to_owned(), serde_json::Value::Object(differs));
        }
    }
    let mut settings = insta::Settings::clone_current();
    settings.set_snapshot_path(dir.join(sub));
    settings.set_prepend_module_to_snapshot(false);
    settings.set_omit_expression(true);
    // insta reports a difference by panicking, with the diff on stderr.
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        settings.bind(|| insta::assert_json_snapshot!(name, recorded));
    }))
    .map_err(|_| {
        format!(
            "the observations differ from {}",
            dir.join(format!("{id}.snap")).display()
        )
    })
}

/// What a snapshot keeps: the verdict, every hop and every step result, with
/// nothing that changes from run to run (ports of the listener, error texts
/// that name them, timings, connection numbers).
pub fn observed(result: &CaseResult) -> serde_json::Value {
    let hops: Vec<serde_json::Value> = result
        .hops
        .iter()
        .map(|hop| {
            serde_json::json!({
                "request": hop.summary(),
                "arrival": hop.arrival,
                "headers": without_versions(&hop.headers),
                "body": describe_bytes(&hop.body),
                "answered": hop.status,
            })
        })
        .collect();
    let steps: Vec<serde_json::Value> = result
        .steps
        .iter()
        .map(|step| match &step.error {
            Some(_) => serde_json::json!({ "error": true }),
            None => serde_json::json!({ "status": step.status, "url": step.url }),
        })
        .collect();
    serde_json::json!({
        "verdict": result.verdict.kind,
        "outcome": result.verdict.outcome,
        "hops": hops,
        "steps": steps,
    })
}

/// The request headers with the client's version taken out of `User-Agent`
/// (`curl/7.88.1` is kept as `curl/[version]`): snapshots record what a
/// client does, and must not change with each release of it.
pub fn without_versions(headers: &[(String, String)]) -> Vec<(String, String)> {
    headers
        .iter()
        .map(|(name, value)| {
            if !name.eq_ignore_ascii_case("user-agent") {
                return (name.clone(), value.clone());
            }
            let tokens: Vec<String> = value
                .split(' ')
                .map(|token| match token.split_once('/') {
                    Some((product, version)) if version.starts_with(|c: char| c.is_ascii_digit()) => {
                        format!("{product}/[version]")
                    }
                    _ => token.to_owned(),
                })
                .collect();
            (name.clone(), tokens.join(" "))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn user_agent_versions_are_taken_out_and_nothing_else() {
        let headers = vec![
            (
                "User-Agent".to_owned(),
                "curl/7.88.1 python-requests/2.34.2 Go-http-client/1.1 x/y".to_owned(),
            ),
            ("Accept".to_owned(), "text/1.0".to_owned()),
        ];
        assert_eq!(
            without_versions(&headers),
            vec![
                (
                    "User-Agent".to_owned(),
                    "curl/[version] python-requests/[version] Go-http-client/[version] x/y".to_owned()
                ),
                ("Accept".to_owned(), "text/1.0".to_owned()),
            ]
        );
    }
}
