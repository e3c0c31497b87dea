"""History: a table as of a batch, and the timeline of one person or class.

``as_of`` gives a district's table exactly as it stood after a batch: the
loaded rows with every later write (batches applied, batches rolled back)
undone from its before-images, newest first. ``timeline`` lists every batch
that touched a key (a user's or class's own row, and the enrollments and
teacher links naming it) with the fields that changed, old -> new, and the
rejects that named it; ``find`` turns a name fragment into keys.
"""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import datetime

import polars as pl

from roster_pipeline.errors import ConflictError, NotFoundError
from roster_pipeline.home import Home
from roster_pipeline.render.timeline import Change, Rejected, Timeline
from roster_pipeline.sources import is_pulled
from roster_pipeline.store import BatchRecord, ChangeSpan, roster_table

#: Tables a key is looked up in when none is named, in this order.
OWN_TABLES = ("users", "classes", "schools")
#: Link tables naming a user or a class: (table, position of the id in its key).
_LINKS = {
    "users": (("enrollments", 1), ("class_teachers", 1)),
    "classes": (("enrollments", 0), ("class_teachers", 0)),
}


def as_of(home: Home, slug: str, batch_id: str, table: str) -> pl.DataFrame:
    """The district's ``table`` (every column, String) as it stood after ``batch_id``."""
    store = home.store
    batch = store.batch(batch_id)
    if batch.district != slug:
        raise ConflictError(f"batch {batch.batch_id} belongs to {batch.district}, not {slug}")
    spans = store.versions().spans(slug)
    mine = [s for s in spans if s.batch_id == batch.batch_id and s.kind != "rollback"]
    if not mine:
        raise ConflictError(
            f"batch {batch.batch_id} is {batch.status}: it applied nothing, so the tables never"
            " stood 'after' it; name the applied batch before it (see `roster batches`)"
        )
    later = [s for s in spans if s.span_id > mine[-1].span_id]
    stored = roster_table(table)
    frame = store.versions().as_of(slug, table, later)
    return frame.select(stored.columns).sort(list(stored.key))


def find(home: Home, slug: str, fragment: str) -> list[tuple[str, str, str]]:
    """(table, key, label) of the users and classes whose key is ``fragment`` or whose
    name or e-mail contains it (case-insensitive), loaded now."""
    store = home.store
    store.district(slug)
    found = []
    needle = fragment.lower()
    for table, names in (
        ("users", ("first_name", "last_name", "email")),
        ("classes", ("class_name",)),
    ):
        key = roster_table(table).key[0]
        frame = store.snapshot(slug, table, (key, *names))
        text = pl.concat_str([pl.col(n).fill_null("") for n in names], separator=" ")
        hits = frame.filter(
            (pl.col(key) == fragment) | text.str.to_lowercase().str.contains(needle, literal=True)
        )
        found += [
            (table, str(r[0]), " ".join(str(v) for v in r[1:] if v)) for r in hits.iter_rows()
        ]
    return found


def timeline(home: Home, slug: str, key: str, table: str | None = None) -> Timeline:
    """Every batch that touched ``key`` in ``table`` (default: the first of users,
    classes and schools that knows it; else a name fragment), oldest first."""
    store = home.store
    store.district(slug)
    tables = (table,) if table else OWN_TABLES
    for name in tables:
        roster_table(name)
        if _known(home, slug, name, key):
            return _timeline(home, slug, name, key)
    if table is None:
        matches = find(home, slug, key)
        if len(matches) == 1:
            found = _timeline(home, slug, matches[0][0], matches[0][1])
            return replace(found, found_by=f"{key!r}: {matches[0][2]}")
        if matches:
            shown = "; ".join(f"{t} {k} ({label})" for t, k, label in matches[:10])
            more = f" and {len(matches) - 10} more" if len(matches) > 10 else ""
            raise ConflictError(
                f"{key!r} matches {len(matches)} rows of {slug}: {shown}{more}; name one by its key"
            )
    where = f"table {table}" if table else ", ".join(OWN_TABLES)
    raise NotFoundError(
        f"district {slug} has no {key!r} in {where}, now or in its change log, and no name"
        " containing it"
    )


