"""Human-readable renderings of a spec: `roster spec show` and the onboarding guide.

Generated from the Spec dataclasses, so what districts read never disagrees
with what the validator enforces. The onboarding guide is Markdown (written
with every spec-derived text escaped) and turned into one self-contained HTML
page by markdown-it with raw HTML disabled.
"""

from __future__ import annotations

import html
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from roster_pipeline.contracts.dialects import CsvDialect
from roster_pipeline.contracts.rejects import Code
from roster_pipeline.contracts.specs import FORMATS, ColumnSpec, FileSpec, Spec
from roster_pipeline.render.markdown import code, md, para
from roster_pipeline.render.page import page
from roster_pipeline.render.pull_guide import api_sections
from roster_pipeline.render.report_html import CODE_ADVICE


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
    if column.unique:
        rules.append("unique")
    if column.aliases:
        rules.append("also accepted as: " + ", ".join(column.aliases))
    return "; ".join(rules)


def loading(f: FileSpec) -> str:
    """Where a file's rows end up, in one sentence."""
    if not f.load:
        return "Checked and used to check references; not loaded."
    where = " and ".join(f"whose {c} is {' or '.join(v)}" for c, v in f.load_where.items())
    renamed = [f"{c.name} as {c.target}" for c in f.loaded_columns if c.target != c.name]
    return (
        f"Loaded into the {f.table} table"
        + (f" (rows {where})" if where else "")
        + (f"; {', '.join(renamed)}" if renamed else "")
        + "."
    )


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
    if not f.load or f.load_where or f.table != f.name:
        lines.append(loading(f))
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


# -- the district onboarding guide ------------------------------------------------


@dataclass(frozen=True)
class GuideInput:
    """What the guide is generated from: the district's account and its contract."""

    connection: Mapping[str, Any]  # districts.connection_info()
    spec: Spec  # the district's effective spec (its dialect applied)
    dialect: CsvDialect
    source: Mapping[str, Any] = field(default_factory=dict)  # districts.source_info()


def onboarding_guide(data: GuideInput) -> str:
    """The document a district admin follows to set up PowerSchool (Markdown)."""
    c = data.connection
    if data.source.get("kind") == "powerschool-api":
        return _pulled_guide(data)
    parts = [
        f"# Sending your roster to us: {md(c['name'])}",
        "",
        "This guide sets up a nightly, automatic export of your roster from PowerSchool to"
        " our SFTP server. It takes about 30 minutes. It is generated from the file"
        " specification our checks use, so what it says is exactly what is checked.",
        "",
        *_connection(data),
        *_remote_connection(c),
        *_exports(data),
        *_testing(c),
        *_file_specification(data),
        *_problems(),
    ]
    return "\n".join(parts) + "\n"


def _pulled_guide(data: GuideInput) -> str:
    """A district we pull from: the plugin instead of a connection and exports."""
    c = data.connection
    parts = [
        f"# Sharing your roster with us: {md(c['name'])}",
        "",
        "This guide lets us read your roster from PowerSchool every night through its API,"
        " with a plugin you install and approve; nothing is exported or sent by you. It"
        " takes about 15 minutes. What we read is checked against the file specification"
        " in section 5, exactly as an export would be.",
        "",
        *api_sections(c, data.source),
        *_file_specification(data),
        *_problems(),
    ]
    return "\n".join(parts) + "\n"


def _connection(data: GuideInput) -> list[str]:
    c = data.connection
    methods = {"password": "password", "publickey": "public key (SSH key pair)"}
    if "password" in c:
        password = f"{code(c['password'])} (new: the previous password no longer works)"
    elif "password" in c["authentication"]:
        password = "sent to you separately (we keep no readable copy)"
    else:
        password = "none: this account logs in with a key only"
    rows = [
        ("Protocol", "SFTP"),
        ("Host", md(c["host"])),
        ("Port", str(c["port"])),
        ("Username", md(c["username"])),
        ("Authentication", ", ".join(methods.get(m, m) for m in c["authentication"])),
        ("Password", password),
    ]
    lines = ["## 1. The connection", "", "| Setting | Value |", "| --- | --- |"]
    lines += [f"| {k} | {v} |" for k, v in rows]
    lines += [
        "",
        "Our server identifies itself with these host keys. When PowerSchool shows a"
        " fingerprint at **Test Connection**, it must be one of them, character for"
        " character; if it is not, stop and call us.",
        "",
        "| Key type | SHA256 fingerprint |",
        "| --- | --- |",
    ]
    lines += [
        f"| {md(h['algorithm'])} | {code(h['fingerprint'])} |" for h in c["host_key_fingerprints"]
    ]
    if not c["host_key_fingerprints"]:
        lines.append("| (none yet) | ask us: the server has not been initialised |")
    return [*lines, ""]


