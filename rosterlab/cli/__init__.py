"""The command line: ``main(argv) -> int``, thin over the API; one place maps errors to exit codes.

Exit codes: 0 done; 1 findings at or above ``--fail-on``; 2 the command could not do its job
(one line on stderr says what to do); 130 interrupted.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence

from rosterlab.cli import output
from rosterlab.cli.commands import build_parser
from rosterlab.errors import RosterlabError

EXIT_OK, EXIT_FINDINGS, EXIT_ERROR, EXIT_INTERRUPTED = 0, 1, 2, 130


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    try:
        args = parser.parse_args(list(argv) if argv is not None else None)
    except SystemExit as exc:  # argparse: --help is 0, usage errors are 2
        return int(exc.code or 0)
    try:
        return int(args.handler(args))
    except RosterlabError as exc:
        output.error(exc.message)
        return exc.exit_code
    except KeyboardInterrupt:
        output.error("interrupted: nothing was half-written; re-run the command")
        return EXIT_INTERRUPTED


def run() -> None:
    sys.exit(main())
