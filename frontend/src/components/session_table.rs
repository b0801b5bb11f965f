//! The table every session list shows, with the action that ends a session.

use std::collections::BTreeMap;

use leptos::prelude::*;
use leptos::task::spawn_local;

use crate::api::{self, SessionRepresentation, UserSessionRepresentation};
use crate::components::list::Refresh;
use crate::{routes, time};

/// One row of any session list.
#[derive(Debug, Clone, PartialEq)]
pub struct Row {
    pub id: String,
    pub username: String,
    pub user_id: String,
    pub offline: bool,
    pub start: i64,
    pub last_access: i64,
    pub ip: String,
    /// Client UUID → clientId.
    pub clients: BTreeMap<String, String>,
}

impl From<SessionRepresentation> for Row {
    fn from(s: SessionRepresentation) -> Self {
        Row {
            offline: s.r#type == "OFFLINE",
            id: s.id,
            username: s.username,
            user_id: s.user_id,
            start: s.start,
            last_access: s.last_access,
            ip: s.ip_address,
            clients: s.clients,
        }
    }
}

impl Row {
    /// A user's session, whose type the caller knows from the list it came in.
    pub fn of_user(s: UserSessionRepresentation, offline: bool) -> Self {
        Row {
            offline,
            id: s.id,
            username: s.username,
            user_id: s.user_id,
            start: s.start,
            last_access: s.last_access,
            ip: s.ip_address,
            clients: s.clients,
        }
    }
}

/// The table of sessions, with "Sign out" (regular) or "Revoke" (offline) when `can_end`;
/// `empty` when there is none. On a user's own page the user is not a link.
#[component]
pub fn SessionTable(
    realm: String,
    rows: Vec<Row>,
    can_end: bool,
    refresh: Refresh,
    empty: &'static str,
    #[prop(optional)] user_page: bool,
) -> impl IntoView {
    if rows.is_empty() {
        return view! { <div class="state">{empty}</div> }.into_any();
    }
    let notice = RwSignal::new(None::<String>);
    let now = time::now();
    let body = rows
        .into_iter()
        .map(|row| view! { <SessionRow realm=realm.clone() row can_end refresh notice now user_page /> })
        .collect_view();
    view! {
        {move || notice.get().map(|n| view! { <div class="notice" role="alert">{n}</div> })}
        <table>
            <thead><tr><th>"User"</th><th>"Type"</th><th>"Started"</th><th>"Last access"</th><th>"IP address"</th><th>"Clients"</th><th><span class="sr">"Actions"</span></th></tr></thead>
            <tbody>{body}</tbody>
        </table>
    }
    .into_any()
}

/// One session; ending it tells what went wrong in `notice` and reloads the list.
#[component]
fn SessionRow(
    realm: String,
    row: Row,
    can_end: bool,
    refresh: Refresh,
    notice: RwSignal<Option<String>>,
    now: i64,
    user_page: bool,
) -> impl IntoView {
    let Row { id, username, user_id, offline, start, last_access, ip, clients } = row;
    let end = {
        let (realm, id) = (realm.clone(), id.clone());
        move |_| {
            let (realm, id) = (realm.clone(), id.clone());
            spawn_local(async move {
                match api::end_session(&realm, &id, offline).await {
                    Ok(()) => notice.set(None),
                    Err(e) => notice.set(Some(e.to_string())),
                }
                refresh.now();
            });
        }
    };
    let user = if user_page {
        view! { <span>{username}</span> }.into_any()
    } else {
        view! { <a href=routes::user_sessions(&realm, &user_id)>{username}</a> }.into_any()
    };
    let clients = clients
        .into_iter()
        .map(|(id, client_id)| view! { <a href=routes::client_sessions(&realm, &id)>{client_id}</a> })
        .collect_view();
    let kind = if offline {
        view! { <span class="badge offline">"Offline"</span> }
    } else {
        view! { <span class="badge">"Regular SSO"</span> }
    };
    view! {
        <tr data-session=id>
            <td data-label="User">{user}</td>
            <td data-label="Type">{kind}</td>
            <td data-label="Started">{time::local(start)}<span class="sub">{time::ago(start, now)}</span></td>
            <td data-label="Last access">{time::local(last_access)}<span class="sub">{time::ago(last_access, now)}</span></td>
            <td data-label="IP address">{ip}</td>
            <td data-label="Clients" class="clients">{clients}</td>
            <td>{can_end.then(|| view! {
                <button class="link" on:click=end>{if offline { "Revoke" } else { "Sign out" }}</button>
            })}</td>
        </tr>
    }
}
