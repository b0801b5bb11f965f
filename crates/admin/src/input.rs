//! What the admin API accepts in ids, numbers, names and URLs, said once for the contract and
//! the server: each pattern here is both the `pattern` of the contract's schema and a rule the
//! server enforces, so a value the contract allows is never refused for its shape, nor one it
//! forbids accepted. The domain's own checks (`latchkey_domain::uri`, names) accept everything
//! these patterns match; the patterns are narrower where the domain would leave room for
//! readings that differ (percent-encodings, IPv6 literals, numeric-looking host names).

use std::sync::LazyLock;

use regex::Regex;
use serde::{Deserialize, Deserializer};
use utoipa::openapi::schema::{ArrayBuilder, ObjectBuilder, SchemaType, Type};
use utoipa::openapi::Schema;
use uuid::Uuid;

use crate::error::ApiError;

/// The characters `char::is_whitespace` or `char::is_control` is true of, as a class body.
macro_rules! space_or_control {
    () => {
        r"\u0000-\u0020\u007f-\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000"
    };
}
/// The characters `char::is_control` is true of, as a class body.
macro_rules! control {
    () => {
        r"\u0000-\u001f\u007f-\u009f"
    };
}
/// A host: a name whose last label begins with a letter (so it is never read as an address),
/// or an IPv4 address.
macro_rules! host {
    () => {
        concat!(r"(?:(?:[A-Za-z0-9]+(?:-[A-Za-z0-9]+)*\.)*[A-Za-z][A-Za-z0-9]*(?:-[A-Za-z0-9]+)*|", ipv4!(), ")")
    };
}
macro_rules! octet {
    () => {
        "(?:25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])"
    };
}
macro_rules! ipv4 {
    () => {
        concat!(octet!(), r"(?:\.", octet!(), "){3}")
    };
}
/// A host a notification may be sent to: as [`host!`], without the addresses the server never
/// calls (`0.0.0.0/8`, link-local `169.254.0.0/16`, multicast and everything from `224.0.0.0`).
macro_rules! notification_host {
    () => {
        concat!(
            r"(?:(?:[A-Za-z0-9]+(?:-[A-Za-z0-9]+)*\.)*[A-Za-z][A-Za-z0-9]*(?:-[A-Za-z0-9]+)*",
            r"|(?:22[0-3]|2[01][0-9]|1[0-57-9][0-9]|16[0-8]|[1-9][0-9]?)(?:\.",
            octet!(),
            "){3}",
            r"|169\.(?:25[0-35]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])(?:\.",
            octet!(),
            "){2})"
        )
    };
}
macro_rules! port {
    () => {
        "(?::(?:6553[0-5]|655[0-2][0-9]|65[0-4][0-9]{2}|6[0-4][0-9]{3}|[1-5][0-9]{4}|[1-9][0-9]{0,3}|0))?"
    };
}
/// A path segment: unreserved and sub-delimiter characters (no `%`, `*`), never `.` or `..`.
macro_rules! segment {
    () => {
        r"/(?:[A-Za-z0-9_~!$&'()+,;=:@-][A-Za-z0-9._~!$&'()+,;=:@-]*|\.[A-Za-z0-9_~!$&'()+,;=:@-][A-Za-z0-9._~!$&'()+,;=:@-]*|\.\.[A-Za-z0-9._~!$&'()+,;=:@-]+)"
    };
}
macro_rules! query {
    () => {
        r"(?:\?[A-Za-z0-9._~!$&'()+,;=:@/?%-]*)?"
    };
}

