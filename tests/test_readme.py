"""The README's quickstart is the contract with a newcomer: two commands, and CI runs the second."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _quickstart_commands() -> list[str]:
    readme = (ROOT / "README.md").read_text()
    section = readme.split("## Quickstart", 1)[1].split("\n## ", 1)[0]
    block = re.search(r"```bash\n(.*?)```", section, re.S)
    assert block is not None, "the quickstart has no bash block"
    return [line.split("#", 1)[0].strip() for line in block.group(1).splitlines() if line.strip()]


def test_the_quickstart_has_exactly_a_demo_and_a_test_command() -> None:
    assert _quickstart_commands() == ["python3 run.py demo", "python3 run.py test"]


def test_ci_runs_the_readme_test_command() -> None:
    ci = (ROOT / ".ci" / "run").read_text()

    assert "python3 run.py test" in ci


def test_every_q2c_command_the_readme_names_exists() -> None:
    readme = (ROOT / "README.md").read_text()
    main = (ROOT / "cli" / "main.py").read_text()
    named = set(re.findall(r"`q2c ([\w-]+)", readme))

    assert named, "the README names no q2c command"
    assert {name for name in named if f'"{name}"' not in main} == set()
