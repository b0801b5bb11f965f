//! The URLs clients register and present: redirect URIs, post-logout redirect URIs, web
//! origins and notification endpoints. Matching parses both sides — never a raw string prefix,
//! which lets `https://app.example.com*` admit `https://app.example.com.evil.net` — and refuses
//! what a browser or server could read differently from this check: userinfo, dot segments
//! (encoded or not), encoded slashes, backslashes and fragments.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use url::{Host, Url};

use crate::DomainError;

/// The scheme, host and port of a URL, and the raw text of its path.
fn parse_clean(value: &str) -> Option<Url> {
    if value.contains(['\\', '#']) || value.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return None;
    }
    let (scheme, rest) = value.split_once("://")?;
    if !matches!(scheme, "http" | "https") {
        return None;
    }
    let authority_end = rest.find(['/', '?']).unwrap_or(rest.len());
    if rest[..authority_end].contains('@') || authority_end == 0 {
        return None;
    }
    let raw_path = rest[authority_end..].split('?').next().unwrap_or_default();
    if raw_path.split('/').any(is_dot_segment) || has_encoded_separator(raw_path) {
        return None;
    }
    let url = Url::parse(value).ok()?;
    let clean = url.username().is_empty() && url.password().is_none() && url.fragment().is_none();
    (clean && url.host_str().is_some()).then_some(url)
}

/// `.` or `..`, however it is percent-encoded (`%2e`, `%2E`).
fn is_dot_segment(segment: &str) -> bool {
    let decoded = segment.to_ascii_lowercase().replace("%2e", ".");
    decoded == "." || decoded == ".."
}

/// `%2f` or `%5c`: a slash the server would not see but a later decoder would.
fn has_encoded_separator(raw_path: &str) -> bool {
    let lower = raw_path.to_ascii_lowercase();
    lower.contains("%2f") || lower.contains("%5c")
}

fn same_origin(a: &Url, b: &Url) -> bool {
    a.scheme() == b.scheme() && a.host_str() == b.host_str() && a.port_or_known_default() == b.port_or_known_default()
}

/// A registered redirect URI: an absolute URL, or one whose last path segment is a lone `*`
/// (`https://app.example.com/cb/*`): then any path under it matches, with any query.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RedirectPattern {
    Exact(Url),
    Under(Url),
}

impl RedirectPattern {
    /// Parses an absolute registered redirect URI (relative ones are resolved by the caller).
    pub fn parse(value: &str) -> Option<RedirectPattern> {
        match value.strip_suffix("/*") {
            Some(prefix) => {
                let url = parse_clean(&format!("{prefix}/"))?;
                (url.query().is_none()).then_some(RedirectPattern::Under(url))
            }
            None if value.contains('*') => None,
            None => parse_clean(value).map(RedirectPattern::Exact),
        }
    }

    /// Whether a presented redirect URI is allowed by this pattern.
    pub fn matches(&self, candidate: &str) -> bool {
        let Some(url) = parse_clean(candidate) else { return false };
        match self {
            RedirectPattern::Exact(registered) => url == *registered,
            RedirectPattern::Under(base) => {
                let dir = base.path();
                same_origin(&url, base) && (url.path().starts_with(dir) || url.path() == dir.trim_end_matches('/'))
            }
        }
    }
}

/// Checks a redirect URI an administrator registers. A path alone (`/console/*`) is allowed;
/// it is resolved against the client's root URL or the server's own URL.
pub fn check_redirect_uri(field: &'static str, value: &str) -> Result<(), DomainError> {
    let absolute = if value.starts_with('/') && !value.starts_with("//") {
        format!("http://relative.invalid{value}")
    } else {
        value.to_owned()
    };
    if RedirectPattern::parse(&absolute).is_none() {
        return Err(DomainError::invalid(
            field,
            format!(
                "'{value}' is not a usable redirect URI: an absolute http(s) URL (or a path) without userinfo, \
                 fragment or dot segments, with a wildcard only as a whole last path segment ('/cb/*')"
            ),
        ));
    }
    Ok(())
}

/// Checks an endpoint URL (root, admin, back-channel logout): absolute http(s), no userinfo,
/// no dot segments, no fragment, no wildcard.
pub fn check_url(field: &'static str, value: &str) -> Result<Url, DomainError> {
    if value.contains('*') {
        return Err(DomainError::invalid(field, format!("'{value}' must not contain a wildcard")));
    }
    parse_clean(value).ok_or_else(|| {
        DomainError::invalid(
            field,
            format!("'{value}' is not an absolute http(s) URL without userinfo, fragment or dot segments"),
        )
    })
}

