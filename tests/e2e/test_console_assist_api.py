"""Issue 19 (assist) through the real servers: agent assist's routes and who may call them, the
decision metadata of real FAQ turns in the console's transcript (never in customers' replies), and
canned replies' roles on the console and the editor."""

import httpx
import pytest

from bot.keys import action_server_token
from bot.staff.accounts import StaffStore
from bot.staff.passwords import hash_password
from tests.e2e.test_editor_api import editor_base, staff_client
from tests.e2e.test_handoff import PASSWORD, base, console, handoff_of, store  # noqa: F401
from tests.e2e.test_rest_conversations import conversation, say

QUESTION = "How do I reset my password?"
MISSING = "Can I book a tour of your warehouse with my school class?"


@pytest.fixture(scope="module")
def accounts(servers, store):  # noqa: F811
    staff = StaffStore(store.engine)
    for name, role in (("cara", "agent"), ("eddie", "editor"), ("root", "admin")):
        staff.add_agent(name, hash_password(PASSWORD), role)
    return staff


def action_url(servers, path):
    return f"http://{servers.settings.host}:{servers.settings.action_port}{path}"


def test_the_action_servers_assist_needs_its_token_and_returns_the_nearest_entries(servers):
    body = {"text": "i forgot my password", "k": 3}
    assert httpx.post(action_url(servers, "/assist"), json=body).status_code == 401
    wrong = httpx.post(action_url(servers, "/assist"), json=body, headers={"Authorization": "Bearer nope"})
    assert wrong.status_code == 401
    token = {"Authorization": f"Bearer {action_server_token(servers.settings)}"}
    r = httpx.post(action_url(servers, "/assist"), json=body, headers=token, timeout=30)
    assert r.status_code == 200, r.text
    entries = r.json()["entries"]
    assert len(entries) == 3 and entries[0]["id"] == "password-reset"
    assert entries[0]["question"] == QUESTION and "password" in entries[0]["answer"].lower()
    assert entries[0]["score"] >= entries[1]["score"] >= entries[2]["score"]
    for bad, field in (({"k": 3}, "text"), ({"text": "x", "k": 9}, "k"), ({"text": "x", "k": "3"}, "k")):
        refused = httpx.post(action_url(servers, "/assist"), json=bad, headers=token)
        assert refused.status_code == 400 and refused.json()["error"].startswith(field), bad


def test_the_consoles_assist_needs_a_login_and_the_csrf_token(servers, accounts):
    agent = console(servers, "cara")
    sender = conversation()
    say(servers, sender, "talk to a human")
    say(servers, sender, "i forgot my password and cannot log in")  # while waiting: the agent's latest
    hid = handoff_of(agent, sender)["id"]
    url = base(servers) + f"/console/api/handoffs/{hid}/assist"
    assert httpx.post(url).status_code == 401
    no_csrf = httpx.post(url, cookies=agent.cookies)
    assert no_csrf.status_code == 403 and "CSRF" in no_csrf.json()["error"]
    r = agent.post(f"/handoffs/{hid}/assist")
    assert r.status_code == 200, r.text
    d = r.json()
    assert d["text"] == "i forgot my password and cannot log in"
    assert [e["id"] for e in d["entries"]][0] == "password-reset" and len(d["entries"]) == 3
    assert agent.post("/handoffs/nope/assist").status_code == 404
    # before the customer writes again: their question, not "talk to a human" (what they said last)
    other = conversation()
    say(servers, other, "my parcel has not arrived yet")
    say(servers, other, "talk to a human")
    d = agent.post(f"/handoffs/{handoff_of(agent, other)['id']}/assist").json()
    assert d["text"] == "my parcel has not arrived yet" and d["entries"]


def test_real_faq_turns_record_why_for_the_agent_and_customers_never_see_it(servers, accounts):
    agent = console(servers, "cara")
    sender = conversation()
    answered = say(servers, sender, QUESTION)
    missed = say(servers, sender, MISSING)
    for reply in answered + missed:  # REST customers get text (and the answer's entry to vote on) only
        assert set(reply) <= {"recipient_id", "text", "faq", "buttons"}, reply
    say(servers, sender, "talk to a human")
    hid = handoff_of(agent, sender)["id"]
    transcript = agent.get(f"/handoffs/{hid}").json()["transcript"]
    bots = [t for t in transcript if t["role"] == "bot" and t["why"]]
    answer, miss = bots[0]["why"], bots[1]["why"]
    assert answer["decision"] == "answer" and answer["candidates"][0]["id"] == "password-reset"
    assert answer["candidates"][0]["question"] == QUESTION and len(answer["candidates"]) == 3
    assert answer["candidates"][0]["score"] >= answer["thresholds"]["answer"]
    assert miss["decision"] == "miss" and miss["candidates"][0]["score"] < miss["thresholds"]["answer"]
    assert answer["index"] and set(answer["thresholds"]) >= {"answer", "margin", "clarify", "window"}


def test_canned_replies_agents_use_them_editors_and_admins_manage_them(servers, accounts):
    agent, admin = console(servers, "cara"), console(servers, "root")
    assert httpx.get(base(servers) + "/console/api/canned").status_code == 401
    refused = agent.post("/canned", json={"name": "by-agent", "text": "hi"})
    assert refused.status_code == 403 and "admin" in refused.json()["error"]
    made = admin.post("/canned", json={"name": "console-admin", "text": "From an admin."})
    assert made.status_code == 200, made.text
    editor, agent_on_editor = staff_client(servers, "eddie"), staff_client(servers, "cara")
    r = editor.post("/canned", json={"name": "api-label-help", "text": "Print the label from your order page."})
    assert r.status_code == 200, r.text
    cid = r.json()["canned"]["id"]
    dup = editor.post("/canned", json={"name": "api-label-help", "text": "again"})
    assert dup.status_code == 409 and "already exists" in dup.json()["error"]
    bad = editor.post("/canned", json={"name": "Returns Label", "text": "x"})
    assert bad.status_code == 400 and bad.json()["error"].startswith("name")
    long = editor.post("/canned", json={"name": "long", "text": "x" * 2001})
    assert long.status_code == 400 and long.json()["error"].startswith("text")
    no_csrf = httpx.post(editor_base(servers) + "/api/canned", cookies=editor.cookies,
                         json={"name": "forged", "text": "x"})
    assert no_csrf.status_code == 403
    for write in (lambda c: c.post("/canned", json={"name": "agent-one", "text": "x"}),
                  lambda c: c.put(f"/canned/{cid}", json={"name": "api-label-help", "text": "changed"}),
                  lambda c: c.delete(f"/canned/{cid}")):
        assert write(agent_on_editor).status_code == 403
    edited = editor.put(f"/canned/{cid}", json={"name": "api-label-help", "text": "Print it from Orders."})
    assert edited.status_code == 200 and edited.json()["canned"]["updated_by"] == "eddie"
    listed = {c["name"]: c["text"] for c in agent.get("/canned").json()["canned"]}
    assert listed["api-label-help"] == "Print it from Orders." and "by-agent" not in listed
    assert agent.get("/canned").json()["can_edit"] is False
    assert editor.delete(f"/canned/{cid}").status_code == 200
    assert editor.delete(f"/canned/{cid}").status_code == 404
    assert "api-label-help" not in {c["name"] for c in agent.get("/canned").json()["canned"]}
