"""Real drum one-shots from Debian sample packages: catalogue, role classification, choice, loading.

SynthHouse replaces its synthetic drums, in a fraction of tracks and per drum role, by
recorded one-shots from four Debian packages (licences in ``SAMPLES.md``):

* ``sonic-pi-samples`` (CC0), ``/usr/share/sonic-pi/samples``;
* ``lmms-common`` (GPL-2+), ``/usr/share/lmms/samples/drums``;
* ``hydrogen-drumkits`` (14 kits, GPL-2 / GPL-2+ / CC-BY / CC-BY-SA / CC0 per kit) and
  ``hydrogen-data`` (TR808EmulationKit, GMRockKit, GPL-2+), ``/usr/share/hydrogen/data/drumkits``.

Files are classified into pools (kick, snare, clap, hat, open_hat, ride, crash, shaker,
conga, rim) by their file and kit names (Hydrogen kits: the instrument names of their
``drumkit.xml``), then each chosen file is verified by a simple spectral check
(:func:`verify`): a kick must put most of its energy below 150 Hz and start its body at
once, a hat must be mostly above 3 kHz, and so on. Files failing it are never used.

Choice (:func:`choose`) happens when a track is planned and is recorded in the plan
(package, file, measured pitch, tuning), so the render depends only on the plan. The
draw does not depend on which packages are installed: a role first draws a package from
a fixed table, then a file inside that package's pool. When the drawn package is not
installed (or not allowed), the role falls back to the synthetic drum and the plan
carries a note saying so: the same seed gives the same plan on every machine with the
same packages. :func:`require_packages` turns a missing package into a one-line error
(for reproducible dataset builds).

Decoded files are cached per process (:func:`load`, :func:`analyse`).
"""
from __future__ import annotations

import os
import re
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from fractions import Fraction
from functools import lru_cache

import numpy as np

from .arrangement import SynthError

#: Bumped whenever classification, verification or loading would change a render.
BANK_VERSION = "1"

HYDROGEN_ROOT = "/usr/share/hydrogen/data/drumkits"

#: Hydrogen kits by package, with their licence (from /usr/share/doc/<pkg>/copyright) and
#: whether they are recordings of acoustic instruments (True) or electronic sounds (False).
HYDROGEN_KITS = {
    "hydrogen-data": {
        "GMRockKit": ("GPL-2+", True),
        "TR808EmulationKit": ("GPL-2+", False),
    },
    "hydrogen-drumkits": {
        "Audiophob": ("CC0-1.0", False),
        "BJA_Pacific": ("CC-BY-SA-3.0-US", True),
        "ColomboAcousticDrumkit": ("GPL-2+ with composition exception", True),
        "ElectricEmpireKit": ("GPL-2+", False),
        "ForzeeStereo": ("GPL-2", True),
        "Gimme A Hand 1.0": ("GPL-2", True),
        "HardElectro1": ("GPL-2+", False),
        "Millo-Drums_v.1": ("GPL-2", True),
        "Millo_MultiLayered2": ("GPL-2", True),
        "Millo_MultiLayered3": ("GPL-2", True),
        "The Black Pearl 1.0": ("GPL-2", True),
        "VariBreaks": ("GPL-2+", False),
        "circAfrique v4": ("CC-BY-SA-3.0", True),
        "rumpf_kit_z01_h2": ("CC-BY-3.0", True),
    },
}


@dataclass(frozen=True)
class Package:
    """One Debian sample package: where its files live and under which licence."""

    name: str
    roots: tuple[str, ...]
    licence: str


PACKAGES = {
    "sonic-pi-samples": Package("sonic-pi-samples", ("/usr/share/sonic-pi/samples", "/usr/lib/sonic-pi/etc/samples"),
                                "CC0-1.0"),
    "lmms-common": Package("lmms-common", ("/usr/share/lmms/samples/drums",), "GPL-2+"),
    "hydrogen-drumkits": Package("hydrogen-drumkits", (HYDROGEN_ROOT,), "per kit (see SAMPLES.md)"),
    "hydrogen-data": Package("hydrogen-data", (HYDROGEN_ROOT,), "GPL-2+"),
}
PACKAGE_NAMES = tuple(PACKAGES)
#: The packages a reproducible dataset build needs (:func:`require_packages`).
REQUIRED = PACKAGE_NAMES

