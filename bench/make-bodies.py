#!/usr/bin/python3
"""Writes the request bodies the benchmarks post, as Open Inference Protocol v2 JSON:

  bench/work/iris.json          the iris example: one flower, [1,4] FP32
  bench/work/mobilenet_b1.json  MobileNetV2 at batch 1: [1,3,224,224] FP32
  bench/work/mobilenet_b1.bin   the same input in Triton's binary tensor data extension: a JSON header
                                (binary_data_size, and binary_data_output so the logits come back raw)
                                followed by the 150,528 floats little-endian; its header's length in
                                bytes (for Inference-Header-Content-Length) in mobilenet_b1.bin.header

MobileNet's values are deterministic, with 4 decimals in [-1, 1]: element i is
((i * 7919) mod 20001 - 10000) / 10000, the same numbers InProcessLimit feeds the model in-process.
Standard library only; rewrites a file only when its content would change.
"""
import os
import struct
import sys

WORK = os.path.join(os.path.dirname(os.path.abspath(__file__)), "work")


def v2_request(name, shape, values):
    return ('{"inputs":[{"name":"%s","shape":[%s],"datatype":"FP32","data":[%s]}]}'
            % (name, ",".join(str(d) for d in shape), ",".join(values)))


def mobilenet(batch):
    return v2_request("input", [batch, 3, 224, 224], ("%.4f" % v for v in mobilenet_values(batch)))


def mobilenet_values(batch):
    return [((i * 7919) % 20001 - 10000) / 10000 for i in range(batch * 3 * 224 * 224)]


def mobilenet_binary(batch):
    """(body, header length): the JSON header then the floats, each the float32 nearest its 4-decimal text."""
    values = mobilenet_values(batch)
    raw = struct.pack("<%df" % len(values), *(float("%.4f" % v) for v in values))
    header = ('{"parameters":{"binary_data_output":true},"inputs":[{"name":"input","shape":[%d,3,224,224],'
              '"datatype":"FP32","parameters":{"binary_data_size":%d}}]}' % (batch, len(raw))).encode("ascii")
    return header + raw, len(header)


def write(name, body):
    path = os.path.join(WORK, name)
    data = body if isinstance(body, bytes) else body.encode("ascii")
    if os.path.exists(path):
        with open(path, "rb") as f:
            if f.read() == data:
                return path
    with open(path, "wb") as f:
        f.write(data)
    return path


def main():
    os.makedirs(WORK, exist_ok=True)
    binary, header_length = mobilenet_binary(1)
    for path in (write("iris.json", v2_request("input", [1, 4], ["5.1", "3.5", "1.4", "0.2"])),
                 write("mobilenet_b1.json", mobilenet(1)),
                 write("mobilenet_b1.bin", binary),
                 write("mobilenet_b1.bin.header", str(header_length))):
        print("%s (%d bytes)" % (os.path.relpath(path), os.path.getsize(path)), file=sys.stderr)


if __name__ == "__main__":
    main()
