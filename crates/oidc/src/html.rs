//! The few pages a person sees: sign-in, errors, sign-out confirmation. Plain HTML with every
//! value escaped; no scripts.

use actix_web::http::{header, StatusCode};
use actix_web::HttpResponse;

pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

const STYLE: &str = "body{font-family:system-ui,sans-serif;background:#f4f5f7;margin:0;display:flex;\
min-height:100vh;align-items:center;justify-content:center}main{background:#fff;padding:2rem;border-radius:8px;\
box-shadow:0 1px 4px rgba(0,0,0,.15);width:min(22rem,90vw)}h1{font-size:1.3rem;margin-top:0}label{display:block;\
margin:.8rem 0 .3rem}input[type=text],input[type=password]{width:100%;padding:.5rem;box-sizing:border-box}\
button{margin-top:1rem;width:100%;padding:.6rem;background:#1f5fbf;color:#fff;border:0;border-radius:4px;\
font-size:1rem}.error{background:#fdecea;color:#8a1c12;padding:.6rem;border-radius:4px}.remember{display:flex;\
gap:.4rem;align-items:center;margin-top:.8rem}";

/// A whole page with security headers: never framed, never cached.
pub fn page(status: StatusCode, title: &str, body: &str) -> HttpResponse {
    let html = format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><meta name=\"viewport\" \
         content=\"width=device-width,initial-scale=1\"><title>{}</title><style>{STYLE}</style></head>\
         <body><main>{body}</main></body></html>",
        escape(title)
    );
    HttpResponse::build(status)
        .insert_header((header::CONTENT_TYPE, "text/html; charset=utf-8"))
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .insert_header(("X-Frame-Options", "DENY"))
        // No `form-action`: browsers apply it to the redirect that answers the form too, and the
        // sign-in form's answer redirects to the application (its registered redirect URI).
        .insert_header((
            "Content-Security-Policy",
            "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'",
        ))
        .insert_header(("Referrer-Policy", "no-referrer"))
        .body(html)
}

/// An error that must not be sent back to the client (unknown client, bad redirect URI).
pub fn error_page(status: StatusCode, message: &str) -> HttpResponse {
    page(
        status,
        "Sign-in error",
        &format!("<h1>We could not sign you in</h1><p class=\"error\">{}</p>", escape(message)),
    )
}

pub fn hidden(name: &str, value: &str) -> String {
    format!("<input type=\"hidden\" name=\"{}\" value=\"{}\">", escape(name), escape(value))
}

/// The sign-in form. `hidden_fields` carry the authorization request through the POST.
pub fn login_page(
    realm_title: &str,
    action: &str,
    hidden_fields: &str,
    username: &str,
    error: Option<&str>,
    remember_me: bool,
) -> HttpResponse {
    let remember = if remember_me {
        "<div class=\"remember\"><input type=\"checkbox\" id=\"rememberMe\" name=\"rememberMe\" value=\"on\">\
         <label for=\"rememberMe\" style=\"margin:0\">Remember me</label></div>"
    } else {
        ""
    };
    let error = error.map(|e| format!("<p class=\"error\" role=\"alert\">{}</p>", escape(e))).unwrap_or_default();
    let body = format!(
        "<h1>Sign in to {realm}</h1>{error}<form method=\"post\" action=\"{action}\">{hidden_fields}\
         <label for=\"username\">Username or email</label>\
         <input type=\"text\" id=\"username\" name=\"username\" value=\"{username}\" autocomplete=\"username\" autofocus required>\
         <label for=\"password\">Password</label>\
         <input type=\"password\" id=\"password\" name=\"password\" autocomplete=\"current-password\" required>\
         {remember}<button type=\"submit\" id=\"kc-login\">Sign in</button></form>",
        realm = escape(realm_title),
        action = escape(action),
        username = escape(username),
    );
    page(StatusCode::OK, &format!("Sign in to {realm_title}"), &body)
}

pub fn logout_confirm_page(action: &str, hidden_fields: &str) -> HttpResponse {
    let body = format!(
        "<h1>Sign out</h1><p>Do you want to sign out?</p><form method=\"post\" action=\"{}\">{hidden_fields}\
         <button type=\"submit\" id=\"kc-logout\">Sign out</button></form>",
        escape(action)
    );
    page(StatusCode::OK, "Sign out", &body)
}

pub fn signed_out_page() -> HttpResponse {
    page(StatusCode::OK, "Signed out", "<h1>You are signed out</h1>")
}

#[cfg(test)]
mod tests {
    #[test]
    fn escapes_what_html_would_interpret() {
        assert_eq!(super::escape("<a href=\"x\">'&'</a>"), "&lt;a href=&quot;x&quot;&gt;&#39;&amp;&#39;&lt;/a&gt;");
    }
}
