"""Secrets (SNMP communities, SNMPv3 keys, tokens, passwords) from the environment or from files.

A committed file never holds a secret: each secret is written either as ``key: ${ENV_VAR}`` or as
``key_file: PATH`` (relative paths resolve against the directory of the file that names them; one
trailing newline is dropped). A literal value is rejected. Error messages name the variable or the
file, never the value.

What an *inventory* may read is the operator's choice, a :class:`SecretPolicy` built from the daemon
configuration's ``inventory_secrets`` section: only the variables it allows (never the daemon's own
``NETPOLL_<SECTION>__*`` variables, nor those its configuration's secrets name), and only regular files
inside its directories or the inventory's own (symlinks resolved first; never ``/proc``, ``/sys`` or
``/dev``, nor the configuration's own secret files). Otherwise an inventory edit could send the daemon's
InfluxDB token, or its whole environment, in clear to any address it names.
"""

from __future__ import annotations

import fnmatch
import logging
import os
import re
import stat
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from pydantic import SecretStr

from netpoll.configkit.files import ReadError, open_regular, read_text, resolve_path
from netpoll.configkit.limits import MAX_SECRET_BYTES

log = logging.getLogger("netpoll.configkit.secrets")

ENV_REFERENCE = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")
_LOOKS_LIKE_REFERENCE = re.compile(r"\$\{?[A-Za-z0-9_]*\}?")
# The daemon's own configuration variables (NETPOLL_INFLUXDB__TOKEN, NETPOLL_CONFIG): never an inventory's.
_DAEMON_VARIABLE = re.compile(r"NETPOLL_[A-Z0-9_]*__[A-Z0-9_]*|NETPOLL_CONFIG")
# Where no secret file can be: kernel and device interfaces (/proc/self/environ holds the environment).
_NEVER_DIRS = (Path("/proc"), Path("/sys"), Path("/dev"))

DEFAULT_SECRET_ENV: tuple[str, ...] = ("NETPOLL_*",)
"""Variables an inventory's ``${VAR}`` may name unless the configuration says otherwise."""
DEFAULT_SECRET_DIRS: tuple[str, ...] = ("/run/secrets", "/etc/netpoll/secrets", "/run/credentials")
"""Directories an inventory's ``*_file`` may read from (besides the inventory's own directory)."""


class SecretError(ValueError):
    """A secret cannot be resolved; the message says why and how to fix it, without the value."""


@dataclass(frozen=True)
class SecretPolicy:
    """Which variables and files an inventory's secrets may come from.

    Args:
        env: variable names, or prefixes ending in ``*`` (``SNMP_*``), a ``${VAR}`` may name.
        dirs: directories (and everything below them) a ``*_file`` may be in, besides the directory of
            the inventory file naming it. Symlinks are resolved before the check, so Kubernetes' secret
            volumes (``NAME -> ..data/NAME``) are accepted where the volume is mounted inside one.
        denied_env: variables never allowed (the ones the daemon configuration's own secrets name).
        denied_files: files never allowed (the daemon configuration's own secret files).
    """

    env: tuple[str, ...] = DEFAULT_SECRET_ENV
    dirs: tuple[str, ...] = DEFAULT_SECRET_DIRS
    denied_env: frozenset[str] = frozenset()
    denied_files: frozenset[str] = field(default_factory=frozenset)

    def check_variable(self, key: str, variable: str) -> None:
        """Raise SecretError unless an inventory may read ``variable``."""
        if _DAEMON_VARIABLE.fullmatch(variable) or variable in self.denied_env:
            raise SecretError(
                f"{key}: ${{{variable}}} is one of the daemon's own configuration secrets, which an inventory"
                f" may not read: give the inventory its own variable ({self._allowed_env()})"
            )
        if not any(fnmatch.fnmatchcase(variable, pattern) for pattern in self.env):
            raise SecretError(
                f"{key}: ${{{variable}}} is not a variable inventories may read ({self._allowed_env()}):"
                " rename it, or allow it in the configuration's inventory_secrets.env"
            )

    def check_file(self, key: str, path: Path, base_dir: Path) -> Path:
        """The real path of ``path`` if an inventory may read it; else raise SecretError."""
        real = Path(os.path.realpath(path))
        where = f"{key}_file {path}" + (f" (-> {real})" if real != path else "")
        if any(real == never or never in real.parents for never in _NEVER_DIRS):
            raise SecretError(
                f"{where}: secrets are never read from /proc, /sys or /dev: name a regular file"
            )
        if str(real) in self.denied_files:
            raise SecretError(
                f"{where}: is one of the daemon's own configuration secrets, which an inventory may not read"
            )
        allowed = [Path(os.path.realpath(base_dir)), *(Path(os.path.realpath(d)) for d in self.dirs)]
        if not any(real == top or top in real.parents for top in allowed):
            raise SecretError(
                f"{where}: is outside the directories inventory secrets may be read from"
                f" ({', '.join(self.dirs)}, or the inventory's own): move it there, or add its directory"
                " to the configuration's inventory_secrets.dirs"
            )
        return real

    def _allowed_env(self) -> str:
        return "allowed: " + ", ".join(self.env) if self.env else "none are allowed"


