"""Line protocol read back into ``Sample`` records: tests check what netpoll wrote against the model."""

from __future__ import annotations

from netpoll.sample import FieldValue, Sample


def _split(text: str, sep: str) -> list[str]:
    """Split on ``sep`` outside double quotes and not after a backslash (the escape stays in the parts)."""
    parts, current, quoted, escaped = [], [], False, False
    for char in text:
        if escaped:
            current.append(char)
            escaped = False
        elif char == "\\":
            current.append(char)
            escaped = True
        elif char == '"':
            current.append(char)
            quoted = not quoted
        elif char == sep and not quoted:
            parts.append("".join(current))
            current = []
        else:
            current.append(char)
    parts.append("".join(current))
    return parts


def _unescape(text: str) -> str:
    out, escaped = [], False
    for char in text:
        if escaped or char != "\\":
            out.append(char)
            escaped = False
        else:
            escaped = True
    return "".join(out)


def _value(text: str) -> FieldValue:
    if text.startswith('"'):
        return _unescape(text[1:-1])
    if text in ("true", "false"):
        return text == "true"
    if text.endswith("i"):
        return int(text[:-1])
    return float(text)


def parse_line(line: str) -> Sample:
    """One line of line protocol as a ``Sample`` (integers ``i``, strings quoted, bools, else floats)."""
    head, fields, stamp = _split(line, " ")
    series = _split(head, ",")
    tags = {}
    for pair in series[1:]:
        key, value = _split(pair, "=")
        tags[_unescape(key)] = _unescape(value)
    values = {}
    for pair in _split(fields, ","):
        key, value = pair.split("=", 1)
        values[_unescape(key)] = _value(value)
    return Sample(_unescape(series[0]), tags, values, int(stamp))


def parse_lines(text: str) -> list[Sample]:
    """Every non-empty line of ``text``."""
    return [parse_line(line) for line in text.splitlines() if line.strip()]