/// A name (username, clientId): not blank, no control characters, no whitespace at either end.
pub const NAME: &str = concat!("^[^", space_or_control!(), "](?:[^", control!(), "]*[^", space_or_control!(), "])?$");
/// An email address, or empty: one `@` with something on each side, no whitespace or control
/// characters, a domain that neither begins nor ends with `.`.
pub const EMAIL: &str = concat!(
    "^(?:[^@",
    space_or_control!(),
    "]+@[^@.",
    space_or_control!(),
    "](?:[^@",
    space_or_control!(),
    "]*[^@.",
    space_or_control!(),
    "])?)?$"
);
/// A realm name: letters, digits, `-`, `_` and `.`, but not `.` or `..` alone.
pub const REALM_NAME: &str =
    r"^(?:[A-Za-z0-9_-][A-Za-z0-9._-]{0,254}|\.[A-Za-z0-9_-][A-Za-z0-9._-]{0,253}|\.\.[A-Za-z0-9._-]{1,253})$";
/// An endpoint URL (root URL), or empty for none.
pub const URL: &str = concat!("^(?:https?://", host!(), port!(), "(?:", segment!(), ")*/?", query!(), ")?$");
/// A URL the server sends notifications to (admin URL, back-channel logout URL), or empty.
pub const NOTIFICATION_URL: &str =
    concat!("^(?:https?://", notification_host!(), port!(), "(?:", segment!(), ")*/?", query!(), ")?$");
/// A redirect URI: an absolute URL or a path (resolved against the root URL), exact, or ending
/// in `/*` for everything under it.
pub const REDIRECT_URI: &str = concat!(
    "^(?:https?://",
    host!(),
    port!(),
    "(?:(?:",
    segment!(),
    r")*/\*|(?:",
    segment!(),
    ")*/?",
    query!(),
    ")|(?:",
    segment!(),
    r")*/\*|(?:",
    segment!(),
    ")+/?",
    query!(),
    "|/",
    query!(),
    ")$"
);
/// A web origin: `+` (the redirect URIs' origins) or `scheme://host[:port]`.
pub const WEB_ORIGIN: &str = concat!(r"^(?:\+|https?://", host!(), port!(), "/?)$");

fn compiled(pattern: &str) -> Regex {
    Regex::new(pattern).expect("the input patterns compile")
}

static URL_RULE: LazyLock<Regex> = LazyLock::new(|| compiled(URL));
static NOTIFICATION_URL_RULE: LazyLock<Regex> = LazyLock::new(|| compiled(NOTIFICATION_URL));
static REDIRECT_URI_RULE: LazyLock<Regex> = LazyLock::new(|| compiled(REDIRECT_URI));
static WEB_ORIGIN_RULE: LazyLock<Regex> = LazyLock::new(|| compiled(WEB_ORIGIN));

/// The kinds of URL a client carries, each with the pattern it must match.
#[derive(Debug, Clone, Copy)]
pub enum UrlKind {
    Endpoint,
    Notification,
    Redirect,
    Origin,
}

impl UrlKind {
    fn rule(self) -> &'static Regex {
        match self {
            UrlKind::Endpoint => &URL_RULE,
            UrlKind::Notification => &NOTIFICATION_URL_RULE,
            UrlKind::Redirect => &REDIRECT_URI_RULE,
            UrlKind::Origin => &WEB_ORIGIN_RULE,
        }
    }

    fn shape(self) -> &'static str {
        match self {
            UrlKind::Endpoint => "an http(s) URL",
            UrlKind::Notification => "an http(s) URL of a host notifications may go to",
            UrlKind::Redirect => "an http(s) URL or a path, ending in '/*' to allow everything under it",
            UrlKind::Origin => "'+' or scheme://host[:port]",
        }
    }

    /// Refuses a value that does not match this kind's pattern.
    pub fn check(self, field: &str, value: &str) -> Result<(), ApiError> {
        if self.rule().is_match(value) {
            return Ok(());
        }
        Err(ApiError::BadRequest(format!(
            "{field}: '{value}' is not {}: a host name or IPv4 address, an optional port, a path of letters, \
             digits and -._~!$&'()+,;=:@ (no '%', no '.' or '..' segment), no fragment",
            self.shape()
        )))
    }
}

