//! A realm's clients, with how many regular and offline sessions each has.

use leptos::prelude::*;

use crate::api::{self, ApiError, ClientRepresentation};
use crate::components::list::{Loaded, Refresh};
use crate::routes;

/// A client and its session counts.
#[derive(Debug, Clone, PartialEq)]
struct ClientRow {
    client: ClientRepresentation,
    regular: String,
    offline: String,
}

/// The realm's clients with their counts; a client the counts leave out has none.
async fn client_rows(realm: &str) -> Result<Vec<ClientRow>, ApiError> {
    let clients = api::clients(realm).await?;
    let stats = api::client_session_stats(realm).await.unwrap_or_default();
    Ok(clients
        .into_iter()
        .map(|client| {
            let id = client.id.clone().unwrap_or_default();
            let counts = stats.iter().find(|s| s.id == id);
            ClientRow {
                regular: counts.map_or("0".to_owned(), |s| s.active.clone()),
                offline: counts.map_or("0".to_owned(), |s| s.offline.clone()),
                client,
            }
        })
        .collect())
}

#[component]
pub fn ClientsPage(realm: String) -> impl IntoView {
    let refresh = Refresh::periodic();
    let rows = {
        let realm = realm.clone();
        LocalResource::new(move || {
            let realm = realm.clone();
            refresh.track();
            async move { client_rows(&realm).await }
        })
    };
    let table_realm = realm.clone();
    let table = move |rows: Vec<ClientRow>| {
        let realm = table_realm.clone();
        view! {
            <table>
                <thead><tr><th>"Client"</th><th>"Protocol"</th><th>"Regular sessions"</th><th>"Offline sessions"</th><th></th></tr></thead>
                <tbody>{rows.into_iter().map(|row| view! { <ClientLine realm=realm.clone() row /> }).collect_view()}</tbody>
            </table>
        }
    };
    view! {
        <h1>"Clients"</h1>
        <p class="lead">"The applications of realm " <strong>{realm}</strong> " and their sessions."</p>
        <div class="card">
            <Loaded resource=rows loading="Loading sessions…" retry=refresh render=table />
        </div>
    }
}

#[component]
fn ClientLine(realm: String, row: ClientRow) -> impl IntoView {
    let ClientRow { client, regular, offline } = row;
    let to = routes::client_sessions(&realm, client.id.as_deref().unwrap_or_default());
    view! {
        <tr>
            <td data-label="Client">{client.client_id.unwrap_or_default()}<span class="sub">{client.name.unwrap_or_default()}</span></td>
            <td data-label="Protocol">{client.protocol.unwrap_or_default()}</td>
            <td data-label="Regular">{regular}</td>
            <td data-label="Offline">{offline}</td>
            <td><a href=to>"Show sessions"</a></td>
        </tr>
    }
}
