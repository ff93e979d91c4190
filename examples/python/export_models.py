#!/usr/bin/python3
"""Build Serval's example models, test models, reference answers and benchmark models.

Run it from anywhere with Debian's Python (the Debian packages python3-torch,
python3-torchvision, python3-onnx, python3-sklearn and python3-numpy provide
everything; nothing is downloaded):

    /usr/bin/python3 examples/python/export_models.py            # committed artefacts
    /usr/bin/python3 examples/python/export_models.py --bench    # ... plus the benchmark models
    /usr/bin/python3 examples/python/export_models.py --bench-only encoder

What it writes (paths relative to the examples/ folder):

  repository/          the bundled example model repository (<model>/<version>/model.onnx)
      iris/1           MLP trained on scikit-learn's bundled iris data, with labels
      iris_small/1, 2  two versions of a linear iris classifier (for version tests)
      cnn/1            small image CNN trained on synthetic 32x32 patterns
      text/1           small transformer text classifier trained on synthetic token ids
  test-repository/     models built directly with onnx.helper, for server tests
      datatypes/1      one Identity per Open Inference Protocol datatype
      fixed/1          a model without a batch dimension
      scalar_add/1     element-wise sum and product of two inputs
      external_data/1  weights in an external data file beside model.onnx (weights.bin)
  test-models/over_2gb/model.onnx  the graph of a model with a 2.15 GB initializer (its weights.bin
                       is made by the test that serves it)
  reference/           Open Inference Protocol (KServe v2) requests and the expected
                       responses, computed with PyTorch (or numpy for the onnx.helper models)
  bench-models/        only with --bench / --bench-only: large models as ONNX and
                       TorchScript from the same weights (git-ignored, never committed)

Everything is deterministic: fixed seeds, one torch thread, deterministic algorithms,
so running the script twice gives byte-identical files.
"""

import argparse
import io
import json
import os
import random
import re
import sys
import time
from pathlib import Path

import numpy as np
import onnx
import torch
from onnx import TensorProto, helper, numpy_helper
from torch import nn
from torch.nn import functional as F

OPSET = 17
# onnx.helper models: IR version 8 (ONNX 1.12's own default) is read by ONNX Runtime 1.23.
IR_VERSION = 8

EXAMPLES_DIR = Path(__file__).resolve().parent.parent
BENCH_NAMES = ("mobilenet_v2", "encoder", "mlp_1g", "linear_50m")

# Open Inference Protocol datatype names for numpy dtypes.
KSERVE_DATATYPE = {
    np.dtype(np.float16): "FP16",
    np.dtype(np.float32): "FP32",
    np.dtype(np.float64): "FP64",
    np.dtype(np.int8): "INT8",
    np.dtype(np.int16): "INT16",
    np.dtype(np.int32): "INT32",
    np.dtype(np.int64): "INT64",
    np.dtype(np.uint8): "UINT8",
    np.dtype(np.bool_): "BOOL",
    np.dtype(object): "BYTES",
}


# --------------------------------------------------------------------------------------
# Determinism
# --------------------------------------------------------------------------------------

def make_deterministic():
    """One thread and deterministic kernels, so training and export repeat bit for bit."""
    torch.set_num_threads(1)
    torch.set_num_interop_threads(1)
    torch.use_deterministic_algorithms(True)


def seed_everything(seed):
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


# --------------------------------------------------------------------------------------
# ONNX helpers
# --------------------------------------------------------------------------------------

def describe_value(value_info):
    """'name: FLOAT [batch, 4]' for an ONNX graph input or output."""
    tensor_type = value_info.type.tensor_type
    dims = [d.dim_param if d.dim_param else str(d.dim_value) for d in tensor_type.shape.dim]
    dtype = TensorProto.DataType.Name(tensor_type.elem_type)
    return f"{value_info.name}: {dtype} [{', '.join(dims)}]"


def print_signature(path):
    """Check an ONNX file with onnx.checker and print its inputs and outputs."""
    onnx.checker.check_model(str(path))  # a path also works for files near 2 GB
    model = onnx.load(str(path), load_external_data=False)
    size = path.stat().st_size
    print(f"  {path.relative_to(path.parents[2])}  ({size:,} bytes, IR {model.ir_version}, "
          f"opset {model.opset_import[0].version})")
    for value in model.graph.input:
        print(f"    input  {describe_value(value)}")
    for value in model.graph.output:
        print(f"    output {describe_value(value)}")


def export_torch(model, args, path, input_names, output_names, dynamic_axes, doc=None):
    """Export an eval-mode module with the classic TorchScript-based exporter at opset 17.

    torch 1.13 (Debian bookworm) only has the classic exporter, so there is no
    dynamo= argument to pass. The file is checked and its signature printed.
    """
    model.eval()
    path.parent.mkdir(parents=True, exist_ok=True)
    with torch.no_grad():
        if doc is None:
            torch.onnx.export(model, args, str(path), opset_version=OPSET,
                              input_names=input_names, output_names=output_names,
                              dynamic_axes=dynamic_axes, do_constant_folding=True)
        else:
            # Small models: round trip through memory to add a description to the file.
            buffer = io.BytesIO()
            torch.onnx.export(model, args, buffer, opset_version=OPSET,
                              input_names=input_names, output_names=output_names,
                              dynamic_axes=dynamic_axes, do_constant_folding=True)
            proto = onnx.load_from_string(buffer.getvalue())
            proto.doc_string = doc
            onnx.save(proto, str(path))
    print_signature(path)


def save_helper_model(graph, path, doc):
    """Wrap an onnx.helper graph into a model at opset 17 / IR 8, check and save it."""
    model = helper.make_model(graph, producer_name="serval-examples",
                              opset_imports=[helper.make_opsetid("", OPSET)])
    model.ir_version = IR_VERSION
    model.doc_string = doc
    onnx.checker.check_model(model, full_check=True)
    path.parent.mkdir(parents=True, exist_ok=True)
    onnx.save(model, str(path))
    print_signature(path)


# --------------------------------------------------------------------------------------
# Reference files (Open Inference Protocol requests and expected responses)
# --------------------------------------------------------------------------------------

def format_input_float(value, dtype):
    """Shortest decimal that reads back as exactly the same float32 (or float64).

    Inputs are written short (5.1, not 5.099999904632568) since the server parses
    an FP32 input into a float32 either way and gets the same value.
    """
    if dtype == np.float32:
        text = repr(float(str(np.float32(value))))
        assert np.float32(float(text)) == np.float32(value)
        return text
    return repr(float(value))


def format_output_float(value):
    """The exact binary value of a float32 as a double (repr of float(x)).

    It reads back to the very same number whether a test parses it as float or double.
    """
    return repr(float(value))


