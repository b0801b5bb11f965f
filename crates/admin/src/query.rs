//! Query-string values as Keycloak reads them.

use serde::{Deserialize, Deserializer};

/// A boolean query parameter: `true` or `false` in any case, as Keycloak (JAX-RS) reads them —
/// python-keycloak sends `exact=True`. Anything else is a 400 naming the value.
pub fn flag<'de, D: Deserializer<'de>>(d: D) -> Result<Option<bool>, D::Error> {
    let raw: Option<String> = Option::deserialize(d)?;
    match raw.as_deref().map(str::trim) {
        None | Some("") => Ok(None),
        Some(v) if v.eq_ignore_ascii_case("true") => Ok(Some(true)),
        Some(v) if v.eq_ignore_ascii_case("false") => Ok(Some(false)),
        Some(v) => Err(serde::de::Error::custom(format!("'{v}' is not true or false"))),
    }
}

#[cfg(test)]
mod tests {
    #[derive(Debug, serde::Deserialize)]
    struct Q {
        #[serde(default, deserialize_with = "super::flag")]
        exact: Option<bool>,
    }

    fn parse(query: &str) -> Result<Option<bool>, String> {
        actix_web::web::Query::<Q>::from_query(query).map(|q| q.exact).map_err(|e| e.to_string())
    }

    #[test]
    fn booleans_in_any_case_and_nothing_else() {
        assert_eq!(parse("exact=True"), Ok(Some(true)));
        assert_eq!(parse("exact=TRUE"), Ok(Some(true)));
        assert_eq!(parse("exact=false"), Ok(Some(false)));
        assert_eq!(parse(""), Ok(None));
        assert!(parse("exact=yes").unwrap_err().contains("'yes' is not true or false"));
    }
}
