"""``python -m rosterlab.synth``: write a synthetic district's nights, or regenerate the samples.

    python -m rosterlab.synth --district maple --students 1000 --nights 3 --seed 1 --out DIR \\
        [--incident 3:orphan-enrollments ...]
    python -m rosterlab.synth samples [--out data/samples]
    python -m rosterlab.synth fleet --districts 12 --nights 3 --out DIR [--max-students 400]

The first form writes ``DIR/district.toml`` and ``DIR/<YYYY-MM-DD>/<files>`` per night; the last
a sample fleet: ``DIR/rosterlab.toml`` and ``DIR/drops/<ID>/`` per district.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Sequence
from datetime import date
from pathlib import Path

from rosterlab import spec
from rosterlab.synth.district import generate_district
from rosterlab.synth.fleet import CONFIG, DROPS, fleet_toml, plan_fleet, write_fleet_district
from rosterlab.synth.incidents import INCIDENTS
from rosterlab.synth.samples import write_samples
from rosterlab.synth.write import write_district_toml, write_night


def _incident(text: str) -> tuple[int, str]:
    night, sep, name = text.partition(":")
    if not sep or not night.isdigit() or name not in INCIDENTS:
        raise argparse.ArgumentTypeError(
            f"{text!r}: expected NIGHT:NAME with NAME one of {', '.join(sorted(INCIDENTS))}"
        )
    return int(night), name


def _parser() -> argparse.ArgumentParser:
    listing = "\n".join(f"  {name:24} {i.summary}" for name, i in sorted(INCIDENTS.items()))
    parser = argparse.ArgumentParser(
        prog="python -m rosterlab.synth",
        description="Write a deterministic synthetic Clever district, one folder per night.",
        epilog=f"incidents:\n{listing}\n\n'python -m rosterlab.synth samples' regenerates "
        "data/samples/; 'python -m rosterlab.synth fleet --help' writes a sample fleet.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--district", required=True, help="district id (also names emails)")
    parser.add_argument("--students", type=int, required=True, help="students on night 1")
    parser.add_argument("--nights", type=int, default=1, help="nights to write (default 1)")
    parser.add_argument("--seed", type=int, default=0, help="same seed, same bytes (default 0)")
    parser.add_argument("--out", type=Path, required=True, help="destination folder")
    parser.add_argument("--start", type=date.fromisoformat, default=date(2026, 9, 1),
                        help="date of night 1 (default 2026-09-01)")  # fmt: skip
    parser.add_argument("--churn", type=float, default=0.01, help="nightly churn (default 0.01)")
    parser.add_argument("--schools", type=int, help="schools (default: one per 600 students)")
    parser.add_argument("--class-size", type=int, default=133, help="students per section")
    parser.add_argument("--crlf", action="store_true", help="CRLF line endings")
    parser.add_argument("--no-extensions", action="store_true", help="no ext.* columns")
    parser.add_argument("--sync-type", choices=spec.SYNC_TYPES, default="sftp",
                        help="sync type written to district.toml")  # fmt: skip
    parser.add_argument("--incident", type=_incident, action="append", default=[],
                        metavar="NIGHT:NAME", help="schedule an incident (repeatable)")  # fmt: skip
    return parser


def _samples(argv: Sequence[str]) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m rosterlab.synth samples",
        description="Regenerate the committed sample districts byte-identically.",
    )
    parser.add_argument("--out", type=Path, default=Path("data/samples"), help="destination")
    args = parser.parse_args(argv)
    paths = write_samples(args.out)
    print(f"wrote {len(paths)} files under {args.out}")
    return 0


def _fleet(argv: Sequence[str]) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m rosterlab.synth fleet",
        description="Write a sample fleet: a drop folder per district and its rosterlab.toml "
        "(most districts a few thousand students, a few over 100,000; named incidents tonight).",
    )
    parser.add_argument("--districts", type=int, required=True, help="how many districts (>= 7)")
    parser.add_argument("--nights", type=int, default=3, help="nights per district (default 3)")
    parser.add_argument("--seed", type=int, default=0, help="same seed, same bytes (default 0)")
    parser.add_argument("--out", type=Path, required=True, help="destination folder")
    parser.add_argument(
        "--max-students", type=int, help="scale sizes down: the biggest district gets this many"
    )
    parser.add_argument("--start", type=date.fromisoformat, default=date(2026, 9, 1),
                        help="date of night 1 (default 2026-09-01)")  # fmt: skip
    args = parser.parse_args(argv)
    try:
        fleet = plan_fleet(
            args.districts,
            args.nights,
            seed=args.seed,
            start=args.start,
            max_students=args.max_students,
        )
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    for member in fleet.districts:
        began = time.perf_counter()
        write_fleet_district(fleet, member, args.out / DROPS / member.district)
        print(
            f"{member.district}  {member.students:>7,} students  "
            f"{time.perf_counter() - began:.1f} s  {member.story}"
        )
    (args.out / CONFIG).write_text(fleet_toml(fleet), encoding="utf-8")
    print(f"wrote {args.out / CONFIG}: {len(fleet.districts)} districts, tonight {fleet.tonight}")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point; returns the exit code (0 done, 2 bad arguments)."""
    args_list = list(sys.argv[1:] if argv is None else argv)
    if args_list[:1] == ["samples"]:
        return _samples(args_list[1:])
    if args_list[:1] == ["fleet"]:
        return _fleet(args_list[1:])
    args = _parser().parse_args(args_list)
    schedule: dict[int, list[str]] = {}
    for night, name in args.incident:
        schedule.setdefault(night, []).append(name)
    try:
        district = generate_district(
            args.district,
            students=args.students,
            seed=args.seed,
            start=args.start,
            churn=args.churn,
            schools=args.schools,
            class_size=args.class_size,
            extensions=not args.no_extensions,
            newline="\r\n" if args.crlf else "\n",
            incidents=schedule,
        )
        write_district_toml(args.out, args.district, args.sync_type)
        for k in range(1, args.nights + 1):
            began = time.perf_counter()
            night = district.night(k)
            paths = write_night(night, args.out / night.folder)
            size = sum(p.stat().st_size for p in paths)
            done = ", ".join(r.incident for r in night.results) or "clean"
            print(
                f"{night.folder}  {len(paths)} files  {size:,} bytes  "
                f"{time.perf_counter() - began:.1f} s  {done}"
            )
            del night  # free tonight's frames before tomorrow is derived
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
