"""The main job end to end: `q2c demo` on a fresh dev server tells the whole closed-won story."""

from __future__ import annotations

from pathlib import Path

from tests.cli.helpers import no_traceback, q2c
from workers.dev_server import free_port


def test_demo_runs_both_sagas_to_completion(tmp_path: Path) -> None:
    port, ui_port = free_port(), free_port()
    state_dir = tmp_path / "demo"
    state_dir.mkdir()
    (state_dir / "temporal.sqlite").write_bytes(b"left over from an earlier run")  # the demo starts clean

    result = q2c(
        "demo",
        "--exit-when-done",
        "--port",
        str(port),
        "--ui-port",
        str(ui_port),
        "--state-dir",
        str(state_dir),
        timeout=120,
    )

    out = result.stdout
    assert result.returncode == 0, out + result.stderr
    no_traceback(result)
    assert result.stderr == ""
    # Both sagas completed, each with its summary.
    assert "saga started closed-won/006NW0000000001" in out
    assert "saga started closed-won/006NW0000000003" in out
    assert out.count("Status                 completed") == 2
    assert "Total contract value   123,000.00 USD" in out
    assert "Subscription           sub_mem00001" in out
    assert "Subscription           sub_mem00002" in out
    assert "Revenue contract       RC-00001" in out
    assert "Mapping rules version  2026.11.1" in out
    # The non-standard deal waited for finance, who approved it with `q2c approve`.
    assert "awaiting_approval" in out
    assert "discount 30% exceeds 15%" in out
    assert f"$ q2c --address 127.0.0.1:{port} --namespace default --task-queue q2c" in out
    assert "approve closed-won/006NW0000000003 --as fiona.finance --note" in out
    assert "| Approved closed-won/006NW0000000003 as fiona.finance" in out
    assert "approved by fiona.finance" in out
    # What the systems hold, and links to the Temporal UI.
    assert "sub_mem00002  cus_mem00002  CTR-006NW0000000003  1      active" in out
    assert "006NW0000000004  -          nothing written back (no saga ended for it)" in out
    ui = f"http://127.0.0.1:{ui_port}/namespaces/default/workflows/closed-won%2F"
    assert f"{ui}006NW0000000001" in out
    assert f"{ui}006NW0000000003" in out
    assert "Both sagas completed" in out
    assert (state_dir / "temporal.sqlite").stat().st_size > 100
