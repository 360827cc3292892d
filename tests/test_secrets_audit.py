"""Issue 19: no secret leaks. riskd runs for real (``riskd run --config``, its own local Ray)
against the simulator with a recognisable fake value for every secret it holds, delivered the
supported ways (env vars and 0600 files); robots trade through the gateway, a loss locks a
symbol, alerts go to a fake Feishu (an app's chat, then, after a job's crash, the daemon's
crash and a restart on the same database, a signed custom bot), a channel is published, bad
requests get error answers, an operator locks and unlocks. Then no secret, nor a credential
issued to riskd (Feishu's tenant tokens, Binance's listenKeys), may show, raw or encoded
(tests/kit/secrets_scan.py), in riskd's output, any file Ray wrote for the run, any request
Feishu got (but where it must be), any SQL row, or any HTTP or WebSocket answer (the status
page and what it reads, error answers included).

The scanner's own tests come first: they run in a blink and prove each form is found.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import aiohttp
import pytest
from sqlalchemy import URL, MetaData, create_engine, make_url, select, text

from riskd.plan import JobKind
from riskd.runs import RUN_DIR_ENV
from riskd.sim import SimServer
from tests.conftest import MYSQL_URL_VAR
from tests.kit.deployment import TRADING_JOBS
from tests.kit.fake_feishu import HOOK_PATH, FakeFeishu
from tests.kit.files import write_private
from tests.kit.processes import session_processes
from tests.kit.secrets_scan import (
    Scan,
    SecretScanner,
    Tally,
    encoded_forms,
    marker,
    planted,
)

T = TypeVar("T")
ROOT = Path(__file__).resolve().parents[1]
READY = re.compile(r"riskd ready: gateway (http://[^;\s]+)")
URL_PARTS = re.compile(r"http://(?P<host>[^:/]+):(?P<port>\d+)")
START_S = 120.0  # riskd run up on a busy 2-core host: its Ray started, every job reported
STOP_S = 60.0  # riskd run stopping on SIGTERM: the deployment, then its Ray
WAIT_S = 30.0  # anything the scenario waits for
ACCOUNT = "sim"
SYMBOL, FMZ_SYMBOL = "ETHUSDT", "ETH_USDT"
CHANNEL = "audit-signal"
JSON = {"Content-Type": "application/json"}

# ---------------------------------------------------------------- the scanner on its own


def test_every_form_of_a_secret_is_found_alone_in_plain_text() -> None:
    token = marker("token", "+/=")
    scanner = SecretScanner({"token": token})
    forms = encoded_forms(token)
    assert {"raw", "hex", "HEX", "base64@0", "url", "json/", "head", "tail"} <= set(forms)
    for form in forms:
        (leak,) = scanner.find("text", planted(b"before ... after", token, form))
        assert (leak.secret, leak.form) == ("token", form)


@pytest.mark.parametrize("padding", range(6))
def test_a_secret_encoded_with_its_surroundings_is_found_at_any_offset(padding: int) -> None:
    secret = marker("apisecret")
    scanner = SecretScanner({"api secret": secret})
    blob = b"x" * padding + b'{"key": "' + secret.encode() + b'", "more": 1}'
    offset = (padding + len(b'{"key": "')) % 3
    forms = encoded_forms(secret)
    url_form = f"base64url@{offset}" if f"base64url@{offset}" in forms else f"base64@{offset}"
    for encode, form in (
        (base64.b64encode, f"base64@{offset}"),
        (base64.urlsafe_b64encode, url_form),
    ):
        (leak,) = scanner.find("blob", b"header " + encode(blob) + b" trailer")
        assert leak.form == form
    assert [leak.form for leak in scanner.find("blob", blob.hex().upper())] == ["HEX"]


def test_a_leak_names_its_place_and_line_and_never_shows_the_secret() -> None:
    secret = marker("optoken", "+/=")
    scanner = SecretScanner({"operator token": secret})
    text_ = f"line one\nAuthorization: Bearer {secret}\nline three {secret[:24]}…\n"
    raw, head = scanner.find("gateway log", text_)
    assert (raw.form, raw.line, head.form, head.line) == ("raw", 2, "head", 3)
    assert str(raw).startswith("gateway log:2: operator token (raw) in ")
    assert "Bearer <operator token:raw>" in str(raw)
    for leak in (raw, head):
        assert not scanner.find("the report itself", str(leak))


def test_clean_text_has_no_leak_and_the_scan_counts_what_it_read(tmp_path: Path) -> None:
    secret = marker("robot")
    scan = Scan(SecretScanner({"robot token": secret}))
    (tmp_path / "a").mkdir()
    (tmp_path / "a" / "worker.out").write_text("started\nrunning\n")
    (tmp_path / "raylet.out").write_bytes(b"\x00\x01 binary, no newline")
    (tmp_path / "latest").symlink_to(tmp_path / "a")
    assert [p.name for p in scan.tree("ray logs", tmp_path)] == ["worker.out", "raylet.out"]
    assert scan.leaks == []
    tally = scan.count("ray logs")
    assert (tally.items, tally.lines) == (2, 3)
    assert scan.count("sql rows") == Tally()

    scan.item("sql rows", "alerts #1", planted(b"a card's text", secret, "random part"))
    assert [(leak.secret, leak.form) for leak in scan.leaks] == [("robot token", "random part")]
    assert secret not in scan.report() and "sql rows: alerts #1:1" in scan.report()


# ---------------------------------------------------------------- the run's secrets


@dataclass
class AuditSecrets:
    """A distinct marker for every secret riskd holds; which env var or file delivers each."""

    values: dict[str, str] = field(default_factory=dict)
    env: dict[str, str] = field(default_factory=dict)
    files: dict[str, str] = field(default_factory=dict)  # relative path → value

    def add(self, name: str, value: str, *, env: str | None = None, file: str | None = None) -> str:
        """Add secret *name*, delivered by *env* or *file* (or neither: the caller's part)."""
        self.values[name] = value
        if env is not None:
            self.env[env] = value
        if file is not None:
            self.files[file] = value
        return value

    def write_files(self, folder: Path) -> None:
        """Write the secret files under *folder*, each 0600."""
        for relative, value in self.files.items():
            write_private(folder / relative, value)


def audit_secrets(feishu: FakeFeishu, sim_key: str, sim_secret: str) -> AuditSecrets:
    """Every secret of the run, each delivered as riskd supports: the gateway's tokens by env
    (its only way), the others by env for some and by file for the rest."""
    found = AuditSecrets()
    found.add("binance api key", sim_key, file="secrets/binance_api_key")
    found.add("binance api secret", sim_secret, env="AUDIT_BINANCE_API_SECRET")
    found.add("gateway read token", marker("readtoken"), env="AUDIT_READ_TOKEN")
    found.add("gateway operator token", marker("optoken", "+/="), env="AUDIT_OPERATOR_TOKEN")
    found.add("robot alpha token", marker("alphatoken", "+/="), file="secrets/robot_alpha")
    found.add("robot beta token", marker("betatoken"), env="AUDIT_ROBOT_BETA_TOKEN")
    found.add("feishu app secret", feishu.app_secret, file="secrets/feishu_app_secret")
    found.add("feishu hook token", feishu.hook_token)  # in the webhook URL, by env
    found.env["AUDIT_FEISHU_WEBHOOK_URL"] = feishu.hook_url
    assert feishu.hook_secret is not None
    found.add("feishu signing secret", feishu.hook_secret, file="secrets/feishu_signing")
    return found


def job_tables(jobs: str) -> str:
    """*jobs*, and every other per-account job disabled (each actor costs ~1 CPU-second)."""
    for kind in JobKind:
        if kind.per_account and f"[accounts.jobs.{kind.value}]" not in jobs:
            jobs += f"\n[accounts.jobs.{kind.value}]\nenabled = false\n"
    return jobs


def config_toml(name: str, sim: SimServer, feishu: FakeFeishu, database: str, mode: str) -> str:
    """The run's config: every secret by reference; alerts to the fake Feishu's app chat
    (*mode* ``app``) or its signed custom bot (``webhook``), and to the console."""
    receiver = (
        f"""mode = "app"
base_url = "{feishu.url}"
app_id = "{feishu.app_id}"
app_secret_file = "secrets/feishu_app_secret"
chat_id = "{feishu.chat_id}"
"""
        if mode == "app"
        else """mode = "webhook"
webhook_url_env = "AUDIT_FEISHU_WEBHOOK_URL"
webhook_secret_file = "secrets/feishu_signing"
"""
    )
    return f"""
[deployment]
name = "{name}"

[database]
{database}

[exchange]
network = "sim"
base_url = "{sim.url}"
request_timeout_ms = 2000

[gateway]
port = 0
read_token_env = "AUDIT_READ_TOKEN"
operator_token_env = "AUDIT_OPERATOR_TOKEN"

[alerts]
language = "en"
console = true
tick_ms = 250

[alerts.route]
group_wait_ms = 0
group_interval_ms = 1000

[alerts.feishu]
{receiver}timeout_ms = 1000

[[accounts]]
name = "{ACCOUNT}"
api_key_file = "secrets/binance_api_key"
api_secret_env = "AUDIT_BINANCE_API_SECRET"
{job_tables(TRADING_JOBS)}
[[accounts.rules.rules]]
id = "audit_symbol"
kind = "symbol_pnl"
window_ms = 14400000
threshold_usdt = "-1"

[[robots]]
name = "alpha"
account = "{ACCOUNT}"
token_file = "secrets/robot_alpha"

[[robots]]
name = "beta"
account = "{ACCOUNT}"
token_env = "AUDIT_ROBOT_BETA_TOKEN"
"""


# ---------------------------------------------------------------- riskd run, as a daemon


class Daemon:
    """``riskd run --config CONFIG`` in a session of its own (so that its Ray's processes can be
    killed together, as a host crash would), on a Ray of its own under *ray_tmp*; each run's
    stdout and stderr in files, kept for the scan. *mask* hides secrets in what it reports."""

    def __init__(
        self, folder: Path, ray_tmp: Path, env: dict[str, str], mask: Callable[[str], str]
    ) -> None:
        self.folder = folder
        self.env = {k: v for k, v in os.environ.items() if k != "RAY_ADDRESS"}
        self.env.update(env)
        self.env["RAY_TMPDIR"] = str(ray_tmp)  # its Ray's sessions, logs included, go there
        self.env["RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER"] = "0"  # and it binds loopback only
        self.env[RUN_DIR_ENV] = str(folder / "runs")
        self.mask = mask
        self.process: subprocess.Popen | None = None
        self.outputs: list[Path] = []
        self.run_records: list[tuple[str, bytes]] = []

    async def start(self, config: Path) -> str:
        """Start riskd run; its gateway's URL once it says it is ready."""
        run = len(self.outputs) // 2 + 1
        stdout, stderr = self.folder / f"run{run}.out", self.folder / f"run{run}.err"
        self.outputs += [stdout, stderr]
        with stdout.open("wb") as out, stderr.open("wb") as err:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "riskd.cli", "run", "--config", str(config)],
                cwd=self.folder,
                env=self.env,
                stdout=out,
                stderr=err,
                start_new_session=True,
            )
        deadline = time.monotonic() + START_S
        while (ready := READY.search(stdout.read_text())) is None:
            exited = self.process.poll() is not None
            if exited or time.monotonic() > deadline:
                said = self.mask(stderr.read_text()[-3000:])
                raise AssertionError(f"riskd run {'exited' if exited else 'not ready'}: {said}")
            await asyncio.sleep(0.2)
        self.run_records += [(p.name, p.read_bytes()) for p in (self.folder / "runs").iterdir()]
        return ready.group(1)

    def crash(self) -> int:
        """SIGKILL to every process of the session at once; how many there were."""
        assert self.process is not None
        pids = session_processes(self.process.pid)
        for pid in pids:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        self.process.wait(STOP_S)
        return len(pids)

    async def stop(self) -> int | None:
        """SIGTERM, as systemd stops riskd; its exit code (None if it was not running)."""
        if self.process is None:
            return None
        process, self.process = self.process, None
        if process.poll() is None:
            process.terminate()
            deadline = time.monotonic() + STOP_S
            while process.poll() is None and time.monotonic() < deadline:
                await asyncio.sleep(0.2)
        deadline = time.monotonic() + 10
        while (left := session_processes(process.pid)) and time.monotonic() < deadline:
            await asyncio.sleep(0.2)
        for pid in left:  # what outlived it
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        with contextlib.suppress(subprocess.TimeoutExpired):
            process.wait(10)
        return process.returncode


