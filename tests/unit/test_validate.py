"""The checks that need the encoder (bot/kb/validate.py), with the fake encoder."""

import numpy as np
import pytest

from bot import cli
from bot.kb.corpus import load_corpus
from bot.kb.encoder import FakeEncoder
from bot.kb.index import phrasing_table
from bot.kb.validate import (
    MISPLACED_MARGIN,
    Neighbours,
    embedding_issues,
    misplaced,
    near_duplicates,
    placement,
)
from tests.helpers import write

pytestmark = pytest.mark.filterwarnings("error::RuntimeWarning")  # no NaN from -inf - -inf

CLEAN = """\
faqs:
  - id: refund-time
    question: How long does a refund take?
    alternates:
      - refund takes how long
      - how many days for a refund
    answer: Refunds take **3 days**.
  - id: shipping-cost
    question: How much does shipping cost?
    alternates:
      - shipping cost to Canada
      - what does delivery and shipping cost
    answer: Shipping is free over $50.
  - id: password-reset
    question: How do I reset my password?
    alternates:
      - reset password link
      - I forgot my password
    answer: Use Forgot password on the sign-in page.
"""
# "how long does the refund take" shares 5 of its 6 words with refund-time's question (cosine 0.83,
# under the near-duplicate level) and only "how" with password-reset's phrasings.
PLANTED = CLEAN.replace("      - I forgot my password\n",
                        "      - I forgot my password\n      - how long does the refund take\n")


def corpus_of(tmp_path, text, name="faq.yml"):
    return load_corpus(write(tmp_path / "faq" / name, text))


def misplaced_issues(corpus, **kw):
    texts, owners = phrasing_table(corpus.entries)
    vectors = FakeEncoder().encode(texts)
    return misplaced(corpus, vectors, owners, texts, **kw)


def test_a_planted_misplaced_alternate_is_found_with_what_to_do(tmp_path):
    corpus = corpus_of(tmp_path, PLANTED)
    issues = [i for i in embedding_issues(corpus, FakeEncoder()) if "closer to entry" in i.message]
    assert len(issues) == 1
    issue = issues[0]
    reset = corpus.by_id()["password-reset"]
    refund = corpus.by_id()["refund-time"]
    assert (issue.level, issue.file, issue.line, issue.entry_id) == ("warning", reset.file, reset.line,
                                                                   "password-reset")
    assert "alternate 'how long does the refund take'" in issue.message
    assert f"entry 'refund-time' ({refund.file}:{refund.line})" in issue.message
    assert "'How long does a refund take?' 0.83" in issue.message  # the other entry's phrasing, cosine
    assert "move it to entry 'refund-time' or reword it" in issue.message
    there, here = (float(x) for x in issue.message.split("score ")[1].split(" there")[0:1]
                   + issue.message.split(" vs ")[1].split(" here")[0:1])
    assert there - here > MISPLACED_MARGIN


def test_phrasings_only_without_answers_gives_the_cosines(tmp_path):
    corpus = corpus_of(tmp_path, PLANTED)
    [issue] = misplaced_issues(corpus, answers=None)
    assert "score 0.83 there ('How long does a refund take?' 0.83) vs" in issue.message
    assert "answer" not in issue.message.split("closer")[1]


def test_a_clean_corpus_gives_no_misplaced_warning(tmp_path):
    corpus = corpus_of(tmp_path, CLEAN)
    assert misplaced_issues(corpus) == []
    assert embedding_issues(corpus, FakeEncoder()) == []


def test_a_larger_margin_keeps_quiet_and_a_bad_margin_is_refused(tmp_path):
    corpus = corpus_of(tmp_path, PLANTED)
    assert misplaced_issues(corpus, margin=0.7) == []
    with pytest.raises(ValueError, match="misplaced margin must be a score difference in"):
        misplaced_issues(corpus, margin=1.5)
    with pytest.raises(ValueError, match="answer weight must be between"):
        embedding_issues(corpus, FakeEncoder(), answer_weight=-1)


