#!/usr/bin/env python3
"""Digit CTC head on frozen Whisper-base encoder outputs; leave-speakers-out folds; verification eval.

  python train.py fold K      # train without fold K's speakers, score fold K (work/fold_K.*)
  python train.py ship        # train on every speaker -> work/ship.weights.npz
  python train.py report      # thresholds from the other folds, results.json
"""
import glob, json, os, sys, time
import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.abspath(os.path.join(HERE, "..", ".."))
WORK = os.path.join(HERE, "work")
FD = os.path.join(WORK, "feats")
SEED = 1234
FILL = os.environ.get("WD_FILL", "1") == "1"   # add digit+filler-word sequences (data.py extract_fill); WD_FILL=0: without
SUFFIX = "" if FILL else "_nofill"
CFG = dict(ch=128, k=5, blocks=2, epochs=14, batch=32, lr=2e-3, in_drop=0.1, tmask=2, tmask_w=10, cmn_rep=2)

# folds: every real speaker is in exactly one fold (folds.tsv, shared with the Rust evaluation);
# TTS voices are always training data
FOLDS = [line.split("\t")[1].strip().split(",") for line in open(os.path.join(HERE, "folds.tsv"))
         if line.strip() and not line.startswith("#")]


# real Mandarin voices (upweighted ×cmn_rep in training; language "cmn" in the report)
CMN = ("cmn_", "gcompris_zh", "tuxpaint_zh", "yanyu_zh", "gcin_zh")


def load_set(which, speakers=None, exclude=()):
    F, L, spk = [], [], []
    for p in sorted(glob.glob(os.path.join(FD, f"*.{which}.npz"))):
        s = os.path.basename(p)[:-len(f".{which}.npz")]
        if (speakers is not None and s not in speakers) or s in exclude:
            continue
        z = np.load(p)
        F.append(z["feats"]); L.append(z["labels"]); spk += [s] * len(z["labels"])
    return np.concatenate(F), np.concatenate(L), np.array(spk)


