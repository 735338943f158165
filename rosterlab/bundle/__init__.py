"""Bundles: read a folder or zip of Clever SFTP files (and write one)."""

from rosterlab.bundle.model import Bundle, SourceFile
from rosterlab.bundle.read import ZipLimits, open_bundle, read_bundle

__all__ = ["Bundle", "SourceFile", "ZipLimits", "open_bundle", "read_bundle"]
