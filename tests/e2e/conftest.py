import shutil
from pathlib import Path

import pytest

from bot.kb.corpus import load_corpus
from bot.kb.ops import build
from bot.runner import Servers, train_if_needed
from bot.settings import Settings


@pytest.fixture(scope="session")
def e2e_settings(tmp_path_factory, root) -> Settings:
    work = tmp_path_factory.mktemp("e2e")
    shutil.copytree(root / "data" / "faq", work / "faq")
    return Settings(root=root, corpus=work / "faq", index_dir=work / "kb_index",
                    tracker_db=str(work / "tracker.db"), handoff_db=str(work / "handoff.db"),
                    rasa_port=15005, action_port=15055,
                    # a receiver that is down for the whole run: chat and console must not care
                    handoff_webhooks="http://127.0.0.1:9/unreachable", handoff_webhook_secret="e2e-secret",
                    reload_interval=0.5)


@pytest.fixture(scope="session")
def servers(e2e_settings, real_encoder):
    build(load_corpus(e2e_settings.corpus_path), e2e_settings.index_path, real_encoder)
    train_if_needed(e2e_settings)
    s = Servers(e2e_settings, log_dir=Path(e2e_settings.index_path).parent / "logs")
    try:
        s.start()
        yield s
    finally:
        s.stop()
