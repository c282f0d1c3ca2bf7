"""The one authentication every staff page uses: a session cookie, a role, a CSRF token.

Login sets an HttpOnly, SameSite=Strict session cookie scoped to the page's path; every
state-changing call must echo the session's CSRF token in ``X-CSRF-Token``; failed logins are
rate-limited per name and address. A page adds the login routes with :func:`add_login_routes` and
guards each of its routes with :func:`staff_route`.
"""

from __future__ import annotations

import functools
import hmac
import logging
from datetime import timedelta
from typing import Any, Callable, Iterable

import sqlalchemy as sa
from sanic import Blueprint, response
from sanic.exceptions import InvalidUsage
from sanic.request import Request

from bot.staff.accounts import ROLES, StaffStore
from bot.staff.limiter import login_limiter
from bot.staff.passwords import verify_password

log = logging.getLogger(__name__)
COOKIE = "supportbot_session"
SECURITY_HEADERS = {
    "Content-Security-Policy": "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self'; "
                               "object-src 'none'; base-uri 'none'; frame-ancestors 'none'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
}
Handler = Callable[..., Any]


def error(message: str, status: int) -> response.HTTPResponse:
    return response.json({"error": message}, status=status, headers=SECURITY_HEADERS)


def ok(body: Any) -> response.HTTPResponse:
    return response.json(body, headers=SECURITY_HEADERS)


def add_error_handlers(bp: Blueprint) -> None:
    """A staff API's answers to what no route handles itself: a body Sanic cannot parse (400) and a
    database that does not answer (503, try again), as JSON with the security headers, not Sanic's
    HTML page or a bare 500."""

    @bp.exception(InvalidUsage)
    async def bad_request(request: Request, exc: InvalidUsage) -> response.HTTPResponse:
        return error(f"{exc}: send a JSON object", 400)

    @bp.exception(sa.exc.OperationalError, sa.exc.InterfaceError)
    async def database_away(request: Request, exc: Exception) -> response.HTTPResponse:
        log.warning("staff request %s %s: the database did not answer (%s)", request.method, request.path,
                    str(exc).splitlines()[0][:200])
        reply = error("the database is unreachable for the moment; try again in a few seconds", 503)
        reply.headers["Retry-After"] = "5"
        return reply


def staff_route(store: Callable[[], StaffStore], roles: Iterable[str] = ROLES,
                csrf: bool = True) -> Callable[[Handler], Handler]:
    """Let only a logged-in member of ``roles`` through (with the CSRF header when ``csrf``);
    the handler finds them as ``request.ctx.staff`` (and ``request.ctx.agent``, their name)."""
    allowed = tuple(roles)

    def wrap(handler: Handler) -> Handler:
        @functools.wraps(handler)
        async def inner(request: Request, *args: Any, **kwargs: Any) -> response.HTTPResponse:
            token = request.cookies.get(COOKIE)
            staff = store().authenticate(token) if token else None
            if staff is None:
                return error("log in first", 401)
            if staff.role not in allowed:
                return error(f"this needs the role {' or '.join(allowed)}; {staff.name} is {staff.role}", 403)
            if csrf and not hmac.compare_digest(request.headers.get("X-CSRF-Token", ""), staff.csrf):
                return error("missing or wrong X-CSRF-Token header; reload the page", 403)
            request.ctx.staff, request.ctx.agent, request.ctx.csrf = staff, staff.name, staff.csrf
            return await handler(request, *args, **kwargs)
        return inner
    return wrap


def from_proxy(request: Request, trusted: Iterable[str]) -> bool:
    return request.ip in set(trusted)


def came_over_https(request: Request, trusted: Iterable[str]) -> bool:
    """HTTPS to this server, or ``X-Forwarded-Proto: https`` from a trusted proxy (anyone else's
    header is ignored: a client could claim anything)."""
    if request.scheme == "https":
        return True
    proto = request.headers.get("X-Forwarded-Proto", "").split(",")[0].strip().lower()
    return proto == "https" and from_proxy(request, trusted)


def client_address(request: Request, trusted: Iterable[str]) -> str:
    """The peer, or behind trusted proxies the nearest address in ``X-Forwarded-For`` they did not add."""
    trusted = set(trusted)
    address = request.ip
    if address in trusted:
        for hop in reversed([h.strip() for h in request.headers.get("X-Forwarded-For", "").split(",")]):
            if hop and hop not in trusted:
                return hop
    return address


def add_login_routes(bp: Blueprint, store: Callable[[], StaffStore], *, cookie_path: str,
                     session_hours: Callable[[], float], roles: Iterable[str] = ROLES,
                     trusted_proxies: Callable[[], list[str]] = list,
                     redis_url: Callable[[], str] = str) -> None:
    """``POST api/login``, ``POST api/logout`` and ``GET api/me`` on ``bp``; failed logins are
    limited in this process, or across the nodes when ``redis_url()`` names a Redis server."""
    limiters: list[Any] = []  # chosen on the first login, when the settings are read
    allowed = tuple(roles)

    def set_cookie(res: response.HTTPResponse, request: Request, value: str, max_age: int | None) -> None:
        res.cookies[COOKIE] = value
        cookie = res.cookies[COOKIE]
        cookie["httponly"] = True
        cookie["samesite"] = "Strict"
        cookie["path"] = cookie_path
        cookie["secure"] = came_over_https(request, trusted_proxies())
        if max_age is not None:
            cookie["max-age"] = max_age

    @bp.route("/api/login", methods=["POST"])
    async def login(request: Request) -> response.HTTPResponse:
        body = request.json if isinstance(request.json, dict) else {}
        name, password = str(body.get("name", "")).strip(), str(body.get("password", ""))
        if not name or not password:
            return error("send a JSON body with name and password", 400)
        key = f"{name.lower()}|{client_address(request, trusted_proxies())}"
        if not limiters:
            limiters.append(login_limiter(redis_url()))
        limiter = limiters[0]
        wait = limiter.retry_after(key)
        if wait:
            return error(f"too many failed logins; try again in {int(wait) + 1} s", 429)
        if not verify_password(store().agent_hash(name), password):
            limiter.failed(key)
            log.warning("failed staff login for %r from %s", name, client_address(request, trusted_proxies()))
            return error("wrong name or password", 401)
        limiter.succeeded(key)
        token, csrf = store().create_session(name, timedelta(hours=session_hours()))
        staff = store().authenticate(token)
        if staff is None or staff.role not in allowed:
            store().end_session(token)
            return error(f"this page needs the role {' or '.join(allowed)}", 403)
        res = ok({"agent": name, "role": staff.role, "csrf": csrf})
        set_cookie(res, request, token, None)
        return res

    @bp.route("/api/logout", methods=["POST"])
    @staff_route(store)
    async def logout(request: Request) -> response.HTTPResponse:
        store().end_session(request.cookies.get(COOKIE, ""))
        res = ok({"ok": True})
        set_cookie(res, request, "", 0)  # the cookie's own path: one with Path=/ would not replace it
        return res

    @bp.route("/api/me", methods=["GET"])
    @staff_route(store, csrf=False)
    async def me(request: Request) -> response.HTTPResponse:
        return ok({"agent": request.ctx.agent, "role": request.ctx.staff.role, "csrf": request.ctx.csrf})
