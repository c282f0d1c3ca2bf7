"""The editor's rules on a copy of the demo FAQ: round-trip writes, conflicts, changes on disk,
history and rollback, and the builder serving a publish (fake encoder)."""

import shutil
from dataclasses import replace

import pytest

from bot.db import sqlite_engine
from bot.editor.builder import Builder
from bot.editor.changes import DELETE, SAVE, Change, ChangeError, parse_changes, revision
from bot.editor.faq_yaml import FaqFileError, apply_changes, check_file_name, read_folder
from bot.editor.service import Conflict, EditorService, Invalid
from bot.editor.versions import DISK, INITIAL, ROLLBACK, SERVING, UNBUILT, VersionStore
from bot.kb.corpus import load_corpus, load_texts
from bot.kb.encoder import FakeEncoder
from bot.kb.index import IndexVersion, current_path
from bot.settings import Settings


@pytest.fixture
def faq(tmp_path, root):
    shutil.copytree(root / "data" / "faq", tmp_path / "faq")
    return tmp_path / "faq"


@pytest.fixture
def service(tmp_path, faq):
    store = VersionStore(sqlite_engine(f"sqlite:///{tmp_path / 'editor.db'}"))
    return EditorService(faq, store, tmp_path / "idx" / ".editor.lock")


def entry(service, entry_id):
    return service.read().corpus.by_id()[entry_id]


def test_round_trip_changes_only_what_was_edited(faq):
    texts = read_folder(faq)
    corpus = load_texts(texts)
    e = corpus.by_id()["shipping-times"]
    edited = replace(e, answer=e.answer + "\nWeekends too.", alternates=e.alternates + ("when does it come",))
    out = apply_changes(texts, {x.id: x.file for x in corpus.entries},
                        [Change(SAVE, e.id, edited, revision(e))], "editor.yml")
    assert list(out) == ["shipping.yml"]
    old, new = texts["shipping.yml"].splitlines(), out["shipping.yml"].splitlines()
    added = [line for line in new if line not in old]
    assert added == ["      - when does it come", "      Weekends too."]
    assert [line for line in old if line not in new] == []
    assert new[0].startswith("# ")  # the file's comments stay
    again = load_texts({**texts, **out}).by_id()["shipping-times"]
    assert again.answer == edited.answer and again.alternates == edited.alternates


def test_delete_keeps_the_next_entrys_comment_and_add_goes_last(tmp_path):
    text = ("# head\nfaqs:\n  # about a\n  - id: a\n    question: A?\n    answer: A\n\n"
            "  # about b\n  - id: b\n    question: B?\n    answer: B\n\n  # about c\n"
            "  - id: c\n    question: C?\n    answer: |\n      one\n      two\n")
    corpus = load_texts({"x.yml": text})
    new = replace(corpus.by_id()["a"], id="d", question="D?", answer="D", tags=("t",), file="x.yml")
    out = apply_changes({"x.yml": text}, {"a": "x.yml", "b": "x.yml", "c": "x.yml"},
                        [Change(DELETE, "b", None, "r"), Change(SAVE, "d", new, None)], "x.yml")["x.yml"]
    assert "about b" not in out and "id: b" not in out
    assert "  # about c\n  - id: c" in out and "\n\n\n" not in out
    assert out.endswith("      two\n\n  - id: d\n    question: D?\n    answer: D\n    tags: [t]\n")
    assert [e.id for e in load_texts({"x.yml": out}).entries] == ["a", "c", "d"]


def test_file_names_stay_inside_the_faq_folder():
    assert check_file_name("billing.yml") == "billing.yml"
    for bad in ("../x.yml", "/etc/x.yml", "x.txt", "a/../b.yml", ".hidden.yml", ""):
        with pytest.raises(FaqFileError):
            check_file_name(bad)


def test_changes_are_checked_field_by_field():
    with pytest.raises(ChangeError, match=r"changes\[0\].op"):
        parse_changes([{"op": "move", "id": "a"}])
    with pytest.raises(ChangeError, match=r"changes\[0\].entry.question"):
        parse_changes([{"op": "save", "id": "a", "entry": {"question": " ", "answer": "x"}}])
    with pytest.raises(ChangeError, match="base"):
        parse_changes([{"op": "delete", "id": "a"}])
    with pytest.raises(ChangeError, match="at most once"):
        parse_changes([{"op": "delete", "id": "a", "base": "x"}] * 2)


