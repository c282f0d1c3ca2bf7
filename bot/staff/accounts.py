"""Staff accounts with a role, and their login sessions (tables ``agents`` and ``agent_sessions``).

The table names predate roles: every account made before roles existed is an ``agent``; opening
the store adds the ``role`` column to an older database (:func:`migrate`), keeping every row.
"""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass
from datetime import timedelta

import sqlalchemy as sa

from bot.db import aware, metadata, utcnow

AGENT, EDITOR, ADMIN = "agent", "editor", "admin"
ROLES = (AGENT, EDITOR, ADMIN)
NAME_RE = re.compile(r"^[\w.-]{1,64}$")  # letters of any script, digits, '.', '-', '_'

accounts = sa.Table(
    "agents", metadata,
    sa.Column("name", sa.String(64), primary_key=True),
    sa.Column("password_hash", sa.String(255), nullable=False),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("last_seen", sa.DateTime(timezone=True)),
    sa.Column("role", sa.String(16), nullable=False, server_default=AGENT),
)
sessions = sa.Table(
    "agent_sessions", metadata,
    sa.Column("token", sa.String(64), primary_key=True),
    sa.Column("agent", sa.String(64), sa.ForeignKey("agents.name"), nullable=False),
    sa.Column("csrf", sa.String(64), nullable=False),
    sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
)


class StaffError(ValueError):
    """A name or role that cannot be used; the message says what is allowed."""


@dataclass(frozen=True)
class Staff:
    """Who is behind a live session."""

    name: str
    role: str
    csrf: str


def check_name(name: str) -> str:
    name = name.strip()
    if not NAME_RE.fullmatch(name):
        raise StaffError("a staff name is 1-64 letters, digits, '.', '-' or '_'")
    return name


def check_role(role: str) -> str:
    if role not in ROLES:
        raise StaffError(f"a role is one of {', '.join(ROLES)}, not {role!r}")
    return role


def migrate(engine: sa.engine.Engine) -> list[str]:
    """Bring an older database up to date; returns what it changed (nothing lost, idempotent)."""
    done = []
    if not _has_role(engine):  # before roles: every account was an agent
        try:
            with engine.begin() as conn:
                conn.execute(sa.text(f"ALTER TABLE agents ADD COLUMN role VARCHAR(16) NOT NULL "
                                     f"DEFAULT '{AGENT}'"))
            done.append("agents.role added; existing accounts are agents")
        except sa.exc.DBAPIError:
            if not _has_role(engine):  # not another process migrating at the same moment
                raise
    return done


def _has_role(engine: sa.engine.Engine) -> bool:
    return "role" in {c["name"] for c in sa.inspect(engine).get_columns("agents")}


class StaffStore:
    def __init__(self, engine: sa.engine.Engine):
        self.engine = engine
        metadata.create_all(engine, tables=[accounts, sessions])
        migrate(engine)

    def add_agent(self, name: str, password_hash: str, role: str | None = None) -> None:
        """Create an account, or set a new password (and the role, when given) for an existing one."""
        name = check_name(name)
        with self.engine.begin() as conn:
            exists = conn.execute(sa.select(accounts.c.name).where(accounts.c.name == name)).first()
            if exists:
                values = {"password_hash": password_hash, **({"role": check_role(role)} if role else {})}
                conn.execute(accounts.update().where(accounts.c.name == name).values(**values))
            else:
                conn.execute(accounts.insert().values(name=name, password_hash=password_hash,
                                                      role=check_role(role or AGENT), created_at=utcnow()))

    def set_role(self, name: str, role: str) -> bool:
        with self.engine.begin() as conn:
            return conn.execute(accounts.update().where(accounts.c.name == name)
                                .values(role=check_role(role))).rowcount == 1

    def agent_hash(self, name: str) -> str | None:
        with self.engine.connect() as conn:
            return conn.execute(sa.select(accounts.c.password_hash)
                                .where(accounts.c.name == name)).scalar_one_or_none()

    def agent_names(self) -> list[str]:
        return [name for name, _ in self.accounts()]

    def accounts(self) -> list[tuple[str, str]]:
        """(name, role) of every account, by name."""
        with self.engine.connect() as conn:
            return [(r.name, r.role) for r in
                    conn.execute(sa.select(accounts.c.name, accounts.c.role).order_by(accounts.c.name))]

    def remove_agent(self, name: str) -> bool:
        with self.engine.begin() as conn:
            conn.execute(sessions.delete().where(sessions.c.agent == name))
            return conn.execute(accounts.delete().where(accounts.c.name == name)).rowcount == 1

    def create_session(self, name: str, lifetime: timedelta) -> tuple[str, str]:
        token, csrf = secrets.token_urlsafe(32), secrets.token_urlsafe(32)
        with self.engine.begin() as conn:
            conn.execute(sessions.insert().values(token=token, agent=name, csrf=csrf,
                                                  expires_at=utcnow() + lifetime))
            conn.execute(accounts.update().where(accounts.c.name == name).values(last_seen=utcnow()))
        return token, csrf

    def authenticate(self, token: str) -> Staff | None:
        """Who holds the live session ``token``; refreshes their last-seen time."""
        with self.engine.begin() as conn:
            row = conn.execute(sa.select(sessions.c.agent, sessions.c.csrf, sessions.c.expires_at,
                                         accounts.c.role)
                               .join(accounts, accounts.c.name == sessions.c.agent)
                               .where(sessions.c.token == token)).first()
            if row is None or aware(row.expires_at) < utcnow():
                return None
            conn.execute(accounts.update().where(accounts.c.name == row.agent).values(last_seen=utcnow()))
        return Staff(row.agent, row.role, row.csrf)

    def session(self, token: str) -> tuple[str, str] | None:
        """(name, csrf token) for a live session; refreshes the last-seen time."""
        staff = self.authenticate(token)
        return (staff.name, staff.csrf) if staff else None

    def end_session(self, token: str) -> None:
        with self.engine.begin() as conn:
            conn.execute(sessions.delete().where(sessions.c.token == token))

    def agents_online(self, within: timedelta) -> list[str]:
        """Agents (and admins, who may take hand-offs) with a live session seen within ``within``."""
        now = utcnow()
        with self.engine.connect() as conn:
            rows = conn.execute(sa.select(accounts.c.name, accounts.c.last_seen).join(
                sessions, sessions.c.agent == accounts.c.name).where(
                sessions.c.expires_at > now, accounts.c.role.in_((AGENT, ADMIN)))).all()
        return sorted({r.name for r in rows if r.last_seen and aware(r.last_seen) > now - within})
