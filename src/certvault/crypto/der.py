"""A small BER/DER reader: enough to look inside a keystore before a library parses it.

`parse(data)` returns the one element `data` holds; a constructed element's `children` are read when
asked for. BER's indefinite lengths and constructed (chunked) strings are understood, because the
libraries that parse keystores accept them too. Malformed input raises DerError.
"""

from __future__ import annotations

from dataclasses import dataclass, field

SEQUENCE, OCTET_STRING, INTEGER, OID = 0x30, 0x04, 0x02, 0x06
MAX_DEPTH = 32


class DerError(ValueError):
    """The bytes are not the ASN.1 the caller expected."""


@dataclass
class Node:
    """One element. Views into the parsed bytes, not copies: nesting costs no memory."""

    tag: int  # the identifier octet: class, constructed bit and tag number
    content: memoryview = memoryview(b"")  # for definite lengths
    raw: memoryview = memoryview(b"")  # the whole element, header included
    depth: int = 0
    parts: list[Node] | None = field(default=None, repr=False)  # for indefinite lengths: already read

    @property
    def constructed(self) -> bool:
        return bool(self.tag & 0x20)

    @property
    def children(self) -> list[Node]:
        if not self.constructed:
            raise DerError(f"element {self.tag:#04x} has no children")
        if self.parts is None:
            self.parts = _read_all(self.content, self.depth + 1)
        return self.parts

    def child(self, index: int, tag: int | None = None) -> Node:
        found = self.children
        if index >= len(found) or (tag is not None and found[index].tag != tag):
            raise DerError(f"expected element {tag:#04x} at position {index}" if tag else "too few elements")
        return found[index]

    def octets(self) -> bytes:
        """An OCTET STRING's value, a constructed (BER) one's chunks joined."""
        if self.constructed:
            return b"".join(part.octets() for part in self.children)
        return bytes(self.content)

    def encoded(self) -> bytes:
        return bytes(self.raw)

    def integer(self) -> int:
        if self.tag != INTEGER or not self.content:
            raise DerError("expected an INTEGER")
        return int.from_bytes(self.content, "big", signed=True)

    def oid(self) -> str:
        if self.tag != OID or not self.content:
            raise DerError("expected an OBJECT IDENTIFIER")
        arcs, value = [], 0
        for byte in self.content:
            value = (value << 7) | (byte & 0x7F)
            if not byte & 0x80:
                arcs.append(value)
                value = 0
        if not arcs or self.content[-1] & 0x80:
            raise DerError("truncated OBJECT IDENTIFIER")
        first = min(arcs[0] // 40, 2)
        return ".".join(str(arc) for arc in [first, arcs[0] - 40 * first, *arcs[1:]])


def parse(data: bytes | memoryview, depth: int = 0) -> Node:
    """The single element `data` holds (trailing bytes are an error)."""
    data = memoryview(data)
    node, end = _read(data, 0, depth)
    if end != len(data):
        raise DerError("trailing bytes after the element")
    return node


def _read_all(data: memoryview, depth: int) -> list[Node]:
    nodes, pos = [], 0
    while pos < len(data):
        node, pos = _read(data, pos, depth)
        nodes.append(node)
    return nodes


def _read(data: memoryview, pos: int, depth: int) -> tuple[Node, int]:
    if depth > MAX_DEPTH:
        raise DerError("elements nested too deeply")
    if pos + 2 > len(data):
        raise DerError("truncated element")
    start, tag, first = pos, data[pos], data[pos + 1]
    if tag & 0x1F == 0x1F:
        raise DerError("high tag numbers are not supported")
    pos += 2
    if first == 0x80:
        return _read_indefinite(data, start, tag, depth)
    length = first
    if first & 0x80:
        size = first & 0x7F
        if size > 4 or pos + size > len(data):
            raise DerError("bad length")
        length = int.from_bytes(data[pos:pos + size], "big")
        pos += size
    if pos + length > len(data):
        raise DerError("truncated element")
    return Node(tag, data[pos:pos + length], data[start:pos + length], depth), pos + length


def _read_indefinite(data: memoryview, start: int, tag: int, depth: int) -> tuple[Node, int]:
    if not tag & 0x20:
        raise DerError("indefinite length on a primitive element")
    parts, pos = [], start + 2
    while bytes(data[pos:pos + 2]) != b"\x00\x00":
        part, pos = _read(data, pos, depth + 1)
        parts.append(part)
    return Node(tag, memoryview(b""), data[start:pos + 2], depth, parts), pos + 2
