"""One FAQ build for every action server (bot/kb/shared.py) on a real PostgreSQL: action servers with
their own kb_index/ folders (as on machines that share no disk) serve the version the shared pointer
names, a build runs once under the lock, and a bad blob is refused while the old version serves."""

import dataclasses
import hashlib
import os
import shutil
import subprocess
import sys
import threading
import time

import httpx
import pytest
import sqlalchemy as sa

from bot.apps.supervisor import Servers
from bot.kb.corpus import load_corpus
from bot.kb.index import current_name
from bot.kb.shared import SharedIndex, blobs, build_once, pack, pointer_table
from bot.keys import action_server_token
from tests.e2e.conftest import E2E_PORT, e2e_settings  # noqa: F401 (the fixture)
from tests.helpers import seed_index

# From SUPPORTBOT_E2E_PORT (P): the action servers P+81, P+82, P+83
PORT = E2E_PORT + 80
QUESTION = "how long does it take to get my refund?"


@pytest.fixture(scope="module")
def stack(e2e_settings, real_encoder, index_seed, postgres_url, tmp_path_factory):  # noqa: F811
    """The builder's settings (its own kb_index/ and FAQ copy, hand-offs in PostgreSQL), v1 built and
    published, and a function starting an action server with an empty kb_index/ of its own."""
    from tests.pg import fresh_database

    work = tmp_path_factory.mktemp("shared-index")
    shutil.copytree(e2e_settings.corpus_path, work / "faq")
    with fresh_database(postgres_url) as url:
        settings = dataclasses.replace(e2e_settings, corpus=work / "faq", index_dir=work / "builder",
                                       handoff_url=url, reload_interval=0.5)
        build_once(settings, load_corpus(settings.corpus_path), seed_index(index_seed, settings.index_path),
                   encoder=real_encoder)
        started: list[Servers] = []

        def action_server(n: int) -> Servers:
            s = Servers(dataclasses.replace(settings, index_dir=work / f"node{n}", action_port=PORT + n),
                        log_dir=work / f"logs{n}")
            started.append(s)
            s.start_actions()
            return s

        try:
            yield settings, action_server, work
        finally:
            for s in started:
                s.stop()


def assist(server):
    r = httpx.post(f"{server.action_url}/assist", json={"text": QUESTION, "k": 1}, timeout=30,
                   headers={"Authorization": f"Bearer {action_server_token(server.settings)}"})
    assert r.status_code == 200, r.text
    return r.json()


def status(server):
    r = httpx.post(f"{server.action_url}/reload", timeout=30,
                   headers={"Authorization": f"Bearer {action_server_token(server.settings)}"})
    return r.json()


def edit_refund_answer(settings, old, new):
    f = settings.corpus_path / "refunds.yml"
    text = f.read_text()
    assert old in text
    f.write_text(text.replace(old, new))


def answers_within(servers, needle, seconds):
    deadline = time.monotonic() + seconds
    pending = list(servers)
    while pending and time.monotonic() < deadline:
        pending = [s for s in pending if needle not in assist(s)["entries"][0]["answer"]]
        time.sleep(0.25)
    return pending


def test_one_build_reaches_action_servers_that_share_no_disk_and_a_later_one(stack):
    settings, action_server, work = stack
    a = action_server(1)
    assert "3 business days" in assist(a)["entries"][0]["answer"]  # v1, unpacked from PostgreSQL
    edit_refund_answer(settings, "3 business days", "4 business days")
    env = {**os.environ, **settings.to_env(), "HF_HUB_OFFLINE": "1"}
    built = subprocess.run([sys.executable, "-m", "bot.cli", "kb", "build"], cwd=settings.root, env=env,
                           capture_output=True, text=True, timeout=300)
    assert built.returncode == 0, built.stderr
    name = current_name(settings.index_path)
    assert not answers_within([a], "4 business days", 10), "the running action server did not follow"
    b = action_server(2)  # started after the build: serves the pointer's version at once
    assert "4 business days" in assist(b)["entries"][0]["answer"]
    assert {assist(s)["index"] for s in (a, b)} == {name}
    for n in (1, 2):  # each has its own copy, checked, under its own kb_index/
        assert current_name(work / f"node{n}") == name and (work / f"node{n}" / "versions" / name).is_dir()


def test_two_concurrent_builds_run_once_and_the_pointer_names_a_complete_version(stack, real_encoder, capsys):
    settings, _, work = stack
    edit_refund_answer(settings, "4 business days", "5 business days")
    corpus = load_corpus(settings.corpus_path)
    results = {}
    nodes = {n: dataclasses.replace(settings, index_dir=work / f"builder{n}") for n in (1, 2)}
    for s in nodes.values():  # each its own disk, from the same start
        shutil.copytree(settings.index_path, s.index_path, dirs_exist_ok=True)

    def build(n):
        s = nodes[n]
        results[n] = build_once(s, corpus, s.index_path, encoder=real_encoder, calibrate=False)

    threads = [threading.Thread(target=build, args=(n,)) for n in (1, 2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=300)
    assert set(results) == {1, 2}
    assert capsys.readouterr().err.count("another FAQ build is running; waiting") == 1
    fresh = [n for n, r in results.items() if not r.result.up_to_date]
    assert len(fresh) == 1, "both built: the lock did not hold"  # the second found the first's version
    name = results[fresh[0]].result.name
    assert results[3 - fresh[0]].result.name == name
    reader = SharedIndex.from_settings(dataclasses.replace(settings, index_dir=work / "reader"))
    assert reader.pointer().name == name
    assert reader.sync() and current_name(work / "reader") == name  # complete: it unpacks and checks


def test_a_corrupt_blob_is_refused_and_the_old_version_keeps_serving(stack):
    settings, action_server, work = stack
    a = action_server(3)
    before = assist(a)
    shared = SharedIndex.from_settings(settings)
    good = shared.pointer()
    data = pack(work / "builder" / "versions" / good.name)
    digest = hashlib.sha256(data + b"x").hexdigest()
    with shared.engine.begin() as c:  # a blob whose bytes no longer match its digest
        c.execute(sa.insert(blobs).values(digest=digest, path="versions/20990101T000000000000Z-bad",
                                          size=len(data), data=data[:-50], created_at=time.time()))
        c.execute(sa.update(pointer_table).values(name="20990101T000000000000Z-bad", digest=digest))
    try:
        time.sleep(2)  # four looks at the pointer
        now = status(a)
        assert now["serving"] == before["index"]
        assert "refused" in now["error"] and "SHA-256" in now["error"] and "keeps serving" in now["error"]
        assert assist(a)["entries"][0]["answer"] == before["entries"][0]["answer"]
        assert "refused" in a.log_path("actions").read_text()
    finally:
        with shared.engine.begin() as c:
            c.execute(sa.update(pointer_table).values(name=good.name, digest=good.digest))
