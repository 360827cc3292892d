"""The files in deploy/: Ray's own checks of the cluster YAMLs, the labels every node gets, the
systemd unit, and the example config. Offline: nothing here reaches a host or a cloud.

The AWS YAML stops at Ray's schema validation and default filling (``prepare_config``,
``validate_config``): the rest of ``ray up``'s bootstrap calls AWS. The on-prem YAML goes
through the whole bootstrap (``_bootstrap_config``), which is local for ``type: local``.

Node labels are checked the way ``ray up`` applies them: each node type's start commands run in
bash, prefixed as Ray's NodeUpdater prefixes them (RAY_HEAD_IP, and for cloud providers
RAY_OVERRIDE_LABELS from the node type's ``labels``), with ``ray`` and ``hostname`` stubbed. The
labels of each ``ray start`` are then read with Ray's own parsers, and its environment must hold
~/riskd/secrets/riskd.env (riskd's actors resolve secrets on their own node).
"""

from __future__ import annotations

import configparser
import copy
import json
import os
import re
import shutil
import subprocess
import sys
import tomllib
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import click
import jsonschema
import pytest
import yaml
from ray._private.label_utils import parse_node_labels_string, validate_node_label_syntax
from ray._private.ray_constants import LABELS_ENVIRONMENT_VARIABLE
from ray._private.resource_and_label_spec import ResourceAndLabelSpec
from ray.autoscaler._private.command_runner import _with_environment_variables
from ray.autoscaler._private.commands import _bootstrap_config
from ray.autoscaler._private.util import prepare_config, validate_config, with_head_node_ip

from riskd.config import ConfigError, RiskdConfig, load_config
from riskd.exchange.planning import LABEL_PREFIX, BudgetPlanConfig
from riskd.plan import EGRESS_LABEL_KEY
from riskd.sim.config import SimConfig
from tests.kit.files import write_private

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
AWS = DEPLOY / "cluster-aws.yaml"
ONPREM = DEPLOY / "cluster-onprem.yaml"
UNIT = DEPLOY / "riskd.service"
EXAMPLE = DEPLOY / "riskd.example.toml"
DOCS = ROOT / "docs" / "deploy.md"
CLUSTERS = [pytest.param(AWS, id="aws"), pytest.param(ONPREM, id="onprem")]

Labels = dict[str, str]


def _yaml(path: Path) -> dict[str, Any]:
    with path.open(encoding="utf-8") as f:
        return yaml.safe_load(f)


def _ray_prepared(config: dict[str, Any]) -> dict[str, Any]:
    """What `ray up` validates before it calls the provider: defaults filled in, then checked."""
    prepared = prepare_config(copy.deepcopy(config))
    validate_config(prepared)
    return prepared


# --- Ray's validation of the cluster YAMLs ---------------------------------------------------


@pytest.mark.parametrize("path", CLUSTERS)
def test_cluster_yaml_passes_rays_validation(path: Path) -> None:
    prepared = _ray_prepared(_yaml(path))

    assert prepared["head_node_type"] in prepared["available_node_types"]


def test_aws_cluster_has_one_pinned_on_demand_worker_per_egress() -> None:
    prepared = _ray_prepared(_yaml(AWS))
    assert prepared["provider"] == {
        "type": "aws",
        "region": "ap-northeast-1",
        "availability_zone": "ap-northeast-1a",
        "cache_stopped_nodes": True,
    }
    node_types = prepared["available_node_types"]
    workers = {n: t for n, t in node_types.items() if n != prepared["head_node_type"]}

    assert workers
    for name, node_type in workers.items():
        assert (node_type["min_workers"], node_type["max_workers"]) == (1, 1), name
        assert "InstanceMarketOptions" not in node_type["node_config"], f"{name} must not be spot"
    assert node_types[prepared["head_node_type"]]["max_workers"] == 0
    assert prepared["max_workers"] == len(workers)


def test_onprem_cluster_bootstraps_offline() -> None:
    config = _yaml(ONPREM)

    # The whole `ray up` bootstrap: for type: local it touches no host.
    bootstrapped = _bootstrap_config(config, no_config_cache=True)

    (node_type,) = bootstrapped["available_node_types"].values()
    n_workers = len(config["provider"]["worker_ips"])
    assert (node_type["min_workers"], node_type["max_workers"]) == (n_workers, n_workers)
    validate_config(bootstrapped)


def _misspell_labels(config: dict[str, Any]) -> None:
    worker = config["available_node_types"]["egress-ip-a"]
    worker["label"] = worker.pop("labels")


def _non_string_label(config: dict[str, Any]) -> None:
    config["available_node_types"]["egress-ip-a"]["labels"] = {"egress": 1}


