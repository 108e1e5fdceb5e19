"""YAML files read into plain data plus the line of every key and list item.

PyYAML's composer keeps a start mark on every node; walking the node tree ourselves (instead of
``yaml.safe_load``) lets every later problem name ``file:line``. Keys that appear twice in one mapping,
which ``safe_load`` silently resolves to the last one, are reported here.

Hostile files are refused while they are composed, before anything they describe is built: nesting
deeper than ``MAX_YAML_DEPTH`` (PyYAML's composer recurses: 10,000 levels would be a RecursionError),
and documents that stand for more than ``MAX_YAML_NODES`` values once aliases and merge keys are expanded
(a 300-byte alias bomb stands for billions). Each is one problem line, never a traceback.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from netpoll.configkit.files import ReadError, read_text
from netpoll.configkit.limits import MAX_FILE_BYTES, MAX_YAML_DEPTH, MAX_YAML_NODES
from netpoll.configkit.problems import Problems

PathKey = tuple[str | int, ...]


@dataclass
class YamlSource:
    """One parsed YAML file: the data, the line (1-based) of each key path in it, where its problems go."""

    file: str
    data: Any
    lines: dict[PathKey, int] = field(default_factory=dict)
    problems: Problems = field(default_factory=Problems)

    def report(self, path: PathKey, message: str) -> None:
        """Record a problem at the line of ``path`` (or of its nearest enclosing key or item)."""
        self.problems.add(self.file, self.line(path), message)

    def line(self, path: PathKey) -> int:
        """The line of ``path``, or of its nearest enclosing key or item when it has none itself."""
        for end in range(len(path), -1, -1):
            line = self.lines.get(tuple(path[:end]))
            if line is not None:
                return line
        return 1

    @property
    def base_dir(self) -> Path:
        """The directory relative paths in this file are resolved against."""
        return Path(self.file).parent


def display_path(path: Path) -> str:
    """The path as it goes into messages: relative to the working directory when it is below it."""
    try:
        # abspath, not resolve(): a symlink is shown as named, and a symlink loop cannot raise here
        return str(Path(os.path.abspath(path)).relative_to(os.path.abspath(Path.cwd())))
    except ValueError:
        return str(path)


def load_yaml(path: Path, problems: Problems) -> YamlSource | None:
    """Read ``path``; on a read or syntax error, record the problem and return None."""
    name = display_path(path)
    try:
        text = read_text(path)
    except ReadError as exc:
        problems.add(name, 1, str(exc))
        return None
    return parse_yaml(text, name, problems)


class _Refused(Exception):
    """A bound of netpoll.configkit.limits was crossed while composing, at ``line``."""

    def __init__(self, line: int, message: str) -> None:
        super().__init__(message)
        self.line = line


class _BoundedLoader(yaml.SafeLoader):
    """SafeLoader whose composer refuses deep nesting, recursive aliases and alias expansion bombs.

    Each composed node's expanded size (itself plus everything below it, aliases counted in full) is
    computed once, from its children's, so the check costs one pass however often a node is aliased.
    """

    def __init__(self, text: str) -> None:
        super().__init__(text)
        self._depth = 0
        self._sizes: dict[int, int] = {}

    def compose_node(self, parent: yaml.Node | None, index: Any) -> yaml.Node | None:
        line = self.peek_event().start_mark.line + 1  # type: ignore[no-untyped-call]
        if self.check_event(yaml.AliasEvent):
            node = super().compose_node(parent, index)
            if id(node) not in self._sizes:
                raise _Refused(
                    line, "an alias refers to the mapping or list it is in (a recursive alias): remove it"
                )
            return node
        self._depth += 1
        try:
            if self._depth > MAX_YAML_DEPTH:
                raise _Refused(line, f"nested deeper than {MAX_YAML_DEPTH} levels: is it the right file?")
            node = super().compose_node(parent, index)
        finally:
            self._depth -= 1
        size = 1
        if node is None:
            return None
        if isinstance(node, yaml.MappingNode):
            size += sum(self._sizes[id(key)] + self._sizes[id(value)] for key, value in node.value)
        elif isinstance(node, yaml.SequenceNode):
            size += sum(self._sizes[id(item)] for item in node.value)
        if size > MAX_YAML_NODES:
            raise _Refused(
                line,
                f"stands for more than {MAX_YAML_NODES} values once its aliases (*name) are expanded"
                " (an alias bomb?): write the values out, or use fewer aliases",
            )
        self._sizes[id(node)] = size
        return node


def parse_yaml(text: str, name: str, problems: Problems) -> YamlSource | None:
    """Parse YAML ``text`` (from file ``name``) into a :class:`YamlSource`, within the limits."""
    source = YamlSource(file=name, data=None, problems=problems)
    if len(text) > MAX_FILE_BYTES:
        problems.add(name, 1, f"longer than {MAX_FILE_BYTES} characters: is it the right file?")
        return None
    try:
        loader = _BoundedLoader(text)
    except yaml.reader.ReaderError as exc:
        line = text.count("\n", 0, exc.position) + 1
        problems.add(name, line, f"character #x{exc.character:04x} is not allowed in YAML: remove it")
        return None
    try:
        node = loader.get_single_node()
        if node is None:
            return source
        source.lines[()] = node.start_mark.line + 1
        source.data = _construct(loader, node, (), source, problems, set())
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark is not None else 1
        # Only the problem text: the snippet PyYAML adds could show a secret written on that line.
        what = exc.problem or exc.context or "invalid YAML"
        context = f" ({exc.context})" if exc.context and exc.problem else ""
        problems.add(name, line, f"YAML syntax error: {what}{context}: fix the YAML syntax")
        return None
    except yaml.YAMLError as exc:
        problems.add(name, 1, f"YAML error: {type(exc).__name__}: fix the file's encoding or syntax")
        return None
    except _Refused as exc:
        problems.add(name, exc.line, str(exc))
        return None
    except (RecursionError, MemoryError) as exc:  # a bound missed above: still one line, never a traceback
        kind = "too deeply nested" if isinstance(exc, RecursionError) else "too large"
        problems.add(name, 1, f"{kind} to load ({type(exc).__name__}): is it the right file?")
        return None
    finally:
        loader.dispose()
    return source


def _construct(
    loader: yaml.SafeLoader,
    node: yaml.Node,
    path: PathKey,
    source: YamlSource,
    problems: Problems,
    active: set[int],
) -> Any:
    if len(path) > MAX_YAML_DEPTH or id(node) in active:
        problems.add(source.file, node.start_mark.line + 1, "nesting too deep (a recursive alias?)")
        return None
    if isinstance(node, yaml.MappingNode):
        active.add(id(node))
        try:
            return _construct_mapping(loader, node, path, source, problems, active)
        finally:
            active.discard(id(node))
    if isinstance(node, yaml.SequenceNode):
        active.add(id(node))
        items = []
        for index, item in enumerate(node.value):
            source.lines[(*path, index)] = item.start_mark.line + 1
            items.append(_construct(loader, item, (*path, index), source, problems, active))
        active.discard(id(node))
        return items
    return loader.construct_object(node, deep=True)


def _construct_mapping(
    loader: yaml.SafeLoader,
    node: yaml.MappingNode,
    path: PathKey,
    source: YamlSource,
    problems: Problems,
    active: set[int],
) -> dict[Any, Any]:
    first_seen: dict[Any, int] = {}
    for key_node, _ in node.value:
        if key_node.tag == "tag:yaml.org,2002:merge" or not isinstance(key_node, yaml.ScalarNode):
            continue
        key = loader.construct_object(key_node)
        line = key_node.start_mark.line + 1
        if key in first_seen:
            problems.add(
                source.file,
                line,
                f"key '{key}' appears twice in this mapping (first at line {first_seen[key]}): remove one",
            )
        else:
            first_seen[key] = line
    # Resolve ``<<: *anchor`` merge keys the way safe_load does; explicit keys override merged ones.
    loader.flatten_mapping(node)
    result: dict[Any, Any] = {}
    for key_node, value_node in node.value:
        key = loader.construct_object(key_node, deep=True)
        if not isinstance(key, str | int | float | bool) and key is not None:
            problems.add(source.file, key_node.start_mark.line + 1, "a key must be a plain name")
            continue
        key_path = (*path, key if isinstance(key, str | int) else str(key))
        # Merged keys come first after flatten_mapping, so an explicit key's line replaces theirs.
        source.lines[key_path] = key_node.start_mark.line + 1
        result[key] = _construct(loader, value_node, key_path, source, problems, active)
    return result
