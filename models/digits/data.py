"""Speech sources, utterance synthesis (splicing + augmentation) and cached feature datasets.

A *source* is one speaker or one synthetic voice: {id, lang, kind, words: {word: [clips]},
phrases: [(clip, digits)]}. Utterances are built in one language from one source, then augmented
and placed in a 6 s window (zero padding, as the Rust side pads VAD spans).
"""
import glob
import json
import os
import re
from multiprocessing import get_context

import numpy as np
import soundfile as sf
from scipy.signal import butter, fftconvolve, resample_poly, sosfilt

from common import HERE, path, trim_silence

SR = 16000


def load_wav16k(p):
    x, sr = sf.read(p, dtype="float32")
    if x.ndim > 1:
        x = x.mean(axis=1)
    if sr != SR:
        g = np.gcd(sr, SR)
        x = resample_poly(x, SR // g, sr // g).astype(np.float32)
    return x


def load_fsdd(cfg):
    """{speaker: source} for the FSDD recordings (8 kHz -> 16 kHz)."""
    names = {0: "zero", 1: "one", 2: "two", 3: "three", 4: "four", 5: "five", 6: "six", 7: "seven",
             8: "eight", 9: "nine"}
    out = {}
    for p in sorted(glob.glob(os.path.join(path(cfg, "fsdd"), "*.wav"))):
        d, spk, _ = os.path.basename(p)[:-4].split("_")
        src = out.setdefault(spk, dict(id="fsdd_" + spk, lang="en", kind="real", words={}, phrases=[]))
        x = load_wav16k(p)
        x = x - x.mean()
        src["words"].setdefault(names[int(d)], []).append(trim_silence(x, rel_db=-40))
    return out


def load_cmn(cfg):
    src = dict(id="audio_cmn_yuetan", lang="cmn", kind="real", words={}, phrases=[])
    for p in sorted(glob.glob(os.path.join(path(cfg, "audio_cmn"), "*.wav"))):
        m = re.match(r"yuetan_(\d)_([a-z]+\d)\.wav", os.path.basename(p))
        x = load_wav16k(p)
        src["words"].setdefault(m.group(2), []).append(trim_silence(x - x.mean(), rel_db=-40))
    return src


def load_debian(cfg):
    """{speaker: source} for the real speakers provisioned by debian_voices.py (work/debian/<speaker>/).

    One take per digit word ("oh" separate) and the speaker's own non-digit words, which are used as
    that speaker's fillers (src["fillers"]). Missing directory -> {} (run debian_voices.py).
    """
    names = ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"]
    root = path(cfg, "debian")
    out = {}
    for spk in sorted(os.listdir(root)) if os.path.isdir(root) else []:
        d = os.path.join(root, spk)
        if spk.startswith("_") or not os.path.isdir(os.path.join(d, "digits")):
            continue
        src = dict(id="debian_" + spk, lang="en", kind="real", words={}, phrases=[], fillers=[])
        for p in sorted(glob.glob(os.path.join(d, "digits", "*.wav"))):
            w = os.path.basename(p)[:-4]
            x = load_wav16k(p)
            src["words"].setdefault(w if w == "oh" else names[int(w)], []).append(trim_silence(x - x.mean(), rel_db=-40))
        for p in sorted(glob.glob(os.path.join(d, "fillers", "*.wav"))):
            w = os.path.basename(p)[:-4]
            x = load_wav16k(p)
            src["words"]["f_" + w] = [trim_silence(x - x.mean(), rel_db=-40)]
            src["fillers"].append("f_" + w)
        assert len([w for w in names if w in src["words"]]) == 10, (spk, sorted(src["words"]))
        out[spk] = src
    return out


def load_tts(cfg):
    d = path(cfg, "tts")
    with open(os.path.join(d, "index.json")) as f:
        voices = json.load(f)
    out = []
    for v in voices:
        z = np.load(os.path.join(d, v["id"] + ".npz"))
        src = dict(id=v["id"], lang=v["lang"], kind="tts", split=v["split"], engine=v["engine"], words={}, phrases=[])
        for k in z.files:
            x = z[k].astype(np.float32) / 32768.0
            if k.startswith("w_"):
                src["words"][k[2:]] = [x]
            else:
                ph = v["phrases"][int(k[2:])]
                src["phrases"].append((x, list(ph["label"])))
                src.setdefault("phrase_tokens", []).append(list(ph["tokens"]))
        out.append(src)
    return out


# ----------------------------------------------------------------------------- utterances


def digit_word(cfg, lang, d, rng, src=None):
    u = cfg["utterances"]
    if lang == "en":
        w = "oh" if d == 0 and rng.random() < u["p_oh"] else ["zero", "one", "two", "three", "four", "five",
                                                              "six", "seven", "eight", "nine"][d]
    else:
        w = ["ling2", "yi1", "er4", "san1", "si4", "wu3", "liu4", "qi1", "ba1", "jiu3"][d]
        if d == 1 and rng.random() < u["p_yao"]:
            w = "yao1"
        if d == 2 and rng.random() < u["p_liang"]:
            w = "liang3"
    if src is not None and w not in src["words"]:  # e.g. FSDD has no "oh", audio_cmn no "yao1"
        w = {"oh": "zero", "yao1": "yi1", "liang3": "er4"}.get(w, w)
    return w


def splice(cfg, src, tokens, rng, gap_ms=None):
    """Concatenate word clips with random gaps and lead/trail silence."""
    u = cfg["utterances"]
    g = gap_ms or u["gap_ms"]
    parts = [np.zeros(int(rng.uniform(*u["lead_ms"]) * 16), np.float32)]
    for i, w in enumerate(tokens):
        clips = src["words"][w]
        x = clips[int(rng.integers(len(clips)))]
        parts.append(x * np.float32(10 ** (rng.uniform(-3, 3) / 20)))
        if i + 1 < len(tokens):
            parts.append(np.zeros(int(rng.uniform(*g) * 16), np.float32))
    parts.append(np.zeros(int(rng.uniform(*u["trail_ms"]) * 16), np.float32))
    return np.concatenate(parts)


def fillers(cfg, lang):
    """Filler words used for training (synthesised ones minus the probe-only near-homophones)."""
    v = cfg["vocab"]
    fl = v["en_fillers"] if lang == "en" else v["cmn_fillers"]
    skip = set(v.get("en_fillers_probe_only", []) if lang == "en" else v.get("cmn_fillers_probe_only", []))
    return [w for w in fl if w not in skip]


def make_tokens(cfg, src, kind, rng):
    """kind: digits | filler | mixed -> (tokens, digits)."""
    u, lang = cfg["utterances"], src["lang"]
    fl = src.get("fillers") or fillers(cfg, lang)  # real speakers with their own non-digit words
    if kind == "filler":
        n = int(rng.integers(1, 6))
        return [fl[int(i)] for i in rng.integers(0, len(fl), n)], []
    L = 4 if rng.random() < u["p_len4"] else int(rng.integers(1, 7))
    ds = [int(d) for d in rng.integers(0, 10, L)]
    toks = [digit_word(cfg, lang, d, rng, src) for d in ds]
    if kind == "mixed":
        pre = [fl[int(i)] for i in rng.integers(0, len(fl), int(rng.integers(0, 4)))]
        post = [fl[int(i)] for i in rng.integers(0, len(fl), int(rng.integers(0, 3)))]
        mid = list(toks)
        if rng.random() < 0.3 and len(mid) > 1:
            mid.insert(int(rng.integers(1, len(mid))), fl[int(rng.integers(len(fl)))])
        if not pre and not post and mid == toks:
            pre = [fl[int(rng.integers(len(fl)))]]
        toks = pre + mid + post
    return toks, ds


# ----------------------------------------------------------------------------- augmentation


def pink(n, rng):
    X = np.fft.rfft(rng.standard_normal(n))
    f = np.arange(len(X))
    X[1:] /= np.sqrt(f[1:])
    X[0] = 0
    return np.fft.irfft(X, n).astype(np.float32)


def speech_power(x):
    hop = 160
    n = len(x) // hop
    if n == 0:
        return float(np.mean(x ** 2) + 1e-12)
    e = (x[: n * hop].reshape(n, hop) ** 2).mean(axis=1)
    act = e[e > e.max() * 1e-3]
    return float(act.mean() + 1e-12)


_PHONE = butter(4, [300, 3400], btype="bandpass", fs=SR, output="sos")


def augment(cfg, x, rng, babble_pool, clean=False):
    """Augment one recorded span; returns (span, noise_over_full_window: array or None)."""
    a = cfg["augment"]
    if clean:  # only a faint floor noise (60 dB below speech), as any real microphone has
        fl = np.sqrt(speech_power(x) * 1e-6)
        return x + rng.standard_normal(len(x)).astype(np.float32) * np.float32(fl), None
    sp = rng.uniform(*a["speed"])
    n = int(len(x) / sp)
    x = np.interp(np.arange(n) * sp, np.arange(len(x)), x).astype(np.float32)
    if rng.random() < a["p_reverb"]:
        rt = rng.uniform(*a["rt60"])
        L = int(rt * SR)
        t = np.arange(L) / SR
        h = rng.standard_normal(L) * np.exp(-6.9 * t / rt)
        h[0] = 0
        h *= rng.uniform(0.1, 0.6) / (np.sqrt((h ** 2).sum()) + 1e-9)
        h[0] = 1.0
        x = fftconvolve(x, h)[: len(x) + L // 3].astype(np.float32)
    if rng.random() < a["p_phone"]:
        x = sosfilt(_PHONE, x).astype(np.float32)
    ps = speech_power(x)
    # faint floor noise always: real microphones never deliver digital silence
    x = x + rng.standard_normal(len(x)).astype(np.float32) * np.float32(np.sqrt(ps * 10 ** (-rng.uniform(45, 70) / 10)))
    noise = None
    if rng.random() < a["p_noise"]:
        full = rng.random() < a["p_noise_full_window"]
        nlen = cfg["features"]["window_samples"] if full else len(x)
        kind = rng.integers(3)
        if kind == 0:
            nz = rng.standard_normal(nlen).astype(np.float32)
            snr = rng.uniform(*a["snr_db"])
        elif kind == 1:
            nz = pink(nlen, rng)
            snr = rng.uniform(*a["snr_db"])
        else:  # babble of filler words only (never digits, so labels stay true)
            nz = np.zeros(nlen, np.float32)
            for _ in range(int(rng.integers(3, 7))):
                c = babble_pool[int(rng.integers(len(babble_pool)))]
                o = int(rng.integers(0, max(1, nlen - len(c))))
                c = c[: nlen - o]
                nz[o: o + len(c)] += c / np.float32(np.sqrt(np.mean(c ** 2)) + 1e-6)
            snr = rng.uniform(max(10, a["snr_db"][0]), a["snr_db"][1])
        nz *= np.float32(np.sqrt(ps / (np.mean(nz ** 2) + 1e-12) * 10 ** (-snr / 10)))
        if full:
            noise = nz
        else:
            x = x + nz
    return x, noise


def place(cfg, x, rng, noise=None, start_aligned=None):
    W = cfg["features"]["window_samples"]
    out = np.zeros(W, np.float32)
    x = x[:W]
    if start_aligned is None:
        start_aligned = rng.random() < cfg["utterances"]["p_start_aligned"]
    off = 0 if start_aligned else int(rng.integers(0, W - len(x) + 1))
    out[off: off + len(x)] = x
    if noise is not None:
        out += noise
    return out


def set_level(y, rng, cfg, clean=False):
    pk = np.abs(y).max()
    if pk < 1e-9:
        return y
    lvl = -6.0 if clean else rng.uniform(*cfg["augment"]["level_dbfs"])
    return np.clip(y * np.float32(10 ** (lvl / 20) / pk), -1, 1).astype(np.float32)


# ----------------------------------------------------------------------------- sampler


class Sampler:
    """Draws training utterances (6 s windows + digit labels) from a fixed set of sources."""

    def __init__(self, cfg, real_en, real_cmn, tts):
        self.cfg = cfg
        self.real = {"en": real_en, "cmn": real_cmn}
        self.tts = {"en": [s for s in tts if s["lang"] == "en"], "cmn": [s for s in tts if s["lang"] == "cmn"]}
        fl = {"en": set(fillers(cfg, "en")), "cmn": set(fillers(cfg, "cmn"))}
        vocab = {lang: fl[lang] | set(cfg["vocab"]["en_digits" if lang == "en" else "cmn_digits"]) for lang in fl}
        # phrases holding a probe-only word are not trained on
        self.phrases = {s["id"]: [p for p, t in zip(s["phrases"], s.get("phrase_tokens", [[]] * len(s["phrases"])))
                                  if set(t) <= vocab[s["lang"]]] for s in tts}
        self.babble = [c for s in tts for w, cs in s["words"].items() if w in fl[s["lang"]] for c in cs]
        self.babble += [c for s in tts for c, lab in self.phrases[s["id"]] if not lab]

    def draw(self, rng, clean=False):
        cfg, u = self.cfg, self.cfg["utterances"]
        max_len = int(u["max_len_s"] * SR)
        while True:
            lang = "en" if rng.random() < u["p_en"] else "cmn"
            r = rng.random()
            kind = "filler" if r < u["p_filler_only"] else "mixed" if r < u["p_filler_only"] + u["p_filler_mixed"] else "digits"
            p_real = u["p_real_en"] if lang == "en" else u["p_real_cmn"]
            reals = self.real[lang]
            if kind != "digits":  # only real speakers that recorded non-digit words (debian_voices.py)
                reals = [s for s in reals if s.get("fillers")]
                p_real *= len(reals) / max(1, len(self.real[lang]))
            if reals and rng.random() < p_real:
                src = reals[int(rng.integers(len(reals)))]
            else:
                src = self.tts[lang][int(rng.integers(len(self.tts[lang])))]
            phr = self.phrases.get(src["id"], [])
            if src["kind"] == "tts" and phr and rng.random() < u["p_phrase"]:
                x, ds = phr[int(rng.integers(len(phr)))]
                x = np.concatenate([np.zeros(int(rng.uniform(*u["lead_ms"]) * 16), np.float32), x,
                                    np.zeros(int(rng.uniform(*u["trail_ms"]) * 16), np.float32)])
            else:
                toks, ds = make_tokens(cfg, src, kind, rng)
                x = splice(cfg, src, toks, rng)
            x, noise = augment(cfg, x, rng, self.babble, clean)
            if len(x) <= max_len:
                y = place(cfg, x, rng, noise)
                return set_level(y, rng, cfg, clean), list(ds)


def mel_mask(cfg, m, rng):
    """SpecAugment on the frozen front end's 32-band mel (before the embedding model), in place."""
    a = cfg["augment"]
    for j in range(len(m)):
        if rng.random() >= a.get("p_mel_mask", 0.0):
            continue
        fill = m[j].mean()
        for _ in range(a["mel_time_masks"]):
            w = int(rng.integers(0, a["mel_time_mask_max"] + 1))
            t0 = int(rng.integers(0, m.shape[1]))
            m[j, t0: t0 + w] = fill
        for _ in range(a["mel_freq_masks"]):
            w = int(rng.integers(0, a["mel_freq_mask_max"] + 1))
            f0 = int(rng.integers(0, m.shape[2]))
            m[j, :, f0: f0 + w] = fill
    return m


def _gen_chunk_oww(args):
    """Like _gen_chunk, but cached features = frozen speech embeddings [n, T, 96] (emb.py)."""
    seed, n = args
    s = _SAMPLER
    import emb as E
    em = E.Embedder(threads=1, n_samples=s.cfg["features"]["window_samples"])
    rng = np.random.default_rng(seed)
    X = np.zeros((n, em.T, E.DIM), np.float16)
    labs, buf = [], []
    B = 32
    for i in range(n):
        y, ds = s.draw(rng)
        buf.append(y)
        labs.append(ds)
        if len(buf) == B or i == n - 1:
            m = mel_mask(s.cfg, em.mel(np.stack(buf)), rng)
            X[i + 1 - len(buf): i + 1] = em.embed_mel(m)
            buf = []
    return X, labs


def _gen_chunk(args):
    if _SAMPLER.cfg["features"].get("frontend") == "oww":
        return _gen_chunk_oww(args)
    seed, n = args
    s = _SAMPLER
    from model import FrontEnd
    fe = FrontEnd(s.cfg["features"])
    rng = np.random.default_rng(seed)
    X = np.zeros((n, s.cfg["features"]["n_frames"], s.cfg["features"]["n_mels"]), np.float16)
    labs = []
    B = 32
    buf, warps = [], []
    vt = s.cfg["augment"].get("vtlp", [1.0, 1.0])
    for i in range(n):
        y, ds = s.draw(rng)
        buf.append(y)
        warps.append(rng.uniform(*vt) if vt[0] != vt[1] else vt[0])  # no draw when off (reproducible)
        labs.append(ds)
        if len(buf) == B or i == n - 1:
            F = fe(np.stack(buf), warps if vt[0] != vt[1] else None)
            eq = s.cfg["augment"].get("eq_db", 0.0)
            if eq:  # random smooth microphone/channel colouring: per-utterance offset per mel band
                m = np.arange(F.shape[2]) / (F.shape[2] - 1)
                for j in range(len(F)):
                    c = sum(rng.uniform(-1, 1) * np.cos(np.pi * k * m + rng.uniform(0, np.pi)) for k in (1, 2, 3))
                    F[j] += (c / 3 * eq * np.log(10) / 10).astype(np.float32)
            warps = []
            X[i + 1 - len(buf): i + 1] = F
            buf = []
    return X, labs


_SAMPLER = None


def build_dataset(sampler, n, seed, jobs=2, chunk=500):
    """n cached feature windows, deterministic for (seed, n, chunk) whatever `jobs` is."""
    global _SAMPLER
    _SAMPLER = sampler
    tasks = [(seed * 100003 + i, min(chunk, n - i * chunk)) for i in range((n + chunk - 1) // chunk)]
    ctx = get_context("fork")
    with ctx.Pool(jobs) as pool:
        res = pool.map(_gen_chunk, tasks, chunksize=1)
    X = np.concatenate([r[0] for r in res])
    labs = [l for r in res for l in r[1]]
    return X, labs


def labels_array(labs, max_len=8):
    L = np.zeros((len(labs), max_len), np.int32)
    ll = np.zeros(len(labs), np.int32)
    for i, ds in enumerate(labs):
        ll[i] = len(ds)
        L[i, : len(ds)] = np.asarray(ds, np.int32) + 1
    return L, ll