SINGLES = """\
faqs:
  - id: opening-hours
    question: What are your opening hours today
    answer: Nine to five.
  - id: store-hours
    question: What are your store hours
    answer: Nine to six.
  - id: gift-wrap
    question: Do you offer gift wrapping?
    alternates:
      - What are your opening hours on Sunday
    answer: Yes, for $3.
"""


def test_single_phrasing_entries_are_skipped_but_can_be_the_closer_entry(tmp_path):
    corpus = corpus_of(tmp_path, SINGLES)
    issues = misplaced_issues(corpus, answers=None)
    # opening-hours and store-hours have nothing of their own to compare with: no warning for them,
    # though each is closer to the other; gift-wrap's alternate belongs with opening-hours.
    assert [i.entry_id for i in issues] == ["gift-wrap"]
    assert "move it to entry 'opening-hours'" in issues[0].message


def test_tiny_corpora_give_no_misplaced_warning(tmp_path):
    one = corpus_of(tmp_path, "faqs:\n  - id: a\n    question: Q one\n    answer: A\n", "one.yml")
    assert embedding_issues(one, FakeEncoder()) == []
    two = corpus_of(tmp_path, "faqs:\n  - id: a\n    question: Q one\n    answer: A\n"
                              "  - id: b\n    question: zz top\n    answer: B\n", "two.yml")
    assert misplaced_issues(two) == []


MUTUAL = """\
faqs:
  - id: account-create
    question: How do I sign up?
    alternates:
      - sign up for an account
      - Make a new Brightcart shop account
    answer: Click Sign up.
  - id: account-delete
    question: Delete it please
    alternates:
      - close it for good
      - Close my Brightcart shop account
    answer: Write to privacy@example.com.
"""


def test_two_phrasings_closest_to_each_other_get_one_warning_to_reword_not_to_move(tmp_path):
    corpus = corpus_of(tmp_path, MUTUAL)
    [issue] = misplaced_issues(corpus, answers=None)
    assert issue.entry_id == "account-create"
    assert ("alternate 'Make a new Brightcart shop account' and alternate 'Close my Brightcart shop "
            "account' of entry 'account-delete'") in issue.message
    assert "reword one or both" in issue.message and "move it" not in issue.message


def test_a_stray_alternate_is_told_to_move_though_it_pulls_a_phrasing_of_its_home_entry(tmp_path):
    # "how many days does a refund take" is nearest to refund-time's "how many days for a refund",
    # which in turn is nearest to it (0.77) rather than to its own entry (0.50): the stray one is
    # the one that fits its own entry worst, the other is only its shadow.
    text = CLEAN.replace("      - I forgot my password\n",
                         "      - I forgot my password\n      - how many days does a refund take\n")
    [issue] = misplaced_issues(corpus_of(tmp_path, text), answers=None)
    assert issue.entry_id == "password-reset"
    assert "alternate 'how many days does a refund take' is closer to entry 'refund-time'" in issue.message
    assert "move it to entry 'refund-time'" in issue.message


DUPLICATE = PLANTED.replace("how long does the refund take", "How long does a refund take")


def test_near_duplicates_are_left_to_the_near_duplicate_warning(tmp_path):
    corpus = corpus_of(tmp_path, DUPLICATE)
    issues = embedding_issues(corpus, FakeEncoder())
    assert [i.message.split(" of entry")[0] for i in issues] == ["near-duplicate"]


def clustered(rng, n_entries=40, per_entry=6, dim=24, spread=0.9):
    centres = rng.normal(size=(n_entries, dim))
    vectors = np.repeat(centres, per_entry, axis=0) + spread * rng.normal(size=(n_entries * per_entry, dim))
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    owners = np.repeat(np.arange(n_entries), per_entry)
    return vectors.astype(np.float32), owners


