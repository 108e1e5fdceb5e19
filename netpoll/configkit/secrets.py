"""Secrets (SNMP communities, SNMPv3 keys, tokens, passwords) from the environment or from files.

A committed file never holds a secret: each secret is written either as ``key: ${ENV_VAR}`` or as
``key_file: PATH`` (relative paths resolve against the directory of the file that names them; one
trailing newline is dropped). A literal value is rejected. Error messages name the variable or the
file, never the value.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from pathlib import Path

from pydantic import SecretStr

from netpoll.configkit.files import ReadError, read_text, resolve_path
from netpoll.configkit.limits import MAX_SECRET_BYTES

ENV_REFERENCE = re.compile(r"^\$\{([A-Za-z_][A-Za-z0-9_]*)\}$")
_LOOKS_LIKE_REFERENCE = re.compile(r"^\$\{?[A-Za-z0-9_]*\}?$")


class SecretError(ValueError):
    """A secret cannot be resolved; the message says why and how to fix it, without the value."""


def resolve_secret(
    key: str,
    value: str | None,
    file: str | None,
    *,
    base_dir: Path,
    environ: Mapping[str, str] | None = None,
    required: bool = True,
) -> SecretStr | None:
    """Resolve the secret written as ``key: ${VAR}`` (``value``) or ``key_file: PATH`` (``file``).

    Returns None when neither is given and ``required`` is false.

    Raises:
        SecretError: both or neither given, a literal value, an unset or empty variable, an unreadable
            or empty file.
    """
    env = os.environ if environ is None else environ
    if value is not None and file is not None:
        raise SecretError(f"give either {key} or {key}_file, not both")
    if value is not None:
        return SecretStr(_from_environment(key, value, env))
    if file is not None:
        return SecretStr(_from_file(key, file, base_dir))
    if required:
        raise SecretError(f"missing {key}: add {key}: ${{ENV_VAR}} or {key}_file: PATH")
    return None


def _from_environment(key: str, value: str, env: Mapping[str, str]) -> str:
    match = ENV_REFERENCE.match(value)
    if match is None:
        if _LOOKS_LIKE_REFERENCE.match(value) and value.startswith("$"):
            raise SecretError(
                f"{key} must be written ${{ENV_VAR}} (with braces), e.g. {key}: ${{SNMP_SECRET}}"
            )
        raise SecretError(
            f"{key} is a literal secret, which files must not hold: write {key}: ${{ENV_VAR}} and export"
            f" the variable, or {key}_file: PATH"
        )
    variable = match.group(1)
    resolved = env.get(variable)
    if resolved is None:
        raise SecretError(
            f"{key}: environment variable {variable} is not set: export {variable}, or use {key}_file: PATH"
        )
    if resolved == "":
        raise SecretError(f"{key}: environment variable {variable} is empty: give it the secret")
    return resolved


def _from_file(key: str, file: str, base_dir: Path) -> str:
    path = resolve_path(file, base_dir)
    try:
        text = read_text(path, max_bytes=MAX_SECRET_BYTES)
    except ReadError as exc:
        raise SecretError(f"{key}_file {path}: {exc}") from None
    if text.endswith("\n"):
        text = text[:-1]
    if text.endswith("\r"):
        text = text[:-1]
    if not text:
        raise SecretError(f"{key}_file {path}: the file is empty: write the secret into it")
    if "\n" in text:
        raise SecretError(f"{key}_file {path}: holds more than one line; keep only the secret in it")
    return text
