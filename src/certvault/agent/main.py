"""certvault-agent: enroll, run, status, install-service.

The agent only calls out (HTTPS to the certvault server with its client certificate); it listens on no
port. It imports the standard library, httpx and cryptography, nothing of the server.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from certvault.agent import identity, service_install
from certvault.agent.identity import AgentDir


def main(argv: list[str] | None = None) -> None:
    args = _parser().parse_args(argv)
    try:
        code = args.func(args)
    except AgentError as exc:
        sys.stderr.write(f"certvault-agent: {exc}\n")
        code = exc.exit_code
    sys.exit(code)


class AgentError(Exception):
    def __init__(self, message: str, exit_code: int = 1) -> None:
        super().__init__(message)
        self.exit_code = exit_code


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="certvault-agent", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(required=True, metavar="COMMAND")
    enroll = sub.add_parser("enroll", help="enrol with a one-time token: create a key, send a CSR, store the "
                                           "certificate (0600)")
    enroll.add_argument("--server", required=True, help="the certvault server, https://host:port")
    enroll.add_argument("--token", required=True, help="the one-time enrolment token (certvault agent token create)")
    enroll.add_argument("--ca-file", required=True, type=Path, help="certvault's root CA (PEM) to trust the server")
    _dir(enroll)
    enroll.set_defaults(func=_enroll)
    run = sub.add_parser("run", help="poll the server for jobs and run them (what the service runs)")
    _dir(run)
    run.add_argument("--poll-wait", type=float, default=25.0, help="seconds a poll waits for work (default 25)")
    run.set_defaults(func=_run)
    status = sub.add_parser("status", help="enrolment, certificate expiry and the last poll")
    _dir(status)
    status.add_argument("--json", action="store_true", dest="as_json")
    status.set_defaults(func=_status)
    install = sub.add_parser("install-service", help="write the systemd unit (Linux) or register the Windows service")
    _dir(install)
    install.add_argument("--unit-dir", type=Path, default=Path("/etc/systemd/system"),
                         help="where the systemd unit goes (Linux)")
    install.add_argument("--print", action="store_true", dest="print_only",
                         help="print the unit or the commands instead of installing them")
    install.set_defaults(func=_install)
    return parser


def _dir(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--dir", type=Path, default=None, help="the agent's directory (default: "
                        "/var/lib/certvault-agent, %%ProgramData%%\\certvault-agent on Windows)")


def _agent_dir(args: argparse.Namespace) -> AgentDir:
    return AgentDir((args.dir or identity.default_dir()).absolute())


def _enroll(args: argparse.Namespace) -> int:
    from certvault.agent.client import enroll

    folder = _agent_dir(args)
    if not args.ca_file.is_file():
        raise AgentError(f"--ca-file {args.ca_file} is not a file")
    name = enroll(folder, args.server.rstrip("/"), args.token, args.ca_file)
    cert = folder.certificate()
    print(f"enrolled as {name}; certificate {format(cert.serial_number, 'x')} valid until "
          f"{cert.not_valid_after_utc.isoformat()}; identity in {folder.identity}")
    return 0


def _run(args: argparse.Namespace) -> int:
    from certvault.agent.client import Refused, Runner

    folder = _agent_dir(args)
    if not folder.enrolled():
        raise AgentError(f"not enrolled in {folder.path}; run certvault-agent enroll first", 2)
    try:
        Runner(folder, poll_wait=args.poll_wait).run_forever()
    except Refused as exc:
        raise AgentError(f"the server refused this agent: {exc}", 3) from None
    return 0


def _status(args: argparse.Namespace) -> int:
    folder = _agent_dir(args)
    data: dict[str, object] = {"enrolled": folder.enrolled(), "dir": str(folder.path)}
    if folder.enrolled():
        cert = folder.certificate()
        data.update(folder.config())
        data.update({"serial": format(cert.serial_number, "x"), "not_after": cert.not_valid_after_utc.isoformat(),
                     "renew_after": folder.renew_after().isoformat()})
    data.update(folder.state())
    if args.as_json:
        print(json.dumps(data, indent=2, default=str))
    else:
        for key, value in data.items():
            print(f"{key}: {value}")
    return 0 if folder.enrolled() else 1


def _install(args: argparse.Namespace) -> int:
    folder = _agent_dir(args)
    if sys.platform == "win32":
        commands = service_install.windows_commands(folder.path)
        return service_install.run_commands(commands, args.print_only)
    unit = service_install.systemd_unit(folder.path)
    if args.print_only:
        print(unit, end="")
        return 0
    path = service_install.write_unit(unit, args.unit_dir)
    print(f"wrote {path}; start it with: systemctl daemon-reload && systemctl enable --now certvault-agent")
    return 0


if __name__ == "__main__":
    main()
