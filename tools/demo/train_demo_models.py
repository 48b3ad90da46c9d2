#!/usr/bin/python3
"""Train and export rnnserve's two demo models on real data shipped by Debian packages.

Run from anywhere with Debian's Python (python3-torch 1.13, numpy 1.24, python3-onnx):

    /usr/bin/python3 tools/demo/train_demo_models.py

Needs the Debian packages ``fortunes`` (text corpus), ``python3-statsmodels`` (only for
its dataset CSV; statsmodels itself is never imported) and, for a usable training speed,
``libopenblas0-openmp`` (Debian's torch calls the system BLAS; with the reference BLAS
the same run takes many times longer and gives slightly different weights).

Models (written under ``models/`` at the repository root, wiped and rewritten each run):

``charlm`` / ``charlm_onnx``
    Character-level LSTM language model: nn.Embedding(V, 32) -> nn.LSTM(32, 192,
    num_layers=2) -> nn.Linear(192, V) -> softmax. Vocabulary: tab, newline and the 95
    printable ASCII characters (ids 0..96) plus an unknown token (id 97), V = 98.
    Corpus: the English fortune-cookie files of the ``fortunes`` / ``fortunes-min``
    packages, /usr/share/games/fortunes/* (without ascii-art, which holds pictures).
    Split into single fortunes, de-duplicated; a fortune is held out when
    crc32(text) % 10 == 0. Held-out metric: bits per character, vs a unigram model.

``forecast`` / ``forecast_onnx``
    GRU one-step-ahead forecaster of the yearly sunspot numbers 1700-2008 from
    python3-statsmodels (statsmodels/datasets/sunspots/sunspots.csv, public domain):
    nn.GRU(1, 32, num_layers=2) -> nn.Linear(32, 1) (identity), trained on normalised
    values z = (value - mean) / std (mean and std of the training years). The exported
    models speak sunspots (issue 21): input [T, 1] = the sunspot number of year t, output
    [T, 1] = the predicted sunspot number of year t + 1; the native model carries the
    normalisation as config.json input_transform / output_transform blocks, the ONNX
    model as Sub/Div before the GRU and Mul/Add after the head (ForecasterExport), which
    rnnserve folds into the same transforms. --reexport-forecast rewrites both from the
    committed weights without training.
    The last 20% of the years are held out; metric: RMSE and MAE (in sunspot units) vs
    the naive "next year = this year" forecast, which the model must beat (asserted).
    The number of epochs is chosen on a validation span (the last 15% of the training
    years, phase 1), then the model is retrained on all training years (phase 2); the
    held-out years are never used for any choice.

Every version directory gets config.json + model.safetensors (native; written with
tests/testdata/make_fixtures.py's safetensors writer) or model.onnx (opset 14, unbatched
input "x" with a dynamic time axis, per-step output "y"), a MODEL_CARD.md, and
sample_input.npy / sample_expected.npy (the PyTorch module's own float32 outputs for the
sample, run from a zero state). At the end the script re-reads what it wrote, checks the
ONNX graphs with a small NumPy interpreter against the PyTorch outputs, and, if
build/bin/rnnserve-model exists, runs it on every sample and prints the max abs diff
(native models must match within 1e-5; ONNX failures are only reported).

Deterministic: fixed seeds, torch.use_deterministic_algorithms, 2 threads, a fixed
number of optimisation steps (never a time budget).
"""

import os

# Debian's torch uses libgomp. Its default busy-waiting makes 2 threads crawl when the
# 2 cores are shared with anything else (a compiler, say); passive waiting avoids that.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import argparse  # noqa: E402
import json  # noqa: E402
import math  # noqa: E402
import re  # noqa: E402
import shutil  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
import warnings  # noqa: E402
import zlib  # noqa: E402

import numpy as np  # noqa: E402
import torch  # noqa: E402
from torch import nn  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(REPO, "tests", "testdata"))
sys.dont_write_bytecode = True  # no __pycache__ next to make_fixtures.py
import make_fixtures as mf  # noqa: E402  (safetensors writer/reader, config helper)

torch.set_default_dtype(torch.float32)
torch.use_deterministic_algorithms(True)
torch.set_num_threads(2)  # make_fixtures sets 1 at import; we train with 2

MODELS = os.path.join(REPO, "models")
TOOL = os.path.join(REPO, "build", "bin", "rnnserve-model")
SCRIPT_CMD = "/usr/bin/python3 tools/demo/train_demo_models.py"
NATIVE_TOL = 1e-5

FORTUNE_DIR = "/usr/share/games/fortunes"
FORTUNE_SKIP = {"ascii-art"}  # ASCII pictures, not prose
SUNSPOTS_CSV = "/usr/lib/python3/dist-packages/statsmodels/datasets/sunspots/sunspots.csv"

# charlm
VOCAB = "\t\n" + "".join(chr(c) for c in range(32, 127))
UNK = len(VOCAB)  # 97
V = len(VOCAB) + 1  # 98
CHAR_E, CHAR_H, CHAR_L = 32, 192, 2
# forecast
FC_H, FC_L = 32, 2

REPORT = {}  # filled in as we go; printed at the end


def log(msg):
    print(msg, flush=True)


def rel(path):
    return os.path.relpath(path, REPO)


def file_mb(path):
    return os.path.getsize(path) / 1e6


def count_params(module):
    return sum(p.numel() for p in module.parameters())


def blas_name():
    try:
        return os.path.realpath("/usr/lib/x86_64-linux-gnu/libblas.so.3")
    except OSError:
        return "unknown"


def dpkg_version(pkg):
    try:
        out = subprocess.run(["dpkg-query", "-W", "-f=${Version}", pkg], capture_output=True,
                             text=True, check=False)
        return out.stdout.strip() or "not installed"
    except OSError:
        return "unknown"


def require(path, pkg):
    if not os.path.exists(path):
        sys.exit(f"missing {path}: install the Debian package {pkg} "
                 f"(apt-get install -y --no-install-recommends {pkg})")


# ==========================================================================
# Modules (attribute names embedding / rnn / head = the native tensor names)
# ==========================================================================

class CharLM(nn.Module):
    def __init__(self):
        super().__init__()
        self.embedding = nn.Embedding(V, CHAR_E)
        self.rnn = nn.LSTM(CHAR_E, CHAR_H, num_layers=CHAR_L)
        self.head = nn.Linear(CHAR_H, V)

    def forward(self, x, state=None):  # x [T, B] int64 -> logits [T, B, V]
        out, state = self.rnn(self.embedding(x), state)
        return self.head(out), state


