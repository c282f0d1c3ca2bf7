"""The FAQ editor in a real browser: an editor turns a question the bot missed into an entry, tries it
against the draft, publishes, and the next customer gets the answer; two editors on one entry; the
history's rollback; a CSV import's preview; hostile text stays harmless."""

import time

import pytest

from tests.e2e.a11y import assert_accessible
from tests.e2e.test_editor_api import PASSWORD, editor_base, editors, staff_client, wait_serving  # noqa: F401
from tests.e2e.test_rest_conversations import conversation, say

MISSING = "Can I book a tour of your warehouse with my school class?"
HOSTILE = "<script>window.__xss = 1</script><img src=x onerror=\"window.__xss = 2\"> Sure!"


def log_in(browser, servers, name):
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    page.goto(editor_base(servers) + "/")
    page.wait_for_selector("form#login:visible")
    assert_accessible(page, "editor login")
    page.fill("input[name=name]", name)
    page.fill("input[name=password]", PASSWORD)
    page.click("form#login button[type=submit]")
    page.wait_for_selector(f"#whoami:has-text('Logged in as {name}')")
    return page


def open_entry(page, entry_id):
    page.fill("#search", entry_id)
    page.locator("#entries tbody tr", has_text=entry_id).first.click()
    page.wait_for_selector(f"#edit-title:has-text('{entry_id}')")


def latest_id(client):
    return client.get("/versions").json()["versions"][0]["id"]


def published(page, client, before, timeout=60.0):
    """Wait until the version the page published after version ``before`` (the newest before the
    click) is serving: the click's POST may not have landed when this starts."""
    deadline = time.monotonic() + timeout
    while (latest := latest_id(client)) <= before:
        assert time.monotonic() < deadline, f"no version after {before} within {timeout} s"
        time.sleep(0.1)
    left = max(deadline - time.monotonic(), 1.0)
    page.wait_for_selector(f"#build-banner[data-version='{latest}'][data-state=serving]", timeout=left * 1000)


@pytest.fixture
def screenshot_dir(root):
    folder = root / "docs" / "images"
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def test_a_missed_question_becomes_an_entry_that_the_next_customer_gets(
        servers, editors, browser, screenshots, screenshot_dir):  # noqa: F811
    replies = say(servers, conversation(), MISSING)
    assert not any("15 % off" in (r.get("text") or "") for r in replies)
    page = log_in(browser, servers, "eddie")
    screenshots.append(page)
    page.click("#tabs button[data-tab=inbox]")
    group = page.locator("#groups > li", has_text=MISSING)
    group.wait_for(timeout=30_000)  # the miss is in the inbox, grouped
    assert "miss" in group.inner_text()
    page.screenshot(path=str(screenshot_dir / "editor-inbox.png"))
    assert_accessible(page, "editor's inbox")
    group.locator("button", has_text="New entry").click()
    page.wait_for_selector("#from-inbox:has-text('leave the inbox')")
    assert page.input_value("input[name=question]") == MISSING  # prefilled from the group
    page.fill("input[name=id]", "warehouse-tours")
    page.fill("input[name=file]", "contact.yml")
    page.fill("textarea[name=alternates]", "Do you offer visits to your warehouse?\nwarehouse tour for a class")
    page.fill("textarea[name=answer]",
              "Yes: **15 % off** nothing, but tours are free.\n\n- book a week ahead\n- max 20 people")
    page.wait_for_selector("#preview strong:has-text('15 % off')")
    assert_accessible(page, "editor with an entry open")
    assert page.locator("#preview li").count() == 2  # rendered like the widget renders it

    page.fill("#try-form input[name=question]", MISSING)
    page.click("#try-form button[type=submit]")
    page.wait_for_selector("#try-result .decision >> nth=1", timeout=30_000)
    live, draft = page.locator("#try-result .decision").all()
    assert "warehouse-tours" not in live.inner_text()
    assert "answers with warehouse-tours" in draft.inner_text() and "thresholds" in draft.inner_text()
    page.locator("#try").scroll_into_view_if_needed()
    page.screenshot(path=str(screenshot_dir / "editor-try.png"))
    assert_accessible(page, "editor's try box with both decisions")

    page.fill("input[name=message]", "warehouse tours, from the inbox")
    newest = latest_id(editors["eddie"])
    page.click("#publish")
    published(page, editors["eddie"], newest)
    replies = say(servers, conversation(), MISSING)
    assert any("tours are free" in (r.get("text") or "") for r in replies), replies
    page.click("#tabs button[data-tab=inbox]")
    page.wait_for_selector("#inbox-counts:has-text('new entry')")
    assert page.locator("#groups > li", has_text=MISSING).count() == 0  # acted on: it left the inbox
    page.close()


