import os
import shutil
from pathlib import Path

import pytest

from bot.apps.supervisor import Servers
from bot.apps.training import train_if_needed
from bot.kb.corpus import load_corpus
from bot.kb.ops import build
from bot.settings import Settings
from tests.helpers import seed_index

# Several checkouts can run their end-to-end tests at once on one machine: each picks its own ports.
# From SUPPORTBOT_E2E_PORT (P): Rasa P, action server P+50, editor P+54; the fault test's own bot
# P+2, P+52, P+56; a lone action server P+51; the test SMTP server (tickets' email replies) P+58.
# No two may meet.
JWT_KEY = "the shop's key for signing its customers' tokens"  # noqa: S105 - a test key
E2E_PORT = int(os.environ.get("SUPPORTBOT_E2E_PORT", "15005"))
SMTP_PORT = E2E_PORT + 58  # tests start their own aiosmtpd there (tests/smtp_server.py)
SMTP_FROM = "Brightcart support <support@brightcart.test>"


@pytest.fixture(scope="session")
def e2e_settings(tmp_path_factory, root) -> Settings:
    work = tmp_path_factory.mktemp("e2e")
    shutil.copytree(root / "data" / "faq", work / "faq")
    return Settings(root=root, corpus=work / "faq", index_dir=work / "kb_index",
                    out_of_scope=work / "out_of_scope.yml",
                    tracker_db=str(work / "tracker.db"), handoff_db=str(work / "handoff.db"),
                    rasa_port=E2E_PORT, action_port=E2E_PORT + 50, editor_port=E2E_PORT + 54,
                    # a receiver that is down for the whole run: chat and console must not care
                    handoff_webhooks="http://127.0.0.1:9/unreachable", handoff_webhook_secret="e2e-secret",
                    reload_interval=0.5, tune_on_run=False,  # no minute-long re-tuning between tests
                    # the shop embedding the widget; this machine plays the HTTPS proxy
                    allowed_origins="http://shop.test", trusted_proxies="127.0.0.1",
                    jwt_key=JWT_KEY,
                    # agents' email replies to tickets go to a local SMTP server the tests start
                    smtp_host="127.0.0.1", smtp_port=SMTP_PORT, smtp_tls="none", smtp_from=SMTP_FROM)


@pytest.fixture(scope="session")
def servers(e2e_settings, real_encoder, index_seed):
    build(load_corpus(e2e_settings.corpus_path), seed_index(index_seed, e2e_settings.index_path), real_encoder)
    train_if_needed(e2e_settings)
    s = Servers(e2e_settings, log_dir=Path(e2e_settings.index_path).parent / "logs")
    try:
        s.start()
        yield s
    finally:
        s.stop()


CHROMIUM = Path("/usr/bin/chromium")
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"


@pytest.fixture(scope="module")
def browser():
    """Debian's Chromium through Playwright (Playwright's own browser download does not work here).

    Module scope, not session: Playwright's sync API keeps an asyncio loop running in the main thread
    until it stops, so any later test calling asyncio.run() would fail while the browser lives on."""
    if not CHROMIUM.exists():
        if os.environ.get("CI"):
            pytest.fail("Chromium missing: apt-get install -y chromium (scripts/system-deps.sh does)")
        pytest.skip("Chromium missing: apt-get install -y chromium")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=str(CHROMIUM),
                              args=["--no-sandbox", "--disable-gpu", "--disable-background-networking"])
        yield b
        b.close()


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    setattr(item, "rep_" + outcome.get_result().when, outcome.get_result())


@pytest.fixture
def screenshots(request):
    """Pages registered here are saved to test-artifacts/ when the test fails."""
    pages = []
    yield pages
    report = getattr(request.node, "rep_call", None)
    if report is not None and report.failed:
        ARTIFACTS.mkdir(exist_ok=True)
        for n, page in enumerate(pages):
            try:
                page.screenshot(path=str(ARTIFACTS / f"{request.node.name}-{n}.png"), full_page=True)
            except Exception:  # the page may already be closed
                pass
