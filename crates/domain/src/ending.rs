//! Who is told when sessions end. Planning is pure: given the sessions that end and the
//! clients that were in them, it says which notification goes where. Delivery is elsewhere.
//!
//! - OIDC clients with a back-channel logout URL get a logout token for every ending —
//!   sign-out, admin action, user disabled or deleted, expiry, logout-all — including clients
//!   with front-channel logout on (Keycloak skips those).
//! - When all of a user's sessions end at once the token names the user (`sub`) and no
//!   session, one per client; otherwise it names the session (`sid`) when the client asks for
//!   it (`backchannel.logout.session.required`).
//! - SAML clients get no request; they are reported as not notified.

use std::collections::BTreeSet;

use crate::{Client, ClientId, Protocol, SessionId, UserId, UserSession};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NotificationKind {
    /// OIDC Back-Channel Logout 1.0: a `logout_token` form-POSTed to the client.
    BackchannelLogout,
    /// Keycloak adapters' `k_logout` (logout-all).
    AdapterLogout,
    /// Keycloak adapters' `k_push_not_before` (push revocation).
    PushNotBefore,
}

impl NotificationKind {
    pub fn as_str(self) -> &'static str {
        match self {
            NotificationKind::BackchannelLogout => "BACKCHANNEL_LOGOUT",
            NotificationKind::AdapterLogout => "K_LOGOUT",
            NotificationKind::PushNotBefore => "K_PUSH_NOT_BEFORE",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        [NotificationKind::BackchannelLogout, NotificationKind::AdapterLogout, NotificationKind::PushNotBefore]
            .into_iter()
            .find(|k| k.as_str() == s)
    }
}

/// One message to one client.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Notification {
    pub client_id: ClientId,
    /// The client's `clientId` (the logout token's audience, the adapter action's resource).
    pub client: String,
    pub kind: NotificationKind,
    pub url: String,
    pub sub: Option<UserId>,
    pub sid: Option<SessionId>,
}

/// What an ending sends, and which clients cannot be told.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Plan {
    pub notifications: Vec<Notification>,
    /// SAML clients (id, clientId) that had sessions among those ending.
    pub not_notified: Vec<(ClientId, String)>,
}

/// Plans the notifications for sessions that end. `user_wide` is true when every session of
/// the user ends at once (user logout, disabled, deleted).
pub fn plan_logout<'a>(ending: impl IntoIterator<Item = (&'a UserSession, &'a [Client])>, user_wide: bool) -> Plan {
    let mut plan = Plan::default();
    let mut told: BTreeSet<(ClientId, Option<SessionId>)> = BTreeSet::new();
    let mut saml: BTreeSet<ClientId> = BTreeSet::new();
    for (session, clients) in ending {
        for client in clients {
            if client.protocol == Protocol::Saml {
                if saml.insert(client.id) {
                    plan.not_notified.push((client.id, client.client_id.clone()));
                }
                continue;
            }
            let Some(url) = &client.backchannel_logout_url else { continue };
            let sid = (!user_wide && client.backchannel_logout_session_required).then_some(session.public_id());
            if !told.insert((client.id, sid)) {
                continue;
            }
            plan.notifications.push(Notification {
                client_id: client.id,
                client: client.client_id.clone(),
                kind: NotificationKind::BackchannelLogout,
                url: url.clone(),
                sub: Some(session.user_id),
                sid,
            });
        }
    }
    plan
}

/// Plans a Keycloak adapter action (`k_logout` or `k_push_not_before`) for every enabled OIDC
/// client with an admin URL.
pub fn plan_adapter_action<'a>(clients: impl IntoIterator<Item = &'a Client>, kind: NotificationKind) -> Plan {
    let endpoint = match kind {
        NotificationKind::PushNotBefore => "k_push_not_before",
        _ => "k_logout",
    };
    let mut plan = Plan::default();
    for client in clients {
        if !client.enabled {
            continue;
        }
        if client.protocol == Protocol::Saml {
            plan.not_notified.push((client.id, client.client_id.clone()));
            continue;
        }
        if let Some(admin_url) = &client.admin_url {
            plan.notifications.push(Notification {
                client_id: client.id,
                client: client.client_id.clone(),
                kind,
                url: format!("{}/{endpoint}", admin_url.trim_end_matches('/')),
                sub: None,
                sid: None,
            });
        }
    }
    plan
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{RealmId, SessionType, Timestamp};

    fn client(name: &str, protocol: Protocol, backchannel: Option<&str>) -> Client {
        let mut c = Client::new(RealmId::new(), name, protocol, Timestamp::from_secs(1)).unwrap();
        c.backchannel_logout_url = backchannel.map(str::to_owned);
        c
    }

    fn session(user: UserId) -> UserSession {
        UserSession::start(RealmId::new(), user, SessionType::Regular, "10.0.0.1", false, Timestamp::from_secs(1))
    }

    #[test]
    fn one_session_tells_each_backchannel_client_with_its_sid() {
        let user = UserId::new();
        let s = session(user);
        let mut web = client("web", Protocol::OpenIdConnect, Some("https://web/bcl"));
        web.frontchannel_logout = true;
        let mut no_sid = client("api", Protocol::OpenIdConnect, Some("https://api/bcl"));
        no_sid.backchannel_logout_session_required = false;
        let silent = client("spa", Protocol::OpenIdConnect, None);
        let saml = client("sp", Protocol::Saml, Some("https://sp/slo"));
        let clients = vec![web.clone(), no_sid.clone(), silent, saml.clone()];
        let plan = plan_logout([(&s, clients.as_slice())], false);
        assert_eq!(plan.notifications.len(), 2, "{plan:?}");
        assert_eq!(plan.notifications[0].sid, Some(s.id), "front-channel clients are told too");
        assert_eq!(plan.notifications[0].sub, Some(user));
        assert_eq!(plan.notifications[1].sid, None);
        assert_eq!(plan.not_notified, vec![(saml.id, "sp".to_owned())]);
    }

    #[test]
    fn a_user_wide_ending_names_the_user_once_per_client_and_no_session() {
        let user = UserId::new();
        let (a, b) = (session(user), session(user));
        let web = vec![client("web", Protocol::OpenIdConnect, Some("https://web/bcl"))];
        let plan = plan_logout([(&a, web.as_slice()), (&b, web.as_slice())], true);
        assert_eq!(plan.notifications.len(), 1);
        assert_eq!((plan.notifications[0].sub, plan.notifications[0].sid), (Some(user), None));

        let per_session = plan_logout([(&a, web.as_slice()), (&b, web.as_slice())], false);
        assert_eq!(per_session.notifications.len(), 2);
    }

    #[test]
    fn adapter_actions_go_to_admin_urls_of_enabled_clients() {
        let mut a = client("a", Protocol::OpenIdConnect, None);
        a.admin_url = Some("https://a/admin/".into());
        let mut off = client("off", Protocol::OpenIdConnect, None);
        off.admin_url = Some("https://off/admin".into());
        off.enabled = false;
        let none = client("none", Protocol::OpenIdConnect, None);
        let saml = client("sp", Protocol::Saml, None);
        let plan = plan_adapter_action([&a, &off, &none, &saml], NotificationKind::AdapterLogout);
        assert_eq!(plan.notifications.len(), 1);
        assert_eq!(plan.notifications[0].url, "https://a/admin/k_logout");
        assert_eq!(plan.not_notified.len(), 1);
        let push = plan_adapter_action([&a], NotificationKind::PushNotBefore);
        assert_eq!(push.notifications[0].url, "https://a/admin/k_push_not_before");
    }
}
