"""deploy/nginx/nginx.conf routes like the configuration `make cluster` generates
(bot/cluster/local.py), and Debian's nginx accepts it (`nginx -t`, in a temporary prefix)."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from bot.cluster.local import Nginx
from tests.deploy_files import DEPLOY, on_loopback, routes, upstream_hosts

CONF = DEPLOY / "nginx" / "nginx.conf"
STICKY = {"/socket.io/", "/console/socket.io/"}  # customers' sockets and the console's staff socket


def test_the_generated_and_the_deployed_configs_route_socket_io_sticky_and_the_rest_round_robin(tmp_path):
    generated = routes(Nginx(5005, [5105, 5106], tmp_path).config())
    deployed = routes(CONF.read_text())
    for conf in (generated, deployed):
        assert {path for path, (_, sticky, _) in conf.items() if sticky} == STICKY
        assert conf["/"][1] is False and conf["/"][2] == 2  # round robin over both nodes
        assert all(conf[p][2] == 2 for p in STICKY)
    assert {p: r for p, r in deployed.items() if p != "/editor/"} == generated
    assert deployed["/editor/"] == ("editor", False, 1)


def test_both_configs_put_the_action_servers_behind_their_own_port_and_skip_a_dead_one(tmp_path):
    generated = Nginx(5005, [5105, 5106], tmp_path, actions=(5055, [5155, 5156])).config()
    deployed = CONF.read_text()
    for conf in (generated, deployed):
        assert routes(conf, server=1) == {"/": ("actions", False, 2)}  # round robin over both
        actions = re.split(r"\n\s*server \{", conf)[2]
        assert "proxy_next_upstream error timeout" in actions and "non_idempotent" not in actions
        assert re.search(r"proxy_connect_timeout [1-3]s;", actions)
        # one conversation's prefetch and action calls to one server (bot/rasa/routing.py), others spread
        assert re.search(r"upstream actions \{\s*hash \$action_key consistent;", conf)
        assert re.search(r'map \$http_x_conversation_key \$action_key \{ "" \$request_id;', conf)
    assert "listen 5055;" in deployed and "listen 127.0.0.1:5055;" in generated


def nginx_binary() -> str:
    binary = shutil.which("nginx") or "/usr/sbin/nginx"
    if not Path(binary).exists():
        if os.environ.get("CI"):
            pytest.fail("nginx is not installed: scripts/system-deps.sh installs it")
        pytest.skip("nginx is not installed (scripts/system-deps.sh installs it)")
    return binary


def nginx_test(conf: str, folder: Path) -> subprocess.CompletedProcess:
    """``nginx -t`` on ``conf`` with its upstream hosts on loopback and its files under ``folder``."""
    (folder / "nginx.conf").write_text(on_loopback(conf, {h: 5005 for h in upstream_hosts(conf)}))
    return subprocess.run([nginx_binary(), "-t", "-p", str(folder), "-c", str(folder / "nginx.conf"),
                           "-e", str(folder / "error.log"), "-g", f"pid {folder / 'nginx.pid'};"],
                          capture_output=True, text=True, timeout=30)


def test_nginx_accepts_the_deployed_config_and_refuses_a_broken_one(tmp_path):
    ok = nginx_test(CONF.read_text(), tmp_path)
    assert ok.returncode == 0 and "test is successful" in ok.stderr, ok.stderr
    broken = nginx_test(CONF.read_text().replace("ip_hash;", "ip_hash on;"), tmp_path)
    assert broken.returncode != 0 and "ip_hash" in broken.stderr