class CharLMExport(nn.Module):
    """Unbatched serving form: ids [T] -> softmax probabilities [T, V], zero initial state."""

    def __init__(self, net):
        super().__init__()
        self.net = net

    def forward(self, x):
        # Embed the [T] ids first (a Gather straight on the graph input), then add the
        # batch axis of 1 the LSTM wants.
        out, _ = self.net.rnn(self.net.embedding(x).unsqueeze(1))
        return torch.softmax(self.net.head(out.squeeze(1)), dim=-1)


class Forecaster(nn.Module):
    def __init__(self):
        super().__init__()
        self.rnn = nn.GRU(1, FC_H, num_layers=FC_L)
        self.head = nn.Linear(FC_H, 1)

    def forward(self, x, state=None):  # x [T, B, 1] -> [T, B, 1]
        out, state = self.rnn(x, state)
        return self.head(out), state


class ForecasterExport(nn.Module):
    """Unbatched serving form: sunspots [T, 1] -> next year's sunspots [T, 1], zero
    initial state; normalises in and out around the network trained on z-scores."""

    def __init__(self, net, mean, std):
        super().__init__()
        self.net = net
        self.register_buffer("mean", torch.tensor([mean], dtype=torch.float32))
        self.register_buffer("std", torch.tensor([std], dtype=torch.float32))

    def forward(self, x):
        y, _ = self.net(((x - self.mean) / self.std).unsqueeze(1))
        return y.squeeze(1) * self.std + self.mean


# ==========================================================================
# charlm: data
# ==========================================================================

def load_fortunes():
    require(os.path.join(FORTUNE_DIR, "fortunes"), "fortunes-min")
    require(os.path.join(FORTUNE_DIR, "computers"), "fortunes")
    names = sorted(f for f in os.listdir(FORTUNE_DIR)
                   if "." not in f and f not in FORTUNE_SKIP
                   and os.path.isfile(os.path.join(FORTUNE_DIR, f))
                   and not os.path.islink(os.path.join(FORTUNE_DIR, f)))
    seen, fortunes, raw_bytes = set(), [], 0
    for name in names:
        with open(os.path.join(FORTUNE_DIR, name), "rb") as f:
            data = f.read()
        raw_bytes += len(data)
        text = data.decode("utf-8", errors="replace").replace("\r", "")
        text = re.sub(".\x08", "", text)  # overstriking (x BS x = bold, _ BS x = underline)
        text = re.sub("[\x00-\x08\x0b-\x1f\x7f]", "", text)  # bells, stray BS, form feeds
        for part in re.split(r"^%\n", text, flags=re.M):
            part = part.rstrip("\n")
            if not part.strip() or part in seen:
                continue
            seen.add(part)
            fortunes.append(part + "\n")
    return names, fortunes, raw_bytes


def encode(text):
    table = {c: i for i, c in enumerate(VOCAB)}
    return np.fromiter((table.get(c, UNK) for c in text), dtype=np.int64, count=len(text))


def is_heldout(fortune):
    return zlib.crc32(fortune.encode("utf-8")) % 10 == 0


def join_fortunes(fortunes):
    # The fortune-file format itself: each fortune followed by a line "%".
    return "".join(f + "%\n" for f in fortunes)


def pick_sample_sentence(heldout):
    """A real one-line sentence of 36-44 characters from the held-out fortunes."""
    for f in heldout:
        line = f.strip()
        if "\n" in line or "\t" in line or not 36 <= len(line) <= 44:
            continue
        if line[0].isupper() and line[-1] in ".!?" and all(c in VOCAB for c in line):
            return line
    raise RuntimeError("no held-out sentence of the wanted length")


def streams(ids, batch):
    """[N] -> [n, batch]: batch contiguous streams side by side (tail dropped)."""
    n = len(ids) // batch
    return torch.from_numpy(ids[:n * batch].reshape(batch, n).T.copy())


@torch.no_grad()
def eval_bits(net, ids, batch=32, chunk=256):
    """Bits per character of predicting ids[1:] from ids[:-1] (state carried per stream)."""
    net.eval()
    data = streams(ids, batch)
    state, nll, n = None, 0.0, 0
    for s in range(0, data.shape[0] - 1, chunk):
        x = data[s:s + chunk]
        y = data[s + 1:s + chunk + 1]
        x = x[:y.shape[0]]
        logits, state = net(x, state)
        nll += torch.nn.functional.cross_entropy(
            logits.reshape(-1, V), y.reshape(-1), reduction="sum").item()
        n += y.numel()
    net.train()
    return nll / n / math.log(2)


def unigram_bits(train_ids, test_ids):
    counts = np.bincount(train_ids, minlength=V).astype(np.float64) + 1.0  # add-one
    p = counts / counts.sum()
    return float(-np.mean(np.log2(p[test_ids[1:]])))


