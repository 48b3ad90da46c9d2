#!/usr/bin/python3
"""ONNX reference fixtures for rnnserve's ONNX loader.

Run with Debian's Python (python3-torch 1.13, numpy 1.24, python3-onnx 1.12), AFTER
make_fixtures.py (the torch_ fixtures copy the native fixtures' inputs and expected
outputs), with ONNX Runtime from npm as the second reference (see "ONNX Runtime"):

    /usr/bin/python3 tests/testdata/make_fixtures.py
    npm install --ignore-scripts --prefix build/ort onnxruntime-node@1.30.0
    /usr/bin/python3 tests/testdata/make_onnx_fixtures.py [-v] [--ort DIR | --no-ort]

Deterministic (fixed seeds; torch.onnx.export output is byte-stable for a given torch
version). Wipes and regenerates ``tests/testdata/onnx/`` and ``tests/testdata/onnx_bad/``
next to itself, re-reads everything it wrote and checks it (see "Self-checks").

Layout
======

``onnx/<fixture>/``:

- ``model.onnx``            the model (opset ai.onnx 14; hand-built ones ir_version 7,
                            torch exports whatever torch 1.13 writes: also ir_version 7).
- ``input_<k>.npy``         k = 0, 1, 2: sequences of T = 1, 7, 200 steps. float32
                            ``[T, input_size]`` (C order) or int64 ``[T]`` token ids.
                            The graph's own input may have extra unit batch dims
                            (``[T, 1, I]``, ``[1, T, I]``, ``[T, 1]``): same values, same
                            row-major bytes; see the per-fixture graph shapes below.
- ``expected_<k>.npy``      float32 ``[T, output_size]``, one row per step, run from a
                            zero initial state unless the model has initial_h/initial_c
                            initializers (then from those). For an ONNX ``Y`` of shape
                            ``[T, D, 1, H]`` (layout 0) or ``[1, T, D, H]`` (layout 1) the
                            row t is ``[Y[t, forward], Y[t, backward]]`` (D*H values; the
                            backward half is aligned to the ORIGINAL time index t, as ONNX
                            stores it). For fixtures whose graph output is ``Y_h``,
                            expected_k is still the per-step top-layer output (what Y would
                            be), and additionally:
- ``expected_final_<k>.npy`` float32 ``[1, D*H]`` = Y_h flattened as [forward, backward]
                            (forward: state after step T-1; backward: state after the
                            reverse pass reaches t = 0, i.e. equal to row 0's backward half).

``onnx/MANIFEST.txt``: one line per fixture: name, streaming (no = bidirectional or
reverse direction: whole-sequence call only), output (Y or Y_h: which ONNX output is the
graph output), input kind (float | tokens), input size (float: I; tokens: the embedding
dim, as in model/MANIFEST.txt, with one int64 id per step), output size (D*H or the head
size), reference (torch | numpy), ort (ONNX Runtime's max |diff| from expected over
the fixture's three sequences, expected_final included; "refused" where ONNX Runtime
refuses the model: layout=1; "not run" with --no-ort).

``onnx_bad/<case>/model.onnx`` plus ``onnx_bad/README.txt`` (one line per case): inputs
the loader must reject with a clear error (see "Bad inputs").

1. torch.onnx.export fixtures (reference: torch)
================================================

``torch_<name>`` for the native fixtures lstm_1layer, lstm_3layer, lstm_nobias,
lstm_bidir, gru_1layer, gru_2layer, gru_bidir, rnn_tanh, rnn_relu, charlm,
lstm_head_sigmoid, gru_head_identity: the SAME module as ``model/<name>`` (built with
make_fixtures.build_torch from model/<name>/config.json, and asserted bit-identical to
model/<name>/model.safetensors), exported with ``torch.onnx.export(opset_version=14,
dynamic_axes={time axis: "T"})``. input_k / expected_k are byte copies of the native
fixture's files. The module is make_fixtures.Net: ``embedding`` -> ``x.unsqueeze(1)`` ->
``rnn`` -> ``squeeze(1)`` -> ``head`` (+ softmax / sigmoid), so the graph input is the
UNBATCHED ``[T, I]`` float (graph input "input") or ``[T]`` int64 tokens, output
``[T, output_size]`` ("output").

lstm_proj is NOT exported: torch 1.13's ONNX exporter refuses LSTMs with proj_size > 0
(there is no ONNX equivalent of the projection).

Variants (same weights / inputs / expected as the native fixture named):
- ``torch_lstm_1layer_batched``    (lstm_1layer) graph input [T, 1, I] -> nn.LSTM ->
                                   output [T, 1, H]; no Unsqueeze/Squeeze glue of its own.
- ``torch_gru_1layer_batch_first`` (gru_1layer) nn.GRU(batch_first=True); graph input
                                   [1, T, I] -> output [1, T, H]. The exporter does NOT
                                   use layout=1: Transpose [1,0,2] -> GRU (layout 0) ->
                                   Squeeze -> Transpose [1,0,2]; the zero state's batch
                                   size is Shape(input)[0].
- ``torch_charlm_batched``         (charlm) tokens [T, 1] int64 -> Gather -> LSTM x2 ->
                                   head as MatMul + Add (3-D input; the unbatched charlm
                                   gets a Gemm) -> Softmax(axis=-1) -> output [T, 1, 11].

What the exporter produces (see the script's printout for the exact op sequences): the
zero initial states are NOT constants but computed at run time, Shape(x) -> Gather(batch
dim) -> Unsqueeze -> Concat -> ConstantOfShape, then Slice per layer for multi-layer
stacks, and fed as initial_h / initial_c; one ONNX RNN node per layer; between layers
Squeeze (unidirectional) or Transpose + Reshape (bidirectional) turn Y [T, D, B, H] into
the next layer's [T, B, D*H]; GRUs carry linear_before_reset=1; RNNs carry
activations=["Tanh"] or ["Relu"]; no-bias LSTMs leave input B empty (""). Constant nodes
supply the axes / shape operands of Unsqueeze, Squeeze, Slice, Reshape. The recurrent
weights are initializers with generated names ("onnx::LSTM_106", ...; only embedding.weight,
head.weight, head.bias keep their names): bind them by node input position, never by
name. Inputs of a node are W, R, B in ONNX order/layout (the exporter reorders gates).

2. Hand-built single-op models (reference: numpy)
=================================================

One LSTM / GRU / RNN node (opset 14, ir_version 7), weights as initializers in ONNX
layout and gate order: W [D, G*H, I], R [D, G*H, H], B [D, 2*G*H] (Wb then Rb),
P [D, 3H]; LSTM gates i, o, f, c; P = p_i, p_o, p_f; GRU z, r, h. Graph input "X"
[T, 1, I] (layout 0) or [1, T, I] (layout 1) with dim_param "T"; graph output "Y"
([T, D, 1, H] / layout 1: [1, T, D, H]) or "Y_h" ([D, 1, H] / layout 1: [1, D, H]).
Weights ~ U[-0.5, 0.5] (make_fixtures.extra_uniform, seeded by fixture name), inputs
standard normal (make_fixtures.make_inputs).

  fixture                           I  H  what it exercises
  op_lstm_peepholes                 4  5  P (i, o, f order); R comes from a Constant node
  op_lstm_clip                      4  5  clip=0.6 with P and B; 5-95% of every gate's
                                          pre-activations are clipped (asserted)
  op_lstm_input_forget              4  5  input_forget=1 (f = 1 - i; the f rows of W/R/B
                                          are present but unused)
  op_lstm_layout1                   3  4  layout=1: X [1, T, I], Y [1, T, 1, H]
  op_lstm_reverse                   4  5  direction="reverse"
  op_lstm_bidirectional             3  4  direction="bidirectional", Y [T, 2, 1, H]
  op_gru_linear_before_reset0       4  5  GRU, linear_before_reset=0 (attribute written)
  op_gru_linear_before_reset1       4  5  GRU, linear_before_reset=1; B from a Constant node
  op_gru_hardsigmoid                4  5  activations [HardSigmoid, Tanh],
                                          activation_alpha [0.3], activation_beta [0.45]
  op_gru_bidirectional_activations  3  4  bidirectional GRU (linear_before_reset=1), 4 activations
                                          [Sigmoid, ScaledTanh, HardSigmoid, Tanh],
                                          alpha [0.9, 0.25], beta [1.3, 0.55]: the list
                                          runs on across directions
  op_rnn_relu                       5  4  RNN activations [Relu]; B from a Constant node
                                          (R drawn from U[-0.25, 0.25] to keep |h| < 4)
  op_rnn_tanh_yh                    4  6  RNN (default Tanh), graph output Y_h only
  op_lstm_initial_state             4  5  initial_h, initial_c nonzero initializers
                                          [1, 1, H]; expected runs from them
  op_lstm_affine_activations        4  5  activations [Sigmoid, LeakyRelu, Affine],
                                          alpha [0.1, 0.8], beta [0.05]
  op_lstm_bidirectional_yh          3  4  bidirectional LSTM, graph output Y_h only
  op_rnn_thresholdedrelu            4  5  RNN activations [ThresholdedRelu], alpha [0.3]
                                          (R halved, as op_rnn_relu)
  op_lstm_elu_softsign              4  5  activations [Sigmoid, Elu, Softsign], alpha [0.7]
  op_gru_softplus                   4  5  activations [Sigmoid, Softplus]

activation_alpha / activation_beta convention (ASSUMPTION, as onnxruntime implements it
in rnn_helpers.cc; the ONNX spec only says "consumed in the order of activation
functions"): walk the activations list in order (forward direction's functions, then the
reverse direction's); a function that takes an alpha (Affine, LeakyRelu,
ThresholdedRelu, ScaledTanh, HardSigmoid, Elu) consumes the NEXT unused value of
activation_alpha, one that takes a beta (Affine, ScaledTanh, HardSigmoid) the next unused
value of activation_beta; functions without parameters (Relu, Tanh, Sigmoid, Softsign,
Softplus) consume nothing. When a list runs out, onnxruntime's defaults apply (LeakyRelu
0.01, HardSigmoid 0.2 / 0.5, Elu 1.0, otherwise 0); the fixtures here always give every
value, and the reference asserts that every given value is consumed. So in
op_lstm_affine_activations, LeakyRelu has alpha 0.1 and Affine is 0.8*x + 0.05 (NOT
positional: a reader indexing activation_alpha by function position would give LeakyRelu
0.8 and run past the end for Affine; op_gru_bidirectional_activations likewise gives
ScaledTanh(0.9, 1.3) and HardSigmoid(0.25, 0.55)). Function definitions (ONNX spec):
Affine a*x+b, LeakyRelu x>=0 ? x : a*x, ThresholdedRelu x>a ? x : 0, ScaledTanh
a*tanh(b*x), HardSigmoid min(max(a*x+b, 0), 1), Elu x>=0 ? x : a*(e^x-1), Softsign
x/(1+|x|), Softplus log(1+e^x). Names are matched case-insensitively.

Equations of the NumPy reference (float64, ONNX spec; f, g, h the activations):
  LSTM: a = Wx + Rh + Wb + Rb, split i, o, f, c
        a_i += p_i*C_prev; a_f += p_f*C_prev            (peephole)
        a_i, a_f, a_c = clip(.)                         (clamp to [-clip, clip])
        i = f(a_i); f = 1 - i if input_forget else f(a_f); c~ = g(a_c)
        C = f*C_prev + i*c~                             (C itself is never clipped)
        a_o += p_o*C; a_o = clip(a_o); o = f(a_o)       (o's peephole sees C_t)
        H = o * h(C)
  GRU:  z = f(clip(W_z x + R_z h + Wb_z + Rb_z)); r likewise
        lbr=0: h~ = g(clip(W_h x + R_h (r*h) + Rb_h + Wb_h))
        lbr=1: h~ = g(clip(W_h x + r*(R_h h + Rb_h) + Wb_h))
        H = (1 - z)*h~ + z*h
  RNN:  H = f(clip(Wx + Rh + Wb + Rb))
  clip applies to every gate pre-activation after bias and peephole, before the
  activation. reverse: t = T-1 .. 0, Y[t] holds the output computed at input t;
  Y_h = the last state computed (backward direction: the one at t = 0).
  bidirectional: the forward direction uses W[0], R[0], ...; the backward W[1], ...

Self-checks (assertions; the script fails if any does not hold)
===============================================================

- Every model passes onnx.checker.check_model(full_check=True) (strict shape inference).
- Every model is re-read from disk and run by a small NumPy interpreter of the ONNX ops
  it contains (Constant, Shape, Gather, Unsqueeze, Squeeze, Concat, ConstantOfShape,
  Slice, Transpose, Reshape, Gemm, MatMul, Add, Softmax, Sigmoid, LSTM, GRU, RNN); the
  result must equal expected_k (torch_: |diff| <= 1e-5; op_: bit-exact) and, for Y_h
  graphs, expected_final_k.
- torch_: the torch module's own output on each input equals expected_k (<= 1e-5), and
  the stored weights equal model/<name>/model.safetensors bit for bit.
- op_: the NumPy reference agrees with float64 torch (nn.LSTM / nn.GRU / nn.RNN,
  bidirectional, initial states, flipped sequences for reverse, input_forget via
  W_f = -W_i) where torch applies, and with onnx.backend.test.case.node's LSTM_Helper /
  GRU_Helper / RNN_Helper (forward-only helpers; reverse and bidirectional run them on
  flipped sequences; activations and clip by overriding the helper's f/g/h) everywhere
  else; and every variant really changes the output (vs the default attribute) by > 1e-2.

ONNX Runtime
============

After the self-checks, every fixture is run by ONNX Runtime (the npm package
onnxruntime-node, whose CPU library ships in the package: ``npm install
--ignore-scripts`` installs it, no postinstall download), through ``ort_run.js``
beside this script, on the same feeds; for Y_h fixtures also a copy whose node outputs
Y, for the per-step rows. Its outputs must equal expected_k (and expected_final_k)
within 1e-6; the max |diff| per fixture goes to the manifest's ``ort`` column. ONNX
Runtime refuses layout=1 (op_lstm_layout1: "refused", which the script asserts is the
only refusal). This makes ONNX Runtime an independent check of the torch exports, of
the NumPy reference's equations and of the activation_alpha/beta convention above.
``--ort DIR`` names the node_modules folder holding onnxruntime-node (default:
build/ort/node_modules at the repository root); ``--no-ort`` skips the check. The
package is a fixture-time tool only: never committed, not a test dependency.

Bad inputs
==========

``onnx_bad/README.txt`` lists each case; all must be rejected with a clear error (no
crash, no partial load). The LSTM they are built around is I=3, H=4.

Adversarial cases (``adversarial_fixtures``; add_missing_input ... slice_on_sequence):
X [T, 1, 3] -> LSTM -> Y [T, 1, 1, 4] -> Squeeze(axes [1, 2]) -> S [T, 4], then a twist
that a permissive importer would misread: one-input Add / output-less Identity, an int64
bias, B or initial_h or Gemm's C computed as ConstantOfShape zeros + constant, dead
MatMul / Sigmoid nodes after the live output, the sequence as Gemm's C, [5, 1] and
time-axis biases, a fixed [5, 1, 3] input that is five one-step sequences, layout as a
FLOAT and clip as an INT attribute, hidden_size 2**32 + 4, Gemm alpha NaN, Gather /
Slice on the time axis. Each README line starts with its validity, which the script
asserts: [malformed] check_model rejects it; [passes check_model; full_check ...] only
type/shape inference rejects it; [valid ONNX] check_model(full_check=True) passes (the
line says when the model is also only defined for some T). Where a misreading has the
same output shape, the script runs both through the NumPy interpreter and asserts that
they differ by > 1e-2.
"""

