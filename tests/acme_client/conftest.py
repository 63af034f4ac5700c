from __future__ import annotations

import pytest

from tests.servers import pebble as servers


@pytest.fixture(scope="session")
def challtestsrv() -> servers.ChallTestSrv:
    return servers.challtestsrv()


@pytest.fixture(scope="session")
def pebble() -> servers.Pebble:
    return servers.pebble()