def test_publish_writes_the_file_and_records_a_version_with_its_diff(service, faq):
    e = entry(service, "refund-time")
    version = service.publish([Change(SAVE, e.id, replace(e, answer="Ten days."), revision(e))], "eve", "")
    assert load_corpus(faq).by_id()["refund-time"].answer == "Ten days."
    assert version.author == "eve" and version.touched == ["refund-time"]
    assert version.message == "edited refund-time"
    first = service.versions.history()[-1]
    assert first.kind == INITIAL and first.build_state == UNBUILT
    (change,) = service.versions.changes_of(version.id)
    assert change.kind == "changed" and change.fields["answer"][1] == "Ten days."


def test_the_second_editor_gets_a_conflict_with_the_first_ones_change(service, faq):
    e = entry(service, "refund-time")
    service.publish([Change(SAVE, e.id, replace(e, answer="Alice's answer."), revision(e))], "alice", "")
    before = read_folder(faq)
    with pytest.raises(Conflict) as caught:
        service.publish([Change(SAVE, e.id, replace(e, answer="Bob's answer."), revision(e))], "bob", "")
    (conflict,) = caught.value.conflicts
    assert conflict["by"] == "alice" and conflict["theirs"]["answer"] == "Alice's answer."
    assert read_folder(faq) == before  # nothing written
    with pytest.raises(Conflict, match="exists already"):
        service.publish([Change(SAVE, e.id, replace(e, answer="New."), None)], "bob", "")
    gone = entry(service, "shipping-cost")
    service.publish([Change(DELETE, gone.id, None, revision(gone))], "alice", "")
    with pytest.raises(Conflict, match="deleted since"):
        service.publish([Change(SAVE, gone.id, replace(gone, answer="x"), revision(gone))], "bob", "")


def test_a_change_on_disk_is_recorded_and_never_overwritten(service, faq):
    e = entry(service, "refund-time")
    service.status()
    path = faq / e.file
    path.write_text(path.read_text().replace(e.answer.splitlines()[0], "Pulled from git."))
    status = service.status()
    assert status["changed_on_disk"]["kind"] == DISK and e.file in status["changed_on_disk"]["message"]
    with pytest.raises(Conflict):
        service.publish([Change(SAVE, e.id, replace(e, answer="Mine."), revision(e))], "eve", "")
    assert "Pulled from git." in path.read_text()


def test_invalid_changes_write_nothing(service, faq):
    before = read_folder(faq)
    other = entry(service, "shipping-cost")
    e = entry(service, "refund-time")
    with pytest.raises(Invalid) as caught:
        service.publish([Change(SAVE, "new-one", replace(e, id="new-one", file="../evil.yml"), None)],
                        "eve", "")
    assert "inside the FAQ folder" in str(caught.value)
    dup = replace(e, id=other.id)  # a second entry with the same id in another file
    with pytest.raises(Conflict):
        service.publish([Change(SAVE, other.id, dup, None)], "eve", "")
    assert read_folder(faq) == before


def test_rollback_restores_a_version_as_a_new_one(service, faq):
    e = entry(service, "refund-time")
    v1 = service.publish([Change(SAVE, e.id, replace(e, answer="One."), revision(e))], "eve", "")
    e1 = entry(service, "refund-time")
    service.publish([Change(SAVE, e1.id, replace(e1, answer="Two."), revision(e1)),
                     Change(SAVE, "brand-new", replace(e1, id="brand-new", question="Totally new?",
                                                       alternates=(), answer="New."), None)], "eve", "")
    back = service.rollback(v1.id, "ann")
    assert back.kind == ROLLBACK and back.message == f"roll back to version {v1.id}"
    now = load_corpus(faq).by_id()
    assert now["refund-time"].answer == "One." and "brand-new" not in now
    with pytest.raises(Invalid, match="already"):
        service.rollback(back.id, "ann")


