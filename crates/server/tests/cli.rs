//! The `latchkey` binary as an operator meets it: help, refusals with clear messages and a
//! non-zero exit, migrate, serve until SIGTERM, and the committed OpenAPI contract.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::mpsc;
use std::time::Duration;

const BIN: &str = env!("CARGO_BIN_EXE_latchkey");

/// A scratch directory, removed on drop.
struct Scratch(PathBuf);

impl Scratch {
    fn new() -> Self {
        let dir = std::env::temp_dir().join(format!("latchkey-cli-{}", uuid::Uuid::new_v4().simple()));
        std::fs::create_dir_all(&dir).unwrap();
        Scratch(dir)
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// `latchkey` with no `LATCHKEY_*` variable inherited from whoever runs the tests.
fn latchkey(dir: &Path) -> Command {
    let mut cmd = Command::new(BIN);
    cmd.current_dir(dir);
    for (key, _) in std::env::vars() {
        if key.starts_with("LATCHKEY_") {
            cmd.env_remove(key);
        }
    }
    cmd
}

fn run(cmd: &mut Command) -> (Output, String) {
    let output = cmd.output().expect("latchkey runs");
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    (output, stderr)
}

#[test]
fn help_explains_commands_settings_and_first_start() {
    let dir = Scratch::new();
    let (out, _) = run(latchkey(&dir.0).arg("--help"));
    assert!(out.status.success());
    let text = String::from_utf8(out.stdout).unwrap();
    for expected in ["serve", "migrate", "export-openapi", "LATCHKEY_ADMIN_USER", "PostgreSQL"] {
        assert!(text.contains(expected), "--help lacks {expected}:\n{text}");
    }
    let (out, _) = run(latchkey(&dir.0).args(["serve", "--help"]));
    let text = String::from_utf8(out.stdout).unwrap();
    for expected in ["--listen", "LATCHKEY_LISTEN", "--database-url", "LATCHKEY_DATABASE_URL", "--demo", "--log-format"]
    {
        assert!(text.contains(expected), "serve --help lacks {expected}:\n{text}");
    }
}

#[test]
fn an_empty_database_without_an_administrator_is_refused() {
    let dir = Scratch::new();
    let (out, stderr) = run(latchkey(&dir.0).arg("serve"));
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("LATCHKEY_ADMIN_USER") && stderr.contains("LATCHKEY_ADMIN_PASSWORD"), "{stderr}");
}

#[test]
fn bad_settings_are_named_and_nothing_starts() {
    let dir = Scratch::new();
    let config = dir.0.join("latchkey.toml");
    std::fs::write(&config, "listen = \"127.0.0.1:0\"\nlisten_address = \"x\"\n").unwrap();
    type Case<'a> = (Vec<&'a str>, Vec<(&'a str, &'a str)>, &'a str);
    let cases: Vec<Case> = vec![
        (vec!["--listen", "localhost"], vec![], "listen address: 'localhost' is not a host:port"),
        (vec![], vec![("LATCHKEY_LOG_FORMAT", "xml")], "log format: 'xml' is not one of"),
        (vec!["--database-url", "mysql://db/x"], vec![], "database URL: invalid database URL"),
        (vec!["--public-url", "ftp://id.example"], vec![], "public URL: 'ftp://id.example' must use http or https"),
        (vec!["--config", "latchkey.toml"], vec![], "unknown field `listen_address`"),
        (vec!["--config", "missing.toml"], vec![], "cannot read the config file missing.toml"),
        (vec!["--workers", "many"], vec![], "workers: must be a whole number"),
        (vec![], vec![("LATCHKEY_ADMIN_USER", "admin")], "set both LATCHKEY_ADMIN_USER and LATCHKEY_ADMIN_PASSWORD"),
        (
            vec!["--database-url", "postgres://nobody:secret-pw@127.0.0.1:1/latchkey"],
            vec![("LATCHKEY_ADMIN_USER", "admin"), ("LATCHKEY_ADMIN_PASSWORD", "pw")],
            "cannot open the database at postgres://nobody:***@127.0.0.1:1/latchkey",
        ),
        (
            vec!["--database-url", "postgres://nobody@127.0.0.1:1/latchkey?password=secret-pw&sslmode=disable"],
            vec![("LATCHKEY_ADMIN_USER", "admin"), ("LATCHKEY_ADMIN_PASSWORD", "pw")],
            "password=***&sslmode=disable",
        ),
        (vec!["--listen", "0.0.0.0:0"], vec![], "public URL: set --public-url"),
    ];
    for (args, env, expected) in cases {
        let (out, stderr) = run(latchkey(&dir.0).arg("serve").args(&args).envs(env.iter().copied()));
        assert_eq!(out.status.code(), Some(1), "{args:?} {env:?}: {stderr}");
        assert!(stderr.contains(expected), "{args:?} {env:?}: expected «{expected}» in:\n{stderr}");
        assert!(!stderr.contains("secret-pw"), "a password reached the output: {stderr}");
        assert!(!stderr.contains("is listening"), "{stderr}");
    }
}

#[test]
fn migrate_applies_pending_migrations_once() {
    let dir = Scratch::new();
    let (out, stderr) = run(latchkey(&dir.0).args(["migrate", "--data-dir", "state"]));
    assert!(out.status.success(), "{stderr}");
    let expected =
        format!("{} migration(s) applied to sqlite://state/latchkey.db\n", latchkey_store::migration_count());
    assert_eq!(String::from_utf8(out.stdout).unwrap(), expected);
    assert!(dir.0.join("state/latchkey.db").exists());
    let (out, _) = run(latchkey(&dir.0).args(["migrate", "--data-dir", "state"]));
    assert_eq!(String::from_utf8(out.stdout).unwrap(), "0 migration(s) applied to sqlite://state/latchkey.db\n");
}

/// A server process, killed and reaped on drop if the test has not stopped it.
struct Running(Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Starts `latchkey serve` and waits for the line saying where it listens.
fn serve(dir: &Path, args: &[&str]) -> (Running, String, mpsc::Receiver<String>) {
    let mut child = latchkey(dir)
        .args(["serve", "--listen", "127.0.0.1:0", "--log-format", "json"])
        .args(args)
        .envs([("LATCHKEY_ADMIN_USER", "admin"), ("LATCHKEY_ADMIN_PASSWORD", "admin-password")])
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let (lines_tx, lines) = mpsc::channel();
    let stderr = child.stderr.take().unwrap();
    let child = Running(child);
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            if lines_tx.send(line).is_err() {
                break;
            }
        }
    });
    loop {
        let line = lines.recv_timeout(Duration::from_secs(60)).expect("the server says where it listens");
        let event: serde_json::Value = serde_json::from_str(&line).unwrap_or_default();
        if event["message"] == "latchkey is listening" {
            assert!(!line.contains("admin-password"), "the password was logged: {line}");
            return (child, event["address"].as_str().unwrap().to_owned(), lines);
        }
    }
}

