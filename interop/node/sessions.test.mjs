// @keycloak/keycloak-admin-client, unchanged, against a running Latchkey server.
//
// The server runs with `--demo` and the administrator admin/admin; its base
// URL is read from LATCHKEY_URL. Run with `node --test sessions.test.mjs`.
// Sessions are created with password grants at the token endpoint (plain
// fetch); every admin call goes through the library.
//
// The library has no method for the console's ui-ext session lists, which
// are therefore not exercised here.

import { after, before, beforeEach, describe, test } from "node:test";
import assert from "node:assert/strict";
import KcAdminClient, { NetworkError } from "@keycloak/keycloak-admin-client";

const BASE_URL = (process.env.LATCHKEY_URL ?? "http://127.0.0.1:8080").replace(/\/+$/, "");
const realm = "demo";
const WEB = "demo-web";
const WEB_SECRET = "demo-web-secret";
const USERS = ["alice", "bob", "carol"];

const claims = (jwt) => JSON.parse(Buffer.from(jwt.split(".")[1], "base64url").toString());

// A password grant at demo-web: one new session (plus an offline one with
// offline_access). Returns the token response.
async function signIn(username, { offline = false } = {}) {
  const res = await fetch(`${BASE_URL}/realms/${realm}/protocol/openid-connect/token`, {
    method: "POST",
    headers: {
      authorization: `Basic ${Buffer.from(`${WEB}:${WEB_SECRET}`).toString("base64")}`,
      "content-type": "application/x-www-form-urlencoded",
    },
    body: new URLSearchParams({
      grant_type: "password",
      username,
      password: `${username}-password`,
      scope: offline ? "openid offline_access" : "openid",
    }),
  });
  assert.equal(res.status, 200, `sign-in of ${username}: ${await res.clone().text()}`);
  return res.json();
}

async function refreshStatus(refreshToken) {
  const res = await fetch(`${BASE_URL}/realms/${realm}/protocol/openid-connect/token`, {
    method: "POST",
    headers: {
      authorization: `Basic ${Buffer.from(`${WEB}:${WEB_SECRET}`).toString("base64")}`,
      "content-type": "application/x-www-form-urlencoded",
    },
    body: new URLSearchParams({ grant_type: "refresh_token", refresh_token: refreshToken }),
  });
  await res.arrayBuffer();
  return res.status;
}

// Keycloak omits an empty list in a GlobalRequestResult.
function assertGlobalRequestResult(result) {
  assert.equal(typeof result, "object");
  assert.ok(result !== null && !Array.isArray(result), JSON.stringify(result));
  for (const key of ["successRequests", "failedRequests"]) {
    if (result[key] !== undefined) assert.ok(Array.isArray(result[key]), key);
  }
}

async function assertNotFound(promise) {
  await assert.rejects(promise, (err) => {
    assert.ok(err instanceof NetworkError, String(err));
    assert.equal(err.response.status, 404);
    return true;
  });
}

const kc = new KcAdminClient({ baseUrl: BASE_URL, realmName: "master" });
const userIds = {};
let webId;

function assertUserSession(session, username) {
  assert.equal(session.username, username);
  assert.equal(session.userId, userIds[username]);
  assert.deepEqual(session.clients, { [webId]: WEB });
  assert.equal(session.ipAddress, "127.0.0.1");
  // Epoch milliseconds.
  const now = Date.now();
  assert.ok(session.start > now - 600_000 && session.start <= session.lastAccess, String(session.start));
  assert.ok(session.lastAccess <= now + 60_000, String(session.lastAccess));
}

const ids = (sessions) => sessions.map((s) => s.id).sort();

