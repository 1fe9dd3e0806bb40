"""Player pacing with a fake clock: exact deadlines, late-tick policy, loop, stop; MoH."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from media.playback import (
    MusicOnHold,
    PlaybackEnded,
    PlaybackSource,
    Player,
    PromptError,
    PromptLibrary,
    ensure_default_moh,
    load_prompt_file,
    silence,
)

START = 1000.0


def ramp(n: int) -> np.ndarray:
    return (np.arange(n) % 30000).astype(np.int16)


def run(player: Player, ticks: list[float]) -> list:
    frames = []
    for t in ticks:
        frames += player.handle_timer(t)
    return frames


def test_frame_k_due_exactly_at_start_plus_k_20ms() -> None:
    audio = ramp(160 * 50)
    p = Player.of([audio], START)
    sent = []
    now = START
    for _ in range(200):  # driven by its own timer, like the media tick
        t = p.get_timer()
        if t is None:
            break
        now = t
        for f in p.handle_timer(now):
            assert f.due == START + 0.02 * f.index  # computed from k: no accumulated drift
            assert f.due <= now
            sent.append(f)
    assert [f.index for f in sent] == list(range(50))
    assert np.array_equal(np.concatenate([f.pcm for f in sent]), audio)
    assert p.state == "finished" and p.get_timer() is None
    (ev,) = p.drain_events()
    assert ev == PlaybackEnded(at=START + 1.0, interrupted=False, frames_sent=50,
                               frames_skipped=0)


def test_deadline_never_drifts_over_an_hour() -> None:
    p = Player.of([ramp(160)], START, loop=True)
    k = 180_000  # one hour of frames
    p.next_k = k
    assert p.get_timer() == START + k * 0.02
    (f,) = p.handle_timer(START + k * 0.02)  # exactly at the deadline: on time
    assert f.index == k


def test_jittery_ticks_send_each_frame_once_on_time() -> None:
    rng = np.random.default_rng(1)
    p = Player.of([ramp(160 * 100)], START)
    ticks = START + np.arange(100) * 0.02 + rng.uniform(0, 0.015, 100)
    frames = run(p, list(ticks))
    assert [f.index for f in frames] == list(range(100))


def test_late_tick_catches_up_with_a_small_burst_then_skips() -> None:
    p = Player.of([ramp(160 * 100)], START)
    assert [f.index for f in p.handle_timer(START)] == [0]
    # 50 ms late: frames 1, 2, 3 are due -> all three, in order (burst ≤ 3)
    assert [f.index for f in p.handle_timer(START + 0.07)] == [1, 2, 3]
    # 200 ms stall: frames 4…14 due -> only the 3 most recent; 8 skipped
    out = p.handle_timer(START + 0.28)
    assert [f.index for f in out] == [12, 13, 14]
    assert p.frames_skipped == 8
    assert p.get_timer() == START + 15 * 0.02  # timeline unchanged
    assert p.handle_timer(START + 0.29) == []  # early tick: nothing


def test_silence_and_padding() -> None:
    a, b = ramp(200) + 1, ramp(100) + 1
    p = Player.of([a, silence(0.05), b], START)
    assert p.source.n_frames == 5  # 200 + 400 + 100 = 700 samples, last frame padded
    frames = run(p, [START + 1.0])
    assert len(frames) == 3 and p.frames_skipped == 2  # one very late tick: burst of 3
    p = Player.of([a, silence(0.05), b], START)
    audio = np.concatenate([f.pcm for f in run(p, [START + 0.02 * k for k in range(6)])])
    assert np.array_equal(audio[:200], a) and not audio[200:600].any()
    assert np.array_equal(audio[600:700], b) and not audio[700:].any()
    assert p.end_time == START + 0.1 and p.state == "finished"


def test_empty_play_finishes_at_start() -> None:
    p = Player.of([], START)
    assert p.get_timer() == START
    assert p.handle_timer(START) == []
    assert p.drain_events()[0].at == START


def test_loop_wraps_seamlessly() -> None:
    audio = ramp(1000)  # not a multiple of 160: the wrap falls inside a frame
    p = Player.of([audio], START, loop=True)
    out = np.concatenate([f.pcm for k in range(40) for f in p.handle_timer(START + 0.02 * k)])
    assert np.array_equal(out, np.tile(audio, 7)[: 40 * 160])
    assert p.get_timer() == START + 0.8 and p.end_time is None and not p.drain_events()


def test_tiny_loop_and_empty_loop() -> None:
    p = Player.of([ramp(50)], START, loop=True)
    out = np.concatenate([f.pcm for k in range(3) for f in p.handle_timer(START + 0.02 * k)])
    assert np.array_equal(out, np.tile(ramp(50), 10)[:480])
    with pytest.raises(PromptError):
        PlaybackSource([], loop=True)


def test_stop_is_barge_in() -> None:
    p = Player.of([ramp(160 * 100)], START)
    run(p, [START + 0.02 * k for k in range(10)])
    assert p.stop(START + 0.195)
    assert not p.stop(START + 0.2)  # second stop: nothing more
    assert p.get_timer() is None and p.handle_timer(START + 0.3) == []
    (ev,) = p.drain_events()
    assert ev.interrupted and ev.at == START + 0.195 and ev.frames_sent == 10


def test_shared_source_is_not_copied_per_player() -> None:
    src = PlaybackSource([ramp(8000)], loop=True)
    a, b = Player(src, START), Player(src, START + 0.013)
    fa = a.handle_timer(START)[0]
    fb = b.handle_timer(START + 0.013)[0]
    assert np.shares_memory(fa.pcm, src.buffer) and np.shares_memory(fb.pcm, src.buffer)
    assert not fa.pcm.flags.writeable


def test_music_on_hold_default(tmp_path: Path) -> None:
    path = ensure_default_moh(tmp_path)
    mtime = path.stat().st_mtime_ns
    assert ensure_default_moh(tmp_path).stat().st_mtime_ns == mtime  # made once
    pcm = load_prompt_file(path)
    assert 10 * 8000 <= len(pcm) <= 20 * 8000
    level = np.sqrt(np.mean(pcm.astype(float) ** 2)) / 32767
    assert 0.01 < level < 0.2  # gentle
    # seamless: the jump across the loop point is no bigger than normal sample steps
    steps = np.abs(np.diff(pcm.astype(int)))
    assert abs(int(pcm[0]) - int(pcm[-1])) <= steps.max()
    moh = MusicOnHold(PromptLibrary(), cache_dir=tmp_path)
    p1, p2 = moh.player(START), moh.player(START + 5)
    assert p1.source is p2.source and p1.source.loop
    frames = run(p1, [START + 0.02 * k for k in range(1000)])  # 20 s > one cycle
    assert len(frames) == 1000 and p1.state == "playing"


def test_configured_moh_file(tmp_path: Path) -> None:
    import wave
    f = tmp_path / "hold.wav"
    with wave.open(str(f), "wb") as w:
        w.setnchannels(1), w.setsampwidth(2), w.setframerate(8000)
        w.writeframes(ramp(4000).tobytes())
    moh = MusicOnHold(PromptLibrary(), path=f, cache_dir=tmp_path / "c")
    assert moh.source.loop_samples == 4000
    assert not (tmp_path / "c").exists()  # no default generated
