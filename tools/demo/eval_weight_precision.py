#!/usr/bin/python3
"""charlm's held-out bits per character with fp32, bf16 and int8 weights (issue 17).

The held-out split and the scoring are the training script's (train_demo_models.py:
load_fortunes, is_heldout, encode, eval_bits: 32 contiguous streams, each from a
zero state); the model runs in rnnserve itself (build/bin/rnnserve-model run), once
per precision through config.json's "weights" field on a temporary copy of
models/charlm/1. Needs the `fortunes` package and numpy (no torch):

    /usr/bin/python3 tools/demo/eval_weight_precision.py
"""
import ast
import json
import math
import os
import re
import shutil
import subprocess
import sys
import tempfile
import zlib

import numpy as np

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
TOOL = os.path.join(REPO, "build", "bin", "rnnserve-model")
MODEL = os.path.join(REPO, "models", "charlm", "1")
STREAMS = 32  # eval_bits' batch


def training_functions():
    """load_fortunes, encode, is_heldout and join_fortunes with their constants, taken
    from train_demo_models.py without importing it (it imports torch)."""
    path = os.path.join(REPO, "tools", "demo", "train_demo_models.py")
    tree = ast.parse(open(path).read())
    wanted_functions = {"load_fortunes", "encode", "is_heldout", "join_fortunes", "require"}
    wanted_names = {"FORTUNE_DIR", "FORTUNE_SKIP", "VOCAB", "UNK", "V"}
    body = [node for node in tree.body
            if (isinstance(node, ast.FunctionDef) and node.name in wanted_functions)
            or (isinstance(node, ast.Assign)
                and any(getattr(t, "id", None) in wanted_names for t in node.targets))]
    scope = {"os": os, "re": re, "zlib": zlib, "np": np, "sys": sys}
    exec(compile(ast.Module(body=body, type_ignores=[]), path, "exec"), scope)
    return scope


def bits_per_char(model_dir, ids, work):
    n = len(ids) // STREAMS
    nll, count = 0.0, 0
    for b in range(STREAMS):
        stream = ids[b * n:(b + 1) * n]
        np.save(os.path.join(work, "in.npy"), stream[:-1].astype(np.int64))
        subprocess.run([TOOL, "run", "--model", model_dir, "--input",
                        os.path.join(work, "in.npy"), "--output",
                        os.path.join(work, "out.npy")], check=True, stdout=subprocess.DEVNULL)
        probs = np.load(os.path.join(work, "out.npy")).astype(np.float64)
        nll -= np.log(probs[np.arange(len(stream) - 1), stream[1:]]).sum()
        count += len(stream) - 1
    return nll / count / math.log(2)


def main():
    f = training_functions()
    _, fortunes, _ = f["load_fortunes"]()
    heldout = [x for x in fortunes if f["is_heldout"](x)]
    ids = f["encode"](f["join_fortunes"](heldout))
    print(f"held-out: {len(heldout)} fortunes, {len(ids)} characters")
    with tempfile.TemporaryDirectory() as work:
        for precision in ("fp32", "bf16", "int8"):
            model_dir = os.path.join(work, precision)
            shutil.copytree(MODEL, model_dir)
            config_path = os.path.join(model_dir, "config.json")
            config = json.load(open(config_path))
            config["weights"] = precision
            json.dump(config, open(config_path, "w"))
            print(f"charlm {precision}: {bits_per_char(model_dir, ids, work):.4f} bits/char",
                  flush=True)


if __name__ == "__main__":
    main()
