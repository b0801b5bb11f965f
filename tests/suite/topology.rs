//! Latchkey as it runs past one machine, without containers: a PostgreSQL cluster of the test's
//! own, two `latchkey serve` processes with one public URL, and HAProxy (Debian's) in front of
//! them with deploy/haproxy.cfg — the topology of docker-compose.yml. Through the proxy and on
//! each node directly: a sign-in on one node refreshes on the other; a rotated refresh token is
//! refused by both; a disabled user or client, a pushed not-before and a logout-all on one node
//! are honoured by the other at once; logout tokens go out once each with both notifiers running.
//! Then the faults: a node killed (`SIGKILL`) in the middle of a large logout-all, the other
//! finishing it with none lost; PostgreSQL restarted under token load, requests failing fast
//! with 503 meanwhile and the nodes coming back by themselves; a receiver that hangs slowing
//! neither token requests nor other receivers.
//!
//! Needs haproxy and PostgreSQL's server binaries (`initdb`, `pg_ctl`); without them the test
//! says so and passes, unless `LATCHKEY_REQUIRE_TOPOLOGY=1` (CI).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use latchkey_tests::receiver::Receiver;
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

const ADMIN_PASSWORD: &str = "topology-admin-password";

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn binary() -> PathBuf {
    root().join("target/debug/latchkey")
}

fn postgres_bin() -> Option<PathBuf> {
    let mut versions: Vec<PathBuf> =
        std::fs::read_dir("/usr/lib/postgresql").ok()?.flatten().map(|e| e.path()).collect();
    versions.sort();
    versions.pop().map(|v| v.join("bin")).filter(|b| b.join("initdb").exists())
}

