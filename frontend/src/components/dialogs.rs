//! The console's dialogs: the modal frame, and the realm-wide actions of the sessions page —
//! signing out every session, and the realm's revocation policy (not-before, pushed to the
//! applications) — with what such a request tells back.

use leptos::prelude::*;
use leptos::task::spawn_local;

use crate::api::{self, GlobalRequestResult};
use crate::components::list::Refresh;
use crate::time;

/// A modal dialog over the page, titled `title` (an `<h2 id=title_id>`); Escape calls `close`.
#[component]
pub fn Dialog(title_id: &'static str, title: &'static str, close: Callback<()>, children: Children) -> impl IntoView {
    view! {
        <div class="overlay">
            <div class="dialog" role="dialog" aria-modal="true" aria-labelledby=title_id
                on:keydown=move |ev: web_sys::KeyboardEvent| if ev.key() == "Escape" { close.run(()) }>
                <h2 id=title_id>{title}</h2>
                {children()}
            </div>
        </div>
    }
}

/// Which applications a logout or a revocation push reached, which it could not, and which it
/// will still try.
pub fn result_lists(result: &GlobalRequestResult) -> impl IntoView {
    let list = |class: &'static str, title: &'static str, items: &Option<Vec<String>>| {
        items.clone().filter(|v| !v.is_empty()).map(|items| {
            view! {
                <div class=class>
                    <strong>{title}</strong>
                    <ul>{items.into_iter().map(|i| view! { <li>{i}</li> }).collect_view()}</ul>
                </div>
            }
        })
    };
    let nothing =
        [&result.success_requests, &result.failed_requests, &result.pending_requests, &result.not_notified_clients]
            .iter()
            .all(|l| l.as_ref().is_none_or(Vec::is_empty));
    view! {
        <div class="result" aria-live="polite">
            {list("ok", "Notified", &result.success_requests)}
            {list("failed", "Could not be reached", &result.failed_requests)}
            {list("pending", "Still being delivered (retried for 24 hours)", &result.pending_requests)}
            {list("none", "Cannot be notified (SAML)", &result.not_notified_clients)}
            {nothing.then(|| view! { <p>"No application has an address to be notified at."</p> })}
        </div>
    }
}

/// The dialog open over the sessions page.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RealmDialog {
    LogoutAll,
    Revocation,
}

/// Confirms, then ends every session of `realm` and tells which applications were notified.
/// On the administrator's `own_realm` it says beforehand that their console session ends too.
#[component]
pub fn LogoutAllDialog(
    realm: String,
    own_realm: bool,
    open: RwSignal<Option<RealmDialog>>,
    refresh: Refresh,
) -> impl IntoView {
    let outcome = RwSignal::new(None::<Result<GlobalRequestResult, String>>);
    let busy = RwSignal::new(false);
    let confirm = {
        let realm = realm.clone();
        move |_| {
            let realm = realm.clone();
            busy.set(true);
            spawn_local(async move {
                outcome.set(Some(api::logout_all(&realm).await.map_err(|e| e.to_string())));
                busy.set(false);
            });
        }
    };
    let close = move || open.set(None);
    let done = move |_| {
        close();
        refresh.now();
    };
    view! {
        <Dialog title_id="logout-all-title" title="Sign out all active sessions?" close=Callback::new(move |()| close())>
            {move || match outcome.get() {
                None => view! {
                    <p>"Every regular and offline session of realm " <strong>{realm.clone()}</strong> " ends now: all SSO cookies become invalid and every application is notified."</p>
                    <p>"Access tokens already issued stay valid until they expire, unless a revocation policy is pushed (Actions → Revocation)."</p>
                    {own_realm.then(|| view! { <p class="notice">"This is the realm you are signed in to: your own console session ends too, and you will sign in again."</p> })}
                    <div class="actions">
                        <button on:click=move |_| close() autofocus>"Cancel"</button>
                        <button class="danger" on:click=confirm.clone() disabled=move || busy.get()>"Sign out all sessions"</button>
                    </div>
                }.into_any(),
                Some(Ok(result)) => view! {
                    <p>"All sessions of the realm have ended."</p>
                    {result_lists(&result)}
                    <div class="actions"><button class="primary" on:click=done autofocus>"Close"</button></div>
                }.into_any(),
                Some(Err(message)) => view! {
                    <p class="state error" role="alert">{message}</p>
                    <div class="actions"><button on:click=done>"Close"</button></div>
                }.into_any(),
            }}
        </Dialog>
    }
}

/// The realm's not-before (set to now, or cleared) and pushing it to the applications.
#[component]
pub fn RevocationDialog(realm: String, open: RwSignal<Option<RealmDialog>>) -> impl IntoView {
    let current = {
        let realm = realm.clone();
        LocalResource::new(move || {
            let realm = realm.clone();
            async move { api::realm(&realm).await }
        })
    };
    let pushed = RwSignal::new(None::<Result<GlobalRequestResult, String>>);
    let error = RwSignal::new(None::<String>);
    let set = {
        let realm = realm.clone();
        move |value: f64| {
            let realm = realm.clone();
            spawn_local(async move {
                match api::set_not_before(&realm, value).await {
                    Ok(()) => error.set(None),
                    Err(e) => error.set(Some(e.to_string())),
                }
                current.refetch();
            });
        }
    };
    let set_now = {
        let set = set.clone();
        move |_| set(js_sys::Date::now() / 1000.0)
    };
    let clear = move |_| set(0.0);
    let push = move |_| {
        let realm = realm.clone();
        spawn_local(async move { pushed.set(Some(api::push_revocation(&realm).await.map_err(|e| e.to_string()))) });
    };
    let not_before = move || match current.get() {
        Some(Ok(r)) if r.not_before > 0 => time::local(r.not_before * 1000),
        Some(Ok(_)) => "None".to_owned(),
        Some(Err(e)) => e.to_string(),
        None => String::new(),
    };
    view! {
        <Dialog title_id="revocation-title" title="Revocation" close=Callback::new(move |()| open.set(None))>
            <p>"Tokens issued before the not-before time are refused; pushing sends it to every application with an admin URL."</p>
            <p>"Not before: "<strong data-not-before="">
                <Transition fallback=|| "…">{not_before}</Transition>
            </strong></p>
            {move || error.get().map(|e| view! { <p class="state error" role="alert">{e}</p> })}
            {move || pushed.get().map(|r| match r {
                Ok(result) => result_lists(&result).into_any(),
                Err(e) => view! { <p class="state error" role="alert">{e}</p> }.into_any(),
            })}
            <div class="actions">
                <button on:click=set_now>"Set to now"</button>
                <button on:click=clear>"Clear"</button>
                <button class="primary" on:click=push>"Push"</button>
                <button on:click=move |_| open.set(None)>"Close"</button>
            </div>
        </Dialog>
    }
}
