"""`certvault acme ...`: accounts, requests, status, verify, renew, revoke (`dns-account` is cli/dns_accounts.py)."""

from __future__ import annotations

import os
import time
from pathlib import Path

import typer

from certvault.cli.common import cli_actor, console, fail, print_json, print_table, services, state
from certvault.issuance.requests import RequestSpec
from certvault.issuance.schemas import AccountOut, ManagedOut, OrderOut

acme_app = typer.Typer(help="ACME certificates: accounts, requests, renewal, revocation.", no_args_is_help=True)
account_app = typer.Typer(help="ACME accounts (administrators).", no_args_is_help=True)


def register(app: typer.Typer) -> None:
    app.add_typer(acme_app, name="acme")
    acme_app.add_typer(account_app, name="account")


def _read(path: Path | None, what: str) -> str | None:
    if path is None:
        return None
    try:
        return path.read_text()
    except OSError as exc:
        fail(f"cannot read {what} {path}: {exc.strerror}")


# ---- accounts ------------------------------------------------------------------------------------
@account_app.command("register")
def account_register(
    ctx: typer.Context,
    directory: str = typer.Option(..., "--directory", help="directory URL or letsencrypt | letsencrypt-staging | "
                                                           "zerossl | google | buypass"),
    email: str | None = typer.Option(None, "--email"),
    agree_tos: bool = typer.Option(False, "--agree-tos", help="you agree to the CA's terms of service"),
    eab_kid: str | None = typer.Option(None, "--eab-kid", help="External Account Binding key id"),
    eab_hmac: str | None = typer.Option(None, "--eab-hmac", help="External Account Binding HMAC key"),
    ca_bundle: Path | None = typer.Option(None, "--ca-bundle", help="PEM bundle trusted for the CA's HTTPS"),
    name: str | None = typer.Option(None, "--name"),
    key: str = typer.Option("ec256", "--key", help="account key: ec256 | ec384 | rsa2048 | rsa3072 | rsa4096"),
    as_json: bool = typer.Option(False, "--json"),
) -> None:
    """Register a new account at an ACME CA."""
    with services(ctx) as svc:
        account = svc.issuance.accounts.register(cli_actor(), directory, email, agree_tos, eab_kid=eab_kid,
                                                 eab_hmac=eab_hmac, ca_bundle_pem=_read(ca_bundle, "CA bundle"),
                                                 name=name, key_algorithm=key)
        out = AccountOut.of(account)
    print_json(out) if as_json else console.print(f"account {out.id} registered at {out.ca_name} ({out.account_url})",
                                                  highlight=False)


@account_app.command("recover")
def account_recover(
    ctx: typer.Context,
    directory: str = typer.Option(..., "--directory"),
    key_file: Path = typer.Option(..., "--key-file", help="the account's private key (PEM)"),
    ca_bundle: Path | None = typer.Option(None, "--ca-bundle"),
    name: str | None = typer.Option(None, "--name"),
    as_json: bool = typer.Option(False, "--json"),
) -> None:
    """Add an existing account from its key (the CA gives back the account URL)."""
    with services(ctx) as svc:
        account = svc.issuance.accounts.recover(cli_actor(), directory, _read(key_file, "key file") or "",
                                                ca_bundle_pem=_read(ca_bundle, "CA bundle"), name=name)
        out = AccountOut.of(account)
    print_json(out) if as_json else console.print(f"account {out.id} recovered ({out.account_url})", highlight=False)


@account_app.command("list")
def account_list(ctx: typer.Context, as_json: bool = typer.Option(False, "--json")) -> None:
    """List ACME accounts."""
    with services(ctx) as svc:
        rows = [AccountOut.of(a) for a in svc.issuance.accounts.list_accounts(cli_actor())]
    if as_json:
        print_json(rows)
        return
    print_table(["id", "name", "CA", "email", "status", "ARI"],
                [[a.id, a.name, a.ca_name, a.email, a.status, "yes" if a.ari_supported else "no"] for a in rows])