# ---------------------------------------------------------------- HTTP, every answer kept


@dataclass(frozen=True)
class Answer:
    """One answer the test got: what was asked (the path: the test's own request may carry a
    secret, so it is not scanned), its status, headers and body (or a stream's subprotocol
    and messages). Its repr shows no more than what was asked and the status."""

    asked: str
    status: int
    headers: str = field(repr=False)
    body: bytes = field(repr=False)

    def scanned(self) -> bytes:
        return f"{self.status}\n{self.headers}\n\n".encode() + self.body

    def json(self) -> Any:
        return json.loads(self.body)


class Http:
    """Calls to the gateway, every answer kept for the scan; *mask* hides secrets in what a
    failed check shows (pytest would show the values it compared)."""

    def __init__(self, session: aiohttp.ClientSession, mask: Callable[[str], str]) -> None:
        self.session = session
        self.mask = mask
        self.answers: list[Answer] = []
        self.gateway = ""

    def require(self, ok: bool, what: str, shown: object = "") -> None:
        if not ok:
            raise AssertionError(self.mask(f"{what}: {shown}"))

    async def call(
        self,
        method: str,
        path: str,
        token: str | None = None,
        body: object = None,
        *,
        data: bytes | None = None,
        headers: dict[str, str] | None = None,
    ) -> Answer:
        headers = dict(headers or {})
        if token is not None:
            headers["Authorization"] = f"Bearer {token}"
        payload: dict[str, Any] = {"json": body} if body is not None else {"data": data}
        url = self.gateway + path
        async with self.session.request(method, url, headers=headers, **payload) as response:
            answer = Answer(
                f"{method} {path.partition('?')[0]}",
                response.status,
                "\n".join(f"{k}: {v}" for k, v in response.headers.items()),
                await response.read(),
            )
        self.answers.append(answer)
        return answer

    async def expect(self, status: int, method: str, path: str, *args: Any, **kwargs: Any):
        """:meth:`call`, which must answer *status*."""
        answer = await self.call(method, path, *args, **kwargs)
        self.require(answer.status == status, f"{answer.asked} → {answer.status}", answer.body)
        return answer

    async def stream(self, path: str, token: str, messages: int = 1) -> Answer:
        """A WebSocket as the status page opens it (the token as a subprotocol): the
        subprotocol it answers, and its first *messages* messages (fewer if none comes within
        5 s, or the handshake's answer if it refuses)."""
        encoded = base64.urlsafe_b64encode(token.encode()).decode().rstrip("=")
        protocols = ("riskd", f"bearer.{encoded}")
        received: list[bytes] = []
        try:
            async with self.session.ws_connect(self.gateway + path, protocols=protocols) as ws:
                for _ in range(messages):
                    try:
                        message = await ws.receive(timeout=5)
                    except TimeoutError:
                        break
                    if message.type not in (aiohttp.WSMsgType.TEXT, aiohttp.WSMsgType.BINARY):
                        break
                    data = message.data
                    received.append(data.encode() if isinstance(data, str) else data)
                status, headers = 101, f"protocol: {ws.protocol}"
        except aiohttp.WSServerHandshakeError as refused:
            status, headers = (
                refused.status,
                "\n".join(f"{k}: {v}" for k, v in (refused.headers or {}).items()),
            )
        answer = Answer(f"WS {path.partition('?')[0]}", status, headers, b"\n".join(received))
        self.answers.append(answer)
        return answer

    async def raw(self, head: bytes) -> Answer:
        """A request head sent as it is, bytes a client library would refuse to send; the
        answer as it came."""
        url = URL_PARTS.match(self.gateway)
        assert url is not None, self.gateway
        reader, writer = await asyncio.open_connection(url["host"], int(url["port"]))
        try:
            writer.write(head)
            await writer.drain()
            reply = await asyncio.wait_for(reader.read(), WAIT_S)
        finally:
            writer.close()
        top, _, body = reply.partition(b"\r\n\r\n")
        status_line, _, headers = top.partition(b"\r\n")
        answer = Answer(
            f"RAW {head.split(b' ')[1].decode()}",
            int(status_line.split()[1]),
            headers.decode("latin-1"),
            body,
        )
        self.answers.append(answer)
        return answer

    async def fmz(self, robot: str, token: str, method: str, params: dict) -> dict:
        """One FMZ protocol call of *robot*; its answer (always 200)."""
        body = {
            "access_key": robot,
            "secret_key": token,
            "method": method,
            "nonce": time.time_ns(),
            "params": params,
        }
        answer = await self.expect(200, "POST", "/fmz/binance", body=body)
        return answer.json()

    async def fmz_ok(self, robot: str, token: str, method: str, params: dict) -> dict:
        """:meth:`fmz`, which must answer data."""
        answer = await self.fmz(robot, token, method, params)
        self.require("data" in answer, f"FMZ {method} of {robot}", answer)
        return answer


