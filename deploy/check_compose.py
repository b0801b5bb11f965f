"""Checks docker-compose.yml, the Dockerfile and deploy/haproxy.cfg, since containers cannot run
where the tests run: the compose file against the Compose Specification's JSON schema
(deploy/compose-spec.json, from the compose-spec project), and all three against the server
they deploy — every LATCHKEY_ variable is one `latchkey serve --help` knows and the README's
configuration reference lists; both nodes share one public URL and database; health checks ask
/health/ready; the proxy balances exactly the nodes, on the port they listen on, and publishes
the public URL's port and nothing else, on 127.0.0.1 only; metrics are not published, and only the
nodes are on the internal `metrics` network; POSTGRES_PASSWORD has no default; fixed addresses
lie outside the range Docker hands out; HAProxy resolves the nodes' names again and again; the
image exposes the public port alone and builds with cache mounts.

    python deploy/check_compose.py path/to/latchkey      # exits 1 with every problem found
"""

import ipaddress
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


def env_of(service, raw=False):
    env = service.get("environment", {})
    if isinstance(env, list):
        env = dict(item.split("=", 1) for item in env)
    return {k: str(v) if raw else expand(v) for k, v in env.items()}


def networks_of(service):
    """A service's networks as a map, from either the list or the map form."""
    networks = service.get("networks") or {}
    if isinstance(networks, list):
        return {name: {} for name in networks}
    return {name: config or {} for name, config in networks.items()}


def published_ports(service):
    """A service's published ports as (host address, host port, container port)."""
    ports = []
    for port in service.get("ports", []):
        if isinstance(port, dict):
            ports.append(tuple(str(port.get(key, "")) for key in ("host_ip", "published", "target")))
            continue
        parts = str(port).split("/")[0].rsplit(":", 2)
        parts = [""] * (3 - len(parts)) + parts
        ports.append((parts[0].strip("[]"), parts[1], parts[2]))
    return ports


def strings(node):
    """Every string value of a parsed YAML document."""
    if isinstance(node, dict):
        node = list(node.values())
    if isinstance(node, list):
        for value in node:
            yield from strings(value)
    elif isinstance(node, str):
        yield node


def check_compose_hardening(compose, nodes):
    """Ports published on 127.0.0.1 only; the database password required, never defaulted;
    metrics on an internal network of the nodes' own; fixed addresses outside the range Docker
    hands out, so no container started earlier can hold the proxy's."""
    services = compose.get("services", {})
    networks = compose.get("networks") or {}
    for name, service in services.items():
        for host, port, target in published_ports(service):
            check(host == "127.0.0.1", f"{name} publishes {port or target} on {host or 'every address'}, not 127.0.0.1")

    required = "${POSTGRES_PASSWORD:?"
    uses = {m for value in strings(compose) for m in re.findall(r"\$\{?POSTGRES_PASSWORD\b[^}]*\}?", value)}
    for use in sorted(uses):
        check(use.startswith(required), f"POSTGRES_PASSWORD is used as {use}, not required ({required}…}})")
    password = env_of(services.get("postgres", {}), raw=True).get("POSTGRES_PASSWORD", "")
    check(required in password, f"the postgres service's password is not the required {required}…}}")
    for name in nodes:
        url = env_of(services[name], raw=True).get("LATCHKEY_DATABASE_URL", "")
        check(required in url, f"{name}: the database URL's password is not the required {required}…}}")

    check((networks.get("metrics") or {}).get("internal") is True, "no internal `metrics` network")
    on_metrics = sorted(name for name, service in services.items() if "metrics" in networks_of(service))
    check(on_metrics == nodes, f"the metrics network should hold the nodes alone, holds {on_metrics}")

    for name, service in services.items():
        for network, config in networks_of(service).items():
            if "ipv4_address" not in config:
                continue
            address = ipaddress.ip_address(config["ipv4_address"])
            pools = ((networks.get(network) or {}).get("ipam") or {}).get("config") or []
            pool = next((p for p in pools if "subnet" in p and address in ipaddress.ip_network(p["subnet"])), None)
            check(pool is not None, f"{name}: {address} is in no subnet of the {network} network")
            if pool is None:
                continue
            dynamic = pool.get("ip_range")
            check(dynamic, f"the {network} network has no ip_range: Docker may hand out {address} first")
            check(not dynamic or address not in ipaddress.ip_network(dynamic),
                  f"{name}: {address} lies in {dynamic}, the {network} network's range Docker hands out")
            check(str(address) != pool.get("gateway"), f"{name}: {address} is the {network} network's gateway")


