"""Provisions two real recorded English speakers from Debian packages (run by run.sh).

    models/whisper_digits/.venv/bin/python models/whisper_digits/debian_voices.py [--force]

Downloads two pinned .debs with `apt-get download PKG=VERSION` (no installation), checks their
sha256 (fails loudly on any mismatch), unpacks them with `dpkg-deb -x` into a temporary directory
and writes 16 kHz mono 16-bit WAVs to `work/debian/<speaker>/` (git-ignored, never committed):

    work/debian/<speaker>/digits/0.wav .. 9.wav   one take per digit ("zero" for 0)
    work/debian/<speaker>/digits/oh.wav           "oh" (0 spoken as the letter)
    work/debian/<speaker>/fillers/<word>.wav      non-digit words (blank-only training targets)
    work/debian/manifest.json                      packages, versions, sha256, licences, file map

Speakers (both real human recordings, 8 kHz originals resampled to 16 kHz with scipy
resample_poly, like FSDD in data.py):

* `allison`: Allison Smith, female US English, Asterisk core sounds
  (asterisk-core-sounds-en-wav 1.6.1-1, CC-BY-SA-3.0), 8 kHz 16-bit WAV.
* `dawson`: David C Dawson, male English, saytime's sounds (saytime 1.0-35+b1, GPL), headerless
  8 kHz mu-law (SPARCstation /dev/audio) files.

Fillers exclude every word that sounds like a digit: letters/o ("oh"), phonetic/9_p ("niner"),
the number words (10..90, teens, ordinals h-*), and to/too/for/won/ate (none are in the packages'
selected files).
"""
import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile

import numpy as np
import soundfile as sf
from scipy.signal import resample_poly

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from provision import sha256  # noqa: E402  (one file hasher for the folder)

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "work", "debian")

PACKAGES = {
    "asterisk-core-sounds-en-wav": {
        "version": "1.6.1-1",
        "deb": "asterisk-core-sounds-en-wav_1.6.1-1_all.deb",
        "sha256": "2be3ea287d83299d143815fa804f11179a75b7affd4a758b98b55f5afc18a35d",
        "licence": "CC-BY-SA-3.0",
    },
    "saytime": {
        "version": "1.0-35+b1",
        "deb": "saytime_1.0-35+b1_amd64.deb",
        "sha256": "189e502f34ab7e2a9ececc45d781273760cfe11f3719f4176a9f6d472228856a",
        "licence": "GPL (sound files by David C Dawson, see /usr/share/doc/saytime/copyright)",
    },
}

DIGIT_NAMES = ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"]

_A = "usr/share/asterisk/sounds/en_US_f_Allison/"
_ALLISON_FILLERS = (
    # letters a..z without "o" (= "oh" = 0)
    {c: f"{_A}letters/{c}.wav" for c in "abcdefghijklmnpqrstuvwxyz"}
    # NATO alphabet (alpha .. zulu) without 9_p ("niner")
    | {w: f"{_A}phonetic/{c}_p.wav" for c, w in zip(
        "abcdefghijklmnopqrstuvwxyz",
        ["alpha", "bravo", "charlie", "delta", "echo", "foxtrot", "golf", "hotel", "india", "juliet", "kilo",
         "lima", "mike", "november", "oscar", "papa", "quebec", "romeo", "sierra", "tango", "uniform",
         "victor", "whiskey", "xray", "yankee", "zulu"])}
    | {"at": f"{_A}digits/at.wav", "hundred": f"{_A}digits/hundred.wav", "thousand": f"{_A}digits/thousand.wav",
       "million": f"{_A}digits/million.wav", "billion": f"{_A}digits/billion.wav", "dollars": f"{_A}digits/dollars.wav",
       "minus": f"{_A}digits/minus.wav", "oclock": f"{_A}digits/oclock.wav", "am": f"{_A}digits/a-m.wav",
       "pm": f"{_A}digits/p-m.wav", "pound": f"{_A}digits/pound.wav", "star": f"{_A}digits/star.wav",
       "today": f"{_A}digits/today.wav", "tomorrow": f"{_A}digits/tomorrow.wav",
       "yesterday": f"{_A}digits/yesterday.wav"}
    # day names (day-0 = sunday) and months (mon-0 = january)
    | {f"day{i}": f"{_A}digits/day-{i}.wav" for i in range(7)}
    | {f"month{i}": f"{_A}digits/mon-{i}.wav" for i in range(12)}
)

SPEAKERS = {
    "allison": {
        "package": "asterisk-core-sounds-en-wav",
        "who": "Allison Smith, female, US English (Asterisk core sounds)",
        "format": "wav",
        "digits": {str(d): f"{_A}digits/{d}.wav" for d in range(10)} | {"oh": f"{_A}digits/oh.wav"},
        "fillers": _ALLISON_FILLERS,
    },
    "dawson": {
        "package": "saytime",
        "who": "David C Dawson, male, English (saytime sounds)",
        "format": "mulaw8k",
        "digits": {str(d): f"usr/share/saytime/{d}.au" for d in range(10)} | {"oh": "usr/share/saytime/oh.au"},
        # not 10..59 (number words)
        "fillers": {w: f"usr/share/saytime/{w}.au" for w in
                    ["am", "and", "exactly", "hour", "hours", "minute", "minutes", "oclock", "pm", "second",
                     "seconds", "the_time_is"]},
    },
}

