"""python-keycloak, unchanged, against a running Latchkey server.

The server runs with `--demo` and the administrator admin/admin; its base URL
is read from LATCHKEY_URL. Run with `python -m unittest -v test_sessions`.

python-keycloak has no named method for these session endpoints of the contract;
the offline-session test reaches three of them (offline-sessions of a client and of
a user, DELETE sessions/{id}) through the library's own authenticated connection,
as scripts do, and the Node suite covers them all:
  GET    clients/{id}/offline-sessions
  GET    clients/{id}/session-count
  GET    clients/{id}/offline-session-count
  GET    users/{id}/offline-sessions/{client}
  DELETE sessions/{id}
  POST   logout-all
  POST   push-revocation
  POST   clients/{id}/push-revocation
"""

import base64
import json
import os
import time
import unittest

from keycloak import KeycloakAdmin, KeycloakOpenID
from keycloak.exceptions import KeycloakError

BASE_URL = os.environ.get("LATCHKEY_URL", "http://127.0.0.1:8080").rstrip("/") + "/"
REALM = "demo"
WEB = "demo-web"
WEB_SECRET = "demo-web-secret"
USERS = ("alice", "bob", "carol")


def claims(jwt):
    payload = jwt.split(".")[1]
    return json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))


def admin_client():
    # The server administrator: realm master, client admin-cli, password grant;
    # the calls themselves go to realm demo.
    return KeycloakAdmin(
        server_url=BASE_URL,
        username="admin",
        password="admin",
        client_id="admin-cli",
        realm_name=REALM,
        user_realm_name="master",
    )


def web_client():
    return KeycloakOpenID(
        server_url=BASE_URL,
        realm_name=REALM,
        client_id=WEB,
        client_secret_key=WEB_SECRET,
    )


def sign_in(username, offline=False):
    """A password grant at demo-web: one new session; returns the token response."""
    scope = "openid offline_access" if offline else "openid"
    return web_client().token(username, f"{username}-password", scope=scope)


class AdminLoginTest(unittest.TestCase):
    def test_admin_cli_password_grant_in_master(self):
        admin = admin_client()
        admin.connection.get_token()
        token = admin.connection.token
        self.assertEqual(token["token_type"], "Bearer")
        self.assertIsInstance(token["expires_in"], int)
        self.assertTrue(token["refresh_token"])
        access = claims(token["access_token"])
        self.assertTrue(access["iss"].endswith("/realms/master"), access["iss"])
        self.assertEqual(access["azp"], "admin-cli")
        self.assertEqual(access["preferred_username"], "admin")
        self.assertEqual(admin.get_realm(REALM)["realm"], REALM)

    def test_refresh_token(self):
        admin = admin_client()
        admin.connection.get_token()
        first = admin.connection.token["access_token"]
        admin.connection.refresh_token()
        second = admin.connection.token["access_token"]
        self.assertNotEqual(first, second)
        self.assertEqual(admin.get_realm(REALM)["realm"], REALM)


class SessionsTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.admin = admin_client()
        cls.user_ids = {name: cls.admin.get_user_id(name) for name in USERS}
        cls.web_id = cls.admin.get_client_id(WEB)

    def setUp(self):
        # Start every test without regular sessions for the demo users.
        for user_id in self.user_ids.values():
            self.admin.user_logout(user_id)

    def web_stats(self):
        stats = self.admin.get_client_sessions_stats()
        return next((s for s in stats if s["id"] == self.web_id), None)

    def offline_count(self):
        entry = self.web_stats()
        return int(entry["offline"]) if entry else 0

    def assert_user_session(self, session, username):
        self.assertEqual(session["username"], username)
        self.assertEqual(session["userId"], self.user_ids[username])
        self.assertEqual(session["clients"], {self.web_id: WEB})
        self.assertEqual(session["ipAddress"], "127.0.0.1")
        self.assertIs(session["rememberMe"], False)
        # Epoch milliseconds.
        now_ms = time.time() * 1000
        self.assertGreater(session["start"], now_ms - 600_000)
        self.assertLessEqual(session["start"], session["lastAccess"])
        self.assertLessEqual(session["lastAccess"], now_ms + 60_000)

    def test_find_user_and_client_ids(self):
        for name, user_id in self.user_ids.items():
            self.assertTrue(user_id, name)
            users = self.admin.get_users({"username": name, "exact": True})
            self.assertEqual([u["id"] for u in users], [user_id])
            self.assertEqual(users[0]["username"], name)
        self.assertEqual(len(set(self.user_ids.values())), len(USERS))
        self.assertIsNone(self.admin.get_user_id("nobody-by-that-name"))
        self.assertTrue(self.web_id)
        self.assertEqual(self.admin.get_client(self.web_id)["clientId"], WEB)
        self.assertIsNone(self.admin.get_client_id("no-such-client"))

    def test_client_session_stats(self):
        offline_before = self.offline_count()
        sign_in("alice")
        sign_in("alice")
        sign_in("bob", offline=True)
        stats = self.admin.get_client_sessions_stats()
        web = [s for s in stats if s["id"] == self.web_id]
        self.assertEqual(len(web), 1, stats)
        entry = web[0]
        self.assertEqual(entry["clientId"], WEB)
        for key in ("id", "clientId", "active", "offline"):
            self.assertIsInstance(entry[key], str, key)
        # Each password grant is one regular session; offline_access adds an offline one.
        self.assertEqual(entry["active"], "3")
        self.assertEqual(entry["offline"], str(offline_before + 1))
        # Only clients with sessions appear.
        for other in stats:
            self.assertTrue(int(other["active"]) + int(other["offline"]) > 0, other)

    def test_client_user_sessions(self):
        created = {name: sign_in(name)["session_state"] for name in USERS}
        sessions = self.admin.get_client_all_sessions(self.web_id)
        self.assertEqual(sorted(s["id"] for s in sessions), sorted(created.values()))
        for session in sessions:
            self.assertEqual(created[session["username"]], session["id"])
            self.assert_user_session(session, session["username"])

    def test_client_user_sessions_paged(self):
        created = {sign_in(name)["session_state"] for name in USERS}
        first = self.admin.get_client_all_sessions(self.web_id, {"first": 0, "max": 2})
        rest = self.admin.get_client_all_sessions(self.web_id, {"first": 2, "max": 2})
        self.assertEqual(len(first), 2)
        self.assertEqual(len(rest), 1)
        self.assertEqual({s["id"] for s in first + rest}, created)
        beyond = self.admin.get_client_all_sessions(self.web_id, {"first": 3, "max": 2})
        self.assertEqual(beyond, [])

    def test_user_sessions(self):
        alice = {sign_in("alice")["session_state"], sign_in("alice")["session_state"]}
        alice.add(sign_in("alice", offline=True)["session_state"])
        sign_in("bob")
        sessions = self.admin.get_sessions(self.user_ids["alice"])
        # Regular sessions only, as Keycloak.
        self.assertEqual({s["id"] for s in sessions}, alice)
        self.assertEqual(len(sessions), 3)
        for session in sessions:
            self.assert_user_session(session, "alice")
        self.assertEqual(self.admin.get_sessions(self.user_ids["carol"]), [])

    def test_user_logout(self):
        alice_tokens = [sign_in("alice"), sign_in("alice")]
        bob = sign_in("bob")["session_state"]
        result = self.admin.user_logout(self.user_ids["alice"])
        self.assertEqual(result, {})
        self.assertEqual(self.admin.get_sessions(self.user_ids["alice"]), [])
        self.assertEqual([s["id"] for s in self.admin.get_sessions(self.user_ids["bob"])], [bob])
        remaining = self.admin.get_client_all_sessions(self.web_id)
        self.assertEqual([s["username"] for s in remaining], ["bob"])
        self.assertEqual(self.web_stats()["active"], "1")
        # The ended sessions' refresh tokens are refused.
        for token in alice_tokens:
            with self.assertRaises(KeycloakError):
                web_client().refresh_token(token["refresh_token"])
        self.assertGreaterEqual(
            self.admin.get_user(self.user_ids["alice"]).get("notBefore", 0), int(time.time()) - 60
        )

    def test_offline_session_has_the_id_of_its_sign_in(self):
        # As in Keycloak, a script finds its own offline session by the session_state of its
        # token response and ends it with isOffline=true; the sign-in itself lives on. Done
        # through the library's own authenticated connection (it has no named method for these).
        conn = self.admin.connection
        tokens = sign_in("bob", offline=True)
        sid = tokens["session_state"]
        self.assertEqual(claims(tokens["refresh_token"])["sid"], sid)
        self.assertEqual(claims(tokens["refresh_token"])["typ"], "Offline")
        bob = self.user_ids["bob"]
        offline_of_bob = f"admin/realms/{REALM}/users/{bob}/offline-sessions/{self.web_id}"
        answer = conn.raw_get(offline_of_bob)
        self.assertEqual(answer.status_code, 200, answer.text)
        self.assertEqual([s["id"] for s in answer.json()], [sid])
        self.assert_user_session(answer.json()[0], "bob")
        offline_of_web = conn.raw_get(f"admin/realms/{REALM}/clients/{self.web_id}/offline-sessions").json()
        self.assertIn(sid, [s["id"] for s in offline_of_web])
        self.assertEqual([s["id"] for s in self.admin.get_sessions(bob)], [sid])

        session = f"admin/realms/{REALM}/sessions/{sid}"
        self.assertEqual(conn.raw_delete(session, isOffline="true").status_code, 204)
        self.assertEqual(conn.raw_get(offline_of_bob).json(), [])
        with self.assertRaises(KeycloakError):
            web_client().refresh_token(tokens["refresh_token"])
        self.assertEqual([s["id"] for s in self.admin.get_sessions(bob)], [sid], "the sign-in lives on")
        self.assertEqual(conn.raw_delete(session, isOffline="true").status_code, 404)
        # isOffline=false (Keycloak's default) is the regular session of that id.
        self.assertEqual(conn.raw_delete(session, isOffline="false").status_code, 204)
        self.assertEqual(self.admin.get_sessions(bob), [])

    def test_oidc_logout_ends_that_session(self):
        kept = sign_in("carol")["session_state"]
        ended = sign_in("carol")
        self.assertEqual(web_client().logout(ended["refresh_token"]), {})
        sessions = self.admin.get_sessions(self.user_ids["carol"])
        self.assertEqual([s["id"] for s in sessions], [kept])

    def test_realm_not_before(self):
        before = self.admin.get_realm(REALM)
        not_before = int(time.time())
        try:
            self.assertEqual(self.admin.update_realm(REALM, {"notBefore": not_before}), {})
            after = self.admin.get_realm(REALM)
            self.assertEqual(after["notBefore"], not_before)
            # A partial update: nothing else changes.
            for key in ("id", "realm", "displayName", "enabled", "ssoSessionIdleTimeout",
                        "ssoSessionMaxLifespan", "offlineSessionIdleTimeout",
                        "accessTokenLifespan"):
                self.assertEqual(after.get(key), before.get(key), key)
        finally:
            self.assertEqual(self.admin.update_realm(REALM, {"notBefore": 0}), {})
        self.assertEqual(self.admin.get_realm(REALM)["notBefore"], 0)


