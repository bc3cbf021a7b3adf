"""The bar engine: renders a plan (:mod:`.plan`) to stereo audio.

Like a producer working with loops, each part's bar is rendered once per distinct
content ("unit": part, source genre, variant, chord, tempo) and then overlap-added
at every bar where it plays; units ring on past the bar end (releases, tails).
Reverb is linear and time-invariant, so convolving each distinct bar's reverb
send once and overlap-adding the wet result is identical to reverberating the
summed send bus, at a fraction of the cost. Side-chain pumping, section levels
and the master saturation then act on the summed buses.
"""
from __future__ import annotations

import time

import numpy as np

from . import instruments as ins
from . import kit, mastering, sfx, stereo, vocals
from .arrangement import ROLES
from .dsp import fft_filter
from .effects import Convolver, lowpass, master, pump_curve, reverb_ir, sweep_filter
from .plan import bar_times, derive_rng
from .theory import chord, register, scale_note, voice_lead

#: Unit RMS targets of the tonal parts (per channel, over one bar) and peak levels of drums.
ROLE_RMS = {"bass": 0.16, "lead": 0.10, "chords": 0.075, "atmos": 0.05}
DRUM_LEVEL = {"kick": 0.9, "clap": 0.75, "hats": 0.32, "perc": 0.4, "fx": 0.55, "tops": 0.34, "sfx": 0.5, "vox": 0.1}
#: Loudest-bar level of each section relative to the drops' mean level (dB).
SECTION_TARGET_DB = {"intro": -5.5, "build": -3.5, "breakdown": -8.0, "outro": -5.5}
#: Swell of a build from its first to its last sample (dB).
BUILD_RAMP_DB = 9.0
#: Least rise (dB, first to last bar) a build keeps after the mastering chain.
BUILD_MIN_RISE_DB = 5.0
MUSIC_ROLES = ("bass", "lead", "chords", "atmos")
#: Parts whose bar content follows the chord progression (one unit per chord of the cycle).
CYCLE_ROLES = MUSIC_ROLES + ("vox",)
#: Mix buses: "music" is side-chained (pumped) by the kick, "dry" (drums and effects) is not.
GROUP = {"kick": "dry", "clap": "dry", "hats": "dry", "perc": "dry", "bass": "music", "lead": "music",
         "chords": "music", "atmos": "music", "fx": "dry", "tops": "dry", "vox": "music", "sfx": "dry"}
REVERB_ROLES = ("clap", "hats", "perc", "lead", "chords", "atmos", "tops", "vox")


#: Parts whose send effects are computed on their own: they come and go (tops, vocal
#: phrases every few bars), and in one send signature with the other parts they would
#: multiply the distinct bars to convolve. Effects are linear, so the sum is the same.
OWN_SEND_ROLES = ("tops", "vox")


def _split_sends(sig: tuple) -> list[tuple]:
    """A bar's send signature as (the other parts, the parts of ``OWN_SEND_ROLES``), empty ones dropped."""
    main = tuple(k for k in sig if k[0] not in OWN_SEND_ROLES)
    own = tuple(k for k in sig if k[0] in OWN_SEND_ROLES)
    return [t for t in (main, own) if t]


def _gain(db: float) -> float:
    """dB -> linear amplitude factor."""
    return 10.0 ** (db / 20.0)


def _build_runs(bars: list[dict]):
    """``(first, end)`` bar indices of every build section (bars ``first`` to ``end - 1``)."""
    i = 0
    while i < len(bars):
        if bars[i]["section"] != "build":
            i += 1
            continue
        j = i
        while j < len(bars) and bars[j]["section_index"] == bars[i]["section_index"]:
            j += 1
        yield i, j
        i = j

