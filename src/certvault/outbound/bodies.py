"""The response size cap: a body is counted (after gzip/deflate decoding) while it streams in,
and reading stops with ResponseTooLarge at the first byte past `max_response_bytes`.

The client asks for gzip only and decodes gzip and deflate here, within the cap, so a small
compressed body cannot unpack into gigabytes; the response then carries no Content-Encoding.
Another content coding is refused.
"""

from __future__ import annotations

import zlib
from collections.abc import AsyncIterator, Iterator

import httpx

from certvault.outbound.errors import OutboundError, ResponseTooLarge
from certvault.outbound.failures import failure, peer

_DECODED = {"gzip": zlib.MAX_WBITS | 16, "x-gzip": zlib.MAX_WBITS | 16, "deflate": zlib.MAX_WBITS}


class BodyMeter:
    def __init__(self, request: httpx.Request, headers: httpx.Headers, cap: int) -> None:
        self.request, self.cap, self.seen = request, cap, 0
        self.where = peer(request.url)
        coding = headers.get("content-encoding", "identity").strip().lower()
        if coding not in (*_DECODED, "identity", ""):
            raise OutboundError(f"{self.where} answered with Content-Encoding {coding[:40]!r}, which is not "
                                "accepted (gzip only)", host=self.where)
        self._decoder = zlib.decompressobj(_DECODED[coding]) if coding in _DECODED else None
        length = headers.get("content-length", "")
        if self._decoder is None and request.method != "HEAD" and length.isdigit() and int(length) > cap:
            raise self.too_large(int(length))

    def too_large(self, size: int | None = None) -> ResponseTooLarge:
        told = f" (it announced {size:,} bytes)" if size else ""
        return ResponseTooLarge(f"{self.where} sent more than the {self.cap:,}-byte response cap{told}; "
                                "raise max_response_bytes if that is expected", host=self.where, cap=self.cap)

    def feed(self, chunk: bytes) -> bytes:
        if self._decoder is not None:
            try:
                chunk = self._decoder.decompress(chunk, self.cap - self.seen + 1)
            except zlib.error:
                raise OutboundError(f"{self.where} sent a corrupt compressed body", host=self.where) from None
        self.seen += len(chunk)
        if self.seen > self.cap:
            raise self.too_large()
        return chunk

    def flush(self) -> bytes:
        if self._decoder is None:
            return b""
        tail = self._decoder.flush(self.cap - self.seen + 1)
        self.seen += len(tail)
        if self.seen > self.cap:
            raise self.too_large()
        return tail


class CappedStream(httpx.SyncByteStream, httpx.AsyncByteStream):
    """Wraps a transport's response stream (sync or async) with a BodyMeter."""

    def __init__(self, inner: httpx.SyncByteStream | httpx.AsyncByteStream, meter: BodyMeter) -> None:
        self._inner, self._meter = inner, meter

    def __iter__(self) -> Iterator[bytes]:
        assert isinstance(self._inner, httpx.SyncByteStream)
        try:
            for chunk in self._inner:
                yield self._meter.feed(chunk)
        except httpx.TransportError as exc:
            raise failure(exc, self._meter.request) from None
        yield self._meter.flush()

    async def __aiter__(self) -> AsyncIterator[bytes]:
        assert isinstance(self._inner, httpx.AsyncByteStream)
        try:
            async for chunk in self._inner:
                yield self._meter.feed(chunk)
        except httpx.TransportError as exc:
            raise failure(exc, self._meter.request) from None
        yield self._meter.flush()

    def close(self) -> None:
        if isinstance(self._inner, httpx.SyncByteStream):
            self._inner.close()

    async def aclose(self) -> None:
        if isinstance(self._inner, httpx.AsyncByteStream):
            await self._inner.aclose()


def capped(response: httpx.Response, request: httpx.Request, cap: int) -> httpx.Response:
    """The response with its stream under the cap (and decoded, when it was gzip or deflate)."""
    meter = BodyMeter(request, response.headers, cap)
    if "content-encoding" in response.headers:
        del response.headers["content-encoding"]
        response.headers.pop("content-length", None)
    response.stream = CappedStream(response.stream, meter)
    return response