@account_app.command("update")
def account_update(ctx: typer.Context, account_id: str, email: str = typer.Option(..., "--email"),
                   as_json: bool = typer.Option(False, "--json")) -> None:
    """Change the account's contact email (at the CA too)."""
    with services(ctx) as svc:
        out = AccountOut.of(svc.issuance.accounts.update_email(cli_actor(), account_id, email))
    print_json(out) if as_json else console.print(f"account {out.id} email set to {out.email}", highlight=False)


@account_app.command("deactivate")
def account_deactivate(ctx: typer.Context, account_id: str,
                       yes: bool = typer.Option(False, "--yes", help="confirm: this cannot be undone")) -> None:
    """Deactivate the account at the CA (irreversible)."""
    if not yes:
        fail("deactivation cannot be undone; repeat with --yes to confirm")
    with services(ctx) as svc:
        account = svc.issuance.accounts.deactivate(cli_actor(), account_id)
    console.print(f"account {account.id} deactivated at {account.ca_name}", highlight=False)


@account_app.command("delete")
def account_delete(ctx: typer.Context, account_id: str) -> None:
    """Forget the account in certvault (it stays active at the CA)."""
    with services(ctx) as svc:
        svc.issuance.accounts.delete(cli_actor(), account_id)
    console.print(f"account {account_id} deleted from certvault (still active at the CA)", highlight=False)


