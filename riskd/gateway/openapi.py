"""The gateway's OpenAPI 3.1 document, as data: every route with its parameters (and the
patterns, enums and bounds the route enforces), request bodies, answers and tokens.

``GET /openapi.json``
    The document for the app that serves it: its accounts as the ``account`` enum and, when it
    serves market data, the market routes with its intervals. Built once per app. It holds no
    secret, but it is read like every other GET (``riskd.gateway.auth``): open on a gateway
    without tokens, else with the read (or operator) token.

The security schemes say which token a route takes when tokens are configured; a gateway on
loopback may have none, and then every route is open (``riskd.gateway.auth``). Every error
answer is JSON ``{"error": string}`` (``riskd.gateway.errors``), the ``Error`` schema, which
also names the optional fields some errors add (``accounts``, ``age_ms``). WebSocket routes
are documented as the GET of their handshake: 101, or the JSON error refusing it.
``tests/gateway/test_openapi.py`` checks that the document covers exactly the routes the app
serves.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final

from aiohttp import web

from riskd.core.bodies import (
    INT64_MAX,
    MAX_DEPTH,
    MAX_EPOCH_MS,
    MAX_TEXT_CHARS,
)
from riskd.exchange.key_safety import FindingCode, FindingSeverity, KeyVerdict
from riskd.gateway.banlist import MAX_WAIT_S
from riskd.gateway.channel_hub import CHANNEL_ID, MAX_CHANNELS, MAX_DATA_BYTES
from riskd.gateway.config import GatewayLimitsConfig
from riskd.gateway.flatten import FLATTEN_PATH
from riskd.gateway.limits import DEFAULT_LIMITS
from riskd.gateway.market import DEFAULT_LIMIT, MAX_STREAM_SYMBOLS, ROBOT_PATTERN
from riskd.gateway.ops import MAX_RECENT, RECENT_ALERTS
from riskd.gateway.page import PAGE_PATH, STATIC_FILES
from riskd.gateway.pnl import DEFAULT_HOURS, GROUPINGS
from riskd.health import JobState
from riskd.market.config import MarketConfig
from riskd.market.records import MAX_KLINES, SYMBOL_PATTERN, MarketKind
from riskd.notify.alerts import MAX_SILENCE_MS, Severity
from riskd.pnl.daily import DEFAULT_DAYS, MAX_DAYS
from riskd.pnl.report import MAX_HOURS
from riskd.protect.flatten import FlattenOutcome, FlattenStep, LeftReason, SliceStatus, StepStatus
from riskd.risk.attribution import UNATTRIBUTED
from riskd.risk.locks import LOCK_SIDES, OPERATOR_CHARS, REASON_CHARS, SYMBOL_CHARS, TradingState
from riskd.trade.config import ROBOT_NAME
from riskd.trade.decision_store import MAX_LISTED

Json = dict[str, Any]

OPENAPI_PATH: Final = "/openapi.json"
ERROR: Final[Json] = {"$ref": "#/components/schemas/Error"}
"""The schema of every error answer."""
_MISSING_OR_WRONG: Final = (401, "the token is missing or wrong")


@dataclass(frozen=True, slots=True)
class Access:
    """Who may make a request: any one of *schemes*' tokens (none: no bearer token), and the
    errors refusing the others."""

    schemes: tuple[str, ...]
    errors: tuple[tuple[int, str], ...]

    def security(self) -> list[dict[str, list[str]]]:
        """The operation's security requirements: any one of the schemes."""
        return [{scheme: []} for scheme in self.schemes]


READ: Final = Access(("readToken", "operatorToken"), (_MISSING_OR_WRONG,))
"""Reads (GET) take the read token or the operator's (``riskd.gateway.auth``)."""
CHANGE: Final = Access(
    ("operatorToken",), (_MISSING_OR_WRONG, (403, "the read token, on a change"))
)
"""Changes take the operator's token."""
ROBOT_WRITE: Final = Access(
    ("robotToken", "operatorToken"),
    (_MISSING_OR_WRONG, (403, "the read token; with robots configured, any but the owner's")),
)
"""A robot's token when robots are configured (``written_by_robots``), else the operator's."""
IN_BODY: Final = Access((), ())
"""No bearer token: the FMZ protocol carries the robot's token in the body."""
PUBLIC: Final = Access((), ())
"""No token at all: the status page's files, which hold no data."""
_BODY_ERRORS: Final = {
    400: f"the body is not JSON (UTF-8, nested at most {MAX_DEPTH} deep, no field twice), "
    "or is cut short",
    408: "the body did not arrive within body_timeout_ms",
    413: "the body is larger than max_body_bytes (refused on its Content-Length)",
    415: "not sent as application/json in UTF-8 without a Content-Encoding",
}
_WEBSOCKET: Final = {"101": {"description": "Switching Protocols: the WebSocket is open"}}
_TOO_MANY_STREAMS: Final = (
    429,
    "the client (its IP address) holds websockets_per_client WebSockets already, or the "
    "gateway websockets_total (the error names the limit)",
)
_TOO_MANY_WAITING: Final = (
    429,
    "long-poll: the client (its IP address) waits in long_polls_per_client long-polls "
    "already, or the gateway in long_polls_total (the error names the limit)",
)


def _ref(name: str) -> Json:
    return {"$ref": f"#/components/schemas/{name}"}


def _nullable(kind: str) -> Json:
    return {"type": [kind, "null"]}


def _body_account(accounts: Sequence[str]) -> Json:
    """A change body's ``account``: null or left out names none (the query's is taken)."""
    return {
        "type": ["string", "null"],
        "enum": [*accounts, None],
        "description": "null or left out: the query's account, or the only one",
    }


def _object(required: Mapping[str, Json], optional: Mapping[str, Json] | None = None) -> Json:
    """A JSON object with these fields (the *required* always present)."""
    return {
        "type": "object",
        "required": list(required),
        "properties": {**required, **(optional or {})},
    }


def _list_of(name: str, field: str) -> Json:
    """``{field: [name, ...]}``."""
    return _object({field: {"type": "array", "items": _ref(name)}})


def _text(max_chars: int) -> Json:
    """A name or reason: not blank, at most *max_chars* (riskd strips it)."""
    return {"type": "string", "minLength": 1, "maxLength": max_chars, "pattern": r"\S"}


def _anchored(pattern: str) -> str:
    """A pattern the route full-matches, anchored as JSON Schema needs it."""
    return f"^(?:{pattern})$"


