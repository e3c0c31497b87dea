"""The pipeline: the one place where the stages are composed.

``evaluate`` runs unpack → parse → validate → plan and concludes an Outcome
without writing anything; ``process`` records it (reports on disk, one database
transaction) for a district; ``check`` evaluates without a district's data.
"""

from __future__ import annotations

import logging
import secrets
import shutil
import tempfile
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

import polars as pl

from roster_pipeline import events, rollback
from roster_pipeline.config import Settings
from roster_pipeline.context import Context, context_for
from roster_pipeline.contracts import rejects
from roster_pipeline.contracts.specs import Spec
from roster_pipeline.errors import TransientError
from roster_pipeline.home import Home
from roster_pipeline.outcome import BatchResult, Outcome, changed_rows, keyed_rejects, table_changes
from roster_pipeline.progress import Progress, no_progress
from roster_pipeline.redact import redact
from roster_pipeline.render import report
from roster_pipeline.stages import manifest
from roster_pipeline.stages.cascade import with_link_files
from roster_pipeline.stages.parse import ParsedFile, parse
from roster_pipeline.stages.plan import plan
from roster_pipeline.stages.recognise import other_contract
from roster_pipeline.stages.unpack import ReceivedFile, Unpacked, unpack
from roster_pipeline.stages.validate import Validated, validate
from roster_pipeline.store import BatchStatus, DistrictRecord, FileRecord

log = logging.getLogger(__name__)


def new_batch_id(district: str, now: datetime | None = None) -> str:
    """Sortable and readable: ``20261122T030012Z-lincoln-3fa2c1``."""
    stamp = (now or datetime.now(UTC)).strftime("%Y%m%dT%H%M%SZ")
    return f"{stamp}-{district}-{secrets.token_hex(3)}"


def evaluate(
    sources: Sequence[Path], ctx: Context, work: Path, progress: Progress = no_progress
) -> Outcome:
    """Run the stages on ``sources``; ``work`` receives extracted files."""
    progress("unpack", None)
    unpacked = unpack(sources, ctx.spec, work, ctx.limits)
    if rejects.has_fatal(unpacked.rejects):
        files = _file_records(unpacked, (), unpacked.rejects)
        warnings = _unpack_warnings(unpacked)
        return _rejected(files, unpacked.rejects, warnings, _resemblance(unpacked, ctx))
    decision = manifest.decide(unpacked.files, ctx.spec)
    unpacked = _without(unpacked, decision.ignored)
    warnings = (*_unpack_warnings(unpacked), *decision.warnings)
    if decision.rejects.height:
        found = rejects.concat([unpacked.rejects, decision.rejects])
        return _rejected(_file_records(unpacked, (), found), found, warnings)
    ctx = replace(ctx, spec=decision.spec)
    outcome = _evaluate_files(unpacked, ctx, warnings, progress)
    if outcome.plan is None or decision.mode != "delta":
        return outcome
    told = f"{outcome.message} (delta: rows the delta files do not list stay as they are)"
    return replace(outcome, mode=decision.mode, message=told)


def _without(unpacked: Unpacked, names: Sequence[str]) -> Unpacked:
    """``unpacked`` with the files ``names`` matched to no spec file (not read)."""
    if not names:
        return unpacked
    files = tuple(replace(f, file_spec=None) if f.name in names else f for f in unpacked.files)
    return replace(unpacked, files=files)


def _evaluate_files(
    unpacked: Unpacked, ctx: Context, warnings: tuple[str, ...], progress: Progress
) -> Outcome:
    """The stages after unpack, for files read as ``ctx.spec`` says."""
    last = ctx.last_hashes()
    if _is_duplicate(unpacked, last):
        files = _file_records(unpacked, (), unpacked.rejects)
        message = "every file is identical to the last loaded one; nothing to do"
        return Outcome(BatchStatus.DUPLICATE, files, unpacked.rejects, warnings, None, message)
    fresh = with_link_files(
        tuple(f for f in unpacked.matched if _must_parse(f, ctx.spec, last)), unpacked, ctx.spec
    )
    warnings += _duplicate_warnings(unpacked, fresh)
    ctx = ctx.reading_ahead(f.file_spec for f in fresh if f.file_spec)
    parsed = tuple(_parse_all(fresh, ctx, progress))
    warnings += tuple(w for p in parsed for w in p.warnings)
    progress("validate", sum(p.rows for p in parsed))
    validated = validate(parsed, ctx.spec, ctx, strict_columns=ctx.thresholds.strict_columns)
    warnings += validated.warnings
    all_rejects = keyed_rejects(rejects.concat([unpacked.rejects, validated.rejects]), validated)
    files = _file_records(unpacked, parsed, all_rejects)
    if validated.fatal:
        return _rejected(files, all_rejects, warnings, _resemblance(unpacked, ctx))
    if unpacked.unmatched and (looks := _resemblance(unpacked, ctx)):
        warnings += (looks,)
    progress("plan", sum(v.frame.height for v in validated.files.values()))
    planned = _planned(validated, ctx, files, all_rejects, warnings)
    skipped = {f.file_spec for f in unpacked.matched if f not in fresh and f.file_spec}
    return replace(planned, unchanged=_loaded_rows(ctx, skipped)) if skipped else planned


