import pytest

from bot.kb.corpus import CorpusError, load_corpus
from tests.helpers import SMALL_CORPUS, write


def test_loads_entries_with_phrasings_and_locations(tmp_path):
    write(tmp_path / "a.yml", SMALL_CORPUS)
    corpus = load_corpus(tmp_path)
    assert [e.id for e in corpus.entries] == ["refund-time", "shipping-cost", "password-reset"]
    refund = corpus.entries[0]
    assert refund.phrasings == ("How long does a refund take?", "When do I get my money back?",
                                "refund timing for returned items")
    assert refund.line == 2 and refund.file.endswith("a.yml")
    assert not corpus.issues


def test_malformed_yaml_names_file_and_line(tmp_path):
    write(tmp_path / "bad.yml", "faqs:\n  - id: a\n    question: [unclosed\n    answer: x\n")
    with pytest.raises(CorpusError) as exc:
        load_corpus(tmp_path)
    issue = exc.value.issues[0]
    assert issue.file.endswith("bad.yml") and issue.line is not None
    assert "malformed YAML" in issue.message


def test_duplicate_ids_across_files_are_errors_naming_both(tmp_path):
    write(tmp_path / "a.yml", SMALL_CORPUS)
    write(tmp_path / "b.yml", "faqs:\n  - id: refund-time\n    question: Q\n    answer: A\n")
    corpus = load_corpus(tmp_path, strict=False)
    [err] = corpus.errors
    assert err.entry_id == "refund-time" and err.file.endswith("b.yml") and err.line == 2
    assert "a.yml:2" in err.message


@pytest.mark.parametrize("entry, key, message", [
    ("  - id: x\n    question: Q\n    answer: '   '\n", "answer", "'answer' is empty"),
    ("  - id: x\n    question: Q\n", None, "missing 'answer'"),
    ("  - id: x\n    question: 42\n    answer: A\n", "question", "must be text"),
    ("  - id: Bad Id\n    question: Q\n    answer: A\n", "id", "must be a slug"),
    ("  - id: x\n    question: Q\n    answer: A\n    alternates: just one\n", "alternates",
     "must be a list"),
    ("  - id: x\n    question: Q\n    answer: A\n    anwser: typo\n", "anwser", "unknown key"),
    ("  - id: x\n    question: Q\n    answer: A\n    thresholds: {answer: 2}\n", "thresholds",
     "between 0 and 1"),
    ("  - just text\n", None, "not a mapping"),
])
def test_entry_errors_name_file_line_and_id(tmp_path, entry, key, message):
    write(tmp_path / "f.yml", "faqs:\n" + entry)
    corpus = load_corpus(tmp_path, strict=False)
    assert corpus.errors, "expected an error"
    err = corpus.errors[0]
    assert message in err.message
    assert err.file.endswith("f.yml") and err.line is not None
    if "id: x" in entry:
        assert err.entry_id == "x"
    assert corpus.entries == []


def test_missing_faqs_key_and_missing_path(tmp_path):
    write(tmp_path / "f.yml", "questions: []\n")
    assert "top-level 'faqs:'" in load_corpus(tmp_path, strict=False).errors[0].message
    missing = load_corpus(tmp_path / "nope", strict=False)
    assert "no such file" in missing.errors[0].message


def test_same_phrasing_in_two_entries_warns(tmp_path):
    write(tmp_path / "f.yml", "faqs:\n  - id: a\n    question: Same?\n    answer: A\n"
                              "  - id: b\n    question: same?\n    answer: B\n")
    corpus = load_corpus(tmp_path)
    assert [w.entry_id for w in corpus.warnings] == ["b"]


def test_content_hash_ignores_comments_but_not_answers(tmp_path):
    f = write(tmp_path / "f.yml", SMALL_CORPUS)
    h1 = load_corpus(f).content_hash()
    write(f, "# a comment\n" + SMALL_CORPUS)
    assert load_corpus(f).content_hash() == h1
    write(f, SMALL_CORPUS.replace("3 days", "5 days"))
    assert load_corpus(f).content_hash() != h1


def test_demo_corpus_is_valid_and_large_enough(root):
    corpus = load_corpus(root / "data" / "faq")
    assert len(corpus.entries) >= 80
    with_two = [e for e in corpus.entries if len(e.alternates) >= 2]
    assert len(with_two) > len(corpus.entries) / 2
    assert not corpus.errors
