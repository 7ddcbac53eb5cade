"""The layers are checked, not drawn: `lint-imports` keeps the contracts in pyproject.toml,
and breaks when a forbidden import is added (checked on a copy of the app)."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
LINT_IMPORTS = Path(sys.executable).with_name("lint-imports")


def _lint(root: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(LINT_IMPORTS), "--config", str(root / "pyproject.toml"), "--no-cache"],
        cwd=root / "backend",
        env={"PYTHONPATH": str(root / "backend"), "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.fixture(scope="module")
def copy_of_app(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("layout")
    shutil.copy(ROOT / "pyproject.toml", root / "pyproject.toml")
    shutil.copytree(
        ROOT / "backend" / "app",
        root / "backend" / "app",
        ignore=shutil.ignore_patterns("__pycache__", "static", "templates"),
    )
    return root


def test_the_tree_keeps_every_contract() -> None:
    result = _lint(ROOT)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 broken" in result.stdout


@pytest.mark.parametrize(
    ("module", "forbidden", "contract"),
    [
        ("web/converters.py", "from app.services.auth import service", "imports no service"),
        ("models/user.py", "from app.services import analytics_service", "import nothing above"),
        ("services/insights/reports/trends.py", "from app.services.ingestion import checks",
         "reports never import ingestion"),
        ("services/videos/service.py", "from app.routes import videos_v2", "never upwards"),
        ("services/plans/service.py", "from app.web import request_context", "no HTTP plumbing"),
    ],
)
def test_a_forbidden_import_breaks_the_check(copy_of_app, module, forbidden, contract) -> None:
    path = copy_of_app / "backend" / "app" / module
    original = path.read_text()
    path.write_text(original + f"\n{forbidden}  # noqa\n")
    try:
        result = _lint(copy_of_app)
    finally:
        path.write_text(original)
    assert result.returncode != 0
    broken = [line for line in result.stdout.splitlines() if " BROKEN" in line]
    assert any(contract in line for line in broken), result.stdout
