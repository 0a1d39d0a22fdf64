//! HSTS for the reference agent: the Strict-Transport-Security parser
//! (RFC 6797 §6.1) and the Known HSTS Host store (§8.1, §8.2, §8.3).

use std::collections::BTreeMap;
use std::fmt;
use std::time::{Duration, Instant};

use super::request_url::{normalize_host, RequestUrl, Scheme};
use super::Rules;
use crate::case::Profile;
use crate::targets::mutant::Mutant;

/// A valid STS field: what it asks the user agent to note.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StsPolicy {
    pub max_age: u64,
    pub include_subdomains: bool,
}

/// Why an STS field is ignored.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum StsError {
    /// The field does not match the §6.1 grammar at this byte offset.
    Syntax { at: usize },
    /// A directive appears twice (§6.1 item 2).
    Repeated { name: String },
    /// No max-age directive (§6.1.1).
    NoMaxAge,
    /// max-age is not `1*DIGIT` (§6.1.1).
    BadMaxAge { value: String },
    /// includeSubDomains carries a value (§6.1.2: valueless).
    ValuedIncludeSubDomains,
    /// A directive the parser does not know (only the `HstsRejectsUnknownDirectives` mutant).
    Unknown { name: String },
}

impl fmt::Display for StsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StsError::Syntax { at } => write!(f, "not an STS field (byte {at})"),
            StsError::Repeated { name } => write!(f, "directive `{name}` appears twice"),
            StsError::NoMaxAge => f.write_str("no max-age directive"),
            StsError::BadMaxAge { value } => write!(f, "max-age `{value}` is not delta-seconds"),
            StsError::ValuedIncludeSubDomains => f.write_str("includeSubDomains has a value"),
            StsError::Unknown { name } => write!(f, "unknown directive `{name}`"),
        }
    }
}

/// Parser deviations (mutants only).
#[derive(Debug, Clone, Copy, Default)]
pub struct ParseQuirks {
    /// Names match only as spelled `max-age` and `includeSubDomains`.
    pub case_sensitive: bool,
    /// A quoted max-age is invalid.
    pub reject_quoted: bool,
    /// A repeated directive is accepted; the last one counts.
    pub allow_repeats: bool,
    /// Forgiving syntax: split on `;` or `,`, max-age from its leading digits.
    pub lenient: bool,
    /// A missing or unreadable max-age means one year.
    pub default_max_age: bool,
    /// Directives other than max-age and includeSubDomains are errors.
    pub reject_unknown: bool,
    /// Only a single space after `;` is allowed, and no empty directive.
    pub strict_whitespace: bool,
    /// A max-age beyond u64 is an error instead of saturating.
    pub reject_overflow: bool,
    /// A max-age with a leading zero (`060`) is an error.
    pub reject_leading_zeros: bool,
    /// Directives before max-age are skipped.
    pub ignore_before_max_age: bool,
}

/// The max-age a forgiving parser assumes (the `HstsDefaultMaxAge` mutant).
const ASSUMED_MAX_AGE: u64 = 365 * 24 * 3600;

impl ParseQuirks {
    pub fn of(rules: Rules) -> ParseQuirks {
        ParseQuirks {
            case_sensitive: rules.breaks(Mutant::HstsRequiresLowercase),
            reject_quoted: rules.breaks(Mutant::HstsRejectsQuoted),
            allow_repeats: rules.breaks(Mutant::HstsAcceptsDuplicates),
            lenient: rules.breaks(Mutant::HstsLenientSyntax),
            default_max_age: rules.breaks(Mutant::HstsDefaultMaxAge),
            reject_unknown: rules.breaks(Mutant::HstsRejectsUnknownDirectives),
            strict_whitespace: rules.breaks(Mutant::HstsStrictWhitespace),
            reject_overflow: rules.breaks(Mutant::HstsRejectsHugeMaxAge),
            reject_leading_zeros: rules.breaks(Mutant::HstsRejectsLeadingZeros),
            ignore_before_max_age: rules.breaks(Mutant::HstsDirectivesBeforeMaxAgeIgnored),
        }
    }
}

