"""Schemathesis hooks for scripts/fuzz: the admin's bearer token, and guards that keep the run's
own identity (and the network outside this machine) out of the fuzzer's reach.

Read from the environment (scripts/fuzz sets them):
  LATCHKEY_FUZZ_URL        the server's base URL
  LATCHKEY_ADMIN_USER      the master realm's administrator
  LATCHKEY_ADMIN_PASSWORD  and its password

Token: a password grant of `admin-cli` in realm `master`, fetched again every 60 s (access
tokens live 300 s) and whenever a call answers 401 (Schemathesis then replays that call once).

Guards (in `before_call`, so they apply to every phase, stateful included). These writes would
leave the administrator without a working token for the rest of the run, or the run without its
seeded data, so they are sent to a realm made for the purpose just before (`fuzz-sacrifice-N`,
created through the API) instead, where they do their work harmlessly:
  - PUT and DELETE of realm `master` (an update can disable it, set a far-future notBefore or
    a tiny token lifespan; deleting it is refused by the server, but is not left to chance);
  - POST logout-all of realm `master`;
  - any write to the administrator's own user in `master` (update, delete, password,
    admin roles, logout), to the `admin-cli` client of `master` (update, delete, secret,
    revocation), or to a session the harness signed in with (there it meets a 404);
  - DELETE of realm `demo`, whose users, clients and sessions the other operations work on.
The target is judged on the path as it is finally sent: a path parameter `..` collapses the URL
(`/admin/realms/master/clients/..` is sent as `/admin/realms/master`), and ids are compared as
UUIDs, whatever their spelling.

Clients may be given URLs the server calls (`adminUrl`, `backchannel.logout.url`); any such URL
of a host other than this machine's loopback is pointed at 127.0.0.1:9 before it is sent, so
logout-all and push-revocation never reach outside (scripts/fuzz also runs the server in a
network namespace of its own with only loopback, where it can).
"""

from __future__ import annotations

import atexit
import base64
import itertools
import json
import os
import re
import threading
import uuid
from urllib.parse import unquote, urlsplit, urlunsplit

import requests
import schemathesis
from urllib3.util import parse_url

BASE_URL = os.environ["LATCHKEY_FUZZ_URL"].rstrip("/")
ADMIN_USER = os.environ.get("LATCHKEY_ADMIN_USER", "admin")
ADMIN_PASSWORD = os.environ.get("LATCHKEY_ADMIN_PASSWORD", "admin")
MASTER = "master"
GUARD_REALM = "fuzz-guarded"  # does not exist: the fallback when no realm can be made
DEMO = "demo"
LOOPBACK_HOSTS = {"127.0.0.1", "localhost", "::1", "[::1]"}
URL_FIELDS = ("adminUrl",)
URL_ATTRIBUTES = ("backchannel.logout.url",)
SAFE_METHODS = {"GET", "HEAD", "OPTIONS"}


