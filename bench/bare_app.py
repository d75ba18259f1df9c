"""The ceiling: a bare FastAPI app answering a constant JSON to the same POST, same uvicorn settings."""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.responses import Response

BODY = b'{"label":"positive","score":0.9,"probabilities":{"negative":0.1,"positive":0.9}}'

app = FastAPI()


@app.post("/predict")
async def predict(request: Request) -> Response:
    await request.body()
    return Response(BODY, media_type="application/json")


@app.get("/ready")
async def ready() -> dict[str, str]:
    return {"status": "ready"}
