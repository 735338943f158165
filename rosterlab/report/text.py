"""Text output shows control characters escaped, so file contents cannot drive a terminal.

A hostile value (ESC sequences, ``\\r``, NUL, C1 controls, bidi overrides) printed verbatim could
move the cursor, recolor or reorder what a support engineer reads. Text renderers pass values
through :func:`shown`; JSON escapes them itself (:func:`json_safe` adds the few it leaves raw)
and HTML escapes its own.
"""

from __future__ import annotations

_NAMED = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}


def _escape(char: str) -> str:
    if char in _NAMED:
        return _NAMED[char]
    code = ord(char)
    if code < 0x100:
        return f"\\x{code:02x}"
    return f"\\u{code:04x}" if code < 0x10000 else f"\\U{code:08x}"


def shown(text: str, keep: str = "") -> str:
    """``text`` with every non-printable character but those in ``keep`` escaped (``\\x1b``)."""
    if text.isprintable():  # the common case, checked at C speed
        return text
    return "".join(c if c.isprintable() or c in keep else _escape(c) for c in text)


def json_safe(text: str) -> str:
    """JSON text (``ensure_ascii=False``) with the non-printable characters it leaves raw (C1
    controls, bidi overrides, line separators) as ``\\u`` escapes: the same values, parsed."""
    if text.replace("\n", "").isprintable():
        return text
    return "".join(c if c.isprintable() or c == "\n" else _json_escape(ord(c)) for c in text)


def _json_escape(code: int) -> str:
    if code < 0x10000:
        return f"\\u{code:04x}"
    code -= 0x10000  # a UTF-16 surrogate pair, as JSON spells characters beyond the BMP
    return f"\\u{0xD800 + (code >> 10):04x}\\u{0xDC00 + (code & 0x3FF):04x}"