/// Checks a web origin: `+` (the redirect URIs' origins) or `scheme://host[:port]` alone.
pub fn check_origin(field: &'static str, value: &str) -> Result<(), DomainError> {
    if value == "+" {
        return Ok(());
    }
    let bad = || {
        DomainError::invalid(field, format!("'{value}' is not an origin: '+' or scheme://host[:port], nothing more"))
    };
    parse_clean(value).ok_or_else(bad)?;
    let after_scheme = value.split_once("://").map_or("", |(_, rest)| rest);
    match after_scheme.find(['/', '?']) {
        None => Ok(()),
        Some(end) if &after_scheme[end..] == "/" => Ok(()),
        Some(_) => Err(bad()),
    }
}

/// Where notifications (back-channel logout, adapter calls) may be sent. An administrator who
/// can set a client's URLs must not be able to make the server call the cloud metadata
/// address, its own loopback services or the private network behind it — nor learn from the
/// outcome which of them answer.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TargetPolicy {
    /// Loopback and private ranges are allowed (an operator's choice; `--demo` makes it).
    /// Link-local, unspecified, multicast and broadcast addresses never are.
    pub allow_private: bool,
}

impl TargetPolicy {
    /// Checks an address a notification would connect to.
    pub fn check_ip(&self, ip: IpAddr) -> Result<(), String> {
        let ip = match ip {
            IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(IpAddr::V6(v6), IpAddr::V4),
            v4 => v4,
        };
        let (never, private) = match ip {
            IpAddr::V4(v4) => classify_v4(v4),
            IpAddr::V6(v6) => classify_v6(v6),
        };
        if never {
            return Err(format!("{ip} is a link-local or otherwise unroutable address; notifications never go there"));
        }
        if private && !self.allow_private {
            return Err(format!(
                "{ip} is a loopback or private address; the server's configuration does not allow notifications there \
                 (allow_private_targets)"
            ));
        }
        Ok(())
    }

    /// Checks the host of a notification URL as written: an address, or `localhost`. Other
    /// names are checked when they are resolved, at connect time.
    pub fn check_url(&self, url: &Url) -> Result<(), String> {
        match url.host() {
            Some(Host::Ipv4(v4)) => self.check_ip(IpAddr::V4(v4)),
            Some(Host::Ipv6(v6)) => self.check_ip(IpAddr::V6(v6)),
            Some(Host::Domain(name)) => {
                let name = name.trim_end_matches('.').to_ascii_lowercase();
                if name == "localhost" || name.ends_with(".localhost") {
                    self.check_ip(IpAddr::V4(Ipv4Addr::LOCALHOST))
                } else {
                    Ok(())
                }
            }
            None => Err("the URL has no host".into()),
        }
    }
}

/// (never allowed, private) for an IPv4 address.
fn classify_v4(ip: Ipv4Addr) -> (bool, bool) {
    let [a, b, ..] = ip.octets();
    let never = ip.is_link_local() || ip.is_unspecified() || ip.is_multicast() || ip.is_broadcast() || a == 0;
    let private = ip.is_loopback()
        || ip.is_private()
        || (a == 100 && (64..128).contains(&b))
        || (a == 198 && (18..20).contains(&b))
        || a >= 240;
    (never, private)
}