@account_app.command("export-key")
def account_export_key(ctx: typer.Context, account_id: str,
                       out: Path | None = typer.Option(None, "--out", help="file to write (mode 0600)")) -> None:
    """Export the account key (PEM). Audited."""
    with services(ctx) as svc:
        pem = svc.issuance.accounts.export_key(cli_actor(), account_id)
    if out is None:
        typer.echo(pem, nl=False)
        return
    fd = os.open(out, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write(pem)
    console.print(f"account key written to {out}", highlight=False)


# ---- requests ------------------------------------------------------------------------------------
def _wait_for(ctx: typer.Context, order_id: str, timeout: float) -> OrderOut:
    """Run the order's jobs in this process (a running server's worker may take them too) until it settles;
    what its events start (notifications, deployments, tickets) is left to the server's worker."""
    # The order's last step stores the certificate: its models are declared here, before the worker's thread
    # starts, since this thread queries meanwhile (App.worker says why that matters).
    import certvault.certificates.service  # noqa: F401

    # One job at a time: an order advances in one job, and idle slots would only claim again (a write) meanwhile.
    worker = state(ctx).app().worker(poll_interval=0.05, only="acme.", concurrency=1)
    thread = worker.start_background()
    deadline = time.monotonic() + timeout
    try:
        while True:
            worker.job_done.clear()  # before looking: a job that ends while we look wakes the wait below
            with services(ctx) as svc:
                order = svc.issuance.requests.get(cli_actor(), order_id)
                out = OrderOut.of(order, svc.issuance.requests.authorizations(order))
            if out.status in ("available", "failed", "pending") or time.monotonic() > deadline:
                return out
            worker.job_done.wait(0.5)  # our jobs settle it; a server's worker may too, seen at the next look
    finally:
        worker.stop()
        thread.join(10)


def _show(out: OrderOut, as_json: bool) -> None:
    if as_json:
        print_json(out)
        return
    console.print(f"order {out.id}: [bold]{out.status}[/] ({out.state}) for {', '.join(out.names[:5])}"
                  + (" ..." if len(out.names) > 5 else ""), highlight=False)
    if out.error:
        console.print(f"[red]error:[/] {out.error}", highlight=False)
    if out.last_check and out.status != "available":
        console.print(f"last check: {out.last_check}", highlight=False)
    for ch in out.challenges:
        if ch.dns_account_id:
            via = f" (CNAME to {ch.dns_target})" if ch.dns_target and ch.dns_target != ch.dns_name else ""
            console.print(f"  {ch.identifier}: DNS account {ch.dns_account_id}{via}", highlight=False)
    if out.certificate_id:
        console.print(f"certificate {out.certificate_id} serial {out.serial} valid until {out.not_after}",
                      highlight=False)
    if out.status == "pending":
        for ch in out.challenges:
            if ch.dns_name:
                console.print(f"  TXT {ch.dns_name}  \"{ch.dns_value}\"", highlight=False)
            elif ch.http_path:
                console.print(f"  http://{ch.identifier}{ch.http_path}  ->  {ch.http_content}", highlight=False)
        console.print(f"publish these, then run: certvault acme verify {out.id}", highlight=False)


@acme_app.command("request")
def request(
    ctx: typer.Context,
    account: str = typer.Option(..., "--account", help="ACME account id"),
    domain: list[str] = typer.Option(..., "--domain", help="name (repeatable, up to 100; the first is the CN)"),
    challenge: str = typer.Option("http-01", "--challenge", help="http-01 | dns-01"),
    dns_account: str | None = typer.Option(None, "--dns-account", help="DNS account (dns-01); omit to let "
                                           "certvault pick per name, or publish by hand when none fits"),
    http_mode: str = typer.Option("standalone", "--http-mode",
                                  help="standalone | webroot | manual | deploy (--webroot names a deploy target)"),
    webroot: str | None = typer.Option(None, "--webroot"),
    key: str = typer.Option("ec256", "--key", help="ec256 | ec384 | rsa2048 | rsa3072 | rsa4096"),
    signature: str = typer.Option("sha256", "--signature", help="sha256 | sha384 | sha512"),
    keystore: str = typer.Option("pem", "--keystore", help="pem | pkcs12 | jks"),
    keystore_password: str | None = typer.Option(None, "--keystore-password"),
    profile: str | None = typer.Option(None, "--profile"),
    key_policy: str = typer.Option("new", "--key-policy", help="new | reuse | imported"),
    import_key: Path | None = typer.Option(None, "--import-key", help="private key for --key-policy imported"),
    renew_days_before: int | None = typer.Option(None, "--renew-days-before"),
    no_auto_renew: bool = typer.Option(False, "--no-auto-renew"),
    wait: bool = typer.Option(False, "--wait", help="wait until the order is available, failed or needs you"),
    timeout: float = typer.Option(600, "--timeout"),
    as_json: bool = typer.Option(False, "--json"),
) -> None:
    """Request a certificate."""
    spec = RequestSpec(account_id=account, domains=domain, challenge=challenge, dns_account_id=dns_account,
                       http_mode=http_mode, webroot=webroot, key=key, signature=signature, keystore=keystore,
                       keystore_password=keystore_password, profile=profile, key_policy=key_policy,
                       imported_key_pem=_read(import_key, "key file"), auto_renew=not no_auto_renew,
                       renew_days_before=renew_days_before)
    with services(ctx) as svc:
        order = svc.issuance.requests.request(cli_actor(), spec)
        out = OrderOut.of(order)
    if wait:
        out = _wait_for(ctx, str(out.id), timeout)
    _show(out, as_json)
    if out.status == "failed":
        raise typer.Exit(1)


@acme_app.command("assign-dns")
def assign_dns(ctx: typer.Context, order_id: str,
               dns_account: str = typer.Option(..., "--dns-account", help="DNS account id or name"),
               wait: bool = typer.Option(False, "--wait", help="wait until the order is available or failed"),
               timeout: float = typer.Option(600, "--timeout"),
               as_json: bool = typer.Option(False, "--json")) -> None:
    """Assign a DNS account to a pending dns-01 order: certvault publishes its records from now on."""
    with services(ctx) as svc:
        order = svc.issuance.requests.assign_dns(cli_actor(), order_id, dns_account)
        out = OrderOut.of(order, svc.issuance.requests.authorizations(order))
    if wait:
        out = _wait_for(ctx, str(out.id), timeout)
    _show(out, as_json)
    if out.status == "failed":
        raise typer.Exit(1)


@acme_app.command("status")
def status(ctx: typer.Context, order_id: str, as_json: bool = typer.Option(False, "--json")) -> None:
    """Show an order with its challenge values."""
    with services(ctx) as svc:
        order = svc.issuance.requests.get(cli_actor(), order_id)
        out = OrderOut.of(order, svc.issuance.requests.authorizations(order))
    _show(out, as_json)


@acme_app.command("orders")
def orders(ctx: typer.Context, status_filter: str | None = typer.Option(None, "--status"),
           as_json: bool = typer.Option(False, "--json")) -> None:
    """List orders (newest first)."""
    with services(ctx) as svc:
        rows, _total = svc.issuance.requests.list_requests(cli_actor(), status_filter, limit=200)
        out = [OrderOut.of(o) for o in rows]
    if as_json:
        print_json(out)
        return
    print_table(["id", "status", "names", "created", "error"],
                [[o.id, o.status, ", ".join(o.names[:3]), o.created_at, o.error or ""] for o in out])


@acme_app.command("verify")
def verify(ctx: typer.Context, order_id: str, wait: bool = typer.Option(False, "--wait"),
           timeout: float = typer.Option(600, "--timeout"), as_json: bool = typer.Option(False, "--json")) -> None:
    """You published the challenge responses: check them and ask the CA to validate."""
    with services(ctx) as svc:
        out = OrderOut.of(svc.issuance.requests.verify(cli_actor(), order_id))
    if wait:
        out = _wait_for(ctx, order_id, timeout)
    _show(out, as_json)


@acme_app.command("cancel")
def cancel(ctx: typer.Context, order_id: str, as_json: bool = typer.Option(False, "--json")) -> None:
    """Stop an unfinished order; the challenge records it published are taken down."""
    with services(ctx) as svc:
        out = OrderOut.of(svc.issuance.requests.cancel(cli_actor(), order_id))
    _show(out, as_json)


@acme_app.command("new-challenge")
def new_challenge(ctx: typer.Context, order_id: str, as_json: bool = typer.Option(False, "--json")) -> None:
    """Start a failed or pending order again with fresh challenges."""
    with services(ctx) as svc:
        out = OrderOut.of(svc.issuance.requests.new_challenge(cli_actor(), order_id))
    _show(out, as_json)


@acme_app.command("renew")
def renew(ctx: typer.Context, cert_id: str, wait: bool = typer.Option(False, "--wait"),
          timeout: float = typer.Option(600, "--timeout"), as_json: bool = typer.Option(False, "--json")) -> None:
    """Renew a managed certificate now."""
    with services(ctx) as svc:
        out = OrderOut.of(svc.issuance.renewals.renew_now(cli_actor(), cert_id))
    if wait:
        out = _wait_for(ctx, str(out.id), timeout)
    _show(out, as_json)
    if out.status == "failed":
        raise typer.Exit(1)


@acme_app.command("revoke")
def revoke(ctx: typer.Context, cert_id: str, reason: int = typer.Option(..., "--reason", help="RFC 5280 code"),
           by: str = typer.Option("account", "--by", help="account | certificate-key")) -> None:
    """Revoke a certificate at its CA."""
    with services(ctx) as svc:
        managed = svc.issuance.revocation.revoke(cli_actor(), cert_id, reason, by.replace("-", "_"))
    console.print(f"certificate {managed.certificate_entry_id} (serial {managed.serial}) revoked", highlight=False)


@acme_app.command("delete")
def delete(ctx: typer.Context, cert_id: str, yes: bool = typer.Option(False, "--yes")) -> None:
    """Delete a certificate from certvault without revoking it."""
    if not yes:
        fail("the certificate will stay valid at the CA but leave certvault; repeat with --yes to confirm")
    with services(ctx) as svc:
        svc.issuance.revocation.delete(cli_actor(), cert_id)
    console.print(f"certificate {cert_id} deleted from certvault (not revoked)", highlight=False)


@acme_app.command("renewals")
def renewals(ctx: typer.Context, as_json: bool = typer.Option(False, "--json")) -> None:
    """Managed certificates and when each renews."""
    with services(ctx) as svc:
        rows = [ManagedOut.of(m) for m in svc.issuance.renewals.list_managed(cli_actor())]
    if as_json:
        print_json(rows)
        return
    print_table(["certificate", "names", "expires", "renews", "why", "ARI now", "error"],
                [[m.certificate_id, ", ".join(m.names[:2]), m.not_after, m.renew_at, m.renew_reason,
                  "YES" if m.ari_urgent else "", m.last_error or ""] for m in rows])


@acme_app.command("fleet")
def fleet(ctx: typer.Context, weeks: int = typer.Option(12, "--weeks"),
          as_json: bool = typer.Option(False, "--json")) -> None:
    """Upcoming renewals per CA and per week, with ARI alerts."""
    with services(ctx) as svc:
        view = svc.issuance.renewals.fleet(cli_actor(), weeks)
    if as_json:
        print_json(view)
        return
    for item in view["ari_urgent"]:
        console.print(f"[bold red]ARI: renew now[/] {', '.join(item['names'])} ({item['ca']})", highlight=False)
    print_table(["week", "total", "per CA"], [[w["week"], w["total"], ", ".join(f"{k}: {v}" for k, v in
                                                                                 w["by_ca"].items())]
                                              for w in view["by_week"]])


@acme_app.command("adopt")
def adopt(ctx: typer.Context, cert_id: str, account: str = typer.Option(..., "--account"),
          challenge: str = typer.Option("http-01", "--challenge"), dns_account: str | None = typer.Option(None),
          http_mode: str = typer.Option("standalone", "--http-mode"), key: str = typer.Option("ec256", "--key"),
          as_json: bool = typer.Option(False, "--json")) -> None:
    """Bring an imported or discovered certificate under managed renewal."""
    with services(ctx) as svc:
        out = ManagedOut.of(svc.issuance.adopt(cli_actor(), cert_id, account, challenge=challenge,
                                               dns_account_id=dns_account, http_mode=http_mode, key=key))
    print_json(out) if as_json else console.print(f"certificate {cert_id} renews from {out.renew_at}",
                                                  highlight=False)


@acme_app.command("settings")
def settings(ctx: typer.Context,
             http01_port: int | None = typer.Option(None, "--http01-port"),
             http01_address: list[str] = typer.Option([], "--http01-address", help="repeatable"),
             resolver: list[str] = typer.Option([], "--resolver", help="HOST:PORT for self-checks (repeatable)"),
             dns_check_server: list[str] = typer.Option(
                 [], "--dns-check-server", help="HOST:PORT that must serve dns-01 TXT records before the CA is "
                 "told, instead of the zone's authoritative servers (repeatable)"),
             max_in_flight_per_ca: int | None = typer.Option(None, "--max-in-flight-per-ca"),
             unavailable_grace: float | None = typer.Option(
                 None, "--unavailable-grace", help="seconds a CA may stay unreachable before an order fails"),
             as_json: bool = typer.Option(False, "--json")) -> None:
    """Show or change the engine's settings (standalone responder, self-check resolvers, limits)."""
    from dataclasses import asdict

    from certvault.issuance.runtime import load_runtime
    from certvault.plugins.dns.rfc2136 import parse_server

    for server in (*resolver, *dns_check_server):
        try:
            parse_server(server)
        except ValueError as exc:
            fail(f"{server!r} is not HOST:PORT ({exc})")
    changes = {"acme.http01_port": http01_port, "acme.http01_addresses": http01_address or None,
               "acme.resolvers": resolver or None, "acme.dns_check_servers": dns_check_server or None,
               "acme.max_in_flight_per_ca": max_in_flight_per_ca, "acme.unavailable_grace": unavailable_grace}
    with services(ctx) as svc:
        for key, value in changes.items():
            if value is not None:
                svc.system.set(cli_actor(), key, value)
        current = asdict(load_runtime(svc.session))
    print_json(current) if as_json else print_table(["setting", "value"], [[k, v] for k, v in current.items()])


