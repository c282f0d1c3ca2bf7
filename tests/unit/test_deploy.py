"""deploy/: the compose file and the Kubernetes manifests run the processes our CLI has, with real
settings, the same ones in both, in the topology of `make cluster`; every YAML passes yamllint and
every manifest Kubernetes' own schemas (kubernetes-validate bundles them: offline)."""

from __future__ import annotations

import copy
import shutil
import subprocess
from dataclasses import fields
from pathlib import Path

import pytest
import yaml

from bot.apps.training import model_path
from bot.cli import build_parser, serve
from bot.settings import Settings
from tests.deploy_files import (
    DEPLOY,
    app_services,
    compose,
    env_example,
    k8s,
    manifests,
    upstream_hosts,
    workloads,
)

FILLED = {"POSTGRES_PASSWORD": "pw-for-the-test", "SUPPORTBOT_SECRET_KEY": "k" * 40}
SETTINGS = {f"SUPPORTBOT_{f.name.upper()}" for f in fields(Settings)}
COMPONENT = {"rasa1": "rasa", "rasa2": "rasa", "actions1": "actions", "actions2": "actions", "worker": "worker",
             "editor": "editor"}


def yaml_files() -> list[Path]:
    return sorted([*DEPLOY.rglob("*.yaml"), *DEPLOY.rglob("*.yml"), DEPLOY / ".yamllint"])


def test_every_yaml_file_in_deploy_passes_yamllint():
    from yamllint import linter
    from yamllint.config import YamlLintConfig

    config = YamlLintConfig(file=str(DEPLOY / ".yamllint"))
    problems = {str(p.relative_to(DEPLOY)): [str(x) for x in linter.run(p.read_text(), config)]
                for p in yaml_files()}
    assert len(problems) >= 12 and all(v == [] for v in problems.values()), problems


def test_yamllint_with_deploys_rules_finds_a_broken_file():
    from yamllint import linter
    from yamllint.config import YamlLintConfig

    broken = (DEPLOY / "docker-compose.yml").read_text().replace("  redis:\n", "  redis:\n  redis:\n", 1)
    found = list(linter.run(broken, YamlLintConfig(file=str(DEPLOY / ".yamllint"))))
    assert any("duplication of key" in p.message for p in found)


def test_compose_refuses_to_start_without_the_secrets_and_env_example_names_them():
    with pytest.raises(KeyError, match="POSTGRES_PASSWORD"):
        compose({})
    assert set(env_example()) >= set(FILLED) and all(v == "" for v in env_example().values())


def test_compose_has_make_clusters_topology():
    spec = compose(FILLED)
    services = spec["services"]
    assert {"postgres", "redis", "nginx", *COMPONENT} <= set(services)
    aliases = {a for n in ("rasa1", "rasa2", "actions1", "actions2")
               for a in services[n]["networks"]["default"]["aliases"]}
    conf = (DEPLOY / "nginx" / "nginx.conf").read_text()
    # nginx sends to both Rasa servers and both action servers, and only them
    assert upstream_hosts(conf) == aliases | {"editor"}
    assert aliases >= {"actions-0.actions", "actions-1.actions"}
    # the Rasa servers reach the action servers through nginx's inside port, which is not published
    assert services["nginx"]["networks"]["default"]["aliases"] == ["actions-lb"]
    assert services["nginx"]["ports"] == ["8080:8080"]
    assert "./nginx/nginx.conf:/etc/nginx/nginx.conf:ro" in services["nginx"]["volumes"]
    for name, service in app_services(spec).items():
        assert {"postgres", "redis"} <= set(service["depends_on"]), name
        if name != "worker":
            assert "healthcheck" in service, name


def test_each_compose_command_is_one_our_cli_or_rasa_accepts():
    from rasa.__main__ import create_argument_parser

    handlers = {"actions": serve.actions, "worker": serve.worker, "editor": serve.editor}
    for name, service in app_services(compose(FILLED)).items():
        cmd = [str(c) for c in service["command"]]
        if COMPONENT[name] == "rasa":
            assert cmd[:4] == ["python", "-m", "bot.rasa.launcher", "run"]
            args = create_argument_parser().parse_args(cmd[3:])
            assert Path(args.model) == model_path(Settings(root=Path("."))), "the model the image trains"
            assert (DEPLOY.parent / args.endpoints).is_file() and (DEPLOY.parent / args.credentials).is_file()
            assert (args.interface, args.port) == ("0.0.0.0", 5005)
        else:
            assert cmd[0] == "supportbot"
            assert build_parser().parse_args(cmd[1:]).handler is handlers[COMPONENT[name]]


def test_the_compose_settings_are_real_settings_that_load():
    for name, service in app_services(compose(FILLED)).items():
        env = {k: str(v) for k, v in service["environment"].items()}
        assert set(env) <= SETTINGS, f"{name}: not settings: {set(env) - SETTINGS}"
        s = Settings.from_env(env)  # raises SettingsError on a value that cannot be used
        assert s.secret_key == FILLED["SUPPORTBOT_SECRET_KEY"]
        assert s.tracker_url == s.handoff_url == "postgresql://supportbot:pw-for-the-test@postgres:5432/supportbot"
        assert s.redis_url == "redis://redis:6379/0"
        assert s.rasa_env()["ACTION_SERVER_URL"] == "http://actions-lb:5055/webhook"


