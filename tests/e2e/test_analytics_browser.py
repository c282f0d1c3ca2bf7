"""The analytics page through the real servers and a real browser: conversations made through the bot
(an answer, a miss, a bot-only rating, a clarify and a chosen option, a hand-off an agent answers),
their figures checked against what this test did; login, charts, CSV, accessibility, no CORS."""

from __future__ import annotations

import csv
import io
from datetime import datetime, timezone
from pathlib import Path

import httpx

from tests.e2e.a11y import assert_accessible
from tests.e2e.test_handoff import PASSWORD, base, conversation, poll, say, store, waiting_customer  # noqa: F401

IMAGES = Path(__file__).resolve().parents[2] / "docs" / "images"


def analytics_url(servers) -> str:
    return f"http://{servers.settings.host}:{servers.settings.editor_port}/analytics"


def login(servers) -> httpx.Client:
    client = httpx.Client(base_url=analytics_url(servers) + "/api", timeout=30)
    r = client.post("/login", json={"name": "bo", "password": PASSWORD})
    assert r.status_code == 200, r.text
    return client


def today() -> str:
    return datetime.now(timezone.utc).date().isoformat()


def figures(client: httpx.Client) -> dict[str, dict]:
    r = client.get("/report", params={"since": today(), "until": today()})
    assert r.status_code == 200, r.text
    tables = {t["name"]: t for t in r.json()["tables"]}
    summary = dict(tables["summary"]["rows"])
    days = dict(zip(tables["days"]["columns"], tables["days"]["rows"][-1]))
    reasons = dict(zip(tables["reasons"]["columns"], tables["reasons"]["rows"][-1]))
    ratings = {row[0]: dict(zip(tables["ratings"]["columns"], row)) for row in tables["ratings"]["rows"]}
    return {"summary": summary, "days": days, "reasons": reasons, "ratings": ratings}


def make_conversations(servers) -> None:
    rated = conversation()
    assert "3 business days" in say(servers, rated, "how long does it take to get my refund?")[0]["text"]
    say(servers, rated, "do you sell live llamas for weddings on mars")  # a miss
    [bye] = say(servers, rated, "bye")
    four = next(b["payload"] for b in bye["buttons"] if b["title"] == "4")
    say(servers, rated, four)
    vague = conversation()
    [clarify] = say(servers, vague, "my package")
    choice = next(b["payload"] for b in clarify["buttons"] if b["title"] == "How can I track my order?")
    say(servers, vague, choice)
    agent, person, hid = waiting_customer(servers)
    assert agent.post(f"/handoffs/{hid}/messages", json={"text": "Hi, Ana here."}).status_code == 200
    assert agent.post(f"/handoffs/{hid}/resolve").status_code == 200
    poll(servers, person)


def test_the_page_shows_the_figures_of_conversations_made_through_the_bot(servers, store, browser,  # noqa: F811
                                                                          screenshots):
    client = login(servers)
    before = figures(client)
    make_conversations(servers)
    after = figures(client)

    def grew(table: str, column: str) -> int:
        return int(after[table][column] or 0) - int(before[table][column] or 0)

    assert grew("summary", "conversations") == 3
    assert grew("summary", "contained") == 2  # the hand-off's conversation reached a person
    assert grew("summary", "FAQ questions") == 3  # an answer, a miss, a clarify (the choice ends it)
    assert grew("days", "options chosen") == 1
    assert grew("reasons", "user_request") == 1 and grew("reasons", "all reasons") == 1
    bot_before, bot_after = before["ratings"]["the bot alone"], after["ratings"]["the bot alone"]
    assert bot_after["ratings"] - bot_before["ratings"] == 1 and bot_after["4"] - bot_before["4"] == 1
    assert after["days"]["first reply median s"] is not None and after["days"]["handling median s"] is not None

    page = browser.new_page(accept_downloads=True)
    screenshots.append(page)
    page.set_viewport_size({"width": 1280, "height": 900})
    page.goto(analytics_url(servers) + "/")
    page.wait_for_selector("form#login")
    assert_accessible(page, "the analytics login page")
    IMAGES.mkdir(exist_ok=True)
    page.fill("input[name=name]", "bo")
    page.fill("input[name=password]", PASSWORD)
    page.click("form#login button[type=submit]")
    page.wait_for_selector("#whoami:has-text('Logged in as bo')")
    page.fill("input[name=since]", today())
    page.fill("input[name=until]", today())
    page.click("#period button[type=submit]")
    page.wait_for_selector(f"#status:has-text('{today()} to {today()}')")
    total = page.locator("#table-summary tbody tr", has_text="conversations").first.locator("td").nth(1)
    assert total.inner_text() == str(after["summary"]["conversations"])
    assert page.evaluate("Object.keys(Chart.instances).length") == 4
    assert page.locator("#definitions dt").count() >= 10
    assert page.locator("#table-groups a[href='/editor/#inbox']").count() >= 1  # the miss above is open
    assert_accessible(page, "the analytics page with charts, tables and definitions")
    page.screenshot(path=str(IMAGES / "analytics-page.png"), full_page=True)

    with page.expect_download() as download:
        page.click("#table-days a.csv")
    rows = list(csv.reader(io.StringIO(Path(download.value.path()).read_text("utf-8"))))
    assert rows[0][:3] == ["day", "conversations", "contained"]
    assert rows[-1][:3] == ["all", str(after["summary"]["conversations"]), str(after["summary"]["contained"])]

    page.click(".quick button[data-days='30']")
    page.wait_for_selector("#status:has-text('to')")
    page.fill("input[name=since]", "2020-01-01")
    page.fill("input[name=until]", "2020-01-07")
    page.click("#period button[type=submit]")
    page.wait_for_selector("#status:has-text('2020-01-01 to 2020-01-07')")
    assert page.locator("#table-days tr.total td").nth(1).inner_text() == "0"
    page.close()


def test_anonymous_requests_get_401_bad_periods_400_and_no_origin_gets_cors(servers, store):  # noqa: F811
    url = analytics_url(servers)
    assert httpx.get(url + "/api/report").status_code == 401
    assert httpx.get(url + "/api/csv/days").status_code == 401
    client = login(servers)
    bad = client.get("/report", params={"since": "last week"})
    assert bad.status_code == 400 and "7d" in bad.json()["error"]
    assert client.get("/csv/nope").status_code == 404
    for r in (client.get("/report", headers={"Origin": "http://evil.test"}),
              httpx.options(url + "/api/report", headers={"Origin": "http://evil.test",
                                                          "Access-Control-Request-Method": "GET"}),
              httpx.get(url + "/", headers={"Origin": "http://shop.test"})):
        assert "access-control-allow-origin" not in {k.lower() for k in r.headers}
    page = httpx.get(url + "/")
    assert "script-src 'self'" in page.headers["content-security-policy"]