/// Parse one STS field value by the RFC 6797 §6.1 grammar (implied LWS
/// between elements, directives separated by `;`, empty directives allowed).
pub fn parse_sts(value: &str, quirks: ParseQuirks) -> Result<StsPolicy, StsError> {
    let parsed = if quirks.lenient {
        parse_sts_leniently(value)
    } else {
        parse_sts_strictly(value, quirks)
    };
    match parsed {
        Err(StsError::NoMaxAge | StsError::BadMaxAge { .. }) if quirks.default_max_age => {
            // The forgiving reading still honours a well-formed includeSubDomains.
            let include_subdomains = value
                .split(';')
                .any(|d| d.trim().eq_ignore_ascii_case("includesubdomains"));
            Ok(StsPolicy {
                max_age: ASSUMED_MAX_AGE,
                include_subdomains,
            })
        }
        other => other,
    }
}

/// A common forgiving parser (the `HstsLenientSyntax` mutant).
fn parse_sts_leniently(value: &str) -> Result<StsPolicy, StsError> {
    let mut max_age = None;
    let mut include_subdomains = false;
    for directive in value.split([';', ',']) {
        let (name, val) = directive.split_once('=').unwrap_or((directive, ""));
        let name = name.trim();
        if name.eq_ignore_ascii_case("max-age") {
            let digits: String = val
                .trim()
                .trim_matches('"')
                .chars()
                .take_while(char::is_ascii_digit)
                .collect();
            max_age = delta_seconds(&digits).or(max_age);
        } else if name.eq_ignore_ascii_case("includesubdomains") {
            include_subdomains = true;
        }
    }
    Ok(StsPolicy {
        max_age: max_age.ok_or(StsError::NoMaxAge)?,
        include_subdomains,
    })
}

fn parse_sts_strictly(value: &str, quirks: ParseQuirks) -> Result<StsPolicy, StsError> {
    let mut cursor = Cursor {
        text: value.as_bytes(),
        at: 0,
        no_ows: quirks.strict_whitespace,
    };
    let mut seen: Vec<String> = Vec::new();
    let mut max_age = None;
    let mut include_subdomains = false;
    loop {
        if quirks.strict_whitespace && cursor.at > 0 {
            // The one space of `max-age=60; includeSubDomains`.
            cursor.eat(b' ');
        }
        cursor.skip_ows();
        if cursor.done() {
            break;
        }
        if cursor.eat(b';') {
            if quirks.strict_whitespace {
                return Err(StsError::Syntax { at: cursor.at - 1 });
            }
            continue;
        }
        let name = cursor.token().ok_or(StsError::Syntax { at: cursor.at })?;
        cursor.skip_ows();
        let directive_value = if cursor.eat(b'=') {
            cursor.skip_ows();
            match cursor.value() {
                Some(value) => Some(value),
                None if name.eq_ignore_ascii_case("max-age") => {
                    return Err(StsError::BadMaxAge { value: String::new() })
                }
                None => return Err(StsError::Syntax { at: cursor.at }),
            }
        } else {
            None
        };
        cursor.skip_ows();
        if !cursor.done() && !cursor.eat(b';') {
            return Err(StsError::Syntax { at: cursor.at });
        }
        let key = if quirks.case_sensitive {
            name.to_owned()
        } else {
            name.to_ascii_lowercase()
        };
        if seen.contains(&key) && !quirks.allow_repeats {
            return Err(StsError::Repeated { name: name.to_owned() });
        }
        seen.push(key.clone());
        let (max_age_name, isd_name) = if quirks.case_sensitive {
            ("max-age", "includeSubDomains")
        } else {
            ("max-age", "includesubdomains")
        };
        if key == max_age_name {
            let Some((raw, quoted)) = directive_value else {
                return Err(StsError::BadMaxAge { value: String::new() });
            };
            if quoted && quirks.reject_quoted {
                return Err(StsError::BadMaxAge { value: raw });
            }
            let seconds = match delta_seconds(&raw) {
                Some(u64::MAX) if quirks.reject_overflow && raw.parse::<u64>().is_err() => None,
                Some(_) if quirks.reject_leading_zeros && raw.len() > 1 && raw.starts_with('0') => None,
                other => other,
            };
            max_age = Some(seconds.ok_or(StsError::BadMaxAge { value: raw })?);
        } else if key == isd_name {
            if directive_value.is_some() {
                return Err(StsError::ValuedIncludeSubDomains);
            }
            include_subdomains = max_age.is_some() || !quirks.ignore_before_max_age;
        } else if quirks.reject_unknown {
            return Err(StsError::Unknown { name: name.to_owned() });
        }
    }
    let max_age = max_age.ok_or(StsError::NoMaxAge)?;
    Ok(StsPolicy {
        max_age,
        include_subdomains,
    })
}