def _must_parse(f: ReceivedFile, spec: Spec, last: Mapping[str, str]) -> bool:
    """Changed files, and files whose rows the loaded tables do not hold in full: files
    the spec checks but never loads, and files with rows left out as not active or
    marked for deletion (the rows of other files naming those are left out too, not
    rejected)."""
    if not f.file_spec:
        return False
    file_spec = spec.file(f.file_spec)
    partial = bool(file_spec.leave_out) or file_spec.tombstone is not None
    return last.get(f.file_spec) != f.sha256 or not file_spec.load or partial


def _parse_all(
    files: Sequence[ReceivedFile], ctx: Context, progress: Progress
) -> Iterator[ParsedFile]:
    for f in files:
        if f.file_spec:
            progress(f"parse {f.name}", None)
            parsed = parse(
                f, ctx.spec.file(f.file_spec), ctx.encoding, ctx.positional.get(f.file_spec, ())
            )
            progress(f"parse {f.name}", parsed.rows)
            yield parsed


def _planned(
    validated: Validated,
    ctx: Context,
    files: tuple[FileRecord, ...],
    all_rejects: pl.DataFrame,
    warnings: tuple[str, ...],
) -> Outcome:
    the_plan = plan(validated, ctx.spec, ctx.current, ctx.thresholds)
    warnings += the_plan.notes
    if ctx.review or ctx.lifted:
        reasons = () if ctx.lifted else (*the_plan.hold_reasons, ctx.review)
        the_plan = replace(the_plan, hold_reasons=reasons)
    if the_plan.hold_reasons:
        message = (
            "held for approval: " + "; ".join(the_plan.hold_reasons) + ". Nothing was applied;"
            " approve with `roster batch approve` or discard it."
        )
        return Outcome(BatchStatus.HELD, files, all_rejects, warnings, the_plan, message)
    if all_rejects.height:
        rows = all_rejects.filter(pl.col("line").is_not_null()).select("file", "line").n_unique()
        message = (
            f"loaded; {rows:,} row(s) rejected (see the report): those rows were not applied,"
            " and a version of them loaded before, if any, stays as it was"
        )
        return Outcome(
            BatchStatus.LOADED_WITH_REJECTS, files, all_rejects, warnings, the_plan, message
        )
    return Outcome(BatchStatus.LOADED, files, all_rejects, warnings, the_plan, "loaded")


def _rejected(
    files: tuple[FileRecord, ...],
    all_rejects: pl.DataFrame,
    warnings: tuple[str, ...],
    hint: str = "",
) -> Outcome:
    fatal = all_rejects.filter(pl.col("code").is_in([str(c) for c in rejects.Code if c.fatal])).row(
        0, named=True
    )
    message = f"rejected: {fatal['message']}"  # stage messages say what happens next
    if hint:
        message += f" Note: {hint}."
    return Outcome(BatchStatus.REJECTED, files, all_rejects, warnings, None, message)


def _resemblance(unpacked: Unpacked, ctx: Context) -> str:
    """A hint naming the contract the batch's files look like, when it is another one."""
    found = other_contract(unpacked.files, ctx.spec)
    return found.hint() if found else ""


def _unpack_warnings(unpacked: Unpacked) -> tuple[str, ...]:
    found = []
    if unpacked.unmatched:
        found.append(
            "files that match no file of the spec were kept but not loaded: "
            + ", ".join(unpacked.unmatched)
        )
    if unpacked.ignored:
        found.append("ignored: " + ", ".join(unpacked.ignored))
    return tuple(found)


def _duplicate_warnings(unpacked: Unpacked, fresh: Sequence[ReceivedFile]) -> tuple[str, ...]:
    """Files identical to the last loaded file of their table are recorded, not reprocessed:
    their table stays as it is loaded."""
    same = [f.name for f in unpacked.matched if f not in fresh]
    if not same:
        return ()
    return ("identical to the last loaded file, not processed again: " + ", ".join(same),)


def _loaded_rows(ctx: Context, names: set[str]) -> dict[str, int]:
    """Rows loaded now for the tables of skipped duplicate files: all of them unchanged."""
    tables = {ctx.spec.file(n).table or n for n in names}  # counts are per table
    if ctx.store is None:
        return dict.fromkeys(tables, 0)
    loaded = ctx.store.table_counts(ctx.district, tables)
    return {t: loaded.get(t, 0) for t in tables}


def _is_duplicate(unpacked: Unpacked, last: dict[str, str]) -> bool:
    matched = unpacked.matched
    return bool(matched) and all(last.get(f.file_spec or "") == f.sha256 for f in matched)


def _file_records(
    unpacked: Unpacked, parsed: Sequence[ParsedFile], all_rejects: pl.DataFrame
) -> tuple[FileRecord, ...]:
    rows = {p.name: p.rows for p in parsed}
    per_file = (
        all_rejects.filter(pl.col("line").is_not_null())
        .group_by("file")
        .agg(pl.col("line").n_unique().alias("n"))
    )
    rejected = dict(per_file.iter_rows())
    return tuple(
        FileRecord(
            name=f.name,
            file_spec=f.file_spec,
            sha256=f.sha256,
            size=f.size,
            rows=rows.get(f.name, 0),
            rejected=int(rejected.get(f.name, 0)),
        )
        for f in unpacked.files
    )


