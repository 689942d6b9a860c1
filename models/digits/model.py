"""Feature front end (numpy + Keras), the conv-only CTC network, BN folding and ONNX export.

The ONNX graph is written directly with onnx.helper from the trained (BN-folded) weights, so
that the op set is exactly: Reshape, Pad, Conv, Mul, ReduceMean, Add, Log, Sub, Relu, Transpose,
LogSoftmax (opset 17, all shapes static). Layout inside the graph is NCW.
"""
import numpy as np

# ----------------------------------------------------------------------------- front end


def vtlp_warp(freqs, alpha, fmax, f_hi=3400.0):
    """Piecewise-linear VTLP frequency warp (Jaitly & Hinton 2013): f -> alpha*f below a knee,
    then a straight line to (fmax, fmax), so [0, fmax] maps onto itself."""
    knee = f_hi * min(alpha, 1.0) / alpha
    return np.where(freqs <= knee, alpha * freqs,
                    fmax - (fmax - alpha * knee) / (fmax - knee) * (fmax - freqs))


def mel_filterbank(f, alpha=1.0):
    """Triangular HTK-mel filters over DFT bins bin_lo..bin_hi (bin k = k*sr/frame_len Hz).
    alpha != 1: the bins' frequencies are VTLP-warped first (training augmentation only)."""
    sr, n = f["sample_rate"], f["frame_len"]
    freqs = np.arange(f["bin_lo"], f["bin_hi"] + 1) * sr / n
    if alpha != 1.0:
        freqs = vtlp_warp(freqs, alpha, f["fmax"])

    def hz2mel(h):
        return 2595.0 * np.log10(1.0 + h / 700.0)

    def mel2hz(m):
        return 700.0 * (10 ** (m / 2595.0) - 1.0)

    pts = mel2hz(np.linspace(hz2mel(f["fmin"]), hz2mel(f["fmax"]), f["n_mels"] + 2))
    fb = np.zeros((len(freqs), f["n_mels"]), np.float64)
    for m in range(f["n_mels"]):
        lo, c, hi = pts[m], pts[m + 1], pts[m + 2]
        up = (freqs - lo) / (c - lo)
        down = (hi - freqs) / (hi - c)
        fb[:, m] = np.maximum(0.0, np.minimum(up, down))
    assert (fb.sum(axis=0) > 0).all(), "empty mel filter"
    return fb.astype(np.float32)


def lifter_matrix(f):
    """[n_mels, n_mels] projection onto the first `lifter` orthonormal DCT-II basis vectors of the
    log-mel axis (cepstral smoothing: keeps the spectral envelope, drops pitch harmonics); None if off."""
    k, n = f.get("lifter", 0), f["n_mels"]
    if not k or k >= n:
        return None
    i = np.arange(n)
    D = np.cos(np.pi * np.outer(np.arange(k), i + 0.5) / n) * np.sqrt(2.0 / n)
    D[0] /= np.sqrt(2.0)
    return (D.T @ D).astype(np.float32)  # symmetric


def dft_kernels(f):
    """[frame_len, 2*nbins]: periodic-Hann-windowed cos (real) then sin (imag) kernels."""
    n = f["frame_len"]
    t = np.arange(n)
    win = 0.5 - 0.5 * np.cos(2 * np.pi * t / n)
    ks = np.arange(f["bin_lo"], f["bin_hi"] + 1)
    ang = 2 * np.pi * np.outer(t, ks) / n
    return np.concatenate([win[:, None] * np.cos(ang), -win[:, None] * np.sin(ang)], axis=1).astype(np.float32)


