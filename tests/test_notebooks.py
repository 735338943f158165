"""The workbench notebooks stay thin, stay committed with outputs, and their outputs are evidence.

Thin: a parameters cell (district, nights, store) first among the code cells, then calls and
displays — no ``def``, no SQL, no driver imports. Evidence: nbval (``make test`` runs
``pytest --nbval notebooks/``) fails when a sample night changes, as one test here proves.
"""

from __future__ import annotations

import ast
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = ROOT / "notebooks"
SAMPLES = ROOT / "data" / "samples"
STORIES = (
    "01_sync_history",
    "02_nightly_diff",
    "03_field_customizations",
    "04_broken_enrollments",
    "05_fix_and_push",
    "06_reconcile",
    "07_fleet",
)
PARAMETERS = {"district", "nights", "store"}
SQL = re.compile(
    r"\bselect\b.+\bfrom\b|\binsert\s+into\b|\bcreate\s+(temp\s+)?(table|view)\b", re.I
)
STORE_SQL_METHODS = {"query", "rows", "execute", "connection"}


def notebook_paths() -> list[Path]:
    return sorted(NOTEBOOKS.glob("*.ipynb"))


def code_cells(nb: nbformat.NotebookNode) -> list[nbformat.NotebookNode]:
    return [c for c in nb.cells if c.cell_type == "code"]


def thinness_problems(nb: nbformat.NotebookNode) -> list[str]:
    """Everything that makes a notebook more than parameters, calls and displays."""
    problems: list[str] = []
    cells = code_cells(nb)
    if not cells or "parameters" not in cells[0].metadata.get("tags", []):
        problems.append("the first code cell is not tagged 'parameters'")
    else:
        assigned = {
            target.id
            for node in ast.parse(cells[0].source).body
            if isinstance(node, ast.Assign)
            for target in node.targets
            if isinstance(target, ast.Name)
        }
        if not assigned >= PARAMETERS:
            problems.append(f"parameters cell lacks {sorted(PARAMETERS - assigned)}")
    for number, cell in enumerate(cells):
        tree = ast.parse(cell.source)
        for node in ast.walk(tree):
            where = f"code cell {number}"
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda):
                problems.append(f"{where} defines a function")
            elif isinstance(node, ast.ClassDef):
                problems.append(f"{where} defines a class")
            elif isinstance(node, ast.Import | ast.ImportFrom):
                modules = (
                    [a.name for a in node.names] if isinstance(node, ast.Import) else [node.module]
                )
                for module in modules:
                    if (module or "").split(".")[0] != "rosterlab":
                        problems.append(f"{where} imports {module}")
            elif isinstance(node, ast.Constant) and isinstance(node.value, str):
                if SQL.search(node.value):
                    problems.append(f"{where} holds SQL: {node.value[:40]!r}")
            elif isinstance(node, ast.Attribute) and node.attr in STORE_SQL_METHODS:
                problems.append(f"{where} uses store.{node.attr} (SQL belongs in the library)")
    return problems


def test_the_seven_stories_and_the_report_notebook_exist():
    names = [p.stem for p in notebook_paths()]
    assert names == [*STORIES, "district_report"]


@pytest.mark.parametrize("path", notebook_paths(), ids=lambda p: p.stem)
def test_notebook_is_thin_and_tells_its_story(path):
    nb = nbformat.read(path, as_version=4)
    assert thinness_problems(nb) == []
    assert nb.cells[0].cell_type == "markdown" and nb.cells[0].source.startswith("# ")
    assert nb.cells[-1].cell_type == "markdown"
    assert "What to do next" in nb.cells[-1].source


@pytest.mark.parametrize("path", notebook_paths(), ids=lambda p: p.stem)
def test_notebook_is_committed_with_clean_outputs(path):
    """Every cell ran in order; a cell ending in an expression shows it (no errors, no stderr)."""
    nb = nbformat.read(path, as_version=4)
    cells = code_cells(nb)
    assert [c.execution_count for c in cells] == list(range(1, len(cells) + 1))
    for cell in cells[1:]:
        shows = isinstance(ast.parse(cell.source).body[-1], ast.Expr)
        assert bool(cell.outputs) == shows, f"stored outputs of: {cell.source[:60]!r}"
        for output in cell.outputs:
            assert output.output_type in ("execute_result", "display_data"), output.output_type
            assert "text/plain" in output.data


def test_the_thinness_check_catches_a_def_sql_and_a_driver_import():
    nb = nbformat.v4.new_notebook()
    nb.cells = [
        nbformat.v4.new_code_cell('district = "maple"\nnights = None', metadata={"tags": []}),
        nbformat.v4.new_code_cell("import duckdb\ndef helper():\n    return 1"),
        nbformat.v4.new_code_cell('bench.store.query("SELECT key FROM students")'),
    ]
    assert thinness_problems(nb) == [
        "the first code cell is not tagged 'parameters'",
        "code cell 1 imports duckdb",
        "code cell 1 defines a function",
        "code cell 2 uses store.query (SQL belongs in the library)",
        "code cell 2 holds SQL: 'SELECT key FROM students'",
    ]


def test_changing_a_sample_night_makes_nbval_fail(tmp_path):
    """Incident: one student line vanishes from maple's last night → the stored report is stale.

    01_sync_history runs against a copy of the samples with that line gone: the cells showing
    counts fail, the cells that do not depend on it still pass (so the harness itself works).
    """
    samples = tmp_path / "samples"
    shutil.copytree(SAMPLES / "maple", samples / "maple")
    students = samples / "maple" / "2026-09-08" / "students.csv"
    lines = students.read_bytes().splitlines(keepends=True)
    student_id = lines[-1].split(b",")[1]
    students.write_bytes(b"".join(line for line in lines if line.split(b",")[1] != student_id))
    work = tmp_path / "nb"
    work.mkdir()
    shutil.copy(NOTEBOOKS / "01_sync_history.ipynb", work)
    env = {k: v for k, v in os.environ.items() if not k.startswith("ROSTERLAB_")}
    env["ROSTERLAB_SAMPLES"] = str(samples)
    env["XDG_CACHE_HOME"] = str(tmp_path / "cache")  # the real samples' cached store stays
    run = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "--nbval",
            "01_sync_history.ipynb",
            "--nbval-current-env",
            "-p",
            "no:cacheprovider",
            "-q",
            "-rA",
        ],
        cwd=work,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    outcomes = re.findall(r"^(PASSED|FAILED) 01_sync_history.ipynb::Cell (\d+)", run.stdout, re.M)
    assert run.returncode == 1, run.stdout[-3000:]
    # Cells: 0 parameters, 1 workbench, 2 history table, 3 record counts, 4 churn (holds only).
    assert sorted(outcomes, key=lambda o: int(o[1])) == [
        ("PASSED", "0"),
        ("PASSED", "1"),
        ("FAILED", "2"),
        ("FAILED", "3"),
        ("PASSED", "4"),
    ], run.stdout[-3000:]
    assert "ents 240→119" in run.stdout  # nbval shows the new count (students 240→119)
