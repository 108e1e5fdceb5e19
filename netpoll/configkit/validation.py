"""Pydantic validation errors translated into ``file:line: what is wrong and how to fix it`` problems."""

from __future__ import annotations

import types
import typing
from collections.abc import Mapping, Sequence
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError
from pydantic_core import ErrorDetails

from netpoll.configkit.problems import Problems, closest, did_you_mean, hint
from netpoll.configkit.yamlsource import PathKey, YamlSource

M = TypeVar("M", bound=BaseModel)

# Values under these keys are never echoed in a message, whatever is wrong with them.
SECRET_KEYS = frozenset({"community", "auth_key", "priv_key", "token", "password"})

_BOUNDS = {
    "greater_than": ">",
    "greater_than_equal": ">=",
    "less_than": "<",
    "less_than_equal": "<=",
}
_TYPE_NAMES = {
    "str": "text",
    "int": "a whole number",
    "float": "a number",
    "bool": "true/false",
    "NoneType": "null",
    "list": "a list",
    "dict": "a mapping",
}


def validate(
    model: type[M],
    data: Any,
    source: YamlSource,
    path: PathKey,
    context: str,
    problems: Problems,
) -> M | None:
    """Validate ``data`` (found at ``path`` in ``source``) as ``model``; record problems, None on failure."""
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        errors = exc.errors()
        for error in _without_explained_missing(model, errors):
            loc = tuple(error["loc"])
            line = source.line((*path, *loc))
            prefix = f"{context}: " if context else ""
            problems.add(source.file, line, prefix + describe(model, error))
        return None


def expect(source: YamlSource, path: PathKey, value: Any, kind: type | tuple[type, ...], what: str) -> bool:
    """Whether ``value`` (found at ``path``) is a ``kind``; else report ``KEY must be WHAT`` at its line."""
    if isinstance(value, kind):
        return True
    where = ".".join(str(part) for part in path) or "the top level"
    source.report(path, f"{where} must be {what}")
    return False


def check_keys(
    source: YamlSource, path: PathKey, mapping: Mapping[Any, Any], allowed: Sequence[str], context: str = ""
) -> bool:
    """Report each key of ``mapping`` (found at ``path``) not in ``allowed``; True when there is none.

    For the loaders that check mappings by hand: the same message pydantic's unknown keys get.
    """
    ok = True
    for key in mapping:
        if key not in allowed:
            ok = False
            source.report((*path, key), context + unknown_key(str(key), str(key), allowed))
    return ok


def unknown_key(shown: str, key: str, allowed: Sequence[str]) -> str:
    """``unknown key 'shown'; did you mean 'x'?``, else with the keys allowed there listed."""
    return f"unknown key '{shown}'{hint(key, allowed, 'allowed keys here')}"


def _without_explained_missing(model: type[BaseModel], errors: list[ErrorDetails]) -> list[ErrorDetails]:
    """Drop "missing 'address'" when an unknown key 'adress' next to it already says what to fix."""
    suggested = set()
    for error in errors:
        if error["type"] == "extra_forbidden":
            loc = tuple(str(part) for part in error["loc"])
            match = closest(loc[-1], fields_at(model, loc[:-1]))
            if match is not None:
                suggested.add((*loc[:-1], match))
    return [
        error
        for error in errors
        if not (error["type"] == "missing" and tuple(str(part) for part in error["loc"]) in suggested)
    ]


def describe(model: type[BaseModel], error: ErrorDetails) -> str:
    """One pydantic error as ``key: what is wrong; how to fix it``."""
    loc = tuple(str(part) for part in error["loc"])
    where = ".".join(loc)
    kind = error["type"]
    secret = any(part in SECRET_KEYS for part in loc)
    value = "" if secret else _shown(error.get("input"))
    ctx = error.get("ctx") or {}
    if kind == "extra_forbidden":
        return unknown_key(where, loc[-1], fields_at(model, loc[:-1]))
    if kind == "missing":
        return f"missing required key '{where}': add it"
    prefix = f"{where}: " if where else ""
    got = f", got {value}" if value else ""
    if kind in ("model_type", "dict_type", "model_attributes_type"):
        return f"{prefix}must be a mapping of keys (key: value){got}"
    if kind in ("list_type", "tuple_type"):
        return f"{prefix}must be a list (one '- item' per line or [a, b]){got}"
    if kind == "string_type":
        fix = "" if secret else "; quote it if it is meant as text"
        return f"{prefix}must be text{got}{fix}"
    if kind in ("int_type", "int_parsing", "int_from_float"):
        return f"{prefix}must be a whole number{got}"
    if kind in ("float_type", "float_parsing"):
        return f"{prefix}must be a number{got}"
    if kind in ("bool_type", "bool_parsing"):
        return f"{prefix}must be true or false{got}"
    if kind in _BOUNDS:
        limit = next(iter(ctx.values()), "")
        return f"{prefix}must be {_BOUNDS[kind]} {limit}{got}"
    if kind == "literal_error":
        expected = str(ctx.get("expected", ""))
        choices = [part.strip(" '\"") for part in expected.replace(" or ", ", ").split(",")]
        suggestion = did_you_mean(str(error.get("input")), choices) if not secret else ""
        return f"{prefix}must be one of {expected}{got}{suggestion}"
    if kind == "value_error":
        # Our own validators raise ValueError("what is wrong: how to fix it").
        message = str(ctx.get("error", error["msg"]))
        return f"{prefix}{message}"
    return f"{prefix}{error['msg'].lower()}{got}"


def fields_at(model: type[BaseModel], loc: tuple[str, ...]) -> list[str]:
    """The keys the (nested) model at ``loc`` accepts, for hints; not internal (excluded) ones."""
    current: Any = model
    for part in loc:
        if not (isinstance(current, type) and issubclass(current, BaseModel)):
            return []
        info = current.model_fields.get(part)
        if info is None:
            return []
        current = _model_in(info.annotation)
        if current is None:
            return []
    if isinstance(current, type) and issubclass(current, BaseModel):
        return [name for name, info in current.model_fields.items() if not info.exclude]
    return []


def _model_in(annotation: Any) -> type[BaseModel] | None:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    origin = typing.get_origin(annotation)
    if origin is typing.Union or origin is types.UnionType:
        for arg in typing.get_args(annotation):
            found = _model_in(arg)
            if found is not None:
                return found
    return None


def _shown(value: Any) -> str:
    if isinstance(value, Mapping):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    if value is None:
        return "nothing (null)"
    text = repr(value)
    if len(text) > 40:
        text = text[:37] + "..."
    kind = _TYPE_NAMES.get(type(value).__name__, type(value).__name__)
    return f"{text} ({kind})"
