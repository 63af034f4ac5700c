"""The one frozen Settings tree: defaults < TOML file < CERTVAULT_* environment variables.

`load_settings()` is the only function that reads the environment. Everything else receives the
Settings (or the slice it needs) from the composition root.

Environment variables name a section and a field: CERTVAULT_DB_URL, CERTVAULT_SERVER_PORT,
CERTVAULT_WORKER_CONCURRENCY. CERTVAULT_DATA_DIR and CERTVAULT_CONFIG are top-level.
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any, get_origin

from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError, field_validator

from certvault.errors import InvalidInput

ENV_PREFIX = "CERTVAULT_"


class _Section(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class DatabaseSettings(_Section):
    url: SecretStr | None = None  # default: SQLite file in the data directory
    pool_size: int = 10
    echo: bool = False


class ServerSettings(_Section):
    host: str = "127.0.0.1"
    port: int = 8443
    embedded_worker: bool = True
    hostnames: list[str] = ["localhost"]  # names on the server's own certificate
    # Where people reach certvault (written into help-desk tickets); default https://<first hostname>:<port>
    public_url: str | None = None
    # Only behind a TLS-terminating proxy that the operator trusts; never the default.
    allow_plain_http: bool = False
    # Request bodies are refused (413) past these sizes before anything parses them (api/limits.py):
    # every route, and the routes that take files (certificate import, vault secrets with files).
    max_body_bytes: int = Field(default=1024 * 1024, ge=1024)
    max_upload_bytes: int = Field(default=16 * 1024 * 1024, ge=1024)

    @property
    def effective_public_url(self) -> str:
        host = self.hostnames[0] if self.hostnames else "localhost"
        return (self.public_url or f"https://{host}:{self.port}").rstrip("/")


class SecuritySettings(_Section):
    # Failed logins (auth/throttle.py): `lockout_threshold` failures from one address lock that address out
    # of that account for `lockout_minutes`; the account itself locks once `lockout_addresses` addresses are
    # locked out of it. `address_failure_limit` failures from one address, whatever the accounts, refuse
    # every login from it (429) for `address_block_minutes`. Issued tokens and sessions keep working.
    lockout_threshold: int = Field(default=5, ge=1)
    lockout_minutes: int = Field(default=15, ge=1)
    lockout_addresses: int = Field(default=3, ge=1)
    address_failure_limit: int = Field(default=20, ge=1)
    address_block_minutes: int = Field(default=15, ge=1)
    session_minutes: int = 480
    token_default_days: int = Field(default=90, ge=1)
    token_max_days: int = Field(default=90, ge=0)  # 0: no maximum (never-expiring tokens allowed)
    password_min_length: int = 12


class KeySettings(_Section):
    master_key_file: Path | None = None  # default: <data_dir>/master.key


class WorkerSettings(_Section):
    concurrency: int = 8
    poll_interval: float = 0.5
    lease_seconds: int = 120
    max_attempts: int = 5
    job_modules: list[str] = []  # extra modules exporting HANDLERS/SCHEDULES (site-specific jobs)


class LoggingSettings(_Section):
    level: str = "INFO"


class AgentSettings(_Section):
    cert_seconds: int = Field(default=30 * 86400, ge=60, le=825 * 86400)  # agent client certificates' lifetime
    token_max_seconds: int = Field(default=7 * 86400, ge=60)  # longest life of an enrolment token
    poll_wait_seconds: float = Field(default=25.0, gt=0, le=60)  # how long a job poll waits for work


class Settings(_Section):
    data_dir: Path = Path("data")
    config_file: Path | None = None
    db: DatabaseSettings = DatabaseSettings()
    server: ServerSettings = ServerSettings()
    security: SecuritySettings = SecuritySettings()
    keys: KeySettings = KeySettings()
    worker: WorkerSettings = WorkerSettings()
    logging: LoggingSettings = LoggingSettings()
    agents: AgentSettings = AgentSettings()

    @field_validator("data_dir")
    @classmethod
    def _absolute(cls, value: Path) -> Path:
        return value.expanduser().absolute()

    @property
    def database_url(self) -> str:
        if self.db.url is not None:
            return self.db.url.get_secret_value()
        return f"sqlite:///{self.data_dir / 'certvault.db'}"

    @property
    def master_key_path(self) -> Path:
        return self.keys.master_key_file or self.data_dir / "master.key"

    def redacted(self) -> dict[str, Any]:
        """The effective configuration as plain data with every secret masked."""
        data = self.model_dump(mode="json")
        data["db"]["url"] = redact_url(self.database_url)
        return data


def redact_url(url: str) -> str:
    """postgresql://user:secret@host/db -> postgresql://user:***@host/db"""
    scheme, sep, rest = url.partition("://")
    if not sep or "@" not in rest:
        return url
    creds, _, host = rest.rpartition("@")
    user, has_pw, _ = creds.partition(":")
    return f"{scheme}://{user}{':***' if has_pw else ''}@{host}"


def load_settings(
    environ: Mapping[str, str] | None = None, overrides: Mapping[str, Any] | None = None
) -> Settings:
    """Build Settings from defaults, the TOML file, CERTVAULT_* variables and explicit overrides."""
    env = os.environ if environ is None else environ
    data: dict[str, Any] = {}
    data_dir = Path((overrides or {}).get("data_dir") or env.get(ENV_PREFIX + "DATA_DIR") or "data")
    config_file = env.get(ENV_PREFIX + "CONFIG") or (overrides or {}).get("config_file")
    candidate = Path(config_file) if config_file else data_dir / "certvault.toml"
    if candidate.exists():
        data = _read_toml(candidate)
        data["config_file"] = str(candidate)
    elif config_file:
        raise InvalidInput(f"configuration file {candidate} does not exist")
    _merge(data, _from_environment(env))
    _merge(data, dict(overrides or {}))
    data.setdefault("data_dir", str(data_dir))
    try:
        return Settings.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        raise InvalidInput(f"configuration: {where}: {first['msg']}") from None


def _read_toml(path: Path) -> dict[str, Any]:
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise InvalidInput(f"configuration file {path}: {exc}") from None


def _from_environment(env: Mapping[str, str]) -> dict[str, Any]:
    result: dict[str, Any] = {}
    if ENV_PREFIX + "DATA_DIR" in env:
        result["data_dir"] = env[ENV_PREFIX + "DATA_DIR"]
    for section, field in Settings.model_fields.items():
        model = field.annotation
        if not (isinstance(model, type) and issubclass(model, _Section)):
            continue
        for name, sub in model.model_fields.items():
            key = f"{ENV_PREFIX}{section.upper()}_{name.upper()}"
            if key in env:
                result.setdefault(section, {})[name] = _parse_env_value(env[key], sub.annotation)
    return result


def _parse_env_value(raw: str, annotation: Any) -> Any:
    if get_origin(annotation) is list:
        return [item.strip() for item in raw.split(",") if item.strip()]
    return raw  # pydantic coerces str -> int/bool/float/Path


def _merge(base: dict[str, Any], extra: dict[str, Any]) -> None:
    for key, value in extra.items():
        if isinstance(value, dict) and isinstance(base.get(key), dict):
            _merge(base[key], value)
        else:
            base[key] = value