#[tokio::test]
async fn the_first_administrators_password_can_come_from_a_file() {
    let dir = Scratch::new();
    std::fs::write(dir.0.join("admin-password"), "from-a-file-pw\n").unwrap();
    let mut child = latchkey(&dir.0)
        .args(["serve", "--listen", "127.0.0.1:0", "--log-format", "json", "--admin-password-file", "admin-password"])
        .env("LATCHKEY_ADMIN_USER", "admin")
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stderr = BufReader::new(child.stderr.take().unwrap()).lines();
    let child = Running(child);
    let listening = stderr.by_ref().map_while(Result::ok).find(|l| l.contains("latchkey is listening"));
    std::thread::spawn(move || stderr.for_each(drop)); // keep reading: the server logs on
    let event: serde_json::Value = serde_json::from_str(&listening.expect("the server starts")).unwrap();
    let address = event["address"].as_str().unwrap().to_owned();
    let form =
        [("grant_type", "password"), ("client_id", "admin-cli"), ("username", "admin"), ("password", "from-a-file-pw")];
    let url = format!("http://{address}/realms/master/protocol/openid-connect/token");
    let answer = reqwest::Client::new().post(url).form(&form).send().await.unwrap();
    assert_eq!(answer.status(), 200, "the password from the file signs the administrator in");
    drop(child);
}

#[tokio::test]
async fn each_request_has_an_id_in_its_answer_and_its_log_lines() {
    let dir = Scratch::new();
    let (_server, address, lines) = serve(&dir.0, &["--demo"]);
    let http = reqwest::Client::new();
    let url = format!("http://{address}/realms/demo/.well-known/openid-configuration");
    let traced = http.get(&url).header("x-request-id", "trace-me-123").send().await.unwrap();
    assert_eq!(traced.headers()["x-request-id"], "trace-me-123");
    let fresh = http.get(&url).header("x-request-id", "bad id\twith spaces").send().await.unwrap();
    let generated = fresh.headers()["x-request-id"].to_str().unwrap().to_owned();
    assert!(generated.len() == 32 && generated.bytes().all(|b| b.is_ascii_hexdigit()), "{generated}");
    let mut logged = Vec::new();
    while let Ok(line) = lines.recv_timeout(Duration::from_secs(2)) {
        logged.push(line);
    }
    for id in ["trace-me-123", generated.as_str()] {
        let request_line = format!("request_id={id}");
        assert!(logged.iter().any(|l| l.contains("openid-configuration") && l.contains(&request_line)), "{logged:?}");
    }
    // What the server does for a request is logged in its span: the first request of the demo
    // realm makes its signing keys.
    let keys_made = logged.iter().find(|l| l.contains("generated a signing key")).expect("keys were made");
    let event: serde_json::Value = serde_json::from_str(keys_made).unwrap();
    assert_eq!(event["spans"][0]["request_id"], "trace-me-123", "{event}");
    assert_eq!(logged.iter().filter(|l| l.contains("generated a signing key")).count(), 2, "one RS256, one HMAC");
}

