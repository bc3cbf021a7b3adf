"""Frame features of a whole track, computed block by block while it is decoded.

One pass over the audio yields everything the later stages need, at low rates:

* an 11.025 kHz short-time spectrum (256-point FFT = 23 ms, hop 128 = 11.6 ms) reduced to
  band energies (low 20-150 Hz = kick/bass, mid, high) and a log-compressed spectral flux;
* a 5.5125 kHz, 1024-point spectrum (186 ms, 5.4 Hz bins, hop 256 = 46 ms) reduced to a
  12-bin pitch-class profile of the bass and of the harmony (chord/bass-change evidence
  at bar starts);
* the squared-sample sums over 512-sample hops of the 22.05 kHz signal, from which the
  paper's RMS loudness (frame 8192, hop 512 at 22.05 kHz, like ``librosa.load``'s default)
  is formed exactly.

The STFT is written with numpy here because core must not depend on librosa/scipy;
frames follow librosa's ``center=True`` convention (frame ``m`` is centred on sample
``m * hop``), so the feature at frame ``m`` belongs to time ``m * hop / sr``.
"""
from __future__ import annotations

import queue
import threading
from dataclasses import dataclass, field

import numpy as np

from ..audio import AudioInfo, StreamResampler, iter_mono_native

#: Rate of the 22.05 kHz stream (loudness for the drop rule).
LOUD_SR = 22050
LOUD_HOP = 512
#: Rate, FFT size and hop of the onset spectrum.
ONSET_SR = 11025
ONSET_NFFT = 256
ONSET_HOP = 128
#: Rate, FFT size and hop of the pitch-class spectrum.
CHROMA_SR = ONSET_SR / 2
CHROMA_NFFT = 1024
CHROMA_HOP = 256
#: Band edges in Hz.
LOW_BAND = (20.0, 150.0)
MID_BAND = (150.0, 2000.0)
HIGH_BAND = (2000.0, 5512.5)
BASS_PITCH_BAND = (30.0, 250.0)
HARMONY_PITCH_BAND = (250.0, 2500.0)
#: Log compression of magnitudes for the spectral flux (on a full-scale-sine = 1 scale).
FLUX_GAMMA = 1000.0


@dataclass
class TrackFeatures:
    """Low-rate features of a track (all float32 arrays over frames).

    Attributes
    ----------
    fps : float
        Frame rate of the onset features (``ONSET_SR / ONSET_HOP``).
    flux : (n,) spectral flux (log-compressed, half-wave rectified, summed over bins).
    low, mid, high : (n,) band energies (mean squared magnitude, full-scale sine = 0.5).
    chroma_fps : float
        Frame rate of the pitch-class profiles.
    bass_chroma, chroma : (k, 12) pitch-class energy profiles of the bass and harmony bands.
    loud_sumsq : (j,) sums of squared 22.05 kHz samples over consecutive 512-sample hops.
    duration_s : float
        Decoded duration.
    peak : float
        Largest absolute mono sample.
    """

    fps: float
    flux: np.ndarray
    low: np.ndarray
    mid: np.ndarray
    high: np.ndarray
    chroma_fps: float
    bass_chroma: np.ndarray
    chroma: np.ndarray
    loud_sumsq: np.ndarray
    loud_samples: int
    duration_s: float
    peak: float
    info: AudioInfo | None = field(default=None, repr=False)

    @property
    def n_frames(self) -> int:
        return int(self.flux.shape[0])

    def times(self) -> np.ndarray:
        """Time in seconds of each onset-feature frame."""
        return np.arange(self.n_frames, dtype=np.float64) / self.fps


