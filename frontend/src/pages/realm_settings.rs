//! The realm's session settings, as Keycloak's "Realm settings → Sessions": how long an SSO
//! session may stay idle and may last, with and without "Remember me"; the same for offline
//! sessions; and whether the sign-in page offers "Remember me". Shown with `view-realm`,
//! saved with `manage-realm` (the server checks; without the role the form is read-only).

use leptos::prelude::*;
use leptos::task::spawn_local;

use crate::api::{self, ApiError, RealmRepresentation, RealmUpdate};
use crate::components::list::Loaded;

/// The units a duration is entered in, largest first; a value is shown in the largest unit
/// that holds it whole (0 in minutes).
const UNITS: [(&str, i64); 4] = [("Days", 86_400), ("Hours", 3_600), ("Minutes", 60), ("Seconds", 1)];

/// A duration being edited: the number typed and the unit chosen.
#[derive(Debug, Clone, Copy)]
struct Duration {
    amount: RwSignal<String>,
    unit: RwSignal<i64>,
}

impl Duration {
    fn new(seconds: i64) -> Self {
        let unit = match seconds {
            0 => 60,
            _ => UNITS.iter().map(|(_, size)| *size).find(|size| seconds % size == 0).unwrap_or(1),
        };
        Duration { amount: RwSignal::new((seconds / unit).to_string()), unit: RwSignal::new(unit) }
    }

    /// Seconds, or what is wrong with the number typed.
    fn seconds(&self, label: &str) -> Result<i64, String> {
        let amount = self.amount.get_untracked();
        match amount.trim().parse::<i64>() {
            Ok(n) if n >= 0 => n.checked_mul(self.unit.get_untracked()).ok_or_else(|| format!("{label}: too long")),
            _ => {
                Err(format!("{label}: \"{amount}\" is not a whole number of {}", unit_name(self.unit.get_untracked())))
            }
        }
    }
}

fn unit_name(size: i64) -> String {
    UNITS.iter().find(|(_, s)| *s == size).map_or("seconds", |(name, _)| name).to_lowercase()
}

/// One duration field: its label, the number, the unit, and what it means.
#[component]
fn DurationField(
    id: &'static str,
    label: &'static str,
    help: &'static str,
    value: Duration,
    #[prop(into)] disabled: Signal<bool>,
) -> impl IntoView {
    let units = UNITS
        .iter()
        .map(|(name, size)| {
            let size = *size;
            view! { <option value=size.to_string() selected=move || value.unit.get() == size>{*name}</option> }
        })
        .collect_view();
    view! {
        <div class="field">
            <label for=id>{label}</label>
            <div class="duration">
                // Set once: a reactive value would rewrite the field under the person typing
                // (a number field reads "" while it holds "1.").
                <input type="number" min="0" step="1" id=id prop:value=value.amount.get_untracked() disabled=disabled
                    on:input=move |ev| value.amount.set(event_target_value(&ev))
                    on:change=move |ev| value.amount.set(event_target_value(&ev)) />
                <select id=format!("{id}-unit") aria-label=format!("{label}: unit") disabled=disabled
                    on:change=move |ev| value.unit.set(event_target_value(&ev).parse().unwrap_or(1))>
                    {units}
                </select>
            </div>
            <p class="help">{help}</p>
        </div>
    }
}

/// One yes-or-no field.
#[component]
fn CheckField(
    id: &'static str,
    label: &'static str,
    help: &'static str,
    value: RwSignal<bool>,
    #[prop(into)] disabled: Signal<bool>,
) -> impl IntoView {
    view! {
        <div class="field">
            <label class="check">
                <input type="checkbox" id=id prop:checked=move || value.get() disabled=disabled
                    on:change=move |ev| value.set(event_target_checked(&ev)) />
                {label}
            </label>
            <p class="help">{help}</p>
        </div>
    }
}

