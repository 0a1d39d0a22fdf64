//! The case-file data model: what a TOML file under `suites/` may say.
//!
//! These types are the schema (`suites/schema.json` is generated from them);
//! they hold data only, validation lives in [`super::validate`].

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// One case file, as written. Its id is its path, never stated inside.
#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CaseFile {
    /// One line saying what a conforming client does, so that a `pass` reads
    /// true; the fault the case exposes belongs in `description`.
    pub title: String,
    /// Longer explanation: why the expected behaviour is the right one, and
    /// which fault of a client the case exposes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Requirement ids from `suites/requirements.toml`; the first is the one a
    /// failing expectation cites unless the expectation names its own `rule`.
    pub requirements: Vec<String>,
    /// Target features this case needs; a target that declares one of them
    /// unsupported gets the verdict `unsupported` instead of a judgement.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub needs: Vec<Feature>,
    /// HSTS hosts the client is told to preload before the first step.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub preload: Vec<Preload>,
    /// Per-host TLS settings of the virtual world (default: a valid certificate).
    #[serde(default, rename = "host", skip_serializing_if = "Vec::is_empty")]
    pub hosts: Vec<HostConfig>,
    /// What the client is asked to do, in order, in one client session.
    #[serde(rename = "step")]
    pub steps: Vec<Step>,
    /// The origin script: what each virtual host answers, in the order a
    /// conforming client asks.
    #[serde(default, rename = "origin")]
    pub origin: Vec<OriginRule>,
    /// The single conforming outcome (shorthand for one `outcome` graded pass).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expect: Option<Outcome>,
    /// Graded outcomes where the specs allow several behaviours: the first
    /// that matches decides the verdict.
    #[serde(default, rename = "outcome", skip_serializing_if = "Vec::is_empty")]
    pub outcomes: Vec<Outcome>,
}

/// A capability a target may lack.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum Feature {
    /// Keeps an HSTS store across the steps of a case (RFC 6797 user agent).
    Hsts,
    /// Accepts a preload list of HSTS hosts.
    HstsPreload,
    /// Can send a request body that cannot be replayed (Fetch's null-source body).
    StreamedBody,
    /// Reports the fragment of the final URL.
    FinalFragment,
    /// Can switch off certificate verification for one request.
    Insecure,
}

/// One preloaded HSTS host.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Preload {
    pub host: String,
    #[serde(default)]
    pub include_subdomains: bool,
}

/// TLS settings for one virtual host.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct HostConfig {
    pub name: String,
    #[serde(default)]
    pub cert: CertKind,
}

/// Which certificate a virtual host presents.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum CertKind {
    /// Issued by the run's test CA for the host's name.
    #[default]
    Valid,
    /// Self-signed: not issued by the test CA.
    Untrusted,
    /// Issued by the test CA, but expired.
    Expired,
    /// Issued by the test CA for another name.
    WrongName,
}

/// One request the client is asked to make.
#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Step {
    #[serde(default = "default_method")]
    pub method: String,
    pub url: String,
    /// Header fields as `[name, value]` pairs, in order; duplicates allowed.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub headers: Vec<(String, String)>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub body: Option<Body>,
    /// The body comes from a stream that cannot be replayed.
    #[serde(default, skip_serializing_if = "is_false")]
    pub streamed: bool,
    /// Follow redirects (default true).
    #[serde(default = "default_true")]
    pub follow: bool,
    /// Wait this long before the step (HSTS expiry).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub delay_ms: u64,
    /// Switch certificate verification off for this step.
    #[serde(default, skip_serializing_if = "is_false")]
    pub insecure: bool,
}

impl Step {
    /// A request with no headers and no body that follows redirects.
    pub fn new(method: &str, url: &str) -> Step {
        Step {
            method: method.to_owned(),
            url: url.to_owned(),
            headers: Vec::new(),
            body: None,
            streamed: false,
            follow: true,
            delay_ms: 0,
            insecure: false,
        }
    }
}

