"""Bundles: read a folder or zip of Clever SFTP files (and write one)."""

from rosterlab.bundle.model import Bundle, SourceFile
from rosterlab.bundle.read import open_bundle, read_bundle
from rosterlab.bundle.writer import csv_line, newline_chars, write_csv

__all__ = [
    "Bundle",
    "SourceFile",
    "csv_line",
    "newline_chars",
    "open_bundle",
    "read_bundle",
    "write_csv",
]