import io
import json
import os
import shutil
import subprocess
import sys
import tempfile
import warnings

import numpy as np
import onnx
import onnx.checker
import onnx.helper
import onnx.numpy_helper
import onnx.shape_inference
import torch
from onnx import TensorProto, helper, numpy_helper
from torch import nn

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import make_fixtures as mf  # noqa: E402  (Net, build_torch, readers, seeds, inputs)

OUT = os.path.join(HERE, "onnx")
BAD = os.path.join(HERE, "onnx_bad")
NATIVE = os.path.join(HERE, "model")
LENGTHS = mf.LENGTHS
OPSET = 14
IR_VERSION = 7

MANIFEST = []  # (name, streaming, output, kind, in_size, out_size, reference)
LOG = []
OPSEQ = {}  # fixture -> non-Constant op types in order
VERBOSE = "-v" in sys.argv


def note(msg):
    LOG.append(msg)


def assert_close(a, b, what, atol):
    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    assert a.shape == b.shape, (what, a.shape, b.shape)
    d = float(np.max(np.abs(a - b))) if a.size else 0.0
    note(f"check {what}: max|diff| = {d:.2e}")
    assert d <= atol, f"{what}: max|diff| {d:.3e} > {atol}"
    return d


# ==========================================================================
# NumPy reference of the ONNX LSTM / GRU / RNN operators (float64)
# ==========================================================================

ACT_PARAMS = {  # lower-case name -> (takes alpha, takes beta)
    "affine": (True, True), "relu": (False, False), "leakyrelu": (True, False),
    "thresholdedrelu": (True, False), "tanh": (False, False), "scaledtanh": (True, True),
    "sigmoid": (False, False), "hardsigmoid": (True, True), "elu": (True, False),
    "softsign": (False, False), "softplus": (False, False),
}
ACT_DEFAULTS = {"leakyrelu": (0.01, 0.0), "hardsigmoid": (0.2, 0.5), "elu": (1.0, 0.0)}
DEFAULT_ACTS = {"LSTM": ["Sigmoid", "Tanh", "Tanh"], "GRU": ["Sigmoid", "Tanh"], "RNN": ["Tanh"]}
NUM_GATES = {"LSTM": 4, "GRU": 3, "RNN": 1}


def act_function(name, a, b):
    n = name.lower()
    return {
        "affine": lambda x: a * x + b,
        "relu": lambda x: np.maximum(x, 0.0),
        "leakyrelu": lambda x: np.where(x >= 0, x, a * x),
        "thresholdedrelu": lambda x: np.where(x > a, x, 0.0),
        "tanh": np.tanh,
        "scaledtanh": lambda x: a * np.tanh(b * x),
        "sigmoid": lambda x: 1.0 / (1.0 + np.exp(-x)),
        "hardsigmoid": lambda x: np.minimum(np.maximum(a * x + b, 0.0), 1.0),
        "elu": lambda x: np.where(x >= 0, x, a * (np.exp(x) - 1.0)),
        "softsign": lambda x: x / (1.0 + np.abs(x)),
        "softplus": lambda x: np.log1p(np.exp(x)),
    }[n]


def resolve_activations(op, num_dirs, names, alphas, betas):
    """-> list (per direction) of lists of callables; onnxruntime's alpha/beta consumption."""
    per = len(DEFAULT_ACTS[op])
    if not names:
        names = DEFAULT_ACTS[op] * num_dirs
    assert len(names) == per * num_dirs, (op, names)
    ai, bi = 0, 0
    funcs = []
    resolved = []
    for n in names:
        key = n.lower()
        assert key in ACT_PARAMS, n
        need_a, need_b = ACT_PARAMS[key]
        da, db = ACT_DEFAULTS.get(key, (0.0, 0.0))
        a = b = 0.0
        if need_a:
            a = float(alphas[ai]) if ai < len(alphas) else da
            ai += 1 if ai < len(alphas) else 0
        if need_b:
            b = float(betas[bi]) if bi < len(betas) else db
            bi += 1 if bi < len(betas) else 0
        funcs.append(act_function(n, a, b))
        resolved.append((n, a, b))
    # the fixtures give exactly the values that are consumed
    assert ai == len(alphas) and bi == len(betas), (names, alphas, betas)
    return [funcs[d * per:(d + 1) * per] for d in range(num_dirs)], resolved


class ClipStats:
    def __init__(self):
        self.counts = {}

    def clamp(self, a, clip, tag):
        if clip is None:
            return a
        st = self.counts.setdefault(tag, [0, 0])
        st[0] += int(np.sum(np.abs(a) > clip))
        st[1] += a.size
        return np.clip(a, -clip, clip)


def onnx_recurrent(op, X, W, R, B=None, initial_h=None, initial_c=None, P=None, *,
                   hidden_size=None, direction="forward", layout=0, activations=None,
                   activation_alpha=(), activation_beta=(), clip=None, input_forget=0,
                   linear_before_reset=0, stats=None):
    """ONNX LSTM / GRU / RNN (no sequence_lens). Returns (Y, Y_h, Y_c) float64 in the
    op's output layouts (Y_c None unless LSTM)."""
    X = np.asarray(X, np.float64)
    W, R = np.asarray(W, np.float64), np.asarray(R, np.float64)
    D = 2 if direction == "bidirectional" else 1
    G = NUM_GATES[op]
    H = R.shape[-1]
    assert hidden_size is None or hidden_size == H
    assert W.shape[0] == D and W.shape[1] == G * H and R.shape == (D, G * H, H), (W.shape, R.shape)
    x = X if layout == 0 else np.swapaxes(X, 0, 1)  # -> [T, B, I]
    T, Bt, I = x.shape
    assert W.shape[2] == I
    B = np.zeros((D, 2 * G * H)) if B is None else np.asarray(B, np.float64)
    P = np.zeros((D, 3 * H)) if P is None else np.asarray(P, np.float64)
    stats = stats or ClipStats()
    if initial_h is None:
        h0 = np.zeros((D, Bt, H))
    else:
        h0 = np.asarray(initial_h, np.float64)
        h0 = h0 if layout == 0 else np.swapaxes(h0, 0, 1)
    if initial_c is None:
        c0 = np.zeros((D, Bt, H))
    else:
        c0 = np.asarray(initial_c, np.float64)
        c0 = c0 if layout == 0 else np.swapaxes(c0, 0, 1)
    acts, _ = resolve_activations(op, D, list(activations or []), list(activation_alpha),
                                  list(activation_beta))
    Y = np.zeros((T, D, Bt, H))
    Yh = np.zeros((D, Bt, H))
    Yc = np.zeros((D, Bt, H))
    for d in range(D):
        rev = direction == "reverse" or d == 1
        Wd, Rd = W[d], R[d]
        Wb, Rb = B[d][:G * H], B[d][G * H:]
        h, c = h0[d].copy(), c0[d].copy()
        for t in (range(T - 1, -1, -1) if rev else range(T)):
            xt = x[t]
            if op == "LSTM":
                fa, ga, ha = acts[d]
                a = xt @ Wd.T + h @ Rd.T + Wb + Rb
                a_i, a_o, a_f, a_c = (a[:, k * H:(k + 1) * H] for k in range(4))
                p_i, p_o, p_f = P[d][:H], P[d][H:2 * H], P[d][2 * H:]
                a_i = stats.clamp(a_i + p_i * c, clip, "i")
                a_f = stats.clamp(a_f + p_f * c, clip, "f")
                a_c = stats.clamp(a_c, clip, "c")
                i = fa(a_i)
                f = 1.0 - i if input_forget else fa(a_f)
                c = f * c + i * ga(a_c)
                o = fa(stats.clamp(a_o + p_o * c, clip, "o"))
                h = o * ha(c)
            elif op == "GRU":
                fa, ga = acts[d]
                xw = xt @ Wd.T + Wb
                hz = h @ Rd[:H].T + Rb[:H]
                hr = h @ Rd[H:2 * H].T + Rb[H:2 * H]
                z = fa(stats.clamp(xw[:, :H] + hz, clip, "z"))
                r = fa(stats.clamp(xw[:, H:2 * H] + hr, clip, "r"))
                if linear_before_reset:
                    a_h = xw[:, 2 * H:] + r * (h @ Rd[2 * H:].T + Rb[2 * H:])
                else:
                    a_h = xw[:, 2 * H:] + (r * h) @ Rd[2 * H:].T + Rb[2 * H:]
                hh = ga(stats.clamp(a_h, clip, "h"))
                h = (1.0 - z) * hh + z * h
            else:
                (fa,) = acts[d]
                h = fa(stats.clamp(xt @ Wd.T + h @ Rd.T + Wb + Rb, clip, "h"))
            Y[t, d] = h
        Yh[d], Yc[d] = h, c
    if layout == 1:
        Y = np.transpose(Y, (2, 0, 1, 3))  # [B, T, D, H]
        Yh = np.swapaxes(Yh, 0, 1)
        Yc = np.swapaxes(Yc, 0, 1)
    return Y, Yh, (Yc if op == "LSTM" else None)