async def wait_for(check: Callable[[], Awaitable[T]], timeout_s: float = WAIT_S) -> T:
    """*check*'s first truthy value, polled until *timeout_s* (its last value then)."""
    deadline = time.monotonic() + timeout_s
    while not (value := await check()) and time.monotonic() < deadline:
        await asyncio.sleep(0.2)
    return value


# ---------------------------------------------------------------- the scenario's steps


PAGE_READS = (
    "/v1/positions",
    f"/v1/state?account={ACCOUNT}",
    "/v1/health",
    "/v1/alerts",
    "/v1/alerts/recent?hours=24&limit=20",
    "/v1/silences",
    f"/v1/pnl?account={ACCOUNT}&by=robot",
    f"/v1/pnl?account={ACCOUNT}&by=symbol",
    f"/v1/orders/summary?account={ACCOUNT}",
    "/v1/market/stats",
    f"/v1/equity?account={ACCOUNT}",
)
PAGE_STREAMS = (
    f"/v1/banlist/stream?account={ACCOUNT}",
    f"/v1/positions/stream?account={ACCOUNT}",
    f"/v1/market/stream?symbols={SYMBOL}",
)
OPERATOR_PATHS = ("/v1/locks", "/v1/state", "/v1/silences")  # what `operate` changes


def page_paths() -> set[str]:
    """Every API path the status page's script names."""
    script = (ROOT / "riskd" / "web" / "page.js").read_text()
    return {path.rstrip("/") for path in re.findall(r"[\"`](/v1/[a-z/]+)", script)}


