//! A relying party and a browser, for driving the provider the way real applications and
//! people do: the `openidconnect` crate for the application side, and a cookie-keeping HTTP
//! client that reads and submits the sign-in form for the person.

use openidconnect::core::{CoreAuthenticationFlow, CoreClient, CoreProviderMetadata, CoreTokenResponse};
use openidconnect::{
    AuthorizationCode, ClientId, ClientSecret, CsrfToken, EndpointMaybeSet, EndpointNotSet, EndpointSet, IssuerUrl,
    Nonce, PkceCodeChallenge, PkceCodeVerifier, RedirectUrl, Scope,
};
use reqwest::StatusCode;
use url::Url;

use crate::TestServer;

/// A client as discovered from the provider's metadata.
pub type Rp =
    CoreClient<EndpointSet, EndpointNotSet, EndpointNotSet, EndpointNotSet, EndpointMaybeSet, EndpointMaybeSet>;

/// An HTTP client that does not follow redirects (as openidconnect advises), without cookies.
pub fn http() -> reqwest::Client {
    reqwest::Client::builder().no_proxy().redirect(reqwest::redirect::Policy::none()).build().unwrap()
}

pub fn issuer(server: &TestServer, realm: &str) -> String {
    server.url(&format!("/realms/{realm}"))
}

pub fn endpoint(server: &TestServer, realm: &str, name: &str) -> String {
    server.url(&format!("/realms/{realm}/protocol/openid-connect/{name}"))
}

/// Discovers the realm and builds a client for `client_id` that redirects to `redirect_uri`.
pub async fn relying_party(
    server: &TestServer,
    realm: &str,
    client_id: &str,
    secret: Option<&str>,
    redirect_uri: &str,
) -> Rp {
    let issuer = IssuerUrl::new(issuer(server, realm)).unwrap();
    let metadata = CoreProviderMetadata::discover_async(issuer, &http()).await.expect("discovery");
    CoreClient::from_provider_metadata(
        metadata,
        ClientId::new(client_id.to_owned()),
        secret.map(|s| ClientSecret::new(s.to_owned())),
    )
    .set_redirect_uri(RedirectUrl::new(redirect_uri.to_owned()).unwrap())
}

/// An authorization request about to be made, with what the application must remember.
pub struct Authorization {
    pub url: Url,
    pub state: CsrfToken,
    pub nonce: Nonce,
    pub verifier: PkceCodeVerifier,
}

pub fn authorization(rp: &Rp, scopes: &[&str], extra: &[(&str, &str)]) -> Authorization {
    let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
    let mut request = rp
        .authorize_url(CoreAuthenticationFlow::AuthorizationCode, CsrfToken::new_random, Nonce::new_random)
        .set_pkce_challenge(challenge);
    for scope in scopes {
        request = request.add_scope(Scope::new((*scope).to_owned()));
    }
    for (k, v) in extra {
        request = request.add_extra_param(*k, *v);
    }
    let (url, state, nonce) = request.url();
    Authorization { url, state, nonce, verifier }
}

/// What the browser sees after a step.
#[derive(Debug)]
pub enum Step {
    /// The sign-in form: where it posts and its hidden fields, and any error it shows.
    Login { action: String, fields: Vec<(String, String)>, error: Option<String> },
    /// A redirect.
    Redirect(Url),
    /// Any other page.
    Page { status: StatusCode, body: String },
}

impl Step {
    pub fn redirect(self) -> Url {
        match self {
            Step::Redirect(url) => url,
            other => panic!("expected a redirect, got {other:?}"),
        }
    }

    pub fn query(&self, name: &str) -> Option<String> {
        match self {
            Step::Redirect(url) => url.query_pairs().find(|(k, _)| k == name).map(|(_, v)| v.into_owned()),
            _ => None,
        }
    }
}

/// A person's browser: keeps cookies, follows nothing by itself.
pub struct Browser {
    pub http: reqwest::Client,
    base: String,
}

fn unescape(s: &str) -> String {
    s.replace("&quot;", "\"").replace("&#39;", "'").replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")
}

fn attribute(tag: &str, name: &str) -> Option<String> {
    let start = tag.find(&format!("{name}=\""))? + name.len() + 2;
    let end = tag[start..].find('"')? + start;
    Some(unescape(&tag[start..end]))
}