class Protected:
    """What the harness's own token depends on, learned as tokens are fetched."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.users: set[uuid.UUID] = set()
        self.clients: set[uuid.UUID] = set()
        self.sessions: set[uuid.UUID] = set()
        self.guarded: dict[str, int] = {}
        self.token: str | None = None


PROTECTED = Protected()


def _claims(token: str) -> dict:
    payload = token.split(".")[1]
    return json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))


def _as_uuid(value: object) -> uuid.UUID | None:
    try:
        return uuid.UUID(str(value).strip())
    except (ValueError, AttributeError):
        return None


def fetch_token() -> str:
    answer = requests.post(
        f"{BASE_URL}/realms/{MASTER}/protocol/openid-connect/token",
        data={
            "grant_type": "password",
            "client_id": "admin-cli",
            "username": ADMIN_USER,
            "password": ADMIN_PASSWORD,
        },
        timeout=30,
    )
    if answer.status_code != 200:
        raise RuntimeError(
            f"the admin token could not be had: {answer.status_code} {answer.text[:300]}"
        )
    token = answer.json()["access_token"]
    claims = _claims(token)
    with PROTECTED.lock:
        PROTECTED.token = token
        for key, into in (("sub", PROTECTED.users), ("sid", PROTECTED.sessions)):
            value = _as_uuid(claims.get(key))
            if value is not None:
                into.add(value)
        need_clients = not PROTECTED.clients
    if need_clients:
        listed = requests.get(
            f"{BASE_URL}/admin/realms/{MASTER}/clients",
            params={"clientId": "admin-cli"},
            headers={"Authorization": f"Bearer {token}"},
            timeout=30,
        )
        listed.raise_for_status()
        with PROTECTED.lock:
            for client in listed.json():
                value = _as_uuid(client.get("id"))
                if value is not None:
                    PROTECTED.clients.add(value)
    return token


@schemathesis.auth(refresh_interval=60)
class AdminToken:
    def get(self, case, context):
        return fetch_token()

    def set(self, case, data, context):
        case.headers = case.headers or {}
        case.headers["Authorization"] = f"Bearer {data}"


def _effective_segments(case) -> list[str]:
    """The path segments as the server will see them: dot segments resolved as the HTTP client
    does, empty segments and trailing slashes dropped as the server does, each decoded once."""
    path = parse_url("http://x" + case.formatted_path).path or "/"
    return [unquote(s) for s in path.split("/") if s]


def _guard_reason(method: str, segments: list[str]) -> str | None:
    if method in SAFE_METHODS or segments[:2] != ["admin", "realms"] or len(segments) < 3:
        return None
    if segments[2] == DEMO and len(segments) == 3 and method == "DELETE":
        return "DELETE of realm demo"
    if segments[2] != MASTER:
        return None
    rest = segments[3:]
    if not rest:
        return f"{method} of realm master"
    if rest == ["logout-all"]:
        return "logout-all of realm master"
    if len(rest) >= 2:
        target = _as_uuid(rest[1])
        with PROTECTED.lock:
            if rest[0] == "users" and target in PROTECTED.users:
                return "a write to the administrator's own user"
            if rest[0] == "clients" and target in PROTECTED.clients:
                return "a write to master's admin-cli client"
            if rest[0] == "sessions" and target in PROTECTED.sessions:
                return "ending the harness's own session"
    return None


def _loopback_only(value: object) -> object:
    """An http(s) URL of another host, pointed at loopback instead; anything else unchanged."""
    if not isinstance(value, str):
        return value
    # Read leniently, as a WHATWG parser would: C0 controls and spaces trimmed, tabs and
    # newlines dropped, backslashes taken for slashes, `http:host` taken for `http://host`.
    lenient = re.sub(r"[\t\n\r]", "", value.strip("".join(map(chr, range(33)))).replace("\\", "/"))
    if not re.match(r"(?i)https?:", lenient):
        return value
    try:
        parts = urlsplit(lenient)
        host = parts.hostname
    except ValueError:
        return "http://127.0.0.1:9/fuzz-guarded"
    if not parts.netloc:
        return "http://127.0.0.1:9/fuzz-guarded"
    if host is not None and host.lower() in LOOPBACK_HOSTS:
        return value
    return urlunsplit((parts.scheme, "127.0.0.1:9", parts.path, parts.query, parts.fragment))


def _guard_urls(case) -> None:
    body = case.body
    if not isinstance(body, dict):
        return
    for field in URL_FIELDS:
        if field in body:
            body[field] = _loopback_only(body[field])
    attributes = body.get("attributes")
    if isinstance(attributes, dict):
        for field in URL_ATTRIBUTES:
            if field in attributes:
                attributes[field] = _loopback_only(attributes[field])


@schemathesis.hook
def before_call(context, case, kwargs):
    method = case.method.upper()
    if method in ("POST", "PUT") and "/clients" in case.operation.path:
        _guard_urls(case)
    reason = _guard_reason(method, _effective_segments(case))
    if reason is None:
        return
    sacrifice = _sacrificial_realm()
    params = dict(case.path_parameters or {})
    for name, value in params.items():
        if name == "realm" or str(value).strip() in (".", ".."):
            params[name] = sacrifice
    case.path_parameters = params
    if _guard_reason(method, _effective_segments(case)) is not None:
        raise RuntimeError(f"could not divert {method} {case.formatted_path}")
    with PROTECTED.lock:
        PROTECTED.guarded[reason] = PROTECTED.guarded.get(reason, 0) + 1
    if os.environ.get("LATCHKEY_FUZZ_VERBOSE_GUARDS"):
        print(f"fuzz guard: {reason}: sent as {method} {case.formatted_path}", flush=True)


_SACRIFICES = itertools.count(1)


def _sacrificial_realm() -> str:
    """A new, empty realm for a diverted write to work on."""
    name = f"fuzz-sacrifice-{next(_SACRIFICES)}"
    for _ in range(2):
        token = PROTECTED.token or fetch_token()
        made = requests.post(
            f"{BASE_URL}/admin/realms",
            json={"realm": name},
            headers={"Authorization": f"Bearer {token}"},
            timeout=30,
        )
        if made.status_code == 201:
            return name
        if made.status_code == 401:
            fetch_token()
            continue
        break
    print(f"fuzz guard: realm {name} could not be made ({made.status_code}); using {GUARD_REALM}")
    return GUARD_REALM


@atexit.register
def _report_guards() -> None:
    with PROTECTED.lock:
        diverted = dict(PROTECTED.guarded)
    total = sum(diverted.values())
    print(f"fuzz guard: {total} write(s) diverted to sacrificial realms", flush=True)
    for reason, count in sorted(diverted.items()):
        print(f"fuzz guard:   {count} x {reason}", flush=True)
