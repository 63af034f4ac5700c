"""The real servers the end-to-end tests share with the issuance and scanning tests."""

from tests.issuance.conftest import acme_app, challtestsrv, pebble  # noqa: F401 - fixtures
from tests.scanning.conftest import test_ca, tls_servers  # noqa: F401 - fixtures