def train_charlm(args):
    names, fortunes, raw_bytes = load_fortunes()
    train_f = [f for f in fortunes if not is_heldout(f)]
    held_f = [f for f in fortunes if is_heldout(f)]
    train_text, held_text = join_fortunes(train_f), join_fortunes(held_f)
    train_ids, held_ids = encode(train_text), encode(held_text)
    unk_rate = float(np.mean(np.concatenate([train_ids, held_ids]) == UNK))
    log(f"[charlm] corpus: {len(names)} files, {raw_bytes} bytes, {len(fortunes)} unique "
        f"fortunes; train {len(train_f)} fortunes / {len(train_ids)} chars, held-out "
        f"{len(held_f)} / {len(held_ids)} chars; unknown-char rate {unk_rate:.2e}")
    uni = unigram_bits(train_ids, held_ids)
    log(f"[charlm] baselines on held-out: uniform log2(V) = {math.log2(V):.3f} bpc, "
        f"unigram = {uni:.3f} bpc")

    torch.manual_seed(1234)
    net = CharLM()
    B, T = args.char_batch, args.char_bptt
    data = streams(train_ids, B)
    steps_per_epoch = (data.shape[0] - 1) // T
    total = args.char_epochs * steps_per_epoch
    opt = torch.optim.Adam(net.parameters(), lr=args.char_lr)
    sched = torch.optim.lr_scheduler.LambdaLR(
        opt, lambda s: min(1.0, (s + 1) / 100) * max(0.05, 1.0 - s / total))
    probe = held_ids[:40000]
    log(f"[charlm] {count_params(net)} parameters; {args.char_epochs} epoch(s) x "
        f"{steps_per_epoch} steps of {B} x {T} chars (TBPTT, Adam lr {args.char_lr}, clip 1.0)")
    t0, step = time.time(), 0
    for epoch in range(args.char_epochs):
        state, run_loss, run_n, win = None, 0.0, 0, []
        for k in range(steps_per_epoch):
            x = data[k * T:(k + 1) * T]
            y = data[k * T + 1:(k + 1) * T + 1]
            logits, state = net(x, state)
            state = tuple(s.detach() for s in state)
            loss = nn.functional.cross_entropy(logits.reshape(-1, V), y.reshape(-1))
            opt.zero_grad()
            loss.backward()
            nn.utils.clip_grad_norm_(net.parameters(), 1.0)
            opt.step()
            sched.step()
            step += 1
            run_loss += loss.item()
            run_n += 1
            win.append(loss.item())
            if (k + 1) % args.char_log_every == 0:
                log(f"[charlm]   epoch {epoch + 1} step {k + 1}/{steps_per_epoch}: train "
                    f"{np.mean(win) / math.log(2):.3f} bpc over the last {len(win)} steps, "
                    f"lr {sched.get_last_lr()[0]:.2e} ({time.time() - t0:.0f} s)")
                win = []
        bpc = eval_bits(net, probe)
        log(f"[charlm] epoch {epoch + 1}/{args.char_epochs}: train {run_loss / run_n / math.log(2):.3f}"
            f" bpc, held-out probe (40k chars) {bpc:.3f} bpc, {time.time() - t0:.0f} s")
    train_secs = time.time() - t0
    net.eval()
    held_bpc = eval_bits(net, held_ids)
    log(f"[charlm] held-out: {held_bpc:.3f} bpc (unigram {uni:.3f}, uniform {math.log2(V):.3f}); "
        f"training {train_secs:.0f} s")
    assert held_bpc < uni - 0.5 and held_bpc < math.log2(V) - 1.0, "charlm did not learn"

    sentence = pick_sample_sentence(held_f)
    sample = encode(sentence)
    log(f"[charlm] sample sentence (held-out): {sentence!r}")
    return net, {
        "files": names, "raw_bytes": raw_bytes, "n_fortunes": len(fortunes),
        "train_fortunes": len(train_f), "held_fortunes": len(held_f),
        "train_chars": len(train_ids), "held_chars": len(held_ids), "unk_rate": unk_rate,
        "unigram_bpc": uni, "held_bpc": held_bpc, "uniform_bpc": math.log2(V),
        "epochs": args.char_epochs, "steps": step, "batch": B, "bptt": T, "lr": args.char_lr,
        "train_secs": train_secs, "sentence": sentence, "sample": sample,
    }


# ==========================================================================
# forecast: data
# ==========================================================================

def load_sunspots():
    require(SUNSPOTS_CSV, "python3-statsmodels")
    years, values = [], []
    with open(SUNSPOTS_CSV) as f:
        header = f.readline().strip().replace('"', "").split(",")
        assert header == ["YEAR", "SUNACTIVITY"], header
        for line in f:
            if line.strip():
                y, v = line.strip().split(",")
                years.append(int(float(y)))
                values.append(float(v))
    years = np.array(years)
    assert np.all(np.diff(years) == 1)
    return years, np.array(values, dtype=np.float64)


def train_forecast(args):
    years, values = load_sunspots()
    n = len(values)
    n_train = int(round(n * 0.8))
    mean = float(values[:n_train].mean())
    std = float(values[:n_train].std())
    z = ((values - mean) / std).astype(np.float32)
    log(f"[forecast] sunspots {years[0]}-{years[-1]} ({n} years); train {years[0]}-"
        f"{years[n_train - 1]} ({n_train}), held-out {years[n_train]}-{years[-1]} "
        f"({n - n_train}); mean {mean:.4f}, std {std:.4f}")

    # Held-out targets: values[n_train:], predicted from the previous year's value with
    # the state built up over every earlier year (the model runs over the whole series).
    target = values[n_train:]
    naive = values[n_train - 1:n - 1]
    naive_rmse = float(np.sqrt(np.mean((naive - target) ** 2)))
    naive_mae = float(np.mean(np.abs(naive - target)))

    n_fit = int(round(n_train * 0.85))  # epoch count chosen on years n_fit..n_train-1
    full = torch.from_numpy(z[:-1]).reshape(-1, 1, 1)
    burn = 10  # no loss on the first years of a window while the state warms up
    W, S, max_epochs = args.fc_window, args.fc_stride, args.fc_max_epochs

    def rmse_mae(pred, lo, hi):
        """Errors of the predictions for years lo..hi-1 (sunspot units)."""
        p, t = pred[lo - 1:hi - 1], values[lo:hi]
        return float(np.sqrt(np.mean((p - t) ** 2))), float(np.mean(np.abs(p - t)))

    def fit(end, epochs, phase):
        """Train on years 0..end-1 for `epochs` epochs; returns (net, {epoch: predictions})."""
        torch.manual_seed(4321)
        net = Forecaster()
        opt = torch.optim.Adam(net.parameters(), lr=args.fc_lr, weight_decay=1e-5)
        # Same schedule in both phases (decay over max_epochs), so phase 2 follows phase 1.
        sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: max(0.05, 1.0 - s / max_epochs))
        xs = torch.from_numpy(z[:end - 1]).reshape(-1, 1, 1)
        ys = torch.from_numpy(z[1:end]).reshape(-1, 1, 1)
        starts = list(range(0, xs.shape[0] - W + 1, S))
        xb = torch.cat([xs[s:s + W] for s in starts], dim=1)
        yb = torch.cat([ys[s:s + W] for s in starts], dim=1)
        log(f"[forecast] {phase}: years {years[0]}-{years[end - 1]}, {epochs} epochs, one "
            f"full batch of {len(starts)} windows of {W} years each")
        preds, t0 = {}, time.time()
        for epoch in range(1, epochs + 1):
            pred, _ = net(xb)
            loss = nn.functional.mse_loss(pred[burn:], yb[burn:])
            opt.zero_grad()
            loss.backward()
            nn.utils.clip_grad_norm_(net.parameters(), 1.0)
            opt.step()
            sched.step()
            if epoch % args.fc_log_every == 0 or epoch == epochs:
                net.eval()
                with torch.no_grad():
                    p = net(full)[0].reshape(-1).numpy().astype(np.float64) * std + mean
                net.train()
                preds[epoch] = p
                fit_rmse, _ = rmse_mae(p, 1, end)
                msg = f"[forecast]   epoch {epoch}/{epochs}: train mse(z) {loss.item():.4f}, " \
                      f"fit RMSE {fit_rmse:.2f}"
                if end == n_fit:
                    msg += f", validation ({years[n_fit]}-{years[n_train - 1]}) RMSE " \
                           f"{rmse_mae(p, n_fit, n_train)[0]:.2f}"
                log(msg + f" ({time.time() - t0:.1f} s)")
        net.eval()
        return net, preds, time.time() - t0

    log(f"[forecast] GRU({FC_H} x {FC_L}) + Linear: Adam lr {args.fc_lr}, weight decay 1e-5, "
        f"clip 1.0; zero initial state per window, first {burn} steps unscored")
    log(f"[forecast] naive (repeat last year) on held-out: RMSE {naive_rmse:.2f}, MAE {naive_mae:.2f}")
    _, preds, secs1 = fit(n_fit, max_epochs, "phase 1 (choose the epoch count)")
    best = min(preds, key=lambda e: (rmse_mae(preds[e], n_fit, n_train)[0], e))
    val_rmse = rmse_mae(preds[best], n_fit, n_train)[0]
    val_naive = rmse_mae(values, n_fit, n_train)[0]
    log(f"[forecast] best validation RMSE {val_rmse:.2f} (naive {val_naive:.2f}) after {best} epochs")
    net, preds, secs2 = fit(n_train, best, "phase 2 (all training years)")
    train_secs = secs1 + secs2
    rmse, mae = rmse_mae(preds[best], n_train, n)
    log(f"[forecast] held-out RMSE {rmse:.2f} vs naive {naive_rmse:.2f}; MAE {mae:.2f} vs "
        f"naive {naive_mae:.2f}; training {train_secs:.1f} s")
    assert rmse < naive_rmse and mae < naive_mae, "forecast does not beat the naive forecast"

    T = args.fc_sample_len
    s0 = n - 1 - T  # the last T input years, all inside the held-out part
    assert s0 >= n_train
    sample = values[s0:s0 + T].reshape(T, 1).astype(np.float32)  # raw sunspots
    return net, {
        "n": n, "n_train": n_train, "year0": int(years[0]), "year1": int(years[-1]),
        "train_years": (int(years[0]), int(years[n_train - 1])),
        "held_years": (int(years[n_train]), int(years[-1])),
        "mean": mean, "std": std, "rmse": rmse, "mae": mae, "naive_rmse": naive_rmse,
        "naive_mae": naive_mae, "epochs": best, "max_epochs": max_epochs, "window": W,
        "stride": S, "val_years": (int(years[n_fit]), int(years[n_train - 1])),
        "fit_years": (int(years[0]), int(years[n_fit - 1])), "val_rmse": val_rmse,
        "val_naive": val_naive,
        "lr": args.fc_lr, "train_secs": train_secs, "sample": sample,
        "sample_years": (int(years[s0]), int(years[s0 + T - 1])),
    }


