#!/usr/bin/python3
"""Writes the request bodies the benchmarks post, as Open Inference Protocol v2 JSON:

  bench/work/iris.json          the iris example: one flower, [1,4] FP32
  bench/work/mobilenet_b1.json  MobileNetV2 at batch 1: [1,3,224,224] FP32

MobileNet's values are deterministic, with 4 decimals in [-1, 1]: element i is
((i * 7919) mod 20001 - 10000) / 10000, the same numbers InProcessLimit feeds the model in-process.
Standard library only; rewrites a file only when its content would change.
"""
import os
import sys

WORK = os.path.join(os.path.dirname(os.path.abspath(__file__)), "work")


def v2_request(name, shape, values):
    return ('{"inputs":[{"name":"%s","shape":[%s],"datatype":"FP32","data":[%s]}]}'
            % (name, ",".join(str(d) for d in shape), ",".join(values)))


def mobilenet(batch):
    n = batch * 3 * 224 * 224
    return v2_request("input", [batch, 3, 224, 224],
                      ("%.4f" % (((i * 7919) % 20001 - 10000) / 10000) for i in range(n)))


def write(name, body):
    path = os.path.join(WORK, name)
    data = body.encode("ascii")
    if os.path.exists(path):
        with open(path, "rb") as f:
            if f.read() == data:
                return path
    with open(path, "wb") as f:
        f.write(data)
    return path


def main():
    os.makedirs(WORK, exist_ok=True)
    for path in (write("iris.json", v2_request("input", [1, 4], ["5.1", "3.5", "1.4", "0.2"])),
                 write("mobilenet_b1.json", mobilenet(1))):
        print("%s (%d bytes)" % (os.path.relpath(path), os.path.getsize(path)), file=sys.stderr)


if __name__ == "__main__":
    main()
