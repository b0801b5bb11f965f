//! Serves the built admin console at `/console/`: its files as they are, and `index.html` for
//! every other path below it, so the console's own addresses (`/console/demo/sessions?…`)
//! survive a reload. A strict Content-Security-Policy: the console's own scripts and
//! WebAssembly, calls to this origin only.

use std::path::{Path, PathBuf};

use actix_files::{Files, NamedFile};
use actix_web::dev::{fn_service, ServiceRequest, ServiceResponse};
use actix_web::http::header;
use actix_web::{web, HttpResponse};

const CSP: &str = "default-src 'self'; script-src 'self' 'wasm-unsafe-eval'; style-src 'self'; img-src 'self' data:; \
                   connect-src 'self'; frame-ancestors 'none'; base-uri 'self'; form-action 'self'";

pub fn configure(cfg: &mut web::ServiceConfig, dir: Option<&Path>) {
    let Some(dir) = dir else {
        cfg.route("/console{tail:.*}", web::get().to(not_built));
        return;
    };
    let index = dir.join("index.html");
    let front = index.clone();
    // `NormalizePath` trims trailing slashes, so `/console/` arrives as `/console`.
    cfg.service(
        web::scope("/console")
            .wrap(
                actix_web::middleware::DefaultHeaders::new()
                    .add((header::CONTENT_SECURITY_POLICY, CSP))
                    .add((header::X_CONTENT_TYPE_OPTIONS, "nosniff"))
                    .add((header::CACHE_CONTROL, "no-cache")),
            )
            .route(
                "",
                web::get().to(move || {
                    let front = front.clone();
                    async move { NamedFile::open_async(front).await }
                }),
            )
            .service(Files::new("/", dir).default_handler(fn_service(move |req: ServiceRequest| {
                let index: PathBuf = index.clone();
                async move {
                    let (req, _) = req.into_parts();
                    let file = NamedFile::open_async(&index).await?;
                    let answer = file.into_response(&req);
                    Ok(ServiceResponse::new(req, answer))
                }
            }))),
    );
}

async fn not_built() -> HttpResponse {
    HttpResponse::NotFound().json(serde_json::json!({
        "error": "not_found",
        "error_description": "The admin console is not built: run scripts/console, or pass --console-dir",
    }))
}
