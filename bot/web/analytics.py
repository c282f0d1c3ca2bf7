"""The analytics page and its JSON / CSV API (mounted at ``/analytics`` by ``bot.apps.editor_server``,
the staff pages' own process: reading many rows never burdens the customer-facing servers).

Any staff role may read (``bot.staff.auth``: session cookie, role; every route here only reads, and
logout needs the CSRF token). No CORS grant is ever sent. The figures come from
``bot.analytics.service.Analytics``, computed off the event loop.
"""

from __future__ import annotations

import asyncio
from typing import Any, Callable

from sanic import Blueprint, response
from sanic.request import Request

from bot.analytics.period import PeriodError, parse_period
from bot.analytics.service import Analytics
from bot.analytics.tables import to_csv
from bot.staff.accounts import ADMIN, AGENT, EDITOR, StaffStore
from bot.staff.auth import SECURITY_HEADERS, add_error_handlers, add_login_routes, error, ok, staff_route
from bot.web.assets import page_routes

ROLES = (AGENT, EDITOR, ADMIN)
STATIC = {"analytics.js", "analytics.css", "staff.js"}
VENDOR = {"chart.umd.min.js"}
REFRESH_BUDGET = 0.5  # seconds a request spends folding new events into the summary; the rest waits


def blueprint(analytics: Callable[[], Analytics], staff: Callable[[], StaffStore], tz: str, *,
              session_hours: Callable[[], float], trusted_proxies: Callable[[], list[str]]) -> Blueprint:
    bp = Blueprint("analytics", url_prefix="/analytics")
    add_error_handlers(bp)
    add_login_routes(bp, staff, cookie_path="/analytics", roles=ROLES, session_hours=session_hours,
                     trusted_proxies=trusted_proxies)
    page_routes(bp, "analytics.html", STATIC, SECURITY_HEADERS, VENDOR)
    reader = staff_route(staff, ROLES, csrf=False)

    async def figures(request: Request) -> dict[str, Any]:
        period = parse_period(request.args.get("since"), request.args.get("until"), tz)
        return await asyncio.get_running_loop().run_in_executor(
            None, lambda: analytics().report(period, REFRESH_BUDGET))

    @bp.route("/api/report", methods=["GET"])
    @reader
    async def report(request: Request) -> response.HTTPResponse:
        try:
            return ok(await figures(request))
        except PeriodError as exc:
            return error(str(exc), 400)

    @bp.route("/api/csv/<name>", methods=["GET"])
    @reader
    async def csv(request: Request, name: str) -> response.HTTPResponse:
        try:
            found = await figures(request)
        except PeriodError as exc:
            return error(str(exc), 400)
        table = next((t for t in found["tables"] if t["name"] == name), None)
        if table is None:
            names = ", ".join(t["name"] for t in found["tables"])
            return error(f"no table {name!r}: the tables are {names}", 404)
        from bot.analytics.tables import Table

        period = found["period"]
        filename = f"analytics-{name}-{period['since']}-{period['until']}.csv"
        return response.text(to_csv(Table(**table)), content_type="text/csv; charset=utf-8",
                             headers={**SECURITY_HEADERS,
                                      "Content-Disposition": f'attachment; filename="{filename}"'})

    return bp
