#!/usr/bin/python3
"""The peer of scripts/service_bench.sh: rnnserve's step API as a user would
write it in Python with grpcio and PyTorch instead of running rnnserve.

It loads a native-format model version folder (config.json +
model.safetensors) into torch.nn modules, keeps every session's recurrent
state in a dict (session id -> state tensors), and serves the rnnserve.v1
calls `rnnserve-cli bench` makes: ModelService.DescribeModel,
InferenceService.StreamSteps and Step, SessionService.EndSession. Each
request is one forward call of the session's steps, as a straightforward
server would do it: no batching across sessions.

  /usr/bin/python3 tests/bench/peer_server.py --model models/charlm/1 \
      --name charlm --port PORT --stubs DIR

DIR holds the Python stubs of proto/ (protoc --python_out --grpc_out with
/usr/bin/grpc_python_plugin). Debian's python3-grpcio and python3-torch run
under /usr/bin/python3 only. Only what nn.LSTM / nn.GRU / nn.RNN compute is
supported (PyTorch naming, unidirectional); other models are refused.
"""

import argparse
import json
import os
import struct
import sys
from concurrent import futures

import numpy as np
import torch
from torch import nn

_DTYPES = {"F32": np.float32, "F64": np.float64, "F16": np.float16}


def read_safetensors(path):
    """Tensors of a .safetensors file as float32 torch tensors.

    The safetensors package is not in Debian, so the format is read here: an
    8-byte little-endian header length, a JSON header giving each tensor's
    dtype, shape and byte range after the header, then the raw data.
    """
    with open(path, "rb") as f:
        data = f.read()
    (header_len,) = struct.unpack("<Q", data[:8])
    header = json.loads(data[8:8 + header_len])
    base = 8 + header_len
    tensors = {}
    for name, entry in header.items():
        if name == "__metadata__":
            continue
        begin, end = entry["data_offsets"]
        raw = data[base + begin:base + end]
        if entry["dtype"] == "BF16":  # the high half of a float32
            values = (np.frombuffer(raw, "<u2").astype("<u4") << 16).view("<f4")
        elif entry["dtype"] in _DTYPES:
            values = np.frombuffer(raw, np.dtype(_DTYPES[entry["dtype"]]).newbyteorder("<"))
        else:
            sys.exit(f"peer_server: {path}: tensor {name} has dtype {entry['dtype']}")
        tensors[name] = torch.from_numpy(values.astype(np.float32).reshape(entry["shape"]))
    return tensors


_UNSUPPORTED = ("bidirectional", "peephole", "input_forget", "clip", "forget_bias",
                "go_backwards")


class RecurrentModel(nn.Module):
    """embedding? -> nn.LSTM / nn.GRU / nn.RNN -> head?, the module layout
    whose state_dict() keys the native format's PyTorch naming uses."""

    def __init__(self, config, head_bias):
        super().__init__()
        if config.get("naming", "pytorch") != "pytorch" or config["cell"] == "jordan" or any(
                config.get(k) for k in _UNSUPPORTED):
            sys.exit("peer_server: only unidirectional PyTorch-named lstm/gru/rnn models")
        self.embedding = None
        input_size = config.get("input_size")
        if "embedding" in config:
            e = config["embedding"]
            self.embedding = nn.Embedding(e["num_embeddings"], e["embedding_dim"])
            input_size = e["embedding_dim"]
        common = dict(input_size=input_size, hidden_size=config["hidden_size"],
                      num_layers=config.get("num_layers", 1), bias=config.get("bias", True))
        if config["cell"] == "lstm":
            self.rnn = nn.LSTM(proj_size=config.get("proj_size", 0), **common)
        elif config["cell"] == "gru":
            self.rnn = nn.GRU(**common)
        else:
            self.rnn = nn.RNN(nonlinearity=config.get("nonlinearity", "tanh"), **common)
        width = config.get("proj_size") or config["hidden_size"]
        self.head = None
        self.activation = None
        if "head" in config:
            self.head = nn.Linear(width, config["head"]["out_features"], bias=head_bias)
            self.activation = config["head"].get("activation", "identity")
            width = config["head"]["out_features"]
        self.output_size = width

    def forward(self, x, state):
        """x: [T] token ids or [T, input_size] floats; state None (zeros) or
        the state this returned last. Returns ([T, output_size], state)."""
        if self.embedding is not None:
            x = self.embedding(x)
        y, state = self.rnn(x.unsqueeze(1), state)
        y = y.squeeze(1)
        if self.head is not None:
            y = self.head(y)
            if self.activation == "softmax":
                y = torch.softmax(y, dim=-1)
            elif self.activation == "sigmoid":
                y = torch.sigmoid(y)
        return y, state


def model_info(pb, config, name, version, model):
    """The ModelInfo rnnserve's DescribeModel gives for this model."""
    hidden = config["hidden_size"]
    layers = config.get("num_layers", 1)
    proj = config.get("proj_size", 0)
    # rnnserve's state: per layer the fed-back vector, then the LSTM cell.
    per_layer = (proj or hidden) + hidden if config["cell"] == "lstm" else hidden
    tokens = model.embedding is not None
    return pb.models.ModelInfo(
        model=pb.types.ModelRef(name=name, version=version), versions=[version],
        format="native (pytorch naming), served by peer_server.py", cell=config["cell"],
        num_layers=layers, hidden_size=hidden, proj_size=proj,
        input_kind=pb.models.INPUT_KIND_TOKENS if tokens else pb.models.INPUT_KIND_FLOATS,
        input_size=model.rnn.input_size,
        vocabulary_size=model.embedding.num_embeddings if tokens else 0,
        output_size=model.output_size, state_size=layers * per_layer, streamable=True,
        parameter_count=sum(p.numel() for p in model.parameters()))


