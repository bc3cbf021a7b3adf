"""The show in real Blender (installed zip): Apply/Clear safety, beat-exact keys at several frame
rates, visuals that follow beats and drops, palettes per genre in rendered frames, and video
with audio in sync. One Blender process runs the scenario; this side measures."""
import json
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf


pytestmark = pytest.mark.blender
SR = 22050


@pytest.fixture(scope="module")
def show_run(blender, tmp_path_factory, click_set):
    work = tmp_path_factory.mktemp("show")
    doc, tl, audio = click_set(work, SR)
    secs = doc["sections"]
    bar = 4 * 60.0 / doc["tempo"]["bpm"]
    stills = {}
    for name, i in (("deep", 2), ("bass", 5), ("bigroom", 8)):  # drops of three genres (SET_PLAN)
        stills[f"{name}_a"] = secs[i]["start_s"] + 4 * bar + 0.2
        stills[f"{name}_b"] = secs[i]["start_s"] + 9 * bar + 0.2
    res = blender.run("show.py", work / "home", MSVFX_WORK=work, MSVFX_TIMELINE=tl,
                      MSVFX_STILL_TIMES=json.dumps(stills), MSVFX_VIDEO_FROM=secs[5]["start_s"] - 1.0)
    return res, doc, work, audio


def test_apply_twice_equals_once_and_user_data_untouched(show_run):
    res, *_ = show_run
    assert res["apply_twice_equal"] and res["n_owned_curves"] > 30
    assert all(res["untouched_during_apply"].values()), res["untouched_during_apply"]
    # the user's screen shows the add-on's material through an object slot; its mesh keeps its own
    assert res["screen_slot"] == [["OBJECT", "MS Screens"]] and res["screen_data_mats"] == ["UserMat"]
    assert res["lamp_energy_animated"] and res["lamp_user_curve_kept"]
    assert all(res["clear_restores"].values()), res["clear_restores"]
    assert res["left_owned"] == [] and res["clear_after_rates"]
    assert res["stage_objects"] >= 20
    # the starter stage's spots have visible beams driven with the lights (colour, brightness)
    assert res["beams"]["n"] == 8 and res["beams"]["parents_are_spots"]
    assert "diffuse_color" in res["beams"]["keyed_paths"] and len(res["beams"]["keyed_paths"]) == 3
    # Render Video glows through the add-on's compositor, never replacing the user's own
    assert res["glow_during_render"] == "MS Glow" and res["glow_respects_user_comp"]
    assert res["glow_after_render"] == res["glow_before_render"]  # Render Video restores the compositor setting
    assert all({"REGISTER", "UNDO"} <= set(flags) for flags in res["undo_flags"])


def test_keys_on_beat_frames_at_any_frame_rate(show_run):
    res, *_ = show_run
    assert set(res["rates"]) == {"24/1.0", "25/1.0", "30/1.0", "60/1.0", "30/1.001", "24/1.001"}
    for rate, r in res["rates"].items():
        print(f"{rate} fps: {r['n_beats']} drop beats, max |key - beat| {r['max_err_frames']:.3f} frames, "
              f"rising into the beat frame {r['peak_on_beat_frac']:.0%}")
        assert r["n_beats"] > 100, rate
        assert r["max_err_frames"] <= 0.5, (rate, r)
        assert r["peak_on_beat_frac"] > 0.95, (rate, r)


def _z(x):
    return (x - x.mean()) / (x.std() + 1e-9)


def _beat_envelope(frames, beat_frames, decay):
    i = np.searchsorted(beat_frames, frames, side="right") - 1
    since = frames - beat_frames[np.clip(i, 0, None)]
    return np.where(i >= 0, np.exp(-since / decay), 0.0)


def _highpass(x, width):
    """Remove the slow part (section levels, builds) so only beat-rate motion is compared."""
    return x - np.convolve(x, np.ones(width) / width, mode="same")


