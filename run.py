#!/usr/bin/env python3
"""Bootstrap for a fresh clone: `python3 run.py demo` and `python3 run.py test` need nothing but Python 3.11.

It keeps a virtual environment in .venv with q2c installed (re-installed whenever pyproject.toml changes),
then hands the command over to it. Standard library only: this runs before any dependency exists.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import NoReturn

MIN_PYTHON = (3, 11)
ROOT = Path(__file__).resolve().parent
VENV = ROOT / ".venv"
BIN = VENV / ("Scripts" if os.name == "nt" else "bin")
VENV_PYTHON = BIN / ("python.exe" if os.name == "nt" else "python")
VENV_Q2C = BIN / ("q2c.exe" if os.name == "nt" else "q2c")
INSTALLED_MARKER = VENV / ".q2c-installed"
PYPROJECT = ROOT / "pyproject.toml"
PYTEST_NO_TESTS_COLLECTED = 5

USAGE = """\
usage: python3 run.py COMMAND [ARGS...]

Runs q2c from a virtual environment in .venv, creating it and installing q2c
(`pip install -e '.[dev]'`) on first use and again whenever pyproject.toml changes.

commands:
  demo [ARGS...]    run the quote-to-cash demo (same as `q2c demo ARGS...`)
  test [ARGS...]    run the test suite from the project root (`python -m pytest ARGS...`);
                    exits with pytest's status, and fails if no tests were collected
  q2c ARGS...       run any q2c command, e.g. `python3 run.py q2c --help`
  -h, --help        show this message

After the first run you can also use .venv/bin/q2c directly.
"""


def say(message: str) -> None:
    print(f"run.py: {message}", file=sys.stderr, flush=True)


def fail(message: str, code: int = 1) -> NoReturn:
    say(message)
    sys.exit(code)


def require_python() -> None:
    if sys.version_info < MIN_PYTHON:
        found = ".".join(str(part) for part in sys.version_info[:3])
        wanted = ".".join(str(part) for part in MIN_PYTHON)
        fail(f"q2c needs Python {wanted} or newer; this is Python {found} ({sys.executable})")


def pyproject_digest() -> str:
    """What the install depends on: pyproject.toml, and the top-level packages (an editable install maps each
    package it found; a package added later is invisible to it until the next install)."""
    packages = sorted(p.parent.name for p in ROOT.glob("*/__init__.py"))
    return hashlib.sha256(PYPROJECT.read_bytes() + "\n".join(packages).encode()).hexdigest()


def run_quietly(command: list[str]) -> bool:
    """Run a setup step; its output is shown only if it fails, since then it is the explanation."""
    result = subprocess.run(command, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    if result.returncode != 0:
        sys.stderr.write(result.stdout)
        say(f"`{' '.join(command)}` failed with exit status {result.returncode} (output above)")
    return result.returncode == 0


def create_venv() -> None:
    say("creating virtual environment in .venv")
    # A .venv without its python is the remains of an interrupted creation; start over.
    shutil.rmtree(VENV, ignore_errors=True)
    if not run_quietly([sys.executable, "-m", "venv", str(VENV)]):
        shutil.rmtree(VENV, ignore_errors=True)
        fail("could not create .venv (on Debian/Ubuntu, `python3 -m venv` needs the python3-venv package)")


def install_project(digest: str) -> None:
    say("installing q2c and its dependencies (first run takes a minute)")
    INSTALLED_MARKER.unlink(missing_ok=True)  # an interrupted install must be retried next time
    pip = [str(VENV_PYTHON), "-m", "pip", "install", "--quiet", "--disable-pip-version-check"]
    if not run_quietly([*pip, "-e", ".[dev]"]):
        fail("installing q2c failed; fix the error above and run again")
    INSTALLED_MARKER.write_text(digest + "\n", encoding="utf-8")


def installed_digest() -> str | None:
    try:
        return INSTALLED_MARKER.read_text(encoding="utf-8").strip()
    except OSError:
        return None


def ensure_venv() -> None:
    with venv_lock():
        if not VENV_PYTHON.exists():
            create_venv()
        digest = pyproject_digest()
        if installed_digest() != digest:
            install_project(digest)


@contextlib.contextmanager
def venv_lock() -> Iterator[None]:
    """Serialise concurrent run.py invocations on one clone, so two never build .venv at once."""
    # Outside the clone: the lock must exist before .venv does, and must not show up in `git status`.
    key = hashlib.sha256(str(ROOT).encode()).hexdigest()[:16]
    with open(Path(tempfile.gettempdir()) / f"q2c-venv-{key}.lock", "w") as lock_file:
        try:
            import fcntl
        except ImportError:  # Windows: no lock, which only matters for simultaneous first runs
            yield
            return
        fcntl.flock(lock_file, fcntl.LOCK_EX)
        yield  # closing the file releases the lock


def exec_in_venv(program: Path, args: list[str]) -> None:
    """Replace this process, so Ctrl-C and the exit status belong to the child alone."""
    if not program.exists():
        fail(f"{program} is missing; delete .venv and run again")
    argv = [str(program), *args]
    if os.name == "nt":  # os.execv on Windows does not replace the process; wait and forward instead
        sys.exit(wait_for(subprocess.Popen(argv)))
    os.execv(argv[0], argv)


def wait_for(child: subprocess.Popen[bytes]) -> int:
    """The child's exit status; a Ctrl-C reaches it too (same process group), so keep waiting for it."""
    while True:
        try:
            code = child.wait()
        except KeyboardInterrupt:
            continue
        return code if code >= 0 else 128 - code  # killed by signal N: the shell's 128+N


