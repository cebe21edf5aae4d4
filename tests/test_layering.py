"""The layering of docs/decisions.md, checked by import-linter's contracts in pyproject.toml.

The real tree must keep every contract; a copy of it with one deliberate violation must break the
contract that names it, so the check is known to bite.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
LINT_IMPORTS = Path(sys.executable).with_name("lint-imports")
LAYERS = ("schemas", "services", "streams", "api", "adapters", "devtools")


def lint_imports(package_parent: Path | None = None) -> subprocess.CompletedProcess[str]:
    """Run the project's contracts; on a copy of the tree when `package_parent` is given."""
    env = dict(os.environ)
    if package_parent is not None:
        # A path entry is searched before the editable install, so the copy is what is analysed.
        env["PYTHONPATH"] = str(package_parent)
    return subprocess.run(
        [str(LINT_IMPORTS), str(ROOT / "pyproject.toml"), "--no-cache"],
        capture_output=True,
        text=True,
        env=env,
        cwd=package_parent or ROOT,
        timeout=120,
    )


def test_the_real_tree_keeps_every_contract() -> None:
    result = lint_imports()
    assert result.returncode == 0, result.stdout + result.stderr
    assert "broken" not in result.stdout.lower().replace("0 broken", "")


@pytest.fixture
def tree_copy(tmp_path: Path) -> Path:
    """The flowsight package as installed, copied with its layer folders as real folders."""
    target = tmp_path / "flowsight"
    shutil.copytree(
        ROOT / "flowsight",
        target,
        symlinks=False,
        ignore=shutil.ignore_patterns("__pycache__"),
    )
    return target


def _add_import(module: Path, statement: str) -> None:
    module.write_text(module.read_text() + f"\n{statement}\n")


@pytest.mark.parametrize(
    ("module", "statement", "contract"),
    [
        ("adapters/kafka/admin.py", "import flowsight.api.app", "Arrows point inwards"),
        ("streams/app.py", "import flowsight.api.deps", "Arrows point inwards"),
        ("services/journey.py", "import sqlalchemy", "do no I/O"),
        ("schemas/events.py", "import flowsight.settings", "do no I/O"),
        ("settings.py", "import flowsight.adapters.catalogue", "import nothing of flowsight"),
        ("adapters/readmodel/store.py", "import flowsight.adapters.notify.delivery", "No cycles"),
    ],
)
def test_a_deliberate_violation_breaks_its_contract(
    tree_copy: Path, module: str, statement: str, contract: str
) -> None:
    _add_import(tree_copy / module, statement)
    result = lint_imports(tree_copy.parent)
    assert result.returncode == 1, result.stdout + result.stderr
    broken = result.stdout.split("Broken contracts", 1)[-1]
    assert contract in broken, result.stdout


def test_no_module_imports_a_layer_by_its_folder_name() -> None:
    # `import services` would load a second copy of the domain beside `flowsight.services`.
    offenders = []
    sources = (
        path for folder in (*LAYERS, "flowsight", "tests") for path in (ROOT / folder).rglob("*.py")
    )
    for path in sorted(sources):
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            words = line.split()
            if len(words) >= 2 and words[0] in {"import", "from"}:
                if words[1].split(".")[0] in LAYERS:
                    offenders.append(f"{path.relative_to(ROOT)}:{number}: {line.strip()}")
    assert offenders == []
