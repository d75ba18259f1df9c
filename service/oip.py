"""The Open Inference Protocol (KServe v2 / Triton) as this service speaks it: tensors in and out.

No HTTP here, so each step is testable alone: `parse_infer` turns an inference request body
(JSON, or JSON followed by binary tensors: Triton's binary tensor data extension, which
``tritonclient`` uses by default) into texts and options; `encode_infer` turns the predictor's
answers into output tensors; `model_metadata` describes a model. Every problem with a request is
an `InferError` carrying its status; the routes (`service.routes.v2`) answer it as the protocol's
``{"error": "..."}``.

One model takes one input, ``text`` (BYTES, shape ``[n]`` or ``[n, 1]``), and gives three outputs:
``label`` (BYTES ``[n]``), ``probabilities`` (FP32 ``[n, k]``, the k answer labels in the order the
metadata and the tensor's ``labels`` parameter give) and ``sentiment`` (FP32 ``[n]``, in [-1, 1]).
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from typing import Any

import orjson

from service.predictor import Answer, Predictor

INPUT = "text"
OUTPUTS = ("label", "probabilities", "sentiment")
HEADER_LENGTH = "inference-header-content-length"  # the binary extension's header
POLAR = ("negative", "positive")  # the answer labels with ``binary``
# Request parameters a client may send: ours, and the one tritonclient adds by itself.
_PARAMETERS = {"binary": bool, "lang": str, "binary_data_output": bool}


class InferError(Exception):
    """A request this server cannot answer, with the HTTP status to answer it with."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


@dataclass(frozen=True)
class InferRequest:
    """What an inference request asks for, decoded but not yet validated as texts."""

    texts: list[str]
    binary: bool = False
    lang: str | None = None
    id: str | None = None
    outputs: tuple[tuple[str, bool], ...] = tuple((name, False) for name in OUTPUTS)  # (name, as binary data)


def parse_infer(body: bytes, header_length: str | None) -> InferRequest:
    """The request in ``body``; ``header_length`` is the extension's header, when the client sent it."""
    header, blob = _split(body, header_length)
    try:
        doc = orjson.loads(header)
    except orjson.JSONDecodeError:
        raise InferError(400, "the request is not valid JSON") from None
    if not isinstance(doc, dict):
        raise InferError(400, "the request must be a JSON object")
    unknown = sorted(set(doc) - {"id", "parameters", "inputs", "outputs"})
    if unknown:
        raise InferError(400, f"unknown request field(s): {', '.join(unknown)}")
    binary, lang, binary_output = _parameters(doc.get("parameters"))
    inputs = doc.get("inputs")
    if not isinstance(inputs, list) or len(inputs) != 1:
        raise InferError(400, f"'inputs' must list exactly one tensor, {INPUT!r} (BYTES, shape [n] or [n, 1])")
    request_id = doc.get("id")
    if request_id is not None and not isinstance(request_id, str):
        raise InferError(400, "'id' must be a string")
    return InferRequest(
        texts=_texts(inputs[0], blob),
        binary=binary,
        lang=lang,
        id=request_id,
        outputs=_outputs(doc.get("outputs"), binary_output),
    )


def _split(body: bytes, header_length: str | None) -> tuple[bytes, bytes]:
    if header_length is None:
        return body, b""
    if not header_length.isdigit() or int(header_length) > len(body):
        raise InferError(400, f"{HEADER_LENGTH} must be a length within the body ({len(body)} bytes)")
    n = int(header_length)
    return body[:n], body[n:]


def _parameters(params: object) -> tuple[bool, str | None, bool]:
    """``binary``, ``lang`` and ``binary_data_output`` from the request's parameters."""
    if params is None:
        params = {}
    if not isinstance(params, dict):
        raise InferError(400, "'parameters' must be an object")
    for key, value in params.items():
        expected = _PARAMETERS.get(key)
        if expected is None:
            raise InferError(400, f"unknown parameter {key!r}; this server takes: {', '.join(_PARAMETERS)}")
        if not isinstance(value, expected):
            raise InferError(400, f"parameter {key!r} must be a {'boolean' if expected is bool else 'string'}")
    lang = params.get("lang")
    return params.get("binary", False), lang if isinstance(lang, str) else None, params.get("binary_data_output", False)


def _texts(tensor: object, blob: bytes) -> list[str]:
    """The input tensor's elements as texts, from its JSON ``data`` or from the binary ``blob``."""
    if not isinstance(tensor, dict) or tensor.get("name") != INPUT:
        raise InferError(400, f"the input tensor must be named {INPUT!r}")
    if tensor.get("datatype") != "BYTES":
        raise InferError(400, f"input {INPUT!r} must have datatype BYTES, not {tensor.get('datatype')!r}")
    shape = tensor.get("shape")
    if (
        not isinstance(shape, list)
        or not all(isinstance(d, int) and not isinstance(d, bool) for d in shape)
        or not (len(shape) == 1 or (len(shape) == 2 and shape[1] == 1))
        or shape[0] < 1
    ):
        raise InferError(400, f"input {INPUT!r} must have shape [n] or [n, 1] with n >= 1, not {shape!r}")
    n = shape[0]
    size = (tensor.get("parameters") or {}).get("binary_data_size")
    if size is not None:
        if not isinstance(size, int) or size != len(blob):
            raise InferError(400, f"binary_data_size is {size!r} but {len(blob)} bytes follow the JSON header")
        elements = _deserialize_bytes(blob)
    else:
        data = tensor.get("data")
        if not isinstance(data, list):
            raise InferError(400, f"input {INPUT!r} has no 'data' (and no binary_data_size)")
        elements = [row[0] if isinstance(row, list) and len(row) == 1 else row for row in data]
        if not all(isinstance(e, str) for e in elements):
            raise InferError(400, f"every element of input {INPUT!r} must be a string")
    if len(elements) != n:
        raise InferError(400, f"input {INPUT!r} has shape {shape} but {len(elements)} elements")
    return elements