/// Bytes of a request or response body.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(untagged)]
pub enum Body {
    /// UTF-8 text, taken as is.
    Text(String),
    /// Arbitrary bytes, base64 (standard alphabet, padded).
    Base64 { base64: String },
    /// `cycle` bytes counting 0, 1, …, 255, 0, 1, … (256 gives every byte
    /// value once); at most 64 MiB, like every body.
    Cycle { cycle: usize },
}

/// One entry of the origin script.
#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct OriginRule {
    /// Absolute URL this entry answers (`scheme://host[:port]/path[?query]`);
    /// a trailing `*` makes it a prefix. No fragment.
    pub on: String,
    /// Answer only this method (default: any).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub method: Option<String>,
    pub reply: Reply,
}

/// Where an origin rule's `on` URL points, split into its parts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RuleTarget {
    /// `http` or `https`, lowercase.
    pub scheme: String,
    /// The host as written (IPv6 without brackets); compare it normalised.
    pub host: String,
    /// The port, or the scheme's default.
    pub port: u16,
    /// Path and query to match (`/` when the URL has none).
    pub path: String,
    /// A trailing `*` makes `path` a prefix.
    pub prefix: bool,
}

impl OriginRule {
    /// Split `on` into scheme, host, port, path+query and whether it is a
    /// prefix; `Err` says why the URL cannot be served. The loader and the
    /// origin both read `on` through this one function.
    pub fn target(&self) -> Result<RuleTarget, String> {
        let on = self.on.as_str();
        let (scheme, rest) = on
            .split_once("://")
            .ok_or("not an absolute URL of the form `http://host/path`")?;
        let scheme = scheme.to_ascii_lowercase();
        if scheme != "http" && scheme != "https" {
            return Err(format!("scheme `{scheme}` is neither http nor https"));
        }
        if rest.contains('#') {
            return Err("a rule URL has no fragment: clients never send one".to_owned());
        }
        let (rest, prefix) = match rest.strip_suffix('*') {
            Some(rest) => (rest, true),
            None => (rest, false),
        };
        if rest.contains('*') {
            return Err("`*` may only end the URL, making it a prefix".to_owned());
        }
        let split = rest.find(['/', '?']).unwrap_or(rest.len());
        let (authority, path) = rest.split_at(split);
        let path = match path.chars().next() {
            None => "/".to_owned(),
            Some('?') => format!("/{path}"),
            Some(_) => path.to_owned(),
        };
        if authority.contains('@') {
            return Err("a rule URL has no user information".to_owned());
        }
        let (host, port) =
            split_authority(authority).ok_or_else(|| format!("cannot read host and port `{authority}`"))?;
        let host = host.strip_prefix('[').and_then(|h| h.strip_suffix(']')).unwrap_or(host);
        if host.is_empty() {
            return Err("the URL has no host".to_owned());
        }
        let port = port.unwrap_or(if scheme == "https" { 443 } else { 80 });
        Ok(RuleTarget {
            scheme,
            host: host.to_owned(),
            port,
            path,
            prefix,
        })
    }
}

/// Split `host[:port]` or `[v6][:port]`; `None` when the port is not a number.
/// An empty port (`host:`) counts as absent, as in RFC 3986.
pub fn split_authority(authority: &str) -> Option<(&str, Option<u16>)> {
    let (host, port) = if authority.starts_with('[') {
        let end = authority.find(']')?;
        let (host, after) = authority.split_at(end + 1);
        match after.strip_prefix(':') {
            Some(port) => (host, Some(port)),
            None if after.is_empty() => (host, None),
            None => return None,
        }
    } else {
        match authority.rsplit_once(':') {
            Some((host, port)) => (host, Some(port)),
            None => (authority, None),
        }
    };
    let port = match port {
        None | Some("") => None,
        Some(port) => Some(port.parse::<u16>().ok()?),
    };
    Some((host, port))
}