def test_the_builder_serves_a_publish_and_supersedes_older_queued_ones(tmp_path, service, faq):
    settings = Settings(root=tmp_path, corpus=faq, index_dir=tmp_path / "idx", tune_on_run=False)
    told = []
    builder = Builder(settings, service.versions, lambda: told.append(1), base=FakeEncoder())
    e = entry(service, "refund-time")
    v1 = service.publish([Change(SAVE, e.id, replace(e, answer="One."), revision(e))], "eve", "")
    e1 = entry(service, "refund-time")
    v2 = service.publish([Change(SAVE, e1.id, replace(e1, answer="Two."), revision(e1))], "eve", "")
    assert builder.run_pending() and not builder.run_pending()
    assert service.versions.get(v1.id).build_state == "superseded"
    built = service.versions.get(v2.id)
    assert built.build_state == SERVING and built.index_version and len(told) == 2  # switched, calibrated
    version = IndexVersion(current_path(settings.index_path))
    assert version.name == built.index_version and version.by_id["refund-time"].answer == "Two."
    assert "calibrated on the corpus" in version.thresholds.source


def test_a_failed_build_says_why_and_the_previous_version_serves(tmp_path, service, faq):
    settings = Settings(root=tmp_path, corpus=faq, index_dir=tmp_path / "idx", tune_on_run=False)
    builder = Builder(settings, service.versions, base=FakeEncoder())
    e = entry(service, "refund-time")
    v1 = service.publish([Change(SAVE, e.id, replace(e, answer="One."), revision(e))], "eve", "")
    builder.run_pending()
    serving = current_path(settings.index_path).name
    (faq / "broken.yml").write_text("faqs: [")  # someone saves a broken file meanwhile
    e1 = entry(service, "refund-time")
    v2 = service.versions.add("eve", "x", "publish", [e1], {}, "h")
    builder.run_pending()
    failed = service.versions.get(v2.id)
    assert failed.build_state == "failed" and "previous version keeps serving" in failed.build_detail
    assert current_path(settings.index_path).name == serving and v1.id < v2.id


class TunedFake(FakeEncoder):
    name = "tuned-fake"

    def __init__(self, path):
        super().__init__()
        self.ref = str(path)


def test_after_new_phrasings_the_builder_retunes_when_quiet_and_rebuilds_with_the_tuned_model(
        tmp_path, service, faq):
    from bot.kb.models import MANIFEST, tuned_path

    settings = Settings(root=tmp_path, corpus=faq, index_dir=tmp_path / "idx")
    tuned = []

    def tune(corpus):  # what training leaves behind: a model folder named for these phrasings
        path = tuned_path(settings.index_path, corpus, FakeEncoder.name)
        path.mkdir(parents=True)
        (path / MANIFEST).write_text("{}")
        tuned.append(path)

    builder = Builder(settings, service.versions, base=FakeEncoder(), tune=tune)
    builder._load = lambda path: TunedFake(path)
    builder.tune_after_quiet = 0.0
    e = entry(service, "refund-time")
    v = service.publish([Change(SAVE, e.id, replace(e, alternates=e.alternates + ("money back when",)),
                                revision(e))], "eve", "")
    builder.submit(v.id)
    assert builder.run_pending()
    assert IndexVersion(current_path(settings.index_path)).model == FakeEncoder.name
    assert builder._maybe_tune() and len(tuned) == 1  # quiet: tuned once
    assert builder.run_pending()  # and rebuilt with it
    assert IndexVersion(current_path(settings.index_path)).model == "tuned-fake"
    assert service.versions.get(v.id).build_state == SERVING
    assert not builder._maybe_tune()  # the tuned model fits: nothing more to do


def test_inbox_groups_are_remembered_until_a_question_arrives(tmp_path, faq):
    from bot.editor.drafts import Side
    from bot.editor.inbox import InboxGroups
    from bot.inbox.store import MISS, InboxStore
    from bot.kb.build import build_index

    encoder = FakeEncoder()
    build_index(load_corpus(faq), tmp_path / "idx", encoder, lexical_weight=0)
    live = Side(IndexVersion(current_path(tmp_path / "idx")), encoder)
    store = InboxStore(sqlite_engine(f"sqlite:///{tmp_path / 'inbox.db'}"))
    for n, text in enumerate(["where is my parcel", "where is my parcel now", "do you sell cars"]):
        store.add(f"c{n}", text, MISS, "order-tracking")
    groups = InboxGroups(store, tmp_path / "idx")
    first = groups.get(live)
    assert groups.get(live) is first  # nothing new: not grouped again
    assert {len(g["question_ids"]) for g in first["groups"]} == {1, 2} and first["open"] == 3
    assert first["groups"][0]["nearest"][0]["id"]
    store.add("c9", "do you sell bikes", MISS)
    assert groups.get(live) is not first and groups.get(live)["open"] == 4
