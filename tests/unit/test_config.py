"""Daemon configuration: embedded defaults, the file, NETPOLL_<SECTION>__<KEY> overrides, file:line errors."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from netpoll.config import DEFAULT_INVENTORIES, DaemonConfig, load_config
from netpoll.errors import ConfigError

FULL = """\
inventories: [inv, /abs/inv.yaml]
data_dir: data
state_dir: /var/lib/netpoll
influxdb:
  url: http://127.0.0.1:8086/
  org: noc
  bucket: metrics
  token: ${TOKEN}
  batch_size: 1000
  flush_interval_s: 2.5
  timeout_s: 5
  gzip: true
  spool_max_bytes: 64MiB
mqtt:
  host: broker.example.net
  tls:
    ca_file: ca.pem
  username: netpoll
  password_file: mqtt.pass
  topic_prefix: noc/netpoll
  client_id: poller-1
  instance: poller-1
  queue_max: 500
scheduler:
  max_concurrent_snmp: 64
  max_concurrent_icmp: 128
  snmp_backend: pysnmp
thresholds: rules.yaml
http:
  listen: 127.0.0.1:9108
log:
  level: debug
  format: json
shard: 1/3
"""


def _write(tmp_path: Path, text: str) -> Path:
    (tmp_path / "ca.pem").write_text("not really a CA\n")
    (tmp_path / "mqtt.pass").write_text("mqtt-pass-s3cret\n")
    (tmp_path / "rules.yaml").write_text("rules: []\n")
    path = tmp_path / "netpoll.yaml"
    path.write_text(text)
    return path


def test_embedded_defaults() -> None:
    config = load_config(None, environ={})
    assert config.inventories == tuple(Path(path) for path in DEFAULT_INVENTORIES)
    assert config.influxdb is None  # → file output
    assert config.mqtt is None  # → alerts to the log
    assert config.http.listen is None
    assert config.log.level == "INFO"
    assert config.shard is None
    assert config.source is None
    assert config.scheduler.snmp_backend == "auto"


def test_full_file(tmp_path: Path) -> None:
    config = load_config(_write(tmp_path, FULL), environ={"TOKEN": "influx-token-s3cret"})
    assert config.inventories == (tmp_path / "inv", Path("/abs/inv.yaml"))
    assert config.data_dir == tmp_path / "data"
    assert config.state_dir == Path("/var/lib/netpoll")
    influx = config.influxdb
    assert influx is not None
    assert influx.url == "http://127.0.0.1:8086"
    assert influx.token is not None
    assert influx.token.get_secret_value() == "influx-token-s3cret"
    assert influx.spool_max_bytes == 64 * 1024**2
    assert influx.gzip is True
    mqtt = config.mqtt
    assert mqtt is not None
    assert mqtt.port == 8883  # TLS without a port
    assert mqtt.tls is not None
    assert mqtt.tls.ca_file == tmp_path / "ca.pem"
    assert mqtt.password is not None
    assert mqtt.password.get_secret_value() == "mqtt-pass-s3cret"
    assert config.thresholds == tmp_path / "rules.yaml"
    assert (config.http.host, config.http.port) == ("127.0.0.1", 9108)
    assert config.log.level == "DEBUG"
    assert config.shard == "1/3"
    assert config.shard_spec == (1, 3)
    summary = "\n".join(config.summary().values())
    assert "influx-token-s3cret" not in summary
    assert "mqtt-pass-s3cret" not in summary
    assert "influx-token-s3cret" not in repr(config)
    with pytest.raises(ValueError, match="frozen"):
        config.shard = None  # type: ignore[misc]


OVERRIDES: list[tuple[dict[str, str], str, Any]] = [
    ({"NETPOLL_INFLUXDB__URL": "http://127.0.0.1:9999"}, "influxdb.url", "http://127.0.0.1:9999"),
    ({"NETPOLL_INFLUXDB__GZIP": "false"}, "influxdb.gzip", False),
    ({"NETPOLL_INFLUXDB__BATCH_SIZE": "42"}, "influxdb.batch_size", 42),
    ({"NETPOLL_MQTT__PORT": "1884"}, "mqtt.port", 1884),
    ({"NETPOLL_MQTT__TLS__INSECURE": "true"}, "mqtt.tls.insecure", True),
    ({"NETPOLL_MQTT__TOPIC_PREFIX": "lab"}, "mqtt.topic_prefix", "lab"),
    ({"NETPOLL_LOG__LEVEL": "warning"}, "log.level", "WARNING"),
    ({"NETPOLL_HTTP__LISTEN": ""}, "http.listen", None),
    ({"NETPOLL_SHARD": "0/2"}, "shard", "0/2"),
    ({"NETPOLL_DATA_DIR": "/tmp/x"}, "data_dir", Path("/tmp/x")),
    ({"NETPOLL_INVENTORIES": "a.yaml, b"}, "inventories", (Path("a.yaml"), Path("b"))),
    ({"NETPOLL_SCHEDULER__MAX_CONCURRENT_SNMP": "8"}, "scheduler.max_concurrent_snmp", 8),
    ({"NETPOLL_SHARDS": "3", "NETPOLL_SOME_SECRET": "x"}, "shard", "1/3"),  # not ours: ignored
]


def _get(config: DaemonConfig, dotted: str) -> Any:
    value: Any = config
    for part in dotted.split("."):
        value = getattr(value, part)
    return value


@pytest.mark.parametrize(("env", "key", "value"), OVERRIDES)
def test_environment_overrides(tmp_path: Path, env: dict[str, str], key: str, value: Any) -> None:
    config = load_config(_write(tmp_path, FULL), environ={"TOKEN": "t", **env})
    assert _get(config, key) == value


def test_environment_secret_overrides_without_a_file() -> None:
    config = load_config(
        None,
        environ={
            "NETPOLL_INFLUXDB__URL": "http://127.0.0.1:8428",
            "NETPOLL_INFLUXDB__TOKEN": "env-token-s3cret",
            "NETPOLL_MQTT__HOST": "127.0.0.1",
            "NETPOLL_MQTT__USERNAME": "u",
            "NETPOLL_MQTT__PASSWORD": "env-pass-s3cret",
        },
    )
    assert config.influxdb is not None
    assert config.influxdb.token is not None
    assert config.influxdb.token.get_secret_value() == "env-token-s3cret"
    assert config.mqtt is not None
    assert config.mqtt.port == 1883
    assert config.mqtt.password is not None
    assert config.mqtt.password.get_secret_value() == "env-pass-s3cret"


def test_environment_secret_file_overrides_the_files_secret(tmp_path: Path) -> None:
    secret = tmp_path / "mqtt.password"
    secret.write_text("file-pass-s3cret\n")
    path = _write(tmp_path, "mqtt:\n  host: h\n  username: u\n  password: ${P}\n")
    config = load_config(path, environ={"P": "x", "NETPOLL_MQTT__PASSWORD_FILE": str(secret)})
    assert config.mqtt is not None
    assert config.mqtt.password is not None
    assert config.mqtt.password.get_secret_value() == "file-pass-s3cret"


def test_netpoll_config_variable_names_the_file(tmp_path: Path) -> None:
    path = _write(tmp_path, "log: {format: json}\n")
    assert load_config(None, environ={"NETPOLL_CONFIG": str(path)}).log.format == "json"


FILE_ERRORS = [
    ("influxdb:\n  url: localhost:8086\n", 2, "must start with http:// or https://"),
    ("influxdb:\n  url: u:s3cret@localhost:8086\n", 2, "url '...@localhost:8086' must start with http://"),
    ("influxdb:\n  url: https://u:s3cret@127.0.0.1:8086/\n", 2, "must not hold a user or password"),
    ("influxdb:\n  url: http://x\n  token: plain-token-s3cret\n", 3, "token is a literal secret"),
    ("influxdb:\n  url: http://x\n  token: ${NOPE}\n", 3, "NOPE is not set"),
    ("influxdb:\n  url: http://x\n  token_file: missing.token\n", 3, "cannot read it"),
    ("influxdb:\n  org: noc\n", 1, "missing required key 'influxdb.url'"),
    ("influxdb:\n  url: http://x\n  spool_max_bytes: lots\n", 3, "is not a size"),
    ("influxdb:\n  url: http://x\n  batch_sise: 5\n", 3, "did you mean 'batch_size'?"),
    ("mqtt:\n  host: h\n  port: 0\n", 3, "mqtt.port: must be >= 1"),
    ("mqtt:\n  host: h\n  topic_prefix: a/#\n", 3, "topic_prefix 'a/#' must be"),
    ("mqtt:\n  host: h\n  password: ${P}\n", 1, "password without username"),
    ("mqtt:\n  host: h\n  tls:\n    ca_file: nope.pem\n", 3, "tls.ca_file"),
    ("scheduler:\n  snmp_backend: gufoo\n", 2, "did you mean 'gufo'?"),
    ("http:\n  listen: 9108\n", 2, "must be text"),
    ("http:\n  listen: localhost\n", 2, "must be HOST:PORT"),
    ("log:\n  format: xml\n", 2, "must be one of 'text' or 'json'"),
    ("shard: 3/3\n", 1, "out of range for 3 shards"),
    ("thresholds: nope.yaml\n", 1, "thresholds file"),
    ("shrad: 1/2\n", 1, "did you mean 'shard'?"),
    ("traps:\n  listen: [localhost:162]\n", 2, "expected ADDR:PORT with an IP address"),
    ("traps:\n  listen: ['[::1:162']\n", 2, "write an IPv6 address as [ADDR]:PORT"),
    ("traps:\n  listen: ['127.0.0.1:70000']\n", 2, "port 70000 is not 0-65535"),
    ("traps:\n  queue_size: 0\n", 2, "traps.queue_size: must be >= 1"),
    ("traps:\n  rate_per_sourc: 5\n", 2, "did you mean 'rate_per_source'?"),
    ("log: [\n", 2, "YAML syntax error"),
    ("- a\n", 1, "the top level must be a mapping"),
]


@pytest.mark.parametrize(("text", "line", "message"), FILE_ERRORS)
def test_file_errors(tmp_path: Path, text: str, line: int, message: str) -> None:
    path = _write(tmp_path, text)
    with pytest.raises(ConfigError) as info:
        load_config(path, environ={"P": "x"})
    problems = info.value.problems
    assert len(problems) == 1, problems
    assert problems[0].startswith(f"{path}:{line}: "), problems
    assert message in problems[0]
    assert "s3cret" not in problems[0]


ENV_ERRORS = [
    ({"NETPOLL_MQTT__PORT": "x"}, "environment: NETPOLL_MQTT__PORT: mqtt.port: must be a whole number"),
    ({"NETPOLL_INFLUX__URL": "http://x"}, "environment: NETPOLL_INFLUX__URL: unknown section 'influx'"),
    ({"NETPOLL_LOG__LEVLE": "DEBUG"}, "environment: NETPOLL_LOG__LEVLE: unknown key 'log.levle'"),
    ({"NETPOLL_SHARD": "x"}, "environment: NETPOLL_SHARD: shard: shard 'x': expected INDEX/COUNT"),
    (
        {"NETPOLL_INFLUXDB__ORG": "noc", "NETPOLL_INFLUXDB__BUCKET": "b"},
        "environment: NETPOLL_INFLUXDB__BUCKET, NETPOLL_INFLUXDB__ORG: missing required key 'influxdb.url'",
    ),
]


@pytest.mark.parametrize(("env", "message"), ENV_ERRORS)
def test_environment_errors(env: dict[str, str], message: str) -> None:
    with pytest.raises(ConfigError) as info:
        load_config(None, environ={"NETPOLL_MQTT__HOST": "h", **env})
    assert any(problem.startswith(message) for problem in info.value.problems), info.value.problems


def test_all_problems_reported(tmp_path: Path) -> None:
    path = _write(tmp_path, "influxdb:\n  url: nope\nmqtt:\n  hots: h\nlog:\n  level: LOUD\n")
    with pytest.raises(ConfigError) as info:
        load_config(path, environ={})
    lines = [int(problem.split(":")[1]) for problem in info.value.problems]
    assert lines == [2, 3, 4, 6]  # url, missing host (at mqtt:), unknown 'hots', level


@pytest.mark.parametrize("key", ["bogus", "sourc", "source"])
def test_internal_source_key_is_never_offered(tmp_path: Path, key: str) -> None:
    """``source`` is set by load_config, so a file may not hold it and no hint proposes it."""
    path = _write(tmp_path, f"{key}: x\n")
    with pytest.raises(ConfigError) as info:
        load_config(path, environ={})
    (problem,) = info.value.problems
    assert problem.startswith(f"{path}:1: unknown key '{key}'"), problem
    assert "source" not in problem.removeprefix(f"{path}:1: unknown key '{key}'"), problem


def test_thresholds_behind_a_closed_directory_is_a_problem(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Tests run as root, so the refused stat is simulated."""

    def refuse(self: Path) -> bool:
        raise PermissionError(13, "Permission denied", str(self))

    path = _write(tmp_path, "thresholds: closed/rules.yaml\n")
    monkeypatch.setattr(Path, "is_file", refuse)
    with pytest.raises(ConfigError) as info:
        load_config(path, environ={})
    (problem,) = info.value.problems
    assert problem.startswith(f"{path}:1: "), problem
    assert "cannot read it (Permission denied): fix the path or its permissions" in problem


