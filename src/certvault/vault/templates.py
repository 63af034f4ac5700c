"""Secret templates: which fields a secret of each kind has, and which of them are secret.

Slugs follow Secret Server's (username, password, private-key, private-key-passphrase) so scanners
that read those slugs work unchanged.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from certvault.errors import InvalidInput


@dataclass(frozen=True)
class FieldSpec:
    slug: str
    name: str
    is_secret: bool = False
    file_allowed: bool = False
    required: bool = False


TEMPLATES: dict[str, tuple[FieldSpec, ...]] = {
    "password": (
        FieldSpec("username", "Username", required=True),
        FieldSpec("password", "Password", is_secret=True, required=True),
        FieldSpec("host", "Host"),
        FieldSpec("notes", "Notes"),
    ),
    "ssh-key": (
        FieldSpec("username", "Username", required=True),
        FieldSpec("private-key", "Private Key", is_secret=True, file_allowed=True, required=True),
        FieldSpec("private-key-passphrase", "Private Key Passphrase", is_secret=True),
        FieldSpec("password", "Password", is_secret=True),
        FieldSpec("host", "Host"),
        FieldSpec("notes", "Notes"),
    ),
    "api-credential": (
        FieldSpec("key-id", "Key ID", required=True),
        FieldSpec("secret", "Secret", is_secret=True, required=True),
        FieldSpec("url", "URL"),
        FieldSpec("notes", "Notes"),
    ),
    "keystore": (
        FieldSpec("file", "Keystore File", is_secret=True, file_allowed=True, required=True),
        FieldSpec("password", "Keystore Password", is_secret=True),
        FieldSpec("notes", "Notes"),
    ),
    "generic": (),  # free key/value pairs, every value secret
}
TEMPLATE_LABELS = {"password": "Password", "ssh-key": "Unix Account (SSH)", "api-credential": "API Credential",
                   "keystore": "Keystore", "generic": "Generic"}
TEMPLATE_IDS = {"password": 9, "ssh-key": 6007, "api-credential": 6050, "keystore": 6051, "generic": 6052}
_SLUG = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
MAX_TEXT = 64 * 1024
MAX_FILE = 1024 * 1024


def template_fields(template: str) -> tuple[FieldSpec, ...]:
    if template not in TEMPLATES:
        raise InvalidInput(f"unknown template {template!r}; choose one of {', '.join(TEMPLATES)}")
    return TEMPLATES[template]


def spec_for(template: str, slug: str) -> FieldSpec:
    """The field of `template` named `slug`; generic secrets accept any well-formed key."""
    specs = template_fields(template)
    if template == "generic":
        if not _SLUG.match(slug):
            raise InvalidInput(f"field name {slug!r} must be 1-64 letters, digits, '.', '_' or '-'")
        return FieldSpec(slug, slug, is_secret=True, file_allowed=True)
    for spec in specs:
        if spec.slug == slug:
            return spec
    names = ", ".join(s.slug for s in specs)
    raise InvalidInput(f"template {template} has no field {slug!r}; its fields are {names}")


def check_value(spec: FieldSpec, value: str | bytes, *, is_file: bool) -> None:
    if is_file and not spec.file_allowed:
        raise InvalidInput(f"field {spec.slug} does not take a file")
    limit = MAX_FILE if is_file else MAX_TEXT
    size = len(value.encode() if isinstance(value, str) else value)
    if size > limit:
        raise InvalidInput(f"field {spec.slug} is {size} bytes; the limit is {limit}")


def check_required(template: str, present: set[str]) -> None:
    missing = [s.slug for s in template_fields(template) if s.required and s.slug not in present]
    if missing:
        raise InvalidInput(f"a {template} secret needs the field(s) {', '.join(missing)}")
    if template == "generic" and not present:
        raise InvalidInput("a generic secret needs at least one field")
