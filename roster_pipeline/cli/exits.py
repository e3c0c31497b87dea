"""The exit codes of every ``roster`` command: one table, documented in the README.

=====  ============  ==========================================================
code   name          meaning
=====  ============  ==========================================================
0      OK            done; for ``status``: every district is fine
1      REJECTED      a batch (or ``check``'s file) was rejected; for ``status``:
                     a district needs attention (stale, held, rejected)
2      USAGE         the command line or the request is wrong (bad option,
                     invalid setting, a state that forbids the action)
3      HELD          the batch is held for approval
4      NOT_FOUND     no such district, batch, table or roster home
5      UNAVAILABLE   the database or the home folder cannot be reached; retry
6      DISABLED      the system is disabled (``roster system enable``)
130    INTERRUPTED   Ctrl-C / SIGINT; nothing was changed
=====  ============  ==========================================================
"""

from __future__ import annotations

from enum import IntEnum

from roster_pipeline.errors import NotFoundError, RosterError, SystemDisabledError, TransientError


class ExitCode(IntEnum):
    OK = 0
    REJECTED = 1
    USAGE = 2
    HELD = 3
    NOT_FOUND = 4
    UNAVAILABLE = 5
    DISABLED = 6
    INTERRUPTED = 130


def code_for(exc: RosterError) -> ExitCode:
    """The exit code a command ends with when ``exc`` reaches the command line."""
    if isinstance(exc, NotFoundError):
        return ExitCode.NOT_FOUND
    if isinstance(exc, TransientError):
        return ExitCode.UNAVAILABLE
    if isinstance(exc, SystemDisabledError):
        return ExitCode.DISABLED
    return ExitCode.USAGE
