"""``roster operator add|list|remove|reset-password|token``: who may use the console."""

from __future__ import annotations

import click
from rich.console import Console
from rich.table import Table

from roster_pipeline import operators
from roster_pipeline.cli.common import minute, opened_home, reported


@click.group("operator")
def operator_group() -> None:
    """Console accounts: viewers read, operators act on batches, admins manage."""


@operator_group.command("add")
@click.argument("name")
@click.option("--role", type=click.Choice(["viewer", "operator", "admin"]), default="viewer",
              show_default=True)  # fmt: skip
@reported
def operator_add(name: str, role: str) -> None:
    """Add an operator; the generated password is shown once."""
    with opened_home() as home:
        row, password = operators.add_operator(home, name, operators.Role.parse(role))
        operators.audit(home, "cli", "operator_add", name=row.name, role=row.role)
    click.echo(f"operator {row.name} ({row.role}) added")
    click.echo(f"password (shown once, only a hash is kept): {password}")


@operator_group.command("list")
@reported
def operator_list() -> None:
    """The operators, their roles and last logins."""
    with opened_home() as home:
        rows = operators.operators(home)
    table = Table("name", "role", "last login", "failures", "API token")
    for r in rows:
        table.add_row(r.name, r.role, minute(r.last_login), str(r.failures),
                      "yes" if r.token_hash else "")  # fmt: skip
    Console().print(table)


@operator_group.command("remove")
@click.argument("name")
@reported
def operator_remove(name: str) -> None:
    """Remove an operator; their sessions and token stop working at once."""
    with opened_home() as home:
        operators.remove_operator(home, name)
        operators.audit(home, "cli", "operator_remove", name=name)
    click.echo(f"operator {name} removed")


@operator_group.command("reset-password")
@click.argument("name")
@reported
def operator_reset(name: str) -> None:
    """A new password (shown once); unlocks the account and ends its sessions."""
    with opened_home() as home:
        password = operators.reset_password(home, name)
        operators.audit(home, "cli", "operator_reset_password", name=name)
    click.echo(f"new password for {name} (shown once): {password}")


@operator_group.command("token")
@click.argument("name")
@reported
def operator_token(name: str) -> None:
    """A new API bearer token (shown once); the previous one stops working."""
    with opened_home() as home:
        token = operators.issue_token(home, name)
        operators.audit(home, "cli", "operator_token", name=name)
    click.echo(token)


COMMANDS = (operator_group,)
