"""``roster batch rollback`` and ``roster history``: undo a batch, follow a row's past."""

from __future__ import annotations

import click

from roster_pipeline.cli.batches import batch_group
from roster_pipeline.cli.common import echo_json, opened_home, reported

# The pipeline (polars) is imported inside the commands that use it.


@batch_group.command("rollback")
@click.argument("batch_id")
@click.option("--cascade", is_flag=True, help="Also roll back the later batches that changed"
              " the same rows, newest first.")  # fmt: skip
@click.option("--dry-run", is_flag=True, help="Print what would be undone; change nothing.")
@click.option("--district", "slug", default=None,
              help="Refuse unless the batch is this district's.")  # fmt: skip
@reported
def batch_rollback(batch_id: str, cascade: bool, dry_run: bool, slug: str | None) -> None:
    """Put the district's tables back as they were before the applied batch BATCH_ID,
    in one transaction, logging compensating changes. The district's next batch is
    then held for review."""
    from roster_pipeline import rollback

    with opened_home() as home:
        if dry_run:
            plan = rollback.plan_rollback(home, batch_id, cascade=cascade, district=slug)
        else:
            plan = rollback.rollback(home, batch_id, cascade=cascade, district=slug)
    verb = "would roll back" if dry_run else "rolled back"
    for undone in plan.undone:
        click.echo(f"{verb} {undone.batch.batch_id} ({plan.district}): {undone.describe()}")
    if not dry_run:
        click.echo(f"the next batch of {plan.district} will be held for review")


@click.command("history")
@click.argument("slug")
@click.argument("key")
@click.option("--table", default=None,
              help="users, classes, schools, enrollments or class_teachers (default: the first"
                   " of users, classes, schools that knows KEY).")  # fmt: skip
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
@reported
def history_cmd(slug: str, key: str, table: str | None, as_json: bool) -> None:
    """Every batch that touched KEY (a user's or class's ID, or a fragment of a name)
    in district SLUG: fields changed (old -> new), deletions, rollbacks, rejects."""
    from roster_pipeline import history
    from roster_pipeline.render import timeline

    with opened_home() as home:
        found = history.timeline(home, slug, key, table)
    if as_json:
        echo_json(timeline.to_json(found))
    else:
        click.echo(timeline.render_text(found), nl=False)


#: What this module adds to `roster` (the rollback joins `roster batch`).
COMMANDS = (history_cmd,)