def test_driven_values_follow_beats_and_drops(show_run):
    res, doc, work, _ = show_run
    frames, energy, emission, scale, lasers, pulse = np.load(work / "signals.npy")
    fps = 24.0
    beats = 1 + np.asarray(doc["beats"]) * fps
    period = np.median(np.diff(beats))
    width = int(round(2 * period))
    # what the eye sees: lights, screens, pulse objects and lasers together (log: brightness)
    signal = sum(_z(_highpass(np.log1p(x), width)) for x in (energy, emission, lasers, pulse))
    env = lambda b: _highpass(_beat_envelope(frames, b, 0.3 * period), width)
    r = np.corrcoef(signal, env(beats))[0, 1]
    # chance level: the same envelope on beat grids shifted by 0.2..0.8 of a beat
    shifted = [np.corrcoef(signal, env(beats + s * period))[0, 1] for s in np.linspace(0.2, 0.8, 13)]
    print(f"beat correlation {r:.3f}; shifted grids: max {max(shifted):.3f}, mean {np.mean(shifted):.3f}")
    assert r > 0.12 and r > max(shifted) + 0.08
    # drops: the lights jump at every drop start (the second after vs the build-up's last second,
    # which already ramps up) and the lasers light up in the drops that use them
    for d in doc["drops"]:
        f0 = int(round(1 + d["start_s"] * fps))
        after, before = (frames >= f0) & (frames < f0 + fps), (frames >= f0 - fps) & (frames < f0)
        jump = energy[after].mean() / energy[before].mean()
        print(f"drop at {d['start_s']:.1f} s: light energy x{jump:.2f}, lasers x{lasers[after].mean() / lasers[before].mean():.2f}")
        assert jump > 1.25, (d, jump)
    assert max(lasers[(frames >= 1 + d["start_s"] * fps) & (frames < 1 + (d["start_s"] + 1) * fps)].mean()
               / lasers[(frames >= 1 + (d["start_s"] - 1) * fps) & (frames < 1 + d["start_s"] * fps)].mean()
               for d in doc["drops"]) > 1.3


def _hue_hist(path):
    """Palette of a frame: hue histogram (12 bins, red centred) weighted by saturation x value."""
    import matplotlib.colors as mc
    import matplotlib.pyplot as plt
    hsv = mc.rgb_to_hsv(np.clip(plt.imread(str(path))[..., :3], 0, 1))
    h, _ = np.histogram(((hsv[..., 0] + 1 / 24) % 1.0).ravel(), bins=12, range=(0, 1),
                        weights=(hsv[..., 1] * hsv[..., 2]).ravel())
    return h / max(h.sum(), 1e-12)


def test_rendered_palettes_differ_between_genres(show_run):
    res, *_ = show_run
    h = {k: _hue_hist(v) for k, v in res["stills"].items()}
    dist = lambda a, b: 0.5 * np.abs(h[a] - h[b]).sum()  # total variation distance
    within = [dist(f"{g}_a", f"{g}_b") for g in ("deep", "bass", "bigroom")]
    between = [dist(f"{a}_a", f"{b}_a") for a, b in (("deep", "bass"), ("deep", "bigroom"), ("bass", "bigroom"))]
    print(f"palette distance within sections {np.round(within, 3)}, between genres {np.round(between, 3)}")
    assert min(between) > 2.0 * max(within)


@pytest.mark.skipif(shutil.which("ffprobe") is None, reason="ffprobe (system ffmpeg) not installed")
def test_render_video_has_audio_in_sync(show_run):
    res, doc, work, audio = show_run
    video = Path(res["video"])
    probe = json.loads(subprocess.run(["ffprobe", "-v", "error", "-show_streams", "-of", "json", str(video)],
                                      capture_output=True, text=True, check=True).stdout)
    codecs = {s["codec_type"]: s for s in probe["streams"]}
    assert codecs["video"]["codec_name"] == "h264" and codecs["audio"]["codec_name"] == "aac"
    assert abs(float(codecs["video"]["duration"]) - 2.0) < 0.05
    decoded = work / "excerpt_audio.wav"
    subprocess.run(["ffmpeg", "-v", "error", "-y", "-i", str(video), "-ac", "1", "-ar", str(SR), str(decoded)],
                   check=True)
    got, _ = sf.read(decoded)
    ref, _ = sf.read(audio)
    start = int(round((res["video_first_frame"] - 1) / 24.0 * SR))
    ref = ref[start:start + len(got)]
    n = min(len(got), len(ref))
    max_lag = int(0.2 * SR)
    lags = np.arange(-max_lag, max_lag + 1, 8)
    xc = [np.dot(got[max(0, l):n + min(0, l)], ref[max(0, -l):n - max(0, l)]) for l in lags]
    lag_s = lags[int(np.argmax(xc))] / SR
    print(f"audio lag in the rendered video: {lag_s * 1000:.1f} ms")
    assert abs(lag_s) < 0.5 / 24.0
