"""Turn a parsed file into what the store writes: leaves, issuer certificates and matched keys."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives.asymmetric.types import PrivateKeyTypes

from certvault.certificates.store import Leaf, StoreOutcome
from certvault.crypto import x509info
from certvault.crypto.readers import MAX_BYTES, Bundle
from certvault.errors import InvalidInput, TooLarge
from certvault.names import check_name

MAX_TAGS = 32


@dataclass
class Prepared:
    """One file's certificates and keys, checked and ready to store."""

    leaves: list[Leaf] = field(default_factory=list)
    issuers: list[x509.Certificate] = field(default_factory=list)
    keys: list[PrivateKeyTypes] = field(default_factory=list)
    orphan_key_spkis: list[str] = field(default_factory=list)  # keys whose certificate must already be stored


@dataclass
class FileResult:
    """What importing one file did (or why it was refused)."""

    file: str
    ok: bool
    format: str | None = None
    error: str | None = None
    certificates: int = 0
    created: int = 0
    renewed: int = 0
    history: int = 0
    unchanged: int = 0
    keys: int = 0
    entry_ids: list[uuid.UUID] = field(default_factory=list)
    key_entries: list[uuid.UUID] = field(default_factory=list)  # certificates a key without its certificate fits


def display_name(path: Path | str) -> str:
    """A printable file name: bytes that are not UTF-8 are shown as \\xNN escapes."""
    raw = os.fsencode(path)
    return raw.decode("utf-8", "backslashreplace")


def check_file(path: Path) -> str:
    """The file's printable label; refuse names that are not UTF-8 and files over the size limit."""
    label = display_name(path)
    try:
        os.fsencode(path).decode("utf-8")
    except UnicodeDecodeError:
        raise InvalidInput(f"{label}: the file name is not valid UTF-8; rename the file") from None
    if not path.is_file():
        raise InvalidInput(f"{label}: no such file")
    size = path.stat().st_size
    if size > MAX_BYTES:
        raise TooLarge(f"{label}: file is {size / 1048576:.1f} MB; the limit is 10 MB")
    return label


def files_under(path: Path) -> list[Path]:
    """A file, or every regular file under a directory (sorted; hidden files skipped)."""
    if path.is_dir():
        return sorted(p for p in path.rglob("*") if p.is_file() and not p.name.startswith("."))
    return [path]


def prepare(bundle: Bundle, label: str, *, source: str, tags: tuple[str, ...] = (), managed: bool = True,
            entry_id: uuid.UUID | None = None) -> Iterator[Prepared]:
    """Split certificates into leaves and CA certificates, chunk by chunk, then match every key.

    A file holding only CA certificates (a root or an intermediate to track) stores them as leaves
    too. A key that matches no certificate in a file that has certificates is refused (the last
    chunk raises, so the caller's savepoint drops the earlier ones). With `entry_id` (an issued
    chain) the first leaf is the new version and the rest is chain.
    """
    cert_spkis: set[str] = set()
    lone_cas: list[Leaf] = []
    leaves = 0
    for certs, infos in x509info.describe_chunks(bundle.certificates):
        chunk = Prepared()
        for cert, info in zip(certs, infos, strict=True):
            cert_spkis.add(info.spki_sha256)
            leaf = Leaf(info, x509info.der(cert), source, tags, managed, entry_id)
            if info.is_ca:
                chunk.issuers.append(cert)
                lone_cas.append(leaf)
            elif entry_id is None or leaves == 0:
                chunk.leaves.append(leaf)
                leaves += 1
        yield chunk
    last = Prepared()
    if not leaves:
        last.leaves = lone_cas[:1] if entry_id is not None else lone_cas
    for key in bundle.keys:
        spki = x509info.spki_sha256(key.public_key())
        if spki not in cert_spkis:
            if bundle.certificates:
                raise InvalidInput(f"{label}: the private key does not match any certificate in the file")
            last.orphan_key_spkis.append(spki)
        last.keys.append(key)
    yield last


def clean_tags(tags: list[str] | tuple[str, ...] | None) -> tuple[str, ...]:
    out = []
    for tag in tags or ():
        value = tag.strip().lower()
        if not value:
            continue
        if len(value) > 64 or any(ch.isspace() for ch in value):
            raise InvalidInput(f"tag {tag!r} must be one word of at most 64 characters")
        check_name(value, "tag", 64)
        out.append(value)
    if len(out) > MAX_TAGS:
        raise InvalidInput(f"at most {MAX_TAGS} tags per certificate")
    return tuple(dict.fromkeys(out))


def file_result(label: str, fmt: str, outcome: StoreOutcome) -> FileResult:
    ids = list(dict.fromkeys(outcome.entries.values()))
    return FileResult(label, True, fmt, None, outcome.leaves, outcome.created, outcome.renewed,
                      outcome.history, outcome.unchanged, outcome.keys_added, ids,
                      list(dict.fromkeys(outcome.key_entries)))


def audit_details(result: FileResult) -> dict[str, Any]:
    return {"file": result.file, "format": result.format, "certificates": result.certificates,
            "created": result.created, "renewed": result.renewed, "unchanged": result.unchanged,
            "keys_added": result.keys, "entries": [str(i) for i in result.entry_ids[:20]]}
