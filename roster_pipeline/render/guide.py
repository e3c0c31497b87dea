"""Human-readable renderings of a spec: `roster spec show` and the onboarding guide.

Generated from the Spec dataclasses, so what districts read never disagrees
with what the validator enforces. The onboarding guide is Markdown (written
with every spec-derived text escaped) and turned into one self-contained HTML
page by markdown-it with raw HTML disabled.
"""

from __future__ import annotations

import html
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from roster_pipeline.contracts.dialects import CsvDialect
from roster_pipeline.contracts.rejects import Code
from roster_pipeline.contracts.specs import FORMATS, ColumnSpec, FileSpec, Spec
from roster_pipeline.render.page import page
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

# An underscore inside a word (school_id) is never emphasis, so it stays bare.
_MD_SPECIAL = re.compile(r"([\\`*\[\]<>|]|(?<!\w)_|_(?!\w))")


def _md(text: object) -> str:
    """Text as Markdown shows it literally (no emphasis, links, tables or HTML)."""
    return _MD_SPECIAL.sub(lambda m: "\\" + m.group(0), str(text))


_BLOCK_START = re.compile(r"^(\s*(?:\d+)?)([#>+=.)-])")


def _para(text: object) -> str:
    """A paragraph of literal text: also no heading, list or quote from its first characters."""
    return _BLOCK_START.sub(lambda m: m.group(1) + "\\" + m.group(2), _md(text))


def _code(text: object) -> str:
    """Inline code; text that would break out of it (a backtick, a table bar) is escaped."""
    value = str(text)
    return _md(value) if "`" in value or "|" in value else f"`{value}`"


@dataclass(frozen=True)
class GuideInput:
    """What the guide is generated from: the district's account and its contract."""

    connection: Mapping[str, Any]  # districts.connection_info()
    spec: Spec  # the district's effective spec (its dialect applied)
    dialect: CsvDialect


def onboarding_guide(data: GuideInput) -> str:
    """The document a district admin follows to set up PowerSchool (Markdown)."""
    c = data.connection
    parts = [
        f"# Sending your roster to us: {_md(c['name'])}",
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


def _connection(data: GuideInput) -> list[str]:
    c = data.connection
    methods = {"password": "password", "publickey": "public key (SSH key pair)"}
    if "password" in c:
        password = f"{_code(c['password'])} (new: the previous password no longer works)"
    elif "password" in c["authentication"]:
        password = "sent to you separately (we keep no readable copy)"
    else:
        password = "none: this account logs in with a key only"
    rows = [
        ("Protocol", "SFTP"),
        ("Host", _md(c["host"])),
        ("Port", str(c["port"])),
        ("Username", _md(c["username"])),
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
        f"| {_md(h['algorithm'])} | {_code(h['fingerprint'])} |" for h in c["host_key_fingerprints"]
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
    lines = [
        "## 3. In PowerSchool: one export template per file",
        "",
        "In **System > Data Export Manager** create one template for each file below,"
        " then schedule it with **AutoSend** (or the template's scheduled export):",
        "",
        "1. Choose the category the data comes from and select the fields listed for"
        " the file, in any order. Name each column exactly as the column name given"
        " (PowerSchool's table prefix, such as `CC.` or `[1]`, is fine).",
        "2. Export options: **Include column titles** on the first row, field delimiter"
        f" **comma** or **tab**, character set **{encoding}**, line delimiter as offered.",
        "3. File name: as listed for the file (a date in the name is fine, e.g."
        " `users_20261122.csv`); or send all files in one zip.",
        "4. Schedule: **every night at about 3:00**, all files within a few minutes of"
        " each other, destination **the Remote Connection from section 2**, to the"
        " folder `/`.",
        "",
        "| File | Template fields (column titles) |",
        "| --- | --- |",
    ]
    for f in data.spec.files:
        need = "" if f.required else " (optional)"
        fields = ", ".join(_code(c.name) for c in f.columns)
        lines.append(f"| {_md(f.match[0])}{need} | {fields} |")
    for file, columns in sorted(data.dialect.headerless.items()):
        shown = ", ".join(_code(c) for c in columns)
        lines += ["", f"Your {file} export is set up without column titles: columns in the"
                  f" order {shown} (`-` is a column we skip)."]  # fmt: skip
    return [*lines, ""]


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
        f"## 5. The file specification: {_md(spec.title)}",
        "",
        *([_para(spec.description), ""] if spec.description else []),
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
    key = ", ".join(_code(k) for k in f.key)
    unique = "unique" if len(f.key) == 1 else "unique together"
    lines = [
        f"### {_md(f.name)} ({need})",
        "",
        f"File names: {', '.join(_code(m) for m in f.match)} (any case).",
        f"Each row is identified by {key} ({unique}).",
        "",
        *([_para(f.description), ""] if f.description else []),
        *([_para(loading(f)), ""] if not f.load or f.load_where else []),
        *(["The columns must come in the order listed.", ""] if f.ordered else []),
        "| Column | Required | Rules |",
        "| --- | --- | --- |",
    ]
    for col in f.columns:
        need = "required" if col.required else "optional"
        rules = column_rules(col).split("; ", 1)[1:] or ["any text"]
        if f.key == (col.name,):
            rules.insert(0, "unique")
        extra = f" ({_md(col.description)})" if col.description else ""
        lines.append(f"| {_code(col.name)} | {need} | {_md('; '.join(rules))}{extra} |")
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
    for code in Code:
        effect = "rejects the batch" if code.fatal else "rejects the row"
        lines.append(f"| `{code}` | {effect} | {_md(CODE_ADVICE[code])} |")
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