_INT: Final = {"type": "integer"}
_MS: Final = {"type": "integer", "description": "epoch milliseconds"}
_STR: Final = {"type": "string"}
_BOOL: Final = {"type": "boolean"}
_DECIMAL: Final = {"type": "string", "description": "a decimal, as Binance writes it"}
_ID: Final = {"type": "integer", "format": "int64", "minimum": 1, "maximum": INT64_MAX}
_STRINGS: Final = {"type": "array", "items": _STR}
_SYMBOL: Final = {"type": "string", "pattern": _anchored(SYMBOL_PATTERN.pattern)}
_ROBOT_ID: Final = {"type": "string", "pattern": _anchored(ROBOT_PATTERN.pattern)}

_WWW_AUTHENTICATE: Final[Mapping[int, Json]] = {
    401: {"WWW-Authenticate": {"description": "Bearer", "schema": _STR}},
}
_ROBOT_NAME: Final = f"^{ROBOT_NAME}$"


def _query(name: str, schema: Json, description: str, *, required: bool = False) -> Json:
    return {
        "name": name,
        "in": "query",
        "required": required,
        "schema": schema,
        "description": description,
    }


def _path(name: str, schema: Json, description: str) -> Json:
    return {
        "name": name,
        "in": "path",
        "required": True,
        "schema": schema,
        "description": description,
    }


def _json(schema: Json, description: str, headers: Json | None = None) -> Json:
    """An answer with a JSON body."""
    answer: Json = {"description": description, "content": {"application/json": {"schema": schema}}}
    if headers:
        answer["headers"] = headers
    return answer


def _operation(
    summary: str,
    access: Access,
    answers: Mapping[str, Json],
    errors: Sequence[tuple[int, str]] = (),
    *,
    parameters: Sequence[Json] = (),
    body: Json | None = None,
    checked_body: bool = True,
) -> Json:
    """One operation: its *answers* (by status) and the JSON *errors* it refuses with
    (``(status, why)``), with those of its *access* and, with a *checked_body*, of reading it."""
    said: dict[int, list[str]] = {}
    extra = [*(_BODY_ERRORS.items() if body is not None and checked_body else ())]
    if "101" in answers:
        extra.append(_TOO_MANY_STREAMS)
    for status, description in (*access.errors, *extra, *errors):
        said.setdefault(status, []).append(description)
    refused = {
        str(status): _json(ERROR, "; or ".join(said[status]), _WWW_AUTHENTICATE.get(status))
        for status in sorted(said)
    }
    operation: Json = {
        "summary": summary,
        "security": access.security(),
        "responses": {**answers, **refused},
    }
    if parameters:
        operation["parameters"] = list(parameters)
    if body is not None:
        operation["requestBody"] = {
            "required": True,
            "content": {"application/json": {"schema": body}},
        }
    return operation


_BACKEND_DOWN: Final = "a riskd actor this needs is not running; try again"
_ONE_ACCOUNT: Final = (400, "account left out, and the gateway serves several")
_BAD_PARAMETER: Final = (400, "a parameter is wrong, unknown or given twice (named)")
_UNKNOWN_ACCOUNT: Final = (404, "unknown account (the error lists the accounts)")
_WAIT_SECONDS: Final = r"^(?:0?[0-5]?[0-9](?:\.[0-9]{1,3})?|0?60(?:\.0{1,3})?)$"
"""0 to 60 (MAX_WAIT_S) seconds, up to 3 digits and 3 decimals: what the long-poll takes."""


_TOLD: Final = _object(
    {
        "told_ms": _MS,
        "delivery": {"type": "string", "enum": ["pending", "sent", "failed"]},
        "name": _STR,
        "labels": {"type": "object", "additionalProperties": _STR},
        "severity": {"type": "string", "enum": [s.value for s in Severity]},
        "state": {"type": "string", "enum": ["firing", "resolved", "notice"]},
        "starts_ms": _MS,
        "ends_ms": _nullable("integer"),
    }
)


def _account(accounts: Sequence[str], description: str, *, required: bool | None = None) -> Json:
    """The ``account`` parameter: one of *accounts*, required when the gateway serves several
    unless *required* says otherwise (a route answering for every account without it, or a
    change whose body may name it)."""
    needed = len(accounts) > 1 if required is None else required
    schema = {"type": "string", "enum": list(accounts)}
    return _query("account", schema, description, required=needed)


