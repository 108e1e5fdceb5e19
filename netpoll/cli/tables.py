"""Tables that fit the terminal without cutting what identifies a row.

A table is declared as columns with a priority: 0 for what names a row (device, address, interface name),
never cut, higher numbers for what can go first when the terminal is too narrow. The table is measured at its
natural width; while it does not fit, the column with the highest priority number is dropped (and named in the
caption, so the reader knows where it went). Off a terminal (piped, redirected) nothing is dropped and the
table takes the width it needs, so a script gets every column whatever the terminal it runs from.
"""

from __future__ import annotations

import shutil
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from rich.console import Console
from rich.table import Table

Justify = Literal["left", "right"]


@dataclass(frozen=True, slots=True)
class Column:
    """One column: heading, alignment and how soon it may be dropped (0: never)."""

    heading: str
    priority: int = 0
    justify: Justify = "left"


def columns(spec: str) -> list[Column]:
    """Columns from a table, one per line: the heading; after ``|``, its priority and ``>`` if right-aligned.

    ``sent | 3 >`` is ``Column("sent", 3, "right")``; a line without ``|`` is a column never dropped.
    """
    out = []
    for line in spec.strip().splitlines():
        heading, _, rest = line.partition("|")
        words = rest.split()
        priority = int(words[0]) if words and words[0] != ">" else 0
        out.append(Column(heading.strip(), priority, "right" if ">" in words else "left"))
    return out


def terminal_width() -> int | None:
    """The terminal's width, or None when stdout is not a terminal (take the width the table needs)."""
    if not sys.stdout.isatty():
        return None
    return shutil.get_terminal_size().columns


def _build(title: str, columns: Sequence[Column], rows: Sequence[Sequence[str]], keep: list[int]) -> Table:
    table = Table(title=title, title_justify="left")
    for index in keep:
        column = columns[index]
        table.add_column(column.heading, justify=column.justify, no_wrap=True, overflow="fold")
    for row in rows:
        table.add_row(*(row[index] for index in keep))
    return table


def natural_width(table: Table) -> int:
    """The width ``table`` takes when nothing limits it."""
    return Console(width=100_000, emoji=False).measure(table).maximum


def fit_table(
    title: str,
    columns: Sequence[Column],
    rows: Sequence[Sequence[str]],
    width: int | None,
) -> tuple[Table, int]:
    """The table and the console width to print it at: low-priority columns dropped until it fits ``width``.

    Columns of priority 0 are always kept: when they alone are wider than ``width``, the table is printed at
    its natural width (the terminal wraps the lines, but no name or address is cut).
    """
    keep = list(range(len(columns)))
    table = _build(title, columns, rows, keep)
    needed = natural_width(table)
    dropped: list[str] = []
    while width is not None and needed > width:
        candidates = [i for i in keep if columns[i].priority > 0]
        if not candidates:
            break
        # Highest priority number first; among equals, the rightmost.
        victim = max(candidates, key=lambda i: (columns[i].priority, i))
        keep.remove(victim)
        dropped.append(columns[victim].heading)
        table = _build(title, columns, rows, keep)
        needed = natural_width(table)
    if dropped:
        table.caption = f"not shown at this width: {', '.join(dropped)} (pipe or widen the terminal for all)"
        table.caption_justify = "left"
    return table, max(needed, width or 0)


def print_table(
    title: str, columns: Sequence[Column], rows: Sequence[Sequence[str]], width: int | None = None
) -> None:
    """Print a fitted table to stdout; ``width`` defaults to the terminal's (None off a terminal)."""
    if width is None:
        width = terminal_width()
    table, console_width = fit_table(title, columns, rows, width)
    # A wide console for the caption too: rich would fold a caption wider than the table.
    Console(width=console_width, highlight=False, emoji=False).print(table)
