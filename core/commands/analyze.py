"""``mainstage analyze TRACK [...]``: write a timeline JSON per audio track."""
from __future__ import annotations

import argparse

HELP = "analyse audio tracks (tempo, beats, bars, phrases, drops, sections) into timeline JSON files"
DESCRIPTION = (
    "Analyse audio tracks into timeline JSON files. A folder argument analyses every audio "
    "file in it. By default TRACK's timeline is written next to it as <track>.timeline.json. "
    "Results are cached by file content (see MAINSTAGE_CACHE_DIR); bad files are reported "
    "and skipped, and the exit status is 1 if any failed."
)


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("tracks", nargs="+", metavar="TRACK", help="audio file(s) or folder(s) of audio files")
    out = p.add_mutually_exclusive_group()
    out.add_argument("-o", "--out", metavar="OUT.json", help="timeline file to write (one track only)")
    out.add_argument("--out-dir", metavar="DIR", help="folder for the timeline files")
    p.add_argument("--no-genre", action="store_true", help="skip genre inference")
    p.add_argument("--model", metavar="MODEL.onnx",
                   help="exported genre model (with its .json metadata beside it); default: the bundled model")
    p.add_argument("--smoothing", type=int, default=None, metavar="BARS",
                   help="moving-average radius over the genre windows, in bars (default: the model's "
                        "recommended 2; 0 = off)")
    p.add_argument("--jobs", "-j", type=int, default=1, metavar="N", help="analyse N tracks in parallel processes")
    p.add_argument("--no-cache", action="store_true", help="neither read nor write the analysis cache")
    p.add_argument("-q", "--quiet", action="store_true", help="print only failures")


def expand_tracks(args: list[str]) -> tuple[list[str], list[tuple[str, str]]]:
    """Expand folder arguments into their audio files; returns (tracks, [(arg, problem)])."""
    from pathlib import Path

    from ..audio import AUDIO_EXTENSIONS

    tracks, bad = [], []
    for a in args:
        p = Path(a)
        if p.is_dir():
            found = sorted(str(f) for f in p.iterdir()
                           if f.is_file() and f.suffix.lower() in AUDIO_EXTENSIONS and not f.name.startswith("."))
            if found:
                tracks.extend(found)
            else:
                bad.append((a, "folder holds no audio files (" + ", ".join(sorted(AUDIO_EXTENSIONS)) + ")"))
        else:
            tracks.append(a)
    return tracks, bad


def output_paths(tracks: list[str], out: str | None, out_dir: str | None) -> list[str]:
    """Timeline path of each track: ``<stem>.timeline.json`` beside it or in ``out_dir``.

    Two tracks that would share a name (``a.wav``, ``a.flac``) keep their extension
    in it (``a.wav.timeline.json``).
    """
    from collections import Counter
    from pathlib import Path

    if out is not None:
        return [out]

    def folder(t):
        return Path(out_dir) if out_dir else Path(t).parent

    stems = [folder(t) / f"{Path(t).stem}.timeline.json" for t in tracks]
    count = Counter(stems)
    return [str(s if count[s] == 1 else folder(t) / f"{Path(t).name}.timeline.json") for s, t in zip(stems, tracks)]


def _summary(doc: dict) -> str:
    bpm = doc["tempo"]["bpm"]
    segs = doc["tempo"]["segments"]
    tempo = "no tempo" if bpm is None else f"{bpm:.2f} BPM"
    if len(segs) > 1:
        tempo += f" ({len(segs)} tempo segments)"
    text = f"{tempo}, {len(doc['downbeats'])} bars, {len(doc['drops'])} drops"
    summary, conf = doc.get("genre_summary"), doc.get("genre_confidence")
    if summary is not None and conf is not None and conf["level"] != "none":
        top = max(range(len(summary)), key=summary.__getitem__)
        text += f", {doc['genres'][top]} {summary[top]:.0%} (confidence {conf['confidence']:.2f}, {conf['level']})"
    if doc["warnings"]:
        text += " [" + "; ".join(doc["warnings"]) + "]"
    return text


def _naming(track: str, message: str) -> str:
    """``message`` prefixed with ``track`` unless it starts with it (every FAILED line names its track)."""
    if message.startswith(f"{track}:"):
        return message
    return f"{track}: {message}"