class _Framer:
    """Cuts a stream into centred, overlapping frames (librosa ``center=True``, zero padding)."""

    def __init__(self, n_fft: int, hop: int):
        self.n_fft, self.hop = n_fft, hop
        self._buf = np.zeros(n_fft // 2, dtype=np.float32)
        self._total = 0  # samples pushed (without padding)
        self._emitted = 0

    def push(self, x: np.ndarray, last: bool = False) -> np.ndarray:
        self._total += x.size
        parts = [self._buf, x]
        if last:
            parts.append(np.zeros(self.n_fft // 2 + self.hop, dtype=np.float32))
        buf = np.concatenate(parts)
        n = (buf.size - self.n_fft) // self.hop + 1 if buf.size >= self.n_fft else 0
        if last:  # exactly 1 + total // hop frames overall, like librosa
            n = min(n, 1 + self._total // self.hop - self._emitted)
        n = max(n, 0)
        if n == 0:  # too little buffered for a frame (e.g. a short last block of a decimated stream)
            self._buf = buf
            return np.zeros((0, self.n_fft), dtype=np.float32)
        frames = np.lib.stride_tricks.sliding_window_view(buf, self.n_fft)[:: self.hop][:n]
        self._buf = buf[n * self.hop :]
        self._emitted += n
        return frames


def _band_weights(n_fft: int, sr: float, band: tuple[float, float]) -> np.ndarray:
    freqs = np.fft.rfftfreq(n_fft, 1.0 / sr)
    return ((freqs >= band[0]) & (freqs < band[1])).astype(np.float32)


def _pitch_class_matrix(n_fft: int, sr: float, band: tuple[float, float]) -> np.ndarray:
    """(bins, 12) weights mapping FFT bins to pitch classes (triangular, 1 semitone wide)."""
    freqs = np.fft.rfftfreq(n_fft, 1.0 / sr)
    out = np.zeros((freqs.size, 12), dtype=np.float32)
    ok = (freqs >= band[0]) & (freqs < band[1])
    midi = 69.0 + 12.0 * np.log2(freqs[ok] / 440.0)
    pc = np.arange(12)
    d = (midi[:, None] - pc[None, :]) % 12.0
    d = np.minimum(d, 12.0 - d)
    out[ok] = np.clip(1.0 - d, 0.0, None)
    return out


class FeatureExtractor:
    """Streaming computation of :class:`TrackFeatures` from mono blocks at the native rate."""

    def __init__(self, in_rate: int):
        self._to_loud = StreamResampler(in_rate, LOUD_SR)
        self._to_onset = StreamResampler(LOUD_SR, ONSET_SR)
        self._to_chroma = StreamResampler(ONSET_SR, CHROMA_SR)
        self._framer = _Framer(ONSET_NFFT, ONSET_HOP)
        self._cframer = _Framer(CHROMA_NFFT, CHROMA_HOP)
        self._win = np.hanning(ONSET_NFFT + 1)[:-1].astype(np.float32)  # periodic Hann
        self._cwin = np.hanning(CHROMA_NFFT + 1)[:-1].astype(np.float32)
        # Scale so that a full-scale sine has magnitude 1 at its bin.
        self._scale = np.float32(2.0 / self._win.sum())
        self._cscale = np.float32(2.0 / self._cwin.sum())
        self._bands = np.stack([_band_weights(ONSET_NFFT, ONSET_SR, b) for b in (LOW_BAND, MID_BAND, HIGH_BAND)], axis=1)
        self._bands /= np.maximum(self._bands.sum(axis=0, keepdims=True), 1.0)
        self._bass_pc = _pitch_class_matrix(CHROMA_NFFT, CHROMA_SR, BASS_PITCH_BAND)
        self._harm_pc = _pitch_class_matrix(CHROMA_NFFT, CHROMA_SR, HARMONY_PITCH_BAND)
        self._prev_log = None
        self._loud_carry = np.zeros(0, dtype=np.float32)
        self._loud_samples = 0
        self._peak = 0.0
        self._n_in = 0
        self._in_rate = in_rate
        self._flux, self._bandE, self._bass, self._harm, self._sumsq = [], [], [], [], []

    def push(self, mono: np.ndarray, last: bool = False) -> None:
        """Feed the next mono block (native rate); ``last=True`` finishes the stream."""
        self.spectra_stage(self.signal_stage(mono, last), last)

    def signal_stage(self, mono: np.ndarray, last: bool = False) -> np.ndarray:
        """First stage: peak, 22.05 kHz loudness sums; returns the block at 11.025 kHz.

        The two stages keep separate state, so they may run in two threads.
        """
        if mono.size:
            self._peak = max(self._peak, float(np.max(np.abs(mono))))
            self._n_in += mono.size
        loud = self._to_loud.process(mono, last=last)
        self._push_loud(loud, last)
        return self._to_onset.process(loud, last=last)

    def spectra_stage(self, onset: np.ndarray, last: bool = False) -> None:
        """Second stage: the onset and pitch-class spectra of an 11.025 kHz block."""
        self._push_onset(onset, last)

    def _push_loud(self, x: np.ndarray, last: bool) -> None:
        self._loud_samples += x.size
        buf = np.concatenate([self._loud_carry, x]) if self._loud_carry.size else x
        n = buf.size // LOUD_HOP
        if n:
            blk = buf[: n * LOUD_HOP].reshape(n, LOUD_HOP).astype(np.float64)
            self._sumsq.append(np.einsum("ij,ij->i", blk, blk))
        rest = buf[n * LOUD_HOP :]
        if last and rest.size:
            self._sumsq.append(np.array([np.dot(rest.astype(np.float64), rest)]))
            rest = rest[:0]
        self._loud_carry = rest.copy()

    def _push_onset(self, x: np.ndarray, last: bool) -> None:
        frames = self._framer.push(x, last)
        if frames.shape[0]:
            spec = np.abs(np.fft.rfft(frames * self._win, axis=1)).astype(np.float32)
            spec *= self._scale
            power = spec * spec
            self._bandE.append(power @ self._bands)
            logm = np.log1p(FLUX_GAMMA * spec)
            prev = self._prev_log if self._prev_log is not None else logm[:1]
            d = np.diff(np.concatenate([prev, logm]), axis=0)
            np.maximum(d, 0.0, out=d)
            self._flux.append(d.sum(axis=1))
            self._prev_log = logm[-1:]
        cframes = self._cframer.push(self._to_chroma.process(x, last=last), last)
        if cframes.shape[0]:
            cspec = np.abs(np.fft.rfft(cframes * self._cwin, axis=1)).astype(np.float32)
            cspec *= self._cscale
            cpow = cspec * cspec
            self._bass.append(cpow @ self._bass_pc)
            self._harm.append(cpow @ self._harm_pc)

    def result(self, info: AudioInfo | None = None) -> TrackFeatures:
        """The accumulated features (call after the ``last=True`` push)."""
        def cat(parts, shape):
            return np.concatenate(parts).astype(np.float32) if parts else np.zeros(shape, np.float32)

        band = cat(self._bandE, (0, 3))
        return TrackFeatures(
            fps=ONSET_SR / ONSET_HOP,
            flux=cat(self._flux, (0,)),
            low=band[:, 0].copy(), mid=band[:, 1].copy(), high=band[:, 2].copy(),
            chroma_fps=CHROMA_SR / CHROMA_HOP,
            bass_chroma=cat(self._bass, (0, 12)), chroma=cat(self._harm, (0, 12)),
            loud_sumsq=np.concatenate(self._sumsq) if self._sumsq else np.zeros(0),
            loud_samples=self._loud_samples,
            duration_s=self._n_in / float(self._in_rate),
            peak=self._peak,
            info=info,
        )


def extract_features(info: AudioInfo, progress=None) -> TrackFeatures:
    """Decode a probed file block by block and compute its :class:`TrackFeatures`.

    Decoding, downmixing, resampling and the loudness sums run in a second thread (their
    C code releases the GIL) while this thread computes the spectra, so two cores share
    the work; a small queue bounds the memory in flight.

    Parameters
    ----------
    info : AudioInfo
        From :func:`mainstage.core.audio.probe`.
    progress : callable, optional
        Called with the number of seconds decoded so far after each block; an exception
        it raises stops the decoding and propagates.
    """
    ex = FeatureExtractor(info.sample_rate)
    blocks: queue.Queue = queue.Queue(maxsize=8)
    stop = threading.Event()

    def produce():
        try:
            for block in iter_mono_native(info):
                if stop.is_set():
                    return
                blocks.put((ex.signal_stage(block), len(block)))
            blocks.put((ex.signal_stage(np.zeros(0, dtype=np.float32), last=True), None))
        except BaseException as exc:  # handed to the consumer, which re-raises it
            blocks.put((exc, None))

    worker = threading.Thread(target=produce, name="mainstage-decode", daemon=True)
    worker.start()
    done = 0
    try:
        while True:
            item, n = blocks.get()
            if isinstance(item, BaseException):
                raise item
            if n is None:
                ex.spectra_stage(item, last=True)
                break
            ex.spectra_stage(item)
            done += n
            if progress is not None:
                progress(done / info.sample_rate)
    finally:
        stop.set()
        while worker.is_alive():  # unblock a producer waiting on a full queue
            try:
                blocks.get(timeout=0.05)
            except queue.Empty:
                pass
        worker.join()
    return ex.result(info)


def features_from_array(mono: np.ndarray, sample_rate: int) -> TrackFeatures:
    """:class:`TrackFeatures` of an in-memory mono signal (for tests and synthesized audio)."""
    ex = FeatureExtractor(int(sample_rate))
    mono = np.asarray(mono, dtype=np.float32)
    step = 1 << 16
    for i in range(0, mono.size, step):
        ex.push(mono[i : i + step])
    ex.push(np.zeros(0, dtype=np.float32), last=True)
    return ex.result(None)


# --------------------------------------------------------------------------- envelopes


def kick_envelope(feat: TrackFeatures) -> np.ndarray:
    """Onset strength of the low band (kick drum): rectified rise of its magnitude.

    The magnitude (square root of the energy) is used rather than its logarithm: the
    rise of a linear magnitude peaks where the attack passes the window centre, so its
    peak time is not biased early the way log-compressed flux is.
    """
    mag = np.sqrt(np.maximum(feat.low, 0.0))
    d = np.diff(mag, prepend=mag[:1])
    return np.maximum(d, 0.0)


def mid_envelope(feat: TrackFeatures) -> np.ndarray:
    """Onset strength of the mid band (snares, claps, chord stabs): rise of its magnitude."""
    mag = np.sqrt(np.maximum(feat.mid, 0.0))
    d = np.diff(mag, prepend=mag[:1])
    return np.maximum(d, 0.0)


def onset_envelope(feat: TrackFeatures) -> np.ndarray:
    """Combined onset strength: normalised full-band flux plus normalised kick envelope."""
    def norm(x):
        s = np.percentile(x, 99.5) if x.size else 0.0
        return x / s if s > 0 else x

    return (norm(feat.flux) + norm(kick_envelope(feat))).astype(np.float32)


def pick_peaks(env: np.ndarray, fps: float, min_gap_s: float = 0.07, rel_threshold: float = 0.1,
               window_s: float = 1.5, lag_frames: float = 0.5) -> tuple[np.ndarray, np.ndarray]:
    """Local maxima of an onset envelope with sub-frame (parabolic) times.

    A frame is a peak when it is the maximum within ``±min_gap_s`` and exceeds the local
    mean over ``window_s`` plus ``rel_threshold`` times the envelope's 99th percentile.
    ``lag_frames`` is subtracted from peak positions: a frame-difference envelope at frame
    ``m`` measures a change between frames ``m-1`` and ``m``, i.e. half a frame earlier.

    Returns
    -------
    times : (k,) float64 seconds (feature-frame time convention)
    strengths : (k,) float64 peak heights above the local mean
    """
    env = np.asarray(env, dtype=np.float64)
    n = env.size
    if n < 3:
        return np.zeros(0), np.zeros(0)
    g = max(1, int(round(min_gap_s * fps)))
    padded = np.pad(env, g, mode="constant", constant_values=-np.inf)
    win = np.lib.stride_tricks.sliding_window_view(padded, 2 * g + 1)
    is_max = env >= win.max(axis=1)
    w = max(1, int(round(window_s * fps)))
    c = np.concatenate([[0.0], np.cumsum(env)])
    lo = np.clip(np.arange(n) - w // 2, 0, n)
    hi = np.clip(np.arange(n) + w // 2 + 1, 0, n)
    local = (c[hi] - c[lo]) / (hi - lo)
    scale = np.percentile(env, 99) if n else 0.0
    height = env - local
    ok = is_max & (height > rel_threshold * scale) & (env > 0)
    ok[0] = ok[-1] = False
    idx = np.nonzero(ok)[0]
    # Parabolic interpolation of the peak position.
    a, b, cc = env[idx - 1], env[idx], env[idx + 1]
    den = a - 2 * b + cc
    off = np.where(np.abs(den) > 1e-12, 0.5 * (a - cc) / np.where(den == 0, 1, den), 0.0)
    off = np.clip(off, -0.5, 0.5)
    return (idx + off - lag_frames) / fps, height[idx]