describe("@keycloak/keycloak-admin-client against Latchkey", () => {
  before(async () => {
    // The server administrator: realm master, client admin-cli, password grant.
    await kc.auth({ grantType: "password", clientId: "admin-cli", username: "admin", password: "admin" });
    for (const username of USERS) {
      const found = await kc.users.find({ realm, username, exact: true });
      assert.equal(found.length, 1, username);
      userIds[username] = found[0].id;
    }
    const clients = await kc.clients.find({ realm, clientId: WEB });
    assert.equal(clients.length, 1);
    webId = clients[0].id;
  });

  // Every test starts from a realm without sessions.
  beforeEach(async () => {
    await kc.realms.logoutAll({ realm });
  });

  after(async () => {
    await kc.realms.logoutAll({ realm });
  });

  test("auth: admin-cli password grant in realm master", () => {
    const access = claims(kc.accessToken);
    assert.ok(access.iss.endsWith("/realms/master"), access.iss);
    assert.equal(access.azp, "admin-cli");
    assert.equal(access.preferred_username, "admin");
    assert.ok(kc.refreshToken);
  });

  test("users.find and clients.find give the ids", async () => {
    for (const username of USERS) {
      assert.match(userIds[username], /^[0-9a-f-]{36}$/);
      const user = await kc.users.findOne({ realm, id: userIds[username] });
      assert.equal(user.username, username);
    }
    assert.equal(new Set(Object.values(userIds)).size, USERS.length);
    assert.deepEqual(await kc.users.find({ realm, username: "nobody-by-that-name", exact: true }), []);
    assert.equal((await kc.clients.findOne({ realm, id: webId })).clientId, WEB);
    assert.deepEqual(await kc.clients.find({ realm, clientId: "no-such-client" }), []);
  });

  test("realms.getClientSessionStats", async () => {
    assert.deepEqual(await kc.realms.getClientSessionStats({ realm }), []);
    await signIn("alice");
    await signIn("alice");
    await signIn("bob", { offline: true });
    const stats = await kc.realms.getClientSessionStats({ realm });
    // Only clients with sessions appear; all four values are strings.
    assert.deepEqual(stats, [{ id: webId, clientId: WEB, active: "3", offline: "1" }]);
  });

  test("clients.listSessions (first/max) and clients.getSessionCount", async () => {
    const created = {};
    for (const username of USERS) created[username] = (await signIn(username)).session_state;
    assert.deepEqual(await kc.clients.getSessionCount({ realm, id: webId }), { count: 3 });

    const all = await kc.clients.listSessions({ realm, id: webId });
    assert.deepEqual(ids(all), Object.values(created).sort());
    for (const session of all) {
      assert.equal(session.id, created[session.username]);
      assertUserSession(session, session.username);
    }

    const page1 = await kc.clients.listSessions({ realm, id: webId, first: 0, max: 2 });
    const page2 = await kc.clients.listSessions({ realm, id: webId, first: 2, max: 2 });
    assert.equal(page1.length, 2);
    assert.equal(page2.length, 1);
    assert.deepEqual(ids([...page1, ...page2]), ids(all));
    assert.deepEqual(await kc.clients.listSessions({ realm, id: webId, first: 3, max: 2 }), []);
  });

  test("clients.listOfflineSessions (first/max) and clients.getOfflineSessionCount", async () => {
    await signIn("alice");
    for (const username of USERS) await signIn(username, { offline: true });
    assert.deepEqual(await kc.clients.getOfflineSessionCount({ realm, id: webId }), { count: 3 });
    assert.deepEqual(await kc.clients.getSessionCount({ realm, id: webId }), { count: 4 });

    const offline = await kc.clients.listOfflineSessions({ realm, id: webId });
    assert.deepEqual(offline.map((s) => s.username).sort(), USERS);
    for (const session of offline) assertUserSession(session, session.username);

    const page1 = await kc.clients.listOfflineSessions({ realm, id: webId, first: 0, max: 2 });
    const page2 = await kc.clients.listOfflineSessions({ realm, id: webId, first: 2, max: 2 });
    assert.equal(page1.length, 2);
    assert.equal(page2.length, 1);
    assert.deepEqual(ids([...page1, ...page2]), ids(offline));
  });

  test("users.listSessions and users.listOfflineSessions", async () => {
    const regular = [(await signIn("alice")).session_state, (await signIn("alice")).session_state];
    regular.push((await signIn("alice", { offline: true })).session_state);
    await signIn("bob", { offline: true });

    const sessions = await kc.users.listSessions({ realm, id: userIds.alice });
    // Regular sessions only, as Keycloak.
    assert.deepEqual(ids(sessions), regular.sort());
    for (const session of sessions) assertUserSession(session, "alice");

    const offline = await kc.users.listOfflineSessions({ realm, id: userIds.alice, clientId: webId });
    assert.equal(offline.length, 1);
    assertUserSession(offline[0], "alice");

    assert.deepEqual(await kc.users.listSessions({ realm, id: userIds.carol }), []);
    assert.deepEqual(await kc.users.listOfflineSessions({ realm, id: userIds.carol, clientId: webId }), []);
  });

  test("realms.deleteSession of a regular session", async () => {
    const ended = await signIn("alice");
    const kept = (await signIn("alice")).session_state;
    await kc.realms.deleteSession({ realm, session: ended.session_state, isOffline: false });
    assert.deepEqual(ids(await kc.users.listSessions({ realm, id: userIds.alice })), [kept]);
    assert.deepEqual(await kc.clients.getSessionCount({ realm, id: webId }), { count: 1 });
    assert.equal(await refreshStatus(ended.refresh_token), 400);
    await assertNotFound(kc.realms.deleteSession({ realm, session: ended.session_state, isOffline: false }));
  });

  test("realms.deleteSession of an offline session (isOffline)", async () => {
    await signIn("bob", { offline: true });
    await signIn("carol", { offline: true });
    const [bobOffline] = await kc.users.listOfflineSessions({ realm, id: userIds.bob, clientId: webId });
    await kc.realms.deleteSession({ realm, session: bobOffline.id, isOffline: true });
    assert.deepEqual(await kc.users.listOfflineSessions({ realm, id: userIds.bob, clientId: webId }), []);
    assert.deepEqual(await kc.clients.getOfflineSessionCount({ realm, id: webId }), { count: 1 });
    const left = await kc.clients.listOfflineSessions({ realm, id: webId });
    assert.deepEqual(left.map((s) => s.username), ["carol"]);
    await assertNotFound(kc.realms.deleteSession({ realm, session: bobOffline.id, isOffline: true }));
  });

  test("an offline session has the id of its sign-in (session_state), as in Keycloak", async () => {
    const bob = await signIn("bob", { offline: true });
    const sid = bob.session_state;
    assert.equal(claims(bob.refresh_token).sid, sid);
    assert.equal(claims(bob.refresh_token).typ, "Offline");
    assert.deepEqual(ids(await kc.users.listOfflineSessions({ realm, id: userIds.bob, clientId: webId })), [sid]);
    assert.deepEqual(ids(await kc.clients.listOfflineSessions({ realm, id: webId })), [sid]);
    assert.deepEqual(ids(await kc.users.listSessions({ realm, id: userIds.bob })), [sid]);
    assert.deepEqual(ids(await kc.clients.listSessions({ realm, id: webId })), [sid]);

    // Ending the offline one by that id leaves the sign-in.
    await kc.realms.deleteSession({ realm, session: sid, isOffline: true });
    assert.deepEqual(await kc.users.listOfflineSessions({ realm, id: userIds.bob, clientId: webId }), []);
    assert.deepEqual(await kc.clients.getOfflineSessionCount({ realm, id: webId }), { count: 0 });
    assert.equal(await refreshStatus(bob.refresh_token), 400);
    assert.deepEqual(ids(await kc.users.listSessions({ realm, id: userIds.bob })), [sid]);
    await assertNotFound(kc.realms.deleteSession({ realm, session: sid, isOffline: true }));

    // isOffline: false names the regular one.
    await kc.realms.deleteSession({ realm, session: sid, isOffline: false });
    assert.deepEqual(await kc.users.listSessions({ realm, id: userIds.bob }), []);
    assert.deepEqual(await kc.clients.getSessionCount({ realm, id: webId }), { count: 0 });
  });

  test("admin roles the Keycloak way: realm-management roles and users' client role mappings", async () => {
    const [management] = await kc.clients.find({ realm, clientId: "realm-management" });
    assert.equal(management.clientId, "realm-management");
    const roles = await kc.clients.listRoles({ realm, id: management.id });
    assert.ok(roles.some((r) => r.name === "realm-admin"), JSON.stringify(roles));
    const viewUsers = await kc.clients.findRole({ realm, id: management.id, roleName: "view-users" });
    const mapping = { realm, id: userIds.carol, clientUniqueId: management.id };
    assert.deepEqual(await kc.users.listClientRoleMappings(mapping), []);

    await kc.users.addClientRoleMappings({ ...mapping, roles: [{ id: viewUsers.id, name: viewUsers.name }] });
    assert.deepEqual((await kc.users.listClientRoleMappings(mapping)).map((r) => r.name), ["view-users"]);
    assert.deepEqual((await kc.users.listCompositeClientRoleMappings(mapping)).map((r) => r.name), ["view-users"]);
    const available = await kc.users.listAvailableClientRoleMappings(mapping);
    assert.equal(available.length, roles.length - 1);
    assert.ok(!available.some((r) => r.name === "view-users"));

    await kc.users.delClientRoleMappings({ ...mapping, roles: [{ id: viewUsers.id, name: viewUsers.name }] });
    assert.deepEqual(await kc.users.listClientRoleMappings(mapping), []);
  });

  test("realms.removeSession", async () => {
    const ended = (await signIn("carol")).session_state;
    const kept = (await signIn("carol")).session_state;
    await kc.realms.removeSession({ realm, sessionId: ended });
    assert.deepEqual(ids(await kc.users.listSessions({ realm, id: userIds.carol })), [kept]);
    // The library turns a 404 into null for this method.
    assert.equal(await kc.realms.removeSession({ realm, sessionId: ended }), null);
  });

  test("users.logout", async () => {
    const alice = [await signIn("alice"), await signIn("alice")];
    const bob = (await signIn("bob")).session_state;
    const before = Math.floor(Date.now() / 1000);
    await kc.users.logout({ realm, id: userIds.alice });
    assert.deepEqual(await kc.users.listSessions({ realm, id: userIds.alice }), []);
    assert.deepEqual(ids(await kc.users.listSessions({ realm, id: userIds.bob })), [bob]);
    assert.deepEqual(
      (await kc.clients.listSessions({ realm, id: webId })).map((s) => s.username),
      ["bob"],
    );
    for (const token of alice) assert.equal(await refreshStatus(token.refresh_token), 400);
    const user = await kc.users.findOne({ realm, id: userIds.alice });
    assert.ok(user.notBefore >= before - 1, String(user.notBefore));
  });

  test("realms.logoutAll", async () => {
    const tokens = [];
    for (const username of USERS) {
      tokens.push(await signIn(username));
      tokens.push(await signIn(username, { offline: true }));
    }
    assert.deepEqual(await kc.clients.getSessionCount({ realm, id: webId }), { count: 6 });
    assert.deepEqual(await kc.clients.getOfflineSessionCount({ realm, id: webId }), { count: 3 });
    const before = Math.floor(Date.now() / 1000);
    assertGlobalRequestResult(await kc.realms.logoutAll({ realm }));
    // Regular and offline sessions are all gone.
    assert.deepEqual(await kc.clients.getSessionCount({ realm, id: webId }), { count: 0 });
    assert.deepEqual(await kc.clients.getOfflineSessionCount({ realm, id: webId }), { count: 0 });
    assert.deepEqual(await kc.clients.listSessions({ realm, id: webId }), []);
    assert.deepEqual(await kc.clients.listOfflineSessions({ realm, id: webId }), []);
    assert.deepEqual(await kc.realms.getClientSessionStats({ realm }), []);
    for (const username of USERS) {
      assert.deepEqual(await kc.users.listSessions({ realm, id: userIds[username] }), []);
    }
    for (const token of tokens) assert.equal(await refreshStatus(token.refresh_token), 400);
    const rep = await kc.realms.findOne({ realm });
    assert.ok(rep.notBefore >= before - 1, String(rep.notBefore));
  });

  test("realms.pushRevocation and clients.pushRevocation", async () => {
    await signIn("alice");
    assertGlobalRequestResult(await kc.realms.pushRevocation({ realm }));
    assertGlobalRequestResult(await kc.clients.pushRevocation({ realm, id: webId }));
    // Pushing revocation ends no session.
    assert.deepEqual(await kc.clients.getSessionCount({ realm, id: webId }), { count: 1 });
  });

  test("realms.findOne and realms.update with notBefore", async () => {
    const before = await kc.realms.findOne({ realm });
    // As the admin console sends it: a fractional number of seconds.
    const notBefore = Date.now() / 1000;
    try {
      await kc.realms.update({ realm }, { notBefore });
      const after = await kc.realms.findOne({ realm });
      assert.equal(after.notBefore, Math.trunc(notBefore));
      // A partial update: nothing else changes.
      for (const key of ["id", "realm", "displayName", "enabled", "ssoSessionIdleTimeout",
        "ssoSessionMaxLifespan", "offlineSessionIdleTimeout", "accessTokenLifespan"]) {
        assert.deepEqual(after[key], before[key], key);
      }
    } finally {
      await kc.realms.update({ realm }, { notBefore: 0 });
    }
    assert.equal((await kc.realms.findOne({ realm })).notBefore, 0);
  });

  test("unknown ids answer 404", async () => {
    const unknown = "00000000-0000-0000-0000-000000000000";
    await assertNotFound(kc.clients.listSessions({ realm, id: unknown }));
    await assertNotFound(kc.clients.getSessionCount({ realm, id: unknown }));
    await assertNotFound(kc.users.listSessions({ realm, id: unknown }));
    await assertNotFound(kc.realms.deleteSession({ realm, session: unknown, isOffline: false }));
  });
});
