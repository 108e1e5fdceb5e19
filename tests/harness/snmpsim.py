"""snmpsim (``snmpsim-command-responder``) serving a directory of ``.snmprec`` recordings."""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

from tests.harness.ports import free_port
from tests.harness.process import (
    ServerHandle,
    ServerProcess,
    ServerStartError,
    require_binary,
    snmp_ready,
    unavailable,
)

REPO_ROOT = Path(__file__).resolve().parents[2]


def lab_dir() -> Path:
    """The shared SNMP lab: ``$NETPOLL_LAB_DIR`` or ``../shared/lab`` beside the repository."""
    override = os.environ.get("NETPOLL_LAB_DIR")
    return Path(override) if override else REPO_ROOT.parent / "shared" / "lab"


def lab_snmprec_dir() -> Path:
    """The directory of the lab's ``.snmprec`` recordings (one device per file, community = stem)."""
    return lab_dir() / "snmprec"


@dataclass
class SnmpsimAgent(ServerHandle):
    """A running snmpsim; every recording answers SNMP v1/v2c to the community named after its file stem."""

    host: str
    port: int
    communities: list[str]
    data_dir: Path
    process: ServerProcess


def _responder() -> str:
    # The venv's own console script, installed by the `lab` extra (pysmi must come with it).
    candidate = Path(sys.executable).parent / "snmpsim-command-responder"
    if candidate.exists():
        return str(candidate)
    return require_binary("snmpsim-command-responder", "PyPI package snmpsim (pip install -e '.[lab]')")


def _private_tree(prefix: str) -> Path:
    path = Path(tempfile.mkdtemp(prefix=prefix))
    path.chmod(0o755)
    return path


def start_snmpsim(workdir: Path, data_dir: Path, port: int | None = None) -> SnmpsimAgent:
    """Serve ``data_dir`` on 127.0.0.1 and return once it answers an SNMP GET (see ``_start_snmpsim``).

    On a port of its own choosing it is started once more, on another port, if it never answered: a port
    picked free comes from the kernel's ephemeral range, where another test's socket can take it first (CI
    saw an snmpsim "listening" and unanswered for 90 s once in about ten runs of the suite).
    """
    try:
        return _start_snmpsim(workdir, data_dir, port)
    except ServerStartError:
        if port is not None:
            raise
        cleanup_snmpsim(workdir)
        return _start_snmpsim(workdir, data_dir, None)


def _start_snmpsim(workdir: Path, data_dir: Path, port: int | None) -> SnmpsimAgent:
    """Serve ``data_dir`` on 127.0.0.1 and return once it answers an SNMP GET.

    As root snmpsim must drop privileges, so it runs as ``nobody``: the recordings are copied to a world-
    readable temp dir and its cache dir is owned by ``nobody`` (both removed at stop by the fixture). When
    ``nobody`` cannot reach the venv (a clone under /root, mode 700) it "drops" to root instead, which
    snmpsim accepts, rather than failing after the switch with unreadable standard library modules.
    """
    responder = _responder()
    data_dir = Path(data_dir)
    communities = sorted(p.stem for p in data_dir.glob("*.snmprec"))
    if not communities:
        unavailable(f"no .snmprec files in {data_dir} (set NETPOLL_LAB_DIR to the shared lab)")
    port = port or free_port("udp")
    workdir.mkdir(parents=True, exist_ok=True)
    argv = [
        responder,
        f"--agent-udpv4-endpoint=127.0.0.1:{port}",
        "--logging-method=stdout",
        # info level logs every request and response in full: too slow and too big for walks and benches
        "--log-level=error",
    ]
    served = data_dir
    if os.geteuid() == 0:
        # pytest's tmp dirs are mode 700, so nobody could read a fixture's data there: serve a copy.
        served = _private_tree("netpoll-snmprec-")
        shutil.copytree(data_dir, served, dirs_exist_ok=True)
        for path in [served, *served.rglob("*")]:
            path.chmod(0o755 if path.is_dir() else 0o644)
        cache = _private_tree("netpoll-snmpsim-cache-")
        # root stays root: a child that changes its user loses die_with_parent's PDEATHSIG, and an snmpsim
        # left behind by a killed pytest kept running as nobody with PPID 1.
        user, group = "root", "root"
        shutil.chown(cache, user, group)
        argv += [f"--cache-dir={cache}", f"--process-user={user}", f"--process-group={group}"]
    else:
        cache = workdir / "cache"
        cache.mkdir(exist_ok=True)
        argv += [f"--cache-dir={cache}"]
    argv.append(f"--data-dir={served}")
    process = ServerProcess(
        "snmpsim", argv, log_dir=workdir, ready=snmp_ready("127.0.0.1", port, communities[0]), timeout=90.0
    )
    try:
        process.start()
    finally:
        if os.geteuid() == 0:
            (workdir / "cleanup.txt").write_text(f"{served}\n{cache}\n")
    return SnmpsimAgent(
        host="127.0.0.1", port=port, communities=communities, data_dir=served, process=process
    )


def cleanup_snmpsim(workdir: Path) -> None:
    """Remove the temp dirs made outside ``workdir`` by ``start_snmpsim`` as root."""
    listing = workdir / "cleanup.txt"
    if listing.exists():
        for line in listing.read_text().splitlines():
            if line.strip() and Path(line).name.startswith("netpoll-"):
                shutil.rmtree(line, ignore_errors=True)