# ==========================================================================
# Export
# ==========================================================================

def fresh_dir(path):
    if os.path.isdir(path):
        shutil.rmtree(path)
    os.makedirs(path)


def export_native(net, cfg, out_dir):
    fresh_dir(out_dir)
    tensors = {k: v.detach().cpu().numpy().astype(np.float32) for k, v in net.state_dict().items()}
    shapes = mf.expected_tensor_shapes(cfg)
    assert {k: list(v.shape) for k, v in tensors.items()} == shapes, "tensor names/shapes"
    mf.write_config(os.path.join(out_dir, "config.json"), cfg)
    path = os.path.join(out_dir, "model.safetensors")
    mf.write_safetensors(path, tensors)
    _, back = mf.read_safetensors(path)
    for k, v in tensors.items():
        assert np.array_equal(back[k].astype(np.float32), v), k
    return path


def export_onnx(wrapper, example, out_dir, model_doc):
    fresh_dir(out_dir)
    path = os.path.join(out_dir, "model.onnx")
    with warnings.catch_warnings():
        # Batch-size and prim::Constant shape-inference notes; the batch is always 1 here.
        warnings.simplefilter("ignore", UserWarning)
        torch.onnx.export(wrapper, (example,), path, opset_version=14, input_names=["x"],
                          output_names=["y"], dynamic_axes={"x": {0: "T"}, "y": {0: "T"}},
                          do_constant_folding=True)
    import onnx
    m = onnx.load(path)
    onnx.checker.check_model(m)
    m.doc_string = model_doc
    onnx.save(m, path)
    return path


def write_samples(out_dirs, sample_in, expected):
    for d in out_dirs:
        np.save(os.path.join(d, "sample_input.npy"), np.ascontiguousarray(sample_in))
        np.save(os.path.join(d, "sample_expected.npy"),
                np.ascontiguousarray(expected.astype(np.float32)))


# --------------------------------------------------------------------------
# A tiny NumPy interpreter for the exported graphs (python3-onnx 1.12 has no
# onnx.reference and Debian has no onnxruntime), enough to check the export.
# --------------------------------------------------------------------------

def _sig(a):
    return 1.0 / (1.0 + np.exp(-a))


def _attrs(node):
    import onnx
    return {a.name: onnx.helper.get_attribute_value(a) for a in node.attribute}


def _onnx_lstm(x, w, r, b=None, seq_lens=None, h0=None, c0=None, **at):
    assert at.get("direction", b"forward") in (b"forward", "forward")
    assert "activations" not in at and "clip" not in at and not at.get("input_forget", 0)
    T, Bn, _ = x.shape
    H = at["hidden_size"]
    w, r = w[0], r[0]
    wb = np.zeros(8 * H) if b is None else b[0]
    h = np.zeros((Bn, H)) if h0 is None else h0[0]
    c = np.zeros((Bn, H)) if c0 is None else c0[0]
    ys = []
    for t in range(T):
        g = x[t] @ w.T + h @ r.T + wb[:4 * H] + wb[4 * H:]
        i, o, f, cc = np.split(g, 4, axis=1)  # ONNX gate order i, o, f, c
        c = _sig(f) * c + _sig(i) * np.tanh(cc)
        h = _sig(o) * np.tanh(c)
        ys.append(h)
    return np.stack(ys)[:, None], h[None], c[None]


