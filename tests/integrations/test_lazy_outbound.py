"""Building a plugin whose account offers no client certificate loads nothing of the outbound HTTPS client: a
dns-01 order through RFC 2136 never imports httpx (with its command line, rich and pygments: about a quarter
of `certvault acme request --wait`'s start-up)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

PROBE = """
import json, sys
from certvault.auth.rbac import Actor
from certvault.config import load_settings
from certvault.container import build_app
app = build_app(load_settings(environ={{}}, overrides={{"data_dir": {data!r}}}))
with app.transaction() as svc:
    account = svc.integrations.add(Actor.system("t"), "dns", "rfc2136", "bind", {{"server": "127.0.0.1:53",
        "key_name": "k", "zone": "example.test"}}, {{"key_secret": "c2VjcmV0"}})
    provider = svc.integrations.dns_provider(account)
print(json.dumps([type(provider).__name__, sorted(m for m in sys.modules if m.split(".")[0] == "httpx"
                  or m.startswith("certvault.outbound"))]))
"""


def test_an_rfc2136_provider_is_built_without_the_outbound_client(tmp_path: Path) -> None:
    result = subprocess.run([sys.executable, "-c", PROBE.format(data=str(tmp_path / "data"))], capture_output=True,
                            text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    built, loaded = json.loads(result.stdout.strip().splitlines()[-1])
    assert built == "Rfc2136Provider" and loaded == []
