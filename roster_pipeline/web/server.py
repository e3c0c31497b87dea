"""Running the console: uvicorn on loopback by default.

Behind a TLS reverse proxy on the same machine, uvicorn trusts the proxy's
``X-Forwarded-Proto`` / ``X-Forwarded-For`` from ``forwarded_allow_ips``
(loopback by default), so the session cookie is marked Secure and the audit
log names the operator's own address.
"""

from __future__ import annotations

from collections.abc import Callable

from roster_pipeline.config import Settings
from roster_pipeline.errors import ConfigError


def serve(
    settings: Settings,
    host: str,
    port: int,
    ready: Callable[[str], None] | None = None,
    forwarded_allow_ips: str = "127.0.0.1",
) -> None:
    """Serve the console until SIGINT/SIGTERM."""
    import uvicorn

    from roster_pipeline.home import Home
    from roster_pipeline.web.app import create_app

    with Home(settings) as home:
        home.create()
    config = uvicorn.Config(
        create_app(settings),
        host=host,
        port=port,
        proxy_headers=True,
        forwarded_allow_ips=forwarded_allow_ips,
        log_level="info",
        server_header=False,
    )
    server = uvicorn.Server(config)
    if ready:
        ready(f"roster web starting on http://{host}:{port}")
    try:
        server.run()
    except OSError as exc:
        raise ConfigError(f"cannot listen on {host}:{port}: {exc}") from exc
    if not server.started:
        raise ConfigError(f"the console could not listen on {host}:{port}; see the log above")