/// (never allowed, private) for an IPv6 address.
fn classify_v6(ip: Ipv6Addr) -> (bool, bool) {
    let first = ip.segments()[0];
    let never = ip.is_unspecified() || ip.is_multicast() || (first & 0xffc0) == 0xfe80;
    let private = ip.is_loopback() || (first & 0xfe00) == 0xfc00 || (first & 0xffc0) == 0xfec0;
    (never, private)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// (registered, presented, allowed)
    const CASES: &[(&str, &str, bool)] = &[
        ("https://app.example.com/cb", "https://app.example.com/cb", true),
        ("https://app.example.com/cb", "https://app.example.com/cb?x=1", false),
        ("https://app.example.com/cb", "https://app.example.com/cb/", false),
        ("https://app.example.com/cb", "https://app.example.com:443/cb", true),
        ("https://app.example.com/cb", "http://app.example.com/cb", false),
        ("https://app.example.com/cb", "https://app.example.com:8443/cb", false),
        ("https://app.example.com/cb", "https://APP.example.com/cb", true),
        ("https://app.example.com/cb", "https://app.example.com/cb#frag", false),
        ("https://app.example.com/*", "https://app.example.com/anything?q=1", true),
        ("https://app.example.com/*", "https://app.example.com", true),
        ("https://app.example.com/*", "https://app.example.com.evil.net/", false),
        ("https://app.example.com/*", "https://app.example.com@evil.net/", false),
        ("https://app.example.com/*", "https://app.example.com:1@evil.net/", false),
        ("https://app.example.com/*", "https://user:pw@app.example.com/", false),
        ("https://app.example.com/*", "https://evil.net\\@app.example.com/", false),
        ("https://app.example.com/*", "https://evil.net/https://app.example.com/", false),
        ("https://app.example.com/*", "//app.example.com/", false),
        ("https://app.example.com/*", "javascript:alert(1)//app.example.com/", false),
        ("https://app.example.com/cb/*", "https://app.example.com/cb/done", true),
        ("https://app.example.com/cb/*", "https://app.example.com/cb", true),
        ("https://app.example.com/cb/*", "https://app.example.com/cbx", false),
        ("https://app.example.com/cb/*", "https://app.example.com/", false),
        ("https://app.example.com/cb/*", "https://app.example.com/cb/../admin", false),
        ("https://app.example.com/cb/*", "https://app.example.com/cb/%2e%2e/admin", false),
        ("https://app.example.com/cb/*", "https://app.example.com/cb/%2E%2E/admin", false),
        ("https://app.example.com/cb/*", "https://app.example.com/cb/.%2e/admin", false),
        ("https://app.example.com/cb/*", "https://app.example.com/cb/./x", false),
        ("https://app.example.com/cb/*", "https://app.example.com/cb/..%2fadmin", false),
        ("https://app.example.com/cb/*", "https://app.example.com/cb/%2fadmin", false),
        ("https://app.example.com/cb/*", "https://app.example.com/cb/x#y", false),
        ("https://app.example.com/cb/*", "https://app.example.com/cb/ x", false),
        ("http://localhost:5173/*", "http://localhost:5173/callback", true),
        ("http://localhost:5173/*", "http://localhost:5174/callback", false),
        ("http://localhost:5173/*", "http://127.0.0.1:5173/callback", false),
    ];

    #[test]
    fn hostile_redirect_uris_are_refused() {
        for (registered, presented, allowed) in CASES {
            let pattern = RedirectPattern::parse(registered).unwrap_or_else(|| panic!("{registered} parses"));
            assert_eq!(pattern.matches(presented), *allowed, "{registered} vs {presented}");
        }
    }

    #[test]
    fn wildcards_only_as_a_whole_last_segment() {
        for bad in [
            "https://app.example.com*",
            "https://app.example.com/cb*",
            "https://*.example.com/",
            "*",
            "https://app.example.com/*/x",
            "https://app.example.com/*?x=1",
        ] {
            assert!(RedirectPattern::parse(bad).is_none(), "{bad}");
            assert!(check_redirect_uri("redirectUris", bad).is_err(), "{bad}");
        }
        for good in
            ["https://app.example.com/*", "https://app.example.com/cb", "/console/*", "http://localhost:3000/callback"]
        {
            assert!(check_redirect_uri("redirectUris", good).is_ok(), "{good}");
        }
    }

    #[test]
    fn origins_are_bare() {
        for good in ["+", "https://app.example.com", "http://localhost:3000", "https://app.example.com/"] {
            assert!(check_origin("webOrigins", good).is_ok(), "{good}");
        }
        for bad in
            ["*", "https://app.example.com/path", "https://u@app.example.com", "app.example.com", "https://a.com?x"]
        {
            assert!(check_origin("webOrigins", bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn notification_targets() {
        let strict = TargetPolicy::default();
        let open = TargetPolicy { allow_private: true };
        for never in ["169.254.169.254", "0.0.0.0", "fe80::1", "::ffff:169.254.169.254", "224.0.0.1", "255.255.255.255"]
        {
            let ip: IpAddr = never.parse().unwrap();
            assert!(strict.check_ip(ip).is_err() && open.check_ip(ip).is_err(), "{never}");
        }
        for private in ["127.0.0.1", "10.1.2.3", "172.16.0.1", "192.168.1.1", "100.100.100.200", "::1", "fd00:ec2::254"]
        {
            let ip: IpAddr = private.parse().unwrap();
            assert!(strict.check_ip(ip).is_err() && open.check_ip(ip).is_ok(), "{private}");
        }
        for public in ["93.184.216.34", "2606:2800:220:1::1"] {
            assert!(strict.check_ip(public.parse().unwrap()).is_ok(), "{public}");
        }
        let localhost = Url::parse("http://LocalHost.:8080/x").unwrap();
        assert!(strict.check_url(&localhost).is_err() && open.check_url(&localhost).is_ok());
        assert!(strict.check_url(&Url::parse("http://[::ffff:a9fe:a9fe]/").unwrap()).is_err());
    }

    #[test]
    fn endpoint_urls_are_clean() {
        assert!(check_url("adminUrl", "https://app.example.com/admin").is_ok());
        for bad in ["https://u:p@app.example.com/", "https://app.example.com/a/../b", "ftp://x/", "https://x/#f"] {
            assert!(check_url("adminUrl", bad).is_err(), "{bad}");
        }
    }
}