def test_placement_from_the_nearest_neighbours_equals_the_full_matrix():
    vectors, owners = clustered(np.random.default_rng(3))
    p = placement(vectors, owners, Neighbours.search(vectors))
    sims = vectors @ vectors.T
    np.fill_diagonal(sims, -np.inf)
    same = owners[:, None] == owners[None, :]
    own, other = np.where(same, sims, -np.inf).max(1), np.where(same, -np.inf, sims).max(1)
    np.testing.assert_allclose(p.own, own, atol=1e-5)
    # the other entry's best is exact whenever the phrasing could be misplaced (other > own)
    misplaceable = other > own
    assert misplaceable.sum() > 10
    np.testing.assert_allclose(p.other[misplaceable], other[misplaceable], atol=1e-5)
    assert (p.other[~misplaceable] <= own[~misplaceable] + 1e-6).all()


def test_one_search_serves_both_checks(tmp_path):
    corpus = corpus_of(tmp_path, DUPLICATE)
    texts, owners = phrasing_table(corpus.entries)
    vectors = FakeEncoder().encode(texts)
    shared = Neighbours.search(vectors)
    assert (near_duplicates(corpus, vectors, owners, texts, neighbours=shared)
            == near_duplicates(corpus, vectors, owners, texts))


class CountingEncoder(FakeEncoder):
    def __init__(self):
        super().__init__()
        self.encoded: list[str] = []

    def encode(self, texts, batch_size=64, progress=False):
        self.encoded.extend(texts)
        return super().encode(texts, batch_size, progress)


def test_a_repeated_call_encodes_only_new_phrasings(tmp_path):
    encoder, index = CountingEncoder(), tmp_path / "kb_index"
    corpus = corpus_of(tmp_path, CLEAN)
    assert embedding_issues(corpus, encoder, index_dir=index) == []
    first = len(encoder.encoded)
    assert first == sum(len(e.phrasings) for e in corpus.entries) + len(corpus.entries)  # and answers
    assert embedding_issues(corpus, encoder, index_dir=index) == []
    assert len(encoder.encoded) == first
    issues = embedding_issues(corpus_of(tmp_path, PLANTED), encoder, index_dir=index)
    assert encoder.encoded[first:] == ["how long does the refund take"]
    assert [i.entry_id for i in issues] == ["password-reset"]
    encoder.encoded.clear()
    embedding_issues(corpus, encoder, index_dir=index, answer_weight=0)  # answers not needed
    assert encoder.encoded == []


@pytest.fixture
def fake_cli(monkeypatch):
    monkeypatch.setattr("bot.cli.kb.encoder", lambda settings: FakeEncoder())


def test_cli_validate_warns_about_a_misplaced_alternate_and_still_exits_0(tmp_path, fake_cli, capsys):
    faq, index = write(tmp_path / "faq" / "f.yml", PLANTED), str(tmp_path / "i")
    assert cli.main(["kb", "validate", "--corpus", str(faq), "--index", index]) == 0
    out = capsys.readouterr()
    assert ("[password-reset]: alternate 'how long does the refund take' is closer to entry 'refund-time'"
            in out.err)
    assert "0 error(s), 1 warning(s)" in out.out
    assert cli.main(["kb", "validate", "--corpus", str(faq), "--index", index,
                     "--misplaced-margin", "0.7"]) == 0
    assert "0 error(s), 0 warning(s)" in capsys.readouterr().out
    assert cli.main(["kb", "validate", "--corpus", str(faq), "--no-embed"]) == 0
    assert "0 warning(s)" in capsys.readouterr().out


def test_cli_validate_refuses_a_bad_margin_before_loading_the_encoder(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr("bot.cli.kb.encoder", lambda settings: pytest.fail("encoder loaded"))
    faq = write(tmp_path / "faq" / "f.yml", CLEAN)
    assert cli.main(["kb", "validate", "--corpus", str(faq), "--misplaced-margin", "2"]) == 1
    assert "error: the misplaced margin must be a score difference in [0, 1), not 2" in capsys.readouterr().err
    assert cli.main(["kb", "validate", "--corpus", str(faq), "--near-duplicate", "0"]) == 1
    assert "error: the near-duplicate level must be a cosine in (0, 1]" in capsys.readouterr().err


def test_cli_default_margin_is_the_validators():
    args = cli.build_parser().parse_args(["kb", "validate"])
    assert args.misplaced_margin == MISPLACED_MARGIN
