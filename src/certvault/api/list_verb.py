"""The HTTP method LIST (HashiCorp Vault's, sent by hvac's `list_secrets()`) on the fast HTTP parser.

uvicorn's httptools parser (llhttp) knows a fixed set of methods and answers any other with 400;
h11 accepts every token but parses each request in Python. This protocol keeps httptools for every
connection and hands a connection to h11 only when a request starts with `LIST ` at a message
boundary (the connection then stays on h11 until it closes). Requests with other methods never
pay anything: the switch happens in the error path httptools already takes for an unknown method.
uvicorn switches protocols the same way for WebSocket upgrades.
"""

from __future__ import annotations

import asyncio
from typing import Any

LIST_PREFIX = b"LIST "


def http_protocol() -> Any:
    """The `http=` setting for uvicorn: LIST-aware httptools when installed, else h11 (accepts LIST)."""
    try:
        return _list_aware_class()
    except ImportError:  # uvicorn without httptools: h11 parses LIST natively
        return "h11"


def _list_aware_class() -> type[asyncio.Protocol]:
    import httptools
    from uvicorn.protocols.http.h11_impl import H11Protocol
    from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

    class ListAwareHttpToolsProtocol(HttpToolsProtocol):
        def data_received(self, data: bytes) -> None:
            if self.parser is None:  # the connection is already gone
                return
            self._unset_keepalive_if_required()
            try:
                self.parser.feed_data(data)
            except httptools.HttpParserInvalidMethodError:
                if data.startswith(LIST_PREFIX) and self._idle():
                    self._continue_with_h11(data)
                    return
                self._reject()
            except httptools.HttpParserError:
                self._reject()
            except httptools.HttpParserUpgrade:
                if self._should_upgrade():
                    self.handle_websocket_upgrade()
                else:
                    self._unsupported_upgrade_warning()

        def _idle(self) -> bool:
            """No request is being read or answered, so `data` begins a new request."""
            return not self.pipeline and (self.cycle is None or self.cycle.response_complete)

        def _reject(self) -> None:
            message = "Invalid HTTP request received."
            self.logger.warning(message)
            self.send_400_response(message)

        def _continue_with_h11(self, data: bytes) -> None:
            self.connections.discard(self)
            self.parser = None  # type: ignore[assignment]
            protocol = H11Protocol(config=self.config, server_state=self.server_state, app_state=self.app_state,
                                    _loop=self.loop)
            self.transport.set_protocol(protocol)
            protocol.connection_made(self.transport)
            protocol.data_received(data)

    return ListAwareHttpToolsProtocol