if __name__ == "__main__":
    unittest.main(verbosity=2)


class RoleMappingsTest(unittest.TestCase):
    """Admin roles granted as scripts grant them in Keycloak: realm-management's roles."""

    def test_grant_and_take_back_realm_management_roles(self):
        admin = admin_client()
        carol = admin.get_user_id("carol")
        management = admin.get_client_id("realm-management")
        self.assertTrue(management)
        names = {r["name"] for r in admin.get_client_roles(management)}
        self.assertTrue({"view-users", "manage-users", "realm-admin"} <= names, names)
        view_users = admin.get_client_role(management, "view-users")
        manage_clients = admin.get_client_role(management, "manage-clients")
        self.assertEqual(admin.get_client_roles_of_user(carol, management), [])

        admin.assign_client_role(carol, management, [view_users, manage_clients])
        held = {r["name"] for r in admin.get_client_roles_of_user(carol, management)}
        self.assertEqual(held, {"view-users", "manage-clients"})
        effective = {r["name"] for r in admin.get_composite_client_roles_of_user(carol, management)}
        self.assertEqual(effective, {"view-users", "manage-clients", "view-clients"})
        available = {r["name"] for r in admin.get_available_client_roles_of_user(carol, management)}
        self.assertEqual(available, names - held)
        mappings = admin.get_all_roles_of_user(carol)
        self.assertEqual(
            {r["name"] for r in mappings["clientMappings"]["realm-management"]["mappings"]}, held
        )
        # The grant is honoured: carol may now read the realm's users with her own token.
        carol_admin = KeycloakAdmin(
            server_url=BASE_URL, username="carol", password="carol-password",
            client_id="admin-cli", realm_name=REALM,
        )
        self.assertIn("carol", [u["username"] for u in carol_admin.get_users({"username": "carol"})])

        admin.delete_client_roles_of_user(carol, management, [view_users, manage_clients])
        self.assertEqual(admin.get_client_roles_of_user(carol, management), [])
        with self.assertRaises(KeycloakError):
            admin.assign_client_role(carol, management, [{"name": "no-such-role"}])
