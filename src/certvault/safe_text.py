"""Text that came from outside, made safe to store and show: control characters escaped, length bounded.

`escape_controls` writes each control, format (bidi overrides, zero-width) and line/paragraph separator
character as a visible escape (`\\r`, `\\x00`, `\\u202e`), so a stored name can neither rewrite a terminal
line nor reorder what is shown. `bounded` also cuts what is left to `limit` characters, ending with a marker
that says how much was cut ("…[truncated 99,999,872 chars]"). Pure: no app imports.
"""

from __future__ import annotations

import unicodedata

_UNSAFE_CATEGORIES = frozenset({"Cc", "Cf", "Zl", "Zp", "Cs"})
_NAMED = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}


def _escape(char: str) -> str:
    if char.isprintable() or unicodedata.category(char) not in _UNSAFE_CATEGORIES:
        return char
    if char in _NAMED:
        return _NAMED[char]
    code = ord(char)
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}" if code < 0x10000 else f"\\U{code:08x}"


def escape_controls(text: str) -> str:
    """`text` with every control, format and line-separator character written as an escape."""
    if text.isprintable():  # the common case, at C speed (printable excludes all of the categories above)
        return text
    return "".join(map(_escape, text))


def bounded(text: str, limit: int) -> str:
    """`text` with control characters escaped, at most `limit` characters long (the marker included)."""
    if len(text) <= limit:
        escaped = escape_controls(text)
        if len(escaped) <= limit:
            return escaped
    budget = limit - len(_marker(len(text)))  # the marker names at most len(text) cut characters
    kept: list[str] = []
    size = 0
    for char in text:  # stops within `budget` characters, however long `text` is
        piece = _escape(char)
        if size + len(piece) > budget:
            break
        kept.append(piece)
        size += len(piece)
    return ("".join(kept) + _marker(len(text) - len(kept)))[:limit]


def _marker(cut: int) -> str:
    return f"…[truncated {cut:,} chars]"
