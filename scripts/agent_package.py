"""Build the certvault agent package: a wheel of certvault.agent alone (needs httpx and cryptography, nothing
of the server) with its install scripts for Linux and Windows, zipped as certvault-agent-<version>.zip into
OUT (certvault serves the newest from <data_dir>/agent-package at /api/v1/agent/package).

The wheel is written directly (a zip with its .dist-info), so building needs no network and no build tool.
    python scripts/agent_package.py OUT_DIR
"""

from __future__ import annotations

import base64
import hashlib
import io
import sys
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SOURCE = ROOT / "src" / "certvault"
DIST = "certvault_agent"
REQUIRES = ("httpx>=0.27", "cryptography>=43")
FIXED = (2020, 1, 1, 0, 0, 0)  # reproducible archives


def version() -> str:
    for line in (SOURCE / "__init__.py").read_text().splitlines():
        if line.startswith("__version__"):
            return line.split("=", 1)[1].strip().strip("\"'")
    raise SystemExit("no __version__ in certvault/__init__.py")


def wheel_files(ver: str) -> dict[str, bytes]:
    files = {"certvault/__init__.py": (SOURCE / "__init__.py").read_bytes()}
    for path in sorted((SOURCE / "agent").glob("*.py")):
        files[f"certvault/agent/{path.name}"] = path.read_bytes()
    info = f"{DIST}-{ver}.dist-info"
    files[f"{info}/METADATA"] = "\n".join([
        "Metadata-Version: 2.1", "Name: certvault-agent", f"Version: {ver}",
        "Summary: certvault agent: deploys certificates and answers http-01 on end servers (mutual TLS)",
        "Requires-Python: >=3.11", *[f"Requires-Dist: {r}" for r in REQUIRES], "", ""]).encode()
    files[f"{info}/WHEEL"] = (b"Wheel-Version: 1.0\nGenerator: certvault agent_package\nRoot-Is-Purelib: true\n"
                              b"Tag: py3-none-any\n")
    files[f"{info}/entry_points.txt"] = b"[console_scripts]\ncertvault-agent = certvault.agent.main:main\n"
    record = [f"{name},sha256={_digest(data)},{len(data)}" for name, data in files.items()]
    files[f"{info}/RECORD"] = ("\n".join([*record, f"{info}/RECORD,,"]) + "\n").encode()
    return files


def _digest(data: bytes) -> str:
    return base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()


def _zip(files: dict[str, bytes], modes: dict[str, int] | None = None) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in files.items():
            entry = zipfile.ZipInfo(name, FIXED)
            entry.external_attr = ((modes or {}).get(name, 0o644) & 0xFFFF) << 16
            entry.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(entry, data)
    return buffer.getvalue()


def build(out: Path) -> Path:
    ver = version()
    wheel_name = f"{DIST}-{ver}-py3-none-any.whl"
    scripts = SOURCE / "agent" / "package"
    package = {
        f"certvault-agent/{wheel_name}": _zip(wheel_files(ver)),
        "certvault-agent/install.sh": (scripts / "install.sh").read_bytes(),
        "certvault-agent/install.ps1": (scripts / "install.ps1").read_bytes(),
        "certvault-agent/README.txt": (scripts / "README.txt").read_bytes(),
    }
    out.mkdir(parents=True, exist_ok=True)
    target = out / f"certvault-agent-{ver}.zip"
    target.write_bytes(_zip(package, {"certvault-agent/install.sh": 0o755}))
    return target


if __name__ == "__main__":
    if len(sys.argv) != 2:
        raise SystemExit(__doc__)
    print(build(Path(sys.argv[1])))