def test_the_audit_reads_every_route_the_status_page_calls() -> None:
    read = {path.partition("?")[0] for path in PAGE_READS + PAGE_STREAMS + OPERATOR_PATHS}
    named = page_paths()
    assert len(named) > 10
    assert named <= read, named - read


async def read_like_the_status_page(http: Http, read: str) -> None:
    """The page, its files, the API description, and every route the page reads, with the
    read token as the page sends it; then every other GET route openapi.json lists."""
    page = await http.expect(200, "GET", "/")
    for name in re.findall(r"/static/([a-z]+\.(?:js|css))", page.body.decode()):
        await http.expect(200, "GET", f"/static/{name}")
    openapi = await http.expect(200, "GET", "/openapi.json", read)
    for path in PAGE_READS:
        await http.call("GET", path, read)
    for path in PAGE_STREAMS:
        await http.stream(path, read)
    for path, item in openapi.json()["paths"].items():
        if "get" in item and "{" not in path:
            await http.call("GET", f"{path}?account={ACCOUNT}", read)


def _trade(side: str, amount: str) -> dict:
    return {"symbol": FMZ_SYMBOL, "type": side, "price": -1, "amount": amount}


async def trade_until_a_loss_locks(http: Http, alpha: str, read: str) -> dict:
    """Robot alpha's round trip (its fees alone lose more than the rule's 1 USDT) locks the
    symbol; its next order is refused. The lock."""

    async def opened() -> dict | None:
        answer = await http.fmz("alpha", alpha, "trade", _trade("buy", "0.500"))
        return None if "BANLIST_" in answer.get("error", "") else answer

    bought = await wait_for(opened)
    http.require("data" in bought, "robot alpha's order never passed the gate", bought)
    await http.fmz_ok("alpha", alpha, "trade", _trade("closebuy", "0.500"))
    await http.fmz_ok("alpha", alpha, "positions", {"symbol": FMZ_SYMBOL})

    async def locked() -> list[dict]:
        answer = await http.call("GET", f"/v1/locks?account={ACCOUNT}", read)
        return [lock for lock in answer.json()["locks"] if lock["symbol"] == SYMBOL]

    locks = await wait_for(locked)
    assert locks, "the loss locked nothing"
    refused = await http.fmz("alpha", alpha, "trade", _trade("buy", "0.010"))
    http.require("BANNED_SYMBOL" in refused.get("error", ""), "not refused", refused)
    return locks[0]


