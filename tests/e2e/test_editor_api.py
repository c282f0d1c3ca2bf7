"""The FAQ editor's server through HTTP, with the real bot: roles, CSRF, no other origin,
publishing an edit that customers get within seconds, conflicts, rollback."""

import time

import httpx
import pytest

from bot.staff.accounts import StaffStore
from bot.staff.passwords import hash_password
from tests.e2e.test_handoff import PASSWORD
from tests.e2e.test_rest_conversations import conversation, say


def editor_base(servers):
    return f"http://{servers.settings.host}:{servers.settings.editor_port}/editor"


def staff_client(servers, name):
    client = httpx.Client(base_url=editor_base(servers) + "/api", timeout=60)
    r = client.post("/login", json={"name": name, "password": PASSWORD})
    assert r.status_code == 200, r.text
    client.headers["X-CSRF-Token"] = r.json()["csrf"]
    return client


@pytest.fixture(scope="module")
def editors(servers):
    """Staff accounts; afterwards the FAQ is rolled back to what it was, for the tests that follow."""
    from bot.db import engine

    accounts = StaffStore(engine(servers.settings.handoff_db_url))
    for name, role in (("eddie", "editor"), ("erin", "editor"), ("agnes", "agent"), ("adam", "admin")):
        accounts.add_agent(name, hash_password(PASSWORD), role)
    eddie = staff_client(servers, "eddie")
    start = eddie.get("/status").json()["latest"]["id"]
    yield {name: staff_client(servers, name) for name in ("eddie", "erin", "agnes", "adam")}
    if eddie.get("/status").json()["latest"]["id"] != start:
        r = eddie.post(f"/versions/{start}/rollback")
        assert r.status_code == 202 or "nothing to roll back" in r.text, r.text
        wait_serving(eddie)


def wait_serving(client, timeout=60.0):  # a hang guard: a publish serves in seconds
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        latest = client.get("/status").json()["latest"]
        if latest["build"]["state"] in ("serving", "failed"):
            return latest
        time.sleep(0.1)
    raise AssertionError(f"no build finished: {latest}")


def entry(client, entry_id):
    return next(e for e in client.get("/entries").json()["entries"] if e["id"] == entry_id)


def saved(e, **fields):
    return {"op": "save", "id": e["id"], "base": e["revision"], "entry": {**e, **fields}}


def answered_with(servers, question, marker, timeout):
    """Seconds until a new customer asking ``question`` gets an answer containing ``marker``."""
    started = time.monotonic()
    while time.monotonic() - started < timeout:
        replies = say(servers, conversation(), question)
        if any(marker in (r.get("text") or "") for r in replies):
            return time.monotonic() - started
        time.sleep(0.05)
    raise AssertionError(f"{question!r} was not answered with {marker!r} within {timeout} s")


def test_anonymous_agents_and_forged_requests_cannot_publish(servers, editors):
    e = entry(editors["eddie"], "warranty-extended")
    change = {"changes": [saved(e, answer="Forged.")]}
    anonymous = httpx.Client(base_url=editor_base(servers) + "/api")
    assert anonymous.get("/entries").status_code == 401
    assert anonymous.post("/publish", json=change).status_code == 401
    agent = editors["agnes"]
    assert agent.get("/entries").status_code == 200  # agents read
    r = agent.post("/publish", json=change)
    assert r.status_code == 403 and "editor or admin" in r.json()["error"]
    no_csrf = httpx.Client(base_url=editor_base(servers) + "/api", cookies=editors["eddie"].cookies)
    assert no_csrf.post("/publish", json=change).status_code == 403
    r = httpx.get(editor_base(servers) + "/api/entries", headers={"Origin": "http://evil.test"},
                  cookies=editors["eddie"].cookies)
    assert "access-control-allow-origin" not in r.headers
    r = httpx.options(editor_base(servers) + "/api/publish", headers={
        "Origin": "http://shop.test", "Access-Control-Request-Method": "POST"})
    assert "access-control-allow-origin" not in r.headers  # not even the customers' listed origin
    assert entry(editors["eddie"], "warranty-extended")["answer"] == e["answer"]


def test_bad_requests_say_what_to_fix(servers, editors):
    eddie = editors["eddie"]
    r = eddie.post("/publish", content=b"{not json", headers={"Content-Type": "application/json"})
    assert r.status_code == 400
    r = eddie.post("/publish", json={"changes": [{"op": "save", "id": "Bad Id!"}]})
    assert r.status_code == 400 and "changes[0].id" in r.json()["error"]
    e = entry(eddie, "warranty-extended")
    other = entry(eddie, "warranty-claim")
    r = eddie.post("/publish", json={"changes": [saved(e, question=other["question"])]})
    assert r.status_code == 202  # a phrasing in two entries is a warning, not an error
    wait_serving(eddie)
    e = entry(eddie, "warranty-extended")
    r = eddie.post("/publish", json={"changes": [saved(e, question=e["question"], file="../outside.yml")]})
    assert r.status_code == 422 and "inside the FAQ folder" in r.json()["issues"][0]["message"]