POOLS = ("kick", "snare", "clap", "hat", "open_hat", "ride", "crash", "shaker", "conga", "rim")
AUDIO_EXT = (".wav", ".flac", ".ogg", ".aif", ".aiff")
#: Longest onset-to-peak time (s) a file of each pool may have (:func:`verify`).
MAX_ATTACK = {"kick": 0.02, "snare": 0.02, "clap": 0.045, "hat": 0.008, "open_hat": 0.03, "ride": 0.03, "crash": 0.03,
              "shaker": 0.012, "conga": 0.012, "rim": 0.012}

#: Longest part of a one-shot kept per pool (s); longer files are faded out there.
MAX_LEN = {"kick": 0.9, "snare": 0.8, "clap": 0.8, "hat": 0.45, "open_hat": 1.2, "ride": 1.6, "crash": 3.0,
           "shaker": 0.45, "conga": 0.8, "rim": 0.5}


# ---------------------------------------------------------------------------
# Classification by name
# ---------------------------------------------------------------------------

def _tok(word: str) -> str:
    """Regex for ``word`` as a token (not inside a longer alphabetic word)."""
    return rf"(?<![a-z]){word}(?![a-z])"


_SKIP = re.compile(r"loop|ambi_|^bass_|guit|vinyl|mehackit|misc_|glitch|robot|elec_(beep|blip|bell|blup|bong|chime|flip|"
                   r"ping|plip|pop|twang|twip|triangle)|empty|zap|roll|fx|whistle|waterglass|perc_(door|till|swoosh|swash|"
                   r"impact|bell)|metronome|nasty|drumsynth")
_RULES: tuple[tuple[str, re.Pattern], ...] = (
    ("kick", re.compile(r"kick|bassdrum|bass drum|drum_bass|" + _tok("bd") + r"|bd_|" + _tok(r"bd\d+") + r"|^bd\d")),
    ("clap", re.compile(r"clap|snap")),
    ("snare", re.compile(r"snare|" + _tok("sn") + r"|^sn_|" + _tok("sd") + r"|sd_|[rj]snare|sr_\d")),
    ("open_hat", re.compile(r"(hat|hh|hihat).*(open|opened|semi)|(open|semi).*(hat|hh)|ohh|hhopen|" + _tok("ho") + r"|^ho_|"
                            r"cymbal_open")),
    ("hat", re.compile(r"hat|hh|chh|hihat|cymbal_(closed|pedal)")),
    ("ride", re.compile(r"ride|" + _tok("rc") + r"|^rc_|" + _tok(r"rd\d*") + r"|rd_|rd2_")),
    ("crash", re.compile(r"crash|splash|china|cymbal|" + _tok("cc") + r"|^cc_|cra_")),
    ("shaker", re.compile(r"shaker|shake|maraca|tambourine|tamb|cabasa")),
    ("conga", re.compile(r"conga|bongo|djembe|tabla|cajon|tom|dununba|kenkeni|sangban|" + _tok(r"ft") + r"|^ft_|^t[12]_")),
    ("rim", re.compile(r"rim|stick|clave|wood|block|cowbell|agogo|clav|click|bell|" + _tok("rs") + r"|^rs_|^mc_")),
)


def classify(name: str) -> str | None:
    """Pool of a one-shot from its (lower-case) file / instrument name, or None (not a drum one-shot)."""
    n = name.lower()
    if _SKIP.search(n):
        return None
    for pool, rx in _RULES:
        if rx.search(n):
            return pool
    return None


@dataclass(frozen=True)
class Entry:
    """One catalogued one-shot."""

    package: str
    path: str  # absolute
    rel: str  # relative to the package root (what the plan records)
    kit: str
    pool: str
    acoustic: bool
    licence: str


def _sonic_pi_acoustic(stem: str) -> bool:
    return stem.startswith(("drum_", "tabla_", "perc_snap"))


