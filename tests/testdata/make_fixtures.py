#!/usr/bin/python3
"""Reference fixtures for rnnserve's model loader and recurrent engine.

Run with Debian's Python (it has python3-torch 1.13 and numpy 1.24):

    /usr/bin/python3 tests/testdata/make_fixtures.py

The script is deterministic (fixed seeds, float32 default dtype). It wipes and
regenerates ``tests/testdata/model/`` and ``tests/testdata/model_bad/`` next to
itself, then re-reads every file it wrote and checks it (see "Self-checks").

Layout
======

``model/<fixture>/``:

- ``config.json``        native model config (fields below).
- ``model.safetensors``  the weights. Tensors are written in REVERSED sorted name
                         order, so a reader must use each tensor's ``data_offsets``.
                         The header ends with ``"__metadata__": {"format": "pt"}`` and
                         is padded with spaces to a multiple of 8. Little-endian data.
                         All fixtures store F32 except ``gru_f16`` (F16) and
                         ``rnn_f64`` (F64). With F16 the offsets of later tensors need
                         not be 4- or 8-byte aligned (copy, don't cast pointers).
- ``input_<k>.npy``      k = 0, 1, 2: three independent sequences of T = 1, 7, 200
                         steps. float32 ``[T, input_size]`` (C order), or int64 ``[T]``
                         token ids in ``[0, num_embeddings)`` for embedding models.
- ``expected_<k>.npy``   float32 ``[T, output_size]``, one row per step of input_k run
                         from a zero initial state (h, c and, for Jordan, y_{-1} all 0).
                         The row is the head output if the model has a head, else the
                         top layer's output (h, or the projected h with proj_size; for
                         bidirectional layers [forward, backward] with the backward half
                         aligned to the original time index, as PyTorch returns it; for
                         go_backwards the rows are in the TOP layer's processed order:
                         each layer reverses its own input, so with 2 layers (the
                         lstm_go_backwards fixture) row t belongs to original step t).

``model/MANIFEST.txt`` lists each fixture: streaming (no for bidirectional and
go_backwards models: whole-sequence call only), input kind (float/tokens), input size,
output size, naming, stored dtype, and where the reference came from.

config.json
===========

Mirrors the PyTorch constructor: ``cell`` ("lstm" | "gru" | "rnn" | "jordan"),
``input_size``, ``hidden_size``, ``num_layers``, ``bias``, ``batch_first`` (always
false), ``dropout`` (0.0), ``bidirectional``, ``proj_size`` (0 = none), ``nonlinearity``
("tanh" | "relu"; rnn and jordan only). Optional ``embedding``
{"num_embeddings": V, "embedding_dim": E} (then input_size == E) and ``head``
{"out_features": N, "activation": "identity" | "softmax" | "log_softmax" | "sigmoid" |
"tanh" | "relu"}. ``naming``:
"pytorch" (default) or "keras" (written explicitly in every fixture).

Extensions, written only by the fixtures that use them (defaults in brackets):
``gru_update`` ["pytorch": h = (1-z)*n + z*h_prev; "swapped": h = z*n + (1-z)*h_prev],
``reset_after`` [true; GRU], ``gate_activation`` ["sigmoid" | "hard_sigmoid"],
``recurrent_activation`` (Keras spelling of gate_activation), ``hard_sigmoid``
["keras2": clip(0.2x+0.5, 0, 1); "keras3": clip(x/6+0.5, 0, 1)], ``activation``
["tanh"; the LSTM candidate and output activation, i.e. c~ = act(.), h = o*act(c)],
``clip`` [0 = none], ``peephole`` [false], ``input_forget`` [false], ``forget_bias``
[0.0], ``go_backwards`` [false].

Equations used by the NumPy reference (float64, one step at a time), PyTorch order:
  LSTM: a = W_ih x + b_ih + W_hh h_prev + b_hh  (+ forget_bias on the f block)
        a_i += p_i*c_prev; a_f += p_f*c_prev                    (peephole)
        a_i, a_f, a_g = clamp(., -clip, clip)                   (clip > 0)
        i = gate(a_i); f = 1 - i if input_forget else gate(a_f); g = act(a_g)
        c = f*c_prev + i*g                                      (c itself never clipped)
        a_o += p_o*c; a_o = clamp(a_o); o = gate(a_o)           (o's peephole sees c_t)
        h = o*act(c); h = W_hr h if proj_size
     clip therefore clamps all four pre-activations (i, f, candidate g, o), after bias
     and peephole, before the activation (ONNX: "applied to the input of activations").
  GRU:  r = gate(W_ir x + b_ir + W_hr h + b_hr); z likewise
        reset_after=true : n = act(W_in x + b_in + r*(W_hn h + b_hn))
        reset_after=false: n = act(W_in x + b_in + W_hn (r*h) + b_hn)
                           (b_hn is simply summed, outside the product)
        h = (1-z)*n + z*h_prev  (pytorch)  |  h = z*n + (1-z)*h_prev  (swapped)
  RNN:  h = nonlinearity(W_ih x + b_ih + W_hh h_prev + b_hh)
  Jordan (one layer, head required): tensors rnn.weight_ih_l0 [H, I],
        rnn.weight_hh_l0 [H, out_features], rnn.bias_ih_l0, rnn.bias_hh_l0 [H];
        h_t = nonlinearity(W_ih x_t + b_ih + W_hh y_{t-1} + b_hh), y_{-1} = 0,
        y_t = head_act(head.weight h_t + head.bias); the output row is y_t.
  go_backwards (Keras): every layer reverses its input sequence, runs forward and
        returns its outputs in that processed order (a 2-layer stack therefore feeds
        layer 1 the reversed-order outputs of layer 0, which layer 1 reverses again, so
        layer 1 runs over original time order and its rows come out in original order;
        with an odd number of layers the rows would be in reversed order).
  Head: y = act(W h + b); softmax over the out_features of one step.

Tensor names
============

pytorch naming: exactly the ``state_dict()`` keys of a module with attributes
``embedding`` (nn.Embedding), ``rnn`` (nn.LSTM / nn.GRU / nn.RNN), ``head``
(nn.Linear): ``embedding.weight`` [V, E], ``rnn.weight_ih_l{k}[_reverse]`` [G*H, I_k],
``rnn.weight_hh_l{k}[_reverse]`` [G*H, H or P], ``rnn.bias_ih_l{k}[_reverse]``,
``rnn.bias_hh_l{k}[_reverse]`` [G*H], ``rnn.weight_hr_l{k}[_reverse]`` [P, H],
``head.weight`` [N, in], ``head.bias`` [N]. Gate order LSTM i,f,g,o; GRU r,z,n.
Peephole (extension): ``rnn.weight_ph_l{k}`` [3*H] = p_i, p_f, p_o.

keras naming (converted in this script from the SAME torch weights):
  ``rnn.{k}.kernel``           [I_k, G*H] = W_ih^T, gate blocks reordered to Keras order
  ``rnn.{k}.recurrent_kernel`` [H, G*H]   = W_hh^T, reordered likewise
  ``rnn.{k}.bias``             LSTM / SimpleRNN: [G*H] = b_ih + b_hh (summed in float32)
                               GRU reset_after=true : [2, 3H] = stack([b_ih, b_hh]), each
                                                      reordered (row 0 input, row 1 recurrent)
                               GRU reset_after=false: [3H] = b_ih + b_hh, reordered
  bidirectional: ``rnn.{k}.forward.*`` (torch ``_l{k}``) and ``rnn.{k}.backward.*``
                 (torch ``_l{k}_reverse``), same three tensors each.
  ``embedding.embeddings`` [V, E] = embedding.weight
  ``head.kernel`` [in, N] = head.weight^T, ``head.bias`` [N] = head.bias
  Gate order: LSTM i,f,c,o (identical to PyTorch's i,f,g,o: no reordering);
  GRU z,r,h (PyTorch r,z,n: swap the first two H-row blocks); SimpleRNN one gate.
  With bias=false there are no bias tensors in either naming.
  The keras copies of torch fixtures reuse the torch fixture's inputs and expected
  arrays byte for byte (the summed LSTM/RNN bias differs from b_ih + b_hh evaluated in
  the step by float32 rounding only, ~1e-8).

Where the expected outputs come from
====================================

torch (the module's own forward, float32): lstm_1layer, lstm_3layer, lstm_nobias,
lstm_proj, lstm_bidir, gru_1layer, gru_2layer, gru_bidir, rnn_tanh, rnn_relu, charlm,
lstm_head_sigmoid, gru_head_identity, lstm_head_log_softmax, gru_head_tanh, rnn_head_relu,
gru_f16 (module weights rounded to float16 and back
before the forward), rnn_f64; and their keras copies lstm_3layer_keras, gru_2layer_keras,
rnn_tanh_keras, charlm_keras, lstm_bidir_keras.

numpy (float64 step functions above, computed from the tensors exactly as stored, cast
to float32): lstm_hard_sigmoid_keras2, lstm_hard_sigmoid_keras3, lstm_peephole_clip,
lstm_input_forget, lstm_forget_bias, gru_reset_before, gru_reset_before_keras,
gru_swapped, jordan_tanh, lstm_go_backwards, lstm_relu_activation.

Weights: ``torch.manual_seed(crc32(fixture name))``, module construction, then every
parameter re-drawn uniformly in [-0.5, 0.5] (extra tensors such as peepholes and the
Jordan weights likewise). Inputs: standard normal (float), uniform ids (tokens), from
a generator seeded per fixture and sequence.

Self-checks (assertions; the script fails if any does not hold)
===============================================================

- Every fixture is re-read from disk (own safetensors/npy reader, both namings, all
  dtypes) and run through the NumPy reference; it must match expected_k
  (torch fixtures: |diff| <= 1e-6; observed <= 2.2e-7; numpy fixtures: bit-exact).
- The NumPy reference agrees with torch on the plain configurations (all the torch
  fixtures above), and on the variants via exact identities checked with torch:
  swapped GRU == torch GRU with the z rows and z biases negated; input_forget == torch
  LSTM with W_f = -W_i, R_f = -R_i, b_f = -b_i (1 - sigmoid(a) = sigmoid(-a));
  forget_bias == torch LSTM with +1 on the forget bias; go_backwards == torch layers
  on flipped sequences; hard_sigmoid keras2/keras3 and relu activation == a float64
  torch loop (itself checked against nn.LSTM) using torch.clamp / F.hardsigmoid /
  torch.relu; Jordan == a float64 torch loop; and, when python3-onnx is importable,
  ONNX's own numpy LSTM (peepholes, order i,o,f) and GRU (linear_before_reset=0)
  test helpers.
- lstm_peephole_clip: some but not all pre-activations of every gate are clipped.

Bad inputs
==========

``model_bad/`` holds tiny broken copies of ``model/lstm_1layer`` (and broken .npy
inputs for it); ``model_bad/README.txt`` has one line per entry saying what it must
trigger. ``ok_float64.npy`` is NOT an error: it holds lstm_1layer's input_1 as float64
and must be accepted (converted to float32) and give expected_1.
"""

