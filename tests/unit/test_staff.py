"""Staff accounts with roles: the migration of an older database, role checks, the CLI."""

import io
from datetime import timedelta

import pytest
import sqlalchemy as sa

from bot import cli
from bot.handoff.store import HandoffStore
from bot.settings import Settings
from bot.staff.accounts import StaffError, StaffStore, migrate

OLD_SCHEMA = [  # the staff tables as they were before roles (bot/handoff/store.py at 1860004)
    "CREATE TABLE agents (name VARCHAR(64) NOT NULL PRIMARY KEY, password_hash VARCHAR(255) NOT NULL, "
    "created_at TIMESTAMP WITH TIME ZONE NOT NULL, last_seen TIMESTAMP WITH TIME ZONE)",
    "CREATE TABLE agent_sessions (token VARCHAR(64) NOT NULL PRIMARY KEY, agent VARCHAR(64) NOT NULL "
    "REFERENCES agents (name), csrf VARCHAR(64) NOT NULL, expires_at TIMESTAMP WITH TIME ZONE NOT NULL)",
]


@pytest.fixture
def store(tmp_path):
    return HandoffStore.from_url(f"sqlite:///{tmp_path / 'handoffs.db'}")


def test_an_older_database_gains_roles_and_loses_nothing(store):
    with store.engine.begin() as conn:
        for ddl in OLD_SCHEMA:
            conn.execute(sa.text(ddl))
        conn.execute(sa.text("INSERT INTO agents (name, password_hash, created_at) VALUES "
                             "('ana', 'hash-a', '2026-11-01 10:00:00'), "
                             "('bo', 'hash-b', '2026-11-02 10:00:00')"))
        conn.execute(sa.text("INSERT INTO agent_sessions (token, agent, csrf, expires_at) VALUES "
                             "('tok', 'ana', 'csrf-a', '2999-01-01 00:00:00')"))
    staff = StaffStore(store.engine)  # opening the store migrates
    assert staff.accounts() == [("ana", "agent"), ("bo", "agent")]
    assert staff.agent_hash("ana") == "hash-a" and staff.agent_hash("bo") == "hash-b"
    assert staff.session("tok") == ("ana", "csrf-a")  # logged-in agents stay logged in
    assert migrate(store.engine) == []  # once is enough
    staff.add_agent("cy", "hash-c", "editor")
    assert StaffStore(store.engine).accounts()[-1] == ("cy", "editor")


def test_roles_are_checked_and_only_agents_and_admins_count_as_online(store):
    staff = StaffStore(store.engine)
    staff.add_agent("ana", "h")
    staff.add_agent("ed", "h", "editor")
    staff.add_agent("root", "h", "admin")
    with pytest.raises(StaffError, match="agent, editor, admin"):
        staff.add_agent("x", "h", "owner")
    with pytest.raises(StaffError, match="1-64 letters"):
        staff.add_agent("no spaces", "h")
    for name in ("ana", "ed", "root"):
        token, csrf = staff.create_session(name, timedelta(hours=1))
        assert staff.authenticate(token).role == dict(staff.accounts())[name]
    assert staff.agents_online(timedelta(minutes=1)) == ["ana", "root"]
    assert staff.set_role("ed", "agent") and staff.agents_online(timedelta(minutes=1)) == ["ana", "ed", "root"]
    staff.add_agent("ana", "new-hash")  # a new password keeps the role
    assert dict(staff.accounts())["ana"] == "agent" and staff.agent_hash("ana") == "new-hash"


def test_staff_cli_adds_accounts_with_roles_and_agents_add_still_works(tmp_path, monkeypatch, capsys):
    settings = Settings(root=tmp_path)

    def run(*argv, password="a long password"):
        monkeypatch.setattr("sys.stdin", io.StringIO(password + "\n"))
        return cli.main(list(argv), settings)

    assert run("staff", "add", "eve", "--role", "editor", "--password-stdin") == 0
    assert run("agents", "add", "ana", "--password-stdin") == 0
    assert "agent ana can now log in to the console" in capsys.readouterr().out
    assert run("staff", "list") == 0
    assert capsys.readouterr().out.splitlines() == ["ana\tagent", "eve\teditor"]
    assert run("staff", "add", "bad", "--password-stdin", password="short") == 1
    assert "at least 10 characters" in capsys.readouterr().err
    assert run("staff", "role", "ana", "admin") == 0 and run("agents", "list") == 0
    assert capsys.readouterr().out.splitlines()[-2:] == ["ana", "eve"]
    assert run("staff", "role", "nobody", "admin") == 1
    assert "no account named 'nobody'" in capsys.readouterr().err


def test_forwarded_headers_count_only_from_trusted_proxies():
    from types import SimpleNamespace

    from bot.staff.auth import came_over_https, client_address

    def request(ip, **headers):
        return SimpleNamespace(ip=ip, scheme="http", headers=headers)

    proxied = request("10.0.0.2", **{"X-Forwarded-Proto": "https", "X-Forwarded-For": "203.0.113.9, 10.0.0.3"})
    assert came_over_https(proxied, ["10.0.0.2"]) and not came_over_https(proxied, [])
    assert client_address(proxied, ["10.0.0.2", "10.0.0.3"]) == "203.0.113.9"
    assert client_address(proxied, []) == "10.0.0.2"  # anyone can write X-Forwarded-For
    assert came_over_https(SimpleNamespace(ip="1.2.3.4", scheme="https", headers={}), [])