def analyze_one(track: str, out: str, genre: bool, use_cache: bool, progress=None, model: str | None = None,
                smoothing: int | None = None) -> tuple[str, str, str | None, str | None]:
    """Analyse and save one track; returns (track, out, summary or None, error or None).

    Never raises for a bad input: the error comes back as one line.
    """
    import time

    from ..errors import FileSystemError, MainstageError
    from ..timeline import relative_track_file, save_timeline
    from ..analysis.track import analyze_track_cached

    t0 = time.perf_counter()
    try:
        opts = {} if smoothing is None else {"smoothing": smoothing}
        doc, cached = analyze_track_cached(track, genre=genre, use_cache=use_cache, progress=progress,
                                           model=model, **opts)
        doc["track"]["file"] = relative_track_file(track, out)  # render resolves it in the timeline's folder
        save_timeline(doc, out)
    except MainstageError as exc:
        return track, out, None, _naming(track, str(exc))
    except OSError as exc:  # permission denied, file name too long, no space left: one line, not a bug
        return track, out, None, _naming(track, str(FileSystemError.from_os_error(exc)))
    except MemoryError:
        return track, out, None, f"{track}: out of memory"
    except Exception as exc:  # a bug, not the user's fault: still go on with the other tracks
        return track, out, None, f"{track}: internal error ({type(exc).__name__}: {exc})"
    took = "cached" if cached else f"{time.perf_counter() - t0:.2f} s"
    return track, out, f"{_summary(doc)} -> {out} ({took})", None


def remove_stale_outputs(outs: list[str], use_cache: bool) -> int:
    """Delete the temporary files that a killed earlier run left beside these outputs and in
    the analysis cache (only this project's naming, only of dead processes); returns how many.

    Never raises: a folder that cannot be read is left to the write that follows.
    """
    import os

    from ..analysis.cache import AnalysisCache
    from ..atomic import remove_stale_temps

    by_folder: dict[str, set[str]] = {}
    for out in outs:
        real = os.path.realpath(out)  # atomic writes put their temporary beside a symlink's target
        by_folder.setdefault(os.path.dirname(real) or ".", set()).add(os.path.basename(real))
    n = sum(len(remove_stale_temps(folder, names)) for folder, names in by_folder.items())
    if use_cache:
        n += len(AnalysisCache().remove_stale_temps())
    return n


def run(args: argparse.Namespace) -> int:
    import sys
    import time

    from ..errors import MainstageError

    tracks, empty = expand_tracks(args.tracks)
    failures = [(folder, f"{folder}: {problem}") for folder, problem in empty]
    n_empty_folders = len(failures)
    for _folder, err in failures:
        print(f"FAILED {err}", file=sys.stderr)
    if args.out is not None and len(tracks) != 1:
        raise MainstageError(f"-o/--out writes one file but {len(tracks)} tracks were given; use --out-dir")
    if args.jobs < 1:
        raise MainstageError(f"--jobs must be at least 1, got {args.jobs}")
    outs = output_paths(tracks, args.out, args.out_dir)
    genre, use_cache = not args.no_genre, not args.no_cache
    remove_stale_outputs(outs, use_cache)
    if args.smoothing is None:
        from ..genre import DEFAULT_SMOOTHING

        args.smoothing = DEFAULT_SMOOTHING
    if args.smoothing < 0:
        raise MainstageError(f"--smoothing must be >= 0, got {args.smoothing}")
    if genre and args.model is not None:
        from ..genre import load_genre_model

        load_genre_model(args.model)  # a bad model is one error up front, not one per track

    from tqdm import tqdm

    bar = tqdm(total=len(tracks), unit="track", disable=not sys.stderr.isatty(), leave=False, file=sys.stderr)

    def report(track, out, summary, error):
        if error is not None:
            failures.append((track, error))
            bar.write(f"FAILED {error}", file=sys.stderr)
        elif not args.quiet:
            bar.write(f"{track}: {summary}", file=sys.stdout)
        bar.update(1)

    try:
        if args.jobs == 1 or len(tracks) <= 1:
            for track, out in zip(tracks, outs):
                bar.set_postfix_str(track[-40:])
                last = [0.0]

                def progress(sec, _t=track, _last=last):
                    now = time.monotonic()
                    if now - _last[0] >= 0.5:  # redraw twice a second at most
                        _last[0] = now
                        bar.set_postfix_str(f"{_t[-40:]} {sec:.0f} s decoded")

                report(*analyze_one(track, out, genre, use_cache, progress, args.model, args.smoothing))
        else:
            from concurrent.futures import as_completed

            from ..workers import process_pool

            # workers die with this process (SIGKILL included) and on SIGTERM/SIGINT
            with process_pool(min(args.jobs, len(tracks))) as pool:
                futures = [pool.submit(analyze_one, t, o, genre, use_cache, None, args.model, args.smoothing)
                           for t, o in zip(tracks, outs)]
                for fut in as_completed(futures):
                    report(*fut.result())
    finally:
        bar.close()

    if failures:
        print(f"mainstage analyze: {len(failures)} of {len(tracks) + n_empty_folders} inputs failed:", file=sys.stderr)
        for _track, err in failures:
            print(f"  {err}", file=sys.stderr)
        return 1
    return 0