/// What the origin answers.
#[derive(Debug, Clone, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Reply {
    pub status: u16,
    /// Header fields as `[name, value]` pairs, sent in this order, duplicates
    /// kept, each value written on the wire byte for byte. A value is text
    /// (UTF-8; control characters as TOML escapes such as `"\u0001"`) in which
    /// `{hop}` becomes this hop's index and `{next}` the next one, or
    /// `{ base64 = "..." }` for bytes that are not UTF-8 (obs-text such as a
    /// lone `0xE9`). Any byte but CR, LF and NUL may appear.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub headers: Vec<(String, FieldValue)>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub body: Option<Body>,
}

/// The value of a reply header field.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(untagged)]
pub enum FieldValue {
    /// UTF-8 text; `{hop}` and `{next}` are filled in.
    Text(String),
    /// Arbitrary bytes, base64 (standard alphabet, padded); sent as they are.
    Base64 { base64: String },
}

impl FieldValue {
    /// The bytes this value stands for before `{hop}`/`{next}` are filled in;
    /// `Err` for invalid base64.
    pub fn bytes(&self) -> Result<Vec<u8>, base64::DecodeError> {
        use base64::Engine as _;
        match self {
            FieldValue::Text(text) => Ok(text.as_bytes().to_vec()),
            FieldValue::Base64 { base64 } => base64::engine::general_purpose::STANDARD.decode(base64),
        }
    }

    /// The text of a text value.
    pub fn as_text(&self) -> Option<&str> {
        match self {
            FieldValue::Text(text) => Some(text),
            FieldValue::Base64 { .. } => None,
        }
    }
}

impl From<&str> for FieldValue {
    fn from(text: &str) -> Self {
        FieldValue::Text(text.to_owned())
    }
}

impl From<String> for FieldValue {
    fn from(text: String) -> Self {
        FieldValue::Text(text)
    }
}

/// One outcome: what the origins saw and what the client reported.
#[derive(Debug, Clone, Default, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Outcome {
    /// What this outcome is, in words ("rewritten to GET, body dropped").
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// The verdict when this outcome matches (default `pass`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub grade: Option<GradeSpec>,
    /// Judged only under this profile; under the other the outcome does not
    /// exist (a behaviour one spec family requires and the other leaves
    /// open, such as Fetch refusing a GET with a body before sending it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub profile: Option<Profile>,
    /// The requirement(s) this outcome's expectations check, unless an
    /// expectation names its own `rule`; the `hops` count is checked for it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rule: Option<Rules>,
    /// How many hops the origins saw, of every kind (requests, silent
    /// connections, failed TLS handshakes, unparsable requests): an exact
    /// number, or `{ min = 2 }`, `{ max = 20 }`, `{ min = 2, max = 20 }`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hops: Option<HopCount>,
    #[serde(default, rename = "hop", skip_serializing_if = "Vec::is_empty")]
    pub hop: Vec<HopExpect>,
    #[serde(default, rename = "result", skip_serializing_if = "Vec::is_empty")]
    pub result: Vec<ResultExpect>,
}

/// The requirement(s) an expectation checks: one id, or several where the
/// same behaviour is required by more than one rule (an RFC and Fetch, say).
/// A miss is charged to the one that binds strongest under the profile.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(untagged)]
pub enum Rules {
    One(String),
    Several(Vec<String>),
}

impl Rules {
    /// The requirement ids, in the order written.
    pub fn ids(&self) -> &[String] {
        match self {
            Rules::One(id) => std::slice::from_ref(id),
            Rules::Several(ids) => ids,
        }
    }
}

impl From<&str> for Rules {
    fn from(id: &str) -> Rules {
        Rules::One(id.to_owned())
    }
}

/// How many hops an outcome expects.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(untagged)]
pub enum HopCount {
    /// Exactly this many.
    Exactly(usize),
    /// At least `min` and at most `max` (either may be left out).
    Between {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        min: Option<usize>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        max: Option<usize>,
    },
}

impl HopCount {
    /// Whether `count` hops satisfy this expectation.
    pub fn admits(self, count: usize) -> bool {
        match self {
            HopCount::Exactly(n) => count == n,
            HopCount::Between { min, max } => min.is_none_or(|m| count >= m) && max.is_none_or(|m| count <= m),
        }
    }
}

