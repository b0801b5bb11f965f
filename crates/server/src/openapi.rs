//! The OpenAPI document, collected from the same registrations that build the routes
//! (`utoipa-actix-web`), so the two cannot drift. `openapi/openapi.json` in the repository is
//! this document, checked by a test.

use actix_web::App;
use utoipa::OpenApi;
use utoipa_actix_web::AppExt;

use crate::error::ErrorBody;
use latchkey_admin::client_settings::PublicClientRule;
use latchkey_admin::contract::NoNul;
use latchkey_admin::{BearerAuth, CommonAnswers};

#[derive(OpenApi)]
#[openapi(
    info(
        title = "Latchkey",
        description = "OpenID Connect identity server with first-class session administration. \
            Its admin API speaks Keycloak's session endpoints and JSON shapes.",
        license(name = "Apache-2.0", identifier = "Apache-2.0")
    ),
    components(schemas(ErrorBody)),
    modifiers(&BearerAuth),
    tags(
        (name = "sessions", description = "Sessions: realm-wide, per client, per user; ending them; revocation"),
        (name = "realms", description = "Realms and their revocation policy"),
        (name = "roles", description = "Admin roles the Keycloak way: the realm-management client's roles and users' role mappings"),
        (name = "health", description = "Liveness and readiness"),
    )
)]
struct ApiDoc;

/// The base document that route registration fills in.
pub fn base() -> utoipa::openapi::OpenApi {
    let mut doc = ApiDoc::openapi();
    doc.openapi = utoipa::openapi::OpenApiVersion::Version31;
    doc
}

/// The whole document, as `/openapi.json` serves it.
pub fn document() -> utoipa::openapi::OpenApi {
    let (_, doc) = App::new().into_utoipa_app().openapi(base()).configure(crate::app::routes).split_for_parts();
    finish(doc)
}

/// Completes the document the routes were collected into: what every admin operation says
/// alike (the bearer token, the common error answers) is added to each, the rule about public
/// clients that no field alone can carry, and the absence of NUL from every request string.
pub fn finish(mut doc: utoipa::openapi::OpenApi) -> utoipa::openapi::OpenApi {
    utoipa::Modify::modify(&CommonAnswers, &mut doc);
    utoipa::Modify::modify(&PublicClientRule, &mut doc);
    utoipa::Modify::modify(&NoNul, &mut doc);
    doc
}

/// The document as committed in `openapi/openapi.json`: pretty JSON with a final newline.
pub fn document_json() -> String {
    let mut json = document().to_pretty_json().expect("the OpenAPI document serializes");
    json.push('\n');
    json
}
