"""The PowerSchool plugin a district installs so we may pull its roster.

A zip with ``plugin.xml`` at its root (no folder) and the PowerQueries under
``queries_root/``. ``plugin.xml`` turns on OAuth (``<oauth/>``: PowerSchool then
generates the Client ID and Secret) and asks ViewOnly access to exactly the
fields the queries read. Checked against the limits of PowerSchool's plugin
schema before anything is written: name 1-40 characters, version of digits and
dots (at most 20), description at most 256, publisher 1-100, contact e-mail
1-40, table and field names at most 30. The version must increase whenever the
field list changes, or PowerSchool refuses the update.
"""

from __future__ import annotations

import hashlib
import io
import re
import zipfile
from dataclasses import dataclass
from xml.sax.saxutils import escape, quoteattr

from roster_pipeline.errors import ConfigError
from roster_pipeline.sources.queries import QUERIES, Query, fields

QUERIES_FILE = "queries_root/roster.named_queries.xml"
_NAMESPACE = "http://plugin.powerschool.pearson.com"
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


@dataclass(frozen=True)
class PluginSpec:
    """What the generated plugin says about us."""

    name: str
    publisher: str
    email: str
    version: str
    description: str = (
        "Read-only access for rostering: schools, students, teachers, sections, enrollments."
    )

    def check(self) -> None:
        """Refuse what PowerSchool's plugin schema would refuse, naming the value."""
        problems = []
        for label, value, low, high in (("name", self.name, 1, 40),
                                        ("publisher", self.publisher, 1, 100),
                                        ("contact e-mail", self.email, 1, 40),
                                        ("description", self.description, 0, 256)):  # fmt: skip
            if not low <= len(value) <= high:
                problems.append(f"the {label} {value!r} must have {low} to {high} characters")
        if self.email and not _EMAIL.match(self.email):
            problems.append(f"{self.email!r} is not an e-mail address")
        if not re.fullmatch(r"[0-9][0-9.]{0,19}", self.version):
            problems.append(f"the version {self.version!r} must be digits and dots, at most 20")
        if problems:
            raise ConfigError("the plugin cannot be generated: " + "; ".join(problems))


def fingerprint() -> str:
    """A digest of the field list and the queries: when it changes, so must the version."""
    text = "\n".join([*fields(), *(q.name + q.sql for q in QUERIES)])
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def next_version(current: str | None, stored_fingerprint: str | None) -> str:
    """The version to write: unchanged while the fields are, else one step up."""
    if not current:
        return "1.0.0"
    if stored_fingerprint == fingerprint():
        return current
    parts = [int(p) for p in current.split(".") if p.isdigit()] or [1]
    parts += [0] * (3 - len(parts))
    return f"{parts[0]}.{parts[1] + 1}.0"


def plugin_xml(spec: PluginSpec) -> str:
    spec.check()
    lines = [
        '<?xml version="1.0" encoding="UTF-8"?>',
        f'<plugin xmlns="{_NAMESPACE}"',
        '        xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"',
        f'        xsi:schemaLocation="{_NAMESPACE} plugin.xsd"',
        f"        name={quoteattr(spec.name)} version={quoteattr(spec.version)}",
        f"        description={quoteattr(spec.description)}>",
        "  <oauth/>",
        f"  <publisher name={quoteattr(spec.publisher)}>",
        f"    <contact email={quoteattr(spec.email)}/>",
        "  </publisher>",
        "  <access_request>",
    ]
    for item in fields():
        table, field = item.split(".")
        if len(table) > 30 or len(field) > 30:
            raise ConfigError(f"the field {item} has a name longer than PowerSchool allows")
        lines.append(f'    <field table="{table}" field="{field}" access="ViewOnly"/>')
    lines += ["  </access_request>", "</plugin>"]
    return "\n".join(lines) + "\n"


def queries_xml() -> str:
    lines = ['<?xml version="1.0" encoding="UTF-8"?>', "<queries>"]
    for query in QUERIES:
        lines += _query(query)
    lines.append("</queries>")
    return "\n".join(lines) + "\n"


def _query(query: Query) -> list[str]:
    core = query.columns[0][1].split(".")[0].lower()
    return [
        f'  <query name="{query.name}" coreTable="{core}" flattened="true">',
        f"    <description>{escape(f'Roster: {query.file}, one row per record')}</description>",
        "    <args></args>",
        "    <columns>",
        *(f'      <column column="{field}">{name}</column>' for name, field in query.columns),
        "    </columns>",
        f"    <sql><![CDATA[{query.sql}]]></sql>",
        "  </query>",
    ]


def plugin_zip(spec: PluginSpec) -> bytes:
    """The zip to upload in Plugin Management: plugin.xml at the root, the queries beside."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as out:
        out.writestr("plugin.xml", plugin_xml(spec))
        out.writestr(QUERIES_FILE, queries_xml())
    return buffer.getvalue()
