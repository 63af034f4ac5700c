"""STARTTLS services: Dovecot (IMAP + POP3) and PostgreSQL with ssl=on, on loopback ports."""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

from tests.servers.postgres import _bin
from tests.servers.process import free_port, start, which
from tests.servers.tls.servers import Running, _wait_port

DOVECOT_CONF = """
base_dir = {dir}/run
state_dir = {dir}/state
log_path = {dir}/dovecot.log
protocols = imap pop3
listen = 127.0.0.1
ssl = yes
ssl_cert = <{cert}
ssl_key = <{key}
ssl_min_protocol = TLSv1.2
auth_mechanisms = plain
passdb {{
  driver = static
  args = nopassword=y
}}
userdb {{
  driver = static
  args = uid=65534 gid=65534 home={dir}/home/%u
}}
service imap-login {{
  inet_listener imap {{
    address = 127.0.0.1
    port = {imap}
  }}
  inet_listener imaps {{
    port = 0
  }}
}}
service pop3-login {{
  inet_listener pop3 {{
    address = 127.0.0.1
    port = {pop3}
  }}
  inet_listener pop3s {{
    port = 0
  }}
}}
"""


def start_dovecot(workdir: Path, cert: Path, key: Path) -> tuple[Running, Running]:
    """(imap, pop3): one Dovecot master serving both, STARTTLS/STLS on plain ports."""
    root = workdir / "dovecot"
    for sub in ("run", "state", "home"):
        (root / sub).mkdir(parents=True, exist_ok=True)
    os.chmod(root / "run", 0o755)
    imap, pop3 = free_port(), free_port()
    conf = root / "dovecot.conf"
    conf.write_text(DOVECOT_CONF.format(dir=root, cert=cert, key=key, imap=imap, pop3=pop3))
    log = workdir / "dovecot-stdout.log"
    proc = start([which("dovecot", "/usr/sbin/dovecot"), "-F", "-c", str(conf)], log)
    imap_run = _wait_port(Running("dovecot-imap", "127.0.0.1", imap, [proc]), root / "dovecot.log", "dovecot imap")
    pop3_run = _wait_port(Running("dovecot-pop3", "127.0.0.1", pop3, [proc]), root / "dovecot.log", "dovecot pop3")
    return imap_run, pop3_run


def start_postgres_ssl(workdir: Path, cert: Path, key: Path) -> Running:
    root = Path(tempfile.mkdtemp(prefix="cv-pgssl-"))  # pytest's tmp dirs are 0700 root: postgres cannot enter
    (workdir / "postgres-ssl-dir").write_text(str(root))
    data = root / "data"
    user = "postgres" if os.geteuid() == 0 else None
    shutil.copy(cert, root / "server.crt")
    shutil.copy(key, root / "server.key")
    os.chmod(root / "server.key", 0o600)
    log = root / "postgres.log"
    log.touch()
    if user:
        for path in (root, root / "server.crt", root / "server.key", log):
            shutil.chown(path, user)
    init = start([_bin("initdb"), "-D", str(data), "-U", "postgres", "--auth=trust", "--no-sync"], log, user=user)
    if init.wait(60) != 0:
        raise RuntimeError("initdb failed: " + log.read_text()[-2000:])
    port = free_port()
    proc = start([_bin("postgres"), "-D", str(data), "-p", str(port), "-c", "listen_addresses=127.0.0.1",
                  "-c", f"unix_socket_directories={root}", "-c", "ssl=on", "-c", f"ssl_cert_file={root}/server.crt",
                  "-c", f"ssl_key_file={root}/server.key", "-c", "fsync=off", "-c", "shared_buffers=16MB"],
                 log, user=user)
    return _wait_port(Running("postgres-ssl", "127.0.0.1", port, [proc]), log, "postgres ssl")
