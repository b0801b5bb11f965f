//! The console: sign-in, the realm picker, and the pages — realm sessions, clients and a
//! client's sessions, users and a user's sessions.

use std::collections::BTreeMap;
use std::future::Future;
use std::time::Duration;

use leptos::prelude::*;
use leptos::task::spawn_local;

use crate::api::{self, ApiError, GlobalRequestResult, ListQuery, Page, WhoAmI};
use crate::auth;
use crate::nav::{self, encode, href, navigate, replace, use_location, Link};
use crate::time;

/// How often an open list reloads itself.
const REFRESH: Duration = Duration::from_secs(10);
const PAGE: u64 = 10;

#[derive(Debug, Clone, PartialEq)]
enum Load<T> {
    Loading,
    Ready(T),
    Failed(String),
}

impl<T> From<Result<T, ApiError>> for Load<T> {
    fn from(r: Result<T, ApiError>) -> Self {
        match r {
            Ok(v) => Load::Ready(v),
            Err(e) => Load::Failed(e.to_string()),
        }
    }
}

/// Loads into `target` whenever `key` changes; an answer that arrives after a newer request
/// was made is dropped. Keeps showing the last answer while reloading the same view.
fn watch<K, T, F, Fut>(key: impl Fn() -> K + 'static, fetch: F, target: RwSignal<Load<T>>)
where
    K: PartialEq + Clone + Send + Sync + 'static,
    T: Send + Sync + 'static,
    F: Fn(K) -> Fut + Clone + 'static,
    Fut: Future<Output = Result<T, ApiError>> + 'static,
{
    let generation = StoredValue::new(0u64);
    Effect::new(move |_| {
        let k = key();
        let g = generation.get_value() + 1;
        generation.set_value(g);
        let fetch = fetch.clone();
        spawn_local(async move {
            let result = fetch(k).await;
            if generation.get_value() == g {
                target.set(result.into());
            }
        });
    });
}

/// A counter that ticks every [`REFRESH`] while the page is open; lists reload on each tick.
fn refresher() -> RwSignal<u32> {
    let tick = RwSignal::new(0u32);
    if let Ok(handle) = set_interval_with_handle(move || tick.update(|t| *t += 1), REFRESH) {
        on_cleanup(move || handle.clear());
    }
    tick
}

#[component]
pub fn App() -> impl IntoView {
    let location = use_location();
    let tokens = api::tokens();
    let who = RwSignal::new(Load::<WhoAmI>::Loading);
    let problem = RwSignal::new(None::<String>);

    // Finish a sign-in on /callback; otherwise, without tokens, go and sign in.
    let start = location.get_untracked();
    if start.path == "/callback" {
        match (start.param("code"), start.param("state")) {
            (Some(code), Some(state)) => spawn_local(async move {
                match auth::complete(&code, &state).await {
                    Ok((fresh, return_to)) => {
                        tokens.set(Some(fresh));
                        replace(&return_to);
                    }
                    Err(e) => problem.set(Some(e)),
                }
            }),
            _ => problem.set(Some(
                start
                    .param("error_description")
                    .or(start.param("error"))
                    .unwrap_or("The sign-in was not completed.".into()),
            )),
        }
    }
    // Signed out (or never in): sign in, coming back to where we are.
    Effect::new(move |_| {
        if tokens.with(Option::is_none) && problem.with(Option::is_none) && location.with(|l| l.path != "/callback") {
            let here = window().location();
            let return_to = format!("{}{}", here.pathname().unwrap_or_default(), here.search().unwrap_or_default());
            let realm = auth::signin_realm(location.with_untracked(|l| l.param("signin")));
            auth::begin(&realm, &return_to);
        }
    });
    // Who is signed in, each time the sign-in realm's tokens change hands.
    let signed_in_realm = Memo::new(move |_| tokens.with(|t| t.as_ref().map(|t| t.realm.clone())));
    Effect::new(move |_| {
        if let Some(realm) = signed_in_realm.get() {
            spawn_local(async move { who.set(api::whoami(&realm).await.into()) });
        }
    });

    view! {
        {move || match (problem.get(), tokens.with(Option::is_some), who.get()) {
            (Some(message), _, _) => view! {
                <main><div class="state error" role="alert">
                    <p>{message}</p>
                    <p><a href=nav::BASE>"Sign in again"</a></p>
                </div></main>
            }.into_any(),
            (None, true, Load::Ready(me)) => view! { <Shell me=me /> }.into_any(),
            (None, true, Load::Failed(message)) => view! {
                <main><div class="state error" role="alert">{message}</div></main>
            }.into_any(),
            _ => view! { <main><div class="state" aria-busy="true">"Signing in…"</div></main> }.into_any(),
        }}
    }
}

/// The roles the administrator holds in `realm`.
fn roles_in(me: &WhoAmI, realm: &str) -> Vec<String> {
    me.realm_access.get(realm).cloned().unwrap_or_default()
}

#[derive(Debug, Clone, PartialEq)]
struct Can {
    view_realm: bool,
    view_users: bool,
    view_clients: bool,
    manage_users: bool,
    manage_realm: bool,
}

impl Can {
    fn of(me: &WhoAmI, realm: &str) -> Self {
        let roles = roles_in(me, realm);
        let has = |r: &str| roles.iter().any(|held| held == r);
        Can {
            view_realm: has("view-realm"),
            view_users: has("view-users"),
            view_clients: has("view-clients"),
            manage_users: has("manage-users"),
            manage_realm: has("manage-realm"),
        }
    }
}

#[component]
fn Shell(me: WhoAmI) -> impl IntoView {
    let location = use_location();
    let segments = Memo::new(move |_| location.with(|l| l.segments()));
    let realms: Vec<String> = me.realm_access.keys().cloned().collect();
    let home = if realms.contains(&me.realm) { me.realm.clone() } else { realms.first().cloned().unwrap_or_default() };
    let tokens = api::tokens();
    let me_for_view = me.clone();
    let home_for_view = home.clone();

    let realm = Memo::new(move |_| segments.with(|s| s.first().cloned()));
    let current = move || realm.get().unwrap_or_else(|| home.clone());

    view! {
        <header class="top">
            <span class="brand">"Latchkey"</span>
            <label>"Realm"
                <select aria-label="Realm" on:change=move |ev| {
                    let chosen = event_target_value(&ev);
                    navigate(&href(&format!("/{}/sessions", encode(&chosen)), &[]));
                }>
                    {realms.iter().map(|r| {
                        let selected = { let r = r.clone(); let current = current.clone(); move || current() == r };
                        view! { <option value=r.clone() selected=selected>{r.clone()}</option> }
                    }).collect_view()}
                </select>
            </label>
            <span class="who">{format!("{} ({})", me.display_name, me.realm)}</span>
            <button on:click=move |_| { if let Some(t) = tokens.get_untracked() { auth::sign_out(&t) } }>"Sign out"</button>
        </header>
        {move || {
            let me = me_for_view.clone();
            let segs = segments.get();
            let realm = segs.first().cloned().unwrap_or_else(|| home_for_view.clone());
            let can = Can::of(&me, &realm);
            let tab = segs.get(1).cloned().unwrap_or_default();
            let tabs = view! {
                <nav class="tabs" aria-label="Sections">
                    {can.view_realm.then(|| tab_link(&realm, "sessions", "Sessions", &tab))}
                    {can.view_clients.then(|| tab_link(&realm, "clients", "Clients", &tab))}
                    {can.view_users.then(|| tab_link(&realm, "users", "Users", &tab))}
                </nav>
            };
            let seg = |i: usize| segs.get(i).cloned().unwrap_or_default();
            let page = match (segs.len(), seg(1).as_str(), seg(3).as_str()) {
                (0, _, _) | (1, _, _) => {
                    let first_tab = if can.view_realm { "sessions" } else if can.view_users { "users" } else { "clients" };
                    replace(&href(&format!("/{}/{first_tab}", encode(&realm)), &[]));
                    ().into_any()
                }
                (2, "sessions", _) if can.view_realm => view! { <SessionsPage realm=realm.clone() me=me.clone() /> }.into_any(),
                (2, "clients", _) if can.view_clients => view! { <ClientsPage realm=realm.clone() /> }.into_any(),
                (4, "clients", "sessions") if can.view_clients => {
                    view! { <ClientSessionsPage realm=realm.clone() client=seg(2) can=can.clone() /> }.into_any()
                }
                (2, "users", _) if can.view_users => view! { <UsersPage realm=realm.clone() /> }.into_any(),
                (4, "users", "sessions") if can.view_users => {
                    view! { <UserSessionsPage realm=realm.clone() user=seg(2) can=can.clone() /> }.into_any()
                }
                _ if roles_in(&me, &realm).is_empty() => view! {
                    <div class="state error" role="alert">"You have no administrative role in realm " {realm.clone()} "."</div>
                }.into_any(),
                _ => view! { <div class="state" role="alert">"There is nothing here, or your roles do not show it."</div> }.into_any(),
            };
            view! { {tabs} <main>{page}</main> }
        }}
    }
}

fn tab_link(realm: &str, tab: &'static str, label: &'static str, current: &str) -> impl IntoView {
    let class = if current == tab { "current" } else { "" };
    view! { <Link to=href(&format!("/{}/{tab}", encode(realm)), &[]) class=class>{label}</Link> }
}

/// The list's filters and page, read from the address.
fn list_query() -> Memo<ListQuery> {
    let location = use_location();
    Memo::new(move |_| {
        location.with(|l| ListQuery {
            kind: l.param("type").unwrap_or_default().to_uppercase(),
            search: l.param("search").unwrap_or_default(),
            first: l.param("first").and_then(|f| f.parse().ok()).unwrap_or(0),
            max: PAGE,
        })
    })
}

/// Writes the list's filters and page into the address (no new history entry).
fn set_list_query(q: &ListQuery) {
    let path = use_location().with_untracked(|l| format!("{}{}", nav::BASE, l.path));
    let first = if q.first > 0 { q.first.to_string() } else { String::new() };
    let url = href(
        path.strip_prefix(nav::BASE).unwrap_or(&path),
        &[("search", q.search.clone()), ("type", q.kind.to_lowercase()), ("first", first)],
    );
    replace(&url);
}

/// One row of any session list.
#[derive(Debug, Clone, PartialEq)]
struct Row {
    id: String,
    username: String,
    user_id: String,
    offline: bool,
    start: i64,
    last_access: i64,
    ip: String,
    clients: BTreeMap<String, String>,
}

impl From<api::SessionRepresentation> for Row {
    fn from(s: api::SessionRepresentation) -> Self {
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

#[component]
fn Toolbar(
    query: Memo<ListQuery>,
    refresh: RwSignal<u32>,
    #[prop(optional)] children: Option<Children>,
) -> impl IntoView {
    let typed = RwSignal::new(query.get_untracked().search);
    view! {
        <div class="toolbar">
            <form role="search" on:submit=move |ev: leptos::ev::SubmitEvent| {
                ev.prevent_default();
                let mut q = query.get_untracked();
                q.search = typed.get_untracked().trim().to_owned();
                q.first = 0;
                set_list_query(&q);
            }>
                <input type="search" name="search" placeholder="Username, IP address or client" aria-label="Search sessions"
                    prop:value=move || typed.get() on:input=move |ev| typed.set(event_target_value(&ev)) />
                <button type="submit">"Search"</button>
            </form>
            <label>"Type "
                <select name="type" aria-label="Session type" on:change=move |ev| {
                    let mut q = query.get_untracked();
                    q.kind = event_target_value(&ev);
                    q.first = 0;
                    set_list_query(&q);
                }>
                    <option value="" selected=move || query.with(|q| q.kind.is_empty() || q.kind == "ALL")>"All"</option>
                    <option value="REGULAR" selected=move || query.with(|q| q.kind == "REGULAR")>"Regular SSO"</option>
                    <option value="OFFLINE" selected=move || query.with(|q| q.kind == "OFFLINE")>"Offline"</option>
                </select>
            </label>
            <button on:click=move |_| refresh.update(|t| *t += 1) title="The list also reloads itself every 10 seconds">"Refresh"</button>
            <span class="spacer"></span>
            {children.map(|c| c())}
        </div>
    }
}

/// The table of sessions, with "Sign out" (regular) or "Revoke" (offline) when allowed.
#[component]
fn SessionTable(
    realm: String,
    rows: Vec<Row>,
    can_end: bool,
    refresh: RwSignal<u32>,
    #[prop(into)] empty: String,
    #[prop(optional)] user_page: bool,
) -> impl IntoView {
    let notice = RwSignal::new(None::<String>);
    if rows.is_empty() {
        return view! { <div class="state">{empty}</div> }.into_any();
    }
    let now = time::now();
    let body = rows
        .into_iter()
        .map(|row| {
            let realm_for_end = realm.clone();
            let id = row.id.clone();
            let offline = row.offline;
            let end = move |_| {
                let (realm, id) = (realm_for_end.clone(), id.clone());
                spawn_local(async move {
                    match api::end_session(&realm, &id, offline).await {
                        Ok(()) => notice.set(None),
                        Err(e) => notice.set(Some(e.to_string())),
                    }
                    refresh.update(|t| *t += 1);
                });
            };
            let user_link = href(&format!("/{}/users/{}/sessions", encode(&realm), encode(&row.user_id)), &[]);
            let clients = row
                .clients
                .clone()
                .into_iter()
                .map(|(id, client_id)| {
                    let to = href(&format!("/{}/clients/{}/sessions", encode(&realm), encode(&id)), &[]);
                    view! { <Link to=to>{client_id}</Link> }
                })
                .collect_view();
            view! {
                <tr data-session=row.id.clone()>
                    <td data-label="User">{if user_page { view! { <span>{row.username.clone()}</span> }.into_any() } else {
                        view! { <Link to=user_link>{row.username.clone()}</Link> }.into_any() }}</td>
                    <td data-label="Type">{if row.offline { view! { <span class="badge offline">"Offline"</span> } } else {
                        view! { <span class="badge">"Regular SSO"</span> } }}</td>
                    <td data-label="Started">{time::local(row.start)}<span class="sub">{time::ago(row.start, now)}</span></td>
                    <td data-label="Last access">{time::local(row.last_access)}<span class="sub">{time::ago(row.last_access, now)}</span></td>
                    <td data-label="IP address">{row.ip.clone()}</td>
                    <td data-label="Clients" class="clients">{clients}</td>
                    <td>{can_end.then(|| view! {
                        <button class="link" on:click=end>{if offline { "Revoke" } else { "Sign out" }}</button>
                    })}</td>
                </tr>
            }
        })
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

#[component]
fn Pager(query: Memo<ListQuery>, total: u64) -> impl IntoView {
    let q = query.get_untracked();
    let last = (q.first + q.max).min(total);
    let shown = if total == 0 { "0".to_owned() } else { format!("{}–{}", q.first + 1, last) };
    let previous = {
        let q = q.clone();
        move |_| set_list_query(&ListQuery { first: q.first.saturating_sub(q.max), ..q.clone() })
    };
    let next = {
        let q = q.clone();
        move |_| set_list_query(&ListQuery { first: q.first + q.max, ..q.clone() })
    };
    view! {
        <div class="pager">
            <span aria-live="polite">{format!("{shown} of {total}")}</span>
            <button on:click=previous disabled={q.first == 0}>"Previous"</button>
            <button on:click=next disabled={last >= total}>"Next"</button>
        </div>
    }
}

fn list_view<T: Clone + Send + Sync + 'static>(
    state: RwSignal<Load<Page<T>>>,
    render: impl Fn(Page<T>) -> AnyView + Send + Sync + 'static,
    retry: RwSignal<u32>,
) -> impl IntoView {
    move || match state.get() {
        Load::Loading => view! { <div class="state" aria-busy="true">"Loading sessions…"</div> }.into_any(),
        Load::Failed(message) => view! {
            <div class="state error" role="alert">
                <p>{message}</p>
                <button on:click=move |_| retry.update(|t| *t += 1)>"Try again"</button>
            </div>
        }
        .into_any(),
        Load::Ready(page) => render(page),
    }
}

#[component]
fn SessionsPage(realm: String, me: WhoAmI) -> impl IntoView {
    let query = list_query();
    let tick = refresher();
    let sessions = RwSignal::new(Load::<Page<Row>>::Loading);
    let stats = RwSignal::new(Load::<Vec<api::ClientSessionStats>>::Loading);
    let can = Can::of(&me, &realm);
    let own_realm = me.realm == realm;
    {
        let realm = realm.clone();
        watch(
            move || (query.get(), tick.get()),
            move |(q, _)| {
                let realm = realm.clone();
                async move {
                    let page = api::realm_sessions(&realm, &q).await?;
                    Ok(Page { rows: page.rows.into_iter().map(Row::from).collect(), total: page.total })
                }
            },
            sessions,
        );
    }
    {
        let realm = realm.clone();
        watch(
            move || tick.get(),
            move |_| {
                let realm = realm.clone();
                async move { api::client_session_stats(&realm).await }
            },
            stats,
        );
    }
    let dialog = RwSignal::new(None::<&'static str>);
    let menu_open = RwSignal::new(false);
    let table_realm = realm.clone();
    let can_end = can.manage_users;

    view! {
        <h1>"Sessions"</h1>
        <p class="lead">"Every active session of realm " <strong>{realm.clone()}</strong> ", newest activity first."</p>
        <ActiveClients realm=realm.clone() stats=stats />
        <Toolbar query=query refresh=tick>
            {(can.manage_users || can.manage_realm).then(|| view! {
                <div class="menu">
                    <button aria-haspopup="true" aria-expanded=move || menu_open.get().to_string()
                        on:click=move |_| menu_open.update(|o| *o = !*o)>"Actions ▾"</button>
                    <Show when=move || menu_open.get()>
                        <ul role="menu">
                            {can.manage_realm.then(|| view! { <li><button role="menuitem" on:click=move |_| { menu_open.set(false); dialog.set(Some("revocation")); }>"Revocation"</button></li> })}
                            {can.manage_users.then(|| view! { <li><button role="menuitem" on:click=move |_| { menu_open.set(false); dialog.set(Some("logout-all")); }>"Sign out all active sessions"</button></li> })}
                        </ul>
                    </Show>
                </div>
            })}
        </Toolbar>
        <div class="card">
            {list_view(sessions, move |page| {
                let total = page.total;
                view! {
                    <SessionTable realm=table_realm.clone() rows=page.rows can_end=can_end refresh=tick empty="No active sessions in this realm" />
                    <Pager query=query total=total />
                }.into_any()
            }, tick)}
        </div>
        {move || match dialog.get() {
            Some("logout-all") => view! { <LogoutAllDialog realm=realm.clone() own_realm=own_realm close=dialog refresh=tick /> }.into_any(),
            Some("revocation") => view! { <RevocationDialog realm=realm.clone() close=dialog /> }.into_any(),
            _ => ().into_any(),
        }}
    }
}

#[component]
fn ActiveClients(realm: String, stats: RwSignal<Load<Vec<api::ClientSessionStats>>>) -> impl IntoView {
    move || {
        match stats.get() {
        Load::Ready(list) if !list.is_empty() => view! {
            <section class="stats" aria-label="Active clients">
                {list.into_iter().map(|s| {
                    let to = href(&format!("/{}/clients/{}/sessions", encode(&realm), encode(&s.id)), &[]);
                    view! {
                        <div class="card">
                            <Link to=to>{s.client_id.clone()}</Link>
                            <div><span class="num">{s.active.clone()}</span>" regular · "<span class="num">{s.offline.clone()}</span>" offline"</div>
                        </div>
                    }
                }).collect_view()}
            </section>
        }.into_any(),
        _ => ().into_any(),
    }
    }
}

fn result_lists(result: &GlobalRequestResult) -> impl IntoView {
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

#[component]
fn LogoutAllDialog(
    realm: String,
    own_realm: bool,
    close: RwSignal<Option<&'static str>>,
    refresh: RwSignal<u32>,
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
    let done = move |_| {
        close.set(None);
        refresh.update(|t| *t += 1);
    };
    view! {
        <div class="overlay">
            <div class="dialog" role="dialog" aria-modal="true" aria-labelledby="logout-all-title"
                on:keydown=move |ev: web_sys::KeyboardEvent| if ev.key() == "Escape" { close.set(None) }>
                <h2 id="logout-all-title">"Sign out all active sessions?"</h2>
                {move || match outcome.get() {
                    None => view! {
                        <p>"Every regular and offline session of realm " <strong>{realm.clone()}</strong> " ends now: all SSO cookies become invalid and every application is notified."</p>
                        <p>"Access tokens already issued stay valid until they expire, unless a revocation policy is pushed (Actions → Revocation)."</p>
                        {own_realm.then(|| view! { <p class="notice">"This is the realm you are signed in to: your own console session ends too, and you will sign in again."</p> })}
                        <div class="actions">
                            <button on:click=move |_| close.set(None) autofocus>"Cancel"</button>
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
            </div>
        </div>
    }
}

#[component]
fn RevocationDialog(realm: String, close: RwSignal<Option<&'static str>>) -> impl IntoView {
    let current = RwSignal::new(Load::<api::RealmRepresentation>::Loading);
    let reload = RwSignal::new(0u32);
    let pushed = RwSignal::new(None::<Result<GlobalRequestResult, String>>);
    let error = RwSignal::new(None::<String>);
    {
        let realm = realm.clone();
        watch(
            move || reload.get(),
            move |_| {
                let realm = realm.clone();
                async move { api::realm(&realm).await }
            },
            current,
        );
    }
    let set = {
        let realm = realm.clone();
        move |value: f64| {
            let realm = realm.clone();
            spawn_local(async move {
                match api::set_not_before(&realm, value).await {
                    Ok(()) => error.set(None),
                    Err(e) => error.set(Some(e.to_string())),
                }
                reload.update(|r| *r += 1);
            });
        }
    };
    let set_now = {
        let set = set.clone();
        move |_| set(js_sys::Date::now() / 1000.0)
    };
    let clear = move |_| set(0.0);
    let push = {
        let realm = realm.clone();
        move |_| {
            let realm = realm.clone();
            spawn_local(async move { pushed.set(Some(api::push_revocation(&realm).await.map_err(|e| e.to_string()))) });
        }
    };
    view! {
        <div class="overlay">
            <div class="dialog" role="dialog" aria-modal="true" aria-labelledby="revocation-title"
                on:keydown=move |ev: web_sys::KeyboardEvent| if ev.key() == "Escape" { close.set(None) }>
                <h2 id="revocation-title">"Revocation"</h2>
                <p>"Tokens issued before the not-before time are refused; pushing sends it to every application with an admin URL."</p>
                <p>"Not before: "<strong data-not-before="">{move || match current.get() {
                    Load::Ready(r) if r.not_before > 0 => time::local(r.not_before * 1000),
                    Load::Ready(_) => "None".to_owned(),
                    Load::Loading => "…".to_owned(),
                    Load::Failed(e) => e,
                }}</strong></p>
                {move || error.get().map(|e| view! { <p class="state error" role="alert">{e}</p> })}
                {move || pushed.get().map(|r| match r {
                    Ok(result) => result_lists(&result).into_any(),
                    Err(e) => view! { <p class="state error" role="alert">{e}</p> }.into_any(),
                })}
                <div class="actions">
                    <button on:click=set_now>"Set to now"</button>
                    <button on:click=clear>"Clear"</button>
                    <button class="primary" on:click=push>"Push"</button>
                    <button on:click=move |_| close.set(None)>"Close"</button>
                </div>
            </div>
        </div>
    }
}

#[component]
fn ClientsPage(realm: String) -> impl IntoView {
    let tick = refresher();
    let state = RwSignal::new(Load::<Page<(api::ClientRepresentation, String, String)>>::Loading);
    {
        let realm = realm.clone();
        watch(
            move || tick.get(),
            move |_| {
                let realm = realm.clone();
                async move {
                    let clients = api::clients(&realm).await?;
                    let stats = api::client_session_stats(&realm).await.unwrap_or_default();
                    let rows: Vec<_> = clients
                        .into_iter()
                        .map(|c| {
                            let id = c.id.clone().unwrap_or_default();
                            let s = stats.iter().find(|s| s.id == id);
                            let regular = s.map_or("0".to_owned(), |s| s.active.clone());
                            let offline = s.map_or("0".to_owned(), |s| s.offline.clone());
                            (c, regular, offline)
                        })
                        .collect();
                    Ok(Page { total: rows.len() as u64, rows })
                }
            },
            state,
        );
    }
    view! {
        <h1>"Clients"</h1>
        <p class="lead">"The applications of realm " <strong>{realm.clone()}</strong> " and their sessions."</p>
        <div class="card">
            {list_view(state, move |page| {
                let realm = realm.clone();
                view! {
                    <table>
                        <thead><tr><th>"Client"</th><th>"Protocol"</th><th>"Regular sessions"</th><th>"Offline sessions"</th><th></th></tr></thead>
                        <tbody>{page.rows.into_iter().map(|(c, regular, offline)| {
                            let id = c.id.clone().unwrap_or_default();
                            let to = href(&format!("/{}/clients/{}/sessions", encode(&realm), encode(&id)), &[]);
                            view! {
                                <tr>
                                    <td data-label="Client">{c.client_id.clone().unwrap_or_default()}<span class="sub">{c.name.clone().unwrap_or_default()}</span></td>
                                    <td data-label="Protocol">{c.protocol.clone().unwrap_or_default()}</td>
                                    <td data-label="Regular">{regular}</td>
                                    <td data-label="Offline">{offline}</td>
                                    <td><Link to=to>"Show sessions"</Link></td>
                                </tr>
                            }
                        }).collect_view()}</tbody>
                    </table>
                }.into_any()
            }, tick)}
        </div>
    }
}

#[component]
fn ClientSessionsPage(realm: String, client: String, can: Can) -> impl IntoView {
    let query = list_query();
    let tick = refresher();
    let info = RwSignal::new(Load::<api::ClientRepresentation>::Loading);
    let sessions = RwSignal::new(Load::<Page<Row>>::Loading);
    {
        let (realm, client) = (realm.clone(), client.clone());
        watch(
            move || (),
            move |_| {
                let (realm, client) = (realm.clone(), client.clone());
                async move { api::client(&realm, &client).await }
            },
            info,
        );
    }
    {
        let (realm, client) = (realm.clone(), client.clone());
        watch(
            move || (query.get(), tick.get()),
            move |(q, _)| {
                let (realm, client) = (realm.clone(), client.clone());
                async move {
                    let page = api::client_sessions(&realm, &client, &q).await?;
                    Ok(Page { rows: page.rows.into_iter().map(Row::from).collect(), total: page.total })
                }
            },
            sessions,
        );
    }
    let clients_link = href(&format!("/{}/clients", encode(&realm)), &[]);
    view! {
        <p><Link to=clients_link>"← Clients"</Link></p>
        <h1>{move || match info.get() { Load::Ready(c) => c.client_id.unwrap_or_default(), _ => "Client".to_owned() }}</h1>
        <nav class="tabs" aria-label="Client"><a class="current" href="">"Sessions"</a></nav>
        <p class="lead">"The sessions in which this application is signed in."</p>
        <Toolbar query=query refresh=tick />
        <div class="card">
            {list_view(sessions, move |page| {
                let total = page.total;
                view! {
                    <SessionTable realm=realm.clone() rows=page.rows can_end=can.manage_users refresh=tick empty="No active sessions for this client" />
                    <Pager query=query total=total />
                }.into_any()
            }, tick)}
        </div>
    }
}

#[component]
fn UsersPage(realm: String) -> impl IntoView {
    let location = use_location();
    let search = Memo::new(move |_| location.with(|l| l.param("search").unwrap_or_default()));
    let typed = RwSignal::new(search.get_untracked());
    let state = RwSignal::new(Load::<Page<api::UserRepresentation>>::Loading);
    {
        let realm = realm.clone();
        watch(
            move || search.get(),
            move |s| {
                let realm = realm.clone();
                async move {
                    let rows = api::users(&realm, &s, 0, 100).await?;
                    Ok(Page { total: rows.len() as u64, rows })
                }
            },
            state,
        );
    }
    let path = format!("/{}/users", encode(&realm));
    view! {
        <h1>"Users"</h1>
        <div class="toolbar">
            <form role="search" on:submit=move |ev: leptos::ev::SubmitEvent| {
                ev.prevent_default();
                replace(&href(&path, &[("search", typed.get_untracked().trim().to_owned())]));
            }>
                <input type="search" name="search" placeholder="Username or email" aria-label="Search users"
                    prop:value=move || typed.get() on:input=move |ev| typed.set(event_target_value(&ev)) />
                <button type="submit">"Search"</button>
            </form>
        </div>
        <div class="card">
            {move || match state.get() {
                Load::Loading => view! { <div class="state" aria-busy="true">"Loading users…"</div> }.into_any(),
                Load::Failed(m) => view! { <div class="state error" role="alert">{m}</div> }.into_any(),
                Load::Ready(page) if page.rows.is_empty() => view! { <div class="state">"No users found"</div> }.into_any(),
                Load::Ready(page) => {
                    let realm = realm.clone();
                    view! {
                        <table>
                            <thead><tr><th>"Username"</th><th>"Email"</th><th>"Enabled"</th></tr></thead>
                            <tbody>{page.rows.into_iter().map(|u| {
                                let to = href(&format!("/{}/users/{}/sessions", encode(&realm), encode(&u.id)), &[]);
                                view! {
                                    <tr>
                                        <td data-label="Username"><Link to=to>{u.username.clone()}</Link></td>
                                        <td data-label="Email">{u.email.clone().unwrap_or_default()}</td>
                                        <td data-label="Enabled">{if u.enabled { "Yes" } else { "No" }}</td>
                                    </tr>
                                }
                            }).collect_view()}</tbody>
                        </table>
                    }.into_any()
                }
            }}
        </div>
    }
}

#[component]
fn UserSessionsPage(realm: String, user: String, can: Can) -> impl IntoView {
    let tick = refresher();
    let info = RwSignal::new(Load::<api::UserRepresentation>::Loading);
    let sessions = RwSignal::new(Load::<Page<Row>>::Loading);
    let confirm = RwSignal::new(false);
    let notice = RwSignal::new(None::<String>);
    {
        let (realm, user) = (realm.clone(), user.clone());
        watch(
            move || (),
            move |_| {
                let (realm, user) = (realm.clone(), user.clone());
                async move { api::user(&realm, &user).await }
            },
            info,
        );
    }
    {
        let (realm, user) = (realm.clone(), user.clone());
        watch(
            move || tick.get(),
            move |_| {
                let (realm, user) = (realm.clone(), user.clone());
                async move {
                    let regular = api::user_sessions(&realm, &user, "REGULAR").await?;
                    let offline = api::user_sessions(&realm, &user, "OFFLINE").await?;
                    let tagged = regular.into_iter().map(|s| (s, false)).chain(offline.into_iter().map(|s| (s, true)));
                    let mut rows: Vec<Row> = tagged
                        .map(|(s, offline)| Row {
                            offline,
                            id: s.id,
                            username: s.username,
                            user_id: s.user_id,
                            start: s.start,
                            last_access: s.last_access,
                            ip: s.ip_address,
                            clients: s.clients,
                        })
                        .collect();
                    rows.sort_by_key(|r| std::cmp::Reverse(r.last_access));
                    Ok(Page { total: rows.len() as u64, rows })
                }
            },
            sessions,
        );
    }
    let sign_out_all = {
        let (realm, user) = (realm.clone(), user.clone());
        move |_| {
            let (realm, user) = (realm.clone(), user.clone());
            confirm.set(false);
            spawn_local(async move {
                match api::logout_user(&realm, &user).await {
                    Ok(()) => {
                        notice.set(Some("Every session of this user has ended; its applications were notified.".into()))
                    }
                    Err(e) => notice.set(Some(e.to_string())),
                }
                tick.update(|t| *t += 1);
            });
        }
    };
    let users_link = href(&format!("/{}/users", encode(&realm)), &[]);
    view! {
        <p><Link to=users_link>"← Users"</Link></p>
        <h1>{move || match info.get() { Load::Ready(u) => u.username, _ => "User".to_owned() }}</h1>
        <nav class="tabs" aria-label="User"><a class="current" href="">"Sessions"</a></nav>
        <div class="toolbar">
            <p class="lead">"Regular and offline sessions of this user."</p>
            <span class="spacer"></span>
            {can.manage_users.then(|| view! { <button class="danger" on:click=move |_| confirm.set(true)>"Sign out all sessions"</button> })}
        </div>
        {move || notice.get().map(|n| view! { <div class="notice" role="status">{n}</div> })}
        <div class="card">
            {list_view(sessions, move |page| view! {
                <SessionTable realm=realm.clone() rows=page.rows can_end=can.manage_users refresh=tick empty="No active sessions for this user" user_page=true />
            }.into_any(), tick)}
        </div>
        <Show when=move || confirm.get()>
            <div class="overlay">
                <div class="dialog" role="dialog" aria-modal="true" aria-labelledby="user-logout-title"
                    on:keydown=move |ev: web_sys::KeyboardEvent| if ev.key() == "Escape" { confirm.set(false) }>
                    <h2 id="user-logout-title">"Sign out all sessions of this user?"</h2>
                    <p>"Every regular and offline session of this user ends and its applications are notified; tokens issued before now are refused."</p>
                    <div class="actions">
                        <button on:click=move |_| confirm.set(false) autofocus>"Cancel"</button>
                        <button class="danger" on:click=sign_out_all.clone()>"Sign out"</button>
                    </div>
                </div>
            </div>
        </Show>
    }
}