class FrontEnd:
    """numpy reference of the in-graph feature extraction (used to cache training features)."""

    def __init__(self, f):
        self.f = f
        self.W = dft_kernels(f)
        fb = mel_filterbank(f)
        self.M2 = np.concatenate([fb, fb], axis=0)  # power = re^2 + im^2 folded into the mel matmul
        self._warped = {}
        self.S = lifter_matrix(f)

    def m2(self, alpha):
        """Power-to-mel matrix for VTLP factor alpha (cached per alpha rounded to 0.01)."""
        a = round(float(alpha), 2)
        if a == 1.0:
            return self.M2
        if a not in self._warped:
            fb = mel_filterbank(self.f, a)
            self._warped[a] = np.concatenate([fb, fb], axis=0)
        return self._warped[a]

    def __call__(self, x, warps=None):
        """x: [B, 96000] float32 -> [B, 600, n_mels] float32; warps: optional VTLP factor per row."""
        f = self.f
        x = np.asarray(x, np.float32)
        x = np.pad(x, ((0, 0), (0, f["pad_end"])))
        fr = np.lib.stride_tricks.sliding_window_view(x, f["frame_len"], axis=1)[:, :: f["hop"]]
        assert fr.shape[1] == f["n_frames"], fr.shape
        spec = fr @ self.W
        if warps is None:
            mel = (spec * spec) @ self.M2
        else:
            mel = np.stack([(s * s) @ self.m2(a) for s, a in zip(spec, warps)])
        M = mel.mean(axis=(1, 2), keepdims=True)
        out = (np.log(mel + f["rel_floor"] * M + f["abs_floor"]) - np.log(M + f["abs_floor"])).astype(np.float32)
        if self.S is not None:
            out = out @ self.S
        return out


# ----------------------------------------------------------------------------- Keras network