impl Browser {
    pub fn new(server: &TestServer) -> Self {
        let http = reqwest::Client::builder()
            .no_proxy()
            .cookie_store(true)
            .redirect(reqwest::redirect::Policy::none())
            .user_agent("latchkey-test-browser/1.0")
            .build()
            .unwrap();
        Browser { http, base: server.url("") }
    }

    async fn step(response: reqwest::Response) -> Step {
        let status = response.status();
        if status.is_redirection() {
            let location = response.headers()["location"].to_str().unwrap().to_owned();
            return Step::Redirect(Url::parse(&location).unwrap());
        }
        let body = response.text().await.unwrap();
        if status == StatusCode::OK && body.contains("id=\"kc-login\"") {
            let form_start = body.find("<form").unwrap();
            let action = attribute(&body[form_start..], "action").unwrap();
            let fields = body
                .match_indices("<input type=\"hidden\"")
                .map(|(i, _)| {
                    let tag = &body[i..i + body[i..].find('>').unwrap()];
                    (attribute(tag, "name").unwrap(), attribute(tag, "value").unwrap())
                })
                .collect();
            let error = body.find("class=\"error\"").map(|i| {
                let start = i + body[i..].find('>').unwrap() + 1;
                unescape(&body[start..start + body[start..].find('<').unwrap()])
            });
            return Step::Login { action, fields, error };
        }
        Step::Page { status, body }
    }

    pub async fn get(&self, url: &str) -> Step {
        Self::step(self.http.get(url).send().await.unwrap()).await
    }

    /// Submits the sign-in form of `login` with these credentials.
    pub async fn sign_in(&self, login: &Step, username: &str, password: &str, remember_me: bool) -> Step {
        let Step::Login { action, fields, .. } = login else { panic!("not a sign-in form: {login:?}") };
        let mut form = fields.clone();
        form.push(("username".into(), username.into()));
        form.push(("password".into(), password.into()));
        if remember_me {
            form.push(("rememberMe".into(), "on".into()));
        }
        let response = self.http.post(format!("{}{action}", self.base)).form(&form).send().await.unwrap();
        Self::step(response).await
    }

    /// Submits a form found on a page (the sign-out confirmation).
    pub async fn submit_form(&self, page_body: &str) -> Step {
        let form_start = page_body.find("<form").unwrap();
        let action = attribute(&page_body[form_start..], "action").unwrap();
        let fields: Vec<(String, String)> = page_body
            .match_indices("<input type=\"hidden\"")
            .map(|(i, _)| {
                let tag = &page_body[i..i + page_body[i..].find('>').unwrap()];
                (attribute(tag, "name").unwrap(), attribute(tag, "value").unwrap())
            })
            .collect();
        Self::step(self.http.post(format!("{}{action}", self.base)).form(&fields).send().await.unwrap()).await
    }
}

/// Signs `username` in through the sign-in page and exchanges the code: the whole code flow.
pub async fn code_flow(
    rp: &Rp,
    browser: &Browser,
    scopes: &[&str],
    username: &str,
    password: &str,
) -> (CoreTokenResponse, Authorization) {
    let auth = authorization(rp, scopes, &[]);
    let login = browser.get(auth.url.as_str()).await;
    assert!(matches!(login, Step::Login { .. }), "expected the sign-in page, got {login:?}");
    let callback = browser.sign_in(&login, username, password, false).await;
    let tokens = exchange(rp, &callback, &auth).await;
    (tokens, auth)
}

/// Exchanges the code of a callback redirect (checking `state`).
pub async fn exchange(rp: &Rp, callback: &Step, auth: &Authorization) -> CoreTokenResponse {
    assert_eq!(callback.query("state").as_deref(), Some(auth.state.secret().as_str()), "{callback:?}");
    let code = callback.query("code").unwrap_or_else(|| panic!("no code in {callback:?}"));
    rp.exchange_code(AuthorizationCode::new(code))
        .unwrap()
        .set_pkce_verifier(PkceCodeVerifier::new(auth.verifier.secret().clone()))
        .request_async(&http())
        .await
        .expect("the code exchange succeeds")
}
