"""Bearer tokens: reads (GET, HEAD) take the read or the operator token, changes only the
operator's, each sent as ``Authorization: Bearer <token>`` (the scheme in any case, RFC 9110).
A kind of request with no token configured is open: the gateway is then on loopback.

Routes registered with :func:`written_by_robots` are changed with a robot's token instead,
when robots are configured (without robots, the operator's rule holds): the handler finds the
robot with :func:`robot_of`. Routes registered with :func:`authenticated_by_body` (the FMZ
protocol, whose body carries the robot's key) take no bearer token: their handler checks it,
and :func:`public` routes (the status page's files, which hold no data) take none at all.

A browser cannot set headers on a WebSocket, so a WebSocket request without ``Authorization``
may carry its token as a subprotocol instead, as Kubernetes' API server takes it:
``Sec-WebSocket-Protocol: riskd, bearer.<the token in unpadded base64url>``; the stream then
answers with the ``riskd`` subprotocol (:data:`WS_PROTOCOL`).
"""

from __future__ import annotations

import base64
import binascii
import hmac
from typing import Final

from aiohttp import web
from aiohttp.typedefs import Handler, Middleware

from riskd.core.bodies import same_ascii_word
from riskd.core.secrets import Secret
from riskd.gateway.errors import Refused
from riskd.gateway.robots import RobotTokens

READS: Final = frozenset({"GET", "HEAD"})
NO_ROBOTS: Final = RobotTokens()
_CHALLENGE: Final = {"WWW-Authenticate": "Bearer"}
_SEND_TOKEN: Final = "Authorization: send 'Bearer <token>'"
_WRONG_TOKEN: Final = "wrong bearer token"
_ROBOT_WRITES: Final = web.AppKey("robot_writes", set[web.AbstractRoute])
_ROBOT: Final = web.RequestKey("robot", str)
_NO_BEARER: Final = web.AppKey("no_bearer", set[web.AbstractRoute])
WS_PROTOCOL: Final = "riskd"
"""The subprotocol a stream answers with; offered beside ``bearer.<token>`` by browsers."""
_WS_TOKEN_PREFIX: Final = "bearer."


def authenticated_by_body(app: web.Application, route: web.AbstractRoute) -> None:
    """Let *route* through without a bearer token: its handler authenticates the body."""
    public(app, route)


def public(app: web.Application, route: web.AbstractRoute) -> None:
    """Let *route* through without a bearer token (what it serves holds no data)."""
    if _NO_BEARER not in app:
        app[_NO_BEARER] = set()
    app[_NO_BEARER].add(route)


def written_by_robots(app: web.Application, route: web.AbstractRoute) -> None:
    """Let robots' tokens, and only theirs, make *route*'s changes (see the module)."""
    if _ROBOT_WRITES not in app:
        app[_ROBOT_WRITES] = set()
    app[_ROBOT_WRITES].add(route)


def robot_of(request: web.Request) -> str | None:
    """The robot whose token made *request* (a change on a route written by robots); None
    when no robot is configured."""
    return request.get(_ROBOT)


def _bearer(header: str) -> bytes | None:
    """The token of ``Authorization: Bearer <token>``; None without that scheme."""
    scheme, _, token = header.strip().partition(" ")
    token = token.strip(" ")
    if not same_ascii_word(scheme, "Bearer") or not token:
        return None
    return token.encode("utf-8", "surrogateescape")  # the bytes the client sent


def _matches(given: bytes, token: Secret | None) -> bool:
    return token is not None and hmac.compare_digest(given, token.reveal().encode())


def _subprotocol_token(header: str) -> bytes | None:
    """The token a browser's WebSocket offers as ``bearer.<base64url>`` in
    ``Sec-WebSocket-Protocol``; None without one (or with one that is not base64url)."""
    for offered in header.split(","):
        offered = offered.strip()
        if offered.startswith(_WS_TOKEN_PREFIX):
            encoded = offered.removeprefix(_WS_TOKEN_PREFIX)
            try:
                return base64.urlsafe_b64decode(encoded + "=" * (-len(encoded) % 4))
            except (binascii.Error, ValueError):
                return None
    return None


def _given(request: web.Request) -> bytes:
    header = request.headers.get("Authorization")
    if header is None and request.headers.get("Upgrade", "").lower() == "websocket":
        given = _subprotocol_token(request.headers.get("Sec-WebSocket-Protocol", ""))
    else:
        given = _bearer(header or "")
    if given is None:
        raise Refused(401, _SEND_TOKEN, headers=_CHALLENGE)
    return given


def bearer_auth(
    read_token: Secret | None, operator_token: Secret | None, robots: RobotTokens = NO_ROBOTS
) -> Middleware:
    """The middleware that asks every request for the token its kind needs: a 401 with a
    ``WWW-Authenticate: Bearer`` challenge when it is missing or wrong, a 403 for the read
    token on a change, and for a gateway token on a change that *robots* make."""

    @web.middleware
    async def auth(request: web.Request, handler: Handler) -> web.StreamResponse:
        if request.match_info.route in request.app.get(_NO_BEARER, ()):
            return await handler(request)
        change = request.method not in READS
        if change and robots and request.match_info.route in request.app.get(_ROBOT_WRITES, ()):
            given = _given(request)
            robot = robots.robot_for(given)
            if robot is not None:
                request[_ROBOT] = robot
                return await handler(request)
            if _matches(given, operator_token) or _matches(given, read_token):
                raise Refused(403, "this change needs a robot's token")
            raise Refused(401, _WRONG_TOKEN, headers=_CHALLENGE)
        if (operator_token if change else read_token) is None:
            return await handler(request)
        given = _given(request)
        if _matches(given, operator_token) or (not change and _matches(given, read_token)):
            return await handler(request)
        if change and _matches(given, read_token):
            raise Refused(403, "changes need the operator's token")
        raise Refused(401, _WRONG_TOKEN, headers=_CHALLENGE)

    return auth