import json
import os
import shutil
import struct
import sys
import zlib

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

torch.set_default_dtype(torch.float32)
torch.use_deterministic_algorithms(True)
torch.set_num_threads(1)

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "model")
BAD = os.path.join(HERE, "model_bad")
LENGTHS = (1, 7, 200)
UNIFORM = 0.5  # weights ~ U[-0.5, 0.5]

NP_DTYPE = {"F16": "<f2", "F32": "<f4", "F64": "<f8"}
GATES = {"lstm": 4, "gru": 3, "rnn": 1}

MANIFEST = []  # rows for MANIFEST.txt
LOG = []  # notes printed at the end


def seed_of(name):
    return zlib.crc32(name.encode("utf-8")) & 0x7FFFFFFF


# --------------------------------------------------------------------------
# File formats
# --------------------------------------------------------------------------

def write_safetensors(path, tensors, dtype="F32", order=None):
    """Write ``tensors`` (name -> array) as safetensors with every tensor in ``dtype``.

    ``order`` is the order of the data blocks; default: reversed sorted names, so a
    reader that assumes alphabetical order breaks.
    """
    names = sorted(tensors, reverse=True) if order is None else list(order)
    assert sorted(names) == sorted(tensors)
    header, blobs, off = {}, [], 0
    for n in names:
        a = np.ascontiguousarray(np.asarray(tensors[n]).astype(NP_DTYPE[dtype]))
        b = a.tobytes()
        header[n] = {"dtype": dtype, "shape": list(a.shape), "data_offsets": [off, off + len(b)]}
        blobs.append(b)
        off += len(b)
    header["__metadata__"] = {"format": "pt"}
    write_raw_safetensors(path, header, b"".join(blobs))


def write_raw_safetensors(path, header, data, header_len=None):
    hb = json.dumps(header, separators=(",", ":")).encode("utf-8")
    hb += b" " * (-len(hb) % 8)
    n = len(hb) if header_len is None else header_len
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", n))
        f.write(hb)
        f.write(data)


def read_safetensors(path):
    """Strict reader: returns (header dict, name -> float64 array)."""
    with open(path, "rb") as f:
        raw = f.read()
    (n,) = struct.unpack("<Q", raw[:8])
    assert n % 8 == 0 and 8 + n <= len(raw)
    header = json.loads(raw[8:8 + n].decode("utf-8"))
    data = raw[8 + n:]
    out, spans = {}, []
    for name, info in header.items():
        if name == "__metadata__":
            continue
        b, e = info["data_offsets"]
        dt = np.dtype(NP_DTYPE[info["dtype"]])
        count = int(np.prod(info["shape"], dtype=np.int64))
        assert 0 <= b <= e <= len(data) and e - b == count * dt.itemsize, name
        spans.append((b, e))
        out[name] = np.frombuffer(data[b:e], dtype=dt).reshape(info["shape"]).astype(np.float64)
        assert np.all(np.isfinite(out[name])), name
    spans.sort()
    pos = 0
    for b, e in spans:  # contiguous, no gaps, no overlaps
        assert b == pos
        pos = e
    assert pos == len(data)
    return header, out


def save_npy(path, arr):
    np.save(path, np.ascontiguousarray(arr))


def write_config(path, cfg):
    with open(path, "w") as f:
        json.dump(cfg, f, indent=2)
        f.write("\n")


def make_config(cell, input_size, hidden_size, num_layers=1, bias=True, bidirectional=False,
                proj_size=0, nonlinearity=None, embedding=None, head=None, naming="pytorch",
                **ext):
    cfg = {
        "cell": cell,
        "input_size": input_size,
        "hidden_size": hidden_size,
        "num_layers": num_layers,
        "bias": bias,
        "batch_first": False,
        "dropout": 0.0,
        "bidirectional": bidirectional,
        "proj_size": proj_size,
    }
    if cell in ("rnn", "jordan"):
        cfg["nonlinearity"] = nonlinearity or "tanh"
    if embedding is not None:
        cfg["embedding"] = {"num_embeddings": embedding[0], "embedding_dim": embedding[1]}
        assert input_size == embedding[1]
    if head is not None:
        cfg["head"] = {"out_features": head[0], "activation": head[1]}
    cfg["naming"] = naming
    cfg.update(ext)
    return cfg


def output_size(cfg):
    if "head" in cfg:
        return cfg["head"]["out_features"]
    h = cfg["proj_size"] or cfg["hidden_size"]
    return h * (2 if cfg["bidirectional"] else 1)


# --------------------------------------------------------------------------
# Keras <-> PyTorch tensor layout
# --------------------------------------------------------------------------

def gate_perm(cell):
    """Block permutation torch order -> keras order (self-inverse for all cells)."""
    return {"lstm": [0, 1, 2, 3], "gru": [1, 0, 2], "rnn": [0]}[cell]