impl std::fmt::Display for HopCount {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match *self {
            HopCount::Exactly(n) => write!(f, "{n}"),
            HopCount::Between {
                min: Some(lo),
                max: Some(hi),
            } => write!(f, "{lo} to {hi}"),
            HopCount::Between {
                min: Some(lo),
                max: None,
            } => write!(f, "at least {lo}"),
            HopCount::Between {
                min: None,
                max: Some(hi),
            } => write!(f, "at most {hi}"),
            HopCount::Between { min: None, max: None } => write!(f, "any number"),
        }
    }
}

impl Outcome {
    /// Whether this outcome is one under `profile` (see [`Outcome::profile`]).
    pub fn applies_under(&self, profile: Profile) -> bool {
        self.profile.is_none_or(|only| only == profile)
    }

    /// Every requirement id this outcome's expectations name.
    pub fn cited_rules(&self) -> impl Iterator<Item = &str> {
        let own = self.rule.iter();
        let hops = self.hop.iter().filter_map(|h| h.rule.as_ref());
        let results = self.result.iter().filter_map(|r| r.rule.as_ref());
        own.chain(hops)
            .chain(results)
            .flat_map(|rules| rules.ids().iter().map(String::as_str))
    }
}

/// A grade for all profiles, or one per profile.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(untagged)]
pub enum GradeSpec {
    All(Grade),
    PerProfile { rfc9110: Grade, fetch: Grade },
}

impl GradeSpec {
    pub fn for_profile(self, profile: Profile) -> Grade {
        match (self, profile) {
            (GradeSpec::All(g), _) => g,
            (GradeSpec::PerProfile { rfc9110, .. }, Profile::Rfc9110) => rfc9110,
            (GradeSpec::PerProfile { fetch, .. }, Profile::Fetch) => fetch,
        }
    }
}

/// The verdict an outcome earns when it matches.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum Grade {
    Pass,
    Fail,
    Warn,
    Info,
}

/// Which spec family judges.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum Profile {
    /// RFC 9110 / 9112, RFC 3986, RFC 6797.
    #[default]
    Rfc9110,
    /// WHATWG Fetch and URL (what browsers and Node follow).
    Fetch,
}

// The enum's and variants' documentation is the schema's (suites/schema.json).
impl Profile {
    /// Every profile, the default first.
    pub const ALL: [Profile; 2] = [Profile::Rfc9110, Profile::Fetch];
    /// The profile's name in case files, reports and on the command line;
    /// `Display` writes it and `FromStr` parses it.
    pub fn as_str(self) -> &'static str {
        match self {
            Profile::Rfc9110 => "rfc9110",
            Profile::Fetch => "fetch",
        }
    }

    /// The specs that judge under the profile, in one line for help texts
    /// (the variant's documentation, which the schema carries, without its
    /// final period).
    pub fn summary(self) -> &'static str {
        match self {
            Profile::Rfc9110 => "RFC 9110 / 9112, RFC 3986, RFC 6797",
            Profile::Fetch => "WHATWG Fetch and URL (what browsers and Node follow)",
        }
    }
}

impl std::fmt::Display for Profile {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for Profile {
    type Err = UnknownProfile;

    /// The profile named `name` (exactly as [`Profile::as_str`] writes it).
    fn from_str(name: &str) -> Result<Self, Self::Err> {
        Profile::ALL
            .into_iter()
            .find(|profile| profile.as_str() == name)
            .ok_or_else(|| UnknownProfile { name: name.to_owned() })
    }
}

/// A name that is none of the profiles' ([`Profile::as_str`]).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct UnknownProfile {
    /// The name as given.
    pub name: String,
}

impl std::fmt::Display for UnknownProfile {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "no profile is named `{}`; the profiles are ", self.name)?;
        for (i, profile) in Profile::ALL.into_iter().enumerate() {
            let separator = if i == 0 { "" } else { ", " };
            write!(f, "{separator}`{profile}`")?;
        }
        Ok(())
    }
}