def _unknown_top_level_key(config: dict[str, Any]) -> None:
    config["worker_labels"] = {"egress-ip-a": {"egress": "ip-a"}}


@pytest.mark.parametrize(
    "break_config", [_misspell_labels, _non_string_label, _unknown_top_level_key]
)
def test_rays_validation_rejects_a_wrong_field(
    break_config: Callable[[dict[str, Any]], None],
) -> None:
    config = _yaml(AWS)
    break_config(config)

    with pytest.raises(jsonschema.ValidationError):
        _ray_prepared(config)


def test_ray_rejects_node_types_in_a_local_cluster() -> None:
    # Why cluster-onprem.yaml passes --labels itself: per-node-type labels are not allowed there.
    config = _yaml(ONPREM)
    config["available_node_types"] = copy.deepcopy(_yaml(AWS)["available_node_types"])
    config["head_node_type"] = "head"

    with pytest.raises(click.ClickException, match="available_node_types"):
        prepare_config(config)


# --- the labels each node gets when Ray starts on it -----------------------------------------

RAY_STUB = """#!{python}
import json, os, sys
call = {{"argv": sys.argv[1:], "labels_env": os.environ.get({var!r})}}
call["secret"] = os.environ.get({secret!r})
with open({log!r}, "a") as f:
    f.write(json.dumps(call) + "\\n")
"""
# A variable of ~/riskd/secrets/riskd.env: `ray start` must see it, so that the actors inherit it.
SECRET_VAR = "RISKD_DEPLOY_TEST_SECRET"


def _run_start_commands(
    commands: list[str],
    workdir: Path,
    *,
    head_ip: str,
    host_ips: str,
    node_type_labels: Labels | None = None,
) -> tuple[subprocess.CompletedProcess[str], list[dict[str, Any]]]:
    """Run *commands* as Ray's NodeUpdater does on a node whose addresses are *host_ips*.

    Returns the last command's result (the updater stops at the first failure) and the
    recorded ``ray`` calls. The node's home is *workdir*, with a ~/riskd/secrets/riskd.env.
    """
    bin_dir = workdir / "bin"
    bin_dir.mkdir(parents=True)
    secrets = workdir / "riskd" / "secrets"
    secrets.mkdir(parents=True)
    (secrets / "riskd.env").write_text(f"{SECRET_VAR}='from riskd.env'\n", encoding="utf-8")
    log = workdir / "ray-calls.jsonl"
    stubs = {
        "ray": RAY_STUB.format(
            python=sys.executable, log=str(log), var=LABELS_ENVIRONMENT_VARIABLE, secret=SECRET_VAR
        ),
        "hostname": f"#!/bin/sh\necho '{host_ips}'\n",
    }
    for name, text in stubs.items():
        (bin_dir / name).write_text(text, encoding="utf-8")
        (bin_dir / name).chmod(0o755)
    env = {"PATH": f"{bin_dir}:/usr/bin:/bin", "HOME": str(workdir)}
    result = None
    for command in with_head_node_ip(commands, head_ip):
        if node_type_labels is not None:
            # NodeUpdater.do_update, for every provider but type: local.
            command = _with_environment_variables(
                command, {LABELS_ENVIRONMENT_VARIABLE: node_type_labels}
            )
        result = subprocess.run(
            ["bash", "-c", command], env=env, capture_output=True, text=True, timeout=60
        )
        if result.returncode != 0:
            break
    assert result is not None
    calls = [json.loads(line) for line in log.read_text().splitlines()] if log.exists() else []
    return result, calls


def _started_labels(
    calls: list[dict[str, Any]], monkeypatch: pytest.MonkeyPatch
) -> tuple[list[str], Labels]:
    """The argv of the single `ray start` call, and the labels Ray gives the node it starts."""
    (start,) = [call for call in calls if call["argv"][:1] == ["start"]]
    argv, labels_env = start["argv"], start["labels_env"]
    assert start["secret"] == "from riskd.env"
    labels: Labels = {}
    for i, arg in enumerate(argv):
        if arg.startswith("--labels="):
            labels |= parse_node_labels_string(arg.removeprefix("--labels="))
        elif arg == "--labels":
            labels |= parse_node_labels_string(argv[i + 1])
    with monkeypatch.context() as m:
        if labels_env is None:
            m.delenv(LABELS_ENVIRONMENT_VARIABLE, raising=False)
        else:
            m.setenv(LABELS_ENVIRONMENT_VARIABLE, labels_env)
        labels |= ResourceAndLabelSpec._load_env_labels()  # env labels win, as in Ray
    return argv, labels


