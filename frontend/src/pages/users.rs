//! A realm's users, found by a search, each leading to their sessions.

use leptos::prelude::*;

use crate::api::{self, UserRepresentation};
use crate::components::list::Loaded;
use crate::routes::{self, UserFilters};

/// How many users a search shows.
const SHOWN: u64 = 100;

#[component]
pub fn UsersPage(realm: String) -> impl IntoView {
    let filters = routes::use_filters::<UserFilters>();
    let typed = RwSignal::new(filters.get_untracked().search);
    let users = {
        let realm = realm.clone();
        LocalResource::new(move || {
            let (realm, search) = (realm.clone(), filters.current.get().search);
            async move { api::users(&realm, &search, 0, SHOWN).await }
        })
    };
    let table = {
        let realm = realm.clone();
        move |users: Vec<UserRepresentation>| {
            if users.is_empty() {
                return view! { <div class="state">"No users found"</div> }.into_any();
            }
            view! {
                <table>
                    <thead><tr><th>"Username"</th><th>"Email"</th><th>"Enabled"</th></tr></thead>
                    <tbody>{users.into_iter().map(|u| view! {
                        <tr>
                            <td data-label="Username"><a href=routes::user_sessions(&realm, &u.id)>{u.username}</a></td>
                            <td data-label="Email">{u.email.unwrap_or_default()}</td>
                            <td data-label="Enabled">{if u.enabled { "Yes" } else { "No" }}</td>
                        </tr>
                    }).collect_view()}</tbody>
                </table>
            }
            .into_any()
        }
    };
    view! {
        <h1>"Users"</h1>
        <div class="toolbar">
            <form role="search" on:submit=move |ev: leptos::ev::SubmitEvent| {
                ev.prevent_default();
                filters.set(UserFilters { search: typed.get_untracked().trim().to_owned() });
            }>
                <input type="search" name="search" placeholder="Username or email" aria-label="Search users"
                    prop:value=move || typed.get() on:input=move |ev| typed.set(event_target_value(&ev)) />
                <button type="submit">"Search"</button>
            </form>
        </div>
        <div class="card">
            <Loaded resource=users loading="Loading users…" render=table />
        </div>
    }
}