/// `1*DIGIT`; values too large for u64 saturate (they mean "very long").
fn delta_seconds(text: &str) -> Option<u64> {
    if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    Some(text.parse::<u64>().unwrap_or(u64::MAX))
}

struct Cursor<'a> {
    text: &'a [u8],
    at: usize,
    /// Whitespace is not skipped (the `HstsStrictWhitespace` mutant).
    no_ows: bool,
}

impl<'a> Cursor<'a> {
    fn done(&self) -> bool {
        self.at >= self.text.len()
    }

    fn peek(&self) -> Option<u8> {
        self.text.get(self.at).copied()
    }

    fn eat(&mut self, byte: u8) -> bool {
        if self.peek() == Some(byte) {
            self.at += 1;
            true
        } else {
            false
        }
    }

    fn skip_ows(&mut self) {
        while !self.no_ows && matches!(self.peek(), Some(b' ' | b'\t')) {
            self.at += 1;
        }
    }

    /// `1*tchar` (RFC 9110 §5.6.2).
    fn token(&mut self) -> Option<&'a str> {
        let start = self.at;
        while self.peek().is_some_and(is_tchar) {
            self.at += 1;
        }
        let token = std::str::from_utf8(&self.text[start..self.at]).ok()?;
        (!token.is_empty()).then_some(token)
    }

    /// `token / quoted-string`, unquoted; the flag says it was quoted.
    fn value(&mut self) -> Option<(String, bool)> {
        if !self.eat(b'"') {
            return self.token().map(|t| (t.to_owned(), false));
        }
        let mut out = Vec::new();
        loop {
            match self.peek()? {
                b'"' => {
                    self.at += 1;
                    return Some((String::from_utf8_lossy(&out).into_owned(), true));
                }
                b'\\' => {
                    self.at += 1;
                    let escaped = self.peek()?;
                    if !(escaped == b'\t' || escaped == b' ' || (0x21..=0x7e).contains(&escaped) || escaped >= 0x80) {
                        return None;
                    }
                    out.push(escaped);
                    self.at += 1;
                }
                b @ (b'\t' | b' ' | 0x21 | 0x23..=0x5b | 0x5d..=0x7e | 0x80..=0xff) => {
                    out.push(b);
                    self.at += 1;
                }
                _ => return None,
            }
        }
    }
}

fn is_tchar(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b)
}

/// One Known HSTS Host.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Entry {
    /// `None`: does not expire within any time the process can represent.
    expires: Option<Instant>,
    include_subdomains: bool,
}

/// The Known HSTS Host store of one session, keyed by normalised host name.
#[derive(Debug, Clone, Default)]
pub struct HstsStore {
    entries: BTreeMap<String, Entry>,
}

/// How long a preloaded entry lives: longer than any case.
const PRELOAD_LIFETIME: Duration = Duration::from_secs(10 * 365 * 24 * 3600);

impl HstsStore {
    pub fn new() -> HstsStore {
        HstsStore::default()
    }

    /// Add a preloaded host.
    pub fn preload(&mut self, host: &str, include_subdomains: bool, now: Instant) {
        self.entries.insert(
            normalize_host(host),
            Entry {
                expires: now.checked_add(PRELOAD_LIFETIME),
                include_subdomains,
            },
        );
    }

