"""The Python peer: FastAPI + pydantic + PyTorch (TorchScript) serving Open Inference Protocol v2 JSON.

What teams run before they switch to Serval, configured at its honest best for a benchmark:
- the same weights as Serval's ONNX model, exported to TorchScript by examples/python/export_models.py;
- `def` handlers (FastAPI runs them on its thread pool, so the event loop never blocks on torch);
- pydantic validates the request's structure, but `data` is declared as a plain list so pydantic does
  not coerce 150,528 numbers one by one (the slowest choice a user could make, and not ours);
- torch.inference_mode(), torch threads and uvicorn workers set from the command line (the benchmark
  gives the peer the same cores as Serval).

    /usr/bin/python3 bench/peers/python/fastapi_peer.py --model mobilenet_v2=examples/bench-models/torchscript/mobilenet_v2.pt \
        --port 18100 --workers 1 --torch-threads 1

Endpoints: GET /v2/health/live, GET /v2/health/ready, POST /v2/models/{name}/infer (FP32/INT64 inputs,
flat or nested data, batched on the first dimension as sent). Errors answer {"error": "..."} with 400/404.
"""

import argparse
import os
import sys
from typing import Any, Dict, List, Optional, Union

import torch
import uvicorn
from fastapi import FastAPI, HTTPException, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel

DTYPES = {"FP32": torch.float32, "FP64": torch.float64, "INT64": torch.int64, "INT32": torch.int32}
OUT_DTYPES = {torch.float32: "FP32", torch.float64: "FP64", torch.int64: "INT64", torch.int32: "INT32"}


class RequestInput(BaseModel):
    name: str
    shape: List[int]
    datatype: str
    parameters: Optional[Dict[str, Any]] = None
    data: list


class RequestOutput(BaseModel):
    name: str
    parameters: Optional[Dict[str, Any]] = None


class InferenceRequest(BaseModel):
    id: Optional[str] = None
    parameters: Optional[Dict[str, Any]] = None
    inputs: List[RequestInput]
    outputs: Optional[List[RequestOutput]] = None


def build_app(models: Dict[str, torch.jit.ScriptModule], output_names: Dict[str, List[str]]) -> FastAPI:
    app = FastAPI()

    @app.exception_handler(HTTPException)
    def http_error(request: Request, exc: HTTPException):
        return JSONResponse(status_code=exc.status_code, content={"error": exc.detail})

    @app.get("/v2/health/live")
    def live():
        return {"live": True}

    @app.get("/v2/health/ready")
    def ready():
        return {"ready": True}

    @app.post("/v2/models/{name}/infer")
    def infer(name: str, request: InferenceRequest):
        model = models.get(name)
        if model is None:
            raise HTTPException(status_code=404, detail=f"unknown model '{name}'")
        tensors = []
        for item in request.inputs:
            dtype = DTYPES.get(item.datatype)
            if dtype is None:
                raise HTTPException(status_code=400, detail=f"input '{item.name}': datatype {item.datatype} not served")
            try:
                tensors.append(torch.tensor(item.data, dtype=dtype).reshape(item.shape))
            except (RuntimeError, TypeError, ValueError) as e:
                raise HTTPException(status_code=400, detail=f"input '{item.name}': {e}")
        with torch.inference_mode():
            result = model(*tensors)
        results = result if isinstance(result, (tuple, list)) else (result,)
        names = output_names.get(name) or [f"output_{i}" for i in range(len(results))]
        outputs = [{"name": n, "datatype": OUT_DTYPES.get(t.dtype, "FP32"), "shape": list(t.shape),
                    "data": t.flatten().tolist()} for n, t in zip(names, results)]
        answer = {"model_name": name, "outputs": outputs}
        if request.id is not None:
            answer["id"] = request.id
        return answer

    return app


def load(specs: List[str], threads: int):
    torch.set_num_threads(threads)
    torch.set_num_interop_threads(1)
    models, outputs = {}, {}
    for spec in specs:
        name, _, rest = spec.partition("=")
        path, _, names = rest.partition(":")
        model = torch.jit.load(path, map_location="cpu")
        model.eval()
        models[name] = model
        outputs[name] = names.split(",") if names else ["logits"]
    return models, outputs


def app_from_env() -> FastAPI:
    """Uvicorn's factory for worker processes: the model list travels in the environment."""
    models, outputs = load(os.environ["PEER_MODELS"].split(";"), int(os.environ.get("PEER_TORCH_THREADS", "1")))
    return build_app(models, outputs)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", action="append", required=True,
                        help="NAME=PATH.pt[:out1,out2] (output names; default logits)")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=18100)
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--torch-threads", type=int, default=1)
    args = parser.parse_args(argv)
    os.environ["PEER_MODELS"] = ";".join(args.model)
    os.environ["PEER_TORCH_THREADS"] = str(args.torch_threads)
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    uvicorn.run("fastapi_peer:app_from_env", factory=True, host=args.host, port=args.port,
                workers=args.workers, log_level="warning", access_log=False)


if __name__ == "__main__":
    main()
