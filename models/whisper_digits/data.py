#!/usr/bin/env python3
"""Sources (real voices + espeak-ng TTS), 4-digit sequence splicing, augmentation, and cached Whisper
encoder features.  `python data.py extract` writes work/feats/<speaker>.<set>.npz (resumable):
  feats  [n, 300, 512] float16   encoder output of the 6 s window
  labels [n, 4] int8             digits (class = digit + 1)
  meta   json per item           takes used, lead, gaps, augmentation
Sets: `train` (augmented, every speaker) and `eval` (clean challenges, real speakers only).
"""
import glob, hashlib, json, os, re, subprocess, sys, tempfile, time
import numpy as np, soundfile as sf
from scipy.signal import resample_poly, butter, sosfilt

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.abspath(os.path.join(HERE, "..", ".."))
WORK = os.path.join(HERE, "work")
SH = "/work/shared/data"
SE = f"{SH}/speech_extra"
SR = 16000
WIN_S = 6
N = WIN_S * SR
ENC = os.path.join(ROOT, "models", f"whisper_encoder_base_{WIN_S}s.onnx")
SC_WORDS = ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"]
sys.path.insert(0, HERE)
from whisper_mel import log_mel


def load(path):
    x, sr = sf.read(path, dtype="float32", always_2d=True)
    x = x.mean(1)
    if sr != SR:
        g = np.gcd(sr, SR); x = resample_poly(x, SR // g, sr // g).astype(np.float32)
    return x - x.mean()


def trim(x, db=35.0, margin=0.03):
    f = 160
    n = len(x) // f
    if n < 3:
        return x
    e = 10 * np.log10(np.mean(x[:n * f].reshape(n, f) ** 2, 1) + 1e-12)
    on = np.where(e > e.max() - db)[0]
    a = max(0, on[0] * f - int(margin * SR)); b = min(len(x), (on[-1] + 1) * f + int(margin * SR))
    return x[a:b]


def trim_peak(x, db=30.0, bridge=0.12, margin=0.03, max_len=1.3):
    """Contiguous region around the loudest 10 ms frame (for untrimmed, noisy clips: fsdd_jason):
    extend while frames are within `db` of the peak, bridging dips up to `bridge` s."""
    f = 160
    n = len(x) // f
    if n < 3:
        return x
    e = 10 * np.log10(np.mean(x[:n * f].reshape(n, f) ** 2, 1) + 1e-12)
    pk = int(np.argmax(e)); on = e > e[pk] - db; br = int(bridge * 100)
    a = pk
    while a > 0 and (on[a - 1] or on[max(0, a - br):a].any()):
        a -= 1
    b = pk
    while b < n - 1 and (on[b + 1] or on[b + 1:b + 1 + br].any()):
        b += 1
    while a < pk and not on[a]:
        a += 1
    while b > pk and not on[b]:
        b -= 1
    if (b - a + 1) > max_len * 100:     # keep the loudest max_len window
        w = int(max_len * 100); c = np.convolve(e[a:b + 1], np.ones(w), "valid"); a = a + int(np.argmax(c)); b = a + w - 1
    return x[max(0, a * f - int(margin * SR)):min(len(x), (b + 1) * f + int(margin * SR))]


def sources():
    """speaker -> dict(lang, group, licence, takes: {digit: [(path, label_variant)]})"""
    S = {}

    def add(spk, lang, lic, group, d, path, var=""):
        s = S.setdefault(spk, dict(lang=lang, licence=lic, group=group, takes={}))
        s["takes"].setdefault(d, []).append((path, var))

    for p in sorted(glob.glob(f"{SH}/fsdd/recordings/*.wav")):
        d, spk, _ = os.path.basename(p)[:-4].split("_")
        add(f"fsdd_{spk}", "en", "CC-BY-SA-4.0", "fsdd", int(d), p)
    # FSDD "jason" (speech_extra/orig/fsdd_jason) is NOT used: its file names do not match what is said
    # (Whisper base transcribes 4_jason_2, 6_jason_8, 2_jason_20 as "one", 5_jason_47 as "nine"; a head
    # trained on him reached only 0.48 on his own voice) -- probably why it was removed from FSDD upstream.
    for p in [] if not os.environ.get("WD_JASON") else sorted(glob.glob(f"{SE}/orig/fsdd_jason/*.wav")):
        d, spk, _ = os.path.basename(p)[:-4].split("_")
        if sf.info(p).frames < 0.25 * sf.info(p).samplerate:     # a few truncated clips
            continue
        add("fsdd_jason", "en", "CC-BY-SA-4.0", "fsdd", int(d), p)
    for p in sorted(glob.glob(f"{SE}/wav16k/speech_commands/*.wav")):
        w, spk = os.path.basename(p).split("_nohash_")[0].split("_")
        add(f"sc_{spk}", "en", "CC-BY-4.0", "speech_commands", SC_WORDS.index(w), p)
    for name, lic in [("gcompris_en_julia", "GPL-3.0"), ("gcompris_en_susan", "GPL-3.0"),
                      ("freeswitch_en_gb_richard", "GPL-3.0"), ("securimage_en", "BSD-3-Clause")]:
        for d in range(10):
            add(name, "en", lic, "single", d, f"{SE}/wav16k/{name}/{d}.wav")
    for spk, lic in [("allison", "CC-BY-SA-3.0"), ("dawson", "GPL")]:
        for d in range(10):
            add(f"debian_{spk}", "en", lic, "single", d, f"{WORK}/debian/{spk}/digits/{d}.wav", "zero")
        add(f"debian_{spk}", "en", lic, "single", 0, f"{WORK}/debian/{spk}/digits/oh.wav", "oh")
    for p in sorted(glob.glob(f"{SH}/audio_cmn/wav16k/*.wav")):
        _, d, py = os.path.basename(p)[:-4].split("_")
        add("cmn_yuetan", "cmn", "CC-BY-SA-3.0-US", "cmn", int(d), p, py)
    # GCompris zh: 1-9 Feng Jie (two recordings: current + 2010), 0 Feng Qin -> one held-out unit
    for d in range(10):
        add("gcompris_zh_fengjie", "cmn", "GPL-3.0", "cmn", d, f"{SE}/wav16k/gcompris_zh_fengjie/{d}.wav",
            "fengqin" if d == 0 else "")
    for d in range(1, 10):
        add("gcompris_zh_fengjie", "cmn", "GPL-3.0", "cmn", d, f"{SE}/wav16k/gcompris_zh_fengjie_2010/{d}.wav", "2010")
    # Two more real Mandarin voices (provisioned by held_out_voices.py into work/heldout; until
    # 2026-12-03 evaluation only, since 2026-12-04 ordinary leave-one-speaker-out voices, folds.tsv):
    # Tux Paint's Taiwan Mandarin digits (GPL-2: not in the shipped head, train.py::GPL_VOICES) and
    # npm yanyu's pinyin syllables (MIT per the package), whose 幺 (yao1) and 两 (liang3) are takes of 1 and 2.
    for d in range(10):
        add("tuxpaint_zh_tw", "cmn", "GPL-2", "cmn", d, f"{WORK}/heldout/tuxpaint_zh_tw/{d}.wav")
    for d, alt in [(d, "") for d in range(10)] + [(1, "yao"), (2, "liang")]:
        add("yanyu_zh", "cmn", "MIT (npm yanyu 0.1.4; recordings' terms unstated)", "cmn", d,
            f"{WORK}/heldout/yanyu_zh/{d}{'_' + alt if alt else ''}.wav", alt)
    # Two more (held_out_voices.py, Debian gcin-voice): Edward Der-Hua Liu (GPL-3 or LGPL-3: not in the
    # shipped head) and Chu Lo (CC-BY-3.0), Taiwan Mandarin, each with 幺 and 两 as takes of 1 and 2.
    for spk, lic in [("gcin_zh_tw_liu", "GPL-3 or LGPL-3 (Debian gcin-voice)"),
                     ("gcin_zh_tw_chulo", "CC-BY-3.0 (Debian gcin-voice)")]:
        for d, alt in [(d, "") for d in range(10)] + [(1, "yao"), (2, "liang")]:
            add(spk, "cmn", lic, "cmn", d, f"{WORK}/heldout/{spk}/{d}{'_' + alt if alt else ''}.wav", alt)
    for s in S.values():
        s["takes"] = {d: v for d, v in sorted(s["takes"].items())}
    return S


# ---------------------------------------------------------------- espeak-ng TTS (training only)
TTS_EN = {0: ["zero", "oh"], 1: ["one"], 2: ["two"], 3: ["three"], 4: ["four"], 5: ["five"], 6: ["six"],
          7: ["seven"], 8: ["eight"], 9: ["nine"]}
TTS_CMN = {0: ["零"], 1: ["一", "幺"], 2: ["二", "两"], 3: ["三"], 4: ["四"], 5: ["五"], 6: ["六"], 7: ["七"],
           8: ["八"], 9: ["九"]}
VARIANTS = ["m1", "m2", "m3", "m4", "m5", "m6", "m7", "f1", "f2", "f3", "f4", "f5", "klatt", "klatt2", "croak",
            "whisper", "Andy", "Annie", "boris", "david", "ed", "grandma", "grandpa", "Michael", "Mr serious"]


def tts(n_en=30, n_cmn=60, seed=7):
    """espeak-ng voices rendered to work/tts/<voice>/<digit>_<k>.wav; returns speaker dict entries."""
    rng = np.random.default_rng(seed)
    S = {}
    langs = [("en", ["en-us", "en-gb", "en-gb-scotland", "en-gb-x-rp", "en-029", "en-us-nyc", "en-gb-x-gbcwmd"], TTS_EN, n_en),
             ("cmn", ["cmn", "cmn-latn-pinyin"], TTS_CMN, n_cmn)]
    for lang, voices, words, n in langs:
        for i in range(n):
            v = voices[rng.integers(len(voices))]; var = VARIANTS[rng.integers(len(VARIANTS))]
            pitch = int(rng.integers(25, 80)); speed = int(rng.integers(120, 190))
            name = f"tts_{lang}_{i:03d}"
            od = os.path.join(WORK, "tts", name); os.makedirs(od, exist_ok=True)
            s = S.setdefault(name, dict(lang=lang, licence="espeak-ng (GPL-3.0 program) synthetic", group="tts", takes={},
                                        params=(v, var, pitch, speed)))
            for d, ws in words.items():
                for k, w in enumerate(ws):
                    p = os.path.join(od, f"{d}_{k}.wav")
                    if not os.path.exists(p):
                        subprocess.run(["espeak-ng", "-v", f"{v}+{var}", "-p", str(pitch), "-s", str(speed), "-w", p, w],
                                       check=True, capture_output=True)
                    s["takes"].setdefault(d, []).append((p, w))
    return S


# ---------------------------------------------------------------- augmentation
def _pink(n, rng):
    w = np.fft.rfft(rng.standard_normal(n)); f = np.arange(len(w)); f[0] = 1
    return np.fft.irfft(w / np.sqrt(f), n)


def augment(x, rng):
    info = {}
    if rng.random() < 0.3:   # reverb: exponentially decaying noise tail
        rt = rng.uniform(0.1, 0.5); L = int(rt * SR)
        ir = rng.standard_normal(L) * np.exp(-6.9 * np.arange(L) / L); ir[0] = 1.0; ir /= np.sqrt(np.sum(ir ** 2))
        x = np.convolve(x, ir)[:len(x)]; info["rt60"] = round(rt, 2)
    if rng.random() < 0.2:   # phone band
        x = resample_poly(x, 1, 2); x = sosfilt(butter(4, [300, 3400], "bandpass", fs=8000, output="sos"), x)
        x = resample_poly(x, 2, 1)[:N]; info["phone"] = 1
    if rng.random() < 0.15:  # cheap microphone / small speaker: low-pass 3-7 kHz (besides the phone band)
        fc = rng.uniform(3000, 7000)
        x = sosfilt(butter(int(rng.integers(2, 7)), fc, "lowpass", fs=SR, output="sos"), x); info["lowpass"] = round(fc)
    if rng.random() < 0.5:
        snr = rng.uniform(5, 30)
        nz = rng.standard_normal(len(x)) if rng.random() < 0.5 else _pink(len(x), rng)
        ps = np.mean(x[np.abs(x) > 1e-4] ** 2) if np.any(np.abs(x) > 1e-4) else 1e-6
        x = x + nz * np.sqrt(ps / 10 ** (snr / 10) / np.mean(nz ** 2)); info["snr"] = round(snr, 1)
    if rng.random() < 0.15:  # saturation (speaking loudly close to the phone): peak driven 6-20 dB over full scale
        g = rng.uniform(6, 20); x = x / (np.abs(x).max() + 1e-9) * 10 ** (g / 20)
        if rng.random() < 0.5:
            x = np.clip(x, -1, 1); info["hardclip_db"] = round(g, 1)
        else:
            x = np.tanh(x); info["softclip_db"] = round(g, 1)
    return x, info   # the caller sets the final level


def take_edges(x, rng):
    """Per take (training, p 0.2): an abrupt start/end (cut 0-60 ms into the take, no fade, at most 15 %
    of it per side) and a DC offset of 2-20 % of the peak, as badly edited or cheap-ADC recordings."""
    if rng.random() >= 0.2:
        return x, None
    cap = int(0.15 * len(x))
    a = min(int(rng.uniform(0, 0.06) * SR), cap); b = min(int(rng.uniform(0, 0.06) * SR), cap)
    x = x[a:len(x) - b]
    dc = float(rng.choice([-1, 1]) * rng.uniform(0.02, 0.2))
    return x + dc, round(dc, 3)


def make_seq(spk, S, digits, rng, train):
    """Splice one take per digit of `spk`, 150-400 ms gaps (train 80-500 ms), into a 6 s window."""
    s = S[spk]
    parts, used, dcs = [], [], []
    speed = rng.uniform(0.85, 1.15) if (train and rng.random() < 0.8) else 1.0
    for d in digits:
        takes = s["takes"][d]
        p, var = takes[rng.integers(len(takes))]
        x = trim_peak(load(p)) if spk == "fsdd_jason" else trim(load(p))
        if train:
            x = x * 10 ** (rng.uniform(-3, 3) / 20)
        x = x / (np.abs(x).max() + 1e-9)
        if train:
            x, dc = take_edges(x, rng)
            if dc is not None:
                dcs.append(dc)
        parts.append(x); used.append(os.path.basename(os.path.dirname(p)) + "/" + os.path.basename(p))
    lo, hi = (0.08, 0.5) if train else (0.15, 0.4)
    gaps = [rng.uniform(lo, hi) for _ in range(len(digits) - 1)]
    lead = rng.uniform(0.05, 0.8) if train else rng.uniform(0.1, 0.5)
    seg = [parts[0]]
    for g, x in zip(gaps, parts[1:]):
        seg += [np.zeros(int(g * SR)), x]
    y = np.concatenate(seg)
    if speed != 1.0:
        y = resample_poly(y, 100, int(round(100 * speed)))
    maxlen = N - int(0.2 * SR)
    if len(y) > maxlen:          # squeeze: fall back to no lead and a hard cut (rare)
        y = y[:maxlen]
    lead = min(lead, (N - len(y)) / SR - 0.1) if len(y) + lead * SR > N - 0.1 * SR else lead
    out = np.zeros(N); a = int(max(lead, 0) * SR); out[a:a + len(y)] = y
    info = dict(takes=used, lead=round(lead, 3), gaps=[round(g, 3) for g in gaps], speed=round(speed, 3))
    if train:
        if dcs:
            info["take_dc"] = dcs
        out, ai = augment(out, rng); info.update(ai)
        lvl = rng.uniform(-35, -12)
    else:
        lvl = -20.0
    rms = np.sqrt(np.mean(out[a:a + len(y)] ** 2) + 1e-12)
    out = out / rms * 10 ** (lvl / 20)
    out = np.clip(out, -1, 1).astype(np.float32)
    return out, info


def draw_digits(avail, rng):
    while True:
        d = [int(avail[rng.integers(len(avail))]) for _ in range(4)]
        if len(set(d)) > 1 or len(avail) == 1:
            return d


N_TRAIN = {"fsdd": 250, "speech_commands": 25, "single": 80, "cmn": 200, "tts": 12}
N_EVAL = {"fsdd": 60, "speech_commands": 8, "single": 40, "cmn": 100}


def seed_of(*a):
    return int(hashlib.sha256("/".join(map(str, a)).encode()).hexdigest()[:8], 16)


def encoder_session():
    import onnxruntime as ort
    so = ort.SessionOptions(); so.intra_op_num_threads = 1; so.inter_op_num_threads = 1
    return ort.InferenceSession(ENC, so, providers=["CPUExecutionProvider"])


def extract():
    S = sources(); S.update(tts())
    fd = os.path.join(WORK, "feats"); os.makedirs(fd, exist_ok=True)
    sess = encoder_session()
    order = [k for k in S if S[k]["group"] == "cmn"] + [k for k in S if S[k]["group"] != "cmn"]
    for which in ("eval", "train"):
        for spk in order:
            s = S[spk]
            n = (N_EVAL if which == "eval" else N_TRAIN).get(s["group"], 0)
            out = os.path.join(fd, f"{spk}.{which}.npz")
            if n == 0 or os.path.exists(out):
                continue
            t0 = time.time()
            rng = np.random.default_rng(seed_of(spk, which))
            F = np.zeros((n, WIN_S * 50, 512), np.float16); L = np.zeros((n, 4), np.int8); M = []
            for i in range(n):
                dg = draw_digits(sorted(s["takes"]), rng)
                x, info = make_seq(spk, S, dg, rng, which == "train")
                F[i] = sess.run(None, {"mel": log_mel(x, N)[None]})[0][0]
                L[i] = np.array(dg) + 1; M.append(info)
            np.savez(out + ".tmp.npz", feats=F, labels=L, meta=json.dumps(M))
            os.replace(out + ".tmp.npz", out)
            print(f"{which} {spk}: {n} in {time.time() - t0:.0f}s", flush=True)
    # GRID (never trained on)
    out = os.path.join(fd, "grid.npz")
    if not os.path.exists(out):
        rows = [l.split("\t") for l in open(f"{SH}/grid_lipnet/transcripts.tsv").read().strip().split("\n")[1:]]
        F = []
        for clip, tr, d in rows:
            x = load(f"{SH}/grid_lipnet/wav16k/{clip}.wav")[:N]
            F.append(sess.run(None, {"mel": log_mel(x, N)[None]})[0][0])
        np.savez(out, feats=np.array(F, np.float16), clips=np.array([r[0] for r in rows]),
                 digit=np.array([int(r[2]) for r in rows]), transcript=np.array([r[1] for r in rows]))


if __name__ == "__main__":
    if sys.argv[1:] == ["extract"]:
        extract()
    elif sys.argv[1:] == ["list"]:
        S = sources()
        for k, s in S.items():
            print(k, s["lang"], s["group"], s["licence"], {d: len(v) for d, v in s["takes"].items()})


# ---------------------------------------------------------------- filler words (experiment: `data.py extract_fill`)
FILL_EN = ["bin", "blue", "at", "by", "now", "lay", "red", "set", "white", "with", "soon", "again", "place", "green",
           "please", "the", "is", "and", "my", "code", "number", "say", "read", "hello", "yes", "okay", "letter",
           "b", "c", "d", "f", "g", "k", "p", "q", "s", "x", "y", "z", "u"]
FILL_CMN = ["是", "时", "我", "你", "好", "的", "在", "号", "码", "请", "读", "对", "字", "数"]


def fillers():
    """speaker -> list of filler wav paths (real: allison, dawson; TTS: same voices as tts())."""
    F = {"debian_allison": sorted(glob.glob(f"{WORK}/debian/allison/fillers/*.wav")),
         "debian_dawson": sorted(glob.glob(f"{WORK}/debian/dawson/fillers/*.wav"))}
    # TTS filler words in the same espeak-ng voices (voice, variant, pitch, speed) as the digits
    for name, t in tts().items():
        v, var, pitch, speed = t["params"]
        words = FILL_EN if t["lang"] == "en" else FILL_CMN
        od = os.path.join(WORK, "tts_fill", name); os.makedirs(od, exist_ok=True)
        F[name] = []
        for k, w in enumerate(words):
            p = os.path.join(od, f"{k}.wav")
            if not os.path.exists(p):
                subprocess.run(["espeak-ng", "-v", f"{v}+{var}", "-p", str(pitch), "-s", str(speed), "-w", p, w],
                               check=True, capture_output=True)
            F[name].append(p)
    return F


def make_fill_seq(spk, S, FL, rng):
    for _ in range(20):      # redraw until the sequence fits the window (no cut digits)
        r = _make_fill_seq(spk, S, FL, rng)
        if r is not None:
            return r
    raise RuntimeError(spk)


def _make_fill_seq(spk, S, FL, rng):
    """4 digits with 1-3 fillers mixed in (60%) or 1 digit inside 3-5 fillers (40%, GRID-like); labels padded with 0."""
    s = S[spk]; avail = sorted(s["takes"])
    if rng.random() < 0.6:
        dg = draw_digits(avail, rng); seq = [("d", d) for d in dg]
        for _ in range(int(rng.integers(1, 4))):
            seq.insert(int(rng.integers(0, len(seq) + 1)), ("f", None))
    else:
        dg = [int(avail[rng.integers(len(avail))])]; nf = int(rng.integers(3, 6)); pos = int(rng.integers(0, nf + 1))
        seq = [("f", None)] * nf; seq.insert(pos, ("d", dg[0]))
    parts = []
    for kind, d in seq:
        if kind == "d":
            takes = s["takes"][d]; p = takes[rng.integers(len(takes))][0]
        else:
            p = FL[spk][rng.integers(len(FL[spk]))]
        x = trim(load(p)) * 10 ** (rng.uniform(-3, 3) / 20); parts.append(x / (np.abs(x).max() + 1e-9))
    segs = [parts[0]]
    for x in parts[1:]:
        segs += [np.zeros(int(rng.uniform(0.03, 0.3) * SR)), x]
    y = np.concatenate(segs)
    speed = rng.uniform(0.85, 1.15) if rng.random() < 0.8 else 1.0
    if speed != 1.0:
        y = resample_poly(y, 100, int(round(100 * speed)))
    if len(y) > N - int(0.3 * SR):
        return None
    lead = rng.uniform(0.05, max(0.06, min(0.8, (N - len(y)) / SR - 0.1)))
    out = np.zeros(N); a = int(lead * SR); out[a:a + len(y)] = y[:N - a]
    out, _ = augment(out, rng)
    rms = np.sqrt(np.mean(out[a:a + len(y)] ** 2) + 1e-12)
    out = np.clip(out / rms * 10 ** (rng.uniform(-35, -12) / 20), -1, 1).astype(np.float32)
    lab = np.zeros(4, np.int8); lab[:len(dg)] = np.array(dg) + 1
    return out, lab


def extract_fill(n_real=100, n_tts=10):
    S = sources(); S.update(tts()); FL = fillers()
    fd = os.path.join(WORK, "feats"); sess = encoder_session()
    for spk in FL:
        out = os.path.join(fd, f"{spk}.fill.npz")
        if os.path.exists(out):
            continue
        n = n_real if spk.startswith("debian") else n_tts
        rng = np.random.default_rng(seed_of(spk, "fill"))
        Fe = np.zeros((n, WIN_S * 50, 512), np.float16); L = np.zeros((n, 4), np.int8)
        for i in range(n):
            x, L[i] = make_fill_seq(spk, S, FL, rng)
            Fe[i] = sess.run(None, {"mel": log_mel(x, N)[None]})[0][0]
        np.savez(out + ".tmp.npz", feats=Fe, labels=L); os.replace(out + ".tmp.npz", out)
        print("fill", spk, n, flush=True)


if __name__ == "__main__" and sys.argv[1:] == ["extract_fill"]:
    extract_fill()
