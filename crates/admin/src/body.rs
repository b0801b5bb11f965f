//! JSON bodies as the admin API reads them: actix's JSON extractor (its limit and its errors
//! are set by [`crate::error::json_config`]), and then no string of what was read — value or
//! key — may hold the NUL character, which PostgreSQL cannot store. The contract says so
//! with a pattern on every such string (see [`crate::contract::NoNul`]).

use std::future::Future;
use std::pin::Pin;

use actix_web::dev::Payload;
use actix_web::{web, FromRequest, HttpRequest};
use serde::de::DeserializeOwned;
use serde::Serialize;
use serde_json::Value;

use crate::error::ApiError;

/// A JSON body of type `T`, without NUL characters in its strings.
#[derive(Debug)]
pub struct Json<T>(pub T);

impl<T> Json<T> {
    pub fn into_inner(self) -> T {
        self.0
    }
}

impl<T> std::ops::Deref for Json<T> {
    type Target = T;

    fn deref(&self) -> &T {
        &self.0
    }
}

impl<T: DeserializeOwned + Serialize + 'static> FromRequest for Json<T> {
    type Error = actix_web::Error;
    type Future = Pin<Box<dyn Future<Output = Result<Self, actix_web::Error>>>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let read = web::Json::<T>::from_request(req, payload);
        Box::pin(async move {
            let body = read.await?.into_inner();
            let value = serde_json::to_value(&body).map_err(|e| ApiError::Internal(e.to_string()))?;
            match nul_at(&value, "") {
                Some(field) => Err(ApiError::BadRequest(format!("{field}: must not contain the NUL character")).into()),
                None => Ok(Json(body)),
            }
        })
    }
}

/// Where in `value` a string or key holds NUL (`credentials[0].value`, `attributes`), if anywhere.
pub fn nul_at(value: &Value, at: &str) -> Option<String> {
    let name = |at: &str| if at.is_empty() { "body".to_owned() } else { at.to_owned() };
    match value {
        Value::String(s) if s.contains('\0') => Some(name(at)),
        Value::Array(items) => items.iter().enumerate().find_map(|(i, item)| nul_at(item, &format!("{at}[{i}]"))),
        Value::Object(fields) => fields.iter().find_map(|(key, field)| {
            let path = if at.is_empty() { key.clone() } else { format!("{at}.{key}") };
            if key.contains('\0') {
                Some(name(at))
            } else {
                nul_at(field, &path)
            }
        }),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::nul_at;

    #[test]
    fn nul_is_found_in_values_and_keys_and_named() {
        assert_eq!(nul_at(&json!({"a": "x", "b": [1, "y"]}), ""), None);
        assert_eq!(nul_at(&json!({"displayName": "a\u{0}b"}), ""), Some("displayName".into()));
        let credentials = json!({"credentials": [{"value": "ok"}, {"value": "\u{0}"}]});
        assert_eq!(nul_at(&credentials, ""), Some("credentials[1].value".into()));
        assert_eq!(nul_at(&json!({"attributes": {"k\u{0}": "v"}}), ""), Some("attributes".into()));
        assert_eq!(nul_at(&json!(["view-users", "\u{0}"]), ""), Some("[1]".into()));
    }
}
