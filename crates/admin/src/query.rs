//! Query strings as the admin API reads them: one extractor whose every refusal is a JSON 400
//! naming the parameter, and the value readers its parameter types use.

use std::future::{ready, Ready};

use actix_web::dev::Payload;
use actix_web::{FromRequest, HttpRequest};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Deserializer};

use crate::error::ApiError;

/// The query string read into `T`. A value that cannot be read, or a required parameter that
/// is missing, is a 400 in the admin API's error shape, naming the parameter.
#[derive(Debug)]
pub struct Query<T>(pub T);

impl<T> std::ops::Deref for Query<T> {
    type Target = T;

    fn deref(&self) -> &T {
        &self.0
    }
}

impl<T: DeserializeOwned> FromRequest for Query<T> {
    type Error = ApiError;
    type Future = Ready<Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        ready(parse(req.query_string()).map(Query))
    }
}

/// Reads a query string into `T`; see [`Query`]. No name or value may hold the NUL
/// character, which PostgreSQL cannot compare with.
pub fn parse<T: DeserializeOwned>(query: &str) -> Result<T, ApiError> {
    if let Some((name, _)) =
        form_urlencoded::parse(query.as_bytes()).find(|(k, v)| k.contains('\0') || v.contains('\0'))
    {
        return Err(ApiError::BadRequest(format!("{name}: must not contain the NUL character")));
    }
    let pairs = serde_urlencoded::Deserializer::new(form_urlencoded::parse(query.as_bytes()));
    serde_path_to_error::deserialize(pairs).map_err(|err| {
        let parameter = err.path().to_string();
        let reason = err.into_inner();
        ApiError::BadRequest(match parameter.as_str() {
            "." => format!("the query string cannot be read: {reason}"),
            _ => format!("{parameter}: {reason}"),
        })
    })
}

/// A boolean query parameter: `true` or `false` in any case, as Keycloak (JAX-RS) reads them —
/// python-keycloak sends `exact=True`. Anything else, an empty value too, is refused.
pub fn flag<'de, D: Deserializer<'de>>(d: D) -> Result<Option<bool>, D::Error> {
    let raw: Option<String> = Option::deserialize(d)?;
    match raw.as_deref() {
        None => Ok(None),
        Some(v) if v.eq_ignore_ascii_case("true") => Ok(Some(true)),
        Some(v) if v.eq_ignore_ascii_case("false") => Ok(Some(false)),
        Some(v) => Err(serde::de::Error::custom(format!("'{v}' is not true or false"))),
    }
}

/// A whole-number query parameter (`first`, `max`): decimal digits with an optional `-`,
/// nothing else — not an empty value, not a space.
pub fn number<'de, D: Deserializer<'de>>(d: D) -> Result<Option<i64>, D::Error> {
    let raw: Option<String> = Option::deserialize(d)?;
    let Some(raw) = raw else { return Ok(None) };
    let digits = raw.strip_prefix('-').unwrap_or(&raw);
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Err(serde::de::Error::custom(format!("'{raw}' is not a whole number")));
    }
    raw.parse().map(Some).map_err(|_| serde::de::Error::custom(format!("{raw} is out of range")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, serde::Deserialize)]
    struct Q {
        #[serde(default, deserialize_with = "super::flag")]
        exact: Option<bool>,
        #[serde(default, deserialize_with = "super::number")]
        max: Option<i64>,
        #[serde(rename = "clientId")]
        #[allow(dead_code)]
        client_id: Option<String>,
    }

    #[derive(Debug, serde::Deserialize)]
    #[allow(dead_code)]
    struct Required {
        #[serde(rename = "clientId")]
        client_id: String,
    }

    fn flag_of(query: &str) -> Result<Option<bool>, String> {
        parse::<Q>(query).map(|q| q.exact).map_err(|e| e.to_string())
    }

    fn max_of(query: &str) -> Result<Option<i64>, String> {
        parse::<Q>(query).map(|q| q.max).map_err(|e| e.to_string())
    }

    #[test]
    fn booleans_in_any_case_and_nothing_else() {
        assert_eq!(flag_of("exact=True"), Ok(Some(true)));
        assert_eq!(flag_of("exact=TRUE"), Ok(Some(true)));
        assert_eq!(flag_of("exact=false"), Ok(Some(false)));
        assert_eq!(flag_of(""), Ok(None));
        assert_eq!(flag_of("exact=yes").unwrap_err(), "exact: 'yes' is not true or false");
        assert_eq!(flag_of("exact=").unwrap_err(), "exact: '' is not true or false");
    }

    #[test]
    fn numbers_are_digits_and_the_parameter_is_named() {
        assert_eq!(max_of("max=10"), Ok(Some(10)));
        assert_eq!(max_of("max=-1"), Ok(Some(-1)));
        assert_eq!(max_of(""), Ok(None));
        for bad in ["max=AAA", "max=", "max=+5", "max=%201", "max=1.0"] {
            assert!(max_of(bad).unwrap_err().starts_with("max: '"), "{bad}");
        }
        assert_eq!(max_of("max=9223372036854775808").unwrap_err(), "max: 9223372036854775808 is out of range");
        assert!(parse::<Required>("").unwrap_err().to_string().contains("missing field `clientId`"));
        assert_eq!(
            parse::<Q>("clientId=a%00b").unwrap_err().to_string(),
            "clientId: must not contain the NUL character"
        );
    }
}
