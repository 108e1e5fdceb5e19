"""``netpoll poll`` against real agents: formats, failing devices, SNMPv3, inventory targets, mistakes."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from netpoll.cli.main import main

pytestmark = pytest.mark.network


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(["poll", *argv])
    out, err = capsys.readouterr()
    return code, out, err


def test_table_default(snmpsim_lab: Any, capsys: pytest.CaptureFixture[str]) -> None:
    target = f"{snmpsim_lab.host}:{snmpsim_lab.port}"
    code, out, err = run(capsys, target, "--community", "mikrotik-routeros-crs317")
    assert code == 0, err
    assert "mikrotik" in out
    assert "sfp-sfpplus1" in out  # the interface table
    assert "mikrotik-routeros-crs317" not in out + err  # the community never shows


@pytest.mark.parametrize("backend", ["pysnmp", "gufo"])
def test_json_and_failing_device(
    snmpsim_lab: Any, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, backend: str
) -> None:
    good = f"{snmpsim_lab.host}:{snmpsim_lab.port}"
    monkeypatch.setenv("NETPOLL_SNMP_COMMUNITY", "juniper-junos-vmx")
    code, out, err = run(capsys, good, "--format", "json", "--backend", backend, "--timeout", "3")
    assert code == 0, err
    records = json.loads(out)
    status = [r for r in records if r["measurement"] == "snmp"]
    assert status[0]["fields"]["profile"] == "juniper"
    assert len([r for r in records if r["measurement"] == "interface"]) == 59

    # An unknown community gets no answer from snmpsim: a timeout.
    monkeypatch.setenv("NETPOLL_SNMP_COMMUNITY", "no-such-recording")
    code, out, err = run(
        capsys, good, "--format", "lp", "--timeout", "0.5", "--retries", "0", "--backend", backend
    )
    assert code == 1
    assert out.startswith("snmp,")
    assert "poll_ok=0i" in out
    lines = err.strip().splitlines()
    assert len(lines) == 1
    assert lines[0].startswith(f"{good}: ")
    assert "no-such-recording" not in out + err


def test_one_failing_device_does_not_hide_the_others(
    snmpd: Any, capsys: pytest.CaptureFixture[str], free_port: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    good = f"{snmpd.host}:{snmpd.port}"
    dead = f"127.0.0.1:{free_port('udp')}"
    monkeypatch.setenv("NETPOLL_SNMP_COMMUNITY", snmpd.community)
    code, out, err = run(capsys, good, dead, "--format", "json", "--timeout", "5", "--retries", "1")
    assert code == 1
    records = json.loads(out)
    ok = {r["tags"]["device"]: r["fields"]["poll_ok"] for r in records if r["measurement"] == "snmp"}
    assert ok == {good: 1, dead: 0}
    assert any(r["measurement"] == "interface" for r in records)
    assert len(err.strip().splitlines()) == 1
    # A closed port on a live host answers with an ICMP port unreachable: said so at once, not a timeout.
    port = dead.rsplit(":", 1)[1]
    assert err.startswith(
        f"{dead}: nothing listening on UDP port {port} of 127.0.0.1 (ICMP port unreachable)"
    )


@pytest.mark.parametrize("backend", ["pysnmp", "gufo"])
def test_snmpv3_auth_priv_and_wrong_key(
    snmpd: Any, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, backend: str
) -> None:
    user = snmpd.v3_users["sha256_aes128"]
    monkeypatch.setenv("NETPOLL_SNMP_AUTH_KEY", user.auth_key)
    monkeypatch.setenv("NETPOLL_SNMP_PRIV_KEY", user.priv_key)
    target = f"{snmpd.host}:{snmpd.port}"
    args = [target, "-v", "3", "--user", user.name, "-a", "SHA256", "-x", "AES128", "--backend", backend]
    code, out, err = run(capsys, *args, "--format", "json")
    assert code == 0, err
    status = next(r for r in json.loads(out) if r["measurement"] == "snmp")
    assert status["fields"]["profile"] == "linux-netsnmp"
    assert "mem_used_pct" in status["fields"]  # (CPU % needs the agent up for a while)
    assert user.auth_key not in out + err
    assert user.priv_key not in out + err

    monkeypatch.setenv("NETPOLL_SNMP_AUTH_KEY", "wrong-auth-key-123")
    code, out, err = run(capsys, *args, "--format", "json", "--timeout", "10", "--retries", "0")
    assert code == 1
    assert f"{target}: SNMPv3 authentication failed" in err  # refused, not timed out
    assert "wrong-auth-key-123" not in out + err


def test_inventory_target_and_samples(
    snmpd: Any, capsys: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("NETPOLL_TEST_COMMUNITY", snmpd.community)
    (tmp_path / "lab.yaml").write_text(
        "credentials:\n"
        "  lab:\n"
        "    version: 2c\n"
        "    community: ${NETPOLL_TEST_COMMUNITY}\n"
        "devices:\n"
        "  - name: agent1\n"
        f"    address: {snmpd.host}\n"
        "    site: lab\n"
        "    snmp:\n"
        "      credentials: lab\n"
        f"      port: {snmpd.port}\n"
    )
    code, out, err = run(
        capsys, "agent1", "--inventory", str(tmp_path), "--samples", "2", "--every", "0.5", "--format", "lp"
    )
    assert code == 0, err
    lines = out.splitlines()
    status = [line for line in lines if line.startswith("snmp,")]
    assert len(status) == 2
    assert all("device=agent1" in line and "site=lab" in line for line in status)
    assert any(
        "in_bps=" in line for line in lines if line.startswith("interface,")
    )  # second sample has rates


def test_telegraf_naming_preview(snmpsim_lab: Any, capsys: pytest.CaptureFixture[str]) -> None:
    """``--naming telegraf``: what the daemon writes with naming: telegraf (netpoll's names stay)."""
    target = f"{snmpsim_lab.host}:{snmpsim_lab.port}"
    argv = (target, "--community", "mikrotik-routeros-crs317", "--format", "json")
    code, out, err = run(capsys, *argv, "--naming", "telegraf")
    assert code == 0, err
    records = json.loads(out)
    (status,) = [r for r in records if r["measurement"] == "snmp"]
    assert status["fields"]["uptime"] == round(status["fields"]["uptime_s"] * 100)
    interfaces = [r for r in records if r["measurement"] == "interface"]
    assert {r["tags"]["hostname"] for r in [status, *interfaces]} == {status["fields"]["sys_name"]}
    assert all(r["fields"]["ifOperStatus"] == r["fields"]["oper_status"] for r in interfaces)
    code, out, err = run(capsys, *argv)
    assert code == 0, err
    assert not any("hostname" in r["tags"] or "uptime" in r["fields"] for r in json.loads(out))


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["somehost", "--inventory", "/nonexistent"], "no such file"),
        (["127.0.0.1", "--community", "x", "--profile", "nope"], "unknown --profile 'nope'"),
        (["127.0.0.1:99999", "--community", "x"], "bad port"),
        (["127.0.0.1", "-v", "3"], "needs --user"),
        (["127.0.0.1", "--user", "u", "-a", "SHA"], "needs --auth-key"),
        (
            ["127.0.0.1", "--user", "u", "-a", "SHA", "-A", "short"],
            "the key of --auth-key or $NETPOLL_SNMP_AUTH_KEY is shorter than 8 characters",
        ),
        (
            ["127.0.0.1", "--user", "u", "-a", "SHA", "-A", "longenough", "-x", "AES128", "-X", "1234567"],
            "the key of --priv-key or $NETPOLL_SNMP_PRIV_KEY is shorter than 8 characters",
        ),
    ],
)
def test_user_mistakes_are_one_line(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, argv: list[str], message: str
) -> None:
    monkeypatch.delenv("NETPOLL_SNMP_AUTH_KEY", raising=False)
    code, out, err = run(capsys, *argv)
    assert code == 1
    assert out == ""
    assert message in err
    assert len(err.strip().splitlines()) == 1
    assert "Traceback" not in err


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["agent1", "--timeout", "-1"], "--timeout: Input should be greater than 0"),
        (["agent1", "--retries", "50"], "--retries: Input should be less than or equal to 10"),
        (
            ["agent1", "--max-repetitions", "0"],
            "--max-repetitions: Input should be greater than or equal to 1",
        ),
        (
            ["agent11"],
            "is not an inventory device: give --community, --community-file or $NETPOLL_SNMP_COMMUNITY"
            " (or --user for SNMPv3); did you mean 'agent1'?",
        ),
    ],
)
def test_inventory_device_mistakes_are_one_line(
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    argv: list[str],
    message: str,
) -> None:
    """Overrides of an inventory device's settings are held to the inventory's bounds, naming the flag."""
    monkeypatch.setenv("NETPOLL_TEST_COMMUNITY", "not-used")
    (tmp_path / "lab.yaml").write_text(
        "credentials:\n"
        "  lab:\n"
        "    version: 2c\n"
        "    community: ${NETPOLL_TEST_COMMUNITY}\n"
        "devices:\n"
        "  - name: agent1\n"
        "    address: 127.0.0.1\n"
        "    snmp:\n"
        "      credentials: lab\n"
    )
    code, out, err = run(capsys, *argv, "--inventory", str(tmp_path))
    assert code == 1
    assert out == ""
    assert message in err
    assert len(err.strip().splitlines()) == 1
    assert "not-used" not in err


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (None, "cannot read it (No such file or directory): fix the path"),
        ("", "the file is empty: write the secret into it"),
        ("s3cret\nmore\n", "holds more than one line; keep only the secret in it"),
    ],
)
def test_community_file_mistakes_are_one_line(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, content: str | None, message: str
) -> None:
    """--community-file follows the inventory's community_file rules (shared secrets reader)."""
    path = tmp_path / "community"
    if content is not None:
        path.write_text(content)
    code, out, err = run(capsys, "127.0.0.1:9", "--community-file", str(path))
    assert code == 1
    assert out == ""
    assert err.startswith(f"netpoll: poll: --community-file {path}: {message}"), err
    assert len(err.strip().splitlines()) == 1
    assert "s3cret" not in err