def y_rows(Y, layout):
    """ONNX Y (batch 1) -> [T, D*H] rows [forward, backward]."""
    if layout == 1:
        Y = np.transpose(Y, (1, 2, 0, 3))  # [T, D, B, H]
    T, D, Bt, H = Y.shape
    assert Bt == 1
    return Y[:, :, 0, :].reshape(T, D * H)


def yh_row(Yh, layout):
    if layout == 1:
        Yh = np.swapaxes(Yh, 0, 1)  # [D, B, H]
    D, Bt, H = Yh.shape
    assert Bt == 1
    return Yh[:, 0, :].reshape(1, D * H)


# ==========================================================================
# Minimal NumPy interpreter for the ONNX graphs written here
# ==========================================================================

def attrs_of(node):
    out = {}
    for a in node.attribute:
        v = helper.get_attribute_value(a)
        if isinstance(v, bytes):
            v = v.decode("utf-8")
        elif isinstance(v, list) and v and isinstance(v[0], bytes):
            v = [s.decode("utf-8") for s in v]
        elif isinstance(v, TensorProto):
            v = numpy_helper.to_array(v)
        out[a.name] = v
    return out


def as_f64(a):
    a = np.asarray(a)
    return a.astype(np.float64) if a.dtype.kind == "f" else a


def run_graph(model, feeds):
    """Evaluate the graph in float64; returns {output name: array}."""
    g = model.graph
    assert [o.domain for o in model.opset_import] in ([""], ["ai.onnx"])
    env = {t.name: as_f64(numpy_helper.to_array(t)) for t in g.initializer}
    for i in g.input:
        if i.name not in env:
            env[i.name] = as_f64(feeds[i.name])
    for node in g.node:
        a = attrs_of(node)
        ins = [env[n] if n else None for n in node.input]
        op = node.op_type
        if op == "Constant":
            outs = [as_f64(a["value"])]
        elif op == "Identity":
            outs = [ins[0]]
        elif op == "Shape":
            outs = [np.array(ins[0].shape, dtype=np.int64)]
        elif op == "Gather":
            outs = [np.take(ins[0], ins[1].astype(np.int64), axis=a.get("axis", 0))]
        elif op == "Unsqueeze":
            y = ins[0]
            r = y.ndim + len(ins[1])
            for ax in sorted(int(v) % r for v in ins[1]):
                y = np.expand_dims(y, ax)
            outs = [y]
        elif op == "Squeeze":
            if len(ins) > 1 and ins[1] is not None:
                axes = tuple(int(v) % ins[0].ndim for v in ins[1])
                assert all(ins[0].shape[ax] == 1 for ax in axes)
                outs = [np.squeeze(ins[0], axis=axes)]
            else:
                outs = [np.squeeze(ins[0])]
        elif op == "Concat":
            outs = [np.concatenate(ins, axis=a["axis"])]
        elif op == "ConstantOfShape":
            v = a.get("value", np.zeros(1, np.float32))
            outs = [np.full(tuple(int(s) for s in ins[0]), as_f64(v).reshape(-1)[0], dtype=as_f64(v).dtype)]
        elif op == "Slice":
            x = ins[0]
            starts, ends = ins[1], ins[2]
            axes = ins[3] if len(ins) > 3 and ins[3] is not None else np.arange(len(starts))
            steps = ins[4] if len(ins) > 4 and ins[4] is not None else np.ones(len(starts), np.int64)
            sl = [slice(None)] * x.ndim
            for s, e, ax, st in zip(starts, ends, axes, steps):
                n = x.shape[int(ax)]
                s, e, st = int(s), int(e), int(st)
                s = max(min(s + n if s < 0 else s, n), 0)
                e = max(min(e + n if e < 0 else e, n), 0)
                sl[int(ax)] = slice(s, e, st)
            outs = [x[tuple(sl)]]
        elif op == "Transpose":
            outs = [np.transpose(ins[0], a.get("perm"))]
        elif op == "Reshape":
            assert not a.get("allowzero", 0)
            shp = [int(s) for s in ins[1]]
            shp = [ins[0].shape[k] if s == 0 else s for k, s in enumerate(shp)]
            outs = [ins[0].reshape(shp)]
        elif op == "Gemm":
            A, Bm = ins[0], ins[1]
            A = A.T if a.get("transA", 0) else A
            Bm = Bm.T if a.get("transB", 0) else Bm
            y = a.get("alpha", 1.0) * (A @ Bm)
            if len(ins) > 2 and ins[2] is not None:
                y = y + a.get("beta", 1.0) * ins[2]
            outs = [y]
        elif op == "MatMul":
            outs = [np.matmul(ins[0], ins[1])]
        elif op == "Add":
            outs = [ins[0] + ins[1]]
        elif op == "Softmax":
            ax = a.get("axis", -1)
            e = np.exp(ins[0] - np.max(ins[0], axis=ax, keepdims=True))
            outs = [e / np.sum(e, axis=ax, keepdims=True)]
        elif op == "Sigmoid":
            outs = [1.0 / (1.0 + np.exp(-ins[0]))]
        elif op in NUM_GATES:
            pad = ins + [None] * (8 - len(ins))
            assert pad[4] is None, "sequence_lens not supported by this interpreter"
            kw = dict(hidden_size=a.get("hidden_size"), direction=a.get("direction", "forward"),
                      layout=a.get("layout", 0), activations=a.get("activations"),
                      activation_alpha=a.get("activation_alpha", []),
                      activation_beta=a.get("activation_beta", []), clip=a.get("clip"))
            if op == "LSTM":
                kw["input_forget"] = a.get("input_forget", 0)
                outs = list(onnx_recurrent(op, pad[0], pad[1], pad[2], pad[3], pad[5], pad[6], pad[7], **kw))
            else:
                if op == "GRU":
                    kw["linear_before_reset"] = a.get("linear_before_reset", 0)
                Y, Yh, _ = onnx_recurrent(op, pad[0], pad[1], pad[2], pad[3], pad[5], **kw)
                outs = [Y, Yh]
        else:
            raise NotImplementedError(f"interpreter: op {op}")
        for name, v in zip(node.output, outs):
            if name:
                env[name] = v
    return {o.name: env[o.name] for o in g.output}


# ==========================================================================
# Writing
# ==========================================================================

def save_model(path, model):
    with open(path, "wb") as f:
        f.write(model.SerializeToString())


def load_model(path):
    with open(path, "rb") as f:
        return onnx.load_model_from_string(f.read())


def graph_input_shape(model):
    dims = model.graph.input[0].type.tensor_type.shape.dim
    return [d.dim_param or d.dim_value for d in dims]


def write_fixture(name, model, xs, ys, finals, *, output, streaming, reference, feed_shape, in_size):
    """feed_shape(x) -> the array fed to the graph; ys [T, out] float32 per sequence."""
    d = os.path.join(OUT, name)
    os.makedirs(d)
    onnx.checker.check_model(model, full_check=True)
    save_model(os.path.join(d, "model.onnx"), model)
    tokens = xs[0].dtype == np.int64
    for k, (x, y) in enumerate(zip(xs, ys)):
        T = LENGTHS[k]
        assert x.shape[0] == T and (x.ndim == 1 if tokens else (x.ndim == 2 and x.dtype == np.float32))
        assert y.dtype == np.float32 and y.ndim == 2 and y.shape[0] == T and np.all(np.isfinite(y))
        mf.save_npy(os.path.join(d, f"input_{k}.npy"), x)
        mf.save_npy(os.path.join(d, f"expected_{k}.npy"), y)
        if finals is not None:
            assert finals[k].dtype == np.float32 and finals[k].shape == (1, y.shape[1])
            mf.save_npy(os.path.join(d, f"expected_final_{k}.npy"), finals[k])
    MANIFEST.append((name, "yes" if streaming else "no", output, "tokens" if tokens else "float",
                     in_size, ys[0].shape[1], reference, feed_shape))


# ==========================================================================
# 1. torch.onnx.export fixtures
# ==========================================================================

TORCH_NAMES = ["lstm_1layer", "lstm_3layer", "lstm_nobias", "lstm_bidir", "gru_1layer", "gru_2layer",
               "gru_bidir", "rnn_tanh", "rnn_relu", "charlm", "lstm_head_sigmoid", "gru_head_identity"]


def load_native(name):
    d = os.path.join(NATIVE, name)
    assert os.path.isdir(d), f"{d} missing: run make_fixtures.py first"
    with open(os.path.join(d, "config.json")) as f:
        cfg = json.load(f)
    net = mf.build_torch(cfg, name)
    _, stored = mf.read_safetensors(os.path.join(d, "model.safetensors"))
    sd = net.state_dict()
    assert sorted(sd) == sorted(stored), name
    for k, v in sd.items():
        assert np.array_equal(v.numpy().astype(np.float64), stored[k]), (name, k)
    xs = [np.load(os.path.join(d, f"input_{k}.npy")) for k in range(3)]
    ys = [np.load(os.path.join(d, f"expected_{k}.npy")) for k in range(3)]
    return cfg, net, xs, ys


def export(module, example, time_axis, in_name="input", out_name="output"):
    f = io.BytesIO()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(module, (example,), f, opset_version=OPSET, input_names=[in_name],
                          output_names=[out_name], dynamic_axes={in_name: {time_axis: "T"},
                                                                 out_name: {time_axis: "T"}},
                          do_constant_folding=True)
    return onnx.load_model_from_string(f.getvalue())