# homophones of digit words: never a filler (checked below, so an edit cannot slip one in)
FORBIDDEN_FILLERS = {"o", "oh", "niner", "to", "too", "two", "for", "fore", "four", "won", "one", "ate", "eight"}


def fetch(pkg, meta, dl):
    """apt-get download PKG=VERSION into dl; verifies sha256; returns the .deb path."""
    p = os.path.join(dl, meta["deb"])
    if not os.path.exists(p):
        cmd = ["apt-get", "download", f"{pkg}={meta['version']}"]
        r = subprocess.run(cmd, cwd=dl)
        if r.returncode != 0:
            print(f"{' '.join(cmd)} failed; run `apt-get update` first?", file=sys.stderr)
            r = subprocess.run(["apt-get", "update"])
            r = subprocess.run(cmd, cwd=dl)
        if r.returncode != 0 or not os.path.exists(p):
            sys.exit(f"debian_voices: could not download {pkg}={meta['version']} ({meta['deb']})")
    got = sha256(p)
    if got != meta["sha256"]:
        os.remove(p)
        sys.exit(f"debian_voices: SHA256 MISMATCH for {meta['deb']}: got {got}, pinned {meta['sha256']} "
                 "(file removed)")
    return p


_MULAW = None


def mulaw_decode(b):
    """G.711 mu-law bytes -> float32 in [-1, 1]."""
    global _MULAW
    if _MULAW is None:
        u = ~np.arange(256, dtype=np.int32) & 0xFF
        sign = u & 0x80
        exp = (u >> 4) & 0x07
        mant = u & 0x0F
        mag = (((mant << 3) + 0x84) << exp) - 0x84
        _MULAW = (np.where(sign, -mag, mag) / 32768.0).astype(np.float32)
    return _MULAW[np.frombuffer(b, np.uint8)]


def load(p, fmt):
    if fmt == "wav":
        x, sr = sf.read(p, dtype="float32")
        if x.ndim > 1:
            x = x.mean(axis=1)
    else:
        with open(p, "rb") as f:
            raw = f.read()
        if raw[:4] == b".snd":  # a real Sun header would give the offset; these files have none
            sys.exit(f"debian_voices: {p} has a Sun .au header; this script expects headerless mu-law")
        x, sr = mulaw_decode(raw), 8000
    if sr != 16000:
        g = np.gcd(sr, 16000)
        x = resample_poly(x, 16000 // g, sr // g).astype(np.float32)
    return np.clip(x - x.mean(), -1, 1)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--force", action="store_true", help="rewrite work/debian even if it is complete")
    a = ap.parse_args()
    manifest_path = os.path.join(OUT, "manifest.json")
    if os.path.exists(manifest_path) and not a.force:
        with open(manifest_path) as f:
            m = json.load(f)
        if all(os.path.exists(os.path.join(OUT, p)) for s in m["speakers"].values() for p in s["files"]):
            print(f"debian_voices: {os.path.relpath(OUT, HERE)} complete ({', '.join(m['speakers'])})")
            return
    for s in SPEAKERS.values():
        bad = FORBIDDEN_FILLERS & set(s["fillers"])
        assert not bad, f"digit homophones as fillers: {bad}"
    dl = os.path.join(OUT, "_deb")
    os.makedirs(dl, exist_ok=True)
    debs = {pkg: fetch(pkg, meta, dl) for pkg, meta in PACKAGES.items()}
    manifest = {"note": "written by models/digits/debian_voices.py; 16 kHz mono 16-bit PCM; never committed",
                "packages": {k: {kk: v[kk] for kk in ("version", "deb", "sha256", "licence")} for k, v in PACKAGES.items()},
                "speakers": {}}
    with tempfile.TemporaryDirectory() as tmp:
        for pkg, p in debs.items():
            subprocess.run(["dpkg-deb", "-x", p, os.path.join(tmp, pkg)], check=True)
        for spk, s in SPEAKERS.items():
            root = os.path.join(tmp, s["package"])
            dst = os.path.join(OUT, spk)
            shutil.rmtree(dst, ignore_errors=True)
            files = {}
            for kind in ("digits", "fillers"):
                os.makedirs(os.path.join(dst, kind))
                for w, src in s[kind].items():
                    x = load(os.path.join(root, src), s["format"])
                    rel = f"{spk}/{kind}/{w}.wav"
                    sf.write(os.path.join(OUT, rel), x, 16000, subtype="PCM_16")
                    files[rel] = {"from": src, "seconds": round(len(x) / 16000, 3)}
            manifest["speakers"][spk] = {"package": s["package"], "version": PACKAGES[s["package"]]["version"],
                                         "licence": PACKAGES[s["package"]]["licence"], "who": s["who"],
                                         "files": files}
            print(f"debian_voices: {spk}: {sum(1 for f in files if '/digits/' in f)} digit takes, "
                  f"{sum(1 for f in files if '/fillers/' in f)} fillers -> {os.path.relpath(dst, HERE)}")
    with open(manifest_path, "w") as f:
        json.dump(manifest, f, indent=1)


if __name__ == "__main__":
    main()
