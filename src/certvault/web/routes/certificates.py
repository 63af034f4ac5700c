"""Web pages for the inventory: list with filters, detail with history, import, export, tags."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Depends, File, Form, Request, UploadFile
from fastapi.responses import RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from certvault.api.deps import Offset, ServicesDep
from certvault.api.limits import upload_body
from certvault.auth.rbac import Permission
from certvault.certificates import views
from certvault.certificates.schemas import EntryOut
from certvault.certificates.search import CertificateQuery
from certvault.crypto.readers import MAX_BYTES
from certvault.errors import CertvaultError, InvalidInput
from certvault.filenames import content_disposition
from certvault.web.deps import WebUser, check_csrf, page, render
from certvault.web.filters import PAGE_SIZES, plain_when
from certvault.web.paging import Pager, pager
from certvault.web.tables import csv_response, walk_pages

router = APIRouter(include_in_schema=False)
PAGE = 50
STATES = {"": (None, None), "expired": (None, True), "7": (7, None), "30": (30, None), "90": (90, None)}


def _templates() -> Any:
    from certvault.web.app import templates

    return templates


def _page(request: Request, name: str, user: WebUser, status_code: int = 200, **context: Any) -> Response:
    response: Response = render(_templates(), request, name, user, status_code=status_code, **context)
    return response


def _days(value: datetime | None) -> object:
    return "" if value is None else (value - datetime.now(UTC)).days


def _flag(value: str) -> bool | None:
    return {"managed": True, "unmanaged": False}.get(value)


def _week(text: str) -> tuple[datetime | None, datetime | None]:
    """?week=2026-12-07: the seven days from that date (UTC), as the dashboard's chart bars link."""
    try:
        start = datetime.strptime(text, "%Y-%m-%d").replace(tzinfo=UTC) if text else None
    except ValueError:
        raise InvalidInput("week must be a date like 2026-12-07") from None
    return (start, start + timedelta(days=7)) if start else (None, None)


def _query(filters: dict[str, str], limit: int, offset: int, cursor: str = "") -> CertificateQuery:
    within, expired = STATES.get(filters["state"], (None, None))
    week_from, week_to = _week(filters["week"])
    return CertificateQuery(
        expires_from=week_from, expires_to=week_to,
        name=filters["name"] or None, issuer=filters["issuer"] or None, tag=filters["tag"] or None,
        key_type=filters["key_type"] or None, expiring_within=within, expired=expired,
        managed=_flag(filters["managed"]), source=filters["source"] or None, sort=filters["sort"] or "expiry",
        limit=limit, offset=offset, cursor=cursor or None)


def _filters(name: str, issuer: str, tag: str, key_type: str, state: str, managed: str, source: str,
             sort: str, week: str = "") -> dict[str, str]:
    return {"name": name, "issuer": issuer, "tag": tag, "key_type": key_type, "state": state, "managed": managed,
            "source": source, "sort": sort, "week": week}


@router.get("/certificates")
def list_page(
    request: Request, svc: ServicesDep, user: Annotated[WebUser, Depends(page(Permission.CERTIFICATES_READ))],
    name: str = "", issuer: str = "", tag: str = "", key_type: str = "", state: str = "", managed: str = "",
    source: str = "", sort: str = "expiry", offset: Offset = 0, size: int = PAGE, week: str = "",
    cursor: str = "",
) -> Response:
    """Pages go by cursor (the last row's sort key, db/keyset.py); `offset` is still read for old links."""
    filters = _filters(name, issuer, tag, key_type, state, managed, source, sort, week)
    size = size if size in PAGE_SIZES else PAGE
    context: dict[str, Any] = {"filters": filters, "offset": offset, "page_size": size}
    try:
        result = svc.certificates.search(user.actor, _query(filters, size, offset, cursor))
        context.update(items=[EntryOut.model_validate(e) for e in result.items], total=result.total,
                       capped=result.total_capped, pager=pager(result, size, "certificates"))
        status = 200
    except CertvaultError as exc:
        context.update(items=[], total=0, capped=False, error_message=exc.message,
                       pager=Pager("0 certificates", size))
        status = exc.status_code
    return _page(request, "certificates/list.html", user, status_code=status, **context)


@router.get("/certificates.csv")
def list_csv(
    svc: ServicesDep, user: Annotated[WebUser, Depends(page(Permission.CERTIFICATES_READ))],
    name: str = "", issuer: str = "", tag: str = "", key_type: str = "", state: str = "", managed: str = "",
    source: str = "", sort: str = "expiry", week: str = "",
) -> Response:
    """The filtered list in its order as CSV (at most CSV_ROWS rows, read page by page by cursor)."""
    filters = _filters(name, issuer, tag, key_type, state, managed, source, sort, week)
    entries = walk_pages(lambda cursor: svc.certificates.search(user.actor, _query(filters, 500, 0, cursor or "")))
    rows = [[e.common_name, e.issuer_cn, plain_when(e.not_after), _days(e.not_after), e.key_algorithm, e.key_size,
             e.source, "yes" if e.managed else "no", e.owner or "", " ".join(t for t in e.tags), str(e.id)]
            for e in entries]
    header = ["common_name", "issuer", "expires", "days_left", "key_algorithm", "key_size", "source", "managed",
              "owner", "tags", "id"]
    return csv_response("certificates.csv", header, rows)


