#!/usr/bin/env python3
"""Streams one sequence through rnnserve's Open Inference Protocol REST API.

What a KServe or Triton user writes with nothing but Python's standard
library (http.client and json): the model's metadata from
GET /v2/models/{model}, then the steps in chunks, one
POST /v2/models/{model}/infer a chunk, with Triton's sequence parameters:
sequence_id (digits are sent as a JSON integer, anything else as a string),
sequence_start on the first chunk, sequence_end on the last. The connection
is kept alive across the chunks.

    examples/v2_rest_client.py --url http://127.0.0.1:8000 --model lstm \\
        --sequence-id 42 --inputs steps.json --chunk 4

`steps.json` holds a list of steps: a list of input_size floats each, or one
token id each for a model that starts with an embedding (sent as INT64).
Prints one JSON object: the model version, the session's steps after the
last chunk, and one output row per step. Exits 1 (with the server's status
and message on stderr) when a chunk fails.
"""

import argparse
import http.client
import json
import sys
import urllib.parse


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--url", required=True, help="http://HOST:PORT of rnnserve's REST API")
    parser.add_argument("--model", required=True)
    parser.add_argument("--sequence-id", required=True,
                        help="digits are sent as an integer id, anything else as a string id")
    parser.add_argument("--inputs", required=True, help="JSON file: a list of steps")
    parser.add_argument("--chunk", type=int, default=1, help="steps per request")
    parser.add_argument("--keep-open", action="store_true",
                        help="no sequence_end: the session stays for later requests")
    parser.add_argument("--continue", dest="continue_", action="store_true",
                        help="no sequence_start: continue a session that exists")
    parser.add_argument("--token", help="bearer token, if the server wants one")
    return parser.parse_args()


class RestError(Exception):
    pass


class Client:
    """JSON calls on one kept-alive HTTP connection."""

    def __init__(self, url, token):
        parsed = urllib.parse.urlsplit(url)
        if parsed.scheme != "http":
            raise RestError("--url %s: want http://HOST:PORT" % url)
        self.connection = http.client.HTTPConnection(parsed.hostname, parsed.port, timeout=60)
        self.headers = {"Content-Type": "application/json"}
        if token:
            self.headers["Authorization"] = "Bearer " + token

    def call(self, method, path, body=None):
        data = None if body is None else json.dumps(body).encode()
        self.connection.request(method, path, body=data, headers=self.headers)
        response = self.connection.getresponse()
        text = response.read().decode()
        if response.status != 200:
            raise RestError("%s %s: %d %s" % (method, path, response.status, text))
        return json.loads(text) if text else {}

    def close(self):
        self.connection.close()


def sequence_id_of(text):
    return int(text) if text.isdigit() else text


def infer_body(args, tensor, steps, first, last):
    tokens = tensor["datatype"] != "FP32"
    return {
        "id": "chunk-%d" % first,
        "parameters": {
            "sequence_id": sequence_id_of(args.sequence_id),
            "sequence_start": first == 0 and not args.continue_,
            "sequence_end": last and not args.keep_open,
        },
        "inputs": [{
            "name": tensor["name"],
            # Token ids as INT64 [T]; features FP32 [T, input_size].
            "datatype": tensor["datatype"],
            "shape": [len(steps)] if tokens else [len(steps), tensor["shape"][-1]],
            "data": steps,
        }],
    }


def output_rows(answer):
    output = answer["outputs"][0]
    width = output["shape"][-1]
    values = output["data"]
    return [values[i:i + width] for i in range(0, len(values), width)]


def main():
    args = parse_args()
    with open(args.inputs) as f:
        steps = json.load(f)
    client = Client(args.url, args.token)
    model_path = "/v2/models/" + urllib.parse.quote(args.model, safe="")
    try:
        tensor = client.call("GET", model_path)["inputs"][0]
        result = {"outputs": []}
        for first in range(0, len(steps), args.chunk):
            chunk = steps[first:first + args.chunk]
            last = first + args.chunk >= len(steps)
            answer = client.call("POST", model_path + "/infer",
                                 infer_body(args, tensor, chunk, first, last))
            result["model_version"] = answer["model_version"]
            result["session_steps"] = answer["parameters"]["session_steps"]
            result["outputs"].extend(output_rows(answer))
    except (RestError, OSError, http.client.HTTPException) as error:
        print(error, file=sys.stderr)
        return 1
    finally:
        client.close()
    json.dump(result, sys.stdout)
    print()
    return 0


if __name__ == "__main__":
    sys.exit(main())
