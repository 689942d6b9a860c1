"""Synthetic TTS speech for the digit model (Debian espeak-ng, flite, festival).

Every synthetic *voice* is a fixed (engine, voice, variant, speed, pitch) tuple that renders the
whole vocabulary of its language (digit words + filler words, one clip per word) plus a few
continuous phrases (digit strings, filler-mixed sentences, filler-only sentences) whose digit
labels are known. Output: work/tts/<voice_id>.npz (int16 16 kHz clips) and work/tts/index.json.

Deterministic for a given config seed and package versions (espeak-ng 1.51, flite 2.2, festival 2.5).
"""
import json
import os
import subprocess
import sys
import tempfile
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import soundfile as sf
from scipy.signal import resample_poly

from common import HERE, load_config, trim_silence

LETTER_TEXT = {"a": "ay", "b": "bee", "c": "see", "d": "dee", "e": "ee", "f": "eff", "g": "gee",
               "h": "aitch", "i": "eye", "j": "jay", "k": "kay", "l": "ell", "m": "em", "n": "en",
               "p": "pee", "q": "queue", "r": "are", "s": "ess", "t": "tee", "u": "you", "v": "vee",
               "x": "ex", "y": "why", "z": "zee"}


def word_text(w):
    return LETTER_TEXT.get(w, w)


