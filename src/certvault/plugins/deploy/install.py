"""Install a bundle's files through a transport (SFTP and commands over SSH, or the local file system), keeping
backups, running the test and reload commands, and restoring the backups when either fails.

Every step may run twice (a deployment resumed after its worker died): backups are taken before anything is
written and the first backup for a serial is kept; a path that did not exist gets an `.absent` marker, so a
rollback removes what the deployment created instead of "restoring" it.
"""

from __future__ import annotations

import posixpath
import shlex
from collections.abc import Callable
from typing import Protocol

from certvault.errors import IntegrationError
from certvault.plugins.deploy.files import BACKUP_SUFFIX, FileTargetOptions, PlannedFile, backup_path, plan, temp_path
from certvault.plugins.protocols import CertificateBundle, DeployFailed, DeployReceipt

ABSENT = "absent"
CHALLENGE_DIR = ".well-known/acme-challenge"


class Transport(Protocol):
    """What the targets offer; paths are absolute on the server. `run` is a POSIX shell command line."""

    label: str

    async def exists(self, path: str) -> bool: ...
    async def write(self, path: str, content: bytes, mode: int) -> None: ...
    async def rename(self, source: str, target: str) -> None: ...  # atomic, replacing target
    async def remove(self, path: str) -> None: ...  # no error when absent
    async def makedirs(self, path: str) -> None: ...
    async def run(self, command: str) -> tuple[int, str]: ...  # exit status and the output's tail


async def install(t: Transport, target: str, options: FileTargetOptions, bundle: CertificateBundle,
                  keystore_password: str) -> DeployReceipt:
    files = plan(options, bundle, keystore_password)
    details = {"serial": bundle.serial}
    kinds = await _backups(t, [f.path for f in files], bundle.serial)  # every backup before any write
    for planned, kind in zip(files, kinds, strict=True):
        details[f"file:{planned.path}"] = ABSENT if kind == "A" else backup_path(planned.path, bundle.serial)
    receipt = DeployReceipt(target=target, details=details)
    try:
        await _write_all(t, files, options)
    except Exception as exc:  # noqa: BLE001 - any failure leaves the old files in place, then says why
        reason = getattr(exc, "reason", "") or getattr(exc, "message", "") or type(exc).__name__
        await _restore_quietly(t, options, receipt)
        raise DeployFailed(f"{t.label}: writing the files failed ({reason}); the previous files were restored",
                           rolled_back=True) from None
    await _commands(t, options, receipt, "deploying")
    return receipt


async def _shell(t: Transport, script: str, what: str) -> str:
    status, output = await t.run(script)
    if status != 0:
        raise IntegrationError(f"{t.label}: {what} failed (exit {status}): {output}")
    return output


async def _backups(t: Transport, paths: list[str], serial: str) -> list[str]:
    """One shell command: per path "B" (backed up now or before) or "A" (did not exist: an .absent marker), and
    the backups of earlier deployments removed (they hold old private keys)."""
    lines = ["umask 077"]
    for path in paths:
        p, b = shlex.quote(path), shlex.quote(backup_path(path, serial))
        a = shlex.quote(backup_path(path, serial) + "." + ABSENT)
        lines.append(f"if [ -e {b} ]; then echo B; elif [ -e {a} ]; then echo A; "
                     f"elif [ -e {p} ]; then cp -p -- {p} {b} || exit 3; echo B; "
                     f"else mkdir -p -- {shlex.quote(posixpath.dirname(path))} && : > {a} || exit 3; echo A; fi")
        lines.append(f'for f in {shlex.quote(path + BACKUP_SUFFIX)}*; do case "$f" in {b}|{a}) ;; '
                     f'*) [ -e "$f" ] && rm -f -- "$f" ;; esac; done')
    output = await _shell(t, "\n".join(lines), "keeping a backup of the current files")
    kinds = [line for line in output.split() if line in ("A", "B")]
    if len(kinds) != len(paths):
        raise IntegrationError(f"{t.label}: keeping a backup of the current files gave no answer: {output}")
    return kinds