def check(
    sources: Sequence[Path],
    spec_name: str,
    settings: Settings,
    district: DistrictRecord | None = None,
) -> Outcome:
    """Parse and validate only, as a district admin testing an export would.

    With ``district``, its spec and dialect apply (``spec_name`` is then unused);
    its loaded data does not: the files are judged on their own.
    """
    probe = district or DistrictRecord(slug="check", spec=spec_name)
    ctx = context_for(settings, probe, None)
    with tempfile.TemporaryDirectory(prefix="roster-check-") as work:
        outcome = evaluate(sources, ctx, Path(work))
    if outcome.status == BatchStatus.LOADED:
        return replace(outcome, message="valid: every row would load (nothing was loaded)")
    if outcome.status == BatchStatus.LOADED_WITH_REJECTS:
        rows = outcome.rejects.filter(pl.col("line").is_not_null()).select("file", "line")
        return replace(outcome, message=f"{rows.n_unique():,} row(s) would be rejected, the"
                       " others would load (nothing was loaded)")  # fmt: skip
    return outcome


def process(
    home: Home,
    district_slug: str,
    sources: Sequence[Path],
    *,
    batch_id: str | None = None,
    received_at: datetime | None = None,
    archive_raw: bool = True,
    lift_holds: bool = False,
    notes: Sequence[str] = (),
    progress: Progress = no_progress,
) -> BatchResult:
    """Run the whole pipeline for a district and record the batch.

    ``archive_raw=False``: the caller keeps the raw files itself (the service moves
    the batch folder to ``archive/<batch>/raw`` after the commit); ``sources`` are
    then its own copies, whose secret columns are blanked in place. ``lift_holds``:
    an approved batch is applied whatever its change counts. ``notes``: warnings from
    before the stages (uploads superseded by a later one of the same name).
    """
    store = home.store
    district = store.district(district_slug)
    batch_id = batch_id or new_batch_id(district.slug)
    received = received_at or datetime.now(UTC)
    ctx = context_for(home.settings, district, store)
    if lift_holds:
        # 100%: no table can lose, change or reject more than all of its rows.
        lifted = replace(
            ctx.thresholds, max_delete_pct=100.0, max_update_pct=100.0, max_reject_pct=100.0
        )
        ctx = replace(ctx, thresholds=lifted, lifted=True)
    else:
        ctx = replace(ctx, review=rollback.review_reason(home, district.slug))
    archive = home.folder("archive", batch_id)
    if archive_raw:
        _keep_raw(sources, archive / "raw")
    # Secret columns (1.2 passwords) never reach the archive: the copy just made, or the
    # service's own copy of the upload, which it moves there (archive_raw=False).
    redact([archive / "raw"] if archive_raw else sources, ctx.spec)
    with tempfile.TemporaryDirectory(dir=home.folder("work"), prefix=f"{batch_id}-") as work:
        outcome = _evaluate_guarded(sources, ctx, Path(work), batch_id, progress)
    batch = outcome.record(batch_id, district.slug, received, sources, notes)
    progress("report", outcome.rejects.height)
    batch = replace(batch, report_path=str(report.write_all(batch, outcome.rejects, archive)))
    applied = outcome.plan if outcome.status.applied else None
    progress("apply", changed_rows(applied))
    store.save_batch(batch, outcome.rejects, table_changes(applied) if applied else None)
    events.batch_finished(home, batch)
    log.info("batch %s for %s: %s", batch_id, district.slug, outcome.message)
    return BatchResult(batch=batch, rejects=outcome.rejects, plan=outcome.plan)


def _evaluate_guarded(
    sources: Sequence[Path], ctx: Context, work: Path, batch_id: str, progress: Progress
) -> Outcome:
    """Evaluate; a bug of ours on some input ends as a rejected batch, not a crash.

    The raw files are already archived, so the batch can be reprocessed once fixed.
    Database trouble (TransientError) is not caught: the batch must be retried.
    """
    try:
        return evaluate(sources, ctx, work, progress)
    except TransientError:
        raise
    except Exception as exc:
        log.exception("batch %s: internal error while evaluating", batch_id)
        problem = rejects.one(
            ", ".join(p.name for p in sources),
            rejects.Code.INTERNAL,
            f"the pipeline failed on this batch ({type(exc).__name__}: {exc}); ops have been"
            " told and will reprocess it once fixed.",
        )
        return _rejected((), problem, ())


def _keep_raw(sources: Sequence[Path], target: Path) -> None:
    """Archive the files exactly as received, so a batch can be reprocessed."""
    target.mkdir(parents=True, exist_ok=True)
    for source in sources:
        if source.is_dir():
            shutil.copytree(source, target / source.name, dirs_exist_ok=True)
        else:
            shutil.copy2(source, target / source.name)
