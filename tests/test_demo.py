"""``make demo``'s auto-sync part, run as the Makefile runs it (scripts/demo_api.sh), as processes.

The demo store holds cedar's hand-exported nights (a Clever-managed district); the script serves
cedar through the stand-in (its own process on 127.0.0.1), waits until it answers, pulls it with
the committed target of notebooks/sample-api.toml, stops the stand-in by its PID and reconciles.
Only the port differs from the demo's: a free one, so parallel runs never collide.
"""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from rosterlab.store import Store
from tests.api_standin import free_port

ROOT = Path(__file__).resolve().parent.parent
CONFIG = ROOT / "notebooks" / "sample-api.toml"


def test_make_demo_pulls_cedar_from_the_standin_and_reconciles_it(tmp_path):
    rosterlab = f"{sys.executable} -m rosterlab"
    store = tmp_path / "demo.duckdb"
    env = {k: v for k, v in os.environ.items() if not k.startswith("ROSTERLAB_")}
    env["PYTHONPATH"] = str(ROOT)
    subprocess.run(
        [*rosterlab.split(), "--store", str(store), "ingest", "data/samples/cedar"],
        cwd=ROOT, env=env, check=True, capture_output=True,
    )  # fmt: skip
    port = free_port()
    committed = CONFIG.read_text()
    assert 'base_url = "http://127.0.0.1:8765"' in committed
    config = tmp_path / "sample-api.toml"
    config.write_text(committed.replace(":8765", f":{port}"))
    env |= {"DEMO_API_CONFIG": str(config), "DEMO_API_PORT": str(port)}
    run = subprocess.run(
        ["bash", "scripts/demo_api.sh", rosterlab, str(store)],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip
    assert run.returncode == 0, run.stderr
    out = run.stdout.splitlines()
    # cedar night 8 is held (Clever holds an auto sync too: docs/api.md): the stand-in serves
    # Clever's live state, night 6's
    assert out[0] == (
        "serving cedar snapshot 6 (night 6) (the live state: night 8 is not served) as the Data "
        f"API at http://127.0.0.1:{port}/v3.0 and /v3.1; Ctrl-C stops it"
    )
    assert "  api: standin v3.1, 9 pages in 10 requests, 0 rate-limit waits" in out
    assert "  district: state success, sis_type clever, last sync 2026-09-06T02:00:00.000Z" in out
    reconciled = out[out.index(next(line for line in out if line.startswith("cedar: upload"))) :]
    assert re.fullmatch(
        r"cedar: upload snapshot 8 \(2026-09-08 02:00\) vs served snapshot 9 "
        r"\(API v3\.1, \d{4}-\d\d-\d\d \d\d:\d\d\)",
        reconciled[0],
    )
    held = "as in snapshot 6 (the state Clever serves until the district approves the hold)"
    assert reconciled[1:] == [
        # cedar night 8 used a school's number as School_id: 132 rows Clever may skip and 579
        # (enrollments) carried with them — once the district approves the hold
        "  Clever: held, 1 row skipped (hold: staff deletion, teachers deletion), 132 rows may "
        "be skipped (unconfirmed), 579 rows carried with skipped records; hold thresholds 5% "
        "deleted, 75% updated",
        "  entity        uploaded    served   matched identical",
        "  schools              3         3         3         3",
        "  students           200       198       196        63",
        "  contacts           269       269       265       263",
        "  teachers            12        12         8         8",
        "  sections            59        59        59        38",
        "  enrollments      1,600     1,584     1,565     1,024",
        "  staff               12        12         7         7",
        "  differences: 727 (0 unexplained)",  # each code's count, and they add up to it
        # records night 8 adds under a school's number: skipped whether or not it is approved
        "    warning served-skipped ×17: students S-100206 was uploaded but is not served: "
        "Clever skipped it (school-id-is-number: its consequence is unconfirmed, the upload's "
        "outcome says it may be skipped).",
        "    warning upload-held ×1: upload snapshot 8 is held for staff deletion, teachers "
        "deletion: Clever serves it only once the district approves the hold, and snapshot 6's "
        "state until then: a difference that state explains is listed as served-held.",
        "    info    field-not-served ×2: students Unweighted_gpa is not served (the Data API "
        "never exposes it); uploaded records with a value: 65.",
        # night 6's state explains the rest: what night 8 adds, removes and changes, and
        # S-100111, which night 6 repeats (duplicate-id) and Clever serves in neither
        f"    info    served-held ×166: students {held}: records not served in that state "
        "either (duplicate-id): 1.",
        "    info    value-normalised ×541: enrollments School_id: values served normalised: 541 "
        "(served as the section's school).",
    ]
    again = subprocess.run(  # make demo once more: the same night served, no new snapshot
        ["bash", "scripts/demo_api.sh", rosterlab, str(store)],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip
    assert again.returncode == 0, again.stderr
    assert again.stdout.splitlines()[0] == out[0]
    with Store.open(store, read_only=True) as opened:
        history = [(s.id, s.origin) for s in opened.snapshots("cedar")]
    assert history == [*((n, "upload") for n in range(1, 9)), (9, "api")]
    with pytest.raises(ConnectionRefusedError):  # the stand-in was stopped: nothing listens
        socket.create_connection(("127.0.0.1", port), timeout=5)
