"""The direction of dependencies (docs: house style), checked on the source itself: the domain app,
the training library and the workers import nothing from the synthetic world, so the platform can
never see the gold reward; and what `make run` needs of the world leaves its experiments out."""
import ast
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def imported_modules(package: str) -> dict[str, set[str]]:
    """Every absolute module each file of `package` imports (relative imports stay inside it)."""
    found = {}
    for path in sorted((ROOT / package).rglob("*.py")):
        names = set()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), filename=str(path))):
            if isinstance(node, ast.Import):
                names.update(alias.name for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names.add(node.module)
        found[str(path.relative_to(ROOT))] = names
    return found


def offenders(package: str, forbidden: tuple[str, ...]) -> list[str]:
    return [f"{path} imports {name}" for path, names in imported_modules(package).items() for name in sorted(names)
            if name.split(".")[0] in forbidden]


@pytest.mark.parametrize("package, forbidden", [
    ("annotation", ("simulation", "workers", "torch", "transformers", "trl")),
    ("workers", ("simulation",)),
    ("training", ("simulation", "annotation", "workers", "django", "celery")),
])
def test_each_layer_imports_only_what_it_may(package, forbidden):
    assert offenders(package, forbidden) == []


def test_the_check_sees_an_import_where_there_is_one():
    assert "simulation.demo_setup" in imported_modules("simulation")["simulation/management/commands/demo.py"]


def test_the_demo_command_loads_none_of_the_experiments():
    # `make run` runs `manage.py demo`: the research code (and matplotlib) stays out of it.
    probe = ("import django, sys; django.setup(); import simulation.management.commands.demo; "
             "print(sorted(m for m in sys.modules if m.startswith('simulation.experiments') or m == 'matplotlib'))")
    done = subprocess.run([sys.executable, "-c", probe], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip() == "[]"