def _hydrogen_entries(package: str) -> list[Entry]:
    out = []
    for kit, (licence, acoustic) in HYDROGEN_KITS[package].items():
        folder = os.path.join(HYDROGEN_ROOT, kit)
        xml = os.path.join(folder, "drumkit.xml")
        if not os.path.isfile(xml):
            continue
        try:
            root = ET.parse(xml).getroot()
        except ET.ParseError:
            continue
        seen: set[str] = set()
        for inst in root.iter():
            if not inst.tag.endswith("instrument"):
                continue
            name = ""
            files = []
            for child in inst.iter():
                tag = child.tag.rsplit("}", 1)[-1]
                if tag == "name" and not name:
                    name = (child.text or "").strip()
                elif tag == "filename" and child.text:
                    files.append(child.text.strip())
            # The GM-numbered rumpf kit names its instruments "c3 - bass drum 1": drop the note.
            name = re.sub(r"^[a-g]#?\d+\s*-\s*", "", name.lower())
            for f in files:
                path = os.path.join(folder, f)
                if f in seen or not path.lower().endswith(AUDIO_EXT) or not os.path.isfile(path):
                    continue
                seen.add(f)
                pool = classify(name) or classify(os.path.splitext(f)[0])
                if pool:
                    out.append(Entry(package, path, f"{kit}/{f}", kit, pool, acoustic, licence))
    return out


def _flat_entries(package: str) -> list[Entry]:
    pkg = PACKAGES[package]
    root = next((r for r in pkg.roots if os.path.isdir(r)), None)
    if root is None:
        return []
    out = []
    for f in sorted(os.listdir(root)):
        stem, ext = os.path.splitext(f)
        if ext.lower() not in AUDIO_EXT:
            continue
        pool = classify(stem)
        if not pool:
            continue
        if package == "sonic-pi-samples":
            acoustic = _sonic_pi_acoustic(stem)
        else:
            acoustic = "acoustic" in stem or stem.startswith(("shaker", "ride", "crash", "tom", "wood", "sidestick"))
        out.append(Entry(package, os.path.join(root, f), f, os.path.basename(root), pool, acoustic, pkg.licence))
    return out


@lru_cache(maxsize=1)
def catalogue() -> dict[tuple[str, str], tuple[Entry, ...]]:
    """``(package, pool) -> entries`` (sorted by relative path) of every installed package.

    Scanned once per process (directory listings and Hydrogen ``drumkit.xml`` files; no
    audio is decoded here).
    """
    entries: list[Entry] = []
    for package in PACKAGE_NAMES:
        entries += _hydrogen_entries(package) if package in HYDROGEN_KITS else _flat_entries(package)
    out: dict[tuple[str, str], list[Entry]] = {}
    for e in entries:
        out.setdefault((e.package, e.pool), []).append(e)
    return {k: tuple(sorted(v, key=lambda e: e.rel)) for k, v in out.items()}


def installed(package: str) -> bool:
    """Whether ``package``'s sample files are present (at least one catalogued one-shot)."""
    return any(pkg == package and entries for (pkg, _), entries in catalogue().items())


def missing_packages(packages=REQUIRED) -> list[str]:
    """The packages of ``packages`` whose samples are not installed."""
    return [p for p in packages if not installed(p)]


def require_packages(packages=REQUIRED) -> None:
    """Raise a one-line :class:`SynthError` naming the first missing sample package.

    Meant for dataset builds: a model trained on renders that silently fell back to
    synthetic drums would not be reproducible on a machine that has the packages.
    """
    unknown = [p for p in packages if p not in PACKAGES]
    if unknown:
        raise SynthError(f"unknown drum-sample package {unknown[0]!r}; known: {', '.join(PACKAGE_NAMES)}")
    missing = missing_packages(packages)
    if missing:
        pkg = PACKAGES[missing[0]]
        raise SynthError(f"drum samples of Debian package {pkg.name!r} not found in {pkg.roots[0]}; "
                         f"install it (apt-get install {' '.join(missing)}, or .ci/install-system-deps)")


# ---------------------------------------------------------------------------
# Decoding, resampling, spectral check
# ---------------------------------------------------------------------------

def resample(x: np.ndarray, sr_in: int, sr_out: float) -> np.ndarray:
    """Polyphase resampling (scipy) of ``x`` (axis 0) by the rational ratio ``sr_out / sr_in``.

    Also used for varispeed pitch shifts (``sr_out = sr / ratio``); the ratio is rounded
    to a fraction with a denominator of at most 400 (0.3 cents at worst).
    """
    from scipy.signal import resample_poly

    frac = Fraction(float(sr_out) / float(sr_in)).limit_denominator(400)
    if frac == 1:
        return np.asarray(x, dtype=np.float64)
    return resample_poly(np.asarray(x, dtype=np.float64), frac.numerator, frac.denominator, axis=0)


