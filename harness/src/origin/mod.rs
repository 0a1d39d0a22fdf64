//! Scripted origin servers: one listener per case on `127.0.0.1:0` that serves
//! every virtual host of the case (plain HTTP, TLS by first-byte sniffing,
//! forward proxy with absolute-form and CONNECT) and records every attempt as
//! a hop: requests, silent connections, failed handshakes, unparsable requests.

pub mod ca;
mod io;
mod script;
mod server;

pub use ca::{MintError, TestCa};
pub use io::escape_bytes;
pub use server::{Limits, Origin};

pub use crate::case::HopKind;

#[cfg(test)]
mod test_client;

use serde::{Deserialize, Serialize};

/// How a request reached the listener.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum Arrival {
    /// Origin-form on a connection made straight to the listener (connect-to).
    Direct,
    /// Absolute-form request to the listener as a forward proxy.
    Absolute,
    /// Inside a `CONNECT host:port` tunnel.
    Connect,
}

/// One attempt an origin saw: a request, or a connection that never became
/// one (see [`HopKind`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Hop {
    /// 1-based, in arrival order across the whole case.
    pub index: usize,
    /// What the attempt was; the fields below a kind cannot know stay empty.
    #[serde(default)]
    pub kind: HopKind,
    /// Why an attempt did not become a request (the TLS error, hyper's parse
    /// error), for kinds other than `request`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// The first line of an unparsable request as received, bytes outside
    /// printable ASCII written `\xNN` and a backslash `\\`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub raw: Option<String>,
    /// `http` or `https`: what was sniffed on the wire, never what CONNECT
    /// claimed; empty for a silent connection.
    pub scheme: String,
    /// Logical host as the client spelt it (case and a trailing dot kept;
    /// IPv6 without brackets); compare it through [`normalise_host`].
    pub host: String,
    /// Logical port (from the absolute-form URI, CONNECT, or `Host`; else the scheme's default).
    pub port: u16,
    /// The userinfo (without its `@`) of an absolute-form request-target: a
    /// client that sends one on the wire must be seen doing so (URI-USERINFO-WIRE).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub userinfo: Option<String>,
    pub arrival: Arrival,
    pub method: String,
    /// The request-target exactly as sent.
    pub target: String,
    /// Path and query of the logical URL (origin-form of `target`), with the
    /// fragment when the client sent one on the wire (scripts match without it).
    pub path_and_query: String,
    /// Header fields in the order received; names lowercased (hyper does not keep case).
    pub headers: Vec<(String, String)>,
    #[serde(with = "crate::base64_bytes")]
    pub body: Vec<u8>,
    /// The body was longer than the cap and was cut.
    pub body_truncated: bool,
    /// SNI the client sent, when the hop came over TLS.
    pub sni: Option<String>,
    /// Which connection carried it (per listener, from 1).
    pub connection: u64,
    /// Status the origin answered.
    pub status: u16,
    /// No origin rule matched: the origin answered 404.
    pub unscripted: bool,
}

impl Hop {
    /// A hop of `kind` on `connection` with nothing else known yet.
    pub fn attempt(index: usize, kind: HopKind, connection: u64) -> Hop {
        Hop {
            index,
            kind,
            reason: None,
            raw: None,
            scheme: String::new(),
            host: String::new(),
            port: 0,
            userinfo: None,
            arrival: Arrival::Direct,
            method: String::new(),
            target: String::new(),
            path_and_query: String::new(),
            headers: Vec::new(),
            body: Vec::new(),
            body_truncated: false,
            sni: None,
            connection,
            status: 0,
            unscripted: kind != HopKind::Request,
        }
    }

    /// `scheme://[userinfo@]host[:port]path?query`, with userinfo only when
    /// the client sent it in the request-target and the port only when not
    /// the default; for an attempt that was no request, what it was instead.
    pub fn url(&self) -> String {
        match self.kind {
            HopKind::Request => {}
            HopKind::Silent => {
                let to = self.authority().map(|a| format!(" to {a}")).unwrap_or_default();
                return format!(
                    "(a connection{to} on which the client sent nothing, waiting for the server to speak first)"
                );
            }
            HopKind::TlsFailed => {
                let to = self.authority().map(|a| format!(" for {a}")).unwrap_or_default();
                let sni = match &self.sni {
                    Some(sni) => format!("SNI {sni}"),
                    None => "no SNI".to_owned(),
                };
                let reason = self.reason.as_deref().unwrap_or("failed");
                return format!("(a TLS handshake{to}, {sni}: {reason})");
            }
            HopKind::Unparsable => {
                let raw = self.raw.as_deref().unwrap_or("");
                let reason = self.reason.as_deref().unwrap_or("unparsable");
                return format!("(an unparsable request `{raw}`: {reason})");
            }
        }
        let default = if self.scheme == "https" { 443 } else { 80 };
        let userinfo = self.userinfo.as_ref().map(|u| format!("{u}@")).unwrap_or_default();
        let host = if self.host.contains(':') {
            format!("{userinfo}[{}]", self.host)
        } else {
            format!("{userinfo}{}", self.host)
        };
        if self.port == default {
            format!("{}://{}{}", self.scheme, host, self.path_and_query)
        } else {
            format!("{}://{}:{}{}", self.scheme, host, self.port, self.path_and_query)
        }
    }

    /// `host:port` of an attempt whose host is known (a tunnel, SNI).
    fn authority(&self) -> Option<String> {
        if self.host.is_empty() {
            return None;
        }
        let host = if self.host.contains(':') {
            format!("[{}]", self.host)
        } else {
            self.host.clone()
        };
        Some(format!("{host}:{}", self.port))
    }

    /// One line for people: `METHOD url` for a request, else what the attempt was.
    pub fn summary(&self) -> String {
        match self.kind {
            HopKind::Request => format!("{} {}", self.method, self.url()),
            _ => format!("{} {}", self.kind, self.url()),
        }
    }

    /// Values of a header, by case-insensitive name.
    pub fn header_values<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a str> + 'a {
        self.headers
            .iter()
            .filter(move |(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// A host name as origins route and verdicts compare it, the one
/// normalisation both sides go through: ASCII-lowercased, one trailing dot
/// dropped (`h.` and `h` name the same host), an IPv6 literal without its
/// brackets. Hops record the host as sent; only comparisons normalise.
pub fn normalise_host(host: &str) -> String {
    let host = unbracket(host);
    let host = host.strip_suffix('.').unwrap_or(host);
    host.to_ascii_lowercase()
}

/// An IPv6 literal without its brackets; any other host as it is.
pub fn unbracket(host: &str) -> &str {
    host.strip_prefix('[')
        .and_then(|inner| inner.strip_suffix(']'))
        .unwrap_or(host)
}
