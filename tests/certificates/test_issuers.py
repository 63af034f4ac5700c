"""What other parts of certvault rely on: store_issued (ACME, internal CA), record_seen, endpoints."""

from __future__ import annotations

import uuid

import pytest

from certvault.auth.rbac import Actor
from certvault.certificates.search import CertificateQuery
from certvault.certificates.views import detail
from certvault.container import App
from certvault.errors import InvalidInput, NotFound
from tests.certificates.factory import make_leaf

ADMIN = Actor.system("test", via="cli")


def test_internal_ca_certificates_join_the_inventory(app: App) -> None:
    with app.transaction() as svc:
        bundle = svc.pki.issue_client(ADMIN, "svc-client", ["svc.internal"], 30, "ec256")
    with app.transaction() as svc:
        page = svc.certificates.search(ADMIN, CertificateQuery(source="internal-ca"))
        info = detail(svc.certificates, ADMIN, page.items[0].id)
        key = svc.certificates.current_key_pem(ADMIN, info.id)
    assert info.common_name == "svc-client" and info.names == ["svc-client", "svc.internal"]
    assert info.current.serial == bundle.record.serial and info.current.has_key
    assert [c.subject for c in info.chain] == [c.subject.rfc4514_string() for c in bundle.chain]
    assert key == bundle.key_pem()


def test_store_issued_renews_an_entry_by_id_or_by_names(app: App, test_ca) -> None:
    first = make_leaf(test_ca, "acme.example.com", ["acme.example.com"], days=30, start_days_ago=25)
    with app.transaction() as svc:
        entry = svc.certificates.store_issued(ADMIN, chain_pem=first.pem + test_ca.pem, key_pem=first.key_pem,
                                              source="acme", tags=["auto"])
        entry_id = entry.id
        assert entry.current.fingerprint_sha256 and entry.source == "acme" and entry.tags == ["auto"]
    renewal = make_leaf(test_ca, "acme.example.com", ["acme.example.com"], days=90, start_days_ago=0)
    with app.transaction() as svc:
        renewed = svc.certificates.store_issued(ADMIN, chain_pem=renewal.pem + test_ca.pem, key_pem=renewal.key_pem,
                                                source="acme", entry_id=entry_id)
        assert renewed.id == entry_id and renewed.not_after == renewal.cert.not_valid_after_utc
        assert len(renewed.versions) == 2
        assert svc.certificates.current_key_pem(ADMIN, entry_id) == renewal.key_pem
    by_names = make_leaf(test_ca, "acme.example.com", ["acme.example.com"], days=120, start_days_ago=0)
    with app.transaction() as svc:
        again = svc.certificates.store_issued(ADMIN, chain_pem=by_names.pem, key_pem=None, source="acme")
        assert again.id == entry_id and len(again.versions) == 3


def test_store_issued_refuses_bad_input(sqlite_app: App, test_ca) -> None:
    leaf, other = make_leaf(test_ca, "x.example.com"), make_leaf(test_ca, "y.example.com")
    with pytest.raises(InvalidInput, match="the private key does not match"), sqlite_app.transaction() as svc:
        svc.certificates.store_issued(ADMIN, chain_pem=leaf.pem, key_pem=other.key_pem, source="acme")
    with pytest.raises(NotFound), sqlite_app.transaction() as svc:
        svc.certificates.store_issued(ADMIN, chain_pem=leaf.pem, key_pem=None, source="acme",
                                      entry_id=uuid.uuid4())


def test_an_issued_renewal_takes_over_a_discovered_entry(sqlite_app: App, test_ca) -> None:
    seen = make_leaf(test_ca, "taken.example.com", ["taken.example.com"], days=20, start_days_ago=10)
    with sqlite_app.transaction() as svc:
        entry = svc.certificates.record_seen(ADMIN, chain_pem=seen.pem, host="taken.example.com", ip="127.0.0.1",
                                             port=443, sni="taken.example.com")
        assert entry.managed is False
    renewed = make_leaf(test_ca, "taken.example.com", ["taken.example.com"], days=90)
    with sqlite_app.transaction() as svc:
        again = svc.certificates.store_issued(ADMIN, chain_pem=renewed.pem, key_pem=renewed.key_pem, source="acme",
                                              entry_id=entry.id)
        assert again.managed is True and again.not_after == renewed.cert.not_valid_after_utc
    with sqlite_app.transaction() as svc:  # seen again serving the old certificate: stays managed
        svc.certificates.record_seen(ADMIN, chain_pem=seen.pem, host=None, ip="127.0.0.2", port=443, sni=None)
        assert svc.certificates.get(ADMIN, entry.id).managed is True