class Engine:
    """Render one track plan. Use :meth:`render`.

    ``reuse=False`` disables every loop/note cache (each bar is rendered from scratch);
    it exists as the baseline of ``bench/bench_synth.py``.
    """

    def __init__(self, params: dict, keep_stems: bool = False, reuse: bool = True):
        self.p = params
        self.reuse = reuse
        self.sr = int(params["sample_rate"])
        self.keep_stems = keep_stems
        self.units: dict[tuple, np.ndarray] = {}
        self.raw_units: dict[tuple, np.ndarray] = {}
        self.notes: dict[tuple, np.ndarray] = {}
        self.oneshots: dict[tuple, np.ndarray] = {}
        self.norm: dict[tuple, float] = {}
        self.glob = params["global"]
        self.swing = float(self.glob["swing"])
        self.prog = params["progression"]
        self.key_pc = int(params["key_pc"])
        self.scale = params["scale"]
        rv = self.glob["reverb"]
        self.mix = params.get("mix") or {}
        rt60 = rv["rt60"] * float(self.mix.get("reverb_rt60_scale", 1.0))
        self.conv = Convolver(reverb_ir(derive_rng(params["seed"], "reverb"), self.sr, rt60, rv["predelay"],
                                        rv["damping"], rv["low_cut"]))
        self.wet_cache: dict[tuple, np.ndarray] = {}
        self.delay_cache: dict[tuple, np.ndarray] = {}
        st = params.get("stereo") or {}
        self.widen = st.get("widen") or {}
        self.delay = st.get("delay")
        self.fx = params.get("fx")
        self.unit_time = 0.0
        self.timings: dict[str, float] = {}

    # -- timing -------------------------------------------------------------------
    def step_time(self, step: float, bpm: float) -> float:
        """Seconds from the bar start to 16th-step ``step`` (swung odd steps)."""
        step_s = 15.0 / bpm
        return (step + (self.swing if int(step) % 2 == 1 else 0.0)) * step_s

    @staticmethod
    def bar_samples(bpm: float, sr: int) -> int:
        return int(round(240.0 / bpm * sr))

    # -- one-shots ------------------------------------------------------------------
    def oneshot(self, kind: str, genre: str | None, variant: int = 0) -> np.ndarray:
        """A drum one-shot (recorded sample or synthetic, see :mod:`.kit`), cached per (kind, genre, variant)."""
        key = (kind, genre, variant)
        x = self.oneshots.get(key)
        if x is None:
            rng = derive_rng(self.p["seed"], "oneshot", kind, genre or "", variant)
            x = self.oneshots[key] = kit.oneshot(self.p, kind, genre, variant, self.sr, rng)
        return x

    # -- notes --------------------------------------------------------------------------
    def note(self, tag: tuple, voice: dict, midi: float, dur_s: float, bright: float = 1.0, vowel: str | None = None) -> np.ndarray:
        n_dur = int(round(dur_s * self.sr))
        key = (tag, round(float(midi), 3), n_dur, round(bright, 3), vowel)
        x = self.notes.get(key)
        if x is None:
            rng = derive_rng(self.p["seed"], "note", repr(key))
            x = ins.render_note(voice, midi, n_dur / self.sr, self.sr, rng, bright, vowel)
            self.notes[key] = x
        return x

    @staticmethod
    def _assemble(events: list[tuple[int, np.ndarray, float]], min_len: int) -> np.ndarray:
        end = max([min_len] + [s + a.shape[0] for s, a, _ in events])
        buf = np.zeros((end, 2))
        for s, a, g in events:
            buf[s:s + a.shape[0]] += g * a
        return buf

    # -- harmony helpers ------------------------------------------------------------
    def chord_degree(self, cycle: int) -> int:
        return int(self.prog[cycle % len(self.prog)])

    def tonic(self, octave: int) -> int:
        return 12 * (octave + 1) + self.key_pc - 12  # octave 5 -> C4..B4

    # -- units ----------------------------------------------------------------------------
    def unit(self, role: str, genre: str | None, variant: str, cycle: int, bpm: float) -> np.ndarray:
        """Stereo float32 loop of one part for one bar (with its ringing tail)."""
        cyc = cycle % 4 if role in CYCLE_ROLES else 0
        key = (role, genre, variant, cyc, bpm)
        u = self.units.get(key)
        if u is None:
            t0 = time.perf_counter()
            u = self._raw(role, genre, variant, cyc, bpm)
            if role in ROLE_RMS:
                u = u * self.normaliser(role, genre, bpm)
            if role in ("tops", "perc") and self.mix.get("perc_hp_hz"):
                # Mixing practice: percussion is high-passed, the low end belongs to kick and bass.
                u = fft_filter(u, self.sr, lo=self.mix["perc_hp_hz"])
            w = self.widen.get(role)
            if w:  # mono-compatible widening (the dry mono sum is unchanged)
                u = stereo.widen(u, self.sr, w["amount"], w["delay_ms"])
            u = u.astype(np.float32)
            self.units[key] = u
            self.unit_time += time.perf_counter() - t0
        return u

    def normaliser(self, role: str, genre: str | None, bpm: float) -> float:
        """Gain that brings a part's main drop loop to its target RMS (sound-design independent)."""
        key = (role, genre)
        g = self.norm.get(key)
        if g is None:
            bar_n = self.bar_samples(bpm, self.sr)
            ms = [np.mean(self._raw(role, genre, "main", c, bpm)[:bar_n] ** 2) for c in (0, 1)]
            rms = float(np.sqrt(np.mean(ms))) or 1.0
            g = ROLE_RMS[role] / rms
            self.norm[key] = g
        return g

    def _raw(self, role: str, genre: str | None, variant: str, cycle: int, bpm: float) -> np.ndarray:
        key = (role, genre, variant, cycle, bpm)
        u = self.raw_units.get(key)
        if u is None:
            u = self.raw_units[key] = self._render_unit(role, genre, variant, cycle, bpm)
        return u

    def _render_unit(self, role: str, genre: str | None, variant: str, cycle: int, bpm: float) -> np.ndarray:
        sr = self.sr
        bar_n = self.bar_samples(bpm, sr)
        beat_s = 60.0 / bpm
        step_s = beat_s / 4.0
        snd = self.p["sound"].get(genre) if genre else None
        ev: list[tuple[int, np.ndarray, float]] = []

        def at(step):
            return int(round(self.step_time(step, bpm) * sr))

        if role == "kick":
            k = self.oneshot("kick", None)
            ev = [(int(round(b * beat_s * sr)), k, 1.0) for b in range(2 if variant == "half" else 4)]
            return self._assemble(ev, bar_n) * DRUM_LEVEL["kick"]
        if role == "clap":
            c = self.oneshot("clap", genre)
            steps = [(4, 1.0), (12, 1.0)]
            if variant == "fill":
                steps += [(s, 0.65) for s in snd["clap_fill"]]
            ev = [(at(s), c, v) for s, v in steps]
            return self._assemble(ev, bar_n) * DRUM_LEVEL["clap"]
        if role == "hats":
            pat = snd["hats"]["pattern"]
            hats = [self.oneshot("hat", genre, 0), self.oneshot("hat", genre, 1)]
            ev = [(at(s), hats[s % 2], v) for s, v in enumerate(pat["closed"]) if v > 0]
            oh = self.oneshot("open_hat", genre)
            ev += [(at(s), oh, 0.8) for s in pat["open"]]
            return self._assemble(ev, bar_n) * DRUM_LEVEL["hats"]
        if role == "perc":
            pc = snd["perc"]
            ev = [(at(s), self.oneshot("perc", genre, int(var)), float(v)) for s, v, var in pc["pattern"]]
            return self._assemble(ev, bar_n) * DRUM_LEVEL["perc"] * (1.0 if pc["style"] != "ride" else 0.6)
        if role == "fx":
            return self._fx_unit(variant, bpm) * DRUM_LEVEL["fx"]
        if role == "tops":
            layers = snd["tops"]["layers"]
            use = range(len(layers)) if variant != "sparse" else range(1)
            for i in use:
                g = _gain(layers[i]["gain_db"]) * (0.5 if variant == "sparse" else 1.0)
                ev += [(at(s), self.oneshot(f"top{i}", genre, int(var)), float(v) * g) for s, v, var in layers[i]["pattern"]]
            return self._assemble(ev, bar_n) * DRUM_LEVEL["tops"]
        if role == "sfx":
            return self._sfx_unit(variant, bpm) * DRUM_LEVEL["sfx"] * _gain(self.fx["sfx_gain_db"])
        if role == "vox":
            vox = snd["vox"]
            note = lambda m, d, vw: self.note(("vox", genre), vox["formant_voice"], m, d, 1.0, vw)  # noqa: E731
            u = vocals.render_unit(vox, variant, bpm, sr, self.key_pc, self.scale, self.chord_degree(cycle), cycle,
                                   self.step_time, note)
            return u * (DRUM_LEVEL["vox"] * _gain(vox["gain_db"]))

        deg = self.chord_degree(cycle)
        if role == "bass":
            b = snd["bass"]
            root = register(scale_note(self.key_pc, self.scale, deg) % 12, b["low"])
            for s, ln, semi, vel in b["pattern"]:
                m = root + semi
                if m < 23:
                    m += 12
                ev.append((at(s), self.note(("bass", genre), b["voice"], m, ln * step_s * 0.92), float(vel)))
            u = self._assemble(ev, bar_n)
            if variant == "filtered":
                u = lowpass(u, sr, 350.0)
            return u
        if role == "lead":
            ld = snd["lead"]
            half = cycle % 2
            base = self.tonic(ld["octave"])
            lo, hi = base - 7, base + 19
            # Chords on degrees V-VII sit below the tonic, so the line stays in one register.
            root_deg = deg if deg <= 4 else deg - 7
            vowels = ld["voice"].get("vowels")
            bright = 1.0
            for i, (s, ln, dg, vel) in enumerate(ld["pattern"]):
                if not (16 * half <= s < 16 * half + 16):
                    continue
                m = scale_note(base, self.scale, root_deg + int(dg))
                while m > hi:
                    m -= 12
                while m < lo:
                    m += 12
                vowel = vowels[i % len(vowels)] if vowels else None
                note = self.note(("lead", genre), ld["voice"], m, ln * step_s * 0.95, bright, vowel)
                ev.append((at(s - 16 * half), note, float(vel)))
            u = self._assemble(ev, bar_n)
            return self._variant_filter(u, variant)
        if role == "chords":
            ch = snd["chords"]
            base = self.tonic(4)
            notes = voice_lead(chord(base, self.scale, deg, ch["size"]), 52, 72)
            hits = ch["rhythm"] if variant not in ("pad", "filtered") else [[0, 16]]
            gain = 1.0 / np.sqrt(len(notes))
            for s, ln in hits:
                for m in notes:
                    ev.append((at(s), self.note(("chords", genre), ch["voice"], m, ln * step_s * 0.97), gain))
            u = self._assemble(ev, bar_n)
            if variant == "filtered":
                return lowpass(u, sr, 700.0)
            return self._variant_filter(u, variant)
        if role == "atmos":
            root = register(scale_note(self.key_pc, self.scale, deg) % 12, 45)
            x = ins.atmos(self.glob["atmos"], root, 240.0 / bpm, sr, derive_rng(self.p["seed"], "atmos", cycle))
            if variant == "build_hp":
                # Builds clear the low end for the drop (the producer's high-pass in the build).
                x = fft_filter(x, sr, lo=self.mix["build_hp_hz"], order=2)
            return x
        raise KeyError(role)

    def _variant_filter(self, u: np.ndarray, variant: str) -> np.ndarray:
        if variant.startswith("sweep"):
            k, n = (int(v) for v in variant[5:].split("/"))
            c0 = 250.0 * 48.0 ** (k / n)
            c1 = 250.0 * 48.0 ** ((k + 1) / n)
            return sweep_filter(u, self.sr, c0, c1)
        if variant == "soft":
            return lowpass(u, self.sr, 1800.0)
        return u

    def _roll(self, n_bars: int, bpm: float, kind: str) -> list[tuple[int, np.ndarray, float]]:
        """Snare-roll events of a build: ``double`` (rate doubling every quarter of the build),
        ``eighths`` (8ths, 16ths in the last bar), ``sixteenths`` (16ths in the second half),
        ``claps`` (doubling, with the dominant genre's clap) or ``none``."""
        sr = self.sr
        beat_s = 60.0 / bpm
        dur = n_bars * 4 * beat_s
        if kind == "none":
            return []
        sn = self.oneshot("clap", self.p["dominant"]) if kind == "claps" else self.oneshot("snare_roll", None)
        ev = []
        n_beats = 4 * n_bars
        for b in range(n_beats):
            u = b / n_beats
            if kind in ("double", "claps"):
                rate = 2 ** min(3, int(4 * u))
            elif kind == "eighths":
                rate = 4 if b >= n_beats - 4 else 2
            else:  # sixteenths
                rate = 4 if u >= 0.5 else 0
            for r in range(rate):
                t = (b + r / rate) * beat_s
                ev.append((int(round(t * sr)), sn, 0.2 + 0.8 * (t / dur) ** 2))
        return ev

    def _fx_unit(self, variant: str, bpm: float) -> np.ndarray:
        sr = self.sr
        bar_s = 240.0 / bpm
        fx = self.fx or {"riser": "noise_pitch" if self.glob["riser"].get("pitch") else "noise", "riser_gain_db": 0.0,
                         "riser_bars": 0, "roll": "double", "roll_gain_db": 0.0, "impact": "none", "crash_gain_db": 0.0}
        if variant.startswith("build"):
            n_bars = int(variant[5:])
            dur = n_bars * bar_s
            rng = derive_rng(self.p["seed"], "riser", n_bars, bpm)
            rb = n_bars if not fx["riser_bars"] else min(n_bars, int(fx["riser_bars"]))
            r_dur = rb * bar_s
            kind = fx["riser"]
            rp = dict(self.glob["riser"])
            if kind == "noise":
                rp["pitch"] = 0.0
            elif kind == "noise_pitch" and not rp.get("pitch"):
                rp["pitch"] = 0.3
            x = ins.riser(rp, r_dur, sr, rng) * 1.2
            if kind == "sweep":
                x = 0.4 * x + 0.5 * sfx.pitch_sweep(rp.get("midi", 48), r_dur, sr)[:x.shape[0]]
            elif kind == "reverse":
                x = 0.6 * x
                n_last = min(int(round(bar_s * sr)), x.shape[0])
                sw = sfx.reverse_swell(self.oneshot("crash", None), n_last, sr)
                x[x.shape[0] - n_last:] += 0.9 * sw
            x *= _gain(fx["riser_gain_db"])
            roll = self._assemble(self._roll(n_bars, bpm, fx["roll"]), int(dur * sr))
            out = np.zeros((max(roll.shape[0], int(dur * sr)), 2))
            off = int(round((n_bars - rb) * bar_s * sr))
            m = max(0, min(x.shape[0], out.shape[0] - off))
            out[off:off + m] += x[:m]
            out[:roll.shape[0]] += 1.3 * _gain(fx["roll_gain_db"]) * roll
            return out
        if variant == "crash":
            c = self.oneshot("crash", None) * _gain(fx["crash_gain_db"])
            if fx["impact"] == "none":
                return c.copy()
            boom = sfx.impact(fx, sr, derive_rng(self.p["seed"], "impact"))
            out = np.zeros((max(c.shape[0], boom.shape[0]), 2))
            out[:c.shape[0]] += c
            out[:boom.shape[0]] += 0.8 * boom
            return out
        if variant == "down":
            rng = derive_rng(self.p["seed"], "down", bpm)
            d = ins.downlifter({"top": fx.get("down_top_hz", 8000.0)}, 2 * bar_s, sr, rng) * 0.8
            c = self.oneshot("crash", None)
            out = np.zeros((max(d.shape[0], c.shape[0]), 2))
            out[:d.shape[0]] += d
            out[:c.shape[0]] += 0.5 * c
            return out
        raise KeyError(variant)

    def _sfx_unit(self, variant: str, bpm: float) -> np.ndarray:
        """The extra transition effects of :mod:`.sfx` (one bar, ringing on)."""
        sr = self.sr
        bar_s = 240.0 / bpm
        bar_n = self.bar_samples(bpm, sr)
        rng = derive_rng(self.p["seed"], "sfx-unit", variant, bpm)
        if variant in ("up1", "up2"):
            return sfx.uplifter(self.fx, self.glob["riser"], int(variant[2:]) * bar_s, sr, rng)
        if variant == "rev":
            return sfx.reverse_swell(self.oneshot("crash", None), bar_n, sr)
        if variant == "impact":
            boom = sfx.impact(dict(self.fx, impact=self.fx["impact"] if self.fx["impact"] != "none" else "boom_noise"), sr, rng)
            return boom
        if variant.startswith("down"):
            return sfx.downsweep(self.fx, int(variant[4:]) * bar_s, sr, rng)
        if variant == "phrase":
            return 0.5 * self.oneshot("crash", None)
        raise KeyError(variant)

    # -- per-bar gains and sends ---------------------------------------------------------
    def role_gain(self, bar: dict, role: str, variant: str) -> float:
        g = _gain(self.mix.get("levels_db", {}).get(role, 0.0))
        src = bar["sources"].get(role)
        if src:
            g *= _gain(self.p["sound"][src]["levels"].get(role, 0.0))
        if role == "kick":
            lv = [self.p["sound"][x]["levels"].get("kick", 0.0) * w for x, w in self.p["genres"].items()]
            g *= _gain(sum(lv))
        if variant.startswith("sweep"):
            k, n = (int(v) for v in variant[5:].split("/"))
            g *= 0.45 + 0.55 * (k + 1) / n
        elif variant == "soft":
            g *= 0.7
        elif variant == "filtered":
            g *= 0.9
        if role == "atmos" and bar["section"] == "build":
            g *= 0.5 + 0.5 * (bar["pos"] + 1) / bar["n"]
        return g

    def send(self, bar: dict, role: str, variant: str) -> float:
        src = bar["sources"].get(role)
        if role == "atmos":
            s = float(np.mean([self.p["sound"][g]["reverb"]["send"] for g in self.p["genres"]])) * 1.5
        elif src is None:
            return 0.0
        elif role in ("lead", "chords", "vox"):
            s = self.p["sound"][src]["reverb"]["send"] * {"chords": 1.3, "vox": 1.2}.get(role, 1.0)
        else:
            s = self.p["sound"][src]["reverb"]["drum_send"]
        if variant in ("soft", "pad"):
            s *= 1.8
        return s * _gain(self.mix.get("reverb_send_db", 0.0))

    def delay_send(self, role: str) -> float:
        """Level of a part's send to the ping-pong delay (0 when the track has no delay)."""
        if not self.delay:
            return 0.0
        return float(self.delay["sends"].get(role, 0.0))

    # -- full render --------------------------------------------------------------------
    def render(self) -> tuple[np.ndarray, dict[str, np.ndarray] | None]:
        """Render the whole plan. Returns ``(audio float32 (n, 2), stems or None)``."""
        clock = time.perf_counter
        t0 = clock()
        sr = self.sr
        bars = self.p["bars"]
        times = bar_times(self.p)
        starts = np.round(times * sr).astype(np.int64)
        total = int(starts[-1])
        pad = int(8.0 * sr)
        buses = {g: np.zeros((total + pad, 2), dtype=np.float32) for g in ("dry", "music")}
        stems = {r: np.zeros((total + pad, 2), dtype=np.float32) for r in ROLES + ("reverb", "delay")} if self.keep_stems else None
        pump = np.zeros(total + pad, dtype=np.float32)
        duck_cache: dict[float, np.ndarray] = {}
        prog_len = len(self.prog)

        group_cache: dict[tuple, np.ndarray] = {}

        def add(bus: np.ndarray, s0: int, x: np.ndarray) -> None:
            seg = bus[s0:s0 + x.shape[0]]
            seg += x[:seg.shape[0]]

        for i, bar in enumerate(bars):
            if not self.reuse:  # benchmark baseline: every bar rendered note by note from scratch
                for cache in (self.units, self.raw_units, self.notes, self.wet_cache, self.delay_cache, group_cache):
                    cache.clear()
            s0 = int(starts[i])
            bpm = float(bar.get("bpm", self.p["bpm"]))
            cycle = bar["pos"] % prog_len
            sig = []
            dsig = []
            items: dict[str, list] = {"dry": [], "music": []}
            for role, variant in bar["roles"].items():
                genre = bar["sources"].get(role)
                if role == "atmos" and bar["section"] == "build" and self.mix.get("build_hp_hz"):
                    variant = "build_hp"  # engine-internal unit variant; the plan keeps "main"
                g = self.role_gain(bar, role, variant)
                key = (role, genre, variant, cycle % 4 if role in CYCLE_ROLES else 0, bpm)
                items[GROUP[role]].append((key, round(g, 6)))
                if stems is not None:
                    u = self.unit(*key)
                    add(stems[role], s0, u if g == 1.0 else np.float32(g) * u)
                if role in REVERB_ROLES:
                    snd = self.send(bar, role, variant) * g
                    if snd > 0:
                        sig.append(key + (round(snd, 5),))
                dl = self.delay_send(role) * g
                if dl > 0:
                    dsig.append(key + (round(dl, 5),))
            # Each bus gets one add per bar: the sum of its parts (and, for the music
            # bus, the reverb return), cached because bars repeat like loops.
            for group, parts in items.items():
                gsig = (group, tuple(parts), tuple(sig) if group == "music" else (), tuple(dsig) if group == "music" else ())
                if not parts and not gsig[2] and not gsig[3]:
                    continue
                x = group_cache.get(gsig)
                if x is None:
                    arrays = [(self.unit(*k), g) for k, g in parts]
                    arrays += [(self._wet(part), 1.0) for part in _split_sends(gsig[2])]
                    arrays += [(self._delay_wet(part), 1.0) for part in _split_sends(gsig[3])]
                    x = np.zeros((max(a.shape[0] for a, _ in arrays), 2), dtype=np.float32)
                    for a, g in arrays:
                        x[:a.shape[0]] += a if g == 1.0 else np.float32(g) * a
                    group_cache[gsig] = x
                add(buses[group], s0, x)
            if stems is not None:
                for part in _split_sends(tuple(sig)):
                    add(stems["reverb"], s0, self._wet(part))
                for part in _split_sends(tuple(dsig)):
                    add(stems["delay"], s0, self._delay_wet(part))
            if "kick" in bar["roles"]:
                d = duck_cache.get(bpm)
                if d is None:
                    beat_n = 60.0 / bpm * sr
                    one = pump_curve(int(beat_n), sr, self.glob["pump"], self.glob["pump_release"] * 60.0 / bpm)
                    d = np.zeros(int(4 * beat_n) + one.size + 2, dtype=np.float32)
                    for b in range(4):
                        o = int(round(b * beat_n))
                        d[o:o + one.size] = np.maximum(d[o:o + one.size], one)
                    duck_cache[bpm] = d
                seg = pump[s0:s0 + d.size]
                np.maximum(seg, d[:seg.size], out=seg)

        t1 = clock()
        mix = buses["dry"][:total]
        music = buses["music"][:total]
        music *= (1.0 - np.minimum(pump[:total], 0.95))[:, None]
        mix += music
        del buses, music

        t2 = clock()
        self._section_levels(mix, starts, bars)
        # End: fade the last two beats so the cut tails do not click.
        last_bpm = float(bars[-1].get("bpm", self.p["bpm"]))
        fade = min(total, int(round(120.0 / last_bpm * sr)))
        mix[total - fade:] *= np.linspace(1.0, 0.0, fade, dtype=np.float32)[:, None]
        master(mix, self.glob["master_drive"])
        ceiling = 0.97
        chain = self.p.get("master")
        if chain:  # the randomised mastering chain (EQ, width, compression, saturation, limiter)
            mix = mastering.apply_chain(mix, sr, chain)
            ceiling = 10.0 ** (chain["limiter"]["ceiling_db"] / 20.0)
        # The master saturation and limiter squeeze the loud drops more than the rest: re-level
        # the other sections (attenuate only) so that the drop margins hold after them.
        changed = self._section_levels(mix, starts, bars, only_reduce=True)
        changed = self._restore_build_rise(mix, starts, bars) or changed
        if changed:
            mix *= np.float32(ceiling / (float(np.max(np.abs(mix))) or 1.0))
        if stems is not None:
            stems = {k: v[:total] for k, v in stems.items()}
        t3 = clock()
        self.timings = {"bars_s": t1 - t0, "mixdown_s": t2 - t1, "master_s": t3 - t2, "unit_s": self.unit_time}
        return mix, stems

    def _send_mono(self, sig: tuple) -> np.ndarray:
        """Mono sum of one bar's send: the units of ``sig`` ((role, genre, variant, cycle, bpm, level), ...)."""
        mono = None
        for role, genre, variant, cyc, bpm, level in sig:
            u = self.unit(role, genre, variant, cyc, bpm)
            m = (u[:, 0].astype(np.float64) + u[:, 1]) * (0.5 * level)
            if mono is None:
                mono = m
            else:
                if m.shape[0] > mono.shape[0]:
                    m, mono = mono, m
                mono[:m.shape[0]] += m
        return mono

    def _wet(self, sig: tuple) -> np.ndarray:
        w = self.wet_cache.get(sig)
        if w is None:
            w = self.conv(self._send_mono(sig)).astype(np.float32)
            self.wet_cache[sig] = w
        return w

    def _delay_wet(self, sig: tuple) -> np.ndarray:
        """Ping-pong delay return of one bar's delay sends (cached like the reverb)."""
        w = self.delay_cache.get(sig)
        if w is None:
            mono = self._send_mono(sig)
            bpm = sig[0][4]
            d = self.delay
            w = stereo.pingpong(mono, self.sr, d["beats"] * 60.0 / bpm, d["feedback"], d["damp_hz"]).astype(np.float32)
            self.delay_cache[sig] = w
        return w

    def _build_ramps(self, mix: np.ndarray, starts: np.ndarray, bars: list[dict]) -> None:
        """Builds swell: a rising gain (linear in dB, BUILD_RAMP_DB) across each build (in place)."""
        for i, j in _build_runs(bars):
            a, b = int(starts[i]), int(starts[j])
            ramp = np.power(np.float32(10.0), np.linspace(-BUILD_RAMP_DB / 20.0, 0.0, b - a, dtype=np.float32))
            mix[a:b] *= ramp[:, None]

    def _restore_build_rise(self, mix: np.ndarray, starts: np.ndarray, bars: list[dict]) -> bool:
        """After the master's compression: where a build now rises by less than
        ``BUILD_MIN_RISE_DB`` from its first to its last bar, turn its start down (a ramp that
        ends at 0 dB on the last bar) until it does. Returns whether anything changed."""
        changed = False

        def bar_db(k):
            seg = mix[int(starts[k]):int(starts[k + 1])]
            return 10 * np.log10(float(np.mean(np.square(seg, dtype=np.float64))) + 1e-12)

        for i, j in _build_runs(bars):
            if j - i < 2:
                continue
            for _ in range(3):  # the ramp turns the first bar down by less than its start: repeat
                short = BUILD_MIN_RISE_DB - (bar_db(j - 1) - bar_db(i))
                if short <= 0.05:
                    break
                a, b = int(starts[i]), int(starts[j - 1])
                ramp = np.power(np.float32(10.0), np.linspace(-short / 20.0, 0.0, b - a, dtype=np.float32))
                mix[a:b] *= ramp[:, None]
                changed = True
        return changed

    @staticmethod
    def _bar_db(power: np.ndarray, starts: np.ndarray) -> np.ndarray:
        """Mean level (dB) of every bar of a per-sample power."""
        bar_e = np.add.reduceat(power, starts[:-1]).astype(np.float64) / np.maximum(np.diff(starts), 1)
        return 10 * np.log10(np.maximum(bar_e, 1e-12))

    def _section_levels(self, mix: np.ndarray, starts: np.ndarray, bars: list[dict], only_reduce: bool = False) -> bool:
        """Scale sections so that drops are the loudest parts and builds rise into them (in place).

        With ``only_reduce`` drops are left alone and other sections are only turned
        down. Returns whether anything changed.
        """
        if not only_reduce:
            self._build_ramps(mix, starts, bars)
        sq = np.square(mix[:, 0])
        sq += np.square(mix[:, 1])
        levels = [self._bar_db(sq, starts)]
        if only_reduce:
            # A build's margin must also hold in the mono sum, which the analysis (and the
            # paper's drop rule) hears: a wide master's side signal raises the stereo power of
            # drops above their mono power, so a build can come too close to its drop in mono
            # and read as the drop's start.
            levels.append(self._bar_db(np.square(0.5 * (mix[:, 0] + mix[:, 1])), starts))
        sec_ids = np.array([b["section_index"] for b in bars])
        labels = {b["section_index"]: b["section"] for b in bars}
        drops = [d for d, lab in labels.items() if lab == "drop"]
        if not drops:
            return False
        refs = [float(np.mean([np.mean(bar_db[sec_ids == d]) for d in drops])) for bar_db in levels]
        gains = np.ones(len(bars))
        for s, lab in labels.items():
            m = sec_ids == s
            gdbs = []
            used = len(levels) if lab == "build" else 1  # the mono margin is kept for builds only
            for bar_db, ref in zip(levels[:used], refs[:used]):
                if lab == "drop":
                    gdbs.append(0.0 if only_reduce else ref - float(np.mean(bar_db[m])))
                else:
                    gdb = ref + SECTION_TARGET_DB[lab] - float(np.max(bar_db[m]))
                    gdbs.append(min(gdb, 0.0) if only_reduce else gdb)
            gains[m] = _gain(float(np.clip(min(gdbs), -30.0, 12.0)))
        if np.all(gains == 1.0):
            return False
        ramp = int(0.02 * self.sr)
        prev = None
        for i, g in enumerate(gains):
            a, b = int(starts[i]), int(starts[i + 1])
            mix[a:b] *= np.float32(g)
            if prev is not None and prev != g and ramp:
                r = min(ramp, b - a)
                # Smooth the step: the first ``r`` samples glide from the previous gain.
                glide = (np.linspace(prev, g, r) / g).astype(np.float32)
                mix[a:a + r] *= glide[:, None]
            prev = g
        return True
