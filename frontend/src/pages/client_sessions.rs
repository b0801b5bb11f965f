//! One client's sessions: those in which this application is signed in.

use leptos::prelude::*;

use crate::api::{self, Page};
use crate::components::list::{page_of, Loaded, Pager, Refresh, Toolbar};
use crate::components::session_table::{Row, SessionTable};
use crate::roles::Can;
use crate::routes::{self, Section, SessionFilters};

/// `client` is the client's UUID.
#[component]
pub fn ClientSessionsPage(realm: String, client: String, can: Can) -> impl IntoView {
    let filters = routes::use_filters::<SessionFilters>();
    let refresh = Refresh::periodic();
    let info = {
        let (realm, client) = (realm.clone(), client.clone());
        LocalResource::new(move || {
            let (realm, client) = (realm.clone(), client.clone());
            async move { api::client(&realm, &client).await }
        })
    };
    let sessions = {
        let realm = realm.clone();
        LocalResource::new(move || {
            let (realm, client, query) = (realm.clone(), client.clone(), page_of(&filters.current.get()));
            refresh.track();
            async move { api::client_sessions(&realm, &client, &query).await.map(|page| page.map(Row::from)) }
        })
    };
    let title = move || match info.get() {
        Some(Ok(c)) => c.client_id.unwrap_or_default(),
        _ => "Client".to_owned(),
    };
    let table_realm = realm.clone();
    let table = move |page: Page<Row>| {
        view! {
            <SessionTable realm=table_realm.clone() rows=page.rows can_end=can.manage_users refresh empty="No active sessions for this client" />
            <Pager filters total=page.total />
        }
    };
    view! {
        <p><a href=routes::section(&realm, Section::Clients)>"← Clients"</a></p>
        <h1>{title}</h1>
        <nav class="tabs" aria-label="Client"><a class="current" href="">"Sessions"</a></nav>
        <p class="lead">"The sessions in which this application is signed in."</p>
        <Toolbar filters refresh />
        <div class="card">
            <Loaded resource=sessions loading="Loading sessions…" retry=refresh render=table />
        </div>
    }
}
