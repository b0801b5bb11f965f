//! The console's URL is its state: realm, page, search, type and paging live in the address,
//! so a reload or a shared link shows the same view. A small history-API router: the current
//! location is a signal; links and `navigate` push entries; back and forward are followed.

use std::collections::BTreeMap;

use leptos::prelude::*;
use wasm_bindgen::prelude::*;

/// Where the console is served.
pub const BASE: &str = "/console";

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Location {
    /// The path below [`BASE`], as `/demo/sessions`.
    pub path: String,
    pub query: BTreeMap<String, String>,
}

impl Location {
    fn current() -> Self {
        let location = window().location();
        let path = location.pathname().unwrap_or_default();
        let path = path.strip_prefix(BASE).unwrap_or(&path).to_owned();
        let mut query = BTreeMap::new();
        if let Ok(params) = web_sys::UrlSearchParams::new_with_str(&location.search().unwrap_or_default()) {
            for entry in js_sys::try_iter(&params).ok().flatten().into_iter().flatten().flatten() {
                let pair = js_sys::Array::from(&entry);
                if let (Some(k), Some(v)) = (pair.get(0).as_string(), pair.get(1).as_string()) {
                    query.insert(k, v);
                }
            }
        }
        Location { path, query }
    }

    /// The path's segments, as `["demo", "sessions"]`.
    pub fn segments(&self) -> Vec<String> {
        self.path.split('/').filter(|s| !s.is_empty()).map(decode).collect()
    }

    pub fn param(&self, name: &str) -> Option<String> {
        self.query.get(name).filter(|v| !v.is_empty()).cloned()
    }
}

/// `/console` + `path`, with the query's non-empty values.
pub fn href(path: &str, query: &[(&str, String)]) -> String {
    let mut out = format!("{BASE}{path}");
    let params = web_sys::UrlSearchParams::new().expect("URLSearchParams");
    let mut any = false;
    for (k, v) in query.iter().filter(|(_, v)| !v.is_empty()) {
        params.append(k, v);
        any = true;
    }
    if any {
        out.push('?');
        out.push_str(&String::from(params.to_string()));
    }
    out
}

pub fn encode(segment: &str) -> String {
    String::from(js_sys::encode_uri_component(segment))
}

fn decode(segment: &str) -> String {
    js_sys::decode_uri_component(segment).map(String::from).unwrap_or_else(|_| segment.to_owned())
}

thread_local! {
    static LOCATION: std::cell::OnceCell<RwSignal<Location>> = const { std::cell::OnceCell::new() };
}

/// The current location, kept current by [`navigate`] and by back/forward; usable from tasks
/// too (they have no reactive context).
pub fn use_location() -> RwSignal<Location> {
    LOCATION.with(|l| {
        *l.get_or_init(|| {
            let location = RwSignal::new(Location::current());
            let on_pop = Closure::<dyn Fn()>::new(move || location.set(Location::current()));
            window()
                .add_event_listener_with_callback("popstate", on_pop.as_ref().unchecked_ref())
                .expect("popstate listener");
            on_pop.forget();
            location
        })
    })
}

/// Goes to `url` (a full path under [`BASE`]) as a new history entry.
pub fn navigate(url: &str) {
    let _ = window().history().and_then(|h| h.push_state_with_url(&JsValue::NULL, "", Some(url)));
    use_location().set(Location::current());
}

/// Changes the address without a new history entry (a search typed, a page turned).
pub fn replace(url: &str) {
    let _ = window().history().and_then(|h| h.replace_state_with_url(&JsValue::NULL, "", Some(url)));
    use_location().set(Location::current());
}

/// A link inside the console: a real `<a href>` (open in a new tab works), followed in place
/// on a plain click.
#[component]
pub fn Link(#[prop(into)] to: String, children: Children, #[prop(optional, into)] class: String) -> impl IntoView {
    let target = to.clone();
    view! {
        <a href=to class=class on:click=move |ev: web_sys::MouseEvent| {
            if ev.button() == 0 && !(ev.ctrl_key() || ev.meta_key() || ev.shift_key() || ev.alt_key()) {
                ev.prevent_default();
                navigate(&target);
            }
        }>{children()}</a>
    }
}
