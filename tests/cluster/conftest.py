import os

import pytest

from tests.pg import Postgres, PostgresUnavailable, fresh_database
from tests.redis_server import RedisServer, RedisUnavailable


def _serve(server, unavailable):
    """The server's URL for the module's tests; skipped (failed under CI) when it cannot start."""
    try:
        with server as url:
            yield url
    except unavailable as exc:
        if os.environ.get("CI"):
            raise
        pytest.skip(str(exc))


@pytest.fixture(scope="module")
def redis_url():
    yield from _serve(RedisServer(), RedisUnavailable)


@pytest.fixture(scope="module")
def postgres_url():
    yield from _serve(Postgres(), PostgresUnavailable)


@pytest.fixture
def database(postgres_url):
    """A fresh database on the module's PostgreSQL server."""
    with fresh_database(postgres_url) as url:
        yield url


def two_nodes(settings, encoder, seed, folder, base: int, agents: tuple[str, ...]):
    """``make cluster``'s topology (bot/apps/cluster.py) for a test module: the demo FAQ built (its
    index folder seeded from ``seed``, tests/conftest.py index_seed) and the model trained, 2 nodes
    with nginx on ``base``, Rasa on base+1.., action servers on base+11.. behind nginx's action port
    base+9, and the editor on base+15, and ``agents`` able to log in. Yields the started Cluster
    (``.url`` set)."""
    import dataclasses

    from bot.apps.cluster import Cluster
    from bot.apps.training import train_if_needed
    from bot.handoff.store import HandoffStore
    from bot.kb.corpus import load_corpus
    from bot.kb.ops import build
    from bot.staff.accounts import StaffStore
    from bot.staff.passwords import hash_password
    from tests.e2e.test_handoff import PASSWORD
    from tests.helpers import seed_index

    settings = dataclasses.replace(settings, editor_port=base + 15)
    build(load_corpus(settings.corpus_path), seed_index(seed, settings.index_path), encoder)
    train_if_needed(settings)
    c = Cluster(settings, 2, lb_port=base, rasa_port=base + 1, action_port=base + 11,
                action_lb_port=base + 9, folder=folder)
    with c as url:
        c.url = url
        staff = StaffStore(HandoffStore.from_url(c.postgres_url).engine)
        for name in agents:
            staff.add_agent(name, hash_password(PASSWORD))
        yield c


@pytest.fixture(scope="session")
def webhooks():
    """The receiver of the shared cluster's hand-off webhooks (SUPPORTBOT_E2E_PORT+76)."""
    from tests.cluster.webhook_receiver import WebhookReceiver
    from tests.e2e.conftest import E2E_PORT

    with WebhookReceiver(E2E_PORT + 76) as receiver:
        yield receiver


@pytest.fixture(scope="session")
def shared_cluster(e2e_settings, real_encoder, index_seed, tmp_path_factory, webhooks):
    """One cluster for every module that needs ``make cluster``'s topology: test_action_balancer,
    test_node_faults, test_two_nodes, and the PostgreSQL and Redis restart tests (which stop those
    servers and start them again in place). Each restores what it breaks before it ends (a killed
    server is started again, a stopped one too), so none needs a fresh cluster; one start instead of
    two saves ~2 minutes. nginx on SUPPORTBOT_E2E_PORT+20 (actions +29), Rasa +21.., action servers
    +31.., the editor +35; agents ana and bo; hand-off webhooks go to ``webhooks``."""
    import dataclasses

    from tests.e2e.conftest import E2E_PORT

    settings = dataclasses.replace(e2e_settings, handoff_webhooks=webhooks.url)
    yield from two_nodes(settings, real_encoder, index_seed, tmp_path_factory.mktemp("cluster"), E2E_PORT + 20,
                         ("ana", "bo"))