def tensor_json(name, array, role):
    """One Open Inference Protocol tensor: name, datatype, shape, flat row-major data."""
    array = np.asarray(array)
    datatype = KSERVE_DATATYPE[array.dtype]
    flat = array.reshape(-1).tolist() if array.dtype != object else list(array.reshape(-1))
    if datatype in ("FP32", "FP64"):
        assert np.all(np.isfinite(array)), f"{name}: non-finite values cannot go in JSON"
        if role == "input":
            data = [format_input_float(v, array.dtype) for v in flat]
        else:
            data = [format_output_float(v) for v in flat]
        data_text = "[" + ", ".join(data) + "]"
    elif datatype == "FP16":
        # JSON numbers (Serval converts them); only values whose shortest float32 text is exact,
        # so that the reference reads back unchanged however it is parsed.
        assert np.all(np.isfinite(array)), f"{name}: non-finite values cannot go in JSON"
        data = [repr(float(v)) for v in flat]
        for text, v in zip(data, flat):
            assert float(str(np.float32(v))) == float(v), f"{name}: {text} has no short exact form"
        data_text = "[" + ", ".join(data) + "]"
    elif datatype == "BOOL":
        data_text = "[" + ", ".join("true" if v else "false" for v in flat) + "]"
    elif datatype == "BYTES":
        data_text = "[" + ", ".join(json.dumps(str(v), ensure_ascii=False) for v in flat) + "]"
    else:
        data_text = "[" + ", ".join(str(int(v)) for v in flat) + "]"
    shape_text = "[" + ", ".join(str(d) for d in array.shape) + "]"
    return {"name": name, "datatype": datatype, "shape": shape_text, "data": data_text}


def write_reference(path, model, version, tolerance, cases, repository="repository", note=None):
    """Write examples/reference/<file>.json.

    cases: list of (case name, [(input name, array)], [(output name, array)]).
    The data lists are kept on one line each; everything else is pretty-printed.
    """
    document = {"model": model, "version": version, "repository": repository}
    if note:
        document["note"] = note
    document["tolerance"] = tolerance
    document["comparison"] = "|actual - expected| <= absolute + relative * |expected|"
    document["cases"] = []
    raw = {}  # placeholder -> preformatted data list

    def placeholder(tensor):
        # Shapes and data stay on one line: swap them for keys, then back into the text.
        for field in ("shape", "data"):
            key = f"@@{len(raw)}@@"
            raw[key] = tensor[field]
            tensor[field] = key
        return tensor

    for case_name, inputs, outputs in cases:
        document["cases"].append({
            "name": case_name,
            "request": {"inputs": [placeholder(tensor_json(n, a, "input")) for n, a in inputs]},
            "response": {"outputs": [placeholder(tensor_json(n, a, "output")) for n, a in outputs]},
        })
    text = json.dumps(document, indent=2, ensure_ascii=False)
    for key, data_text in raw.items():
        text = text.replace(f'"{key}"', data_text)
    json.loads(text)  # still valid JSON
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text + "\n", encoding="utf-8")
    print(f"  {path.parent.name}/{path.name}  ({path.stat().st_size:,} bytes, "
          f"{len(cases)} cases)")


def torch_outputs(model, *inputs):
    """Run an eval-mode model on numpy inputs and return its outputs as numpy float32."""
    model.eval()
    with torch.no_grad():
        result = model(*[torch.from_numpy(np.ascontiguousarray(x)) for x in inputs])
    if isinstance(result, torch.Tensor):
        result = (result,)
    return [r.numpy().astype(np.float32) for r in result]


# --------------------------------------------------------------------------------------
# iris: MLP with standardisation in the graph, trained on scikit-learn's bundled data
# --------------------------------------------------------------------------------------

IRIS_LABELS = ["setosa", "versicolor", "virginica"]


def load_iris_arrays():
    from sklearn.datasets import load_iris  # the data ship inside the package
    iris = load_iris()
    assert list(iris.target_names) == IRIS_LABELS
    return iris.data.astype(np.float32), iris.target.astype(np.int64)


class Standardize(nn.Module):
    """(x - mean) / std with the training set's statistics, so raw cm go in."""

    def __init__(self, features):
        super().__init__()
        self.register_buffer("mean", torch.from_numpy(features.mean(axis=0)))
        self.register_buffer("std", torch.from_numpy(features.std(axis=0)))

    def forward(self, x):
        return (x - self.mean) / self.std


class IrisMLP(nn.Module):
    """4 -> 16 -> 16 -> 3 with ReLU; returns logits and softmax probabilities."""

    def __init__(self, features):
        super().__init__()
        self.standardize = Standardize(features)
        self.layers = nn.Sequential(nn.Linear(4, 16), nn.ReLU(), nn.Linear(16, 16), nn.ReLU(),
                                    nn.Linear(16, 3))

    def forward(self, x):
        logits = self.layers(self.standardize(x))
        return logits, torch.softmax(logits, dim=-1)


class IrisLinear(nn.Module):
    """A single 4 -> 3 linear layer after standardisation; returns logits only."""

    def __init__(self, features):
        super().__init__()
        self.standardize = Standardize(features)
        self.linear = nn.Linear(4, 3)

    def forward(self, x):
        return self.linear(self.standardize(x))


def train_full_batch(model, x, y, epochs, lr, optimizer="adam"):
    """Full-batch training with cross entropy; returns the training accuracy."""
    inputs, targets = torch.from_numpy(x), torch.from_numpy(y)
    if optimizer == "adam":
        opt = torch.optim.Adam(model.parameters(), lr=lr)
    else:
        opt = torch.optim.SGD(model.parameters(), lr=lr)
    model.train()
    for _ in range(epochs):
        opt.zero_grad()
        out = model(inputs)
        logits = out[0] if isinstance(out, tuple) else out
        F.cross_entropy(logits, targets).backward()
        opt.step()
    model.eval()
    with torch.no_grad():
        out = model(inputs)
        logits = out[0] if isinstance(out, tuple) else out
        return (logits.argmax(dim=1) == targets).float().mean().item()


def iris_reference_inputs(x):
    """Fixed flowers: one setosa; one of each class; eight mixed (the last one invented)."""
    one = x[[0]]
    three = x[[0, 50, 100]]
    eight = np.concatenate([x[[1, 25, 60, 75, 110, 130, 145]],
                            np.array([[6.0, 2.9, 4.9, 1.6]], dtype=np.float32)])
    return [("one flower", one), ("three flowers", three), ("eight flowers", eight)]


def train_iris():
    """The iris MLP, trained from a fixed seed: the same weights every run (make_deterministic)."""
    x, y = load_iris_arrays()
    seed_everything(42)
    model = IrisMLP(x)
    accuracy = train_full_batch(model, x, y, epochs=500, lr=0.01)
    print(f"iris: training accuracy {accuracy:.4f} on {len(x)} flowers")
    assert accuracy >= 0.95, "iris MLP did not reach 95 % training accuracy"
    return model, x, accuracy


