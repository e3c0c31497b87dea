"""Human-readable renderings of a spec: `roster spec show` and the onboarding guide.

Generated from the Spec dataclasses, so what districts read never disagrees
with what the validator enforces.
"""

from __future__ import annotations

from roster_pipeline.specs import FORMATS, ColumnSpec, FileSpec, Spec

__all__ = ["column_rules", "describe_spec"]


def column_rules(column: ColumnSpec) -> str:
    """One line of rules for a column, e.g. 'required; 1 to 64 letters ...; unique'."""
    rules = ["required" if column.required else "optional"]
    if column.format:
        rules.append(FORMATS[column.format][1])
    elif column.pattern:
        rules.append(f"matches {column.pattern}")
    if column.values:
        rules.append("one of " + ", ".join(column.values) + " (any case)")
    if column.max_length:
        rules.append(f"at most {column.max_length} characters")
    if column.references:
        ref = column.references
        target = f"{ref.file}.{ref.column}"
        where = "".join(f" whose {k} is {v}" for k, v in ref.where.items())
        rules.append(f"must name a row of {target}{where}")
    if column.aliases:
        rules.append("also accepted as: " + ", ".join(column.aliases))
    return "; ".join(rules)


def _describe_file(f: FileSpec) -> list[str]:
    need = "required" if f.required else "optional"
    key = ", ".join(f.key)
    lines = [
        f"## {f.name} ({need})",
        f"File names: {', '.join(f.match)} (any case; loose or inside a zip).",
        f"Unique key: {key}" + (" (the combination)" if len(f.key) > 1 else ""),
    ]
    if f.description:
        lines.append(f.description)
    lines += [f"- {c.name}: {column_rules(c)}" for c in f.columns]
    return [*lines, ""]


def describe_spec(spec: Spec) -> str:
    """The contract in human terms (Markdown)."""
    lines = [f"# {spec.title} (`{spec.name}`)", ""]
    if spec.description:
        lines += [spec.description, ""]
    lines += [
        f"Encoding {spec.encoding.upper()} (a byte-order mark is fine). Comma, tab, pipe or",
        "semicolon separated; header row first. Headers may carry PowerSchool table",
        "prefixes (CC.ID, [1]Student_Number) and any case. Extra columns are ignored.",
        "",
    ]
    for f in spec.files:
        lines += _describe_file(f)
    return "\n".join(lines)
