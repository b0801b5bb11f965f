//! One user's sessions, regular and offline, and signing the user out of all of them.

use leptos::prelude::*;
use leptos::task::spawn_local;

use crate::api::{self, ApiError, SessionType};
use crate::components::dialogs::Dialog;
use crate::components::list::{Loaded, Refresh};
use crate::components::session_table::{Row, SessionTable};
use crate::roles::Can;
use crate::routes::{self, Section};

/// Both kinds of the user's sessions, the most recently used first.
async fn user_rows(realm: &str, user: &str) -> Result<Vec<Row>, ApiError> {
    let regular = api::user_sessions(realm, user, SessionType::Regular).await?;
    let offline = api::user_sessions(realm, user, SessionType::Offline).await?;
    let mut rows: Vec<Row> = regular
        .into_iter()
        .map(|s| Row::of_user(s, false))
        .chain(offline.into_iter().map(|s| Row::of_user(s, true)))
        .collect();
    rows.sort_by_key(|r| std::cmp::Reverse(r.last_access));
    Ok(rows)
}

/// `user` is the user's UUID.
#[component]
pub fn UserSessionsPage(realm: String, user: String, can: Can) -> impl IntoView {
    let refresh = Refresh::periodic();
    let info = {
        let (realm, user) = (realm.clone(), user.clone());
        LocalResource::new(move || {
            let (realm, user) = (realm.clone(), user.clone());
            async move { api::user(&realm, &user).await }
        })
    };
    let sessions = {
        let (realm, user) = (realm.clone(), user.clone());
        LocalResource::new(move || {
            let (realm, user) = (realm.clone(), user.clone());
            refresh.track();
            async move { user_rows(&realm, &user).await }
        })
    };
    let confirm = RwSignal::new(false);
    let notice = RwSignal::new(None::<String>);
    let whom = StoredValue::new((realm.clone(), user));
    let sign_out_all = move |_| {
        let (realm, user) = whom.get_value();
        confirm.set(false);
        spawn_local(async move {
            notice.set(Some(match api::logout_user(&realm, &user).await {
                Ok(()) => "Every session of this user has ended; its applications were notified.".into(),
                Err(e) => e.to_string(),
            }));
            refresh.now();
        });
    };
    let title = move || match info.get() {
        Some(Ok(u)) => u.username,
        _ => "User".to_owned(),
    };
    let table = {
        let realm = realm.clone();
        move |rows: Vec<Row>| {
            view! {
                <SessionTable realm=realm.clone() rows can_end=can.manage_users refresh empty="No active sessions for this user" user_page=true />
            }
        }
    };
    view! {
        <p><a href=routes::section(&realm, Section::Users)>"← Users"</a></p>
        <h1>{title}</h1>
        <nav class="tabs" aria-label="User"><a class="current" href="">"Sessions"</a></nav>
        <div class="toolbar">
            <p class="lead">"Regular and offline sessions of this user."</p>
            <span class="spacer"></span>
            {can.manage_users.then(|| view! { <button class="danger" on:click=move |_| confirm.set(true)>"Sign out all sessions"</button> })}
        </div>
        {move || notice.get().map(|n| view! { <div class="notice" role="status">{n}</div> })}
        <div class="card">
            <Loaded resource=sessions loading="Loading sessions…" retry=refresh render=table />
        </div>
        <Show when=move || confirm.get()>
            <Dialog title_id="user-logout-title" title="Sign out all sessions of this user?" close=Callback::new(move |()| confirm.set(false))>
                <p>"Every regular and offline session of this user ends and its applications are notified; tokens issued before now are refused."</p>
                <div class="actions">
                    <button on:click=move |_| confirm.set(false) autofocus>"Cancel"</button>
                    <button class="danger" on:click=sign_out_all>"Sign out"</button>
                </div>
            </Dialog>
        </Show>
    }
}