def build_iris_torchscript(bench_dir):
    """The iris MLP as TorchScript for the benchmark suite's Python peer (the hello scenario)."""
    model, x, _ = train_iris()
    model.eval()
    ts_path = bench_dir / "torchscript" / "iris.pt"
    ts_path.parent.mkdir(parents=True, exist_ok=True)
    with torch.no_grad():
        torch.jit.trace(model, torch.from_numpy(x[:2])).save(str(ts_path))
    print(f"  {ts_path}  ({ts_path.stat().st_size:,} bytes; the weights of examples/repository/iris)")


def build_iris(repo, reference):
    model, x, accuracy = train_iris()

    export_torch(model, torch.from_numpy(x[:2]), repo / "iris" / "1" / "model.onnx",
                 input_names=["input"], output_names=["logits", "probabilities"],
                 dynamic_axes={"input": {0: "batch"}, "logits": {0: "batch"},
                               "probabilities": {0: "batch"}},
                 doc="Iris classifier: 4 raw measurements in cm (sepal length, sepal width, "
                     "petal length, petal width) -> logits and probabilities for setosa, "
                     "versicolor, virginica. MLP 4-16-16-3 trained on scikit-learn's iris data.")
    (repo / "iris" / "labels.txt").write_text("\n".join(IRIS_LABELS) + "\n")
    (repo / "iris" / "config.yaml").write_text(
        "# Settings the ONNX file cannot carry. Everything else is read from the model.\n"
        "labels: labels.txt\n")

    cases = []
    for name, flowers in iris_reference_inputs(x):
        logits, probabilities = torch_outputs(model, flowers)
        cases.append((name, [("input", flowers)],
                      [("logits", logits), ("probabilities", probabilities)]))
    write_reference(reference / "iris.json", "iris", "1",
                    {"absolute": 1e-5, "relative": 1e-5}, cases)
    return accuracy


def build_iris_small(repo, reference):
    """Two versions of a linear iris model whose answers differ."""
    x, y = load_iris_arrays()
    accuracies = {}
    # Version 1: a few plain SGD steps, version 2: Adam to convergence, other seed.
    settings = {"1": dict(seed=1, epochs=30, lr=0.1, optimizer="sgd"),
                "2": dict(seed=2, epochs=1000, lr=0.05, optimizer="adam")}
    for version, s in settings.items():
        seed_everything(s["seed"])
        model = IrisLinear(x)
        accuracy = train_full_batch(model, x, y, s["epochs"], s["lr"], s["optimizer"])
        accuracies[version] = accuracy
        print(f"iris_small v{version}: training accuracy {accuracy:.4f}")
        export_torch(model, torch.from_numpy(x[:2]),
                     repo / "iris_small" / version / "model.onnx",
                     input_names=["input"], output_names=["logits"],
                     dynamic_axes={"input": {0: "batch"}, "logits": {0: "batch"}},
                     doc=f"Linear iris classifier, version {version}: 4 raw measurements in cm "
                         f"-> logits for setosa, versicolor, virginica.")
        cases = []
        for name, flowers in iris_reference_inputs(x):
            (logits,) = torch_outputs(model, flowers)
            cases.append((name, [("input", flowers)], [("logits", logits)]))
        write_reference(reference / f"iris_small.v{version}.json", "iris_small", version,
                        {"absolute": 1e-5, "relative": 1e-5}, cases)
    return accuracies


# --------------------------------------------------------------------------------------
# cnn: small image classifier trained on synthetic 32x32 patterns
# --------------------------------------------------------------------------------------

PATTERNS = ["square", "circle", "ring", "frame", "horizontal bar", "vertical bar", "plus",
            "cross", "triangle", "checkerboard"]