def _ops_paths(accounts: Sequence[str]) -> Json:
    """``riskd.gateway.ops``: health, positions, locks, trading state, alerts, silences."""
    account = _account(accounts, "the account; may be left out when the gateway serves one")
    named = _account(
        accounts, "the account (or the body's); may be left out with one", required=False
    )
    operator = _query("operator", _text(OPERATOR_CHARS), "who does it", required=True)
    reads = (_ONE_ACCOUNT, _UNKNOWN_ACCOUNT, (503, _BACKEND_DOWN))
    changes = (_ONE_ACCOUNT, (400, "what is sent is wrong (the error names it)"), *reads[1:])
    return {
        "/v1/health": {
            "get": _operation(
                "The jobs, what the position books cannot vouch for, whether alerts get out",
                READ,
                {
                    "200": _json(_ref("Health"), "riskd vouches for its data"),
                    "503": _json(
                        {"anyOf": [_ref("Health"), ERROR]},
                        "riskd cannot vouch for its data: the health with its problems; or "
                        f"{_BACKEND_DOWN}",
                    ),
                },
            ),
        },
        "/v1/positions": {
            "get": _operation(
                "One account's position book, or every account's",
                READ,
                {
                    "200": _json(
                        {"oneOf": [_ref("Positions"), _list_of("Positions", "accounts")]},
                        "the account's book; without ?account= every account's",
                    )
                },
                reads[1:],
                parameters=[
                    _account(accounts, "the account; every account's without", required=False)
                ],
            ),
        },
        "/v1/positions/stream": {
            "get": _operation(
                "WebSocket: the account's book with each position's ladder rungs and distance "
                "to liquidation, at once and then on every change",
                READ,
                _WEBSOCKET,
                (*reads, (400, "an unknown parameter"), (426, "not a WebSocket handshake")),
                parameters=[account],
            ),
        },
        "/v1/locks": {
            "get": _operation(
                "The account's active locks",
                READ,
                {"200": _json(_list_of("Lock", "locks"), "the active locks")},
                reads,
                parameters=[account],
            ),
            "post": _operation(
                "An operator's lock (audited; the ban list is republished at once)",
                CHANGE,
                {"201": _json(_ref("Lock"), "the lock")},
                (
                    *changes,
                    (400, "the exchange does not list the symbol"),
                    (503, "riskd has no list of symbols to check it against (lock ALL)"),
                ),
                parameters=[named],
                body=_ref("LockRequest"),
            ),
        },
        "/v1/locks/{id}": {
            "delete": _operation(
                "End a lock now (audited)",
                CHANGE,
                {"200": _json(_ref("Lock"), "the lock, no longer active")},
                (*changes, (400, "the lock ended already"), (404, "no such lock")),
                parameters=[
                    _path("id", _ID, "the lock's id"),
                    account,
                    operator,
                    _query("reason", _text(REASON_CHARS), "why", required=True),
                ],
            ),
        },
        "/v1/state": {
            "get": _operation(
                "The account's trading state",
                READ,
                {"200": _json(_ref("State"), "the trading state")},
                reads,
                parameters=[account],
            ),
            "post": _operation(
                "An operator's trading state (audited; it holds until an operator changes it "
                "or rules escalate it on new losses)",
                CHANGE,
                {"200": _json(_ref("State"), "the new trading state")},
                changes,
                parameters=[named],
                body=_ref("StateRequest"),
            ),
        },
        "/v1/alerts": {
            "get": _operation(
                "Every firing alert, most severe first, and whether it is muted",
                READ,
                {"200": _json(_list_of("Alert", "alerts"), "the firing alerts")},
                [(503, _BACKEND_DOWN)],
            ),
        },
        "/v1/alerts/recent": {
            "get": _operation(
                "What the Alerter told its first receiver lately, newest first: a row per alert "
                "of each notification, with its state then and the delivery's",
                READ,
                {"200": _json(_object({"alerts": {"type": "array", "items": _TOLD}}), "the rows")},
                [_BAD_PARAMETER, (503, _BACKEND_DOWN)],
                parameters=[
                    _hours("the window"),
                    _query(
                        "limit",
                        {"type": "integer", "minimum": 1, "maximum": MAX_RECENT},
                        f"the newest N notifications (default {RECENT_ALERTS})",
                    ),
                ],
            ),
        },
        "/v1/silences": {
            "get": _operation(
                "Every current silence",
                READ,
                {"200": _json(_list_of("Silence", "silences"), "the silences")},
                [(503, _BACKEND_DOWN)],
            ),
            "post": _operation(
                "A new silence",
                CHANGE,
                {"201": _json(_ref("Silence"), "the silence")},
                [(400, "a field is wrong (named)"), (503, _BACKEND_DOWN)],
                body=_ref("SilenceRequest"),
            ),
        },
        "/v1/silences/{id}": {
            "delete": _operation(
                "End a silence now",
                CHANGE,
                {"200": _json(_ref("Silence"), "the silence, ended")},
                [
                    (400, "a parameter is wrong (named), or the silence ended already"),
                    (404, "no such silence"),
                    (503, _BACKEND_DOWN),
                ],
                parameters=[_path("id", _ID, "the silence's id"), operator],
            ),
        },
        "/v1/keys/check": {
            "post": _operation(
                "Read now what each account's API key may do (withdrawals, IP restriction, "
                "reading, futures, the trading authority's end); no body. A change: each read "
                "spends weight of the account's budget",
                CHANGE,
                {
                    "200": _json(
                        _ref("KeyChecks"),
                        "every account's check (the one named): an account whose key could "
                        "not be read now says why in its error",
                    )
                },
                (_BAD_PARAMETER, _UNKNOWN_ACCOUNT),
                parameters=[
                    _account(
                        accounts, "only this account's; every account's without", required=False
                    )
                ],
            ),
        },
    }


def _banlist_paths(accounts: Sequence[str]) -> Json:
    """``riskd.gateway.banlist``: the snapshot, its long-poll and its stream."""
    account = _account(accounts, "the account; may be left out when the gateway serves one")
    headers = {
        "ETag": {"description": "the snapshot's version", "schema": _STR},
        "Cache-Control": {"description": "no-cache", "schema": _STR},
    }
    refused = (_ONE_ACCOUNT, _UNKNOWN_ACCOUNT)
    return {
        "/v1/banlist": {
            "get": _operation(
                "The account's ban list; with version=N, a long-poll for a newer one",
                READ,
                {
                    "200": _json(_ref("BanList"), "the snapshot", headers),
                    "304": {
                        "description": "If-None-Match names the current ETag (or *); or "
                        "nothing newer than version within wait, or the gateway shuts down",
                        "headers": headers,
                    },
                },
                (
                    *refused,
                    (400, "version or wait is wrong, or wait comes without version"),
                    _TOO_MANY_WAITING,
                    (503, "no ban list for the account yet"),
                ),
                parameters=[
                    account,
                    _query(
                        "version",
                        {"type": "integer", "minimum": 0, "maximum": INT64_MAX},
                        "long-poll: the version held; answered as soon as a newer one exists",
                    ),
                    _query(
                        "wait",
                        {"type": "string", "pattern": _WAIT_SECONDS},
                        f"long-poll: seconds to wait, 0 to {MAX_WAIT_S:g} (default 0); "
                        "only with version",
                    ),
                    {
                        "name": "If-None-Match",
                        "in": "header",
                        "required": False,
                        "schema": _STR,
                        "description": "ETags held (weak comparison), or *",
                    },
                ],
            ),
        },
        "/v1/banlist/stream": {
            "get": _operation(
                "WebSocket: the current snapshot, then every new version (as the GET's JSON)",
                READ,
                _WEBSOCKET,
                (*refused, (426, "not a WebSocket handshake")),
                parameters=[account],
            ),
        },
    }


