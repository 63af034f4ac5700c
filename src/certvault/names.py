"""Names given to things (users, groups, folders, secrets, templates, tags, tokens, channels, accounts, schedules).

One rule for all of them: bounded in length, and free of the characters that let a name rewrite a terminal
line or read as something it is not: control characters (C0 with NUL, DEL, C1), bidirectional overrides,
embeddings, isolates and marks (U+202A-U+202E, U+2066-U+2069, U+200E, U+200F, U+061C), zero-width and
other invisible formatting characters (U+200B-U+200D, U+2060, U+FEFF, soft hyphen ...), line and paragraph
separators. `Name` and friends are the pydantic types the API's schemas use (a 422 naming the field);
`check_name` is the same rule for values that arrive without a schema (web forms, the command line).
Pure: pydantic and the standard library only.
"""

from __future__ import annotations

import unicodedata
from typing import Annotated

from pydantic import AfterValidator, Field
from pydantic_core import PydanticCustomError

from certvault.errors import InvalidInput

MAX_NAME = 200  # folders, secrets, templates
MAX_SHORT_NAME = 150  # users, groups, tokens, channels, accounts, schedules (their columns are 150 wide)
MAX_TAG = 64
_BIDI = frozenset("\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")


def problem(value: str) -> str | None:
    """What is wrong with the characters of `value`, naming the first bad one; None when nothing is."""
    if value.isprintable():  # the common case, at C speed: no Cc, Cf, Zl, Zp (nor spaces other than " ")
        return None
    for char in value:
        category = unicodedata.category(char)
        if category == "Cc":
            return f"contains a control character (U+{ord(char):04X})"
        if char in _BIDI:
            return f"contains a bidirectional text control (U+{ord(char):04X})"
        if category in ("Cf", "Zl", "Zp", "Cs"):
            return f"contains an invisible formatting character (U+{ord(char):04X})"
    return None


def _checked(value: str) -> str:
    found = problem(value)
    if found is not None:
        raise PydanticCustomError("unsafe_name", found)
    return value



Name = Annotated[str, Field(min_length=1, max_length=MAX_NAME), AfterValidator(_checked)]
ShortName = Annotated[str, Field(min_length=1, max_length=MAX_SHORT_NAME), AfterValidator(_checked)]
Tag = Annotated[str, Field(max_length=MAX_TAG), AfterValidator(_checked)]  # empty ones are dropped
# May be empty: display names and descriptions (255), token names (150).
Label = Annotated[str, Field(max_length=255), AfterValidator(_checked)]
ShortLabel = Annotated[str, Field(max_length=MAX_SHORT_NAME), AfterValidator(_checked)]


def check_name(value: str, what: str, max_length: int = MAX_NAME, *, min_length: int = 1) -> str:
    """The same rule where no schema applies; InvalidInput names `what` ("secret name: contains ...")."""
    if not min_length <= len(value) <= max_length:
        raise InvalidInput(f"{what}: use {min_length} to {max_length} characters")
    found = problem(value)
    if found is not None:
        raise InvalidInput(f"{what}: {found}")
    return value