fn available() -> bool {
    latchkey_tests::requirements_met(
        "the multi-node test",
        "LATCHKEY_REQUIRE_TOPOLOGY",
        &[
            (Path::new("/usr/sbin/haproxy").exists(), "haproxy (apt-get install haproxy)"),
            (postgres_bin().is_some(), "PostgreSQL's server binaries (apt-get install postgresql)"),
            (binary().exists(), "the server binary (cargo build)"),
        ],
    )
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

fn logs() -> PathBuf {
    let dir = root().join("target/topology");
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Runs a PostgreSQL tool, as the `postgres` user when the test runs as root (initdb refuses
/// root).
fn pg_tool(tool: &str, args: &[&str]) -> std::process::Output {
    let path = postgres_bin().unwrap().join(tool);
    let as_root = Command::new("id").arg("-u").output().map(|o| o.stdout == b"0\n").unwrap_or(false);
    let mut command = if as_root {
        let mut c = Command::new("runuser");
        c.args(["-u", "postgres", "--"]).arg(&path);
        c
    } else {
        Command::new(&path)
    };
    command.args(args).output().unwrap_or_else(|e| panic!("{tool}: {e}"))
}

/// A PostgreSQL cluster of this test's own on a free port: restarting it disturbs no other test.
struct Cluster {
    dir: PathBuf,
    port: u16,
}

impl Cluster {
    fn start() -> Self {
        let dir = std::env::temp_dir().join(format!("latchkey-topology-{}", uuid::Uuid::new_v4().simple()));
        std::fs::create_dir_all(&dir).unwrap();
        let _ = Command::new("chown").args(["postgres", dir.to_str().unwrap()]).status();
        let data = dir.join("data");
        let init = pg_tool("initdb", &["-D", data.to_str().unwrap(), "-A", "trust", "-U", "postgres"]);
        assert!(init.status.success(), "initdb: {}", String::from_utf8_lossy(&init.stderr));
        let cluster = Cluster { dir, port: free_port() };
        cluster.up();
        cluster
    }

    fn up(&self) {
        let options = format!("-p {} -k {} -c listen_addresses=127.0.0.1", self.port, self.dir.display());
        let log = self.dir.join("log");
        let data = self.dir.join("data");
        let out = pg_tool(
            "pg_ctl",
            &["-D", data.to_str().unwrap(), "-o", &options, "-l", log.to_str().unwrap(), "-w", "start"],
        );
        assert!(out.status.success(), "pg_ctl start: {}", String::from_utf8_lossy(&out.stderr));
    }

    fn down(&self) {
        let data = self.dir.join("data");
        let out = pg_tool("pg_ctl", &["-D", data.to_str().unwrap(), "-m", "fast", "-w", "stop"]);
        assert!(out.status.success(), "pg_ctl stop: {}", String::from_utf8_lossy(&out.stderr));
    }

    fn url(&self) -> String {
        format!("postgres://postgres@127.0.0.1:{}/postgres", self.port)
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        let data = self.dir.join("data");
        let _ = pg_tool("pg_ctl", &["-D", data.to_str().unwrap(), "-m", "immediate", "-w", "stop"]);
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// A `latchkey serve` process, killed when dropped.
struct Node {
    name: &'static str,
    child: Child,
    url: String,
}

impl Node {
    async fn start(name: &'static str, public: &str, database: &str) -> Self {
        let port = free_port();
        let log = std::fs::File::create(logs().join(format!("node-{name}.log"))).unwrap();
        let child = Command::new(binary())
            .args(["serve", "--demo", "--listen", &format!("127.0.0.1:{port}"), "--public-url", public])
            .args(["--database-url", database, "--trusted-proxies", "127.0.0.1", "--workers", "2"])
            .env("LATCHKEY_ADMIN_USER", "admin")
            .env("LATCHKEY_ADMIN_PASSWORD", ADMIN_PASSWORD)
            .env("LATCHKEY_LOG_LEVEL", "warn")
            .env_remove("LATCHKEY_CONFIG")
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("latchkey serve starts");
        let node = Node { name, child, url: format!("http://127.0.0.1:{port}") };
        wait_until(&format!("node {name} ready"), Duration::from_secs(30), || async {
            reqwest::get(format!("{}/health/ready", node.url)).await.is_ok_and(|r| r.status() == 200)
        })
        .await;
        node
    }

    fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Node {
    fn drop(&mut self) {
        self.kill();
    }
}

/// HAProxy with deploy/haproxy.cfg, its address and its nodes put in.
struct Proxy {
    child: Child,
}

impl Proxy {
    async fn start(port: u16, nodes: &[&Node]) -> Self {
        let shipped = std::fs::read_to_string(root().join("deploy/haproxy.cfg")).unwrap();
        let mut config = String::new();
        for line in shipped.lines() {
            let trimmed = line.trim_start();
            if trimmed.starts_with("bind ") {
                config.push_str(&format!("    bind 127.0.0.1:{port}\n"));
            } else if trimmed.starts_with("server ") {
                continue;
            } else {
                config.push_str(line);
                config.push('\n');
            }
        }
        for node in nodes {
            config.push_str(&format!("    server latchkey-{} {}\n", node.name, node.url.trim_start_matches("http://")));
        }
        let file = logs().join("haproxy.cfg");
        std::fs::write(&file, config).unwrap();
        let log = std::fs::File::create(logs().join("haproxy.log")).unwrap();
        let child = Command::new("/usr/sbin/haproxy")
            .args(["-db", "-f", file.to_str().unwrap()])
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .expect("haproxy starts");
        let proxy = Proxy { child };
        let url = format!("http://127.0.0.1:{port}/health/ready");
        wait_until("the proxy passes requests", Duration::from_secs(20), || async {
            reqwest::get(&url).await.is_ok_and(|r| r.status() == 200)
        })
        .await;
        proxy
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

async fn wait_until<F, Fut>(what: &str, within: Duration, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = Instant::now() + within;
    while Instant::now() < deadline {
        if check().await {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("waited {within:?} for {what}");
}

fn http() -> reqwest::Client {
    reqwest::Client::builder().timeout(Duration::from_secs(30)).build().unwrap()
}

/// A token request at demo-web on `base`.
async fn token(base: &str, form: &[(&str, &str)]) -> (StatusCode, Value) {
    token_as(base, ("demo-web", "demo-web-secret"), form).await
}

async fn token_as(base: &str, (client, secret): (&str, &str), form: &[(&str, &str)]) -> (StatusCode, Value) {
    let answer = http()
        .post(format!("{base}/realms/demo/protocol/openid-connect/token"))
        .basic_auth(client, Some(secret))
        .form(form)
        .send()
        .await
        .unwrap();
    (answer.status(), answer.json().await.unwrap_or(Value::Null))
}

async fn sign_in(base: &str, user: &str) -> Value {
    let password = format!("{user}-password");
    let form = [("grant_type", "password"), ("username", user), ("password", password.as_str()), ("scope", "openid")];
    let (status, body) = token(base, &form).await;
    assert_eq!(status, 200, "sign-in of {user} at {base}: {body}");
    body
}

async fn refresh(base: &str, refresh_token: &str) -> (StatusCode, Value) {
    token(base, &[("grant_type", "refresh_token"), ("refresh_token", refresh_token)]).await
}

async fn introspect(base: &str, token: &str) -> bool {
    introspect_as(base, ("demo-web", "demo-web-secret"), token).await
}

async fn introspect_as(base: &str, (client, secret): (&str, &str), token: &str) -> bool {
    let answer = http()
        .post(format!("{base}/realms/demo/protocol/openid-connect/token/introspect"))
        .basic_auth(client, Some(secret))
        .form(&[("token", token)])
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status(), 200);
    answer.json::<Value>().await.unwrap()["active"] == true
}

async fn admin_token(base: &str) -> String {
    let answer = http()
        .post(format!("{base}/realms/master/protocol/openid-connect/token"))
        .form(&[
            ("grant_type", "password"),
            ("client_id", "admin-cli"),
            ("username", "admin"),
            ("password", ADMIN_PASSWORD),
        ])
        .send()
        .await
        .unwrap();
    answer.json::<Value>().await.unwrap()["access_token"].as_str().unwrap().to_owned()
}

async fn admin(base: &str, token: &str, method: Method, path: &str, body: Option<Value>) -> (StatusCode, Value) {
    let mut request = http().request(method, format!("{base}/admin/realms/demo{path}")).bearer_auth(token);
    if let Some(body) = body {
        request = request.json(&body);
    }
    let answer = request.send().await.unwrap();
    (answer.status(), answer.json().await.unwrap_or(Value::Null))
}

/// Each logout token a receiver got, by `jti`: how many times each came.
fn by_jti(receiver_got: &[latchkey_tests::receiver::Received]) -> BTreeMap<String, usize> {
    use base64::Engine;
    let mut seen = BTreeMap::new();
    for got in receiver_got {
        let Some(token) = got.logout_token() else { continue };
        let payload = token.split('.').nth(1).unwrap();
        let claims: Value =
            serde_json::from_slice(&base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(payload).unwrap()).unwrap();
        *seen.entry(claims["jti"].as_str().unwrap().to_owned()).or_insert(0) += 1;
    }
    seen
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_nodes_behind_a_proxy_on_one_postgresql() {
    if !available() {
        return;
    }
    let cluster = Cluster::start();
    let public_port = free_port();
    let public = format!("http://127.0.0.1:{public_port}");
    let a = Node::start("a", &public, &cluster.url()).await;
    let mut b = Node::start("b", &public, &cluster.url()).await;
    let proxy = Proxy::start(public_port, &[&a, &b]).await;
    let receiver = Receiver::start().await;

    // A sign-in on one node refreshes on the other, and through the proxy; the issuer is the
    // public URL whichever node answers.
    let signed_in = sign_in(&a.url, "alice").await;
    let first = signed_in["refresh_token"].as_str().unwrap().to_owned();
    let (status, rotated) = refresh(&b.url, &first).await;
    assert_eq!(status, 200, "{rotated}");
    let second = rotated["refresh_token"].as_str().unwrap().to_owned();
    let (status, through) = refresh(&public, &second).await;
    assert_eq!(status, 200, "{through}");
    let third = through["refresh_token"].as_str().unwrap().to_owned();
    let payload = third.split('.').nth(1).unwrap();
    use base64::Engine;
    let claims: Value =
        serde_json::from_slice(&base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(payload).unwrap()).unwrap();
    assert_eq!(claims["iss"], format!("{public}/realms/demo"));

    // A rotated refresh token is refused by both; presenting it ended the session everywhere.
    assert_eq!(refresh(&a.url, &first).await.0, StatusCode::BAD_REQUEST);
    assert_eq!(refresh(&b.url, &second).await.0, StatusCode::BAD_REQUEST);
    assert_eq!(refresh(&a.url, &third).await.0, StatusCode::BAD_REQUEST, "the theft signal ended it on every node");

    // A user disabled on one node is refused by the other at once.
    let admin_a = admin_token(&a.url).await;
    let bob = sign_in(&b.url, "bob").await;
    let bob_access = bob["access_token"].as_str().unwrap();
    assert!(introspect(&b.url, bob_access).await);
    let (_, found) = admin(&a.url, &admin_a, Method::GET, "/users?username=bob&exact=true", None).await;
    let bob_id = found[0]["id"].as_str().unwrap().to_owned();
    let (status, _) =
        admin(&a.url, &admin_a, Method::PUT, &format!("/users/{bob_id}"), Some(json!({"enabled": false}))).await;
    assert_eq!(status, 204);
    assert!(!introspect(&b.url, bob_access).await, "disabled on a, refused on b at once");
    assert_eq!(refresh(&b.url, bob["refresh_token"].as_str().unwrap()).await.0, StatusCode::BAD_REQUEST);
    admin(&a.url, &admin_a, Method::PUT, &format!("/users/{bob_id}"), Some(json!({"enabled": true}))).await;

    // A not-before pushed on b is honoured by a at once.
    let carol = sign_in(&a.url, "carol").await;
    let carol_access = carol["access_token"].as_str().unwrap();
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let admin_b = admin_token(&b.url).await;
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs();
    let (status, _) = admin(&b.url, &admin_b, Method::PUT, "", Some(json!({"notBefore": now}))).await;
    assert_eq!(status, 204);
    assert!(!introspect(&a.url, carol_access).await, "not-before set on b, honoured by a at once");
    admin(&b.url, &admin_b, Method::PUT, "", Some(json!({"notBefore": 0}))).await;

    // A client disabled on b: its tokens refused by a at once (asked by a resource server of
    // its own, as demo-web cannot authenticate while disabled).
    let introspector = json!({"clientId": "introspector", "secret": "introspector-secret", "publicClient": false});
    assert_eq!(admin(&b.url, &admin_b, Method::POST, "/clients", Some(introspector)).await.0, 201);
    let (_, found) = admin(&b.url, &admin_b, Method::GET, "/clients?clientId=demo-web", None).await;
    let web_id = found[0]["id"].as_str().unwrap().to_owned();
    let fresh = sign_in(&a.url, "alice").await;
    let fresh_access = fresh["access_token"].as_str().unwrap();
    assert!(introspect_as(&a.url, ("introspector", "introspector-secret"), fresh_access).await);
    let off =
        admin(&b.url, &admin_b, Method::PUT, &format!("/clients/{web_id}"), Some(json!({"enabled": false}))).await;
    assert_eq!(off.0, 204);
    let asked = introspect_as(&a.url, ("introspector", "introspector-secret"), fresh_access).await;
    assert!(!asked, "disabled on b, refused on a at once");
    let on = admin(&b.url, &admin_b, Method::PUT, &format!("/clients/{web_id}"), Some(json!({"enabled": true}))).await;
    assert_eq!(on.0, 204);

    // The demo application's back-channel logout goes to the receiver.
    let (_, web) = admin(&a.url, &admin_a, Method::GET, "/clients?clientId=demo-web", None).await;
    let web_id = web[0]["id"].as_str().unwrap().to_owned();
    let bcl = json!({"attributes": {"backchannel.logout.url": receiver.url("/bcl")}});
    let (status, _) = admin(&a.url, &admin_a, Method::PUT, &format!("/clients/{web_id}"), Some(bcl)).await;
    assert_eq!(status, 204);

    // Logout-all through the proxy: every session announced once, both notifiers running.
    for i in 0..30 {
        let base = [&a.url, &b.url, &public][i % 3];
        sign_in(base, ["alice", "bob", "carol"][i % 3]).await;
    }
    let (status, _) = admin(&public, &admin_a, Method::POST, "/logout-all", None).await;
    assert_eq!(status, 200);
    // The 30 (carol's and alice's earlier sessions lost demo-web with its disable).
    receiver.wait_for(30, Duration::from_secs(30)).await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    let seen = by_jti(&receiver.received());
    assert_eq!(seen.len(), 30, "every session announced");
    assert!(seen.values().all(|n| *n == 1), "each logout token once: {seen:?}");
    let (_, listed) = http()
        .get(format!("{}/admin/realms/demo/ui-ext/sessions", b.url))
        .bearer_auth(&admin_b)
        .send()
        .await
        .map(|r| (r.status(), r.headers().get("x-total-count").map(|v| v.to_str().unwrap().to_owned())))
        .unwrap();
    assert_eq!(listed.as_deref(), Some("0"), "b lists none right after the logout-all on a");
    receiver.clear();

    // Fault: an application whose back-channel endpoint accepts connections and never answers.
    // It holds at most 24 of a node's 32 delivery slots, and after its first timeouts its other
    // messages are put off (retried later): token requests stay quick, and another application
    // is told at once.
    let hanging = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let hanging_url = format!("http://{}/bcl", hanging.local_addr().unwrap());
    let held = tokio::spawn(async move {
        let mut open = Vec::new();
        while let Ok((socket, _)) = hanging.accept().await {
            open.push(socket);
        }
    });
    let slow = json!({"clientId": "slow-app", "secret": "slow-app-secret", "publicClient": false,
        "directAccessGrantsEnabled": true, "attributes": {"backchannel.logout.url": hanging_url}});
    let (status, _) = admin(&a.url, &admin_a, Method::POST, "/clients", Some(slow)).await;
    assert_eq!(status, 201);
    for i in 0..40 {
        let user = ["alice", "bob", "carol"][i % 3];
        let password = format!("{user}-password");
        let form = [("grant_type", "password"), ("username", user), ("password", password.as_str())];
        assert_eq!(token_as(&a.url, ("slow-app", "slow-app-secret"), &form).await.0, 200);
    }
    for user in ["alice", "bob", "carol", "alice", "bob"] {
        sign_in(&b.url, user).await;
    }
    let (status, _) = admin(&a.url, &admin_a, Method::POST, "/logout-all", None).await;
    assert_eq!(status, 200);
    let told = Instant::now();
    let mut refresh_token = sign_in(&a.url, "carol").await["refresh_token"].as_str().unwrap().to_owned();
    let mut slowest = Duration::ZERO;
    for i in 0..30 {
        let started = Instant::now();
        let (status, body) = refresh(if i % 2 == 0 { &a.url } else { &b.url }, &refresh_token).await;
        slowest = slowest.max(started.elapsed());
        assert_eq!(status, 200, "{body}");
        refresh_token = body["refresh_token"].as_str().unwrap().to_owned();
    }
    receiver.wait_for(5, Duration::from_secs(20)).await;
    let waited = told.elapsed();
    eprintln!("with a hanging receiver: the other told in {waited:?}; slowest refresh {slowest:?}");
    assert_eq!(by_jti(&receiver.received()).len(), 5, "demo-web was told of its five");
    assert!(waited < Duration::from_secs(3), "demo-web waited {waited:?}");
    assert!(slowest < Duration::from_secs(1), "token requests stayed quick: {slowest:?}");
    held.abort();
    receiver.clear();

    // Fault: PostgreSQL restarted under token load. Meanwhile requests fail fast with 503 (no
    // hang, no 500), the nodes reconnect by themselves, and no rotation that was answered is
    // lost: the last refresh token answered still works afterwards.
    let first = sign_in(&a.url, "alice").await["refresh_token"].as_str().unwrap().to_owned();
    let nodes = [a.url.clone(), b.url.clone()];
    let load = tokio::spawn(async move {
        let (mut latest, mut answers) = (first, Vec::new());
        let until = Instant::now() + Duration::from_secs(9);
        let mut i = 0;
        while Instant::now() < until {
            let started = Instant::now();
            let (status, body) = refresh(&nodes[i % 2], &latest).await;
            answers.push((status, started.elapsed()));
            if status == StatusCode::OK {
                latest = body["refresh_token"].as_str().unwrap().to_owned();
            }
            i += 1;
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        (latest, answers)
    });
    tokio::time::sleep(Duration::from_secs(1)).await;
    cluster.down();
    tokio::time::sleep(Duration::from_secs(3)).await;
    cluster.up();
    let (latest, answers) = load.await.unwrap();
    let unavailable = answers.iter().filter(|(s, _)| *s == StatusCode::SERVICE_UNAVAILABLE).count();
    let slowest = answers.iter().map(|(_, took)| *took).max().unwrap();
    let mut by_status: BTreeMap<u16, usize> = BTreeMap::new();
    for (status, _) in &answers {
        *by_status.entry(status.as_u16()).or_insert(0) += 1;
    }
    eprintln!("under a PostgreSQL restart: {} requests by status {by_status:?}, slowest {slowest:?}", answers.len());
    assert!(by_status.keys().all(|s| [200, 503].contains(s)), "only answers or 503: {by_status:?}");
    assert!(unavailable > 0, "the outage was seen");
    assert!(slowest < Duration::from_secs(5), "no request hung: {slowest:?}");
    assert_eq!(answers.last().unwrap().0, StatusCode::OK, "the nodes reconnected by themselves: {by_status:?}");
    for node in [&a.url, &b.url] {
        assert!(reqwest::get(format!("{node}/health/ready")).await.unwrap().status() == 200);
    }
    assert_eq!(refresh(&b.url, &latest).await.0, StatusCode::OK, "the last answered rotation was kept");

    // Fault: node b killed in the middle of a large logout-all; node a finishes ending and
    // announcing it, none lost. A message b had sent but not yet recorded is sent again with
    // the same jti (receivers deduplicate by it), once its claim's lease has run out.
    let seeded = Command::new(binary())
        .args(["seed", "--realm", "demo", "--users", "50", "--sessions", "3000", "--offline-percent", "0"])
        .args(["--clients", "demo-web", "--database-url", &cluster.url()])
        .output()
        .unwrap();
    assert!(seeded.status.success(), "seed: {}", String::from_utf8_lossy(&seeded.stderr));
    // Every session still active holding demo-web is to be announced: the 3,000 seeded (started
    // before the last cut-off, so dead already, but not yet ended) and those signed in since.
    let counted = Command::new("psql")
        .args(["-h", "127.0.0.1", "-p", &cluster.port.to_string(), "-U", "postgres", "-tAc"])
        .arg(
            "SELECT count(*) FROM user_sessions s JOIN client_sessions c ON c.user_session_id = s.id \
             JOIN clients k ON k.id = c.client_id WHERE s.state = 'ACTIVE' AND k.client_id = 'demo-web'",
        )
        .output()
        .unwrap();
    let total: usize = String::from_utf8_lossy(&counted.stdout).trim().parse().expect("a count from psql");
    assert!(total > 3000, "the 3,000 seeded and alice's from the restart: {total}");
    let (status, _) = admin(&b.url, &admin_token(&b.url).await, Method::POST, "/logout-all", None).await;
    assert_eq!(status, 200);
    wait_until("b to start announcing", Duration::from_secs(30), || async { !receiver.received().is_empty() }).await;
    b.kill();
    let started = Instant::now();
    wait_until("a to announce every session", Duration::from_secs(150), || async {
        by_jti(&receiver.received()).len() >= total
    })
    .await;
    let seen = by_jti(&receiver.received());
    let again = seen.values().filter(|n| **n > 1).count();
    eprintln!(
        "after b was killed: {} announced in {:.1} s, {again} sent again with the same jti",
        seen.len(),
        started.elapsed().as_secs_f64()
    );
    assert_eq!(seen.len(), total, "none lost");
    assert!(seen.values().all(|n| *n <= 2), "a message is sent again at most once: {again}");
    drop(proxy);
    drop(a);
    drop(cluster);
}
