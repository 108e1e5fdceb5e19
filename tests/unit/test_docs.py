"""The documentation as a whole: the README stays a quick start, docs/ has its pages, and every relative link
(to a file, or to a heading in it) resolves."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.doctext import ROOT

README_MAX_LINES = 250
# The reference pages the README links to (issue 10's list, plus the command line and the daemon).
PAGES = (
    "inventory",
    "configuration",
    "cli",
    "schema",
    "daemon",
    "snmp",
    "icmp",
    "alerts",
    "deployment",
    "scaling",
    "delivery",
    "development",
    "benchmarks",
)
PLUGINS = ("inputs/snmp", "inputs/icmp", "outputs/influxdb", "outputs/mqtt", "outputs/files")


def documents() -> list[Path]:
    found = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
    found += sorted((ROOT / "netpoll").glob("*/*/README.md"))
    return found


def anchors(path: Path) -> set[str]:
    """GitHub's heading anchors: lower case, punctuation other than - and _ dropped, spaces → -."""
    slugs = set()
    for heading in re.findall(r"^#+ (.+)$", path.read_text(encoding="utf-8"), re.M):
        slugs.add(re.sub(r"[^\w\- ]", "", heading.lower()).replace(" ", "-"))
    return slugs


def test_readme_is_a_quick_start() -> None:
    lines = (ROOT / "README.md").read_text(encoding="utf-8").splitlines()
    assert len(lines) <= README_MAX_LINES
    # The two commands come first, before anything else a reader would run.
    first_block = next(i for i, line in enumerate(lines) if line.startswith("```"))
    assert lines[first_block + 1].startswith("make demo")
    assert lines[first_block + 2].startswith("make test")


def test_every_page_and_plugin_readme_exists() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    for page in PAGES:
        assert (ROOT / "docs" / f"{page}.md").is_file(), page
        assert f"(docs/{page}.md)" in readme, f"the README does not link docs/{page}.md"
    for plugin in PLUGINS:
        folder = ROOT / "netpoll" / plugin
        assert (folder / "README.md").is_file(), plugin
        assert (folder / "sample.yaml").is_file(), plugin
        assert f"(netpoll/{plugin}/README.md)" in readme, f"the README does not link {plugin}"


@pytest.mark.parametrize("path", documents(), ids=lambda p: str(p.relative_to(ROOT)))
def test_relative_links_resolve(path: Path) -> None:
    text = re.sub(r"```.*?```", "", path.read_text(encoding="utf-8"), flags=re.S)
    broken = []
    for target in re.findall(r"\]\(([^)\s]+)\)", text):
        if re.match(r"[a-z]+:", target):
            continue  # http(s), mailto: not checked here
        file_part, _, anchor = target.partition("#")
        linked = (path.parent / file_part).resolve() if file_part else path
        if not linked.exists():
            broken.append(target)
        elif anchor and linked.suffix == ".md" and anchor not in anchors(linked):
            broken.append(f"{target} (no such heading)")
    assert not broken, f"{path.relative_to(ROOT)}: {broken}"
