"""Importing files: keys matched and sealed, chains assembled, duplicates merged, renewals versioned."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.serialization import pkcs12
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from certvault.auth.rbac import Actor, Role
from certvault.certificates.models import PrivateKeyRecord
from certvault.certificates.search import CertificateQuery
from certvault.certificates.views import detail
from certvault.container import App
from certvault.crypto import x509info
from certvault.errors import Forbidden, InvalidInput
from tests.certificates.conftest import stored_counts
from tests.certificates.factory import make_ca, make_leaf, shared_key

ADMIN = Actor.system("test", via="cli")


def test_bundle_import_stores_leaf_chain_and_sealed_key(app: App, test_ca) -> None:
    leaf = make_leaf(test_ca, "www.example.com", ["www.example.com", "example.com"])
    with app.transaction() as svc:
        result = svc.certificates.import_data(ADMIN, leaf.pem + test_ca.pem + leaf.key_pem, "site.pem", tags=["Prod"])
    assert (result.ok, result.created, result.keys, result.certificates) == (True, 1, 1, 1)
    with app.transaction() as svc:
        info = detail(svc.certificates, ADMIN, result.entry_ids[0])
        sealed = svc.session.scalars(select(PrivateKeyRecord.sealed)).all()
        key_pem = svc.certificates.current_key_pem(ADMIN, info.id)
    assert info.names == ["example.com", "www.example.com"]
    assert info.tags == ["prod"] and info.source == "import" and info.managed
    assert info.current is not None and info.current.has_key
    assert info.current.fingerprint_sha256 == x509info.fingerprint(leaf.cert)
    assert [c.subject for c in info.chain] == [test_ca.cert.subject.rfc4514_string()]
    assert info.current.days_left in (88, 89)
    assert all(b"PRIVATE KEY" not in blob for blob in sealed)
    assert key_pem == leaf.key_pem


def test_importing_the_same_certificate_twice_does_not_duplicate(app: App, test_ca) -> None:
    leaf = make_leaf(test_ca, "dup.example.com")
    with app.transaction() as svc:
        first = svc.certificates.import_data(ADMIN, leaf.pem, "a.pem")
    before = stored_counts(app)
    with app.transaction() as svc:
        again = svc.certificates.import_data(ADMIN, leaf.der, "a.der")
    assert (again.created, again.unchanged, again.entry_ids) == (0, 1, first.entry_ids)
    assert stored_counts(app) == before


def test_renewal_becomes_current_version_and_keeps_history(app: App, test_ca) -> None:
    old = make_leaf(test_ca, "api.example.com", ["api.example.com"], days=30, start_days_ago=20)
    new = make_leaf(test_ca, "api.example.com", ["api.example.com"], days=90, start_days_ago=0)
    oldest = make_leaf(test_ca, "api.example.com", ["api.example.com"], days=30, start_days_ago=60)
    with app.transaction() as svc:
        entry_id = svc.certificates.import_data(ADMIN, old.pem, "old.pem").entry_ids[0]
    with app.transaction() as svc:
        renewed = svc.certificates.import_data(ADMIN, new.pem, "new.pem")
        history = svc.certificates.import_data(ADMIN, oldest.pem, "oldest.pem")
    assert renewed.entry_ids == [entry_id] and renewed.renewed == 1
    assert history.entry_ids == [entry_id] and history.history == 1
    with app.transaction() as svc:
        info = detail(svc.certificates, ADMIN, entry_id)
        page = svc.certificates.search(ADMIN, CertificateQuery(name="api.example.com"))
    assert [v.serial for v in info.versions] == [format(c.cert.serial_number, "x") for c in (new, old, oldest)]
    assert [v.current for v in info.versions] == [True, False, False]
    assert info.not_after == new.cert.not_valid_after_utc
    assert [e.id for e in page.items] == [entry_id]


def test_a_key_that_matches_no_certificate_is_refused_and_nothing_is_stored(app: App, test_ca) -> None:
    leaf, other = make_leaf(test_ca, "a.example.com"), make_leaf(test_ca, "b.example.com")
    before = stored_counts(app)
    with pytest.raises(InvalidInput, match=r"^wrong.pem: the private key does not match any certificate in the file$"):
        with app.transaction() as svc:
            svc.certificates.import_data(ADMIN, leaf.pem + other.key_pem, "wrong.pem")
    with pytest.raises(InvalidInput, match=r"^lonely.key: contains a private key but no certificate"):
        with app.transaction() as svc:
            svc.certificates.import_data(ADMIN, other.key_pem, "lonely.key")
    assert stored_counts(app) == before


def test_a_key_imported_after_its_certificate_is_matched(sqlite_app: App, test_ca) -> None:
    leaf = make_leaf(test_ca, "late-key.example.com")
    with sqlite_app.transaction() as svc:
        entry_id = svc.certificates.import_data(ADMIN, leaf.pem, "cert.pem").entry_ids[0]
        assert svc.certificates.current_key_pem(ADMIN, entry_id) is None
        svc.certificates.import_data(ADMIN, leaf.key_pem, "key.pem")
        assert svc.certificates.current_key_pem(ADMIN, entry_id) == leaf.key_pem


def test_pkcs12_import_with_password(sqlite_app: App, test_ca) -> None:
    leaf = make_leaf(test_ca, "p12.example.com")
    data = pkcs12.serialize_key_and_certificates(b"x", leaf.key, leaf.cert, [test_ca.cert],
                                                 serialization.BestAvailableEncryption(b"pw123456"))
    before = stored_counts(sqlite_app)
    with pytest.raises(InvalidInput, match="wrong password"), sqlite_app.transaction() as svc:
        svc.certificates.import_data(ADMIN, data, "store.p12", password="bad")
    assert stored_counts(sqlite_app) == before
    with sqlite_app.transaction() as svc:
        result = svc.certificates.import_data(ADMIN, data, "store.p12", password="pw123456")
    assert (result.format, result.created, result.keys) == ("pkcs12", 1, 1)


def test_a_lone_ca_certificate_is_tracked_itself(sqlite_app: App) -> None:
    root = make_ca("Lonely Root")
    with sqlite_app.transaction() as svc:
        result = svc.certificates.import_data(ADMIN, root.pem, "root.pem")
        info = detail(svc.certificates, ADMIN, result.entry_ids[0])
    assert info.common_name == "Lonely Root" and info.chain == []


def test_directory_import_reports_bad_files_and_keeps_good_ones(sqlite_app: App, test_ca, tmp_path: Path) -> None:
    good = [make_leaf(test_ca, f"dir{i}.example.com") for i in range(3)]
    for i, leaf in enumerate(good):
        (tmp_path / f"good{i}.pem").write_bytes(leaf.pem)
    (tmp_path / "corrupt.pem").write_bytes(b"-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n")
    (tmp_path / "empty.crt").write_bytes(b"")
    (tmp_path / "huge.pem").write_bytes(b"0" * (10 * 1024 * 1024 + 10))
    (tmp_path / "notes.txt").write_text("no certificate here")
    os.makedirs(tmp_path / "sub")
    (tmp_path / "sub" / "mismatch.pem").write_bytes(good[0].pem + good[1].key_pem)
    bad_name = os.fsencode(tmp_path) + b"/caf\xe9.pem"
    with open(bad_name, "wb") as fh:
        fh.write(make_leaf(test_ca, "latin1.example.com").pem)
    with sqlite_app.transaction() as svc:
        results = svc.certificates.import_path(ADMIN, tmp_path)
    errors = {r.file.rsplit("/", 1)[-1]: r.error for r in results if not r.ok}
    assert sorted(r.file.rsplit("/", 1)[-1] for r in results if r.ok) == ["good0.pem", "good1.pem", "good2.pem"]
    assert "PEM certificate #1 is corrupt" in errors["corrupt.pem"]
    assert errors["empty.crt"].endswith("empty.crt: file is empty")
    assert errors["huge.pem"].endswith("huge.pem: file is 10.0 MB; the limit is 10 MB")
    assert errors["notes.txt"].endswith("notes.txt: not a certificate file (not PEM, DER, PKCS#7, PKCS#12 or JKS)")
    assert errors["mismatch.pem"].endswith("the private key does not match any certificate in the file")
    assert errors["caf\\xe9.pem"].endswith("caf\\xe9.pem: the file name is not valid UTF-8; rename the file")
    assert all("\n" not in e for e in errors.values())
    with sqlite_app.transaction() as svc:
        page = svc.certificates.search(ADMIN, CertificateQuery(name="example.com", limit=100))
    assert sorted(e.common_name for e in page.items if e.common_name.startswith(("dir", "latin"))) == \
        ["dir0.example.com", "dir1.example.com", "dir2.example.com"]


def test_roles_without_write_permission_cannot_import(sqlite_app: App, test_ca) -> None:
    auditor = Actor(name="aud", role=Role.AUDITOR)
    with pytest.raises(Forbidden), sqlite_app.transaction() as svc:
        svc.certificates.import_data(auditor, make_leaf(test_ca, "x.example.com").pem, "x.pem")


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.binary(max_size=1024), prefix=st.sampled_from([b"", b"-----BEGIN CERTIFICATE-----\n", b"0\x82",
                                                             b"\xfe\xed\xfe\xed"]))
def test_random_bytes_import_nothing(sqlite_app: App, data: bytes, prefix: bytes) -> None:
    before = stored_counts(sqlite_app)
    try:
        with sqlite_app.transaction() as svc:
            svc.certificates.import_data(ADMIN, prefix + data, "fuzz.bin", password="pw")
    except InvalidInput as exc:
        assert exc.message.startswith("fuzz.bin: ")
    assert stored_counts(sqlite_app) == before


def test_chain_completes_when_the_issuers_are_imported_later(sqlite_app: App) -> None:
    root = make_ca("Later Root")
    intermediate = make_ca("Later Intermediate", issuer=root)
    leaf = make_leaf(intermediate, "chain.example.com")
    with sqlite_app.transaction() as svc:
        entry_id = svc.certificates.import_data(ADMIN, leaf.pem, "leaf.pem").entry_ids[0]
        assert detail(svc.certificates, ADMIN, entry_id).chain == []
        svc.certificates.import_data(ADMIN, intermediate.pem + root.pem, "cas.pem")
        chain = detail(svc.certificates, ADMIN, entry_id).chain
    assert [c.subject for c in chain] == ["CN=Later Intermediate,O=Test Org", "CN=Later Root,O=Test Org"]


def test_a_bad_key_at_the_end_of_a_large_file_undoes_the_chunks_already_written(sqlite_app: App, test_ca) -> None:
    """Large files are written in chunks of 1,000; the file is still all or nothing."""
    from certvault.crypto.x509info import CHUNK

    leaves = [make_leaf(test_ca, f"bulk{i}.example.com", key=shared_key()) for i in range(CHUNK + 200)]
    stranger = make_leaf(test_ca, "stranger.example.com")
    before = stored_counts(sqlite_app)
    with pytest.raises(InvalidInput, match="^bulk.pem: the private key does not match"), \
            sqlite_app.transaction() as svc:
        svc.certificates.import_data(ADMIN, b"".join(leaf.pem for leaf in leaves) + stranger.key_pem, "bulk.pem")
    assert stored_counts(sqlite_app) == before
    with sqlite_app.transaction() as svc:
        result = svc.certificates.import_data(ADMIN, b"".join(leaf.pem for leaf in leaves), "bulk.pem")
    assert (result.created, result.certificates) == (CHUNK + 200, CHUNK + 200)
    assert stored_counts(sqlite_app)["cert_entries"] == before["cert_entries"] + CHUNK + 200
