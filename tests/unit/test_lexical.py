import numpy as np
import pytest

from bot import cli
from bot.kb.corpus import load_corpus
from bot.kb.encoder import FakeEncoder
from bot.kb.evidence.lexical import Lexical, cross_fitted_scores
from bot.kb.index import IndexVersion, current_path
from bot.kb.ops import build
from bot.kb.serving import KnowledgeBase
from tests.helpers import SMALL_CORPUS, write

TEXTS = ["how long does a refund take", "when do I get my money back",
         "how much is shipping", "delivery charges",
         "reset my password", "I forgot my password"]
OWNERS = np.array([0, 0, 1, 1, 2, 2])


def test_scores_put_the_best_matching_entry_at_one_and_no_match_at_zero():
    lexical = Lexical(TEXTS, OWNERS, 3)
    scores = lexical.scores("How long for a REFUND?")
    assert scores.shape == (3,) and scores.dtype == np.float32
    assert scores.argmax() == 0 and scores[0] == pytest.approx(1.0)
    assert (scores >= 0).all() and (scores <= 1).all()
    assert not lexical.scores("zebra xylophone").any()
    assert not lexical.scores("🙂").any()


def test_words_of_any_script_count_and_a_corpus_without_words_scores_nothing():
    lexical = Lexical(["где мой заказ", "возврат денег"], np.array([0, 1]), 2)
    assert lexical.scores("Где заказ?").argmax() == 0
    assert not Lexical(["🙂", "?!"], np.array([0, 1]), 2).scores("🙂").any()


def test_cross_fitted_scores_never_see_the_scored_phrasing():
    # "zanzibar" is only in the first phrasing: fitted with it, that phrasing finds its entry by
    # the word; cross-fitted, it cannot, which is what calibration's leave-one-out must see
    texts = ["zanzibar", *TEXTS[1:]]
    assert Lexical(texts, OWNERS, 3).scores("zanzibar")[0] == pytest.approx(1.0)
    crossed = cross_fitted_scores(texts, OWNERS, 3, np.array([0, 5]))
    assert crossed.shape == (2, 3)
    assert not crossed[0].any()
    assert crossed[1].argmax() == 2  # "I forgot my password" still finds "reset my password"


def test_a_version_built_with_lexical_weight_scores_words_and_needs_the_query_text(tmp_path):
    corpus = load_corpus(write(tmp_path / "faq.yml", SMALL_CORPUS))
    index_dir = tmp_path / "kb_index"
    encoder = FakeEncoder()
    build(corpus, index_dir, encoder, lexical_weight=0.4)  # calibrated with cross-fitted BM25
    version = IndexVersion(current_path(index_dir))
    assert version.manifest["lexical_weight"] == 0.4 and version.state("lexical") is not None
    assert version.thresholds.source.startswith("calibrated on the corpus")
    vectors = encoder.encode(["forgot password"])
    with pytest.raises(ValueError, match="pass the query texts"):
        version.search(vectors, 5)
    hits = version.search(vectors, 5, ["forgot password"])[0]
    assert hits[0].entry_id == "password-reset"
    plain = IndexVersion(current_path(index_dir))
    plain.signals.pop("lexical")  # the same version without word evidence scores lower on a word match
    assert hits[0].score > plain.search(vectors, 5)[0][0].score
    answer = KnowledgeBase(index_dir, encoder=encoder)
    answer.reload()
    assert answer.ask("I forgot my password").decision.top.entry_id == "password-reset"


def test_kb_build_takes_a_lexical_weight_and_rejects_a_bad_one(tmp_path, capsys):
    corpus = write(tmp_path / "faq.yml", SMALL_CORPUS)
    index_dir = tmp_path / "kb_index"
    assert cli.main(["kb", "build", "--corpus", str(corpus), "--index", str(index_dir),
                     "--lexical-weight", "11"]) != 0
    assert "lexical weight must be between 0 and 10" in capsys.readouterr().err


def test_scores_equal_rank_bm25s_own_scoring():
    from rank_bm25 import BM25Okapi

    rng = np.random.default_rng(7)
    vocab = [f"w{i}" for i in range(60)]
    texts = [" ".join(rng.choice(vocab, size=rng.integers(1, 9))) for _ in range(90)]
    owners = rng.integers(0, 30, size=90)
    owners[:30] = np.arange(30)  # every entry has a phrasing
    docs = [[w for t, o in zip(texts, owners) if o == e for w in t.split()] for e in range(30)]
    reference = BM25Okapi(docs)
    lexical = Lexical(texts, owners, 30)
    for query in ["w1 w2 w3", "w5 w5 w59 unknown", "w0"]:
        expected = reference.get_scores(query.split())
        np.testing.assert_allclose(lexical.scores(query), expected / expected.max(), rtol=1e-5)
