"""`netpoll check` end to end: the broken-inventory corpus, the example inventory, --json, --config, --shard.

Every corpus case (a file, or a directory of files merged) carries its expectations as trailing comments,
``# expect: LINE: substring`` (one per problem, in the file they are about), and optionally
``# env: NAME=value`` lines. The command must exit 1, print exactly one ``file:line: message`` line per
problem and no traceback.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from netpoll.cli.main import main
from netpoll.config import DEFAULT_INVENTORIES

ROOT = Path(__file__).resolve().parents[2]
CORPUS = ROOT / "tests" / "inventory_corpus"
EXAMPLE = ROOT / "inventories" / "example.yaml"

# Secrets the corpus and the example resolve; none of them may ever be printed.
CORPUS_SECRETS = {
    "NETPOLL_CORPUS_COMMUNITY": "corpus-community-s3cret",
    "NETPOLL_CORPUS_AUTH": "corpus-auth-s3cret",
    "NETPOLL_CORPUS_PRIV": "corpus-priv-s3cret",
}
EXAMPLE_SECRETS = {
    "NETPOLL_EXAMPLE_COMMUNITY": "example-community-s3cret",
    "NETPOLL_EXAMPLE_V3_AUTH": "example-auth-s3cret",
    "NETPOLL_EXAMPLE_V3_PRIV": "example-priv-s3cret",
}
# Secret values written into corpus files (literals, short keys): not to be echoed either.
LITERAL_SECRETS = ("corpus-literal-community-value", "short7")
PROBLEM_LINE = re.compile(r"^(?P<file>[^\s:]+):(?P<line>\d+): \S")
EXPECT = re.compile(r"^# expect: (?P<line>\d+): (?P<text>.+)$", re.MULTILINE)
ENV = re.compile(r"^# env: (?P<name>\w+)=(?P<value>.*)$", re.MULTILINE)


def _cases() -> list[Path]:
    return sorted(path for path in CORPUS.iterdir() if path.suffix == ".yaml" or path.is_dir())


def _case_files(case: Path) -> list[Path]:
    return sorted(case.glob("*.yaml")) if case.is_dir() else [case]


def _env(case: Path | None = None) -> dict[str, str]:
    env = {key: value for key, value in os.environ.items() if not key.startswith("NETPOLL_")}
    env.update(CORPUS_SECRETS)
    env.update(EXAMPLE_SECRETS)
    for file in _case_files(case) if case else []:
        env.update({m["name"]: m["value"] for m in ENV.finditer(file.read_text())})
    return env


def _run(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "netpoll", "check", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def _assert_no_secrets(text: str) -> None:
    for secret in (*CORPUS_SECRETS.values(), *EXAMPLE_SECRETS.values(), *LITERAL_SECRETS):
        assert secret not in text


def test_corpus_is_big_enough() -> None:
    assert len(_cases()) >= 25


@pytest.mark.parametrize("case", _cases(), ids=lambda path: path.name)
def test_broken_inventory(case: Path) -> None:
    result = _run(str(case.relative_to(ROOT)), env=_env(case))
    output = result.stdout + result.stderr
    assert result.returncode == 1, output
    assert "Traceback" not in output
    assert result.stdout == ""
    lines = result.stderr.splitlines()
    for line in lines:
        assert PROBLEM_LINE.match(line), line
    expected = [
        (file.relative_to(ROOT).as_posix(), int(m["line"]), m["text"])
        for file in _case_files(case)
        for m in EXPECT.finditer(file.read_text())
    ]
    assert expected, f"{case.name} has no '# expect:' line"
    for file, line, text in expected:
        prefix = f"{file}:{line}: "
        assert any(got.startswith(prefix) and text in got for got in lines), (prefix, text, lines)
    assert len(lines) == len(expected), lines
    _assert_no_secrets(output)


@pytest.mark.parametrize("case", _cases(), ids=lambda path: path.name)
def test_broken_inventory_json(
    case: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(ROOT)
    for name, value in _env(case).items():
        monkeypatch.setenv(name, value)
    assert main(["check", "--json", str(case.relative_to(ROOT))]) == 1
    out, err = capsys.readouterr()
    assert err == ""
    report = json.loads(out)
    assert report["ok"] is False
    assert report["problems"]
    for problem in report["problems"]:
        assert isinstance(problem["line"], int)
        assert problem["file"].startswith("tests/inventory_corpus/")
        assert problem["message"]
    _assert_no_secrets(out)


def test_example_inventory_passes_with_summary() -> None:
    result = _run("inventories/example.yaml", env=_env())
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""
    for heading in (
        "devices by role",
        "devices by site",
        "devices by credentials",
        "devices by snmp version",
    ):
        assert heading in result.stdout
    assert "OK: 32 devices (31 enabled)" in result.stdout
    _assert_no_secrets(result.stdout)


def test_example_inventory_json() -> None:
    result = _run("--json", "inventories/example.yaml", env=_env())
    assert result.returncode == 0, result.stderr
    _assert_no_secrets(result.stdout)
    report = json.loads(result.stdout)
    assert report["ok"] is True
    assert report["devices"] == 32
    assert report["summary"]["snmp_version"] == {"none (ping only)": 16, "v1": 1, "v2c": 13, "v3 authPriv": 2}
    assert report["summary"]["credentials"]["core-v3"] == 2
    by_name = {device["name"]: device for device in report["inventory"]}
    core = by_name["core2.par1"]
    assert core["address"] == "2001:db8::2"
    assert core["snmp"]["port"] == 1161
    assert core["snmp"]["credentials"] == "core-v3"
    assert core["snmp"]["security_level"] == "authPriv"
    assert core["source"] == "inventories/example.yaml:72"


def test_example_without_secrets_in_environment_fails_without_leaking() -> None:
    env = {key: value for key, value in _env().items() if not key.startswith("NETPOLL_EXAMPLE_")}
    result = _run("inventories/example.yaml", env=env)
    assert result.returncode == 1
    assert "NETPOLL_EXAMPLE_COMMUNITY is not set" in result.stderr
    assert "Traceback" not in result.stderr


def test_shard_lists_devices(tmp_path: Path) -> None:
    shards = []
    for index in range(3):
        result = _run("--json", "--shard", f"{index}/3", "inventories/example.yaml", env=_env())
        assert result.returncode == 0, result.stderr
        shards.append(set(json.loads(result.stdout)["shard"]["devices"]))
    assert sum(len(shard) for shard in shards) == 32
    assert shards[0] | shards[1] | shards[2] == {
        device["name"]
        for device in json.loads(_run("--json", "inventories/example.yaml", env=_env()).stdout)["inventory"]
    }
    text = _run("--shard", "1/3", "inventories/example.yaml", env=_env())
    assert f"shard 1/3 polls {len(shards[1])} of 32 devices" in text.stdout


def test_bad_shard_is_one_line() -> None:
    result = _run("--shard", "3/3", "inventories/example.yaml", env=_env())
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_config_with_its_inventories(tmp_path: Path) -> None:
    token = tmp_path / "token"
    token.write_text("config-token-s3cret\n")
    config = tmp_path / "netpoll.yaml"
    config.write_text(
        f"inventories: [{EXAMPLE}]\n"
        "influxdb:\n  url: http://127.0.0.1:8086\n  org: noc\n  token_file: token\n"
        "mqtt:\n  host: 127.0.0.1\n  username: netpoll\n  password: ${NETPOLL_TEST_MQTT_PASSWORD}\n"
    )
    env = _env() | {"NETPOLL_TEST_MQTT_PASSWORD": "config-mqtt-s3cret"}
    for args in (("--config", str(config)), ("--json", "--config", str(config))):
        result = _run(*args, env=env)
        assert result.returncode == 0, result.stderr
        assert "config-token-s3cret" not in result.stdout + result.stderr
        assert "config-mqtt-s3cret" not in result.stdout + result.stderr
        assert "influxdb http://127.0.0.1:8086" in result.stdout
        _assert_no_secrets(result.stdout)


def test_bad_config_problems_have_file_and_line(tmp_path: Path) -> None:
    config = tmp_path / "netpoll.yaml"
    config.write_text(
        "inventories: [missing-dir]\n"
        "influxdb:\n  url: 127.0.0.1:8086\n  token: literal-token-s3cret\n"
        "mqtt:\n  hots: 127.0.0.1\n"
        "log:\n  level: LOUD\n"
    )
    result = _run("--config", str(config), env=_env())
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    assert "literal-token-s3cret" not in result.stderr
    lines = result.stderr.splitlines()
    for line in lines:
        assert PROBLEM_LINE.match(line), line
    text = "\n".join(lines)
    assert ":3: influxdb.url: url '127.0.0.1:8086' must start with http://" in text
    assert ":4: influxdb: token is a literal secret" in text
    assert ":6: unknown key 'mqtt.hots'; did you mean 'host'?" in text
    assert ":8: log.level: must be one of" in text


@pytest.mark.skipif(bool(DEFAULT_INVENTORIES), reason="the embedded defaults name inventories")
def test_nothing_to_check_is_an_error() -> None:
    result = _run(env=_env())
    assert result.returncode == 1
    assert "nothing to check" in result.stderr


def test_file_secrets_never_printed(tmp_path: Path) -> None:
    secrets = tmp_path / "secrets"
    secrets.mkdir()
    (secrets / "community").write_text("file-community-s3cret\n")
    (secrets / "auth").write_text("file-auth-s3cret\n")
    (secrets / "short").write_text("fs3cr7\n")
    good = tmp_path / "good.yaml"
    good.write_text(
        "credentials:\n"
        "  c: {version: 2c, community_file: secrets/community}\n"
        "  u: {version: 3, username: u, auth_protocol: SHA512, auth_key_file: secrets/auth}\n"
        "devices:\n"
        "  - {name: a, address: 198.51.100.1, snmp: {credentials: c}}\n"
        "  - {name: b, address: 198.51.100.2, snmp: {credentials: u}}\n"
    )
    bad = tmp_path / "bad.yaml"
    bad.write_text(
        "credentials:\n"
        "  s: {version: 3, username: u, auth_protocol: MD5, auth_key_file: secrets/short}\n"
        "  t: {version: 2c, community: file-literal-s3cret}\n"
        "devices:\n  - {name: a, address: 198.51.100.1, snmp: {credentials: s}}\n"
    )
    outputs = []
    for args, code in (
        ((str(good),), 0),
        (("--json", str(good)), 0),
        ((str(bad),), 1),
        (("--json", str(bad)), 1),
    ):
        result = _run(*args, env=_env())
        assert result.returncode == code, result.stderr
        outputs.append(result.stdout + result.stderr)
    assert "v3 authNoPriv" in outputs[0]
    assert "shorter than 8 characters" in outputs[2]
    assert "literal secret" in outputs[2]
    for output in outputs:
        for secret in ("file-community-s3cret", "file-auth-s3cret", "fs3cr7", "file-literal-s3cret"):
            assert secret not in output
        assert "Traceback" not in output


def test_profiles_dir_is_validated_with_the_inventory_and_the_rules(tmp_path: Path) -> None:
    """`--profiles DIR` and `profiles_dir:`: the user's profiles are checked (file:line).

    An inventory may name them; a rule on a table measurement they declare validates (with "did you mean").
    """
    profiles = tmp_path / "profiles"
    profiles.mkdir()
    (profiles / "ups.yaml").write_text(
        "extends: generic\n"
        "match: [1.3.6.1.4.1.318]\n"
        "columns:\n  upsLoad: 1.3.6.1.4.1.318.1.1.1.4.2.3\n"
        "tables:\n  ups_output:\n    fields: {load_pct: {column: upsLoad, type: float}}\n"
    )
    inventory = tmp_path / "inventory.yaml"
    inventory.write_text(
        "credentials: {lab: {version: 2c, community: '${NETPOLL_CORPUS_COMMUNITY}'}}\n"
        "devices: [{name: ups1, address: 127.0.0.1, snmp: {credentials: lab, profile: ups}}]\n"
    )
    ok = _run(str(inventory), "--profiles", str(profiles), env=_env())
    assert ok.returncode == 0, ok.stderr
    unknown = _run(str(inventory), env=_env())  # without the user's profiles there is no 'ups'
    assert unknown.returncode == 1
    assert "unknown SNMP profile 'ups'" in unknown.stderr

    rules = tmp_path / "rules.yaml"
    rules.write_text(
        "rules:\n  - {name: ups_load, measurement: ups_output, field: load_pc, comparison: '>', breach: 80}\n"
    )
    config = tmp_path / "netpoll.yaml"
    config.write_text(f"inventories: [{inventory}]\nprofiles_dir: profiles\nthresholds: rules.yaml\n")
    typo = _run("--config", str(config), env=_env())
    assert typo.returncode == 1
    assert re.search(r"rules\.yaml:2: .*'load_pc'.*did you mean 'load_pct'", typo.stderr), typo.stderr
    rules.write_text(rules.read_text().replace("load_pc,", "load_pct,"))
    good = _run("--config", str(config), env=_env())
    assert good.returncode == 0, good.stderr
    assert f"shipped mibs/ + {profiles}" in good.stdout

    (profiles / "ups.yaml").write_text(
        (profiles / "ups.yaml").read_text().replace("column: upsLoad", "column: upsLaod")
    )
    for args in (("--config", str(config)), (str(inventory), "--profiles", str(profiles))):
        broken = _run(*args, env=_env())
        assert broken.returncode == 1
        assert "Traceback" not in broken.stderr
        (line,) = broken.stderr.splitlines()
        expected = "bad name 'upsLaod': not in this profile's columns; did you mean 'upsLoad'?"
        assert line == f"{profiles / 'ups.yaml'}:7: {expected}", line