def draw_pattern(cls, rng):
    """A 3x32x32 float32 image in [0, 1]: pattern `cls` in a random colour on noise."""
    yy, xx = np.mgrid[0:32, 0:32].astype(np.float32)
    cx, cy = rng.uniform(10, 22, size=2)
    r = rng.uniform(5, 9)
    dx, dy = xx - cx, yy - cy
    adx, ady = np.abs(dx), np.abs(dy)
    inside = (adx <= r) & (ady <= r)
    if cls == 0:
        mask = inside
    elif cls == 1:
        mask = dx ** 2 + dy ** 2 <= r ** 2
    elif cls == 2:
        d2 = dx ** 2 + dy ** 2
        mask = (d2 <= r ** 2) & (d2 >= (r - 2.5) ** 2)
    elif cls == 3:
        mask = inside & (np.maximum(adx, ady) >= r - 2)
    elif cls == 4:
        mask = (ady <= 1.5) & (adx <= r + 3)
    elif cls == 5:
        mask = (adx <= 1.5) & (ady <= r + 3)
    elif cls == 6:
        mask = ((adx <= 1.5) & (ady <= r)) | ((ady <= 1.5) & (adx <= r))
    elif cls == 7:
        mask = inside & ((np.abs(dx - dy) <= 1.5) | (np.abs(dx + dy) <= 1.5))
    elif cls == 8:
        mask = (dy >= -r) & (dy <= r) & (adx <= (dy + r) / 2)
    else:
        mask = inside & (((xx // 3 + yy // 3) % 2) == 0)
    background = rng.uniform(0.0, 0.3)
    colour = rng.uniform(0.5, 1.0, size=3).astype(np.float32)
    image = np.where(mask[None], colour[:, None, None], np.float32(background))
    image = image + rng.normal(0.0, 0.05, size=image.shape)
    return np.clip(image, 0.0, 1.0).astype(np.float32)


def pattern_dataset(count, seed):
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, len(PATTERNS), size=count)
    images = np.stack([draw_pattern(int(c), rng) for c in labels])
    return images, labels.astype(np.int64)


class SmallCNN(nn.Module):
    """3 conv blocks (conv, batch norm, ReLU, pooling) and a linear classifier."""

    def __init__(self, classes=10):
        super().__init__()

        def block(cin, cout):
            return [nn.Conv2d(cin, cout, 3, padding=1, bias=False), nn.BatchNorm2d(cout),
                    nn.ReLU()]

        self.features = nn.Sequential(*block(3, 16), nn.MaxPool2d(2),    # 16x16
                                      *block(16, 32), nn.MaxPool2d(2),   # 8x8
                                      *block(32, 64), nn.AdaptiveAvgPool2d(1))
        self.classifier = nn.Linear(64, classes)

    def forward(self, image):
        return self.classifier(torch.flatten(self.features(image), 1))


def build_cnn(repo, reference):
    train_x, train_y = pattern_dataset(6000, seed=100)
    test_x, test_y = pattern_dataset(1000, seed=101)
    seed_everything(7)
    model = SmallCNN()
    opt = torch.optim.Adam(model.parameters(), lr=3e-3)
    generator = torch.Generator().manual_seed(7)
    model.train()
    steps, batch = 400, 64
    for _ in range(steps):
        index = torch.randint(0, len(train_x), (batch,), generator=generator)
        opt.zero_grad()
        loss = F.cross_entropy(model(torch.from_numpy(train_x)[index]),
                               torch.from_numpy(train_y)[index])
        loss.backward()
        opt.step()
    model.eval()  # batch norm uses its running statistics from here on
    with torch.no_grad():
        train_acc = (model(torch.from_numpy(train_x)).argmax(1).numpy() == train_y).mean()
        test_acc = (model(torch.from_numpy(test_x)).argmax(1).numpy() == test_y).mean()
    print(f"cnn: {steps} steps of batch {batch}; training accuracy {train_acc:.4f}, "
          f"held-out accuracy {test_acc:.4f} (synthetic patterns)")

    export_torch(model, torch.from_numpy(train_x[:2]), repo / "cnn" / "1" / "model.onnx",
                 input_names=["image"], output_names=["logits"],
                 dynamic_axes={"image": {0: "batch"}, "logits": {0: "batch"}},
                 doc="Small CNN: RGB image [batch, 3, 32, 32] with values in [0, 1] -> logits "
                     "for 10 synthetic patterns: " + ", ".join(PATTERNS) + ".")

    # Reference inputs are rounded to 4 decimals first, so the JSON holds exactly what ran.
    rng = np.random.default_rng(2024)
    one = draw_pattern(1, rng)[None]
    eight = np.stack([draw_pattern(c, rng) for c in range(8)])
    noise = rng.uniform(0.0, 1.0, size=(2, 3, 32, 32))
    cases = []
    for name, images in [("one circle", one), ("eight patterns", eight),
                         ("two noise images", noise)]:
        images = np.round(images, 4).astype(np.float32)
        (logits,) = torch_outputs(model, images)
        cases.append((name, [("image", images)], [("logits", logits)]))
    write_reference(reference / "cnn.json", "cnn", "1", {"absolute": 1e-4, "relative": 1e-4},
                    cases)
    return float(train_acc), float(test_acc)


# --------------------------------------------------------------------------------------
# Transformer encoder blocks, shared by the text example and the encoder benchmark
# --------------------------------------------------------------------------------------

class EncoderLayer(nn.Module):
    """Post-norm transformer encoder layer (BERT style), written out so it exports plainly."""

    def __init__(self, hidden, heads, ffn, activation):
        super().__init__()
        self.heads = heads
        self.head_dim = hidden // heads
        self.query = nn.Linear(hidden, hidden)
        self.key = nn.Linear(hidden, hidden)
        self.value = nn.Linear(hidden, hidden)
        self.attention_out = nn.Linear(hidden, hidden)
        self.attention_norm = nn.LayerNorm(hidden)
        self.ffn_in = nn.Linear(hidden, ffn)
        self.ffn_out = nn.Linear(ffn, hidden)
        self.ffn_norm = nn.LayerNorm(hidden)
        self.activation = activation

    def split_heads(self, x):
        batch, seq = x.shape[0], x.shape[1]
        return x.reshape(batch, seq, self.heads, self.head_dim).transpose(1, 2)

    def forward(self, x, key_bias):
        # key_bias: [batch, 1, 1, seq], 0 for real tokens and -1e9 for padding.
        q, k, v = self.split_heads(self.query(x)), self.split_heads(self.key(x)), \
            self.split_heads(self.value(x))
        scores = torch.matmul(q, k.transpose(-1, -2)) / (self.head_dim ** 0.5) + key_bias
        context = torch.matmul(torch.softmax(scores, dim=-1), v)
        context = context.transpose(1, 2).reshape(x.shape)
        x = self.attention_norm(x + self.attention_out(context))
        return self.ffn_norm(x + self.ffn_out(self.activation(self.ffn_in(x))))


class Encoder(nn.Module):
    """Token + position embeddings, encoder layers, masked mean pooling.

    forward(input_ids, attention_mask) -> (last_hidden_state, mean-pooled [batch, hidden]).
    Padding (attention_mask 0) is ignored by attention and by the pooling.
    """

    def __init__(self, vocab, hidden, heads, ffn, layers, max_positions, activation):
        super().__init__()
        self.tokens = nn.Embedding(vocab, hidden)
        self.positions = nn.Embedding(max_positions, hidden)
        self.embedding_norm = nn.LayerNorm(hidden)
        self.layers = nn.ModuleList(
            [EncoderLayer(hidden, heads, ffn, activation) for _ in range(layers)])

    def forward(self, input_ids, attention_mask):
        positions = torch.arange(input_ids.shape[1])
        x = self.embedding_norm(self.tokens(input_ids) + self.positions(positions)[None])
        mask = attention_mask.to(x.dtype)
        key_bias = ((1.0 - mask) * -1e9)[:, None, None, :]
        for layer in self.layers:
            x = layer(x, key_bias)
        # Mean over real tokens; max(count, 1) keeps an all-padding row finite. (torch.maximum
        # rather than clamp(min=1): the latter exports a Clip with an empty max input.)
        count = mask.sum(dim=1, keepdim=True)
        pooled = (x * mask[:, :, None]).sum(dim=1) / torch.maximum(count, torch.ones_like(count))
        return x, pooled


class TextClassifier(nn.Module):
    """One-layer encoder over token ids + masked mean pooling + linear -> 2 logits."""

    def __init__(self):
        super().__init__()
        self.encoder = Encoder(vocab=TEXT_VOCAB, hidden=64, heads=4, ffn=128, layers=1,
                               max_positions=TEXT_MAX_POSITIONS, activation=nn.ReLU())
        self.classifier = nn.Linear(64, 2)

    def forward(self, input_ids, attention_mask):
        _, pooled = self.encoder(input_ids, attention_mask)
        return self.classifier(pooled)


# --------------------------------------------------------------------------------------
# text: synthetic sentiment over token ids
# --------------------------------------------------------------------------------------

TEXT_VOCAB = 1000
TEXT_MAX_POSITIONS = 128
POSITIVE = (100, 200)   # ids in [100, 200) are "positive words"
NEGATIVE = (200, 300)   # ids in [200, 300) are "negative words"; 0 is padding


def text_sample(rng, length):
    """Token ids of one 'sentence' and its label: 1 if more positive than negative ids."""
    while True:
        p_pos, p_neg = rng.uniform(0.05, 0.45, size=2)
        kind = rng.choice(3, size=length, p=[p_pos, p_neg, 1 - p_pos - p_neg])
        ids = np.where(kind == 0, rng.integers(*POSITIVE, size=length),
                       np.where(kind == 1, rng.integers(*NEGATIVE, size=length),
                                rng.choice(np.r_[1:100, 300:TEXT_VOCAB], size=length)))
        n_pos, n_neg = int((kind == 0).sum()), int((kind == 1).sum())
        if n_pos != n_neg:
            return ids.astype(np.int64), int(n_pos > n_neg)


def text_batch(rng, batch, lengths):
    """Padded [batch, max(lengths)] ids and mask (pad id 0, mask 0) and labels."""
    seq = max(lengths)
    ids = np.zeros((batch, seq), dtype=np.int64)
    mask = np.zeros((batch, seq), dtype=np.int64)
    labels = np.zeros(batch, dtype=np.int64)
    for i, length in enumerate(lengths):
        ids[i, :length], labels[i] = text_sample(rng, length)
        mask[i, :length] = 1
    return ids, mask, labels


def build_text(repo, reference):
    rng = np.random.default_rng(300)
    seed_everything(11)
    model = TextClassifier()
    opt = torch.optim.Adam(model.parameters(), lr=2e-3)
    model.train()
    steps, batch = 600, 64
    for _ in range(steps):
        lengths = rng.integers(4, 33, size=batch)
        ids, mask, labels = text_batch(rng, batch, lengths)
        opt.zero_grad()
        F.cross_entropy(model(torch.from_numpy(ids), torch.from_numpy(mask)),
                        torch.from_numpy(labels)).backward()
        opt.step()
    model.eval()
    test_rng = np.random.default_rng(301)
    ids, mask, labels = text_batch(test_rng, 2000, test_rng.integers(4, 33, size=2000))
    with torch.no_grad():
        accuracy = (model(torch.from_numpy(ids), torch.from_numpy(mask)).argmax(1).numpy()
                    == labels).mean()
    print(f"text: {steps} steps of batch {batch}; held-out accuracy {accuracy:.4f} "
          f"(synthetic token ids, fresh samples)")

    # Trace with seq 8; the reference cases run at seq 5, 8 and 16.
    trace_ids, trace_mask, _ = text_batch(np.random.default_rng(302), 2, [8, 6])
    export_torch(model, (torch.from_numpy(trace_ids), torch.from_numpy(trace_mask)),
                 repo / "text" / "1" / "model.onnx",
                 input_names=["input_ids", "attention_mask"], output_names=["logits"],
                 dynamic_axes={"input_ids": {0: "batch", 1: "sequence"},
                               "attention_mask": {0: "batch", 1: "sequence"},
                               "logits": {0: "batch"}},
                 doc="Synthetic sentiment: token ids (vocabulary 1000, 0 = padding, at most "
                     f"{TEXT_MAX_POSITIONS} tokens) and attention mask -> logits [negative, "
                     "positive]; positive when ids in [100, 200) outnumber ids in [200, 300).")

    ref_rng = np.random.default_rng(303)
    cases = []
    for name, lengths in [("one sentence of 8 tokens", [8]),
                          ("eight sentences padded to 16 tokens", [16, 12, 9, 16, 5, 7, 14, 10]),
                          ("two sentences of 5 tokens", [5, 5])]:
        ids, mask, _ = text_batch(ref_rng, len(lengths), lengths)
        (logits,) = torch_outputs(model, ids, mask)
        cases.append((name, [("input_ids", ids), ("attention_mask", mask)],
                      [("logits", logits)]))
    write_reference(reference / "text.json", "text", "1", {"absolute": 1e-4, "relative": 1e-4},
                    cases)
    return float(accuracy)


# --------------------------------------------------------------------------------------
# test-repository: models written with onnx.helper, references computed with numpy
# --------------------------------------------------------------------------------------

DATATYPES = [  # (input name, ONNX element type, numpy dtype)
    ("fp32", TensorProto.FLOAT, np.float32),
    ("fp64", TensorProto.DOUBLE, np.float64),
    ("int8", TensorProto.INT8, np.int8),
    ("int16", TensorProto.INT16, np.int16),
    ("int32", TensorProto.INT32, np.int32),
    ("int64", TensorProto.INT64, np.int64),
    ("uint8", TensorProto.UINT8, np.uint8),
    ("bool", TensorProto.BOOL, np.bool_),
    ("string", TensorProto.STRING, object),
]


def datatype_values(rows, cols, offset):
    """Deterministic test values for every datatype, including the awkward extremes."""
    n = rows * cols
    pick = lambda pool: np.array([pool[(offset + i) % len(pool)] for i in range(n)])
    fp32 = pick([0.5, -2.25, 0.1, 1e-7, 3.0e38 / 4, -0.0, 123456.78, 1.0])
    fp64 = pick([0.1, -1e-300, 1e300, 2.0 ** 0.5, -7.0, 0.0, 1.0000000000000002, 12345.6789])
    int8 = pick([-128, 127, 0, -1, 42])
    int16 = pick([-32768, 32767, 0, -2, 1234])
    int32 = pick([-2147483648, 2147483647, 0, -3, 100000])
    # 2**53 + 1 cannot be held by a double: catches ids parsed through floating point.
    int64 = pick([-9223372036854775808, 9223372036854775807, 9007199254740993, 0, -4])
    uint8 = pick([0, 255, 128, 7])
    boolean = pick([True, False, False, True, True])
    strings = pick(["hello", "", "Grüße, 世界", "with \"quotes\" and \\ backslash",
                    "tab\tnewline\n", "emoji 🐱"])
    arrays = {"fp32": fp32.astype(np.float32), "fp64": fp64.astype(np.float64),
              "int8": int8.astype(np.int8), "int16": int16.astype(np.int16),
              "int32": int32.astype(np.int32), "int64": int64.astype(np.int64),
              "uint8": uint8.astype(np.uint8), "bool": boolean.astype(np.bool_),
              "string": strings.astype(object)}
    return {k: v.reshape(rows, cols) for k, v in arrays.items()}


def build_datatypes(test_repo, reference):
    inputs, outputs, nodes = [], [], []
    for name, elem_type, _ in DATATYPES:
        inputs.append(helper.make_tensor_value_info(name, elem_type, ["batch", "n"]))
        outputs.append(helper.make_tensor_value_info(f"{name}_out", elem_type, ["batch", "n"]))
        nodes.append(helper.make_node("Identity", [name], [f"{name}_out"], name=f"{name}_identity"))
    # One computed output: fp32_doubled = fp32 * 2.
    nodes.append(helper.make_node("Mul", ["fp32", "two"], ["fp32_doubled"], name="fp32_double"))
    outputs.append(helper.make_tensor_value_info("fp32_doubled", TensorProto.FLOAT,
                                                 ["batch", "n"]))
    two = numpy_helper.from_array(np.array(2.0, dtype=np.float32), name="two")
    graph = helper.make_graph(nodes, "datatypes", inputs, outputs, initializer=[two])
    save_helper_model(graph, test_repo / "datatypes" / "1" / "model.onnx",
                      "Test model: every input <type> comes back unchanged as <type>_out; "
                      "fp32_doubled = fp32 * 2.")
    cases = []
    for case_name, rows, cols, offset in [("one by one", 1, 1, 0), ("two by three", 2, 3, 1),
                                          ("four by two", 4, 2, 3)]:
        values = datatype_values(rows, cols, offset)
        case_inputs = [(name, values[name]) for name, _, _ in DATATYPES]
        case_outputs = [(f"{name}_out", values[name]) for name, _, _ in DATATYPES]
        case_outputs.append(("fp32_doubled", values["fp32"] * np.float32(2)))
        cases.append((case_name, case_inputs, case_outputs))
    write_reference(reference / "datatypes.json", "datatypes", "1",
                    {"absolute": 0.0, "relative": 0.0}, cases, repository="test-repository",
                    note="Exact: identities and a doubling, no rounding anywhere.")


def build_fixed(test_repo, reference):
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, [2, 3])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, [2, 3])
    one = numpy_helper.from_array(np.ones((2, 3), dtype=np.float32), name="one")
    graph = helper.make_graph([helper.make_node("Add", ["x", "one"], ["y"], name="add_one")],
                              "fixed", [x], [y], initializer=[one])
    save_helper_model(graph, test_repo / "fixed" / "1" / "model.onnx",
                      "Test model without a batch dimension: y = x + 1, both fixed [2, 3].")
    cases = []
    for name, values in [("counting", np.arange(6)), ("negative and fractions",
                                                       [-1.0, -0.5, 0.25, 2.5, -3.75, 100.0]),
                         ("zeros", np.zeros(6))]:
        xs = np.asarray(values, dtype=np.float32).reshape(2, 3)
        cases.append((name, [("x", xs)], [("y", xs + np.float32(1))]))
    write_reference(reference / "fixed.json", "fixed", "1", {"absolute": 0.0, "relative": 0.0},
                    cases, repository="test-repository",
                    note="Exact: every input here plus 1 is a float32 without rounding.")