class Batched(nn.Module):
    """[T, 1, I] (or tokens [T, 1]) -> rnn -> head -> [T, 1, N]; no squeeze glue."""

    def __init__(self, net):
        super().__init__()
        self.net = net

    def forward(self, x):
        n = self.net
        if hasattr(n, "embedding"):
            x = n.embedding(x)
        y, _ = n.rnn(x)
        if n.head_act is not None:
            y = n.head(y)
            if n.head_act == "softmax":
                y = torch.softmax(y, dim=-1)
            elif n.head_act == "sigmoid":
                y = torch.sigmoid(y)
        return y


class BatchFirstGRU(nn.Module):
    def __init__(self, gru):
        super().__init__()
        self.rnn = nn.GRU(gru.input_size, gru.hidden_size, batch_first=True)
        self.rnn.load_state_dict(gru.state_dict())

    def forward(self, x):
        y, _ = self.rnn(x)
        return y


def torch_export_fixture(fx_name, module, xs, ys, streaming, feed_shape, time_axis, in_size):
    module.eval()
    model = export(module, torch.from_numpy(feed_shape(xs[1])), time_axis)
    assert model.opset_import[0].version == OPSET
    for k, (x, y) in enumerate(zip(xs, ys)):
        with torch.no_grad():
            yt = module(torch.from_numpy(feed_shape(x))).numpy()
        assert_close(yt.reshape(y.shape), y, f"{fx_name}: torch module vs expected_{k}", atol=1e-5)
    OPSEQ[fx_name] = [n.op_type for n in model.graph.node if n.op_type != "Constant"]
    write_fixture(fx_name, model, xs, ys, None, output="Y", streaming=streaming, reference="torch",
                  feed_shape=feed_shape, in_size=in_size)


def torch_fixtures():
    for name in TORCH_NAMES:
        cfg, net, xs, ys = load_native(name)
        torch_export_fixture("torch_" + name, net, xs, ys, not cfg["bidirectional"], lambda x: x, 0,
                             cfg["input_size"])
    note("lstm_proj: not exported (torch 1.13's ONNX exporter rejects LSTM with proj_size > 0)")
    _, net, xs, ys = load_native("lstm_proj")
    try:
        export(net, torch.from_numpy(xs[1]), 0)
        raise AssertionError("lstm_proj export unexpectedly succeeded")
    except AssertionError:
        raise
    except Exception as e:  # noqa: BLE001  (the exporter's error type varies)
        note(f"lstm_proj export error: {type(e).__name__}: {str(e).splitlines()[0][:120]}")

    cfg, net, xs, ys = load_native("lstm_1layer")
    torch_export_fixture("torch_lstm_1layer_batched", Batched(net), xs, ys, True,
                         lambda x: x[:, None, :], 0, cfg["input_size"])
    cfg, net, xs, ys = load_native("gru_1layer")
    torch_export_fixture("torch_gru_1layer_batch_first", BatchFirstGRU(net.rnn), xs, ys, True,
                         lambda x: x[None, :, :], 1, cfg["input_size"])
    cfg, net, xs, ys = load_native("charlm")
    torch_export_fixture("torch_charlm_batched", Batched(net), xs, ys, True, lambda x: x[:, None], 0,
                         cfg["input_size"])


# ==========================================================================
# 2. Hand-built single-op models
# ==========================================================================

ONNX_LSTM_TO_TORCH = [0, 2, 3, 1]  # torch block j = onnx block perm[j] (i,o,f,c -> i,f,g,o)
ONNX_GRU_TO_TORCH = [1, 0, 2]      # z,r,h -> r,z,n


def reorder(a, n, perm):
    parts = np.split(np.asarray(a, np.float64), n, axis=0)
    return np.concatenate([parts[j] for j in perm], axis=0)


def make_tensor(name, arr):
    return numpy_helper.from_array(np.ascontiguousarray(arr.astype(np.float32)), name)


def build_rnn_model(op, tensors, attrs, *, I, H, D, layout=0, outputs=("Y",), const_inputs=(),
                    graph_name=None, opset=OPSET):
    """One recurrent node. tensors: W, R and optionally B, initial_h, initial_c, P."""
    order = ["X", "W", "R", "B", "sequence_lens", "initial_h"] + (["initial_c", "P"] if op == "LSTM" else [])
    node_in = [n if (n == "X" or n in tensors) else "" for n in order]
    while node_in[-1] == "":
        node_in.pop()
    node_out = [("Y" if "Y" in outputs else ""), ("Y_h" if "Y_h" in outputs else "")]
    while node_out[-1] == "":
        node_out.pop()
    nodes, inits = [], []
    for n in order:
        if n not in tensors:
            continue
        if n in const_inputs:
            nodes.append(helper.make_node("Constant", [], [n], value=make_tensor(n + "_value", tensors[n])))
        else:
            inits.append(make_tensor(n, tensors[n]))
    nodes.append(helper.make_node(op, node_in, node_out, name=op.lower() + "0", hidden_size=H, **attrs))
    xshape = ["T", 1, I] if layout == 0 else [1, "T", I]
    g_out = []
    if "Y" in outputs:
        g_out.append(helper.make_tensor_value_info("Y", TensorProto.FLOAT,
                                                   ["T", D, 1, H] if layout == 0 else [1, "T", D, H]))
    if "Y_h" in outputs:
        g_out.append(helper.make_tensor_value_info("Y_h", TensorProto.FLOAT, [D, 1, H] if layout == 0 else [1, D, H]))
    graph = helper.make_graph(nodes, graph_name or op.lower(),
                              [helper.make_tensor_value_info("X", TensorProto.FLOAT, xshape)], g_out, inits)
    model = helper.make_model(graph, producer_name="rnnserve make_onnx_fixtures.py",
                              opset_imports=[helper.make_opsetid("", opset)])
    model.ir_version = IR_VERSION
    return model


def gen_tensors(name, op, I, H, D, bias=True, peephole=False, init_state=False, r_scale=1.0):
    G = NUM_GATES[op]
    u = lambda shape, salt: mf.extra_uniform(name, shape, salt)
    t = {"W": u((D, G * H, I), 1), "R": (u((D, G * H, H), 2) * np.float32(r_scale)).astype(np.float32)}
    if bias:
        t["B"] = u((D, 2 * G * H), 3)
    if peephole:
        t["P"] = u((D, 3 * H), 4)
    if init_state:
        t["initial_h"] = u((D, 1, H), 5)
        if op == "LSTM":
            t["initial_c"] = u((D, 1, H), 6) * 2.0
    return t


def ref_run(op, t, x, attrs, layout=0, stats=None):
    """Reference on the float32-stored tensors; x [T, I] -> (rows [T, D*H], final [1, D*H])."""
    X = x[:, None, :] if layout == 0 else x[None, :, :]
    f64 = {k: v.astype(np.float64) for k, v in t.items()}
    kw = dict(attrs)
    assert kw.pop("layout", 0) == layout
    Y, Yh, _ = onnx_recurrent(op, X, f64["W"], f64["R"], f64.get("B"), f64.get("initial_h"),
                              f64.get("initial_c"), f64.get("P"), layout=layout, stats=stats, **kw)
    rows, final = y_rows(Y, layout), yh_row(Yh, layout)
    D = 2 if kw.get("direction") == "bidirectional" else 1
    H = rows.shape[1] // D
    # Y_h consistency: forward final = last row, backward final = row 0
    if kw.get("direction") == "reverse":
        assert np.array_equal(final[0], rows[0])
    else:
        assert np.array_equal(final[0, :H], rows[-1, :H])
    if D == 2:
        assert np.array_equal(final[0, H:], rows[0, H:])
    return rows, final


# ---- cross-check implementations -----------------------------------------

def torch_rnn_ref(op, t, x, attrs, layout=0):
    """float64 torch nn.LSTM/GRU/RNN built from ONNX tensors (default activations only)."""
    D = t["W"].shape[0]
    G = NUM_GATES[op]
    H = t["R"].shape[-1]
    I = t["W"].shape[-1]
    direction = attrs.get("direction", "forward")
    bidir = direction == "bidirectional"
    kw = dict(input_size=I, hidden_size=H, bidirectional=bidir, bias=True)
    if op == "LSTM":
        m, perm = nn.LSTM(**kw), ONNX_LSTM_TO_TORCH
    elif op == "GRU":
        assert attrs.get("linear_before_reset", 0) == 1
        m, perm = nn.GRU(**kw), ONNX_GRU_TO_TORCH
    else:
        acts = [a.lower() for a in attrs.get("activations", ["Tanh"])]
        m, perm = nn.RNN(nonlinearity=acts[0], **kw), [0]
    m = m.double()
    B = t.get("B", np.zeros((D, 2 * G * H)))
    with torch.no_grad():
        for d in range(D):
            sfx = "_reverse" if d == 1 else ""
            T_ = lambda a: torch.from_numpy(np.ascontiguousarray(a, dtype=np.float64))
            getattr(m, "weight_ih_l0" + sfx).copy_(T_(reorder(t["W"][d], G, perm)))
            getattr(m, "weight_hh_l0" + sfx).copy_(T_(reorder(t["R"][d], G, perm)))
            getattr(m, "bias_ih_l0" + sfx).copy_(T_(reorder(B[d][:G * H], G, perm)))
            getattr(m, "bias_hh_l0" + sfx).copy_(T_(reorder(B[d][G * H:], G, perm)))
        xs = torch.from_numpy(np.asarray(x, np.float64))
        if direction == "reverse":
            xs = torch.flip(xs, [0])
        state = None
        if "initial_h" in t:
            h0 = torch.from_numpy(t["initial_h"].astype(np.float64))
            state = (h0, torch.from_numpy(t["initial_c"].astype(np.float64))) if op == "LSTM" else h0
        y, _ = m(xs[:, None, :], state)
        y = y[:, 0, :]
        if direction == "reverse":
            y = torch.flip(y, [0])
    return y.numpy()


