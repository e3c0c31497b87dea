"""Ctrl-C: exit 130 with "interrupted; nothing was changed" within a second, whatever runs.

Python delivers SIGINT only between bytecodes of the main thread, and the
database driver swaps in its own handler during a statement, so a long parse
(native code) or a long apply could delay a plain KeyboardInterrupt by seconds
or turn it into a driver error. Instead SIGINT is blocked in every thread and
one watcher thread waits for it: it raises KeyboardInterrupt in the main thread
(so ``finally`` blocks tidy up) and, if the command is not gone shortly after,
ends the process itself. Either way no transaction was committed: the database
rolls back what the interrupted one had written.

Only the ``roster`` executable installs this (``enabled``), and never for the
commands that handle signals themselves (``serve``, ``demo``).
"""

from __future__ import annotations

import _thread
import os
import signal
import sys
import threading
import time

MESSAGE = "interrupted; nothing was changed"
GRACE_SECONDS = 0.25  # for the main thread to unwind before the process ends regardless
EXIT_CODE = 130  # 128 + SIGINT, as shells report it

#: Set by the console script; tests driving the CLI in-process leave it off.
enabled = False
_announced = threading.Lock()


def announce() -> None:
    """Print the message once, whichever of the main thread or the watcher gets there."""
    if _announced.acquire(blocking=False):
        print(MESSAGE, file=sys.stderr, flush=True)


def end_now() -> None:
    """In the executable, end the process once the interrupted command has unwound:
    the interpreter's own shutdown (freeing a large parse) took a second more, and
    the watcher cannot act then (daemon threads are frozen during finalization)."""
    if enabled:
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(EXIT_CODE)


def install() -> None:
    """Block SIGINT here (threads started later inherit it) and watch for it in a thread."""
    if threading.current_thread() is not threading.main_thread():
        return
    signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})
    threading.Thread(target=_watch, name="sigint-watch", daemon=True).start()


def _watch() -> None:
    signal.sigwait({signal.SIGINT})
    _thread.interrupt_main()
    time.sleep(GRACE_SECONDS)
    announce()
    os._exit(EXIT_CODE)