#[tokio::test]
async fn secrets_in_query_strings_never_reach_the_log() {
    let dir = Scratch::new();
    let (_server, address, lines) = serve(&dir.0, &["--demo"]);
    let hint = "eyJhbGciOiJSUzI1NiJ9.c2VjcmV0LWhpbnQ.do-not-log-me";
    let url = format!("http://{address}/realms/demo/protocol/openid-connect/logout?id_token_hint={hint}&state=s1");
    reqwest::get(url).await.unwrap();
    let code =
        format!("http://{address}/realms/demo/protocol/openid-connect/auth?client_id=demo-web&code=leaked-code-42");
    reqwest::get(code).await.unwrap();
    let mut logged = Vec::new();
    while let Ok(line) = lines.recv_timeout(Duration::from_secs(2)) {
        logged.push(line);
    }
    let requests: Vec<&String> =
        logged.iter().filter(|l| l.contains("openid-connect/") && l.contains("latchkey_server::http")).collect();
    assert_eq!(requests.len(), 2, "each request is logged: {logged:?}");
    assert!(requests.iter().all(|l| !l.contains("do-not-log-me") && !l.contains("leaked-code-42")), "{requests:?}");
    assert!(requests[0].contains("id_token_hint=[redacted]") && requests[0].contains("state=s1"), "{requests:?}");
}

#[tokio::test]
async fn serve_answers_until_sigterm_then_stops_gracefully() {
    let dir = Scratch::new();
    let (mut server, address, lines) = serve(&dir.0, &["--demo"]);
    let ready = reqwest::get(format!("http://{address}/health/ready")).await.unwrap();
    assert_eq!(ready.status(), 200);

    let status = Command::new("kill").args(["-TERM", &server.0.id().to_string()]).status().unwrap();
    assert!(status.success());
    let exit = server.0.wait().unwrap();
    assert_eq!(exit.code(), Some(0), "a graceful stop exits 0");
    let rest: Vec<String> = lines.iter().collect(); // until the process closed its stderr
    assert!(rest.iter().any(|l| l.contains("shutting down gracefully") && l.contains("SIGTERM")), "{rest:?}");
    assert!(rest.iter().any(|l| l.contains("\"stopped\"")), "{rest:?}");
    assert!(reqwest::get(format!("http://{address}/health/live")).await.is_err(), "nothing listens any more");

    // A restart on the same data needs no administrator and keeps the demo realm.
    let mut restarted = latchkey(&dir.0)
        .args(["serve", "--listen", "127.0.0.1:0", "--log-format", "json"])
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stderr = restarted.stderr.take().unwrap();
    let listening = BufReader::new(stderr).lines().map_while(Result::ok).find(|l| l.contains("latchkey is listening"));
    assert!(listening.is_some(), "the restart serves");
    restarted.kill().unwrap();
    restarted.wait().unwrap();
}

#[test]
fn keys_rotate_list_and_remove() {
    let dir = Scratch::new();
    let admin = [("LATCHKEY_ADMIN_USER", "admin"), ("LATCHKEY_ADMIN_PASSWORD", "pw")];
    // The keys of a realm are made on its first use; a rotation adds to them.
    let (out, stderr) = run(latchkey(&dir.0).args(["keys", "rotate", "--realm", "master"]).envs(admin));
    assert_eq!(out.status.code(), Some(1), "no realm yet: {stderr}");
    assert!(stderr.contains("realm 'master' does not exist"), "{stderr}");

    let (mut server, _, _) = serve(&dir.0, &[]);
    server.0.kill().unwrap();
    server.0.wait().unwrap();
    let (out, stderr) = run(latchkey(&dir.0).args(["keys", "rotate", "--realm", "master"]));
    assert!(out.status.success(), "{stderr}");
    let kid = String::from_utf8(out.stdout).unwrap().trim().to_owned();
    let (out, _) = run(latchkey(&dir.0).args(["keys", "list", "--realm", "master"]));
    let listing = String::from_utf8(out.stdout).unwrap();
    assert!(listing.lines().any(|l| l.starts_with(&kid) && l.contains("RS256\tactive")), "{listing}");
    let (out, stderr) = run(latchkey(&dir.0).args(["keys", "remove", "--realm", "master", "--kid", &kid]));
    assert!(out.status.success(), "{stderr}");
    let (out, stderr) = run(latchkey(&dir.0).args(["keys", "remove", "--realm", "master", "--kid", &kid]));
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr.contains("has no key"), "{stderr}");
}

#[test]
fn the_committed_openapi_contract_is_current() {
    let dir = Scratch::new();
    let (out, stderr) = run(latchkey(&dir.0).arg("export-openapi"));
    assert!(out.status.success(), "{stderr}");
    let exported = String::from_utf8(out.stdout).unwrap();
    let committed_path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../openapi/openapi.json");
    let committed = std::fs::read_to_string(&committed_path).unwrap_or_default();
    assert!(
        exported == committed,
        "openapi/openapi.json is out of date; regenerate it with\n  cargo run -p latchkey-server -- export-openapi > openapi/openapi.json"
    );
}
