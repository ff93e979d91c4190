#!/usr/bin/python3
"""Writes the request bodies bench/fraud.sh posts, one body per line (the load generator's --bodies):

  OUT/events.jsonl   event batches for POST /v2/events: each line a JSON array of --batch events;
                     the first ceil(cards / batch) lines name every card once, so ingesting them
                     gives every card a history; amounts and merchants vary, times fall in the
                     hour before --now
  OUT/score.jsonl    fraud scoring requests for POST /v2/models/fraud/infer: each line one
                     transaction (a [1] batch) of a card that has a history, as of --now

Card ids are card-0000000 .. card-(cards-1). Seeded (--seed), standard library only.
"""
import argparse
import json
import os
import random


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", required=True, help="directory to write into (created)")
    parser.add_argument("--cards", type=int, default=20000, help="distinct card ids (default 20000)")
    parser.add_argument("--batch", type=int, default=500, help="events per /v2/events body (default 500)")
    parser.add_argument("--event-bodies", type=int, default=200, help="event bodies (default 200)")
    parser.add_argument("--score-bodies", type=int, default=20000, help="scoring bodies (default 20000)")
    parser.add_argument("--now", type=int, required=True, help="epoch milliseconds the transactions are scored at")
    parser.add_argument("--seed", type=int, default=6)
    args = parser.parse_args()
    if args.cards < 1 or args.batch < 1 or args.event_bodies * args.batch < args.cards:
        parser.error("need --cards >= 1, --batch >= 1 and --event-bodies * --batch >= --cards")

    rng = random.Random(args.seed)
    os.makedirs(args.out, exist_ok=True)
    cards = ["card-%07d" % i for i in range(args.cards)]
    merchants = ["merchant-%04d" % i for i in range(2000)]

    with open(os.path.join(args.out, "events.jsonl"), "w") as out:
        n = 0
        for _ in range(args.event_bodies):
            batch = []
            for _ in range(args.batch):
                card = cards[n] if n < len(cards) else rng.choice(cards)  # every card first, then at random
                n += 1
                batch.append({"card_id": card, "amount": round(rng.lognormvariate(3.5, 1.0), 2),
                              "merchant": rng.choice(merchants),
                              "timestamp": args.now - rng.randrange(3_600_000)})
            out.write(json.dumps(batch, separators=(",", ":")) + "\n")

    with open(os.path.join(args.out, "score.jsonl"), "w") as out:
        for _ in range(args.score_bodies):
            body = {"inputs": [
                {"name": "card_id", "shape": [1], "datatype": "BYTES", "data": [rng.choice(cards)]},
                {"name": "amount", "shape": [1], "datatype": "FP32", "data": [round(rng.lognormvariate(3.5, 1.2), 2)]},
                {"name": "merchant", "shape": [1], "datatype": "BYTES", "data": [rng.choice(merchants)]},
                {"name": "timestamp", "shape": [1], "datatype": "INT64", "data": [args.now]}]}
            out.write(json.dumps(body, separators=(",", ":")) + "\n")


if __name__ == "__main__":
    main()
