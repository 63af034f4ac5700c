"""What the file-writing targets (ssh, local) share: their options, the presets, and the files one bundle becomes.

A deployment writes each file under a temporary name and renames it over the old one (atomic on one
file system), after copying the old one to `<path>.certvault-backup-<serial>`: the first backup made
for a serial is kept, so a deployment resumed after a crash never backs up its own half-done work.
"""

from __future__ import annotations

import posixpath
import re
from dataclasses import dataclass
from typing import Literal

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from certvault.crypto import jks_codec, pkcs12
from certvault.errors import InvalidInput
from certvault.plugins.deploy import endpoints
from certvault.plugins.protocols import CertificateBundle

BACKUP_SUFFIX = ".certvault-backup-"
MAX_PATH = 1024
MAX_COMMAND = 2048

Preset = Literal["nginx", "apache", "haproxy", "tomcat", "postfix"]

# Defaults a preset gives; what the account sets explicitly wins.
PRESETS: dict[str, dict[str, str]] = {
    "nginx": {"fullchain_path": "/etc/nginx/ssl/fullchain.pem", "key_path": "/etc/nginx/ssl/privkey.pem",
              "test_command": "nginx -t", "reload_command": "systemctl reload nginx"},
    "apache": {"cert_path": "/etc/apache2/ssl/cert.pem", "key_path": "/etc/apache2/ssl/privkey.pem",
               "chain_path": "/etc/apache2/ssl/chain.pem", "test_command": "apachectl configtest",
               "reload_command": "systemctl reload apache2"},
    "haproxy": {"combined_path": "/etc/haproxy/certs/certvault.pem",
                "test_command": "haproxy -c -f /etc/haproxy/haproxy.cfg", "reload_command": "systemctl reload haproxy"},
    "tomcat": {"format": "pkcs12", "keystore_path": "/etc/tomcat10/certvault.p12",
               "reload_command": "systemctl restart tomcat10"},
    "postfix": {"fullchain_path": "/etc/postfix/certvault/fullchain.pem",
                "key_path": "/etc/postfix/certvault/privkey.pem", "test_command": "postfix check",
                "reload_command": "postfix reload"},
}
PATH_FIELDS = ("cert_path", "key_path", "chain_path", "fullchain_path", "combined_path", "keystore_path")


def _absolute(value: str | None) -> str | None:
    if value is None:
        return None
    if not value.startswith("/") or len(value) > MAX_PATH or "\x00" in value or "\n" in value:
        raise ValueError("must be an absolute path")
    return posixpath.normpath(value)


