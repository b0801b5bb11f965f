use latchkey_domain::uri::{check_origin, check_redirect_uri, check_url, TargetPolicy};
use latchkey_domain::user::{normalize_email, normalize_username};

use super::*;

/// Every string of up to `len` pieces drawn from `alphabet`.
fn strings(alphabet: &[&str], len: usize) -> Vec<String> {
    let mut all = vec![String::new()];
    let mut last = vec![String::new()];
    for _ in 0..len {
        last = last.iter().flat_map(|s| alphabet.iter().map(move |a| format!("{s}{a}"))).collect();
        all.extend(last.iter().cloned());
    }
    all
}

/// Whether `value` matches `pattern`, with the server's own compiled rule where it has one.
fn matches(pattern: &str, value: &str) -> bool {
    let rule = match pattern {
        URL => &*URL_RULE,
        NOTIFICATION_URL => &*NOTIFICATION_URL_RULE,
        REDIRECT_URI => &*REDIRECT_URI_RULE,
        WEB_ORIGIN => &*WEB_ORIGIN_RULE,
        _ => return compiled(pattern).is_match(value),
    };
    rule.is_match(value)
}

#[test]
fn names_match_exactly_what_the_domain_accepts() {
    let alphabet = ["a", "é", " ", "\t", "\u{85}", "\u{a0}", "\u{3000}", "\u{0}", "\u{7f}", "\u{9f}", "\u{200b}"];
    let rule = compiled(NAME);
    for name in strings(&alphabet, 3) {
        assert_eq!(rule.is_match(&name), normalize_username(&name).is_ok(), "{name:?}");
    }
    assert!(!rule.is_match("") && rule.is_match("Dora the Explorer"));
}

#[test]
fn emails_match_exactly_what_the_domain_accepts() {
    let rule = compiled(EMAIL);
    for email in strings(&["a", "@", ".", " ", "\u{a0}", "é", "\u{1}"], 5) {
        let domain = email.is_empty() || normalize_email(&email).is_ok();
        assert_eq!(rule.is_match(&email), domain, "{email:?}");
    }
}

#[test]
fn realm_names_match_exactly_what_the_domain_accepts() {
    let rule = compiled(REALM_NAME);
    for name in strings(&["a", "Z", "9", ".", "-", "_", "é", "/", " "], 4) {
        let domain = latchkey_domain::realm::validate_realm_name(&name).is_ok();
        assert_eq!(rule.is_match(&name), domain, "{name:?}");
    }
    assert!(matches(REALM_NAME, &"a".repeat(255)) && !matches(REALM_NAME, &"a".repeat(256)));
    assert!(matches(REALM_NAME, &format!("..{}", "a".repeat(253))));
}

/// URLs put together from parts, good and bad.
fn urls() -> Vec<String> {
    let schemes = ["http://", "https://", "HTTP://", "ftp://", ""];
    let hosts = [
        "a",
        "localhost",
        "app.example",
        "A.B-C.d",
        "1.2.3.4",
        "255.255.255.255",
        "256.1.1.1",
        "1.2.3",
        "a.1",
        "a.0x1f",
        "-a",
        "a-",
        "a--b",
        "xn--zz",
        "169.254.1.1",
        "169.253.1.1",
        "0.1.2.3",
        "224.0.0.1",
        "10.0.0.1",
        "a_b",
        "[::1]",
        "",
    ];
    let ports = ["", ":0", ":80", ":65535", ":65536", ":", ":08"];
    let paths =
        ["", "/", "/a", "/a/", "/.", "/..", "/.a", "/..a", "/a/./b", "/a%2f", "/*", "/a/*", "/a*", "//a", "/a b"];
    let queries = ["", "?", "?x=1&y=%zz", "?*", "#f", "?a#"];
    let mut all = Vec::new();
    for scheme in schemes {
        for host in hosts {
            for port in ports {
                for path in paths {
                    for query in queries {
                        all.push(format!("{scheme}{host}{port}{path}{query}"));
                    }
                }
            }
        }
    }
    all
}

