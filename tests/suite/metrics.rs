//! `/metrics` as Prometheus scrapes it: on its own address only, in the text format, with each
//! family the operators' dashboards read, holding values that follow what the server did.

use std::time::Duration;

use latchkey_store::{clients, realms};
use latchkey_tests::receiver::Receiver;
use latchkey_tests::rp::{code_flow, relying_party, Browser};
use latchkey_tests::{backend_tests, TestDb, TestServer};

backend_tests!(metrics_are_scraped_with_every_family_and_sensible_values);

/// The value of the sample `name{labels}` (labels as the text format writes them, in order).
fn sample(text: &str, name: &str, labels: &str) -> Option<f64> {
    let key = if labels.is_empty() { name.to_owned() } else { format!("{name}{{{labels}}}") };
    text.lines().find_map(|line| line.strip_prefix(&key)?.strip_prefix(' ')?.trim().parse().ok())
}

async fn scrape(server: &TestServer) -> String {
    let address = server.metrics_address.expect("metrics are served");
    let answer = reqwest::get(format!("http://{address}/metrics")).await.unwrap();
    assert_eq!(answer.status(), 200);
    let kind = answer.headers()["content-type"].to_str().unwrap().to_owned();
    assert!(kind.starts_with("application/openmetrics-text"), "{kind}");
    let text = answer.text().await.unwrap();
    assert!(text.ends_with("# EOF\n"), "{text}");
    text
}

