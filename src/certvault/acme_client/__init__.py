"""Pure ACME protocol layer over PyPI `acme` (retries, fast polling, ARI, replaces, EAB).

Imports nothing of the app but `certvault.errors`.
"""

from certvault.acme_client.client import AcmeClient, ClientConfig, revoke_with_certificate_key
from certvault.acme_client.csr import build_csr
from certvault.acme_client.directories import PRESETS, ca_name, resolve_directory
from certvault.acme_client.keys import ari_cert_id, dns01_value, jwk_and_alg, load_private_key, thumbprint
from certvault.acme_client.network import RetryPolicy
from certvault.acme_client.polling import next_poll_delay
from certvault.acme_client.problems import (
    AcmeError,
    AcmeProblem,
    AcmeProtocolError,
    AcmeRateLimited,
    AcmeUnavailable,
    describe_problem,
)
from certvault.acme_client.resources import (
    Account,
    Authorization,
    Challenge,
    DirectoryInfo,
    Identifier,
    Order,
    RenewalWindow,
)

__all__ = [
    "PRESETS", "Account", "AcmeClient", "AcmeError", "AcmeProblem", "AcmeProtocolError", "AcmeRateLimited",
    "AcmeUnavailable", "Authorization", "Challenge", "ClientConfig", "DirectoryInfo", "Identifier", "Order",
    "RenewalWindow", "RetryPolicy", "ari_cert_id", "build_csr", "ca_name", "describe_problem", "dns01_value",
    "jwk_and_alg", "load_private_key", "next_poll_delay", "resolve_directory", "revoke_with_certificate_key",
    "thumbprint",
]