impl std::error::Error for UnknownProfile {}

/// What kind of attempt a hop is. Anything a client sends to an origin is
/// recorded, so that "tried and was refused" never reads as "never tried".
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum HopKind {
    /// A request the origin parsed and answered.
    #[default]
    Request,
    /// A connection on which the client sent nothing, waiting for the server
    /// to speak first (FTP after an `ftp:` Location, say).
    Silent,
    /// A TLS handshake that did not complete, or that completed and was closed
    /// without a request (a client rejecting the certificate, say).
    TlsFailed,
    /// Bytes that are not an HTTP/1.1 request the origin could parse (a raw
    /// space or control character in the request-target, say); answered 400.
    Unparsable,
}

impl HopKind {
    /// The kind as written in case files and results (`tls-failed`).
    pub fn as_str(self) -> &'static str {
        match self {
            HopKind::Request => "request",
            HopKind::Silent => "silent",
            HopKind::TlsFailed => "tls-failed",
            HopKind::Unparsable => "unparsable",
        }
    }
}

impl std::fmt::Display for HopKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Expectations on one hop (an attempt one of the origins saw).
#[derive(Debug, Clone, Default, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct HopExpect {
    /// 1-based position among all hops of the case, across steps.
    pub index: usize,
    /// The kind of hop (default `request`: an expectation is about a request
    /// unless it says otherwise, so it never holds for a refused handshake).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<HopKind>,
    /// Requirement(s) this expectation checks (default: the outcome's
    /// `rule`, else the case's only requirement).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rule: Option<Rules>,
    /// Logical absolute URL: scheme, host, port and request-target at once.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scheme: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub host: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub port: Option<u16>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub method: Option<String>,
    /// The request-target exactly as sent (origin-form for direct requests).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub body: Option<BodyExpect>,
    #[serde(default, skip_serializing_if = "HeaderExpect::is_empty")]
    pub header: HeaderExpect,
}

/// Expected body bytes.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(untagged)]
pub enum BodyExpect {
    /// Exactly these bytes.
    Bytes(Body),
    /// The same bytes as the body of step `step`.
    SameAsStep { step: usize },
}

/// Header expectations; names compare case-insensitively.
#[derive(Debug, Clone, Default, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct HeaderExpect {
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub present: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub absent: Vec<String>,
    /// `[name, value]`: the field is present once with exactly this value.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub equal: Vec<(String, String)>,
}

impl HeaderExpect {
    pub fn is_empty(&self) -> bool {
        self.present.is_empty() && self.absent.is_empty() && self.equal.is_empty()
    }
}

/// Expectations on what the client reported for one step.
#[derive(Debug, Clone, Default, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ResultExpect {
    /// 1-based step number (default 1).
    #[serde(default = "default_one")]
    pub step: usize,
    /// Requirement(s) this expectation checks (default: the outcome's
    /// `rule`, else the case's only requirement).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rule: Option<Rules>,
    /// Final status; absent when the client reported an error.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<u16>,
    /// Final URL, fragment included.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    /// Whether the client reported an error instead of a response.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub body: Option<Body>,
}

impl ResultExpect {
    /// Step `step` ends with a response of `status`.
    pub fn status(step: usize, status: u16) -> ResultExpect {
        ResultExpect {
            step,
            status: Some(status),
            ..ResultExpect::default()
        }
    }
}

impl Body {
    /// The bytes this body stands for; `Err` for invalid base64. A cycle is
    /// produced whole: callers hold bodies the loader capped at
    /// [`MAX_BODY_BYTES`](super::validate::MAX_BODY_BYTES), and the origin
    /// streams cycles instead (see [`Body::byte_len`] and [`Body::matches`]
    /// for what needs no bytes at all).
    pub fn bytes(&self) -> Result<Vec<u8>, base64::DecodeError> {
        use base64::Engine as _;
        Ok(match self {
            Body::Text(text) => text.as_bytes().to_vec(),
            Body::Base64 { base64 } => base64::engine::general_purpose::STANDARD.decode(base64)?,
            Body::Cycle { cycle } => (0..*cycle).map(cycle_byte).collect(),
        })
    }