def test_ad_hoc_address_never_reads_inventories(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An address target without credentials asks for them; the broken inventories/ here is never read."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("NETPOLL_SNMP_COMMUNITY", raising=False)
    (tmp_path / "inventories").mkdir()
    (tmp_path / "inventories" / "broken.yaml").write_text(
        "devices: [{name: x, address: 127.0.0.1, bogus: 1}]\n"
    )
    for target in ("127.0.0.1:9", "[::1]:1161", "::1"):
        code = main(["poll", target])
        err = capsys.readouterr().err
        assert code == 1
        assert err.strip().splitlines() == [
            f"netpoll: poll: {target} is an ad-hoc agent: give --community, --community-file or"
            " $NETPOLL_SNMP_COMMUNITY (or --user for SNMPv3)"
        ]
    code = main(["poll", "rtr-1"])  # a name is looked up there, and the broken file is one line, not four
    err = capsys.readouterr().err
    assert code == 1
    assert len(err.strip().splitlines()) == 1
    assert "inventories/ does not load (1 problems; netpoll check inventories/ lists them)" in err


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (
            ["127.0.0.1", "--comunity", "x"],
            "netpoll poll: unknown option --comunity; did you mean '--community'?",
        ),
        (["127.0.0.1", "--format", "jsn"], "netpoll poll: --format/-f: 'jsn' is not one of table, json, lp;"),
    ],
)
def test_argument_errors_are_one_line_with_a_suggestion(
    capsys: pytest.CaptureFixture[str], argv: list[str], message: str
) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["poll", *argv])
    assert exited.value.code == 2
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1
    assert err.startswith(message)


