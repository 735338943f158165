"""The rooms keep to their jobs: import arrows point one way, drivers stay in their room.

Every import is checked, whatever its spelling: ``import rosterlab.store``,
``from rosterlab.store import Store``, ``from rosterlab import store`` and relative imports
(``from ..store import Store``) all name the room they reach into.
"""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent.parent / "rosterlab"

BASE = {"errors", "config", "spec"}
ENGINE = {"store", "bundle", "diff", "checks"}
MAY_IMPORT: dict[str, set[str]] = {
    "errors": set(),
    "spec": {"errors"},
    "config": {"spec", "errors"},
    "bundle": BASE,
    "synth": {"spec"},
    "store": BASE | {"bundle"},
    "diff": BASE | {"store"},
    "checks": BASE | {"store", "diff", "bundle"},
    "transport": BASE | {"bundle"},
    "api": BASE | ENGINE,
    "fix": BASE | ENGINE | {"transport"},
    "report": BASE | {"store", "diff", "checks", "fix", "transport", "api"},
    "fleet": BASE | ENGINE | {"fix", "transport", "api", "report"},
    "ui": BASE | ENGINE | {"fix", "transport", "api", "report", "fleet"},
    "cli": BASE | ENGINE | {"fix", "transport", "api", "report", "fleet"},
    "__init__": set(),
    "__main__": {"cli"},
}
DRIVERS = {
    "duckdb": "store",
    "paramiko": "transport",
    "ipywidgets": "ui",
    "httpx": "api",
    "dask": "fleet",
    "distributed": "fleet",
}


def room_of(path: Path, package: Path = PACKAGE) -> str:
    rel = path.relative_to(package)
    return rel.parts[0] if len(rel.parts) > 1 else rel.stem


def _absolute(path: Path, node: ast.ImportFrom, package: Path) -> str:
    """The dotted module a (possibly relative) ``from … import`` names, as seen from ``path``."""
    if node.level == 0:
        return node.module or ""
    parts = ["rosterlab", *path.relative_to(package).with_suffix("").parts]
    if path.name != "__init__.py":
        parts = parts[:-1]  # a module's package, not the module itself
    base = parts[: len(parts) - (node.level - 1)]
    return ".".join([*base, *([node.module] if node.module else [])])


def imports_of(path: Path, package: Path = PACKAGE) -> list[str]:
    """Every module ``path`` imports, absolute, with ``from pkg import name`` as ``pkg.name``."""
    tree = ast.parse(path.read_text(), filename=str(path))
    names: list[str] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            module = _absolute(path, node, package)
            if module == "rosterlab":
                names += [f"rosterlab.{alias.name}" for alias in node.names]
            else:
                names.append(module)
    return names


def wrong_arrows(paths: list[Path], package: Path = PACKAGE) -> list[str]:
    wrong = []
    for path in paths:
        room = room_of(path, package)
        for name in imports_of(path, package):
            top = name.split(".")[0]
            if top in DRIVERS and DRIVERS[top] != room:
                wrong.append(f"{path.relative_to(package)} imports {top}")
            if top == "rosterlab" and "." in name:
                target = name.split(".")[1]
                if target != room and target not in MAY_IMPORT[room]:
                    wrong.append(f"{path.relative_to(package)} ({room}) imports rosterlab.{target}")
    return wrong


def test_every_module_belongs_to_a_known_room():
    rooms = {room_of(p) for p in PACKAGE.rglob("*.py")}
    assert rooms <= set(MAY_IMPORT), rooms - set(MAY_IMPORT)


def test_imports_point_the_right_way_and_drivers_stay_in_their_room():
    assert wrong_arrows(sorted(PACKAGE.rglob("*.py"))) == []


def test_nothing_imports_cli_or_ui():
    for room, targets in MAY_IMPORT.items():
        if room != "__main__":
            assert not targets & {"cli", "ui"}, room


def test_every_spelling_of_a_wrong_way_arrow_is_caught(tmp_path):
    package = tmp_path / "rosterlab"
    (package / "store").mkdir(parents=True)
    (package / "store" / "__init__.py").write_text("")
    bad = package / "store" / "bad.py"
    bad.write_text(
        "import duckdb\n"
        "import httpx\n"
        "from rosterlab.cli import main\n"
        "from rosterlab import ui\n"
        "from ..report import text\n"
        "from .. import fix\n"
        "from . import raw\n"
    )
    assert imports_of(bad, package) == [
        "duckdb",
        "httpx",
        "rosterlab.cli",
        "rosterlab.ui",
        "rosterlab.report",
        "rosterlab.fix",
        "rosterlab.store",
    ]
    assert wrong_arrows([bad], package) == [
        "store/bad.py imports httpx",
        "store/bad.py (store) imports rosterlab.cli",
        "store/bad.py (store) imports rosterlab.ui",
        "store/bad.py (store) imports rosterlab.report",
        "store/bad.py (store) imports rosterlab.fix",
    ]


def unchained_raises(source: str, filename: str) -> list[str]:
    """``raise X(...)`` inside an ``except`` block without ``from`` the caught exception
    (``from None`` included): the cause, which ``--debug`` shows, would be dropped."""
    found = []
    for handler in ast.walk(ast.parse(source, filename=filename)):
        if not isinstance(handler, ast.ExceptHandler):
            continue
        for node in ast.walk(handler):
            if not isinstance(node, ast.Raise) or node.exc is None:
                continue
            if isinstance(node.exc, ast.Name) and node.exc.id == handler.name:
                continue  # re-raising the caught exception itself
            if node.cause is None or (
                isinstance(node.cause, ast.Constant) and node.cause.value is None
            ):
                found.append(f"{filename}:{node.lineno}")
    return found


def test_errors_raised_while_handling_another_chain_it_as_their_cause():
    found = []
    for path in sorted(PACKAGE.rglob("*.py")):
        found += unchained_raises(path.read_text(), str(path.relative_to(PACKAGE)))
    assert found == []


def test_the_chaining_rule_catches_a_dropped_cause():
    source = (
        "try:\n    open('x')\nexcept OSError as exc:\n    raise ValueError('a') from None\n"
        "try:\n    open('x')\nexcept OSError:\n    raise ValueError('b')\n"
        "try:\n    open('x')\nexcept OSError as exc:\n    raise ValueError('c') from exc\n"
        "try:\n    open('x')\nexcept OSError as exc:\n    raise exc\n"
    )
    assert unchained_raises(source, "m.py") == ["m.py:4", "m.py:8"]