def build_scalar_add(test_repo, reference):
    a = helper.make_tensor_value_info("a", TensorProto.FLOAT, ["batch", 3])
    b = helper.make_tensor_value_info("b", TensorProto.FLOAT, ["batch", 3])
    total = helper.make_tensor_value_info("sum", TensorProto.FLOAT, ["batch", 3])
    product = helper.make_tensor_value_info("product", TensorProto.FLOAT, ["batch", 3])
    graph = helper.make_graph([helper.make_node("Add", ["a", "b"], ["sum"], name="add"),
                               helper.make_node("Mul", ["a", "b"], ["product"], name="mul")],
                              "scalar_add", [a, b], [total, product])
    save_helper_model(graph, test_repo / "scalar_add" / "1" / "model.onnx",
                      "Test model: sum = a + b and product = a * b, element-wise, [batch, 3].")
    rng = np.random.default_rng(500)
    cases = []
    for name, batch in [("batch of one", 1), ("batch of eight", 8), ("batch of three", 3)]:
        # Quarters are exact in float32, so sums and products are exact too.
        av = (rng.integers(-400, 400, size=(batch, 3)) / 4).astype(np.float32)
        bv = (rng.integers(-400, 400, size=(batch, 3)) / 4).astype(np.float32)
        cases.append((name, [("a", av), ("b", bv)], [("sum", av + bv), ("product", av * bv)]))
    write_reference(reference / "scalar_add.json", "scalar_add", "1",
                    {"absolute": 0.0, "relative": 0.0}, cases, repository="test-repository",
                    note="Exact: inputs are multiples of 1/4, so float32 sums and products "
                         "have no rounding.")


