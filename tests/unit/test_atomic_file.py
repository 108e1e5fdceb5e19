"""write_new: a file created whole or not at all, in few system calls."""

from __future__ import annotations

import errno
import os
from pathlib import Path

import pytest

from netpoll.atomic_file import write_new


def test_creates_the_file_and_leaves_no_temporary(tmp_path: Path) -> None:
    path = tmp_path / "0000000000000001.lp"
    write_new(path, b"m v=1i 1\n" * 1000)
    assert path.read_bytes() == b"m v=1i 1\n" * 1000
    assert sorted(p.name for p in tmp_path.iterdir()) == [path.name]
    assert path.stat().st_mode & 0o777 == 0o600


def test_a_removed_directory_is_made_again(tmp_path: Path) -> None:
    path = tmp_path / "spool" / "1.lp"
    write_new(path, b"x\n")
    assert path.read_bytes() == b"x\n"


def test_a_failed_write_leaves_neither_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def full(fd: int, data: object) -> int:
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(os, "write", full)
    with pytest.raises(OSError, match="No space"):
        write_new(tmp_path / "1.lp", b"x\n")
    assert list(tmp_path.iterdir()) == []