def reorder_rows(a, cell):
    """Reorder the G gate blocks along axis 0 (torch <-> keras; the permutation is an involution)."""
    blocks = np.split(a, GATES[cell], axis=0)
    return np.concatenate([blocks[j] for j in gate_perm(cell)], axis=0)


def dir_suffixes(cfg):
    return ["", "_reverse"] if cfg["bidirectional"] else [""]


def keras_prefix(cfg, k, d):
    if not cfg["bidirectional"]:
        return f"rnn.{k}."
    return f"rnn.{k}." + ("forward." if d == 0 else "backward.")


def torch_to_keras(cfg, t):
    """Convert pytorch-named float32 tensors to keras naming (see module docstring)."""
    cell = cfg["cell"]
    assert cell in GATES and cfg["proj_size"] == 0 and not cfg.get("peephole")
    out = {}
    for k in range(cfg["num_layers"]):
        for d, sfx in enumerate(dir_suffixes(cfg)):
            s = f"_l{k}{sfx}"
            p = keras_prefix(cfg, k, d)
            out[p + "kernel"] = np.ascontiguousarray(reorder_rows(t["rnn.weight_ih" + s], cell).T)
            out[p + "recurrent_kernel"] = np.ascontiguousarray(reorder_rows(t["rnn.weight_hh" + s], cell).T)
            if cfg["bias"]:
                b_ih = t["rnn.bias_ih" + s].astype(np.float32)
                b_hh = t["rnn.bias_hh" + s].astype(np.float32)
                if cell == "gru" and cfg.get("reset_after", True):
                    out[p + "bias"] = np.stack([reorder_rows(b_ih, cell), reorder_rows(b_hh, cell)])
                else:
                    out[p + "bias"] = reorder_rows((b_ih + b_hh).astype(np.float32), cell)
    if "embedding" in cfg:
        out["embedding.embeddings"] = t["embedding.weight"]
    if "head" in cfg:
        out["head.kernel"] = np.ascontiguousarray(t["head.weight"].T)
        out["head.bias"] = t["head.bias"]
    return out


def expected_tensor_shapes(cfg):
    """name -> shape for a config (both namings); used to validate what we write."""
    shapes = {}
    cell, H, L = cfg["cell"], cfg["hidden_size"], cfg["num_layers"]
    P = cfg["proj_size"]
    if cell == "jordan":
        N = cfg["head"]["out_features"]
        shapes.update({"rnn.weight_ih_l0": [H, cfg["input_size"]], "rnn.weight_hh_l0": [H, N]})
        if cfg["bias"]:
            shapes.update({"rnn.bias_ih_l0": [H], "rnn.bias_hh_l0": [H]})
        shapes.update({"head.weight": [N, H], "head.bias": [N]})
        return shapes
    G = GATES[cell]
    D = 2 if cfg["bidirectional"] else 1
    hout = P or H
    keras = cfg["naming"] == "keras"
    for k in range(L):
        isz = cfg["input_size"] if k == 0 else hout * D
        for d, sfx in enumerate(dir_suffixes(cfg)):
            if keras:
                p = keras_prefix(cfg, k, d)
                shapes[p + "kernel"] = [isz, G * H]
                shapes[p + "recurrent_kernel"] = [H, G * H]
                if cfg["bias"]:
                    two = cell == "gru" and cfg.get("reset_after", True)
                    shapes[p + "bias"] = [2, G * H] if two else [G * H]
            else:
                s = f"_l{k}{sfx}"
                shapes["rnn.weight_ih" + s] = [G * H, isz]
                shapes["rnn.weight_hh" + s] = [G * H, hout]
                if cfg["bias"]:
                    shapes["rnn.bias_ih" + s] = [G * H]
                    shapes["rnn.bias_hh" + s] = [G * H]
                if P:
                    shapes["rnn.weight_hr" + s] = [P, H]
                if cfg.get("peephole"):
                    shapes["rnn.weight_ph" + s] = [3 * H]
    if "embedding" in cfg:
        V, E = cfg["embedding"]["num_embeddings"], cfg["embedding"]["embedding_dim"]
        shapes["embedding.embeddings" if keras else "embedding.weight"] = [V, E]
    if "head" in cfg:
        N, hin = cfg["head"]["out_features"], hout * D
        if keras:
            shapes.update({"head.kernel": [hin, N], "head.bias": [N]})
        else:
            shapes.update({"head.weight": [N, hin], "head.bias": [N]})
    return shapes


def canonical_params(cfg, t):
    """Stored tensors (either naming) -> float64 params in PyTorch layout and gate order.

    Returns {"layers": [[dir0, dir1?], ...], "embedding": E|None, "head": (W, b)|None}.
    forget_bias is added to the f block of b_ih here ("at load time").
    """
    t = {k: np.asarray(v, dtype=np.float64) for k, v in t.items()}
    cell, H = cfg["cell"], cfg["hidden_size"]
    keras = cfg.get("naming", "pytorch") == "keras"
    layers = []
    if cell == "jordan":
        zero = np.zeros(H)
        layers.append([{
            "w_ih": t["rnn.weight_ih_l0"], "w_hh": t["rnn.weight_hh_l0"],
            "b_ih": t.get("rnn.bias_ih_l0", zero), "b_hh": t.get("rnn.bias_hh_l0", zero)}])
    else:
        G = GATES[cell]
        for k in range(cfg["num_layers"]):
            dirs = []
            for d, sfx in enumerate(dir_suffixes(cfg)):
                if keras:
                    p = keras_prefix(cfg, k, d)
                    w_ih = reorder_rows(t[p + "kernel"].T, cell)
                    w_hh = reorder_rows(t[p + "recurrent_kernel"].T, cell)
                    b_ih = np.zeros(G * H)
                    b_hh = np.zeros(G * H)
                    if cfg["bias"]:
                        b = t[p + "bias"]
                        if b.ndim == 2:
                            b_ih, b_hh = reorder_rows(b[0], cell), reorder_rows(b[1], cell)
                        else:
                            b_ih = reorder_rows(b, cell)
                    prm = {"w_ih": w_ih, "w_hh": w_hh, "b_ih": b_ih, "b_hh": b_hh}
                else:
                    s = f"_l{k}{sfx}"
                    prm = {"w_ih": t["rnn.weight_ih" + s], "w_hh": t["rnn.weight_hh" + s],
                           "b_ih": t.get("rnn.bias_ih" + s, np.zeros(G * H)),
                           "b_hh": t.get("rnn.bias_hh" + s, np.zeros(G * H))}
                    if cfg["proj_size"]:
                        prm["w_hr"] = t["rnn.weight_hr" + s]
                    if cfg.get("peephole"):
                        prm["w_ph"] = t["rnn.weight_ph" + s]
                if cell == "lstm" and cfg.get("forget_bias", 0.0):
                    prm["b_ih"] = prm["b_ih"].copy()
                    prm["b_ih"][H:2 * H] += cfg["forget_bias"]
                dirs.append(prm)
            layers.append(dirs)
    emb = None
    if "embedding" in cfg:
        emb = t["embedding.embeddings" if keras else "embedding.weight"]
    head = None
    if "head" in cfg:
        head = (t["head.kernel"].T, t["head.bias"]) if keras else (t["head.weight"], t["head.bias"])
    return {"layers": layers, "embedding": emb, "head": head}


# --------------------------------------------------------------------------
# NumPy float64 reference (straightforward, one step at a time)
# --------------------------------------------------------------------------

CLIP_STATS = {}


def np_sigmoid(a):
    return 1.0 / (1.0 + np.exp(-a))


def np_hard_sigmoid_keras2(a):
    return np.clip(0.2 * a + 0.5, 0.0, 1.0)


def np_hard_sigmoid_keras3(a):
    return np.clip(a / 6.0 + 0.5, 0.0, 1.0)