def _known(home: Home, slug: str, table: str, key: str) -> bool:
    versions = home.store.versions()
    return (
        bool(versions.key_changes(slug, table, key).height)
        or _current(home, slug, table, key) is not None
    )


def _current(home: Home, slug: str, table: str, key: str) -> dict[str, str | None] | None:
    return home.store.versions().row(slug, table, key)


def _timeline(home: Home, slug: str, table: str, key: str) -> Timeline:
    versions = home.store.versions()
    spans = versions.spans(slug)
    changes = list(_changes(home, slug, table, key, spans))
    for link, position in _LINKS.get(table, ()):
        for link_key in _link_keys(home, slug, link, position, key):
            changes += _changes(home, slug, link, link_key, spans)
    order = {s.span_id: i for i, s in enumerate(spans)}
    changes.sort(key=lambda c: (order.get(c[0], -1), c[1].at))
    return Timeline(
        district=slug,
        table=table,
        key=key,
        current=_current(home, slug, table, key),
        changes=tuple(c for _, c in changes),
        rejects=tuple(_rejects(home, slug, key)),
    )


def _link_keys(home: Home, slug: str, table: str, position: int, key: str) -> list[str]:
    """Keys of the link rows naming ``key`` at ``position``, loaded now or ever changed."""
    return home.store.versions().link_keys(slug, table, position, key)


def _changes(
    home: Home, slug: str, table: str, key: str, spans: list[ChangeSpan]
) -> list[tuple[int, Change]]:
    """The key's changes with their spans and field differences, oldest first."""
    versions = home.store.versions()
    rows = versions.key_changes(slug, table, key)
    placed = []
    for row in rows.iter_rows(named=True):
        span = next(
            (
                s
                for s in spans
                if s.batch_no == row["batch_no"]
                and s.first_change <= row["change_id"] <= s.last_change
            ),
            None,
        )
        if span is not None:
            placed.append((span, row))
    placed.sort(key=lambda p: (p[0].span_id, p[1]["change_id"]))
    current = _current(home, slug, table, key)
    stored = roster_table(table)
    values = [c for c in stored.columns if c not in stored.key]
    batches: dict[str, BatchRecord] = {}
    out = []
    for i, (span, row) in enumerate(placed):
        before = _image(row["before"])
        after = _image(placed[i + 1][1]["before"]) if i + 1 < len(placed) else current
        if row["op"] == "deleted":
            after = None
        if span.batch_id not in batches:
            batches[span.batch_id] = home.store.batch(span.batch_id)
        batch = batches[span.batch_id]
        fields = tuple(
            (c, (before or {}).get(c), (after or {}).get(c))
            for c in values
            if (before or {}).get(c) != (after or {}).get(c)
        )
        change = Change(
            span.at,
            span.batch_id,
            str(batch.status),
            table,
            key,
            str(row["op"]),
            span.kind == "rollback",
            fields,
        )
        out.append((span.span_id, change))
    return out


def _image(text: str | None) -> dict[str, str | None] | None:
    if text is None:
        return None
    image: dict[str, str | None] = json.loads(text)
    image.pop("batch_no", None)
    return image


def _rejects(home: Home, slug: str, key: str) -> list[Rejected]:
    """Rejects of the key's own rows (the loaded version stayed) and of rows naming it."""
    frame = home.store.versions().rejects_naming(slug, key)
    return [
        Rejected(datetime.fromisoformat(r["at"]), r["batch_id"], r["file"] or "", r["line"],
                 r["column"] or "", r["code"], r["message"], own=bool(r["own"]),
                 key=r["key"], pulled=is_pulled(r["source"] or ""))
        for r in frame.iter_rows(named=True)
    ]  # fmt: skip
