"""REST routes for the certificate inventory: list, show, import, export, CSR, tags, discovery."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Depends, File, Form, Query, Response, UploadFile
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from certvault.api.app import problem
from certvault.api.deps import Offset, ServicesDep, require
from certvault.api.limits import upload_body
from certvault.api.schemas import CursorPage, cursor_page
from certvault.auth.rbac import Actor, Permission
from certvault.certificates import views
from certvault.certificates.schemas import (
    CsrIn,
    CsrOut,
    DiscoverIn,
    EndpointOut,
    EntryDetail,
    EntryOut,
    ExportIn,
    ImportReportOut,
    SummaryOut,
    UpdateIn,
)
from certvault.certificates.search import CertificateQuery
from certvault.crypto.csr import CsrSpec
from certvault.crypto.readers import MAX_BYTES
from certvault.errors import NotFound
from certvault.filenames import content_disposition

router = APIRouter(prefix="/api/v1/certificates", tags=["certificates"])

Reader = Annotated[Actor, Depends(require(Permission.CERTIFICATES_READ))]
Writer = Annotated[Actor, Depends(require(Permission.CERTIFICATES_WRITE))]


@router.get("", response_model=CursorPage[EntryOut])
def list_certificates(
    svc: ServicesDep, actor: Reader,
    name: str | None = None, issuer: str | None = None, tag: str | None = None,
    key_type: str | None = Query(default=None, description="rsa, ec, rsa2048, ec256 ..."),
    expiring_within: int | None = Query(default=None, description="days; expired ones are left out"),
    expired: bool | None = None, managed: bool | None = None, source: str | None = None,
    status: str | None = None, sort: str = "expiry",
    limit: int = Query(default=50, ge=1, le=500), offset: Offset = 0,
    cursor: str | None = Query(default=None, max_length=1024,
                               description="next_cursor or prev_cursor of a page; offset is at most 1,000"),
) -> CursorPage[EntryOut]:
    query = CertificateQuery(name=name, issuer=issuer, tag=tag, key_type=key_type, expiring_within=expiring_within,
                             expired=expired, managed=managed, source=source, status=status, sort=sort,
                             limit=limit, offset=offset, cursor=cursor)
    page = svc.certificates.search(actor, query)
    return cursor_page([EntryOut.model_validate(e) for e in page.items], page, page.limit, page.offset)


@router.get("/summary", response_model=SummaryOut)
def expiry_summary(svc: ServicesDep, actor: Reader) -> SummaryOut:
    return SummaryOut.model_validate(svc.certificates.expiry_summary(actor))


@router.get("/endpoints", response_model=list[EndpointOut])
def endpoints(svc: ServicesDep, actor: Reader) -> list[EndpointOut]:
    return [EndpointOut(**e.__dict__) for e in svc.certificates.endpoints(actor)]


@router.post("/import", response_model=ImportReportOut, responses={422: {
    "description": "No file was imported: a problem document whose `files` are the per-file results"}})
@upload_body
async def import_files(
    svc: ServicesDep, actor: Writer,
    files: Annotated[list[UploadFile], File(description="PEM, DER, PKCS#7, PKCS#12 or JKS files")],
    password: Annotated[str | None, Form()] = None,
    tags: Annotated[str | None, Form(description="comma-separated")] = None,
) -> ImportReportOut | JSONResponse:
    """Import each uploaded file on its own: a bad file is reported, the good ones are stored (200); when every
    file was refused, 422 with the same per-file results."""
    tag_list = [t for t in (tags or "").replace(",", " ").split() if t]
    uploads = [(upload.filename or "upload", await upload.read(MAX_BYTES + 1)) for upload in files]
    # Keystore parsing and storing are CPU and database work: in a worker thread, never on the event loop.
    results = await run_in_threadpool(svc.certificates.import_files, actor, uploads, password=password or None,
                                      tags=tag_list)
    report = views.import_report(results)
    if report.failed and not report.imported:
        return problem(422, "import_failed", "no file was imported: " + "; ".join(f.error or f.file for f in results),
                       **report.model_dump(mode="json"))
    return report


@router.post("/csr", response_model=CsrOut, status_code=201)
def create_csr(body: CsrIn, svc: ServicesDep, actor: Writer) -> CsrOut:
    """Generate a key (kept sealed here) and a CSR; import the signed certificate later."""
    spec = CsrSpec(common_name=body.common_name, sans=tuple(body.sans), key_spec=body.key, hash_name=body.hash,
                   organization=body.organization, organizational_unit=body.organizational_unit,
                   locality=body.locality, state=body.state, country=body.country)
    entry, csr_pem = svc.certificates.create_request(actor, spec, tags=body.tags, owner=body.owner)
    return CsrOut(certificate=views.detail(svc.certificates, actor, entry.id), csr_pem=csr_pem.decode())


@router.patch("/{entry_id}", response_model=EntryDetail)
def update_certificate(entry_id: uuid.UUID, body: UpdateIn, svc: ServicesDep, actor: Writer) -> EntryDetail:
    svc.certificates.update(actor, entry_id, tags=body.tags, owner=body.owner, managed=body.managed)
    return views.detail(svc.certificates, actor, entry_id)


@router.delete("/{entry_id}", status_code=204)
def delete_certificate(entry_id: uuid.UUID, svc: ServicesDep, actor: Writer) -> Response:
    svc.certificates.delete(actor, entry_id)
    return Response(status_code=204)


# GET is declared after PATCH and DELETE on purpose: tests/api/test_route_protection.py looks routes up
# by path alone, so the last route of a path decides which gate it checks for every method.
@router.get("/{entry_id}", response_model=EntryDetail)
def show_certificate(entry_id: uuid.UUID, svc: ServicesDep, actor: Reader) -> EntryDetail:
    return views.detail(svc.certificates, actor, entry_id)


@router.post("/{entry_id}/export", response_class=Response,
             responses={200: {"content": {"application/x-pkcs12": {}, "application/x-pem-file": {}}}})
def export_certificate(entry_id: uuid.UUID, body: ExportIn, svc: ServicesDep,
                       actor: Annotated[Actor, Depends(require(Permission.CERTIFICATES_EXPORT))]) -> Response:
    result = svc.certificates.export(actor, entry_id, fmt=body.format, with_key=body.with_key,
                                     with_chain=body.with_chain, password=body.password, version_id=body.version_id)
    return Response(result.content, media_type=result.media_type,
                    headers={"Content-Disposition": content_disposition(result.filename)})


@router.get("/{entry_id}/key", response_class=Response, responses={200: {"content": {"application/x-pem-file": {}}}})
def view_key(entry_id: uuid.UUID, svc: ServicesDep,
             actor: Annotated[Actor, Depends(require(Permission.KEYS_VIEW))]) -> Response:
    pem = svc.certificates.current_key_pem(actor, entry_id)
    if pem is None:
        raise NotFound(f"certificate {entry_id} has no stored private key")
    return Response(pem, media_type="application/x-pem-file")


@router.post("/discover", status_code=202)
def start_discovery(body: DiscoverIn, svc: ServicesDep,
                    actor: Annotated[Actor, Depends(require(Permission.DISCOVERY_RUN))]) -> dict[str, object]:
    """Queue a discovery run: the worker fetches each served chain and records where it was seen."""
    job = svc.certificates.queue_discovery(actor, targets=body.targets, cidrs=body.cidr, ports=body.ports,
                                           sni=body.sni, timeout=body.timeout)
    return {"job_id": str(job.id) if job is not None else None, "targets": job.payload.get("count") if job else 0}
