"""Account commands generated from each plugin's `Options` and `secret_fields`: a new provider adds no CLI code.

`certvault dns-account add rfc2136 --server ... --key-name ... --key-secret ...` and `certvault notify
channel add email NAME --host ... --password ...`: every option and secret field becomes a flag named
after it in kebab case (lists repeat, dicts take KEY=VALUE, booleans are --x/--no-x). A secret may come
from the environment (CERTVAULT_SECRET_<FIELD>) instead of the command line. Each kind also gets list,
test, enable, disable, update and delete. Commands are built with Typer from generated signatures.
"""

from __future__ import annotations

import inspect
import json
import types
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, Union, get_args, get_origin

import typer
from typer.main import get_command

from certvault.cli.common import cli_actor, console, print_json, print_table, services

AfterAdd = Callable[[Any, Any, dict[str, Any]], None]  # (services, account, extra parameter values)
# (services, plugin, name, options, secrets, extra parameter values) -> the account added
Adder = Callable[[Any, str, str, dict[str, Any], dict[str, str], dict[str, Any]], Any]


@dataclass(frozen=True)
class AccountKind:
    kind: str
    noun: str  # "DNS account", "channel"
    name_argument: bool  # NAME is an argument (channels) or --name with a default (DNS accounts)
    extra: dict[str, tuple[Any, Any]] = field(default_factory=dict)  # name -> (annotation, typer.Option)
    plugin_extra: dict[str, dict[str, tuple[Any, Any]]] = field(default_factory=dict)  # one plugin's own flags
    adder: Adder | None = None  # in place of svc.integrations.add (e.g. to register first)
    after_add: AfterAdd | None = None
    test: Callable[[typer.Context, str, bool], None] | None = None  # in place of the plugin's check()


def _unwrap(annotation: Any) -> Any:
    if get_origin(annotation) in (Union, types.UnionType):
        args = [a for a in get_args(annotation) if a is not type(None)]
        return args[0] if len(args) == 1 else str
    return annotation


def _is_dict(annotation: Any) -> bool:
    return annotation is dict or get_origin(annotation) is dict


def _cli_type(annotation: Any) -> Any:
    """What Typer parses; pydantic validates the rest (Literal choices, ranges) with a message naming it."""
    annotation = _unwrap(annotation)
    if annotation in (bool, int, float, str):
        return annotation
    if get_origin(annotation) in (list, tuple, set):
        inner = _unwrap((get_args(annotation) or (str,))[0])
        return {int: list[int], float: list[float]}.get(inner, list[str])
    if _is_dict(annotation):
        return list[str]
    if get_origin(annotation) is Literal:
        return str
    return str


def _flag(name: str) -> str:
    return "--" + name.replace("_", "-")


def plugin_parameters(info: Any, *, for_update: bool) -> list[inspect.Parameter]:
    """One keyword parameter per option and secret; None unless given, so the model's defaults apply."""
    params = []
    for name, spec in info.options_model.model_fields.items():
        kind = _cli_type(spec.annotation)
        required = spec.is_required() and not for_update
        help_text = (spec.description or "") + (" (repeat; KEY=VALUE)" if _is_dict(_unwrap(spec.annotation))
                                                else " (repeat for more)" if get_origin(kind) is list else "")
        decls = [f"{_flag(name)}/--no-{name.replace('_', '-')}"] if kind is bool else [_flag(name)]
        option = typer.Option(... if required else None, *decls, help=help_text or None, show_default=False)
        params.append(inspect.Parameter(name, inspect.Parameter.KEYWORD_ONLY, default=option,
                                        annotation=kind if required else kind | None))
    for name in info.secret_fields:
        env = f"CERTVAULT_SECRET_{name.upper()}"
        text = f"stored in the vault (or set {env})"
        if name in getattr(info.cls, "file_secrets", ()):  # e.g. an SSH private key: the flag names its file
            text = f"FILE whose content is stored in the vault (or set {env} to the content)"
        option = typer.Option(None, _flag(name), envvar=env, help=text)
        params.append(inspect.Parameter(name, inspect.Parameter.KEYWORD_ONLY, default=option, annotation=str | None))
    return params


