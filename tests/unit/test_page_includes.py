"""The staff pages share one login form (bot/web/static/login.html), put in by the server; the
browser tests log in through it on each page."""

from importlib import resources

import pytest

from bot.web.assets import INCLUDE, page

pytestmark = pytest.mark.unit
STAFF_PAGES = ("console.html", "editor.html", "analytics.html")


@pytest.mark.parametrize("name", STAFF_PAGES)
def test_each_staff_page_is_served_with_the_one_login_form(name):
    served = page(name)
    assert not INCLUDE.search(served), "an include directive reached the browser"
    html = served.decode()
    assert html.count('<form id="login" hidden>') == 1 and html.count('id="login-error"') == 1
    assert '<input name="password" type="password" autocomplete="current-password" required>' in html
    source = resources.files("bot.web").joinpath(f"static/{name}").read_text()
    assert 'type="password"' not in source, "the form is written once, in login.html"
