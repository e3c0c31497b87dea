"""Literal text in Markdown: spec-derived words shown as written, never as markup."""

from __future__ import annotations

import re

# An underscore inside a word (school_id) is never emphasis, so it stays bare.
_MD_SPECIAL = re.compile(r"([\\`*\[\]<>|]|(?<!\w)_|_(?!\w))")


def md(text: object) -> str:
    """Text as Markdown shows it literally (no emphasis, links, tables or HTML)."""
    return _MD_SPECIAL.sub(lambda m: "\\" + m.group(0), str(text))


_BLOCK_START = re.compile(r"^(\s*(?:\d+)?)([#>+=.)-])")


def para(text: object) -> str:
    """A paragraph of literal text: also no heading, list or quote from its first characters."""
    return _BLOCK_START.sub(lambda m: m.group(1) + "\\" + m.group(2), md(text))


def code(text: object) -> str:
    """Inline code; text that would break out of it (a backtick, a table bar) is escaped."""
    value = str(text)
    return md(value) if "`" in value or "|" in value else f"`{value}`"
