"""Frozen front end: openWakeWord 0.4.0's ONNX ports of Google's speech_embedding model.

Both models come from the PyPI wheel openwakeword==0.4.0 (Apache-2.0), installed into the venv
from requirements.txt; they are read from the installed package's resources/models directory
(never downloaded at run time, the package itself is never imported):

  melspectrogram.onnx   input  `input` [B, samples] f32 audio at 16 kHz in int16 scale (x * 32767)
                        output [B, 1, frames, 32]  (96000 samples -> 597 frames, 10 ms hop)
  (transform)           m = out / 10 + 2          (openwakeword.utils default melspec_transform)
  embedding_model.onnx  input  `input_1` [N, 76, 32, 1]: 76-frame windows, step 8 frames (80 ms)
                        output [N, 1, 1, 96]

For a 6 s window (96000 samples) that is 66 embedding windows: window t covers mel frames
[8t, 8t+76), i.e. audio from 80*t ms to about 80*t + 775 ms (centre ~ 80*t + 390 ms).

`Embedder.windows()` is that reference path (what the Rust side runs). `Embedder.__call__()` runs
the same network fully convolutionally over the whole 597-frame spectrogram (the net has only
time-valid convs and max-pools of total time stride 8, so output t == window t exactly, verified
in `check()`), which is ~10x faster and used to cache training data.
"""
import importlib.util
import os

import numpy as np

WINDOW = 76
STEP = 8
N_MEL = 32
DIM = 96


def resources_dir():
    spec = importlib.util.find_spec("openwakeword")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError("openwakeword==0.4.0 is not installed in this venv (see requirements.txt)")
    return os.path.join(list(spec.submodule_search_locations)[0], "resources", "models")


def n_mel_frames(n_samples):
    return (n_samples - 640) // 160 + 1 if n_samples >= 640 else 0


def n_windows(n_frames):
    return (n_frames - WINDOW) // STEP + 1


def _fully_conv(n_frames):
    """embedding_model.onnx rewritten to take [B, n_frames, 32, 1] and give [B, T, 1, 96]."""
    import onnx
    from onnx import helper, numpy_helper

    mp = onnx.load(os.path.join(resources_dir(), "embedding_model.onnx"))
    g = mp.graph
    done = 0
    for i in g.initializer:
        if i.name == "new_shape__315":  # [-1, 1, 76, 34] (NHWC->NCHW after freq padding)
            assert list(numpy_helper.to_array(i)) == [-1, 1, 76, 34]
            i.CopyFrom(numpy_helper.from_array(np.array([-1, 1, n_frames, N_MEL + 2], np.int64), i.name))
            done += 1
    for k, n in enumerate(g.node):
        if n.op_type == "Reshape" and n.input[1] == "new_shape__264":  # [N,96,1,1] -> [N,1,1,96]
            g.node.remove(n)
            g.node.insert(k, helper.make_node("Transpose", [n.input[0]], list(n.output), perm=[0, 2, 3, 1],
                                              name="fc_transpose"))
            done += 1
            break
    assert done == 2, "unexpected embedding_model.onnx"
    g.input[0].type.tensor_type.shape.dim[1].dim_value = n_frames
    del g.output[0].type.tensor_type.shape.dim[:]
    keep = [i for i in g.initializer if i.name != "new_shape__264"]
    del g.initializer[:]
    g.initializer.extend(keep)
    return mp.SerializeToString()


class Embedder:
    def __init__(self, threads=1, n_samples=96000):
        import onnxruntime as ort

        so = ort.SessionOptions()
        so.intra_op_num_threads = threads
        so.inter_op_num_threads = 1
        so.log_severity_level = 3
        d = resources_dir()
        p = ["CPUExecutionProvider"]
        self.mel_sess = ort.InferenceSession(os.path.join(d, "melspectrogram.onnx"), so, providers=p)
        self.emb_sess = ort.InferenceSession(os.path.join(d, "embedding_model.onnx"), so, providers=p)
        self.n_frames = n_mel_frames(n_samples)
        self.T = n_windows(self.n_frames)
        self.fc_sess = ort.InferenceSession(_fully_conv(self.n_frames), so, providers=p)

    def mel(self, x):
        """x [B, samples] float in [-1, 1] -> [B, frames, 32] (already x/10 + 2)."""
        x = np.asarray(x, np.float32) * np.float32(32767.0)
        out = self.mel_sess.run(None, {"input": x})[0]  # [B, 1, F, 32]
        return out[:, 0] / np.float32(10.0) + np.float32(2.0)

    def embed_mel(self, m):
        """m [B, 597, 32] -> [B, T, 96] (fully convolutional; == windows())."""
        out = self.fc_sess.run(None, {"input_1": np.ascontiguousarray(m[:, :, :, None], np.float32)})[0]
        return out[:, :, 0, :]

    def __call__(self, x):
        return self.embed_mel(self.mel(x))

    def windows(self, x):
        """Reference path, exactly as openwakeword.utils / the Rust side: [B, samples] -> [B, T, 96]."""
        m = self.mel(x)
        idx = np.arange(self.T)[:, None] * STEP + np.arange(WINDOW)[None]
        w = m[:, idx]  # [B, T, 76, 32]
        out = self.emb_sess.run(None, {"input_1": w.reshape(-1, WINDOW, N_MEL, 1)})[0]
        return out.reshape(len(m), self.T, DIM)

    def check(self, x):
        a, b = self(x), self.windows(x)
        return float(np.abs(a - b).max())
