"""``python -m shared.dev_issuer keys | jwks | serve | mint <person> | staff``

The development identity provider: ``serve`` answers on 127.0.0.1:8009 as an OpenID Connect
provider (``/.well-known/openid-configuration``, ``/.well-known/jwks.json``, ``/authorize``:
a page listing the demo staff, ``/token``: authorization code with PKCE; see
``shared/dev_issuer/provider.py``). Point the services at it with
``AUTH_JWKS_URL=http://127.0.0.1:8009/.well-known/jwks.json``, ``AUTH_ISSUER``,
``AUTH_AUDIENCE``, and the console with ``CONSOLE_OIDC_ISSUER`` and the client registered
here (``--client-id``, ``--client-secret``, ``--redirect-uri``). ``mint`` and ``staff`` print
tokens for people of the staff directory."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
import uvicorn
from fastapi import FastAPI
from rich.console import Console
from rich.table import Table

from shared.dev_issuer import DEFAULT_PORT, KEY_FOLDER, Issuer
from shared.dev_issuer.provider import Client, Provider, provider_app
from shared.directory import ConfigError, directory_file, load_directory
from shared.durations import parse_duration

cli = typer.Typer(add_completion=False, no_args_is_help=True, help=__doc__)
console = Console(stderr=True)

Folder = Annotated[Path, typer.Option(help="Where the key pair is kept")]
Ttl = Annotated[str, typer.Option(help="How long the token lives (90, 15m, 8h, 7d)")]
DirectoryFile = Annotated[
    str | None, typer.Option("--directory", help="Staff directory (default STAFF_DIRECTORY_FILE)")
]


def _issuer(folder: Path) -> Issuer:
    return Issuer.load_or_create(folder)


@cli.command()
def keys(folder: Folder = KEY_FOLDER) -> None:
    """Create the key pair if missing; print where it is."""
    issuer = _issuer(folder)
    console.print(f"key {issuer.kid} in {folder} (jwks.json beside it)")


@cli.command()
def jwks(
    folder: Folder = KEY_FOLDER,
    out: Annotated[Path | None, typer.Option(help="Write it to this file")] = None,
) -> None:
    """Print the JWKS (or write it for AUTH_PUBLIC_KEY_FILE)."""
    issuer = _issuer(folder)
    if out is None:
        typer.echo(json.dumps(issuer.jwks(), indent=2))
    else:
        issuer.write_jwks(out)
        console.print(f"wrote {out}")


def jwks_app(issuer: Issuer, jwks_url: str) -> FastAPI:
    app = FastAPI(title="Development identity provider", docs_url=None, redoc_url=None)

    @app.get("/.well-known/jwks.json")
    async def keyset() -> dict:
        return issuer.jwks()

    @app.get("/.well-known/openid-configuration")
    async def configuration() -> dict:
        return issuer.openid_configuration(jwks_url)

    @app.get("/healthz")
    async def healthz() -> dict:
        return {"status": "ok"}

    return app


@cli.command()
def serve(
    folder: Folder = KEY_FOLDER,
    host: str = "127.0.0.1",
    port: int = DEFAULT_PORT,
    public_url: Annotated[
        str | None,
        typer.Option(help="Where browsers reach it (default http://host:port)"),
    ] = None,
    internal_url: Annotated[
        str | None,
        typer.Option(help="Where the console and services reach it, if not at the public URL"),
    ] = None,
    client_id: Annotated[
        str, typer.Option(envvar="DEV_ISSUER_CLIENT_ID", help="The relying party (the console)")
    ] = "console",
    client_secret: Annotated[
        str,
        typer.Option(
            envvar="DEV_ISSUER_CLIENT_SECRET",
            show_default=False,
            help="Its secret; empty: no client, only the JWKS",
        ),
    ] = "",
    redirect_uri: Annotated[
        list[str] | None,
        typer.Option(
            envvar="DEV_ISSUER_REDIRECT_URIS",
            help="Its redirect URLs (repeat; the variable: space-separated)",
        ),
    ] = None,
    directory: DirectoryFile = None,
) -> None:
    """Serve the JWKS, the OpenID configuration, and the sign-in of the demo staff."""
    issuer = _issuer(folder)
    base = (public_url or f"http://{host}:{port}").rstrip("/")
    uris = tuple(redirect_uri or ["http://127.0.0.1:8000/auth/callback"])
    clients = {client_id: Client(client_id, client_secret, uris)} if client_secret else {}
    internal = internal_url.rstrip("/") if internal_url else None
    provider = Provider(issuer, base, clients, _staff(directory), internal)
    console.print(
        f"dev issuer {issuer.issuer} (audience {issuer.audience}); JWKS at "
        f"{internal or base}/.well-known/jwks.json; client {client_id if clients else '(none)'}"
    )
    uvicorn.run(provider_app(provider), host=host, port=port, log_level="warning")


def _staff(directory: str | None):
    try:
        return load_directory(directory_file(directory))
    except ConfigError as exc:
        console.print(f"[red]{exc}[/red]")
        raise typer.Exit(2) from None


@cli.command()
def mint(
    person: Annotated[str, typer.Argument(help="A person id of the staff directory")],
    ttl: Ttl = "8h",
    folder: Folder = KEY_FOLDER,
    directory: DirectoryFile = None,
) -> None:
    """Print a token for a person (name and roles from the staff directory)."""
    found = _staff(directory).person(person)
    if found is None:
        console.print(f"[red]no person {person!r} in the staff directory[/red]")
        raise typer.Exit(2)
    typer.echo(
        _issuer(folder).mint(
            found.id, name=found.name, roles=list(found.roles), ttl=parse_duration(ttl)
        )
    )


@cli.command()
def staff(
    ttl: Ttl = "12h",
    folder: Folder = KEY_FOLDER,
    directory: DirectoryFile = None,
    plain: Annotated[bool, typer.Option(help="person<TAB>roles<TAB>token lines")] = False,
) -> None:
    """Tokens for every person of the staff directory."""
    issuer = _issuer(folder)
    lifetime = parse_duration(ttl)
    rows = [
        (p.id, ",".join(p.roles), issuer.mint(p.id, name=p.name, roles=list(p.roles), ttl=lifetime))
        for p in _staff(directory).people
        if p.active
    ]
    if plain:
        for row in rows:
            typer.echo("\t".join(row))
        return
    table = Table("person", "roles", "token")
    for row in rows:
        table.add_row(*row)
    Console(width=400).print(table)


if __name__ == "__main__":
    cli()
