#!/usr/bin/env python3
"""Writes the ONNX model model_bench runs in ONNX Runtime (tests/bench/ort_rnn.cc).

A PyTorch nn.LSTM or nn.GRU (random weights, reset after the product like
rnnserve's GRU) exported by torch.onnx as ONNX LSTM / GRU nodes, one per
layer: inputs x [T, B, I] and h0 (and c0) [layers, B, H]; outputs y [T, B, H]
and hn (and cn). T and B are dynamic, so one file serves every T and B.

  ort_model.py {lstm,gru} INPUT HIDDEN LAYERS OUT.onnx
"""
import sys
import warnings

import torch


def main():
    cell, input_size, hidden, layers, out = sys.argv[1:]
    input_size, hidden, layers = int(input_size), int(hidden), int(layers)
    torch.manual_seed(5)
    lstm = cell == "lstm"
    module = (torch.nn.LSTM if lstm else torch.nn.GRU)(input_size, hidden, layers)
    x = torch.zeros(2, 1, input_size)
    h = torch.zeros(layers, 1, hidden)
    state = (h, torch.zeros(layers, 1, hidden)) if lstm else h
    names = ["x", "h0", "c0"] if lstm else ["x", "h0"]
    outputs = ["y", "hn", "cn"] if lstm else ["y", "hn"]
    axes = {"x": {0: "T", 1: "B"}, "y": {0: "T", 1: "B"}}
    for name in names[1:] + outputs[1:]:
        axes[name] = {1: "B"}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # torch.onnx's shape-inference chatter
        torch.onnx.export(module.eval(), (x, state), out, input_names=names,
                          output_names=outputs, dynamic_axes=axes, opset_version=14)


if __name__ == "__main__":
    main()
