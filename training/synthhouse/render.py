"""Public rendering API: one track (:func:`render_track`) or a DJ-set mix (:func:`render_set`)."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Sequence

import numpy as np

from ...core.genres import GENRES
from .arrangement import SET_STRUCTURE, SynthError, parse_structure
from . import mastering as mastering_mod
from .engine import Engine
from .plan import SAMPLE_RATE, bar_times, check_seed, derive_rng, genre_weights, plan_track
from .truth import build_truth


@dataclass
class SynthResult:
    """A rendered track or mix.

    Attributes
    ----------
    audio : np.ndarray
        float32, shape (n_samples, 2), peak <= 1.
    sr : int
        Sample rate (44100 by default).
    truth : dict
        The exact timeline (schema ``mainstage.timeline/1``); ``truth["analysis"]``
        holds the generation parameters.
    stems : dict or None
        Per-part stereo buses (before side-chain, section levels and master), only
        when rendered with ``stems=True``.
    """

    audio: np.ndarray
    sr: int
    truth: dict
    stems: dict[str, np.ndarray] | None = field(default=None, repr=False)

    @property
    def duration_s(self) -> float:
        return self.audio.shape[0] / self.sr


def _slug_name(params: dict) -> str:
    genres = params["genres"] if "genres" in params else {}
    top = max(genres, key=genres.get) if genres else "mix"
    return f"synthhouse_{top.lower().replace(' ', '_')}_{params['seed']}.wav"


def render_track(genres="Progressive House", seed: int = 0, bpm: float | None = None, bars: int | None = None,
                 duration_s: float | None = None, structure=None, sr: int = SAMPLE_RATE, stems: bool = False,
                 bar_bpms: Sequence[float] | None = None, sample_packages: Sequence[str] | None = None,
                 require_samples: bool = False, mastering: bool = True) -> SynthResult:
    """Render one procedural house track and its exact timeline.

    Parameters
    ----------
    genres : str, mapping or array-like of 8 weights
        ``"Bass House"``, ``"Progressive House:0.7,Future House:0.3"``, ``{"Bigroom": 1}``
        or an (8,) weight vector in GENRES order.
    seed : int
        Same seed and arguments -> identical samples.
    bpm : float, optional
        Default: drawn from the genres' tempo ranges.
    bars, duration_s : optional
        Scale the structure to a bar count or (about) a duration.
    structure : str, optional
        ``"intro:16,build:8,drop:16,breakdown:16,build:8,drop:16,outro:8"`` (default).
    sr : int
        Sample rate.
    stems : bool
        Also return the per-part buses (memory heavy; meant for tests and analysis).
    bar_bpms : sequence, optional
        Per-bar tempi (used by :func:`render_set` for beat-matched crossfades).
    sample_packages, require_samples : optional
        Which drum-sample packages may be used, and whether a missing one is an error
        (see :func:`.plan.plan_track`).
    mastering : bool
        Apply the track's randomised mastering chain (``analysis.master``; :mod:`.mastering`).
        ``False`` stores ``master: null`` and leaves the plain peak-normalised mix (sets use
        it: a DJ mix goes through one chain as a whole).

    Returns
    -------
    SynthResult
    """
    params = plan_track(genres, seed, bpm, bars, duration_s, structure, sr, bar_bpms, sample_packages, require_samples)
    if not mastering:
        params["master"] = None
    audio, st = Engine(params, keep_stems=stems).render()
    times = bar_times(params)
    bar_bpm = [float(b.get("bpm", params["bpm"])) for b in params["bars"]]
    bar_sections = [(b["section"], b["section_index"]) for b in params["bars"]]
    probs = np.tile(np.asarray(params["weights"]), (len(params["bars"]), 1))
    truth = build_truth(audio, params["sample_rate"], params, times, bar_bpm, bar_sections, probs, params["bpm"],
                        file=_slug_name(params))
    return SynthResult(audio=audio, sr=params["sample_rate"], truth=truth, stems=st)


def _set_specs(genres_list) -> list[np.ndarray]:
    if isinstance(genres_list, str):
        raise SynthError("render_set needs a list of genre specifications, one per track")
    specs = [genre_weights(g) for g in genres_list]
    if len(specs) < 1:
        raise SynthError("a set needs at least one track")
    return specs


def render_set(genres_list, seed: int = 0, bpms: Sequence[float | None] | None = None, structure=None,
               xfade_bars: int = 16, sr: int = SAMPLE_RATE) -> SynthResult:
    """Render a DJ-set-like mix: tracks back to back, beat-matched crossfades, tempo steps.

    Each track is rendered with its own tempo; the incoming track plays its first
    ``xfade_bars`` bars at the outgoing track's tempo while both overlap (equal-power
    crossfade over the outgoing outro and the incoming intro), then steps to its own
    tempo. Tracks are level-matched on their drops.

    Parameters
    ----------
    genres_list : sequence
        One genre specification per track (anything :func:`render_track` accepts).
    seed : int
        Set seed; track ``i`` uses a seed derived from it.
    bpms : sequence, optional
        Tempo per track (None entries = drawn from the genre).
    structure : str, optional
        Structure of every track (default :data:`SET_STRUCTURE`); intro and outro
        must each be at least ``xfade_bars`` long.
    xfade_bars : int
        Crossfade length in bars (8-16 typical).

    Returns
    -------
    SynthResult
        ``truth.tempo.segments`` has one segment per tempo, ``genre_windows`` one window
        per bar whose probabilities blend the two tracks across each crossfade, and
        ``analysis`` lists every track's generation parameters.
    """
    seed = check_seed(seed)
    specs = _set_specs(genres_list)
    n_tracks = len(specs)
    if bpms is not None and len(bpms) != n_tracks:
        raise SynthError(f"got {len(bpms)} tempi for {n_tracks} tracks")
    sections = parse_structure(structure if structure is not None else SET_STRUCTURE)
    xfade = int(xfade_bars)
    if n_tracks > 1:
        if xfade < 1:
            raise SynthError("xfade_bars must be >= 1")
        if sections[0][0] != "intro" or sections[-1][0] != "outro" or sections[0][1] < xfade or sections[-1][1] < xfade:
            raise SynthError(f"set tracks need an intro and an outro of at least {xfade} bars (the crossfade length)")
    n_bars = sum(b for _, b in sections)
    track_seeds = [int(derive_rng(seed, "set-track", i).integers(0, 2 ** 31)) for i in range(n_tracks)]

    renders: list[SynthResult] = []
    prev_bpm = None
    for i, w in enumerate(specs):
        want = None if bpms is None else bpms[i]
        if want is None:
            own = plan_track(w, track_seeds[i], None, None, None, sections, sr)["bpm"]
        else:
            own = float(want)
        bar_bpms = [own] * n_bars
        if prev_bpm is not None:
            bar_bpms[:xfade] = [prev_bpm] * xfade
        # The tracks are mixed unmastered and the mix goes through one chain, as a DJ's
        # mixer gain-stages and EQ-matches the decks before the master/recording chain.
        renders.append(render_track(w, track_seeds[i], own, None, None, sections, sr, bar_bpms=bar_bpms, mastering=False))
        prev_bpm = own

    # Level-match tracks on their drops, then overlap with equal-power crossfades.
    levels = []
    for r in renders:
        drops = r.truth["drops"]
        levels.append(np.mean([d["loudness_db"] for d in drops]) if drops else 20 * np.log10(float(np.sqrt(np.mean(r.audio ** 2))) + 1e-9))
    target = min(levels)

    global_starts: list[float] = [0.0]
    bar_bpm: list[float] = []
    bar_sections: list[tuple[str, int]] = []
    bar_probs: list[np.ndarray] = []
    offsets: list[float] = []
    first_bar: list[int] = []
    g = 0
    for i, r in enumerate(renders):
        params = r.truth["analysis"]
        times = bar_times(params)
        start_bar = 0 if i == 0 else xfade
        off = global_starts[g - xfade] if i > 0 else 0.0
        offsets.append(off)
        first_bar.append(g - (xfade if i > 0 else 0))
        w = np.asarray(params["weights"])
        for j in range(start_bar, n_bars):
            b = params["bars"][j]
            label = b["section"]
            sid = (i, b["section_index"])
            in_out_xfade = i + 1 < n_tracks and j >= n_bars - xfade
            if in_out_xfade:
                k = j - (n_bars - xfade)
                alpha = (k + 0.5) / xfade
                nw = np.asarray(renders[i + 1].truth["analysis"]["weights"])
                p = (1 - alpha) * w + alpha * nw
                if k >= xfade // 2:
                    label, sid = "intro", (i + 1, 0)
            else:
                p = w
            bar_probs.append(p)
            bar_bpm.append(float(b.get("bpm", params["bpm"])))
            bar_sections.append((label, sid))
            global_starts.append(off + float(times[j + 1]))
            g += 1
    starts = np.asarray(global_starts)
    total = int(round(starts[-1] * sr))
    mix = np.zeros((total, 2), dtype=np.float32)
    for i, r in enumerate(renders):
        a = r.audio * np.float32(10 ** ((target - levels[i]) / 20))
        params = r.truth["analysis"]
        times = bar_times(params)
        s0 = int(round(offsets[i] * sr))
        if i > 0:  # fade in over the first xfade bars
            n_in = int(round(times[xfade] * sr))
            a[:n_in] *= np.sin(np.linspace(0, np.pi / 2, n_in, dtype=np.float32))[:, None]
        if i + 1 < n_tracks:  # fade out over the last xfade bars
            t0 = int(round(times[n_bars - xfade] * sr))
            n_out = a.shape[0] - t0
            a[t0:] *= np.cos(np.linspace(0, np.pi / 2, n_out, dtype=np.float32))[:, None]
        end = min(total, s0 + a.shape[0])
        mix[s0:end] += a[:end - s0]
    peak = float(np.max(np.abs(mix))) or 1.0
    mix *= np.float32(0.97 / peak)
    dist = float(np.mean([sum(w * r.truth["analysis"]["sound"][g]["traits"]["distortion"]
                              for g, w in r.truth["analysis"]["genres"].items()) for r in renders]))
    # A DJ mix is a recording of the mixer, not a playback through a small speaker: no degradation.
    chain = mastering_mod.random_chain(derive_rng(seed, "set-master"), distortion=dist, degrade=0.0)
    mix = mastering_mod.apply_chain(mix, sr, chain)

    analysis = {
        "generator": "SynthHouse",
        "kind": "set",
        "seed": seed,
        "sample_rate": int(sr),
        "xfade_bars": xfade,
        "structure": renders[0].truth["analysis"]["structure"],
        "track_offsets_s": [float(o) for o in offsets],
        "track_first_bar": first_bar,
        "tracks": [r.truth["analysis"] for r in renders],
        "master": chain,
    }
    # Main tempo: the one that lasts longest.
    dur_by_bpm: dict[float, float] = {}
    for i, bpm in enumerate(bar_bpm):
        dur_by_bpm[bpm] = dur_by_bpm.get(bpm, 0.0) + starts[i + 1] - starts[i]
    main_bpm = max(dur_by_bpm, key=dur_by_bpm.get)
    truth = build_truth(mix, sr, analysis, starts, bar_bpm, bar_sections, np.array(bar_probs), main_bpm,
                        file=f"synthhouse_set_{seed}.wav")
    return SynthResult(audio=mix, sr=sr, truth=truth)


__all__ = ["SynthResult", "render_track", "render_set", "GENRES"]