def _remote_connection(c: Mapping[str, Any]) -> list[str]:
    return [
        "## 2. In PowerSchool: create the Remote Connection",
        "",
        "1. Sign in to PowerSchool as a district administrator and open **System >"
        " System Settings > Remote Connection Manager** (the menu names vary slightly"
        " between PowerSchool versions).",
        "2. Choose **New** and enter: Protocol **SFTP**, the host, port and username from"
        " section 1, and the password (or your private key, when we registered your"
        " public key).",
        "3. Choose **Test Connection**. PowerSchool shows our host key fingerprint:"
        " compare it with the table in section 1 and accept it only if it matches.",
        "4. **Save**. The connection is the destination of every export below.",
        "",
    ]


def _exports(data: GuideInput) -> list[str]:
    encoding = data.dialect.encoding if data.dialect.encoding != "utf-8" else "UTF-8"
    from_tables = [f for f in data.spec.files if f.sis_table]
    lines = [
        "## 3. In PowerSchool: one AutoSend per table",
        "",
        "Each file below comes from one PowerSchool table. For each, open **System >"
        " System Settings > AutoSend** (or **Data Export Manager** and schedule the"
        " template), choose the table named for the file, and then:",
        "",
        "1. Select the fields listed, in any order. Where the column title differs from"
        " PowerSchool's field name, give the column that title; a table prefix on the"
        " titles (such as `Students.` or `[1]`) is fine.",
        "2. Output: **Include column titles** on the first row, field delimiter"
        f" **comma** or **tab**, character set **{encoding}**, line delimiter as offered.",
        "3. File name: as listed for the file (a date in the name is fine, e.g."
        " `students_20261122.txt`).",
        "4. Schedule: **every night at about 3:00**, all AutoSends within a few minutes"
        " of each other, destination **the Remote Connection from section 2**, folder `/`.",
        "",
    ]
    for f in from_tables:
        need = "" if f.required else " (optional)"
        lines += [
            f"### {md(f.match[0])}{need}: table {md(f.sis_table)}",
            "",
            "| Column title | PowerSchool field to choose |",
            "| --- | --- |",
            *(f"| {code(c.name)} | {md(_field(f, c))} |" for c in f.columns),
            "",
        ]
    others = [f for f in data.spec.files if not f.sis_table]
    if others and from_tables:
        names = ", ".join(md(f.match[0]) for f in others)
        lines += [f"Not from one PowerSchool table ({names}): send the files listed above"
                  " instead; the specification in section 5 describes them too.", ""]  # fmt: skip
    if not from_tables:
        lines = _files_as_laid_out(data, encoding)
    return [*lines, *_headerless(data)]


def _field(f: FileSpec, column: ColumnSpec) -> str:
    return column.sis_field or f"{f.sis_table}.{column.name}"


def _files_as_laid_out(data: GuideInput, encoding: str) -> list[str]:
    """A contract that is not PowerSchool's (Clever's): the files as its layout names them."""
    lines = [
        f"## 3. Your export: {md(data.spec.title)}",
        "",
        "Set up your system's export in this layout (most student information systems"
        " and rostering tools offer it) with **column titles** on the first row,"
        f" character set **{encoding}**, sent every night at about 3:00 to the Remote"
        " Connection from section 2, all files within a few minutes of each other.",
        "",
        "| File | Columns |",
        "| --- | --- |",
    ]
    for f in data.spec.files:
        need = "" if f.required else " (optional)"
        sent = ", ".join(code(c.name) for c in f.columns if not f.not_sent(c))
        lines.append(f"| {md(f.match[0])}{need} | {sent} |")
    return [*lines, ""]


def _headerless(data: GuideInput) -> list[str]:
    lines = []
    for file, columns in sorted(data.dialect.headerless.items()):
        shown = ", ".join(code(c) for c in columns)
        lines += [f"Your {file} export is set up without column titles: columns in the"
                  f" order {shown} (`-` is a column we skip).", ""]  # fmt: skip
    return lines