class Peer:
    """The three services over one model and one session dict.

    grpcio's sync server runs each call on a pool thread (a stream holds its
    thread for its whole life); the GIL makes each dict operation atomic, and
    bench never sends one session's steps on two streams at once.
    """

    def __init__(self, pb, model, info):
        self.pb = pb
        self.model = model
        self.info = info
        self.sessions = {}  # session id -> (recurrent state, steps so far)

    def _input(self, request):
        if self.model.embedding is not None:
            return torch.tensor(request.tokens.ids, dtype=torch.long)
        return torch.tensor(request.floats.values, dtype=torch.float32).view(
            -1, self.info.input_size)

    def step(self, request):
        pb = self.pb
        response = pb.inference.StepResponse(request_id=request.request_id,
                                             session_id=request.session_id)
        if request.start:
            state, steps = None, 0
        elif request.session_id in self.sessions:
            state, steps = self.sessions[request.session_id]
        else:
            response.error.code = 5  # NOT_FOUND
            response.error.message = f"session {request.session_id} not found"
            return response
        try:
            with torch.inference_mode():
                outputs, state = self.model(self._input(request), state)
        except (RuntimeError, IndexError, ValueError) as e:  # bad shape or token id
            response.error.code = 3  # INVALID_ARGUMENT
            response.error.message = str(e)
            return response
        steps += outputs.shape[0]
        if request.end:
            self.sessions.pop(request.session_id, None)
        else:
            self.sessions[request.session_id] = (state, steps)
        if request.output_mode == pb.types.OUTPUT_MODE_LAST_STEP:
            outputs = outputs[-1:]
        response.outputs.values.extend(outputs.reshape(-1).tolist())
        response.outputs.shape.extend(outputs.shape)
        response.session_steps = steps
        response.model.CopyFrom(self.info.model)
        return response

    # InferenceService
    def StreamSteps(self, requests, context):
        for request in requests:
            yield self.step(request)

    def Step(self, request, context):
        return self.step(request)

    # ModelService
    def DescribeModel(self, request, context):
        return self.info

    def ListModels(self, request, context):
        return self.pb.models.ListModelsResponse(models=[self.info])

    # SessionService
    def EndSession(self, request, context):
        state = self.sessions.pop(request.session_id, None)
        return self.pb.sessions.SessionInfo(session_id=request.session_id,
                                            steps=state[1] if state else 0,
                                            model=self.info.model)


def load_stubs(stubs):
    sys.path.insert(0, stubs)
    from rnnserve.v1 import (inference_pb2, inference_pb2_grpc, models_pb2, models_pb2_grpc,
                             sessions_pb2, sessions_pb2_grpc, types_pb2)
    return argparse.Namespace(inference=inference_pb2, inference_grpc=inference_pb2_grpc,
                              models=models_pb2, models_grpc=models_pb2_grpc,
                              sessions=sessions_pb2, sessions_grpc=sessions_pb2_grpc,
                              types=types_pb2)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", required=True, help="a native model version folder")
    parser.add_argument("--name", required=True, help="the model name to answer as")
    parser.add_argument("--version", type=int, default=1)
    parser.add_argument("--port", type=int, required=True, help="on 127.0.0.1")
    parser.add_argument("--stubs", required=True, help="folder of the generated stubs")
    parser.add_argument("--threads", type=int, default=128,
                        help="gRPC pool threads; each open stream holds one")
    args = parser.parse_args()

    import grpc  # Debian's python3-grpcio: /usr/bin/python3 only
    pb = load_stubs(args.stubs)
    # The peer gets one core, as rnnserve does: more torch threads only contend.
    torch.set_num_threads(1)
    with open(os.path.join(args.model, "config.json")) as f:
        config = json.load(f)
    tensors = read_safetensors(os.path.join(args.model, "model.safetensors"))
    # The format has no config field for it: a head without bias lacks the tensor.
    model = RecurrentModel(config, head_bias="head.bias" in tensors)
    model.load_state_dict(tensors)
    model.eval()
    # The generated servicer bases answer the calls Peer lacks (RunSequence,
    # ExportState, ...) with UNIMPLEMENTED; registration needs every method.
    servicer = type("PeerServicer", (Peer, pb.inference_grpc.InferenceServiceServicer,
                                     pb.models_grpc.ModelServiceServicer,
                                     pb.sessions_grpc.SessionServiceServicer), {})
    peer = servicer(pb, model, model_info(pb, config, args.name, args.version, model))

    # No SO_REUSEPORT (grpcio's default): a port already taken must fail, not
    # be shared with another server.
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=args.threads),
                         options=[("grpc.so_reuseport", 0)])
    pb.inference_grpc.add_InferenceServiceServicer_to_server(peer, server)
    pb.models_grpc.add_ModelServiceServicer_to_server(peer, server)
    pb.sessions_grpc.add_SessionServiceServicer_to_server(peer, server)
    if server.add_insecure_port(f"127.0.0.1:{args.port}") == 0:
        sys.exit(f"peer_server: cannot listen on 127.0.0.1:{args.port}")
    server.start()
    print(f"peer_server: serving {args.name} on port {args.port}", file=sys.stderr, flush=True)
    server.wait_for_termination()


if __name__ == "__main__":
    main()
