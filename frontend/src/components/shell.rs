//! The frame around every page: the header (realm picker, who is signed in, sign out), the
//! realm's sections as tabs, and the page the address names — the routes of the console.

use leptos::prelude::*;
use leptos_router::components::{Redirect, Route, Routes};
use leptos_router::hooks::{use_location, use_params};
use leptos_router::params::Params;
use leptos_router::{path, NavigateOptions};

use crate::api::{self, WhoAmI};
use crate::auth;
use crate::pages::{ClientSessionsPage, ClientsPage, RealmSettingsPage, SessionsPage, UserSessionsPage, UsersPage};
use crate::roles::{roles_in, Can};
use crate::routes::{self, Section};

/// A route's parameters: the realm, and the client or user a page is about.
#[derive(Params, Debug, Clone, PartialEq)]
struct PageParams {
    realm: Option<String>,
    id: Option<String>,
}

/// Makes a page for a realm and the client or user in the address.
type MakePage = fn(String, String, &WhoAmI) -> AnyView;

#[component]
pub fn Shell(me: WhoAmI) -> impl IntoView {
    let realms: Vec<String> = me.realm_access.keys().cloned().collect();
    let home = if realms.contains(&me.realm) { me.realm.clone() } else { realms.first().cloned().unwrap_or_default() };
    let location = use_location();
    let here = Memo::new(move |_| location.pathname.with(|path| routes::realm_and_section(path)));
    let realm = {
        let home = home.clone();
        Memo::new(move |_| here.with(|(realm, _)| realm.clone()).unwrap_or_else(|| home.clone()))
    };
    let go = routes::use_go();
    let tokens = api::tokens();
    let signed_in_as = format!("{} ({})", me.display_name, me.realm);
    let me = StoredValue::new(me);
    let home = StoredValue::new(home);

    let options = realms
        .into_iter()
        .map(|r| {
            let selected = {
                let r = r.clone();
                move || realm.with(|current| *current == r)
            };
            let label = r.clone();
            view! { <option value=r selected=selected>{label}</option> }
        })
        .collect_view();
    let guarded = move |allowed: fn(&Can) -> bool, page: MakePage| move || realm_page(me, allowed, page);
    view! {
        <header class="top">
            <span class="brand">"Latchkey"</span>
            <label>"Realm"
                <select aria-label="Realm" on:change=move |ev| go(&routes::section(&event_target_value(&ev), Section::Sessions), false)>
                    {options}
                </select>
            </label>
            <span class="who">{signed_in_as}</span>
            <button on:click=move |_| { if let Some(t) = tokens.get_untracked() { auth::sign_out(&t) } }>"Sign out"</button>
        </header>
        {move || me.with_value(|me| tabs(me, &realm.get(), here.with(|(_, section)| *section)))}
        <main>
            <Routes fallback=move || move || me.with_value(|me| refusal(me, &realm.get()))>
                <Route path=path!("/") view=move || first_section(me, home) />
                <Route path=path!("/:realm") view=move || first_section(me, home) />
                <Route path=path!("/:realm/sessions") view=guarded(|can| can.view_realm, |realm, _, me| {
                    view! { <SessionsPage realm me=me.clone() /> }.into_any()
                }) />
                <Route path=path!("/:realm/clients") view=guarded(|can| can.view_clients, |realm, _, _| {
                    view! { <ClientsPage realm /> }.into_any()
                }) />
                <Route path=path!("/:realm/clients/:id/sessions") view=guarded(|can| can.view_clients, |realm, client, me| {
                    let can = Can::of(me, &realm);
                    view! { <ClientSessionsPage realm client can /> }.into_any()
                }) />
                <Route path=path!("/:realm/users") view=guarded(|can| can.view_users, |realm, _, _| {
                    view! { <UsersPage realm /> }.into_any()
                }) />
                <Route path=path!("/:realm/settings") view=guarded(|can| can.view_realm, |realm, _, me| {
                    let can_manage = Can::of(me, &realm).manage_realm;
                    view! { <RealmSettingsPage realm can_manage /> }.into_any()
                }) />
                <Route path=path!("/:realm/users/:id/sessions") view=guarded(|can| can.view_users, |realm, user, me| {
                    let can = Can::of(me, &realm);
                    view! { <UserSessionsPage realm user can /> }.into_any()
                }) />
            </Routes>
        </main>
    }
}

/// The realm's sections the administrator's roles show.
fn tabs(me: &WhoAmI, realm: &str, current: Option<Section>) -> impl IntoView {
    let can = Can::of(me, realm);
    let shown = [
        (Section::Sessions, can.view_realm),
        (Section::Clients, can.view_clients),
        (Section::Users, can.view_users),
        (Section::Settings, can.view_realm),
    ];
    let links = shown
        .into_iter()
        .filter(|(_, shown)| *shown)
        .map(|(section, _)| {
            let class = if current == Some(section) { "current" } else { "" };
            view! { <a href=routes::section(realm, section) class=class>{section.label()}</a> }
        })
        .collect_view();
    view! { <nav class="tabs" aria-label="Sections">{links}</nav> }
}

/// `/` and `/{realm}`: on to the realm's first section the roles show (the home realm's on `/`).
fn first_section(me: StoredValue<WhoAmI>, home: StoredValue<String>) -> impl IntoView {
    let params = use_params::<PageParams>().get_untracked();
    let realm = params.ok().and_then(|p| p.realm).unwrap_or_else(|| home.get_value());
    let can = me.with_value(|me| Can::of(me, &realm));
    let first = match can {
        Can { view_realm: true, .. } => Section::Sessions,
        Can { view_users: true, .. } => Section::Users,
        _ => Section::Clients,
    };
    let options = NavigateOptions { resolve: false, replace: true, scroll: false, ..Default::default() };
    view! { <Redirect path=routes::section(&realm, first) options /> }
}

/// The page of a route for the realm (and client or user) in the address, made anew when they
/// change; or, when `allowed` says the roles held there do not show it, why not.
fn realm_page(me: StoredValue<WhoAmI>, allowed: fn(&Can) -> bool, page: MakePage) -> impl IntoView {
    let params = use_params::<PageParams>();
    let place = Memo::new(move |_| {
        params
            .with(|p| p.as_ref().ok().map(|p| (p.realm.clone().unwrap_or_default(), p.id.clone().unwrap_or_default())))
    });
    move || {
        let (realm, id) = place.get().unwrap_or_default();
        let me = me.get_value();
        if allowed(&Can::of(&me, &realm)) {
            page(realm, id, &me)
        } else {
            refusal(&me, &realm).into_any()
        }
    }
}

/// Why a page is not shown: no role at all in the realm, or none that shows this page (or no
/// such page).
fn refusal(me: &WhoAmI, realm: &str) -> impl IntoView {
    if roles_in(me, realm).is_empty() {
        view! {
            <div class="state error" role="alert">"You have no administrative role in realm " {realm.to_owned()} "."</div>
        }
        .into_any()
    } else {
        view! { <div class="state" role="alert">"There is nothing here, or your roles do not show it."</div> }
            .into_any()
    }
}
