//! What every admin operation's contract says alike, said once here instead of on each
//! handler: the bearer token it needs, and the error answers any of them may give — 401
//! without a valid token, 404 for a realm that does not exist, 413 for a body over the limit,
//! 400 for a body or query string that cannot be read. What differs per operation (the role a
//! 403 names, the missing user or client of a 404, a 409) stays on the handler. And what holds
//! for every string a request carries: no NUL character.

use std::collections::BTreeSet;

use utoipa::openapi::header::HeaderBuilder;
use utoipa::openapi::path::{Operation, ParameterIn, PathItem};
use utoipa::openapi::response::{Response, ResponseBuilder};
use utoipa::openapi::schema::{AdditionalProperties, ArrayItems, ObjectBuilder, SchemaType, Type};
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityRequirement, SecurityScheme};
use utoipa::openapi::{ContentBuilder, OpenApi, Ref, RefOr, Schema};
use utoipa::Modify;

/// Adds the bearer-token security scheme the operations name.
pub struct BearerAuth;

impl Modify for BearerAuth {
    fn modify(&self, openapi: &mut OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .bearer_format("JWT")
                    .description(Some(
                        "An access token from `/realms/{realm}/protocol/openid-connect/token` (e.g. `admin-cli` with the password grant)",
                    ))
                    .build(),
            ),
        );
    }
}

/// Adds to every operation under `/admin/` the bearer requirement and the common error
/// answers (see the module's description). Runs on the whole document, once the routes have
/// added their operations.
pub struct CommonAnswers;

impl Modify for CommonAnswers {
    fn modify(&self, openapi: &mut OpenApi) {
        for (path, item) in openapi.paths.paths.iter_mut().filter(|(path, _)| path.starts_with("/admin/")) {
            let in_a_realm = path.starts_with("/admin/realms/{realm}");
            for operation in operations(item) {
                operation
                    .security
                    .get_or_insert_with(|| vec![SecurityRequirement::new("bearer", Vec::<String>::new())]);
                let reads_query =
                    operation.parameters.iter().flatten().any(|p| matches!(p.parameter_in, ParameterIn::Query));
                let reads_body = operation.request_body.is_some();
                let answers = &mut operation.responses.responses;
                answers.entry("401".into()).or_insert_with(unauthorized);
                if in_a_realm {
                    answers.entry("404".into()).or_insert_with(|| error("No such realm"));
                }
                if reads_body {
                    answers.entry("400".into()).or_insert_with(|| error("The body is not JSON of this shape"));
                    answers.entry("413".into()).or_insert_with(|| error("The body is larger than 1 MiB"));
                }
                if reads_query {
                    answers
                        .entry("400".into())
                        .or_insert_with(|| error("A query parameter cannot be read or is out of its range"));
                }
            }
        }
    }
}

fn operations(item: &mut PathItem) -> impl Iterator<Item = &mut Operation> {
    [&mut item.get, &mut item.put, &mut item.post, &mut item.delete, &mut item.patch].into_iter().flatten()
}

fn error_builder(description: &str) -> ResponseBuilder {
    let body = ContentBuilder::new().schema(Some(Ref::from_schema_name("ErrorBody"))).build();
    ResponseBuilder::new().description(description).content("application/json", body)
}

fn error(description: &str) -> RefOr<Response> {
    error_builder(description).build().into()
}

fn unauthorized() -> RefOr<Response> {
    let challenge = HeaderBuilder::new()
        .schema(utoipa::openapi::schema::ObjectBuilder::new().schema_type(Type::String))
        .description(Some("`Bearer realm=\"latchkey\"`"))
        .build();
    error_builder("No valid token: none, expired, or issued to a client the admin API does not accept")
        .header("WWW-Authenticate", challenge)
        .build()
        .into()
}

/// A string without the NUL character.
pub const NO_NUL: &str = r"^[^\u0000]*$";

/// Gives every string a request carries — query parameters, and the values and keys of request
/// bodies — that has no pattern, format or enum of its own the pattern [`NO_NUL`]: the server
/// refuses NUL everywhere ([`crate::body`], [`crate::query`]), as PostgreSQL cannot store it.
/// Only schemas that requests alone use are reached.
pub struct NoNul;

