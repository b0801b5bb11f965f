#!/usr/bin/env python3
"""Load driver for the refresh_token grant with rotation (used by bench/tokens.sh).

A rotating refresh token can be used once, so a replaying load generator such as wrk cannot drive
this grant. Each of WORKERS threads holds its own refresh-token chain over its own keep-alive
connection: it is handed a first token (got one after another before the clock starts, since a
burst of sign-ins may be throttled), then refreshes in a loop for SECONDS, always with the refresh
token of the previous answer. Standard library only.

    refresh_load.py latchkey http://127.0.0.1:PORT/realms/demo/protocol/openid-connect [--seconds 10]
    refresh_load.py peer http://127.0.0.1:PORT [--seconds 10]
    refresh_load.py peer-access-token http://127.0.0.1:PORT     # prints one opaque access token

First tokens: Latchkey by the password grant (alice / alice-password, client demo-web, scope
openid). node-oidc-provider has no password grant, so for the peer each worker walks the
authorization code flow once through the library's development interactions (sign-in as alice,
consent, PKCE), requesting scope `openid api` with the API resource indicator, and exchanges the code.

Prints one line: RESULT rps=.. p50_ms=.. p99_ms=.. ok=.. errors=.. cpu_pct=..
where cpu_pct is this driver's own CPU (user+system) over the timed phase, in percent of one core:
near 100 means the driver, not the server, was the bottleneck.
"""

import argparse
import base64
import hashlib
import http.client
import json
import resource
import secrets
import threading
import time
import urllib.parse
from http.cookies import SimpleCookie

CLIENT_ID = "demo-web"
CLIENT_SECRET = "demo-web-secret"
BASIC = "Basic " + base64.b64encode(f"{CLIENT_ID}:{CLIENT_SECRET}".encode()).decode()
FORM = "application/x-www-form-urlencoded"
PEER_REDIRECT = "http://127.0.0.1/callback"
PEER_RESOURCE = "urn:latchkey-bench:api"


class Target:
    def __init__(self, kind, base):
        self.kind = kind
        url = urllib.parse.urlsplit(base)
        self.host, self.port = url.hostname, url.port
        self.prefix = url.path.rstrip("/")
        self.token_path = f"{self.prefix}/token"

    def connect(self):
        return http.client.HTTPConnection(self.host, self.port, timeout=30)


def post_form(conn, path, fields, auth=True):
    headers = {"Content-Type": FORM}
    if auth:
        headers["Authorization"] = BASIC
    conn.request("POST", path, urllib.parse.urlencode(fields), headers)
    resp = conn.getresponse()
    return resp.status, resp.read()


def token_request(conn, target, fields):
    status, body = post_form(conn, target.token_path, fields)
    if status != 200:
        raise RuntimeError(f"token endpoint answered {status}: {body[:200]!r}")
    return json.loads(body)


def peer_code_flow(target, resource_indicator):
    """Walks node-oidc-provider's authorization code flow with its development interactions."""
    conn = target.connect()
    cookies = {}

    def send(method, path, body=None):
        headers = {}
        if cookies:
            headers["Cookie"] = "; ".join(f"{k}={v}" for k, v in cookies.items())
        if body is not None:
            headers["Content-Type"] = FORM
            body = urllib.parse.urlencode(body)
        conn.request(method, path, body, headers)
        resp = conn.getresponse()
        data = resp.read()
        for header in resp.headers.get_all("Set-Cookie") or []:
            jar = SimpleCookie()
            jar.load(header)
            for name, morsel in jar.items():
                if morsel.value:
                    cookies[name] = morsel.value
                else:
                    cookies.pop(name, None)
        return resp.status, resp.headers.get("Location"), data

    verifier = secrets.token_urlsafe(32)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=")
    params = {
        "client_id": CLIENT_ID, "response_type": "code", "redirect_uri": PEER_REDIRECT,
        "scope": "openid", "state": "bench",
        "code_challenge": challenge.decode(), "code_challenge_method": "S256",
    }
    if resource_indicator:
        params["scope"] = "openid api"
        params["resource"] = resource_indicator
    path = f"{target.prefix}/auth?{urllib.parse.urlencode(params)}"
    method, form = "GET", None
    for _ in range(12):
        status, location, data = send(method, path, form)
        method, form = "GET", None
        if status in (302, 303) and location:
            if location.startswith(PEER_REDIRECT):
                query = urllib.parse.parse_qs(urllib.parse.urlsplit(location).query)
                if "code" not in query:
                    raise RuntimeError(f"authorization failed: {location}")
                code = query["code"][0]
                break
            path = urllib.parse.urlsplit(location)._replace(scheme="", netloc="").geturl()
        elif status == 200 and b'name="prompt"' in data:
            page = data.decode()
            if 'value="login"' in page:
                form = {"prompt": "login", "login": "alice", "password": "alice-password"}
            elif 'value="consent"' in page:
                form = {"prompt": "consent"}
            else:
                raise RuntimeError("unexpected interaction page")
            method = "POST"
        else:
            raise RuntimeError(f"unexpected answer {status} at {path}: {data[:200]!r}")
    else:
        raise RuntimeError("authorization code flow did not finish")
    tokens = token_request(conn, target, {
        "grant_type": "authorization_code", "code": code, "redirect_uri": PEER_REDIRECT,
        "code_verifier": verifier,
    })
    conn.close()
    return tokens


