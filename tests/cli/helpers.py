"""Run the real `q2c` CLI in a subprocess, as a user would, from the project root."""

from __future__ import annotations

import os
import shlex
import signal
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def clean_env() -> dict[str, str]:
    """The environment without Q2C_* settings, so a developer's own config cannot steer the tests."""
    return {k: v for k, v in os.environ.items() if not k.startswith("Q2C_")}


def q2c(*args: str, timeout: float = 60, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """`q2c ARGS` in a clean environment, plus `env`."""
    return subprocess.run(
        [sys.executable, "-m", "cli.main", *args],
        cwd=ROOT,
        env=clean_env() | (env or {}),
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def spawn_q2c(*args: str, out: Path, env: dict[str, str] | None = None) -> subprocess.Popen[bytes]:
    """A long-running q2c (dev, worker): stdout to `out`, stderr to `errors_of(out)`.

    Ctrl-C is restored to its default, since a shell running the tests in the background ignores it.
    """
    with out.open("wb") as sink, errors_of(out).open("wb") as errors:
        return subprocess.Popen(
            [sys.executable, "-m", "cli.main", *args],
            cwd=ROOT,
            env=clean_env() | (env or {}),
            stdin=subprocess.DEVNULL,
            stdout=sink,
            stderr=errors,
            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
        )


def errors_of(out: Path) -> Path:
    return out.with_suffix(".err")


def wait_for_line(process: subprocess.Popen[bytes], out: Path, marker: str, timeout: float = 60) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        text = out.read_text(encoding="utf-8", errors="replace")
        if marker in text:
            return text
        if process.poll() is not None:
            stderr = errors_of(out).read_text(encoding="utf-8", errors="replace")
            raise AssertionError(f"q2c exited with {process.returncode} before {marker!r}:\n{text}\n{stderr}")
        time.sleep(0.1)
    raise AssertionError(f"no {marker!r} within {timeout} s:\n{out.read_text(encoding='utf-8')}")


def no_traceback(result: subprocess.CompletedProcess[str]) -> None:
    assert "Traceback" not in result.stderr, result.stderr
    assert "Traceback" not in result.stdout, result.stdout


def one_error_line(result: subprocess.CompletedProcess[str]) -> str:
    no_traceback(result)
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("q2c: error: "), result.stderr
    return lines[0]


def stop(process: subprocess.Popen[bytes], sig: signal.Signals = signal.SIGINT, timeout: float = 30) -> int:
    """Send `sig` and wait for the exit status (kill it if it does not stop)."""
    if process.poll() is None:
        process.send_signal(sig)
        try:
            return process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
            raise AssertionError(f"q2c did not stop within {timeout} s of {sig.name}") from None
    return process.returncode


def exports(text: str) -> dict[str, str]:
    """The `export NAME=value` lines a banner prints, as a dict."""
    found = {}
    for line in text.splitlines():
        words = shlex.split(line.strip()) if line.strip().startswith("export ") else []
        if len(words) == 2 and "=" in words[1]:
            name, _, value = words[1].partition("=")
            found[name] = value
    return found
