//! One typed helper per endpoint the tests call, so a test says what it asks and never spells
//! out the request: the token endpoint and its grants, introspection, discovery, admin calls.

use reqwest::header::HeaderMap;
use reqwest::{Method, StatusCode};
use serde_json::Value;

use crate::{rp, TestServer};

/// How a request to the token or introspection endpoint names its client.
#[derive(Debug, Clone, Copy)]
pub enum ClientAuth<'a> {
    /// A public client, by `client_id` in the form.
    Public(&'a str),
    /// A confidential client, by HTTP Basic authentication.
    Basic(&'a str, &'a str),
    /// Whatever the form says (or leaves out).
    None,
}

impl<'a> ClientAuth<'a> {
    /// `(client id, secret)`: Basic with a secret, public without.
    pub fn of(id: &'a str, secret: Option<&'a str>) -> Self {
        match secret {
            Some(secret) => ClientAuth::Basic(id, secret),
            None => ClientAuth::Public(id),
        }
    }
}

/// An answer: status, headers and the JSON body (`null` when there is none).
pub struct Answer {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Value,
}

impl Answer {
    async fn read(answer: reqwest::Response) -> Answer {
        let (status, headers) = (answer.status(), answer.headers().clone());
        let text = answer.text().await.expect("the answer is read");
        Answer { status, headers, body: serde_json::from_str(&text).unwrap_or(Value::Null) }
    }

    pub fn header(&self, name: &str) -> Option<String> {
        self.headers.get(name).map(|v| v.to_str().expect("a text header").to_owned())
    }
}

/// POSTs `form` to `url` as `client`, with `headers` (as `X-Forwarded-For`).
pub async fn post_form(url: String, client: ClientAuth<'_>, form: &[(&str, &str)], headers: &[(&str, &str)]) -> Answer {
    let mut fields: Vec<(&str, &str)> = form.to_vec();
    let mut request = rp::http().post(url);
    match client {
        ClientAuth::Public(id) => fields.push(("client_id", id)),
        ClientAuth::Basic(id, secret) => request = request.basic_auth(id, Some(secret)),
        ClientAuth::None => {}
    }
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    Answer::read(request.form(&fields).send().await.expect("the server answers")).await
}

impl TestServer {
    /// POSTs `form` to the realm's OpenID Connect endpoint `name` (`token`, `token/introspect`,
    /// `revoke`, …) as `client`.
    pub async fn oidc_form(&self, realm: &str, name: &str, client: ClientAuth<'_>, form: &[(&str, &str)]) -> Answer {
        post_form(rp::endpoint(self, realm, name), client, form, &[]).await
    }

    /// A token request of any grant.
    pub async fn token_request(&self, realm: &str, client: ClientAuth<'_>, form: &[(&str, &str)]) -> Answer {
        self.oidc_form(realm, "token", client, form).await
    }

    /// The password grant.
    pub async fn password_grant(&self, realm: &str, client: ClientAuth<'_>, user: &str, password: &str) -> Answer {
        let form = [("grant_type", "password"), ("username", user), ("password", password)];
        self.token_request(realm, client, &form).await
    }

    /// The refresh-token grant.
    pub async fn refresh_grant(&self, realm: &str, client: ClientAuth<'_>, refresh_token: &str) -> Answer {
        self.token_request(realm, client, &[("grant_type", "refresh_token"), ("refresh_token", refresh_token)]).await
    }

    /// Token introspection.
    pub async fn introspect(&self, realm: &str, client: ClientAuth<'_>, token: &str) -> Answer {
        self.oidc_form(realm, "token/introspect", client, &[("token", token)]).await
    }

    /// An access token of `user` from `admin-cli`, as scripts get one for the admin API.
    pub async fn admin_token(&self, realm: &str, user: &str, password: &str) -> String {
        let answer = self.password_grant(realm, ClientAuth::Public("admin-cli"), user, password).await;
        answer.body["access_token"].as_str().unwrap_or_else(|| panic!("no token: {}", answer.body)).to_owned()
    }

    /// An admin API call with `token` (none: unauthenticated) and a JSON `body`.
    pub async fn admin_call(&self, token: Option<&str>, method: Method, path: &str, body: Option<Value>) -> Answer {
        let mut request = rp::http().request(method, self.url(path));
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        if let Some(body) = body {
            request = request.json(&body);
        }
        Answer::read(request.send().await.expect("the server answers")).await
    }

    /// The realm's discovery document, asked for with `Host: host` when given.
    pub async fn discovery(&self, realm: &str, host: Option<&str>) -> Value {
        let mut request = rp::http().get(self.url(&format!("/realms/{realm}/.well-known/openid-configuration")));
        if let Some(host) = host {
            request = request.header("host", host);
        }
        Answer::read(request.send().await.expect("the server answers")).await.body
    }
}