/// An id as the contract spells one (`format: uuid`): 8-4-4-4-12 hexadecimal digits, nothing
/// else (no braces, no `urn:uuid:`, no hyphen-less form) — read as the id type `I` it names.
pub fn id<I: From<Uuid>>(raw: &str) -> Option<I> {
    (raw.len() == 36).then(|| Uuid::try_parse(raw).ok().map(I::from)).flatten()
}

/// A whole number in a JSON body: an integer, or a number with nothing after the point
/// (`300.0`), as Keycloak (Jackson) reads one. `300.5`, or a value outside i64, is refused.
pub fn whole<'de, D: Deserializer<'de>>(d: D) -> Result<Option<i64>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Number {
        Int(i64),
        Float(f64),
    }
    match Option::<Number>::deserialize(d)? {
        None => Ok(None),
        Some(Number::Int(n)) => Ok(Some(n)),
        // i64::MAX as f64 rounds up to 2^63, which is outside; -2^63 is exact and inside.
        Some(Number::Float(f)) if f.fract() == 0.0 && f >= i64::MIN as f64 && f < i64::MAX as f64 => Ok(Some(f as i64)),
        Some(Number::Float(f)) => Err(serde::de::Error::custom(format!("{f} is not a whole number within range"))),
    }
}

fn string(pattern: &str, description: &str) -> ObjectBuilder {
    ObjectBuilder::new().schema_type(Type::String).pattern(Some(pattern)).description(Some(description))
}

fn nullable_string(pattern: &str, description: &str) -> ObjectBuilder {
    string(pattern, description).schema_type(SchemaType::from_iter([Type::String, Type::Null]))
}

/// The schema of a name (clientId, username) of 1 to 255 characters.
pub fn name_schema(description: &str, nullable: bool) -> Schema {
    let builder = if nullable { nullable_string(NAME, description) } else { string(NAME, description) };
    builder.min_length(Some(1)).max_length(Some(255)).into()
}

pub fn realm_name_schema() -> Schema {
    string(REALM_NAME, "Letters, digits, `-`, `_` and `.` (not `.` or `..` alone); unique.")
        .min_length(Some(1))
        .max_length(Some(255))
        .into()
}

pub fn email_schema() -> Schema {
    nullable_string(EMAIL, "At most 320 characters; empty leaves the address as it is.").max_length(Some(320)).into()
}

pub fn root_url_schema() -> Schema {
    nullable_string(URL, "What relative redirect URIs are resolved against; empty for none.").into()
}

pub fn admin_url_schema() -> Schema {
    nullable_string(
        NOTIFICATION_URL,
        "Where Keycloak-style adapters are told of logouts and revocations; empty for none. \
         Loopback and private addresses only where the server allows them (`allow_private_targets`).",
    )
    .into()
}

/// The schema of the back-channel logout URL attribute (a string, never null).
pub fn backchannel_url_schema() -> Schema {
    string(
        NOTIFICATION_URL,
        "OIDC back-channel logout endpoint; empty for none. Loopback and private addresses only \
         where the server allows them (`allow_private_targets`).",
    )
    .into()
}

pub fn redirect_uris_schema() -> Schema {
    ArrayBuilder::new()
        .schema_type(SchemaType::from_iter([Type::Array, Type::Null]))
        .items(string(REDIRECT_URI, "An absolute URL, or a path; `/*` at the end allows every path under it."))
        .description(Some("Where the client may be sent back to after signing in."))
        .into()
}

pub fn web_origins_schema() -> Schema {
    ArrayBuilder::new()
        .schema_type(SchemaType::from_iter([Type::Array, Type::Null]))
        .items(string(WEB_ORIGIN, "`+` for the redirect URIs' origins, or `scheme://host[:port]`."))
        .description(Some("Origins whose browsers may call the token endpoints."))
        .into()
}

#[cfg(test)]
mod tests;
