import numpy as np
import pytest

from mainstage.core.genres import GENRES, GenreError, canonical_genre, format_genre_mix, genre_index, parse_genre_mix, sharpen


def test_order_is_the_papers():
    assert GENRES == ("Progressive House", "Future House", "Bass House", "Tech House",
                      "Deep House", "Bigroom", "Future Rave", "Slap House")


@pytest.mark.parametrize("name, expected", [
    ("bass house", "Bass House"), ("BASS_HOUSE", "Bass House"), ("Techno", "Tech House"),
    ("  deep   house ", "Deep House"), ("big room", "Bigroom"), ("slap-house", "Slap House"),
])
def test_spellings(name, expected):
    assert canonical_genre(name) == expected
    assert GENRES[genre_index(name)] == expected


def test_unknown_genre():
    with pytest.raises(GenreError, match="unknown genre 'Dubstep'"):
        canonical_genre("Dubstep")


def test_parse_mix_normalises_and_round_trips():
    w = parse_genre_mix("Progressive House:0.7,Future House:0.3")
    assert w.tolist() == pytest.approx([0.7, 0.3, 0, 0, 0, 0, 0, 0])
    w = parse_genre_mix("Bigroom:2, Techno:2")
    assert w[genre_index("Bigroom")] == pytest.approx(0.5) and w[genre_index("Tech House")] == pytest.approx(0.5)
    assert np.allclose(parse_genre_mix(format_genre_mix(w)), w)
    assert parse_genre_mix("Deep House")[4] == 1.0


@pytest.mark.parametrize("spec, msg", [
    ("", "empty"), ("Bass House:x", "bad weight"), ("Bass House:-1", ">= 0"),
    ("Bass House:0", "sum to zero"), ("Bass House:nan", "finite"), ("Nope:1", "unknown genre"),
])
def test_parse_mix_errors(spec, msg):
    with pytest.raises(GenreError, match=msg):
        parse_genre_mix(spec)


def test_sharpen_ties_go_to_later_genre():
    out = sharpen([[0.5, 0.5, 0, 0, 0, 0, 0, 0], [0.1, 0.2, 0.7, 0, 0, 0, 0, 0]])
    assert out.argmax(axis=1).tolist() == [1, 2]
    assert out.sum(axis=1).tolist() == [1.0, 1.0]
