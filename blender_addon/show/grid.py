"""The beat grid: a timeline's beats, bars, phrases, sections and drops, in seconds and frames."""
from __future__ import annotations

import numpy as np


class Grid:
    """The timeline's musical time: beats, bars, sections, drops, as seconds and frames."""

    def __init__(self, doc: dict, fps: float, frame_start: int = 1):
        self.fps = float(fps)
        self.frame_start = int(frame_start)
        self.duration = float(doc["track"]["duration_s"])
        beats = np.asarray(doc.get("beats") or [], dtype=np.float64)
        if len(beats) < 2:  # no grid: a nominal 120 BPM so envelopes still have a length
            beats = np.arange(0.0, max(self.duration, 1.0), 0.5)
        self.beats = beats
        self.idx = np.arange(len(beats), dtype=np.float64)
        self.period = float(np.median(np.diff(beats)))
        self.downbeats = np.asarray(doc.get("downbeats") or beats[::4], dtype=np.float64)
        self.phrases = np.asarray(doc.get("phrases") or self.downbeats[::8], dtype=np.float64)
        secs = doc.get("sections") or [{"label": "drop", "start_s": 0.0, "end_s": self.duration}]
        self.sec_start = np.array([s["start_s"] for s in secs], dtype=np.float64)
        self.sec_end = np.array([s["end_s"] for s in secs], dtype=np.float64)
        self.sec_label = np.array([s["label"] for s in secs])
        drops = doc.get("drops") or []
        if drops:
            self.drop_spans = np.array([[d["start_s"], d["end_s"]] for d in drops], dtype=np.float64)
        else:
            self.drop_spans = self.spans("drop")
        self.last_frame = self.frame(self.duration)

    def pos(self, t) -> np.ndarray:
        """Beat position (fractional beat index) of times ``t``, extrapolated at the ends."""
        t = np.asarray(t, dtype=np.float64)
        b = self.beats
        p = np.interp(t, b, self.idx)
        p = np.where(t < b[0], (t - b[0]) / self.period, p)
        return np.where(t > b[-1], self.idx[-1] + (t - b[-1]) / self.period, p)

    def time(self, p) -> np.ndarray:
        """Time (s) of beat positions ``p`` (inverse of :meth:`pos`)."""
        p = np.asarray(p, dtype=np.float64)
        b = self.beats
        t = np.interp(p, self.idx, b)
        t = np.where(p < 0, b[0] + p * self.period, t)
        return np.where(p > self.idx[-1], b[-1] + (p - self.idx[-1]) * self.period, t)

    def frame(self, t) -> np.ndarray:
        """Nearest whole frame of times ``t`` (the track starts at ``frame_start``)."""
        return np.rint(self.frame_start + np.asarray(t, dtype=np.float64) * self.fps).astype(np.int64)

    def frame_time(self, frames) -> np.ndarray:
        """Time (s) of frame numbers ``frames`` (inverse of :meth:`frame`)."""
        return (np.asarray(frames, dtype=np.float64) - self.frame_start) / self.fps

    def beat_frames(self, t) -> np.ndarray:
        """Length of one beat, in frames, at times ``t``."""
        p = self.pos(t)
        return (self.time(p + 1.0) - self.time(p)) * self.fps

    def section_of(self, t) -> np.ndarray:
        """Index of the section containing each time (-1 for none)."""
        t = np.asarray(t, dtype=np.float64)
        i = np.searchsorted(self.sec_start, t, side="right") - 1
        ok = (i >= 0) & (t < self.sec_end[np.clip(i, 0, None)] + 1e-6)
        return np.where(ok, i, -1)

    def label_of(self, t) -> np.ndarray:
        """Section label at each time ("" outside every section)."""
        i = self.section_of(t)
        return np.where(i >= 0, self.sec_label[np.clip(i, 0, None)], "")

    def spans(self, label: str) -> np.ndarray:
        """(n, 2) start/end times of the sections with ``label``."""
        m = self.sec_label == label
        return np.stack([self.sec_start[m], self.sec_end[m]], axis=1) if m.any() else np.zeros((0, 2))

    def events(self, name: str) -> np.ndarray:
        """Times of an instant event (beat, offbeat, bar, phrase, drop_start, section_change)."""
        if name == "beat":
            return self.beats
        if name == "offbeat":
            return self.time(self.idx[:-1] + 0.5)
        if name == "bar":
            return self.downbeats
        if name == "phrase":
            return self.phrases
        if name == "drop_start":
            return self.drop_spans[:, 0] if len(self.drop_spans) else np.zeros(0)
        if name == "section_change":
            return self.sec_start[self.sec_start > 1e-3]
        raise ValueError(f"unknown event {name!r}")

    def span_events(self, name: str) -> np.ndarray:
        """(n, 2) spans of a span event (build, drop, breakdown)."""
        if name == "drop":
            return self.drop_spans if len(self.drop_spans) else self.spans("drop")
        return self.spans(name)
