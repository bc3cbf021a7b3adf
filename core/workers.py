"""Worker process pools that never outlive the command that started them.

``concurrent.futures.ProcessPoolExecutor`` workers keep running (each holding a
decoded track in memory) when their parent is killed with SIGKILL, and so does
multiprocessing's resource tracker, whose pipe the workers keep open. Here every
worker

- asks Linux to send it SIGKILL when its parent dies (``prctl(PR_SET_PDEATHSIG)``);
- runs a watchdog thread that exits when its parent process changes (other systems,
  and the case where the parent died before the ``prctl`` call);
- ignores SIGINT, so that Ctrl-C reaches the parent only, which then terminates them.

The parent turns SIGTERM into :class:`KeyboardInterrupt` while the pool runs and, on
any exit by exception, terminates the workers instead of waiting for their tasks.
"""
from __future__ import annotations

import contextlib
import os
import signal
import sys
import threading
from typing import Iterator

#: Seconds between two checks of the watchdog thread.
WATCHDOG_PERIOD_S = 0.5
_PR_SET_PDEATHSIG = 1


def _set_pdeathsig() -> None:
    if not sys.platform.startswith("linux"):
        return
    import ctypes

    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    except (OSError, AttributeError):  # no prctl: the watchdog thread still runs
        pass


def _watchdog(parent_pid: int) -> None:
    import time

    while True:
        if os.getppid() != parent_pid:
            os._exit(1)
        time.sleep(WATCHDOG_PERIOD_S)


def worker_init(parent_pid: int) -> None:
    """Initializer of each pool worker: die with ``parent_pid`` (see the module docstring)."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    _set_pdeathsig()
    if os.getppid() != parent_pid:  # the parent died before prctl took effect
        os._exit(1)
    threading.Thread(target=_watchdog, args=(parent_pid,), name="parent-watchdog", daemon=True).start()


def _raise_interrupt(signum, frame):
    raise KeyboardInterrupt(f"signal {signum}")


@contextlib.contextmanager
def process_pool(max_workers: int) -> Iterator:
    """A ``spawn`` ProcessPoolExecutor whose workers die with this process.

    On an exception (SIGINT, SIGTERM, an error in the caller) the workers are
    terminated rather than waited for.
    """
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    # "spawn": workers start clean instead of forking a parent that runs threads.
    ctx = multiprocessing.get_context("spawn")
    pool = ProcessPoolExecutor(max_workers=max_workers, mp_context=ctx, initializer=worker_init,
                               initargs=(os.getpid(),))
    old_term = None
    if threading.current_thread() is threading.main_thread():
        old_term = signal.signal(signal.SIGTERM, _raise_interrupt)
    try:
        yield pool
    except BaseException:
        pool.shutdown(wait=False, cancel_futures=True)
        for p in multiprocessing.active_children():
            p.terminate()
        for p in multiprocessing.active_children():
            p.join(5)
        raise
    else:
        pool.shutdown(wait=True)
    finally:
        if old_term is not None:
            signal.signal(signal.SIGTERM, old_term)
