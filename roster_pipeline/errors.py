"""The one exception tree of roster-pipeline.

::

    RosterError                    anything the pipeline reports to a person
    ├── TerminalError              the input or the request is wrong; retrying won't help
    │   ├── SpecError              a spec file is malformed (names the file and key)
    │   ├── ConfigError            roster.toml / ROSTER_* settings are invalid
    │   ├── HostKeyFileError       a host key file of the receiver cannot be read
    │   ├── NotFoundError          a district, batch or table that does not exist
    │   │   ├── UnknownDistrictError
    │   │   ├── UnknownBatchError
    │   │   └── NoHomeError        no roster home where a command was pointed
    │   ├── ConflictError          the request contradicts the current state
    │   ├── AccessError            an operator is not logged in, locked out or not allowed
    │   ├── SystemDisabledError    the operator turned processing off (`roster system`)
    │   └── InputError             a file a district sent cannot be used at all
    └── TransientError             the world failed us; the same call may succeed later
        ├── DatabaseUnavailableError   the database is unreachable or its driver missing
        ├── StorageError               the home folder cannot be written
        └── SourceError                a district's pull source (its SIS's API) failed us

Rows that fail a rule are data (rejects), never exceptions. Messages name the
district, batch, file and line where there is one, and say what happens next.
"""

from __future__ import annotations


class RosterError(Exception):
    """Base of every error the pipeline raises on purpose."""


class TerminalError(RosterError):
    """The input or request is wrong; retrying the same thing will fail again."""


class TransientError(RosterError):
    """An outside failure (database, disk); the same call may succeed later."""


class SpecError(TerminalError):
    """A spec file is malformed."""


class ConfigError(TerminalError):
    """Settings are invalid."""


class HostKeyFileError(TerminalError):
    """A host key file is corrupt or unreadable (sftp_server's HostKeyError, translated)."""


class NotFoundError(TerminalError):
    """Something named by the caller does not exist."""


class UnknownDistrictError(NotFoundError):
    """No district with that slug is provisioned."""


class UnknownBatchError(NotFoundError):
    """No batch with that id exists."""


class NoHomeError(NotFoundError):
    """The home folder (or its database) does not exist; only `roster init` creates one."""


class SystemDisabledError(TerminalError):
    """Processing is turned off system-wide; uploads are kept until it is on again."""


class ConflictError(TerminalError):
    """The request contradicts the current state (e.g. approving a loaded batch)."""


class AccessError(TerminalError):
    """Who asked may not do this: unknown, wrong password, locked out, or the role lacks it.

    ``authenticated`` tells the web console which answer to give: 401 (log in) or 403.
    """

    def __init__(self, message: str, *, authenticated: bool = False) -> None:
        super().__init__(message)
        self.authenticated = authenticated


class InputError(TerminalError):
    """A path given on the command line cannot be read as a batch."""


class DatabaseUnavailableError(TransientError):
    """The database server is unreachable, or its driver is not installed."""


class StorageError(TransientError):
    """The home folder could not be read or written."""


class SourceError(TransientError):
    """A district's pull source failed: refused credentials, missing field access, a
    throttle that never let up, a server that stopped answering. ``code`` is one word
    (auth_failed, access_denied, query_missing, throttled, server_error, timeout,
    source_changed_during_pull, bad_response); the message names the request and what
    to check, never a secret."""

    def __init__(self, message: str, code: str = "server_error") -> None:
        super().__init__(message)
        self.code = code
