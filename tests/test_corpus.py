"""Every hostile or broken bundle of the corpus, through the real CLI into a real DuckDB file.

For each case: the exact ingest findings (code, entity, field, value, row) or the exact one-line
error, an exit code and summary that agree with every finding recorded (the checks that run after
ingest included), nothing else on stderr (no traceback), the values as the history tables keep
them, ``export`` byte-identical to what was received, and ``doctor`` finding the store healthy.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from rosterlab import spec
from rosterlab.store import Store
from tests.cli_run import run
from tests.corpus.cases import CASES as CORPUS
from tests.corpus.cases import Case
from tests.corpus.holes import HOLES
from tests.tiny import folder_files

DISTRICT = "corpus"
CASES = (*CORPUS, *HOLES)
ERROR_CASES = [case for case in CASES if case.error]


def ingest_args(
    store: Path, bundle: Path, taken_at: str | None = "2026-09-01T02:00:00"
) -> list[str]:
    when = ["--taken-at", taken_at] if taken_at else []
    return [
        "--store",
        str(store),
        "ingest",
        str(bundle),
        "--district",
        DISTRICT,
        *when,
        "--fail-on",
        "error",
        "--format",
        "json",
    ]


def stored_value(store: Store, entity: str, key: str, column: str) -> str | None:
    """The value of ``column`` in the one version of ``key`` present in snapshot 1."""
    frame = store.entity_frame(1, entity).filter(key=key)
    assert frame.height == 1, f"{entity} {key!r}: {frame.height} versions"
    if column in spec.ENTITIES[entity].columns:
        value: str | None = frame[column][0]
        return value
    return dict(frame["extra"][0] or {}).get(column)


def test_the_corpus_is_big_and_names_are_unique() -> None:
    assert len(CASES) >= 40
    assert len({case.name for case in CASES}) == len(CASES)


@pytest.mark.parametrize("case", CASES, ids=[case.name for case in CASES])
def test_corpus_case(case: Case, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    built = case.build(tmp_path / "input")
    store_path = tmp_path / "store.duckdb"
    code, out, err = run(capsys, *ingest_args(store_path, built.path, case.taken_at))

    if case.error is not None:
        message = case.error.format(bundle=built.path, **built.context)
        assert (code, out, err) == (2, "", f"rosterlab: {message}\n")
        assert not store_path.exists()
        return
    with Store.open(store_path, read_only=True) as store:
        findings = store.findings(1, stage="ingest")
        assert [(f.code, f.entity, f.field, f.value, f.row) for f in findings] == list(
            case.findings
        )
        # The checks (row, cross-file) run after ingest and are their room's to pin: here the
        # exit code and summary must agree with everything recorded, and named ones be there.
        everything = store.findings(1)
        for expected in case.checked:
            assert expected in [(f.code, f.entity, f.field, f.value, f.row) for f in everything]
        severities = [f.severity for f in everything]
        assert (code, err) == (1 if "error" in severities else 0, "")
        summary = json.loads(out)["findings_summary"]
        assert summary == {s: severities.count(s) for s in spec.SEVERITIES}
        malformed = [f.message for f in findings if f.code == "malformed-row"]
        if case.messages:
            assert malformed == list(case.messages)
        for entity, key, column, value in case.stored:
            assert stored_value(store, entity, key, column) == value, (entity, key, column)
        rows = store.snapshot_rows(1)
        assert {entity: rows[entity] for entity in case.rows} == case.rows

    exported = tmp_path / "export"
    code, _, err = run(capsys, "--store", str(store_path), "export", "1", str(exported))
    assert (code, err) == (0, "")
    assert folder_files(exported) == built.files
    code, out, err = run(capsys, "--store", str(store_path), "doctor")
    assert (code, err) == (0, ""), out
    assert out.startswith(f"store {store_path} is healthy: 1 snapshot of 1 district, ")


def test_unreadable_bundles_fail_with_one_line_in_a_real_process(tmp_path: Path) -> None:
    """The CLI as a process: every unreadable corpus bundle gives exit 2 and its one line."""
    script = (
        "import json, sys\n"
        "from rosterlab.cli import main\n"
        "for argv in json.loads(sys.argv[1]):\n"
        "    code = main(argv)\n"
        "    sys.stderr.write(f'exit {code}\\n')\n"
    )
    expected = []
    argvs: list[list[str]] = []
    for case in ERROR_CASES:
        built = case.build(tmp_path / case.name)
        argvs.append(ingest_args(tmp_path / f"{case.name}.duckdb", built.path, case.taken_at))
        assert case.error is not None
        expected += [
            f"rosterlab: {case.error.format(bundle=built.path, **built.context)}",
            "exit 2",
        ]
    done = subprocess.run(
        [sys.executable, "-c", script, json.dumps(argvs)],
        capture_output=True,
        text=True,
        check=True,
    )
    assert done.stdout == ""
    assert done.stderr.splitlines() == expected


def test_every_case_is_listed_in_docs_reliability() -> None:
    listed = (Path(__file__).parent.parent / "docs" / "reliability.md").read_text()
    assert [case.name for case in CASES if f"| `{case.name}` |" not in listed] == []


def case_named(name: str) -> Case:
    return next(case for case in CASES if case.name == name)


def test_canonical_export_writes_a_column_whose_name_holds_a_nul(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    built = case_named("nul-in-header").build(tmp_path / "input")
    store = str(tmp_path / "store.duckdb")
    assert run(capsys, *ingest_args(tmp_path / "store.duckdb", built.path))[0] == 0
    out = tmp_path / "canonical"
    code, text, err = run(capsys, "--store", store, "export", "1", str(out), "--canonical")
    assert (code, err) == (0, "")
    assert text == f"snapshot 1 (corpus night 1): 5 canonical files written to {out}\n"
    assert (out / "students.csv").read_bytes() == (
        b"School_id,Student_id,Student_number,Last_name,First_name,Grade,Student_zip,"
        b"Contact_type,Contact_name,Contact_sis_id,ext.ho\x00use\n"
        b"SCH-1,S-001,00123,Lee,Ada,3,02134,Emergency,Sam Lee,,red\n"
        b"SCH-1,S-001,00123,Lee,Ada,3,02134,Primary,Pat Lee,C-1,red\n"
        b"SCH-2,S-002,00456,Diaz,Bo,10,02135,,,,blue\n"
        b"SCH-2,S-003,00789,Okafor,Cy,11,,Primary,Ngozi Okafor,C-3,\n"
    )


def test_control_characters_print_escaped_in_text_and_exact_in_json(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Incident: a column name that would clear a support engineer's screen and reorder it."""
    built = case_named("control-characters-in-header").build(tmp_path / "input")
    store = tmp_path / "store.duckdb"
    argv = ingest_args(store, built.path)
    code, text, err = run(capsys, *argv[: argv.index("--format")])
    assert (code, err) == (0, "")
    assert text.splitlines()[4] == (
        "    info    extension-column ×1: students.csv sends the custom field "
        "ext.\\x1b[2J\\x07ho\\x9buse\\u202e."
    )
    code, text, err = run(
        capsys, "--store", str(store), "check", "--district", DISTRICT, "--format", "json"
    )
    assert (code, err) == (0, "")
    assert not {"\x1b", "\x07", "\x9b", "\u202e"} & set(text)
    (finding,) = json.loads(text)["findings"]
    assert finding["value"] == "ext.\x1b[2J\x07ho\x9buse\u202e"
