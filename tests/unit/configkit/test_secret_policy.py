"""What an inventory may read its secrets from (issue 16): allowed variables and directories only."""

from __future__ import annotations

import logging
import os
from pathlib import Path

import pytest

from netpoll.config import load_config
from netpoll.configkit.secrets import SecretError, SecretPolicy, resolve_secret

SECRET = "s3cret-value-xyz"


def _resolve(policy: SecretPolicy, base: Path, value: str | None = None, file: str | None = None) -> str:
    env = {"NETPOLL_SNMP_RO": SECRET, "NETPOLL_INFLUXDB__TOKEN": SECRET, "HOME_TOKEN": SECRET}
    secret = resolve_secret("community", value, file, base_dir=base, environ=env, policy=policy)
    assert secret is not None
    return secret.get_secret_value()


REFUSED_VARIABLES = [
    ("${NETPOLL_INFLUXDB__TOKEN}", SecretPolicy(), "is one of the daemon's own configuration secrets"),
    ("${NETPOLL_INFLUXDB__TOKEN}", SecretPolicy(env=("*",)), "daemon's own configuration secrets"),
    ("${NETPOLL_CONFIG}", SecretPolicy(), "daemon's own configuration secrets"),
    ("${HOME_TOKEN}", SecretPolicy(), "is not a variable inventories may read (allowed: NETPOLL_*)"),
    ("${NETPOLL_SNMP_RO}", SecretPolicy(env=("SNMP_*",)), "allowed: SNMP_*"),
    ("${NETPOLL_SNMP_RO}", SecretPolicy(denied_env=frozenset({"NETPOLL_SNMP_RO"})), "daemon's own"),
]


@pytest.mark.parametrize(("value", "policy", "message"), REFUSED_VARIABLES)
def test_variables_refused(tmp_path: Path, value: str, policy: SecretPolicy, message: str) -> None:
    with pytest.raises(SecretError) as caught:
        _resolve(policy, tmp_path, value=value)
    assert message in str(caught.value)
    assert SECRET not in str(caught.value)


def test_allowed_variables(tmp_path: Path) -> None:
    assert _resolve(SecretPolicy(), tmp_path, value="${NETPOLL_SNMP_RO}") == SECRET
    assert _resolve(SecretPolicy(env=("HOME_TOKEN",)), tmp_path, value="${HOME_TOKEN}") == SECRET


def _kubelet_volume(root: Path) -> Path:
    """A Secret volume as kubelet lays it out: NAME -> ..data/NAME, ..data -> ..<timestamp>/."""
    volume = root / "run/secrets/netpoll"
    stamp = volume / "..2026_11_29_01_00_00.1"
    stamp.mkdir(parents=True)
    (stamp / "snmp-community").write_text(SECRET + "\n")
    (stamp / "snmp-community").chmod(0o440)
    (volume / "..data").symlink_to(stamp.name)
    (volume / "snmp-community").symlink_to("..data/snmp-community")
    return volume


def test_kubelet_secret_volume_is_accepted(tmp_path: Path) -> None:
    volume = _kubelet_volume(tmp_path)
    policy = SecretPolicy(dirs=(str(tmp_path / "run/secrets"),))
    inventories = tmp_path / "etc/inventories"
    inventories.mkdir(parents=True)
    assert _resolve(policy, inventories, file=str(volume / "snmp-community")) == SECRET


def test_files_refused(tmp_path: Path) -> None:
    inventories = tmp_path / "inv"
    inventories.mkdir()
    outside = tmp_path / "outside"
    outside.write_text(SECRET)
    (inventories / "sneaky").symlink_to(outside)
    (inventories / "own").write_text(SECRET)
    policy = SecretPolicy(
        dirs=("/run/secrets",), denied_files=frozenset({os.path.realpath(inventories / "own")})
    )
    cases = {
        "/proc/self/environ": "never read from /proc, /sys or /dev",
        "/dev/zero": "never read from /proc, /sys or /dev",
        "../outside": "outside the directories inventory secrets may be read from",
        "sneaky": "-> " + str(outside),
        "own": "one of the daemon's own configuration secrets",
    }
    for file, message in cases.items():
        with pytest.raises(SecretError) as caught:
            _resolve(policy, inventories, file=file)
        assert message in str(caught.value)
        assert len(str(caught.value).splitlines()) == 1
        assert SECRET not in str(caught.value)


def test_fifo_and_world_readable(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    os.mkfifo(tmp_path / "fifo")
    with pytest.raises(SecretError, match="is a FIFO"):
        _resolve(SecretPolicy(), tmp_path, file="fifo")
    (tmp_path / "shared").write_text(SECRET)
    (tmp_path / "shared").chmod(0o606)
    with caplog.at_level(logging.WARNING, "netpoll.configkit.secrets"):
        assert _resolve(SecretPolicy(), tmp_path, file="shared") == SECRET
    assert "other users can read and write it (mode 606)" in caplog.text
    assert SECRET not in caplog.text


def test_policy_from_configuration(tmp_path: Path) -> None:
    (tmp_path / "token").write_text("t0ken")
    config = tmp_path / "netpoll.yaml"
    config.write_text(
        "influxdb: {url: 'http://127.0.0.1:8086', token_file: token, password: '${INFLUX_PW}', username: u}\n"
        "inventory_secrets: {env: [SNMP_*, LAB_RO], dirs: [/srv/secrets]}\n"
    )
    policy = load_config(config, environ={"INFLUX_PW": "pw", "CREDENTIALS_DIRECTORY": "/run/credentials/x"})
    result = policy.secret_policy({"CREDENTIALS_DIRECTORY": "/run/credentials/x"})
    assert result.env == ("SNMP_*", "LAB_RO")
    assert result.dirs == ("/srv/secrets", "/run/credentials/x")
    assert result.denied_env == {"INFLUX_PW"}
    assert result.denied_files == {os.path.realpath(tmp_path / "token")}
