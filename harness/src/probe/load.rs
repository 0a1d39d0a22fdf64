//! Loading probe case files (`probes/<area>/<name>.toml`). A bad file becomes
//! a [`CaseFileError`] naming file, line, column and key, like a client case
//! file's; it never stops the other files loading.

// A CaseFileError is large, but it is the documented error of these calls and
// only ever built for a bad file.
#![allow(clippy::result_large_err)]

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use toml::de::DeTable;

use crate::case::diagnostic::{self, key_path, Problem};
use crate::case::{CaseFileError, Catalogue};

use super::judge::Check;

/// One probe case as written: what to send and which check judges the answer.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct ProbeFile {
    /// What a conforming server does, in one sentence.
    pub description: String,
    /// Requirement ids of `suites/requirements.toml` (side `server` or `both`).
    pub requirements: Vec<String>,
    /// The judgement applied to the responses.
    pub check: Check,
    /// For `location-present`: the status the request is set up to get.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<u16>,
    /// The requests, sent in order, one connection each.
    pub request: Vec<ProbeRequest>,
}

/// Which transport a request goes over.
pub use crate::scheme::Scheme;

fn https() -> Scheme {
    Scheme::Https
}

fn get() -> String {
    "GET".to_owned()
}

/// One request of a probe case.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct ProbeRequest {
    /// `https` (default) or `http`.
    #[serde(default = "https")]
    pub scheme: Scheme,
    #[serde(default = "get")]
    pub method: String,
    /// The origin-form target (`/path?query`), sent to the probed host.
    pub path: String,
    /// Extra header fields, `[name, value]` pairs.
    #[serde(default)]
    pub headers: Vec<(String, String)>,
    /// Request content (sent with a Content-Length).
    #[serde(default)]
    pub body: String,
    /// Add the previous response's validators (`If-None-Match` from its
    /// ETag, `If-Modified-Since` from its Last-Modified).
    #[serde(default)]
    pub conditional: bool,
}

/// A validated probe case: its id (the path under `probes/` without `.toml`).
#[derive(Debug, Clone)]
pub struct ProbeCase {
    pub id: String,
    pub path: PathBuf,
    pub file: ProbeFile,
}

/// Every probe case below a folder (sorted by id) and one error per bad file.
#[derive(Debug, Clone)]
pub struct ProbeSuite {
    pub root: PathBuf,
    pub cases: Vec<ProbeCase>,
    pub errors: Vec<CaseFileError>,
}

/// Load every `*.toml` below `root` as a probe case, checking its citations
/// against `catalogue`. Only an unreadable folder is an `Err`.
pub fn load_probes(root: &Path, catalogue: &Catalogue) -> std::io::Result<ProbeSuite> {
    let mut files = Vec::new();
    find_files(root, &mut Vec::new(), &mut files)?;
    files.sort();
    let mut cases = Vec::new();
    let mut errors = Vec::new();
    for (id, path) in files {
        let parsed = std::fs::read(&path)
            .map_err(|e| diagnostic::file_error(&id, &path, format!("cannot read the probe case: {e}")))
            .and_then(|bytes| diagnostic::utf8_text(&id, &path, bytes))
            .and_then(|src| parse_probe(&id, &path, &src, catalogue));
        match parsed {
            Ok(case) => cases.push(case),
            Err(error) => errors.push(error),
        }
    }
    Ok(ProbeSuite {
        root: root.to_owned(),
        cases,
        errors,
    })
}

fn find_files(dir: &Path, prefix: &mut Vec<String>, out: &mut Vec<(String, PathBuf)>) -> std::io::Result<()> {
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        let name = entry.file_name().to_string_lossy().into_owned();
        let path = entry.path();
        if entry.file_type()?.is_dir() {
            prefix.push(name);
            find_files(&path, prefix, out)?;
            prefix.pop();
        } else if let Some(stem) = name.strip_suffix(".toml") {
            let mut id = prefix.clone();
            id.push(stem.to_owned());
            out.push((id.join("/"), path));
        }
    }
    Ok(())
}