    /// Note a valid policy received from `host` (§8.1): add, update, or delete
    /// on max-age=0. Only the congruent entry changes (§8.1.1).
    pub fn note(&mut self, host: &str, is_ip: bool, policy: StsPolicy, now: Instant, rules: Rules) {
        if is_ip && !rules.breaks(Mutant::HstsNotesIp) {
            return;
        }
        let host = store_key(host, rules);
        let include_subdomains = policy.include_subdomains && !rules.breaks(Mutant::HstsIgnoresIncludeSubDomains);
        let mut names = vec![host.clone()];
        if rules.breaks(Mutant::HstsSubdomainUpdatesParent) {
            names.extend(
                self.entries
                    .iter()
                    .filter(|(name, e)| e.include_subdomains && is_superdomain(&host, name))
                    .map(|(name, _)| name.clone()),
            );
        }
        for name in names {
            let expires = match policy.max_age {
                0 if rules.breaks(Mutant::HstsIgnoresMaxAgeZero) => None,
                0 => {
                    self.entries.remove(&name);
                    continue;
                }
                _ if rules.breaks(Mutant::HstsKeepsFirstPolicy) && self.entries.contains_key(&name) => continue,
                seconds if rules.breaks(Mutant::HstsMaxAgeInMilliseconds) => {
                    now.checked_add(Duration::from_millis(seconds))
                }
                seconds => now.checked_add(Duration::from_secs(seconds)),
            };
            self.entries.insert(
                name,
                Entry {
                    expires,
                    include_subdomains,
                },
            );
        }
    }

    /// Forget a host (only the `HstsForgetsWithoutHeader` mutant does this).
    pub fn forget(&mut self, host: &str) {
        self.entries.remove(&normalize_host(host));
    }

    /// Whether `host` is a Known HSTS Host at `now` (§8.2): a congruent
    /// entry, or a superdomain entry with includeSubDomains, label-wise.
    /// Expired entries are evicted on the way.
    pub fn is_known(&mut self, host: &str, is_ip: bool, now: Instant, rules: Rules) -> bool {
        if is_ip && !rules.breaks(Mutant::HstsNotesIp) {
            return false;
        }
        if !rules.breaks(Mutant::HstsNoExpiry) {
            self.entries.retain(|_, e| e.expires.is_none_or(|t| t > now));
        }
        let host = store_key(host, rules);
        self.entries.iter().any(|(name, entry)| {
            let covers_subdomains = entry.include_subdomains || rules.breaks(Mutant::HstsSubdomainsWithoutDirective);
            let below = if rules.breaks(Mutant::HstsSuffixMatch) {
                host.len() > name.len() && host.ends_with(name.as_str())
            } else {
                is_superdomain(&host, name)
            };
            let above = rules.breaks(Mutant::HstsMatchesSuperdomain) && is_superdomain(name, &host);
            let sibling = rules.breaks(Mutant::HstsMatchesSiblings)
                && entry.include_subdomains
                && parent_domain(name).is_some_and(|parent| is_superdomain(&host, parent));
            *name == host || (covers_subdomains && below) || above || sibling
        })
    }

    /// Number of live-or-expired entries held.
    #[cfg(test)]
    pub fn len(&self) -> usize {
        self.entries.len()
    }
}

/// The name an entry is kept under: normalised (lowercase, no trailing dot),
/// unless a mutant keeps the case or the dot.
fn store_key(host: &str, rules: Rules) -> String {
    let host = host.trim_start_matches('[').trim_end_matches(']');
    let host = match host.strip_suffix('.') {
        Some(stripped) if !rules.breaks(Mutant::HstsTrailingDotDistinct) => stripped,
        _ => host,
    };
    if rules.breaks(Mutant::HstsCaseSensitiveHost) {
        host.to_owned()
    } else {
        host.to_ascii_lowercase()
    }
}

/// `name` without its first label (`a.h.test` → `h.test`), if it has more than one.
fn parent_domain(name: &str) -> Option<&str> {
    name.split_once('.').map(|(_, parent)| parent).filter(|p| !p.is_empty())
}

/// `name` is a proper superdomain of `host`, label-wise.
fn is_superdomain(host: &str, name: &str) -> bool {
    host.len() > name.len() && host.ends_with(name) && host.as_bytes()[host.len() - name.len() - 1] == b'.'
}

/// The last label is `localhost` (the name is already normalised).
fn is_localhost(host: &str) -> bool {
    host.rsplit('.').next() == Some("localhost")
}