def _market_paths(config: MarketConfig) -> Json:
    """``riskd.gateway.market``: klines, ticker, mark, their stream and the stats."""
    robot = _query("robot", _ROBOT_ID, "who asks, as the stats count it (default anonymous)")
    symbol = _query("symbol", _SYMBOL, "a symbol the feed carries", required=True)
    bad = (400, "a parameter is wrong, unknown or given twice (named)")
    refused = (
        bad,
        (404, "a symbol the feed does not carry"),
        (503, "the feed has not named its symbols yet, or has no data for it yet"),
    )
    stale = (503, "the data is older than its max_age (the error gives its age_ms)")
    bound = {"type": "integer", "minimum": 0, "maximum": INT64_MAX}
    return {
        "/v1/market/klines": {
            "get": _operation(
                "Klines, oldest first, selected as Binance does; beyond the cache's window "
                "from SQL",
                READ,
                {"200": _json(_ref("Klines"), "the klines")},
                (*refused, stale, (503, _BACKEND_DOWN)),
                parameters=[
                    symbol,
                    _query(
                        "interval",
                        {"type": "string", "enum": list(config.intervals)},
                        "an interval the feed carries",
                        required=True,
                    ),
                    _query(
                        "limit",
                        {"type": "integer", "minimum": 1, "maximum": MAX_KLINES},
                        f"how many (default {DEFAULT_LIMIT})",
                    ),
                    _query("startTime", bound, "the first opened from this epoch ms, inclusive"),
                    _query("endTime", bound, "the last opened up to this epoch ms, inclusive"),
                    robot,
                ],
            ),
        },
        "/v1/market/ticker": {
            "get": _operation(
                "The best bid and ask, and the last price",
                READ,
                {"200": _json(_ref("Ticker"), "the ticker")},
                (*refused, stale),
                parameters=[symbol, robot],
            ),
        },
        "/v1/market/mark": {
            "get": _operation(
                "The mark and index price, and funding",
                READ,
                {"200": _json(_ref("Mark"), "the mark")},
                (*refused, stale),
                parameters=[symbol, robot],
            ),
        },
        "/v1/market/stream": {
            "get": _operation(
                "WebSocket: the current ticker, mark and newest klines of each symbol, then "
                "every change, one JSON message each",
                READ,
                _WEBSOCKET,
                (*refused, (426, "not a WebSocket handshake")),
                parameters=[
                    _query(
                        "symbols",
                        {
                            "type": "array",
                            "items": _SYMBOL,
                            "minItems": 1,
                            "maxItems": MAX_STREAM_SYMBOLS,
                        },
                        f"symbols the feed carries, comma-separated, at most {MAX_STREAM_SYMBOLS}",
                        required=True,
                    )
                    | {"style": "form", "explode": False},
                    robot,
                ],
            ),
        },
        "/v1/market/stats": {
            "get": _operation(
                "Requests answered per robot, and the age of each kind of data per symbol",
                READ,
                {"200": _json(_ref("MarketStats"), "the stats")},
                [bad],
                parameters=[robot],
            ),
        },
    }


def _channel_paths() -> Json:
    """``riskd.gateway.channels``: the robots' latest state, and its stream."""
    channel = _path(
        "id", {"type": "string", "pattern": _anchored(CHANNEL_ID.pattern)}, "the channel"
    )
    return {
        "/v1/channels/{id}": {
            "put": _operation(
                "Publish a channel's state: any JSON; the first publish makes the robot its owner",
                ROBOT_WRITE,
                {"200": _json(_ref("ChannelVersion"), "the version published")},
                [
                    (400, "a bad id"),
                    (413, f"the state is larger than {MAX_DATA_BYTES} bytes as compact JSON"),
                    (507, f"the gateway holds {MAX_CHANNELS} channels already"),
                ],
                parameters=[channel],
                body={"description": f"any JSON, at most {MAX_DATA_BYTES} bytes compact"},
            ),
            "get": _operation(
                "A channel's latest state",
                READ,
                {"200": _json(_ref("Channel"), "the latest state")},
                [(400, "a bad id"), (404, "the channel has not been published yet")],
                parameters=[channel],
            ),
        },
        "/v1/channels/{id}/stream": {
            "get": _operation(
                "WebSocket: the current state, then every new version (as the GET's JSON)",
                READ,
                _WEBSOCKET,
                [(400, "a bad id"), (426, "not a WebSocket handshake")],
                parameters=[channel],
            ),
        },
    }


def _trade_paths(accounts: Sequence[str]) -> Json:
    """The robots' trading routes: the FMZ protocol, and the pre-trade gate's decisions."""
    return {
        "/fmz/{label}": {
            "post": _operation(
                "FMZ's universal protocol, answering the docker as an exchange",
                IN_BODY,
                {"200": _json(_ref("FmzAnswer"), "always 200: the data, or an error")},
                parameters=[_path("label", _STR, "the exchange's label in FMZ")],
                body=_ref("FmzRequest"),
                checked_body=False,
            ),
        },
        "/v1/orders": {
            "get": _operation(
                "The pre-trade gate's decisions",
                READ,
                {
                    "200": _json(
                        {
                            "type": "object",
                            "required": ["orders"],
                            "properties": {
                                "orders": {"type": "array", "items": _ref("OrderDecision")}
                            },
                        },
                        "the decisions, newest first",
                    )
                },
                [
                    (400, "a parameter is wrong (named)"),
                    _UNKNOWN_ACCOUNT,
                    (503, _BACKEND_DOWN),
                ],
                parameters=[
                    _account(accounts, "one account's"),
                    _query("robot", {"type": "string", "pattern": _ROBOT_NAME}, "one robot's"),
                    _query(
                        "limit",
                        {"type": "integer", "minimum": 1, "maximum": MAX_LISTED},
                        "at most this many (default 100)",
                    ),
                ],
            ),
        },
    }


def _pnl_paths(accounts: Sequence[str]) -> Json:
    """``riskd.gateway.pnl``: PnL per robot or per symbol."""
    return {
        "/v1/pnl": {
            "get": _operation(
                "The account's realized PnL, commission and funding per robot or per symbol",
                READ,
                {"200": _json(_ref("PnlReport"), "the PnL, rows sorted by key and asset")},
                [
                    _ONE_ACCOUNT,
                    _BAD_PARAMETER,
                    _UNKNOWN_ACCOUNT,
                    (404, "the robot does not trade on the account"),
                    (503, _BACKEND_DOWN),
                ],
                parameters=[
                    _account(accounts, "the account; may be left out when the gateway serves one"),
                    _query(
                        "by",
                        {"type": "string", "enum": list(GROUPINGS), "default": GROUPINGS[0]},
                        "a row per robot or per symbol",
                    ),
                    _hours("the window"),
                    _query(
                        "robot",
                        {"type": "string", "pattern": _ROBOT_NAME},
                        f"one robot's (or {UNATTRIBUTED})",
                    ),
                ],
            ),
        },
    }


def _hours(what: str) -> Json:
    return _query(
        "hours",
        {"type": "integer", "minimum": 1, "maximum": MAX_HOURS},
        f"{what}: the last N hours (default {DEFAULT_HOURS})",
    )


_EQUITY: Final = _object(
    {
        "account": _STR,
        "assets": _STRINGS,
        "start_ms": _MS,
        "end_ms": _MS,
        "points": {"type": "array", "items": _ref("EquityPoint")},
    }
)
_ROBOT_DECISIONS: Final = _object(
    {
        "robot": _STR,
        "passed": {"type": "integer", "minimum": 0},
        "refused": {"type": "integer", "minimum": 0},
        "last_refusal": _nullable("string"),
        "last_refused_ms": _nullable("integer"),
    }
)


