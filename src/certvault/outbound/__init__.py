"""The one outbound HTTPS client of every integration (DNS providers, help desks, webhooks, deploy).

Pure: imports nothing of the app but `certvault.errors` and `certvault.crypto`, so plugins (leaves)
can take the factory in their constructor. docs/integrations.md describes the options.
"""

from certvault.outbound.client import USER_AGENT, OutboundClients, check_status
from certvault.outbound.errors import (
    ClientCertificateExpired,
    ClientIdentityError,
    OutboundError,
    OutboundTimeout,
    PinMismatch,
    ResponseTooLarge,
    RetriesExhausted,
)
from certvault.outbound.identity import ClientIdentity
from certvault.outbound.options import ClientOptions
from certvault.outbound.trust import ssl_context

__all__ = [
    "USER_AGENT", "ClientCertificateExpired", "ClientIdentity", "ClientIdentityError", "ClientOptions",
    "OutboundClients", "OutboundError", "OutboundTimeout", "PinMismatch", "ResponseTooLarge", "RetriesExhausted",
    "check_status", "ssl_context",
]
