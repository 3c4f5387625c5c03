"""``attendant serve``: the HTTP API (:mod:`attendant.api.app`) on uvicorn; ``attendant token``: its tokens.

``serve [--host 127.0.0.1] [--port 8080]`` serves every facility of ``--db``
with the lanes of ``--config`` until ctrl+c. ``token create --role R --name
N`` (admins) prints the token once: it is stored only as a keyed hash;
``token list`` shows names, roles and whether each is revoked; ``token revoke
NAME`` ends one (:mod:`attendant.core.api_tokens`).
"""


from typing import Annotated

import typer

from attendant.cli.common import JsonOpt, print_json, state, typer_app

commands = typer_app()  # this module's commands; attendant.cli.common.app loads them when named

token_app = typer_app(help="API tokens for `attendant serve`: create (shown once), list, revoke.",
                      no_args_is_help=True)
commands.add_typer(token_app, name="token")


@commands.command("serve")
def serve(
    ctx: typer.Context,
    host: Annotated[str, typer.Option(help="Address to listen on (0.0.0.0: every interface).")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="TCP port (0: any free port, printed at start).")] = 8080,
    log_level: Annotated[str, typer.Option(help="uvicorn's log level: error, warning, info, debug.")] = "info",
    access_log: Annotated[bool, typer.Option("--access-log", help="Log every request line (its query may hold "
                                             "a plate: personal data in the log).")] = False,
) -> None:
    """Serve the HTTP API (OpenAPI at /openapi.json, docs at /docs) until ctrl+c."""
    import socket

    import uvicorn

    from attendant.api.app import create_app
    from attendant.core.errors import InputError

    if not 0 <= port <= 65535:
        raise InputError(f"--port: not a TCP port: {port}")
    if log_level not in ("critical", "error", "warning", "info", "debug", "trace"):
        raise InputError(f"--log-level: critical, error, warning, info, debug or trace, not {log_level!r}")
    cli = state(ctx)
    app = create_app(cli.engine(), cli.console_config())
    try:  # bound here, so --port 0 can say which port it got
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        sock = socket.socket(family, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
    except OSError as exc:
        raise InputError(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from None
    bound = sock.getsockname()[1]
    config = uvicorn.Config(app, log_level=log_level, access_log=access_log,
                            server_header=False, timeout_graceful_shutdown=5)  # open event streams never end
    shown = f"[{host}]" if ":" in host else host
    typer.echo(f"attendant: serving the API on http://{shown}:{bound} (OpenAPI at /openapi.json); ctrl+c stops",
               err=True)
    uvicorn.Server(config).run(sockets=[sock])


@token_app.command("create")
def token_create(
    ctx: typer.Context,
    name: Annotated[str, typer.Option(help="Who uses it, e.g. pay-station-2 (1-32 of a-z 0-9 . _ -).")],
    role: Annotated[str, typer.Option(help="attendant, supervisor or admin.")] = "attendant",
    json_: JsonOpt = False,
) -> None:
    """Create an API token (admins): printed once, stored only as a keyed hash."""
    from attendant.core.api_tokens import create_token

    cli = state(ctx)
    view, text = create_token(cli.engine(), name, role, actor=cli.login())
    if json_:
        print_json({"name": view.name, "role": view.role, "token": text, "created_at": view.created_at.isoformat()})
        return
    typer.echo(text)
    typer.echo(f"attendant: token {view.name} ({view.role}) created: it is shown this once "
               "(send it as Authorization: Bearer ...)", err=True)


@token_app.command("list")
def token_list(ctx: typer.Context, json_: JsonOpt = False) -> None:
    """Every API token: name, role, created, revoked (admins; never the token itself)."""
    from attendant.core.api_tokens import list_tokens

    cli = state(ctx)
    tokens = list_tokens(cli.engine(), actor=cli.login())
    if json_:
        print_json({"tokens": [{"name": t.name, "role": t.role, "created_at": t.created_at.isoformat(),
                                "created_by": t.created_by,
                                "revoked_at": t.revoked_at.isoformat() if t.revoked_at else None}
                               for t in tokens]})
        return
    if not tokens:
        typer.echo("No API tokens (attendant token create --role ROLE --name NAME)")
    for t in tokens:
        state_text = f"revoked {t.revoked_at:%Y-%m-%d %H:%M}Z" if t.revoked_at else "active"
        typer.echo(f"{t.name:<32} {t.role:<10} created {t.created_at:%Y-%m-%d %H:%M}Z by {t.created_by}  {state_text}")


@token_app.command("revoke")
def token_revoke(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="The token's name.")],
) -> None:
    """Revoke an API token (admins): refused from its next request on."""
    from attendant.core.api_tokens import revoke_token

    cli = state(ctx)
    view = revoke_token(cli.engine(), name, actor=cli.login())
    typer.echo(f"Token {view.name} revoked")