def np_relu(a):
    return np.maximum(a, 0.0)


def np_softmax(a):
    e = np.exp(a - np.max(a))
    return e / np.sum(e)


def np_log_softmax(a):
    m = np.max(a)
    return a - m - np.log(np.sum(np.exp(a - m)))


ACT = {"tanh": np.tanh, "relu": np_relu, "sigmoid": np_sigmoid, "identity": lambda a: a,
       "log_softmax": np_log_softmax}


class Opts:
    def __init__(self, cfg):
        ga = cfg.get("gate_activation")
        ra = cfg.get("recurrent_activation")
        assert ga is None or ra is None or ga == ra
        gname = ga or ra or "sigmoid"
        if gname == "sigmoid":
            self.gate = np_sigmoid
        else:
            assert gname == "hard_sigmoid"
            flavour = cfg.get("hard_sigmoid", "keras2")
            self.gate = {"keras2": np_hard_sigmoid_keras2, "keras3": np_hard_sigmoid_keras3}[flavour]
        if cfg["cell"] in ("rnn", "jordan"):
            self.act = ACT[cfg.get("nonlinearity", "tanh")]
        else:
            self.act = ACT[cfg.get("activation", "tanh")]
        self.clip = float(cfg.get("clip", 0.0))
        self.input_forget = bool(cfg.get("input_forget", False))
        self.swapped = cfg.get("gru_update", "pytorch") == "swapped"
        self.reset_after = bool(cfg.get("reset_after", True))

    def clamp(self, a, tag):
        if self.clip <= 0:
            return a
        st = CLIP_STATS.setdefault(tag, [0, 0])
        st[0] += int(np.sum(np.abs(a) > self.clip))
        st[1] += a.size
        return np.clip(a, -self.clip, self.clip)


def lstm_step(x, h_prev, c_prev, p, o):
    H = p["w_ih"].shape[0] // 4
    a = p["w_ih"] @ x + p["b_ih"] + p["w_hh"] @ h_prev + p["b_hh"]
    a_i, a_f, a_g, a_o = a[0:H], a[H:2 * H], a[2 * H:3 * H], a[3 * H:4 * H]
    if "w_ph" in p:
        p_i, p_f, p_o = p["w_ph"][0:H], p["w_ph"][H:2 * H], p["w_ph"][2 * H:3 * H]
        a_i = a_i + p_i * c_prev
        a_f = a_f + p_f * c_prev
    a_i = o.clamp(a_i, "i")
    a_f = o.clamp(a_f, "f")
    a_g = o.clamp(a_g, "g")
    i = o.gate(a_i)
    f = 1.0 - i if o.input_forget else o.gate(a_f)
    g = o.act(a_g)
    c = f * c_prev + i * g
    if "w_ph" in p:
        a_o = a_o + p_o * c
    a_o = o.clamp(a_o, "o")
    og = o.gate(a_o)
    h = og * o.act(c)
    if "w_hr" in p:
        h = p["w_hr"] @ h
    return h, c


def gru_step(x, h_prev, p, o):
    H = p["w_ih"].shape[0] // 3
    gi = p["w_ih"] @ x + p["b_ih"]
    gi_r, gi_z, gi_n = gi[0:H], gi[H:2 * H], gi[2 * H:3 * H]
    W_hr, W_hz, W_hn = p["w_hh"][0:H], p["w_hh"][H:2 * H], p["w_hh"][2 * H:3 * H]
    b_hr, b_hz, b_hn = p["b_hh"][0:H], p["b_hh"][H:2 * H], p["b_hh"][2 * H:3 * H]
    r = o.gate(o.clamp(gi_r + W_hr @ h_prev + b_hr, "r"))
    z = o.gate(o.clamp(gi_z + W_hz @ h_prev + b_hz, "z"))
    if o.reset_after:
        n = o.act(o.clamp(gi_n + r * (W_hn @ h_prev + b_hn), "n"))
    else:
        n = o.act(o.clamp(gi_n + W_hn @ (r * h_prev) + b_hn, "n"))
    if o.swapped:
        return z * n + (1.0 - z) * h_prev
    return (1.0 - z) * n + z * h_prev


def rnn_step(x, h_prev, p, o):
    return o.act(o.clamp(p["w_ih"] @ x + p["b_ih"] + p["w_hh"] @ h_prev + p["b_hh"], "h"))


def run_direction(cell, xs, p, o):
    """Run one layer-direction over xs [T, I] forwards; returns [T, H_out]."""
    H = p["w_ih"].shape[0] // GATES[cell]
    hsz = p["w_hr"].shape[0] if "w_hr" in p else H
    h = np.zeros(hsz)
    c = np.zeros(H)
    outs = []
    for t in range(xs.shape[0]):
        if cell == "lstm":
            h, c = lstm_step(xs[t], h, c, p, o)
        elif cell == "gru":
            h = gru_step(xs[t], h, p, o)
        else:
            h = rnn_step(xs[t], h, p, o)
        outs.append(h)
    return np.stack(outs)


def apply_head(cfg, params, hs):
    W, b = params["head"]
    act = cfg["head"]["activation"]
    rows = []
    for t in range(hs.shape[0]):
        a = W @ hs[t] + b
        rows.append(np_softmax(a) if act == "softmax" else ACT[act](a))
    return np.stack(rows)


def reference_forward(cfg, params, x):
    """Whole model on one sequence from zero state; float64 [T, output_size]."""
    o = Opts(cfg)
    if params["embedding"] is not None:
        seq = np.stack([params["embedding"][int(tok)] for tok in x])
    else:
        seq = np.asarray(x, dtype=np.float64)
    if cfg["cell"] == "jordan":
        p = params["layers"][0][0]
        W, b = params["head"]
        act = cfg["head"]["activation"]
        y = np.zeros(W.shape[0])
        rows = []
        for t in range(seq.shape[0]):
            h = o.act(p["w_ih"] @ seq[t] + p["b_ih"] + p["w_hh"] @ y + p["b_hh"])
            a = W @ h + b
            y = np_softmax(a) if act == "softmax" else ACT[act](a)
            rows.append(y)
        return np.stack(rows)
    for dirs in params["layers"]:
        if cfg.get("go_backwards", False):
            seq = seq[::-1]
        fwd = run_direction(cfg["cell"], seq, dirs[0], o)
        if cfg["bidirectional"]:
            bwd = run_direction(cfg["cell"], seq[::-1], dirs[1], o)[::-1]
            seq = np.concatenate([fwd, bwd], axis=1)
        else:
            seq = fwd
    if params["head"] is not None:
        seq = apply_head(cfg, params, seq)
    return seq


# --------------------------------------------------------------------------
# Torch modules
# --------------------------------------------------------------------------

