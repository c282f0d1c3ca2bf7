import numpy as np
import pytest

import bot.kb.evidence.head as head_module
from bot import cli
from bot.kb.build import build_index
from bot.kb.calibrate import leave_one_out
from bot.kb.corpus import load_corpus
from bot.kb.encoder import FakeEncoder
from bot.kb.evidence.head import Head, cross_fitted_probabilities, fit_head
from bot.kb.index import IndexVersion, KbIndexError, current_name, current_path
from tests.helpers import SMALL_CORPUS, write


def clusters(entries: int, per_entry: int, dim: int = 32, noise: float = 0.3, seed: int = 0):
    """Unit vectors around one random centre per entry."""
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(entries, dim))
    owners = np.repeat(np.arange(entries), per_entry)
    vectors = centres[owners] + noise * rng.normal(size=(len(owners), dim))
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    return vectors.astype(np.float32), owners


@pytest.mark.parametrize("entries", [2, 5])
def test_head_learns_the_entries_and_survives_a_save(tmp_path, entries):
    vectors, owners = clusters(entries, 6)
    head = fit_head(vectors, owners, entries)
    probabilities = head.probabilities(vectors)
    assert probabilities.shape == (len(owners), entries)
    assert np.allclose(probabilities.sum(axis=1), 1.0, atol=1e-5)
    assert (probabilities.argmax(axis=1) == owners).all()
    head.save(tmp_path / "head.npz")
    assert np.allclose(Head.load(tmp_path / "head.npz").probabilities(vectors), probabilities, atol=1e-6)


def test_cross_fitted_probabilities_come_from_a_head_that_never_saw_the_phrasing():
    # pure noise: nothing generalises, so a head that saw a phrasing is sure of it and one that
    # did not is not; calibration must get the second kind or its thresholds come out too low
    rng = np.random.default_rng(1)
    vectors = rng.normal(size=(40, 64)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    owners = np.repeat(np.arange(10), 4)
    seen = fit_head(vectors, owners, 10).probabilities(vectors)[np.arange(40), owners]
    unseen = cross_fitted_probabilities(vectors, owners, 10)[np.arange(40), owners]
    assert seen.mean() > 0.5 and unseen.mean() < 0.25, (seen.mean(), unseen.mean())


def test_an_entry_missing_from_a_fold_never_wins():
    vectors, owners = clusters(3, 4)
    keep = owners != 2
    head = fit_head(vectors[keep], owners[keep], 3)
    assert (head.probabilities(vectors)[:, 2] < 1e-6).all()


def test_build_fits_the_head_and_skips_it_beyond_the_size_limit(tmp_path, monkeypatch):
    corpus = load_corpus(write(tmp_path / "faq.yml", SMALL_CORPUS))
    index = tmp_path / "idx"
    result = build_index(corpus, index, FakeEncoder(), head_weight=0.5)
    version = IndexVersion(result.path)
    assert version.weights["head"] == 0.5 and (result.path / "head.npz").is_file()
    assert version.state("head").weights.shape == (len(corpus.entries), FakeEncoder().dim)
    # a new head weight is a new version; an unchanged one is not
    assert build_index(corpus, index, FakeEncoder(), head_weight=0.5).up_to_date
    off = build_index(corpus, index, FakeEncoder(), head_weight=0.0)
    assert not off.up_to_date and IndexVersion(off.path).state("head") is None
    monkeypatch.setattr(head_module, "usable", lambda n: n <= 2)
    big = build_index(corpus, index, FakeEncoder(), head_weight=0.5, force=True)
    assert big.manifest["head_weight"] == 0.0 and not (big.path / "head.npz").exists()


def test_an_answer_edit_reuses_the_serving_head_and_a_phrasing_edit_refits_it(tmp_path, monkeypatch):
    fits = []
    real_fit = head_module.fit_head
    monkeypatch.setattr(head_module, "fit_head", lambda *a: fits.append(1) or real_fit(*a))
    path = write(tmp_path / "faq.yml", SMALL_CORPUS)
    index = tmp_path / "idx"
    first = build_index(load_corpus(path), index, FakeEncoder(), head_weight=0.5)
    assert len(fits) == 1
    path.write_text(path.read_text().replace("Refunds take **3 days**.", "Refunds take 5 days."))
    edited = build_index(load_corpus(path), index, FakeEncoder(), head_weight=0.5)
    assert len(fits) == 1 and edited.name != first.name  # same phrasings: the head is copied
    assert (edited.path / "head.npz").read_bytes() == (first.path / "head.npz").read_bytes()
    IndexVersion(edited.path)  # the copy is in the new version's checksums
    path.write_text(path.read_text().replace("- shipping price", "- shipping price\n      - postage"))
    added = build_index(load_corpus(path), index, FakeEncoder(), head_weight=0.5)
    assert len(fits) == 2  # a new phrasing: a new fit
    assert IndexVersion(added.path).state("head").weights.shape[0] == 3


def test_bad_weights_are_refused_and_the_cli_says_so(tmp_path, monkeypatch, capsys):
    corpus = load_corpus(write(tmp_path / "faq.yml", SMALL_CORPUS))
    with pytest.raises(KbIndexError, match="head weight must be between 0 and 10"):
        build_index(corpus, tmp_path / "idx", FakeEncoder(), head_weight=-1)
    monkeypatch.setattr("bot.cli.kb.encoder", lambda settings: FakeEncoder())
    args = ["--corpus", str(tmp_path / "faq.yml"), "--index", str(tmp_path / "idx")]
    assert cli.main(["kb", "build", *args]) == 0
    serving = current_name(tmp_path / "idx")
    assert cli.main(["kb", "build", *args, "--head-weight", "-0.5"]) == 1
    err = capsys.readouterr().err
    assert "head weight" in err and "serving index is unchanged" in err
    assert current_name(tmp_path / "idx") == serving


def test_leave_one_out_uses_cross_fitted_head_probabilities(tmp_path, monkeypatch):
    vectors, owners = clusters(4, 4)
    calls = []
    real = head_module.cross_fitted_probabilities

    def spy(v, o, n, folds=head_module.FOLDS):
        calls.append(n)
        return real(v, o, n, folds)

    monkeypatch.setattr("bot.kb.evidence.head.cross_fitted_probabilities", spy)
    with_head = leave_one_out(vectors, owners, head_weight=0.5)
    without = leave_one_out(vectors, owners)
    assert calls == [4]
    assert (with_head.top_ids[:, 0] == owners).all()
    assert not np.allclose(with_head.top_scores, without.top_scores)


def test_an_unreadable_head_is_a_clear_error(tmp_path):
    corpus = load_corpus(write(tmp_path / "faq.yml", SMALL_CORPUS))
    build_index(corpus, tmp_path / "idx", FakeEncoder(), head_weight=0.5)
    version = IndexVersion(current_path(tmp_path / "idx"))
    (version.path / "head.npz").write_bytes(b"not a numpy file")
    with pytest.raises(KbIndexError, match="head.npz"):
        IndexVersion(version.path)