def _status_page_paths(accounts: Sequence[str]) -> Json:
    """What the status page reads beside the other routes (``riskd.gateway.pnl``,
    ``riskd.gateway.orders``), and the page itself (``riskd.gateway.page``): no token."""
    account = _account(accounts, "the account; may be left out when the gateway serves one")
    refused = (
        _ONE_ACCOUNT,
        _BAD_PARAMETER,
        _UNKNOWN_ACCOUNT,
        (503, _BACKEND_DOWN),
    )
    files = {"type": "string", "enum": sorted(STATIC_FILES)}
    return {
        "/v1/equity": {
            "get": _operation(
                "The account's equity (wallet + unrealized PnL) per minute the Ledger recorded",
                READ,
                {"200": _json(_EQUITY, "the points, oldest first")},
                refused,
                parameters=[account, _hours("the window")],
            ),
        },
        "/v1/orders/summary": {
            "get": _operation(
                "Per robot, the orders the pre-trade gate passed and refused, and its latest "
                "refusal",
                READ,
                {
                    "200": _json(
                        _object(
                            {
                                "account": _STR,
                                "since_ms": _MS,
                                "robots": {"type": "array", "items": _ROBOT_DECISIONS},
                            }
                        ),
                        "per robot, by name",
                    )
                },
                refused,
                parameters=[account, _hours("the window")],
            ),
        },
        PAGE_PATH: {
            "get": _operation(
                "The status page (HTML; it reads the routes above with the token it is given)",
                PUBLIC,
                {"200": {"description": "the page", "content": {"text/html": {"schema": _STR}}}},
            ),
        },
        "/static/{name}": {
            "get": _operation(
                "A file of the status page (script or style sheet)",
                PUBLIC,
                {
                    "200": {
                        "description": "the file",
                        "content": {
                            "text/javascript": {"schema": _STR},
                            "text/css": {"schema": _STR},
                        },
                    }
                },
                [(404, "no such file")],
                parameters=[_path("name", files, "the file")],
            ),
        },
    }


def _report_paths(accounts: Sequence[str]) -> Json:
    """``riskd.gateway.report``: figures per UTC day."""
    return {
        "/v1/report/daily": {
            "get": _operation(
                "The account's realized PnL, commission, funding, trades, win rate and worst "
                "symbol per UTC day (every day of the window, today included)",
                READ,
                {"200": _json(_ref("DailyReport"), "per day its totals, then its rows per key")},
                [
                    _ONE_ACCOUNT,
                    _BAD_PARAMETER,
                    _UNKNOWN_ACCOUNT,
                    (503, _BACKEND_DOWN),
                ],
                parameters=[
                    _account(accounts, "the account; may be left out when the gateway serves one"),
                    _query(
                        "by",
                        {"type": "string", "enum": list(GROUPINGS)},
                        "rows per robot or per symbol under each day's total (default: none)",
                    ),
                    _query(
                        "days",
                        {"type": "integer", "minimum": 1, "maximum": MAX_DAYS},
                        f"the window: the last N UTC days, today included (default {DEFAULT_DAYS})",
                    ),
                ],
            ),
        },
    }


def _flatten_paths(accounts: Sequence[str]) -> Json:
    """``riskd.gateway.flatten``: the emergency flatten."""
    return {
        FLATTEN_PATH: {
            "post": _operation(
                "An operator's emergency flatten: stop new risk (HALTED, or a lock of the symbol "
                "or the robot), cancel the open orders in scope but the stop ladder's, close the "
                "positions in scope with reduce-only MARKET slices, confirm flat from the "
                "exchange; answered once it ended (audited, alerted)",
                CHANGE,
                {
                    "200": _json(
                        _ref("FlattenReport"),
                        "the flatten's report: flat, or incomplete with what is left and why",
                    )
                },
                (
                    _ONE_ACCOUNT,
                    (400, "a field is wrong or missing (named)"),
                    _UNKNOWN_ACCOUNT,
                    (404, "the robot does not trade on the account"),
                    (404, "the exchange does not list the symbol"),
                    (409, "a flatten of the account is running"),
                    (503, _BACKEND_DOWN),
                ),
                parameters=[
                    _account(
                        accounts,
                        "the account (or the body's); may be left out with one",
                        required=False,
                    )
                ],
                body=_ref("FlattenRequest"),
            ),
        },
    }


def _flatten_schemas(accounts: Sequence[str]) -> Json:
    text_or_empty = {"type": "string", "description": "empty when not given"}
    return {
        "FlattenRequest": _object(
            {"operator": _text(OPERATOR_CHARS), "reason": _text(REASON_CHARS)},
            {
                "account": _body_account(accounts),
                "symbol": {
                    "type": ["string", "null"],
                    "pattern": rf"^[A-Z0-9_]{{1,{SYMBOL_CHARS}}}$",
                    "description": "only this symbol (one the exchange lists); null or left "
                    "out: all",
                },
                "robot": {
                    "type": ["string", "null"],
                    "pattern": _ROBOT_NAME,
                    "description": "only this robot's orders and positions (as its fills "
                    "built them); the other robots keep trading",
                },
            },
        )
        | {"additionalProperties": False},
        "FlattenReport": _object(
            {
                "id": {**_nullable("integer"), "description": "its flattens row (null: none)"},
                "account": _STR,
                "scope": {**_STR, "description": "account, symbol S, robot R [on S]"},
                "operator": _STR,
                "reason": _STR,
                "started_ms": _MS,
                "ended_ms": _MS,
                "outcome": {"type": "string", "enum": [o.value for o in FlattenOutcome]},
                "steps": {"type": "array", "items": _ref("FlattenStep")},
                "cancelled": {"type": "array", "items": _ref("FlattenCancel")},
                "kept_rungs": {**_INT, "description": "the stop ladder's orders left in place"},
                "slices": {"type": "array", "items": _ref("FlattenSlice")},
                "left": {"type": "array", "items": _ref("FlattenLeft")},
                "closed": {**_INT, "description": "positions in scope it had to close"},
            }
        ),
        "FlattenStep": _object(
            {
                "step": {"type": "string", "enum": [s.value for s in FlattenStep]},
                "status": {"type": "string", "enum": [s.value for s in StepStatus]},
                "detail": _STR,
            }
        ),
        "FlattenCancel": _object(
            {
                "symbol": _STR,
                "client_id": _STR,
                "order_id": {**_INT, "description": "the algo id of a conditional order"},
                "algo": _BOOL,
                "cancelled": _BOOL,
                "error": text_or_empty,
            }
        ),
        "FlattenSlice": _object(
            {
                "symbol": _STR,
                "position_side": {"type": "string", "enum": ["BOTH", "LONG", "SHORT"]},
                "side": {"type": "string", "enum": ["BUY", "SELL"]},
                "quantity": _DECIMAL,
                "client_order_id": _STR,
                "attempt": _INT,
                "status": {"type": "string", "enum": [s.value for s in SliceStatus]},
                "filled_qty": {**_nullable("string"), "description": "null: not said"},
                "code": {**_nullable("integer"), "description": "the exchange's error code"},
                "message": text_or_empty,
            }
        ),
        "FlattenLeft": _object(
            {
                "symbol": _STR,
                "position_side": _STR,
                "amount": {**_DECIMAL, "description": "signed: short is negative"},
                "reason": {"type": "string", "enum": [r.value for r in LeftReason]},
                "detail": _STR,
            }
        ),
    }