def test_record_seen_many_stores_a_batch_with_one_audit_row(app: App, test_ca) -> None:
    from sqlalchemy import select

    from certvault.audit.models import AuditEvent
    from certvault.certificates.models import Sighting
    from certvault.certificates.sightings import Observation
    from tests.certificates.conftest import stored_counts

    shared = make_leaf(test_ca, "shared.example.com", ["shared.example.com", "alt.example.com"])
    other = make_leaf(test_ca, "other.example.com")
    batch = [Observation(shared.pem + test_ca.pem, "shared.example.com", "127.0.0.10", 443, "shared.example.com",
                         "scan"),
             Observation(shared.pem, None, "127.0.0.11", 8443, None, "scan"),
             Observation(b"not a certificate", "broken.example.com", "127.0.0.12", 443, None, "scan"),
             Observation(other.pem + test_ca.pem, "other.example.com", "127.0.0.13", 443, None, "scan")]
    with app.transaction() as svc:
        seen = svc.certificates.record_seen_many(ADMIN, batch)
    assert seen[0].entry_id == seen[1].entry_id and seen[3].entry_id not in (None, seen[0].entry_id)
    # the refused chain is named and stores nothing
    assert seen[2].entry_id is None and "broken.example.com:443: not a certificate" in (seen[2].error or "")
    assert stored_counts(app)["cert_entries"] == 2 and stored_counts(app)["cert_issuers"] == 1
    with app.transaction() as svc:
        endpoints = {(e.ip, e.port): e for e in svc.certificates.endpoints(ADMIN)}
        assert set(endpoints) == {("127.0.0.10", 443), ("127.0.0.11", 8443), ("127.0.0.13", 443)}
        assert endpoints[("127.0.0.10", 443)].sni == "shared.example.com"
        assert endpoints[("127.0.0.11", 8443)].entry_id == seen[0].entry_id
        entry = svc.certificates.get(ADMIN, seen[0].entry_id)
        assert entry.managed is False and entry.source == "scan"
        audit = [e for e in svc.session.scalars(select(AuditEvent).where(AuditEvent.action == "certificate.seen"))]
        assert len(audit) == 1 and audit[0].details["recorded"] == 3 and audit[0].details["refused"] == 1
        first_seen = svc.session.scalar(select(Sighting.first_seen).where(Sighting.ip == "127.0.0.10"))
    # The endpoint now serves another certificate, seen without a host name: it moves, keeps its host and
    # first-seen time.
    with app.transaction() as svc:
        [again] = svc.certificates.record_seen_many(ADMIN, [Observation(other.pem, None, "127.0.0.10", 443,
                                                                        "shared.example.com", "scan")])
        row = svc.session.scalar(select(Sighting).where(Sighting.ip == "127.0.0.10"))
        assert again.entry_id == seen[3].entry_id and row.entry_id == seen[3].entry_id
        assert row.host == "shared.example.com" and row.first_seen == first_seen and row.last_seen >= first_seen


def test_managed_names_lists_the_names_of_managed_certificates(app: App, test_ca) -> None:
    issued = make_leaf(test_ca, "managed.example.com", ["managed.example.com", "*.managed.example.com"])
    discovered = make_leaf(test_ca, "found.example.com")
    with app.transaction() as svc:
        svc.certificates.store_issued(ADMIN, chain_pem=issued.pem, key_pem=issued.key_pem, source="acme")
        found = svc.certificates.record_seen(ADMIN, chain_pem=discovered.pem, host=None, ip="127.0.0.20", port=443,
                                             sni=None)
        assert svc.certificates.managed_names(ADMIN) == ["*.managed.example.com", "managed.example.com"]
        svc.certificates.update(ADMIN, found.id, managed=True)
        assert "found.example.com" in svc.certificates.managed_names(ADMIN)


def test_renewals_are_found_by_their_names_also_without_any_name(app: App, test_ca) -> None:
    """Renewals are matched through cert_names; a certificate with no name at all still finds its entry."""
    from unittest import mock

    import tests.certificates.factory as factory

    with mock.patch.object(factory, "name", lambda cn: factory.x509.Name([])):
        nameless = [make_leaf(test_ca, "", [], days=30 + n) for n in range(2)]
    named = [make_leaf(test_ca, "b.example.com", ["b.example.com", "a.example.com"], days=30 + n) for n in range(2)]
    with app.transaction() as svc:
        first = [svc.certificates.import_data(ADMIN, c.pem, f"first-{i}.pem") for i, c in enumerate(
            (nameless[0], named[0]))]
    with app.transaction() as svc:
        second = [svc.certificates.import_data(ADMIN, c.pem, f"second-{i}.pem") for i, c in enumerate(
            (nameless[1], named[1]))]
        for before, after in zip(first, second, strict=True):
            assert after.renewed == 1 and after.entry_ids == before.entry_ids
            assert len(svc.certificates.get(ADMIN, after.entry_ids[0]).versions) == 2
