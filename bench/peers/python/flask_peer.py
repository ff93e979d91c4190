"""The seeds' Flask service: a constant prediction on /predict, for the hello-world case.

Run under gunicorn (Debian python3-flask and gunicorn), workers chosen for the cores the benchmark
gives it, e.g. two sync workers on one pinned core:

    cd bench/peers/python && gunicorn --workers 2 --bind 127.0.0.1:18200 flask_peer:app

It measures the cost of Flask + gunicorn alone, like the Go peer measures net/http's.
"""
from flask import Flask, Response

PREDICTION = b'{"prediction":"setosa","probabilities":[0.97,0.02,0.01]}'

app = Flask(__name__)


@app.get("/predict")
def predict():
    return Response(PREDICTION, mimetype="application/json")


@app.get("/health")
def health():
    return Response(b'{"ok":true}', mimetype="application/json")