@lru_cache(maxsize=256)
def _decode(path: str) -> tuple[np.ndarray, int]:
    """File -> (float64 (n, 2) read-only, sample rate), trimmed to its onset."""
    import soundfile as sf

    try:
        x, sr = sf.read(path, dtype="float64", always_2d=True)
    except (sf.LibsndfileError, RuntimeError, OSError):  # a few package files are malformed
        x, sr = np.zeros((0, 2)), 44100
    x = x[:, :2] if x.shape[1] >= 2 else np.repeat(x, 2, axis=1)
    peak = float(np.max(np.abs(x))) if x.size else 0.0
    if peak <= 0:
        x = np.zeros((0, 2))
    else:
        # Start at the onset (first sample above -20 dB of the peak, less 0.5 ms): sample
        # files carry a few ms of silence or noise, which would put the hit off the grid.
        a = np.abs(x).max(axis=1)
        on = max(0, int(np.argmax(a >= 0.1 * peak)) - int(0.0005 * sr))
        x = x[on:] / peak
    x.setflags(write=False)
    return x, int(sr)


def _band_share(spec: np.ndarray, f: np.ndarray, lo: float, hi: float) -> float:
    return float(spec[(f >= lo) & (f < hi)].sum() / (spec.sum() + 1e-20))


def _low_env(mono: np.ndarray, sr: int) -> np.ndarray:
    """Envelope (1 ms RMS) of the band below 150 Hz (FFT low-pass)."""
    n = mono.size
    spec = np.fft.rfft(mono)
    f = np.fft.rfftfreq(n, 1.0 / sr)
    low = np.fft.irfft(spec / np.sqrt(1.0 + (f / 150.0) ** 8), n)
    k = max(1, int(0.001 * sr))
    return np.sqrt(np.convolve(low ** 2, np.ones(k) / k, mode="same"))


def body_pitch(mono: np.ndarray, sr: int) -> float:
    """Kick body pitch (Hz): the spectral peak between 30 and 160 Hz, 60-220 ms after the onset.

    Short kicks (under 250 ms) are measured 15-120 ms after the onset instead.
    """
    a, b = (0.06, 0.22) if mono.size > 0.25 * sr else (0.015, 0.12)
    seg = mono[int(a * sr):int(b * sr)]
    if seg.size < 32:
        seg = mono[: int(0.1 * sr)]
    spec = np.abs(np.fft.rfft(seg * np.hanning(seg.size), 1 << 15))
    f = np.fft.rfftfreq(1 << 15, 1.0 / sr)
    band = (f > 30) & (f < 160)
    return float(f[band][np.argmax(spec[band])])


@lru_cache(maxsize=4096)
def analyse(path: str) -> dict:
    """Spectral measurements of one file (cached per process; plain floats).

    ``length`` (s, to -40 dB of the peak envelope), ``low`` / ``mid`` / ``high`` (energy
    shares below 150 Hz, 1-6 kHz, above 3 kHz in the first 300 ms), ``centroid`` (Hz),
    ``early`` (the < 150 Hz envelope 8 ms after the onset relative to its peak),
    ``low_length`` (s, < 150 Hz envelope to -20 dB), ``attack`` (s from the onset to the
    peak of the 3 ms RMS envelope) and ``pitch`` (:func:`body_pitch`).
    """
    x, sr = _decode(path)
    if x.shape[0] < int(0.01 * sr):
        return {"length": 0.0}
    mono = x.mean(axis=1)
    env = np.maximum.accumulate(np.abs(mono)[::-1])[::-1]
    below = np.flatnonzero(env < 0.01)
    length = (below[0] if below.size else mono.size) / sr
    head = mono[: int(0.3 * sr)]
    spec = np.abs(np.fft.rfft(head * np.hanning(head.size), 1 << 14)) ** 2
    f = np.fft.rfftfreq(1 << 14, 1.0 / sr)
    k = max(1, int(0.003 * sr))
    env3 = np.sqrt(np.convolve(mono[: int(0.2 * sr)] ** 2, np.ones(k) / k, mode="same"))
    lenv = _low_env(mono[: int(1.0 * sr)], sr)
    lpeak = float(lenv.max()) or 1e-12
    lbelow = np.flatnonzero(np.maximum.accumulate(lenv[::-1])[::-1] < 0.1 * lpeak)
    return {
        "length": float(length),
        "low": _band_share(spec, f, 0, 150),
        "mid": _band_share(spec, f, 1000, 6000),
        "high": _band_share(spec, f, 3000, sr / 2),
        "centroid": float((spec * f).sum() / (spec.sum() + 1e-20)),
        "early": float(lenv[min(lenv.size - 1, int(0.008 * sr))] / lpeak),
        "low_length": float((lbelow[0] if lbelow.size else lenv.size) / sr),
        "attack": float(np.argmax(env3) / sr),
        "pitch": body_pitch(mono, sr),
    }


