"""Canned replies' store (issue 19, assist): validation names the field, names are unique, edits and
deletes; the roles are checked through the real servers in tests/e2e/test_console_assist_api.py."""

import pytest

from bot.canned.store import MAX_TEXT, CannedError, CannedNotFound, CannedStore, NameTaken
from bot.db import engine


@pytest.fixture
def store(tmp_path):
    return CannedStore(engine(f"sqlite:///{tmp_path / 'canned.db'}"))


def test_create_list_edit_delete(store):
    a = store.create({"name": "refund-policy", "text": "  Refunds take 5 days.  "}, "eve")
    store.create({"name": "greeting", "text": "Hello!"}, "eve")
    assert [c.name for c in store.all()] == ["greeting", "refund-policy"]
    assert a.text == "Refunds take 5 days." and a.updated_by == "eve"
    b = store.update(a.id, {"name": "refunds", "text": "Refunds take 3 days."}, "root")
    assert (b.id, b.name, b.text, b.updated_by) == (a.id, "refunds", "Refunds take 3 days.", "root")
    store.delete(a.id)
    assert [c.name for c in store.all()] == ["greeting"]
    with pytest.raises(CannedNotFound):
        store.delete(a.id)
    with pytest.raises(CannedNotFound):
        store.update(a.id, {"name": "x", "text": "y"}, "eve")


@pytest.mark.parametrize("body, field", [
    ({"name": "", "text": "t"}, "name"), ({"name": "Refund", "text": "t"}, "name"),
    ({"name": "a b", "text": "t"}, "name"), ({"name": "x" * 41, "text": "t"}, "name"),
    ({"name": "ok", "text": " "}, "text"), ({"name": "ok", "text": "x" * (MAX_TEXT + 1)}, "text"),
    ({"name": "ok"}, "text"), ("not an object", "body"),
])
def test_bad_input_names_the_field(store, body, field):
    with pytest.raises(CannedError) as err:
        store.create(body, "eve")
    assert err.value.field == field and field in str(err.value)
    assert store.all() == []


def test_limits_are_inclusive_and_names_unique(store):
    store.create({"name": "x" * 40, "text": "x" * MAX_TEXT}, "eve")
    other = store.create({"name": "other", "text": "t"}, "eve")
    with pytest.raises(NameTaken, match="already exists"):
        store.create({"name": "x" * 40, "text": "again"}, "eve")
    with pytest.raises(NameTaken):
        store.update(other.id, {"name": "x" * 40, "text": "t"}, "eve")
    assert sorted(c.name for c in store.all()) == ["other", "x" * 40]