def _deserialize_bytes(blob: bytes) -> list[str]:
    """Triton's BYTES serialization: each element a 4-byte little-endian length, then its bytes."""
    out, at = [], 0
    while at < len(blob):
        if at + 4 > len(blob):
            raise InferError(400, "the binary BYTES tensor ends inside an element's length")
        (length,) = struct.unpack_from("<I", blob, at)
        at += 4
        if at + length > len(blob):
            raise InferError(400, "the binary BYTES tensor ends inside an element")
        try:
            out.append(blob[at : at + length].decode("utf-8"))
        except UnicodeDecodeError:
            raise InferError(400, f"element {len(out)} of input {INPUT!r} is not valid UTF-8") from None
        at += length
    return out


def _outputs(requested: object, binary_default: bool) -> tuple[tuple[str, bool], ...]:
    if requested is None:
        return tuple((name, binary_default) for name in OUTPUTS)
    if not isinstance(requested, list) or not requested:
        raise InferError(400, "'outputs' must be a non-empty list")
    chosen = []
    for out in requested:
        name = out.get("name") if isinstance(out, dict) else None
        if name not in OUTPUTS:
            raise InferError(400, f"unknown output {name!r}; this model gives: {', '.join(OUTPUTS)}")
        params = out.get("parameters") or {}
        if not isinstance(params, dict) or set(params) - {"binary_data"}:
            raise InferError(400, f"output {name!r}: the only output parameter served is binary_data")
        binary = params.get("binary_data", binary_default)
        if not isinstance(binary, bool):
            raise InferError(400, f"output {name!r}: binary_data must be a boolean")
        chosen.append((name, binary))
    return tuple(chosen)


def answer_labels(predictor: Predictor, binary: bool) -> tuple[str, ...]:
    """The probabilities' column order for this model and request."""
    return POLAR if binary or not predictor.has_scale else tuple(predictor.answer_labels)


def encode_infer(
    predictor: Predictor, request: InferRequest, answers: list[Answer]
) -> tuple[bytes, dict[str, str], str]:
    """The response body, its extra headers and its media type: JSON, or JSON then binary tensors."""
    labels = answer_labels(predictor, request.binary)
    n = len(answers)
    tensors: dict[str, tuple[str, list[int], list[Any], dict[str, str]]] = {
        "label": ("BYTES", [n], [a["label"] for a in answers], {}),
        "probabilities": (
            "FP32",
            [n, len(labels)],
            [a["probabilities"][label] for a in answers for label in labels],
            {"labels": ",".join(labels)},
        ),
        "sentiment": ("FP32", [n], [a["sentiment"] for a in answers], {}),
    }
    outputs, blobs = [], []
    for name, binary in request.outputs:
        datatype, shape, data, params = tensors[name]
        tensor: dict[str, Any] = {"name": name, "datatype": datatype, "shape": shape}
        if binary:
            blob = _serialize(datatype, data)
            tensor["parameters"] = {**params, "binary_data_size": len(blob)}
            blobs.append(blob)
        else:
            if params:
                tensor["parameters"] = params
            tensor["data"] = data
        outputs.append(tensor)
    doc: dict[str, Any] = {"model_name": predictor.name, "model_version": predictor.version, "outputs": outputs}
    if request.id is not None:
        doc["id"] = request.id
    header = orjson.dumps(doc)
    if not blobs:
        return header, {}, "application/json"
    return header + b"".join(blobs), {HEADER_LENGTH: str(len(header))}, "application/octet-stream"


def _serialize(datatype: str, data: list[Any]) -> bytes:
    if datatype == "FP32":
        return struct.pack(f"<{len(data)}f", *data)
    encoded = [str(e).encode("utf-8") for e in data]
    return b"".join(struct.pack("<I", len(e)) + e for e in encoded)


def model_metadata(predictor: Predictor) -> dict[str, Any]:
    """The protocol's model metadata, with the label order and the language as parameters."""
    labels = answer_labels(predictor, binary=False)
    return {
        "name": predictor.name,
        "versions": [predictor.version],
        "platform": "pytorch",
        "inputs": [{"name": INPUT, "datatype": "BYTES", "shape": [-1]}],
        "outputs": [
            {"name": "label", "datatype": "BYTES", "shape": [-1]},
            {"name": "probabilities", "datatype": "FP32", "shape": [-1, len(labels)]},
            {"name": "sentiment", "datatype": "FP32", "shape": [-1]},
        ],
        "parameters": {
            "language": predictor.ckpt.language,
            "labels": ",".join(labels),
            "binary_labels": ",".join(POLAR),
        },
    }
