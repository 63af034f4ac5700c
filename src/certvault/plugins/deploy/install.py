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

from certvault.plugins.deploy.files import BACKUP_SUFFIX, FileTargetOptions, backup_path, plan, temp_path
from certvault.plugins.protocols import CertificateBundle, DeployFailed, DeployReceipt

ABSENT = "absent"
CHALLENGE_DIR = ".well-known/acme-challenge"


class Transport(Protocol):
    """What the targets offer; paths are absolute on the server."""

    label: str

    async def exists(self, path: str) -> bool: ...
    async def write(self, path: str, content: bytes, mode: int) -> None: ...
    async def rename(self, source: str, target: str) -> None: ...  # atomic, replacing target
    async def copy(self, source: str, target: str) -> None: ...  # keeping mode and owner
    async def remove(self, path: str) -> None: ...  # no error when absent
    async def makedirs(self, path: str) -> None: ...
    async def chown(self, path: str, owner: str) -> None: ...
    async def run(self, command: str) -> tuple[int, str]: ...  # exit status and the output's tail


async def install(t: Transport, target: str, options: FileTargetOptions, bundle: CertificateBundle,
                  keystore_password: str) -> DeployReceipt:
    files = plan(options, bundle, keystore_password)
    details = {"serial": bundle.serial}
    for planned in files:  # every backup before any write
        details[f"file:{planned.path}"] = await _backup(t, planned.path, bundle.serial)
        await _prune(t, planned.path, bundle.serial)
    receipt = DeployReceipt(target=target, details=details)
    for planned in files:
        try:
            await _write(t, planned.path, planned.content, options)
        except Exception as exc:  # noqa: BLE001 - any failure leaves the old files in place, then says why
            reason = getattr(exc, "reason", "") or getattr(exc, "message", "") or type(exc).__name__
            await _restore_quietly(t, options, receipt)
            raise DeployFailed(f"{t.label}: writing {planned.path} failed ({reason}); the previous files were "
                               "restored", rolled_back=True) from None
    await _commands(t, options, receipt, "deploying")
    return receipt


async def _backup(t: Transport, path: str, serial: str) -> str:
    backup = backup_path(path, serial)
    if await t.exists(backup):
        return backup
    if await t.exists(backup + "." + ABSENT):
        return ABSENT
    if await t.exists(path):
        await t.copy(path, backup)
        return backup
    await t.makedirs(posixpath.dirname(path))
    await t.write(backup + "." + ABSENT, b"", 0o600)
    return ABSENT


async def _prune(t: Transport, path: str, serial: str) -> None:
    """Backups of earlier deployments (they hold old private keys) go; this deployment's own stays."""
    keep = backup_path(path, serial)
    pattern = shlex.quote(path + BACKUP_SUFFIX) + "*"
    script = (f'for f in {pattern}; do case "$f" in {shlex.quote(keep)}|{shlex.quote(keep + "." + ABSENT)}) ;; '
              f'*) [ -e "$f" ] && rm -f -- "$f" ;; esac; done; true')
    await t.run(script)


async def _write(t: Transport, path: str, content: bytes, options: FileTargetOptions) -> None:
    temp = temp_path(path)
    await t.makedirs(posixpath.dirname(path))
    await t.write(temp, content, options.file_mode)
    if options.owner:
        await t.chown(temp, options.owner)
    await t.rename(temp, path)


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
    """Put back every backed-up file (a copy, so this may run again), then test and reload."""
    for key, backup in receipt.details.items():
        if not key.startswith("file:"):
            continue
        path = key[len("file:"):]
        if backup == ABSENT:
            await t.remove(path)
            continue
        temp = temp_path(path)
        await t.copy(backup, temp)
        await t.rename(temp, path)
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
