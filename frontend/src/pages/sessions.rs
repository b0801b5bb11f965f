//! A realm's sessions: its active clients, and every session, searchable and filtered by type,
//! with the realm-wide actions (sign out all, revocation) for those who may take them.

use leptos::prelude::*;

use crate::api::{self, ClientSessionStats, WhoAmI};
use crate::components::dialogs::{LogoutAllDialog, RealmDialog, RevocationDialog};
use crate::components::list::{page_of, Loaded, Pager, Refresh, Toolbar};
use crate::components::session_table::{Row, SessionTable};
use crate::roles::Can;
use crate::routes::{self, SessionFilters};

#[component]
pub fn SessionsPage(realm: String, me: WhoAmI) -> impl IntoView {
    let filters = routes::use_filters::<SessionFilters>();
    let refresh = Refresh::periodic();
    let sessions = {
        let realm = realm.clone();
        LocalResource::new(move || {
            let (realm, query) = (realm.clone(), page_of(&filters.current.get()));
            refresh.track();
            async move { api::realm_sessions(&realm, &query).await.map(|page| page.map(Row::from)) }
        })
    };
    let stats = {
        let realm = realm.clone();
        LocalResource::new(move || {
            let realm = realm.clone();
            refresh.track();
            async move { api::client_session_stats(&realm).await }
        })
    };
    let can = Can::of(&me, &realm);
    let own_realm = me.realm == realm;
    let dialog = RwSignal::new(None::<RealmDialog>);
    let table_realm = realm.clone();
    let table = move |page: api::Page<Row>| {
        view! {
            <SessionTable realm=table_realm.clone() rows=page.rows can_end=can.manage_users refresh empty="No active sessions in this realm" />
            <Pager filters total=page.total />
        }
    };
    view! {
        <h1>"Sessions"</h1>
        <p class="lead">"Every active session of realm " <strong>{realm.clone()}</strong> ", newest activity first."</p>
        <ActiveClients realm=realm.clone() stats />
        <Toolbar filters refresh>
            {(can.manage_users || can.manage_realm).then(|| view! { <ActionsMenu can dialog /> })}
        </Toolbar>
        <div class="card">
            <Loaded resource=sessions loading="Loading sessions…" retry=refresh render=table />
        </div>
        {move || match dialog.get() {
            Some(RealmDialog::LogoutAll) => view! { <LogoutAllDialog realm=realm.clone() own_realm open=dialog refresh /> }.into_any(),
            Some(RealmDialog::Revocation) => view! { <RevocationDialog realm=realm.clone() open=dialog /> }.into_any(),
            None => ().into_any(),
        }}
    }
}

/// The realm's clients with sessions, with their counts; nothing until (and unless) they load.
#[component]
fn ActiveClients(realm: String, stats: LocalResource<Result<Vec<ClientSessionStats>, api::ApiError>>) -> impl IntoView {
    move || {
        let list = stats.get().and_then(Result::ok).filter(|list| !list.is_empty())?;
        let cards = list
            .into_iter()
            .map(|s| {
                view! {
                    <div class="card">
                        <a href=routes::client_sessions(&realm, &s.id)>{s.client_id}</a>
                        <div><span class="num">{s.active}</span>" regular · "<span class="num">{s.offline}</span>" offline"</div>
                    </div>
                }
            })
            .collect_view();
        Some(view! { <section class="stats" aria-label="Active clients">{cards}</section> })
    }
}

/// "Actions ▾": the realm-wide actions the roles allow.
#[component]
fn ActionsMenu(can: Can, dialog: RwSignal<Option<RealmDialog>>) -> impl IntoView {
    let open = RwSignal::new(false);
    let choose = move |chosen: RealmDialog| {
        move |_| {
            open.set(false);
            dialog.set(Some(chosen));
        }
    };
    view! {
        <div class="menu">
            <button aria-haspopup="true" aria-expanded=move || open.get().to_string()
                on:click=move |_| open.update(|o| *o = !*o)>"Actions ▾"</button>
            <Show when=move || open.get()>
                <ul role="menu">
                    {can.manage_realm.then(|| view! { <li><button role="menuitem" on:click=choose(RealmDialog::Revocation)>"Revocation"</button></li> })}
                    {can.manage_users.then(|| view! { <li><button role="menuitem" on:click=choose(RealmDialog::LogoutAll)>"Sign out all active sessions"</button></li> })}
                </ul>
            </Show>
        </div>
    }
}
