"""Reading deploy/ for tests/unit/test_deploy*.py: the compose file with its variables filled in as
compose does, the Kubernetes manifests, and what each nginx location proxies to."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import yaml

DEPLOY = Path(__file__).resolve().parents[1] / "deploy"
APP_IMAGE = "supportbot"
_VAR = re.compile(r"\$\{(\w+)(?::([-?])([^}]*))?\}")


def env_example() -> dict[str, str]:
    lines = (DEPLOY / ".env.example").read_text().splitlines()
    return dict(line.split("=", 1) for line in lines if line.strip() and not line.startswith("#"))


def interpolate(text: str, env: dict[str, str]) -> str:
    """Compose's ``${X}``, ``${X:-default}`` and ``${X:?error}``; a missing required one raises."""

    def one(m: re.Match) -> str:
        name, kind, rest = m.group(1), m.group(2), m.group(3)
        if env.get(name):
            return env[name]
        if kind == "?":
            raise KeyError(f"{name}: {rest}")
        return rest if kind == "-" else ""

    return _VAR.sub(one, text)


def compose(env: dict[str, str]) -> dict[str, Any]:
    return yaml.safe_load(interpolate((DEPLOY / "docker-compose.yml").read_text(), env))


def app_services(spec: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """The services that run our image, by name."""
    return {name: s for name, s in spec["services"].items() if s.get("image", "").startswith(APP_IMAGE)}


def manifests() -> list[dict[str, Any]]:
    docs = []
    for path in sorted((DEPLOY / "k8s").glob("*.yaml")):
        docs += [d for d in yaml.safe_load_all(path.read_text()) if d]
    return docs


def k8s(kind: str, name: str) -> dict[str, Any]:
    return next(d for d in manifests() if d["kind"] == kind and d["metadata"]["name"] == name)


def workloads() -> dict[str, dict[str, Any]]:
    """Our image's workloads by component label: their pod spec."""
    found = {}
    for d in manifests():
        if d["kind"] in ("Deployment", "StatefulSet"):
            labels = d["spec"]["template"]["metadata"]["labels"]
            if labels.get("app.kubernetes.io/name") == APP_IMAGE:
                found[labels["app.kubernetes.io/component"]] = d
    return found


def routes(conf: str, server: int = 0) -> dict[str, tuple[str, bool, int]]:
    """nginx ``location`` -> (its upstream, whether that upstream is ``ip_hash``, how many servers),
    in the ``server``-th server block (0: the public one, 1: the action servers')."""
    upstreams = {m.group(1): m.group(2) for m in re.finditer(r"upstream (\w+) \{([^}]*)\}", conf)}
    found = {}
    block = re.split(r"\n\s*server \{", conf)[1 + server]
    for m in re.finditer(r"location (?:= )?(\S+) \{([^}]*)\}", block):
        target = re.search(r"proxy_pass http://(\w+);", m.group(2))
        if target:
            body = upstreams[target.group(1)]
            found[m.group(1)] = (target.group(1), "ip_hash;" in body, body.count("server "))
    return found


def upstream_hosts(conf: str) -> set[str]:
    return set(re.findall(r"server ([\w.-]+):\d+", conf))


def on_loopback(conf: str, ports: dict[str, int], listen: int | None = None,
                actions_listen: int | None = None) -> str:
    """deploy/nginx/nginx.conf with its upstream host names (``ports``: name -> a port on 127.0.0.1)
    and, if given, its listening ports (public, action servers') moved to loopback: nginx resolves
    the names when it reads the file, and the containers' names do not resolve here."""
    for host, port in ports.items():
        conf = re.sub(rf"server {re.escape(host)}:\d+", f"server 127.0.0.1:{port}", conf)
    if actions_listen:
        conf = conf.replace("listen 5055;", f"listen 127.0.0.1:{actions_listen};")
    return conf.replace("listen 8080;", f"listen 127.0.0.1:{listen};") if listen else conf