async def publish_a_channel(http: Http, beta: str, alpha: str, read: str) -> None:
    """Robot beta publishes; the page reads and follows it; others may not write it."""
    path = f"/v1/channels/{CHANNEL}"
    await http.expect(200, "PUT", path, beta, {"side": "long"})
    await http.expect(200, "GET", path, read)
    await http.stream(f"{path}/stream", read)
    await http.expect(403, "PUT", path, alpha, {"x": 1})  # not its owner
    await http.expect(403, "PUT", path, read, {"x": 1})  # not a robot
    await http.expect(413, "PUT", path, beta, {"blob": "x" * 2000})


async def make_mistakes(http: Http, secrets: dict[str, str]) -> None:
    """Bad requests clients make, each answered with an error."""
    read, operator = secrets["gateway read token"], secrets["gateway operator token"]
    alpha, beta = secrets["robot alpha token"], secrets["robot beta token"]
    await http.expect(401, "GET", "/v1/locks", read + "x")
    await http.expect(401, "GET", "/v1/locks", headers={"Authorization": read})  # no scheme
    await http.expect(403, "POST", "/v1/locks", read, {"symbol": "BTCUSDT"})
    await http.expect(401, "POST", "/v1/locks", beta, {"symbol": "BTCUSDT"})
    await http.expect(400, "POST", "/v1/locks", operator, {"symbol": "NOPE", "reason": 1})
    await http.expect(400, "POST", "/v1/locks", operator, data=b"{not json", headers=JSON)
    await http.expect(400, "DELETE", "/v1/locks/abc?operator=o&reason=r", operator)
    await http.expect(404, "DELETE", "/v1/locks/999999?operator=o&reason=r", operator)
    await http.expect(404, "GET", "/v1/nowhere", read)
    await http.call("GET", f"/v1/market/klines?symbol=NOPE&token={read}", read)  # in the URL
    # A token file saved with Windows line ends, sent by `curl -H "…$(cat token)"`: a stray CR.
    stray_cr = f"GET /v1/locks HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {read}\r\r\n\r\n"
    bad_head = await http.raw(stray_cr.encode())
    http.require(bad_head.status == 400, "a bad request head was not refused", bad_head.status)
    sideways = {"symbol": FMZ_SYMBOL, "type": "sideways", "price": -1, "amount": "1"}
    for robot, token, method, params in (
        ("alpha", beta, "positions", {}),  # another robot's token
        (beta, "beta", "positions", {}),  # its name and token swapped
        ("beta", beta + "x", "positions", {}),
        ("beta", beta, "trade", sideways),
    ):
        answer = await http.fmz(robot, token, method, params)
        http.require("error" in answer, f"a bad FMZ {method} passed", answer)
    answer = await http.fmz("alpha", alpha, "__api_/fapi/v1/nowhere", {})
    http.require("error" in answer, "a raw call of no endpoint passed", answer)