/// Parse and validate the text of probe case `id`, read from `path`.
pub fn parse_probe(id: &str, path: &Path, src: &str, catalogue: &Catalogue) -> Result<ProbeCase, CaseFileError> {
    let fail = |problem: Problem| problem.into_error(id, path, src);
    let doc = DeTable::parse(src).map_err(|e| fail(diagnostic::toml_problem(&e, src, None)))?;
    let file: ProbeFile = toml::from_str(src).map_err(|e| fail(diagnostic::toml_problem(&e, src, Some(&doc))))?;
    let at = |path: diagnostic::KeyPath, message: String, help: Option<String>| Problem {
        span: diagnostic::span_of(&doc, &path),
        key: Some(path.to_string()),
        message,
        help,
    };
    if file.requirements.is_empty() {
        return Err(fail(at(
            key_path!["requirements"],
            "a probe case cites at least one requirement".to_owned(),
            Some("name the server rule it checks, e.g. `requirements = [\"HSTS-SRV-ONE\"]`".to_owned()),
        )));
    }
    for (index, rid) in file.requirements.iter().enumerate() {
        let place = key_path!["requirements", index];
        match catalogue.get(rid) {
            None => {
                let help = diagnostic::closest(rid, catalogue.requirements.keys().map(String::as_str))
                    .map(|near| format!("did you mean `{near}`?"));
                return Err(fail(at(place, format!("unknown requirement `{rid}`"), help)));
            }
            Some(requirement) if requirement.side == "client" => {
                return Err(fail(at(
                    place,
                    format!("`{rid}` binds clients; a probe case cites server rules"),
                    Some("cite a requirement whose side is `server` or `both`".to_owned()),
                )));
            }
            Some(_) => {}
        }
    }
    let preload_check = file.check.is_preload();
    let preload_area = id.starts_with("preload/");
    if preload_check != preload_area {
        return Err(fail(at(
            key_path!["check"],
            format!(
                "check `{}` belongs {} the `preload` area",
                file.check.as_str(),
                if preload_check { "in" } else { "outside" }
            ),
            Some("preload checks are graded by their own issue codes, apart from the RFC rules".to_owned()),
        )));
    }
    if file.check.needs_status() != file.status.is_some() {
        let message = if file.status.is_some() {
            format!("check `{}` takes no `status`", file.check.as_str())
        } else {
            format!(
                "check `{}` needs `status`, the 3xx the request gets",
                file.check.as_str()
            )
        };
        let place = if file.status.is_some() {
            key_path!["status"]
        } else {
            key_path!["check"]
        };
        return Err(fail(at(place, message, None)));
    }
    if file.request.is_empty() {
        return Err(fail(at(
            key_path!["request"],
            "a probe case sends at least one request".to_owned(),
            Some("add a `[[request]]` table with a `path`".to_owned()),
        )));
    }
    for (index, request) in file.request.iter().enumerate() {
        if !request.path.starts_with('/') || request.path.chars().any(|c| !c.is_ascii_graphic()) {
            return Err(fail(at(
                key_path!["request", index, "path"],
                format!("`{}` is not an origin-form target", request.path),
                Some("write `/path?query`, visible ASCII only, percent-encoded".to_owned()),
            )));
        }
        if http::Method::from_bytes(request.method.as_bytes()).is_err() {
            return Err(fail(at(
                key_path!["request", index, "method"],
                format!("`{}` is not a method token", request.method),
                None,
            )));
        }
        for (h, (name, value)) in request.headers.iter().enumerate() {
            if http::HeaderName::from_bytes(name.as_bytes()).is_err() || http::HeaderValue::from_str(value).is_err() {
                return Err(fail(at(
                    key_path!["request", index, "headers", h],
                    format!("`{name}: {value}` is not a valid header field"),
                    None,
                )));
            }
        }
        if request.conditional && index == 0 {
            return Err(fail(at(
                key_path!["request", index, "conditional"],
                "the first request has no previous response to take validators from".to_owned(),
                Some("send the unconditional request first".to_owned()),
            )));
        }
    }
    if let (Some(scheme), Some(last)) = (file.check.scheme(), file.request.last()) {
        if last.scheme != scheme {
            let index = file.request.len() - 1;
            return Err(fail(at(
                key_path!["request", index, "scheme"],
                format!(
                    "check `{}` judges an answer over {}",
                    file.check.as_str(),
                    scheme.as_str()
                ),
                Some(format!("set `scheme = \"{}\"` on the last request", scheme.as_str())),
            )));
        }
    }
    if file.check.needs_two_requests() && file.request.len() < 2 {
        return Err(fail(at(
            key_path!["request"],
            format!("check `{}` compares two responses", file.check.as_str()),
            Some("send the plain request, then the same with `conditional = true`".to_owned()),
        )));
    }
    Ok(ProbeCase {
        id: id.to_owned(),
        path: path.to_owned(),
        file,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn catalogue() -> Catalogue {
        Catalogue::load(&crate::project_dir("suites").join("requirements.toml")).expect("catalogue")
    }

    const GOOD: &str = "description = \"d\"\nrequirements = [\"HSTS-SRV-ONE\"]\ncheck = \"sts-at-most-one\"\n\n[[request]]\npath = \"/\"\n";

    #[test]
    fn a_good_file_loads() {
        let case = parse_probe("hsts/x", Path::new("x.toml"), GOOD, &catalogue()).expect("valid");
        assert_eq!(case.file.request[0].scheme, Scheme::Https);
        assert_eq!(case.file.request[0].method, "GET");
    }

    #[rstest::rstest]
    #[case::typo_key(GOOD.replace("check =", "chek ="), (3, 1), Some("chek"), "unknown key")]
    #[case::unknown_requirement(GOOD.replace("HSTS-SRV-ONE", "HSTS-SRV-ON"), (2, 17), Some("requirements[0]"), "unknown requirement `HSTS-SRV-ON`")]
    #[case::client_rule(GOOD.replace("HSTS-SRV-ONE", "RED-307-METHOD"), (2, 17), Some("requirements[0]"), "binds clients")]
    #[case::bad_path(GOOD.replace("path = \"/\"", "path = \"/a b\""), (6, 8), Some("request[0].path"), "not an origin-form target")]
    #[case::unknown_check(GOOD.replace("sts-at-most-one", "sts-once"), (3, 9), Some("check"), "unknown value")]
    #[case::wrong_scheme(GOOD.replace("sts-at-most-one", "sts-absent-over-http"), (5, 1), Some("request[0].scheme"), "judges an answer over http")]
    #[case::preload_outside(GOOD.replace("sts-at-most-one", "preload-max-age"), (3, 9), Some("check"), "belongs in the `preload` area")]
    fn a_bad_file_points_at_the_key(
        #[case] src: String,
        #[case] at: (usize, usize),
        #[case] key: Option<&str>,
        #[case] message: &str,
    ) {
        let err = parse_probe("hsts/x", Path::new("x.toml"), &src, &catalogue()).expect_err("invalid");
        assert_eq!((err.line, err.column), at, "{}", err.rendered);
        assert_eq!(err.key.as_deref(), key, "{}", err.rendered);
        assert!(err.message.contains(message), "{}", err.message);
    }

    #[test]
    fn every_probe_file_of_the_project_loads() {
        let suite = load_probes(&crate::project_dir("probes"), &catalogue()).expect("probes folder");
        assert!(suite.errors.is_empty(), "{:#?}", suite.errors);
        assert!(suite.cases.len() >= 20, "{}", suite.cases.len());
    }
}