def test_help_is_plain_text_with_examples(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["poll", "--help"])
    out = capsys.readouterr().out
    assert "``" not in out
    assert "examples:\n  netpoll poll" in out


def test_profiles_option_adds_the_user_tables(
    snmpsim_lab: Any, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    """``--profiles DIR`` (alias ``--profiles-dir``): a user profile turns a table on.

    The table format shows its rows, the JSON has them; without it the shipped profile polls no table.
    """
    target = f"{snmpsim_lab.host}:{snmpsim_lab.port}"
    (tmp_path / "ubiquiti.yaml").write_text("extends: ubiquiti\ntables:\n  bgp_peer: {enabled: true}\n")
    code, out, err = run(
        capsys, target, "--community", "ubiquiti-edgeos-edgerouter", "--profiles", str(tmp_path)
    )
    assert code == 0, err
    assert "1 bgp_peer rows" in out
    assert "172.16.200.1" in out
    assert "established" in out
    for option in ("--profiles-dir", None):
        argv = [target, "--community", "ubiquiti-edgeos-edgerouter", "-f", "json"]
        code, out, err = run(capsys, *argv, *((option, str(tmp_path)) if option else ()))
        assert code == 0, err
        peers = [s for s in json.loads(out) if s["measurement"] == "bgp_peer"]
        assert len(peers) == (1 if option else 0)
    (tmp_path / "ubiquiti.yaml").write_text("extends: ubiquiti\ntables:\n  bgp_peer: {enabled: yes please}\n")
    code, out, err = run(
        capsys, target, "--community", "ubiquiti-edgeos-edgerouter", "--profiles", str(tmp_path)
    )
    assert code == 1
    assert err.strip() == f"{tmp_path / 'ubiquiti.yaml'}:3: enabled must be true or false", err
