"""The outbound client's errors, each one line that names the peer or the keystore and the problem.

InvalidInput
 +-- ClientIdentityError        the keystore or PEM: wrong password, no private key, key not matching
      +-- ClientCertificateExpired   the client certificate is expired or not yet valid
IntegrationError
 +-- OutboundError              a call failed (connection refused, TLS verification, reset, ...)
      +-- PinMismatch           the server's certificate is not the pinned one
      +-- OutboundTimeout       connect, read or write timeout (which one, and the host)
      +-- ResponseTooLarge      the body passed max_response_bytes
      +-- RetriesExhausted      still a retryable status after the last retry (status and host)
"""

from __future__ import annotations

from certvault.errors import IntegrationError, InvalidInput


class ClientIdentityError(InvalidInput):
    """The client certificate or keystore for mutual TLS cannot be used."""


class ClientCertificateExpired(ClientIdentityError):
    """The client certificate is outside its validity period."""


class OutboundError(IntegrationError):
    """A call to a peer failed; the message names the host and why."""


class PinMismatch(OutboundError):
    """The server presented a certificate other than the pinned one."""


class OutboundTimeout(OutboundError):
    """No connection, or no data, within the configured time."""


class ResponseTooLarge(OutboundError):
    """The response body passed the account's size cap."""


class RetriesExhausted(OutboundError):
    """The peer still answered a retryable status after the last retry."""
