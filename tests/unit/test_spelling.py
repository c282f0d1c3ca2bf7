import pytest

from bot.kb.decision import ANSWER
from bot.kb.spelling import Speller
from tests.unit.test_service import CountingEncoder, kb, serve_with  # noqa: F401  (kb: fixture)

pytestmark = pytest.mark.unit

FAQ = ["How do I reset my password?", "Where is my order", "Shipping times to Canada", "Reset the KYC form"]


@pytest.fixture(scope="module")
def speller():
    return Speller(FAQ)


@pytest.mark.parametrize("message, mended", [
    ("I forgot my pasword", "I forgot my password"),      # one edit from an FAQ word
    ("whereis my order?", "where is my order?"),           # run-together common words
    ("shippingtimes to canada", "shipping times to canada"),
    ("howlong does shipping take", "how long does shipping take"),
])
def test_unknown_words_are_mended_before_encoding(speller, message, mended):
    assert speller.mend(message) == mended


@pytest.mark.parametrize("message", [
    "kyc form",             # the FAQ's own word, not English: never "corrected"
    "the from was wrong",   # an English word stays even one edit from an FAQ word ("form")
    "hi ok",                # short tokens untouched
    "REFUND?",              # casing and punctuation kept when nothing is unknown
])
def test_known_words_are_left_alone(speller, message):
    assert speller.mend(message) == message


def test_served_message_is_mended_and_encoded_once(kb):  # noqa: F811
    counting = serve_with(kb, CountingEncoder())
    answer = kb.ask("I forgot my pasword")
    assert counting.texts == ["I forgot my password"]
    assert answer.decision.kind == ANSWER and answer.decision.entry_id == "password-reset"


def test_a_loaded_version_has_its_speller_before_the_first_message(kb):  # noqa: F811
    from bot.kb import spelling

    spelling._SPELLERS.clear()
    kb._key = None  # as if the version had just been published
    assert kb.reload()
    assert str(kb.version.path) in spelling._SPELLERS


def test_a_prefetched_message_is_mended_once(kb, monkeypatch):  # noqa: F811
    """prefetch mends and encodes; the FAQ action's ask of the same message reuses that mend."""
    calls = []
    real = Speller.mend
    monkeypatch.setattr(Speller, "mend", lambda self, text: calls.append(text) or real(self, text))
    serve_with(kb, CountingEncoder())
    kb.prefetch("I forgot   my pasword")
    answer = kb.ask("I forgot my pasword")
    assert calls == ["I forgot my pasword"]
    assert answer.decision.kind == ANSWER and answer.decision.entry_id == "password-reset"
    kb.ask("where is my ordr")  # a message not prefetched is mended when asked
    assert calls == ["I forgot my pasword", "where is my ordr"]
