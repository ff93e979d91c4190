#!/usr/bin/python3
"""Train the fraud model on synthetic transactions and export it for Serval.

    /usr/bin/python3 examples/fraud/train.py

Writes (relative to examples/):
  repository/fraud/1/model.onnx   input `features` FP32 [batch, F], output `score` FP32 [batch, 1]
                                  (sigmoid); the input's standardisation is inside the graph
  repository/fraud/config.yaml    the pipeline that builds `features` from a request (COLUMNS)
  fraud/reference.json            a few transactions: the history of their cards, their features
                                  and the scores PyTorch gives; Serval's tests reproduce them

Deterministic: seeded data, one torch thread, deterministic algorithms. Takes a few seconds.
"""

import io
import json
import math
import sys
from pathlib import Path

import numpy as np
import onnx
import torch
from sklearn.metrics import precision_score, recall_score, roc_auc_score
from torch import nn

sys.path.insert(0, str(Path(__file__).resolve().parent))
import transactions  # noqa: E402

EXAMPLES = Path(__file__).resolve().parent.parent
MODEL_DIR = EXAMPLES / "repository" / "fraud"
OPSET = 17
SEED = 7
TEST_DAYS = 3
REVIEW, DECLINE = 0.5, 0.9

# The model's input, column by column, in the pipeline's expression language (see
# dev.serval.pipeline.Column): request inputs, feature names, log1p(x), hour_of_day(ms),
# ratio(a, b) (a / b, 0 when b is 0).
COLUMNS = (
    "amount",
    "log1p(amount)",
    "hour_of_day(timestamp)",
    "count_1m",
    "log1p(sum_1m)",
    "count_1h",
    "log1p(sum_1h)",
    "distinct_counterparties_1h",
    "log1p(seconds_since_last)",
    "log1p(count_total)",
    "log1p(ratio(sum_total, count_total))",
    "ratio(amount, ratio(sum_total, count_total))",
)


# --------------------------------------------------------------------------------------
# Columns: the same arithmetic as the Java pipeline (double arithmetic on float32 values,
# rounded to float32 once at the end)
# --------------------------------------------------------------------------------------

def parse(text):
    """A column expression as a nested tuple: ("name", n) or (function, arg, ...)."""
    text = text.strip()
    if "(" not in text:
        return ("name", text)
    function, rest = text.split("(", 1)
    assert rest.endswith(")"), text
    inner, args, depth, start = rest[:-1], [], 0, 0
    for index, char in enumerate(inner):
        depth += {"(": 1, ")": -1}.get(char, 0)
        if char == "," and depth == 0:
            args.append(inner[start:index])
            start = index + 1
    args.append(inner[start:])
    return (function.strip(),) + tuple(parse(arg) for arg in args)