def _document_path() -> Json:
    return {
        OPENAPI_PATH: {
            "get": _operation(
                "This document",
                READ,
                {"200": _json({"type": "object"}, "the OpenAPI document")},
            ),
        },
    }


# ----------------------------------------------------------------------------- the schemas


def _schemas(accounts: Sequence[str]) -> Json:
    state = {"type": "string", "enum": [state.value for state in TradingState]}
    side = {"type": "string", "enum": list(LOCK_SIDES)}
    return {
        "Error": _object(
            {"error": {"type": "string", "description": "what is wrong, naming the field"}},
            {
                "accounts": {**_STRINGS, "description": "the accounts served, on an account error"},
                "age_ms": {**_INT, "description": "how old the market data is, when too old"},
            },
        ),
        "Health": _object(
            {
                "ok": _BOOL,
                "time": _MS,
                "problems": _STRINGS,
                "alerting": _object({"ok": _BOOL, "problems": _STRINGS}, {"last_round_ms": _MS}),
                "keys": _object(
                    {
                        "ok": _BOOL,
                        "problems": _STRINGS,
                        "accounts": {"type": "array", "items": _ref("KeyCheck")},
                    }
                )
                | {"description": "the API keys as last read: not a reason for 503"},
                "jobs": {"type": "array", "items": _ref("Job")},
            }
        ),
        "KeyChecks": _object(
            {
                "ok": {**_BOOL, "description": "every key checked is safe, as read now"},
                "accounts": {"type": "array", "items": _ref("KeyCheck")},
            }
        ),
        "KeyCheck": _object(
            {
                "account": _STR,
                "verdict": {"type": "string", "enum": [v.value for v in KeyVerdict]},
                "ok": {**_BOOL, "description": "safe, and the last read worked"},
                "summary": _STR,
                "findings": {"type": "array", "items": _ref("KeyFinding")},
                "checked_ms": {
                    **_nullable("integer"),
                    "description": "when Binance last answered (server ms); null: never",
                },
                "trading_authority_expiration_ms": {
                    **_nullable("integer"),
                    "description": "the end Binance reported; null: none",
                },
                "attempted_ms": {**_nullable("integer"), "description": "the last read"},
                "error": {**_nullable("string"), "description": "why the last read failed"},
            }
        ),
        "KeyFinding": _object(
            {
                "code": {"type": "string", "enum": [c.value for c in FindingCode]},
                "severity": {"type": "string", "enum": [s.value for s in FindingSeverity]},
                "text": _STR,
            }
        ),
        "Job": _object(
            {
                "job": _STR,
                "account": _STR,
                "state": {"type": "string", "enum": [state.value for state in JobState]},
                "restarts": _INT,
                "health": {"oneOf": [_ref("JobHealth"), {"type": "null"}]},
            }
        ),
        "JobHealth": _object(
            {
                "job": _STR,
                "account": _STR,
                "interval_ms": _INT,
                "egress": _STR,
                "weight_per_minute": _INT,
                "started_ms": _MS,
                "node_id": _STR,
                "pid": _INT,
                "last_success_ms": _nullable("integer"),
                "last_error": _nullable("string"),
                "last_error_ms": _nullable("integer"),
                "calls": _INT,
                "errors": _INT,
                "weight_used_1m": _INT,
                "extra": {"type": "object"},
                "lag_ms": _INT,
                "late": _BOOL,
            }
        ),
        "Positions": _object(
            {
                "account": _STR,
                "now_ms": _MS,
                "positions": {"type": "array", "items": _ref("Position")},
                "balances": {"type": "array", "items": _ref("Balance")},
                "sources": {"type": "array", "items": _ref("Source")},
            }
        ),
        "Position": _object(
            {
                "symbol": _STR,
                "position_side": _STR,
                "amount": _DECIMAL,
                "entry_price": _DECIMAL,
                "update_time_ms": _MS,
                "break_even_price": _nullable("string"),
                "mark_price": _nullable("string"),
                "unrealized_pnl": _nullable("string"),
                "liquidation_price": _nullable("string"),
            }
        ),
        "Balance": _object(
            {
                "asset": _STR,
                "wallet_balance": _DECIMAL,
                "update_time_ms": _MS,
                "unrealized_pnl": _nullable("string"),
                "margin_balance": _nullable("string"),
                "available_balance": _nullable("string"),
            }
        ),
        "Source": _object(
            {"source": _STR, "taken_at_ms": _MS, "received_at_ms": _MS, "age_ms": _INT}
        ),
        "Lock": _object(
            {
                "id": _ID,
                "account": _STR,
                "symbol": _STR,
                "side": side,
                "reason_code": _STR,
                "reason_text": _STR,
                "source": {**_STR, "description": "rule:<id> or operator:<name>"},
                "until_ms": {**_nullable("integer"), "description": "null: until unlocked"},
                "created_ms": _MS,
                "active": _BOOL,
                "robot": {**_STR, "description": "the one robot banned; empty: every robot"},
            }
        ),
        "LockRequest": _object(
            {
                "symbol": {
                    "type": "string",
                    "pattern": rf"^(?:ALL|[A-Z0-9_]{{1,{SYMBOL_CHARS}}})$",
                    "description": "a symbol the exchange lists, or ALL",
                },
                "reason": _text(REASON_CHARS),
                "operator": _text(OPERATOR_CHARS),
            },
            {
                "account": _body_account(accounts),
                "side": {**side, "default": "both"},
                "robot": {
                    "type": "string",
                    "pattern": f"^(?:{ROBOT_NAME})?$",
                    "description": "lock this robot of the account only; empty or left out: "
                    "every robot",
                },
                "until_ms": {
                    "type": ["integer", "null"],
                    "minimum": 1,
                    "maximum": MAX_EPOCH_MS,
                    "description": "epoch ms; null or left out: until unlocked",
                },
            },
        )
        | {"additionalProperties": False},
        "State": _object(
            {"state": state, "reason": _STR, "actor": _STR, "at_ms": _MS},
        ),
        "StateRequest": _object(
            {"state": state, "reason": _text(REASON_CHARS), "operator": _text(OPERATOR_CHARS)},
            {"account": _body_account(accounts)},
        )
        | {"additionalProperties": False},
        "Alert": _object(
            {
                "name": _STR,
                "labels": {"type": "object", "additionalProperties": _STR},
                "severity": {"type": "string", "enum": [s.value for s in Severity]},
                "starts_ms": _MS,
                "updated_ms": _MS,
                "muted": _BOOL,
            }
        ),
        "Silence": _object(
            {
                "id": _ID,
                "matchers": _STRINGS,
                "starts_ms": _MS,
                "ends_ms": _MS,
                "created_by": _STR,
                "comment": _STR,
            }
        ),
        "SilenceRequest": _object(
            {
                "matchers": {
                    "type": "array",
                    "minItems": 1,
                    "items": {
                        "type": "string",
                        "maxLength": MAX_TEXT_CHARS,
                        "pattern": r"^\s*[a-z_][a-z0-9_]{0,31}\s*(=~|!~|!=|=)",
                    },
                    "description": "label=value, !=, =~ or !~ (RE2), e.g. symbol=BTCUSDT",
                },
                "created_by": _text(MAX_TEXT_CHARS),
                "comment": _text(MAX_TEXT_CHARS),
            },
            {
                "minutes": {
                    "type": "number",
                    "exclusiveMinimum": 0,
                    "maximum": MAX_SILENCE_MS // 60_000,
                },
                "ends_ms": {**_MS, "description": "epoch ms, after now and within 30 days"},
            },
        )
        | {
            "additionalProperties": False,
            "oneOf": [{"required": ["minutes"]}, {"required": ["ends_ms"]}],
        },
        "BanList": _object(
            {
                "account": _STR,
                "version": {"type": "integer", "minimum": 0},
                "generated_at": _MS,
                "valid_until": {**_MS, "description": "past it, clients treat all as banned"},
                "state": state,
                "all": _BOOL,
                "locks": {"type": "array", "items": _ref("BanListLock")},
            }
        ),
        "BanListLock": _object(
            {
                "id": _INT,
                "symbol": _STR,
                "side": side,
                "reason_code": _STR,
                "reason_text": _STR,
                "source": _STR,
                "created": _MS,
                "until": _nullable("integer"),
                "robot": {**_STR, "description": "the one robot banned; empty: every robot"},
            }
        ),
        "Klines": _object(
            {
                "symbol": _STR,
                "interval": _STR,
                "age_ms": _INT,
                "klines": {"type": "array", "items": _ref("Kline")},
            }
        ),
        "EquityPoint": {
            "type": "array",
            "description": "a minute (epoch ms) and the equity then",
            "prefixItems": [_MS, _DECIMAL],
            "minItems": 2,
            "items": False,
        },
        "Kline": {
            "type": "array",
            "description": "Binance's 12 fields: open time, open, high, low, close, volume, "
            "close time, quote volume, trades, taker buy base and quote volume, ignore",
            "prefixItems": [
                _MS,
                _DECIMAL,
                _DECIMAL,
                _DECIMAL,
                _DECIMAL,
                _DECIMAL,
                _MS,
                _DECIMAL,
                _INT,
                _DECIMAL,
                _DECIMAL,
                _STR,
            ],
            "minItems": 12,
            "items": False,
        },
        "Ticker": _object(
            {
                "symbol": _STR,
                "age_ms": _INT,
                "bid": _DECIMAL,
                "bid_qty": _DECIMAL,
                "ask": _DECIMAL,
                "ask_qty": _DECIMAL,
                "last": {**_nullable("string"), "description": "null before any"},
                "time": _MS,
            }
        ),
        "Mark": _object(
            {
                "symbol": _STR,
                "age_ms": _INT,
                "mark": _DECIMAL,
                "index": _DECIMAL,
                "funding_rate": _DECIMAL,
                "next_funding_ms": _MS,
            }
        ),
        "MarketStats": _object(
            {
                "robots": {"type": "object", "additionalProperties": _INT},
                "symbols": {
                    "type": "object",
                    "additionalProperties": _object(
                        {
                            "age_ms": _nullable("integer"),
                            "kinds": {
                                "type": "object",
                                "propertyNames": {"enum": [kind.value for kind in MarketKind]},
                                "additionalProperties": _INT,
                            },
                        }
                    ),
                },
            }
        ),
        "ChannelVersion": _object({"id": _STR, "version": _INT, "updated_ms": _MS}),
        "Channel": _object(
            {"id": _STR, "version": _INT, "updated_ms": _MS, "data": {"description": "any JSON"}}
        ),
        "FmzRequest": _object(
            {
                "access_key": {**_STR, "description": "the robot's name"},
                "secret_key": {**_STR, "description": "the robot's token"},
                "method": {**_STR, "description": "ticker, depth, trade … or __api_<path>"},
                "nonce": {
                    "type": ["integer", "string"],
                    "pattern": "^[0-9]+$",
                    "description": "the docker's clock in ms, µs or ns",
                },
                "params": {"type": "object"},
            }
        ),
        "FmzAnswer": {
            "oneOf": [
                _object({"data": {"description": "what FMZ expects of the method"}, "raw": {}}),
                _object({"error": _STR}),
            ]
        },
        "OrderDecision": _object(
            {
                "robot": _STR,
                "account": _STR,
                "symbol": _STR,
                "side": _STR,
                "type": _STR,
                "quantity": _DECIMAL,
                "price": _nullable("string"),
                "passed": _BOOL,
                "refusal": _nullable("string"),
                "detail": _STR,
                "client_order_id": _nullable("string"),
                "order_id": _nullable("integer"),
                "decided_ms": _MS,
            }
        ),
        "PnlReport": _object(
            {
                "account": _STR,
                "by": {"type": "string", "enum": list(GROUPINGS)},
                "robot": {**_nullable("string"), "description": "null: every robot's"},
                "start_ms": {**_MS, "description": "the window's start, inclusive"},
                "end_ms": {**_MS, "description": "the window's end (now), inclusive"},
                "rows": {"type": "array", "items": _ref("PnlRow")},
            }
        ),
        "PnlRow": _object(
            {
                "key": {**_STR, "description": f"the robot ({UNATTRIBUTED} too), or the symbol"},
                "asset": _STR,
                "realized_pnl": _DECIMAL,
                "commission": {**_DECIMAL, "description": "a decimal; paid is negative"},
                "funding": {
                    **_DECIMAL,
                    "description": "a decimal; a robot's share by its position, paid is negative",
                },
                "total": _DECIMAL,
            }
        ),
        "DailyReport": _object(
            {
                "account": _STR,
                "by": {**_nullable("string"), "enum": [*GROUPINGS, None]},
                "days": {**_INT, "minimum": 1, "maximum": MAX_DAYS},
                "start_ms": {**_MS, "description": "the first day's midnight (UTC), inclusive"},
                "end_ms": {**_MS, "description": "now, inclusive"},
                "rows": {"type": "array", "items": _ref("DayFigures")},
            }
        ),
        "DayFigures": _object(
            {
                "day": {"type": "string", "format": "date", "description": "the UTC day"},
                "key": {**_STR, "description": "empty: the day's total; else the robot or symbol"},
                "asset": _STR,
                "realized_pnl": _DECIMAL,
                "commission": {**_DECIMAL, "description": "a decimal; paid is negative"},
                "funding": {**_DECIMAL, "description": "a decimal; paid is negative"},
                "net": {**_DECIMAL, "description": "realized PnL + commission + funding"},
                "trades": {**_INT, "minimum": 0, "description": "executions (trade ids)"},
                "wins": {**_INT, "minimum": 0, "description": "trades that realized a profit"},
                "losses": {**_INT, "minimum": 0, "description": "trades that realized a loss"},
                "win_rate": {
                    **_nullable("string"),
                    "description": "wins / (wins + losses), 4 decimals; null without either",
                },
                "worst_symbol": {
                    **_nullable("string"),
                    "description": "on a total row: the symbol of the lowest net in the asset",
                },
            }
        ),
    }


