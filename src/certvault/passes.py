"""Work gathered during one event-loop pass and done once, at the start of the next.

Requests that arrive together (one `epoll` wake-up of the server's loop) each hand in an item and wait; the
first item of a pass schedules the batch's handler with `call_soon`, so it runs after every request of the
pass had its turn. The direct reads use it twice: their rows are read ahead in one statement (api/fast.py)
and their audit rows committed in one transaction (audit/group.py). Batches are per event loop (one per
server process; tests run several) and per key.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Hashable
from typing import Generic, TypeVar

K = TypeVar("K", bound=Hashable)
T = TypeVar("T")
R = TypeVar("R")
Waiting = list[tuple[T, "asyncio.Future[R]"]]


class PassBatch(Generic[K, T, R]):
    def __init__(self, handle: Callable[[asyncio.AbstractEventLoop, K, Waiting[T, R]], None]) -> None:
        """`handle(loop, key, waiting)` must settle every future of `waiting`, then or later (`settle`)."""
        self._handle = handle
        self._waiting: dict[tuple[asyncio.AbstractEventLoop, K], Waiting[T, R]] = {}

    async def join(self, key: K, item: T) -> R:
        """Add `item` to this pass's batch for `key`; return what the handler settles it with."""
        loop = asyncio.get_running_loop()
        waiting = self._waiting.get((loop, key))
        if waiting is None:
            waiting = self._waiting[(loop, key)] = []
            loop.call_soon(self._run, loop, key)
        future: asyncio.Future[R] = loop.create_future()
        waiting.append((item, future))
        return await future

    def _run(self, loop: asyncio.AbstractEventLoop, key: K) -> None:
        self._handle(loop, key, self._waiting.pop((loop, key)))


def settle(waiting: Waiting[T, R], result: Callable[[T], R]) -> None:
    """Give each waiting item its result."""
    for item, future in waiting:
        if not future.done():  # a request whose client went away was cancelled while it waited
            future.set_result(result(item))
