"""Worker functions that analyze a track into a validated timeline dict (no bpy here).

Two ways, same interface (``fn(job) -> timeline``), both run in a :mod:`.jobs` worker:

* in-process: core's analysis imported from the vendored copy (or the dev install);
* external: ``<python> -m mainstage.core.cli analyze TRACK -o TMP.json`` as a subprocess,
  killed on cancel, its progress parsed from its output.
"""
from __future__ import annotations

import json
import math
import os
import queue
import re
import shutil
import signal
import subprocess
import tempfile
import threading
import time
from collections import deque
from pathlib import Path

from . import deps
from .core import audio, timeline
from .jobs import Job, JobCancelled

def _validate(doc: dict, source: str, python: str = "") -> dict:
    if deps.can_validate_in_process():
        return timeline.validate_timeline(doc, source)
    deps.validate_external(python, "timeline", doc, source)
    return doc


def analyze_in_process(job: Job, audio_path: str) -> dict:
    """Analyze ``audio_path`` with the core library inside Blender; returns the timeline.

    Progress follows the decoding (core reports seconds decoded); the beat, drop, section
    and genre stages after it show as one step. Cancelling raises
    :class:`~.jobs.JobCancelled` from the progress callback (during decoding) or discards
    the result when it comes back.
    """
    job.report(0.01, "reading audio")
    from .core.analysis import track  # imports the decoders (soundfile, soxr)

    info = audio.probe(audio_path)
    duration = max(info.duration_s, 1e-6)
    job.check_cancel()

    def progress(seconds: float) -> None:
        done = min(1.0, float(seconds) / duration)
        job.report(0.05 + 0.8 * done, "decoding" if done < 1.0 else "beats, drops, sections, genres")

    doc, _cached = track.analyze_track_cached(audio_path, use_cache=False, progress=progress)
    job.check_cancel()
    job.report(0.97, "validating")
    return _validate(doc, audio_path)


# tqdm-style "42%|" or explicit "progress 0.42 stage" lines
_PCT_RE = re.compile(r"(\d{1,3})%\|")
_PROGRESS_RE = re.compile(r"progress[:\s]+([01](?:\.\d+)?)\s*(.*)", re.IGNORECASE)


def parse_progress(line: str) -> tuple[float, str] | None:
    """Progress (0..1, stage) announced by a line of the external analysis' output, or None."""
    m = _PROGRESS_RE.search(line)
    if m:
        return float(m.group(1)), m.group(2).strip()
    m = _PCT_RE.search(line)
    if m:
        stage = line[: m.start()].strip().rstrip(":") or "analyzing"
        return min(int(m.group(1)), 100) / 100.0, stage
    return None


def _kill(proc: subprocess.Popen) -> None:
    if proc.poll() is not None:
        return
    try:
        if os.name == "posix":
            os.killpg(proc.pid, signal.SIGKILL)  # the CLI may have started ffmpeg: kill the group
        else:
            proc.kill()
    except (ProcessLookupError, PermissionError, OSError):
        pass


def _read_lines(stream, out: "queue.SimpleQueue") -> None:
    """Reader thread: split the subprocess output on newlines and carriage returns (tqdm)."""
    buf = b""
    try:
        while True:
            chunk = stream.read1(4096) if hasattr(stream, "read1") else stream.read(4096)
            if not chunk:
                break
            buf += chunk
            *done, buf = re.split(rb"[\r\n]", buf)
            for raw in done:
                text = raw.decode("utf-8", "replace").strip()
                if text:
                    out.put(text)
    except (OSError, ValueError):
        pass
    finally:
        if buf.strip():
            out.put(buf.decode("utf-8", "replace").strip())
        out.put(None)


def analyze_external(job: Job, audio_path: str, python: str) -> dict:
    """Analyze ``audio_path`` with ``python -m mainstage.core.cli analyze`` (a subprocess).

    The subprocess is killed when the job is cancelled. Raises ``ValueError`` with the
    CLI's one-line message when it fails.
    """
    problem = deps.external_python_problem(python)
    if problem:
        raise deps.DependencyError(problem)
    job.report(0.02, "starting external analysis")
    tmp = Path(tempfile.mkdtemp(prefix="msvfx-analysis-"))
    out = tmp / "timeline.json"
    cmd = [python, "-m", "mainstage.core.cli", "analyze", str(audio_path), "-o", str(out), "--no-cache"]
    tail: deque[str] = deque(maxlen=20)
    lines: queue.SimpleQueue = queue.SimpleQueue()
    try:
        proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                env=deps.subprocess_env(), start_new_session=(os.name == "posix"))
        job.pid = proc.pid
        job.add_cancel_hook(lambda: _kill(proc))
        reader = threading.Thread(target=_read_lines, args=(proc.stdout, lines), daemon=True)
        reader.start()
        started = time.monotonic()
        parsed = False
        try:
            while True:
                try:
                    line = lines.get(timeout=0.2)
                except queue.Empty:
                    line = ""
                if line is None:  # end of output
                    break
                if line:
                    tail.append(line)
                    p = parse_progress(line)
                    if p is not None:
                        parsed = True
                        if not job.cancel_requested:
                            job.report(0.05 + 0.9 * p[0], p[1])
                if not parsed and not job.cancel_requested:
                    # No progress output: an estimate that approaches 90 % (coarse, honest about it).
                    el = time.monotonic() - started
                    job.report(0.05 + 0.85 * (1.0 - math.exp(-el / 8.0)), f"external Python, {el:.0f} s")
            rc = proc.wait()
            reader.join(1.0)
        finally:
            _kill(proc)
            proc.stdout.close()
        if job.cancel_requested:
            raise JobCancelled()
        if rc != 0:
            msg = next((l[len("FAILED "):] for l in tail if l.startswith("FAILED ")), None)
            if msg is None:
                msg = next((l for l in reversed(tail) if "error" in l.lower()), tail[-1] if tail else f"exit status {rc}")
                msg = re.sub(r"^mainstage \w+: error: ", "", msg)
            raise ValueError(f"external analysis failed: {msg}")
        job.report(0.96, "reading timeline")
        try:
            doc = json.loads(out.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise ValueError(f"external analysis wrote no readable timeline ({exc})") from None
        job.report(0.98, "validating")
        return _validate(doc, str(audio_path), python)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