_TOKEN_NOTE: Final = (
    " Sent as `Authorization: Bearer <token>`. Asked for only when configured: a gateway on "
    "loopback may have no tokens, and then every route is open."
)


def _operation_ref(method: str, path: str) -> str:
    return f"#/paths/{path.replace('~', '~0').replace('/', '~1')}/{method}"


# (method, path, status) → what its answer links to: a name → (method, path, parameters).
_LINKS: Final[Mapping[tuple[str, str, str], Mapping[str, tuple[str, str, Json]]]] = {
    ("post", "/v1/locks", "201"): {
        "EndTheLock": (
            "delete",
            "/v1/locks/{id}",
            {"path.id": "$response.body#/id", "query.account": "$response.body#/account"},
        ),
    },
    ("post", "/v1/silences", "201"): {
        "EndTheSilence": ("delete", "/v1/silences/{id}", {"path.id": "$response.body#/id"}),
    },
    ("put", "/v1/channels/{id}", "200"): {
        "ReadTheChannel": ("get", "/v1/channels/{id}", {"path.id": "$response.body#/id"}),
    },
    ("get", "/v1/banlist", "200"): {
        "WaitForTheNextVersion": (
            "get",
            "/v1/banlist",
            {
                "query.version": "$response.body#/version",
                "query.account": "$response.body#/account",
            },
        ),
    },
}