def to16k(x, sr):
    x = np.asarray(x, dtype=np.float64)
    if x.ndim > 1:
        x = x.mean(axis=1)
    if sr != 16000:
        g = np.gcd(int(sr), 16000)
        x = resample_poly(x, 16000 // g, int(sr) // g)
    return x.astype(np.float32)


def espeak_variants():
    out = subprocess.run(["espeak-ng", "--voices=variant"], capture_output=True, text=True).stdout
    names = []
    for line in out.splitlines()[1:]:
        parts = line.split()
        if len(parts) >= 5 and parts[4].startswith("!v/"):
            names.append(parts[4][3:])
    return sorted(set(names))


def make_voices(cfg, rng):
    t = cfg["tts"]
    variants = espeak_variants()
    held = set(t["heldout_variants"])
    train_var = [v for v in variants if v not in held]
    cmn_train_var = [v for v in train_var if "whisper" not in v]
    voices = []

    def espeak_voice(lang, accent, variant, split):
        speed = int(rng.integers(120, 231))
        pitch = int(rng.integers(15, 86))
        vid = f"es_{lang}_{accent}_{variant}_{speed}_{pitch}".replace("-", "")
        voices.append(dict(id=vid, engine="espeak", lang=lang, voice=accent, variant=variant,
                           speed=speed, pitch=pitch, split=split))

    for i in range(t["n_en_espeak"]):
        espeak_voice("en", t["en_espeak_accents"][i % len(t["en_espeak_accents"])],
                     train_var[int(rng.integers(len(train_var)))], "train")
    for i in range(t["n_cmn_espeak"]):
        espeak_voice("cmn", "cmn-latn-pinyin", cmn_train_var[int(rng.integers(len(cmn_train_var)))], "train")
    for v in sorted(held):
        espeak_voice("en", t["en_espeak_accents"][int(rng.integers(len(t["en_espeak_accents"])))], v, "heldout")
        espeak_voice("cmn", "cmn-latn-pinyin", v, "heldout")
        espeak_voice("cmn", "cmn-latn-pinyin", v, "heldout")
    for fv in t["flite_voices"]:
        for st in t["flite_stretch"]:
            f0 = int(rng.integers(150, 211)) if fv == "slt" else int(rng.integers(85, 141))
            voices.append(dict(id=f"fl_{fv}_{st}_{f0}", engine="flite", lang="en", voice=fv, variant="",
                               speed=st, pitch=f0, split="heldout" if fv in t["heldout_flite"] else "train"))
    for fv in t["festival_voices"]:
        for st in t["festival_stretch"]:
            voices.append(dict(id=f"fe_{fv}_{st}", engine="festival", lang="en", voice=fv, variant="",
                               speed=st, pitch=0, split="train"))
    return voices


def make_phrases(cfg, lang, rng, n):
    """Continuous phrases: (list of tokens, digit label list)."""
    v = cfg["vocab"]
    digits = v["en_digits"] if lang == "en" else v["cmn_digits"]
    fillers = v["en_fillers"] if lang == "en" else v["cmn_fillers"]
    by_digit = {}
    for w, d in digits.items():
        by_digit.setdefault(d, []).append(w)
    u = cfg["utterances"]

    def digit_word(d):
        if lang == "en":
            return "oh" if d == 0 and rng.random() < u["p_oh"] else by_digit[d][0]
        if d == 1 and rng.random() < u["p_yao"]:
            return "yao1"
        if d == 2 and rng.random() < u["p_liang"]:
            return "liang3"
        return by_digit[d][0]

    out = []
    for _ in range(n):
        r = rng.random()
        L = 4 if rng.random() < 0.5 else int(rng.integers(1, 7))
        ds = [int(x) for x in rng.integers(0, 10, L)]
        toks = [digit_word(d) for d in ds]
        if r < 0.6:
            out.append((toks, ds))
        elif r < 0.85:
            pre = [fillers[int(i)] for i in rng.integers(0, len(fillers), int(rng.integers(0, 4)))]
            post = [fillers[int(i)] for i in rng.integers(0, len(fillers), int(rng.integers(0, 3)))]
            if not pre and not post:
                pre = [fillers[int(rng.integers(len(fillers)))]]
            out.append((pre + toks + post, ds))
        else:
            f = [fillers[int(i)] for i in rng.integers(0, len(fillers), int(rng.integers(1, 6)))]
            out.append((f, []))
    return out


def render(voice, texts, tmp):
    """Render a list of texts with one voice; returns list of float32 16 kHz arrays."""
    outs = []
    eng = voice["engine"]
    if eng == "festival":
        scm = os.path.join(tmp, "s.scm")
        with open(scm, "w") as f:
            f.write(f"(voice_{voice['voice']})\n(Parameter.set 'Duration_Stretch {voice['speed']})\n")
            for i, t in enumerate(texts):
                t = t.replace('"', "")
                f.write(f'(set! u (Utterance Text "{t}"))\n(utt.synth u)\n'
                        f'(utt.save.wave u "{tmp}/{i}.wav" \'riff)\n')
        subprocess.run(["festival", "-b", scm], check=True, capture_output=True)
        for i in range(len(texts)):
            x, sr = sf.read(f"{tmp}/{i}.wav")
            outs.append(to16k(x, sr))
        return outs
    for i, t in enumerate(texts):
        wav = f"{tmp}/{i}.wav"
        if eng == "espeak":
            v = voice["voice"] + ("+" + voice["variant"] if voice["variant"] else "")
            cmd = ["espeak-ng", "-v", v, "-s", str(voice["speed"]), "-p", str(voice["pitch"]),
                   "-w", wav, t]
        else:
            cmd = ["flite", "-voice", voice["voice"], "--setf", f"duration_stretch={voice['speed']}",
                   "--setf", f"int_f0_target_mean={voice['pitch']}", "-t", t, "-o", wav]
        subprocess.run(cmd, check=True, capture_output=True)
        x, sr = sf.read(wav)
        outs.append(to16k(x, sr))
    return outs


def synth_voice(args):
    cfg, voice, phrases, outdir = args
    path = os.path.join(outdir, voice["id"] + ".npz")
    if os.path.exists(path):
        return voice["id"]
    v = cfg["vocab"]
    words = list((v["en_digits"] if voice["lang"] == "en" else v["cmn_digits"]).keys()) + \
        (v["en_fillers"] if voice["lang"] == "en" else v["cmn_fillers"])
    texts = [word_text(w) for w in words] + [" ".join(word_text(w) for w in toks) for toks, _ in phrases]
    with tempfile.TemporaryDirectory() as tmp:
        audio = render(voice, texts, tmp)
    arrs = {}
    for i, (name, x) in enumerate(zip(["w_" + w for w in words] +
                                      [f"p_{j}" for j in range(len(phrases))], audio)):
        x = trim_silence(x)
        if len(x) < 800:  # < 50 ms: synthesis failed, skip
            continue
        arrs[name] = np.clip(x / max(1e-6, np.abs(x).max()) * 0.7 * 32767, -32767, 32767).astype(np.int16)
    np.savez(path + ".tmp.npz", **arrs)
    os.replace(path + ".tmp.npz", path)
    return voice["id"]


def main():
    cfg = load_config()
    rng = np.random.default_rng(cfg["seed"])
    outdir = os.path.join(HERE, cfg["paths"]["tts"])
    os.makedirs(outdir, exist_ok=True)
    voices = make_voices(cfg, rng)
    jobs = []
    for voice in voices:
        phrases = make_phrases(cfg, voice["lang"], rng, cfg["tts"]["n_phrases_per_voice"])
        voice["phrases"] = [dict(tokens=t, label=d) for t, d in phrases]
        jobs.append((cfg, voice, phrases, outdir))
    n_workers = int(os.environ.get("DIGITS_JOBS", "2"))
    with ThreadPoolExecutor(n_workers) as ex:
        for i, vid in enumerate(ex.map(synth_voice, jobs)):
            if i % 50 == 0:
                print(f"  tts {i}/{len(jobs)} {vid}", flush=True)
    with open(os.path.join(outdir, "index.json"), "w") as f:
        json.dump(voices, f, indent=0)
    print(f"tts: {len(voices)} voices ({sum(v['split'] == 'heldout' for v in voices)} held out) -> {outdir}")


if __name__ == "__main__":
    sys.exit(main())
