//! The committed contract, `openapi/openapi.json`, against the running server: every operation
//! it documents is sent as its documented example (query parameters and bodies from the
//! examples, path ids of real objects of the demo realm), and every answer is checked against
//! the contract — a documented status, a body valid under that status's schema, and the
//! documented headers. The same operations without a token must answer 401 in the documented
//! error shape.

use std::collections::BTreeMap;

use latchkey_store::{clients, users};
use latchkey_tests::rp::{code_flow, relying_party, Browser};
use latchkey_tests::{backend_tests, TestDb};
use reqwest::Method;
use serde_json::{json, Value};

use crate::admin::{demo, get, master_token};

backend_tests!(every_documented_example_is_answered_as_the_contract_says);

fn contract() -> Value {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../openapi/openapi.json");
    serde_json::from_str(&std::fs::read_to_string(path).expect("openapi/openapi.json")).expect("valid JSON")
}

/// One documented operation.
#[derive(Debug, Clone)]
struct Operation {
    method: Method,
    template: String,
    spec: Value,
}

fn operations(contract: &Value) -> Vec<Operation> {
    let mut out = Vec::new();
    for (template, item) in contract["paths"].as_object().expect("paths") {
        for (method, spec) in item.as_object().expect("a path item") {
            let method = match method.as_str() {
                "get" => Method::GET,
                "post" => Method::POST,
                "put" => Method::PUT,
                "delete" => Method::DELETE,
                other => panic!("unexpected method {other} at {template}"),
            };
            out.push(Operation { method, template: template.clone(), spec: spec.clone() });
        }
    }
    // Reads first, then writes, then what ends or deletes what later calls would need.
    let rank = |op: &Operation| -> u8 {
        let t = op.template.as_str();
        match (&op.method, t) {
            (&Method::GET, _) => 0,
            (&Method::POST, "/admin/realms" | "/admin/realms/{realm}/users" | "/admin/realms/{realm}/clients") => 1,
            (&Method::PUT, _) => 2,
            (&Method::DELETE, "/admin/realms/{realm}/sessions/{id}") => 3,
            (&Method::POST, "/admin/realms/{realm}/logout-all") => 6,
            (&Method::POST, _) => 4,
            (&Method::DELETE, "/admin/realms/{realm}") => 7,
            (&Method::DELETE, _) => 5,
            _ => 8,
        }
    };
    out.sort_by_key(|op| (rank(op), op.template.clone()));
    out
}

/// Resolves `{"$ref": "#/components/..."}` against the contract.
fn resolve<'a>(contract: &'a Value, value: &'a Value) -> &'a Value {
    match value["$ref"].as_str() {
        Some(pointer) => contract.pointer(pointer.trim_start_matches('#')).expect("a $ref that resolves"),
        None => value,
    }
}

/// The documented example of a parameter, or of its schema.
fn parameter_example(contract: &Value, parameter: &Value) -> Option<Value> {
    let schema = resolve(contract, &parameter["schema"]);
    parameter.get("example").or_else(|| schema.get("example")).or_else(|| schema.pointer("/examples/0")).cloned()
}

/// The documented example body of an operation (the media type's, else its schema's).
fn body_example(contract: &Value, op: &Operation) -> Option<Value> {
    let media = op.spec.pointer("/requestBody/content/application~1json")?;
    media.get("example").or_else(|| resolve(contract, &media["schema"]).get("example")).cloned()
}

/// A validator for a response schema, with the contract's components reachable by `$ref`.
fn validator(contract: &Value, schema: &Value) -> jsonschema::Validator {
    let mut document = schema.clone();
    document["components"] = contract["components"].clone();
    jsonschema::options()
        .with_draft(jsonschema::Draft::Draft202012)
        .build(&document)
        .unwrap_or_else(|e| panic!("schema {schema} does not compile: {e}"))
}

/// Checks one answer against the operation's documented responses; returns the body.
fn check_answer(
    contract: &Value,
    op: &Operation,
    status: u16,
    headers: &reqwest::header::HeaderMap,
    text: &str,
) -> Value {
    let what = format!("{} {}", op.method, op.template);
    let documented = op.spec["responses"]
        .get(status.to_string())
        .unwrap_or_else(|| panic!("{what} answered {status}, which the contract does not list: {text}"));
    let documented = resolve(contract, documented);
    let body: Value = if text.is_empty() { Value::Null } else { serde_json::from_str(text).unwrap_or(Value::Null) };
    match documented.pointer("/content/application~1json/schema") {
        Some(schema) => {
            // An empty body stands for `null`: valid only where the schema allows no body.
            let errors: Vec<String> = validator(contract, schema)
                .iter_errors(&body)
                .map(|e| format!("{} at {}", e, e.instance_path()))
                .collect();
            assert!(errors.is_empty(), "{what} → {status}: body {body} breaks the contract: {errors:?}");
        }
        None => {
            let documented_types: Vec<&String> =
                documented["content"].as_object().into_iter().flat_map(|c| c.keys()).collect();
            assert!(text.is_empty(), "{what} → {status} documents no JSON body ({documented_types:?}) but sent {text}");
        }
    }
    for name in documented["headers"].as_object().into_iter().flat_map(|h| h.keys()) {
        assert!(headers.contains_key(name.as_str()), "{what} → {status} lacks its documented header {name}");
    }
    body
}