def build_fp16(test_repo, reference):
    """Half precision, which JSON has no numbers for: the binary tensor data extension's case."""
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT16, ["batch", "n"])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT16, ["batch", "n"])
    doubled = helper.make_tensor_value_info("doubled", TensorProto.FLOAT16, ["batch", "n"])
    widened = helper.make_tensor_value_info("widened", TensorProto.FLOAT, ["batch", "n"])
    two = numpy_helper.from_array(np.array(2.0, dtype=np.float32), name="two")
    # Doubling in float32 and rounding back is exact (or overflows to infinity, as float16
    # arithmetic would), and needs no float16 arithmetic kernel from the runtime.
    nodes = [helper.make_node("Identity", ["x"], ["y"], name="identity"),
             helper.make_node("Cast", ["x"], ["widened"], to=TensorProto.FLOAT, name="widen"),
             helper.make_node("Mul", ["widened", "two"], ["doubled_float"], name="double"),
             helper.make_node("Cast", ["doubled_float"], ["doubled"], to=TensorProto.FLOAT16,
                              name="narrow")]
    graph = helper.make_graph(nodes, "fp16", [x], [y, doubled, widened], initializer=[two])
    save_helper_model(graph, test_repo / "fp16" / "1" / "model.onnx",
                      "Test model: y = x and doubled = 2x in FLOAT16, widened = x as FLOAT.")
    cases = []
    for case_name, values in [("one", [[1.5]]),
                              ("two by three", [[0.5, -2.25, 1024.0], [16384.0, -0.0, 0.0078125]]),
                              ("three by two", [[3.140625, -1.0], [100.0, 0.3125], [-32752.0, 7.0]])]:
        xs = np.asarray(values, dtype=np.float16)
        cases.append((case_name, [("x", xs)], [("y", xs), ("doubled", (xs.astype(np.float32) * 2)
                                                                   .astype(np.float16)),
                                               ("widened", xs.astype(np.float32))]))
    write_reference(reference / "fp16.json", "fp16", "1", {"absolute": 0.0, "relative": 0.0},
                    cases, repository="test-repository",
                    note="Exact: identity, a widening and a doubling of values whose float32 text "
                         "is exact; the binary tests add subnormals, infinities and NaN.")


def build_external_data(test_repo, reference):
    """ONNX's external data format (the one models over 2 GB must use), in miniature.

    y = x @ w + b with w and b kept in weights.bin beside model.onnx, as onnx.save writes
    them for large models; ONNX Runtime finds the file relative to the model's folder.
    """
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, ["batch", 4])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, ["batch", 3])
    # Quarters and small integers: every product and sum below is exact in float32.
    w = (np.arange(12, dtype=np.float32).reshape(4, 3) - 5.0) / 4
    b = np.array([0.5, -1.0, 2.0], dtype=np.float32)
    graph = helper.make_graph([helper.make_node("MatMul", ["x", "w"], ["xw"], name="matmul"),
                               helper.make_node("Add", ["xw", "b"], ["y"], name="bias")],
                              "external_data", [x], [y],
                              initializer=[numpy_helper.from_array(w, name="w"),
                                           numpy_helper.from_array(b, name="b")])
    model = helper.make_model(graph, producer_name="serval-examples",
                              opset_imports=[helper.make_opsetid("", OPSET)])
    model.ir_version = IR_VERSION
    model.doc_string = ("Test model with its weights in an external data file (weights.bin): "
                        "y = x @ w + b.")
    onnx.checker.check_model(model, full_check=True)
    path = test_repo / "external_data" / "1" / "model.onnx"
    path.parent.mkdir(parents=True, exist_ok=True)
    for stale in (path, path.parent / "weights.bin"):
        stale.unlink(missing_ok=True)  # onnx.save appends to an existing data file
    onnx.save_model(model, str(path), save_as_external_data=True, all_tensors_to_one_file=True,
                    location="weights.bin", size_threshold=0)
    stored = onnx.load(str(path), load_external_data=False)
    assert all(t.data_location == TensorProto.EXTERNAL for t in stored.graph.initializer)
    print_signature(path)
    cases = []
    for name, values in [("one row", [[1.0, 2.0, 3.0, 4.0]]),
                         ("two rows", [[0.0, 0.0, 0.0, 0.0], [-1.5, 0.25, 8.0, -2.0]])]:
        xs = np.asarray(values, dtype=np.float32)
        cases.append((name, [("x", xs)], [("y", xs @ w + b)]))
    write_reference(reference / "external_data.json", "external_data", "1",
                    {"absolute": 0.0, "relative": 0.0}, cases, repository="test-repository",
                    note="Exact: quarters times small numbers, summed, have no rounding in float32.")