def _link(paths: Json) -> None:
    """Add :data:`_LINKS` to the answers of *paths* (those it holds)."""
    for (method, path, status), links in _LINKS.items():
        answer = paths.get(path, {}).get(method, {}).get("responses", {}).get(status)
        if answer is not None:
            answer["links"] = {
                name: {"operationRef": _operation_ref(*target), "parameters": parameters}
                for name, (*target, parameters) in links.items()
            }


def _limits_note(limits: GatewayLimitsConfig) -> str:
    """What this gateway takes of a client (``[gateway.limits]``)."""
    return (
        f" Limits: bodies of at most {limits.max_body_bytes} bytes (413), within "
        f"{limits.body_timeout_ms} ms (408); request heads within {limits.head_timeout_ms} ms "
        f"(else the connection closes), lines of at most {limits.max_header_bytes} bytes "
        "(else 400, and the connection closes); per client (IP address"
        f"{', loopback exempt' if limits.loopback_exempt else ''}) "
        f"{limits.websockets_per_client} WebSockets and {limits.long_polls_per_client} "
        f"long-polls, in all {limits.websockets_total} and {limits.long_polls_total} (429); "
        f"{limits.messages_per_s} messages a second on a WebSocket (else closed, 1008)."
    )


def openapi_document(
    accounts: Sequence[str],
    market: MarketConfig | None = None,
    limits: GatewayLimitsConfig = DEFAULT_LIMITS,
) -> Json:
    """The OpenAPI 3.1 document of the gateway serving *accounts* and, with a *market*
    config, the market routes, within *limits*; answers link to what they make."""
    paths = {
        **_ops_paths(accounts),
        **_banlist_paths(accounts),
        **(_market_paths(market) if market is not None else {}),
        **_channel_paths(),
        **_trade_paths(accounts),
        **_pnl_paths(accounts),
        **_report_paths(accounts),
        **_status_page_paths(accounts),
        **_flatten_paths(accounts),
        **_document_path(),
    }
    _link(paths)
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "riskd gateway",
            "version": "1",
            "description": "Ban lists, market data, positions, locks, trading state, alerts, "
            "silences and robots' channels of a riskd deployment. Every error is JSON "
            '{"error": ...}.' + _limits_note(limits),
        },
        "paths": paths,
        "components": {
            "schemas": {**_schemas(accounts), **_flatten_schemas(accounts)},
            "securitySchemes": {
                "readToken": {
                    "type": "http",
                    "scheme": "bearer",
                    "description": "The read token: reads (GET)." + _TOKEN_NOTE,
                },
                "operatorToken": {
                    "type": "http",
                    "scheme": "bearer",
                    "description": "The operator's token: changes, and reads." + _TOKEN_NOTE,
                },
                "robotToken": {
                    "type": "http",
                    "scheme": "bearer",
                    "description": "A robot's token ([[robots]]): writes its channels.",
                },
            },
        },
    }


def add_openapi_route(
    app: web.Application,
    accounts: Sequence[str],
    market: MarketConfig | None,
    limits: GatewayLimitsConfig = DEFAULT_LIMITS,
) -> None:
    """Add ``GET /openapi.json``: the document for *accounts*, *market* and *limits*, encoded
    once."""
    document_json = openapi_document(accounts, market, limits)
    body = json.dumps(document_json, separators=(",", ":")).encode()

    async def document(_request: web.Request) -> web.Response:
        return web.Response(body=body, content_type="application/json")

    app.router.add_get(OPENAPI_PATH, document)
