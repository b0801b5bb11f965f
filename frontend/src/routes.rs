//! The console's addresses. The URL is its state: realm, section, search, type and paging live
//! in the address, so a reload or a shared link shows the same view. leptos_router matches the
//! routes (`components::shell`), follows back and forward, and follows the console's links in
//! place. The links are plain `<a href>` with the paths made here: the router's `<A>` would add
//! some 50 KB of WebAssembly for an `aria-current` the console does not use. This module names
//! the places, and reads and writes the list filters of the query string.

use std::collections::BTreeMap;

use leptos::prelude::*;
use leptos_router::hooks::{use_location, use_navigate};
use leptos_router::NavigateOptions;
use serde::de::value::MapDeserializer;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::api::SessionType;

/// Where the console is served.
pub const BASE: &str = "/console";

/// Where the sign-in page sends the administrator back to.
pub const CALLBACK: &str = "/console/callback";

/// A section of a realm: a tab of the shell.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Section {
    Sessions,
    Clients,
    Users,
    Settings,
}

impl Section {
    pub const ALL: [Section; 4] = [Section::Sessions, Section::Clients, Section::Users, Section::Settings];

    /// Its path segment.
    pub fn segment(self) -> &'static str {
        match self {
            Section::Sessions => "sessions",
            Section::Clients => "clients",
            Section::Users => "users",
            Section::Settings => "settings",
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            Section::Sessions => "Sessions",
            Section::Clients => "Clients",
            Section::Users => "Users",
            Section::Settings => "Realm settings",
        }
    }
}

/// A path segment, percent-encoded.
pub fn encode(segment: &str) -> String {
    String::from(js_sys::encode_uri_component(segment))
}

fn decode(segment: &str) -> String {
    js_sys::decode_uri_component(segment).map(String::from).unwrap_or_else(|_| segment.to_owned())
}

/// `/console/{realm}/{section}`.
pub fn section(realm: &str, section: Section) -> String {
    format!("{BASE}/{}/{}", encode(realm), section.segment())
}

/// `/console/{realm}/clients/{id}/sessions`.
pub fn client_sessions(realm: &str, client_id: &str) -> String {
    format!("{BASE}/{}/clients/{}/sessions", encode(realm), encode(client_id))
}

/// `/console/{realm}/users/{id}/sessions`.
pub fn user_sessions(realm: &str, user_id: &str) -> String {
    format!("{BASE}/{}/users/{}/sessions", encode(realm), encode(user_id))
}

/// The realm and the section a path names (`/console/demo/users/…` → `demo`, `users`).
pub fn realm_and_section(path: &str) -> (Option<String>, Option<Section>) {
    let mut segments = path.strip_prefix(BASE).unwrap_or(path).split('/').filter(|s| !s.is_empty());
    let realm = segments.next().map(decode);
    let section = segments.next().and_then(|s| Section::ALL.into_iter().find(|section| section.segment() == s));
    (realm, section)
}

/// Navigation to a full path under [`BASE`] (as [`section`] makes them), as a new history
/// entry or in place of the current one. The page keeps its scroll position, as a link's
/// target does not.
pub fn use_go() -> impl Fn(&str, bool) + Clone + Send + Sync + 'static {
    let navigate = use_navigate();
    move |url: &str, replace: bool| {
        navigate(url, NavigateOptions { resolve: false, replace, scroll: false, ..Default::default() })
    }
}

/// Reads a query string (without its `?`) into `T`, as the browser parses it: a key given
/// twice counts once (the last time); what cannot be read is left at its default. (The
/// browser's parser and serde's own map deserializer: a query-string crate's deserializer
/// would add some 80 KB of WebAssembly.)
pub fn parse_query<T: DeserializeOwned + Default>(search: &str) -> T {
    let Ok(params) = web_sys::UrlSearchParams::new_with_str(search) else {
        return T::default();
    };
    let mut pairs = BTreeMap::new();
    for entry in js_sys::try_iter(&params).ok().flatten().into_iter().flatten().flatten() {
        let pair = js_sys::Array::from(&entry);
        if let (Some(key), Some(value)) = (pair.get(0).as_string(), pair.get(1).as_string()) {
            pairs.insert(key, value);
        }
    }
    T::deserialize(MapDeserializer::<_, serde::de::value::Error>::new(pairs.into_iter())).unwrap_or_default()
}

/// `path` with the query `filters` serializes to, if any.
fn with_query(path: &str, filters: &impl Serialize) -> String {
    match serde_qs::to_string(filters) {
        Ok(query) if !query.is_empty() => format!("{path}?{query}"),
        _ => path.to_owned(),
    }
}

/// A session list's filters and page as the address holds them:
/// `?search=ali&type=offline&first=10`, each left out when at its default.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct SessionFilters {
    #[serde(skip_serializing_if = "String::is_empty")]
    pub search: String,
    #[serde(
        rename = "type",
        skip_serializing_if = "SessionType::is_all",
        serialize_with = "lowercase",
        deserialize_with = "lenient"
    )]
    pub kind: SessionType,
    #[serde(skip_serializing_if = "is_zero", deserialize_with = "lenient")]
    pub first: u64,
}

/// The user list's search as the address holds it: `?search=bob`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct UserFilters {
    #[serde(skip_serializing_if = "String::is_empty")]
    pub search: String,
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

/// The session type as the address spells it, in lower case.
fn lowercase<S: Serializer>(kind: &SessionType, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&kind.as_str().to_lowercase())
}

/// A value the address may misspell (`first=x`, `type=none`): read as its default instead.
fn lenient<'de, D: Deserializer<'de>, T: std::str::FromStr + Default>(d: D) -> Result<T, D::Error> {
    Ok(String::deserialize(d)?.parse().unwrap_or_default())
}

/// A list's filters in the address: read reactively, written in place (no new history entry,
/// as typing a search or turning a page is no place to go back to).
pub struct FiltersInAddress<T: Send + Sync + 'static> {
    pub current: Memo<T>,
    write: Callback<T>,
}

impl<T: Send + Sync + 'static> Clone for FiltersInAddress<T> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<T: Send + Sync + 'static> Copy for FiltersInAddress<T> {}

/// The current page's list filters (call it while making the page).
pub fn use_filters<T>() -> FiltersInAddress<T>
where
    T: Serialize + DeserializeOwned + Default + PartialEq + Clone + Send + Sync + 'static,
{
    let location = use_location();
    let current = Memo::new(move |_| location.search.with(|search| parse_query::<T>(search)));
    let go = use_go();
    let write = Callback::new(move |filters: T| go(&with_query(&location.pathname.get_untracked(), &filters), true));
    FiltersInAddress { current, write }
}

impl<T: Clone + Send + Sync + 'static> FiltersInAddress<T> {
    pub fn get_untracked(&self) -> T {
        self.current.get_untracked()
    }

    /// Puts `filters` in the address; the page's lists follow.
    pub fn set(&self, filters: T) {
        self.write.run(filters);
    }
}