class FileTargetOptions(BaseModel):
    """Where the files go and what runs around them. Paths are absolute on the server."""

    model_config = ConfigDict(extra="forbid")

    preset: Preset | None = Field(default=None, description="nginx, apache, haproxy (combined PEM), tomcat "
                                                            "(keystore) or postfix: default paths and commands")
    cert_path: str | None = Field(default=None, description="the leaf certificate (PEM)")
    key_path: str | None = Field(default=None, description="the private key (PEM)")
    chain_path: str | None = Field(default=None, description="the CA certificates (PEM)")
    fullchain_path: str | None = Field(default=None, description="the leaf and the CA certificates (PEM)")
    combined_path: str | None = Field(default=None, description="key, leaf and CA certificates in one PEM (HAProxy)")
    keystore_path: str | None = Field(default=None, description="the PKCS#12 or JKS keystore (--format)")
    format: Literal["pem", "pkcs12", "jks"] | None = Field(default=None, description="pem, or a keystore at "
                                                                                     "keystore_path (or cert_path)")
    owner: str | None = Field(default=None, max_length=64, description="USER or USER:GROUP of the written files")
    mode: str = Field(default="0640", description="octal file mode of the written files")
    test_command: str | None = Field(default=None, max_length=MAX_COMMAND, description="run after writing; "
                                     "a failure restores the previous files")
    reload_command: str | None = Field(default=None, max_length=MAX_COMMAND, description="run after the test")
    webroot: str | None = Field(default=None, description="document root: answers http-01 challenges")
    verify: list[str] = Field(default_factory=list, description="HOST:PORT or HOST:PORT/SNI that must serve it")
    verify_timeout: float = Field(default=30.0, gt=0, le=600, description="seconds to wait for the new certificate")

    @field_validator(*PATH_FIELDS, "webroot")
    @classmethod
    def _paths(cls, value: str | None) -> str | None:
        return _absolute(value)

    @field_validator("mode")
    @classmethod
    def _mode(cls, value: str) -> str:
        if not re.fullmatch(r"0?[0-7]{3}", value):
            raise ValueError("must be an octal mode such as 0640")
        return value.rjust(4, "0")

    @field_validator("owner")
    @classmethod
    def _owner(cls, value: str | None) -> str | None:
        if value is not None and not re.fullmatch(r"[A-Za-z0-9_][A-Za-z0-9_.-]*(:[A-Za-z0-9_][A-Za-z0-9_.-]*)?", value):
            raise ValueError("must be USER or USER:GROUP")
        return value

    @field_validator("verify")
    @classmethod
    def _verify(cls, values: list[str]) -> list[str]:
        if len(values) > 50:
            raise ValueError("at most 50 endpoints")
        return endpoints.check_list(values)

    @model_validator(mode="after")
    def _something_to_write(self) -> FileTargetOptions:
        if not any(self.setting(f) for f in PATH_FIELDS):
            raise ValueError("give at least one of --cert-path, --key-path, --chain-path, --fullchain-path "
                             "(or a --preset)")
        if self.setting("format") in ("pkcs12", "jks") and not (self.setting("keystore_path") or self.cert_path):
            raise ValueError("a keystore format needs keystore_path (or cert_path)")
        return self

    def setting(self, name: str) -> str | None:
        """The explicit value, else the preset's default."""
        value = getattr(self, name)
        if value is None and self.preset:
            value = PRESETS[self.preset].get(name)
        return value  # type: ignore[no-any-return]

    @property
    def file_mode(self) -> int:
        return int(self.mode, 8)


def check_keystore_password(options: FileTargetOptions, password: str) -> None:
    if options.setting("format") in ("pkcs12", "jks") and len(password or "") < 6:
        raise InvalidInput("a pkcs12 or jks keystore needs --keystore-password of at least 6 characters")


@dataclass(frozen=True)
class PlannedFile:
    path: str
    content: bytes = b""


def plan(options: FileTargetOptions, bundle: CertificateBundle, keystore_password: str) -> list[PlannedFile]:
    """The files this bundle becomes on the server, one per configured path."""
    fmt = options.setting("format") or "pem"
    out: list[PlannedFile] = []
    keystore_path = options.setting("keystore_path") or (options.cert_path if fmt != "pem" else None)
    if fmt != "pem" and keystore_path:
        out.append(PlannedFile(keystore_path, _keystore(fmt, bundle, keystore_password)))
    pems = {"cert_path": bundle.cert_pem, "key_path": bundle.key_pem, "chain_path": bundle.chain_pem,
            "fullchain_path": bundle.fullchain_pem, "combined_path": bundle.key_pem + bundle.fullchain_pem}
    for name, content in pems.items():
        path = options.setting(name)
        if path and path != keystore_path:
            out.append(PlannedFile(path, content))
    return out


def _keystore(fmt: str, bundle: CertificateBundle, password: str) -> bytes:
    leaf, *chain = x509.load_pem_x509_certificates(bundle.fullchain_pem)
    key = serialization.load_pem_private_key(bundle.key_pem, None)
    alias = (bundle.names[0] if bundle.names else "certificate").lower().replace("*", "wildcard")[:64]
    if fmt == "pkcs12":
        return pkcs12.export(alias, key, leaf, chain, password)
    return jks_codec.export(alias, key, leaf, chain, password)


def backup_path(path: str, serial: str) -> str:
    return f"{path}{BACKUP_SUFFIX}{serial.lower()}"


def temp_path(path: str) -> str:
    directory, name = posixpath.split(path)
    return posixpath.join(directory, f".{name}.certvault-tmp")
