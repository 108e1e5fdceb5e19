"""Secret resolution: ${ENV_VAR} or *_file, never a literal; messages never hold the value."""

from __future__ import annotations

from pathlib import Path

import pytest

from netpoll.configkit.secrets import SecretError, resolve_secret
from netpoll.errors import ConfigError
from netpoll.inventory.loader import load_inventory

SECRET = "s3cret-value-xyz"


def _files(tmp_path: Path) -> Path:
    (tmp_path / "ok").write_text(SECRET + "\n")
    (tmp_path / "crlf").write_text(SECRET + "\r\n")
    (tmp_path / "bare").write_text(SECRET)
    (tmp_path / "empty").write_text("\n")
    (tmp_path / "two-lines").write_text(SECRET + "\nmore\n")
    (tmp_path / "binary").write_bytes(b"\xff\xfe\x00")
    (tmp_path / "dir").mkdir()
    return tmp_path


RESOLVED = [
    ("${NETPOLL_S}", None, {"NETPOLL_S": SECRET}),
    ("${NETPOLL_S_2}", None, {"NETPOLL_S_2": SECRET}),
    (None, "ok", {}),
    (None, "crlf", {}),
    (None, "bare", {}),
]


@pytest.mark.parametrize(("value", "file", "env"), RESOLVED)
def test_resolved(tmp_path: Path, value: str | None, file: str | None, env: dict[str, str]) -> None:
    secret = resolve_secret("community", value, file, base_dir=_files(tmp_path), environ=env)
    assert secret is not None
    assert secret.get_secret_value() == SECRET


def test_absolute_file(tmp_path: Path) -> None:
    path = _files(tmp_path) / "ok"
    secret = resolve_secret("auth_key", None, str(path), base_dir=Path("/nonexistent"), environ={})
    assert secret is not None
    assert secret.get_secret_value() == SECRET


FAILURES = [
    ("${NETPOLL_MISSING}", None, {}, "environment variable NETPOLL_MISSING is not set"),
    ("${NETPOLL_EMPTY}", None, {"NETPOLL_EMPTY": ""}, "environment variable NETPOLL_EMPTY is empty"),
    (SECRET, None, {}, "is a literal secret"),
    ("$S", None, {"NETPOLL_S": SECRET}, "must be written ${ENV_VAR}"),
    ("${S", None, {"NETPOLL_S": SECRET}, "must be written ${ENV_VAR}"),
    ("prefix-${NETPOLL_S}", None, {"NETPOLL_S": SECRET}, "is a literal secret"),
    ("${NETPOLL_S}", "ok", {"NETPOLL_S": SECRET}, "either community or community_file, not both"),
    (None, None, {}, "missing community"),
    (None, "does-not-exist", {}, "cannot read it (No such file or directory)"),
    (None, "dir", {}, "is a directory, not a regular file"),
    (None, "empty", {}, "the file is empty"),
    (None, "two-lines", {}, "more than one line"),
    (None, "binary", {}, "not UTF-8"),
]


@pytest.mark.parametrize(("value", "file", "env", "message"), FAILURES)
def test_failures_never_show_the_secret(
    tmp_path: Path, value: str | None, file: str | None, env: dict[str, str], message: str
) -> None:
    with pytest.raises(SecretError) as info:
        resolve_secret("community", value, file, base_dir=_files(tmp_path), environ=env)
    assert message in str(info.value)
    assert SECRET not in str(info.value)


def test_optional_secret_may_be_absent(tmp_path: Path) -> None:
    assert resolve_secret("token", None, None, base_dir=tmp_path, environ={}, required=False) is None


def test_secret_file_relative_to_the_inventory(tmp_path: Path) -> None:
    inventory_dir = tmp_path / "inventories"
    (inventory_dir / "secrets").mkdir(parents=True)
    (inventory_dir / "secrets" / "v3.auth").write_text("auth-passphrase\n")
    (inventory_dir / "inv.yaml").write_text(
        "credentials:\n"
        "  v3: {version: 3, username: u, auth_protocol: MD5, auth_key_file: secrets/v3.auth}\n"
        "devices:\n  - {name: d, address: 198.51.100.1, snmp: {credentials: v3}}\n"
    )
    device = load_inventory([inventory_dir], environ={}).by_name()["d"]
    assert device.snmp is not None
    credentials = device.snmp.credentials
    assert credentials.version == "3"
    assert credentials.security_level == "authNoPriv"  # type: ignore[union-attr]
    assert credentials.auth_key.get_secret_value() == "auth-passphrase"  # type: ignore[union-attr]


