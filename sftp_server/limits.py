"""Limits: the numbers that bound what one client can cost us.

Field names match ``roster_pipeline.config.Settings`` so the pipeline maps them 1:1.
"""

from __future__ import annotations

import dataclasses

GiB = 1024**3

#: Names clients upload to before renaming (shell patterns, case-insensitive):
#: WinSCP ``*.filepart``, rsync-alikes ``*.part``, rclone ``*.partial``, others
#: ``*.tmp`` and ``*.inprogress``, lftp ``.in.*`` (its ``xfer:use-temp-file``).
DEFAULT_TEMP_NAMES = ("*.filepart", "*.part", "*.partial", "*.tmp", "*.inprogress", ".in.*")


@dataclasses.dataclass(frozen=True)
class Limits:
    """Every receiver limit; sizes in bytes, durations in seconds."""

    max_file_size: int = 2 * GiB
    district_quota: int = 10 * GiB  # bytes waiting in one district's inbox, uploads included
    max_files: int = 10_000  # files waiting in one district's inbox, uploads included
    min_free_disk: int = 1 * GiB  # uploads stop before the disk gets this full
    fd_reserve: int = 128  # free descriptors kept: beyond, new connections and uploads wait
    max_open_handles: int = 32  # open files per account, across its connections
    max_channels: int = 4  # SSH sessions per connection
    max_connections: int = 200
    max_connections_per_address: int = 20
    max_sessions_per_account: int = 5  # logged-in connections one account holds at once
    max_startups: int = 60  # unauthenticated connections: all refused beyond this ...
    max_startups_begin: int = 20  # ... and refused at random (30% rising) beyond this
    max_startups_per_address: int = 10
    max_connects_per_minute: int = 60  # new connections per address
    exempt_addresses: tuple[str, ...] = ()  # CIDRs never refused, rate-limited or banned
    login_timeout: float = 20.0  # connect to logged in, like sshd's LoginGraceTime
    idle_timeout: float = 600.0  # no SFTP request for this long: disconnect
    max_auth_tries: int = 6  # per connection, like sshd's MaxAuthTries
    auth_failure_delay: float = 1.0  # after each failed password
    ban_threshold: int = 20  # failure score from one address within ban_window ...
    ban_window: float = 600.0
    ban_duration: float = 900.0  # ... ban it for this long
    shutdown_grace: float = 30.0  # in-flight uploads get this long at shutdown
    temp_names: tuple[str, ...] = DEFAULT_TEMP_NAMES  # published on rename, not on close
