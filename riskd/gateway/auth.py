"""Bearer tokens: reads (GET, HEAD) take the read or the operator token, changes only the
operator's, each sent as ``Authorization: Bearer <token>`` (the scheme in any case, RFC 9110).
A kind of request with no token configured is open: the gateway is then on loopback."""

from __future__ import annotations

import hmac
from typing import Final

from aiohttp import web
from aiohttp.typedefs import Handler, Middleware

from riskd.core.bodies import same_ascii_word
from riskd.core.secrets import Secret
from riskd.gateway.errors import Refused

READS: Final = frozenset({"GET", "HEAD"})
_CHALLENGE: Final = {"WWW-Authenticate": "Bearer"}


def _bearer(header: str) -> bytes | None:
    """The token of ``Authorization: Bearer <token>``; None without that scheme."""
    scheme, _, token = header.strip().partition(" ")
    token = token.strip(" ")
    if not same_ascii_word(scheme, "Bearer") or not token:
        return None
    return token.encode("utf-8", "surrogateescape")  # the bytes the client sent


def _matches(given: bytes, token: Secret | None) -> bool:
    return token is not None and hmac.compare_digest(given, token.reveal().encode())


def bearer_auth(read_token: Secret | None, operator_token: Secret | None) -> Middleware:
    """The middleware that asks every request for the token its kind needs: a 401 with a
    ``WWW-Authenticate: Bearer`` challenge when it is missing or wrong, a 403 for the read
    token on a change."""

    @web.middleware
    async def auth(request: web.Request, handler: Handler) -> web.StreamResponse:
        change = request.method not in READS
        if (operator_token if change else read_token) is None:
            return await handler(request)
        given = _bearer(request.headers.get("Authorization", ""))
        if given is None:
            raise Refused(401, "Authorization: send 'Bearer <token>'", headers=_CHALLENGE)
        if _matches(given, operator_token) or (not change and _matches(given, read_token)):
            return await handler(request)
        if change and _matches(given, read_token):
            raise Refused(403, "changes need the operator's token")
        raise Refused(401, "wrong bearer token", headers=_CHALLENGE)

    return auth
