"""``python -m rosterlab`` runs the CLI."""

from rosterlab.cli import run

run()
