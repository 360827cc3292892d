import pickle
from collections.abc import Callable
from pathlib import Path

import pytest
from pydantic import BaseModel, ValidationError

from riskd.config import ConfigError, RiskdConfig, load_config
from riskd.core.secrets import Secret
from riskd.sim.config import SimConfig
from tests.kit.files import write_private

EXAMPLE = Path(__file__).resolve().parents[1] / "deploy" / "riskd.example.toml"

MAIN_ACCOUNT = """
[[accounts]]
name = "main"
api_key_env = "RISKD_MAIN_API_KEY"
api_secret_env = "RISKD_MAIN_API_SECRET"
"""
MAIN_ENV = {"RISKD_MAIN_API_KEY": "main-key-value", "RISKD_MAIN_API_SECRET": "main-secret-value"}

Write = Callable[[str], Path]


@pytest.fixture
def write(tmp_path: Path) -> Write:
    """Write the given text to riskd.toml in the test's directory and return its path."""

    def write(text: str) -> Path:
        return write_private(tmp_path / "riskd.toml", text)

    return write


def _error(path: Path | None, env: dict[str, str] | None = None) -> str:
    with pytest.raises(ConfigError) as excinfo:
        load_config(path, env={} if env is None else env)
    return str(excinfo.value)


def test_relative_sqlite_path_names_a_file_beside_the_config(tmp_path: Path) -> None:
    path = write_private(tmp_path / "riskd.toml", '[database]\nurl = "sqlite:///data/riskd.db"\n')
    config = load_config(path, env={})
    assert config.database.resolved_url.reveal() == f"sqlite:///{tmp_path / 'data' / 'riskd.db'}"


def test_absolute_sqlite_path_is_kept(tmp_path: Path) -> None:
    path = write_private(
        tmp_path / "riskd.toml", '[database]\nurl = "sqlite:////var/lib/riskd.db"\n'
    )
    assert load_config(path, env={}).database.resolved_url.reveal() == "sqlite:////var/lib/riskd.db"


def test_defaults_without_a_file() -> None:
    config = load_config(env={})

    assert config == RiskdConfig()
    assert config.deployment.name == "riskd"
    assert config.database.resolved_url.reveal() == f"sqlite:///{Path.cwd() / 'riskd.db'}"
    assert config.exchange.network == "sim"
    assert config.exchange.base_url is None
    assert config.accounts == ()
    assert (config.gateway.host, config.gateway.port) == ("127.0.0.1", 8780)
    assert config.gateway.read_token is None
    assert config.sim == SimConfig()


def test_example_config_loads(tmp_path: Path) -> None:
    path = write_private(tmp_path / "riskd.toml", EXAMPLE.read_text(encoding="utf-8"))
    write_private(tmp_path / "secrets" / "hedge.key", "hedge-key-value\n")
    write_private(tmp_path / "secrets" / "hedge.secret", "hedge-secret-value\n")
    env = MAIN_ENV | {
        "RISKD_DATABASE_URL": "mysql+pymysql://riskd:pw@10.0.0.2:3306/riskd",
        "RISKD_READ_TOKEN": "read-token-value",
        "RISKD_OPERATOR_TOKEN": "operator-token-value",
        "RISKD_FEISHU_APP_SECRET": "feishu-secret-value",
        "RISKD_ROBOT_GRID1_TOKEN": "robot-token-value",
    }

    config = load_config(path, env=env)

    assert config.deployment.name == "riskd-prod"
    assert config.database.url_env == "RISKD_DATABASE_URL"
    assert config.database.resolved_url == Secret("mysql+pymysql://riskd:pw@10.0.0.2:3306/riskd")
    assert config.exchange.network == "mainnet"
    assert [a.name for a in config.accounts] == ["main", "hedge"]
    assert [(a.api_key.reveal(), a.api_secret.reveal()) for a in config.accounts] == [
        ("main-key-value", "main-secret-value"),
        ("hedge-key-value", "hedge-secret-value"),
    ]
    assert config.gateway.host == "0.0.0.0"
    assert config.gateway.read_token == Secret("read-token-value")
    assert config.gateway.operator_token == Secret("operator-token-value")
    assert config.alerts.feishu is not None
    assert config.alerts.feishu.app_secret == Secret("feishu-secret-value")


