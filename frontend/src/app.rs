//! The console's root: the router, signing in (and coming back from the sign-in page), and who
//! is signed in; then the shell with its pages.

use leptos::prelude::*;
use leptos::task::spawn_local;
use leptos_router::components::Router;
use leptos_router::hooks::use_location;
use serde::Deserialize;

use crate::api;
use crate::auth;
use crate::components::shell::Shell;
use crate::routes::{self, BASE, CALLBACK};

#[component]
pub fn App() -> impl IntoView {
    view! {
        <Router base=BASE>
            <SignedIn />
        </Router>
    }
}

/// The sign-in page's answer, on [`CALLBACK`].
#[derive(Default, Deserialize)]
#[serde(default)]
struct SignInAnswer {
    code: String,
    state: String,
    error: String,
    error_description: String,
}

/// `?signin=` on any page: the realm whose administrators sign in here.
#[derive(Default, Deserialize)]
#[serde(default)]
struct SignInRealm {
    signin: String,
}

/// Finishes a sign-in on [`CALLBACK`]; otherwise, without tokens, goes to sign in (coming back
/// where it was). Signed in, shows the console once it knows who is.
#[component]
fn SignedIn() -> impl IntoView {
    let location = use_location();
    let go = routes::use_go();
    let tokens = api::tokens();
    let problem = RwSignal::new(None::<String>);
    let on_callback = move || location.pathname.with(|path| path == CALLBACK);

    if on_callback() {
        let answer: SignInAnswer = routes::parse_query(&location.search.get_untracked());
        if answer.code.is_empty() || answer.state.is_empty() {
            let message = [answer.error_description, answer.error].into_iter().find(|m| !m.is_empty());
            problem.set(Some(message.unwrap_or_else(|| "The sign-in was not completed.".into())));
        } else {
            spawn_local(async move {
                match auth::complete(&answer.code, &answer.state).await {
                    Ok((fresh, return_to)) => {
                        tokens.set(Some(fresh));
                        go(&return_to, true);
                    }
                    Err(e) => problem.set(Some(e)),
                }
            });
        }
    }
    // Signed out (or never in): sign in, coming back to where we are.
    Effect::new(move |_| {
        if tokens.with(Option::is_none) && problem.with(Option::is_none) && !on_callback() {
            let (path, search) = (location.pathname.get_untracked(), location.search.get_untracked());
            let return_to = if search.is_empty() { path } else { format!("{path}?{search}") };
            let asked: SignInRealm = routes::parse_query(&search);
            let realm = auth::signin_realm(Some(asked.signin).filter(|r| !r.is_empty()));
            auth::begin(&realm, &return_to);
        }
    });
    let signed_in_realm = Memo::new(move |_| tokens.with(|t| t.as_ref().map(|t| t.realm.clone())));

    move || match (problem.get(), signed_in_realm.get()) {
        (Some(message), _) => view! {
            <main><div class="state error" role="alert">
                <p>{message}</p>
                <p><a href=BASE rel="external">"Sign in again"</a></p>
            </div></main>
        }
        .into_any(),
        (None, Some(realm)) => view! { <Console realm /> }.into_any(),
        (None, None) => signing_in().into_any(),
    }
}

fn signing_in() -> impl IntoView {
    view! { <main><div class="state" aria-busy="true">"Signing in…"</div></main> }
}

/// Who signed in to `realm` (once), then the shell. Not a `Suspense`: every resource read
/// below it, outside a nearer one, would make it fall back to "Signing in…".
#[component]
fn Console(realm: String) -> impl IntoView {
    let who = LocalResource::new(move || {
        let realm = realm.clone();
        async move { api::whoami(&realm).await }
    });
    move || match who.get() {
        Some(Ok(me)) => view! { <Shell me=me /> }.into_any(),
        Some(Err(e)) => view! { <main><div class="state error" role="alert">{e.to_string()}</div></main> }.into_any(),
        None => signing_in().into_any(),
    }
}