# Rows of the over-2 GB table: 1024 float32 each (4 KiB), and enough of them that the table's last
# rows start past 2 GiB, where a 32-bit offset would wrap.
OVER_2GB_ROW = 1024
OVER_2GB_ROWS = 524_800


def build_over_2gb(test_repo, reference):
    """The graph of a model whose one initializer is over 2 GB, kept in weights.bin beside it.

    rows = Gather(table, ids): table is float32 [524800, 1024] (2,149,580,800 bytes) in
    weights.bin at offset 0. Only model.onnx is written (a few hundred bytes, in
    examples/test-models/, outside the test repository since its data file is not there): the
    test that serves it makes weights.bin itself, as a sparse file with a few known rows.
    """
    ids = helper.make_tensor_value_info("ids", TensorProto.INT64, ["n"])
    rows = helper.make_tensor_value_info("rows", TensorProto.FLOAT, ["n", OVER_2GB_ROW])
    table = TensorProto()
    table.name = "table"
    table.data_type = TensorProto.FLOAT
    table.dims.extend([OVER_2GB_ROWS, OVER_2GB_ROW])
    table.data_location = TensorProto.EXTERNAL
    for key, value in (("location", "weights.bin"), ("offset", "0"),
                       ("length", str(OVER_2GB_ROWS * OVER_2GB_ROW * 4))):
        entry = table.external_data.add()
        entry.key, entry.value = key, value
    graph = helper.make_graph([helper.make_node("Gather", ["table", "ids"], ["rows"], name="lookup", axis=0)],
                              "over_2gb", [ids], [rows], initializer=[table])
    model = helper.make_model(graph, producer_name="serval-examples",
                              opset_imports=[helper.make_opsetid("", OPSET)])
    model.ir_version = IR_VERSION
    model.doc_string = ("Test model with a 2.15 GB initializer in weights.bin (not shipped): "
                        "rows = table[ids].")
    # No onnx.checker here: it insists on reading weights.bin, which is not shipped. The test that
    # serves the model is its check.
    path = test_repo.parent / "test-models" / "over_2gb" / "model.onnx"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(model.SerializeToString())
    print(f"{path} ({path.stat().st_size} bytes; weights.bin of {OVER_2GB_ROWS * OVER_2GB_ROW * 4} bytes "
          "is made by the test)")


TEST_MODELS = {"datatypes": build_datatypes, "fixed": build_fixed, "scalar_add": build_scalar_add,
               "fp16": build_fp16, "external_data": build_external_data,
               "over_2gb": build_over_2gb}


# --------------------------------------------------------------------------------------
# Benchmark models (only with --bench / --bench-only; never committed)
# --------------------------------------------------------------------------------------

class MobileNetV2Logits(nn.Module):
    """torchvision's MobileNetV2 with its own random init (weights=None: nothing downloaded).

    Fresh batch-norm statistics (mean 0, variance 1) let the activations shrink layer by
    layer to logits of about 1e-9, far from what a trained network computes. A few
    forward passes in training mode over seeded noise set the statistics so that every
    layer sees normalised values, as in a real network; the weights themselves stay random.
    """

    def __init__(self):
        super().__init__()
        import torchvision
        self.net = torchvision.models.mobilenet_v2(weights=None)
        for module in self.net.modules():
            if isinstance(module, nn.BatchNorm2d):
                module.momentum = None  # plain average over the calibration batches
        generator = torch.Generator().manual_seed(99)
        self.net.train()
        with torch.no_grad():
            for _ in range(4):
                self.net(torch.randn(8, 3, 224, 224, generator=generator))
        self.net.eval()

    def forward(self, input):
        return self.net(input)


class BenchEncoder(nn.Module):
    """BERT-base width, 4 layers: returns last_hidden_state and a BERT-style pooled output."""

    def __init__(self):
        super().__init__()
        self.encoder = Encoder(vocab=30522, hidden=768, heads=12, ffn=3072, layers=4,
                               max_positions=512, activation=nn.GELU())
        self.pooler = nn.Linear(768, 768)

    def forward(self, input_ids, attention_mask):
        hidden, _ = self.encoder(input_ids, attention_mask)
        return hidden, torch.tanh(self.pooler(hidden[:, 0]))


def mlp_1g():
    # 1024 -> 8192, 4 x (8192 -> 8192), 8192 -> 1000: 285 M parameters, 1.14 GB of FP32.
    layers = [nn.Linear(1024, 8192), nn.ReLU()]
    for _ in range(4):
        layers += [nn.Linear(8192, 8192), nn.ReLU()]
    layers.append(nn.Linear(8192, 1000))
    model = nn.Sequential(*layers)
    # He initialisation keeps activations at a steady scale through the ReLU layers
    # (PyTorch's default init shrinks them layer after layer).
    for module in model:
        if isinstance(module, nn.Linear):
            nn.init.kaiming_normal_(module.weight, nonlinearity="relu")
            nn.init.zeros_(module.bias)
    return model


def bench_specs():
    """name -> (constructor, inputs [(name, dtype, shape with -1, example shape, range)], outputs)."""
    return {
        "mobilenet_v2": (MobileNetV2Logits,
                         [("input", "FP32", [-1, 3, 224, 224], [1, 3, 224, 224], None)],
                         [("logits", "FP32", [-1, 1000])]),
        "encoder": (BenchEncoder,
                    [("input_ids", "INT64", [-1, -1], [1, 128], [0, 30522]),
                     ("attention_mask", "INT64", [-1, -1], [1, 128], [0, 2])],
                    [("last_hidden_state", "FP32", [-1, -1, 768]), ("pooled", "FP32", [-1, 768])]),
        "mlp_1g": (mlp_1g, [("input", "FP32", [-1, 1024], [1, 1024], None)],
                   [("output", "FP32", [-1, 1000])]),
        "linear_50m": (lambda: nn.Linear(4096, 3072),
                       [("input", "FP32", [-1, 4096], [1, 4096], None)],
                       [("output", "FP32", [-1, 3072])]),
    }