# ------------------------------------------------------------------ model (numpy forward = ONNX graph)
def forward_np(W, x):
    """x [B, 300, 512] -> log_probs [B, 150, 11]; same math as the Keras model and the ONNX head."""
    x = (x.astype(np.float32) - W["mu"]) * W["inv_sd"]
    B, T, D = x.shape
    h = x.reshape(B, T // 2, 2 * D) @ W["in_k"].reshape(2 * D, -1) + W["in_b"]
    h = np.maximum(h, 0)
    for i in range(CFG["blocks"]):
        k = W[f"b{i}_k"]; K = k.shape[0]; p = K // 2
        hp = np.pad(h, ((0, 0), (p, p), (0, 0)))
        y = sum(hp[:, j:j + h.shape[1]] @ k[j] for j in range(K)) + W[f"b{i}_b"]
        h = h + np.maximum(y, 0)
    z = h @ W["out_k"][0] + W["out_b"]
    z = z - z.max(-1, keepdims=True)
    return z - np.log(np.exp(z).sum(-1, keepdims=True))


def build_keras(mu, inv_sd):
    import tensorflow as tf
    from tensorflow import keras
    inp = keras.Input((300, 512))
    x = (inp - mu) * inv_sd
    x = keras.layers.Dropout(CFG["in_drop"])(x)
    h = keras.layers.Conv1D(CFG["ch"], 2, strides=2, activation="relu", name="in")(x)
    for i in range(CFG["blocks"]):
        y = keras.layers.Conv1D(CFG["ch"], CFG["k"], padding="same", activation="relu", name=f"b{i}")(h)
        h = h + y
    h = keras.layers.Dropout(0.1)(h)
    out = keras.layers.Conv1D(11, 1, name="out")(h)
    return keras.Model(inp, out)


def weights_of(model, mu, inv_sd):
    W = dict(mu=mu.astype(np.float32), inv_sd=inv_sd.astype(np.float32))
    for name in ["in"] + [f"b{i}" for i in range(CFG["blocks"])] + ["out"]:
        k, b = model.get_layer(name).get_weights()
        W[name + "_k"], W[name + "_b"] = k, b
    return W


def train(Ftr, Ltr, spk_tr, tag, mon=None):
    """CTC sometimes stays in the all-blank plateau for the whole run (one fold did: loss ~7 after 14
    epochs), or leaves it so late that the decaying learning rate leaves the head under-trained (the
    shipped head of 2026-12-04's first run: out of the plateau at epoch 7, loss 1.22 at the end, where
    every fold ended at 0.12-0.47). Rules, on the training loss only: if the loss is still > 5 after
    epoch 7, or above 1.0 after the last epoch, restart with the next seed (at most ATTEMPTS - 1
    restarts). The last attempt is never cut short and is kept whatever its loss (until 2026-12-05
    it was cut short too, and a fold stuck three times crashed with no weights to save)."""
    for attempt in range(ATTEMPTS):
        last = attempt == ATTEMPTS - 1
        W, log, ok = _train(Ftr, Ltr, spk_tr, tag, mon, SEED + 1000 * attempt, give_up=not last)
        under_trained = ok and log[-1]["loss"] > 1.0 and not last
        if ok and not under_trained:
            break
        print(tag, f"stuck in the blank plateau or under-trained (attempt {attempt}), restarting with another seed", flush=True)
    for e in log:
        e["attempt"] = attempt
    return W, log


ATTEMPTS = 5


def _train(Ftr, Ltr, spk_tr, tag, mon, seed, give_up=True):
    import tensorflow as tf
    tf.keras.backend.clear_session()
    tf.random.set_seed(seed); tf.config.threading.set_intra_op_parallelism_threads(1)
    tf.config.threading.set_inter_op_parallelism_threads(1)
    rng = np.random.default_rng(seed)
    idx = np.arange(len(Ltr))
    cmn = np.array([s.startswith(CMN) for s in spk_tr])
    idx = np.concatenate([idx] + [idx[cmn]] * (CFG["cmn_rep"] - 1))
    sub = Ftr[rng.choice(len(Ftr), min(500, len(Ftr)), replace=False)].astype(np.float32)
    mu = sub.mean((0, 1)); inv_sd = 1.0 / (sub.std((0, 1)) + 1e-3)
    model = build_keras(mu, inv_sd)
    steps = CFG["epochs"] * (len(idx) // CFG["batch"])
    sched = tf.keras.optimizers.schedules.CosineDecay(CFG["lr"], steps, alpha=0.02)
    opt = tf.keras.optimizers.Adam(sched)

    @tf.function
    def step(x, y):
        with tf.GradientTape() as tape:
            logits = model(x, training=True)
            ylen = tf.reduce_sum(tf.cast(y > 0, tf.int32), axis=1)
            loss = tf.reduce_mean(tf.nn.ctc_loss(y, logits, ylen, tf.fill([tf.shape(y)[0]], 150),
                                                 logits_time_major=False, blank_index=0))
        g = tape.gradient(loss, model.trainable_variables)
        opt.apply_gradients(zip(g, model.trainable_variables))
        return loss

    log = []
    for ep in range(CFG["epochs"]):
        t0 = time.time(); rng.shuffle(idx); tot = 0.0; nb = 0
        for b in range(len(idx) // CFG["batch"]):
            j = np.sort(idx[b * CFG["batch"]:(b + 1) * CFG["batch"]])
            x = Ftr[j].astype(np.float32)
            for i in range(len(x)):
                for _ in range(CFG["tmask"]):
                    w = rng.integers(0, CFG["tmask_w"] + 1); a = rng.integers(0, 300 - w)
                    x[i, a:a + w] = mu
            tot += float(step(tf.constant(x), tf.constant(Ltr[j].astype(np.int32)))); nb += 1
        e = dict(epoch=ep + 1, loss=tot / nb, s=round(time.time() - t0))
        if mon is not None:
            W = weights_of(model, mu, inv_sd)
            lp = forward_np(W, mon[0][:200])
            e["mon_greedy_seq_acc"] = float(np.mean([greedy(l) == list(y - 1) for l, y in zip(lp, mon[1][:200])]))
        print(tag, e, flush=True); log.append(e)
        if give_up and ep + 1 == 7 and e["loss"] > 5.0:
            return None, log, False
    return weights_of(model, mu, inv_sd), log, True


# ------------------------------------------------------------------ decoding / scoring
def greedy(lp):
    a = lp.argmax(-1); out = []; prev = 0
    for c in a:
        if c != prev and c != 0:
            out.append(int(c) - 1)
        prev = c
    return out


def beam(lp, width=8, prune=-9.0):
    """CTC prefix beam search; returns [(digits tuple, log p)] best first."""
    NEG = -1e30
    beams = {(): (0.0, NEG)}   # prefix -> (log p ending blank, log p ending non-blank)
    for t in range(lp.shape[0]):
        row = lp[t]; cand = [c for c in range(1, 11) if row[c] > prune]
        nb = {}
        def add(k, pb, pnb):
            ob, onb = nb.get(k, (NEG, NEG)); nb[k] = (np.logaddexp(ob, pb), np.logaddexp(onb, pnb))
        for pre, (pb, pnb) in beams.items():
            ptot = np.logaddexp(pb, pnb)
            add(pre, ptot + row[0], NEG)
            for c in cand:
                d = c - 1
                if pre and pre[-1] == d:
                    add(pre, NEG, pnb + row[c])          # repeat collapses
                    add(pre + (d,), NEG, pb + row[c])     # needs a blank between
                else:
                    add(pre + (d,), NEG, ptot + row[c])
        beams = dict(sorted(nb.items(), key=lambda kv: -np.logaddexp(*kv[1]))[:width])
    return [(k, float(np.logaddexp(*v))) for k, v in sorted(beams.items(), key=lambda kv: -np.logaddexp(*kv[1]))]


def ctc_ll(lp, seqs):
    """log P(seq | lp) for a list of digit sequences (CTC forward, all in one vectorised pass per length)."""
    out = np.zeros(len(seqs))
    by_len = {}
    for i, s in enumerate(seqs):
        by_len.setdefault(len(s), []).append(i)
    T = lp.shape[0]
    for n, ids in by_len.items():
        if n == 0:
            out[ids] = lp[:, 0].sum(); continue
        lab = np.array([[0] + [x for d in seqs[i] for x in (d + 1, 0)] for i in ids])   # [H, 2n+1]
        H, S = lab.shape
        allow2 = np.zeros((H, S), bool)
        allow2[:, 2:] = (lab[:, 2:] != 0) & (lab[:, 2:] != lab[:, :-2])
        a = np.full((H, S), -np.inf); a[:, 0] = lp[0, 0]; a[:, 1] = lp[0, lab[:, 1]]
        for t in range(1, T):
            s1 = np.concatenate([np.full((H, 1), -np.inf), a[:, :-1]], 1)
            s2 = np.concatenate([np.full((H, 2), -np.inf), a[:, :-2]], 1)
            s2 = np.where(allow2, s2, -np.inf)
            m = np.maximum(np.maximum(a, s1), s2)
            mm = np.where(np.isfinite(m), m, 0)
            a = mm + np.log(np.exp(a - mm) + np.exp(s1 - mm) + np.exp(s2 - mm) + 1e-300) + lp[t][lab]
        out[ids] = np.logaddexp(a[:, -1], a[:, -2])
    return out


def competitors(c):
    c = tuple(c); out = set()
    for i in range(len(c)):
        for d in range(10):
            if d != c[i]:
                out.add(c[:i] + (d,) + c[i + 1:])
        out.add(c[:i] + c[i + 1:])                                   # deletion
    for i in range(len(c)):
        for j in range(i + 1, len(c)):
            if c[i] != c[j]:
                l = list(c); l[i], l[j] = l[j], l[i]; out.add(tuple(l))
    out.discard(c)
    return out


def margin(lp, c, nbest):
    comp = competitors(c) | {h for h, _ in nbest[:4]}
    comp.discard(tuple(c)); comp = sorted(comp)
    ll = ctc_ll(lp, [tuple(c)] + comp)
    j = int(np.argmax(ll[1:]))
    return float(ll[0] - ll[1 + j]), float(ll[0]), "".join(map(str, comp[j]))


def score_items(lp_all, labels, spk, rng):
    rows = []
    for lp, y, s in zip(lp_all, labels, spk):
        c = tuple(int(v) - 1 for v in y)
        nb = beam(lp)
        off = list(c); i = rng.integers(4); off[i] = int((off[i] + rng.integers(1, 10)) % 10); off = tuple(off)
        while True:
            unr = tuple(int(v) for v in rng.integers(0, 10, 4))
            if sum(a != b for a, b in zip(unr, c)) >= 3:
                break
        m_true, ll_true, comp_true = margin(lp, c, nb)
        m_off, _, _ = margin(lp, off, nb)
        m_unr, _, _ = margin(lp, unr, nb)
        rows.append(dict(spk=s, ref="".join(map(str, c)), greedy="".join(map(str, greedy(lp))),
                         beam="".join(map(str, nb[0][0])), m_true=m_true, m_off=m_off, m_unr=m_unr,
                         off="".join(map(str, off)), unr="".join(map(str, unr)), best_comp=comp_true, ll_true=ll_true))
    return rows


def grid_rows(W):
    z = np.load(os.path.join(FD, "grid.npz"))
    lp = forward_np(W, z["feats"])
    out = []
    for l, clip, d in zip(lp, z["clips"], z["digit"]):
        nb = beam(l)
        lls = ctc_ll(l, [(k,) for k in range(10)])
        out.append(dict(clip=str(clip), digit=int(d), greedy="".join(map(str, greedy(l))),
                        beam="".join(map(str, nb[0][0])), best_single=int(np.argmax(lls)),
                        m_digit=float(lls[d] - np.max(np.delete(lls, d)))))
    return out


def save_w(W, path):
    np.savez(path, **W)


def load_w(path):
    z = np.load(path); return {k: z[k] for k in z.files}


def run_fold(k):
    test = set(FOLDS[k])
    Ftr, Ltr, Str = load_set("train", exclude=test)
    if FILL:
        a, b, c = load_set("fill", exclude=test)
        Ftr, Ltr, Str = np.concatenate([Ftr, a]), np.concatenate([Ltr, b]), np.concatenate([Str, c])
    Fev, Lev, Sev = load_set("eval", speakers=test)
    print(f"fold {k}: train {len(Ltr)} items, {len(set(Str))} speakers; eval {len(Lev)} items", flush=True)
    W, log = train(Ftr, Ltr, Str, f"fold{k}", mon=(Fev, Lev))
    save_w(W, os.path.join(WORK, f"fold_{k}{SUFFIX}.weights.npz"))
    lp = forward_np(W, Fev)
    rows = score_items(lp, Lev, Sev, np.random.default_rng(SEED + k))
    # the same model on its own training speakers (seen): their clean eval challenges
    Fs, Ls, Ss = load_set("eval", exclude=test)
    sel = np.random.default_rng(k).choice(len(Ls), min(200, len(Ls)), replace=False)
    seen = score_items(forward_np(W, Fs[sel]), Ls[sel], Ss[sel], np.random.default_rng(SEED + 100 + k))
    json.dump(dict(fold=k, test=sorted(test), cfg=CFG, log=log, rows=rows, seen_rows=seen, grid=grid_rows(W)),
              open(os.path.join(WORK, f"fold_{k}{SUFFIX}.json"), "w"), indent=0)


# Real voices whose recordings are GPL-licensed (GCompris, FreeSWITCH, Debian saytime, Tux Paint, gcin's Liu: GPL-3
# or LGPL-3): the shipped head is trained without them unless WD_SHIP_GPL=1, so its weights owe nothing to GPL audio
# (the folds use them).
GPL_VOICES = ("gcompris_en_julia", "gcompris_en_susan", "freeswitch_en_gb_richard", "debian_dawson",
              "gcompris_zh_fengjie", "tuxpaint_zh_tw", "gcin_zh_tw_liu")
SHIP_EXCLUDE = () if os.environ.get("WD_SHIP_GPL") == "1" else GPL_VOICES


def run_ship():
    Ftr, Ltr, Str = load_set("train", exclude=SHIP_EXCLUDE)
    if FILL:
        a, b, c = load_set("fill", exclude=SHIP_EXCLUDE)
        Ftr, Ltr, Str = np.concatenate([Ftr, a]), np.concatenate([Ltr, b]), np.concatenate([Str, c])
    W, log = train(Ftr, Ltr, Str, "ship" + SUFFIX)
    save_w(W, os.path.join(WORK, f"ship{SUFFIX}.weights.npz"))
    json.dump(dict(cfg=CFG, fill=FILL, excluded=list(SHIP_EXCLUDE), log=log, grid=grid_rows(W)), open(os.path.join(WORK, f"ship{SUFFIX}.json"), "w"), indent=0)


if __name__ == "__main__":
    if sys.argv[1] == "fold":
        run_fold(int(sys.argv[2]))
    elif sys.argv[1] == "ship":
        run_ship()


# ------------------------------------------------------------------ report
FAR_TARGET = 0.005


def summarize(rows, theta):
    n = len(rows)
    if n == 0:
        return {}
    f = lambda key: float(np.mean([r[key] > theta for r in rows]))
    return dict(n=n, true_accept=f("m_true"), one_off_accept=f("m_off"), unrelated_accept=f("m_unr"),
                seq_acc_greedy=float(np.mean([r["greedy"] == r["ref"] for r in rows])),
                seq_acc_beam=float(np.mean([r["beam"] == r["ref"] for r in rows])))


def lang_of(s):
    return "cmn" if s.startswith(CMN) else "en"


def group_of(s):
    if s.startswith(CMN):
        return "cmn"
    if s.startswith("fsdd_"):
        return "fsdd"
    if s.startswith("sc_"):
        return "speech_commands"
    return "single_take"


def report(out_json):
    folds = [json.load(open(os.path.join(WORK, f"fold_{k}{SUFFIX}.json"))) for k in range(len(FOLDS))
             if os.path.exists(os.path.join(WORK, f"fold_{k}{SUFFIX}.json"))]
    res = dict(cfg=CFG, far_target_one_off=FAR_TARGET, folds={}, per_speaker={}, per_language={}, per_group={},
               seen={}, grid={})
    allrows = []
    for f in folds:
        others = [r["m_off"] for g in folds if g["fold"] != f["fold"] for r in g["rows"]]
        theta = max(0.0, float(np.quantile(others, 1 - FAR_TARGET))) if others else 0.0
        for r in f["rows"]:
            r["theta"] = theta
        for r in f["seen_rows"]:
            r["theta"] = theta
        allrows += f["rows"]
        res["folds"][f["fold"]] = dict(test=f["test"], theta=theta, train_log=f["log"][-1],
                                       grid_greedy=sum(g["greedy"] == str(g["digit"]) for g in f["grid"]),
                                       grid_beam=sum(g["beam"] == str(g["digit"]) for g in f["grid"]),
                                       grid_best_single=sum(g["best_single"] == g["digit"] for g in f["grid"]),
                                       grid=f["grid"])

    def summ(rows, fixed0=False):
        n = len(rows)
        acc = lambda key: float(np.mean([r[key] > (0.0 if fixed0 else r["theta"]) for r in rows]))
        return dict(n=n, true_accept=acc("m_true"), one_off_accept=acc("m_off"), unrelated_accept=acc("m_unr"),
                    seq_acc_greedy=float(np.mean([r["greedy"] == r["ref"] for r in rows])),
                    seq_acc_beam=float(np.mean([r["beam"] == r["ref"] for r in rows])))
    for s in sorted({r["spk"] for r in allrows}):
        res["per_speaker"][s] = summ([r for r in allrows if r["spk"] == s])
    for l in ("en", "cmn"):
        rr = [r for r in allrows if lang_of(r["spk"]) == l]
        res["per_language"][l] = dict(calibrated=summ(rr), theta_zero=summ(rr, True))
    for g in ("fsdd", "speech_commands", "single_take", "cmn"):
        res["per_group"][g] = summ([r for r in allrows if group_of(r["spk"]) == g])
    seen = [r for f in folds for r in f["seen_rows"]]
    for l in ("en", "cmn"):
        res["seen"][l] = summ([r for r in seen if lang_of(r["spk"]) == l])
    res["errors_sample"] = [dict(spk=r["spk"], ref=r["ref"], beam=r["beam"], m_true=round(r["m_true"], 2),
                                 best_comp=r["best_comp"]) for r in allrows if r["m_true"] <= r["theta"]][:60]
    if os.path.exists(os.path.join(WORK, f"ship{SUFFIX}.json")):
        g = json.load(open(os.path.join(WORK, f"ship{SUFFIX}.json")))["grid"]
        res["grid"]["ship"] = dict(greedy=sum(x["greedy"] == str(x["digit"]) for x in g),
                                   beam=sum(x["beam"] == str(x["digit"]) for x in g),
                                   best_single=sum(x["best_single"] == x["digit"] for x in g), clips=g)
    json.dump(res, open(out_json, "w"), indent=1)
    print(json.dumps({k: res[k] for k in ("per_language", "per_group", "seen")}, indent=1))
    for s, v in res["per_speaker"].items():
        print(f"{s:28s} n={v['n']:3d} TA={v['true_accept']:.3f} off={v['one_off_accept']:.3f} "
              f"unr={v['unrelated_accept']:.3f} greedy={v['seq_acc_greedy']:.3f} beam={v['seq_acc_beam']:.3f}")
    for k, v in res["folds"].items():
        print("fold", k, "theta", round(v["theta"], 2), "GRID greedy/beam/best1", v["grid_greedy"], v["grid_beam"], v["grid_best_single"])


if __name__ == "__main__" and sys.argv[1] == "report":
    report(os.path.join(HERE if FILL else WORK, f"results{SUFFIX}.json"))


def table_md(res_path, out):
    r = json.load(open(res_path))
    L = ["| speaker (held out) | lang | n | challenge accepted | one digit off accepted | unrelated accepted | seq acc greedy | seq acc beam |",
         "|---|---|---|---|---|---|---|---|"]
    for s, v in r["per_speaker"].items():
        L.append(f"| {s} | {lang_of(s)} | {v['n']} | {v['true_accept']:.3f} | {v['one_off_accept']:.3f} | "
                 f"{v['unrelated_accept']:.3f} | {v['seq_acc_greedy']:.3f} | {v['seq_acc_beam']:.3f} |")
    L += ["", "| pooled | n | challenge accepted | one digit off accepted | unrelated accepted | seq acc greedy | seq acc beam |",
          "|---|---|---|---|---|---|---|"]
    rows = [(f"LOSO {l} (calibrated θ)", r["per_language"][l]["calibrated"]) for l in ("en", "cmn")]
    rows += [(f"LOSO {l} (θ = 0)", r["per_language"][l]["theta_zero"]) for l in ("en", "cmn")]
    rows += [(f"LOSO group {g}", v) for g, v in r["per_group"].items()]
    rows += [(f"SEEN speakers {l} (fold models on their own training voices)", r["seen"][l]) for l in ("en", "cmn")]
    for name, v in rows:
        L.append(f"| {name} | {v['n']} | {v['true_accept']:.3f} | {v['one_off_accept']:.3f} | {v['unrelated_accept']:.3f} | "
                 f"{v['seq_acc_greedy']:.3f} | {v['seq_acc_beam']:.3f} |")
    L += ["", "| fold | held out | θ | GRID greedy exact | GRID beam exact | GRID best single digit |", "|---|---|---|---|---|---|"]
    for k, v in r["folds"].items():
        L.append(f"| {k} | {', '.join(v['test'])} | {v['theta']:.2f} | {v['grid_greedy']}/6 | {v['grid_beam']}/6 | {v['grid_best_single']}/6 |")
    if "ship" in r["grid"]:
        g = r["grid"]["ship"]
        L.append(f"| ship | – | – | {g['greedy']}/6 | {g['beam']}/6 | {g['best_single']}/6 |")
    open(out, "w").write("\n".join(L) + "\n")


if __name__ == "__main__" and sys.argv[1] == "table":
    table_md(sys.argv[2], sys.argv[3])