#[test]
fn every_url_the_patterns_allow_the_domain_accepts() {
    let any_target = TargetPolicy { allow_private: true };
    let mut allowed = [0; 4];
    for url in urls() {
        if url.is_empty() {
            continue;
        }
        if matches(URL, &url) {
            allowed[0] += 1;
            assert!(check_url("rootUrl", &url).is_ok(), "{url}");
        }
        if matches(NOTIFICATION_URL, &url) {
            allowed[1] += 1;
            let parsed = check_url("adminUrl", &url).unwrap_or_else(|e| panic!("{url}: {e}"));
            assert!(any_target.check_url(&parsed).is_ok(), "{url}");
        }
        if matches(REDIRECT_URI, &url) {
            allowed[2] += 1;
            assert!(check_redirect_uri("redirectUris", &url).is_ok(), "{url}");
        }
        if matches(WEB_ORIGIN, &url) {
            allowed[3] += 1;
            assert!(check_origin("webOrigins", &url).is_ok(), "{url}");
        }
    }
    assert!(allowed.iter().all(|n| *n > 100), "the patterns are not empty: {allowed:?}");
}

#[test]
fn usual_urls_are_allowed_and_odd_ones_refused() {
    for url in ["https://app.example/callback", "http://localhost:3000/callback", "http://10.0.0.7:8080/a/b?c=d", ""] {
        assert!(matches(URL, url) && matches(NOTIFICATION_URL, url), "{url}");
    }
    for uri in
        ["http://localhost:5173/*", "/console/*", "/*", "/cb?x=1", "https://app.example", "https://a.example/cb/"]
    {
        assert!(matches(REDIRECT_URI, uri), "{uri}");
    }
    for origin in ["+", "https://app.example", "http://127.0.0.1:5173", "https://app.example/"] {
        assert!(matches(WEB_ORIGIN, origin), "{origin}");
    }
    for bad in ["http://169.254.169.254/latest", "http://0.0.0.0/", "http://239.1.1.1/", "http://[::1]/", "ftp://a/"] {
        assert!(!matches(NOTIFICATION_URL, bad), "{bad}");
    }
    for bad in ["", "*", "/a/*?x", "https://a/*/b", "//evil.example/cb", "/cb#x", "relative/cb"] {
        assert!(!matches(REDIRECT_URI, bad), "{bad}");
    }
    assert!(!matches(WEB_ORIGIN, "https://app.example/path") && !matches(WEB_ORIGIN, ""));
}

#[derive(Debug, Deserialize)]
struct Body {
    #[serde(default, deserialize_with = "super::whole")]
    n: Option<i64>,
}

fn n(json: &str) -> Result<Option<i64>, String> {
    serde_json::from_str::<Body>(json).map(|b| b.n).map_err(|e| e.to_string())
}

#[test]
fn whole_numbers_in_either_spelling() {
    assert_eq!(n(r#"{"n": 300}"#), Ok(Some(300)));
    assert_eq!(n(r#"{"n": 300.0}"#), Ok(Some(300)));
    assert_eq!(n(r#"{"n": -2.0}"#), Ok(Some(-2)));
    assert_eq!(n(r#"{"n": 3e2}"#), Ok(Some(300)));
    assert_eq!(n(r#"{"n": null}"#), Ok(None));
    assert_eq!(n("{}"), Ok(None));
    assert!(n(r#"{"n": 300.5}"#).is_err());
    assert!(n(r#"{"n": 1e19}"#).is_err());
    assert!(n(r#"{"n": 9223372036854775808}"#).is_err());
    assert!(n(r#"{"n": "300"}"#).is_err());
    assert!(n(r#"{"n": true}"#).is_err());
}

#[test]
fn ids_are_hyphenated_uuids_only() {
    let id = "0193a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b";
    let user = |raw: &str| super::id::<latchkey_domain::UserId>(raw);
    assert_eq!(user(id).map(|u| u.to_string()).as_deref(), Some(id));
    assert!(user(&id.to_uppercase()).is_some());
    assert!(user(&id.replace('-', "")).is_none());
    assert!(user(&format!("{{{id}}}")).is_none());
    assert!(user("count").is_none());
}
