"""The onboarding guide's sections for a district we pull from over PowerSchool's API.

Instead of a Remote Connection and AutoSends, the district installs our plugin,
enables it, approves its data access and sends us the Client ID and Client
Secret PowerSchool generates for it. The steps follow PowerSchool's own
administrator pages (Plugin Management Configuration, Data Provider
Configuration); the field list is the plugin's, generated from the queries the
pull runs, so the guide cannot disagree with what is requested.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from roster_pipeline.render.markdown import code, md
from roster_pipeline.sources.queries import QUERIES


def api_sections(c: Mapping[str, Any], source: Mapping[str, Any]) -> list[str]:
    """Sections 1 to 4 of the guide for a PowerSchool API source."""
    return [*_plugin(source), *_access(), *_credentials(c), *_schedule(c, source)]


def _plugin(source: Mapping[str, Any]) -> list[str]:
    version = source.get("plugin_version")
    said = f" (version {md(version)})" if version else ""
    return [
        "## 1. Install our plugin",
        "",
        f"We send you a plugin file, a zip{said}. It asks PowerSchool for **read-only**"
        " (View Only) access to the fields listed in section 2, and nothing else; it"
        " changes no data and adds no page for your users.",
        "",
        "1. Sign in to PowerSchool as a district administrator and open **System > System"
        " Settings > Plugin Management Configuration** (the Plugin Management Dashboard).",
        "2. Choose **Install**, select the zip exactly as we sent it (do not unzip it) and"
        " choose **Install** again. When we send a newer version, install it the same way:"
        " PowerSchool offers to update the installed plugin.",
        "3. Back on the dashboard, tick **Enable** beside the plugin.",
        "",
    ]


def _access() -> list[str]:
    lines = [
        "## 2. Approve its data access",
        "",
        "When you enable the plugin, PowerSchool shows its data access request. Approve it:"
        ' without it our requests are refused ("At least one column lacks sufficient'
        ' permission"). After an update, **disable and enable** the plugin again and approve'
        " the new request. The fields requested, all View Only:",
        "",
        "| What we read | PowerSchool fields |",
        "| --- | --- |",
    ]
    for query in QUERIES:
        fields = ", ".join(code(f) for f in query.fields)
        lines.append(f"| {md(query.file)} | {fields} |")
    return [*lines, ""]


def _credentials(c: Mapping[str, Any]) -> list[str]:
    slug = c["district"]
    return [
        "## 3. Send us the Client ID and Client Secret",
        "",
        "1. On the Plugin Management Dashboard, choose the plugin's name, then **Data"
        " Provider Configuration**.",
        "2. Copy the **Client ID** and the **Client Secret** and send them to your contact"
        " with us by a channel you trust (never in the same message as your server's"
        " address). We store the secret encrypted and never show it again.",
        "3. Tell us your PowerSchool server's address (https://...).",
        "",
        "If you ever choose **Regenerate Client ID and Secret**, or disable the plugin, our"
        " pulls stop until you send the new ones; we are told at once.",
        f"We then check the connection (`roster district test {md(slug)}`): the token, your"
        " PowerSchool version, the page-size limit, the access to each field and how many"
        " records each table holds. You need not do anything for it.",
        "",
    ]


def _schedule(c: Mapping[str, Any], source: Mapping[str, Any]) -> list[str]:
    when = []
    if source.get("pull_at"):
        when.append(f"every night at {md(source['pull_at'])}")
    if source.get("pull_every_hours"):
        when.append(f"every {md(source['pull_every_hours'])} hours")
    schedule = " and ".join(when) or "when we agree on a time"
    return [
        "## 4. The nightly pull",
        "",
        f"We read your roster {schedule}, a page at a time and never more than a few"
        " requests at once, so your users do not notice. If your server asks us to slow"
        " down, we wait as it says. Each pull is checked against the file specification"
        " below exactly as an export sent to us would be; a pull that fails halfway"
        " changes nothing on our side, and we look into it.",
        "",
    ]