async def operate(http: Http, operator: str) -> None:
    """An operator locks and unlocks, silences and unsilences, halts and resumes."""
    until_ms = int(time.time() * 1000) + 30 * 60_000
    body = {"symbol": "BTCUSDT", "until_ms": until_ms, "operator": "audit-op", "reason": "a"}
    lock = await http.expect(201, "POST", "/v1/locks", operator, body)
    path = f"/v1/locks/{lock.json()['id']}?operator=audit-op&reason=done"
    await http.expect(200, "DELETE", path, operator)
    body = {"matchers": ["alertname=Nothing"], "minutes": 5, "created_by": "o", "comment": "c"}
    silence = await http.expect(201, "POST", "/v1/silences", operator, body)
    await http.expect(200, "DELETE", f"/v1/silences/{silence.json()['id']}?operator=o", operator)
    for state in ("HALTED", "ACTIVE"):
        body = {"account": ACCOUNT, "state": state, "operator": "audit-op", "reason": "audit"}
        await http.expect(200, "POST", "/v1/state", operator, body)


async def kill_the_trader(http: Http, beta: str, read: str) -> None:
    """SIGKILL to the Trader's process (a job crashing); a robot calls while Ray restarts
    it, and it is back under a new pid."""

    async def trader() -> dict | None:
        jobs = (await http.call("GET", "/v1/health", read)).json()["jobs"]
        return next((row for row in jobs if row["job"] == "trader" and row["health"]), None)

    before = await wait_for(trader)
    assert before, "no trader in /v1/health"
    os.kill(before["health"]["pid"], signal.SIGKILL)
    await http.fmz("beta", beta, "accounts", {})  # whatever it answers meanwhile is scanned

    async def restarted() -> bool:
        row = await trader()
        return bool(row and row["health"]["pid"] != before["health"]["pid"])

    assert await wait_for(restarted, 60), "the Trader did not come back"
    await http.fmz_ok("beta", beta, "accounts", {})


# ---------------------------------------------------------------- what the run left


def sql_rows(url: str) -> Iterator[tuple[str, bytes]]:
    """Every row of every table, as (``table #n``, its values tab-separated)."""
    engine = create_engine(url)
    try:
        tables = MetaData()
        tables.reflect(engine)
        with engine.connect() as connection:
            for table in tables.sorted_tables:
                for n, row in enumerate(connection.execute(select(table)), 1):
                    values = [v if isinstance(v, bytes) else str(v).encode() for v in row]
                    yield f"{table.name} #{n}", b"\t".join(values)
    finally:
        engine.dispose()


def feishu_requests(feishu: FakeFeishu, app_secret: str, hook_token: str) -> Iterator[tuple]:
    """Every request the fake Feishu got, as (name, the bytes to scan): its path, headers and
    body, but for the hook token a custom bot's URL holds, the app secret a token request
    carries and the tenant token a message carries (each checked to be where it must be)."""
    for n, recorded in enumerate(feishu.requests, 1):
        body, path = recorded.body, recorded.path
        if recorded.kind == "token":
            carried = isinstance(body, dict) and body.get("app_secret") == app_secret
            assert carried, f"token request #{n} does not carry the app secret as it must"
            body = {**body, "app_secret": "<the app secret, where it must be>"}
        if recorded.kind == "hook":
            assert path == HOOK_PATH.format(token=hook_token), f"hook request #{n}: its path"
            path = HOOK_PATH
        shown = dict(recorded.headers)
        if recorded.kind == "message":  # the tenant token Feishu issued, where it must be
            bearer = shown.pop("Authorization", "").removeprefix("Bearer ")
            assert bearer.startswith("t-"), f"message request #{n} carries no tenant token"
        headers = "\n".join(f"{k}: {v}" for k, v in shown.items())
        scanned = f"{path}\n{headers}\n\n{json.dumps(body, ensure_ascii=False)}".encode()
        yield f"{recorded.kind} #{n}", scanned


def tenant_tokens(feishu: FakeFeishu) -> set[str]:
    """The tenant access tokens Feishu issued riskd, as its message requests carried them."""
    return {
        r.headers.get("Authorization", "").removeprefix("Bearer ")
        for r in feishu.requests_of("message")
    } - {""}


@dataclass
class Database:
    """The run's database: the config's ``[database]`` lines, the env holding its URL, a URL
    to read it back with, and its files (SQLite)."""

    toml: str
    env: dict[str, str]
    read_url: str
    files: tuple[Path, ...] = ()


