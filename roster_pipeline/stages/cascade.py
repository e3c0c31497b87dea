"""Cascade: a plan that deletes a user or a class deletes the rows naming it too.

Contract (part of stage 4, called by ``plan``):

``cascade(tables, keys_of) -> Cascaded``

Deleting a user deletes its enrollments and teacher links; deleting a class
deletes its enrollments and teacher links, in the same plan: they are added to
the link table's deleted rows (a table the batch did not send joins the plan
with deletions only), so they are counted, logged and weighed by the hold
thresholds like any other deletion. A loaded class whose primary teacher would
be deleted (and which the batch does not give another) cannot be fixed by a
deletion: the plan is held instead. Never a dangling reference.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

import polars as pl

from roster_pipeline.contracts.specs import Spec
from roster_pipeline.stages.unpack import ReceivedFile, Unpacked

#: The link tables and their keys.
LINK_KEYS: Mapping[str, tuple[str, ...]] = {
    "enrollments": ("class_id", "student_id"),
    "class_teachers": ("class_id", "user_id"),
}
#: Deleting a row of the table (by its one-column key) deletes the link rows whose
#: column names it.
LINKS: Mapping[str, tuple[tuple[str, str], ...]] = {
    "users": (("enrollments", "student_id"), ("class_teachers", "user_id")),
    "classes": (("enrollments", "class_id"), ("class_teachers", "class_id")),
}
_WORDS = {"enrollments": "enrollment(s)", "class_teachers": "teacher link(s)"}

#: The loaded values of a table's columns (String).
KeysOf = Callable[[str, tuple[str, ...]], pl.DataFrame]


@dataclass(frozen=True)
class Cascaded:
    extra: dict[str, pl.DataFrame] = field(default_factory=dict)  # link table -> keys to delete
    loaded: dict[str, int] = field(default_factory=dict)  # link table -> rows loaded
    notes: tuple[str, ...] = ()  # what was deleted with what, for the batch's warnings
    hold_reasons: tuple[str, ...] = ()  # references a deletion cannot settle


def cascade(
    deleted: Mapping[str, pl.DataFrame], updated: Mapping[str, pl.DataFrame], keys_of: KeysOf
) -> Cascaded:
    """The link rows naming the deleted users and classes that the plan does not delete
    yet. ``deleted`` / ``updated``: the plan's key frames per table."""
    extra: dict[str, pl.DataFrame] = {}
    loaded: dict[str, int] = {}
    notes = []
    for parent, links in LINKS.items():
        gone = deleted.get(parent)
        if gone is None or not gone.height:
            continue
        ids = gone[gone.columns[0]].cast(pl.String).implode()
        found = []
        for link, column in links:
            key = LINK_KEYS[link]
            rows = keys_of(link, key)
            loaded[link] = rows.height
            named = rows.filter(pl.col(column).is_in(ids))
            for already in (deleted.get(link), extra.get(link)):
                if already is not None:
                    named = named.join(already.select(pl.col(key).cast(pl.String)), on=list(key),
                                       how="anti")  # fmt: skip
            if named.height:
                extra[link] = pl.concat([f for f in (extra.get(link), named) if f is not None])
                found.append(f"{named.height:,} {_WORDS[link]}")
        if found:
            notes.append(
                f"{parent}: deleting {gone.height:,} row(s) also deletes the "
                + " and ".join(found)
                + " naming them (in this batch, counted in its deletions)"
            )
    return Cascaded(extra, loaded, tuple(notes), _orphaned_classes(deleted, updated, keys_of))


def _orphaned_classes(
    deleted: Mapping[str, pl.DataFrame], updated: Mapping[str, pl.DataFrame], keys_of: KeysOf
) -> tuple[str, ...]:
    """Loaded classes the batch keeps whose primary teacher it deletes."""
    users = deleted.get("users")
    if users is None or not users.height:
        return ()
    ids = users[users.columns[0]].cast(pl.String).implode()
    classes = keys_of("classes", ("class_id", "teacher_id")).filter(pl.col("teacher_id").is_in(ids))
    for changed in (deleted.get("classes"), updated.get("classes")):
        if changed is not None:
            gone = changed.select(pl.col("class_id").cast(pl.String))
            classes = classes.join(gone, on="class_id", how="anti")
    if not classes.height:
        return ()
    shown = ", ".join(classes["class_id"].head(5).to_list())
    return (
        f"classes: {classes.height:,} class(es) ({shown}) would keep a primary teacher this"
        " batch deletes; send the classes with their new teachers, or approve to keep them",
    )


def with_link_files(
    fresh: tuple[ReceivedFile, ...], unpacked: Unpacked, spec: Spec
) -> tuple[ReceivedFile, ...]:
    """With changed users or classes, the files that fill only link tables too (the
    enrollments), identical to the last ones or not: a deleted user's enrollments
    go with it, and come back with it only if that file is read again."""
    tables = {d.table for f in fresh if f.file_spec for d in spec.file(f.file_spec).feeds}
    if not tables & set(LINKS):
        return fresh
    return tuple(
        f for f in unpacked.matched
        if f in fresh
        or (f.file_spec and {d.table for d in spec.file(f.file_spec).feeds} <= set(LINK_KEYS))
    )  # fmt: skip