/// The form over a realm as read; saving sends the fields of the form.
#[component]
fn SessionSettingsForm(realm: String, current: RealmRepresentation, can_manage: bool) -> impl IntoView {
    let sso_idle = Duration::new(current.sso_session_idle_timeout);
    let sso_max = Duration::new(current.sso_session_max_lifespan);
    let remember_idle = Duration::new(current.sso_session_idle_timeout_remember_me);
    let remember_max = Duration::new(current.sso_session_max_lifespan_remember_me);
    let offline_idle = Duration::new(current.offline_session_idle_timeout);
    let offline_max = Duration::new(current.offline_session_max_lifespan);
    let offline_limited = RwSignal::new(current.offline_session_max_lifespan_enabled);
    let remember_me = RwSignal::new(current.remember_me);
    let notice = RwSignal::new(None::<Result<String, String>>);
    let saving = RwSignal::new(false);
    let read_only = Signal::derive(move || !can_manage || saving.get());
    let offline_max_off = Signal::derive(move || read_only.get() || !offline_limited.get());

    let save = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        let fields = (|| -> Result<RealmUpdate, String> {
            Ok(RealmUpdate {
                sso_session_idle_timeout: Some(sso_idle.seconds("SSO Session Idle")?),
                sso_session_max_lifespan: Some(sso_max.seconds("SSO Session Max")?),
                sso_session_idle_timeout_remember_me: Some(remember_idle.seconds("SSO Session Idle Remember Me")?),
                sso_session_max_lifespan_remember_me: Some(remember_max.seconds("SSO Session Max Remember Me")?),
                offline_session_idle_timeout: Some(offline_idle.seconds("Offline Session Idle")?),
                offline_session_max_lifespan_enabled: Some(offline_limited.get_untracked()),
                offline_session_max_lifespan: Some(offline_max.seconds("Offline Session Max")?),
                remember_me: Some(remember_me.get_untracked()),
                ..Default::default()
            })
        })();
        let update = match fields {
            Ok(update) => update,
            Err(message) => return notice.set(Some(Err(message))),
        };
        let realm = realm.clone();
        saving.set(true);
        spawn_local(async move {
            let answer: Result<(), ApiError> = api::update_realm(&realm, &update).await;
            notice.set(Some(
                answer
                    .map(|()| "Saved. New limits apply to every session at once.".to_owned())
                    .map_err(|e| e.to_string()),
            ));
            saving.set(false);
        });
    };

    view! {
        <form class="card settings" novalidate on:submit=save>
            <h2>"SSO sessions"</h2>
            <DurationField id="ssoSessionIdleTimeout" label="SSO Session Idle" value=sso_idle disabled=read_only
                help="A session unused for this long ends: its tokens stop working and its applications are told." />
            <DurationField id="ssoSessionMaxLifespan" label="SSO Session Max" value=sso_max disabled=read_only
                help="A session ends this long after its sign-in, used or not." />
            <DurationField id="ssoSessionIdleTimeoutRememberMe" label="SSO Session Idle Remember Me" value=remember_idle disabled=read_only
                help="In place of SSO Session Idle for sessions that chose \"Remember me\"; 0 for the same." />
            <DurationField id="ssoSessionMaxLifespanRememberMe" label="SSO Session Max Remember Me" value=remember_max disabled=read_only
                help="In place of SSO Session Max for sessions that chose \"Remember me\"; 0 for the same." />
            <CheckField id="rememberMe" label="Offer \"Remember me\" on the sign-in page" value=remember_me disabled=read_only
                help="A remembered session keeps its cookie when the browser closes, for the limits above." />
            <h2>"Offline sessions"</h2>
            <DurationField id="offlineSessionIdleTimeout" label="Offline Session Idle" value=offline_idle disabled=read_only
                help="An offline session whose refresh token is unused for this long ends." />
            <CheckField id="offlineSessionMaxLifespanEnabled" label="Offline Session Max Limited" value=offline_limited
                disabled=read_only help="Whether offline sessions end at a fixed time after they started." />
            <DurationField id="offlineSessionMaxLifespan" label="Offline Session Max" value=offline_max disabled=offline_max_off
                help="When limited: an offline session ends this long after it started, used or not." />
            {move || notice.get().map(|n| match n {
                Ok(done) => view! { <div class="notice saved" role="status">{done}</div> }.into_any(),
                Err(wrong) => view! { <div class="notice" role="alert">{wrong}</div> }.into_any(),
            })}
            {can_manage.then(|| view! {
                <div class="actions"><button type="submit" class="primary" disabled=move || saving.get()>"Save"</button></div>
            })}
        </form>
    }
}

#[component]
pub fn RealmSettingsPage(realm: String, can_manage: bool) -> impl IntoView {
    let current = {
        let realm = realm.clone();
        LocalResource::new(move || {
            let realm = realm.clone();
            async move { api::realm(&realm).await }
        })
    };
    let form_realm = realm.clone();
    let form = move |current: RealmRepresentation| {
        view! { <SessionSettingsForm realm=form_realm.clone() current can_manage /> }
    };
    view! {
        <h1>"Realm settings"</h1>
        <p class="lead">"How long the sessions of realm " <strong>{realm}</strong> " last."
            {(!can_manage).then_some(" Changing them needs the manage-realm role.")}</p>
        <Loaded resource=current loading="Loading the realm…" render=form />
    }
}
