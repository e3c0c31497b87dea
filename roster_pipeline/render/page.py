"""The HTML page shell every rendered page shares: self-contained and script-free.

A Content-Security-Policy forbids every external asset and every script, so a
page is the same offline, in a mail attachment or on a file share; only its
inline style applies. Callers escape what they put in ``title`` and ``body``.
"""

from __future__ import annotations

_CSP = "default-src 'none'; style-src 'unsafe-inline'"


def page(title: str, style: str, body: str) -> str:
    """One whole HTML document: ``title`` and ``body`` already escaped."""
    return (
        "<!doctype html><html lang='en'><head><meta charset='utf-8'>"
        f"<meta http-equiv='Content-Security-Policy' content=\"{_CSP}\">"
        "<meta name='viewport' content='width=device-width, initial-scale=1'>"
        f"<title>{title}</title><style>{style}</style></head>"
        f"<body>{body}</body></html>\n"
    )