class Net(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        if "embedding" in cfg:
            e = cfg["embedding"]
            self.embedding = nn.Embedding(e["num_embeddings"], e["embedding_dim"])
        kw = dict(input_size=cfg["input_size"], hidden_size=cfg["hidden_size"],
                  num_layers=cfg["num_layers"], bias=cfg["bias"], batch_first=False,
                  dropout=0.0, bidirectional=cfg["bidirectional"])
        if cfg["cell"] == "lstm":
            self.rnn = nn.LSTM(proj_size=cfg["proj_size"], **kw)
        elif cfg["cell"] == "gru":
            self.rnn = nn.GRU(**kw)
        else:
            self.rnn = nn.RNN(nonlinearity=cfg["nonlinearity"], **kw)
        self.head_act = None
        if "head" in cfg:
            hin = (cfg["proj_size"] or cfg["hidden_size"]) * (2 if cfg["bidirectional"] else 1)
            self.head = nn.Linear(hin, cfg["head"]["out_features"])
            self.head_act = cfg["head"]["activation"]

    def forward(self, x):
        if hasattr(self, "embedding"):
            x = self.embedding(x)
        y, _ = self.rnn(x.unsqueeze(1))  # [T, 1, D*H_out], zero initial state
        y = y.squeeze(1)
        if self.head_act is not None:
            y = self.head(y)
            if self.head_act == "softmax":
                y = torch.softmax(y, dim=-1)
            elif self.head_act == "log_softmax":
                y = torch.log_softmax(y, dim=-1)
            elif self.head_act == "sigmoid":
                y = torch.sigmoid(y)
            elif self.head_act == "tanh":
                y = torch.tanh(y)
            elif self.head_act == "relu":
                y = torch.relu(y)
        return y


def build_torch(cfg, name, round_f16=False):
    torch.manual_seed(seed_of(name))
    net = Net(cfg)
    with torch.no_grad():
        for prm in net.parameters():
            prm.uniform_(-UNIFORM, UNIFORM)
            if round_f16:
                prm.copy_(prm.half().float())
    net.eval()
    return net


def state_tensors(net):
    return {k: v.detach().cpu().numpy().astype(np.float32).copy() for k, v in net.state_dict().items()}


def extra_uniform(name, shape, salt):
    g = torch.Generator().manual_seed(seed_of(name) + salt)
    return ((torch.rand(shape, generator=g) * 2 - 1) * UNIFORM).numpy().astype(np.float32)


def make_inputs(cfg, name):
    xs = []
    for k, T in enumerate(LENGTHS):
        g = torch.Generator().manual_seed(seed_of(name) * 8 + 1 + k)
        if "embedding" in cfg:
            x = torch.randint(0, cfg["embedding"]["num_embeddings"], (T,), generator=g).numpy().astype(np.int64)
        else:
            x = torch.randn(T, cfg["input_size"], generator=g).numpy().astype(np.float32)
        xs.append(x)
    return xs


def torch_forward(net, x):
    with torch.no_grad():
        return net(torch.from_numpy(x)).numpy().astype(np.float32)


# --------------------------------------------------------------------------
# Writing fixtures
# --------------------------------------------------------------------------

def write_fixture(name, cfg, tensors, xs, ys, dtype="F32", source="torch"):
    d = os.path.join(OUT, name)
    os.makedirs(d)
    want = expected_tensor_shapes(cfg)
    got = {k: list(np.shape(v)) for k, v in tensors.items()}
    assert want == got, (name, want, got)
    write_config(os.path.join(d, "config.json"), cfg)
    write_safetensors(os.path.join(d, "model.safetensors"), tensors, dtype=dtype)
    osz = output_size(cfg)
    for k, (x, y) in enumerate(zip(xs, ys)):
        T = LENGTHS[k]
        if "embedding" in cfg:
            assert x.dtype == np.int64 and x.shape == (T,)
        else:
            assert x.dtype == np.float32 and x.shape == (T, cfg["input_size"])
        y = np.asarray(y)
        assert y.dtype == np.float32 and y.shape == (T, osz), (name, y.shape)
        assert np.all(np.isfinite(y)), name
        save_npy(os.path.join(d, f"input_{k}.npy"), x)
        save_npy(os.path.join(d, f"expected_{k}.npy"), y)
    streaming = not (cfg["bidirectional"] or cfg.get("go_backwards", False))
    MANIFEST.append((name, "yes" if streaming else "no",
                     "tokens" if "embedding" in cfg else "float", cfg["input_size"], osz,
                     cfg["naming"], dtype, source))


def torch_fixture(name, cfg, dtype="F32"):
    net = build_torch(cfg, name, round_f16=(dtype == "F16"))
    tensors = state_tensors(net)
    xs = make_inputs(cfg, name)
    ys = [torch_forward(net, x) for x in xs]
    write_fixture(name, cfg, tensors, xs, ys, dtype=dtype, source="torch")
    return net, tensors, xs, ys


def keras_copy(src, name, **ext):
    """keras-named copy of an already written torch fixture: same weights, same arrays."""
    sd = os.path.join(OUT, src)
    with open(os.path.join(sd, "config.json")) as f:
        cfg = json.load(f)
    cfg["naming"] = "keras"
    cfg.update(ext)
    _, t = read_safetensors(os.path.join(sd, "model.safetensors"))
    t = {k: v.astype(np.float32) for k, v in t.items()}
    kt = torch_to_keras(cfg, t)
    xs = [np.load(os.path.join(sd, f"input_{k}.npy")) for k in range(3)]
    ys = [np.load(os.path.join(sd, f"expected_{k}.npy")) for k in range(3)]
    write_fixture(name, cfg, kt, xs, ys, source=f"torch (copy of {src})")


def numpy_fixture(name, cfg, tensors_pt, xs):
    """Reference computed by the NumPy implementation from the tensors as stored."""
    stored = torch_to_keras(cfg, tensors_pt) if cfg["naming"] == "keras" else tensors_pt
    params = canonical_params(cfg, stored)
    ys = [reference_forward(cfg, params, x).astype(np.float32) for x in xs]
    write_fixture(name, cfg, stored, xs, ys, source="numpy")
    return ys


# --------------------------------------------------------------------------
# Cross-check helpers (torch, float64)
# --------------------------------------------------------------------------

def assert_close(a, b, what, atol=1e-6, rtol=0.0):
    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    assert a.shape == b.shape, (what, a.shape, b.shape)
    err = np.max(np.abs(a - b) - rtol * np.abs(b)) if a.size else 0.0
    LOG.append(f"check {what}: max|diff| = {np.max(np.abs(a - b)):.2e}")
    assert err <= atol, f"{what}: max excess {err:.3e} > atol {atol}"


def torch_lstm_loop(x, p, gate, act):
    """float64 torch LSTM, one layer, PyTorch order; gate/act are torch callables."""
    T = lambda a: torch.from_numpy(np.asarray(a, dtype=np.float64))
    w_ih, w_hh, b_ih, b_hh = T(p["w_ih"]), T(p["w_hh"]), T(p["b_ih"]), T(p["b_hh"])
    H = w_ih.shape[0] // 4
    h = torch.zeros(H, dtype=torch.float64)
    c = torch.zeros(H, dtype=torch.float64)
    out = []
    for xt in T(x):
        a = F.linear(xt, w_ih, b_ih) + F.linear(h, w_hh, b_hh)
        i, f, g, o = a.chunk(4)
        i, f, g, o = gate(i), gate(f), act(g), gate(o)
        c = f * c + i * g
        h = o * act(c)
        out.append(h)
    return torch.stack(out).numpy()


def torch_lstm_layer(x, p):
    """nn.LSTM (float32) for one layer-direction given PyTorch-layout params."""
    I, H = p["w_ih"].shape[1], p["w_ih"].shape[0] // 4
    m = nn.LSTM(I, H)
    with torch.no_grad():
        m.weight_ih_l0.copy_(torch.from_numpy(np.asarray(p["w_ih"], np.float32)))
        m.weight_hh_l0.copy_(torch.from_numpy(np.asarray(p["w_hh"], np.float32)))
        m.bias_ih_l0.copy_(torch.from_numpy(np.asarray(p["b_ih"], np.float32)))
        m.bias_hh_l0.copy_(torch.from_numpy(np.asarray(p["b_hh"], np.float32)))
        y, _ = m(torch.from_numpy(np.array(x, dtype=np.float32, copy=True)).unsqueeze(1))
    return y.squeeze(1).numpy()


def load_onnx_helpers():
    try:
        from onnx.backend.test.case.node.lstm import LSTM_Helper
        from onnx.backend.test.case.node.gru import GRU_Helper
        return LSTM_Helper, GRU_Helper
    except Exception as e:  # python3-onnx is optional
        LOG.append(f"NOTE: ONNX reference helpers unavailable ({e!r}); ONNX cross-checks skipped")
        return None, None


def blocks(a, n, order):
    parts = np.split(np.asarray(a, dtype=np.float64), n, axis=0)
    return np.concatenate([parts[j] for j in order], axis=0)


# --------------------------------------------------------------------------
# Fixture definitions
# --------------------------------------------------------------------------

def torch_fixtures():
    C = make_config
    torch_fixture("lstm_1layer", C("lstm", 4, 5))
    torch_fixture("lstm_3layer", C("lstm", 3, 6, num_layers=3))
    torch_fixture("lstm_nobias", C("lstm", 4, 5, num_layers=2, bias=False))
    torch_fixture("lstm_proj", C("lstm", 4, 6, num_layers=2, proj_size=3))
    torch_fixture("lstm_bidir", C("lstm", 3, 4, num_layers=2, bidirectional=True))
    torch_fixture("gru_1layer", C("gru", 4, 5))
    torch_fixture("gru_2layer", C("gru", 3, 6, num_layers=2))
    torch_fixture("gru_bidir", C("gru", 4, 5, bidirectional=True))
    torch_fixture("rnn_tanh", C("rnn", 4, 6, num_layers=2, nonlinearity="tanh"))
    torch_fixture("rnn_relu", C("rnn", 5, 4, nonlinearity="relu"))
    torch_fixture("charlm", C("lstm", 5, 8, num_layers=2, embedding=(11, 5), head=(11, "softmax")))
    torch_fixture("lstm_head_sigmoid", C("lstm", 4, 6, head=(6, "sigmoid")))
    torch_fixture("gru_head_identity", C("gru", 3, 5, head=(6, "identity")))
    torch_fixture("lstm_head_log_softmax", C("lstm", 4, 6, head=(7, "log_softmax")))
    torch_fixture("gru_head_tanh", C("gru", 3, 5, head=(4, "tanh")))
    torch_fixture("rnn_head_relu", C("rnn", 4, 5, nonlinearity="tanh", head=(6, "relu")))
    torch_fixture("gru_f16", C("gru", 4, 6, num_layers=2), dtype="F16")
    torch_fixture("rnn_f64", C("rnn", 3, 5, num_layers=2, nonlinearity="tanh"), dtype="F64")

    keras_copy("lstm_3layer", "lstm_3layer_keras")
    keras_copy("gru_2layer", "gru_2layer_keras", reset_after=True)
    keras_copy("rnn_tanh", "rnn_tanh_keras")
    keras_copy("charlm", "charlm_keras")
    keras_copy("lstm_bidir", "lstm_bidir_keras")


def numpy_fixtures():
    C = make_config
    onnx_lstm, onnx_gru = load_onnx_helpers()

    # Sanity of the NumPy reference and of the float64 torch loop on plain LSTM.
    cfg = C("lstm", 4, 5)
    net = build_torch(cfg, "xcheck_lstm_plain")
    t = state_tensors(net)
    p = canonical_params(cfg, t)["layers"][0][0]
    for x in make_inputs(cfg, "xcheck_lstm_plain"):
        ref = torch_forward(net, x)
        assert_close(reference_forward(cfg, canonical_params(cfg, t), x), ref, "numpy LSTM vs nn.LSTM", atol=1e-6)
        assert_close(torch_lstm_loop(x, p, torch.sigmoid, torch.tanh), ref, "torch loop vs nn.LSTM", atol=1e-6)

    # keras2 hard sigmoid, keras naming, Keras spelling recurrent_activation.
    name = "lstm_hard_sigmoid_keras2"
    cfg = C("lstm", 4, 5, naming="keras", recurrent_activation="hard_sigmoid", hard_sigmoid="keras2")
    t = state_tensors(build_torch(cfg, name))
    xs = make_inputs(cfg, name)
    ys = numpy_fixture(name, cfg, t, xs)
    hs2 = lambda a: torch.clamp(0.2 * a + 0.5, 0.0, 1.0)
    p = canonical_params(cfg, torch_to_keras(cfg, t))["layers"][0][0]
    for x, y in zip(xs, ys):
        assert_close(y, torch_lstm_loop(x, p, hs2, torch.tanh), name + " vs torch loop(clamp)")
    assert np.allclose(np_hard_sigmoid_keras2(np.array([-3.0, -2.5, 0.0, 1.0, 2.5, 3.0])),
                       [0.0, 0.0, 0.5, 0.7, 1.0, 1.0])

    # keras3 hard sigmoid, pytorch naming, gate_activation spelling.
    name = "lstm_hard_sigmoid_keras3"
    cfg = C("lstm", 4, 5, num_layers=1, gate_activation="hard_sigmoid", hard_sigmoid="keras3")
    t = state_tensors(build_torch(cfg, name))
    xs = make_inputs(cfg, name)
    ys = numpy_fixture(name, cfg, t, xs)
    p = canonical_params(cfg, t)["layers"][0][0]
    for x, y in zip(xs, ys):
        assert_close(y, torch_lstm_loop(x, p, F.hardsigmoid, torch.tanh), name + " vs torch loop(F.hardsigmoid)")
    # keras2 and keras3 must really differ on these weights
    cfg2 = dict(cfg, hard_sigmoid="keras2")
    diff = np.max(np.abs(reference_forward(cfg2, canonical_params(cfg2, t), xs[2]) - ys[2]))
    assert diff > 1e-2, diff
    LOG.append(f"{name}: keras2 vs keras3 flavour max|diff| = {diff:.3f}")

    # Peepholes + clip, 2 layers, pytorch naming.
    name = "lstm_peephole_clip"
    clip = 0.5
    cfg = C("lstm", 4, 5, num_layers=2, peephole=True, clip=clip)
    t = state_tensors(build_torch(cfg, name))
    for k in range(2):
        t[f"rnn.weight_ph_l{k}"] = extra_uniform(name, (15,), salt=100 + k)
    xs = make_inputs(cfg, name)
    CLIP_STATS.clear()
    numpy_fixture(name, cfg, t, xs)
    for g in "ifgo":
        n_clip, n_all = CLIP_STATS[g]
        frac = n_clip / n_all
        LOG.append(f"{name}: clip={clip}: gate {g}: {n_clip}/{n_all} = {frac:.0%} clipped")
        assert 0.05 < frac < 0.95, (g, frac)
    # with an unreachable clip it equals the no-clip model; and clip really changes outputs
    noclip = dict(cfg, clip=0.0)
    big = dict(cfg, clip=1e9)
    pn = canonical_params(noclip, t)
    for x in xs:
        assert_close(reference_forward(big, pn, x), reference_forward(noclip, pn, x), "clip=1e9 == no clip", atol=0)
    d = np.max(np.abs(reference_forward(noclip, pn, xs[2]) - reference_forward(cfg, pn, xs[2])))
    assert d > 1e-2, d
    LOG.append(f"{name}: clip changes outputs by up to {d:.3f}")
    if onnx_lstm is not None:
        # ONNX order: W/R/B gates i,o,f,c; P = i,o,f. Ours: i,f,g,o; P = i,f,o.
        for k, x in enumerate(xs):
            seq = x.astype(np.float64)
            for layer in range(2):
                pl = pn["layers"][layer][0]
                order = [0, 3, 1, 2]
                ph = np.split(pl["w_ph"], 3)
                res = onnx_lstm(X=seq[:, None, :], W=blocks(pl["w_ih"], 4, order)[None],
                                R=blocks(pl["w_hh"], 4, order)[None],
                                B=np.concatenate([blocks(pl["b_ih"], 4, order), blocks(pl["b_hh"], 4, order)])[None],
                                P=np.concatenate([ph[0], ph[2], ph[1]])[None]).step()[0]
                seq = res[:, 0, 0, :]
            assert_close(reference_forward(noclip, pn, x), seq, f"{name} (clip=0) vs ONNX LSTM_Helper, seq {k}", atol=1e-9)

    # Coupled input-forget gate.
    name = "lstm_input_forget"
    cfg = C("lstm", 4, 5, input_forget=True)
    t = state_tensors(build_torch(cfg, name))
    xs = make_inputs(cfg, name)
    ys = numpy_fixture(name, cfg, t, xs)
    H = 5
    tt = {k: v.copy() for k, v in t.items()}
    for key in ("rnn.weight_ih_l0", "rnn.weight_hh_l0", "rnn.bias_ih_l0", "rnn.bias_hh_l0"):
        tt[key][H:2 * H] = -tt[key][0:H]  # f = sigmoid(-a_i) = 1 - i
    p = canonical_params(make_config("lstm", 4, 5), tt)["layers"][0][0]
    for x, y in zip(xs, ys):
        assert_close(y, torch_lstm_layer(x, p), name + " vs nn.LSTM(W_f=-W_i)", atol=1e-6)
    d = np.max(np.abs(ys[2] - torch_lstm_layer(xs[2], canonical_params(make_config("lstm", 4, 5), t)["layers"][0][0])))
    assert d > 1e-2, d

    # TF1-style forget_bias, keras naming.
    name = "lstm_forget_bias"
    cfg = C("lstm", 4, 5, naming="keras", forget_bias=1.0)
    t = state_tensors(build_torch(cfg, name))
    xs = make_inputs(cfg, name)
    ys = numpy_fixture(name, cfg, t, xs)
    tt = {k: v.copy() for k, v in t.items()}
    tt["rnn.bias_ih_l0"][5:10] += 1.0
    p = canonical_params(make_config("lstm", 4, 5), tt)["layers"][0][0]
    for x, y in zip(xs, ys):
        assert_close(y, torch_lstm_layer(x, p), name + " vs nn.LSTM(b_f + 1)", atol=1e-6)

    # GRU, reset gate before the recurrent product (pytorch naming, then keras naming).
    for name, naming, L in (("gru_reset_before", "pytorch", 2), ("gru_reset_before_keras", "keras", 1)):
        cfg = C("gru", 4, 5, num_layers=L, naming=naming, reset_after=False)
        t = state_tensors(build_torch(cfg, name))
        xs = make_inputs(cfg, name)
        ys = numpy_fixture(name, cfg, t, xs)
        pt = canonical_params(dict(cfg, naming="pytorch"), t)
        cfg_after = dict(cfg, naming="pytorch", reset_after=True)
        d = np.max(np.abs(reference_forward(cfg_after, pt, xs[2]) - ys[2]))
        assert d > 1e-2, d
        LOG.append(f"{name}: reset_after true vs false max|diff| = {d:.3f}")
        if onnx_gru is not None:
            for k, (x, y) in enumerate(zip(xs, ys)):
                seq = x.astype(np.float64)
                for layer in range(L):
                    pl = pt["layers"][layer][0]
                    order = [1, 0, 2]  # r,z,n -> z,r,h
                    res = onnx_gru(X=seq[:, None, :], W=blocks(pl["w_ih"], 3, order)[None],
                                   R=blocks(pl["w_hh"], 3, order)[None],
                                   B=np.concatenate([blocks(pl["b_ih"], 3, order), blocks(pl["b_hh"], 3, order)])[None],
                                   linear_before_reset=0).step()[0]
                    seq = res[:, 0, 0, :]
                assert_close(y, seq, f"{name} vs ONNX GRU_Helper(lbr=0), seq {k}", atol=1e-6)

    # Swapped GRU update.
    name = "gru_swapped"
    cfg = C("gru", 4, 5, gru_update="swapped")
    net = build_torch(cfg, name)
    t = state_tensors(net)
    xs = make_inputs(cfg, name)
    ys = numpy_fixture(name, cfg, t, xs)
    neg = build_torch(C("gru", 4, 5), name)
    with torch.no_grad():
        for key in ("weight_ih_l0", "weight_hh_l0", "bias_ih_l0", "bias_hh_l0"):
            getattr(neg.rnn, key)[5:10] *= -1.0
    for x, y in zip(xs, ys):
        assert_close(y, torch_forward(neg, x), name + " vs nn.GRU(z rows negated)", atol=1e-6)
        d = np.max(np.abs(y - torch_forward(net, x)))
        assert x.shape[0] == 1 or d > 1e-2, d

    # Jordan network with softmax head.
    name = "jordan_tanh"
    I, H, N = 4, 6, 6
    cfg = C("jordan", I, H, nonlinearity="tanh", head=(N, "softmax"))
    shapes = expected_tensor_shapes(cfg)
    t = {k: extra_uniform(name, tuple(s), salt=200 + j) for j, (k, s) in enumerate(sorted(shapes.items()))}
    xs = make_inputs(cfg, name)
    ys = numpy_fixture(name, cfg, t, xs)
    Tt = {k: torch.from_numpy(v.astype(np.float64)) for k, v in t.items()}
    for x, y in zip(xs, ys):
        yp = torch.zeros(N, dtype=torch.float64)
        rows = []
        for xt in torch.from_numpy(x.astype(np.float64)):
            h = torch.tanh(F.linear(xt, Tt["rnn.weight_ih_l0"], Tt["rnn.bias_ih_l0"])
                           + F.linear(yp, Tt["rnn.weight_hh_l0"], Tt["rnn.bias_hh_l0"]))
            yp = torch.softmax(F.linear(h, Tt["head.weight"], Tt["head.bias"]), dim=0)
            rows.append(yp)
        assert_close(y, torch.stack(rows).numpy(), name + " vs torch loop", atol=1e-6)

    # Keras go_backwards, 2 layers, keras naming.
    name = "lstm_go_backwards"
    cfg = C("lstm", 4, 5, num_layers=2, naming="keras", go_backwards=True)
    t = state_tensors(build_torch(cfg, name))
    xs = make_inputs(cfg, name)
    ys = numpy_fixture(name, cfg, t, xs)
    pt = canonical_params(dict(cfg, naming="pytorch"), t)
    for x, y in zip(xs, ys):
        h0 = torch_lstm_layer(x[::-1], pt["layers"][0][0])
        h1 = torch_lstm_layer(h0[::-1], pt["layers"][1][0])
        assert_close(y, h1, name + " vs nn.LSTM layers on flipped inputs", atol=1e-6)

    # relu as the LSTM cell/candidate/output activation.
    name = "lstm_relu_activation"
    cfg = C("lstm", 4, 5, activation="relu")
    t = state_tensors(build_torch(cfg, name))
    xs = make_inputs(cfg, name)
    ys = numpy_fixture(name, cfg, t, xs)
    p = canonical_params(cfg, t)["layers"][0][0]
    for x, y in zip(xs, ys):
        assert_close(y, torch_lstm_loop(x, p, torch.sigmoid, torch.relu), name + " vs torch loop(relu)",
                     atol=1e-6, rtol=1e-6)
    LOG.append(f"{name}: max |output| over 200 steps = {np.max(np.abs(ys[2])):.3f}")


# --------------------------------------------------------------------------
# Round-trip verification of everything written
# --------------------------------------------------------------------------

def verify_all():
    for row in MANIFEST:
        name, source = row[0], row[7]
        d = os.path.join(OUT, name)
        with open(os.path.join(d, "config.json")) as f:
            cfg = json.load(f)
        header, t = read_safetensors(os.path.join(d, "model.safetensors"))
        names = [k for k in header if k != "__metadata__"]
        assert header["__metadata__"] == {"format": "pt"}
        assert names == sorted(names, reverse=True), name  # deliberately non-alphabetical
        assert {k: header[k]["shape"] for k in names} == expected_tensor_shapes(cfg), name
        params = canonical_params(cfg, t)
        for k in range(3):
            x = np.load(os.path.join(d, f"input_{k}.npy"))
            y = np.load(os.path.join(d, f"expected_{k}.npy"))
            assert y.flags["C_CONTIGUOUS"] and y.dtype == np.float32
            ref = reference_forward(cfg, params, x)
            if source == "numpy":
                assert_close(ref.astype(np.float32), y, f"round-trip {name}[{k}]", atol=0)
            else:
                assert_close(ref, y, f"numpy reference vs torch, {name}[{k}]", atol=1e-6)


# --------------------------------------------------------------------------
# Bad inputs
# --------------------------------------------------------------------------

def bad_fixtures():
    src = os.path.join(OUT, "lstm_1layer")
    with open(os.path.join(src, "model.safetensors"), "rb") as f:
        good = f.read()
    (hlen,) = struct.unpack("<Q", good[:8])
    header = json.loads(good[8:8 + hlen])
    data = good[8 + hlen:]
    with open(os.path.join(src, "config.json")) as f:
        cfg = json.load(f)
    I, H = cfg["input_size"], cfg["hidden_size"]
    readme = ["Broken copies of model/lstm_1layer (config.json + model.safetensors), one defect each; "
              "every entry must be rejected with a clear error unless marked ACCEPT."]

    def folder(name, what, st_bytes=None, config_text=None):
        d = os.path.join(BAD, name)
        os.makedirs(d)
        with open(os.path.join(d, "config.json"), "w") as f:
            f.write(config_text if config_text is not None else json.dumps(cfg, indent=2) + "\n")
        with open(os.path.join(d, "model.safetensors"), "wb") as f:
            f.write(good if st_bytes is None else st_bytes)
        readme.append(f"{name}/: {what}")

    def st(hdr, dat, header_len=None):
        path = os.path.join(BAD, ".tmp")
        write_raw_safetensors(path, hdr, dat, header_len)
        with open(path, "rb") as f:
            b = f.read()
        os.remove(path)
        return b

    def tensors_good():
        _, t = read_safetensors(os.path.join(src, "model.safetensors"))
        return {k: v.astype(np.float32) for k, v in t.items()}

    def st_from(t):
        path = os.path.join(BAD, ".tmp")
        write_safetensors(path, t)
        with open(path, "rb") as f:
            b = f.read()
        os.remove(path)
        return b

    os.makedirs(BAD)
    folder("truncated_safetensors", "model.safetensors cut in the middle of the tensor data",
           good[:8 + hlen + len(data) // 2])
    folder("header_len_past_eof", "u64 header length points past the end of the file",
           struct.pack("<Q", len(good) + 64) + good[8:])
    folder("header_len_huge", "u64 header length 0xFFFFFFFFFFFFFFF8 (8 + n overflows 64 bits)",
           struct.pack("<Q", 0xFFFFFFFFFFFFFFF8) + good[8:])
    h = json.loads(json.dumps(header))
    h["rnn.bias_hh_l0"]["dtype"] = "I9"
    folder("unknown_dtype", 'tensor rnn.bias_hh_l0 has dtype "I9"', st(h, data))

    t = tensors_good()
    t["rnn.weight_ih_l0"] = extra_uniform("bad_shape", (4 * H, I + 1), 0)
    folder("wrong_shape", f"rnn.weight_ih_l0 is [{4 * H}, {I + 1}] (consistent file) but config says [{4 * H}, {I}]",
           st_from(t))
    t = tensors_good()
    del t["rnn.bias_hh_l0"]
    folder("missing_tensor", "rnn.bias_hh_l0 is missing", st_from(t))
    t = tensors_good()
    t["rnn.weight_ih_l1"] = extra_uniform("bad_extra", (4 * H, H), 0)
    folder("extra_tensor", "unexpected tensor rnn.weight_ih_l1 in a 1-layer model", st_from(t))
    t = tensors_good()
    t["rnn.weight_hh_l0"][3, 2] = np.nan
    folder("nan_weight", "rnn.weight_hh_l0[3, 2] is NaN", st_from(t))
    t = tensors_good()
    t["rnn.bias_ih_l0"][1] = np.inf
    folder("inf_weight", "rnn.bias_ih_l0[1] is +Inf", st_from(t))
    folder("config_not_json", "config.json is not valid JSON (cut off)", None,
           json.dumps(cfg, indent=2)[:40])
    folder("unknown_cell", 'config.json has "cell": "transformer"', None,
           json.dumps(dict(cfg, cell="transformer"), indent=2) + "\n")
    h = json.loads(json.dumps(header))
    h["rnn.bias_hh_l0"]["data_offsets"] = list(h["rnn.bias_ih_l0"]["data_offsets"])
    folder("offsets_overlap", "rnn.bias_hh_l0 has the same data_offsets as rnn.bias_ih_l0 (overlap; its own bytes unreferenced)",
           st(h, data))
    h = json.loads(json.dumps(header))
    b, e = h["rnn.weight_ih_l0"]["data_offsets"]
    h["rnn.weight_ih_l0"]["data_offsets"] = [len(data) - (e - b) // 2, len(data) - (e - b) // 2 + (e - b)]
    folder("offsets_out_of_range", "rnn.weight_ih_l0's data_offsets end past the end of the data", st(h, data))
    h = json.loads(json.dumps(header))
    b, e = h["rnn.bias_ih_l0"]["data_offsets"]
    h["rnn.bias_ih_l0"]["data_offsets"] = [b, e - 4]
    folder("offsets_size_mismatch", "rnn.bias_ih_l0's data_offsets span 4 bytes less than its shape needs",
           st(h, data))

    # .npy inputs for model/lstm_1layer
    x1 = np.load(os.path.join(src, "input_1.npy"))
    np.save(os.path.join(BAD, "input_wrong_shape.npy"), np.zeros((7, I + 1), np.float32))
    readme.append(f"input_wrong_shape.npy: float32 [7, {I + 1}] for lstm_1layer (input_size {I}): wrong shape")
    raw = open(os.path.join(src, "input_1.npy"), "rb").read()
    with open(os.path.join(BAD, "input_truncated.npy"), "wb") as f:
        f.write(raw[:len(raw) - 10])
    readme.append("input_truncated.npy: lstm_1layer input_1.npy with the last 10 data bytes cut off")
    np.save(os.path.join(BAD, "ok_float64.npy"), x1.astype(np.float64))
    readme.append("ok_float64.npy: ACCEPT: lstm_1layer input_1 as float64 [7, 4] C order; converted to float32 it must give expected_1.npy")
    np.save(os.path.join(BAD, "input_fortran_order.npy"), np.asfortranarray(x1))
    assert b"'fortran_order': True" in open(os.path.join(BAD, "input_fortran_order.npy"), "rb").read(128)
    readme.append("input_fortran_order.npy: lstm_1layer input_1 [7, 4] with fortran_order True: reject "
                  "(or transpose correctly to input_1.npy's values; never read it as C order)")
    with open(os.path.join(BAD, "README.txt"), "w") as f:
        f.write("\n".join(readme) + "\n")


# --------------------------------------------------------------------------

def write_manifest():
    with open(os.path.join(OUT, "MANIFEST.txt"), "w") as f:
        f.write("# Generated by tests/testdata/make_fixtures.py; see its docstring for the layout.\n")
        f.write("# streaming: no = bidirectional or go_backwards (whole-sequence call only).\n")
        f.write("# Every fixture has input_{0,1,2}.npy (T = 1, 7, 200) and expected_{0,1,2}.npy.\n")
        f.write(f"# {'fixture':<26} {'streaming':<9} {'input':<6} {'in_size':>7} {'out_size':>8}  "
                f"{'naming':<7} {'dtype':<5} reference\n")
        for name, streaming, kind, isz, osz, naming, dtype, source in MANIFEST:
            f.write(f"{name:<28} {streaming:<9} {kind:<6} {isz:>7} {osz:>8}  {naming:<7} {dtype:<5} {source}\n")


def main():
    for d in (OUT, BAD):
        if os.path.isdir(d):
            shutil.rmtree(d)
    os.makedirs(OUT)
    torch_fixtures()
    numpy_fixtures()
    verify_all()
    write_manifest()
    bad_fixtures()
    for line in LOG:
        if not line.startswith("check ") or "-v" in sys.argv:
            print(line)
    n_checks = sum(1 for line in LOG if line.startswith("check "))
    print(f"{len(MANIFEST)} fixtures written to {OUT}; {n_checks} numeric checks passed")


if __name__ == "__main__":
    main()
