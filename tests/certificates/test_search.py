"""Search: wildcard-aware names, filters, expiry windows, sorting and pagination."""

from __future__ import annotations

import pytest
from cryptography.hazmat.primitives.asymmetric import rsa

from certvault.auth.rbac import Actor
from certvault.certificates.search import CertificateQuery
from certvault.container import App
from certvault.errors import InvalidInput
from tests.certificates.factory import make_ca, make_leaf, shared_key

ADMIN = Actor.system("test", via="cli")


@pytest.fixture
def inventory(app: App, test_ca) -> App:
    other_ca = make_ca("Other Issuing CA")
    rsa_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    items = [
        (make_leaf(test_ca, "*.example.com", ["*.example.com", "example.com"], days=200), ["web"]),
        (make_leaf(test_ca, "api.example.com", days=20, key=shared_key()), ["api", "web"]),
        (make_leaf(test_ca, "deep.api.example.com", days=5), []),
        (make_leaf(other_ca, "old.example.org", days=10, start_days_ago=40, key=rsa_key), []),
        (make_leaf(other_ca, "intranet.corp", days=60), ["corp"]),
    ]
    for leaf, tags in items:
        with app.transaction() as svc:
            svc.certificates.import_data(ADMIN, leaf.pem, f"{leaf.cert.serial_number}.pem", tags=tags)
    with app.transaction() as svc:
        seen = make_leaf(test_ca, "seen.example.net", days=300)
        svc.certificates.record_seen(ADMIN, chain_pem=seen.pem, host="seen.example.net", ip="127.0.0.1", port=8443,
                                     sni="seen.example.net")
    return app


def names(app: App, **query) -> list[str]:
    with app.transaction() as svc:
        return [e.common_name for e in svc.certificates.search(ADMIN, CertificateQuery(**query)).items]


def test_wildcard_aware_name_search(inventory: App) -> None:
    assert set(names(inventory, name="www.example.com")) == {"*.example.com"}
    assert set(names(inventory, name="api.example.com")) == {"*.example.com", "api.example.com",
                                                             "deep.api.example.com"}
    assert set(names(inventory, name="*.example.com")) == {"*.example.com", "api.example.com"}
    assert set(names(inventory, name="example.org")) == {"old.example.org"}
    assert set(names(inventory, name="intranet")) == {"intranet.corp"}
    assert names(inventory, name="nothing.invalid") == []


def test_filters(inventory: App) -> None:
    assert set(names(inventory, issuer="other issuing")) == {"old.example.org", "intranet.corp"}
    assert set(names(inventory, tag="web")) == {"*.example.com", "api.example.com"}
    assert names(inventory, key_type="rsa") == ["old.example.org"]
    assert names(inventory, key_type="rsa2048") == ["old.example.org"]
    assert "old.example.org" not in names(inventory, key_type="ec256")
    assert names(inventory, expired=True) == ["old.example.org"]
    assert names(inventory, expiring_within=30) == ["deep.api.example.com", "api.example.com"]
    assert names(inventory, managed=False) == ["seen.example.net"]
    assert names(inventory, source="discovery") == ["seen.example.net"]


def test_sorted_by_expiry_and_paginated(inventory: App) -> None:
    everything = names(inventory, limit=100)
    assert everything == ["old.example.org", "deep.api.example.com", "api.example.com", "intranet.corp",
                          "*.example.com", "seen.example.net"]
    assert names(inventory, sort="-expiry", limit=2) == ["seen.example.net", "*.example.com"]
    with inventory.transaction() as svc:
        page = svc.certificates.search(ADMIN, CertificateQuery(limit=2, offset=2))
    assert [e.common_name for e in page.items] == everything[2:4]
    assert (page.total, page.total_capped) == (6, False)


def test_bad_queries_name_the_problem(sqlite_app: App) -> None:
    for query, message in [(CertificateQuery(key_type="dsa"), "unknown key type 'dsa'"),
                           (CertificateQuery(sort="size"), "unknown sort 'size'"),
                           (CertificateQuery(limit=0), "limit must be between 1 and 500")]:
        with pytest.raises(InvalidInput, match=message), sqlite_app.transaction() as svc:
            svc.certificates.search(ADMIN, query)


def test_total_is_capped_so_pages_stay_fast(inventory: App, monkeypatch: pytest.MonkeyPatch) -> None:
    from certvault.certificates import search

    monkeypatch.setattr(search, "COUNT_CAP", 3)
    with inventory.transaction() as svc:
        page = svc.certificates.search(ADMIN, CertificateQuery(limit=2))
    assert (len(page.items), page.total, page.total_capped) == (2, 3, True)
