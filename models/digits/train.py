"""Train, evaluate and export the spoken-digit CTC model.

  python train.py eval --fold nicolas   # evaluation model: FSDD speaker `fold` + audio_cmn held out
  python train.py ship                  # shipped model: every speaker and voice
  python train.py export                # models/digits.onnx + ORT-vs-Keras check + reference files
  python train.py report                # merge work/results_*.json -> results.json

Everything is seeded from config.toml; run through train.sh.
"""
import argparse
import copy
import json
import os
import sys
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np

import common
import data
import model as M

HERE = common.HERE
SR = 16000


# ----------------------------------------------------------------------------- decoding / scoring


def greedy(logp):
    """logp [T, 11] -> (digits, confidences); confidence = max posterior over the digit's run."""
    a = logp.argmax(-1)
    p = np.exp(logp)
    out, conf = [], []
    prev = 0
    for t, c in enumerate(a):
        if c != 0 and c != prev:
            out.append(int(c) - 1)
            conf.append(float(p[t, c]))
        elif c != 0 and c == prev:
            conf[-1] = max(conf[-1], float(p[t, c]))
        prev = c
    return out, conf


def align(ref, hyp):
    """Levenshtein; returns (edits, per-hyp-token correct flags)."""
    n, m = len(ref), len(hyp)
    D = np.zeros((n + 1, m + 1), int)
    D[:, 0] = np.arange(n + 1)
    D[0, :] = np.arange(m + 1)
    for i in range(1, n + 1):
        for j in range(1, m + 1):
            D[i, j] = min(D[i - 1, j] + 1, D[i, j - 1] + 1, D[i - 1, j - 1] + (ref[i - 1] != hyp[j - 1]))
    ok = [False] * m
    i, j = n, m
    while i > 0 and j > 0:
        if D[i, j] == D[i - 1, j - 1] + (ref[i - 1] != hyp[j - 1]):
            ok[j - 1] = ref[i - 1] == hyp[j - 1]
            i, j = i - 1, j - 1
        elif D[i, j] == D[i - 1, j] + 1:
            i -= 1
        else:
            j -= 1
    return int(D[n, m]), ok


def score(logps, labels):
    n_ok = edits = n_ref = 0
    conf_ok, conf_bad = [], []
    any_digit = 0
    examples = []
    for lp, ref in zip(logps, labels):
        hyp, conf = greedy(lp)
        e, ok = align(ref, hyp)
        n_ok += hyp == list(ref)
        edits += e
        n_ref += len(ref)
        any_digit += len(hyp) > 0
        for c, k in zip(conf, ok):
            (conf_ok if k else conf_bad).append(c)
        if len(examples) < 6 and hyp != list(ref):
            examples.append({"ref": "".join(map(str, ref)), "hyp": "".join(map(str, hyp))})
    r = {"n": len(labels), "seq_acc": round(n_ok / max(1, len(labels)), 4),
         "digit_error_rate": round(edits / max(1, n_ref), 4) if n_ref else None,
         "utts_with_any_digit": round(any_digit / max(1, len(labels)), 4),
         "n_digits_correct": len(conf_ok), "n_digits_wrong_or_inserted": len(conf_bad),
         "conf_correct_p5_p50": [round(float(np.percentile(conf_ok, q)), 3) for q in (5, 50)] if conf_ok else None,
         "conf_wrong_p50_p95": [round(float(np.percentile(conf_bad, q)), 3) for q in (50, 95)] if conf_bad else None,
         "error_examples": examples}
    return r, conf_ok, conf_bad


# ----------------------------------------------------------------------------- evaluation sets


def noisy_cfg(cfg):
    c = copy.deepcopy(cfg)
    c["augment"].update(speed=[1.0, 1.0], p_noise=1.0, snr_db=[10, 20], p_noise_full_window=0.0)
    return c


def seq_set(cfg, srcs, n, seed, L=4, noisy=False):
    """n L-digit spliced sequences, one source per utterance, start-aligned 6 s windows."""
    rng = np.random.default_rng(seed)
    c = noisy_cfg(cfg) if noisy else cfg
    X, labs = [], []
    for _ in range(n):
        src = srcs[int(rng.integers(len(srcs)))]
        ds = [int(d) for d in rng.integers(0, 10, L)]
        toks = [data.digit_word(cfg, src["lang"], d, rng, src) for d in ds]
        x = data.splice(cfg, src, toks, rng)
        x, nz = data.augment(c, x, rng, _BABBLE, clean=not noisy)
        X.append(data.set_level(data.place(cfg, x, rng, nz, start_aligned=True), rng, cfg, clean=True))
        labs.append(ds)
    return np.stack(X), labs


