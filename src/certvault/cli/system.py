"""init, run, serve, worker, config show, keys rotate-master, audit verify/list."""

from __future__ import annotations

import gc
import logging
import signal
import ssl
from typing import Any

import typer

from certvault.audit.service import AuditQuery
from certvault.cli.common import cli_actor, console, fail, print_json, print_table, services, state
from certvault.keyring.rotation import rotate_master

config_app = typer.Typer(help="Show the effective configuration.", no_args_is_help=True)
keys_app = typer.Typer(help="Master key operations.", no_args_is_help=True)
audit_app = typer.Typer(help="Verify and search the audit log.", no_args_is_help=True)


def register(app: typer.Typer) -> None:
    app.command("init")(init)
    app.command("run")(run)
    app.command("serve")(serve)
    app.command("worker")(worker)
    app.add_typer(config_app, name="config")
    app.add_typer(keys_app, name="keys")
    app.add_typer(audit_app, name="audit")


def _announce_password(password: str | None, settings: Any) -> None:
    if password:
        console.print(
            f"\n[bold]First administrator created.[/] Username: [bold]admin[/]  "
            f"One-time password: [bold yellow]{password}[/]\n"
            "It is shown only this once; you will choose a new one at first login.\n",
            highlight=False, soft_wrap=True,
        )


def init(ctx: typer.Context) -> None:
    """Create the data directory, master key, database, internal CA, first admin and TLS files."""
    from certvault.bootstrap import initialize

    result = initialize(state(ctx).settings())
    _announce_password(result.admin_password, result.app.settings)
    console.print(f"Data directory: {result.app.settings.data_dir}")
    console.print(f"Root CA (trust this in clients): {result.ca_file}")


def run(ctx: typer.Context) -> None:
    """Initialise when needed, then serve HTTPS with the embedded worker (what `make run` does)."""
    from certvault.bootstrap import initialize

    result = initialize(state(ctx).settings())
    _announce_password(result.admin_password, result.app.settings)
    _serve(result, result.app.settings.server.host, result.app.settings.server.port, True)


def serve(
    ctx: typer.Context,
    host: str | None = typer.Option(None, help="address to bind (default 127.0.0.1)"),
    port: int | None = typer.Option(None, help="port (default 8443)"),
    worker: bool = typer.Option(True, "--worker/--no-worker", help="run the embedded job worker"),
    workers: int = typer.Option(1, "--workers", min=1, max=64,
                                help="server processes sharing the port (PostgreSQL: up to the cores; SQLite: 1)"),
    access_log: bool = typer.Option(False, "--access-log/--no-access-log",
                                    help="log a line per HTTP request (sensitive actions are audited either way)"),
) -> None:
    """Serve the API and web UI over HTTPS."""
    from certvault.bootstrap import initialize

    overrides: dict[str, Any] = {"server": {}}
    if host:
        overrides["server"]["host"] = host
    if port:
        overrides["server"]["port"] = port
    settings = state(ctx).settings(**overrides)
    result = initialize(settings)
    _announce_password(result.admin_password, settings)
    embedded = worker and settings.server.embedded_worker
    _serve(result, settings.server.host, settings.server.port, embedded, workers=workers, access_log=access_log)


