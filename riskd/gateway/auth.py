"""Bearer tokens: reads (GET, HEAD) take the read or the operator token, changes only the
operator's, each sent as ``Authorization: Bearer <token>`` (the scheme in any case, RFC 9110).
A kind of request with no token configured is open: the gateway is then on loopback.

Routes registered with :func:`written_by_robots` are changed with a robot's token instead,
when robots are configured (without robots, the operator's rule holds): the handler finds the
robot with :func:`robot_of`. Routes registered with :func:`authenticated_by_body` (the FMZ
protocol, whose body carries the robot's key) take no bearer token: their handler checks it.
"""

from __future__ import annotations

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
_BODY_AUTH: Final = web.AppKey("body_auth", set[web.AbstractRoute])


def authenticated_by_body(app: web.Application, route: web.AbstractRoute) -> None:
    """Let *route* through without a bearer token: its handler authenticates the body."""
    if _BODY_AUTH not in app:
        app[_BODY_AUTH] = set()
    app[_BODY_AUTH].add(route)


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


def _given(request: web.Request) -> bytes:
    given = _bearer(request.headers.get("Authorization", ""))
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
        if request.match_info.route in request.app.get(_BODY_AUTH, ()):
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