/// §8.3: turn an http URL of a Known HSTS Host into https before it is
/// loaded. Returns whether it did.
pub fn upgrade(url: &mut RequestUrl, store: &mut HstsStore, now: Instant, rules: Rules) -> bool {
    if url.scheme != Scheme::Http || rules.breaks(Mutant::HstsNoUpgrade) {
        return false;
    }
    // Fetch main fetch step 10 never applies HSTS to a host whose public
    // suffix is `localhost`: `localhost` itself and every name below it.
    if rules.profile == Profile::Fetch
        && is_localhost(&url.normalized_host())
        && !rules.breaks(Mutant::HstsUpgradesLocalhostUnderFetch)
    {
        return false;
    }
    if !store.is_known(&url.host, url.host_is_ip(), now, rules) {
        return false;
    }
    url.scheme = Scheme::Https;
    url.port = match url.port {
        Some(80) if rules.breaks(Mutant::HstsKeepsPort80) => Some(80),
        Some(80) => Some(443),
        Some(_) if rules.breaks(Mutant::HstsDropsExplicitPort) => None,
        None if rules.breaks(Mutant::HstsAddsPort443) => Some(443),
        other => other,
    };
    true
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::targets::reference::request_url::Leniency;
    use rstest::rstest;

    fn ok(max_age: u64, include_subdomains: bool) -> Result<StsPolicy, ()> {
        Ok(StsPolicy {
            max_age,
            include_subdomains,
        })
    }

    #[rstest]
    // §6.1.1: max-age is required, delta-seconds.
    #[case::plain("max-age=60", ok(60, false))]
    #[case::zero("max-age=0", ok(0, false))]
    #[case::missing_max_age("includeSubDomains", Err(()))]
    #[case::empty("", Err(()))]
    #[case::max_age_without_value("max-age", Err(()))]
    #[case::max_age_empty_value("max-age=", Err(()))]
    #[case::negative("max-age=-1", Err(()))]
    #[case::fraction("max-age=1.5", Err(()))]
    #[case::letters("max-age=abc", Err(()))]
    #[case::huge_saturates("max-age=99999999999999999999999", ok(u64::MAX, false))]
    // §6.1 item 1: order is not significant.
    #[case::order("includeSubDomains; max-age=60", ok(60, true))]
    // §6.1 item 2: every directive at most once, whatever its case.
    #[case::repeated_max_age("max-age=5; max-age=9", Err(()))]
    #[case::repeated_other_case("max-age=5; MAX-AGE=5", Err(()))]
    #[case::repeated_isd("max-age=5; includeSubDomains; includesubdomains", Err(()))]
    #[case::repeated_unknown("max-age=5; preload; preload", Err(()))]
    // §6.1 item 3: names are case-insensitive.
    #[case::upper("MAX-AGE=60; INCLUDESUBDOMAINS", ok(60, true))]
    // §6.1 item 4: a field not matching the grammar is ignored.
    #[case::unterminated_quote("max-age=5;\"x", Err(()))]
    #[case::comma_list("max-age=5, max-age=6", Err(()))]
    #[case::space_in_value("max-age=5 6", Err(()))]
    #[case::bad_name("max age=5", Err(()))]
    // §6.1 item 5: unknown directives are ignored, with token or quoted values.
    #[case::unknown("max-age=60; foo=\"b;r\"; preload", ok(60, false))]
    #[case::unknown_token("max-age=60; foo=bar", ok(60, false))]
    // §6.1 grammar: implied LWS and empty directives.
    #[case::whitespace("  max-age = 60 ;  includeSubDomains  ", ok(60, true))]
    #[case::empty_directives(";;max-age=60;;", ok(60, false))]
    // §6.1.1 with §6.2: a quoted max-age is unquoted first.
    #[case::quoted("max-age=\"60\"", ok(60, false))]
    #[case::quoted_escape("max-age=\"6\\0\"", ok(60, false))]
    #[case::quoted_non_digit("max-age=\"6 0\"", Err(()))]
    // §6.1.2: includeSubDomains is valueless.
    #[case::isd_with_value("max-age=60; includeSubDomains=1", Err(()))]
    fn sts_fields(#[case] value: &str, #[case] expected: Result<StsPolicy, ()>) {
        assert_eq!(parse_sts(value, ParseQuirks::default()).map_err(|_| ()), expected);
    }

    #[test]
    fn quirks_change_what_parses() {
        let case_sensitive = ParseQuirks {
            case_sensitive: true,
            ..ParseQuirks::default()
        };
        assert!(parse_sts("MAX-AGE=60", case_sensitive).is_err());
        assert_eq!(
            parse_sts("max-age=6; INCLUDESUBDOMAINS", case_sensitive).map(|p| p.include_subdomains),
            Ok(false)
        );
        let reject_quoted = ParseQuirks {
            reject_quoted: true,
            ..ParseQuirks::default()
        };
        assert!(parse_sts("max-age=\"60\"", reject_quoted).is_err());
        let repeats = ParseQuirks {
            allow_repeats: true,
            ..ParseQuirks::default()
        };
        assert_eq!(parse_sts("max-age=5; max-age=9", repeats).map(|p| p.max_age), Ok(9));
        let lenient = ParseQuirks {
            lenient: true,
            ..ParseQuirks::default()
        };
        for field in [
            "max-age=60, includeSubDomains",
            "max-age=1.5",
            "max-age=5 6",
            "max-age=60; foo=\"bar",
        ] {
            assert!(parse_sts(field, lenient).is_ok(), "{field}");
        }
        let default_max_age = ParseQuirks {
            default_max_age: true,
            ..ParseQuirks::default()
        };
        for field in [
            "",
            "max-age",
            "max-age=",
            "max-age=-1",
            "max-age=abc",
            "includeSubDomains",
        ] {
            assert!(parse_sts(field, default_max_age).is_ok(), "{field}");
        }
    }

    const STRICT: Rules = Rules {
        profile: Profile::Rfc9110,
        mutant: None,
    };

    fn policy(max_age: u64, include_subdomains: bool) -> StsPolicy {
        StsPolicy {
            max_age,
            include_subdomains,
        }
    }

    fn known(store: &mut HstsStore, host: &str, now: Instant) -> bool {
        store.is_known(host, false, now, STRICT)
    }

    #[test]
    fn matching_is_congruent_or_labelwise_superdomain() {
        let now = Instant::now();
        let mut store = HstsStore::new();
        store.note("H.test.", false, policy(60, true), now, STRICT);
        assert!(known(&mut store, "h.test", now));
        assert!(known(&mut store, "H.TEST.", now));
        assert!(known(&mut store, "a.b.h.test", now));
        assert!(!known(&mut store, "xh.test", now));
        assert!(!known(&mut store, "test", now));
        store.note("other.test", false, policy(60, false), now, STRICT);
        assert!(known(&mut store, "other.test", now));
        assert!(!known(&mut store, "sub.other.test", now));
    }

    #[test]
    fn later_header_updates_and_zero_deletes() {
        let now = Instant::now();
        let mut store = HstsStore::new();
        store.note("h.test", false, policy(60, true), now, STRICT);
        store.note("h.test", false, policy(60, false), now, STRICT);
        assert!(!known(&mut store, "sub.h.test", now));
        assert!(known(&mut store, "h.test", now));
        store.note("h.test", false, policy(0, false), now, STRICT);
        assert!(!known(&mut store, "h.test", now));
        assert_eq!(store.len(), 0);
    }

    #[test]
    fn a_subdomain_never_changes_its_superdomain() {
        let now = Instant::now();
        let mut store = HstsStore::new();
        store.note("h.test", false, policy(60, true), now, STRICT);
        store.note("sub.h.test", false, policy(0, false), now, STRICT);
        assert!(known(&mut store, "h.test", now));
        assert!(known(&mut store, "other.h.test", now));
        // The superdomain's includeSubDomains still covers the subdomain itself.
        assert!(known(&mut store, "sub.h.test", now));
    }

    #[test]
    fn entries_expire_after_max_age() {
        let now = Instant::now();
        let mut store = HstsStore::new();
        store.note("h.test", false, policy(1, false), now, STRICT);
        assert!(known(&mut store, "h.test", now + Duration::from_millis(999)));
        assert!(!known(&mut store, "h.test", now + Duration::from_secs(1)));
        assert_eq!(store.len(), 0, "the expired entry is evicted");
    }

    #[test]
    fn ip_literals_are_never_noted() {
        let now = Instant::now();
        let mut store = HstsStore::new();
        store.note("127.0.0.1", true, policy(60, false), now, STRICT);
        assert_eq!(store.len(), 0);
        assert!(!store.is_known("127.0.0.1", true, now, STRICT));
    }

    #[test]
    fn preload_fills_the_store() {
        let now = Instant::now();
        let mut store = HstsStore::new();
        store.preload("P.test", true, now);
        assert!(known(
            &mut store,
            "sub.p.test",
            now + Duration::from_secs(365 * 24 * 3600)
        ));
    }

    #[rstest]
    #[case::no_port("http://h.test/x?y#f", "https://h.test/x?y#f")]
    #[case::port_80("http://h.test:80/", "https://h.test:443/")]
    #[case::other_port("http://h.test:8080/", "https://h.test:8080/")]
    #[case::unknown_host("http://other.test/", "http://other.test/")]
    #[case::already_https("https://h.test:80/", "https://h.test:80/")]
    fn upgrade_follows_section_8_3(#[case] before: &str, #[case] after: &str) {
        let now = Instant::now();
        let mut store = HstsStore::new();
        store.preload("h.test", false, now);
        let mut url = RequestUrl::parse(Profile::Rfc9110, before, Leniency::default()).unwrap();
        upgrade(&mut url, &mut store, now, STRICT);
        assert_eq!(url.to_string(), after);
    }

    #[test]
    fn port_mutant_adds_443_to_an_upgraded_url_without_port() {
        let now = Instant::now();
        let mut store = HstsStore::new();
        store.preload("h.test", false, now);
        let adds = Rules {
            profile: Profile::Rfc9110,
            mutant: Some(Mutant::HstsAddsPort443),
        };
        let mut url = RequestUrl::parse(Profile::Rfc9110, "http://h.test/x", Leniency::default()).unwrap();
        upgrade(&mut url, &mut store, now, adds);
        assert_eq!(url.to_string(), "https://h.test:443/x");
        assert_eq!(
            (url.authority(), url.host_header()),
            ("h.test:443".to_owned(), "h.test".to_owned())
        );
    }

    #[test]
    fn fetch_never_upgrades_localhost() {
        let now = Instant::now();
        let mut store = HstsStore::new();
        store.preload("localhost", false, now);
        let fetch = Rules {
            profile: Profile::Fetch,
            mutant: None,
        };
        let mut url = RequestUrl::parse(Profile::Fetch, "http://localhost/", Leniency::default()).unwrap();
        assert!(!upgrade(&mut url, &mut store, now, fetch));
        assert!(upgrade(&mut url, &mut store, now, STRICT));
    }

    #[test]
    fn fetch_never_upgrades_names_below_localhost() {
        let now = Instant::now();
        let mut store = HstsStore::new();
        store.preload("localhost", true, now);
        store.preload("notlocalhost.test", true, now);
        let fetch = Rules {
            profile: Profile::Fetch,
            mutant: None,
        };
        let url = |t| RequestUrl::parse(Profile::Fetch, t, Leniency::default()).unwrap();
        for exempt in ["http://a.localhost/", "http://a.b.LOCALHOST./"] {
            assert!(!upgrade(&mut url(exempt), &mut store, now, fetch), "{exempt}");
            assert!(upgrade(&mut url(exempt), &mut store, now, STRICT), "{exempt}");
        }
        assert!(upgrade(&mut url("http://notlocalhost.test/"), &mut store, now, fetch));
        let broken = Rules {
            profile: Profile::Fetch,
            mutant: Some(Mutant::HstsUpgradesLocalhostUnderFetch),
        };
        assert!(upgrade(&mut url("http://a.localhost/"), &mut store, now, broken));
    }

    #[test]
    fn parser_mutants_reject_what_the_grammar_allows() {
        let quirks = |rules: Rules| ParseQuirks::of(rules);
        let broken = |m| Rules {
            profile: Profile::Rfc9110,
            mutant: Some(m),
        };
        let unknown = quirks(broken(Mutant::HstsRejectsUnknownDirectives));
        assert!(parse_sts("max-age=60; preload", unknown).is_err());
        assert!(parse_sts("max-age=60; includeSubDomains", unknown).is_ok());
        let strict = quirks(broken(Mutant::HstsStrictWhitespace));
        for field in [
            ";;max-age=60;;",
            "max-age = 60",
            "max-age=60 ;includeSubDomains",
            "max-age=60;  preload",
        ] {
            assert!(parse_sts(field, strict).is_err(), "{field}");
        }
        for field in [
            "max-age=60; includeSubDomains",
            "max-age=60;includeSubDomains",
            "max-age=60;",
        ] {
            assert!(parse_sts(field, strict).is_ok(), "{field}");
        }
        let order = quirks(broken(Mutant::HstsDirectivesBeforeMaxAgeIgnored));
        assert_eq!(
            parse_sts("includeSubDomains; max-age=60", order).map_err(|_| ()),
            ok(60, false)
        );
        assert_eq!(
            parse_sts("max-age=60; includeSubDomains", order).map_err(|_| ()),
            ok(60, true)
        );
        let zeros = quirks(broken(Mutant::HstsRejectsLeadingZeros));
        assert!(parse_sts("max-age=060", zeros).is_err());
        assert_eq!(parse_sts("max-age=0", zeros).map(|p| p.max_age), Ok(0));
        let huge = quirks(broken(Mutant::HstsRejectsHugeMaxAge));
        assert!(parse_sts("max-age=99999999999999999999999", huge).is_err());
        assert_eq!(
            parse_sts("max-age=18446744073709551615", huge).map(|p| p.max_age),
            Ok(u64::MAX)
        );
    }

    #[test]
    fn store_mutants_break_names_and_updates() {
        let now = Instant::now();
        let broken = |m| Rules {
            profile: Profile::Rfc9110,
            mutant: Some(m),
        };
        let case = broken(Mutant::HstsCaseSensitiveHost);
        let mut store = HstsStore::new();
        store.note("H.test", false, policy(60, false), now, case);
        assert!(store.is_known("H.test", false, now, case));
        assert!(!store.is_known("h.test", false, now, case));
        let dot = broken(Mutant::HstsTrailingDotDistinct);
        store.note("d.test", false, policy(60, false), now, dot);
        assert!(!store.is_known("d.test.", false, now, dot));
        assert!(known(&mut store, "d.test.", now));
        let siblings = broken(Mutant::HstsMatchesSiblings);
        store.note("a.h.test", false, policy(60, true), now, siblings);
        assert!(store.is_known("b.h.test", false, now, siblings));
        assert!(!known(&mut store, "b.h.test", now));
        let first = broken(Mutant::HstsKeepsFirstPolicy);
        store.note("f.test", false, policy(60, false), now, first);
        store.note("f.test", false, policy(60, true), now, first);
        assert!(!known(&mut store, "sub.f.test", now));
        store.note("f.test", false, policy(0, false), now, first);
        assert!(!known(&mut store, "f.test", now));
    }

    #[test]
    fn mutants_break_matching() {
        let now = Instant::now();
        let suffix = Rules {
            profile: Profile::Rfc9110,
            mutant: Some(Mutant::HstsSuffixMatch),
        };
        let mut store = HstsStore::new();
        store.note("h.test", false, policy(60, true), now, STRICT);
        assert!(store.is_known("xh.test", false, now, suffix));
        let parent = Rules {
            profile: Profile::Rfc9110,
            mutant: Some(Mutant::HstsSubdomainUpdatesParent),
        };
        store.note("sub.h.test", false, policy(0, false), now, parent);
        assert!(!known(&mut store, "h.test", now));
        let no_expiry = Rules {
            profile: Profile::Rfc9110,
            mutant: Some(Mutant::HstsNoExpiry),
        };
        store.note("e.test", false, policy(1, false), now, STRICT);
        assert!(store.is_known("e.test", false, now + Duration::from_secs(5), no_expiry));
        let millis = Rules {
            profile: Profile::Rfc9110,
            mutant: Some(Mutant::HstsMaxAgeInMilliseconds),
        };
        store.note("m.test", false, policy(30, false), now, millis);
        store.note("s.test", false, policy(30, false), now, STRICT);
        assert!(store.is_known("m.test", false, now + Duration::from_millis(29), millis));
        assert!(!store.is_known("m.test", false, now + Duration::from_secs(1), millis));
        assert!(known(&mut store, "s.test", now + Duration::from_secs(1)));
    }
}