def check_haproxy_resolvers(haproxy):
    """The nodes' names asked of a resolvers section again and again, not once at start."""
    sections = re.findall(r"^resolvers\s+(\S+)", haproxy, re.M)
    check(sections, "haproxy.cfg has no resolvers section: the nodes' names are resolved once, at start")
    nameservers = re.search(r"^\s*(parse-resolv-conf|nameserver\s)", haproxy, re.M)
    check(not sections or nameservers, "the resolvers section has no nameserver")
    for name, options in re.findall(r"^\s*server\s+(\S+)\s+(.*)$", haproxy, re.M):
        resolvers = re.search(r"\bresolvers\s+(\S+)", options)
        check(resolvers and resolvers.group(1) in sections, f"the proxy's server {name} uses no resolvers section")
        check(re.search(r"\binit-addr\s+\S", options), f"the proxy's server {name} has no init-addr")
    # The multi-node test drops the server lines and appends its own at the end of the file.
    headers = re.findall(r"^(global|defaults|resolvers|frontend|backend|listen)\b", haproxy, re.M)
    check(headers and headers[-1] == "backend", "the backend is not the last section of haproxy.cfg")


def check_dockerfile_build(dockerfile, listen_port, metrics_port):
    """The public port alone exposed; cargo's registry and target/ on cache mounts; the
    wasm-bindgen CLI of the version the console pins."""
    exposed = set(" ".join(re.findall(r"^EXPOSE (.+)$", dockerfile, re.M)).split())
    check(exposed == {listen_port}, f"the image exposes {sorted(exposed)}, not {listen_port} alone")
    check(metrics_port not in exposed, f"the image exposes the metrics port {metrics_port}")
    mounts = re.findall(r"--mount=type=cache,target=(\S+)", dockerfile)
    check(any(m.endswith("/cargo/registry") for m in mounts), "cargo's registry is not on a cache mount")
    check(any(m.rstrip("/").endswith("/target") for m in mounts), "target/ is not on a cache mount")
    lock = (ROOT / "frontend/Cargo.lock").read_text()
    pinned = re.search(r'^name = "wasm-bindgen"\nversion = "([^"]+)"', lock, re.M)
    installed = re.search(r"cargo install wasm-bindgen-cli --version (\S+)", dockerfile)
    pinned, installed = pinned and pinned.group(1), installed and installed.group(1)
    check(pinned and installed == pinned, f"the image installs wasm-bindgen-cli {installed}, not {pinned} as the console")


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
    published = published_ports(proxy)
    check(
        [p[1] for p in published] == [public_port],
        f"the proxy should publish the public URL's port {public_port} alone, publishes {published}",
    )
    for name, service in services.items():
        check(all(metrics_port not in p[1:] for p in published_ports(service)), f"{name}: metrics are published")
    check_compose_hardening(compose, nodes)
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
    check_haproxy_resolvers(haproxy)

    dockerfile = (ROOT / "Dockerfile").read_text()
    check(len(re.findall(r"^FROM ", dockerfile, re.M)) >= 2, "the Dockerfile is not multi-stage")
    user = re.findall(r"^USER (\S+)", dockerfile, re.M)
    check(user and user[-1] not in ("root", "0"), "the image does not run as an unprivileged user")
    check("/health/ready" in dockerfile, "the image's HEALTHCHECK does not ask /health/ready")
    check("scripts/console" in dockerfile, "the image does not build the console")
    check_dockerfile_build(dockerfile, listen_port, metrics_port)

    if problems:
        print("deploy check failed:", *problems, sep="\n  - ")
        return 1
    print(f"docker-compose.yml follows the Compose Specification; {len(nodes)} nodes, the proxy, "
          f"the Dockerfile and {len(known)} settings agree with the server")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1] if len(sys.argv) > 1 else str(ROOT / "target/debug/latchkey")))
