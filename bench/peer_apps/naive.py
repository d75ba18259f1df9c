"""The FastAPI endpoint most users write: a sync ``def`` route, one forward pass per request.

``uvicorn bench.peer_apps.naive:app``. The model loads in the lifespan; FastAPI runs the route in
its thread pool; each request is tokenized and run alone through the torch.nn.RNN members.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI, Request

from bench.peer_apps.model import Answer, PeerModel, Review


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    app.state.model = PeerModel()
    yield


app = FastAPI(lifespan=lifespan)


@app.post("/predict")
def predict(review: Review, request: Request) -> Answer:
    model: PeerModel = request.app.state.model
    return model.predict([review.text])[0]


@app.get("/ready")
def ready() -> dict[str, str]:
    return {"status": "ready"}
