import json

import pytest

from bot.kb.build import build_index
from bot.kb.corpus import load_corpus
from bot.kb.encoder import FakeEncoder
from bot.kb.index import IndexVersion, KbIndexError, current_name, current_path
from tests.helpers import SMALL_CORPUS, write


@pytest.fixture
def corpus(tmp_path):
    return load_corpus(write(tmp_path / "faq" / "f.yml", SMALL_CORPUS))


def test_build_writes_a_complete_version_and_switches_to_it(tmp_path, corpus):
    index_dir = tmp_path / "idx"
    result = build_index(corpus, index_dir, FakeEncoder())
    assert current_name(index_dir) == result.name
    path = current_path(index_dir)
    for f in ("index.faiss", "phrasings.json", "entries.json", "manifest.json", "answers.npy"):
        assert (path / f).is_file(), f
    manifest = json.loads((path / "manifest.json").read_text())
    assert manifest["entries"] == 3 and manifest["phrasings"] == 8
    assert manifest["corpus_hash"] == corpus.content_hash()
    assert manifest["model"] == FakeEncoder.name and "built_at" in manifest


def test_search_ranks_the_matching_entry_first_and_aggregates_per_entry(tmp_path, corpus):
    build_index(corpus, tmp_path / "idx", FakeEncoder())
    version = IndexVersion(current_path(tmp_path / "idx"))
    enc = FakeEncoder()
    [hits] = version.search(enc.encode(["forgot my password"]), k=8, queries=["forgot my password"])
    assert hits[0].entry_id == "password-reset"
    assert len({h.entry_id for h in hits}) == len(hits)  # one hit per entry
    assert hits == sorted(hits, key=lambda h: -h.score)


def test_unchanged_corpus_is_not_rebuilt_and_unchanged_phrasings_not_reencoded(tmp_path, corpus):
    index_dir = tmp_path / "idx"
    first = build_index(corpus, index_dir, FakeEncoder())
    again = build_index(corpus, index_dir, FakeEncoder())
    assert again.up_to_date and again.name == first.name
    faq = tmp_path / "faq" / "f.yml"
    write(faq, SMALL_CORPUS.replace("      - shipping price\n",
                                    "      - shipping price\n      - postage fees\n"))
    result = build_index(load_corpus(faq), index_dir, FakeEncoder())
    assert result.name != first.name
    assert result.manifest["encoded"] == 1  # only the new phrasing


def test_failed_build_leaves_the_previous_version_serving(tmp_path, corpus):
    index_dir = tmp_path / "idx"
    first = build_index(corpus, index_dir, FakeEncoder())

    def boom(*args):
        raise RuntimeError("calibration failed")

    with pytest.raises(RuntimeError):
        build_index(corpus, index_dir, FakeEncoder(), force=True, calibrate=boom)
    assert current_name(index_dir) == first.name
    assert not [p for p in (index_dir / "versions").iterdir() if p.name.startswith(".")]
    IndexVersion(current_path(index_dir))  # still loads


def test_corpus_with_errors_is_refused(tmp_path):
    write(tmp_path / "f.yml", "faqs:\n  - id: a\n    question: Q\n")
    bad = load_corpus(tmp_path, strict=False)
    with pytest.raises(KbIndexError, match="errors"):
        build_index(bad, tmp_path / "idx", FakeEncoder())


def test_missing_or_corrupt_index_gives_a_clear_error(tmp_path, corpus):
    with pytest.raises(KbIndexError, match="supportbot kb build"):
        current_path(tmp_path / "empty")
    build_index(corpus, tmp_path / "idx", FakeEncoder())
    path = current_path(tmp_path / "idx")
    (path / "index.faiss").write_bytes(b"not an index")
    with pytest.raises(KbIndexError, match="corrupt"):
        IndexVersion(path)


def test_old_versions_are_pruned_but_the_serving_one_kept(tmp_path, corpus):
    index_dir = tmp_path / "idx"
    for _ in range(7):
        build_index(corpus, index_dir, FakeEncoder(), force=True)
    versions = [p for p in (index_dir / "versions").iterdir() if not p.name.startswith(".")]
    assert len(versions) == 5
    assert current_path(index_dir).exists()


def test_entry_score_blends_best_phrasing_answer_and_head(tmp_path, corpus):
    """Answer evidence is computed only for the entries found; the scores must be exactly
    (best phrasing cosine + wa * answer cosine + wh * head probability) / (1 + wa + wh)."""
    build_index(corpus, tmp_path / "idx", FakeEncoder(), answer_weight=0.5, head_weight=0.25,
                lexical_weight=0)
    version = IndexVersion(current_path(tmp_path / "idx"))
    assert version.weights["answer"] == 0.5 and version.weights["head"] == 0.25
    enc = FakeEncoder()
    query = enc.encode(["refunds take days or I forgot password on the page"])  # words of two answers
    [hits] = version.search(query, k=8)
    phrasings = enc.encode(version.texts)
    probabilities = version.state("head").probabilities(query)[0]
    assert probabilities.sum() == pytest.approx(1.0, abs=1e-5)
    for hit in hits:
        entry = next(n for n, e in enumerate(version.entries) if e.id == hit.entry_id)
        best = max(float(phrasings[p] @ query[0])
                   for p in range(len(version.texts)) if version.owners[p] == entry)
        answer = float(version.state("answer")[entry] @ query[0])
        head = float(probabilities[entry])
        assert hit.score == pytest.approx((best + 0.5 * answer + 0.25 * head) / 1.75, abs=1e-5)
    assert sum(float(version.state("answer")[e] @ query[0]) > 0.1 for e in range(len(version.entries))) >= 2