def _aws_node_labels(
    workdir: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[tuple[str, bool, Labels]]:
    config = _ray_prepared(_yaml(AWS))
    for name, node_type in config["available_node_types"].items():
        is_head = name == config["head_node_type"]
        commands = config["head_start_ray_commands" if is_head else "worker_start_ray_commands"]
        result, calls = _run_start_commands(
            commands,
            workdir / name,
            head_ip="10.0.0.10",
            host_ips="10.0.0.99",
            node_type_labels=node_type.get("labels", {}),
        )
        assert result.returncode == 0, result.stderr
        argv, labels = _started_labels(calls, monkeypatch)
        assert ("--head" in argv) == is_head
        assert labels == node_type["labels"], name
        yield name, is_head, labels


def _onprem_node_labels(
    workdir: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[tuple[str, bool, Labels]]:
    config = _ray_prepared(_yaml(ONPREM))
    head_ip = config["provider"]["head_ip"]
    nodes = [(head_ip, True)] + [(ip, False) for ip in config["provider"]["worker_ips"]]
    for ip, is_head in nodes:
        commands = config["head_start_ray_commands" if is_head else "worker_start_ray_commands"]
        result, calls = _run_start_commands(
            commands, workdir / ip, head_ip=head_ip, host_ips=f"{ip} 172.17.0.1"
        )
        assert result.returncode == 0, result.stderr
        argv, labels = _started_labels(calls, monkeypatch)
        assert ("--head" in argv) == is_head
        if not is_head:
            assert f"--address={head_ip}:6379" in argv
        yield ip, is_head, labels


def _cluster_labels(
    path: Path, workdir: Path, monkeypatch: pytest.MonkeyPatch
) -> list[tuple[str, bool, Labels]]:
    nodes = _aws_node_labels if path == AWS else _onprem_node_labels
    return list(nodes(workdir, monkeypatch))


@pytest.mark.parametrize("path", CLUSTERS)
def test_every_node_gets_a_unique_egress_label(
    path: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    nodes = _cluster_labels(path, tmp_path, monkeypatch)

    egresses = [labels.get(EGRESS_LABEL_KEY) for _, _, labels in nodes]
    assert None not in egresses
    assert len(set(egresses)) == len(egresses), egresses
    assert sum(not is_head for _, is_head, _ in nodes) >= 2
    for _, _, labels in nodes:
        validate_node_label_syntax(labels)


def test_onprem_host_without_a_label_does_not_start_ray(tmp_path: Path) -> None:
    config = _yaml(ONPREM)

    result, calls = _run_start_commands(
        config["worker_start_ray_commands"],
        tmp_path,
        head_ip=config["provider"]["head_ip"],
        host_ips="10.0.1.99 172.17.0.1",
    )

    assert result.returncode != 0
    assert "no egress label" in result.stderr
    assert [call["argv"] for call in calls] == [["stop"]]


# --- the example config ----------------------------------------------------------------------


def _secret_refs(data: Any) -> tuple[set[str], set[str]]:
    """The env var names (``*_env``) and file paths (``*_file``) a parsed config refers to."""
    env_names: set[str] = set()
    files: set[str] = set()
    if isinstance(data, dict):
        for key, value in data.items():
            if key.endswith("_env") and isinstance(value, str):
                env_names.add(value)
            elif key.endswith("_file") and isinstance(value, str):
                files.add(value)
            else:
                sub_env, sub_files = _secret_refs(value)
                env_names |= sub_env
                files |= sub_files
    elif isinstance(data, list):
        for item in data:
            sub_env, sub_files = _secret_refs(item)
            env_names |= sub_env
            files |= sub_files
    return env_names, files


EXAMPLE_REFS = _secret_refs(tomllib.loads(EXAMPLE.read_text(encoding="utf-8")))


@pytest.fixture
def example_copy(tmp_path: Path) -> tuple[Path, dict[str, str]]:
    """The example copied to tmp_path with its secret files; the env vars it names."""
    path = write_private(tmp_path / "riskd.toml", EXAMPLE.read_text(encoding="utf-8"))
    env_names, files = EXAMPLE_REFS
    for relative in files:
        write_private(tmp_path / relative, f"value of {relative}\n")
    return path, {name: f"value-of-{name}" for name in env_names}


def test_example_config_loads_and_plans(example_copy: tuple[Path, dict[str, str]]) -> None:
    path, env = example_copy

    config = load_config(path, env=env)
    plan = config.plan()

    assert config.accounts
    per_account = [job for job in plan.jobs if job.kind.per_account]
    assert {job.account for job in per_account} == {a.name for a in config.accounts}
    assert any(job.reader for job in plan.jobs)  # the example runs a market feed
    label_egresses = {job.config.egress for job in plan.jobs if job.label_selector}
    assert label_egresses
    assert {usage.name for usage in plan.budgets.egresses} >= label_egresses
    assert "label:" in plan.describe()


def test_example_config_shows_the_defaults_of_budgets_and_sim(
    example_copy: tuple[Path, dict[str, str]],
) -> None:
    path, env = example_copy

    config = load_config(path, env=env)

    assert config.budgets == BudgetPlanConfig()
    assert config.sim == SimConfig()
    defaults = RiskdConfig().exchange
    assert config.exchange.request_timeout_ms == defaults.request_timeout_ms
    assert config.exchange.recv_window_ms == defaults.recv_window_ms


@pytest.mark.parametrize("name", sorted(EXAMPLE_REFS[0]))
def test_example_config_needs_each_env_var_it_names(
    example_copy: tuple[Path, dict[str, str]], name: str
) -> None:
    path, env = example_copy
    del env[name]

    with pytest.raises(ConfigError, match=f"environment variable {name} is not set"):
        load_config(path, env=env)


def test_example_config_header_lists_every_env_var() -> None:
    header = EXAMPLE.read_text(encoding="utf-8").split("\n\n", 1)[0]

    for name in EXAMPLE_REFS[0]:
        assert name in header


@pytest.mark.parametrize("path", CLUSTERS)
def test_every_label_the_example_config_uses_exists_in_the_cluster(
    path: Path,
    example_copy: tuple[Path, dict[str, str]],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # An unknown label would leave the job's actor pending forever.
    toml_path, env = example_copy
    plan = load_config(toml_path, env=env).plan()
    cluster = {
        labels[EGRESS_LABEL_KEY]
        for _, _, labels in _cluster_labels(path, tmp_path / "nodes", monkeypatch)
    }

    for job in plan.jobs:
        if job.config.egress.startswith(LABEL_PREFIX):
            assert job.label_selector[EGRESS_LABEL_KEY] in cluster, job.name


# --- the systemd unit ------------------------------------------------------------------------


def _unit() -> configparser.ConfigParser:
    parser = configparser.ConfigParser(strict=False, interpolation=None, delimiters=("=",))
    parser.optionxform = str  # type: ignore[assignment,method-assign]  # keys are case-sensitive
    parser.read_string(UNIT.read_text(encoding="utf-8"), source=str(UNIT))
    return parser


def test_systemd_unit_runs_riskd_cleanly() -> None:
    unit = _unit()
    service = unit["Service"]

    assert "riskd run --config /etc/riskd/riskd.toml" in service["ExecStart"]
    assert service["EnvironmentFile"] == "/etc/riskd/riskd.env"  # no '-': required
    assert service["KillSignal"] == "SIGINT"
    assert service["KillMode"] == "mixed"
    assert int(service["TimeoutStopSec"]) > 0
    assert service["Restart"] == "on-failure"
    assert int(service["RestartSec"]) > 0
    assert int(unit["Unit"]["StartLimitIntervalSec"]) > 0
    assert int(unit["Unit"]["StartLimitBurst"]) > 0
    assert service["User"] not in ("", "root")
    assert unit["Install"]["WantedBy"] == "multi-user.target"


def test_systemd_unit_is_hardened() -> None:
    service = _unit()["Service"]

    assert service["NoNewPrivileges"] == "true"
    assert service["ProtectSystem"] == "strict"
    assert service["PrivateTmp"] == "true"
    assert service["ProtectHome"] == "true"
    assert service["WorkingDirectory"] in service["ReadWritePaths"].split()
    # Secrets come from EnvironmentFile only.
    assert not re.search(r"KEY|SECRET|TOKEN|PASSWORD", service.get("Environment", ""))


@pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="no systemd-analyze")
def test_systemd_analyze_accepts_the_unit(tmp_path: Path) -> None:
    # verify checks that ExecStart exists: stand in an executable for the uninstalled riskd.
    executable = _unit()["Service"]["ExecStart"].split()[0]
    unit = tmp_path / "riskd.service"
    unit.write_text(UNIT.read_text(encoding="utf-8").replace(executable, "/bin/true"))

    result = subprocess.run(
        ["systemd-analyze", "verify", "--man=no", str(unit)],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "SYSTEMD_LOG_COLOR": "0"},
    )

    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    assert str(unit) not in output  # e.g. "riskd.service:41: Unknown key 'KillSignall'"


# --- the docs --------------------------------------------------------------------------------


def test_docs_name_only_files_that_exist() -> None:
    text = DOCS.read_text(encoding="utf-8")

    named = set(re.findall(r"\bdeploy/[\w.-]+", text))
    assert {
        "deploy/cluster-aws.yaml",
        "deploy/cluster-onprem.yaml",
        "deploy/riskd.service",
    } <= named
    for name in named:
        assert (ROOT / name).exists(), name
