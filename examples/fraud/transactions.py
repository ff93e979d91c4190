#!/usr/bin/python3
"""Synthetic card transactions with fraud patterns, and the per-card features Serval's feature
store keeps (dev.serval.features.Feature), computed the same way.

Run with Debian's /usr/bin/python3 (numpy only):

    /usr/bin/python3 examples/fraud/transactions.py --summary
    /usr/bin/python3 examples/fraud/transactions.py --events /tmp/fraud-events.jsonl

Everything is drawn from one seeded numpy generator, so the same seed gives the same
transactions, byte for byte.

Fraud patterns (each an "episode" on one card; its transactions are labelled fraud):
  burst          5-15 transactions within a minute, at random merchants, usual amounts
  merchants      8-20 transactions within an hour, each at a different merchant
  big_amount     1-2 transactions of 8-40 times the card's usual amount
  card_testing   4-12 tiny amounts (0.50-2.00) within a few minutes, then one large one
Episodes happen more often at night (UTC). Labels get noise: a few ordinary transactions are
labelled fraud (disputes) and a few fraudulent ones are not (never reported).

Features, as of a transaction's timestamp t and over the card's earlier transactions only
(the store is asked before the transaction is recorded); a window of W ms holds the events
with t - W < timestamp <= t:
  count_1m, sum_1m                  window 60 000 ms
  count_1h, sum_1h                  window 3 600 000 ms
  distinct_counterparties_1h        distinct merchants in the 1 h window
  seconds_since_last                (t - latest earlier timestamp) / 1000, capped at 86 400;
                                    86 400 for a card never seen
  count_total, sum_total            every earlier transaction
"""

import argparse
import json
import math
import sys
from collections import Counter, deque

import numpy as np

# 2026-01-05T00:00:00Z: a Monday; the synthetic history starts here.
START_MILLIS = 1_767_571_200_000
DAY_MILLIS = 86_400_000
MINUTE_MILLIS = 60_000
HOUR_MILLIS = 3_600_000
SECONDS_CAP = 86_400.0

# The order of dev.serval.features.Feature (and of a Lookup's rows).
FEATURES = ("count_1m", "sum_1m", "count_1h", "sum_1h", "distinct_counterparties_1h",
            "seconds_since_last", "count_total", "sum_total")

PATTERNS = ("burst", "merchants", "big_amount", "card_testing")