def ensure_postgresql() -> None:
    """The database tests run on a real PostgreSQL: start (or install) the local one if it is not up."""
    script = ROOT / ".ci" / "ensure-postgresql"
    if os.name == "nt" or shutil.which("bash") is None:
        say("cannot check PostgreSQL here; its tests skip outside CI")
        return
    if subprocess.call(["bash", str(script)]) != 0:
        say("PostgreSQL is not available; its tests skip outside CI and fail in CI")


def ensure_chromium() -> None:
    """The finance console's browser test drives Debian's Chromium: install it if it is missing."""
    script = ROOT / ".ci" / "ensure-chromium"
    if os.name == "nt" or shutil.which("bash") is None:
        say("cannot check Chromium here; the browser test skips outside CI")
        return
    if subprocess.call(["bash", str(script)]) != 0:
        say("Chromium is not available; the browser test skips outside CI and fails in CI")


def run_tests(args: list[str]) -> None:
    ensure_postgresql()
    ensure_chromium()
    # Not exec'd: pytest's "no tests collected" must become a failure, or a typo'd path passes CI.
    code = wait_for(subprocess.Popen([str(VENV_PYTHON), "-m", "pytest", *args], cwd=ROOT))
    if code == PYTEST_NO_TESTS_COLLECTED:
        fail("pytest collected no tests; treating that as a failure")
    sys.exit(code)


def main(argv: list[str]) -> None:
    require_python()
    if not argv or argv[0] in ("-h", "--help", "help"):
        print(USAGE, end="")
        return
    command, args = argv[0], argv[1:]
    if command not in ("demo", "test", "q2c"):
        sys.stderr.write(USAGE)
        fail(f"unknown command {command!r}", code=2)
    ensure_venv()
    if command == "test":
        run_tests(args)
    elif command == "demo":
        exec_in_venv(VENV_Q2C, ["demo", *args])
    else:
        exec_in_venv(VENV_Q2C, args)


if __name__ == "__main__":
    try:
        main(sys.argv[1:])
    except KeyboardInterrupt:
        sys.exit(130)  # interrupted during setup: no traceback, the usual status for Ctrl-C