def helper_ref(op, t, x, attrs, layout=0):
    """onnx.backend.test.case.node helpers (forward-only, batch 1); flipped for reverse."""
    from onnx.backend.test.case.node.gru import GRU_Helper
    from onnx.backend.test.case.node.lstm import LSTM_Helper
    from onnx.backend.test.case.node.rnn import RNN_Helper
    direction = attrs.get("direction", "forward")
    D = t["W"].shape[0]
    acts_all, _ = resolve_activations(op, D, list(attrs.get("activations", [])),
                                             list(attrs.get("activation_alpha", [])),
                                             list(attrs.get("activation_beta", [])))
    clip = attrs.get("clip")
    cl = (lambda a: np.clip(a, -clip, clip)) if clip is not None else (lambda a: a)
    rows = []
    for d in range(D):
        rev = direction == "reverse" or d == 1
        sel = {k: np.asarray(v[d:d + 1], np.float64) for k, v in t.items()}
        xd = np.asarray(x, np.float64)[::-1] if rev else np.asarray(x, np.float64)
        X = xd[:, None, :] if layout == 0 else xd[None, :, :]
        fns = acts_all[d]
        if layout == 1:
            # onnx 1.12's helpers take batch_size from X.shape[1] BEFORE the layout swap, so
            # their default zero states get shape [T, H]: pass explicit states instead.
            H = t["R"].shape[-1]
            sel.setdefault("initial_h", np.zeros((1, 1, H)))
            if op == "LSTM":
                sel.setdefault("initial_c", np.zeros((1, 1, H)))
        if op == "LSTM":
            if attrs.get("input_forget"):
                H = t["R"].shape[-1]
                for key in ("W", "R"):
                    sel[key] = sel[key].copy()
                    sel[key][0, 2 * H:3 * H] = -sel[key][0, 0:H]
                if "B" in sel:
                    sel["B"] = sel["B"].copy()
                    for off in (0, 4 * H):
                        sel["B"][0, off + 2 * H:off + 3 * H] = -sel["B"][0, off:off + H]

            class Hlp(LSTM_Helper):
                def f(self, a):
                    return fns[0](cl(a))

                def g(self, a):
                    return fns[1](cl(a))

                def h(self, a):
                    return fns[2](a)
            res = Hlp(X=X, layout=layout, **sel).step()[0]
        elif op == "GRU":
            assert clip is None

            class Hlp(GRU_Helper):
                def f(self, a):
                    return fns[0](a)

                def g(self, a):
                    return fns[1](a)
            res = Hlp(X=X, layout=layout, linear_before_reset=attrs.get("linear_before_reset", 0), **sel).step()[0]
        else:
            assert clip is None

            class Hlp(RNN_Helper):
                def f(self, a):
                    return fns[0](a)
            res = Hlp(X=X, layout=layout, **sel).step()[0]
        r = y_rows(res, layout)
        rows.append(r[::-1] if rev else r)
    return np.concatenate(rows, axis=1)


# ---- the fixtures --------------------------------------------------------

def op_fixture(name, op, I, H, attrs, *, layout=0, outputs=("Y",), const_inputs=(), bias=True,
               peephole=False, init_state=False, torch_check=False, helper_check=True,
               variant_of=None, clip_stats=False, r_scale=1.0):
    """variant_of: attrs (or (attrs, tensor-edit fn)) of the 'default' model the variant must
    differ from (max|diff| > 1e-2 on the T=200 sequence)."""
    # float attributes are stored as float32 in the model: the reference uses those values
    f32 = lambda v: float(np.float32(v))
    attrs = {k: (f32(v) if isinstance(v, float) else
                 [f32(e) for e in v] if k in ("activation_alpha", "activation_beta") else v)
             for k, v in attrs.items()}
    direction = attrs.get("direction", "forward")
    D = 2 if direction == "bidirectional" else 1
    t = gen_tensors(name, op, I, H, D, bias=bias, peephole=peephole, init_state=init_state, r_scale=r_scale)
    xs = mf.make_inputs({"input_size": I}, name)
    stats = ClipStats()
    ys, finals = [], []
    for x in xs:
        rows, final = ref_run(op, t, x, attrs, layout, stats)
        ys.append(rows.astype(np.float32))
        finals.append(final.astype(np.float32))
    if clip_stats:
        for g, (n_clip, n_all) in sorted(stats.counts.items()):
            frac = n_clip / n_all
            note(f"{name}: clip={attrs['clip']:.7g}: gate {g}: {n_clip}/{n_all} = {frac:.0%} clipped")
            assert 0.05 < frac < 0.95, (name, g, frac)
        assert sorted(stats.counts) == sorted("iofc"), stats.counts
    for k, x in enumerate(xs):
        rows = ref_run(op, t, x, attrs, layout)[0]
        if torch_check:
            assert_close(rows, torch_rnn_ref(op, t, x, attrs, layout), f"{name}[{k}] numpy vs torch float64",
                         atol=1e-12)
        if helper_check:
            assert_close(rows, helper_ref(op, t, x, attrs, layout), f"{name}[{k}] numpy vs ONNX {op}_Helper",
                         atol=1e-12)
    if variant_of is not None:
        vattrs, vedit = variant_of if isinstance(variant_of, tuple) else (variant_of, None)
        vt = vedit(t) if vedit else t
        base = ref_run(op, vt, xs[2], vattrs, layout)[0]
        dv = float(np.max(np.abs(base - ys[2])))
        note(f"{name}: differs from its default-attribute model by up to {dv:.3f}")
        assert dv > 1e-2, (name, dv)
    note(f"{name}: max |output| = {max(float(np.max(np.abs(y))) for y in ys):.3f}")
    model = build_rnn_model(op, t, attrs, I=I, H=H, D=D, layout=layout, outputs=outputs,
                            const_inputs=const_inputs, graph_name=name)
    streaming = direction == "forward"
    out = "Y_h" if outputs == ("Y_h",) else "Y"
    feed = (lambda x: x[:, None, :]) if layout == 0 else (lambda x: x[None, :, :])
    write_fixture(name, model, xs, ys, finals if out == "Y_h" else None, output=out,
                  streaming=streaming, reference="numpy", feed_shape=feed, in_size=I)


def op_fixtures():
    drop = lambda *keys: (lambda t: {k: v for k, v in t.items() if k not in keys})

    op_fixture("op_lstm_peepholes", "LSTM", 4, 5, {}, peephole=True, const_inputs=("R",),
               variant_of=({}, drop("P")))
    op_fixture("op_lstm_clip", "LSTM", 4, 5, {"clip": 0.6}, peephole=True, clip_stats=True,
               variant_of={})
    op_fixture("op_lstm_input_forget", "LSTM", 4, 5, {"input_forget": 1}, variant_of={})
    op_fixture("op_lstm_layout1", "LSTM", 3, 4, {"layout": 1}, layout=1, torch_check=True)
    op_fixture("op_lstm_reverse", "LSTM", 4, 5, {"direction": "reverse"}, torch_check=True,
               variant_of={})
    op_fixture("op_lstm_bidirectional", "LSTM", 3, 4, {"direction": "bidirectional"}, torch_check=True)
    op_fixture("op_gru_linear_before_reset0", "GRU", 4, 5, {"linear_before_reset": 0},
               variant_of={"linear_before_reset": 1})
    op_fixture("op_gru_linear_before_reset1", "GRU", 4, 5, {"linear_before_reset": 1}, torch_check=True,
               const_inputs=("B",))
    op_fixture("op_gru_hardsigmoid", "GRU", 4, 5,
               {"activations": ["HardSigmoid", "Tanh"], "activation_alpha": [0.3], "activation_beta": [0.45]},
               variant_of={"activations": ["HardSigmoid", "Tanh"]})
    op_fixture("op_gru_bidirectional_activations", "GRU", 3, 4,
               {"direction": "bidirectional", "linear_before_reset": 1,
                "activations": ["Sigmoid", "ScaledTanh", "HardSigmoid", "Tanh"],
                "activation_alpha": [0.9, 0.25], "activation_beta": [1.3, 0.55]},
               variant_of={"direction": "bidirectional", "linear_before_reset": 1})
    op_fixture("op_rnn_relu", "RNN", 5, 4, {"activations": ["Relu"]}, torch_check=True,
               const_inputs=("B",), variant_of={}, r_scale=0.5)  # R halved: keeps |h| moderate
    op_fixture("op_rnn_tanh_yh", "RNN", 4, 6, {}, outputs=("Y_h",), torch_check=True)
    op_fixture("op_lstm_initial_state", "LSTM", 4, 5, {}, init_state=True, torch_check=True,
               variant_of=({}, drop("initial_h", "initial_c")))
    op_fixture("op_lstm_affine_activations", "LSTM", 4, 5,
               {"activations": ["Sigmoid", "LeakyRelu", "Affine"], "activation_alpha": [0.1, 0.8],
                "activation_beta": [0.05]},
               variant_of={})
    op_fixture("op_lstm_bidirectional_yh", "LSTM", 3, 4, {"direction": "bidirectional"}, outputs=("Y_h",),
               torch_check=True)
    # The four activations no fixture above uses; ONNX Runtime is their second reference.
    op_fixture("op_rnn_thresholdedrelu", "RNN", 4, 5,
               {"activations": ["ThresholdedRelu"], "activation_alpha": [0.3]},
               variant_of={"activations": ["Relu"]}, r_scale=0.5)
    op_fixture("op_lstm_elu_softsign", "LSTM", 4, 5,
               {"activations": ["Sigmoid", "Elu", "Softsign"], "activation_alpha": [0.7]},
               variant_of={})
    op_fixture("op_gru_softplus", "GRU", 4, 5, {"activations": ["Sigmoid", "Softplus"]},
               variant_of={})

    # The alpha convention matters: a positional reading differs from onnxruntime's.
    _, res = resolve_activations("LSTM", 1, ["Sigmoid", "LeakyRelu", "Affine"], [0.1, 0.8], [0.05])
    assert res == [("Sigmoid", 0.0, 0.0), ("LeakyRelu", 0.1, 0.0), ("Affine", 0.8, 0.05)], res
    # what a model with those float32 attributes resolves to (as the interpreter reads it)
    m = load_model(os.path.join(OUT, "op_lstm_affine_activations", "model.onnx"))
    a = attrs_of(m.graph.node[-1])
    _, res = resolve_activations("LSTM", 1, a["activations"], a["activation_alpha"], a["activation_beta"])
    note(f"op_lstm_affine_activations resolves to {res}")
    _, res = resolve_activations("GRU", 2, ["Sigmoid", "ScaledTanh", "HardSigmoid", "Tanh"], [0.9, 0.25],
                                 [1.3, 0.55])
    assert res[1] == ("ScaledTanh", 0.9, 1.3) and res[2] == ("HardSigmoid", 0.25, 0.55), res
    # HardSigmoid/LeakyRelu defaults (not used by any fixture; onnxruntime's values)
    _, res = resolve_activations("GRU", 1, ["HardSigmoid", "Tanh"], [], [])
    assert res[0] == ("HardSigmoid", 0.2, 0.5)


# ==========================================================================
# Verification of everything written
# ==========================================================================

def verify_all():
    for name, streaming, output, kind, isz, osz, ref, feed in MANIFEST:
        d = os.path.join(OUT, name)
        model = load_model(os.path.join(d, "model.onnx"))
        onnx.checker.check_model(model, full_check=True)
        assert model.opset_import[0].version == OPSET and model.opset_import[0].domain in ("", "ai.onnx")
        assert len(model.graph.input) == 1 and len(model.graph.output) == 1, name
        assert graph_input_shape(model).count("T") == 1, (name, graph_input_shape(model))
        rec = [n for n in model.graph.node if n.op_type in NUM_GATES]
        assert rec, name
        bidir = any(attrs_of(n).get("direction") == "bidirectional" for n in rec)
        reverse = any(attrs_of(n).get("direction") == "reverse" for n in rec)
        assert (streaming == "yes") == (not bidir and not reverse), name
        for k in range(3):
            x = np.load(os.path.join(d, f"input_{k}.npy"))
            y = np.load(os.path.join(d, f"expected_{k}.npy"))
            assert y.dtype == np.float32 and y.flags["C_CONTIGUOUS"] and y.shape == (LENGTHS[k], osz)
            assert x.dtype == (np.int64 if kind == "tokens" else np.float32)
            out = run_graph(model, {model.graph.input[0].name: feed(x)})
            (val,) = out.values()
            if output == "Y":
                if ref == "numpy":
                    layout = attrs_of(rec[0]).get("layout", 0)
                    got = y_rows(val, layout).astype(np.float32)
                    assert_close(got, y, f"{name}[{k}] graph interpreter vs expected", atol=0)
                else:
                    assert_close(val.reshape(y.shape), y, f"{name}[{k}] graph interpreter vs torch", atol=1e-5)
            else:
                fin = np.load(os.path.join(d, f"expected_final_{k}.npy"))
                assert fin.dtype == np.float32 and fin.shape == (1, osz)
                assert_close(yh_row(val, 0).astype(np.float32), fin, f"{name}[{k}] graph Y_h vs expected_final",
                             atol=0)
                # and the per-step rows: rerun the node with Y as output
                m2 = onnx.ModelProto()
                m2.CopyFrom(model)
                node = m2.graph.node[-1]
                node.output[0] = "Y"
                del m2.graph.output[:]
                m2.graph.output.append(helper.make_tensor_value_info("Y", TensorProto.FLOAT, None))
                Y = run_graph(m2, {model.graph.input[0].name: feed(x)})["Y"]
                assert_close(y_rows(Y, 0).astype(np.float32), y, f"{name}[{k}] graph Y vs expected", atol=0)