def collect(info: Any, values: dict[str, Any]) -> tuple[dict[str, Any], dict[str, str]]:
    """Split parsed values into options and secrets, leaving out what was not given."""
    options: dict[str, Any] = {}
    for name, spec in info.options_model.model_fields.items():
        value = values.get(name)
        if value is None or value == []:
            continue
        options[name] = dict(_pair(v) for v in value) if _is_dict(_unwrap(spec.annotation)) else value
    files = getattr(info.cls, "file_secrets", ())
    return options, {f: _file_content(f, values[f]) if f in files else values[f]
                     for f in info.secret_fields if values.get(f)}


def _file_content(name: str, value: str) -> str:
    """A FILE-valued secret: the file's content (a value already holding a PEM or OpenSSH key is kept)."""
    if "-----BEGIN" in value or "\n" in value:
        return value
    try:
        return Path(value).expanduser().read_text()
    except (OSError, UnicodeDecodeError) as exc:
        raise typer.BadParameter(f"cannot read {value}: {getattr(exc, 'strerror', None) or exc}",
                                 param_hint=_flag(name)) from None


def _pair(item: str) -> tuple[str, Any]:
    key, sep, raw = item.partition("=")
    if not sep or not key:
        raise typer.BadParameter(f"{item!r} is not KEY=VALUE")
    try:
        return key, json.loads(raw)
    except json.JSONDecodeError:
        return key, raw


MAX_FILE = 256 * 1024
# Mutual TLS and trust, the same for every kind of account (IntegrationService.secure)
SECURITY: dict[str, tuple[Any, Any]] = {
    "client_keystore": (Path | None, typer.Option(None, "--client-keystore", help="PKCS#12 or JKS keystore with "
                                                  "the client key and chain, offered for mutual TLS")),
    "keystore_password": (str | None, typer.Option(None, "--keystore-password", envvar="CERTVAULT_KEYSTORE_PASSWORD",
                                                   help="the keystore's password (or CERTVAULT_KEYSTORE_PASSWORD)")),
    "client_cert": (str | None, typer.Option(None, "--client-cert", help="id or serial of a client certificate "
                                             "issued by the internal CA (`certvault ca`), offered for mutual TLS")),
    "trusted_cert": (Path | None, typer.Option(None, "--trusted-cert", help="PEM or DER: a CA, or the server's own "
                                               "certificate (pinned), that the server must present")),
}


def read_file(path: Path | None, flag: str) -> bytes | None:
    if path is None:
        return None
    if not path.is_file():
        raise typer.BadParameter(f"{path} is not a file", param_hint=flag)
    if path.stat().st_size > MAX_FILE:
        raise typer.BadParameter(f"{path} is larger than {MAX_FILE // 1024} KiB", param_hint=flag)
    return path.read_bytes()


def _security_flags(info: Any) -> dict[str, tuple[Any, Any]]:
    """SECURITY for a plugin that speaks TLS; none where a field of its own has one of their names (an SSH
    deploy target's `keystore_password` is the password of the keystore it writes, and SSH has no TLS)."""
    own = set(info.options_model.model_fields) | set(info.secret_fields)
    return {} if own & set(SECURITY) else SECURITY


def secure(svc: Any, kind: str, ref: Any, values: dict[str, Any], **clear: bool) -> Any:
    """Apply the SECURITY flags that were given (in the caller's transaction: a refused keystore undoes an add)."""
    given = {k: values.get(k) for k in SECURITY if values.get(k) is not None}
    if not given and not any(clear.values()):
        return None
    if given.get("client_keystore") is not None and given.get("keystore_password") is None:
        raise typer.BadParameter("--client-keystore needs --keystore-password (or CERTVAULT_KEYSTORE_PASSWORD)")
    return svc.integrations.secure(
        cli_actor(), kind, ref, keystore=read_file(given.get("client_keystore"), "--client-keystore"),
        keystore_password=given.get("keystore_password"), client_cert=given.get("client_cert"),
        trusted_cert=read_file(given.get("trusted_cert"), "--trusted-cert"), **clear)