def generate(seed=7, cards=2000, merchants=600, days=14, fraud_cards=0.06):
    """The transactions, sorted by timestamp: a list of dicts with card_id, merchant, amount
    (float, cents), timestamp (epoch ms), label (0/1) and pattern (None or a PATTERNS name)."""
    rng = np.random.default_rng(seed)
    merchant_ids = [f"m{index:04d}" for index in range(merchants)]
    # Merchants by popularity: a few big ones, a long tail.
    popularity = rng.zipf(1.6, size=merchants).astype(float)
    popularity /= popularity.sum()
    span = days * DAY_MILLIS
    rows = []
    used = set()  # (card, timestamp): one transaction per card per millisecond

    def add(card, merchant, amount, timestamp, label, pattern):
        timestamp = int(timestamp)
        while (card, timestamp) in used:
            timestamp += 1
        used.add((card, timestamp))
        rows.append({"card_id": card, "merchant": merchant, "amount": round(float(amount), 2),
                     "timestamp": START_MILLIS + timestamp, "label": label, "pattern": pattern})

    habits = {}
    for index in range(cards):
        card = f"c{index:05d}"
        habit = float(np.exp(rng.normal(3.3, 0.8)))        # usual amount: median ~27
        per_day = float(rng.uniform(0.3, 6.0))
        favourites = rng.choice(merchants, size=int(rng.integers(3, 12)), replace=False, p=popularity)
        habits[card] = habit
        count = int(rng.poisson(per_day * days))
        # Daytime-weighted hours: people shop from morning to evening.
        for _ in range(count):
            day = int(rng.integers(0, days))
            hour = float(np.clip(rng.normal(14.0, 4.0), 0.0, 23.99))
            timestamp = day * DAY_MILLIS + int(hour * HOUR_MILLIS) + int(rng.integers(0, HOUR_MILLIS // 60))
            merchant = merchant_ids[int(rng.choice(favourites))] if rng.random() < 0.8 \
                else merchant_ids[int(rng.choice(merchants, p=popularity))]
            amount = max(0.5, habit * float(np.exp(rng.normal(0.0, 0.5))))
            add(card, merchant, amount, timestamp, 0, None)

    fraud_count = int(cards * fraud_cards)
    for card_index in rng.choice(cards, size=fraud_count, replace=False):
        card = f"c{int(card_index):05d}"
        habit = habits[card]
        pattern = PATTERNS[int(rng.integers(0, len(PATTERNS)))]
        day = int(rng.integers(1, days))
        # Most episodes at night (00-06 UTC), the rest any time.
        hour = float(rng.uniform(0, 6)) if rng.random() < 0.6 else float(rng.uniform(0, 24))
        begin = day * DAY_MILLIS + int(hour * HOUR_MILLIS)
        if pattern == "burst":
            for _ in range(int(rng.integers(5, 16))):
                amount = habit * float(np.exp(rng.normal(0.2, 0.5)))
                add(card, merchant_ids[int(rng.integers(0, merchants))], amount,
                    begin + int(rng.integers(0, MINUTE_MILLIS)), 1, pattern)
        elif pattern == "merchants":
            for merchant in rng.choice(merchants, size=int(rng.integers(8, 21)), replace=False):
                amount = habit * float(np.exp(rng.normal(0.3, 0.6)))
                add(card, merchant_ids[int(merchant)], amount, begin + int(rng.integers(0, HOUR_MILLIS)), 1, pattern)
        elif pattern == "big_amount":
            for _ in range(int(rng.integers(1, 3))):
                amount = habit * float(rng.uniform(8.0, 40.0))
                add(card, merchant_ids[int(rng.integers(0, merchants))], amount,
                    begin + int(rng.integers(0, 10 * MINUTE_MILLIS)), 1, pattern)
        else:
            tests = int(rng.integers(4, 13))
            offsets = np.sort(rng.integers(0, 5 * MINUTE_MILLIS, size=tests))
            merchant = merchant_ids[int(rng.integers(0, merchants))]
            for offset in offsets:
                add(card, merchant, float(rng.uniform(0.5, 2.0)), begin + int(offset), 1, pattern)
            add(card, merchant_ids[int(rng.integers(0, merchants))], habit * float(rng.uniform(5.0, 20.0)),
                begin + 5 * MINUTE_MILLIS + int(rng.integers(0, 5 * MINUTE_MILLIS)), 1, pattern)

    # Label noise: disputes of ordinary transactions, fraud never reported.
    for row in rows:
        if row["label"] == 0 and rng.random() < 0.003:
            row["label"] = 1
        elif row["label"] == 1 and rng.random() < 0.05:
            row["label"] = 0
    rows.sort(key=lambda row: (row["timestamp"], row["card_id"]))
    return rows


def features(rows):
    """For each transaction (rows sorted by timestamp), the FEATURES of its card as of its
    timestamp, over the card's earlier transactions: an (n, 8) float64 array."""
    out = np.zeros((len(rows), len(FEATURES)), dtype=np.float64)
    state = {}
    for index, row in enumerate(rows):
        card = state.setdefault(row["card_id"], {"minute": deque(), "hour": deque(),
                                                 "merchants": Counter(), "last": None,
                                                 "count": 0, "sum": 0.0})
        out[index] = card_features(card, row["timestamp"])
        card["minute"].append((row["timestamp"], row["amount"]))
        card["hour"].append((row["timestamp"], row["amount"], row["merchant"]))
        card["merchants"][row["merchant"]] += 1
        card["last"] = row["timestamp"]
        card["count"] += 1
        card["sum"] += row["amount"]
    return out


def card_features(card, at):
    """One card's features at time `at`; drops what has left the windows."""
    minute, hour, merchants = card["minute"], card["hour"], card["merchants"]
    while minute and minute[0][0] <= at - MINUTE_MILLIS:
        minute.popleft()
    while hour and hour[0][0] <= at - HOUR_MILLIS:
        _, _, merchant = hour.popleft()
        merchants[merchant] -= 1
        if merchants[merchant] == 0:
            del merchants[merchant]
    since = SECONDS_CAP if card["last"] is None else min(SECONDS_CAP, (at - card["last"]) / 1000.0)
    return (len(minute), sum(amount for _, amount in minute),
            len(hour), sum(amount for _, amount, _ in hour),
            len(merchants), since, card["count"], card["sum"])


def write_events(rows, path):
    """The transactions as events, one JSON object a line, in time order."""
    with open(path, "w", encoding="utf-8") as out:
        for row in rows:
            out.write(json.dumps({"card_id": row["card_id"], "amount": row["amount"],
                                  "merchant": row["merchant"], "timestamp": row["timestamp"]}) + "\n")


def main(argv):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--cards", type=int, default=2000)
    parser.add_argument("--days", type=int, default=14)
    parser.add_argument("--events", metavar="FILE", help="write the transactions as JSON lines")
    parser.add_argument("--summary", action="store_true", help="print counts per pattern")
    args = parser.parse_args(argv)
    rows = generate(seed=args.seed, cards=args.cards, days=args.days)
    if args.events:
        write_events(rows, args.events)
        print(f"wrote {len(rows)} events to {args.events}")
    if args.summary or not args.events:
        patterns = Counter(row["pattern"] or "ordinary" for row in rows)
        frauds = sum(row["label"] for row in rows)
        print(f"{len(rows)} transactions, {frauds} labelled fraud ({100.0 * frauds / len(rows):.2f} %)")
        for name, count in sorted(patterns.items()):
            print(f"  {name:13s} {count}")


if __name__ == "__main__":
    main(sys.argv[1:])
