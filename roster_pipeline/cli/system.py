"""``roster system`` (General Setup: show, set, enable, disable, restore-defaults, test)
and ``roster events`` (the event log)."""

from __future__ import annotations

import sys
from datetime import UTC, datetime, timedelta

import click

from roster_pipeline.cli.common import confirmed, echo_json, opened_home, reported, say
from roster_pipeline.cli.display import print_table, status_markup
from roster_pipeline.cli.exits import ExitCode

LEVELS = ("error", "warning", "info", "diagnostic")  # store.records.LEVELS, without polars


@click.group("system")
def system_group() -> None:
    """System settings shared by every machine (PowerSchool DEX's General Setup)."""


@system_group.command("show")
@click.option("--json", "as_json", is_flag=True)
@reported
def system_show(as_json: bool) -> None:
    """Every system setting: value in force, default, and where it is set."""
    from roster_pipeline import system

    with opened_home() as home:
        shown = system.show(home)
    if as_json:
        echo_json({s.key: s.as_json() for s in shown})
        return
    rows = [(s.key, _text(s.value), _text(s.default), s.source, s.updated) for s in shown]
    print_table(("setting", "value", "default", "set in", "changed by"), rows)


def _text(value: object) -> str:
    if isinstance(value, bool):
        return status_markup("enabled" if value else "disabled")
    return str(value) if value != "" else "-"


@system_group.command("set")
@click.argument("key")
@click.argument("value")
@reported
def system_set(key: str, value: str) -> None:
    """Set KEY to VALUE for every machine (`roster system show` lists the keys)."""
    from roster_pipeline import system

    with opened_home() as home:
        stored = system.set_value(home, key, value)
    click.echo(f"{key} = {stored}")


@system_group.command("disable")
@click.option("--reason", default="", help="Why (kept with who turned it off).")
@reported
def system_disable(reason: str) -> None:
    """Halt all processing; uploads are still accepted and kept in the inbox."""
    from roster_pipeline import system

    with opened_home() as home:
        system.disable(home, reason)
    click.echo("system disabled: no batch is formed or processed until `roster system enable`")


@system_group.command("enable")
@reported
def system_enable() -> None:
    """Process again, starting with the uploads that waited."""
    from roster_pipeline import system

    with opened_home() as home:
        system.enable(home)
    click.echo("system enabled")


@system_group.command("restore-defaults")
@click.option("--yes", is_flag=True, help="Do not ask first.")
@reported
def system_restore_defaults(yes: bool) -> None:
    """Forget every stored system setting (districts are untouched); prints the previous
    values as the commands that would set them again."""
    from roster_pipeline import system

    confirmed("Reset every system setting to its default?", yes)
    with opened_home() as home:
        previous = system.restore_defaults(home)
    for key, value in previous.items():
        click.echo(f"roster system set {key} {_shell(value)}")
    say(f"{len(previous)} setting(s) back to their defaults; the lines above restore them")


def _shell(value: object) -> str:
    text = str(value).lower() if isinstance(value, bool) else str(value)
    return text if text and text.replace(".", "").replace("-", "").isalnum() else repr(text)


@system_group.command("test")
@click.option("--json", "as_json", is_flag=True)
@reported
def system_test(as_json: bool) -> None:
    """Test Connection: database, home, disk, host keys, port, webhook. Exit 5 on a failure."""
    from roster_pipeline import checks

    with opened_home() as home:
        found = checks.run_all(home)
    if as_json:
        echo_json([c.as_json() for c in found])
    else:
        print_table(("check", "result", "detail"),
                    [(c.name, status_markup(c.result), c.detail) for c in found])  # fmt: skip
    sys.exit(ExitCode.UNAVAILABLE if any(c.result == "fail" for c in found) else ExitCode.OK)


@click.command("events")
@click.option("--district", default=None, help="Only this district's events.")
@click.option("--level", type=click.Choice(LEVELS), default=None,
              help="This level and the more severe ones.")  # fmt: skip
@click.option("--since", default=None, metavar="WHEN",
              help="ISO date/time, or an age such as 2h, 3d.")  # fmt: skip
@click.option("--limit", default=200, show_default=True)
@click.option("--json", "as_json", is_flag=True)
@reported
def events_cmd(
    district: str | None, level: str | None, since: str | None, limit: int, as_json: bool
) -> None:
    """The event log, newest first (errors always; other levels as `log_levels` says)."""
    levels = LEVELS[: LEVELS.index(level) + 1] if level else ()
    with opened_home() as home:
        found = home.store.events(district, levels, _since(since), limit)
    if as_json:
        echo_json([{**vars(e), "at": e.at.isoformat()} for e in found])
        return
    rows = [(e.at.strftime("%Y-%m-%d %H:%M:%S"), status_markup(e.level), e.district or "-",
             e.code, e.message) for e in found]  # fmt: skip
    print_table(("at (UTC)", "level", "district", "code", "message"), rows)


def _since(text: str | None) -> datetime | None:
    if not text:
        return None
    units = {"m": "minutes", "h": "hours", "d": "days"}
    if text[-1:] in units and text[:-1].isdigit():
        return datetime.now(UTC) - timedelta(**{units[text[-1]]: int(text[:-1])})
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise click.BadParameter(f"{text!r}: use an ISO date/time or 30m, 2h, 3d") from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


COMMANDS = (system_group, events_cmd)
