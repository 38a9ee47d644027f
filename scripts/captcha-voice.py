#!/usr/bin/env python3
"""Makes crates/rampart-waf/src/tokens/digits.pcm, the spoken digits of the audio CAPTCHA.

Each digit 0-9 is spoken by espeak-ng (`apt-get install espeak-ng`), trimmed of silence,
resampled to 8,000 Hz and stored as unsigned 8-bit PCM after a 2-byte little-endian length.
Run from the repository's root: `python3 scripts/captcha-voice.py`.
"""
import os
import struct
import subprocess
import tempfile
import wave

RATE = 8000
OUT = "crates/rampart-waf/src/tokens/digits.pcm"


def spoken(digit, path):
    subprocess.run(["espeak-ng", "-v", "en-us", "-s", "140", "-w", path, str(digit)], check=True)
    with wave.open(path) as w:
        assert w.getsampwidth() == 2 and w.getnchannels() == 1
        rate = w.getframerate()
        frames = w.readframes(w.getnframes())
    samples = [s[0] for s in struct.iter_unpack("<h", frames)]
    loud = [i for i, s in enumerate(samples) if abs(s) > 600]
    samples = samples[max(0, loud[0] - rate // 50): loud[-1] + rate // 50]
    out = []
    step = rate / RATE
    t = 0.0
    while t < len(samples) - 1:
        i = int(t)
        # Average over the step: the low-pass a decimation needs.
        window = samples[i: max(i + 1, int(t + step))]
        out.append(sum(window) / len(window))
        t += step
    peak = max(abs(s) for s in out)
    return bytes(max(0, min(255, round(128 + 120 * s / peak))) for s in out)


def main():
    with tempfile.TemporaryDirectory() as tmp, open(OUT, "wb") as f:
        for d in range(10):
            pcm = spoken(d, os.path.join(tmp, f"{d}.wav"))
            f.write(struct.pack("<H", len(pcm)))
            f.write(pcm)


if __name__ == "__main__":
    main()