    /// How many bytes the body stands for, without producing a cycle's;
    /// `Err` for invalid base64.
    pub fn byte_len(&self) -> Result<usize, base64::DecodeError> {
        match self {
            Body::Text(text) => Ok(text.len()),
            // Bounded by the file's own size.
            Body::Base64 { .. } => self.bytes().map(|bytes| bytes.len()),
            Body::Cycle { cycle } => Ok(*cycle),
        }
    }

    /// Whether `seen` is exactly this body; a cycle is compared byte by
    /// byte against its rule, never produced. `Err` for invalid base64.
    pub fn matches(&self, seen: &[u8]) -> Result<bool, base64::DecodeError> {
        match self {
            Body::Text(text) => Ok(text.as_bytes() == seen),
            Body::Base64 { .. } => self.bytes().map(|bytes| bytes == seen),
            Body::Cycle { cycle } => {
                Ok(seen.len() == *cycle && seen.iter().enumerate().all(|(i, b)| *b == cycle_byte(i)))
            }
        }
    }
}

/// Byte `index` of a `{ cycle = N }` body: 0, 1, …, 255, 0, 1, …
pub const fn cycle_byte(index: usize) -> u8 {
    (index % 256) as u8
}

fn default_method() -> String {
    "GET".to_owned()
}
fn default_true() -> bool {
    true
}
fn default_one() -> usize {
    1
}
fn is_false(b: &bool) -> bool {
    !*b
}
fn is_zero(n: &u64) -> bool {
    *n == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[rstest::rstest]
    #[case::text(Body::Text("héllo".into()), 6)]
    #[case::base64(Body::Base64 { base64: "AAEC".into() }, 3)]
    #[case::cycle_beyond_any_memory(Body::Cycle { cycle: usize::MAX }, usize::MAX)]
    fn sizes_are_computed_without_the_bytes(#[case] body: Body, #[case] len: usize) {
        assert_eq!(body.byte_len(), Ok(len));
    }

    #[test]
    fn every_profile_is_parsed_from_its_own_name_and_no_other() {
        for profile in Profile::ALL {
            assert_eq!(profile.as_str().parse(), Ok(profile));
            assert_eq!(profile.to_string(), profile.as_str());
        }
        let unknown = "RFC9110".parse::<Profile>().unwrap_err();
        assert_eq!(unknown.name, "RFC9110");
        assert_eq!(
            unknown.to_string(),
            "no profile is named `RFC9110`; the profiles are `rfc9110`, `fetch`"
        );
    }

    #[test]
    fn each_profile_s_summary_is_its_documentation() {
        let schema = serde_json::to_value(schemars::schema_for!(Profile)).expect("schema");
        let documented: Vec<&str> = schema["oneOf"]
            .as_array()
            .expect("one schema per profile")
            .iter()
            .map(|variant| variant["description"].as_str().expect("documented"))
            .collect();
        let summaries: Vec<String> = Profile::ALL.iter().map(|p| format!("{}.", p.summary())).collect();
        assert_eq!(documented, summaries);
    }

    #[test]
    fn a_cycle_is_matched_by_its_rule() {
        let bytes: Vec<u8> = (0..600).map(cycle_byte).collect();
        assert_eq!(Body::Cycle { cycle: 600 }.matches(&bytes), Ok(true));
        assert_eq!(Body::Cycle { cycle: 601 }.matches(&bytes), Ok(false));
        assert_eq!(Body::Cycle { cycle: usize::MAX }.matches(&bytes), Ok(false));
        let mut off = bytes.clone();
        off[300] ^= 1;
        assert_eq!(Body::Cycle { cycle: 600 }.matches(&off), Ok(false));
        assert_eq!(Body::Cycle { cycle: 600 }.bytes().as_deref(), Ok(&bytes[..]));
    }
}
