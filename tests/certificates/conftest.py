"""Inventory fixtures: a test CA and helpers to count what is stored."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from certvault.certificates.models import (
    CertificateEntry,
    CertificateName,
    CertificateTag,
    CertificateVersion,
    IssuerCertificate,
    PrivateKeyRecord,
)
from certvault.container import App
from tests.certificates.factory import Issued, make_ca

TABLES = (CertificateEntry, CertificateVersion, CertificateName, CertificateTag, IssuerCertificate, PrivateKeyRecord)


@pytest.fixture(scope="session")
def test_ca() -> Issued:
    return make_ca("Inventory Test CA")


def stored_counts(app: App) -> dict[str, int]:
    with app.transaction() as svc:
        return {t.__tablename__: int(svc.session.scalar(select(func.count()).select_from(t)) or 0) for t in TABLES}