@contextlib.contextmanager
def audit_database(request: pytest.FixtureRequest, folder: Path) -> Iterator[Database]:
    """MySQL/MariaDB when ``RISKD_TEST_MYSQL_URL`` is set (as CI sets it): a user of its own
    whose password is a marker, the URL by ``url_env``. Otherwise SQLite, which has no
    password (its URL is then no secret)."""
    if not os.environ.get(MYSQL_URL_VAR):
        path = folder / "riskd.db"
        files = tuple(path.with_name(path.name + suffix) for suffix in ("", "-wal", "-shm"))
        yield Database('url = "sqlite:///riskd.db"', {}, f"sqlite:///{path}", files)
        return
    database_url: URL = request.getfixturevalue("mysql_database_url")
    user, password = f"audit_{os.urandom(4).hex()}", marker("dbpassword")
    server = create_engine(database_url)
    hosts = ("%", "localhost")  # 'localhost' too, or an anonymous user there would win
    with server.begin() as connection:
        for host in hosts:
            create = f"CREATE USER '{user}'@'{host}' IDENTIFIED BY :password"
            connection.execute(text(create), {"password": password})
            grant = f"GRANT ALL PRIVILEGES ON {database_url.database}.* TO '{user}'@'{host}'"
            connection.execute(text(grant))
    url = database_url.set(username=user, password=password)
    try:
        yield Database(
            'url_env = "AUDIT_DATABASE_URL"',
            {"AUDIT_DATABASE_URL": url.render_as_string(hide_password=False)},
            database_url.render_as_string(hide_password=False),
        )
    finally:
        with server.begin() as connection:
            for host in hosts:
                connection.execute(text(f"DROP USER IF EXISTS '{user}'@'{host}'"))
        leftovers = MetaData()  # the session's database: the next test finds it empty
        leftovers.reflect(server)
        leftovers.drop_all(server)
        server.dispose()


# ---------------------------------------------------------------- the audit


async def test_no_secret_shows_anywhere_in_a_run_with_a_crash_and_a_restart(
    make_sim: Callable[..., Awaitable[SimServer]],
    tmp_path: Path,
    request: pytest.FixtureRequest,
) -> None:
    sim_key, sim_secret = marker("apikey"), marker("apisecret")
    account = {"name": "audit", "api_key": sim_key, "api_secret": sim_secret}
    sim = await make_sim(accounts=[account])
    ray_tmp = Path(tempfile.mkdtemp(prefix="ra-"))  # short: Ray's socket paths must fit
    feishu = FakeFeishu(
        app_id="cli_audit0001",
        app_secret=marker("appsecret"),
        chat_ids=("oc_audit0001",),
        hook_token=marker("hooktoken"),
        hook_secret=marker("signsecret"),
    )
    await feishu.start()
    listen_keys: set[str] = set()
    try:
        with audit_database(request, tmp_path) as database:
            secrets = audit_secrets(feishu, sim_key, sim_secret)
            if database.env:
                password = make_url(database.env["AUDIT_DATABASE_URL"]).password
                secrets.add("database password", str(password))
            secrets.write_files(tmp_path)
            mask = SecretScanner(secrets.values).mask
            daemon = Daemon(tmp_path, ray_tmp, {**secrets.env, **database.env}, mask)
            timeout = aiohttp.ClientTimeout(total=WAIT_S)
            async with aiohttp.ClientSession(timeout=timeout) as session:
                http = Http(session, mask)
                try:
                    await _scenario(http, daemon, secrets.values, sim, feishu, database)
                finally:
                    listen_keys.update(sim.exchange.listen_keys)
                    await daemon.stop()
            _audit(secrets.values, listen_keys, daemon, ray_tmp, feishu, database, http)
    finally:
        await feishu.stop()
        shutil.rmtree(ray_tmp, ignore_errors=True)


async def _scenario(
    http: Http,
    daemon: Daemon,
    secrets: dict[str, str],
    sim: SimServer,
    feishu: FakeFeishu,
    database: Database,
) -> None:
    read, operator = secrets["gateway read token"], secrets["gateway operator token"]
    alpha, beta = secrets["robot alpha token"], secrets["robot beta token"]
    name = f"audit-{os.urandom(4).hex()}"
    folder = daemon.folder
    configs = {
        mode: write_private(
            folder / f"{mode}.toml", config_toml(name, sim, feishu, database.toml, mode)
        )
        for mode in ("app", "webhook")
    }

    # Run 1: alerts to the Feishu app's chat.
    http.gateway = await daemon.start(configs["app"])
    await read_like_the_status_page(http, read)
    lock = await trade_until_a_loss_locks(http, alpha, read)

    async def lock_alerted() -> bool:
        return any(SYMBOL in d.text for d in feishu.delivered if d.kind == "message")

    assert await wait_for(lock_alerted), "the lock's alert never reached the Feishu app"
    await publish_a_channel(http, beta, alpha, read)
    await make_mistakes(http, secrets)
    await operate(http, operator)
    await kill_the_trader(http, beta, read)
    sim_keys = set(sim.exchange.listen_keys)
    assert daemon.crash() > 3  # riskd run, Ray's own processes and the actors

    # Run 2, on the same database: alerts to the signed custom bot, its first send failing.
    feishu.fail_next(1, kinds=["hook"])
    http.gateway = await daemon.start(configs["webhook"])
    locks = (await http.call("GET", f"/v1/locks?account={ACCOUNT}", read)).json()["locks"]
    assert lock["id"] in [kept["id"] for kept in locks], "the restart lost the rule's lock"
    await read_like_the_status_page(http, read)
    await http.fmz_ok("beta", beta, "accounts", {})

    async def hook_delivered() -> bool:
        return any(d.kind == "hook" for d in feishu.delivered)

    assert await wait_for(hook_delivered), "no alert reached the custom bot"
    assert sim_keys, "riskd never opened a user data stream"
    assert await daemon.stop() == 0


