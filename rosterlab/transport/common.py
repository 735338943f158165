"""What push and pull share: the progress callback type."""

from __future__ import annotations

from collections.abc import Callable

# Bytes moved so far: (file name, bytes done, bytes in all).
TransferProgress = Callable[[str, int, int], None]
"""``progress(file_name, bytes_done, bytes_total)``, called as each file transfers."""
