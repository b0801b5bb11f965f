//! Metrics: every request timed by route pattern, and `/metrics` served for Prometheus on an
//! address of its own (`metrics_listen`), never on the public one. What is measured is
//! `latchkey_lifecycle::metrics`.

use std::net::{SocketAddr, TcpListener};
use std::sync::Arc;
use std::time::Instant;

use actix_web::body::MessageBody;
use actix_web::dev::{Server, ServiceRequest, ServiceResponse};
use actix_web::middleware::Next;
use actix_web::{web, App, HttpResponse, HttpServer};
use latchkey_lifecycle::Lifecycle;
use serde_json::json;

use crate::app::StartError;

/// Times each request under its route's pattern (`unmatched` for a path no route knows).
pub async fn measure(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    let started = Instant::now();
    let life = req.app_data::<web::Data<Lifecycle>>().cloned();
    let method = req.method().as_str().to_owned();
    let answer = next.call(req).await;
    if let Some(life) = life {
        let (route, status) = match &answer {
            Ok(res) => (res.request().match_pattern(), res.status().as_u16()),
            Err(e) => (None, e.as_response_error().status_code().as_u16()),
        };
        let route = route.unwrap_or_else(|| "unmatched".to_owned());
        life.metrics.request(&route, &method, status, started.elapsed());
    }
    answer
}

async fn scrape(life: web::Data<Lifecycle>) -> HttpResponse {
    match life.render_metrics().await {
        Ok(text) => HttpResponse::Ok().content_type(latchkey_lifecycle::metrics::CONTENT_TYPE).body(text),
        Err(error) => {
            tracing::warn!(%error, "the metrics could not be read");
            HttpResponse::ServiceUnavailable().json(
                json!({"error": "unavailable", "error_description": format!("the metrics could not be read: {error}")}),
            )
        }
    }
}

/// The metrics server on `addr`, one worker: `GET /metrics`, and 404 for anything else.
pub fn serve(addr: SocketAddr, life: Arc<Lifecycle>) -> Result<(Server, SocketAddr), StartError> {
    let listener = TcpListener::bind(addr).map_err(|source| StartError::Bind { addr, source })?;
    let bound = listener.local_addr().map_err(|source| StartError::Bind { addr, source })?;
    let life = web::Data::from(life);
    let server = HttpServer::new(move || {
        App::new().app_data(life.clone()).route("/metrics", web::get().to(scrape)).default_service(web::to(|| async {
            HttpResponse::NotFound()
                .json(json!({"error": "not_found", "error_description": "only GET /metrics is served here"}))
        }))
    })
    .workers(1)
    .disable_signals()
    .listen(listener)
    .map_err(|source| StartError::Bind { addr: bound, source })?
    .run();
    Ok((server, bound))
}