def _command(function: Callable[..., None], params: list[inspect.Parameter]) -> Callable[..., None]:
    function.__signature__ = inspect.Signature(params)  # type: ignore[attr-defined]
    return function


def _show(account: Any, as_json: bool, done: str, noun: str) -> None:
    from certvault.integrations.schemas import AccountOut

    out = AccountOut.of(account)
    print_json(out) if as_json else console.print(f"{noun} {out.id} ({out.name}) {done}", highlight=False)


CTX = inspect.Parameter("ctx", inspect.Parameter.POSITIONAL_OR_KEYWORD, annotation=typer.Context)
JSON = inspect.Parameter("as_json", inspect.Parameter.KEYWORD_ONLY, annotation=bool,
                         default=typer.Option(False, "--json", help="print JSON"))
REF = inspect.Parameter("ref", inspect.Parameter.POSITIONAL_OR_KEYWORD, annotation=str,
                        default=typer.Argument(..., metavar="ID|NAME"))


def _add_command(spec: AccountKind, plugin: str, info: Any) -> Callable[..., None]:
    def add(ctx: typer.Context, **values: Any) -> None:
        as_json = values["as_json"]  # after_add sees it too
        options, secrets = collect(info, values)
        name = values.get("account_name") or " ".join([plugin, *[str(v) for v in options.values()][:1]])
        with services(ctx) as svc:
            if spec.adder is not None:
                account = spec.adder(svc, plugin, name, options, secrets, values)
            else:
                account = svc.integrations.add(cli_actor(), spec.kind, plugin, name, options, secrets)
            if _security_flags(info):
                secure(svc, spec.kind, account.id, values)
            if spec.after_add is not None:
                spec.after_add(svc, account, values)
            _show(account, as_json, "added", spec.noun)

    name_param = inspect.Parameter(
        "account_name", inspect.Parameter.POSITIONAL_OR_KEYWORD, annotation=str,
        default=typer.Argument(..., metavar="NAME")) if spec.name_argument else inspect.Parameter(
        "account_name", inspect.Parameter.KEYWORD_ONLY, annotation=str | None,
        default=typer.Option(None, "--name", help=f"default: {plugin} and its first option"))
    extra = [inspect.Parameter(n, inspect.Parameter.KEYWORD_ONLY, annotation=a, default=d)
             for n, (a, d) in {**_security_flags(info), **spec.extra, **spec.plugin_extra.get(plugin, {})}.items()]
    add.__doc__ = f"Add a {spec.noun}: {info.title}."
    return _command(add, [CTX, name_param, *plugin_parameters(info, for_update=False), *extra, JSON])


