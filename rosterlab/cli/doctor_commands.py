"""``rosterlab doctor``: check a store's integrity (exit 0 healthy, 1 problems, 2 cannot open)."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING, Any

from rosterlab.cli import output
from rosterlab.cli.common import add_command, add_format, settings_of
from rosterlab.errors import EXIT_FINDINGS, EXIT_OK

if TYPE_CHECKING:
    from rosterlab.store.doctor import DoctorReport


def _count(n: int, noun: str) -> str:
    return f"{n:,} {noun}{'' if n == 1 else 's'}"


def doctor_text(report: DoctorReport) -> str:
    """One line per problem and per note, then a summary line."""
    decoded = "not decoded: --quick" if report.quick else f"{report.raw_files_decoded:,} decoded"
    checked = (
        f"{_count(report.snapshots, 'snapshot')} of {_count(report.districts, 'district')}, "
        f"{_count(report.versions, 'version')}, {_count(report.raw_files, 'raw file')} ({decoded})"
    )
    notes = [f"note: {note}" for note in report.notes]
    if report.healthy:
        return "\n".join([*notes, f"store {report.store} is healthy: {checked}"])
    lines = [f"problem: {p.message}" for p in report.problems] + notes
    lines.append(f"store {report.store}: {_count(len(report.problems), 'problem')} in {checked}")
    return "\n".join(lines)


def cmd_doctor(args: argparse.Namespace) -> int:
    from rosterlab.store.doctor import check_store, open_for_check

    settings = settings_of(args)
    store = open_for_check(
        settings.store,
        memory_limit=settings.memory_limit,
        threads=settings.threads,
        wait=settings.store_wait,
        on_wait=output.note,
    )
    try:
        report = check_store(store, quick=args.quick)
    finally:
        store.close()
    if args.format == "json":
        output.emit_json(report.to_dict())
    else:
        output.emit(doctor_text(report))
    return EXIT_OK if report.healthy else EXIT_FINDINGS


def register(sub: Any) -> None:
    doctor = add_command(
        sub,
        "doctor",
        "Check the store's integrity: exit 0 healthy, 1 problems found, 2 cannot open it.",
        "rosterlab doctor            # every check, raw files decoded and hashed\n"
        "  rosterlab doctor --quick    # skip decoding the raw files",
    )
    doctor.add_argument(
        "--quick", action="store_true", help="skip decoding and hashing every raw file"
    )
    add_format(doctor)
    doctor.set_defaults(handler=cmd_doctor)