def filler_set(cfg, srcs, n, seed):
    rng = np.random.default_rng(seed)
    X, labs = [], []
    for _ in range(n):
        src = srcs[int(rng.integers(len(srcs)))]
        toks, _ = data.make_tokens(cfg, src, "filler", rng)
        x = data.splice(cfg, src, toks, rng)
        X.append(data.set_level(data.place(cfg, x, rng, None, start_aligned=True), rng, cfg, clean=True))
        labs.append([])
    return np.stack(X), labs


def phrase_set(cfg, srcs):
    X, labs = [], []
    rng = np.random.default_rng(0)
    for s in srcs:
        for x, ds in s["phrases"]:
            if len(x) <= cfg["features"]["window_samples"]:
                X.append(data.set_level(data.place(cfg, x, rng, None, start_aligned=True), rng, cfg, clean=True))
                labs.append(ds)
    return np.stack(X), labs


def grid_set(cfg):
    g = common.path(cfg, "grid")
    X, labs, names = [], [], []
    with open(os.path.join(g, "transcripts.tsv")) as f:
        rows = [l.rstrip("\n").split("\t") for l in f][1:]
    for clip, text, d in rows:
        x = data.load_wav16k(os.path.join(g, "wav16k", clip + ".wav"))
        y = np.zeros(cfg["features"]["window_samples"], np.float32)
        y[: len(x)] = x[: len(y)]
        X.append(y)
        labs.append([int(d)])
        names.append((clip, text))
    return np.stack(X), labs, names


def probe_words(cfg, srcs, words):
    """Isolated single words from held-out voices (e.g. near-homophones of digits)."""
    out = {}
    rng = np.random.default_rng(5)
    for w in words:
        X = []
        for s in srcs:
            if w in s["words"]:
                x = data.splice(cfg, s, [w], rng)
                X.append(data.set_level(data.place(cfg, x, rng, None, start_aligned=True), rng, cfg, clean=True))
        out[w] = np.stack(X)
    return out


_BABBLE = []


# ----------------------------------------------------------------------------- training


def spec_augment(tf, X, mu, tcfg, pre=""):
    B, T, F = X.shape[0], X.shape[1], X.shape[2]
    mask = tf.zeros_like(X, dtype=tf.bool)
    t = tf.range(T)[None, :, None]
    f = tf.range(F)[None, None, :]
    for _ in range(tcfg[pre + "time_masks"]):
        w = tf.random.uniform([B, 1, 1], 0, tcfg[pre + "time_mask_max"] + 1, dtype=tf.int32)
        s = tf.random.uniform([B, 1, 1], 0, T, dtype=tf.int32)
        mask = mask | ((t >= s) & (t < s + w))
    for _ in range(tcfg[pre + "freq_masks"]):
        w = tf.random.uniform([B, 1, 1], 0, tcfg[pre + "freq_mask_max"] + 1, dtype=tf.int32)
        s = tf.random.uniform([B, 1, 1], 0, F, dtype=tf.int32)
        mask = mask | ((f >= s) & (f < s + w))
    return tf.where(mask, tf.broadcast_to(mu[None, None, :], tf.shape(X)), X)


def oww(cfg):
    return cfg["features"].get("frontend") == "oww"


def make_fe(cfg, threads=2):
    """Feature extractor for raw 6 s windows: frozen speech embeddings (oww) or the in-graph log-mel."""
    if oww(cfg):
        import emb
        e = emb.Embedder(threads=threads, n_samples=cfg["features"]["window_samples"])
        assert e.T == cfg["head"]["T"], (e.T, cfg["head"]["T"])
        return e
    return M.FrontEnd(cfg["features"])


def build_net(cfg, mu, var, training_graph=True):
    if oww(cfg):
        return M.build_head(cfg, mu, var, training_graph=training_graph)
    return M.build_keras(cfg, mu, var, training_graph=training_graph)


def predict(km, X, fe, batch=64):
    import tensorflow as tf
    out = []
    for i in range(0, len(X), batch):
        F = fe(X[i: i + batch])
        lg = km(F, training=False)
        out.append(tf.nn.log_softmax(lg).numpy())
    return np.concatenate(out)