impl Modify for NoNul {
    fn modify(&self, openapi: &mut OpenApi) {
        let mut referenced = BTreeSet::new();
        for item in openapi.paths.paths.values_mut() {
            for operation in operations(item) {
                let queries = operation.parameters.iter_mut().flatten();
                for parameter in queries.filter(|p| matches!(p.parameter_in, ParameterIn::Query)) {
                    parameter.schema.iter_mut().for_each(|s| without_nul(s, &mut referenced));
                }
                let bodies = operation.request_body.iter_mut().flat_map(|b| b.content.values_mut());
                bodies.flat_map(|c| c.schema.iter_mut()).for_each(|s| without_nul(s, &mut referenced));
            }
        }
        let Some(components) = openapi.components.as_mut() else { return };
        let mut done = BTreeSet::new();
        while let Some(name) = referenced.iter().find(|n| !done.contains(*n)).cloned() {
            done.insert(name.clone());
            if let Some(schema) = components.schemas.get_mut(&name) {
                without_nul(schema, &mut referenced);
            }
        }
    }
}

/// Adds [`NO_NUL`] throughout `schema`; collects the names of the components it refers to.
fn without_nul(schema: &mut RefOr<Schema>, referenced: &mut BTreeSet<String>) {
    let schema = match schema {
        RefOr::Ref(reference) => {
            referenced.extend(reference.ref_location.rsplit('/').next().map(str::to_owned));
            return;
        }
        RefOr::T(schema) => schema,
    };
    match schema {
        Schema::Object(object) => {
            let free = object.pattern.is_none() && object.format.is_none() && object.enum_values.is_none();
            if free && is_string(&object.schema_type) {
                object.pattern = Some(NO_NUL.to_owned());
            }
            object.properties.values_mut().for_each(|p| without_nul(p, referenced));
            if let Some(AdditionalProperties::RefOr(values)) = object.additional_properties.as_deref_mut() {
                without_nul(values, referenced);
                let keys = ObjectBuilder::new().schema_type(Type::String).pattern(Some(NO_NUL)).build();
                object.property_names = Some(Box::new(keys.into()));
            }
        }
        Schema::Array(array) => {
            if let ArrayItems::RefOrSchema(items) = &mut array.items {
                without_nul(items, referenced);
            }
        }
        Schema::AllOf(all) => all.items.iter_mut().for_each(|s| without_nul(s, referenced)),
        Schema::OneOf(one) => one.items.iter_mut().for_each(|s| without_nul(s, referenced)),
        Schema::AnyOf(any) => any.items.iter_mut().for_each(|s| without_nul(s, referenced)),
        _ => {}
    }
}

fn is_string(kind: &SchemaType) -> bool {
    match kind {
        SchemaType::Type(t) => *t == Type::String,
        SchemaType::Array(types) => types.contains(&Type::String),
        SchemaType::AnyValue => false,
    }
}

/// The path parameters of the admin API, declared once for the OpenAPI document.
pub mod path {
    use utoipa::IntoParams;

    /// `{realm}`.
    #[derive(IntoParams)]
    #[into_params(parameter_in = Path)]
    pub struct InRealm {
        /// Realm name
        #[param(example = "demo")]
        pub realm: String,
    }

    /// `{realm}` and a client's `{id}`.
    #[derive(IntoParams)]
    #[into_params(parameter_in = Path)]
    pub struct ClientIn {
        /// Realm name
        #[param(example = "demo")]
        pub realm: String,
        /// Client UUID
        #[param(example = "3f1b6a52-8d2e-4d55-9a0e-7c1d2e3f4a5b")]
        pub id: uuid::Uuid,
    }

    /// `{realm}` and a user's `{id}`.
    #[derive(IntoParams)]
    #[into_params(parameter_in = Path)]
    pub struct UserIn {
        /// Realm name
        #[param(example = "demo")]
        pub realm: String,
        /// User id
        #[param(example = "8f6ad3c4-3a4c-4a41-9a62-55f1c3e0b1a2")]
        pub id: uuid::Uuid,
    }
}