CREDENTIAL_PROBLEMS = [
    (
        "{version: 3, username: u, auth_protocol: SHA, auth_key: '${NETPOLL_K}'}",
        {"NETPOLL_K": "1234567"},
        "shorter than 8",
    ),
    ("{version: 3, username: u, auth_protocol: SHA, auth_key: '${NETPOLL_K}'}", {}, "K is not set"),
    (
        "{version: 3, username: u, auth_key: '${NETPOLL_K}'}",
        {"NETPOLL_K": "12345678"},
        "auth_key without auth_protocol",
    ),
    (
        "{version: 3, username: u, priv_protocol: DES, priv_key: '${NETPOLL_K}'}",
        {"NETPOLL_K": "12345678"},
        "no noAuthPriv",
    ),
    (
        "{version: 3, auth_protocol: SHA, auth_key: '${NETPOLL_K}'}",
        {"NETPOLL_K": "12345678"},
        "needs a username",
    ),
    (
        "{version: 3, username: u, auth_protocol: SHA1024, auth_key: '${NETPOLL_K}'}",
        {"NETPOLL_K": "12345678"},
        "is not one of",
    ),
    (
        "{version: 3, username: u, auth_protocol: SHA, auth_key: '${NETPOLL_K}', priv_protocol: AES512,"
        " priv_key: '${NETPOLL_K}'}",
        {"NETPOLL_K": "12345678"},
        "priv_protocol 'AES512' is not one of DES, AES128, AES192, AES256",
    ),
    (
        "{version: 2c, community: '${NETPOLL_K}', priv_key: '${NETPOLL_K}'}",
        {"NETPOLL_K": "12345678"},
        "for version 3 only",
    ),
    (
        "{version: 3, username: u, community: '${NETPOLL_K}'}",
        {"NETPOLL_K": "12345678"},
        "for versions 1 and 2c",
    ),
    ("{version: 4, community: '${NETPOLL_K}'}", {"NETPOLL_K": "12345678"}, "version must be 1, 2c or 3"),
    ("{community: '${NETPOLL_K}'}", {"NETPOLL_K": "12345678"}, "missing required key 'version'"),
    ("{version: 2c}", {}, "missing community"),
    ("{version: 2c, community: 12345}", {}, "community: must be text"),
]


@pytest.mark.parametrize(("profile", "env", "message"), CREDENTIAL_PROBLEMS)
def test_credential_problems(tmp_path: Path, profile: str, env: dict[str, str], message: str) -> None:
    path = tmp_path / "inv.yaml"
    path.write_text(
        f"credentials:\n  p: {profile}\n"
        "devices:\n  - {name: d, address: 198.51.100.1, snmp: {credentials: p}}\n"
    )
    with pytest.raises(ConfigError) as info:
        load_inventory([path], environ=env)
    assert len(info.value.problems) == 1, info.value.problems
    problem = info.value.problems[0]
    assert problem.startswith(f"{path}:2: "), problem
    assert message in problem
    for secret in env.values():
        assert secret not in problem
    assert "12345" not in problem


PROTOCOLS = [
    ("md5", "MD5"),
    ("SHA-1", "SHA"),
    ("sha224", "SHA224"),
    ("SHA_256", "SHA256"),
    ("sha-384", "SHA384"),
    ("SHA512", "SHA512"),
]


@pytest.mark.parametrize(("written", "normal"), PROTOCOLS)
def test_auth_protocol_spellings(tmp_path: Path, written: str, normal: str) -> None:
    path = tmp_path / "inv.yaml"
    path.write_text(
        "credentials:\n"
        f"  p: {{version: 3, username: u, auth_protocol: {written}, auth_key: '${{NETPOLL_K}}',"
        " priv_protocol: aes-256, priv_key: '${NETPOLL_K}'}\n"
        "devices:\n  - {name: d, address: 198.51.100.1, snmp: {credentials: p}}\n"
    )
    device = load_inventory([path], environ={"NETPOLL_K": "12345678"}).by_name()["d"]
    assert device.snmp is not None
    assert device.snmp.credentials.auth_protocol == normal  # type: ignore[union-attr]
    assert device.snmp.credentials.priv_protocol == "AES256"  # type: ignore[union-attr]


def test_secrets_left_unread_for_callers_without_snmp(tmp_path: Path) -> None:
    inventory = tmp_path / "inv.yaml"
    inventory.write_text(
        "credentials:\n"
        "  v2: {version: 2c, community: '${NETPOLL_UNSET_COMMUNITY}'}\n"
        "  v3: {version: '3', username: u, auth_protocol: SHA256, auth_key_file: missing-file,\n"
        "       priv_protocol: AES128, priv_key: '${NETPOLL_UNSET_PRIV}'}\n"
        "devices:\n"
        "  - {name: a, address: 127.0.0.1, snmp: {credentials: v2}}\n"
        "  - {name: b, address: 127.0.0.2, snmp: {credentials: v3}}\n"
    )
    with pytest.raises(ConfigError) as info:
        load_inventory([inventory], environ={})
    assert len(info.value.problems) == 3  # two unset variables and one unreadable file
    devices = load_inventory([inventory], environ={}, resolve_secrets=False).by_name()
    assert sorted(devices) == ["a", "b"]
    assert devices["b"].snmp is not None
    assert devices["b"].snmp.credentials.security_level == "authPriv"  # type: ignore[union-attr]
