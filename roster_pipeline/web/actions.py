"""What operators do from the console, each checked against their role and audited.

An action is named by a word (``approve``, ``pause``...) and acts on a batch or a
district through the core API (``operations``, ``districts``); the console only
adds who may do it, what it will change (for the confirmation) and the audit line.
Roll back is offered on an applied batch; its confirmation says what it undoes.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from roster_pipeline import districts, operations
from roster_pipeline.errors import ConflictError
from roster_pipeline.home import Home
from roster_pipeline.operators import Login, Role, audit, require
from roster_pipeline.store import BatchRecord, BatchStatus
from roster_pipeline.web.models import ActionResult


@dataclass(frozen=True)
class _Action:
    role: Role
    run: Callable[[Home, str], Any]


BATCH_ACTIONS: dict[str, _Action] = {
    "approve": _Action(Role.OPERATOR, operations.approve),
    "discard": _Action(Role.OPERATOR, operations.discard),
    "reprocess": _Action(Role.OPERATOR, operations.reprocess),
    "rollback": _Action(Role.OPERATOR, operations.rollback),
}
DISTRICT_ACTIONS: dict[str, _Action] = {
    "pause": _Action(Role.OPERATOR, lambda h, s: operations.configure(h, s, {}, paused=True)),
    "resume": _Action(Role.OPERATOR, lambda h, s: operations.configure(h, s, {}, paused=False)),
    "disable": _Action(Role.ADMIN, lambda h, s: districts.set_enabled(h, s, False).district),
    "enable": _Action(Role.ADMIN, lambda h, s: districts.set_enabled(h, s, True).district),
}


def batch_actions(batch: BatchRecord) -> list[str]:
    """What can be done to the batch in its state."""
    found = []
    if batch.status == BatchStatus.HELD:
        found += ["approve", "discard"]
    if batch.status.finished:
        found.append("reprocess")
    if batch.status.applied:
        found.append("rollback")
    return found


def district_actions(paused: bool, enabled: bool) -> list[str]:
    return ["resume" if paused else "pause", "disable" if enabled else "enable"]


def confirmation(batch: BatchRecord, action: str) -> str:
    """What the action will change, in counts, for the confirmation page."""
    rows = sum(f.rows for f in batch.files)
    planned = "; ".join(
        f"{t}: {c.added:,} added, {c.updated:,} updated, {c.deleted:,} deleted"
        for t, c in batch.counts.items()
    )
    what = {
        "approve": f"Apply the held batch, planned again against what is loaded now ({planned}).",
        "discard": f"Drop the held batch: none of its {rows:,} rows is applied ({planned}).",
        "reprocess": f"Run the batch's {len(batch.files)} archived file(s), {rows:,} rows, again"
        " as a new batch.",
        "rollback": f"Undo what the batch applied ({planned}): every row back as it was"
        " before it, compensating changes logged; the district's next batch is held for review.",
    }
    return what[action]


def run_batch_action(home: Home, login: Login, action: str, batch_id: str) -> ActionResult:
    chosen = BATCH_ACTIONS.get(action)
    if chosen is None:
        raise ConflictError(f"there is no batch action {action!r}")
    require(login.role, chosen.role, f"{action} of a batch")
    batch = home.store.batch(batch_id)
    if action not in batch_actions(batch):
        done = {"rollback": "rolled back"}.get(action, f"{action}d")
        raise ConflictError(f"batch {batch_id} is {batch.status}; it cannot be {done} now")
    result = chosen.run(home, batch_id)
    status = str(getattr(result, "status", ""))
    audit(home, login.operator, f"batch_{action}", batch=batch_id, district=batch.district,
          result=status)  # fmt: skip
    message = str(getattr(result, "message", ""))
    return ActionResult(target=batch_id, action=action, status=status, message=message)


def run_district_action(home: Home, login: Login, action: str, slug: str) -> ActionResult:
    chosen = DISTRICT_ACTIONS.get(action)
    if chosen is None:
        raise ConflictError(f"there is no district action {action!r}")
    require(login.role, chosen.role, f"{action} of a district")
    home.store.district(slug)
    record = chosen.run(home, slug)
    state = "disabled" if not record.enabled else "paused" if record.paused else "active"
    audit(home, login.operator, f"district_{action}", district=slug, result=state)
    return ActionResult(target=slug, action=action, status=state, message=f"{slug} is {state}")
