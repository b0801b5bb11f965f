//! Liveness and readiness, for orchestrators and load balancers.

use actix_web::{get, web, HttpResponse};
use latchkey_store::Store;
use serde::Serialize;
use utoipa::ToSchema;

#[derive(Debug, Clone, Copy, Serialize, ToSchema)]
#[serde(rename_all = "UPPERCASE")]
pub enum Status {
    Up,
    Down,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Check {
    #[schema(example = "database")]
    pub name: String,
    pub status: Status,
}

/// The health of the server, in the shape Keycloak's health endpoints use.
#[derive(Debug, Serialize, ToSchema)]
pub struct Health {
    pub status: Status,
    pub checks: Vec<Check>,
}

/// Liveness: the process is up and answering.
#[utoipa::path(
    tag = "health",
    responses((status = 200, description = "The server is running", body = Health,
        example = json!({"status": "UP", "checks": []})))
)]
#[get("/health/live")]
pub async fn live() -> HttpResponse {
    HttpResponse::Ok().json(Health { status: Status::Up, checks: Vec::new() })
}

/// Readiness: the server can serve requests, which means its database answers.
#[utoipa::path(
    tag = "health",
    responses(
        (status = 200, description = "Ready: the database answers", body = Health,
            example = json!({"status": "UP", "checks": [{"name": "database", "status": "UP"}]})),
        (status = 503, description = "Not ready: the database does not answer", body = Health,
            example = json!({"status": "DOWN", "checks": [{"name": "database", "status": "DOWN"}]})),
    )
)]
#[get("/health/ready")]
pub async fn ready(store: web::Data<Store>) -> HttpResponse {
    let database = match store.ping().await {
        Ok(()) => Status::Up,
        Err(err) => {
            tracing::warn!(%err, "readiness check: database does not answer");
            Status::Down
        }
    };
    let mut answer = match database {
        Status::Up => HttpResponse::Ok(),
        Status::Down => HttpResponse::ServiceUnavailable(),
    };
    answer.json(Health { status: database, checks: vec![Check { name: "database".into(), status: database }] })
}
