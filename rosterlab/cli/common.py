"""Helpers every sub-command module shares: settings, severity gates, parser plumbing."""

from __future__ import annotations

import argparse
from contextlib import AbstractContextManager
from typing import TYPE_CHECKING, Any

from rosterlab import spec
from rosterlab.cli import output
from rosterlab.config import Settings, load_settings

if TYPE_CHECKING:
    from rosterlab.store import Store


SNAP_HELP = (
    "snapshot id, latest, previous, a date (2026-09-03: the district's night of that day) or a "
    "night number (n3: the district's third night)"
)
DISTRICT_HELP = "the district (needed unless SNAP is an id)"


def add_district(
    parser: argparse.ArgumentParser,
    *,
    required: bool = True,
    help_text: str = "the district's id",
    **options: Any,
) -> None:
    """The ``--district`` option (required unless said otherwise)."""
    parser.add_argument("--district", required=required, help=help_text, **options)


def settings_of(args: argparse.Namespace) -> Settings:
    return load_settings(store=args.store, config=args.config)


def fails(summary: dict[str, int], fail_on: str | None) -> bool:
    """True when findings at or above ``fail_on`` exist (exit code 1)."""
    if not fail_on:
        return False
    rank = spec.SEVERITY_RANK
    return any(summary[s] for s in spec.SEVERITIES if rank[s] <= rank[fail_on])


def add_command(sub: Any, name: str, help_text: str, example: str) -> argparse.ArgumentParser:
    """A sub-command whose --help ends with an example."""
    parser: argparse.ArgumentParser = sub.add_parser(
        name,
        help=help_text,
        description=help_text,
        epilog="example:\n  " + example,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    return parser


def add_format(parser: argparse.ArgumentParser, *extra: str) -> None:
    parser.add_argument("--format", choices=("text", "json", *extra), default="text")


def open_store(settings: Settings, *, read_only: bool = False) -> AbstractContextManager[Store]:
    """The configured store, opened with the configured DuckDB memory limit and threads.

    Read-only opens the copy the last writer published; a writer waits (saying so on stderr)
    up to ``store_wait`` seconds for another process holding the store.
    """
    from rosterlab.store import Store

    return Store.open(
        settings.store,
        read_only=read_only,
        memory_limit=settings.memory_limit,
        threads=settings.threads,
        wait=settings.store_wait,
        on_wait=output.note,
    )