def test_an_answer_edit_reaches_customers_within_seconds(servers, editors):
    eddie = editors["eddie"]
    e = entry(eddie, "refund-method")
    question = "Which payment method will my refund go back to?"
    assert say(servers, conversation(), question)  # the bot answers it today
    marker = f"marker-{time.monotonic_ns()}"
    clicked = time.monotonic()
    r = eddie.post("/publish", json={"changes": [saved(e, answer=e["answer"] + f"\n\nRef {marker}.")],
                                     "message": "refund method: reference"})
    assert r.status_code == 202, r.text
    assert r.json()["version"]["author"] == "eddie"
    answered_with(servers, question, marker, timeout=10)
    seconds = time.monotonic() - clicked
    latest = wait_serving(eddie)
    assert latest["build"]["state"] == "serving" and latest["message"] == "refund method: reference"
    assert seconds < 5, seconds  # the target is 1 s (bench/editor.py measures it)
    assert marker in (servers.settings.corpus_path / e["file"]).read_text()


def test_the_second_editor_gets_a_conflict_showing_the_first_ones_change(servers, editors):
    eddie, erin = editors["eddie"], editors["erin"]
    seen = entry(eddie, "warranty-claim")
    assert entry(erin, "warranty-claim")["revision"] == seen["revision"]
    assert eddie.post("/publish", json={"changes": [saved(seen, answer="Eddie's answer.")]}).status_code == 202
    r = erin.post("/publish", json={"changes": [saved(seen, answer="Erin's answer.")]})
    assert r.status_code == 409
    [conflict] = r.json()["conflicts"]
    assert conflict["by"] == "eddie" and conflict["theirs"]["answer"] == "Eddie's answer."
    assert entry(erin, "warranty-claim")["answer"] == "Eddie's answer."
    wait_serving(eddie)


def test_history_and_rollback(servers, editors):
    adam = editors["adam"]
    e = entry(adam, "warranty-extended")
    before = e["answer"]
    r = adam.post("/publish", json={"changes": [saved(e, answer="Rolled out soon.")]})
    version = r.json()["version"]["id"]
    wait_serving(adam)
    detail = adam.get(f"/versions/{version}").json()
    [change] = detail["changes"]
    assert change["id"] == "warranty-extended" and change["fields"]["answer"] == {
        "before": before, "after": "Rolled out soon."}
    r = adam.post(f"/versions/{version - 1}/rollback")
    assert r.status_code == 202 and r.json()["version"]["kind"] == "rollback"
    assert wait_serving(adam)["build"]["state"] == "serving"
    assert entry(adam, "warranty-extended")["answer"] == before
    assert adam.get("/versions").json()["versions"][0]["message"] == f"roll back to version {version - 1}"


def test_try_shows_the_live_and_the_draft_decision(servers, editors):
    agent = editors["agnes"]  # trying is reading: agents may
    question = "Can I pay with cryptocurrency like bitcoin?"
    draft = {"op": "save", "id": "crypto-payments", "base": None, "entry": {
        "question": "Do you accept cryptocurrency?", "alternates": ["Can I pay with bitcoin?"],
        "answer": "No, we do not accept cryptocurrency.", "tags": ["payments"], "file": "payments.yml"}}
    r = agent.post("/try", json={"question": question, "changes": [draft]})
    assert r.status_code == 200, r.text
    data = r.json()
    assert data["draft"]["decision"] == "answer" and data["draft"]["entry_id"] == "crypto-payments"
    assert data["live"]["entry_id"] != "crypto-payments"
    assert {"answer", "clarify", "margin", "source"} <= set(data["draft"]["thresholds"])
    assert data["draft"]["hits"][0]["entry_id"] == "crypto-payments"
    regression = agent.post("/regression", json={"changes": [draft]}).json()
    assert regression["eval"] > 100 and regression["asked"] >= regression["eval"]
    assert all(c["draft"] != c["live"] for c in regression["changed"])


def test_not_ours_turns_a_group_into_out_of_scope_examples_and_rebuilds(servers, editors):
    question = "What is the capital of Mongolia and how many people live there?"  # declines nothing else
    say(servers, conversation(), question)
    eddie, agent = editors["eddie"], editors["agnes"]
    group = next(g for g in eddie.get("/inbox").json()["groups"] if question in g["examples"])
    r = agent.post("/inbox/not-ours", json={"question_ids": group["question_ids"]})
    assert r.status_code == 403
    r = eddie.post("/inbox/not-ours", json={"question_ids": "all"})
    assert r.status_code == 400 and "question_ids" in r.json()["error"]
    r = eddie.post("/inbox/not-ours", json={"question_ids": group["question_ids"]})
    assert r.status_code == 202, r.text
    assert question in servers.settings.out_of_scope_path.read_text()
    assert wait_serving(eddie)["build"]["state"] == "serving"
    assert not any(question in g["examples"] for g in eddie.get("/inbox").json()["groups"])
    r = eddie.post("/inbox/not-ours", json={"question_ids": group["question_ids"]})
    assert r.status_code == 409  # already handled: says so