def build_keras(cfg, mu, var, with_frontend=False, training_graph=True):
    import keras
    from keras import layers

    f, m = cfg["features"], cfg["model"]
    k = m["dw_kernel"]
    if with_frontend:
        inp = keras.Input((f["window_samples"],), name="audio")
        x = KerasFrontEnd(f, name="frontend")(inp)
    else:
        inp = keras.Input((f["n_frames"], f["n_mels"]), name="feats")
        x = inp
    x = layers.Normalization(axis=-1, mean=mu, variance=var, name="norm")(x)
    x = layers.ZeroPadding1D((2, 2))(x)
    x = layers.Conv1D(m["conv1_channels"], 5, strides=2, use_bias=False, name="c1")(x)
    x = layers.BatchNormalization(name="c1_bn")(x)
    x = layers.ReLU()(x)
    x = layers.ZeroPadding1D((k // 2, k // 2))(x)
    x = layers.DepthwiseConv1D(k, strides=2, use_bias=False, name="c2_dw")(x)
    x = layers.BatchNormalization(name="c2_dw_bn")(x)
    x = layers.Conv1D(m["channels"], 1, use_bias=False, name="c2_pw")(x)
    x = layers.BatchNormalization(name="c2_pw_bn")(x)
    x = layers.ReLU()(x)
    for i, d in enumerate(m["dilations"]):
        r = x
        y = layers.ZeroPadding1D((d * (k // 2), d * (k // 2)))(x)
        y = layers.DepthwiseConv1D(k, dilation_rate=d, use_bias=False, name=f"b{i}_dw")(y)
        y = layers.BatchNormalization(name=f"b{i}_dw_bn")(y)
        y = layers.ReLU()(y)
        y = layers.Conv1D(m["channels"], 1, use_bias=False, name=f"b{i}_pw")(y)
        y = layers.BatchNormalization(name=f"b{i}_pw_bn")(y)
        x = layers.ReLU()(layers.Add()([r, y]))
    if training_graph:
        x = layers.Dropout(m["dropout"])(x)
    x = layers.Conv1D(m["n_classes"], 1, name="out")(x)
    if with_frontend:
        x = layers.Activation("log_softmax", name="log_probs")(x)
    return keras.Model(inp, x)


def _keras_frontend_cls():
    import keras
    from keras import ops

    class KerasFrontEnd(keras.layers.Layer):
        def __init__(self, f, **kw):
            super().__init__(**kw)
            self.f = dict(f)
            self.W = dft_kernels(f)[:, None, :]  # [400, 1, 200]
            fb = mel_filterbank(f)
            self.M2 = np.concatenate([fb, fb], axis=0)

        def call(self, x):
            f = self.f
            x = ops.pad(x, [[0, 0], [0, f["pad_end"]]])[:, :, None]
            s = ops.conv(x, ops.convert_to_tensor(self.W), strides=f["hop"], padding="valid")
            mel = ops.matmul(s * s, ops.convert_to_tensor(self.M2))
            M = ops.mean(mel, axis=(1, 2), keepdims=True)
            out = ops.log(mel + f["rel_floor"] * M + f["abs_floor"]) - ops.log(M + f["abs_floor"])
            S = lifter_matrix(f)
            return out if S is None else ops.matmul(out, ops.convert_to_tensor(S))

        def get_config(self):
            return {**super().get_config(), "f": self.f}

    return KerasFrontEnd


class _Lazy:
    def __call__(self, *a, **kw):
        return _keras_frontend_cls()(*a, **kw)


KerasFrontEnd = _Lazy()


# ----------------------------------------------------------------------------- folding + ONNX


def _bn(model, name):
    l = model.get_layer(name)
    g, b, mean, var = [np.asarray(w, np.float64) for w in l.get_weights()]
    s = g / np.sqrt(var + l.epsilon)
    return s, b - mean * s


def folded_weights(model, cfg):
    """BN-folded weights in ONNX Conv layout [out, in/group, k] + bias."""
    m = cfg["model"]
    W = {}
    norm = model.get_layer("norm")
    W["mu"] = np.asarray(norm.mean, np.float64).reshape(-1)
    W["inv_sd"] = 1.0 / np.maximum(np.sqrt(np.asarray(norm.variance, np.float64).reshape(-1)), 1e-7)

    def conv(name, bn):
        k = np.asarray(model.get_layer(name).get_weights()[0], np.float64)  # [k, in, out]
        s, b = _bn(model, bn)
        return np.transpose(k, (2, 1, 0)) * s[:, None, None], b

    def dw(name, bn):
        k = np.asarray(model.get_layer(name).get_weights()[0], np.float64)  # [k, C, 1]
        s, b = _bn(model, bn)
        return np.transpose(k[:, :, 0], (1, 0))[:, None, :] * s[:, None, None], b

    W["c1"] = conv("c1", "c1_bn")
    W["c2_dw"] = dw("c2_dw", "c2_dw_bn")
    W["c2_pw"] = conv("c2_pw", "c2_pw_bn")
    for i in range(len(m["dilations"])):
        W[f"b{i}_dw"] = dw(f"b{i}_dw", f"b{i}_dw_bn")
        W[f"b{i}_pw"] = conv(f"b{i}_pw", f"b{i}_pw_bn")
    k, b = model.get_layer("out").get_weights()
    W["out"] = (np.transpose(np.asarray(k, np.float64), (2, 1, 0)), np.asarray(b, np.float64))
    return W


def export_onnx(model, cfg, out_path, doc=""):
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    f, m = cfg["features"], cfg["model"]
    k = m["dw_kernel"]
    W = folded_weights(model, cfg)
    inits, nodes = [], []

    def const(name, arr, dtype=np.float32):
        inits.append(numpy_helper.from_array(np.asarray(arr, dtype), name))
        return name

    def node(op, ins, out, **attrs):
        nodes.append(helper.make_node(op, ins, [out], name=out, **attrs))
        return out

    def conv(x, name, w, b, stride=1, dil=1, pad=0, group=1):
        return node("Conv", [x, const(name + "_w", w), const(name + "_b", b)], name, strides=[stride],
                    dilations=[dil], pads=[pad, pad], group=group, kernel_shape=[w.shape[2]])

    n_t = f["n_frames"] // 4
    x = node("Reshape", ["audio", const("shape_1_1_n", [1, 1, f["window_samples"]], np.int64)], "audio_ncw")
    x = node("Pad", [x, const("pads_end", [0, 0, 0, 0, 0, f["pad_end"]], np.int64)], "audio_padded")
    dft = dft_kernels(f).T[:, None, :]  # [200, 1, 400]
    x = node("Conv", [x, const("dft_w", dft)], "spec", strides=[f["hop"]], kernel_shape=[f["frame_len"]])
    x = node("Mul", [x, x], "spec_sq")
    fb = mel_filterbank(f)
    M2 = np.concatenate([fb, fb], axis=0).T[:, :, None]  # [40, 200, 1]
    mel = node("Conv", [x, const("mel_w", M2)], "mel", kernel_shape=[1])
    Mm = node("ReduceMean", [mel], "mel_mean", axes=[1, 2], keepdims=1)
    a = node("Mul", [Mm, const("rel_floor", f["rel_floor"])], "mel_floor")
    a = node("Add", [mel, a], "mel_plus_floor")
    a = node("Add", [a, const("abs_floor", f["abs_floor"])], "mel_plus_floor2")
    a = node("Log", [a], "log_mel")
    bM = node("Add", [Mm, "abs_floor"], "mel_mean_floor")
    bM = node("Log", [bM], "log_mel_mean")
    x = node("Sub", [a, bM], "feats")
    S = lifter_matrix(f)
    if S is not None:  # cepstral smoothing: 1x1 Conv with the symmetric projection matrix
        x = node("Conv", [x, const("lifter_w", S.T[:, :, None])], "feats_smooth", kernel_shape=[1])
    x = node("Sub", [x, const("feat_mu", W["mu"].reshape(1, -1, 1))], "feats_centred")
    x = node("Mul", [x, const("feat_inv_sd", W["inv_sd"].reshape(1, -1, 1))], "feats_norm")
    x = node("Relu", [conv(x, "c1", *W["c1"], stride=2, pad=2)], "c1_relu")
    C = m["channels"]
    x = conv(x, "c2_dw", *W["c2_dw"], stride=2, pad=k // 2, group=m["conv1_channels"])
    x = node("Relu", [conv(x, "c2_pw", *W["c2_pw"])], "c2_relu")
    for i, d in enumerate(m["dilations"]):
        y = conv(x, f"b{i}_dw", *W[f"b{i}_dw"], dil=d, pad=d * (k // 2), group=C)
        y = node("Relu", [y], f"b{i}_dw_relu")
        y = conv(y, f"b{i}_pw", *W[f"b{i}_pw"])
        x = node("Relu", [node("Add", [x, y], f"b{i}_add")], f"b{i}_out")
    x = conv(x, "out", *W["out"])
    x = node("Transpose", [x], "logits_ntc", perm=[0, 2, 1])
    node("LogSoftmax", [x], "log_probs", axis=2)
    g = helper.make_graph(
        nodes, "livecheck_digits",
        [helper.make_tensor_value_info("audio", TensorProto.FLOAT, [1, f["window_samples"]])],
        [helper.make_tensor_value_info("log_probs", TensorProto.FLOAT, [1, n_t, m["n_classes"]])],
        inits)
    mp = helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)], producer_name="livecheck-digits",
                           doc_string=doc)
    mp.ir_version = 8
    onnx.checker.check_model(mp, full_check=True)
    onnx.save(mp, out_path)
    return mp


# ----------------------------------------------------------------------------- head on frozen embeddings
# features.frontend = "oww": the network is a small CTC head over the frozen speech embeddings of
# emb.py ([T, 96], one step per 80 ms); the front end is NOT in models/digits.onnx.


def build_head(cfg, mu, var, training_graph=True):
    import keras
    from keras import layers

    h = cfg["head"]
    k, C = h["kernel"], h["channels"]
    inp = keras.Input((h["T"], 96), name="embeddings")
    x = layers.Normalization(axis=-1, mean=mu, variance=var, name="norm")(inp)
    if training_graph and h.get("in_dropout", 0):
        x = layers.Dropout(h["in_dropout"])(x)
    x = layers.Conv1D(C, 1, use_bias=False, name="c1")(x)
    x = layers.BatchNormalization(name="c1_bn")(x)
    x = layers.ReLU()(x)
    for i, d in enumerate(h["dilations"]):
        r = x
        y = layers.ZeroPadding1D((d * (k // 2), d * (k // 2)))(x)
        y = layers.DepthwiseConv1D(k, dilation_rate=d, use_bias=False, name=f"b{i}_dw")(y)
        y = layers.BatchNormalization(name=f"b{i}_dw_bn")(y)
        y = layers.ReLU()(y)
        y = layers.Conv1D(C, 1, use_bias=False, name=f"b{i}_pw")(y)
        y = layers.BatchNormalization(name=f"b{i}_pw_bn")(y)
        x = layers.ReLU()(layers.Add()([r, y]))
    if training_graph:
        x = layers.Dropout(h["dropout"])(x)
    x = layers.Conv1D(cfg["model"]["n_classes"], 1, name="out")(x)
    return keras.Model(inp, x)


def head_folded_weights(model, cfg):
    h = cfg["head"]
    W = {}
    norm = model.get_layer("norm")
    W["mu"] = np.asarray(norm.mean, np.float64).reshape(-1)
    W["inv_sd"] = 1.0 / np.maximum(np.sqrt(np.asarray(norm.variance, np.float64).reshape(-1)), 1e-7)

    def conv(name, bn):
        k = np.asarray(model.get_layer(name).get_weights()[0], np.float64)  # [k, in, out]
        s, b = _bn(model, bn)
        return np.transpose(k, (2, 1, 0)) * s[:, None, None], b

    def dw(name, bn):
        k = np.asarray(model.get_layer(name).get_weights()[0], np.float64)  # [k, C, 1]
        s, b = _bn(model, bn)
        return np.transpose(k[:, :, 0], (1, 0))[:, None, :] * s[:, None, None], b

    W["c1"] = conv("c1", "c1_bn")
    for i in range(len(h["dilations"])):
        W[f"b{i}_dw"] = dw(f"b{i}_dw", f"b{i}_dw_bn")
        W[f"b{i}_pw"] = conv(f"b{i}_pw", f"b{i}_pw_bn")
    k, b = model.get_layer("out").get_weights()
    W["out"] = (np.transpose(np.asarray(k, np.float64), (2, 1, 0)), np.asarray(b, np.float64))
    return W


def export_head_onnx(model, cfg, out_path, doc=""):
    """embeddings [1, T, 96] -> log_probs [1, T, 11]; ops Transpose, Sub, Mul, Conv, Relu, Add, LogSoftmax."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    h = cfg["head"]
    k, C, T = h["kernel"], h["channels"], h["T"]
    W = head_folded_weights(model, cfg)
    inits, nodes = [], []

    def const(name, arr, dtype=np.float32):
        inits.append(numpy_helper.from_array(np.asarray(arr, dtype), name))
        return name

    def node(op, ins, out, **attrs):
        nodes.append(helper.make_node(op, ins, [out], name=out, **attrs))
        return out

    def conv(x, name, w, b, dil=1, pad=0, group=1):
        return node("Conv", [x, const(name + "_w", w), const(name + "_b", b)], name, strides=[1],
                    dilations=[dil], pads=[pad, pad], group=group, kernel_shape=[w.shape[2]])

    x = node("Transpose", ["embeddings"], "emb_ncw", perm=[0, 2, 1])
    x = node("Sub", [x, const("emb_mu", W["mu"].reshape(1, -1, 1))], "emb_centred")
    x = node("Mul", [x, const("emb_inv_sd", W["inv_sd"].reshape(1, -1, 1))], "emb_norm")
    x = node("Relu", [conv(x, "c1", *W["c1"])], "c1_relu")
    for i, d in enumerate(h["dilations"]):
        y = conv(x, f"b{i}_dw", *W[f"b{i}_dw"], dil=d, pad=d * (k // 2), group=C)
        y = node("Relu", [y], f"b{i}_dw_relu")
        y = conv(y, f"b{i}_pw", *W[f"b{i}_pw"])
        x = node("Relu", [node("Add", [x, y], f"b{i}_add")], f"b{i}_out")
    x = conv(x, "out", *W["out"])
    x = node("Transpose", [x], "logits_ntc", perm=[0, 2, 1])
    node("LogSoftmax", [x], "log_probs", axis=2)
    g = helper.make_graph(
        nodes, "livecheck_digits_head",
        [helper.make_tensor_value_info("embeddings", TensorProto.FLOAT, [1, T, 96])],
        [helper.make_tensor_value_info("log_probs", TensorProto.FLOAT, [1, T, cfg["model"]["n_classes"]])],
        inits)
    mp = helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)], producer_name="livecheck-digits",
                           doc_string=doc)
    mp.ir_version = 8
    onnx.checker.check_model(mp, full_check=True)
    onnx.save(mp, out_path)
    return mp
