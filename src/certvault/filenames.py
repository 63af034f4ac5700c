"""File names from uploads, made safe to store, and the Content-Disposition header every download sends.

`clean_filename` keeps the last path part of a name, drops control, format and separator characters
(CR/LF would break the header of every later download) and cuts it to 255 characters. `content_disposition`
builds the header per RFC 6266 with RFC 5987 encoding: an ASCII fallback in `filename` for old clients and
the real name, percent-encoded UTF-8, in `filename*`. It cleans the name itself too, so a name stored before
cleaning existed downloads as well. Pure: no app imports.
"""

from __future__ import annotations

import unicodedata
from urllib.parse import quote

MAX_NAME = 255
_DROP = frozenset({"Cc", "Cf", "Zl", "Zp", "Cs"})
_FALLBACK_UNSAFE = frozenset('"\\;%')  # quoted-string specials, and % (some clients decode it)


def clean_filename(name: str | None, default: str = "download") -> str:
    """The last path part of `name` without control characters, trimmed, at most 255 characters."""
    text = "".join(map(_visible, name or "")).replace("\\", "/").rsplit("/", 1)[-1]
    text = " ".join(text.split())[:MAX_NAME].strip()
    return default if text in ("", ".", "..") else text


def _visible(char: str) -> str:
    """Whitespace controls (CR, LF, tab, line separators) become a space; other invisible characters go."""
    if char.isprintable():
        return char
    if char.isspace():
        return " "
    return "" if unicodedata.category(char) in _DROP else char


def content_disposition(name: str | None, default: str = "download") -> str:
    """`attachment; filename="<ASCII fallback>"; filename*=UTF-8''<percent-encoded name>`"""
    clean = clean_filename(name, default)
    fallback = "".join(c if 0x20 <= ord(c) < 0x7F and c not in _FALLBACK_UNSAFE else "_" for c in clean)
    return f"attachment; filename=\"{fallback}\"; filename*=UTF-8''{quote(clean, safe='')}"