def first_token(target):
    if target.kind == "latchkey":
        conn = target.connect()
        try:
            for _ in range(20):
                status, body = post_form(conn, target.token_path, {
                    "grant_type": "password", "username": "alice", "password": "alice-password",
                    "scope": "openid",
                })
                if status == 200:
                    return json.loads(body)
                if status not in (429, 503):
                    break
                time.sleep(1)  # sign-in throttling or busy password hashing: wait and retry
            raise RuntimeError(f"password grant answered {status}: {body[:200]!r}")
        finally:
            conn.close()
    return peer_code_flow(target, PEER_RESOURCE)


def percentile(sorted_values, q):
    if not sorted_values:
        return float("nan")
    index = min(len(sorted_values) - 1, int(q * len(sorted_values)))
    return sorted_values[index]


def run_load(target, workers, seconds):
    ready = threading.Barrier(workers + 1)
    latencies = [[] for _ in range(workers)]
    errors = [0] * workers
    stop_at = [0.0]

    # First tokens one at a time, before the clock starts: a burst of sign-ins may be throttled.
    firsts = [first_token(target)["refresh_token"] for _ in range(workers)]

    def worker(i):
        refresh = firsts[i]
        ready.wait()
        conn = target.connect()
        mine = latencies[i]
        while time.perf_counter() < stop_at[0]:
            started = time.perf_counter()
            try:
                status, body = post_form(conn, target.token_path, {
                    "grant_type": "refresh_token", "refresh_token": refresh,
                })
            except (OSError, http.client.HTTPException):
                errors[i] += 1
                conn.close()
                conn = target.connect()
                continue
            elapsed = time.perf_counter() - started
            if status == 200:
                mine.append(elapsed)
                refresh = json.loads(body)["refresh_token"]
            else:
                errors[i] += 1
                try:  # the chain is broken: start a new one (not counted as a refresh)
                    refresh = first_token(target)["refresh_token"]
                except Exception:  # noqa: BLE001
                    return
        conn.close()

    threads = [threading.Thread(target=worker, args=(i,), daemon=True) for i in range(workers)]
    for thread in threads:
        thread.start()
    usage0 = resource.getrusage(resource.RUSAGE_SELF)
    started = time.perf_counter()
    stop_at[0] = started + seconds
    ready.wait()  # releases the workers
    for thread in threads:
        thread.join()
    wall = time.perf_counter() - started
    usage1 = resource.getrusage(resource.RUSAGE_SELF)
    cpu = (usage1.ru_utime - usage0.ru_utime) + (usage1.ru_stime - usage0.ru_stime)

    done = sorted(x for chain in latencies for x in chain)
    print(
        f"RESULT rps={len(done) / wall:.1f} p50_ms={percentile(done, 0.50) * 1000:.2f} "
        f"p99_ms={percentile(done, 0.99) * 1000:.2f} ok={len(done)} errors={sum(errors)} "
        f"cpu_pct={100 * cpu / wall:.0f}"
    )


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("kind", choices=["latchkey", "peer", "peer-access-token"])
    parser.add_argument("base", help="token endpoint base URL (…/token is appended)")
    parser.add_argument("--seconds", type=float, default=10)
    parser.add_argument("--workers", type=int, default=16)
    args = parser.parse_args()
    if args.kind == "peer-access-token":
        # An opaque access token (no resource indicator): the kind the peer can introspect.
        print(peer_code_flow(Target("peer", args.base), None)["access_token"])
        return
    run_load(Target(args.kind, args.base), args.workers, args.seconds)


if __name__ == "__main__":
    main()
