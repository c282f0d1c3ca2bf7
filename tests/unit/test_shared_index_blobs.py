"""The shared index pointer and its blobs (bot/kb/shared.py) on SQLite with the fake encoder: a version
built on one node reaches another node's own kb_index/, checked; a missing or corrupt blob, or a tar
that writes outside its folder, is refused saying why, and the version serving keeps serving."""

import hashlib
import io
import tarfile

import pytest
import sqlalchemy as sa

from bot.db import sqlite_engine
from bot.kb.build import build_index
from bot.kb.corpus import load_corpus
from bot.kb.decision import ANSWER
from bot.kb.encoder import FakeEncoder
from bot.kb.index import current_name
from bot.kb.serving import KnowledgeBase
from bot.kb.shared import SharedIndex, SharedIndexError, blobs, pack, pointer_table, unpack
from tests.helpers import SMALL_CORPUS, write


@pytest.fixture
def db(tmp_path):
    return sqlite_engine(sa.engine.make_url(f"sqlite:///{tmp_path / 'shared.db'}"))


def built(tmp_path, name, text=SMALL_CORPUS):
    corpus = load_corpus(write(tmp_path / f"faq-{name}" / "f.yml", text))
    return build_index(corpus, tmp_path / name, FakeEncoder(), lexical_weight=0).name


def node(db, tmp_path, name):
    """Another node: its own kb_index/ (empty) and knowledge base following the shared pointer."""
    shared = SharedIndex(db, tmp_path / name)
    return shared, KnowledgeBase(tmp_path / name, encoder=FakeEncoder(), shared=shared)


def move_pointer(db, name, digest):
    with db.begin() as c:
        c.execute(sa.update(pointer_table).where(pointer_table.c.id == 1).values(name=name, digest=digest))


def test_pack_is_the_same_bytes_for_the_same_files_and_unpacks_them(tmp_path):
    name = built(tmp_path, "a")
    folder = tmp_path / "a" / "versions" / name
    assert pack(folder) == pack(folder)
    unpack(pack(folder), tmp_path / "out")
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == sorted(p.name for p in folder.iterdir())


def test_a_version_published_on_one_node_serves_on_another_with_its_own_folder(db, tmp_path):
    name = built(tmp_path, "a")
    p = SharedIndex(db, tmp_path / "a").publish(name)
    assert SharedIndex(db, tmp_path / "a").pointer() == p
    shared, kb = node(db, tmp_path, "b")
    assert kb.reload() and kb.version.name == name and kb.error is None
    assert current_name(tmp_path / "b") == name and shared.local() == p
    assert kb.ask("I forgot my password").decision.kind == ANSWER
    assert not kb.reload() and not shared.sync()  # nothing moved: nothing fetched again


def test_a_node_follows_the_pointer_to_a_newer_version(db, tmp_path):
    first = built(tmp_path, "a")
    publisher = SharedIndex(db, tmp_path / "a")
    publisher.publish(first)
    _, kb = node(db, tmp_path, "b")
    assert kb.reload() and kb.version.name == first
    second = built(tmp_path, "a", SMALL_CORPUS.replace("Refunds take **3 days**.", "Refunds take **2 days**."))
    publisher.publish(second)
    assert kb.reload() and kb.version.name == second
    assert "2 days" in kb.version.by_id["refund-time"].answer


def test_publishing_again_after_a_recalibration_ships_the_new_thresholds(db, tmp_path):
    name = built(tmp_path, "a")
    publisher = SharedIndex(db, tmp_path / "a")
    first = publisher.publish(name)
    shared, kb = node(db, tmp_path, "b")
    assert kb.reload()
    (tmp_path / "a" / "versions" / name / "thresholds.json").write_text(
        '{"answer": 0.61, "margin": 0.05, "clarify": 0.4, "source": "recalibrated"}\n')
    second = publisher.publish(name)
    assert second.name == first.name and second.digest != first.digest
    assert shared.sync()
    assert (tmp_path / "b" / "versions" / name / "thresholds.json").read_text().count("0.61") == 1


@pytest.mark.parametrize("damage", ["corrupt", "missing", "bad files", "escaping tar"])
def test_a_bad_blob_is_refused_with_the_reason_and_the_old_version_keeps_serving(db, tmp_path, caplog, damage):
    first = built(tmp_path, "a")
    SharedIndex(db, tmp_path / "a").publish(first)
    shared, kb = node(db, tmp_path, "b")
    assert kb.reload()
    second = built(tmp_path, "a", SMALL_CORPUS.replace("3 days", "2 days"))
    data = pack(tmp_path / "a" / "versions" / second)
    digest = hashlib.sha256(data).hexdigest()
    if damage == "corrupt":  # flipped bytes under the right digest
        data = data[:100] + bytes(b ^ 0xFF for b in data[100:140]) + data[140:]
    elif damage == "bad files":  # a consistent blob whose entries.json is not what its manifest says
        (tmp_path / "a" / "versions" / second / "entries.json").write_text("[]")
        data = pack(tmp_path / "a" / "versions" / second)
        digest = hashlib.sha256(data).hexdigest()
    elif damage == "escaping tar":
        buf = io.BytesIO()
        with tarfile.open(fileobj=buf, mode="w:gz") as tar:
            info = tarfile.TarInfo("../../outside.txt")
            info.size = 2
            tar.addfile(info, io.BytesIO(b"hi"))
        data = buf.getvalue()
        digest = hashlib.sha256(data).hexdigest()
    if damage != "missing":
        with db.begin() as c:
            c.execute(sa.insert(blobs).values(digest=digest, path=f"versions/{second}", size=len(data),
                                              data=data, created_at=0.0))
    move_pointer(db, second, digest)
    for _ in range(3):
        assert not kb.reload()
    assert kb.version.name == first and current_name(tmp_path / "b") == first
    assert f"shared index version {second}" in kb.error and f"{first} keeps serving" in kb.error
    assert "kb build --force" in kb.error
    assert {"corrupt": "SHA-256", "missing": "missing", "bad files": "checksum",
            "escaping tar": "unusable"}[damage] in kb.error
    assert not (tmp_path / "outside.txt").exists() and not (tmp_path / "b" / "versions" / second).exists()
    assert kb.ask("I forgot my password").decision.kind == ANSWER
    with pytest.raises(SharedIndexError):  # remembered: not fetched again every second
        shared.sync()
    move_pointer(db, first, SharedIndex(db, tmp_path / "a").publish(first).digest)  # the pointer moves on
    kb.reload()
    assert kb.error is None and kb.version.name == first


def test_without_postgresql_there_is_no_shared_index(tmp_path):
    from bot.settings import Settings

    assert SharedIndex.from_settings(Settings(root=tmp_path)) is None  # SQLite hand-offs: one node
    assert KnowledgeBase.from_settings(Settings(root=tmp_path)).shared is None
