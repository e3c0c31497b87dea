"""Lookups: columns a file takes from another file's rows naming its key.

OneRoster 1.2 moved a user's role out of users.csv into roles.csv (one row per
role and org, ``roleType`` primary or secondary). A lookup fills ``users.role``
from the checked rows of roles.csv naming the user, preferred rows first (the
primary role): the users file is then checked and loaded like any other. A user
no row names keeps the value sent, if any (none in 1.2): empty, it is not loaded.
"""

from __future__ import annotations

import polars as pl

from roster_pipeline.contracts.specs import FileSpec

_PREFERRED = "__lookup_preferred__"


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
        source.with_columns(first.fill_null(value=False).alias(_PREFERRED))
        .sort(_PREFERRED, descending=True, maintain_order=True)
        .select(
            pl.col(lk.on).alias(key), *(pl.col(lk.columns[m]).alias(t) for m, t in taken.items())
        )
        .drop_nulls(key)
        .unique(key, keep="first", maintain_order=True)
    )
    joined = frame.join(pairs, on=key, how="left", maintain_order="left")
    filled = [pl.coalesce(pl.col(t), pl.col(m)).alias(m) for m, t in taken.items()]
    return joined.with_columns(filled).drop(list(taken.values()))


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
        f"{name}: {empty.height:,} row(s) have no {' or '.join(lk.columns)} in {lk.file}"
        f" (e.g. {shown}): they are not loaded, and rows naming them are rejected"
    )