def evaluate(node, row):
    kind = node[0]
    if kind == "name":
        return row[node[1]]
    values = [evaluate(arg, row) for arg in node[1:]]
    if kind == "log1p":
        return math.log1p(max(values[0], 0.0))
    if kind == "hour_of_day":
        return float((int(values[0]) % transactions.DAY_MILLIS) // transactions.HOUR_MILLIS)
    if kind == "ratio":
        return 0.0 if values[1] == 0.0 else values[0] / values[1]
    raise ValueError(f"unknown function {kind}")


def f32(value):
    return float(np.float32(value))


def assemble(rows, feature_rows):
    """The model input: one row of COLUMNS per transaction, float32."""
    parsed = [parse(column) for column in COLUMNS]
    out = np.zeros((len(rows), len(COLUMNS)), dtype=np.float32)
    for index, (row, values) in enumerate(zip(rows, feature_rows)):
        # What the Java side sees: the amount as FP32, the timestamp as INT64, features as float32.
        scope = {"amount": f32(row["amount"]), "timestamp": row["timestamp"]}
        scope.update({name: f32(value) for name, value in zip(transactions.FEATURES, values)})
        out[index] = [evaluate(node, scope) for node in parsed]
    return out


# --------------------------------------------------------------------------------------
# Model
# --------------------------------------------------------------------------------------

class FraudModel(nn.Module):
    """Standardise, two hidden layers, sigmoid. mean and std are constants of the graph."""

    def __init__(self, mean, std):
        super().__init__()
        self.register_buffer("mean", torch.tensor(mean, dtype=torch.float32))
        self.register_buffer("std", torch.tensor(std, dtype=torch.float32))
        self.layers = nn.Sequential(nn.Linear(len(mean), 32), nn.ReLU(), nn.Linear(32, 16), nn.ReLU(),
                                    nn.Linear(16, 1))

    def logits(self, features):
        return self.layers((features - self.mean) / self.std)

    def forward(self, features):
        return torch.sigmoid(self.logits(features))


def train(x, y):
    torch.manual_seed(SEED)
    mean = x.mean(axis=0)
    std = np.maximum(x.std(axis=0), 1e-3)
    model = FraudModel(mean, std)
    features, labels = torch.from_numpy(x), torch.from_numpy(y.astype(np.float32)).reshape(-1, 1)
    positive = float(labels.sum())
    loss_fn = nn.BCEWithLogitsLoss(pos_weight=torch.tensor([(len(labels) - positive) / positive / 4.0]))
    optimiser = torch.optim.Adam(model.parameters(), lr=3e-3, weight_decay=1e-5)
    generator = torch.Generator().manual_seed(SEED)
    for epoch in range(12):
        order = torch.randperm(len(labels), generator=generator)
        for start in range(0, len(order), 512):
            batch = order[start:start + 512]
            optimiser.zero_grad()
            loss = loss_fn(model.logits(features[batch]), labels[batch])
            loss.backward()
            optimiser.step()
    return model.eval()


def export(model, path):
    path.parent.mkdir(parents=True, exist_ok=True)
    buffer = io.BytesIO()
    with torch.no_grad():
        torch.onnx.export(model, torch.zeros(2, len(COLUMNS)), buffer, opset_version=OPSET,
                          input_names=["features"], output_names=["score"],
                          dynamic_axes={"features": {0: "batch"}, "score": {0: "batch"}},
                          do_constant_folding=True)
    proto = onnx.load_from_string(buffer.getvalue())
    proto.doc_string = ("Serval fraud example: probability that a card transaction is fraud, from "
                        + ", ".join(COLUMNS) + " (examples/fraud/train.py)")
    onnx.checker.check_model(proto)
    onnx.save(proto, str(path))


def write_config(path):
    columns = "".join(f"      - {column}\n" for column in COLUMNS)
    path.write_text(f"""# Written by examples/fraud/train.py: the columns are the ones the model was trained on.
# Clients send transactions; the pipeline looks up the card's features, builds the model's
# input `features` column by column, and labels the score.
max_batch_size: 64
dynamic_batching:
  max_queue_delay_microseconds: 200
pipeline:
  inputs:
    - {{name: card_id, datatype: BYTES}}
    - {{name: amount, datatype: FP32}}
    - {{name: merchant, datatype: BYTES}}
    - {{name: timestamp, datatype: INT64}}
  features: {{key: card_id, at: timestamp}}
  assemble:
    input: features
    columns:
{columns}  threshold: {{input: score, output: decision, review: {REVIEW}, decline: {DECLINE}}}
""", encoding="utf-8")


# --------------------------------------------------------------------------------------
# Reference cases for Serval's tests
# --------------------------------------------------------------------------------------

def reference(model, rows, feature_rows, test_from):
    """A few held-out transactions (frauds of each pattern, ordinary ones, a card's first),
    with every earlier transaction of their cards as history."""
    chosen, cards = [], set()
    wanted = [("burst", 1), ("merchants", 1), ("card_testing", 1), ("big_amount", 1), (None, 3)]
    for pattern, count in wanted:
        for index in range(len(rows)):
            row = rows[index]
            if row["timestamp"] < test_from or row["pattern"] != pattern or row["card_id"] in cards:
                continue
            earlier = sum(1 for other in rows[:index] if other["card_id"] == row["card_id"])
            if pattern == "burst" and feature_rows[index][0] < 3:
                continue  # late in its burst, so the minute window shows it
            if pattern in ("merchants", "card_testing") and feature_rows[index][2] < 3:
                continue  # well into its episode, so the hour window shows it
            if pattern is None and not 5 <= earlier <= 40:
                continue
            if pattern is not None and earlier > 60:
                continue
            chosen.append(index)
            cards.add(row["card_id"])
            if sum(1 for i in chosen if rows[i]["pattern"] == pattern) == count:
                break
    history = [row for row in rows if row["card_id"] in cards
               and any(row["card_id"] == rows[i]["card_id"] and row["timestamp"] < rows[i]["timestamp"]
                       for i in chosen)]
    new_card = {"card_id": "c-never-seen", "merchant": "m0001", "amount": 42.5,
                "timestamp": rows[chosen[0]]["timestamp"], "label": 0, "pattern": None}
    scored = [rows[i] for i in chosen] + [new_card]
    scored_features = [feature_rows[i] for i in chosen] + [transactions.card_features(
        {"minute": [], "hour": [], "merchants": {}, "last": None, "count": 0, "sum": 0.0}, 0)]
    x = assemble(scored, scored_features)
    with torch.no_grad():
        scores = model(torch.from_numpy(x)).numpy()[:, 0]
    cases = []
    for row, values, column_values, score in zip(scored, scored_features, x, scores):
        # Compared as float32, the score's type, as Serval does.
        decision = "decline" if score >= np.float32(DECLINE) else "review" if score >= np.float32(REVIEW) else "approve"
        cases.append({"transaction": {key: row[key] for key in ("card_id", "amount", "merchant", "timestamp")},
                      "pattern": row["pattern"],
                      "features": [f32(value) for value in values],
                      "columns": [float(value) for value in column_values],
                      "score": float(score), "decision": decision})
    return {
        "model": "fraud",
        "version": "1",
        "note": "record `history` as events, then score every transaction in one request; features are "
                "in dev.serval.features.Feature order, columns in config.yaml order, scores from PyTorch",
        "features": list(transactions.FEATURES),
        "columns": list(COLUMNS),
        "tolerance": {"absolute": 1e-5},
        "history": [{key: row[key] for key in ("card_id", "amount", "merchant", "timestamp")} for row in history],
        "cases": cases,
    }


def main():
    torch.set_num_threads(1)
    torch.use_deterministic_algorithms(True)
    rows = transactions.generate(seed=SEED)
    feature_rows = transactions.features(rows)
    x = assemble(rows, feature_rows)
    y = np.array([row["label"] for row in rows], dtype=np.int64)
    test_from = rows[-1]["timestamp"] - TEST_DAYS * transactions.DAY_MILLIS
    test = np.array([row["timestamp"] >= test_from for row in rows])
    model = train(x[~test], y[~test])
    with torch.no_grad():
        scores = model(torch.from_numpy(x[test])).numpy()[:, 0]
    held_out = y[test]
    print(f"{len(rows)} transactions ({y.mean() * 100:.2f} % fraud); trained on {int((~test).sum())}, "
          f"held out the last {TEST_DAYS} days: {int(test.sum())} ({held_out.mean() * 100:.2f} % fraud)")
    print(f"held-out ROC AUC {roc_auc_score(held_out, scores):.4f}")
    for threshold in (REVIEW, DECLINE):
        predicted = scores >= threshold
        print(f"  score >= {threshold}: precision {precision_score(held_out, predicted, zero_division=0):.3f}, "
              f"recall {recall_score(held_out, predicted):.3f}, flagged {int(predicted.sum())}")
    export(model, MODEL_DIR / "1" / "model.onnx")
    write_config(MODEL_DIR / "config.yaml")
    with open(EXAMPLES / "fraud" / "reference.json", "w", encoding="utf-8") as out:
        json.dump(reference(model, rows, feature_rows, test_from), out, indent=1)
        out.write("\n")
    size = (MODEL_DIR / "1" / "model.onnx").stat().st_size
    print(f"wrote {MODEL_DIR / '1' / 'model.onnx'} ({size} bytes), config.yaml, fraud/reference.json")


if __name__ == "__main__":
    main()
