from tests.tickets.desks import client_pki, desk, tls  # noqa: F401 (fixtures)