# ==========================================================================
# ONNX Runtime, the second reference
# ==========================================================================

ORT_TOLERANCE = 1e-6
ORT_RESULT = {}  # fixture -> the manifest's ort column


def ort_modules():
    """-> the node_modules folder with onnxruntime-node, or None for --no-ort."""
    if "--no-ort" in sys.argv:
        return None
    if "--ort" in sys.argv:
        folder = sys.argv[sys.argv.index("--ort") + 1]
    else:
        folder = os.path.join(HERE, "..", "..", "build", "ort", "node_modules")
    folder = os.path.abspath(folder)
    if not os.path.isdir(os.path.join(folder, "onnxruntime-node")):
        sys.exit(f"no onnxruntime-node in {folder}: run\n  npm install --ignore-scripts --prefix "
                 f"build/ort onnxruntime-node@1.30.0\nor pass --ort DIR, or --no-ort to skip the check")
    return folder


def ort_run(modules, model, feeds):
    """Runs `model` on each feed with ort_run.js; -> list of outputs, or None if refused."""
    with tempfile.TemporaryDirectory() as tmp:
        model_path = os.path.join(tmp, "model.onnx")
        save_model(model_path, model)
        args = ["node", os.path.join(HERE, "ort_run.js"), model_path]
        for k, feed in enumerate(feeds):
            np.save(os.path.join(tmp, f"in_{k}.npy"), np.ascontiguousarray(feed))
            args += [os.path.join(tmp, f"in_{k}.npy"), os.path.join(tmp, f"out_{k}.npy")]
        run = subprocess.run(args, env=dict(os.environ, NODE_PATH=modules), capture_output=True,
                             text=True)
        if run.returncode == 2:
            note(f"ONNX Runtime: {run.stderr.strip()[:200]}")
            return None
        assert run.returncode == 0, run.stderr
        return [np.load(os.path.join(tmp, f"out_{k}.npy")) for k in range(len(feeds))]


def with_y_output(model):
    """A copy of a Y_h graph whose (last, recurrent) node outputs Y instead."""
    m2 = onnx.ModelProto()
    m2.CopyFrom(model)
    node = m2.graph.node[-1]
    node.output[0] = "Y"
    del m2.graph.output[:]
    m2.graph.output.append(helper.make_tensor_value_info("Y", TensorProto.FLOAT, None))
    return m2


def ort_check_all(modules):
    for name, streaming, output, kind, isz, osz, ref, feed in MANIFEST:
        if modules is None:
            ORT_RESULT[name] = "not run"
            continue
        d = os.path.join(OUT, name)
        model = load_model(os.path.join(d, "model.onnx"))
        xs = [np.load(os.path.join(d, f"input_{k}.npy")) for k in range(3)]
        ys = [np.load(os.path.join(d, f"expected_{k}.npy")) for k in range(3)]
        rec = [n for n in model.graph.node if n.op_type in NUM_GATES]
        layout = attrs_of(rec[0]).get("layout", 0)
        per_step = model if output == "Y" else with_y_output(model)
        outs = ort_run(modules, per_step, [feed(x) for x in xs])
        if outs is None:
            assert layout == 1, f"ONNX Runtime refused {name}, which is not layout=1"
            ORT_RESULT[name] = "refused"
            continue
        diff = 0.0
        for k, (val, y) in enumerate(zip(outs, ys)):
            got = y_rows(val, layout) if ref == "numpy" else val.reshape(y.shape)
            diff = max(diff, assert_close(got, y, f"{name}[{k}] ONNX Runtime vs expected", ORT_TOLERANCE))
        if output == "Y_h":
            finals = ort_run(modules, model, [feed(x) for x in xs])
            for k, val in enumerate(finals):
                fin = np.load(os.path.join(d, f"expected_final_{k}.npy"))
                diff = max(diff, assert_close(yh_row(val, layout), fin,
                                              f"{name}[{k}] ONNX Runtime Y_h vs expected_final",
                                              ORT_TOLERANCE))
        ORT_RESULT[name] = f"{diff:.1e}"
        note(f"{name}: ONNX Runtime agrees within {diff:.1e}")
    refused = [n for n, r in ORT_RESULT.items() if r == "refused"]
    assert modules is None or refused == ["op_lstm_layout1"], refused


# ==========================================================================
# 3. Bad inputs
# ==========================================================================

