#!/usr/bin/env python3
"""Streams one sequence through rnnserve with the Open Inference Protocol.

What a Triton user writes against a sequence model: stubs generated from the
protocol's .proto (here rnnserve's proto/inference/grpc_service.proto, the
published KServe v2 / Triton file's subset) and plain grpcio, no tritonclient.
The steps go through the bidirectional ModelStreamInfer in chunks (with
--unary, one ModelInfer call per chunk), with Triton's sequence parameters:
sequence_id (an integer, sent as int64_param as tritonclient does or with
--uint64-id as uint64_param, or a string), sequence_start on the first chunk,
sequence_end on the last.

Generate the stubs once (Debian: protobuf-compiler, protobuf-compiler-grpc,
python3-grpcio):

    protoc -I proto --python_out=STUBS --grpc_out=STUBS \\
        --plugin=protoc-gen-grpc=$(which grpc_python_plugin) \\
        proto/inference/grpc_service.proto

then

    examples/v2_stream_client.py --stubs STUBS --server 127.0.0.1:50051 \\
        --model lstm --sequence-id 42 --inputs steps.json --chunk 4

`steps.json` holds a list of steps: a list of input_size floats each, or one
token id each for a model that starts with an embedding. Prints one JSON
object: the model version, the session's steps after the last chunk, and one
output row per step. Exits 1 (with the server's message on stderr) when a
chunk fails.
"""

import argparse
import json
import struct
import sys


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--server", required=True, help="HOST:PORT of rnnserve")
    parser.add_argument("--model", required=True)
    parser.add_argument("--sequence-id", required=True,
                        help="digits are sent as an integer id, anything else as a string id")
    parser.add_argument("--uint64-id", action="store_true",
                        help="send an integer id as uint64_param, not int64_param (ids up to "
                             "2^64-1; rnnserve names the session by the id's decimal digits)")
    parser.add_argument("--inputs", required=True, help="JSON file: a list of steps")
    parser.add_argument("--chunk", type=int, default=1, help="steps per request")
    parser.add_argument("--raw", action="store_true",
                        help="send raw_input_contents (outputs then come raw too)")
    parser.add_argument("--keep-open", action="store_true",
                        help="no sequence_end: the session stays for later requests")
    parser.add_argument("--continue", dest="continue_", action="store_true",
                        help="no sequence_start: continue a session that exists")
    parser.add_argument("--unary", action="store_true",
                        help="one ModelInfer call per chunk instead of one ModelStreamInfer stream")
    parser.add_argument("--token", help="bearer token, if the server wants one")
    parser.add_argument("--stubs", help="folder holding the generated inference/ stubs")
    return parser.parse_args()


def set_sequence_id(parameter, sequence_id, uint64):
    # As tritonclient does: an integer id goes as int64_param, a string one
    # as string_param. rnnserve also takes uint64_param (the protocol's type
    # for an integer id), which holds ids past 2^63-1 too.
    if not sequence_id.isdigit():
        parameter.string_param = sequence_id
    elif uint64:
        parameter.uint64_param = int(sequence_id)
    else:
        parameter.int64_param = int(sequence_id)


def make_request(pb2, args, tensor, steps, first, last):
    request = pb2.ModelInferRequest(model_name=args.model, id="chunk-%d" % first)
    set_sequence_id(request.parameters["sequence_id"], args.sequence_id, args.uint64_id)
    request.parameters["sequence_start"].bool_param = first == 0 and not args.continue_
    request.parameters["sequence_end"].bool_param = last and not args.keep_open
    tokens = tensor.datatype != "FP32"
    width = 1 if tokens else tensor.shape[-1]
    flat = steps if tokens else [value for step in steps for value in step]
    input_tensor = request.inputs.add(name=tensor.name, datatype=tensor.datatype,
                                      shape=[len(steps)] if tokens else [len(steps), width])
    if args.raw:
        code = "<%d%s" % (len(flat), "q" if tokens else "f")
        request.raw_input_contents.append(struct.pack(code, *flat))
    elif tokens:
        input_tensor.contents.int64_contents.extend(flat)
    else:
        input_tensor.contents.fp32_contents.extend(flat)
    return request


def output_rows(response):
    output = response.outputs[0]
    width = output.shape[-1]
    if response.raw_output_contents:
        raw = response.raw_output_contents[0]
        values = struct.unpack("<%df" % (len(raw) // 4), raw)
    else:
        values = output.contents.fp32_contents
    return [list(values[i:i + width]) for i in range(0, len(values), width)]


def stream_answers(stub, requests, metadata):
    """The ModelInferResponses of one ModelStreamInfer stream; None after an error."""
    for response in stub.ModelStreamInfer(requests, metadata=metadata):
        if response.error_message:
            print("chunk %s: %s" % (response.infer_response.id, response.error_message),
                  file=sys.stderr)
            yield None
            return
        yield response.infer_response


def unary_answers(stub, requests, metadata):
    """The ModelInferResponses of one ModelInfer call a request; None after an error."""
    import grpc
    for request in requests:
        try:
            yield stub.ModelInfer(request, metadata=metadata)
        except grpc.RpcError as error:
            print("chunk %s: %s: %s" % (request.id, error.code().name, error.details()),
                  file=sys.stderr)
            yield None
            return


def main():
    args = parse_args()
    if args.stubs:
        sys.path.insert(0, args.stubs)
    import grpc
    from inference import grpc_service_pb2 as pb2
    from inference import grpc_service_pb2_grpc as pb2_grpc

    with open(args.inputs) as f:
        steps = json.load(f)
    metadata = [("authorization", "Bearer " + args.token)] if args.token else None
    with grpc.insecure_channel(args.server) as channel:
        stub = pb2_grpc.GRPCInferenceServiceStub(channel)
        model = stub.ModelMetadata(pb2.ModelMetadataRequest(name=args.model), metadata=metadata)
        tensor = model.inputs[0]
        chunks = range(0, len(steps), args.chunk)
        requests = (make_request(pb2, args, tensor, steps[first:first + args.chunk], first,
                                 first + args.chunk >= len(steps)) for first in chunks)
        result = {"outputs": []}
        for infer in (unary_answers(stub, requests, metadata) if args.unary
                      else stream_answers(stub, requests, metadata)):
            if infer is None:
                return 1
            result["model_version"] = infer.model_version
            result["session_steps"] = infer.parameters["session_steps"].int64_param
            result["outputs"].extend(output_rows(infer))
    json.dump(result, sys.stdout)
    print()
    return 0


if __name__ == "__main__":
    sys.exit(main())