def referenced_variable(value: object) -> str | None:
    """The variable a ``${VAR}`` value names, else None."""
    match = ENV_REFERENCE.fullmatch(value) if isinstance(value, str) else None
    return match.group(1) if match else None


def resolve_secret(
    key: str,
    value: str | None,
    file: str | None,
    *,
    base_dir: Path,
    environ: Mapping[str, str] | None = None,
    required: bool = True,
    policy: SecretPolicy | None = None,
) -> SecretStr | None:
    """Resolve the secret written as ``key: ${VAR}`` (``value``) or ``key_file: PATH`` (``file``).

    Returns None when neither is given and ``required`` is false. ``policy`` restricts what an
    inventory may read; None (the daemon's own configuration): any variable, any regular file.

    Raises:
        SecretError: both or neither given, a literal value, an unset or empty variable, an unreadable,
            non-regular or empty file, or a variable or file the policy does not allow.
    """
    env = os.environ if environ is None else environ
    if value is not None and file is not None:
        raise SecretError(f"give either {key} or {key}_file, not both")
    if value is not None:
        return SecretStr(_from_environment(key, value, env, policy))
    if file is not None:
        return SecretStr(_from_file(key, file, base_dir, policy))
    if required:
        raise SecretError(f"missing {key}: add {key}: ${{ENV_VAR}} or {key}_file: PATH")
    return None


def _from_environment(key: str, value: str, env: Mapping[str, str], policy: SecretPolicy | None) -> str:
    variable = referenced_variable(value)
    if variable is None:
        if _LOOKS_LIKE_REFERENCE.fullmatch(value) and value.startswith("$"):
            raise SecretError(
                f"{key} must be written ${{ENV_VAR}} (with braces), e.g. {key}: ${{SNMP_SECRET}}"
            )
        raise SecretError(
            f"{key} is a literal secret, which files must not hold: write {key}: ${{ENV_VAR}} and export"
            f" the variable, or {key}_file: PATH"
        )
    if policy is not None:
        policy.check_variable(key, variable)
    resolved = env.get(variable)
    if resolved is None:
        raise SecretError(
            f"{key}: environment variable {variable} is not set: export {variable}, or use {key}_file: PATH"
        )
    if resolved == "":
        raise SecretError(f"{key}: environment variable {variable} is empty: give it the secret")
    return resolved


def _from_file(key: str, file: str, base_dir: Path, policy: SecretPolicy | None) -> str:
    path = resolve_path(file, base_dir)
    if policy is not None:
        policy.check_file(key, path, base_dir)
    try:
        text = read_text(path, max_bytes=MAX_SECRET_BYTES)
    except ReadError as exc:
        raise SecretError(f"{key}_file {path}: {exc}") from None
    _warn_if_shared(key, path)
    if text.endswith("\n"):
        text = text[:-1]
    if text.endswith("\r"):
        text = text[:-1]
    if not text:
        raise SecretError(f"{key}_file {path}: the file is empty: write the secret into it")
    if "\n" in text:
        raise SecretError(f"{key}_file {path}: holds more than one line; keep only the secret in it")
    return text


def _warn_if_shared(key: str, path: Path) -> None:
    try:
        fd, info = open_regular(path)
    except ReadError:
        return
    os.close(fd)
    if info.st_mode & (stat.S_IROTH | stat.S_IWOTH):
        what = (
            "read and write"
            if info.st_mode & stat.S_IWOTH and info.st_mode & stat.S_IROTH
            else ("write" if info.st_mode & stat.S_IWOTH else "read")
        )
        log.warning(
            "%s_file %s: other users can %s it (mode %o): chmod o-rw %s",
            key,
            path,
            what,
            stat.S_IMODE(info.st_mode),
            path,
        )


def config_secret_refs(
    values: Collection[tuple[str | None, str | None]], base_dir: Path
) -> tuple[frozenset[str], frozenset[str]]:
    """``(variables, real file paths)`` the configuration's own secrets use, from ``(value, file)`` pairs."""
    variables = {v for value, _ in values if (v := referenced_variable(value)) is not None}
    files = {os.path.realpath(resolve_path(file, base_dir)) for _, file in values if file}
    return frozenset(variables), frozenset(files)
