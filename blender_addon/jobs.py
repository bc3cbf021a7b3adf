"""Background jobs: work in a thread, results applied on Blender's main thread by a timer.

The worker function receives the :class:`Job` and may only call ``job.report`` /
``job.check_cancel`` / ``job.add_cancel_hook``; it must never touch ``bpy``. Its messages
go through a queue that :func:`drain` (registered with ``bpy.app.timers``) empties on the
main thread, where the job's ``on_finish`` callback applies the result to Blender data.
One job runs at a time.
"""
from __future__ import annotations

import queue
import sys
import threading
import time
import traceback
from typing import Any, Callable

import bpy

#: Seconds between two timer calls while a job runs.
POLL_INTERVAL = 0.1


class JobCancelled(Exception):
    """Raised inside the worker when the user cancelled the job."""


class Job:
    """One background task.

    Parameters
    ----------
    label : str
        Shown in the panel (e.g. the audio file name).
    work : callable(Job) -> object
        Runs in the worker thread; its return value becomes ``result``.
    on_finish : callable(Job)
        Called on the main thread once the job ends (``state`` is done, error or cancelled).
    context : dict
        Plain data the callback needs (scene name, paths); not touched by the worker.
    """

    def __init__(self, label: str, work: Callable[["Job"], Any], on_finish: Callable[["Job"], None], context: dict | None = None):
        self.label = label
        self.work = work
        self.on_finish = on_finish
        self.context = dict(context or {})
        self.state = "running"
        self.progress = 0.0
        self.stage = "starting"
        self.result: Any = None
        self.error = ""
        self.started = time.monotonic()
        self.finished: float | None = None
        self._queue: queue.SimpleQueue = queue.SimpleQueue()
        self._cancel = threading.Event()
        self._hooks: list[Callable[[], None]] = []
        self._hooks_lock = threading.Lock()
        self.thread: threading.Thread | None = None
        #: Process id of a subprocess the worker started (external analysis), for diagnostics.
        self.pid: int | None = None

    # --- worker side ---
    def report(self, fraction: float, stage: str = "") -> None:
        """Progress from the worker (0..1 and a short stage name); raises JobCancelled if cancelled."""
        self.check_cancel()
        self._queue.put(("progress", min(1.0, max(0.0, float(fraction))), str(stage)))

    def check_cancel(self) -> None:
        """Raise :class:`JobCancelled` when the user asked to cancel."""
        if self._cancel.is_set():
            raise JobCancelled()

    @property
    def cancel_requested(self) -> bool:
        return self._cancel.is_set()

    def add_cancel_hook(self, fn: Callable[[], None]) -> None:
        """Call ``fn`` (from any thread) when the job is cancelled, e.g. to kill a subprocess."""
        with self._hooks_lock:
            self._hooks.append(fn)
            run_now = self._cancel.is_set()
        if run_now:
            fn()

    def _run(self) -> None:
        try:
            result = self.work(self)
            self.check_cancel()
            self._queue.put(("done", result))
        except JobCancelled:
            self._queue.put(("cancelled",))
        except Exception as exc:  # reported in the UI; the traceback goes to the console for bug reports
            if not _is_user_error(exc):
                traceback.print_exc(file=sys.stderr)
            self._queue.put(("error", _one_line(exc)))

    # --- main-thread side ---
    def cancel(self) -> None:
        """Ask the worker to stop (thread-safe); the job ends as cancelled."""
        self._cancel.set()
        with self._hooks_lock:
            hooks = list(self._hooks)
        for fn in hooks:
            try:
                fn()
            except Exception:  # a hook failing must not prevent cancelling
                traceback.print_exc(file=sys.stderr)

    @property
    def elapsed(self) -> float:
        return (self.finished or time.monotonic()) - self.started


def _is_user_error(exc: BaseException) -> bool:
    from . import deps
    from .core.errors import MainstageError
    return isinstance(exc, (MainstageError, deps.DependencyError, OSError, ValueError))


def _one_line(exc: BaseException) -> str:
    text = " ".join(str(exc).split()) or type(exc).__name__
    return text if _is_user_error(exc) else f"{type(exc).__name__}: {text}"


_current: Job | None = None
_last: Job | None = None


def current() -> Job | None:
    """The running job, or None."""
    return _current


def last() -> Job | None:
    """The most recent job (running or finished), or None."""
    return _last


def busy() -> bool:
    return _current is not None


def start(job: Job) -> None:
    """Start ``job`` in a worker thread and make sure the drain timer runs.

    Raises
    ------
    RuntimeError
        When another job is still running.
    """
    global _current, _last
    if _current is not None:
        raise RuntimeError(f"another job is running ({_current.label})")
    _current = _last = job
    job.thread = threading.Thread(target=job._run, name=f"msvfx-job-{job.label}", daemon=True)
    job.thread.start()
    if not bpy.app.timers.is_registered(drain):
        bpy.app.timers.register(drain, first_interval=POLL_INTERVAL, persistent=True)


def drain() -> float | None:
    """Timer callback: apply worker messages on the main thread.

    Returns the delay until the next call, or None (which unregisters the timer) when no
    job is running any more.
    """
    global _current
    job = _current
    if job is None:
        return None
    ended = False
    while True:
        try:
            msg = job._queue.get_nowait()
        except queue.Empty:
            break
        kind = msg[0]
        if kind == "progress":
            job.progress, job.stage = msg[1], msg[2] or job.stage
        elif kind == "done":
            job.state, job.result, job.progress, ended = "done", msg[1], 1.0, True
        elif kind == "cancelled":
            job.state, ended = "cancelled", True
        elif kind == "error":
            job.state, job.error, ended = "error", msg[1], True
    _tag_redraw()
    if not ended:
        return POLL_INTERVAL
    job.finished = time.monotonic()
    _current = None
    try:
        job.on_finish(job)
    except Exception as exc:  # applying the result failed: report it like a job error
        traceback.print_exc(file=sys.stderr)
        job.state, job.error = "error", _one_line(exc)
        _notify_error(job)
    _tag_redraw()
    return None


def _notify_error(job: Job) -> None:
    on_error = job.context.get("on_error")
    if on_error is not None:
        on_error(job)


def file_loading() -> None:
    """A different .blend is being opened: cancel the job and never apply it to the new file."""
    if _current is not None:
        _current.context["stale"] = True
        _current.cancel()


def shutdown(timeout: float = 5.0) -> None:
    """Cancel the running job, wait for its thread and remove the timer (add-on unregister)."""
    global _current, _last
    job = _current
    if job is not None:
        job.cancel()
        if job.thread is not None:
            job.thread.join(timeout)
    _current = None
    _last = None
    if bpy.app.timers.is_registered(drain):
        bpy.app.timers.unregister(drain)


def _tag_redraw() -> None:
    wm = getattr(bpy.context, "window_manager", None)
    if wm is None:
        return
    for window in wm.windows:
        for area in window.screen.areas:
            if area.type in {"VIEW_3D", "PREFERENCES", "SEQUENCE_EDITOR", "DOPESHEET_EDITOR"}:
                area.tag_redraw()