def _testing(c: Mapping[str, Any]) -> list[str]:
    slug = c["district"]
    return [
        "## 4. Test before the first night",
        "",
        "1. Run each template once by hand (**Export**) and keep the files.",
        "2. Send them to your contact with us, or upload them through the connection: we"
        " check every upload and tell you what was rejected and why.",
        f"3. We check files without loading anything with `roster check FOLDER_OR_ZIP"
        f" --district {slug}`: the same checks as the nightly run, nothing is changed.",
        "4. When the check is clean, switch the schedules on.",
        "",
    ]


def _file_specification(data: GuideInput) -> list[str]:
    spec = data.spec
    encoding = data.dialect.encoding if data.dialect.encoding != "utf-8" else "UTF-8"
    lines = [
        f"## 5. The file specification: {md(spec.title)}",
        "",
        *([para(spec.description), ""] if spec.description else []),
        f"- Encoding **{encoding}** (a byte-order mark is fine).",
        "- Comma, tab, pipe or semicolon separated; column titles on the first row.",
        "- Column titles in any case; PowerSchool table prefixes such as `CC.ID`,"
        " `USERS.DISTRICT_USER_ID` or `[1]Student_Number` are accepted, and extra"
        " columns are ignored.",
        "- Send the files loose or together in one zip (files at its top level or in one folder).",
        "- Each file is the full current list: rows missing from today's file are removed.",
        "",
    ]
    for f in spec.files:
        lines += _file_section(f)
    return lines


def _file_section(f: FileSpec) -> list[str]:
    need = "required" if f.required else "optional"
    key = ", ".join(code(k) for k in f.key)
    unique = "unique" if len(f.key) == 1 else "unique together"
    lines = [
        f"### {md(f.name)} ({need})",
        "",
        f"File names: {', '.join(code(m) for m in f.match)} (any case).",
        f"Each row is identified by {key} ({unique}).",
        "",
        *([para(f.description), ""] if f.description else []),
        *([para(loading(f)), ""] if not f.load or f.load_where else []),
        *(["The columns must come in the order listed.", ""] if f.ordered else []),
        "| Column | Required | Rules |",
        "| --- | --- | --- |",
    ]
    for col in f.columns:
        need = "not sent" if f.not_sent(col) else "required" if col.required else "optional"
        rules = column_rules(col).split("; ", 1)[1:] or ["any text"]
        if f.key == (col.name,):
            rules.insert(0, "unique")
        extra = f" ({md(col.description)})" if col.description else ""
        lines.append(f"| {code(col.name)} | {need} | {md('; '.join(rules))}{extra} |")
    return [*lines, ""]


def _problems() -> list[str]:
    lines = [
        "## 6. When something is wrong",
        "",
        "Every upload gets a report. A problem with a whole file (below: *rejects the"
        " batch*) means nothing was loaded and yesterday's data stays; a problem with a"
        " row rejects that row only.",
        "",
        "| Code | Effect | What it means |",
        "| --- | --- | --- |",
    ]
    for reject in Code:
        effect = "rejects the batch" if reject.fatal else "rejects the row"
        lines.append(f"| `{reject}` | {effect} | {md(CODE_ADVICE[reject])} |")
    return [*lines, ""]


_GUIDE_STYLE = """
body{font:16px/1.55 system-ui,-apple-system,"Segoe UI",sans-serif;margin:2rem auto;
max-width:60rem;padding:0 1rem;color:#1d2430}
h1{font-size:1.6rem}h2{font-size:1.25rem;margin-top:2.2rem;border-bottom:1px solid #d6dae1}
table{border-collapse:collapse;width:100%;margin:.6rem 0}
td,th{border:1px solid #d6dae1;padding:.3rem .5rem;text-align:left;vertical-align:top}
th{background:#f2f4f7}code{font-family:ui-monospace,Consolas,monospace;font-size:.92em;
background:#f2f4f7;padding:0 .2rem;border-radius:3px;word-break:break-all}
@media print{body{margin:0}}
"""


def guide_html(markdown: str, title: str) -> str:
    """The Markdown guide as one self-contained page; raw HTML in it is escaped."""
    from markdown_it import MarkdownIt  # here: every other command starts without it

    body = MarkdownIt("commonmark", {"html": False}).enable("table").render(markdown)
    return page(html.escape(title), _GUIDE_STYLE, body)
