"""Whisper's log-mel front end in plain numpy (no librosa/torch), written so a Rust port is mechanical.

Definition (identical to openai-whisper `log_mel_spectrogram` on a fixed window):
  audio: f32 mono 16 kHz in [-1, 1], exactly N = window_s * 16000 samples (zero-padded / cut).
  1. reflect-pad 200 samples on both sides (torch.stft center=True, pad_mode="reflect"):
     xp[i] = x[200 - i] for i < 200, x[i - 200] ..., xp[N + 200 + j] = x[N - 2 - j].
  2. frames t = 0 .. N/160 (N/160 + 1 frames), frame t = xp[160 t : 160 t + 400] * hann[n],
     hann[n] = 0.5 - 0.5 cos(2 pi n / 400) (periodic Hann, n = 0..399).
  3. power[k, t] = |rfft(frame_t)[k]|^2, k = 0..200 (201 bins). DROP the last frame -> N/160 frames.
  4. mel[m, t] = sum_k W[m, k] power[k, t], W = Slaney mel filterbank (80 x 201, see mel_filters()).
  5. l = log10(max(mel, 1e-10)); l = max(l, max_over_whole_window(l) - 8); out = (l + 4) / 4.
  Output [80, N/160] f32 (model input [1, 80, N/160]).
"""
import numpy as np

SR, N_FFT, HOP, N_MELS = 16000, 400, 160, 80


def _hz_to_mel(f):
    f = np.asarray(f, dtype=np.float64)
    f_sp, min_log_hz, min_log_mel, logstep = 200.0 / 3, 1000.0, 15.0, np.log(6.4) / 27.0
    mel = f / f_sp
    return np.where(f >= min_log_hz, min_log_mel + np.log(np.maximum(f, 1e-12) / min_log_hz) / logstep, mel)


def _mel_to_hz(m):
    m = np.asarray(m, dtype=np.float64)
    f_sp, min_log_hz, min_log_mel, logstep = 200.0 / 3, 1000.0, 15.0, np.log(6.4) / 27.0
    return np.where(m >= min_log_mel, min_log_hz * np.exp(logstep * (m - min_log_mel)), f_sp * m)


def mel_filters(sr=SR, n_fft=N_FFT, n_mels=N_MELS):
    """librosa.filters.mel(sr, n_fft, n_mels, fmin=0, fmax=sr/2, htk=False, norm='slaney'), float64."""
    fftfreqs = np.linspace(0, sr / 2, 1 + n_fft // 2)
    mel_f = _mel_to_hz(np.linspace(_hz_to_mel(0.0), _hz_to_mel(sr / 2), n_mels + 2))
    fdiff = np.diff(mel_f)
    ramps = mel_f[:, None] - fftfreqs[None, :]
    w = np.zeros((n_mels, len(fftfreqs)))
    for i in range(n_mels):
        lower = -ramps[i] / fdiff[i]
        upper = ramps[i + 2] / fdiff[i + 1]
        w[i] = np.maximum(0, np.minimum(lower, upper))
    enorm = 2.0 / (mel_f[2:n_mels + 2] - mel_f[:n_mels])
    return w * enorm[:, None]


_W = mel_filters()
_HANN = 0.5 - 0.5 * np.cos(2 * np.pi * np.arange(N_FFT) / N_FFT)


def log_mel(audio, n_samples):
    """audio: 1-D float array (16 kHz). Returns [80, n_samples // 160] float32."""
    x = np.zeros(n_samples, dtype=np.float64)
    a = np.asarray(audio, dtype=np.float64)[:n_samples]
    x[:len(a)] = a
    xp = np.pad(x, (N_FFT // 2, N_FFT // 2), mode="reflect")
    n_frames = 1 + n_samples // HOP
    idx = np.arange(N_FFT)[None, :] + HOP * np.arange(n_frames)[:, None]
    frames = xp[idx] * _HANN[None, :]
    power = np.abs(np.fft.rfft(frames, axis=1)) ** 2          # [frames, 201]
    power = power[:-1]                                        # drop last frame
    mel = _W @ power.T                                        # [80, n_samples/160]
    l = np.log10(np.maximum(mel, 1e-10))
    l = np.maximum(l, l.max() - 8.0)
    return ((l + 4.0) / 4.0).astype(np.float32)
