//! What a token response costs in signatures, against the signing floor.
//!
//! - `floor/*`: one raw signature of a 300-byte message per algorithm, through `aws-lc-rs` (what the
//!   provider uses) and, for RS256, through RustCrypto's `rsa` crate (what `openidconnect`'s own
//!   RSA key type uses) for comparison.
//! - `token_set/*`: a whole token response's signing work — access token and ID token with the
//!   realm's algorithm, refresh token with HMAC — claims serialization and base64 included.
//!
//! `cargo bench -p latchkey-lifecycle --bench signing`; results are in `docs/benchmarks.md`.

use criterion::{black_box, criterion_group, criterion_main, Criterion, Throughput};
use latchkey_domain::{RealmId, Timestamp};
use latchkey_lifecycle::jose;
use latchkey_lifecycle::keys::{generate, Alg};
use serde_json::json;
use uuid::Uuid;

fn keys(alg: Alg) -> latchkey_lifecycle::keys::SigningKey {
    latchkey_lifecycle::keys::parse_signing_key(&generate(alg, RealmId::new(), Timestamp::from_secs(1)).unwrap())
        .unwrap()
}

fn floor(c: &mut Criterion) {
    let message = vec![b'x'; 300];
    let mut group = c.benchmark_group("floor");
    group.throughput(Throughput::Elements(1));
    for (name, alg) in [("rs256_aws_lc", Alg::Rs256), ("es256_aws_lc", Alg::Es256), ("hs256_aws_lc", Alg::Hs256)] {
        let key = keys(alg);
        group.bench_function(name, |b| b.iter(|| key.sign(black_box(&message)).unwrap()));
    }
    let rsa_key = rsa::RsaPrivateKey::new(&mut rand::thread_rng(), 2048).unwrap();
    group.bench_function("rs256_rustcrypto_rsa", |b| {
        b.iter(|| {
            use sha2::Digest;
            let digest = sha2::Sha256::digest(black_box(&message));
            rsa_key.sign(rsa::Pkcs1v15Sign::new::<sha2::Sha256>(), &digest).unwrap()
        })
    });
    group.finish();
}

fn token_set(c: &mut Criterion) {
    let hmac = keys(Alg::Hs256);
    let mut group = c.benchmark_group("token_set");
    group.throughput(Throughput::Elements(1));
    for (name, alg) in [("rs256", Alg::Rs256), ("es256", Alg::Es256)] {
        let key = keys(alg);
        group.bench_function(name, |b| {
            b.iter(|| {
                let now = 1_795_000_000;
                let sid = Uuid::new_v4().to_string();
                let access = json!({"exp": now + 300, "iat": now, "jti": Uuid::new_v4().to_string(),
                    "iss": "https://id.example.com/realms/demo", "aud": "demo-web", "sub": Uuid::new_v4().to_string(),
                    "typ": "Bearer", "azp": "demo-web", "sid": sid, "session_state": sid, "scope": "openid profile email",
                    "preferred_username": "alice", "email": "alice@example.com",
                    "resource_access": {"realm-management": {"roles": ["view-users"]}}});
                let access_token = jose::sign(&key, "JWT", &access).unwrap();
                let id = json!({"exp": now + 300, "iat": now, "iss": "https://id.example.com/realms/demo",
                    "aud": "demo-web", "sub": access["sub"], "typ": "ID", "azp": "demo-web", "sid": sid,
                    "nonce": "n-0S6_WzA2Mj", "at_hash": jose::at_hash(&access_token), "preferred_username": "alice"});
                let id_token = jose::sign(&key, "JWT", &id).unwrap();
                let refresh = json!({"exp": now + 1800, "iat": now, "jti": Uuid::new_v4().to_string(),
                    "iss": "https://id.example.com/realms/demo", "aud": "https://id.example.com/realms/demo",
                    "sub": access["sub"], "typ": "Refresh", "azp": "demo-web", "sid": sid, "scope": "openid"});
                let refresh_token = jose::sign(&hmac, "JWT", &refresh).unwrap();
                black_box((access_token, id_token, refresh_token))
            })
        });
    }
    group.finish();
}

criterion_group!(benches, floor, token_set);
criterion_main!(benches);
