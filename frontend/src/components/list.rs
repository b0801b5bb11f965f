//! What every list has: its loading, error and answer states, its periodic refresh, the
//! search-and-type toolbar of the session lists, and their pager.

use std::time::Duration;

use leptos::prelude::*;

use crate::api::{ApiError, ListQuery, SessionType};
use crate::routes::{FiltersInAddress, SessionFilters};

/// How often an open list reloads itself.
const REFRESH: Duration = Duration::from_secs(10);

/// Rows of a session list per page.
const PAGE: u64 = 10;

/// Reloads what a page lists: on demand, and every 10 seconds while the page is open. A
/// resource that tracks it loads again on each; a newer load's answer replaces an older one's,
/// never the reverse.
#[derive(Debug, Clone, Copy)]
pub struct Refresh(Trigger);

impl Refresh {
    /// Ticks while the calling page is open.
    pub fn periodic() -> Self {
        let refresh = Refresh(Trigger::new());
        if let Ok(handle) = set_interval_with_handle(move || refresh.now(), REFRESH) {
            on_cleanup(move || handle.clear());
        }
        refresh
    }

    /// Reloads, in a resource's fetcher, on each tick.
    pub fn track(self) {
        self.0.track();
    }

    pub fn now(self) {
        self.0.notify();
    }
}

/// The page of the session list that `filters` name.
pub fn page_of(filters: &SessionFilters) -> ListQuery {
    ListQuery { kind: filters.kind, search: filters.search.clone(), first: filters.first, max: PAGE }
}

/// A list's body: `loading` until its first answer, then the latest answer (kept on screen
/// while the next one loads), or what went wrong and, when given `retry`, a way to try again.
#[component]
pub fn Loaded<T, F, V>(
    resource: LocalResource<Result<T, ApiError>>,
    loading: &'static str,
    #[prop(optional)] retry: Option<Refresh>,
    render: F,
) -> impl IntoView
where
    T: Clone + Send + Sync + 'static,
    F: Fn(T) -> V + Send + Sync + 'static,
    V: IntoView + 'static,
{
    let answer = move || resource.get().map(|answer| answer.map(|value| render(value).into_any()));
    loaded(loading, retry, Box::new(answer))
}

/// The answer of a list's resource, made into its view.
type Answer = Box<dyn Fn() -> Option<Result<AnyView, ApiError>> + Send + Sync>;

/// [`Loaded`] past its types: one copy of the loading and error states for every list.
fn loaded(loading: &'static str, retry: Option<Refresh>, answer: Answer) -> impl IntoView {
    let failed = move |errors: ArcRwSignal<Errors>| {
        let message = errors.with(|errors| errors.iter().map(|(_, e)| e.to_string()).collect::<Vec<_>>().join(" "));
        view! {
            <div class="state error" role="alert">
                {match retry {
                    Some(retry) => view! {
                        <p>{message}</p>
                        <button on:click=move |_| retry.now()>"Try again"</button>
                    }
                    .into_any(),
                    None => message.into_any(),
                }}
            </div>
        }
    };
    view! {
        <Transition fallback=move || view! { <div class="state" aria-busy="true">{loading}</div> }>
            <ErrorBoundary fallback=failed>{answer}</ErrorBoundary>
        </Transition>
    }
}

/// Search and type filter of a session list, and its refresh button; `children` go at its end.
#[component]
pub fn Toolbar(
    filters: FiltersInAddress<SessionFilters>,
    refresh: Refresh,
    #[prop(optional)] children: Option<Children>,
) -> impl IntoView {
    let typed = RwSignal::new(filters.get_untracked().search);
    let kind_is = move |kind: SessionType| move || filters.current.with(|f| f.kind == kind);
    view! {
        <div class="toolbar">
            <form role="search" on:submit=move |ev: leptos::ev::SubmitEvent| {
                ev.prevent_default();
                let search = typed.get_untracked().trim().to_owned();
                filters.set(SessionFilters { search, first: 0, ..filters.get_untracked() });
            }>
                <input type="search" name="search" placeholder="Username, IP address or client" aria-label="Search sessions"
                    prop:value=move || typed.get() on:input=move |ev| typed.set(event_target_value(&ev)) />
                <button type="submit">"Search"</button>
            </form>
            <label>"Type "
                <select name="type" aria-label="Session type" on:change=move |ev| {
                    let kind = event_target_value(&ev).parse().unwrap_or_default();
                    filters.set(SessionFilters { kind, first: 0, ..filters.get_untracked() });
                }>
                    <option value="" selected=kind_is(SessionType::All)>"All"</option>
                    <option value="REGULAR" selected=kind_is(SessionType::Regular)>"Regular SSO"</option>
                    <option value="OFFLINE" selected=kind_is(SessionType::Offline)>"Offline"</option>
                </select>
            </label>
            <button on:click=move |_| refresh.now() title="The list also reloads itself every 10 seconds">"Refresh"</button>
            <span class="spacer"></span>
            {children.map(|c| c())}
        </div>
    }
}

/// Which rows of `total` are shown, and the way to the previous and next pages.
#[component]
pub fn Pager(filters: FiltersInAddress<SessionFilters>, total: u64) -> impl IntoView {
    let now = filters.get_untracked();
    let last = (now.first + PAGE).min(total);
    let shown = if total == 0 { "0".to_owned() } else { format!("{}–{}", now.first + 1, last) };
    let turn = move |first: u64| move |_| filters.set(SessionFilters { first, ..filters.get_untracked() });
    view! {
        <div class="pager">
            <span aria-live="polite">{format!("{shown} of {total}")}</span>
            <button on:click=turn(now.first.saturating_sub(PAGE)) disabled={now.first == 0}>"Previous"</button>
            <button on:click=turn(now.first + PAGE) disabled={last >= total}>"Next"</button>
        </div>
    }
}