def _audit(
    secrets: dict[str, str],
    listen_keys: set[str],
    daemon: Daemon,
    ray_tmp: Path,
    feishu: FakeFeishu,
    database: Database,
    http: Http,
) -> None:
    issued = {f"feishu tenant token {n}": t for n, t in enumerate(tenant_tokens(feishu), 1)}
    issued |= {f"binance listenKey {n}": key for n, key in enumerate(listen_keys, 1)}
    scanner = SecretScanner({**secrets, **issued})
    scan = Scan(scanner)

    for path in daemon.outputs:
        scan.item("riskd output", path.name, path.read_bytes())
    for name, content in daemon.run_records:
        scan.item("riskd run records", name, content)

    sessions = sorted((ray_tmp / "ray").glob("session_2*"))
    assert len(sessions) == 2, f"not the two runs' Ray sessions: {sessions}"
    for session in sessions:
        logs = [p for p in (session / "logs").rglob("*") if p.is_file()]
        assert any(p.stat().st_size for p in logs), f"no log written in {session}"
        scan.tree("ray session files", session)

    app_secret, hook_token = secrets["feishu app secret"], secrets["feishu hook token"]
    for source, content in feishu_requests(feishu, app_secret, hook_token):
        scan.item("feishu requests", source, content)
    kinds = {d.kind for d in feishu.delivered}
    assert kinds == {"message", "hook"}, f"alerts delivered: {kinds}"

    for source, row in sql_rows(database.read_url):
        scan.item("sql rows", source, row)
    for path in database.files:
        if path.exists():
            scan.item("sqlite files", path.name, path.read_bytes())

    for n, answer in enumerate(http.answers, 1):
        place = "channels" if "/v1/channels/" in answer.asked else "http answers"
        scan.item(place, f"#{n} {answer.asked} → {answer.status}", answer.scanned())
    errors = [answer for answer in http.answers if answer.status >= 400]

    print(f"\nsecrets audit: {len(scanner.secrets)} secrets, {len(errors)} error answers")
    print(scan.summary())
    assert scan.count("ray session files").items > 20
    assert scan.count("sql rows").items > 10
    assert scan.count("feishu requests").items >= 3
    assert scan.count("channels").items >= 3
    assert len(errors) >= 10
    leaks = len(scan.leaks)  # not the list: pytest would show it (masked, but long)
    assert leaks == 0, "secrets leaked:\n" + scan.report()
    _every_place_can_fail(scanner, daemon, ray_tmp, feishu, database, http)


def _every_place_can_fail(
    scanner: SecretScanner,
    daemon: Daemon,
    ray_tmp: Path,
    feishu: FakeFeishu,
    database: Database,
    http: Http,
) -> None:
    """A secret planted, in some form, in a copy of one real item of each place is found."""
    worker_log = max(ray_tmp.rglob("worker-*.out"), key=lambda p: p.stat().st_size)
    channel = next(a for a in http.answers if a.asked.startswith("GET /v1/channels/"))
    app_secret = scanner.secrets["feishu app secret"]
    hook_token = scanner.secrets["feishu hook token"]
    copies = {
        "riskd output": (daemon.outputs[0].read_bytes(), "binance api secret", "raw"),
        "ray session files": (worker_log.read_bytes(), "binance api key", "base64@1"),
        "feishu requests": (
            next(feishu_requests(feishu, app_secret, hook_token))[1],
            "feishu signing secret",
            "hex",
        ),
        "sql rows": (next(sql_rows(database.read_url))[1], "robot alpha token", "url"),
        "http answers": (http.answers[-1].scanned(), "gateway operator token", "head"),
        "channels": (channel.scanned(), "robot beta token", "base64@2"),
    }
    for place, (copy, name, form) in copies.items():
        found = scanner.find(f"{place} (a copy)", planted(copy, scanner.secrets[name], form))
        assert [(leak.secret, leak.form) for leak in found] == [(name, form)], place