def _onnx_gru(x, w, r, b=None, seq_lens=None, h0=None, **at):
    assert at.get("direction", b"forward") in (b"forward", "forward")
    assert "activations" not in at and "clip" not in at
    T, Bn, _ = x.shape
    H = at["hidden_size"]
    lbr = at.get("linear_before_reset", 0)
    w, r = w[0], r[0]
    wb = np.zeros(6 * H) if b is None else b[0]
    wbz, wbr, wbh = np.split(wb[:3 * H], 3)
    rbz, rbr, rbh = np.split(wb[3 * H:], 3)
    wz, wr, wh = np.split(w, 3)  # ONNX gate order z, r, h
    rz, rr, rh = np.split(r, 3)
    h = np.zeros((Bn, H)) if h0 is None else h0[0]
    ys = []
    for t in range(T):
        zt = _sig(x[t] @ wz.T + h @ rz.T + wbz + rbz)
        rt = _sig(x[t] @ wr.T + h @ rr.T + wbr + rbr)
        if lbr:
            ht = np.tanh(x[t] @ wh.T + rt * (h @ rh.T + rbh) + wbh)
        else:
            ht = np.tanh(x[t] @ wh.T + (rt * h) @ rh.T + rbh + wbh)
        h = (1 - zt) * ht + zt * h
        ys.append(h)
    return np.stack(ys)[:, None], h[None]


def run_onnx_numpy(path, x):
    import onnx
    from onnx import numpy_helper
    m = onnx.load(path)
    g = m.graph
    env = {t.name: numpy_helper.to_array(t) for t in g.initializer}
    env[g.input[0].name] = x
    env[""] = None
    for node in g.node:
        at = _attrs(node)
        ins = [env[n] for n in node.input]
        op = node.op_type
        if op == "Constant":
            out = [numpy_helper.to_array(at["value"])]
        elif op == "Gather":
            out = [np.take(ins[0], ins[1].astype(np.int64), axis=at.get("axis", 0))]
        elif op == "Unsqueeze":
            out = [np.expand_dims(ins[0], tuple(int(a) for a in ins[1]))]
        elif op == "Squeeze":
            out = [np.squeeze(ins[0], axis=tuple(int(a) for a in ins[1]))
                   if len(ins) > 1 and ins[1] is not None else np.squeeze(ins[0])]
        elif op == "Shape":
            out = [np.array(ins[0].shape, dtype=np.int64)]
        elif op == "Transpose":
            out = [np.transpose(ins[0], at.get("perm"))]
        elif op == "Reshape":
            shape = [d if d != 0 else ins[0].shape[i] for i, d in enumerate(ins[1])]
            out = [ins[0].reshape(shape)]
        elif op == "Slice":
            data, starts, ends = ins[0], ins[1], ins[2]
            axes = ins[3] if len(ins) > 3 else np.arange(len(starts))
            steps = ins[4] if len(ins) > 4 else np.ones(len(starts), dtype=np.int64)
            sl = [slice(None)] * data.ndim
            for s, e, a, st in zip(starts, ends, axes, steps):
                sl[int(a)] = slice(int(s), int(e), int(st))
            out = [data[tuple(sl)]]
        elif op == "Concat":
            out = [np.concatenate(ins, axis=at["axis"])]
        elif op == "ConstantOfShape":
            v = numpy_helper.to_array(at["value"]) if "value" in at else np.zeros(1, np.float32)
            out = [np.full(tuple(int(d) for d in ins[0]), v.reshape(-1)[0], dtype=v.dtype)]
        elif op == "Expand":
            out = [ins[0] * np.ones(tuple(int(d) for d in ins[1]), dtype=ins[0].dtype)]
        elif op == "Cast":
            out = [ins[0].astype(onnx.helper.tensor_dtype_to_np_dtype(at["to"]))]
        elif op == "MatMul":
            out = [ins[0] @ ins[1]]
        elif op == "Gemm":
            a = ins[0].T if at.get("transA", 0) else ins[0]
            b = ins[1].T if at.get("transB", 0) else ins[1]
            out = [at.get("alpha", 1.0) * (a @ b) + at.get("beta", 1.0) * ins[2]]
        elif op == "Add":
            out = [ins[0] + ins[1]]
        elif op == "Sub":
            out = [ins[0] - ins[1]]
        elif op == "Mul":
            out = [ins[0] * ins[1]]
        elif op == "Div":
            out = [ins[0] / ins[1]]
        elif op == "Softmax":
            a = ins[0] - ins[0].max(axis=at.get("axis", -1), keepdims=True)
            e = np.exp(a)
            out = [e / e.sum(axis=at.get("axis", -1), keepdims=True)]
        elif op == "LSTM":
            out = list(_onnx_lstm(*[None if v is None else v.astype(np.float64) for v in ins], **at))
        elif op == "GRU":
            out = list(_onnx_gru(*[None if v is None else v.astype(np.float64) for v in ins], **at))
        elif op == "Identity":
            out = [ins[0]]
        else:
            raise NotImplementedError(f"ONNX op {op} in {path}")
        for name, val in zip(node.output, out):
            env[name] = val
    return env[g.output[0].name], sorted({n.op_type for n in g.node})