def train_model(cfg, sampler, seed, tag, val=None, monitor=None):
    import keras
    import tensorflow as tf

    keras.utils.set_random_seed(seed)
    tc = cfg["train"]
    t0 = time.time()
    cache = os.path.join(HERE, cfg["paths"]["work"], f"{tag}.data.npz")
    if os.environ.get("DIGITS_REUSE_DATA") and os.path.exists(cache):  # head-only experiments on cached features
        z = np.load(cache, allow_pickle=False)
        X, LLc, Lc = z["X"], z["LL"], z["L"]
        labs = [list(Lc[i, : LLc[i]] - 1) for i in range(len(X))]
    else:
        X, labs = data.build_dataset(sampler, tc["n_train_utts"], seed, jobs=int(os.environ.get("DIGITS_JOBS", "2")))
        if os.environ.get("DIGITS_KEEP_DATA"):
            Lc, LLc = data.labels_array(labs)
            np.savez(cache, X=X, L=Lc, LL=LLc)
    L, LL = data.labels_array(labs)
    t_data = time.time() - t0
    print(f"[{tag}] data: {X.shape} in {t_data:.0f}s; label len hist {np.bincount(LL).tolist()}", flush=True)
    samp = X[:: max(1, len(X) // 4000)].astype(np.float32)
    mu = samp.mean(axis=(0, 1))
    var = samp.var(axis=(0, 1))
    km = build_net(cfg, mu, var)
    print(f"[{tag}] params {km.count_params()}", flush=True)
    B = tc["batch"]
    steps_per_epoch = len(X) // B
    total = steps_per_epoch * tc["epochs"]
    warm = min(steps_per_epoch * tc["warmup_epochs"], total // 4)
    sched = keras.optimizers.schedules.CosineDecay(
        tc["lr"] / 10, total - warm, alpha=tc["lr_final"] / tc["lr"], warmup_target=tc["lr"], warmup_steps=warm)
    opt = keras.optimizers.AdamW(sched, weight_decay=tc["weight_decay"], clipnorm=5.0)
    mu_t = tf.constant(mu)
    T = cfg["head"]["T"] if oww(cfg) else cfg["features"]["n_frames"] // 4
    pre = "emb_" if oww(cfg) else ""

    @tf.function(reduce_retracing=True)
    def step(xb, lb, llb):
        xb = spec_augment(tf, xb, mu_t, tc, pre)
        with tf.GradientTape() as tape:
            lg = km(xb, training=True)
            ll1 = tf.maximum(llb, 1)
            sp = tf.sparse.from_dense(tf.where(tf.sequence_mask(ll1, lb.shape[1]), tf.maximum(lb, 1), 0))
            ctc = tf.nn.ctc_loss(sp, lg, None, tf.fill([tf.shape(xb)[0]], T), logits_time_major=False, blank_index=0)
            blank_only = -tf.reduce_sum(tf.nn.log_softmax(lg)[:, :, 0], axis=1)
            loss = tf.reduce_mean(tf.where(llb > 0, ctc, blank_only))
        g = tape.gradient(loss, km.trainable_variables)
        opt.apply_gradients(zip(g, km.trainable_variables))
        return loss

    rng = np.random.default_rng(seed + 1)
    fe = make_fe(cfg)
    hist = []
    t1 = time.time()
    for ep in range(tc["epochs"]):
        perm = rng.permutation(len(X))
        tot = 0.0
        for i in range(steps_per_epoch):
            idx = np.sort(perm[i * B:(i + 1) * B])
            tot += float(step(tf.constant(X[idx].astype(np.float32)), tf.constant(L[idx]), tf.constant(LL[idx])))
        h = {"epoch": ep + 1, "loss": round(tot / steps_per_epoch, 4), "elapsed_s": round(time.time() - t1)}
        if val is not None:
            r, _, _ = score(predict(km, val[0], fe), val[1])
            h["val_seq_acc"] = r["seq_acc"]
        if monitor is not None:  # learning curve on held-out real speech; never used for any choice
            r, _, _ = score(predict(km, monitor[0], fe), monitor[1])
            h["monitor_heldout_real_seq_acc"] = r["seq_acc"]
        hist.append(h)
        print(f"[{tag}] {h}", flush=True)
    t_train = time.time() - t1
    km.save_weights(os.path.join(HERE, cfg["paths"]["work"], f"{tag}.weights.h5"))
    np.savez(os.path.join(HERE, cfg["paths"]["work"], f"{tag}.norm.npz"), mu=mu, var=var)
    return km, {"data_s": round(t_data), "train_s": round(t_train), "history": hist,
                "n_train_utts": len(X), "params": int(km.count_params())}


def load_model(cfg, tag, with_frontend=False):
    z = np.load(os.path.join(HERE, cfg["paths"]["work"], f"{tag}.norm.npz"))
    if oww(cfg):
        km = M.build_head(cfg, z["mu"], z["var"], training_graph=False)
    else:
        km = M.build_keras(cfg, z["mu"], z["var"], with_frontend=with_frontend, training_graph=False)
    km.load_weights(os.path.join(HERE, cfg["paths"]["work"], f"{tag}.weights.h5"))
    return km


# ----------------------------------------------------------------------------- stages


def sources(cfg):
    """(real English speakers {name: source}: FSDD + work/debian, audio_cmn, TTS voices)."""
    global _BABBLE
    fsdd = data.load_fsdd(cfg)
    with_debian = cfg["train"].get("debian_voices", False)
    deb = data.load_debian(cfg) if with_debian else {}
    if with_debian and not deb:
        sys.exit(f"no real speakers in {common.path(cfg, 'debian')}: run debian_voices.py (train.sh does)")
    assert not set(deb) & set(fsdd), (sorted(deb), sorted(fsdd))
    fsdd.update(deb)
    cmn = data.load_cmn(cfg)
    tts = data.load_tts(cfg)
    fl = {"en": set(data.fillers(cfg, "en")), "cmn": set(data.fillers(cfg, "cmn"))}
    _BABBLE = [c for s in tts if s["split"] == "train" for w, cs in s["words"].items() if w in fl[s["lang"]] for c in cs]
    return fsdd, cmn, tts


def evaluate(cfg, km, fsdd, cmn, tts, held_spk, include_cmn_real, include_heldout_tts):
    fe = make_fe(cfg)
    res, confs = {}, {"ok": [], "bad": []}

    def run(name, X, labs, note):
        r, ok, bad = score(predict(km, X, fe), labs)
        r["how"] = note
        res[name] = r
        confs["ok"] += ok
        confs["bad"] += bad
        print(f"  {name}: seq_acc {r['seq_acc']} DER {r['digit_error_rate']} any {r['utts_with_any_digit']} "
              f"errs {r['error_examples'][:3]}", flush=True)

    for k, spk in enumerate(held_spk):
        corpus = "debian" if fsdd[spk]["id"].startswith("debian_") else "fsdd"
        X, l = seq_set(cfg, [fsdd[spk]], 600, 11 + 100 * k)
        run(f"en_real_{corpus}_{spk}_4digit_clean", X, l,
            f"600 sequences of 4 random digits spliced from real {corpus} takes of held-out speaker {spk}, "
            "gaps 50-400 ms, lead/trail 0-500 ms, no augmentation")
        X, l = seq_set(cfg, [fsdd[spk]], 600, 12 + 100 * k, noisy=True)
        run(f"en_real_{corpus}_{spk}_4digit_noisy", X, l, "same, plus white/pink/babble noise at SNR 10-20 dB, "
            "30% reverb, 20% phone band")
    if include_cmn_real:
        X, l = seq_set(cfg, [cmn], 400, 13)
        run("cmn_real_audio_cmn_4digit_clean", X, l, "400 sequences of 4 random digits spliced from the 11 "
            "real audio_cmn clips (speaker held out of this model; 2 as er4 or liang3), no augmentation")
        X, l = seq_set(cfg, [cmn], 400, 14, noisy=True)
        run("cmn_real_audio_cmn_4digit_noisy", X, l, "same with noise SNR 10-20 dB, 30% reverb, 20% phone band")
    if include_heldout_tts:
        for lang in ("en", "cmn"):
            hv = [s for s in tts if s["split"] == "heldout" and s["lang"] == lang]
            X, l = seq_set(cfg, hv, 400, 15 if lang == "en" else 16)
            run(f"{lang}_synthetic_heldout_voices_4digit", X, l,
                f"SYNTHETIC: 400 spliced 4-digit sequences from {len(hv)} held-apart TTS voices")
            X, l = phrase_set(cfg, hv)
            run(f"{lang}_synthetic_heldout_voices_phrases", X, l,
                "SYNTHETIC: continuous TTS phrases (1-6 digits, 25% with filler words, 15% filler-only)")
            X, l = filler_set(cfg, hv, 300, 17 if lang == "en" else 18)
            run(f"{lang}_synthetic_heldout_voices_filler_only", X, l,
                "SYNTHETIC: 1-5 non-digit words, target = no digit; see utts_with_any_digit (false alarms)")
        probe_sets = {
            "cmn": (["shi4", "si3", "shi2", "si4", "yi1"],
                    "isolated words from held-apart espeak voices: shi4 (是), si3 (死), shi2 (十/时) must give "
                    "nothing; si4 (四) -> 4; yi1 is identical for 一/医/衣 -> 1"),
            "en": (["at", "eat", "ten"] + list(cfg["vocab"].get("en_fillers_probe_only", [])) + ["two", "four", "eight"],
                   "isolated words from held-apart TTS voices: at, eat, ten must give nothing; the near-homophones "
                   "of digits (tree, fix, hero, ...; never trained on, see config en_fillers_probe_only) show the "
                   "false-alarm rate on words the model never saw; two/four/eight -> 2/4/8 for comparison"),
        }
        for lang, (words, how) in probe_sets.items():
            hv = [s for s in tts if s["split"] == "heldout" and s["lang"] == lang]
            probes = probe_words(cfg, hv, words)
            pr = {}
            for w, X in probes.items():
                outs = [greedy(lp)[0] for lp in predict(km, X, fe)]
                pr[w] = {"n": len(outs), "outputs": {k: sum("".join(map(str, o)) == k for o in outs)
                                                      for k in sorted(set("".join(map(str, o)) for o in outs))}}
            res[f"{lang}_synthetic_probe_words"] = {"how": how, "probes": pr}
            print(f"  {lang} probes", pr, flush=True)
    X, l, names = grid_set(cfg)
    lp = predict(km, X, fe)
    r, ok, bad = score(lp, l)
    r["how"] = "6 real GRID sentences (16 kHz, 3 s, zero-padded to 6 s); correct = output is exactly the one digit"
    r["per_clip"] = [{"clip": n[0], "text": n[1], "digit": d[0], "output": "".join(map(str, greedy(p)[0])),
                      "conf": [round(c, 3) for c in greedy(p)[1]]} for n, d, p in zip(names, l, lp)]
    res["grid_digit_spotting"] = r
    print("  grid", r["seq_acc"], [(c["text"], c["output"]) for c in r["per_clip"]], flush=True)
    ok, bad = np.array(confs["ok"]), np.array(confs["bad"])
    res["confidence"] = {
        "how": "per decoded digit: max posterior of its class over its CTC run; pooled over all sets above",
        "correct_n": int(len(ok)), "wrong_or_inserted_n": int(len(bad)),
        "correct_percentiles_1_5_50": [round(float(np.percentile(ok, q)), 3) for q in (1, 5, 50)] if len(ok) else None,
        "wrong_percentiles_50_90": [round(float(np.percentile(bad, q)), 3) for q in (50, 90)] if len(bad) else None,
        "reject_below_0.7": {"correct_lost": round(float((ok < 0.7).mean()), 4) if len(ok) else None,
                             "errors_removed": round(float((bad < 0.7).mean()), 4) if len(bad) else None},
    }
    return res


def val_set(cfg, sampler):
    rng = np.random.default_rng(999)
    X, l = [], []
    for _ in range(400):
        y, d = sampler.draw(rng)
        X.append(y)
        l.append(d)
    return np.stack(X), l


def stage_eval(cfg, fold, no_train=False):
    fsdd, cmn, tts = sources(cfg)
    held = [fold] + [k for k in cfg["train"].get("extra_heldout", []) if k != fold]
    assert all(k in fsdd for k in held), (held, sorted(fsdd))
    train_tts = [s for s in tts if s["split"] == "train"]
    res_path = os.path.join(HERE, cfg["paths"]["work"], f"results_eval_{fold}.json")
    if no_train:  # re-evaluate the saved evaluation model (e.g. after adding a metric)
        km = load_model(cfg, f"eval_{fold}")
        with open(res_path) as f:
            info = json.load(f)["training"]
    else:
        sampler = data.Sampler(cfg, [fsdd[k] for k in sorted(fsdd) if k not in held], [], train_tts)
        km, info = train_model(cfg, sampler, cfg["seed"], f"eval_{fold}", val=val_set(cfg, sampler),
                               monitor=seq_set(cfg, [fsdd[fold]], 200, 99))
    res = evaluate(cfg, km, fsdd, cmn, tts, held, include_cmn_real=True, include_heldout_tts=True)
    out = {"model": f"evaluation model, real English speaker(s) {held}, the audio_cmn speaker and "
                    f"{sum(s['split'] == 'heldout' for s in tts)} TTS voices held out of training; trained on "
                    f"{[k for k in sorted(fsdd) if k not in held]}", "training": info, "metrics": res}
    with open(res_path, "w") as f:
        json.dump(out, f, indent=1)


def stage_ship(cfg):
    fsdd, cmn, tts = sources(cfg)
    sampler = data.Sampler(cfg, [fsdd[k] for k in sorted(fsdd)], [cmn], tts)
    km, info = train_model(cfg, sampler, cfg["seed"] + 7, "ship", val=val_set(cfg, sampler))
    res = evaluate(cfg, km, fsdd, cmn, tts, [], include_cmn_real=False, include_heldout_tts=False)
    out = {"model": f"shipped model: all real English speakers {sorted(fsdd)}, audio_cmn, all TTS voices (no held-out data; "
                    "only GRID, which is never trained on, is a fair test here)", "training": info, "metrics": res}
    with open(os.path.join(HERE, cfg["paths"]["work"], "results_ship.json"), "w") as f:
        json.dump(out, f, indent=1)


def stage_export_oww(cfg):
    import onnx
    import onnxruntime as ort

    import emb

    fsdd, cmn, tts = sources(cfg)
    km = load_model(cfg, "ship")
    out = os.path.normpath(os.path.join(HERE, cfg["paths"]["onnx_out"]))
    T = cfg["head"]["T"]
    doc = (f"livecheck spoken-digit CTC head. in embeddings [1,{T},96] f32 = frozen Google speech_embedding "
           "features from openwakeword==0.4.0 (PyPI) melspectrogram.onnx (16 kHz audio x 32767, 96000 samples "
           "zero-padded) -> x/10+2 -> 76-frame windows step 8 -> embedding_model.onnx; out log_probs "
           f"[1,{T},11] (log-softmax; class 0 = CTC blank, class d+1 = digit d); step t = embedding window t "
           "= audio [80t ms, 80t+775 ms). Trained by models/digits/train.sh.")
    mp = M.export_head_onnx(km, cfg, out, doc)
    ops = sorted({n.op_type for n in mp.graph.node})
    inferred = onnx.shape_inference.infer_shapes(mp, strict_mode=True)
    dyn = []
    for vi in list(inferred.graph.value_info) + list(inferred.graph.input) + list(inferred.graph.output):
        dims = vi.type.tensor_type.shape.dim
        if not all(d.HasField("dim_value") for d in dims):
            dyn.append(vi.name)
    so = ort.SessionOptions()
    so.intra_op_num_threads = 1
    sess = ort.InferenceSession(out, so, providers=["CPUExecutionProvider"])
    em = emb.Embedder(threads=1, n_samples=cfg["features"]["window_samples"])
    rng = np.random.default_rng(123)
    en = [s for s in tts if s["lang"] == "en" and s["engine"] == "espeak"]
    zh = [s for s in tts if s["lang"] == "cmn"]
    X_en, l_en = seq_set(cfg, en, 1, 21)
    X_zh, l_zh = seq_set(cfg, zh, 1, 22, noisy=True)
    ins = [X_en[0], X_zh[0], (rng.standard_normal(96000) * 0.01).astype(np.float32), np.zeros(96000, np.float32),
           np.clip(rng.standard_normal(96000) * 0.3, -1, 1).astype(np.float32)]
    diffs, fc_diffs = [], []
    for x in ins:
        e = em.windows(x[None])  # reference path (what the Rust side runs)
        fc_diffs.append(float(np.abs(em(x[None]) - e).max()))
        a = sess.run(None, {"embeddings": e})[0]
        b = tf_log_softmax(km(e, training=False).numpy())
        diffs.append(float(np.abs(a - b).max()))
    print("ORT vs Keras max abs diff per input:", diffs, "fully-conv vs windowed embeddings:", fc_diffs)
    assert max(diffs) <= 1e-3, diffs
    assert max(fc_diffs) <= 1e-3, fc_diffs
    e0 = em.windows(ins[0][None])
    ts = []
    for _ in range(30):
        t = time.perf_counter()
        sess.run(None, {"embeddings": e0})
        ts.append(time.perf_counter() - t)
    tf_ = []
    for _ in range(5):
        t = time.perf_counter()
        em.windows(ins[0][None])
        tf_.append(time.perf_counter() - t)
    refdir = os.path.join(HERE, cfg["paths"]["reference"])
    os.makedirs(refdir, exist_ok=True)
    for fn in os.listdir(refdir):
        if fn.endswith(".f32"):
            os.remove(os.path.join(refdir, fn))
    index = {"model": "models/digits.onnx", "input_name": "embeddings", "output_name": "log_probs",
             "input_shape": [1, T, 96], "output_shape": [1, T, 11], "audio_shape": [1, 96000],
             "dtype": "float32 little-endian, C order", "tolerance_max_abs": 1e-3,
             "embeddings_tolerance_max_abs": 1e-2,
             "front_end": "openwakeword==0.4.0 (PyPI, Apache-2.0) resources/models/melspectrogram.onnx (input "
                          "`input` [1,96000] = audio*32767) -> squeeze -> x/10+2 -> [597,32] -> 76-frame windows, "
                          f"step 8 -> {T} windows [N,76,32,1] -> embedding_model.onnx (`input_1`) -> [N,1,1,96] -> "
                          f"[1,{T},96]",
             "produced_by": f"onnxruntime {ort.__version__} (head equal to Keras within {max(diffs):.1e}; "
                            "embeddings by the windowed reference path)", "cases": []}
    for name, x, lab in (("digits_en_synthetic", ins[0], l_en[0]), ("digits_cmn_synthetic_noisy", ins[1], l_zh[0])):
        e = em.windows(x[None]).astype(np.float32)
        y = sess.run(None, {"embeddings": e})[0]
        x[None].astype("<f4").tofile(os.path.join(refdir, f"{name}.audio.f32"))
        e.astype("<f4").tofile(os.path.join(refdir, f"{name}.input.f32"))
        y.astype("<f4").tofile(os.path.join(refdir, f"{name}.output.f32"))
        hyp, conf = greedy(y[0])
        index["cases"].append({"name": name, "audio": f"{name}.audio.f32", "input": f"{name}.input.f32",
                               "output": f"{name}.output.f32",
                               "label_digits": "".join(map(str, lab)), "greedy_decoding": "".join(map(str, hyp)),
                               "confidences": [round(c, 4) for c in conf],
                               "note": "synthetic TTS speech (not a real recording); audio = [1,96000] f32 in [-1,1]"})
    with open(os.path.join(refdir, "reference.json"), "w") as fh:
        json.dump(index, fh, indent=1)
    info = {"onnx": "models/digits.onnx", "bytes": os.path.getsize(out), "params": int(km.count_params()),
            "opset": 17, "ops": ops, "dynamic_shape_tensors": dyn, "ort_vs_keras_max_abs_diff": diffs,
            "fully_conv_vs_windowed_embedding_max_abs_diff": fc_diffs,
            "ort_ms_single_thread_median_head": round(1000 * float(np.median(ts)), 3),
            "ort_ms_single_thread_median_frontend_windowed": round(1000 * float(np.median(tf_)), 1),
            "T": T, "step_ms": 80, "window_ms": 775,
            "reference_cases": [(c["name"], c["label_digits"], c["greedy_decoding"]) for c in index["cases"]]}
    print(json.dumps(info, indent=1))
    with open(os.path.join(HERE, cfg["paths"]["work"], "results_export.json"), "w") as fh:
        json.dump(info, fh, indent=1)


def tf_log_softmax(z):
    z = z - z.max(-1, keepdims=True)
    return z - np.log(np.exp(z).sum(-1, keepdims=True))


def stage_export(cfg):
    if oww(cfg):
        return stage_export_oww(cfg)
    import onnx
    import onnxruntime as ort
    import soundfile as sf  # noqa: F401

    fsdd, cmn, tts = sources(cfg)
    km = load_model(cfg, "ship", with_frontend=True)
    out = os.path.normpath(os.path.join(HERE, cfg["paths"]["onnx_out"]))
    f = cfg["features"]
    doc = ("livecheck spoken-digit CTC model. in audio [1,96000] f32 16 kHz mono (6 s, zero-padded); "
           "out log_probs [1,150,11] (log-softmax; class 0 = CTC blank, class d+1 = digit d), "
           "frame t covers input samples [640t, 640t+640) (40 ms per step). Trained by models/digits/train.sh.")
    mp = M.export_onnx(km, cfg, out, doc)
    ops = sorted({n.op_type for n in mp.graph.node})
    inferred = onnx.shape_inference.infer_shapes(mp, strict_mode=True)
    dyn = []
    for vi in list(inferred.graph.value_info) + list(inferred.graph.input) + list(inferred.graph.output):
        dims = vi.type.tensor_type.shape.dim
        if not all(d.HasField("dim_value") for d in dims):
            dyn.append(vi.name)
    so = ort.SessionOptions()
    so.intra_op_num_threads = 1
    sess = ort.InferenceSession(out, so, providers=["CPUExecutionProvider"])
    # verification inputs: 2 synthetic utterances (TTS, never real recordings), GRID-free noise, silence
    rng = np.random.default_rng(123)
    en = [s for s in tts if s["lang"] == "en" and s["engine"] == "espeak"]
    zh = [s for s in tts if s["lang"] == "cmn"]
    X_en, l_en = seq_set(cfg, en, 1, 21)
    X_zh, l_zh = seq_set(cfg, zh, 1, 22, noisy=True)
    ins = [X_en[0], X_zh[0], (rng.standard_normal(96000) * 0.01).astype(np.float32), np.zeros(96000, np.float32),
           np.clip(rng.standard_normal(96000) * 0.3, -1, 1).astype(np.float32)]
    diffs = []
    for x in ins:
        a = sess.run(None, {"audio": x[None]})[0]
        b = km(x[None], training=False).numpy()
        diffs.append(float(np.abs(a - b).max()))
    print("ORT vs Keras max abs diff per input:", diffs)
    assert max(diffs) <= 1e-3, diffs
    ts = []
    for _ in range(30):
        t = time.perf_counter()
        sess.run(None, {"audio": ins[0][None]})
        ts.append(time.perf_counter() - t)
    refdir = os.path.join(HERE, cfg["paths"]["reference"])
    os.makedirs(refdir, exist_ok=True)
    index = {"model": "models/digits.onnx", "input_name": "audio", "output_name": "log_probs",
             "input_shape": [1, 96000], "output_shape": [1, 150, 11], "dtype": "float32 little-endian, C order",
             "tolerance_max_abs": 1e-3, "produced_by": "onnxruntime 1.31.1 (equal to Keras within "
             f"{max(diffs[:2]):.1e})", "cases": []}
    for name, x, lab in (("digits_en_synthetic", ins[0], l_en[0]), ("digits_cmn_synthetic_noisy", ins[1], l_zh[0])):
        y = sess.run(None, {"audio": x[None]})[0]
        x[None].astype("<f4").tofile(os.path.join(refdir, f"{name}.input.f32"))
        y.astype("<f4").tofile(os.path.join(refdir, f"{name}.output.f32"))
        hyp, conf = greedy(y[0])
        index["cases"].append({"name": name, "input": f"{name}.input.f32", "output": f"{name}.output.f32",
                               "label_digits": "".join(map(str, lab)), "greedy_decoding": "".join(map(str, hyp)),
                               "confidences": [round(c, 4) for c in conf],
                               "note": "espeak-ng synthetic speech (not a real recording)"})
    with open(os.path.join(refdir, "reference.json"), "w") as fh:
        json.dump(index, fh, indent=1)
    info = {"onnx": "models/digits.onnx", "bytes": os.path.getsize(out),
            "opset": 17, "ops": ops, "dynamic_shape_tensors": dyn, "ort_vs_keras_max_abs_diff": diffs,
            "ort_ms_single_thread_median": round(1000 * float(np.median(ts)), 2),
            "reference_cases": [(c["name"], c["label_digits"], c["greedy_decoding"]) for c in index["cases"]]}
    print(json.dumps(info, indent=1))
    with open(os.path.join(HERE, cfg["paths"]["work"], "results_export.json"), "w") as fh:
        json.dump(info, fh, indent=1)


def stage_report(cfg):
    w = os.path.join(HERE, cfg["paths"]["work"])
    out = {"note": "All numbers produced by models/digits/train.sh; see README.md for how each set is built."}
    if oww(cfg):
        out["front_end"] = (
            "features.frontend = 'oww': frozen Google speech_embedding front end from the PyPI wheel "
            "openwakeword==0.4.0 (Apache-2.0; resources/models/melspectrogram.onnx + embedding_model.onnx, "
            "not trained, not shipped in models/digits.onnx): audio*32767 -> melspectrogram -> x/10+2 -> 76-frame "
            f"windows step 8 -> [{cfg['head']['T']},96] embeddings; models/digits.onnx is only the CTC head "
            f"[1,{cfg['head']['T']},96] -> [1,{cfg['head']['T']},11], one step per 80 ms. "
            "'previous_logmel_cnn' holds the numbers of the previous from-scratch log-mel CNN for comparison.")
    for fn in sorted(os.listdir(w)):
        if fn.startswith("results_") and fn.endswith(".json"):
            with open(os.path.join(w, fn)) as f:
                out[fn[len("results_"):-5]] = json.load(f)
    dst = os.path.join(HERE, cfg["paths"].get("results", "results.json"))
    with open(dst, "w") as f:
        json.dump(out, f, indent=1)
    print("wrote", os.path.relpath(dst, HERE))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("stage", choices=["eval", "ship", "export", "report"])
    ap.add_argument("--fold", default=None)
    ap.add_argument("--no-train", action="store_true", help="eval: re-score the saved model, no training")
    a = ap.parse_args()
    cfg = common.load_config()
    if os.environ.get("DIGITS_SMOKE"):
        cfg["train"].update(n_train_utts=640, epochs=1)
        cfg["paths"]["work"] = "work/smoke"
        cfg["paths"]["onnx_out"] = "work/smoke/digits.onnx"
        cfg["paths"]["reference"] = "work/smoke/reference"
        cfg["paths"]["results"] = "work/smoke/results.json"
    if os.environ.get("DIGITS_EXP"):  # experiments: DIGITS_EXP=name DIGITS_SET="train.epochs=3;..."
        exp = "work/exp_" + os.environ["DIGITS_EXP"]
        cfg["paths"].update(work=exp, onnx_out=exp + "/digits.onnx", reference=exp + "/reference",
                            results=exp + "/results.json")
        for kv in filter(None, os.environ.get("DIGITS_SET", "").split(";")):
            k, v = kv.split("=", 1)
            sec, key = k.strip().split(".")
            cfg[sec][key] = json.loads(v)
    os.makedirs(os.path.join(HERE, cfg["paths"]["work"]), exist_ok=True)
    if a.stage == "eval":
        stage_eval(cfg, a.fold or cfg["train"]["eval_fold_speaker"], a.no_train)
    elif a.stage == "ship":
        stage_ship(cfg)
    elif a.stage == "export":
        stage_export(cfg)
    else:
        stage_report(cfg)


if __name__ == "__main__":
    sys.exit(main())
