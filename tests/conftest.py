import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")


def pytest_collection_modifyitems(items):
    """Every test is marked by its folder: unit, integration, e2e or cluster."""
    for item in items:
        for kind in ("unit", "integration", "e2e", "cluster"):
            if f"/tests/{kind}/" in str(item.fspath):
                item.add_marker(getattr(pytest.mark, kind))


@pytest.fixture(scope="session")
def root() -> Path:
    return ROOT


@pytest.fixture(scope="session")
def real_encoder():
    from bot.kb.encoder import load_encoder

    return load_encoder()


def servers_die_with_pytest(monkeypatch) -> None:
    """The Rasa servers, action servers, workers and editors that tests start get SIGTERM when this
    pytest dies, even by SIGKILL (bot/cluster/local.py); so do their PostgreSQL, Redis and nginx."""
    from bot.apps.supervisor import Servers
    from bot.cluster.local import popen_dying_with_parent

    monkeypatch.setattr(Servers, "popen", staticmethod(popen_dying_with_parent))


@pytest.fixture(scope="session", autouse=True)
def _servers_die_with_pytest():
    with pytest.MonkeyPatch.context() as mp:
        servers_die_with_pytest(mp)
        yield