async def _write_all(t: Transport, files: list[PlannedFile], options: FileTargetOptions) -> None:
    """Each file under a temporary name in its directory, then (owner set) chown, then renamed over the old one."""
    for planned in files:
        await t.makedirs(posixpath.dirname(planned.path))
        await t.write(temp_path(planned.path), planned.content, options.file_mode)
    if options.owner:
        temps = " ".join(shlex.quote(temp_path(f.path)) for f in files)
        await _shell(t, f"chown -- {shlex.quote(options.owner)} {temps}", f"chown {options.owner}")
    for planned in files:
        await t.rename(temp_path(planned.path), planned.path)


async def _commands(t: Transport, options: FileTargetOptions, receipt: DeployReceipt, doing: str) -> None:
    for label in ("test_command", "reload_command"):
        command = options.setting(label)
        if not command:
            continue
        status, output = await t.run(command)
        if status != 0:
            await restore(t, options, receipt)
            raise DeployFailed(f"{t.label}: {label.replace('_', ' ')} `{command}` failed while {doing} "
                               f"(exit {status}): {output}; the previous files were restored and reloaded",
                               rolled_back=True)


async def restore(t: Transport, options: FileTargetOptions, receipt: DeployReceipt) -> str:
    """Put back every backed-up file (copied, so this may run again) and remove the ones that were absent, in one
    shell command; then test and reload."""
    lines = []
    for key, backup in receipt.details.items():
        if not key.startswith("file:"):
            continue
        path = shlex.quote(key[len("file:"):])
        if backup == ABSENT:
            lines.append(f"rm -f -- {path}")
        else:
            temp = shlex.quote(temp_path(key[len("file:"):]))
            lines.append(f"cp -p -- {shlex.quote(backup)} {temp} && mv -f -- {temp} {path} || exit 3")
    if lines:
        await _shell(t, "\n".join(lines), "restoring the previous files")
    problems = []
    for label in ("test_command", "reload_command"):
        command = options.setting(label)
        if command:
            status, output = await t.run(command)
            if status != 0:
                problems.append(f"{label.replace('_', ' ')} `{command}` failed (exit {status}): {output}")
    if problems:
        raise DeployFailed(f"{t.label}: the previous files were restored but " + "; ".join(problems),
                           rolled_back=True)
    return "restored"


async def _restore_quietly(t: Transport, options: FileTargetOptions, receipt: DeployReceipt) -> None:
    try:
        await restore(t, options, receipt)
    except Exception:  # noqa: BLE001, S110 - the write failure is what the caller reports
        pass


async def undo(t: Transport, options: FileTargetOptions, bundle: CertificateBundle, keystore_password: str) -> bool:
    """After a deploy() that broke off (a dropped connection): restore from the backups it made, found by their
    names. False when it had made none (so it wrote nothing)."""
    details = {}
    for planned in plan(options, bundle, keystore_password):
        backup = backup_path(planned.path, bundle.serial)
        if await t.exists(backup):
            details[f"file:{planned.path}"] = backup
        elif await t.exists(backup + "." + ABSENT):
            details[f"file:{planned.path}"] = ABSENT
    if not details:
        return False
    await restore(t, options, DeployReceipt(target=t.label, details=details))
    return True


def broke_off(reason: str, undo_it: Callable[[], bool]) -> DeployFailed:
    """The error for a deploy() that broke off part-way: restored from its backups when they can be reached."""
    try:
        undone = undo_it()
    except Exception as exc:  # noqa: BLE001 - the first failure is the one to report; this one is said too
        return DeployFailed(f"{reason}; could not look for a partial write either "
                            f"({getattr(exc, 'message', None) or type(exc).__name__}): a replaced file keeps its "
                            f"previous content in <path>{BACKUP_SUFFIX}<serial>", rolled_back=False)
    return DeployFailed(reason + ("; the previous files were restored" if undone else ""), rolled_back=undone)


def challenge_path(webroot: str, token: str) -> str:
    if not token or "/" in token or token.startswith(".") or len(token) > 256:
        raise ValueError("not an ACME token")
    return posixpath.join(webroot, CHALLENGE_DIR, token)


async def place_challenge(t: Transport, webroot: str, token: str, key_authorization: str) -> None:
    path = challenge_path(webroot, token)
    await t.makedirs(posixpath.dirname(path))
    temp = temp_path(path)
    await t.write(temp, key_authorization.encode(), 0o644)
    await t.rename(temp, path)


async def remove_challenge(t: Transport, webroot: str, token: str) -> None:
    await t.remove(challenge_path(webroot, token))
