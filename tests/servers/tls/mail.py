"""STARTTLS services on loopback ports: Dovecot (IMAP + POP3), PostgreSQL with ssl=on, vsftpd (FTP AUTH TLS)
and OpenLDAP slapd (LDAP StartTLS)."""

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


VSFTPD_CONF = """listen=YES
listen_ipv6=NO
listen_address=127.0.0.1
listen_port={port}
background=NO
anonymous_enable=YES
no_anon_password=YES
anon_root={dir}/empty
local_enable=NO
ssl_enable=YES
allow_anon_ssl=YES
force_anon_logins_ssl=NO
force_anon_data_ssl=NO
require_ssl_reuse=NO
rsa_cert_file={cert}
rsa_private_key_file={key}
ssl_tlsv1=YES
ssl_sslv2=NO
ssl_sslv3=NO
pasv_enable=NO
secure_chroot_dir={dir}/empty
seccomp_sandbox=NO
xferlog_enable=NO
vsftpd_log_file={dir}/vsftpd.log
"""


def start_vsftpd(workdir: Path, cert: Path, key: Path) -> Running:
    """vsftpd answering `AUTH TLS` on a plain FTP control port (no accounts: only the handshake matters)."""
    root = workdir / "vsftpd"
    (root / "empty").mkdir(parents=True, exist_ok=True)
    port = free_port()
    conf = root / "vsftpd.conf"
    conf.write_text(VSFTPD_CONF.format(dir=root, port=port, cert=cert, key=key))
    log = root / "stdout.log"
    proc = start([which("vsftpd", "/usr/sbin/vsftpd"), str(conf)], log)
    return _wait_port(Running("vsftpd", "127.0.0.1", port, [proc]), log, "vsftpd")


def start_slapd(workdir: Path, cert: Path, key: Path) -> Running:
    """OpenLDAP's slapd with no database: it answers the StartTLS extended operation on a plain port."""
    root = workdir / "slapd"
    root.mkdir(parents=True, exist_ok=True)
    conf = root / "slapd.conf"
    conf.write_text(f"pidfile {root}/slapd.pid\nargsfile {root}/slapd.args\n"
                    f"TLSCertificateFile {cert}\nTLSCertificateKeyFile {key}\n")
    port = free_port()
    log = root / "stdout.log"
    proc = start([which("slapd", "/usr/sbin/slapd"), "-f", str(conf), "-h", f"ldap://127.0.0.1:{port}/", "-d", "0"],
                 log)
    return _wait_port(Running("slapd", "127.0.0.1", port, [proc]), log, "slapd")