def test_validation_names_an_alternate_closer_to_another_entry(servers, editors):
    agent = editors["agnes"]  # validating is reading: agents may
    e = entry(agent, "gift-cards")
    stray = "Do you deliver to Australia?"
    r = agent.post("/validate", json={"changes": [saved(e, alternates=e["alternates"] + [stray])]})
    assert r.status_code == 200, r.text
    messages = [i["message"] for i in r.json()["issues"]]
    assert any("'shipping-international'" in m and stray in m for m in messages), messages
    r = agent.post("/validate", json={"changes": [saved(e, question="")]})
    assert r.status_code == 400 and "question" in r.json()["error"]


def test_a_deleted_entry_is_gone_for_customers_and_a_stale_delete_is_a_conflict(servers, editors):
    eddie, erin = editors["eddie"], editors["erin"]
    e = entry(eddie, "contact-careers")
    question = e["question"]
    assert any(e["answer"][:30] in (r.get("text") or "") for r in say(servers, conversation(), question))
    stale = {"op": "delete", "id": e["id"], "base": e["revision"]}
    assert eddie.post("/publish", json={"changes": [saved(e, answer="Changed first.")]}).status_code == 202
    r = erin.post("/publish", json={"changes": [stale]})
    assert r.status_code == 409 and r.json()["conflicts"][0]["theirs"]["answer"] == "Changed first."
    now = entry(erin, e["id"])
    r = erin.post("/publish", json={"changes": [{"op": "delete", "id": e["id"], "base": now["revision"]}]})
    assert r.status_code == 202
    wait_serving(erin)
    assert all(x["id"] != e["id"] for x in erin.get("/entries").json()["entries"])
    assert "id: contact-careers" not in (servers.settings.corpus_path / e["file"]).read_text()
    assert not any("Changed first." in (r.get("text") or "") for r in say(servers, conversation(), question))


def test_the_regression_view_lists_the_eval_queries_a_draft_would_answer_differently(servers, editors):
    agent = editors["agnes"]
    e = entry(agent, "refund-time")
    r = agent.post("/regression", json={"changes": [{"op": "delete", "id": e["id"], "base": e["revision"]}]})
    assert r.status_code == 200, r.text
    changed = r.json()["changed"]
    lost = [c for c in changed if c["expected"] == "refund-time"]
    assert lost and all(c["live"]["entry_id"] == "refund-time" or "refund-time" in c["live"]["options"]
                        for c in lost)
    assert all(c["draft"]["entry_id"] != "refund-time" and "refund-time" not in c["draft"]["options"]
               for c in lost)


def test_a_csv_import_publishes_one_version_and_only_for_editors(servers, editors):
    eddie, agent = editors["eddie"], editors["agnes"]
    csv_text = ('question,alternates,answer,tags\r\n'
                '"Do you ship to the Moon?","Moon delivery?\nlunar shipping","Not yet, sorry.",shipping\r\n')
    r = agent.post("/import", json={"csv": csv_text, "apply": True})
    assert r.status_code == 403
    preview = eddie.post("/import", json={"csv": csv_text}).json()["plan"]
    assert preview["ok"] and len(preview["added"]) == 1 and not preview["updated"]
    r = eddie.post("/import", json={"csv": csv_text, "apply": True})
    assert r.status_code == 202, r.text
    assert r.json()["version"]["kind"] == "import"
    wait_serving(eddie)
    [added] = preview["added"]
    assert entry(eddie, added)["alternates"] == ["Moon delivery?", "lunar shipping"]
    r = eddie.post("/import", json={"csv": csv_text, "apply": True})
    assert r.status_code == 422 and "changes nothing" in r.json()["error"]
    r = eddie.post("/import", json={"csv": "question,answer,colour\r\nx,y,red\r\n"})
    assert not r.json()["plan"]["ok"] and "colour" in r.json()["plan"]["errors"][0]["message"]


def test_a_change_made_on_disk_is_shown_and_never_overwritten(servers, editors):
    eddie = editors["eddie"]
    e = entry(eddie, "contact-feedback")
    path = servers.settings.corpus_path / e["file"]
    first_line = e["answer"].splitlines()[0]
    path.write_text(path.read_text().replace(first_line, "Pulled from git: write to feedback@example.com."))
    status = eddie.get("/status").json()
    assert status["changed_on_disk"] and e["file"] in status["changed_on_disk"]["message"]
    assert eddie.get("/versions").json()["versions"][0]["kind"] == "disk"
    r = eddie.post("/publish", json={"changes": [saved(e, answer="My stale edit.")]})
    assert r.status_code == 409 and "Pulled from git" in r.json()["conflicts"][0]["theirs"]["answer"]
    assert "Pulled from git" in path.read_text()
