"""Lookups: columns a file takes from other files' rows.

OneRoster 1.2 moved a user's role out of users.csv into roles.csv (one row per
role and org, ``roleType`` primary or secondary). A lookup fills ``users.role``
and ``users.school`` from ONE checked row of roles.csv naming the user: a primary
role first, among several the one whose org is the user's ``primaryOrgSourcedId``
(``match``); the users file is then checked and loaded like any other. A user no
row names keeps the value sent, if any (none in 1.2): empty, it is not loaded. A
``primaryOrgSourcedId`` naming none of the user's roles' orgs rejects the user.

OneRoster 1.1 lists a user's orgs in ``orgSourcedIds``: ``first_of`` takes the
first of them its reference accepts (an org of type school) as the user's school;
a looked-up school is kept the same way, only when it is a school.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import polars as pl

from roster_pipeline.contracts import rejects
from roster_pipeline.contracts.rejects import Code
from roster_pipeline.contracts.specs import FileSpec, Reference, Spec
from roster_pipeline.stages.set_rules import Target, reject_rows

_PREFERRED = "__lookup_preferred__"
_AGREES = "__lookup_agrees__"
_HELD = "__lookup_held__"


def looked_up(
    frame: pl.DataFrame, file_spec: FileSpec, source: pl.DataFrame | None
) -> pl.DataFrame:
    """``frame`` with the lookup's columns filled from ``source`` (the other file's
    valid rows, String columns); unchanged without a lookup or a source."""
    lk = file_spec.lookup
    if lk is None or source is None or not source.height:
        return frame
    key = file_spec.key[0]
    preferred = [pl.col(c).str.to_lowercase() == v.lower() for c, v in lk.prefer.items()]
    first = pl.all_horizontal(preferred) if preferred else pl.lit(value=True)
    taken = {mine: f"__lookup_{mine}__" for mine in lk.columns}
    pairs = (
        _agreeing(source, frame, file_spec)
        .with_columns(first.fill_null(value=False).alias(_PREFERRED))
        .sort(_PREFERRED, _AGREES, descending=True, maintain_order=True)
        .select(
            pl.col(lk.on).alias(key), *(pl.col(lk.columns[m]).alias(t) for m, t in taken.items())
        )
        .drop_nulls(key)
        .unique(key, keep="first", maintain_order=True)
    )
    joined = frame.join(pairs, on=key, how="left", maintain_order="left")
    filled = [pl.coalesce(pl.col(t), pl.col(m)).alias(m) for m, t in taken.items()]
    return joined.with_columns(filled).drop(list(taken.values()))


def _agreeing(source: pl.DataFrame, frame: pl.DataFrame, file_spec: FileSpec) -> pl.DataFrame:
    """``source`` with ``_AGREES``: whether the row agrees with the ``match`` columns of
    the ``frame`` row it names (its org is the user's primaryOrgSourcedId)."""
    lk = file_spec.lookup
    if lk is None or not lk.match:
        return source.with_columns(pl.lit(value=False).alias(_AGREES))
    key = file_spec.key[0]
    mine = {m: f"__lookup_match_{m}__" for m in lk.match.values()}
    theirs = frame.select(
        pl.col(key).alias(lk.on), *(pl.col(m).alias(t) for m, t in mine.items())
    ).unique(lk.on, keep="first")
    same = [pl.col(o) == pl.col(mine[m]) for o, m in lk.match.items()]
    joined = source.join(theirs, on=lk.on, how="left", maintain_order="left")
    agrees = pl.all_horizontal(same).fill_null(value=False).alias(_AGREES)
    return joined.with_columns(agrees).drop(list(mine.values()))


def outside(
    name: str, file_spec: FileSpec, frame: pl.DataFrame, source: pl.DataFrame | None
) -> pl.DataFrame:
    """Rejects for rows whose ``match`` column names what none of the other file's rows
    naming them holds (a primaryOrgSourcedId none of the user's roles is at). ``source``:
    the other file in full (bulk), else None: a delta of roles lists some roles only,
    so nothing is checked then."""
    lk = file_spec.lookup
    if lk is None or not lk.match or source is None or not source.height:
        return rejects.empty()
    key = file_spec.key[0]
    found = []
    for other, mine in lk.match.items():
        held = (
            source.select(pl.col(lk.on).alias(key), pl.col(other).alias(_HELD))
            .drop_nulls()
            .group_by(key)
            .agg(pl.col(_HELD).unique().sort())
        )
        bad = (
            frame.filter(pl.col(mine).is_not_null())
            .join(held, on=key, how="inner")
            .filter(~pl.col(_HELD).list.contains(pl.col(mine)))
        )
        body = pl.concat_str(
            pl.lit(f"{mine} '"),
            pl.col(mine),
            pl.lit(f"' is not the {other} of any of "),
            pl.col(key),
            pl.lit(f"'s rows in the {lk.file} file ("),
            pl.col(_HELD).list.join(", "),
            pl.lit(f"); the row is rejected: correct {mine}, or send the {lk.file} row at it"),
        )
        code = pl.lit(str(Code.REFERENCE_MISMATCH))
        found.append(
            reject_rows(bad, name, column=pl.lit(mine), value=pl.col(mine), code=code, body=body)
        )
    return rejects.concat(found)


def first_named(
    frame: pl.DataFrame,
    file_spec: FileSpec,
    spec: Spec,
    target_of: Callable[[Reference], Target | None],
    loaded_of: Callable[[FileSpec, Sequence[str]], pl.DataFrame | None],
) -> pl.DataFrame:
    """Columns not sent but taken (``first_of`` a list column, or from a lookup) keep only
    what their reference accepts: the first item of the list it accepts, a looked-up
    value only if accepted (a role at the district org gives no school). When nothing
    of the referenced file is known the first item is taken."""
    taken = file_spec.lookup.columns if file_spec.lookup else {}
    for column in file_spec.columns:
        ref = column.references
        if ref is None or not (column.first_of or column.name in taken):
            continue
        sent = pl.col(column.first_of or column.name)
        items = sent.str.split(",").list.eval(pl.element().str.strip_chars())
        accepted = _accepted(ref, spec.file(ref.file), target_of(ref), loaded_of)
        if accepted is None:
            chosen = items.list.first()
        else:
            chosen = items.list.eval(pl.element().filter(pl.element().is_in(accepted))).list.first()
        frame = frame.with_columns(chosen.alias(column.name))
    return frame


def _accepted(
    ref: Reference,
    referenced: FileSpec,
    target: Target | None,
    loaded_of: Callable[[FileSpec, Sequence[str]], pl.DataFrame | None],
) -> list[str] | None:
    """The values ``ref`` accepts: tonight's rows meeting its ``where``, and, unless
    tonight's file is the full list, the loaded rows when the file loads only rows
    meeting it (every loaded org is a school) and tonight does not delete them. None:
    nothing known."""
    found: list[str] | None = None
    if target is not None:
        holds = [pl.col(c).str.to_lowercase() == v.lower() for c, v in ref.where.items()]
        found = target.valid.filter(*holds)[ref.column].cast(pl.String).to_list()
    narrowed = all(
        [x.lower() for x in referenced.load_where.get(c, ())] == [v.lower()]
        for c, v in ref.where.items()
    )
    if narrowed and (target is None or referenced.mode == "delta"):
        loaded = loaded_of(referenced, (ref.column,))
        if loaded is not None:
            gone = set()
            if target is not None and ref.column in target.left_out.columns:
                gone = set(target.left_out[ref.column].cast(pl.String).to_list())
            kept = [v for v in loaded[ref.column].cast(pl.String).to_list() if v not in gone]
            found = [*(found or []), *kept]
    return found


def kept_from_loaded(
    frame: pl.DataFrame, file_spec: FileSpec, loaded: pl.DataFrame | None
) -> pl.DataFrame:
    """Lookup columns still empty take the loaded row's value: a 1.2 delta changing a
    user's e-mail without a roles row keeps the role loaded before. ``loaded``: the
    file's key and lookup columns under the file's names, or None."""
    lk = file_spec.lookup
    if lk is None or loaded is None or not loaded.height:
        return frame
    key = file_spec.key[0]
    taken = {mine: f"__loaded_{mine}__" for mine in lk.columns}
    before = loaded.select(
        pl.col(key).cast(pl.String), *(pl.col(m).cast(pl.String).alias(t) for m, t in taken.items())
    )
    joined = frame.join(before.unique(key, keep="first"), on=key, how="left", maintain_order="left")
    filled = [pl.coalesce(pl.col(m), pl.col(t)).alias(m) for m, t in taken.items()]
    return joined.with_columns(filled).drop(list(taken.values()))


def unmatched(name: str, file_spec: FileSpec, frame: pl.DataFrame) -> str | None:
    """A warning naming how many rows no lookup row filled (1.2 users without roles):
    they are checked, and loaded only if their value came otherwise."""
    lk = file_spec.lookup
    if lk is None or not frame.height:
        return None
    empty = frame.filter(pl.all_horizontal([pl.col(c).is_null() for c in lk.columns]))
    if not empty.height:
        return None
    shown = ", ".join(empty[file_spec.key[0]].drop_nulls().head(5).to_list())
    return (
        f"{name}: {empty.height:,} row(s) have no row in {lk.file} to give their"
        f" {' and '.join(lk.columns)}"
        f" (e.g. {shown}): they are not loaded, and rows naming them are rejected"
    )