def verify(entry: Entry) -> bool:
    """Simple spectral check that a file sounds like its pool (see the module docstring)."""
    a = analyse(entry.path)
    if a["length"] < 0.02 or a["length"] > 8.0:
        return False
    p = entry.pool
    # The hit must peak right after its onset (the grid point): a sample whose energy
    # arrives late would drag the audible groove behind the beat.
    if a["attack"] > MAX_ATTACK[p]:
        return False
    if p == "kick":
        # Body below 150 Hz that is there at once (>= 30 % of its peak after 8 ms): kicks that
        # build their body late would put the audible beat after the grid.
        return a["low"] >= 0.4 and a["early"] >= 0.3 and a["low_length"] >= 0.06
    if p in ("snare", "clap"):
        return a["low"] <= 0.3 and a["centroid"] >= 600 and a["high"] + a["mid"] >= 0.25
    if p in ("hat", "shaker"):
        return a["high"] >= 0.55 and a["low"] <= 0.05
    if p == "open_hat":
        return a["high"] >= 0.55 and a["low"] <= 0.05 and a["length"] >= 0.12
    if p in ("ride", "crash"):
        return a["high"] >= 0.45 and a["low"] <= 0.08 and a["length"] >= (0.5 if p == "crash" else 0.25)
    if p == "conga":
        return 120 <= a["centroid"] <= 4000 and a["low"] <= 0.6
    if p == "rim":
        return a["centroid"] >= 400 and a["low"] <= 0.2
    return False


@lru_cache(maxsize=192)
def _load(path: str, pool: str, sr: int, ratio: float) -> np.ndarray:
    x, sr0 = _decode(path)
    y = resample(x, sr0, sr / ratio)
    n_max = int(MAX_LEN[pool] * sr)
    if y.shape[0] > n_max:
        y = y[:n_max].copy()
        fade = min(n_max, int(0.03 * sr))
        y[n_max - fade:] *= np.linspace(1.0, 0.0, fade)[:, None]
    peak = float(np.max(np.abs(y))) or 1.0
    y = y / peak
    y.setflags(write=False)
    return y


def load(choice: dict, sr: int, ratio: float = 1.0) -> np.ndarray:
    """Decoded one-shot of a plan's sample ``choice``: stereo float64, peak 1, at ``sr``.

    ``ratio`` > 1 plays it higher and shorter (varispeed, as a sampler does). Cached
    per process.
    """
    path = os.path.join(_root_of(choice["package"]), choice["file"])
    return _load(path, choice["pool"], int(sr), round(float(ratio) * float(choice.get("tune", 1.0)), 5))


def _root_of(package: str) -> str:
    if package in HYDROGEN_KITS:
        return HYDROGEN_ROOT
    pkg = PACKAGES[package]
    return next((r for r in pkg.roots if os.path.isdir(r)), pkg.roots[0])


# ---------------------------------------------------------------------------
# Choice (plan time)
# ---------------------------------------------------------------------------

