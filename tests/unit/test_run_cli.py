"""``netpoll run`` refuses unusable directories in one line before the daemon starts."""

from __future__ import annotations

from pathlib import Path

import pytest

from netpoll.cli.main import main


@pytest.mark.parametrize("key", ["data_dir", "state_dir"])
def test_directory_under_a_file_is_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], key: str
) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    config = tmp_path / "netpoll.yaml"
    config.write_text(f"inventories: [nowhere.yaml]\n{key}: a-file/sub\n")
    assert main(["run", "--config", str(config), "--cycles", "1"]) == 1
    err = capsys.readouterr().err
    assert err.startswith(f"netpoll: run: {key} {blocker}/sub (from {config}): cannot create or write it (")
    assert err.rstrip().endswith("): fix the path or its permissions")
    assert len(err.strip().splitlines()) == 1


@pytest.mark.parametrize("argv", [["--cycles", "0"], ["--cycles", "x"], ["--interval", "0"]])
def test_bad_numbers_are_argparse_errors(argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as info:
        main(["run", *argv])
    assert info.value.code == 2
    assert "Traceback" not in capsys.readouterr().err
