"""The demo commands: `flask seed`, `flask demo-credentials`, `flask demo-totp`.

Registered on every app by `webapp.cli`; seeding itself needs the dev requirements (Faker), so `webapp.demo.seed`
is imported only when `flask seed` runs and a production install says what is missing instead of failing to start.
"""
from __future__ import annotations

import click
import pyotp
from flask import Flask
from flask.cli import with_appcontext

from .accounts import DEMO_ADMIN_TOTP, DEMO_USERS, enable_demo_admin_2fa


@click.command("seed")
@click.option("--books", default=2000, show_default=True, type=click.IntRange(0, 5_000_000),
              help="How many demo books the catalog should hold for this seed.")
@click.option("--seed", "seed_value", default=1, show_default=True, type=int, help="Random seed.")
@click.option("--no-users", is_flag=True, help="Do not create the demo customer and admin.")
@click.option("--quiet", is_flag=True)
@with_appcontext
def seed_command(books: int, seed_value: int, no_users: bool, quiet: bool) -> None:
    """Load deterministic demo data (idempotent: re-runs add nothing twice)."""
    try:
        # Here, not at the top: Faker is a dev requirement, and this module is loaded by every app.
        from . import seed as demo
    except ModuleNotFoundError as exc:
        missing = (exc.name or "a package").partition(".")[0]
        raise click.ClickException(f"demo data needs the dev requirements ({missing} is not installed): "
                                   "pip install -r requirements-dev.txt") from None

    result = demo.seed(books, seed_value, progress=None if quiet else click.echo, with_users=not no_users)
    if not no_users:
        enable_demo_admin_2fa()
    click.echo(seeded_message(books, result.books_added, result.authors_added, result.seconds))
    for role, login, password in ([] if quiet else result.users):
        click.echo(f"  demo {role}: login '{login}', password '{password}'")


def seeded_message(wanted: int, books_added: int, authors_added: int, seconds: float) -> str:
    """What a seed run did, worded for a restart too: a shop that already has its books is not a failure."""
    if books_added == 0 and wanted == 0:
        return "No demo books asked for; nothing to add."
    if books_added == 0:
        return f"The demo shop already has its {wanted:,} books; nothing to add."
    authors = f" and {authors_added:,} author{'s' if authors_added != 1 else ''}" if authors_added else ""
    return f"Added {books_added:,} demo book{'s' if books_added != 1 else ''}{authors} in {seconds:.1f}s."


@click.command("demo-credentials")
@with_appcontext
def demo_credentials() -> None:
    """Print the demo accounts created by `seed`."""
    for role, username, _email, password, _name in DEMO_USERS:
        click.echo(f"  demo {role}: login '{username}', password '{password}'")
    click.echo(f"  demo admin two-factor key: {DEMO_ADMIN_TOTP} (add it to an authenticator app, "
               "or run `flask --app wsgi demo-totp` for the current code)")


@click.command("demo-totp")
@with_appcontext
def demo_totp() -> None:
    """Print the demo admin's current two-factor code (demo data only)."""
    click.echo(pyotp.TOTP(DEMO_ADMIN_TOTP).now())


def register(app: Flask) -> None:
    """Add the demo commands to the app's `flask` CLI."""
    for command in (seed_command, demo_credentials, demo_totp):
        app.cli.add_command(command)