#: Package weights per pool and flavour ("electronic", "acoustic", or "any" for the pools
#: that are acoustic by nature). Fixed, so that a draw does not depend on what is installed;
#: every listed (package, pool, flavour) has verified files (tests/synth/test_randomisation.py).
WEIGHTS = {
    "kick": {"electronic": {"sonic-pi-samples": 2, "lmms-common": 2, "hydrogen-drumkits": 3, "hydrogen-data": 1},
             "acoustic": {"hydrogen-drumkits": 3, "hydrogen-data": 1}},
    "snare": {"electronic": {"sonic-pi-samples": 2, "lmms-common": 3, "hydrogen-drumkits": 1},
              "acoustic": {"hydrogen-drumkits": 4, "hydrogen-data": 1, "sonic-pi-samples": 1}},
    "clap": {"electronic": {"lmms-common": 2, "hydrogen-drumkits": 2, "hydrogen-data": 1},
             "acoustic": {"hydrogen-drumkits": 3, "hydrogen-data": 1, "sonic-pi-samples": 1}},
    "hat": {"electronic": {"lmms-common": 2, "hydrogen-drumkits": 2},
            "acoustic": {"hydrogen-drumkits": 4, "sonic-pi-samples": 1}},
    "open_hat": {"electronic": {"lmms-common": 2, "hydrogen-drumkits": 1, "hydrogen-data": 1},
                 "acoustic": {"hydrogen-drumkits": 4, "hydrogen-data": 1, "sonic-pi-samples": 1}},
    "conga": {"electronic": {"hydrogen-drumkits": 2, "hydrogen-data": 1},
              "acoustic": {"hydrogen-drumkits": 4, "sonic-pi-samples": 2, "lmms-common": 1}},
    "rim": {"electronic": {"lmms-common": 2, "hydrogen-drumkits": 1, "hydrogen-data": 1},
            "acoustic": {"hydrogen-drumkits": 4, "hydrogen-data": 1, "lmms-common": 1, "sonic-pi-samples": 1}},
    "crash": {"any": {"hydrogen-drumkits": 3, "hydrogen-data": 1, "lmms-common": 1, "sonic-pi-samples": 1}},
    "ride": {"any": {"hydrogen-drumkits": 3, "hydrogen-data": 1, "lmms-common": 1}},
    "shaker": {"any": {"hydrogen-drumkits": 1}},
}
#: Files tried per draw before giving up (each must pass :func:`verify`).
TRIES = 6


def choose(rng: np.random.Generator, pool: str, acoustic: bool, allowed=PACKAGE_NAMES) -> tuple[dict | None, str | None]:
    """Draw one verified one-shot of ``pool`` (plan time).

    ``acoustic`` picks recorded acoustic instruments or electronic sounds where the pool
    has both flavours (crash, ride and shaker files are drawn from all of theirs).

    Always consumes the same number of random numbers (a package draw and ``TRIES`` file
    draws), whatever is installed, so the rest of the plan never depends on it.

    Returns
    -------
    (choice, note)
        ``choice`` is a JSON-ready dict (``package``, ``file`` relative to the package's
        sample folder, ``kit``, ``pool``, ``acoustic``, ``licence`` and the measured
        ``pitch_hz``, ``length_s``), or None with ``note`` saying why (package missing or
        not allowed, or no file passed the check).
    """
    table = WEIGHTS[pool]
    flavour = "any" if "any" in table else ("acoustic" if acoustic else "electronic")
    weights = table[flavour]
    names = sorted(weights)
    p = np.array([weights[k] for k in names], dtype=np.float64)
    package = names[int(rng.choice(len(names), p=p / p.sum()))]
    us = rng.random(TRIES)
    if package not in allowed:
        return None, f"{pool}: package {package} not allowed, synthetic"
    entries = [e for e in catalogue().get((package, pool), ()) if flavour == "any" or e.acoustic == (flavour == "acoustic")]
    if not entries:
        if not installed(package):
            return None, f"{pool}: package {package} not installed, synthetic"
        return None, f"{pool}: no {flavour} file in {package}, synthetic"
    for u in us:
        e = entries[int(u * len(entries))]
        if verify(e):
            a = analyse(e.path)
            return {"package": e.package, "file": e.rel, "kit": e.kit, "pool": pool, "acoustic": e.acoustic,
                    "licence": e.licence, "pitch_hz": round(a["pitch"], 2), "length_s": round(a["length"], 4),
                    "low_length_s": round(a["low_length"], 4)}, None
    return None, f"{pool}: no file of {package} passed the spectral check, synthetic"


def verified_pool(package: str, pool: str) -> list[Entry]:
    """Every catalogued file of a package's pool that passes :func:`verify` (tests, SAMPLES.md)."""
    return [e for e in catalogue().get((package, pool), ()) if verify(e)]
