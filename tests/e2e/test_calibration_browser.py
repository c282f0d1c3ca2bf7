"""Calibration from labelled real questions through the real servers: customers vote answers
helpful over REST, an editor marks near-topic questions "not ours" in the inbox (each a rebuild),
the builder recalibrates the serving version from the labels after the rebuild, and the editor's
History tab shows what the thresholds rest on (promised vs measured precision) in a real browser,
accessibly. Afterwards the labels are removed and the corpus-only thresholds serve again."""

import csv

import pytest

from bot.db import engine
from bot.inbox.store import MISS, InboxStore, answer_votes, inbox_handled, unanswered
from tests.e2e.a11y import assert_accessible
from tests.e2e.test_editor_api import editors, entry, saved, wait_serving  # noqa: F401
from tests.e2e.test_editor_browser import log_in, screenshot_dir  # noqa: F401
from tests.e2e.test_inbox_votes_and_ratings import vote
from tests.e2e.test_rest_conversations import conversation, say
from tests.integration.test_out_of_scope_real import FAMILIES, OTHER_TOPICS

VOTED = 20  # customers who vote an answer helpful


@pytest.fixture
def labels(servers, editors):  # noqa: F811
    """Labelled questions in the shared bot's database and examples in its out-of-scope file;
    afterwards both are removed and an edit is published, so that the tests that follow meet the
    corpus-only thresholds again (the editors fixture rolls the edit back)."""
    store = InboxStore(engine(servers.settings.handoff_db_url))
    examples = servers.settings.out_of_scope_path
    before = examples.read_text("utf-8") if examples.exists() else None
    made: dict[str, list] = {"senders": [], "ids": []}
    yield store, made
    with store.engine.begin() as conn:
        conn.execute(inbox_handled.delete().where(inbox_handled.c.question_id.in_(made["ids"])))
        conn.execute(unanswered.delete().where(unanswered.c.id.in_(made["ids"]) |
                                               unanswered.c.conversation_id.in_(made["senders"])))
        conn.execute(answer_votes.delete().where(answer_votes.c.conversation_id.in_(made["senders"])))
    if before is None:
        examples.unlink(missing_ok=True)
    else:
        examples.write_text(before, "utf-8")
    eddie = editors["eddie"]
    e = entry(eddie, "product-manual")
    r = eddie.post("/publish", json={"changes": [saved(e, answer=e["answer"] + " (recalibrated)")],
                                     "message": "recalibrate on the corpus alone"})
    assert r.status_code == 202, r.text
    wait_serving(eddie, 60)


def test_labelled_questions_recalibrate_and_the_history_tab_shows_what_the_thresholds_rest_on(
        servers, editors, labels, browser, screenshots, screenshot_dir, root):  # noqa: F811
    store, made = labels
    eddie = editors["eddie"]
    with open(root / "eval" / "demo_heldout.csv", encoding="utf-8") as fh:
        in_scope = [(r["query"], r["expected_id"]) for r in csv.DictReader(fh) if r["expected_id"]]
    voted = 0
    for question, expected in in_scope:  # customers whose answer was right vote it helpful
        sender = conversation()
        replies = say(servers, sender, question)
        faq = replies[-1].get("faq") if replies else None
        if not faq or faq["id"] != expected:
            continue
        made["senders"].append(sender)
        r = vote(servers, {"sender": sender, "faq_id": expected, "helpful": True})
        assert r.status_code == 200, r.text
        voted += 1
        if voted == VOTED:
            break
    assert voted == VOTED
    near = [t for family in FAMILIES for t in family] + OTHER_TOPICS
    for group in (near[: len(near) // 2], near[len(near) // 2:]):  # two inbox groups marked not ours
        ids = [store.add(f"calib-{conversation()}", text, MISS) for text in group]
        made["ids"] += ids
        r = eddie.post("/inbox/not-ours", json={"question_ids": ids})
        assert r.status_code == 202, r.text
        assert wait_serving(eddie, 60)["build"]["state"] == "serving"
    latest = eddie.get("/status").json()["latest"]
    assert "recalibrated from 57 labelled real questions" in latest["build"]["detail"]  # 20 + 37
    view = eddie.get("/calibration").json()
    traffic = view["serving"]["traffic"]
    assert traffic["labels"]["usable_by_source"] == {"vote_helpful": 20, "inbox_not_ours": 37}
    assert traffic["folds"] >= 2 and traffic["from_traffic"]["measured"]["samples"] == 57
    assert view["history"][0]["index_version"] == view["serving"]["index_version"]

    page = log_in(browser, servers, "agnes")  # agents may read it too
    screenshots.append(page)
    page.click("#tabs button[data-tab=history]")
    row = page.locator("#calibration-error tbody tr", has_text="labelled real questions")
    row.wait_for(timeout=30_000)
    promised = f"{traffic['promised']:.3f}"
    measured = f"{traffic['from_traffic']['measured']['precision']:.3f}"
    assert promised in row.inner_text() and measured in row.inner_text()
    assert "vote helpful: 20" in page.inner_text("#calibration-labels")
    assert "57 labelled real questions" in page.inner_text("#calibration-summary")
    assert page.locator("#calibration-history tbody tr").count() >= 1
    page.locator("#calibration").screenshot(path=str(screenshot_dir / "editor-calibration.png"))
    assert_accessible(page, "editor's calibration panel", "#calibration")
    page.close()
