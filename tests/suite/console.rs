//! The admin console in a real browser: Debian's Chromium, headless, over WebDriver, against
//! the real server serving the built console (`scripts/console`). An administrator signs in;
//! people sign in to a demo application in browsers of their own; the administrator finds,
//! filters and ends their sessions, and a read-only administrator sees no destructive action.
//! Screenshots of each page go to `target/console-screenshots/`.

use latchkey_tests::browser::{self, Chrome, Driver};
use latchkey_tests::{TestDb, TestServer};

/// The demo application's sign-in, as its browser would start it (the application itself is
/// not running: the session exists once the code is issued).
fn demo_app_sign_in(server: &TestServer) -> String {
    server.url(
        "/realms/demo/protocol/openid-connect/auth?client_id=demo-web&response_type=code&scope=openid\
         &redirect_uri=http%3A%2F%2Flocalhost%3A3000%2Fcallback&state=s1\
         &code_challenge=E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM&code_challenge_method=S256",
    )
}

/// Signs `username` in to the demo application in a browser of its own.
async fn person(driver: &Driver, server: &TestServer, username: &'static str) -> Chrome {
    let chrome = Chrome::open(driver, username, 1000).await;
    chrome.goto(&demo_app_sign_in(server)).await;
    chrome.sign_in(username, &format!("{username}-password")).await;
    // Sent on to the (absent) application with a code: the browser has left the server (to
    // the application's address, or the browser's own page saying it cannot be reached).
    let mut last = String::new();
    for _ in 0..100 {
        last = chrome.client.current_url().await.map(|u| u.to_string()).unwrap_or_default();
        if !last.starts_with(&server.url("/")) {
            return chrome;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    chrome.screenshot(&format!("failed-sign-in-{username}")).await;
    panic!("{username} was not sent on to the application after signing in; still at {last}:\n{}", chrome.text().await);
}

#[tokio::test]
async fn administering_sessions_in_the_console() {
    if !browser::available() {
        return;
    }
    let db = TestDb::sqlite();
    let server = TestServer::start_with(&db, |c| {
        c.demo = true;
        c.console_dir = Some(browser::console_dist());
    })
    .await;
    let driver = Driver::start().await;

    // People sign in to the demo application, each in a browser of their own.
    let alice = person(&driver, &server, "alice").await;
    let bob = person(&driver, &server, "bob").await;

    // The administrator signs in to the console (master realm) and opens the demo realm.
    let admin = Chrome::open(&driver, "admin", 1280).await;
    admin.goto(&server.url("/console/")).await;
    admin.sign_in(latchkey_tests::ADMIN_USER, latchkey_tests::ADMIN_PASSWORD).await;
    admin.wait_for("header.top").await;
    admin.wait_for_text("Every active session of realm master").await;
    admin.screenshot("01-sessions-master").await;
    // A deep link survives a reload: the console signs in again silently (SSO) and lands there.
    admin.goto(&server.url("/console/demo/sessions")).await;
    admin.wait_for_text("Every active session of realm demo").await;
    admin.wait_for("tr[data-session]").await;
    let text = admin.text().await;
    assert!(text.contains("alice") && text.contains("bob"), "both people's sessions are listed:\n{text}");
    assert!(text.contains("demo-web"), "with their client");
    assert!(text.contains("1–2 of 2"), "with the total:\n{text}");
    assert!(text.contains("regular") && text.contains("offline"), "the active clients' counts are shown");
    admin.screenshot("02-sessions-demo").await;

    // Search narrows the list, and lives in the address.
    let search = admin.wait_for("input[name=search]").await;
    search.send_keys("ali").await.unwrap();
    admin.click_button("Search").await;
    admin.wait_for_text("1–1 of 1").await;
    assert!(!admin.text().await.contains("bob"));
    let url = admin.client.current_url().await.unwrap();
    assert!(url.as_str().contains("search=ali"), "the search is in the address: {url}");
    admin.screenshot("03-search").await;
    // The type filter: no offline sessions.
    admin.goto(&server.url("/console/demo/sessions?type=offline")).await;
    admin.wait_for_text("No active sessions in this realm").await;
    admin.screenshot("04-offline-empty").await;

    // "Sign out" ends alice's session; her browser is sent to the sign-in page next time.
    admin.goto(&server.url("/console/demo/sessions?search=alice")).await;
    let sign_out = admin.wait_for("tr[data-session] button.link").await;
    assert_eq!(sign_out.text().await.unwrap(), "Sign out");
    sign_out.click().await.unwrap();
    admin.wait_for_text("No active sessions in this realm").await;
    alice.goto(&demo_app_sign_in(&server)).await;
    alice.wait_for("#username").await;
    alice.screenshot("05-alice-must-sign-in-again").await;

    // The client's Sessions tab, reached from a session row ("application navigation").
    admin.goto(&server.url("/console/demo/sessions")).await;
    admin.wait_for("tr[data-session]").await;
    admin.wait_for_link("demo-web").await.click().await.unwrap();
    admin.wait_for_text("The sessions in which this application is signed in").await;
    admin.wait_for("tr[data-session]").await;
    assert!(admin.text().await.contains("bob"));
    admin.screenshot("06-client-sessions").await;

    // The user's Sessions tab, through the user search.
    admin.goto(&server.url("/console/demo/users?search=bob")).await;
    admin.wait_for_link("bob").await.click().await.unwrap();
    admin.wait_for_text("Regular and offline sessions of this user").await;
    admin.wait_for("tr[data-session]").await;
    admin.screenshot("07-user-sessions").await;

    // "Sign out all active sessions": confirm, then what was told.
    let carol = person(&driver, &server, "carol").await;
    admin.goto(&server.url("/console/demo/sessions")).await;
    admin.wait_for("tr[data-session]").await;
    admin.click_button("Actions ▾").await;
    admin.click_button("Sign out all active sessions").await;
    admin.wait_for_text("all SSO cookies become invalid").await;
    assert!(!admin.text().await.contains("your own console session ends too"), "another realm than the admin's");
    admin.screenshot("08-logout-all-confirm").await;
    admin.click_button("Sign out all sessions").await;
    admin.wait_for_text("All sessions of the realm have ended").await;
    let text = admin.text().await;
    assert!(
        text.contains("Still being delivered") && text.contains("http://localhost:3000/backchannel-logout"),
        "{text}"
    );
    admin.screenshot("09-logout-all-result").await;
    admin.click_button("Close").await;
    admin.wait_for_text("No active sessions in this realm").await;
    // The administrator is still signed in (Keycloak 16137 signs them out here).
    admin.goto(&server.url("/console/demo/clients")).await;
    admin.wait_for_text("The applications of realm demo").await;
    admin.screenshot("10-clients").await;
    for browser in [&bob, &carol] {
        browser.goto(&demo_app_sign_in(&server)).await;
        browser.wait_for("#username").await;
    }

    // Revocation: the realm's not-before after logout-all, then cleared.
    admin.goto(&server.url("/console/demo/sessions")).await;
    admin.click_button("Actions ▾").await;
    admin.click_button("Revocation").await;
    admin.wait_for("[data-not-before]").await;
    admin.click_button("Clear").await;
    admin.wait_for_text("Not before: None").await;
    admin.screenshot("11-revocation").await;
    admin.click_button("Close").await;

    // Realm settings: the session limits, in the units a person thinks in, saved for good.
    admin.goto(&server.url("/console/demo/settings")).await;
    let idle = admin.wait_for("#ssoSessionIdleTimeout").await;
    assert_eq!(idle.prop("value").await.unwrap().as_deref(), Some("30"), "Keycloak's default: 30 minutes");
    idle.clear().await.unwrap();
    idle.send_keys("45").await.unwrap();
    admin.wait_for("#rememberMe").await.click().await.unwrap();
    admin.screenshot("11b-realm-settings").await;
    admin.click_button("Save").await;
    admin.wait_for_text("Saved.").await;
    let token = server.admin_token("master", latchkey_tests::ADMIN_USER, latchkey_tests::ADMIN_PASSWORD).await;
    let demo = server.admin_call(Some(&token), reqwest::Method::GET, "/admin/realms/demo", None).await.body;
    assert_eq!((demo["ssoSessionIdleTimeout"].as_i64(), demo["rememberMe"].as_bool()), (Some(2700), Some(false)));
    // A number that is none: said plainly, nothing saved.
    let max = admin.wait_for("#ssoSessionMaxLifespan").await;
    max.clear().await.unwrap();
    max.send_keys("1.5").await.unwrap();
    admin.click_button("Save").await;
    admin.wait_for_text("SSO Session Max: \"1.5\" is not a whole number").await;

    // On the administrator's own realm, the console says beforehand that it signs them out too.
    admin.goto(&server.url("/console/master/sessions")).await;
    admin.wait_for("tr[data-session]").await;
    admin.click_button("Actions ▾").await;
    admin.click_button("Sign out all active sessions").await;
    admin.wait_for_text("your own console session ends too").await;
    admin.screenshot("12-logout-all-own-realm").await;
    admin.click_button("Cancel").await;
    assert!(!admin.text().await.contains("your own console session ends too"), "cancelled: nothing done");

    // A read-only administrator (view-users only, signing in to its own realm) sees sessions
    // but no action that ends them.
    let bob_again = person(&driver, &server, "bob").await;
    let auditor = Chrome::open(&driver, "auditor", 1280).await;
    auditor.goto(&server.url("/console/?signin=demo")).await;
    auditor.sign_in("auditor", "auditor-password").await;
    auditor.wait_for_text("Users").await;
    auditor.goto(&server.url("/console/demo/users?search=bob")).await;
    auditor.wait_for_link("bob").await.click().await.unwrap();
    auditor.wait_for("tr[data-session]").await;
    let text = auditor.text().await;
    assert!(!text.contains("Sign out all sessions") && auditor.count("button.link").await == 0, "{text}");
    assert_eq!(auditor.count("nav[aria-label=Sections] a").await, 1, "only Users: no view-realm, no view-clients");
    auditor.screenshot("13-read-only").await;

    // Narrow screens: the same list, readable.
    let narrow = Chrome::open(&driver, "narrow", 420).await;
    narrow.goto(&server.url("/console/demo/sessions")).await;
    narrow.sign_in(latchkey_tests::ADMIN_USER, latchkey_tests::ADMIN_PASSWORD).await;
    narrow.wait_for("tr[data-session]").await;
    narrow.screenshot("14-narrow").await;

    for browser in [alice, bob, bob_again, carol, admin, auditor, narrow] {
        browser.close().await;
    }
}