def run_tool(model_dir, sample_in_path):
    """Run build/bin/rnnserve-model on a sample; returns (max abs diff | None, message)."""
    if not os.access(TOOL, os.X_OK):
        return None, f"{rel(TOOL)} not built"
    out = f"/tmp/rnnserve_demo_{os.getpid()}_{os.path.basename(os.path.dirname(model_dir))}.npy"
    proc = subprocess.run([TOOL, "run", "--model", model_dir, "--input", sample_in_path,
                           "--output", out], capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        return None, (proc.stderr.strip() or proc.stdout.strip() or f"exit {proc.returncode}")
    got = np.load(out)
    os.remove(out)
    want = np.load(os.path.join(model_dir, "sample_expected.npy"))
    if got.shape != want.shape:
        return None, f"shape {got.shape}, want {want.shape}"
    return float(np.max(np.abs(got.astype(np.float64) - want))), "ok"


# ==========================================================================
# Model cards
# ==========================================================================

def size_line(native_path, onnx_path, net):
    return (f"{count_params(net):,} parameters (float32); model.safetensors "
            f"{file_mb(native_path):.2f} MB, model.onnx {file_mb(onnx_path):.2f} MB")


def charlm_card(info, fmt, native_path, onnx_path, net):
    r = info
    run = ("build/bin/rnnserve-model run --model models/{d}/1 "
           "--input models/{d}/1/sample_input.npy --output /tmp/charlm_probs.npy")
    other = "charlm_onnx" if fmt == "native" else "charlm"
    d = "charlm" if fmt == "native" else "charlm_onnx"
    files = ("config.json + model.safetensors (rnnserve native format, PyTorch tensor names)"
             if fmt == "native" else
             "model.onnx (opset 14; input \"x\" int64 [T] token ids, output \"y\" float [T, 98] "
             "probabilities; dynamic time axis, unbatched, zero initial state)")
    return f"""# charlm ({'native' if fmt == 'native' else 'ONNX'}): character-level LSTM language model

Trained by `{SCRIPT_CMD}` (same weights as `models/{other}/1`).

## Data
- Debian packages `fortunes` {dpkg_version('fortunes')} and `fortunes-min` {dpkg_version('fortunes-min')}
  (the latter is a dependency of the former): the fortune-cookie files
  `/usr/share/games/fortunes/*` ({len(r['files'])} files: {', '.join(r['files'])};
  `ascii-art` left out, it holds pictures), {r['raw_bytes']:,} bytes of English text
  (quotes, jokes, definitions, short stories).
- Licence: the fortune program is BSD-licensed (The Regents of the University of
  California, see /usr/share/doc/fortunes/copyright); the texts are a decades-old
  collection of quotations and jokes of mixed authorship, distributed by Debian in main.
  Treat this model as a demo, not as a product.
- Cleaning: overstriking (`x BS y`) and control characters other than tab and newline
  removed, split at the `%` lines into {r['n_fortunes']:,} unique fortunes. Each fortune is
  encoded followed by a line `%` (the file format itself), so the model also learns where
  a fortune ends.
- Split: a fortune is held out when `crc32(utf-8 text) % 10 == 0`: training
  {r['train_fortunes']:,} fortunes / {r['train_chars']:,} characters, held-out
  {r['held_fortunes']:,} fortunes / {r['held_chars']:,} characters. Characters outside the
  vocabulary: {r['unk_rate']:.1e} of the text.

## Vocabulary (also in config.json "metadata")
V = 98: ids 0..96 are the characters of `metadata.vocabulary` in order (tab, newline, then
the printable ASCII characters 0x20..0x7E), id 97 (`metadata.unknown_id`) is every other
character. Map a character to its index in `vocabulary`, or to 97.

## Architecture
nn.Embedding(98, {CHAR_E}) -> nn.LSTM({CHAR_E}, {CHAR_H}, num_layers={CHAR_L}) -> nn.Linear({CHAR_H}, 98)
-> softmax. {size_line(native_path, onnx_path, net)}.
Output row t = the distribution of character t + 1 given characters 0..t.

## Training
{r['epochs']} epoch{'s' if r['epochs'] != 1 else ''} ({r['steps']} Adam steps, lr {r['lr']} with 100-step warm-up and linear decay,
gradient clip 1.0) over {r['batch']} contiguous streams, truncated BPTT of {r['bptt']} characters
with the state carried across chunks; seed 1234, 2 CPU threads, deterministic.
Training took {r['train_secs']:.0f} s on the 2-core build machine.

## Held-out metric (bits per character, lower is better)
| model | bpc |
| --- | --- |
| uniform over the vocabulary, log2(98) | {r['uniform_bpc']:.3f} |
| unigram character frequencies (add-one, training split) | {r['unigram_bpc']:.3f} |
| **this model** | **{r['held_bpc']:.3f}** |

## Files
{files}; `sample_input.npy` = int64 [{len(r['sample'])}] ids of the held-out sentence
{r['sentence']!r}; `sample_expected.npy` = float32 [{len(r['sample'])}, 98], the PyTorch module's
softmax outputs from a zero state.

## Reproduce
```
apt-get install -y --no-install-recommends python3-torch python3-onnx python3-numpy \\
    fortunes python3-statsmodels libopenblas0-openmp
{SCRIPT_CMD}
```
The script retrains and rewrites all four demo model directories (a few minutes on 2
cores). Results are deterministic for a given machine and BLAS; with Debian's reference
BLAS instead of OpenBLAS training is several times slower and the weights differ slightly.

## Run
```
{run.format(d=d)}
```
The output is float32 [T, 98]: one probability row per input character.
"""


def forecast_card(info, fmt, native_path, onnx_path, net, training_text=None):
    r = info
    other = "forecast_onnx" if fmt == "native" else "forecast"
    d = "forecast" if fmt == "native" else "forecast_onnx"
    norm_how = ("as config.json's input_transform and output_transform blocks" if fmt == "native"
                else "as Sub and Div before the GRU and Mul and Add after the head, which "
                     "rnnserve folds into the same per-step transforms")
    files = ("config.json + model.safetensors (rnnserve native format, PyTorch tensor names)"
             if fmt == "native" else
             "model.onnx (opset 14; input \"x\" float [T, 1], output \"y\" float [T, 1]; "
             "dynamic time axis, unbatched, zero initial state)")
    return f"""# forecast ({'native' if fmt == 'native' else 'ONNX'}): GRU one-step-ahead sunspot forecaster

Trained by `{SCRIPT_CMD}` (same weights as `models/{other}/1`).

## Data
- Debian package `python3-statsmodels` {dpkg_version('python3-statsmodels')}, file
  `{SUNSPOTS_CSV}`: yearly mean sunspot numbers {r['year0']}-{r['year1']} ({r['n']} values,
  column SUNACTIVITY), from NOAA's National Geophysical Data Center. Licence: public domain
  (statsmodels' dataset description and Debian's copyright file).
- Split: training years {r['train_years'][0]}-{r['train_years'][1]} ({r['n_train']}), held-out
  {r['held_years'][0]}-{r['held_years'][1]} ({r['n'] - r['n_train']}, the last 20%).

## Input and output: sunspot numbers
Input row t = the sunspot number of year t; output row t = the predicted sunspot number of
year t + 1. The network was trained on z = (sunspots - {r['mean']:.6f}) / {r['std']:.6f} (mean
and population std of the training years); the model applies that normalisation itself,
{norm_how}, so clients send and receive raw values.

## Architecture
nn.GRU(1, {FC_H}, num_layers={FC_L}) -> nn.Linear({FC_H}, 1) (identity). {size_line(native_path, onnx_path, net)}.

## Training
{training_text or training_section(r)}## Held-out metric (sunspot units, lower is better)
The model runs over the whole series from a zero state in {r['year0']}; scored are its
predictions for {r['held_years'][0]}-{r['held_years'][1]}, each made from the years before.

| forecast | RMSE | MAE |
| --- | --- | --- |
| naive: next year = this year | {r['naive_rmse']:.2f} | {r['naive_mae']:.2f} |
| **this model** | **{r['rmse']:.2f}** | **{r['mae']:.2f}** |

## Files
{files}; `sample_input.npy` = float32 [{len(r['sample'])}, 1], the sunspot numbers of the held-out years
{r['sample_years'][0]}-{r['sample_years'][1]}; `sample_expected.npy` = float32 [{len(r['sample'])}, 1],
the PyTorch module's predictions for those inputs from a zero state (so its first rows,
without the earlier years as context, are less accurate than the metric above).

## Reproduce
```
apt-get install -y --no-install-recommends python3-torch python3-onnx python3-numpy \\
    fortunes python3-statsmodels libopenblas0-openmp
{SCRIPT_CMD}
```
The script retrains and rewrites all four demo model directories (a few minutes on 2
cores). Results are deterministic for a given machine and BLAS; with Debian's reference
BLAS instead of OpenBLAS training is several times slower and the weights differ slightly.

## Run
```
build/bin/rnnserve-model run --model models/{d}/1 --input models/{d}/1/sample_input.npy --output /tmp/forecast.npy
```
The output is float32 [T, 1]: the predicted sunspot number of each next year.
"""


def training_section(r):
    return f"""Full-batch Adam (lr {r['lr']}, linear decay over {r['max_epochs']} epochs, weight decay 1e-5,
gradient clip 1.0) on all {r['window']}-year windows of the training years (stride {r['stride']}),
each from a zero state, MSE on the normalised next-year value with the first 10 steps of
a window unscored; seed 4321, 2 CPU threads, deterministic.
Phase 1 trains on {r['fit_years'][0]}-{r['fit_years'][1]} for {r['max_epochs']} epochs and picks the epoch
count with the lowest validation RMSE on {r['val_years'][0]}-{r['val_years'][1]}: {r['epochs']} epochs
(validation RMSE {r['val_rmse']:.2f}, naive {r['val_naive']:.2f}). Phase 2 retrains from the same
seed on all training years for {r['epochs']} epochs; that is the exported model. Both phases
together took {r['train_secs']:.1f} s.

"""


# Card sections other tools measure and write (tools/demo/eval_weight_precision.py and
# tests/model/weight_precision_test.cc for the weight precisions): a retrained model
# keeps them from its previous card, to be measured again against the new weights.
MEASURED_ELSEWHERE = ("## Weight precision",)


def kept_sections(path):
    """The MEASURED_ELSEWHERE sections of the card at `path`, each up to the next
    section, or "" when there is no card yet."""
    if not os.path.exists(path):
        return ""
    with open(path) as f:
        old = f.read()
    kept = []
    for heading in MEASURED_ELSEWHERE:
        start = old.find("\n" + heading)
        if start < 0:
            continue
        end = old.find("\n## ", start + 1)
        kept.append(old[start + 1:] if end < 0 else old[start + 1:end + 1])
    return "".join(kept)


def write_card(path, text):
    kept = kept_sections(path)
    with open(path, "w") as f:
        f.write(text)
        if kept:
            f.write("\n" + kept)


# ==========================================================================
# Main
# ==========================================================================

def export_pair(name, net, cfg, wrapper, info, onnx_doc, card):
    """Writes models/<name>/1 (native) and models/<name>_onnx/1 (ONNX) from the
    same weights, with the sample, the module's own outputs on it, and cards."""
    ndir = os.path.join(MODELS, name, "1")
    odir = os.path.join(MODELS, name + "_onnx", "1")
    native = export_native(net, cfg, ndir)
    sample = info["sample"]
    with torch.no_grad():
        expected = wrapper(torch.from_numpy(sample)).numpy()
    onnx_path = export_onnx(wrapper, torch.from_numpy(sample), odir, onnx_doc)
    write_samples([ndir, odir], sample, expected)
    for fmt, d in (("native", ndir), ("onnx", odir)):
        write_card(os.path.join(d, "MODEL_CARD.md"), card(info, fmt, native, onnx_path, net))
    return ndir, odir, expected


def export_charlm(net, info):
    net.eval()
    cfg = mf.make_config("lstm", CHAR_E, CHAR_H, num_layers=CHAR_L, embedding=(V, CHAR_E),
                         head=(V, "softmax"))
    cfg["metadata"] = {
        "name": "charlm",
        "description": "character-level LSTM language model trained on the Debian fortunes "
                       "package; output row t = P(character t+1 | characters 0..t)",
        "vocabulary": VOCAB,
        "unknown_id": UNK,
        "data": "Debian packages fortunes + fortunes-min: /usr/share/games/fortunes/*",
        "heldout_bits_per_char": round(info["held_bpc"], 4),
        "unigram_bits_per_char": round(info["unigram_bpc"], 4),
        "trained_by": SCRIPT_CMD,
    }
    return export_pair("charlm", net, cfg, CharLMExport(net).eval(), info,
                       "charlm: int64 ids [T] -> next-character probabilities [T, 98]; "
                       "vocabulary: see models/charlm/1/config.json metadata", charlm_card)


def export_forecast(net, info, training_text=None):
    net.eval()
    cfg = mf.make_config("gru", 1, FC_H, num_layers=FC_L, head=(1, "identity"))
    # The network was trained on z-scores; the model applies the normalisation itself.
    cfg["input_transform"] = {"offset": [info["mean"]], "scale": [info["std"]]}
    cfg["output_transform"] = {"offset": [info["mean"]], "scale": [info["std"]]}
    cfg["metadata"] = {
        "name": "forecast",
        "description": "GRU one-step-ahead forecaster of yearly sunspot numbers; input row t "
                       "= sunspot number of year t, output row t = predicted sunspot number "
                       "for year t+1",
        "normalisation": {"mean": info["mean"], "std": info["std"],
                          "formula": "trained on z = (value - mean) / std; applied by the "
                                     "model (input_transform, output_transform)"},
        "data": "Debian package python3-statsmodels: " + SUNSPOTS_CSV,
        "heldout_rmse": round(info["rmse"], 4), "heldout_mae": round(info["mae"], 4),
        "naive_rmse": round(info["naive_rmse"], 4), "naive_mae": round(info["naive_mae"], 4),
        "trained_by": SCRIPT_CMD,
    }
    def card(*a):
        return forecast_card(*a, training_text=training_text)
    return export_pair("forecast", net, cfg, forecast_wrapper(net, info), info,
                       "forecast: yearly sunspot numbers [T, 1] -> next year's predicted "
                       "sunspot number [T, 1]; trained on z = (value - mean) / std, "
                       "normalised in and out by the graph", card)


def forecast_wrapper(net, info):
    return ForecasterExport(net, info["mean"], info["std"]).eval()


def check_export(name, net, wrapper_cls, ndir, odir, expected, tol=NATIVE_TOL):
    """Re-read everything; check the ONNX graph numerically; run the C++ tool. `tol` is
    NATIVE_TOL in output units: a model that scales its outputs by s (an output
    transform) scales every rounding difference by s too."""
    ok = True
    with open(os.path.join(ndir, "config.json")) as f:
        json.load(f)
    sample = np.load(os.path.join(ndir, "sample_input.npy"))
    # Another length than the export example, to exercise the dynamic time axis.
    longer = np.concatenate([sample, sample[:7]])
    with torch.no_grad():
        want_long = wrapper_cls(net).eval()(torch.from_numpy(longer)).numpy()
    for x, want in ((sample, expected), (longer, want_long)):
        got, ops = run_onnx_numpy(os.path.join(odir, "model.onnx"), x)
        diff = float(np.max(np.abs(got - want)))
        log(f"[check] {name}_onnx NumPy interpretation (T={len(x)}) vs PyTorch: max abs diff "
            f"{diff:.2e} (ops: {', '.join(ops)})")
        assert got.shape == want.shape and diff < tol, f"{name} ONNX export mismatch"
    sizes = {rel(p): file_mb(p) for p in (os.path.join(ndir, "model.safetensors"),
                                           os.path.join(odir, "model.onnx"))}
    for p, mb in sizes.items():
        log(f"[check] {p}: {mb:.2f} MB")
        assert mb < 5.0, f"{p} too large"
    for d in (ndir, odir):
        diff, msg = run_tool(d, os.path.join(d, "sample_input.npy"))
        label = rel(os.path.dirname(d))
        if diff is None:
            log(f"[check] rnnserve-model run {label}/1: not checked: {msg}")
            if d == ndir and os.access(TOOL, os.X_OK):
                ok = False
        else:
            good = diff <= tol
            log(f"[check] rnnserve-model run {label}/1: max abs diff {diff:.2e} "
                f"({'OK' if good else 'MISMATCH'}, tolerance {tol:g})")
            if d == ndir and not good:
                ok = False
        REPORT[label] = diff if diff is not None else msg
    return ok


def forecast_facts(net, sample_len):
    """What the forecast card and export need besides training: the data split, the
    normalisation, and the held-out errors of `net` run over the whole series."""
    years, values = load_sunspots()
    n = len(values)
    n_train = int(round(n * 0.8))
    mean = float(values[:n_train].mean())
    std = float(values[:n_train].std())
    z = ((values - mean) / std).astype(np.float32)
    with torch.no_grad():
        pred = net(torch.from_numpy(z[:-1]).reshape(-1, 1, 1))[0].reshape(-1).numpy()
    pred = pred.astype(np.float64) * std + mean  # pred[t] is for year t + 1
    target, naive = values[n_train:], values[n_train - 1:n - 1]
    s0 = n - 1 - sample_len
    return {
        "n": n, "n_train": n_train, "year0": int(years[0]), "year1": int(years[-1]),
        "train_years": (int(years[0]), int(years[n_train - 1])),
        "held_years": (int(years[n_train]), int(years[-1])), "mean": mean, "std": std,
        "rmse": float(np.sqrt(np.mean((pred[n_train - 1:] - target) ** 2))),
        "mae": float(np.mean(np.abs(pred[n_train - 1:] - target))),
        "naive_rmse": float(np.sqrt(np.mean((naive - target) ** 2))),
        "naive_mae": float(np.mean(np.abs(naive - target))),
        "sample": values[s0:s0 + sample_len].reshape(sample_len, 1).astype(np.float32),
        "sample_years": (int(years[s0]), int(years[s0 + sample_len - 1])),
    }


def reexport_forecast(sample_len):
    """Rewrites both forecast versions from the committed weights (no training), keeping
    the card's Training section, which only a training run can restate."""
    ndir = os.path.join(MODELS, "forecast", "1")
    _, tensors = mf.read_safetensors(os.path.join(ndir, "model.safetensors"))
    net = Forecaster()
    net.load_state_dict({k: torch.from_numpy(v.astype(np.float32)) for k, v in tensors.items()})
    net.eval()
    with open(os.path.join(ndir, "MODEL_CARD.md")) as f:
        card = f.read()
    training = card[card.index("## Training\n") + len("## Training\n"):
                    card.index("## Held-out metric")]
    info = forecast_facts(net, sample_len)
    log(f"[forecast] re-export of the committed weights: held-out RMSE {info['rmse']:.2f}, "
        f"MAE {info['mae']:.2f}")
    ndir, odir, expected = export_forecast(net, info, training_text=training)
    return check_export("forecast", net, lambda n: forecast_wrapper(n, info), ndir, odir,
                        expected, tol=NATIVE_TOL * info["std"])


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--only", choices=["charlm", "forecast"], help="train just one model")
    ap.add_argument("--char-epochs", type=int, default=1)
    ap.add_argument("--char-batch", type=int, default=32)
    ap.add_argument("--char-bptt", type=int, default=64)
    ap.add_argument("--char-lr", type=float, default=1e-2)
    ap.add_argument("--char-log-every", type=int, default=100)
    ap.add_argument("--fc-max-epochs", type=int, default=300)
    ap.add_argument("--fc-window", type=int, default=60)
    ap.add_argument("--fc-stride", type=int, default=2)
    ap.add_argument("--fc-lr", type=float, default=5e-3)
    ap.add_argument("--fc-log-every", type=int, default=10)
    ap.add_argument("--fc-sample-len", type=int, default=50)
    ap.add_argument("--reexport-forecast", action="store_true",
                    help="rewrite models/forecast{,_onnx}/1 in the current form from the "
                         "committed weights, without training")
    args = ap.parse_args()
    if args.reexport_forecast:
        if not reexport_forecast(args.fc_sample_len):
            sys.exit("rnnserve-model does not reproduce a native model's sample_expected")
        return

    log(f"torch {torch.__version__}, {torch.get_num_threads()} threads, BLAS {blas_name()}")
    if "openblas" not in blas_name():
        log("WARNING: not using OpenBLAS (apt-get install libopenblas0-openmp); training will "
            "be slow and the weights will differ slightly from the reference run")
    t_start = time.time()
    ok = True
    if args.only in (None, "forecast"):
        net, info = train_forecast(args)
        ndir, odir, expected = export_forecast(net, info)
        ok &= check_export("forecast", net, lambda n: forecast_wrapper(n, info), ndir, odir,
                           expected, tol=NATIVE_TOL * info["std"])
    if args.only in (None, "charlm"):
        net, info = train_charlm(args)
        ndir, odir, expected = export_charlm(net, info)
        ok &= check_export("charlm", net, CharLMExport, ndir, odir, expected)
    log(f"done in {time.time() - t_start:.0f} s; models in {rel(MODELS)}/")
    if not ok:
        sys.exit("rnnserve-model does not reproduce a native model's sample_expected")


if __name__ == "__main__":
    main()
