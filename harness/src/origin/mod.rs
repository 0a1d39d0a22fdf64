//! Scripted origin servers: one listener per case on `127.0.0.1:0` that serves
//! every virtual host of the case (plain HTTP, TLS by first-byte sniffing,
//! forward proxy with absolute-form and CONNECT) and records every hop.

pub mod ca;
mod script;
mod server;

pub use ca::{MintError, TestCa};
pub use server::{Limits, Origin};

#[cfg(test)]
mod test_client;

use serde::{Deserialize, Serialize};

/// The scheme of a hop that is a silent connection: the client connected and
/// waited for the server to speak first (FTP, say), sending no request.
pub const SILENT_SCHEME: &str = "silent";

/// How a request reached the listener.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Arrival {
    /// Origin-form on a connection made straight to the listener (connect-to).
    Direct,
    /// Absolute-form request to the listener as a forward proxy.
    Absolute,
    /// Inside a `CONNECT host:port` tunnel.
    Connect,
}

/// One request as an origin received it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Hop {
    /// 1-based, in arrival order across the whole case.
    pub index: usize,
    /// `http` or `https`: what was sniffed on the wire, never what CONNECT claimed.
    pub scheme: String,
    /// Logical host, normalised (lowercase, no trailing dot; IPv6 without brackets).
    pub host: String,
    /// Logical port (from the absolute-form URI, CONNECT, or `Host`; else the scheme's default).
    pub port: u16,
    pub arrival: Arrival,
    pub method: String,
    /// The request-target exactly as sent.
    pub target: String,
    /// Path and query of the logical URL (origin-form of `target`).
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
    /// `scheme://host[:port]path?query`, with the port only when not the default.
    pub fn url(&self) -> String {
        if self.scheme == SILENT_SCHEME {
            return "(a connection on which the client sent nothing, waiting for the server to speak first)".to_owned();
        }
        let default = if self.scheme == "https" { 443 } else { 80 };
        let host = if self.host.contains(':') {
            format!("[{}]", self.host)
        } else {
            self.host.clone()
        };
        if self.port == default {
            format!("{}://{}{}", self.scheme, host, self.path_and_query)
        } else {
            format!("{}://{}:{}{}", self.scheme, host, self.port, self.path_and_query)
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

/// A host name as origins compare and record it: ASCII-lowercased, one
/// trailing dot dropped, an IPv6 literal without its brackets.
pub fn normalise_host(host: &str) -> String {
    let host = host
        .strip_prefix('[')
        .and_then(|inner| inner.strip_suffix(']'))
        .unwrap_or(host);
    let host = host.strip_suffix('.').unwrap_or(host);
    host.to_ascii_lowercase()
}
