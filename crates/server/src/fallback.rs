//! Answers for what no route takes, in the same JSON error shape as everything else: a path
//! of the contract asked with a method it does not document gets 405 with `Allow` naming the
//! methods it does; any other path gets 404. A cross-origin call the CORS rules refuse gets a
//! JSON 400 too, instead of the CORS layer's plain text.

use actix_web::body::{EitherBody, MessageBody};
use actix_web::dev::{ResourceDef, ServiceRequest, ServiceResponse};
use actix_web::http::header::{self, HeaderValue};
use actix_web::http::Method;
use actix_web::middleware::Next;
use actix_web::{web, HttpRequest, HttpResponse, ResponseError};
use utoipa::openapi::path::{ParameterIn, PathItem};
use utoipa::openapi::schema::{KnownFormat, SchemaFormat};
use utoipa::openapi::{OpenApi, RefOr, Schema};

use crate::error::ApiError;

/// A UUID path segment, for parameters the contract declares `format: uuid`.
const UUID_SEGMENT: &str = "[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}";

/// Every path template of the contract with the methods it documents.
#[derive(Debug)]
pub struct Paths(Vec<(ResourceDef, Vec<Method>)>);

impl Paths {
    /// The contract's paths. A parameter declared as a UUID matches only a UUID, so
    /// `users/count` is not taken for `users/{id}`.
    pub fn of(doc: &OpenApi) -> Self {
        let table = doc.paths.paths.iter().map(|(template, item)| {
            let mut pattern = template.clone();
            for name in uuid_parameters(item) {
                pattern = pattern.replace(&format!("{{{name}}}"), &format!("{{{name}:{UUID_SEGMENT}}}"));
            }
            (ResourceDef::new(pattern), methods(item))
        });
        Paths(table.collect())
    }

    /// The methods documented for a path, in the order `Allow` lists them; empty for a path
    /// the contract does not have.
    pub fn allowed(&self, path: &str) -> Vec<Method> {
        let matching = self.0.iter().filter(|(def, _)| def.is_match(path));
        let mut allowed: Vec<Method> = matching.flat_map(|(_, methods)| methods.iter().cloned()).collect();
        allowed.sort_by(|a, b| a.as_str().cmp(b.as_str()));
        allowed.dedup();
        allowed
    }
}

fn methods(item: &PathItem) -> Vec<Method> {
    [
        (Method::GET, &item.get),
        (Method::PUT, &item.put),
        (Method::POST, &item.post),
        (Method::DELETE, &item.delete),
        (Method::PATCH, &item.patch),
    ]
    .into_iter()
    .filter(|(_, operation)| operation.is_some())
    .map(|(method, _)| method)
    .collect()
}

/// Names of the path parameters some operation of the path declares `format: uuid`.
fn uuid_parameters(item: &PathItem) -> Vec<String> {
    let operations = [&item.get, &item.put, &item.post, &item.delete, &item.patch];
    let parameters = operations.into_iter().flatten().flat_map(|op| op.parameters.iter().flatten());
    let mut names: Vec<String> = parameters
        .filter(|p| matches!(p.parameter_in, ParameterIn::Path))
        .filter(|p| match &p.schema {
            Some(RefOr::T(Schema::Object(object))) => {
                matches!(object.format, Some(SchemaFormat::KnownFormat(KnownFormat::Uuid)))
            }
            _ => false,
        })
        .map(|p| p.name.clone())
        .collect();
    names.dedup();
    names
}

/// The default service: 405 with `Allow` for a path of the contract asked with another
/// method, else a JSON 404.
pub async fn not_found_or_not_allowed(req: HttpRequest, paths: web::Data<Paths>) -> HttpResponse {
    let allowed = paths.allowed(req.match_info().as_str());
    if allowed.is_empty() {
        return ApiError::NotFound(format!("no resource at {} {}", req.method(), req.path())).error_response();
    }
    let allow = allowed.iter().map(Method::as_str).collect::<Vec<_>>().join(", ");
    let mut answer =
        ApiError::MethodNotAllowed(format!("{} is not allowed here; use {allow}", req.method())).error_response();
    if let Ok(value) = HeaderValue::from_str(&allow) {
        answer.headers_mut().insert(header::ALLOW, value);
    }
    answer
}

/// Middleware around the CORS layer: its refusal (an origin or preflight it does not allow)
/// is answered as a JSON 400, keeping the headers it set.
pub async fn cors_refusals_as_json(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<EitherBody<impl MessageBody>>, actix_web::Error> {
    let answer = next.call(req).await?;
    let Some(refusal) = answer.response().error().and_then(|e| e.as_error::<actix_cors::CorsError>()) else {
        return Ok(answer.map_into_left_body());
    };
    let json = ApiError::BadRequest(refusal.to_string()).error_response();
    let (request, refused) = answer.into_parts();
    let mut json = json.map_into_boxed_body();
    for (name, value) in refused.headers().iter().filter(|(name, _)| *name != header::CONTENT_TYPE) {
        json.headers_mut().append(name.clone(), value.clone());
    }
    Ok(ServiceResponse::new(request, json).map_into_right_body())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn methods_come_from_the_contract() {
        let paths = Paths::of(&crate::openapi::document());
        let allowed = |path: &str| paths.allowed(path).iter().map(|m| m.as_str().to_owned()).collect::<Vec<_>>();
        assert_eq!(allowed("/admin/realms"), ["GET", "POST"]);
        assert_eq!(allowed("/admin/realms/demo"), ["DELETE", "GET", "PUT"]);
        assert_eq!(allowed("/health/live"), ["GET"]);
        assert_eq!(allowed("/admin/realms/demo/users/count"), ["GET"]);
        assert_eq!(allowed("/admin/realms/demo/users/0193a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b"), ["DELETE", "GET", "PUT"]);
        assert!(allowed("/no/such/thing").is_empty());
    }
}
