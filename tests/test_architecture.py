"""The rooms keep to their jobs: import arrows point one way, drivers stay in their room."""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent.parent / "rosterlab"

BASE = {"errors", "config", "spec"}
MAY_IMPORT: dict[str, set[str]] = {
    "errors": set(),
    "spec": {"errors"},
    "config": {"spec", "errors"},
    "bundle": BASE,
    "synth": BASE | {"bundle"},
    "store": BASE | {"bundle"},
    "diff": BASE | {"bundle", "store"},
    "checks": BASE | {"bundle", "store", "diff"},
    "fix": BASE | {"bundle", "store", "diff", "checks", "transport"},
    "transport": BASE | {"bundle"},
    "report": BASE | {"bundle", "store", "diff", "checks", "fix", "transport"},
    "ui": BASE | {"bundle", "store", "diff", "checks", "fix", "transport", "report", "synth"},
    "cli": BASE | {"bundle", "store", "diff", "checks", "fix", "transport", "report", "synth"},
    "__init__": set(),
    "__main__": {"cli"},
}
DRIVERS = {"duckdb": "store", "paramiko": "transport", "ipywidgets": "ui"}


def room_of(path: Path) -> str:
    rel = path.relative_to(PACKAGE)
    return rel.parts[0] if len(rel.parts) > 1 else rel.stem


def imports_of(path: Path) -> list[str]:
    tree = ast.parse(path.read_text(), filename=str(path))
    names: list[str] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.append(node.module)
    return names


def test_every_module_belongs_to_a_known_room():
    rooms = {room_of(p) for p in PACKAGE.rglob("*.py")}
    assert rooms <= set(MAY_IMPORT), rooms - set(MAY_IMPORT)


def test_imports_point_the_right_way_and_drivers_stay_in_their_room():
    wrong = []
    for path in sorted(PACKAGE.rglob("*.py")):
        room = room_of(path)
        for name in imports_of(path):
            top = name.split(".")[0]
            if top in DRIVERS and DRIVERS[top] != room:
                wrong.append(f"{path.relative_to(PACKAGE)} imports {top}")
            if top == "rosterlab" and "." in name:
                target = name.split(".")[1]
                if target != room and target not in MAY_IMPORT[room]:
                    wrong.append(f"{path.relative_to(PACKAGE)} ({room}) imports rosterlab.{target}")
    assert wrong == []


def test_the_architecture_test_catches_a_wrong_way_arrow(tmp_path):
    module = tmp_path / "bad.py"
    module.write_text("import duckdb\nfrom rosterlab.cli import main\n")
    assert imports_of(module) == ["duckdb", "rosterlab.cli"]
    assert "cli" not in MAY_IMPORT["store"]
