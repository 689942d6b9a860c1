"""Shared helpers: config, paths, silence trimming."""
import os
import tomllib

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))


def load_config():
    with open(os.path.join(HERE, "config.toml"), "rb") as f:
        return tomllib.load(f)


def path(cfg, key):
    return os.path.normpath(os.path.join(HERE, cfg["paths"][key]))


def trim_silence(x, sr=16000, rel_db=-35.0, margin_ms=20):
    """Cut leading/trailing frames quieter than rel_db below the loudest 10 ms frame."""
    x = np.asarray(x, dtype=np.float32)
    hop = sr // 100
    n = len(x) // hop
    if n < 3:
        return x
    e = np.sqrt((x[: n * hop].reshape(n, hop).astype(np.float64) ** 2).mean(axis=1) + 1e-12)
    thr = e.max() * 10 ** (rel_db / 20)
    idx = np.nonzero(e > thr)[0]
    m = margin_ms * sr // 1000
    a = max(0, idx[0] * hop - m)
    b = min(len(x), (idx[-1] + 1) * hop + m)
    return x[a:b]
