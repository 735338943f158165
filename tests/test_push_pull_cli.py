"""fix → push → pull through the CLI against a real OpenSSH sshd; refusals, dry runs, push log."""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

pytest.register_assert_rewrite("tests.sftp_servers")

from rosterlab.cli.fix_commands import transfer_progress  # noqa: E402
from rosterlab.store import Store  # noqa: E402
from rosterlab.store.pushes import PushedFile, pushes  # noqa: E402
from rosterlab.synth import generate_district, write_district_toml, write_night  # noqa: E402
from tests.cli_run import run  # noqa: E402
from tests.sftp_servers import KeyPair, Sshd, current_user, folder_digests  # noqa: E402
from tests.tiny import tiny_night  # noqa: E402
from tests.tiny import write_night as write_tiny_night  # noqa: E402

pytest_plugins = ["tests.sftp_servers"]

RULES = """district = "maple"

[[rules]]
op = "drop"
entity = "enrollments"
code = "enrollment-unknown-section"
reason = "the section is not exported yet: Clever would reject the whole upload"
"""


def sha256_of(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture
def lab(tmp_path: Path, sshd: Sshd, client_key: KeyPair) -> dict[str, Path]:
    """A store path, a rosterlab.toml with a pinned and an unpinned target, an empty remote."""
    remote = tmp_path / "remote"
    remote.mkdir()
    pinned = tmp_path / "known_hosts"
    pinned.write_text(f"[127.0.0.1]:{sshd.port} {sshd.host_public_line}\n")
    (tmp_path / "known_hosts_empty").write_text("")
    target = (
        f'host = "127.0.0.1"\nport = {sshd.port}\nusername = "{current_user()}"\n'
        f'key_file = "{client_key.private}"\nremote_dir = "{remote}"\n'
    )
    config = tmp_path / "rosterlab.toml"
    config.write_text(
        '[districts.maple]\nname = "Maple Grove USD"\nsync_type = "sftp"\n\n'
        f'[targets.clever-maple]\n{target}known_hosts = "{pinned}"\n\n'
        f'[targets.unpinned]\n{target}known_hosts = "{tmp_path / "known_hosts_empty"}"\n'
    )
    (tmp_path / "maple.rules.toml").write_text(RULES)
    return {
        "store": tmp_path / "store.duckdb",
        "config": config,
        "remote": remote,
        "rules": tmp_path / "maple.rules.toml",
    }


def cli(capsys: pytest.CaptureFixture[str], lab: dict[str, Path], *argv: str):
    return run(capsys, "--store", str(lab["store"]), "--config", str(lab["config"]), *argv)


def spec_digests(folder: Path) -> dict[str, str]:
    return {
        n: d for n, d in folder_digests(folder).items() if n not in ("manifest.json", "changes.csv")
    }


def test_round_trip_fix_push_pull_with_openssh(capsys, tmp_path, lab):
    district = generate_district("maple", students=40, incidents={2: ["orphan-enrollments"]})
    history = tmp_path / "maple"
    write_district_toml(history, "Maple Grove USD", "sftp")
    nights = [district.night(k) for k in (1, 2)]
    for night in nights:
        write_night(night, history / night.folder)
    assert cli(capsys, lab, "ingest", str(history))[0] == 0
    (orphans,) = nights[1].results  # incident: 3 enrollments in a section sections.csv lacks
    assert len(orphans.keys) == 3

    out = tmp_path / "maple-fixed"
    code, text, err = cli(
        capsys, lab, "fix", "--district", "maple", "--rules", str(lab["rules"]), "--out", str(out)
    )
    assert (code, err) == (0, "")
    assert "  rule 1 drop (line 3): 3 changes — the section is not exported yet" in text
    assert "  findings before: 3 errors," in text
    assert "  findings after:  0 errors," in text

    code, text, err = cli(capsys, lab, "push", str(out), "--target", "clever-maple")
    assert (code, err) == (0, "")
    assert folder_digests(lab["remote"]) == spec_digests(out)  # byte-identical, no extras
    manifest = json.loads((out / "manifest.json").read_text())
    assert text.splitlines()[2] == "  check: no error findings (from manifest.json)"

    code, text, err = cli(capsys, lab, "pull", "--target", "clever-maple", "--district", "maple")
    assert (code, err) == (0, "")
    assert text.splitlines()[1].startswith("maple ")
    assert "→ snapshot 3 (night 3, new)" in text.splitlines()[1]
    with Store.open(lab["store"]) as store:
        pulled = store.snapshot(3)
        # the bundle pushed comes back: the history names it corrected (it said "pulled",
        # like any night the district itself dropped)
        assert (pulled.origin, pulled.district) == ("corrected", "maple")
        assert [f.code for f in store.findings(3) if f.severity == "error"] == []
        received = dict(store.rows("SELECT name, sha256 FROM snapshot_files WHERE snapshot_id = 3"))
        assert received == spec_digests(out)
        (push,) = pushes(store)
    assert (push.outcome, push.district, push.target, push.host, push.error) == (
        "pushed",
        "maple",
        "clever-maple",
        "127.0.0.1",
        None,
    )
    assert push.files == tuple(
        PushedFile(f["name"], f["bytes"], f["sha256"]) for f in manifest["files"]
    )
    assert push.entity_rows == manifest["entities"]
    assert (push.attempts, push.forced, push.stale_remote) == (1, False, ())

    # The next fix predicts its hold against what was pushed: the pulled snapshot holds those files.
    again = tmp_path / "maple-fixed-again"
    code, _, _ = cli(capsys, lab, "fix", "--district", "maple", "--snapshot", "2", "--rules",
                     str(lab["rules"]), "--out", str(again))  # fmt: skip
    assert code == 0
    hold = json.loads((again / "manifest.json").read_text())["hold"]
    assert hold == {
        "predicted": False,
        "method": "diff",
        "baseline": {"kind": "push", "push": push.id, "target": "clever-maple",
                     "bundle_sha256": push.bundle_sha256,
                     "pushed_at": push.finished_at.isoformat(timespec="seconds"), "snapshot": 3},
        "reasons": [],
        "note": None,
    }  # fmt: skip


@pytest.fixture
def missing_sections(tmp_path: Path) -> Path:
    """A tiny bundle whose sections.csv was not uploaded (an error Clever rejects)."""
    night = tiny_night()
    del night["sections.csv"]
    return write_tiny_night(tmp_path / "no-sections", night)


def test_push_refuses_a_bundle_with_errors_from_its_manifest(
    capsys, tmp_path, lab, missing_sections
):
    assert cli(capsys, lab, "ingest", str(missing_sections), "--district", "maple")[0] == 0
    out = tmp_path / "fixed"
    code, _, err = cli(
        capsys, lab, "fix", "--district", "maple", "--rules", str(lab["rules"]), "--out", str(out)
    )
    assert code == 1
    assert err == (
        f"rosterlab: the corrected bundle in {out} still has 1 error finding(s) (listed above): "
        "add rules for them and run fix again\n"
    )
    code, text, err = cli(capsys, lab, "push", str(out), "--target", "clever-maple")
    assert (code, text) == (2, "")
    assert err == (
        f"rosterlab: {out} has 1 error finding(s) (missing-file ×1), so Clever would not process "
        "the upload, or skip or mislink records: correct it with rosterlab fix, or re-run push "
        "with --force\n"
    )
    assert list(lab["remote"].iterdir()) == []
    with Store.open(lab["store"]) as store:
        assert pushes(store) == []


def test_push_checks_a_bundle_without_manifest_and_force_pushes_it(capsys, lab, missing_sections):
    code, _, err = cli(capsys, lab, "push", str(missing_sections), "--target", "clever-maple")
    assert code == 2
    assert "has 1 error finding(s) (missing-file ×1)" in err
    assert list(lab["remote"].iterdir()) == []

    code, text, err = cli(
        capsys,
        lab,
        "push",
        str(missing_sections),
        "--target",
        "clever-maple",
        "--force",
        "--district",
        "maple",
    )
    assert (code, err) == (0, "")
    assert text.splitlines()[2:4] == [
        "  check: 1 error finding (from a check of its files): missing-file ×1",
        "  pushed despite error findings (--force): Clever may not process this upload, or "
        "skip or mislink records",
    ]
    assert folder_digests(lab["remote"]) == folder_digests(missing_sections)
    with Store.open(lab["store"]) as store:
        (push,) = pushes(store)
    assert (push.outcome, push.forced, push.district) == ("pushed", True, "maple")
    assert push.entity_rows == {
        "schools": 2,
        "students": 3,
        "contacts": 3,
        "teachers": 3,
        "sections": 0,
        "enrollments": 3,
        "staff": 0,
        "admins": 0,
    }


def test_dry_run_prints_the_plan_and_touches_nothing(capsys, tmp_path, lab):
    bundle = write_tiny_night(tmp_path / "clean", tiny_night())
    code, text, err = cli(capsys, lab, "push", str(bundle), "--target", "clever-maple", "--dry-run")

    assert (code, err) == (0, "")
    sizes = {p.name: p.stat().st_size for p in bundle.iterdir()}
    remote = lab["remote"]
    assert text.splitlines()[1:] == [
        f"  bundle sha256 {text.split('bundle sha256 ')[1].split()[0]}",
        *(
            f"  {name:<16} {sizes[name]:>12,} bytes → {remote / name}"
            for name in (
                "schools.csv",
                "students.csv",
                "teachers.csv",
                "sections.csv",
                "enrollments.csv",
            )
        ),
        "  check: no error findings (from a check of its files)",
        "  hold: unknown (no manifest.json from rosterlab fix)",
        *text.splitlines()[-3:-1],  # the credentials, checked below
        "  dry run: nothing was uploaded or recorded",
    ]
    known_hosts, key_file = text.splitlines()[-3:-1]
    port = lab["config"].read_text().split("port = ")[1].split()[0]
    assert known_hosts.startswith(
        f"  credentials: known_hosts {lab['config'].parent / 'known_hosts'}: pins "
        f"[127.0.0.1]:{port} (ssh-"
    )
    assert key_file.startswith("  credentials: key_file ") and " reads as ssh-" in key_file
    assert list(remote.iterdir()) == []
    assert not lab["store"].exists()  # not even the store was opened


def test_dry_run_shows_the_predicted_hold_and_refuses_bad_credentials(capsys, tmp_path, lab):
    district = generate_district("maple", students=40, incidents={2: ["orphan-enrollments"]})
    history = tmp_path / "maple"
    nights = [district.night(k) for k in (1, 2)]
    for night in nights:
        write_night(night, history / night.folder)
    assert cli(capsys, lab, "ingest", str(history), "--district", "maple")[0] == 0
    out = tmp_path / "maple-fixed"
    assert cli(capsys, lab, "fix", "--district", "maple", "--rules", str(lab["rules"]),
               "--out", str(out))[0] == 0  # fmt: skip
    code, text, err = cli(capsys, lab, "push", str(out), "--target", "clever-maple", "--dry-run")
    assert (code, err) == (0, "")
    assert "  hold: not predicted against snapshot 1 (night 1), by diff (from manifest.json)" in (
        text.splitlines()
    )
    dry = json.loads(
        cli(capsys, lab, "push", str(out), "--target", "clever-maple", "--dry-run", "--format",
            "json")[1]
    )  # fmt: skip
    assert dry["hold"]["baseline"] == {"kind": "snapshot", "snapshot": 1, "night": 1}
    assert len(dry["credentials"]) == 2

    (tmp_path / "known_hosts").write_text("not a host key line at all\n")
    code, text, err = cli(capsys, lab, "push", str(out), "--target", "clever-maple", "--dry-run")
    assert (code, text) == (2, "")
    assert err.startswith(
        f"rosterlab: known_hosts file {tmp_path / 'known_hosts'} of [targets.clever-maple] "
    )
    (tmp_path / "known_hosts").write_text("")
    code, _, err = cli(capsys, lab, "push", str(out), "--target", "clever-maple", "--dry-run")
    port = lab["config"].read_text().split("port = ")[1].split()[0]
    assert (code, err) == (
        2,
        f"rosterlab: known_hosts file {tmp_path / 'known_hosts'} of [targets.clever-maple] pins "
        f"no key for [127.0.0.1]:{port}: add the server's host key, checked against the "
        "fingerprint the provider gives you\n",
    )


def test_a_failed_push_is_recorded_with_its_error_line(capsys, tmp_path, lab):
    bundle = write_tiny_night(tmp_path / "clean", tiny_night())
    code, text, err = cli(capsys, lab, "push", str(bundle), "--target", "unpinned")

    assert (code, text) == (2, "")
    assert err.startswith("rosterlab: host key of [127.0.0.1]:")
    assert err.endswith(
        f"is not pinned in {tmp_path / 'known_hosts_empty'}: confirm this fingerprint with the "
        "SFTP provider, then add the key to that file\n"
    )
    assert list(lab["remote"].iterdir()) == []
    with Store.open(lab["store"]) as store:
        (push,) = pushes(store)
    assert (push.outcome, push.target, push.error) == (
        "failed",
        "unpinned",
        err.removeprefix("rosterlab: ").rstrip("\n"),
    )
    assert [f.name for f in push.files] == [
        "schools.csv",
        "students.csv",
        "teachers.csv",
        "sections.csv",
        "enrollments.csv",
    ]
    assert push.files[0].bytes == (bundle / "schools.csv").stat().st_size
    assert push.files[0].sha256 == sha256_of(bundle / "schools.csv")
    assert push.attempts is None

    code, text, _ = cli(
        capsys, lab, "push", str(bundle), "--target", "clever-maple", "--format", "json"
    )
    assert code == 0
    payload = json.loads(text)
    assert (payload["outcome"], payload["push_id"], payload["check"]["errors"]) == ("pushed", 2, 0)
    with Store.open(lab["store"]) as store:
        assert [p.outcome for p in pushes(store)] == ["failed", "pushed"]
        assert [p.outcome for p in pushes(store, target="clever-maple")] == ["pushed"]


def test_progress_is_shown_for_large_files_only_once_per_ten_percent():
    lines: list[str] = []
    report = transfer_progress(lines.append, "uploading")
    for done in (0, 32_768, 500_000, 1_048_576, 2_000_000, 2_097_152):
        report("students.csv", done, 2_097_152)
    report("schools.csv", 100, 100)  # small: silent
    assert lines == [
        "uploading students.csv: 0 of 2,097,152 bytes (0%)",
        "uploading students.csv: 500,000 of 2,097,152 bytes (20%)",
        "uploading students.csv: 1,048,576 of 2,097,152 bytes (50%)",
        "uploading students.csv: 2,000,000 of 2,097,152 bytes (90%)",
        "uploading students.csv: 2,097,152 of 2,097,152 bytes (100%)",
    ]


def test_pull_dates_the_night_by_the_remote_files_mtime(capsys, lab):
    uploaded = datetime(2026, 9, 4, 2, 30, tzinfo=UTC)  # when the district's SIS uploaded
    write_tiny_night(lab["remote"], tiny_night(), when=uploaded)
    code, text, err = cli(capsys, lab, "pull", "--target", "clever-maple", "--district", "maple")
    assert (code, err) == (0, "")
    assert text.splitlines()[1:3] == [
        "maple 2026-09-04 02:30 → snapshot 1 (night 1, new)",
        "  taken_at: from the remote files' newest modification time",
    ]
    with Store.open(lab["store"]) as store:
        assert store.snapshot(1).taken_at == datetime(2026, 9, 4, 2, 30)
        assert store.snapshot(1).origin == "pulled"  # the district's own upload: nothing pushed


def test_pull_checks_with_the_district_toml_recorded_for_the_district(capsys, tmp_path, lab):
    """One settings source: pull reads the district.toml a district folder's ingest kept
    (5 % deletions), as check and diff do, when rosterlab.toml does not name the district."""
    config = lab["config"].read_text()
    lab["config"].write_text(config[config.index("[targets.") :])
    history = tmp_path / "maple"
    history.mkdir()
    (history / "district.toml").write_text("hold_deletion_threshold = 0.05\n")
    write_tiny_night(history / "2026-09-01", tiny_night())
    assert cli(capsys, lab, "ingest", str(history), "--district", "maple")[0] == 0
    fewer = tiny_night()
    del fewer["teachers.csv"][3]  # 1 of 3 teachers deleted: over 5 %, under 10 %
    write_tiny_night(lab["remote"], fewer, when=datetime(2026, 9, 2, 2, 0, tzinfo=UTC))
    code, text, err = cli(capsys, lab, "pull", "--target", "clever-maple", "--district", "maple")
    assert (code, err) == (0, "")
    assert "33% of teachers would be deleted (threshold 5%)" in text


def test_a_corrected_bundle_without_its_header_rows_is_pushed_and_pulled_back(
    capsys, tmp_path, lab
):
    """students.csv printed by ``sqlcmd -h 2``: its header and underline again before every two
    rows, each read as a student with a contact. fix leaves the three header rows out, push
    sends the district's rows only, and the night pulled back is the corrected one: no error,
    no header row; the deletion of the header rows' records is all it differs by."""
    night = tiny_night()
    header, *rows = night["students.csv"]
    underline = ["-" * len(name) for name in header]
    night["students.csv"] = [header, underline, *rows[:2], header, underline, *rows[2:]]
    assert cli(capsys, lab, "ingest", str(write_tiny_night(tmp_path / "headed", night)),
               "--district", "maple")[0] == 0  # fmt: skip
    out = tmp_path / "fixed"
    code, text, err = cli(
        capsys, lab, "fix", "--district", "maple", "--rules", str(lab["rules"]), "--out", str(out)
    )
    assert (code, err) == (0, "")
    assert text.splitlines()[3] == (
        "  3 header rows left out (the header line again, or its underline, read as a record; in "
        "changes.csv)"
    )

    code, text, err = cli(capsys, lab, "push", str(out), "--target", "clever-maple")
    assert (code, err) == (0, "")
    assert folder_digests(lab["remote"]) == spec_digests(out)
    assert (lab["remote"] / "students.csv").read_text().splitlines() == [
        ",".join(row) for row in (header, *rows)
    ]

    code, text, err = cli(capsys, lab, "pull", "--target", "clever-maple", "--district", "maple")
    assert (code, err) == (0, "")
    with Store.open(lab["store"]) as store:
        assert store.snapshot(2).origin == "corrected"
        found = [(f.code, f.entity, f.value) for f in store.findings(2) if f.severity != "info"]
    # against night 1, which Clever read with them, the header rows' records (the header's and
    # the underline's, each a student with a contact) are deletions: 2 of 5 in this tiny district
    assert found == [
        ("hold-mass-deletion", "students", "2"),
        ("hold-mass-deletion", "contacts", "2"),
    ]