async fn every_documented_example_is_answered_as_the_contract_says(db: TestDb) {
    let contract = contract();
    // The validator resolves the contract's references and does reject what breaks them.
    let count = validator(&contract, &json!({"$ref": "#/components/schemas/Count"}));
    assert!(count.is_valid(&json!({"count": 3})));
    assert!(!count.is_valid(&json!({"count": "3"})) && !count.is_valid(&json!({})));
    let (server, realm) = demo(&db).await;
    let store = db.store().await;
    let web_rp =
        relying_party(&server, "demo", "demo-web", Some("demo-web-secret"), "http://localhost:3000/callback").await;
    code_flow(&web_rp, &Browser::new(&server), &["openid", "offline_access"], "alice", "alice-password").await;
    code_flow(&web_rp, &Browser::new(&server), &["openid"], "alice", "alice-password").await;
    let alice = users::find_by_username(store.conn(), realm.id, "alice").await.unwrap().unwrap();
    let web = clients::find_by_client_id(store.conn(), realm.id, "demo-web").await.unwrap().unwrap();
    let admin = master_token(&server).await;

    // Path ids of real objects: the demo realm, alice, demo-web, one of alice's sessions; and,
    // for updating and deleting, the user, client and realm the documented creations made.
    let mut ids: BTreeMap<&str, String> = BTreeMap::new();
    ids.insert("realm", "demo".into());
    ids.insert("user", alice.id.to_string());
    ids.insert("client", web.id.to_string());
    let (_, _, sessions) = get(&server, &admin, &format!("/admin/realms/demo/users/{}/sessions", alice.id)).await;
    ids.insert("session", sessions[0]["id"].as_str().expect("alice has a session").to_owned());
    let (_, _, management) = get(&server, &admin, "/admin/realms/demo/clients?clientId=realm-management").await;
    ids.insert("realm-management", management[0]["id"].as_str().expect("realm-management").to_owned());

    let mut checked = 0;
    for op in operations(&contract) {
        let t = op.template.as_str();
        // Writes go to what the documented creations made; reads and session calls to the demo's.
        let writes = matches!(op.method, Method::PUT | Method::DELETE);
        // (A role grant is taken back from alice, who was granted it by the documented POST.)
        let user = if (writes && !t.contains("/role-mappings/")) || t.ends_with("/reset-password") {
            "new user"
        } else {
            "user"
        };
        let client = if writes || t.ends_with("/client-secret") { "new client" } else { "client" };
        let mut path = t.to_owned();
        let mut query: Vec<(String, String)> = Vec::new();
        for parameter in op.spec["parameters"].as_array().into_iter().flatten() {
            let parameter = resolve(&contract, parameter);
            let name = parameter["name"].as_str().unwrap();
            let value = match (parameter["in"].as_str().unwrap(), name) {
                ("path", "realm") if t == "/admin/realms/{realm}" && op.method == Method::DELETE => {
                    ids["new realm"].clone()
                }
                ("path", "realm") if t.ends_with("/console/whoami") => "master".to_owned(),
                ("path", "realm") => ids["realm"].clone(),
                ("path", "id") if t.contains("/sessions/{id}") => ids["session"].clone(),
                ("path", "id") if t.contains("/users/{id}") => ids[user].clone(),
                ("path", "id") if t.contains("/clients/{id}/roles") => ids["realm-management"].clone(),
                ("path", "id") if t.contains("/clients/{id}") => ids[client].clone(),
                ("path", "clientUuid") | ("query", "clientId") if t.contains("session") => ids["client"].clone(),
                ("path", "clientUuid") if t.contains("/role-mappings/") => ids["realm-management"].clone(),
                ("path", "roleName") => "view-users".to_owned(),
                ("path", other) => panic!("no value for path parameter {other} of {t}"),
                _ => match parameter_example(&contract, parameter) {
                    Some(Value::String(s)) => s,
                    Some(other) => other.to_string(),
                    None => {
                        assert_ne!(parameter["required"], json!(true), "{t}: required parameter {name} has no example");
                        continue;
                    }
                },
            };
            if parameter["in"] == "path" {
                path = path.replace(&format!("{{{name}}}"), &value);
            } else {
                query.push((name.to_owned(), value));
            }
        }
        let body = body_example(&contract, &op);

        // Without a token: 401 in the documented error shape (the health checks are public).
        if op.spec.get("security").is_some() {
            let answer = server.http.request(op.method.clone(), server.url(&path)).query(&query).send().await.unwrap();
            let (status, headers) = (answer.status().as_u16(), answer.headers().clone());
            assert_eq!(status, 401, "{} {path} without a token", op.method);
            check_answer(&contract, &op, status, &headers, &answer.text().await.unwrap());
        }

        let mut request = server.http.request(op.method.clone(), server.url(&path)).query(&query).bearer_auth(&admin);
        if let Some(body) = &body {
            request = request.json(body);
        }
        let answer = request.send().await.unwrap();
        let (status, headers) = (answer.status().as_u16(), answer.headers().clone());
        let text = answer.text().await.unwrap();
        assert!(
            (200..300).contains(&status),
            "{} {path} {query:?} with its example {body:?} answered {status}: {text}",
            op.method
        );
        check_answer(&contract, &op, status, &headers, &text);
        checked += 1;

        if op.method == Method::POST && status == 201 {
            let location = headers["location"].to_str().unwrap().to_owned();
            let last = location.rsplit('/').next().unwrap().to_owned();
            let key = match t {
                "/admin/realms" => "new realm",
                "/admin/realms/{realm}/users" => "new user",
                _ => "new client",
            };
            ids.insert(key, last);
        }
    }
    assert_eq!(checked, operations(&contract).len());
    assert!(checked >= 37, "every operation of the contract was sent ({checked})");
}