def test_paths_in_the_file_expand_home_like_secret_files(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    home = tmp_path / "home"
    (home / "tls").mkdir(parents=True)
    (home / "tls" / "ca.pem").write_text("ca\n")
    monkeypatch.setenv("HOME", str(home))
    path = _write(tmp_path, "data_dir: ~/data\nmqtt:\n  host: h\n  tls: {ca_file: ~/tls/ca.pem}\n")
    config = load_config(path, environ={})
    assert config.data_dir == home / "data"
    assert config.mqtt is not None
    assert config.mqtt.tls is not None
    assert config.mqtt.tls.ca_file == home / "tls" / "ca.pem"


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read it"):
        load_config(tmp_path / "absent.yaml", environ={})


def test_empty_file_gives_defaults(tmp_path: Path) -> None:
    path = _write(tmp_path, "# nothing\n")
    config = load_config(path, environ={})
    assert config.source == str(path)
    assert config.influxdb is None


def test_readme_example_loads_and_matches_defaults(tmp_path: Path) -> None:
    """The README's configuration reference is a valid file whose values are the defaults it claims."""
    readme = (Path(__file__).resolve().parents[2] / "docs" / "configuration.md").read_text()
    section = readme.split("<!-- section: config (owner: inventory) -->")[1].split(
        "<!-- /section: config -->"
    )[0]
    block = section.split("```yaml\n")[1].split("```")[0]
    for name in ("ca.pem", "client.pem", "client.key"):
        (tmp_path / name).write_text("x\n")
    path = tmp_path / "netpoll.yaml"
    path.write_text(block)
    config = load_config(path, environ={"INFLUX_TOKEN": "t", "INFLUX_PASSWORD": "p", "MQTT_PASSWORD": "p"})
    assert config.influxdb is not None
    assert config.mqtt is not None
    defaults = DaemonConfig()
    assert config.scheduler == defaults.scheduler
    assert config.log == defaults.log
    assert config.http == defaults.http
    assert config.shard == defaults.shard
    assert config.naming == defaults.naming
    assert config.traps == defaults.traps
    assert config.thresholds == defaults.thresholds
    examples = {"url", "org", "token", "database", "username", "password", "tls"}  # not defaults: examples
    influx = config.influxdb.model_dump(exclude=examples)
    assert influx == type(config.influxdb)(url="http://x").model_dump(exclude=examples)
    mqtt = config.mqtt.model_dump(exclude={"host", "port", "tls", "username", "password", "instance"})
    assert mqtt == type(config.mqtt)(host="x").model_dump(
        exclude={"host", "port", "tls", "username", "password", "instance"}
    )


def test_traps_section(tmp_path: Path) -> None:
    path = _write(tmp_path, "traps:\n  enabled: true\n  listen: '[::]:1162'\n  rate_per_source: 50\n")
    traps = load_config(path, environ={}).traps
    assert traps.enabled
    assert traps.addresses == [("::", 1162)]
    assert traps.rate_per_source == 50.0
    default = load_config(None, environ={"NETPOLL_TRAPS__ENABLED": "true"}).traps
    assert (default.enabled, default.addresses) == (True, [("0.0.0.0", 162)])
