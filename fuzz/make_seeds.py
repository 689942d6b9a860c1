#!/usr/bin/env python3
"""Writes the seed inputs of fuzz/corpus (deterministic; cargo-fuzz grows the corpus from them).

WAV seeds are tiny files the project makes itself: PCM 8/16/24/32-bit, float, stereo, odd rates,
an extra chunk, a truncated data chunk. The structured targets start from a few byte patterns."""
import io, math, os, random, struct, wave

HERE = os.path.dirname(os.path.abspath(__file__))
rng = random.Random(7)

def put(target, name, data):
    d = os.path.join(HERE, "corpus", target)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, "seed-" + name), "wb") as f:
        f.write(data)

def riff(fmt_tag, channels, rate, bits, frames, extra=b"", cut=0):
    block = channels * bits // 8
    data = bytearray()
    for i in range(frames):
        for c in range(channels):
            v = math.sin(2 * math.pi * 440 * i / rate + c)
            if fmt_tag == 3:
                data += struct.pack("<f", v * 0.5)
            elif bits == 8:
                data += bytes([int(128 + 100 * v)])
            else:
                data += int(v * (2 ** (bits - 2))).to_bytes(bits // 8, "little", signed=True)
    fmt = struct.pack("<HHIIHH", fmt_tag, channels, rate, rate * block, block, bits)
    body = b"WAVE" + b"fmt " + struct.pack("<I", len(fmt)) + fmt + extra
    body += b"data" + struct.pack("<I", len(data)) + bytes(data[: len(data) - cut])
    return b"RIFF" + struct.pack("<I", len(body)) + body

put("wav", "pcm16-16k", riff(1, 1, 16000, 16, 160))
put("wav", "pcm16-stereo-44k", riff(1, 2, 44100, 16, 200))
put("wav", "pcm8-8k", riff(1, 1, 8000, 8, 80))
put("wav", "pcm24-48k", riff(1, 1, 48000, 24, 120))
put("wav", "pcm32-22k", riff(1, 1, 22050, 32, 100))
put("wav", "float-16k", riff(3, 1, 16000, 32, 100))
put("wav", "list-chunk", riff(1, 1, 16000, 16, 50, extra=b"LIST" + struct.pack("<I", 4) + b"INFO"))
put("wav", "truncated", riff(1, 1, 16000, 16, 50, cut=33))
put("wav", "rate-1hz", riff(1, 1, 1, 16, 20))
for target, sizes in [("frame", [0, 16, 64, 256]), ("pcm", [0, 64, 512, 2048]),
                      ("session", [0, 256, 2048, 8192]), ("evidence", [0, 64, 512]),
                      ("model", [0, 16, 64, 512])]:
    for n in sizes:
        put(target, f"random-{n}", bytes(rng.randrange(256) for _ in range(n)))