def test_two_editors_on_one_entry_the_second_sees_the_conflict(servers, editors, browser, screenshots,  # noqa: F811
                                                                screenshot_dir):
    first, second = log_in(browser, servers, "eddie"), log_in(browser, servers, "erin")
    screenshots += [first, second]
    for page in (first, second):
        open_entry(page, "warranty-no-receipt")
    first.fill("textarea[name=answer]", "Eddie: a bank statement works as proof of purchase.")
    newest = latest_id(editors["eddie"])
    first.click("#publish")
    published(first, editors["eddie"], newest)
    second.fill("textarea[name=answer]", "Erin: we need the receipt.")
    second.click("#publish")
    second.wait_for_selector("#conflict:has-text('changed since you opened it by eddie')")
    assert "Eddie: a bank statement" in second.locator("#conflict").inner_text()
    second.screenshot(path=str(screenshot_dir / "editor-conflict.png"))
    second.reload()  # the unpublished edit survives a reload
    second.wait_for_selector("#whoami:has-text('erin')")
    open_entry(second, "warranty-no-receipt")
    second.wait_for_selector("#restored:has-text('restored')")
    assert second.input_value("textarea[name=answer]") == "Erin: we need the receipt."
    second.click("#conflict button:has-text('Take theirs')") if second.locator("#conflict").is_visible() \
        else second.click("#discard")
    assert "Eddie" in second.input_value("textarea[name=answer]")
    first.close(), second.close()


def test_rollback_from_the_history(servers, editors, browser, screenshots, screenshot_dir):  # noqa: F811
    eddie = editors["eddie"]
    page = log_in(browser, servers, "eddie")
    screenshots.append(page)
    open_entry(page, "product-manual")
    before = page.input_value("textarea[name=answer]")
    page.fill("textarea[name=answer]", "Manuals are gone, sorry.")
    newest = latest_id(editors["eddie"])
    page.click("#publish")
    published(page, editors["eddie"], newest)
    target = eddie.get("/versions").json()["versions"][1]["id"]
    page.click("#tabs button[data-tab=history]")
    page.locator(f"#versions tbody tr[data-id='{target + 1}']").click()
    page.wait_for_selector("#version-changes ins:has-text('Manuals are gone')")
    page.screenshot(path=str(screenshot_dir / "editor-history.png"))
    assert_accessible(page, "editor's history with a version's changes")
    page.locator(f"#versions tbody tr[data-id='{target}']").click()
    page.once("dialog", lambda d: d.accept())
    newest = latest_id(editors["eddie"])
    page.click("#rollback")
    published(page, editors["eddie"], newest)
    assert wait_serving(eddie)["kind"] == "rollback"
    now = next(e for e in eddie.get("/entries").json()["entries"] if e["id"] == "product-manual")
    assert now["answer"] == before
    page.close()


def test_csv_import_previews_changes_and_errors_before_writing(servers, editors, browser, screenshots,  # noqa: F811
                                                                 tmp_path, screenshot_dir):
    eddie = editors["eddie"]
    exported = eddie.get("/export")
    assert exported.status_code == 200 and exported.headers["content-type"].startswith("text/csv")
    rows = exported.text.lstrip("\ufeff").splitlines()
    assert rows[0] == "id,question,alternates,answer,tags,file"
    csv_file = tmp_path / "faq.csv"
    csv_file.write_text('question,answer\r\n"Do you ship to Mars?","Not yet."\r\n"",No question here\r\n')
    versions_before = len(eddie.get("/versions").json()["versions"])
    page = log_in(browser, servers, "eddie")
    screenshots.append(page)
    page.click("#tabs button[data-tab=csv]")
    page.set_input_files("#csv-form input[type=file]", str(csv_file))
    page.click("#csv-form button[type=submit]")
    page.wait_for_selector("#csv-plan:has-text('1 to add')")
    assert "row 3" in page.locator("#csv-plan").inner_text()
    assert page.locator("#csv-apply").is_disabled()  # an error blocks the import
    page.screenshot(path=str(screenshot_dir / "editor-import.png"))
    assert_accessible(page, "editor's import preview")
    assert len(eddie.get("/versions").json()["versions"]) == versions_before  # nothing written
    page.close()


def test_hostile_text_is_harmless_in_the_editor(servers, editors, browser, screenshots):  # noqa: F811
    eddie = editors["eddie"]
    say(servers, conversation(), HOSTILE + " zebra crossing")  # a miss: into the inbox as typed
    r = eddie.post("/publish", json={"changes": [{"op": "save", "id": "hostile-entry", "base": None, "entry": {
        "question": HOSTILE, "alternates": [HOSTILE + " again"], "answer": HOSTILE, "tags": ["<b>tag</b>"],
        "file": "contact.yml"}}]})
    assert r.status_code == 202, r.text
    wait_serving(eddie)
    page = log_in(browser, servers, "eddie")
    screenshots.append(page)
    dialogs = []
    page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    row = page.locator("#entries tbody tr", has_text="hostile-entry")
    row.wait_for()
    assert HOSTILE in row.inner_text()  # shown literally
    row.click()
    page.wait_for_selector("#preview:has-text('Sure!')")
    assert page.locator("#preview script, #preview img[onerror]").count() == 0
    page.click("#tabs button[data-tab=inbox]")
    page.locator("#groups > li", has_text="zebra crossing").wait_for(timeout=30_000)
    page.click("#tabs button[data-tab=history]")
    page.locator("#versions tbody tr").first.click()
    page.wait_for_selector("#version-changes ins")
    # text stays text everywhere; only the answer preview renders Markdown, sanitised like the widget
    assert page.locator("#entries img, #groups img, #history-view img, script:not([src])").count() == 0
    handlers = page.evaluate("""() => [...document.querySelectorAll('*')].filter(
        (n) => [...n.attributes].some((a) => a.name.startsWith('on'))).length""")
    assert handlers == 0
    assert page.evaluate("window.__xss") is None and dialogs == []
    page.close()
