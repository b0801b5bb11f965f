"""Checks docker-compose.yml, the Dockerfile and deploy/haproxy.cfg, since containers cannot run
where the tests run: the compose file against the Compose Specification's JSON schema
(deploy/compose-spec.json, from the compose-spec project), and all three against the server
they deploy — every LATCHKEY_ variable is one `latchkey serve --help` knows and the README's
configuration reference lists; both nodes share one public URL and database; health checks ask
/health/ready; the proxy balances exactly the nodes, on the port they listen on, and publishes
the public URL's port and nothing else; metrics are not published.

    python deploy/check_compose.py path/to/latchkey      # exits 1 with every problem found
"""

import json
import re
import subprocess
import sys
from pathlib import Path
from urllib.parse import urlparse

import jsonschema_rs
import yaml

ROOT = Path(__file__).resolve().parent.parent
problems = []


def check(ok, message):
    if not ok:
        problems.append(message)


def expand(value):
    """A compose value with ${NAME:-default} and ${NAME:?error} read as their defaults."""
    return re.sub(r"\$\{[A-Z_]+(?::-([^}]*)|:\?[^}]*)\}", lambda m: m.group(1) or "<required>", str(value))


def env_of(service):
    env = service.get("environment", {})
    if isinstance(env, list):
        env = dict(item.split("=", 1) for item in env)
    return {k: expand(v) for k, v in env.items()}


def main(binary):
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    schema = json.loads((ROOT / "deploy/compose-spec.json").read_text())
    for error in jsonschema_rs.validator_for(schema).iter_errors(compose):
        problems.append(f"docker-compose.yml does not follow the Compose Specification: {error}")

    help_text = subprocess.run([binary, "serve", "--help"], capture_output=True, text=True, check=True).stdout
    known = set(re.findall(r"env:\s+(LATCHKEY_[A-Z_]+)", help_text))
    check(len(known) > 10, f"`latchkey serve --help` names too few variables: {sorted(known)}")
    readme = (ROOT / "README.md").read_text()

    services = compose.get("services", {})
    nodes = sorted(name for name in services if name.startswith("latchkey-"))
    check(nodes == ["latchkey-1", "latchkey-2"], f"two Latchkey nodes expected, found {nodes}")
    check("postgres" in services and "proxy" in services, "a postgres and a proxy service are expected")

    envs = {name: env_of(services[name]) for name in nodes}
    for name, env in envs.items():
        for var in env:
            if var.startswith("LATCHKEY_"):
                check(var in known, f"{name}: {var} is not a setting of `latchkey serve`")
                check(f"`{var}`" in readme, f"{name}: {var} is missing from the README's configuration reference")
        check(env.get("LATCHKEY_DATABASE_URL", "").startswith("postgres://"), f"{name}: not on PostgreSQL")
        check("@postgres:" in env.get("LATCHKEY_DATABASE_URL", ""), f"{name}: the database is not the postgres service")
        check("LATCHKEY_PUBLIC_URL" in env, f"{name}: no public URL (required off loopback)")
        test = " ".join(services[name].get("healthcheck", {}).get("test", []))
        check("/health/ready" in test, f"{name}: its health check does not ask /health/ready")
        check("ports" not in services[name], f"{name}: a node publishes ports; only the proxy should")
    if len(envs) == 2:
        first, second = envs.values()
        for var in ("LATCHKEY_PUBLIC_URL", "LATCHKEY_DATABASE_URL", "LATCHKEY_TRUSTED_PROXIES"):
            check(first.get(var) == second.get(var), f"the nodes differ in {var}")
    after = services.get("latchkey-2", {}).get("depends_on", {})
    check(
        isinstance(after, dict) and after.get("latchkey-1", {}).get("condition") == "service_healthy",
        "latchkey-2 must wait for latchkey-1 to be healthy (one node migrates the schema)",
    )

    postgres = services.get("postgres", {})
    volumes = [str(v).split(":")[0] for v in postgres.get("volumes", [])]
    check(any(v in (compose.get("volumes") or {}) for v in volumes), "PostgreSQL's data is not on a named volume")
    check("pg_isready" in " ".join(postgres.get("healthcheck", {}).get("test", [])), "PostgreSQL has no health check")

    env = envs.get("latchkey-1", {})
    listen_port = env.get("LATCHKEY_LISTEN", ":8080").rsplit(":", 1)[1]
    metrics_port = env.get("LATCHKEY_METRICS_LISTEN", ":").rsplit(":", 1)[1]
    public = urlparse(env.get("LATCHKEY_PUBLIC_URL", ""))
    public_port = str(public.port or (443 if public.scheme == "https" else 80))
    proxy = services.get("proxy", {})
    published = [str(p) for p in proxy.get("ports", [])]
    check(
        [p.split(":")[0] for p in published] == [public_port],
        f"the proxy should publish the public URL's port {public_port} alone, publishes {published}",
    )
    check(metrics_port not in [p.split(":")[0] for p in published], "metrics are published")
    trusted = env.get("LATCHKEY_TRUSTED_PROXIES")
    proxy_ip = (proxy.get("networks") or {}).get("latchkey", {}) or {}
    check(trusted == proxy_ip.get("ipv4_address"), "the nodes' trusted proxy is not the proxy's address")

    haproxy = (ROOT / "deploy/haproxy.cfg").read_text()
    servers = re.findall(r"^\s*server\s+(\S+)\s+(\S+):(\d+)", haproxy, re.M)
    check(sorted(s[0] for s in servers) == nodes, f"the proxy balances {servers}, not the nodes {nodes}")
    for name, host, port in servers:
        check(host == name and port == listen_port, f"the proxy reaches {name} at {host}:{port}, not {name}:{listen_port}")
    check(re.search(r"option httpchk GET /health/ready", haproxy), "the proxy does not health-check /health/ready")
    check(re.search(rf"bind :{public_port}\b", haproxy), f"the proxy does not listen on {public_port}")
    mounted = " ".join(str(v) for v in proxy.get("volumes", []))
    check("./deploy/haproxy.cfg:" in mounted, "the proxy does not use deploy/haproxy.cfg")

    dockerfile = (ROOT / "Dockerfile").read_text()
    check(len(re.findall(r"^FROM ", dockerfile, re.M)) >= 2, "the Dockerfile is not multi-stage")
    user = re.findall(r"^USER (\S+)", dockerfile, re.M)
    check(user and user[-1] not in ("root", "0"), "the image does not run as an unprivileged user")
    check("/health/ready" in dockerfile, "the image's HEALTHCHECK does not ask /health/ready")
    exposed = set(" ".join(re.findall(r"^EXPOSE (.+)$", dockerfile, re.M)).split())
    check({listen_port, metrics_port} <= exposed, f"the image exposes {exposed}, not {listen_port} and {metrics_port}")
    check("scripts/console" in dockerfile, "the image does not build the console")

    if problems:
        print("deploy check failed:", *problems, sep="\n  - ")
        return 1
    print(f"docker-compose.yml follows the Compose Specification; {len(nodes)} nodes, the proxy, "
          f"the Dockerfile and {len(known)} settings agree with the server")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1] if len(sys.argv) > 1 else str(ROOT / "target/debug/latchkey")))
