"""The internal CA: root download, issued certificates, client certificates (issue as PKCS#12, revoke)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import RedirectResponse, Response

from certvault.api.deps import ServicesDep
from certvault.auth.rbac import Permission
from certvault.container import Services
from certvault.errors import CertvaultError, InvalidInput
from certvault.filenames import content_disposition
from certvault.web.deps import WebUser, check_csrf, page, render

router = APIRouter(include_in_schema=False)
Reader = Annotated[WebUser, Depends(page(Permission.CA_READ))]
Poster = Annotated[WebUser, Depends(check_csrf)]
KEYS = ("rsa2048", "rsa3072", "rsa4096", "ec256", "ec384")
REASONS = {0: "Unspecified", 1: "Key compromise", 3: "Affiliation changed", 4: "Superseded",
           5: "Cessation of operation"}


def _templates() -> Any:
    from certvault.web.app import templates

    return templates


def _page(request: Request, svc: Services, user: WebUser, profile: str = "", status: int = 200,
          **context: Any) -> Response:
    issued = svc.pki.list_issued(user.actor, profile or None)
    return render(_templates(), request, "ca.html", user, status_code=status, issued=issued, profile=profile,
                  keys=KEYS, reasons=REASONS, expires=svc.pki.expires(), **context)


@router.get("/ca")
def ca_page(request: Request, svc: ServicesDep, user: Reader, profile: str = "") -> Response:
    return _page(request, svc, user, profile if profile in ("server", "client") else "")


@router.get("/ca/root.pem")
def root_download(svc: ServicesDep, user: Reader) -> Response:
    return Response(svc.pki.root_pem(), media_type="application/x-pem-file",
                    headers={"Content-Disposition": content_disposition("certvault-root-ca.pem")})


@router.post("/ca/client-certificates")
def issue_client(
    request: Request, svc: ServicesDep, user: Poster, common_name: Annotated[str, Form()],
    password: Annotated[str, Form()] = "", dns_names: Annotated[str, Form()] = "", days: Annotated[str, Form()] = "365",
    key: Annotated[str, Form()] = "rsa2048",
) -> Response:
    typed = {"common_name": common_name, "dns_names": dns_names, "days": days, "key": key}
    try:
        if not password:
            raise InvalidInput("choose a password: it protects the PKCS#12 file")
        if not days.strip().isdigit():
            raise InvalidInput("the lifetime is a number of days")
        bundle = svc.pki.issue_client(user.actor, common_name, dns_names.replace(",", " ").split(), int(days), key)
        content = bundle.pkcs12(password)
    except (CertvaultError, ValueError) as exc:
        message = exc.message if isinstance(exc, CertvaultError) else str(exc)
        field = ("password" if "password" in message else "days" if "lifetime" in message or "days" in message
                 else "key" if "key" in message else "common_name")
        return _page(request, svc, user, status=getattr(exc, "status_code", 400),
                     field_errors={field: message.replace(" (--cn)", "")}, values=typed)
    return Response(content, status_code=201, media_type="application/x-pkcs12",
                    headers={"Content-Disposition": content_disposition(f"{bundle.record.serial}.p12")})


@router.post("/ca/issued/{serial}/revoke")
def revoke(serial: str, svc: ServicesDep, user: Poster, reason: Annotated[int, Form()] = 0) -> Response:
    svc.pki.revoke(user.actor, serial, reason if reason in REASONS else 0)
    return RedirectResponse("/ca?done=revoked", status_code=303)