def test_sim_section_is_the_simulator_config(write: Write) -> None:
    path = write("[sim]\nport = 9000\nseed = 7\n[sim.limits]\nweight_per_minute = 1200\n")

    sim = load_config(path, env={}).sim

    assert (sim.port, sim.seed, sim.limits.weight_per_minute) == (9000, 7, 1200)


def test_env_defaults_to_the_process_environment(
    write: Write, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name, value in MAIN_ENV.items():
        monkeypatch.setenv(name, value)

    (account,) = load_config(write(MAIN_ACCOUNT)).accounts

    assert account.api_secret.reveal() == "main-secret-value"


def test_secret_files_are_relative_to_the_config_and_stripped(
    write: Write, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write_private(tmp_path / "keys" / "main.key", "  file-key-value\n")
    path = write(
        '[[accounts]]\nname = "main"\napi_key_file = "keys/main.key"\n'
        'api_secret_env = "RISKD_MAIN_API_SECRET"\n'
    )
    monkeypatch.chdir(tmp_path / "keys")

    (account,) = load_config(path, env=MAIN_ENV).accounts

    assert account.api_key.reveal() == "file-key-value"


def test_unknown_key_in_a_section(write: Write) -> None:
    path = write("[exchange]\nrequest_timeout = 5000\n")

    assert _error(path) == f"{path}: exchange.request_timeout: unknown key"


def test_unknown_section(write: Write) -> None:
    path = write("[exchang]\nnetwork = 'sim'\n")

    assert _error(path) == f"{path}: exchang: unknown key"


def test_unknown_key_in_a_list_element(write: Write) -> None:
    path = write(
        MAIN_ACCOUNT
        + '[[accounts]]\nname = "b"\napi_key_envv = "B_KEY"\napi_secret_env = "B_SECRET"\n'
    )

    assert _error(path, MAIN_ENV) == f"{path}: accounts[1].api_key_envv: unknown key"


def test_wrong_type(write: Write) -> None:
    path = write('[exchange]\nrequest_timeout_ms = "fast"\n')

    assert _error(path).startswith(
        f"{path}: exchange.request_timeout_ms: Input should be a valid integer"
    )


def test_every_error_is_reported(write: Write) -> None:
    path = write("[exchange]\nrecv_window_ms = 0\nnetwork = 'live'\n[deployment]\nname = 'a b'\n")

    assert _error(path).splitlines() == [
        f"{path}: deployment.name: must be 1 to 64 letters, digits, '-' or '_'",
        f"{path}: exchange.network: Input should be 'mainnet', 'testnet' or 'sim'",
        f"{path}: exchange.recv_window_ms: Input should be greater than or equal to 1",
    ]


def test_missing_env_secret_names_variable_and_key(write: Write) -> None:
    path = write(MAIN_ACCOUNT)

    assert _error(path, {"RISKD_MAIN_API_KEY": "k"}) == (
        f"{path}: accounts[0].api_secret_env: environment variable RISKD_MAIN_API_SECRET is not set"
    )


def test_empty_env_secret(write: Write) -> None:
    path = write(MAIN_ACCOUNT)

    assert _error(path, MAIN_ENV | {"RISKD_MAIN_API_KEY": " "}) == (
        f"{path}: accounts[0].api_key_env: environment variable RISKD_MAIN_API_KEY is empty"
    )


def test_unreadable_secret_file(write: Write, tmp_path: Path) -> None:
    path = write('[[accounts]]\nname = "main"\napi_key_env = "K"\napi_secret_file = "nope"\n')

    assert _error(path, {"K": "k"}) == (
        f"{path}: accounts[0].api_secret_file: "
        f"cannot read {tmp_path / 'nope'}: No such file or directory"
    )


def test_empty_secret_file(write: Write, tmp_path: Path) -> None:
    write_private(tmp_path / "empty.key", "\n")
    path = write('[[accounts]]\nname = "main"\napi_key_file = "empty.key"\napi_secret_env = "S"\n')

    assert _error(path, {"S": "s"}) == (
        f"{path}: accounts[0].api_key_file: {tmp_path / 'empty.key'} is empty"
    )


@pytest.mark.parametrize(
    ("refs", "key"),
    [
        ('api_key_env = "K"\napi_key_file = "k.txt"\napi_secret_env = "S"\n', "api_key"),
        ('api_key_env = "K"\n', "api_secret"),
    ],
    ids=["both", "neither"],
)
def test_exactly_one_source_per_secret(write: Write, refs: str, key: str) -> None:
    path = write(f'[[accounts]]\nname = "main"\n{refs}')

    assert _error(path, {"K": "k", "S": "s"}) == (
        f"{path}: accounts[0]: set exactly one of {key}_env and {key}_file"
    )


def test_duplicate_account_names(write: Write) -> None:
    other = MAIN_ACCOUNT.replace('"main"', '"other"')
    path = write(MAIN_ACCOUNT + other + MAIN_ACCOUNT)

    assert _error(path, MAIN_ENV) == f"{path}: accounts[2].name: duplicate account name 'main'"


def test_bad_toml_syntax_names_line_and_column(write: Write) -> None:
    path = write('[exchange]\nnetwork = "sim"\nrecv_window_ms = = 5\n')

    message = _error(path)

    assert message.startswith(f"{path}: invalid TOML: ")
    assert "line 3, column 18" in message


def test_missing_file(tmp_path: Path) -> None:
    path = tmp_path / "absent.toml"

    assert _error(path) == f"config: cannot read {path}: No such file or directory"


def test_a_config_readable_by_others_is_refused_with_the_fix(write: Write) -> None:
    path = write("")
    path.chmod(0o644)

    assert _error(path) == (
        f"config: {path} is readable by group or others (mode 0644): chmod 600 {path}"
    )


SECRET_FILES = {
    "accounts[0].api_secret_file": MAIN_ACCOUNT.replace(
        'api_secret_env = "RISKD_MAIN_API_SECRET"', 'api_secret_file = "the.secret"'
    ),
    "robots[0].token_file": MAIN_ACCOUNT
    + '[[robots]]\nname = "grid"\naccount = "main"\ntoken_file = "the.secret"\n',
    "alerts.feishu.webhook_url_file": '[alerts.feishu]\nmode = "webhook"\n'
    'webhook_url_file = "the.secret"\n',
}


@pytest.mark.parametrize("field", sorted(SECRET_FILES))
def test_a_secret_file_readable_by_others_is_refused_naming_the_field(
    write: Write, tmp_path: Path, field: str
) -> None:
    secret = write_private(tmp_path / "the.secret", "s3cr3t-value\n")
    secret.chmod(0o640)
    path = write(SECRET_FILES[field])

    message = _error(path, MAIN_ENV)

    assert message == (
        f"{path}: {field}: {secret} is readable by group or others (mode 0640): chmod 600 {secret}"
    )
    assert "s3cr3t" not in message


@pytest.mark.parametrize("mode", [0o600, 0o400])
def test_a_config_and_secret_files_private_to_their_owner_are_read(
    write: Write, tmp_path: Path, mode: int
) -> None:
    secret = write_private(tmp_path / "the.secret", "s3cr3t-value\n")
    path = write(SECRET_FILES["accounts[0].api_secret_file"])
    for private in (secret, path):
        private.chmod(mode)

    (account,) = load_config(path, env=MAIN_ENV).accounts

    assert account.api_secret.reveal() == "s3cr3t-value"


@pytest.mark.parametrize("host", ["0.0.0.0", "10.1.2.3", "riskd.internal"])
@pytest.mark.parametrize("tokens", ["", 'read_token_env = "R"\n'], ids=["none", "read-only"])
def test_non_loopback_gateway_needs_both_tokens(write: Write, host: str, tokens: str) -> None:
    path = write(f'[gateway]\nhost = "{host}"\n{tokens}')

    assert _error(path, {"R": "r"}) == (
        f"{path}: gateway.host: {host} is not loopback: set read_token_env and operator_token_env"
    )


@pytest.mark.parametrize("host", ["127.0.0.1", "127.0.0.2", "::1", "localhost"])
def test_loopback_gateway_needs_no_tokens(write: Write, host: str) -> None:
    gateway = load_config(write(f'[gateway]\nhost = "{host}"\n'), env={}).gateway

    assert (gateway.read_token, gateway.operator_token) == (None, None)


def test_database_url_from_env(write: Write) -> None:
    path = write('[database]\nurl_env = "DB_URL"\n')

    database = load_config(path, env={"DB_URL": "mysql+pymysql://u:pw@db/riskd"}).database

    assert database.resolved_url.reveal() == "mysql+pymysql://u:pw@db/riskd"


def test_database_url_and_url_env_exclude_each_other(write: Write) -> None:
    path = write('[database]\nurl = "sqlite:///x.db"\nurl_env = "DB_URL"\n')

    assert _error(path, {"DB_URL": "sqlite:///y.db"}) == (
        f"{path}: database: set either url or url_env, not both"
    )


def _accounts(count: int) -> str:
    return "".join(MAIN_ACCOUNT.replace('"main"', f'"a{index}"') for index in range(count))


def test_sqlite_serving_more_accounts_than_it_carries_is_warned_of(write: Write) -> None:
    config = load_config(write(_accounts(3)), secrets=())

    assert config.database.load_warning(len(config.accounts)) == (
        "database.url: SQLite serves 3 accounts; every job of each writes through its one lock,"
        " so writes wait and are retried: beyond 2 accounts, book into MySQL/MariaDB"
        " (database.url_env)"
    )


def test_sqlite_for_two_accounts_or_a_server_database_for_many_is_not_warned_of(
    write: Write,
) -> None:
    two = load_config(write(_accounts(2)), secrets=())
    server = load_config(write('[database]\nurl_env = "DB_URL"\n' + _accounts(3)), secrets=())

    assert two.database.load_warning(len(two.accounts)) is None
    assert server.database.load_warning(len(server.accounts)) is None


def test_literal_database_url_must_not_carry_a_password(write: Write) -> None:
    path = write('[database]\nurl = "mysql+pymysql://riskd:hunter2@db/riskd"\n')

    assert (
        _error(path) == f"{path}: database.url: contains a password: put the URL in url_env instead"
    )


def test_base_url_must_be_http_and_loses_its_trailing_slash(write: Write) -> None:
    ok = load_config(write('[exchange]\nbase_url = "http://127.0.0.1:8765/"\n'), env={})
    assert ok.exchange.base_url == "http://127.0.0.1:8765"

    path = write('[exchange]\nbase_url = "ftp://127.0.0.1"\n')
    assert _error(path) == f"{path}: exchange.base_url: must be an http:// or https:// URL"


def test_secrets_never_leak(write: Write) -> None:
    env = MAIN_ENV | {
        "DB_URL": "mysql+pymysql://u:db-password@db/riskd",
        "R": "r-tok",
        "O": "o-tok",
    }
    path = write(
        '[database]\nurl_env = "DB_URL"\n'
        '[gateway]\nhost = "0.0.0.0"\nread_token_env = "R"\noperator_token_env = "O"\n'
        + MAIN_ACCOUNT
    )
    config = load_config(path, env=env)
    values = [*MAIN_ENV.values(), "db-password", "r-tok", "o-tok"]

    for rendering in (
        repr(config),
        str(config),
        config.model_dump_json(),
        str(config.model_dump()),
    ):
        assert not [value for value in values if value in rendering]

    literal = write(MAIN_ACCOUNT + 'api_key = "literal-secret"\n')
    with pytest.raises(ConfigError) as excinfo:
        load_config(literal, env=MAIN_ENV)
    assert "literal-secret" not in str(excinfo.value)
    assert excinfo.value.__cause__ is None and excinfo.value.__suppress_context__


def test_secret_hides_its_value() -> None:
    secret = Secret("s3cr3t")

    assert repr(secret) == str(secret) == "Secret('***')"
    assert f"{secret}" == "Secret('***')"
    assert secret.reveal() == "s3cr3t"
    assert secret == Secret("s3cr3t") and hash(secret) == hash(Secret("s3cr3t"))
    assert secret != Secret("other") and secret != "s3cr3t"
    with pytest.raises(AttributeError):
        secret._value = "changed"  # type: ignore[misc]
    assert pickle.loads(pickle.dumps(secret)).reveal() == "s3cr3t"


def test_secret_as_a_pydantic_field() -> None:
    class Model(BaseModel):
        token: Secret

    model = Model(token=Secret("s3cr3t"))

    assert model.token.reveal() == "s3cr3t"
    assert model.model_dump() == {"token": "***"}
    assert model.model_dump_json() == '{"token":"***"}'
    with pytest.raises(ValidationError, match="never literals"):
        Model(token="s3cr3t")


def test_an_actor_resolves_only_the_secrets_it_names(tmp_path: Path) -> None:
    from riskd.config import load_config_text

    text = """
[[accounts]]
name = "a"
api_key_env = "A_KEY"
api_secret_env = "A_SECRET"

[[accounts]]
name = "b"
api_key_env = "B_KEY"
api_secret_env = "B_SECRET"
"""
    env = {"A_KEY": "ka", "A_SECRET": "sa"}  # this node has only account a's secrets
    config = load_config_text(text, "t.toml", tmp_path, env=env, secrets={"account:a"})
    assert config.accounts[0].api_secret.reveal() == "sa"
    with pytest.raises(AttributeError, match="secrets of account b were not loaded"):
        config.accounts[1].api_key  # noqa: B018
    with pytest.raises(ConfigError, match="B_KEY is not set"):
        load_config_text(text, "t.toml", tmp_path, env=env)


FEISHU_APP = """
[alerts.feishu]
mode = "app"
app_id = "cli_a1b2c3d4"
chat_id = "oc_0123456789"
app_secret_env = "RISKD_FEISHU_SECRET"
"""


def test_feishu_app_secret_comes_from_the_environment_and_stays_hidden(write: Write) -> None:
    config = load_config(write(FEISHU_APP), env={"RISKD_FEISHU_SECRET": "very-secret-1"})

    feishu = config.alerts.feishu
    assert feishu is not None and feishu.app_secret.reveal() == "very-secret-1"
    assert "very-secret-1" not in repr(config) and "very-secret-1" not in str(config.model_dump())
    assert config.alerts.to_console is False  # Feishu only, unless console = true


def test_feishu_app_needs_its_app_id_and_chat(write: Write) -> None:
    path = write('[alerts.feishu]\nmode = "app"\napp_secret_env = "S"\n')

    assert _error(path, {"S": "x"}) == f"{path}: alerts.feishu: mode app needs app_id and chat_id"


def test_feishu_webhook_url_is_a_secret_from_a_file(write: Write, tmp_path: Path) -> None:
    write_private(tmp_path / "hook", "https://open.feishu.cn/open-apis/bot/v2/hook/tok\n")
    path = write(
        '[alerts]\nconsole = true\n[alerts.feishu]\nmode = "webhook"\nwebhook_url_file = "hook"\n'
    )

    config = load_config(path, env={})

    feishu = config.alerts.feishu
    assert feishu is not None and feishu.webhook_url.reveal().endswith("/hook/tok")
    assert feishu.webhook_secret is None and config.alerts.to_console is True


def test_without_feishu_alerts_go_to_the_console() -> None:
    assert load_config(None, env={}).alerts.to_console is True


def _robot(name: str, prefixes: str = "[]") -> str:
    return (
        f'\n[[robots]]\nname = "{name}"\naccount = "main"\ntoken_env = "T"\n'
        f"client_id_prefixes = {prefixes}\n"
    )


@pytest.mark.parametrize(
    ("robots", "message"),
    [
        (_robot("a", '["grid"]') + _robot("b", '["grid-2"]'), "'grid-2' overlaps robot a's 'grid'"),
        (_robot("a", '["rl"]'), "'rl' overlaps riskd's own prefix 'rl'"),
        (_robot("a", '["rb-x"]'), "'rb-x' overlaps riskd's own prefix 'rb-'"),
        (_robot("a", '["bad prefix"]'), "client_id_prefixes"),
        (_robot("unattributed"), "'unattributed' names the orders of no robot"),
    ],
)
def test_robots_client_id_prefixes_may_not_make_an_order_ambiguous(
    write: Write, robots: str, message: str
) -> None:
    assert message in _error(write(MAIN_ACCOUNT + robots), {**MAIN_ENV, "T": "t"})


def test_a_robot_may_hold_several_prefixes_of_its_own(write: Write) -> None:
    path = write(MAIN_ACCOUNT + _robot("a", '["grid", "grid-hedge"]'))
    (robot,) = load_config(path, env={**MAIN_ENV, "T": "t"}).robots
    assert robot.prefixes == ("rb-a-", "grid", "grid-hedge")


@pytest.mark.parametrize("value", ['"24:00"', '"0:05"', '"00:05:00"', "5"])
def test_a_bad_daily_summary_time_is_one_line_naming_the_field(write: Write, value: str) -> None:
    path = write(MAIN_ACCOUNT + f"[accounts.ledger]\ndaily_summary_utc = {value}\n")

    assert _error(path, MAIN_ENV).startswith(f"{path}: accounts[0].ledger.daily_summary_utc: ")
    assert len(_error(path, MAIN_ENV).splitlines()) == 1


def test_the_daily_summary_is_off_with_an_empty_time(write: Write) -> None:
    path = write(MAIN_ACCOUNT + '[accounts.ledger]\ndaily_summary_utc = ""\n')

    (account,) = load_config(path, env=MAIN_ENV).accounts
    assert account.ledger.daily_summary_minute is None
