"""The status page: ``GET /`` and its files under ``/static/``, all shipped in ``riskd.web``.

The files hold no data, so they take no token: the page reads everything through the API
with the token the user gives it (kept in the tab's sessionStorage), and its streams offer
it as a WebSocket subprotocol (``riskd.gateway.auth``). A strict Content-Security-Policy lets
the page load nothing but these files and talk to nothing but this gateway.
"""

from __future__ import annotations

from typing import Final

from aiohttp import web

from riskd.core.bodies import shown
from riskd.gateway.auth import public
from riskd.gateway.errors import Refused
from riskd.web import asset

PAGE_PATH: Final = "/"
STATIC_FILES: Final = {
    "page.js": "text/javascript",
    "charts.js": "text/javascript",
    "page.css": "text/css",
}
SECURITY_HEADERS: Final = {
    "Content-Security-Policy": (
        "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; "
        "img-src 'self' data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-cache",
}


async def _page(_request: web.Request) -> web.Response:
    return web.Response(
        text=asset("page.html"), content_type="text/html", charset="utf-8", headers=SECURITY_HEADERS
    )


async def _static(request: web.Request) -> web.Response:
    name = request.match_info["name"]
    if name not in STATIC_FILES:
        files = ", ".join(sorted(STATIC_FILES))
        raise Refused(404, f"name: no file {shown(name)} (files: {files})")
    return web.Response(
        text=asset(name), content_type=STATIC_FILES[name], charset="utf-8", headers=SECURITY_HEADERS
    )


def add_page_routes(app: web.Application) -> None:
    """``GET /`` and ``GET /static/{name}``, served without a token."""
    public(app, app.router.add_get(PAGE_PATH, _page, allow_head=False))
    public(app, app.router.add_get("/static/{name}", _static, allow_head=False))
