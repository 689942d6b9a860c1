#!/usr/bin/env python3
"""models/digits.onnx from work/ship.weights.npz (+ ORT check) and reference/ cases;
`export.py folds`: work/fold_K.onnx (K = 0..4, git-ignored) for `cargo xtask eval digits` leave-speakers-out.

Head I/O: input `encoder_out` [1, 300, 512] f32 (Whisper base encoder, 6 s window, 20 ms/frame)
          output `log_probs` [1, 150, 11] f32 (log-softmax; 40 ms/step; class 0 = blank, d+1 = digit d)
"""
import hashlib, json, os, sys
import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.abspath(os.path.join(HERE, "..", ".."))
sys.path.insert(0, HERE)
import train as T
import data as D
from whisper_mel import log_mel


def build_head(W):
    import onnx
    from onnx import helper as H, TensorProto, numpy_helper as NH
    inits, nodes = [], []

    def init(n, a):
        inits.append(NH.from_array(np.ascontiguousarray(np.asarray(a, np.float32)), n)); return n

    def conv(x, name, stride, pad, out):
        k = np.transpose(W[name + "_k"], (2, 1, 0))                    # keras [k,in,out] -> onnx [out,in,k]
        nodes.append(H.make_node("Conv", [x, init(name + ".w", k), init(name + ".b", W[name + "_b"])], [out],
                                 kernel_shape=[k.shape[2]], strides=[stride], pads=[pad, pad], name=name))
        return out
    nodes.append(H.make_node("Sub", ["encoder_out", init("mu", W["mu"])], ["xc"], name="sub_mu"))
    nodes.append(H.make_node("Mul", ["xc", init("inv_sd", W["inv_sd"])], ["xs"], name="mul_inv_sd"))
    nodes.append(H.make_node("Transpose", ["xs"], ["xt"], perm=[0, 2, 1], name="to_nct"))
    h = conv("xt", "in", 2, 0, "in_pre")
    nodes.append(H.make_node("Relu", [h], ["h0"], name="relu_in")); h = "h0"
    for i in range(T.CFG["blocks"]):
        y = conv(h, f"b{i}", 1, T.CFG["k"] // 2, f"b{i}_pre")
        nodes.append(H.make_node("Relu", [y], [f"b{i}_y"], name=f"relu_b{i}"))
        nodes.append(H.make_node("Add", [h, f"b{i}_y"], [f"h{i + 1}"], name=f"res_b{i}")); h = f"h{i + 1}"
    z = conv(h, "out", 1, 0, "logits_nct")
    nodes.append(H.make_node("Transpose", [z], ["logits"], perm=[0, 2, 1], name="to_ntc"))
    nodes.append(H.make_node("LogSoftmax", ["logits"], ["log_probs"], axis=-1, name="log_softmax"))
    g = H.make_graph(nodes, "digits_whisper_head",
                     [H.make_tensor_value_info("encoder_out", TensorProto.FLOAT, [1, 300, 512])],
                     [H.make_tensor_value_info("log_probs", TensorProto.FLOAT, [1, 150, 11])], inits)
    m = H.make_model(g, opset_imports=[H.make_opsetid("", 17)], producer_name="livecheck-whisper_digits",
                     producer_version="1", ir_version=8)
    onnx.checker.check_model(m)
    return m


def sha(p):
    return hashlib.sha256(open(p, "rb").read()).hexdigest()


def main():
    import onnxruntime as ort
    if sys.argv[1:] == ["folds"]:
        for k in range(len(T.FOLDS)):
            out = os.path.join(D.WORK, f"fold_{k}.onnx")
            open(out, "wb").write(build_head(T.load_w(os.path.join(D.WORK, f"fold_{k}.weights.npz"))).SerializeToString())
            print(out, sha(out))
        return
    W = T.load_w(os.environ.get("WD_WEIGHTS", os.path.join(D.WORK, "ship.weights.npz")))
    out = os.path.join(ROOT, "models", "digits.onnx")
    open(out, "wb").write(build_head(W).SerializeToString())
    so = ort.SessionOptions(); so.intra_op_num_threads = 1; so.inter_op_num_threads = 1
    head = ort.InferenceSession(out, so, providers=["CPUExecutionProvider"])
    enc = D.encoder_session()
    S = D.sources(); S.update(D.tts())
    ref = os.path.join(HERE, "reference"); os.makedirs(ref, exist_ok=True)
    cases = []
    for name, spk, digits in [("tts_en_4829", "tts_en_007", [4, 8, 2, 9]), ("tts_cmn_3619", "tts_cmn_011", [3, 6, 1, 9])]:
        rng = np.random.default_rng(D.seed_of("reference", name))
        x, info = D.make_seq(spk, S, digits, rng, False)
        pcm = np.round(np.clip(x, -1, 1) * 32767).astype(np.int16)
        xa = pcm.astype(np.float32) / 32768.0
        mel = log_mel(xa, D.N)
        e = enc.run(None, {"mel": mel[None]})[0]
        e16 = e.astype(np.float16)
        lp = head.run(None, {"encoder_out": e16.astype(np.float32)})[0]
        lp_np = T.forward_np(W, e16.astype(np.float32))
        np.save(os.path.join(ref, f"{name}.audio_i16.npy"), pcm[None])
        np.save(os.path.join(ref, f"{name}.mel.npy"), mel[None])
        np.save(os.path.join(ref, f"{name}.encoder_out_f16.npy"), e16)
        np.save(os.path.join(ref, f"{name}.log_probs.npy"), lp)
        nb = T.beam(lp[0])
        cases.append(dict(name=name, voice=spk, digits="".join(map(str, digits)), info=info,
                          greedy="".join(map(str, T.greedy(lp[0]))), beam="".join(map(str, nb[0][0])),
                          margin=T.margin(lp[0], tuple(digits), nb)[0],
                          head_ort_vs_numpy_max_abs=float(np.abs(lp - lp_np).max()),
                          encoder_f16_rounding_max_abs=float(np.abs(e - e16.astype(np.float32)).max())))
        print(cases[-1])
    meta = dict(
        chain="audio_i16 [1,96000] int16 -> x = pcm/32768 -> mel [1,80,600] (whisper_mel.log_mel) -> "
              "whisper_encoder_base_6s.onnx `mel` -> `encoder_out` [1,300,512] (stored rounded to f16) -> "
              "digits.onnx `encoder_out` (the f16 values as f32) -> `log_probs` [1,150,11]",
        tolerances=dict(mel=1e-4, encoder_out=0.03, log_probs=1e-3),
        head_sha256=sha(out), head_bytes=os.path.getsize(out), cases=cases)
    json.dump(meta, open(os.path.join(ref, "reference.json"), "w"), indent=1)
    print(out, sha(out), os.path.getsize(out))


if __name__ == "__main__":
    main()