def bench_example(inputs, batch=None, seq=None):
    """Seeded example tensors; batch/seq override the example shape."""
    generator = torch.Generator().manual_seed(0)
    tensors = []
    for _, dtype, _, example_shape, value_range in inputs:
        shape = list(example_shape)
        if batch is not None:
            shape[0] = batch
        if seq is not None and len(shape) == 2 and dtype == "INT64":
            shape[1] = seq
        if dtype == "FP32":
            tensors.append(torch.randn(shape, generator=generator))
        elif value_range == [0, 2]:  # attention mask: all real tokens
            tensors.append(torch.ones(shape, dtype=torch.int64))
        else:
            tensors.append(torch.randint(value_range[0], value_range[1], shape,
                                         generator=generator))
    return tuple(tensors)


def build_bench(name, bench_dir):
    constructor, inputs, outputs = bench_specs()[name]
    started = time.time()
    seed_everything(1234)
    model = constructor().eval()
    parameters = sum(p.numel() for p in model.parameters())
    print(f"bench {name}: {parameters:,} parameters ({parameters * 4 / 1e6:,.0f} MB FP32)")
    example = bench_example(inputs)
    input_names = [i[0] for i in inputs]
    output_names = [o[0] for o in outputs]
    dynamic_axes = {}
    for io_name, _, shape, *_ in list(inputs) + list(outputs):
        axes = {d: ("batch" if d == 0 else "sequence") for d, n in enumerate(shape) if n == -1}
        dynamic_axes[io_name] = axes

    onnx_path = bench_dir / name / "1" / "model.onnx"
    export_torch(model, example, onnx_path, input_names, output_names, dynamic_axes)

    # TorchScript from the same weights, traced with the same example.
    ts_path = bench_dir / "torchscript" / f"{name}.pt"
    ts_path.parent.mkdir(parents=True, exist_ok=True)
    with torch.no_grad():
        traced = torch.jit.trace(model, example)
    traced.save(str(ts_path))
    print(f"  {ts_path.relative_to(bench_dir.parent)}  ({ts_path.stat().st_size:,} bytes)")

    # The traced module must agree with eager PyTorch at other batch sizes (and lengths).
    loaded = torch.jit.load(str(ts_path))
    checks = [dict(batch=1), dict(batch=4)]
    if name == "encoder":
        checks = [dict(batch=1, seq=128), dict(batch=32, seq=128), dict(batch=2, seq=64)]
    for check in checks:
        args = bench_example(inputs, **check)
        with torch.no_grad():
            eager, scripted = model(*args), loaded(*args)
        eager = eager if isinstance(eager, tuple) else (eager,)
        scripted = scripted if isinstance(scripted, tuple) else (scripted,)
        for e, s in zip(eager, scripted):
            assert torch.allclose(e, s, atol=1e-4, rtol=1e-4), f"{name}: TorchScript differs"
        print(f"  TorchScript matches eager PyTorch at {check}: output shapes "
              f"{[list(e.shape) for e in eager]}")

    description = {
        "model": name,
        "onnx": "1/model.onnx",
        "torchscript": f"../torchscript/{name}.pt",
        "parameters": parameters,
        "onnx_bytes": onnx_path.stat().st_size,
        "torchscript_bytes": ts_path.stat().st_size,
        "note": "Shapes use -1 for dynamic dimensions; value_range is [low, high) for "
                "integer inputs; TorchScript takes the inputs positionally in this order. "
                "Weights are a seeded random initialisation.",
        "inputs": [{"name": n, "datatype": d, "shape": s, "example_shape": e,
                    **({"value_range": r} if r else {})} for n, d, s, e, r in inputs],
        "outputs": [{"name": n, "datatype": d, "shape": s} for n, d, s in outputs],
    }
    text = json.dumps(description, indent=2)
    # Keep lists of numbers (shapes, ranges) on one line.
    text = re.sub(r"\[\s*(-?\d+(?:,\s*-?\d+)*)\s*\]",
                  lambda m: "[" + ", ".join(v.strip() for v in m.group(1).split(",")) + "]", text)
    (bench_dir / name / "inputs.json").write_text(text + "\n")
    print(f"  {name} done in {time.time() - started:.0f} s")
    del model, traced, loaded


# --------------------------------------------------------------------------------------
# Command line
# --------------------------------------------------------------------------------------

def main(argv=None):
    parser = argparse.ArgumentParser(
        description="Export Serval's example and test ONNX models and their reference answers; "
                    "optionally the large benchmark models.")
    parser.add_argument("--examples-dir", type=Path, default=EXAMPLES_DIR,
                        help="folder receiving repository/, test-repository/ and reference/ "
                             "(default: %(default)s)")
    parser.add_argument("--bench", nargs="?", type=Path, const=EXAMPLES_DIR / "bench-models",
                        default=None, metavar="DIR",
                        help="also write the benchmark models (ONNX and TorchScript) to DIR "
                             "(default DIR: examples/bench-models)")
    parser.add_argument("--bench-only", action="append", choices=BENCH_NAMES, metavar="NAME",
                        help="write only this benchmark model (repeatable; skips the example "
                             f"and test models); one of {', '.join(BENCH_NAMES)}")
    parser.add_argument("--test-model", action="append", choices=sorted(TEST_MODELS), metavar="NAME",
                        help="write only this test-repository model and its reference (repeatable; "
                             f"skips everything else); one of {', '.join(sorted(TEST_MODELS))}")
    args = parser.parse_args(argv)

    make_deterministic()
    print(f"torch {torch.__version__}, onnx {onnx.__version__}, numpy {np.__version__}, "
          f"python {sys.version.split()[0]}")

    if args.test_model:
        examples = args.examples_dir.resolve()
        for name in args.test_model:
            TEST_MODELS[name](examples / "test-repository", examples / "reference")
        return

    if not args.bench_only:
        examples = args.examples_dir.resolve()
        repo, test_repo, reference = (examples / "repository", examples / "test-repository",
                                      examples / "reference")
        print("\n== examples/repository (PyTorch, trained) ==")
        build_iris(repo, reference)
        build_iris_small(repo, reference)
        build_cnn(repo, reference)
        build_text(repo, reference)
        print("\n== examples/test-repository (onnx.helper) ==")
        build_datatypes(test_repo, reference)
        build_fixed(test_repo, reference)
        build_scalar_add(test_repo, reference)
        build_fp16(test_repo, reference)
        build_external_data(test_repo, reference)
        build_over_2gb(test_repo, reference)

    if args.bench or args.bench_only:
        bench_dir = (args.bench or EXAMPLES_DIR / "bench-models").resolve()
        print(f"\n== benchmark models in {bench_dir} ==")
        build_iris_torchscript(bench_dir)
        for name in args.bench_only or BENCH_NAMES:
            build_bench(name, bench_dir)


if __name__ == "__main__":
    main()
