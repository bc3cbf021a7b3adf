"""``mainstage validate FILE.json [...]``: check timeline files against the schema."""
from __future__ import annotations

import argparse

HELP = "check timeline JSON files; exit non-zero with the reason if one is invalid"


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("files", nargs="+", metavar="FILE.json", help="timeline file(s) to check")
    p.add_argument("-q", "--quiet", action="store_true", help="print nothing for valid files")


def run(args: argparse.Namespace) -> int:
    import sys

    from ..timeline import TimelineError, load_timeline

    failed = 0
    for f in args.files:
        try:
            doc = load_timeline(f)
        except TimelineError as exc:
            print(f"INVALID {exc}", file=sys.stderr)
            failed += 1
            continue
        if not args.quiet:
            bpm = doc["tempo"]["bpm"]
            print(
                f"OK {f}: {doc['track']['duration_s']:.1f} s, "
                f"{'no tempo' if bpm is None else f'{bpm:.2f} BPM'}, {len(doc['downbeats'])} bars, "
                f"{len(doc['drops'])} drops, {len(doc['genre_windows'])} genre windows"
            )
    return 1 if failed else 0