async fn metrics_are_scraped_with_every_family_and_sensible_values(db: TestDb) {
    let server = TestServer::start_with(&db, |c| {
        c.demo = true;
        c.reaper_interval = Duration::from_millis(200);
        c.metrics_listen = Some("127.0.0.1:0".parse().unwrap());
    })
    .await;
    let receiver = Receiver::start().await;
    let store = db.store().await;
    let demo = realms::find_by_name(store.conn(), "demo").await.unwrap().unwrap();
    let mut web = clients::find_by_client_id(store.conn(), demo.id, "demo-web").await.unwrap().unwrap();
    web.backchannel_logout_url = Some(receiver.url("/bcl"));
    clients::update(store.conn(), &web).await.unwrap();

    // Not on the public address.
    assert_eq!(server.get("/metrics").await.status(), 404);

    // Three sign-ins by password grant, one refused, one unknown grant type, one code flow.
    for user in ["alice", "bob", "carol"] {
        let answer = server
            .password_grant(
                "demo",
                latchkey_tests::calls::ClientAuth::Basic("demo-web", "demo-web-secret"),
                user,
                &format!("{user}-password"),
            )
            .await;
        assert_eq!(answer.status, 200, "{}", answer.body);
    }
    let refused = server
        .password_grant(
            "demo",
            latchkey_tests::calls::ClientAuth::Basic("demo-web", "demo-web-secret"),
            "alice",
            "wrong",
        )
        .await;
    assert_eq!(refused.status, 401);
    // And one person at the sign-in page.
    let rp =
        relying_party(&server, "demo", "demo-web", Some("demo-web-secret"), "http://localhost:3000/callback").await;
    code_flow(&rp, &Browser::new(&server), &["openid"], "alice", "alice-password").await;
    let form = [("grant_type", "device_code")];
    let odd = server
        .http
        .post(server.url("/realms/demo/protocol/openid-connect/token"))
        .basic_auth("demo-web", Some("demo-web-secret"))
        .form(&form)
        .send()
        .await
        .unwrap();
    assert_eq!(odd.status(), 400);

    let text = scrape(&server).await;
    for family in [
        "latchkey_http_request_duration_seconds",
        "latchkey_token_requests",
        "latchkey_sessions_active",
        "latchkey_outbox_backlog",
        "latchkey_db_pool_connections",
        "latchkey_catalog_cache",
        "latchkey_reaper_passes",
        "latchkey_sign_ins",
    ] {
        assert!(text.contains(&format!("# TYPE {family} ")), "{family} missing:\n{text}");
    }
    assert_eq!(sample(&text, "latchkey_sign_ins_total", "outcome=\"success\""), Some(1.0), "{text}");
    assert_eq!(
        sample(&text, "latchkey_token_requests_total", "grant_type=\"password\",outcome=\"success\""),
        Some(3.0),
        "{text}"
    );
    assert_eq!(
        sample(&text, "latchkey_token_requests_total", "grant_type=\"password\",outcome=\"invalid_grant\""),
        Some(1.0),
        "{text}"
    );
    assert_eq!(
        sample(&text, "latchkey_token_requests_total", "grant_type=\"unsupported\",outcome=\"unsupported_grant_type\""),
        Some(1.0),
        "{text}"
    );
    assert_eq!(sample(&text, "latchkey_sessions_active", "realm=\"demo\",type=\"REGULAR\""), Some(4.0), "{text}");
    let token_route = "route=\"/realms/{realm}/protocol/openid-connect/token\",method=\"POST\",status=\"2xx\"";
    assert_eq!(sample(&text, "latchkey_http_request_duration_seconds_count", token_route), Some(4.0), "{text}");
    assert!(!text.contains("realms/demo/protocol"), "paths never become label values");
    assert!(sample(&text, "latchkey_catalog_cache_total", "event=\"hit\"").unwrap_or(0.0) > 0.0, "{text}");
    assert!(sample(&text, "latchkey_db_pool_connections", "state=\"idle\"").is_some(), "{text}");

    // An attacker sending made-up methods to made-up paths adds no series: each label comes
    // from a closed set (`OTHER`, `unmatched`, the status class).
    let series =
        |text: &str| text.lines().filter(|l| l.starts_with("latchkey_http_request_duration_seconds_count")).count();
    let before = series(&text);
    for i in 0..40 {
        let method = reqwest::Method::from_bytes(format!("PROBE{i}X{}", "Y".repeat(200)).as_bytes()).unwrap();
        server.http.request(method, server.url(&format!("/nothing/{i}"))).send().await.unwrap();
    }
    let text = scrape(&server).await;
    assert!(series(&text) <= before + 1, "{text}");
    assert!(!text.contains("PROBE") && !text.contains("/nothing/"), "{text}");
    assert_eq!(
        sample(
            &text,
            "latchkey_http_request_duration_seconds_count",
            "route=\"unmatched\",method=\"OTHER\",status=\"4xx\""
        ),
        Some(40.0),
        "{text}"
    );

    // Logout-all: the reaper ends the four, the notifier delivers four logout tokens.
    let admin = server.admin_token("master", latchkey_tests::ADMIN_USER, latchkey_tests::ADMIN_PASSWORD).await;
    let answer = server.admin_call(Some(&admin), reqwest::Method::POST, "/admin/realms/demo/logout-all", None).await;
    assert_eq!(answer.status, 200);
    receiver.wait_for(4, Duration::from_secs(20)).await;
    let mut text = String::new();
    for _ in 0..100 {
        text = scrape(&server).await;
        if sample(&text, "latchkey_notification_deliveries_total", "outcome=\"delivered\"") == Some(4.0) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(sample(&text, "latchkey_notification_deliveries_total", "outcome=\"delivered\""), Some(4.0), "{text}");
    assert_eq!(sample(&text, "latchkey_sessions_ended_total", "reason=\"REALM_LOGOUT\""), Some(4.0), "{text}");
    assert_eq!(
        sample(&text, "latchkey_sessions_active", "realm=\"demo\",type=\"REGULAR\"").unwrap_or(0.0),
        0.0,
        "{text}"
    );
    assert_eq!(sample(&text, "latchkey_outbox_backlog", ""), Some(0.0), "{text}");
    assert!(sample(&text, "latchkey_reaper_passes_total", "").unwrap_or(0.0) >= 1.0, "{text}");
    assert!(sample(&text, "latchkey_reaper_job_batches_total", "").unwrap_or(0.0) >= 1.0, "{text}");

    // Every metric the shipped dashboard and the documented queries read is one the server
    // writes (after the logout-all every family has samples).
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    for doc in ["docs/grafana-dashboard.json", "docs/metrics.md"] {
        let body = std::fs::read_to_string(root.join(doc)).unwrap();
        let mut names: Vec<&str> = body
            .match_indices("latchkey_")
            .map(|(at, _)| {
                let rest = &body[at..];
                &rest[..rest.find(|c: char| !(c.is_ascii_lowercase() || c == '_')).unwrap_or(rest.len())]
            })
            .collect();
        names.sort_unstable();
        names.dedup();
        assert!(names.len() >= 8, "{doc}: {names:?}");
        for name in names {
            let family = ["_total", "_bucket", "_count", "_sum"]
                .iter()
                .find_map(|suffix| name.strip_suffix(suffix))
                .unwrap_or(name);
            assert!(text.contains(&format!("# TYPE {family} ")), "{doc} reads {name}, which the server does not write");
        }
    }
}