def _serve(result: Any, host: str, port: int, embedded_worker: bool, *, workers: int = 1,
           access_log: bool = False) -> None:
    import functools

    import uvicorn

    from certvault.api.list_verb import http_protocol
    from certvault.api.peer_cert import client_ca_bundle, with_peer_certificates
    from certvault.server import create_server

    settings = result.app.settings
    logging.basicConfig(level=settings.logging.level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    tls: dict[str, Any] = {}
    if not settings.server.allow_plain_http:
        tls = {"ssl_certfile": str(result.server_cert), "ssl_keyfile": str(result.server_key),
               "ssl_keyfile_password": result.server_key_password,
               "ssl_context_factory": functools.partial(_tls_context, client_cas=client_ca_bundle(result.app))}
    scheme = "http" if settings.server.allow_plain_http else "https"
    shown = f"[{host}]" if ":" in host else host
    console.print(f"certvault serving on {scheme}://{shown}:{port}/ "
                  f"(worker {'embedded' if embedded_worker else 'off'}"
                  f"{f', {workers} processes' if workers > 1 else ''})", highlight=False)

    def config(app: Any) -> uvicorn.Config:
        return uvicorn.Config(app, host=host, port=port, log_level=settings.logging.level.lower(),
                              access_log=access_log, proxy_headers=False, server_header=False,
                              http=with_peer_certificates(http_protocol()), **tls)

    if workers == 1:
        server = uvicorn.Server(config(create_server(result.app, embedded_worker=embedded_worker)))
        _freeze_startup_objects()
        server.run()
        return
    from certvault.cli.serving import run_processes

    result.app.engine.dispose()  # children open their own connections; none may be shared across fork
    result.app.read_engine.dispose()

    _freeze_startup_objects()  # before fork: children share these pages instead of copying them on GC

    def run_child(index: int, sock: Any) -> None:
        server = uvicorn.Server(config(create_server(result.app, embedded_worker=embedded_worker and index == 0)))
        _freeze_startup_objects()
        server.run(sockets=[sock])

    raise typer.Exit(run_processes(workers, host, port, run_child))


def _freeze_startup_objects() -> None:
    """Keep what start-up built (modules, routes, models, metadata: ~200,000 objects) out of garbage collection.

    Every request leaves a few reference cycles (sessions, transactions) for the cyclic collector;
    without this, each full collection walks the whole start-up heap and stalls every request in
    flight for tens of milliseconds, which showed as a p99 of 150+ ms under 32 connections.
    """
    gc.collect()
    gc.freeze()


def _tls_context(_config: Any, default_context: Any, client_cas: str = "") -> ssl.SSLContext:
    """TLS 1.2 and up; client certificates of the internal CA are asked for, never required (agents send one)."""
    from certvault.api.peer_cert import accept_client_certificates

    context: ssl.SSLContext = default_context()
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    return accept_client_certificates(context, client_cas) if client_cas else context


def worker(
    ctx: typer.Context,
    concurrency: int | None = typer.Option(None, help="jobs run at once (default from settings)"),
) -> None:
    """Run a job worker alone (scale-out: any number share one PostgreSQL)."""
    app = state(ctx).app()
    logging.basicConfig(level=app.settings.logging.level,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    app.install_schedules()
    w = app.worker(**({"concurrency": concurrency} if concurrency else {}))
    signal.signal(signal.SIGTERM, lambda *_: w.stop())
    signal.signal(signal.SIGINT, lambda *_: w.stop())
    console.print(f"worker {w.id} running", highlight=False)
    w.run()


@config_app.command("show")
def config_show(ctx: typer.Context, as_json: bool = typer.Option(False, "--json")) -> None:
    """Print the effective configuration with secrets redacted."""
    data = state(ctx).settings().redacted()
    if as_json:
        print_json(data)
        return
    for section, values in data.items():
        if isinstance(values, dict):
            console.print(f"[bold]\\[{section}][/]")
            for key, value in values.items():
                console.print(f"  {key} = {value!r}", highlight=False)
        else:
            console.print(f"{section} = {values!r}", highlight=False)


@keys_app.command("rotate-master")
def keys_rotate(ctx: typer.Context, batch_size: int = typer.Option(200, min=1)) -> None:
    """Generate a new master key and re-wrap every data key (safe to interrupt and re-run)."""
    app = state(ctx).app()
    result = rotate_master(app.settings.master_key_path, app.sessions, batch_size=batch_size)
    app.keyring.reload()
    with app.transaction() as svc:
        svc.audit.record(cli_actor(), "keys.rotate_master", target_type="master_key",
                         target_id=result.new_key_id,
                         details={"rewrapped": result.rewrapped, "retired": result.retired})
    console.print(f"master key {result.new_key_id} is current; {result.rewrapped} data keys re-wrapped",
                  highlight=False)


@keys_app.command("rotate-data")
def keys_rotate_data(ctx: typer.Context) -> None:
    """Seal new secrets under a fresh data key (existing values keep theirs)."""
    app = state(ctx).app()
    key_id = app.keyring.rotate_data_key()
    with app.transaction() as svc:
        svc.audit.record(cli_actor(), "keys.rotate_data", target_type="data_key", target_id=key_id)
    console.print(f"new data key {key_id} is current for new secrets", highlight=False)


@audit_app.command("verify")
def audit_verify(ctx: typer.Context, as_json: bool = typer.Option(False, "--json")) -> None:
    """Check the hash chain; exit 1 if a row was changed or deleted."""
    with services(ctx) as svc:
        result = svc.audit.verify()
    if as_json:
        print_json({"ok": result.ok, "checked": result.checked, "problems": result.problems})
    elif result.ok:
        console.print(f"audit log intact: {result.checked} events verified")
    else:
        for problem in result.problems:
            console.print(f"[red]{problem}[/]", highlight=False)
    if not result.ok:
        raise typer.Exit(1)


@audit_app.command("list")
def audit_list(
    ctx: typer.Context,
    action: str | None = typer.Option(None, help="action prefix, e.g. auth."),
    user: str | None = typer.Option(None),
    limit: int = typer.Option(50),
    as_json: bool = typer.Option(False, "--json"),
) -> None:
    """Search the audit log, newest first."""
    with services(ctx) as svc:
        rows, total = svc.audit.search(cli_actor(), AuditQuery(action=action, actor=user, limit=limit))
        data = [{"seq": r.seq, "at": r.at, "user": r.actor_name, "ip": r.ip, "action": r.action,
                 "outcome": r.outcome, "target": f"{r.target_type or ''} {r.target_id or ''}".strip(),
                 "details": r.details} for r in rows]
    if as_json:
        print_json({"items": data, "total": total})
        return
    print_table(["#", "when", "user", "ip", "action", "outcome", "target"],
                [[d["seq"], d["at"], d["user"], d["ip"], d["action"], d["outcome"], d["target"]] for d in data])


__all__ = ["fail", "register"]
