#!/usr/bin/python3
"""Sanity check of scripts/service_bench.sh: two servers of the rnnserve.v1
API (rnnserve and peer_server.py) give the same outputs, within a tolerance,
for the same session inputs: some single steps, then a chunk, then single
steps again, so the carried state is compared too.

  /usr/bin/python3 tests/bench/parity_check.py --stubs DIR --model NAME \
      127.0.0.1:PORT_A 127.0.0.1:PORT_B

Prints the largest difference; exit code 1 when it is above --tolerance.
"""

import argparse
import random
import sys

import numpy as np


def load_stubs(stubs):
    sys.path.insert(0, stubs)
    from rnnserve.v1 import (inference_pb2, inference_pb2_grpc, models_pb2, models_pb2_grpc,
                             types_pb2)
    return argparse.Namespace(inference=inference_pb2, inference_grpc=inference_pb2_grpc,
                              models=models_pb2, models_grpc=models_pb2_grpc, types=types_pb2)


def make_requests(pb, info, chunks, seed):
    """One session's requests: a start, then one request per chunk length."""
    rng = random.Random(seed)
    tokens = info.input_kind == pb.models.INPUT_KIND_TOKENS
    for i, steps in enumerate(chunks):
        request = pb.inference.StepRequest(session_id=f"parity-{seed}", start=(i == 0),
                                           end=(i == len(chunks) - 1),
                                           model=pb.types.ModelRef(name=info.model.name),
                                           request_id=str(i))
        if tokens:
            request.tokens.ids.extend(rng.randrange(info.vocabulary_size) for _ in range(steps))
        else:
            request.floats.values.extend(
                rng.uniform(-1, 1) for _ in range(steps * info.input_size))
            request.floats.steps = steps
        yield request


def run(grpc, pb, address, model, chunks, seed):
    """[total steps, output_size] outputs of one session on `address`."""
    with grpc.insecure_channel(address) as channel:
        info = pb.models_grpc.ModelServiceStub(channel).DescribeModel(
            pb.types.ModelRef(name=model), timeout=10)
        stub = pb.inference_grpc.InferenceServiceStub(channel)
        rows = []
        for response in stub.StreamSteps(make_requests(pb, info, chunks, seed), timeout=60):
            if response.HasField("error"):
                sys.exit(f"parity_check: {address}: {response.error.message}")
            rows.append(np.array(response.outputs.values).reshape(list(response.outputs.shape)))
        return np.concatenate(rows)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--stubs", required=True)
    parser.add_argument("--model", required=True)
    parser.add_argument("--tolerance", type=float, default=1e-4)
    parser.add_argument("servers", nargs=2, metavar="HOST:PORT")
    args = parser.parse_args()

    import grpc  # Debian's python3-grpcio: /usr/bin/python3 only
    pb = load_stubs(args.stubs)
    chunks = [1] * 8 + [32] + [1] * 8  # 48 steps: single, a chunk, single again
    a, b = (run(grpc, pb, server, args.model, chunks, seed=7) for server in args.servers)
    if a.shape != b.shape:
        sys.exit(f"parity_check: output shapes differ: {a.shape} and {b.shape}")
    diff = float(np.max(np.abs(a - b)))
    verdict = "ok" if diff <= args.tolerance else "MISMATCH"
    print(f"parity: {args.model}, {a.shape[0]} steps (8 single, a chunk of 32, 8 single), "
          f"largest output difference {diff:.2e} (tolerance {args.tolerance:g}): {verdict}")
    sys.exit(0 if diff <= args.tolerance else 1)


if __name__ == "__main__":
    main()
