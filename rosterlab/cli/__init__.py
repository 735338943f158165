"""The command line: ``main(argv) -> int``, thin over the API; one place maps errors to exit codes.

Exit codes: 0 done; 1 findings at or above ``--fail-on``; 2 the command could not do its job
(one line on stderr says what to do); 130 interrupted (Ctrl-C), store as it was; 143 (SIGTERM)
and 129 (SIGHUP) the same way.

A bug (any other exception) is one line too, naming ``--debug`` / ``ROSTERLAB_DEBUG=1``, which
print the traceback, causes included, above the line. The commands are imported inside
:func:`main`, under the signal watch, so Ctrl-C during start-up is the same one line.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence

from rosterlab.cli import interrupts
from rosterlab.errors import EXIT_ERROR, EXIT_OK, RosterlabError

DEBUG_ENV = "ROSTERLAB_DEBUG"
INTERRUPTED = "interrupted: nothing was half-written; re-run the command"


def main(argv: Sequence[str] | None = None) -> int:
    arguments = list(argv) if argv is not None else sys.argv[1:]
    debug = os.environ.get(DEBUG_ENV, "") not in ("", "0") or "--debug" in arguments
    watch = interrupts.Watch()
    try:
        with interrupts.watching(watch):
            return _run(arguments, watch)
    except (SystemExit, GeneratorExit):
        raise
    except BaseException as exc:
        return _failed(exc, watch, debug)


def _run(arguments: list[str], watch: interrupts.Watch) -> int:
    from rosterlab.cli import output  # noqa: F401  (loaded while Ctrl-C is watched)
    from rosterlab.cli.commands import build_parser

    watch.on_stop.append(_interrupt_queries)
    parser = build_parser()
    try:
        args = parser.parse_args(arguments)
    except SystemExit as exc:  # argparse: --help is 0, usage errors are 2
        return int(exc.code or EXIT_OK)
    return int(args.handler(args))


def _interrupt_queries() -> None:
    """Interrupt the running queries of every open store; none are open before the command
    has imported the store (the handlers import their engines themselves)."""
    store = sys.modules.get("rosterlab.store.store")
    interrupt = getattr(store, "interrupt_queries", None)
    if interrupt is not None:
        interrupt()


def _failed(exc: BaseException, watch: interrupts.Watch, debug: bool) -> int:
    """The exit code of a command that raised ``exc``, after its one line on stderr."""
    from rosterlab.cli import output

    if watch.signal is not None or isinstance(exc, KeyboardInterrupt):
        # Whatever the unwinding raised (DuckDB's InterruptException, an error wrapping it).
        output.error(INTERRUPTED)
        return watch.exit_code
    if debug:
        output.traceback(exc)
    if isinstance(exc, RosterlabError):
        output.error(exc.message)
        return exc.exit_code
    if not isinstance(exc, Exception):
        raise exc
    output.error(
        f"unexpected error ({type(exc).__name__}: {exc}): this is a bug in rosterlab; "
        f"re-run with --debug (or {DEBUG_ENV}=1) to see the traceback, and report it"
    )
    return EXIT_ERROR


def run() -> None:
    sys.exit(main())
