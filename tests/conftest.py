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


@pytest.fixture(scope="session")
def index_seed(tmp_path_factory, real_encoder) -> Path:
    """An index folder's reusable parts, made once per run: the ONNX export of the packaged model
    (``models/``) and the embedding cache of the demo FAQ's phrasings (``cache/``), from a build of
    data/faq/ without calibration. A test's fresh index folder gets them through
    ``tests.helpers.seed_index`` instead of exporting and encoding again (~35 s a folder at load 7);
    each build there still checks the export and calibrates as ``kb build`` does."""
    from bot.kb.corpus import load_corpus
    from bot.kb.ops import build

    seed = tmp_path_factory.mktemp("index-seed")
    build(load_corpus(ROOT / "data" / "faq"), seed, real_encoder, calibrate=False)
    return seed
