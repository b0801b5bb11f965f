//! A real HTTP receiver for notifications: it listens on a port of its own, records every
//! request, answers with the status it is told to, and checks logout tokens the way a relying
//! party must (OIDC Back-Channel Logout 1.0, section 2.6) — against the realm's JWKS with the
//! `openidconnect` crate's keys, not Latchkey's own code.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU16, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use actix_web::dev::ServerHandle;
use actix_web::{web, App, HttpRequest, HttpResponse, HttpServer};
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use base64::Engine;
use openidconnect::core::{CoreJsonWebKeySet, CoreJwsSigningAlgorithm};
use openidconnect::JsonWebKey;
use serde_json::Value;

/// One request the receiver got.
#[derive(Debug, Clone)]
pub struct Received {
    pub path: String,
    pub content_type: String,
    pub body: String,
}

impl Received {
    /// The `logout_token` of a back-channel logout request.
    pub fn logout_token(&self) -> Option<String> {
        url::form_urlencoded::parse(self.body.as_bytes())
            .find(|(k, _)| k == "logout_token")
            .map(|(_, v)| v.into_owned())
    }
}

pub struct Receiver {
    pub address: SocketAddr,
    received: Arc<Mutex<Vec<Received>>>,
    status: Arc<AtomicU16>,
    handle: ServerHandle,
}

async fn record(
    req: HttpRequest,
    body: web::Bytes,
    received: web::Data<Arc<Mutex<Vec<Received>>>>,
    status: web::Data<Arc<AtomicU16>>,
) -> HttpResponse {
    let code = status.load(Ordering::SeqCst);
    if code == 200 {
        received.lock().unwrap().push(Received {
            path: req.path().to_owned(),
            content_type: req.headers().get("content-type").and_then(|v| v.to_str().ok()).unwrap_or("").to_owned(),
            body: String::from_utf8_lossy(&body).into_owned(),
        });
    }
    HttpResponse::build(actix_web::http::StatusCode::from_u16(code).unwrap()).finish()
}

impl Receiver {
    /// A receiver on a free port of 127.0.0.1.
    pub async fn start() -> Self {
        Self::start_on("127.0.0.1:0".parse().unwrap()).await
    }

    /// A receiver on this address (to come back where a receiver was down).
    pub async fn start_on(address: SocketAddr) -> Self {
        let received = Arc::new(Mutex::new(Vec::new()));
        let status = Arc::new(AtomicU16::new(200));
        let (r, s) = (received.clone(), status.clone());
        let server = HttpServer::new(move || {
            App::new()
                .app_data(web::Data::new(r.clone()))
                .app_data(web::Data::new(s.clone()))
                .default_service(web::to(record))
        })
        .workers(1)
        .disable_signals()
        .bind(address)
        .expect("the receiver binds");
        let address = server.addrs()[0];
        let server = server.run();
        let handle = server.handle();
        tokio::spawn(server);
        Receiver { address, received, status, handle }
    }

    /// A free address nothing listens on (yet).
    pub fn vacant_address() -> SocketAddr {
        std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap()
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{}", self.address, path)
    }

    /// Answers every request with `status` from now on (503 plays a broken application).
    pub fn answer(&self, status: u16) {
        self.status.store(status, Ordering::SeqCst);
    }

    pub fn received(&self) -> Vec<Received> {
        self.received.lock().unwrap().clone()
    }

    /// Forgets what arrived so far.
    pub fn clear(&self) {
        self.received.lock().unwrap().clear();
    }

    /// Waits until at least `count` requests arrived (or `within` passes) and returns them all.
    pub async fn wait_for(&self, count: usize, within: Duration) -> Vec<Received> {
        let deadline = tokio::time::Instant::now() + within;
        loop {
            let got = self.received();
            if got.len() >= count || tokio::time::Instant::now() >= deadline {
                return got;
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
    }

    pub async fn stop(self) {
        self.handle.stop(false).await;
    }
}

/// Checks a logout token as a relying party must and returns its claims: signed by a key of
/// `jwks` (RS256 or ES256), `typ` `logout+jwt`, the issuer and audience expected, `iat`,
/// `exp` in the future, `jti`, the back-channel logout event, `sub` or `sid`, and no `nonce`.
pub fn verify_logout_token(token: &str, jwks: &Value, issuer: &str, audience: &str) -> Value {
    let parts: Vec<&str> = token.split('.').collect();
    assert_eq!(parts.len(), 3, "a compact JWS");
    let header: Value = serde_json::from_slice(&B64.decode(parts[0]).unwrap()).unwrap();
    assert_eq!(header["typ"], "logout+jwt", "{header}");
    let alg = match header["alg"].as_str().unwrap() {
        "RS256" => CoreJwsSigningAlgorithm::RsaSsaPkcs1V15Sha256,
        "ES256" => CoreJwsSigningAlgorithm::EcdsaP256Sha256,
        other => panic!("unexpected alg {other}"),
    };
    let set: CoreJsonWebKeySet = serde_json::from_value(jwks.clone()).unwrap();
    let kid = header["kid"].as_str().expect("a kid");
    let key =
        set.keys().iter().find(|k| k.key_id().is_some_and(|id| id.as_str() == kid)).expect("the kid is in the JWKS");
    let message = format!("{}.{}", parts[0], parts[1]);
    key.verify_signature(&alg, message.as_bytes(), &B64.decode(parts[2]).unwrap()).expect("the signature verifies");

    let claims: Value = serde_json::from_slice(&B64.decode(parts[1]).unwrap()).unwrap();
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs() as i64;
    assert_eq!(claims["iss"], issuer, "{claims}");
    assert_eq!(claims["aud"], audience, "{claims}");
    assert!(claims["iat"].as_i64().unwrap() <= now + 5, "{claims}");
    assert!(claims["exp"].as_i64().unwrap() > now, "{claims}");
    assert!(claims["jti"].is_string(), "{claims}");
    assert_eq!(
        claims["events"]["http://schemas.openid.net/event/backchannel-logout"],
        serde_json::json!({}),
        "{claims}"
    );
    assert!(claims["sub"].is_string() || claims["sid"].is_string(), "{claims}");
    assert!(claims.get("nonce").is_none(), "{claims}");
    claims
}
