"""Drive a whole order with the pure client (dns-01 through challtestsrv)."""

from __future__ import annotations

import time

from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec

from certvault.acme_client import AcmeClient, ClientConfig, Identifier, build_csr, dns01_value, next_poll_delay
from tests.servers.pebble import ChallTestSrv, Pebble


def new_client(pebble: Pebble, key: ec.EllipticCurvePrivateKey | None = None, **policy: object) -> AcmeClient:
    from certvault.acme_client import RetryPolicy

    config = ClientConfig(pebble.directory_url, ca_bundle=str(pebble.tls_ca), timeout=10,
                          policy=RetryPolicy(**policy))  # type: ignore[arg-type]
    return AcmeClient(config, key or ec.generate_private_key(ec.SECP256R1()))


def issue(client: AcmeClient, dns: ChallTestSrv, names: list[str],
          key: ec.EllipticCurvePrivateKey | None = None) -> tuple[list[x509.Certificate], ec.EllipticCurvePrivateKey]:
    key = key or ec.generate_private_key(ec.SECP256R1())
    order = client.new_order([Identifier("dns", n) for n in names])
    for url in order.authorizations:
        authz = client.get_authorization(url)
        chall = authz.challenge("dns-01")
        assert chall is not None and chall.token
        dns.set_txt(f"_acme-challenge.{authz.identifier.value}", dns01_value(client.key_authorization(chall.token)))
        client.answer_challenge(chall.url)
    attempt = 0
    while (order := client.get_order(order.url)).status in ("pending", "processing"):
        time.sleep(next_poll_delay(attempt, order.retry_after))
        attempt += 1
    assert order.status == "ready", order
    order = client.finalize(order, build_csr(key, names))
    while order.status in ("processing", "ready"):
        time.sleep(next_poll_delay(attempt, order.retry_after))
        attempt += 1
        order = client.get_order(order.url)
    assert order.status == "valid" and order.certificate
    for name in names:
        dns.clear_txt(f"_acme-challenge.{name.removeprefix('*.')}")
    return x509.load_pem_x509_certificates(client.download(order.certificate).encode()), key
