"""OpenSSH's sshd on a loopback port, with its own host key and one authorized client key.

It runs as the current user (the deploy user is the current user): no PAM, keys only, internal-sftp.
`jump=True` allows TCP forwarding so one sshd can also serve as a jump host to another.
"""

from __future__ import annotations

import os
import subprocess
from dataclasses import dataclass
from pathlib import Path

from tests.servers.process import free_port, port_open, start, stop, wait_until, which


def keygen(path: Path, kind: str = "ed25519") -> Path:
    """A new key pair at `path` and `path`.pub (no passphrase)."""
    path.unlink(missing_ok=True)
    subprocess.run([which("ssh-keygen"), "-q", "-t", kind, "-N", "", "-C", "certvault-test", "-f", str(path)],
                   check=True)
    return path


@dataclass
class Sshd:
    workdir: Path
    port: int = 0
    proc: subprocess.Popen[bytes] | None = None

    @property
    def host_key(self) -> Path:
        return self.workdir / "host_ed25519"

    @property
    def client_key(self) -> Path:
        return self.workdir / "client_ed25519"

    @property
    def user(self) -> str:
        import pwd

        return pwd.getpwuid(os.getuid()).pw_name

    def known_host_line(self) -> str:
        """As ssh-keyscan prints it: "[127.0.0.1]:PORT ssh-ed25519 AAAA..."."""
        kind, b64 = (self.workdir / "host_ed25519.pub").read_text().split()[:2]
        return f"[127.0.0.1]:{self.port} {kind} {b64}"

    def fingerprint(self) -> str:
        out = subprocess.run([which("ssh-keygen"), "-l", "-E", "sha256", "-f", str(self.host_key) + ".pub"],
                             check=True, capture_output=True, text=True).stdout
        return out.split()[1]

    def start(self, jump: bool = False) -> Sshd:
        self.workdir.mkdir(parents=True, exist_ok=True)
        if not self.host_key.exists():
            keygen(self.host_key)
        if not self.client_key.exists():
            keygen(self.client_key)
        authorized = self.workdir / "authorized_keys"
        authorized.write_text((self.workdir / "client_ed25519.pub").read_text())
        authorized.chmod(0o600)
        if os.geteuid() == 0:
            Path("/run/sshd").mkdir(mode=0o755, exist_ok=True)  # privilege separation directory
        self.port = free_port()
        config = self.workdir / "sshd_config"
        config.write_text(f"""Port {self.port}
ListenAddress 127.0.0.1
HostKey {self.host_key}
PidFile {self.workdir}/sshd.pid
AuthorizedKeysFile {authorized}
PubkeyAuthentication yes
PasswordAuthentication no
KbdInteractiveAuthentication no
PermitRootLogin prohibit-password
UsePAM no
StrictModes no
AllowTcpForwarding {"yes" if jump else "no"}
X11Forwarding no
PrintMotd no
MaxStartups 200:30:400
MaxSessions 100
Subsystem sftp internal-sftp
LogLevel VERBOSE
""")
        log = self.workdir / "sshd.log"
        self.proc = start([which("sshd", "/usr/sbin/sshd"), "-D", "-e", "-f", str(config)], log)
        wait_until(lambda: port_open(self.port), 20, "sshd", self.proc, log)
        return self

    def stop(self) -> None:
        if self.proc is not None:
            stop(self.proc)
            self.proc = None