def account_app(spec: AccountKind, help_text: str) -> typer.Typer:
    """The command group of one account kind; `add` has a subcommand per installed plugin."""
    from certvault.plugins.registry import default_registry

    app = typer.Typer(help=help_text, no_args_is_help=True)
    add_app = typer.Typer(help=f"Add a {spec.noun}: choose its plugin.", no_args_is_help=True)
    registry = default_registry()
    for plugin in registry.names(spec.kind):
        add_app.command(plugin)(_add_command(spec, plugin, registry.get(spec.kind, plugin)))
    app.add_typer(add_app, name="add")

    @app.command("list")
    def listing(ctx: typer.Context, as_json: bool = typer.Option(False, "--json")) -> None:
        from certvault.integrations.schemas import AccountOut

        with services(ctx) as svc:
            rows = [AccountOut.of(a) for a in svc.integrations.list_accounts(cli_actor(), spec.kind)]
        if as_json:
            print_json(rows)
            return
        print_table(["id", "name", "plugin", "enabled", "options", "secrets"],
                    [[a.id, a.name, a.plugin, a.enabled, a.options, ", ".join(a.secret_fields)] for a in rows])
    listing.__doc__ = f"List {spec.noun}s (never their secrets)."

    @app.command("test")
    def test(ctx: typer.Context, ref: str = typer.Argument(..., metavar="ID|NAME"),
             as_json: bool = typer.Option(False, "--json")) -> None:
        """Test connection: prove the options and credentials work, changing nothing."""
        if spec.test is not None:
            spec.test(ctx, ref, as_json)
            return
        with services(ctx) as svc:
            result = svc.integrations.check(cli_actor(), spec.kind, ref)
        print_json({"ok": True, "result": result}) if as_json else console.print(result, highlight=False)

    for verb, enabled in (("enable", True), ("disable", False)):
        app.command(verb, help=f"{verb.capitalize()} a {spec.noun}.")(_switch(spec, enabled))

    @app.command("update", context_settings={"allow_extra_args": True, "ignore_unknown_options": True})
    def update(ctx: typer.Context, ref: str = typer.Argument(..., metavar="ID|NAME")) -> None:
        """Change options or secrets: the flags of `add` for its plugin; only those given change."""
        with services(ctx) as svc:
            account = svc.integrations.find(spec.kind, ref)
            info = svc.integrations.plugins.get(spec.kind, account.plugin)
            values = _parse(info, list(ctx.args), f"update {ref}")
            options, secrets = collect(info, values)
            changed = svc.integrations.update(cli_actor(), spec.kind, account.id, options, secrets)
            _show(changed, values["as_json"], "updated", spec.noun)

    @app.command("secure")
    def secure_command(ctx: typer.Context, ref: str = typer.Argument(..., metavar="ID|NAME"),
                       client_keystore: Path | None = SECURITY["client_keystore"][1],
                       keystore_password: str | None = SECURITY["keystore_password"][1],
                       client_cert: str | None = SECURITY["client_cert"][1],
                       trusted_cert: Path | None = SECURITY["trusted_cert"][1],
                       no_client_identity: bool = typer.Option(False, "--no-client-identity",
                                                               help="stop offering a client certificate"),
                       no_trusted_cert: bool = typer.Option(False, "--no-trusted-cert",
                                                            help="trust the system store again"),
                       as_json: bool = typer.Option(False, "--json")) -> None:
        """Mutual TLS and trust: the client certificate offered and the server certificate required."""
        values = {"client_keystore": client_keystore, "keystore_password": keystore_password,
                  "client_cert": client_cert, "trusted_cert": trusted_cert}
        with services(ctx) as svc:
            account = secure(svc, spec.kind, ref, values, clear_identity=no_client_identity,
                             clear_trust=no_trusted_cert) or svc.integrations.get(cli_actor(), spec.kind, ref)
            _show(account, as_json, "secured", spec.noun)

    @app.command("delete")
    def delete(ctx: typer.Context, ref: str = typer.Argument(..., metavar="ID|NAME")) -> None:
        """Delete it (its vault secret is retired unless another account uses it)."""
        with services(ctx) as svc:
            svc.integrations.delete(cli_actor(), spec.kind, ref)
        console.print(f"{spec.noun} {ref} deleted", highlight=False)

    return app


def _switch(spec: AccountKind, enabled: bool) -> Callable[..., None]:
    def run(ctx: typer.Context, ref: str = typer.Argument(..., metavar="ID|NAME"),
            as_json: bool = typer.Option(False, "--json")) -> None:
        with services(ctx) as svc:
            account = svc.integrations.set_enabled(cli_actor(), spec.kind, ref, enabled)
            _show(account, as_json, "enabled" if enabled else "disabled", spec.noun)
    return run


def _parse(info: Any, args: list[str], name: str) -> dict[str, Any]:
    """Parse `args` with the flags of the plugin (all optional), as `update` needs once it knows the plugin."""
    seen: dict[str, Any] = {}

    def keep(**values: Any) -> None:
        seen.update(values)

    parser = typer.Typer(add_completion=False)
    parser.command()(_command(keep, [*plugin_parameters(info, for_update=True), JSON]))
    command = get_command(parser)
    with command.make_context(name, args) as sub:
        command.invoke(sub)
    return seen