def k8s_env(pod: dict) -> tuple[dict[str, str], set[str]]:
    """A container's SUPPORTBOT_* values (ConfigMap and explicit env) and its Secret's keys."""
    container = pod["spec"]["template"]["spec"]["containers"][0]
    values: dict[str, str] = {}
    secrets: set[str] = set()
    for source in container.get("envFrom", []):
        if "configMapRef" in source:
            values.update(k8s("ConfigMap", source["configMapRef"]["name"])["data"])
        else:
            secrets |= set(k8s("Secret", source["secretRef"]["name"])["stringData"])
    password = "pw-for-the-test"
    for item in container.get("env", []):
        if "value" in item:
            values[item["name"]] = item["value"].replace("$(POSTGRES_PASSWORD)", password)
    return values, secrets


def test_kubernetes_runs_the_same_processes_with_the_same_settings_as_compose():
    spec, pods = compose(FILLED), workloads()
    assert set(pods) == set(COMPONENT.values())
    assert pods["rasa"]["spec"]["replicas"] == 2 and pods["actions"]["spec"]["replicas"] == 2
    assert pods["rasa"]["kind"] == "StatefulSet" and pods["rasa"]["spec"]["serviceName"] == "rasa"
    assert k8s("Service", "rasa")["spec"]["clusterIP"] == "None"  # names rasa-0.rasa, rasa-1.rasa
    assert pods["actions"]["kind"] == "StatefulSet" and pods["actions"]["spec"]["serviceName"] == "actions"
    assert k8s("Service", "actions")["spec"]["clusterIP"] == "None"  # actions-0.actions, actions-1.actions
    balancer = k8s("Service", "actions-lb")["spec"]  # SUPPORTBOT_ACTION_HOST: nginx's inside port
    assert balancer["selector"] == k8s("Service", "nginx")["spec"]["selector"] and "type" not in balancer
    assert balancer["ports"] == [{"name": "actions", "port": 5055}]
    for name, service in app_services(spec).items():
        pod = pods[COMPONENT[name]]
        assert pod["spec"]["template"]["spec"]["containers"][0]["command"] == service["command"], name
        values, secrets = k8s_env(pod)
        mine = {k: str(v) for k, v in service["environment"].items()}
        assert set(mine) == set(values) | (secrets & SETTINGS), name
        assert {k: mine[k] for k in values} == values, name


def test_the_secret_template_holds_what_env_example_does_and_no_real_secret():
    secret = k8s("Secret", "supportbot-secrets")["stringData"]
    assert set(secret) == set(env_example())
    assert all(v in ("", "change-me") or v.startswith("change-me") for v in secret.values())


def test_the_image_user_can_write_the_shared_volumes():
    dockerfile = (DEPLOY / "Dockerfile").read_text()
    assert dockerfile.startswith("#") and "FROM python:3.10-slim" in dockerfile
    assert "-r requirements.lock" in dockerfile and "USER 10001" in dockerfile
    for pod in workloads().values():
        assert pod["spec"]["template"]["spec"]["securityContext"]["runAsUser"] == 10001
    assert "deploy/.env" in (DEPLOY / "Dockerfile.dockerignore").read_text().split()


def validate(docs: list[dict]) -> list[str]:
    import kubernetes_validate
    from kubernetes_validate.utils import ValidationError

    errors = []
    for d in docs:
        try:
            kubernetes_validate.validate(d, "1.28.0", strict=True)
        except ValidationError as exc:
            errors.append(f"{d['kind']}/{d['metadata']['name']}: {exc.message}")
    return errors


def test_every_manifest_passes_kubernetes_schemas_and_a_wrong_one_does_not():
    docs = manifests()
    assert len(docs) >= 16 and validate(docs) == []
    broken = copy.deepcopy(k8s("StatefulSet", "actions"))
    broken["spec"]["template"]["spec"]["containers"][0]["envFrom"][0]["configMapref"] = {"name": "x"}
    assert len(validate([broken])) == 1


def test_kustomize_renders_every_manifest_with_the_one_nginx_conf():
    kustomization = yaml.safe_load((DEPLOY / "kustomization.yaml").read_text())
    listed = {Path(r).name for r in kustomization["resources"]}
    assert listed == {p.name for p in (DEPLOY / "k8s").glob("*.yaml")} - {"secret.example.yaml"}
    assert kustomization["configMapGenerator"][0]["files"] == ["nginx/nginx.conf"]
    if not shutil.which("kubectl"):
        pytest.skip("kubectl (its kustomize) is not installed: the files were checked one by one")
    out = subprocess.run(["kubectl", "kustomize", str(DEPLOY)], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    rendered = list(yaml.safe_load_all(out.stdout))
    assert validate(rendered) == []
    conf = next(d for d in rendered if d["kind"] == "ConfigMap" and d["metadata"]["name"].startswith("nginx"))
    assert conf["data"]["nginx.conf"] == (DEPLOY / "nginx" / "nginx.conf").read_text()


def test_docker_compose_config_accepts_the_file_where_docker_compose_is_installed(tmp_path):
    docker = shutil.which("docker")
    if not docker or subprocess.run([docker, "compose", "version"], capture_output=True).returncode != 0:
        pytest.skip("docker compose is not installed here (the file was checked above)")
    env = tmp_path / ".env"
    env.write_text("".join(f"{k}={v}\n" for k, v in FILLED.items()))
    out = subprocess.run([docker, "compose", "-f", str(DEPLOY / "docker-compose.yml"), "--env-file", str(env),
                          "config", "-q"], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