@router.get("/certificates/import")
def import_page(request: Request,
                user: Annotated[WebUser, Depends(page(Permission.CERTIFICATES_WRITE))]) -> Response:
    return _page(request, "certificates/import.html", user, report=None)


@router.post("/certificates/import")
@upload_body
async def import_submit(
    request: Request, svc: ServicesDep, user: Annotated[WebUser, Depends(check_csrf)],
    files: Annotated[list[UploadFile], File()], password: Annotated[str, Form()] = "",
    tags: Annotated[str, Form()] = "",
) -> Response:
    uploads = [(upload.filename or "upload", await upload.read(MAX_BYTES + 1)) for upload in files
               if upload.filename or upload.size]
    # Keystore parsing and storing are CPU and database work: in a worker thread, never on the event loop.
    results = await run_in_threadpool(svc.certificates.import_files, user.actor, uploads,
                                      password=password or None, tags=tags.replace(",", " ").split())
    report = views.import_report(results)
    status = 200 if report.imported and not report.failed else 422 if report.failed and not report.imported else 400
    message = ("choose at least one file" if not results else
               "Nothing was imported: no file could be read. The reason for each file is listed below; "
               "fix them (or the password) and import again." if status == 422 else None)
    named = await run_in_threadpool(_imported_entries, svc, user, report.files)
    return _page(request, "certificates/import.html", user, status_code=status, report=report,
                 error_message=message, named=named)


def _imported_entries(svc: Any, user: WebUser, files: list[Any]) -> dict[uuid.UUID, EntryOut]:
    """The certificates an import stored or matched a lone key to (first 20 per file): names and expiry to show."""
    ids = {i for f in files for i in [*f.entry_ids[:20], *f.key_entries[:20]]}
    return {i: EntryOut.model_validate(svc.certificates.get(user.actor, i)) for i in ids}


def _detail(request: Request, svc: Any, user: WebUser, entry_id: uuid.UUID, status: int = 200,
            **extra: Any) -> Response:
    info = views.detail(svc.certificates, user.actor, entry_id)
    deployed = svc.deploy.by_version(user.actor, entry_id)  # where each version is deployed (docs/deploy.md)
    return _page(request, "certificates/detail.html", user, status_code=status, cert=info, deployed=deployed,
                 **extra)


@router.get("/certificates/{entry_id}")
def detail_page(entry_id: uuid.UUID, request: Request, svc: ServicesDep,
                user: Annotated[WebUser, Depends(page(Permission.CERTIFICATES_READ))]) -> Response:
    return _detail(request, svc, user, entry_id)


@router.post("/certificates/{entry_id}/export")
def export_submit(
    entry_id: uuid.UUID, request: Request, svc: ServicesDep, user: Annotated[WebUser, Depends(check_csrf)],
    format: Annotated[str, Form()] = "pem", with_key: Annotated[str, Form()] = "",
    with_chain: Annotated[str, Form()] = "", password: Annotated[str, Form()] = "",
) -> Response:
    try:
        result = svc.certificates.export(user.actor, entry_id, fmt=format, with_key=bool(with_key),
                                         with_chain=bool(with_chain), password=password or None)
    except CertvaultError as exc:
        return _detail(request, svc, user, entry_id, status=exc.status_code, error_message=exc.message)
    return Response(result.content, media_type=result.media_type,
                    headers={"Content-Disposition": content_disposition(result.filename)})


@router.post("/certificates/{entry_id}/update")
def update_submit(
    entry_id: uuid.UUID, request: Request, svc: ServicesDep, user: Annotated[WebUser, Depends(check_csrf)],
    tags: Annotated[str, Form()] = "", owner: Annotated[str, Form()] = "", adopt: Annotated[str, Form()] = "",
) -> Response:
    try:
        if adopt:
            svc.certificates.update(user.actor, entry_id, managed=True)
        else:
            svc.certificates.update(user.actor, entry_id, tags=tags.replace(",", " ").split(), owner=owner)
    except CertvaultError as exc:
        return _detail(request, svc, user, entry_id, status=exc.status_code, error_message=exc.message)
    return RedirectResponse(f"/certificates/{entry_id}?done={'adopted' if adopt else 'tags'}", status_code=303)
