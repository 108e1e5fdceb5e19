"""``netpoll run`` refuses unusable directories in one line before the daemon starts."""

from __future__ import annotations

from pathlib import Path

import pytest

from netpoll.cli.main import main


@pytest.mark.parametrize("key", ["data_dir", "state_dir"])
def test_directory_under_a_file_is_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], key: str
) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    config = tmp_path / "netpoll.yaml"
    config.write_text(f"inventories: [nowhere.yaml]\n{key}: a-file/sub\n")
    assert main(["run", "--config", str(config), "--cycles", "1"]) == 1
    err = capsys.readouterr().err
    assert err.startswith(f"netpoll: run: {key} {blocker}/sub (from {config}): cannot create or write it (")
    assert err.rstrip().endswith("): fix the path or its permissions")
    assert len(err.strip().splitlines()) == 1


@pytest.mark.parametrize("argv", [["--cycles", "0"], ["--cycles", "x"], ["--interval", "0"]])
def test_bad_numbers_are_argparse_errors(argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as info:
        main(["run", *argv])
    assert info.value.code == 2
    assert "Traceback" not in capsys.readouterr().err


@pytest.mark.parametrize(
    ("mqtt", "shard", "expected"),
    [
        ("mqtt: {host: 127.0.0.1}\n", None, "{host}"),
        ("mqtt: {host: 127.0.0.1}\n", (1, 3), "{host}-shard-1-of-3"),
        ("mqtt: {host: 127.0.0.1, instance: poller-a}\n", (1, 3), "poller-a"),
        ("", (0, 2), "{host}-shard-0-of-2"),
    ],
)
def test_instance_name_is_distinct_per_shard_unless_configured(
    tmp_path: Path, mqtt: str, shard: tuple[int, int] | None, expected: str
) -> None:
    import socket

    from netpoll.cli.run import settings_from_config
    from netpoll.config import load_config

    config_file = tmp_path / "netpoll.yaml"
    config_file.write_text("inventories: [nowhere.yaml]\n" + mqtt)
    settings = settings_from_config(load_config(config_file), shard=shard, cycles=None)
    want = expected.format(host=socket.gethostname())
    assert settings.instance == want
    if settings.mqtt is not None:
        assert settings.mqtt.instance == want


def test_unknown_profile_is_refused_at_start(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "community").write_text("c0mmunity\n")
    (tmp_path / "community").chmod(0o600)
    (tmp_path / "inventory.yaml").write_text(
        "credentials:\n  lab: {version: 2c, community_file: community}\n"
        "devices:\n  - name: r1\n    address: 127.0.0.1\n    snmp: {credentials: lab, profile: ciscoo}\n"
    )
    config = tmp_path / "netpoll.yaml"
    config.write_text("inventories: [inventory.yaml]\ndata_dir: data\nstate_dir: state\n")
    assert main(["run", "--config", str(config), "--cycles", "1"]) == 1
    err = capsys.readouterr().err.strip()
    assert err == (
        f"{tmp_path}/inventory.yaml:6: device 'r1': unknown SNMP profile 'ciscoo'; did you mean 'cisco'?"
    )


def test_embedded_config_gives_the_run_settings_defaults() -> None:
    """The daemon's run settings and its configuration share one set of defaults (netpoll.defaults)."""
    from netpoll.cli.run import settings_from_config
    from netpoll.config import DaemonConfig
    from netpoll.daemon.app import RunSettings

    config = DaemonConfig()
    from_config = settings_from_config(config, shard=None, cycles=None)
    bare = RunSettings(inventories=(), data_dir=config.data_dir, state_dir=config.state_dir)
    for key in ("snmp_concurrency", "icmp_concurrency", "snmp_backend", "http_host", "http_port"):
        assert getattr(from_config, key) == getattr(bare, key), key
