"""``mainstage dataset``: build and check training manifests (Label Studio import, check, prepare)."""
from __future__ import annotations

import argparse

from ..run.config import DROP_SOURCES

HELP = "training data: import Label Studio exports, check a manifest, precompute features"
DESCRIPTION = (
    "Training data tools. 'import-labelstudio' turns Label Studio JSON exports plus a folder of audio "
    "into a manifest CSV (path,<8 genres>) and reports unmatched tasks, audio without tasks, unlabelled "
    "tasks, renormalised labels and duplicates; 'check' validates a manifest and describes its labels; "
    "'prepare' computes and caches the clip features of a manifest before training."
)


def add_arguments(p: argparse.ArgumentParser) -> None:
    sub = p.add_subparsers(dest="dataset_command", metavar="SUBCOMMAND")
    sub.required = True

    imp = sub.add_parser(
        "import-labelstudio", help="Label Studio JSON export(s) + audio folder -> manifest CSV",
        description="Read Label Studio JSON exports (one task per track, 'number' results per genre; 'Techno' "
                    "is Tech House), match every task to an audio file of --audio-dir by its name without the "
                    "upload prefix, and write a manifest CSV (path,<8 genres>; paths relative to the manifest).")
    imp.add_argument("exports", nargs="+", metavar="EXPORT.json", help="Label Studio JSON export(s)")
    imp.add_argument("--audio-dir", required=True, metavar="DIR",
                     help="folder holding the audio (searched recursively)")
    imp.add_argument("-o", "--output", required=True, metavar="MANIFEST.csv", help="manifest to write")
    imp.add_argument("--report", metavar="FILE.json",
                     help="write the full report (every matched, unmatched, unlabelled, renormalised, duplicate "
                          "task and every audio file without a task)")
    imp.add_argument("-q", "--quiet", action="store_true", help="print nothing but errors")

    chk = sub.add_parser("check", help="validate a manifest CSV: missing audio, label statistics",
                         description="Validate a manifest (header, genre weights, splits), list missing audio "
                                     "and truth files, and describe the labels. Exit 1 when audio is missing "
                                     "(or unreadable with --probe).")
    chk.add_argument("manifest", metavar="MANIFEST.csv")
    chk.add_argument("--probe", action="store_true", help="also open every audio file's header")
    chk.add_argument("--report", metavar="FILE.json", help="write the full result as JSON")
    chk.add_argument("--allow-outside-paths", action="store_true",
                     help="accept paths that are absolute or outside the manifest's folder")

    prep = sub.add_parser("prepare", help="compute and cache the clip features of a manifest",
                          description="Decode every track of a manifest, find its drops, cut its clips and "
                                      "cache their features (the folder every training on this manifest reuses), so "
                                      "training starts at once.")
    prep.add_argument("manifest", metavar="MANIFEST.csv")
    prep.add_argument("--cache-dir", metavar="DIR",
                      help="feature cache folder (default: .mainstage-cache next to the manifest, "
                           "the folder training uses by default)")
    prep.add_argument("--chroma", action="store_true", help="also the CQT/VQT chroma channels")
    prep.add_argument("--drops", default="auto", choices=DROP_SOURCES,
                      help="drop sections from the detector or the manifest's truth files (default: auto)")
    prep.add_argument("--jobs", type=int, default=1, metavar="N", help="parallel worker processes (default: 1)")
    prep.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    prep.add_argument("--allow-outside-paths", action="store_true",
                      help="accept paths that are absolute or outside the manifest's folder")


def _run_import(args: argparse.Namespace) -> int:
    from ..datasets.labelstudio import import_labelstudio, summary_lines

    rep = import_labelstudio(args.exports, args.audio_dir, args.output, report=args.report)
    if not args.quiet:
        for line in summary_lines(rep):
            print(line)
        if args.report:
            print(f"full report: {args.report}")
    return 0


def _run_check(args: argparse.Namespace) -> int:
    from ...core.atomic import write_json_atomic
    from ...core.errors import MainstageError
    from ..datasets.manifest_check import check_manifest

    res = check_manifest(args.manifest, probe=args.probe, allow_outside=args.allow_outside_paths)
    if args.report:
        write_json_atomic(args.report, res)
    splits = ", ".join(f"{k} {v}" for k, v in res["splits"].items() if v)
    print(f"{res['manifest']}: {res['tracks']} tracks ({splits}); {res['mixtures']} mixtures; "
          f"{res['artists']} artists ({res['no_artist']} names without 'Artist - Title')")
    print("dominant genre: " + ", ".join(f"{g} {n}" for g, n in res["tracks_per_dominant_genre"].items()))
    print("mean label: " + ", ".join(f"{g} {w:.3f}" for g, w in res["mean_label"].items()))
    if res["duplicates"]:
        print(f"listed twice: {len(res['duplicates'])} files: {', '.join(res['duplicates'][:5])}")
    if res["missing_truth"]:
        print(f"missing truth files: {len(res['missing_truth'])}: {', '.join(res['missing_truth'][:5])}")
    problems = []
    if res["missing_audio"]:
        more = len(res["missing_audio"]) - 5
        problems.append(f"{len(res['missing_audio'])} of {res['tracks']} audio files missing ("
                        + ", ".join(res["missing_audio"][:5]) + (f", ... {more} more" if more > 0 else "") + ")")
    if res["unreadable_audio"]:
        first = res["unreadable_audio"][0]
        problems.append(f"{len(res['unreadable_audio'])} audio files unreadable (first: {first['path']}: "
                        f"{first['problem']})")
    if problems:
        raise MainstageError(f"{args.manifest}: " + "; ".join(problems))
    print("ok")
    return 0


def _run_prepare(args: argparse.Namespace) -> int:
    from pathlib import Path

    from ...core.errors import MainstageError

    if args.jobs < 1:
        raise MainstageError(f"--jobs must be at least 1, got {args.jobs}")
    from ...core.atomic import remove_stale_temps
    from ..features.prepare import default_cache_dir, prepare_dataset

    # the temporaries of a killed earlier run (entries are written atomically, JSON last)
    remove_stale_temps(Path(args.cache_dir or default_cache_dir(args.manifest)) / "tracks")
    res = prepare_dataset(args.manifest, cache_dir=args.cache_dir, chroma=args.chroma, drops=args.drops,
                          jobs=args.jobs, progress=not args.quiet, allow_outside=args.allow_outside_paths)
    failed = res["failed"]
    print(f"{args.manifest}: {res['tracks']} tracks: {res['computed']} computed, {res['cached']} already cached, "
          f"{len(failed)} failed ({res['seconds']:.1f} s)")
    if failed:
        raise MainstageError(f"{args.manifest}: {len(failed)} tracks failed (first: {failed[0]})")
    return 0


def run(args: argparse.Namespace) -> int:
    return {"import-labelstudio": _run_import, "check": _run_check, "prepare": _run_prepare}[args.dataset_command](args)
