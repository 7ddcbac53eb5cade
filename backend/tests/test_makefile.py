"""`make run` installs the runtime dependencies only; `make test` adds the dev extras once.

Dry runs (`make -n`) against a scratch virtualenv directory: nothing is installed.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.skipif(shutil.which("make") is None, reason="make is not installed")


def _dry_run(target: str, venv: Path, *extra: str) -> list[str]:
    done = subprocess.run(
        ["make", "-n", target, f"VENV={venv}", *extra], cwd=ROOT, capture_output=True,
        text=True, timeout=60, check=True,
    )
    return [line for line in done.stdout.splitlines() if "pip install" in line]


def test_run_installs_the_runtime_only_and_test_adds_the_extras(tmp_path):
    venv = tmp_path / "venv"
    installs = _dry_run("run", venv)
    assert any(line.endswith("install --quiet -e .") for line in installs), installs
    assert not any("[dev]" in line for line in installs), installs

    venv.mkdir()
    (venv / ".installed-run").touch()  # `make run` has been
    installs = _dry_run("test", venv)
    assert len(installs) == 1 and "'.[dev]'" in installs[0], installs

    (venv / ".installed-dev").touch()  # `make test` has been
    assert _dry_run("run", venv) == []
    assert _dry_run("test", venv) == []


def test_run_installs_clickhouse_only_when_the_store_is_clickhouse(tmp_path):
    venv = tmp_path / "venv"
    venv.mkdir()
    (venv / ".installed-run").touch()
    assert _dry_run("run", venv, "ANALYTICS_STORE=app") == []
    for store in ("chdb:///srv/analytics", "clickhouse://default@127.0.0.1:8123/analytics"):
        installs = _dry_run("run", venv, f"ANALYTICS_STORE={store}")
        assert len(installs) == 1 and "'.[clickhouse]'" in installs[0], installs
