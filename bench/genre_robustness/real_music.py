"""Real (human-made) electronic music for the genre-robustness benchmark: which files, from where.

The tracks are the background music of Kenta Cho's free shoot-'em-up games as Debian packs
them (``*-data`` packages in Debian's ``games`` section): hand-composed electronic music,
mostly techno / trance-like loops at 120-170 BPM, 22 s to 2 min long, mono or stereo Ogg
Vorbis at 44.1 kHz. Every package is BSD-2-Clause ("Copyright Kenta Cho", see each
package's ``/usr/share/doc/<package>/copyright``); nothing is copied into this repository:
the benchmark reads the installed files.

Install them (about 45 MB, nothing else is pulled in)::

    apt-get install -y --no-install-recommends a7xpg-data gunroar-data mu-cade-data noiz2sa-data \
        parsec47-data rrootage-data titanion-data torus-trooper-data tumiki-fighters-data

``python bench/genre_robustness/real_music.py`` says which tracks are present and which are
missing (and the ``apt-get`` line for those).
"""
from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path

#: Sources this benchmark must never use (reserved for other evaluations).
RESERVED_PACKAGES = frozenset({"tecnoballz-data", "gl-117-data", "heroes-sound-tracks", "ri-li-data", "nexuiz-music",
                               "redeclipse-data", "lmms", "lmms-common", "hydrogen", "hydrogen-data"})

BSD2 = "BSD-2-Clause"


@dataclass(frozen=True)
class Package:
    name: str
    game: str
    copyright: str
    licence: str
    version: str  # the Debian version the list was made from


PACKAGES = {p.name: p for p in (
    Package("a7xpg-data", "A7Xpg", "2003 Kenta Cho", BSD2, "0.11.dfsg1-11"),
    Package("gunroar-data", "Gunroar", "2005 Kenta Cho", BSD2, "0.15.dfsg1-10"),
    Package("mu-cade-data", "Mu-cade", "2006 Kenta Cho", BSD2, "0.11.dfsg1-13"),
    Package("noiz2sa-data", "Noiz2sa", "2002 Kenta Cho", BSD2, "0.51a-13"),
    Package("parsec47-data", "PARSEC47", "2003 Kenta Cho", BSD2, "0.2.dfsg1-9"),
    Package("rrootage-data", "rRootage", "2003 Kenta Cho", BSD2, "0.23a-13"),
    Package("titanion-data", "Titanion", "2006 Kenta Cho", BSD2, "0.3.dfsg1-8"),
    Package("torus-trooper-data", "Torus Trooper", "2004 Kenta Cho", BSD2, "0.22.dfsg1-13"),
    Package("tumiki-fighters-data", "TUMIKI Fighters", "2004 Kenta Cho", BSD2, "0.2.dfsg1-10"),
)}


@dataclass(frozen=True)
class Track:
    package: str
    path: str  # absolute path of the installed file

    @property
    def id(self) -> str:
        return f"{self.package.removesuffix('-data')}/{Path(self.path).stem}"

    @property
    def licence(self) -> str:
        return PACKAGES[self.package].licence


def _tracks(package: str, folder: str, names: str) -> list[Track]:
    return [Track(package, f"{folder}/{n}.ogg") for n in names.split()]


#: 38 tracks from 9 packages.
TRACKS: tuple[Track, ...] = tuple(
    _tracks("a7xpg-data", "/usr/share/games/a7xpg/sounds", "bgm1 bgm2 bgm3")
    + _tracks("gunroar-data", "/usr/share/games/gunroar/sounds/musics", "gr0 gr1 gr2 gr3")
    + _tracks("mu-cade-data", "/usr/share/games/mu-cade/sounds/musics", "mcd1 mcd2 mcd3 mcd4")
    + _tracks("noiz2sa-data", "/usr/share/games/noiz2sa/sounds", "stg0 stg00 stg1 stg2 stg3 stg4 stg5")
    + _tracks("parsec47-data", "/usr/share/games/parsec47/sounds", "ptn0 ptn1 ptn2 ptn3")
    + _tracks("rrootage-data", "/usr/share/games/rrootage/sounds", "stg_a stg_b stg_c")
    + _tracks("titanion-data", "/usr/share/games/titanion/sounds/musics", "ttn1 ttn2 ttn3")
    + _tracks("torus-trooper-data", "/usr/share/games/torus-trooper/sounds/musics", "tt1 tt2 tt3 tt4")
    + _tracks("tumiki-fighters-data", "/usr/share/games/tumiki-fighters/sounds",
              "battle_over_the_junk_city here_comes_a_gigantic_toy just_over_the_horizon panic_on_meadow "
              "return_to_home we_are_tumiki_fighters")
)
assert not RESERVED_PACKAGES & {t.package for t in TRACKS}


def locate(tracks=TRACKS) -> tuple[list[tuple[Track, Path]], list[tuple[Track, str]]]:
    """``(found, missing)``: installed tracks with their paths, and the others with the reason."""
    found, missing = [], []
    for t in tracks:
        p = Path(t.path)
        if p.is_file() and p.stat().st_size > 0:
            found.append((t, p))
        else:
            missing.append((t, f"{p} not found (package {t.package} not installed?)"))
    return found, missing


def install_command(missing) -> str | None:
    pkgs = sorted({t.package for t, _why in missing})
    return f"apt-get install -y --no-install-recommends {' '.join(pkgs)}" if pkgs else None


def main() -> int:
    found, missing = locate()
    print(f"{len(found)} of {len(TRACKS)} real-music tracks present")
    for t, why in missing:
        print(f"  missing {t.id}: {why}")
    cmd = install_command(missing)
    if cmd:
        print(f"install them with: {cmd}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