def bad_fixtures():
    os.makedirs(BAD)
    I, H = 3, 4
    name = "bad_base"
    readme = ["Broken or unsupported ONNX models (each <case>/model.onnx); the loader must reject every one "
              "with a clear error naming the problem (no crash, no partial load). Base: one LSTM, I=3, H=4, "
              "X [T, 1, 3] -> Y [T, 1, 1, 4], opset 14. From add_missing_input on (adversarial cases: "
              "each says why an importer must refuse it), Y continues through Squeeze(axes [1, 2]) -> S [T, 4]."]

    def good(**kw):
        t = gen_tensors(name, "LSTM", I, H, 1)
        return t, build_rnn_model("LSTM", t, {}, I=I, H=H, D=1, **kw)

    def case(cname, what, model=None, raw=None, check=True):
        d = os.path.join(BAD, cname)
        os.makedirs(d)
        p = os.path.join(d, "model.onnx")
        if raw is not None:
            with open(p, "wb") as f:
                f.write(raw)
        else:
            if check:
                onnx.checker.check_model(model)  # structurally valid ONNX; the defect is semantic
            save_model(p, model)
        readme.append(f"{cname}/: {what}")

    # unsupported op after the LSTM
    _, m = good()
    g = m.graph
    g.node.append(helper.make_node("Erf", ["Y"], ["Z"]))
    g.output[0].name = "Z"
    case("unsupported_op", "valid ONNX, LSTM -> Erf -> output: Erf is not a supported op", m)

    # W names nothing
    _, m = good()
    m.graph.node[-1].input[1] = "W_missing"
    case("missing_initializer", "the LSTM's W input is 'W_missing': no initializer, Constant, graph input or node "
         "produces it", m, check=False)

    # R with the wrong hidden dimension
    t = gen_tensors(name, "LSTM", I, H, 1)
    t["R"] = mf.extra_uniform(name, (1, 4 * H, H + 1), 9)
    m = build_rnn_model("LSTM", t, {}, I=I, H=H, D=1)
    case("shape_mismatch", f"hidden_size={H} but R is [1, {4 * H}, {H + 1}] (should be [1, {4 * H}, {H}])", m)

    # truncated
    _, m = good()
    raw = m.SerializeToString()
    case("truncated", f"a valid model.onnx ({len(raw)} bytes) cut to its first {len(raw) // 2} bytes",
         raw=raw[:len(raw) // 2])
    try:
        onnx.load_model_from_string(raw[:len(raw) // 2])
        raise AssertionError("truncated model still parses")
    except AssertionError:
        raise
    except Exception:  # noqa: BLE001  (protobuf DecodeError)
        pass

    case("not_onnx", "a text file named model.onnx",
         raw=b"This is not an ONNX model, just text in a file called model.onnx.\n")

    # opset 3
    t = gen_tensors(name, "LSTM", I, H, 1)
    m = build_rnn_model("LSTM", t, {}, I=I, H=H, D=1, opset=3)  # ir_version stays 7
    case("wrong_opset", "opset_import ai.onnx version 3 (LSTM-1 semantics; supported: 14 or a documented range)",
         m, check=False)

    # custom domain
    _, m = good()
    g = m.graph
    g.node.append(helper.make_node("Gelu", ["Y"], ["Z"], domain="com.microsoft"))
    g.output[0].name = "Z"
    m.opset_import.append(helper.make_opsetid("com.microsoft", 1))
    case("custom_domain", "opset_import has domain com.microsoft and a com.microsoft::Gelu node after the LSTM", m,
         check=False)

    # external data
    t, m = good()
    for init in m.graph.initializer:
        if init.name == "W":
            nbytes = len(init.raw_data)
            init.ClearField("raw_data")
            init.data_location = TensorProto.EXTERNAL
            for k, v in (("location", "W.bin"), ("offset", "0"), ("length", str(nbytes))):
                e = init.external_data.add()
                e.key, e.value = k, v
    case("external_data", "initializer W has data_location EXTERNAL (location W.bin, deliberately absent): "
         "refused, NOT_FOUND naming the file (onnx_external_data_test.cc, not BadOnnxTest)", m, check=False)

    # two inputs concatenated
    t = gen_tensors(name, "LSTM", I + 1, H, 1)
    m = build_rnn_model("LSTM", t, {}, I=I + 1, H=H, D=1)
    g = m.graph
    del g.input[:]
    g.input.extend([helper.make_tensor_value_info("X1", TensorProto.FLOAT, ["T", 1, 2]),
                    helper.make_tensor_value_info("X2", TensorProto.FLOAT, ["T", 1, I + 1 - 2])])
    g.node.insert(0, helper.make_node("Concat", ["X1", "X2"], ["X"], axis=2))
    case("two_inputs_concat", "two graph inputs X1 [T,1,2] and X2 [T,1,2] concatenated into the LSTM's X: "
         "a model must have exactly one input", m)

    adversarial_fixtures(readme)

    with open(os.path.join(BAD, "README.txt"), "w") as f:
        f.write("\n".join(readme) + "\n")


# ---- adversarial cases ---------------------------------------------------
#
# Models an importer must REFUSE although most of them are valid ONNX: each is a small
# twist on a graph rnnserve accepts, and a permissive reading (pattern-matching the
# glue, reading an attribute's wrong field, truncating an integer, following the last
# node instead of the graph output, treating a fixed leading dimension as time, ...)
# would compute something other than what ONNX defines, or crash. The base graph:
#   X float [T, 1, 3] -> LSTM (hidden_size 4, layout 0, W/R/B initializers)
#     -> Y [T, 1, 1, 4] -> Squeeze(axes [1, 2]) -> S [T, 4]
# then the variant. Validity is asserted, so a case cannot silently drift:
#   "valid"     onnx.checker.check_model(full_check=True) passes (static shapes; a
#               README line says when a run-time shape condition also applies);
#   "inference" check_model passes, full_check's type/shape inference rejects it;
#   "malformed" check_model itself rejects it.

ADV_I, ADV_H, ADV_NAME = 3, 4, "bad_base"


def adv_lstm(*, B="B", initial_h=None, hidden_size=ADV_H, x="X", squeeze_axes=(1, 2)):
    """-> (nodes, initializers) computing S from x (see above)."""
    t = gen_tensors(ADV_NAME, "LSTM", ADV_I, ADV_H, 1)
    inits = [make_tensor("W", t["W"]), make_tensor("R", t["R"])]
    if B == "B":
        inits.append(make_tensor("B", t["B"]))
    ins = [x, "W", "R", B] + (["", initial_h] if initial_h else [])
    nodes = [helper.make_node("LSTM", ins, ["Y"], name="lstm0", hidden_size=hidden_size, layout=0),
             helper.make_node("Constant", [], ["sq_axes"], name="sq_axes",
                              value=numpy_helper.from_array(np.array(squeeze_axes, np.int64), "sq_axes_value")),
             helper.make_node("Squeeze", ["Y", "sq_axes"], ["S"], name="squeeze0")]
    return nodes, inits


def adv_model(name, nodes, inits, out, out_shape, *, xshape=("T", 1, ADV_I), value_info=()):
    graph = helper.make_graph(nodes, name, [helper.make_tensor_value_info("X", TensorProto.FLOAT, list(xshape))],
                              [helper.make_tensor_value_info(out, TensorProto.FLOAT, out_shape)], inits,
                              value_info=list(value_info))
    model = helper.make_model(graph, producer_name="rnnserve make_onnx_fixtures.py",
                              opset_imports=[helper.make_opsetid("", OPSET)])
    model.ir_version = IR_VERSION
    return model


def adversarial_fixtures(readme):
    u = lambda shape, salt: mf.extra_uniform(ADV_NAME, shape, salt)
    f32 = lambda name, arr: make_tensor(name, np.asarray(arr, np.float32))
    const = lambda name, arr: helper.make_node("Constant", [], [name], name=name,
                                               value=numpy_helper.from_array(np.asarray(arr), name + "_value"))
    x_all = mf.make_inputs({"input_size": ADV_I}, ADV_NAME)
    feeds = [{"X": x[:, None, :]} for x in x_all]  # T = 1, 7, 200

    def run(model, feed):
        (v,) = run_graph(model, feed).values()
        return v

    def differs(model, alt, what, feed_list=feeds):
        """ONNX's result (model) vs the misreading (alt), same shapes: must differ."""
        d = max(float(np.max(np.abs(run(model, f) - run(alt, f)))) for f in feed_list)
        note(f"onnx_bad adversarial: {what}: ONNX result differs from the misreading by up to {d:.3f}")
        assert d > 1e-2, (what, d)

    def case(cname, validity, what, model):
        if validity == "malformed":
            try:
                onnx.checker.check_model(model)
                raise AssertionError(f"{cname}: check_model accepted a malformed model")
            except onnx.checker.ValidationError as e:
                note(f"{cname}: check_model: {str(e).splitlines()[0][:150]}")
            tag = "[malformed: onnx.checker.check_model rejects it]"
        else:
            onnx.checker.check_model(model)
            if validity == "inference":
                try:
                    onnx.checker.check_model(model, full_check=True)
                    raise AssertionError(f"{cname}: full_check accepted it")
                except (onnx.checker.ValidationError, onnx.shape_inference.InferenceError) as e:
                    note(f"{cname}: full_check: {str(e).splitlines()[0][:150]}")
                tag = "[passes check_model; full_check's inference rejects it]"
            else:
                assert validity == "valid", validity
                onnx.checker.check_model(model, full_check=True)
                tag = "[valid ONNX: passes check_model(full_check=True)]"
        d = os.path.join(BAD, cname)
        os.makedirs(d)
        save_model(os.path.join(d, "model.onnx"), model)
        # bytes, not messages: NaN != NaN
        assert load_model(os.path.join(d, "model.onnx")).SerializeToString() == model.SerializeToString()
        readme.append(f"{cname}/: {tag} {what}")

    W1_45, b1_5 = u((4, 5), 11), u((5,), 12)
    W2_45 = u((4, 5), 13)
    W1_44, b1_4 = u((4, 4), 14), u((4,), 15)
    S_shape = ["T", ADV_H]

    # 1. Add with a single input
    nodes, inits = adv_lstm()
    nodes.append(helper.make_node("Add", ["S"], ["Z"], name="add0"))
    case("add_missing_input", "malformed",
         "S -> Add with ONE input (Add needs two) -> output: an importer that reads input(1) "
         "unchecked reads past the node's inputs (crash) or invents a zero bias", adv_model(
             "add_missing_input", nodes, inits, "Z", S_shape))

    # 2. Identity with no output
    nodes, inits = adv_lstm()
    nodes.append(helper.make_node("Identity", ["S"], [], name="identity0"))
    case("identity_no_output", "malformed",
         "a node Identity(S) with NO outputs (Identity needs one), graph output S: an importer that "
         "reads output(0) unchecked crashes; the node is not a valid ONNX node",
         adv_model("identity_no_output", nodes, inits, "S", S_shape))

    # 3. int64 bias on a float MatMul
    nodes, inits = adv_lstm()
    nodes += [helper.make_node("MatMul", ["S", "W1"], ["M"], name="matmul0"),
              helper.make_node("Add", ["M", "b_int"], ["Z"], name="add0")]
    inits += [f32("W1", W1_45), numpy_helper.from_array(np.array([1, -2, 3, -4, 5], np.int64), "b_int")]
    case("integer_bias", "inference",
         "S -> MatMul(S, W1 float [4,5]) -> Add(., b_int int64 [5]) -> output: Add's inputs must "
         "share one type; reading the int64 bytes as float (or casting them) computes a bias ONNX "
         "does not define", adv_model("integer_bias", nodes, inits, "Z", ["T", 5]))

    # 4. LSTM B = zeros + B_init
    t = gen_tensors(ADV_NAME, "LSTM", ADV_I, ADV_H, 1)
    nodes, inits = adv_lstm(B="B_sum")
    nodes[:0] = [const("B_shape", np.array([1, 8 * ADV_H], np.int64)),
                 helper.make_node("ConstantOfShape", ["B_shape"], ["B_zeros"], name="B_zeros",
                                  value=numpy_helper.from_array(np.zeros(1, np.float32), "zero")),
                 helper.make_node("Add", ["B_zeros", "B_init"], ["B_sum"], name="B_add")]
    inits.append(make_tensor("B_init", t["B"]))
    m = adv_model("bias_from_zeros_plus_constant", nodes, inits, "S", S_shape)
    n0, i0 = adv_lstm(B="")
    differs(m, adv_model("zero_bias", n0, i0, "S", S_shape), "bias_from_zeros_plus_constant vs zero B")
    case("bias_from_zeros_plus_constant", "valid",
         "the LSTM's B = Add(ConstantOfShape([1, 32]) zeros, B_init [1, 32] nonzero): B is NOT zero; "
         "an importer that takes a ConstantOfShape-derived operand for torch's all-zero pattern runs "
         "without the bias, and weights must be initializers/Constants anyway", m)

    # 5. initial_h = zeros + 1
    nodes, inits = adv_lstm(initial_h="h0")
    nodes[:0] = [const("h0_shape", np.array([1, 1, ADV_H], np.int64)),
                 helper.make_node("ConstantOfShape", ["h0_shape"], ["h0_zeros"], name="h0_zeros",
                                  value=numpy_helper.from_array(np.zeros(1, np.float32), "zero")),
                 const("one", np.array(1.0, np.float32)),
                 helper.make_node("Add", ["h0_zeros", "one"], ["h0"], name="h0_add")]
    m = adv_model("initial_h_zeros_plus_one", nodes, inits, "S", S_shape)
    n0, i0 = adv_lstm()
    differs(m, adv_model("zero_state", n0, i0, "S", S_shape), "initial_h_zeros_plus_one vs zero initial_h")
    case("initial_h_zeros_plus_one", "valid",
         "initial_h = Add(ConstantOfShape([1, 1, 4]) zeros, Constant 1.0): every session must start "
         "from h = 1, not 0; an importer that sees torch's ConstantOfShape zero-state pattern and "
         "drops the Add starts from zeros", m)

    # 6. dead second MatMul (after the live one)
    nodes, inits = adv_lstm()
    nodes += [helper.make_node("MatMul", ["S", "W1"], ["Z"], name="matmul_live"),
              helper.make_node("MatMul", ["S", "W2"], ["Z_dead"], name="matmul_dead")]
    inits += [f32("W1", W1_45), f32("W2", W2_45)]
    m = adv_model("dead_second_matmul", nodes, inits, "Z", ["T", 5],
                  value_info=[helper.make_tensor_value_info("Z_dead", TensorProto.FLOAT, ["T", 5])])
    alt = onnx.ModelProto()
    alt.CopyFrom(m)
    alt.graph.output[0].name = "Z_dead"
    differs(m, alt, "dead_second_matmul: graph output vs the last node")
    case("dead_second_matmul", "valid",
         "output Z = MatMul(S, W1 [4,5]); the LAST node is an unused MatMul(S, W2 [4,5]) -> Z_dead "
         "(declared in value_info, consumed by nothing): same shape, other weights; ACCEPT: a correct "
         "importer computes the graph output S.W1 and ignores the dead node; one that follows the "
         "chain to the last node (or the last MatMul) serves S.W2", m)

    # 7. dead Sigmoid after the Gemm
    nodes, inits = adv_lstm()
    nodes += [helper.make_node("Gemm", ["S", "W1", "b1"], ["G"], name="gemm0"),
              helper.make_node("Sigmoid", ["G"], ["G_sigmoid"], name="sigmoid_dead")]
    inits += [f32("W1", W1_45), f32("b1", b1_5)]
    m = adv_model("dead_sigmoid", nodes, inits, "G", ["T", 5])
    alt = onnx.ModelProto()
    alt.CopyFrom(m)
    alt.graph.output[0].name = "G_sigmoid"
    differs(m, alt, "dead_sigmoid: Gemm output vs Sigmoid(Gemm)")
    case("dead_sigmoid", "valid",
         "output G = Gemm(S, W1 [4,5], b1 [5]); an unused Sigmoid(G) -> G_sigmoid dangles after it: "
         "the head has NO activation; ACCEPT: a correct importer computes G and ignores the dead "
         "Sigmoid; one that reads Gemm -> Sigmoid as a sigmoid head (as in "
         "torch_lstm_head_sigmoid) squashes the output", m)

    # 8. Gemm C computed at run time
    nodes, inits = adv_lstm()
    nodes += [const("C_shape", np.array([ADV_H], np.int64)),
              helper.make_node("ConstantOfShape", ["C_shape"], ["C_zeros"], name="C_zeros",
                               value=numpy_helper.from_array(np.zeros(1, np.float32), "zero")),
              helper.make_node("Add", ["b1", "C_zeros"], ["C"], name="C_add"),
              helper.make_node("Gemm", ["S", "W1", "C"], ["Z"], name="gemm0")]
    inits += [f32("W1", W1_44), f32("b1", b1_4)]
    m = adv_model("gemm_c_not_constant", nodes, inits, "Z", S_shape)
    n0, i0 = adv_lstm()
    n0.append(helper.make_node("Gemm", ["S", "W1"], ["Z"], name="gemm0"))
    differs(m, adv_model("gemm_no_c", n0, i0 + [f32("W1", W1_44)], "Z", S_shape), "gemm_c_not_constant vs C = 0")
    case("gemm_c_not_constant", "valid",
         "Gemm(S, W1 [4,4], C) with C = Add(b1 [4], ConstantOfShape([4]) zeros): C equals b1, "
         "computed at run time; Gemm's C must be a float initializer, and an importer that drops "
         "a non-initializer C (or takes the zeros) loses the bias", m)

    # 9. the data path as Gemm's C
    nodes, inits = adv_lstm()
    nodes += [const("A", u((1, ADV_H), 16)),
              helper.make_node("Gemm", ["A", "Wg", "S"], ["Z"], name="gemm0")]
    inits += [f32("Wg", W1_44)]
    m = adv_model("gemm_data_as_c", nodes, inits, "Z", S_shape)
    assert run(m, feeds[0]).shape == (1, ADV_H)  # T = 1: the one defined case
    case("gemm_data_as_c", "valid",
         "Gemm(A = Constant [1,4], B = Wg [4,4], C = S [T,4]) -> output: the sequence enters as C, "
         "not A; ONNX requires C to broadcast unidirectionally to (M, N) = (1, 4), so the model is "
         "only defined for T = 1 (for T > 1 ONNX has no result, NOT 'A.Wg + S[t]' per step); an "
         "importer that assigns Gemm's roles by which operand is data serves A.Wg + S[t] anyway", m)

    # 10. bias [5, 1]
    nodes, inits = adv_lstm()
    nodes += [helper.make_node("MatMul", ["S", "W1"], ["M"], name="matmul0"),
              helper.make_node("Add", ["M", "b51"], ["Z"], name="add0")]
    inits += [f32("W1", W1_45), f32("b51", b1_5.reshape(5, 1))]
    m = adv_model("bias_wrong_shape", nodes, inits, "Z", [5, 5])
    assert run(m, feeds[0]).shape == (5, 5) and run(m, {"X": x_all[2][:5, None, :]}).shape == (5, 5)
    case("bias_wrong_shape", "valid",
         "MatMul(S, W1 [4,5]) -> M [T,5] + bias b [5,1] -> output: broadcasting gives [5,5] "
         "(Z[i, j] = M[i, j] + b[i] for T = 5, M[0, j] + b[i] for T = 1) and nothing for other T; "
         "an importer that flattens the bias to [5] adds b[j] per feature, which is not this model", m)

    # 11. bias along the time axis
    nodes, inits = adv_lstm()
    nodes += [helper.make_node("MatMul", ["S", "W1"], ["M"], name="matmul0"),
              helper.make_node("Transpose", ["M"], ["Mt"], name="transpose0", perm=[1, 0]),
              helper.make_node("Add", ["Mt", "b_t"], ["Zt"], name="add0"),
              helper.make_node("Transpose", ["Zt"], ["Z"], name="transpose1", perm=[1, 0])]
    inits += [f32("W1", W1_45), f32("b_t", b1_5)]
    m = adv_model("bias_on_time_axis", nodes, inits, "Z", ["T", 5])
    n0, i0 = adv_lstm()
    n0 += [helper.make_node("MatMul", ["S", "W1"], ["M"], name="matmul0"),
           helper.make_node("Add", ["M", "b_t"], ["Z"], name="add0")]
    x5 = x_all[2][:5]  # 5 steps of the T = 200 input
    differs(m, adv_model("feature_bias", n0, i0 + [f32("W1", W1_45), f32("b_t", b1_5)], "Z", ["T", 5]),
            "bias_on_time_axis vs a per-feature bias (T = 5)", feed_list=[{"X": x5[:, None, :]}])
    case("bias_on_time_axis", "valid",
         "MatMul(S, W1 [4,5]) -> Transpose(1,0) [5,T] -> Add(b [5]) -> Transpose(1,0) -> output "
         "[T,5]: the [5] bias broadcasts over the LAST axis, which is TIME here, so step t gets b[t] "
         "(defined only for T in {1, 5}); an importer that sees Transpose-Add-Transpose as a "
         "feature bias adds b[j] to feature j instead", m)

    # 12. a fixed batch of five one-step sequences
    nodes, inits = adv_lstm(x="Xt", squeeze_axes=(0, 1))
    nodes.insert(0, helper.make_node("Transpose", ["X"], ["Xt"], name="transpose0", perm=[1, 0, 2]))
    m = adv_model("fixed_batch_of_five", nodes, inits, "S", [5, ADV_H], xshape=(5, 1, ADV_I))
    n0, i0 = adv_lstm()
    x5 = x_all[2][:5]  # 5 steps of the T = 200 input
    differs(m, adv_model("five_steps", n0, i0, "S", S_shape), "fixed_batch_of_five vs 5 steps of one sequence",
            feed_list=[{"X": x5[:, None, :]}])
    case("fixed_batch_of_five", "valid",
         "X float [5, 1, 3] (fixed, no dim_param) -> Transpose(1,0,2) -> [1, 5, 3] -> LSTM -> Y "
         "[1, 1, 5, 4] -> Squeeze(axes [0, 1]) -> S [5, 4]: FIVE independent one-step sequences "
         "(each from the zero state), not one sequence of five steps; there is no time axis to "
         "stream over", m)

    # 13. layout as FLOAT
    nodes, inits = adv_lstm()
    lstm = nodes[0]
    keep = [a for a in lstm.attribute if a.name != "layout"]
    del lstm.attribute[:]
    lstm.attribute.extend(keep)
    lstm.attribute.append(onnx.AttributeProto(name="layout", type=onnx.AttributeProto.FLOAT, f=1.0))
    case("layout_as_float", "malformed",
         "the LSTM's layout is a FLOAT attribute 1.0 (must be INT): reading its int field gives "
         "layout 0, reading the value gives layout 1 (X [T,1,3] would be T sequences of one step); "
         "the type is wrong and neither reading is ONNX",
         adv_model("layout_as_float", nodes, inits, "S", S_shape))

    # 14. clip as INT
    nodes, inits = adv_lstm()
    nodes[0].attribute.append(onnx.AttributeProto(name="clip", type=onnx.AttributeProto.INT, i=1))
    case("clip_as_int", "malformed",
         "the LSTM's clip is an INT attribute 1 (must be FLOAT): reading its float field gives "
         "clip 0.0 (every gate clamped to 0, or 'no clip'), reading the value gives 1.0; the type is "
         "wrong and no reading is ONNX", adv_model("clip_as_int", nodes, inits, "S", S_shape))

    # 15. hidden_size past 32 bits
    nodes, inits = adv_lstm(hidden_size=2 ** 32 + ADV_H)
    case("hidden_size_overflow", "inference",
         f"hidden_size = 2**32 + 4 = {2 ** 32 + ADV_H} with W/R/B for hidden size 4: the tensors "
         "disagree with hidden_size; an importer that narrows the int64 attribute to 32 bits reads "
         "4 and accepts it (or sizes buffers from the huge value and crashes)",
         adv_model("hidden_size_overflow", nodes, inits, "S", S_shape))

    # 16. NaN alpha
    nodes, inits = adv_lstm()
    nodes.append(helper.make_node("Gemm", ["S", "W1", "b1"], ["Z"], name="gemm0", alpha=float("nan")))
    inits += [f32("W1", W1_45), f32("b1", b1_5)]
    m = adv_model("nan_gemm_alpha", nodes, inits, "Z", ["T", 5])
    for f in feeds:
        assert np.all(np.isnan(run(m, f)))
    case("nan_gemm_alpha", "valid",
         "Gemm(S, W1 [4,5], b1 [5], alpha = NaN) -> output: ONNX defines every output as NaN; a "
         "non-finite alpha is not a model to serve, and an importer that folds alpha into the "
         "weights or skips scaling on an 'alpha != 1' test gets NaN weights or a finite wrong answer", m)

    # 17. Gather the last step
    nodes, inits = adv_lstm()
    nodes += [const("last", np.array(-1, np.int64)),
              helper.make_node("Gather", ["S", "last"], ["Z"], name="gather0", axis=0)]
    m = adv_model("gather_last_step", nodes, inits, "Z", [ADV_H])
    assert run(m, feeds[1]).shape == (ADV_H,)
    case("gather_last_step", "valid",
         "Gather(S, Constant int64 scalar -1, axis 0) -> output [4]: the output is the LAST step "
         "only, with no time axis; Gather may not select from the sequence, and a streaming "
         "importer would emit one row per step (or the first step for an index it misreads)", m)

    # 18. Slice of the sequence
    nodes, inits = adv_lstm()
    nodes += [const("sl_starts", np.array([0], np.int64)), const("sl_ends", np.array([3], np.int64)),
              const("sl_axes", np.array([0], np.int64)),
              helper.make_node("Slice", ["S", "sl_starts", "sl_ends", "sl_axes"], ["Z"], name="slice0")]
    m = adv_model("slice_on_sequence", nodes, inits, "Z", [None, ADV_H])
    assert [run(m, f).shape[0] for f in feeds] == [1, 3, 3]
    case("slice_on_sequence", "valid",
         "Slice(S, starts [0], ends [3], axes [0]) -> output [min(T, 3), 4]: only the first 3 "
         "steps are outputs; a streaming importer that passes Slice through emits every step", m)


# ==========================================================================

def write_manifest():
    with open(os.path.join(OUT, "MANIFEST.txt"), "w") as f:
        f.write("# Generated by tests/testdata/make_onnx_fixtures.py; see its docstring for the layout.\n")
        f.write("# streaming: no = bidirectional or reverse direction (whole-sequence call only).\n")
        f.write("# output: the graph output (Y, or Y_h: then expected_final_{0,1,2}.npy exist too).\n")
        f.write("# Every fixture has model.onnx, input_{0,1,2}.npy (T = 1, 7, 200), expected_{0,1,2}.npy.\n")
        f.write("# ort: ONNX Runtime's max |diff| from expected_* (make_onnx_fixtures.py \"ONNX Runtime\").\n")
        f.write(f"# {'fixture':<34} {'streaming':<9} {'output':<6} {'input':<6} {'in_size':>7} {'out_size':>8}  "
                f"{'reference':<9}  ort\n")
        for name, streaming, output, kind, isz, osz, ref, _ in MANIFEST:
            f.write(f"{name:<36} {streaming:<9} {output:<6} {kind:<6} {isz:>7} {osz:>8}  {ref:<9}  "
                    f"{ORT_RESULT[name]}\n")


def total_size(path):
    return sum(os.path.getsize(os.path.join(r, f)) for r, _, fs in os.walk(path) for f in fs)


def main():
    torch.set_num_threads(1)
    modules = ort_modules()
    for d in (OUT, BAD):
        if os.path.isdir(d):
            shutil.rmtree(d)
    os.makedirs(OUT)
    torch_fixtures()
    op_fixtures()
    verify_all()
    ort_check_all(modules)
    write_manifest()
    bad_fixtures()
    for line in LOG:
        if not line.startswith("check ") or VERBOSE:
            print(line)
    print("exported op sequences (non-Constant nodes):")
    for k, v in OPSEQ.items():
        print(f"  {k}: {' '.join(v)}")
    n_checks = sum(1 for line in LOG if line.startswith("check "))
    size = total_size(OUT) + total_size(BAD)
    print(f"{len(MANIFEST)} fixtures written to {OUT}; {n_checks} numeric checks passed; "
          f"onnx/ + onnx_bad/ = {size / 1024:.0f} KiB")
    assert size < 1_500_000, size


if __name__ == "__main__":
    main()
