"""One checkpoint file holds everything needed to serve: loaded with ``weights_only=True``.

Only tensors, plain containers, strings and numbers go in, so loading never unpickles code. A
format version guards against files this code cannot read; every failure to load is one exception
type, `CheckpointError`, with a message a person can act on.
"""

from __future__ import annotations

import ctypes
import pickle
import zipfile
from array import array
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import torch
from torch import Tensor

from model.data import sha256_file
from model.languages import tokenizer_for
from model.network import ModelConfig, SentimentRNN
from model.tokenizer import TOKENIZER_VERSION, Aliases, Vocab

# Version 2 stores the vocabulary as one string (its tokens joined by newlines): unpickled as a list,
# its tens of thousands of strings were most of the time the English file took to load.
FORMAT_VERSION = 2
READABLE_VERSIONS = (1, 2)
VOCAB_SEPARATOR = "\n"
REQUIRED_KEYS = ("format_version", "model_config", "members", "vocab", "labels", "tokenizer")


class CheckpointError(RuntimeError):
    """The checkpoint is missing, corrupt, or from an incompatible version."""


@dataclass
class Checkpoint:
    """The in-memory form of a checkpoint file.

    ``members`` holds one state_dict per network: a single model has one, an ensemble several
    networks of the same architecture whose probabilities are averaged.
    """

    model_config: ModelConfig
    members: list[dict[str, Tensor]]
    vocab: Vocab
    labels: tuple[str, ...]
    language: str = "en"
    tokenizer: dict[str, Any] = field(default_factory=lambda: {"name": "sst-ptb", "version": TOKENIZER_VERSION})
    temperature: float = 1.0
    # member_temperatures[k - 1]: the temperature fitted on dev for the first k members alone, so
    # that a service may run fewer members (faster) and still be calibrated.
    member_temperatures: list[float] = field(default_factory=list)
    max_length: int = 256
    training: dict[str, Any] = field(default_factory=dict)
    metrics: dict[str, Any] = field(default_factory=dict)
    # How sentence answers combine into a document's (`model.document.Aggregation`); empty: its defaults.
    document: dict[str, float | list[float]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        # Embedding tables are stored as float16 (half the file size) and kept so in memory: what
        # is evaluated is exactly what the file holds, and a served ensemble holds half the bytes.
        # `build_models` widens them for torch modules; the fast path reads them as they are. A
        # table shared by all members (one object) stays one object.
        halved: dict[int, Tensor] = {}
        for state in self.members:
            for key, value in state.items():
                if _is_embedding(key) and value.dtype == torch.float32:
                    if id(value) not in halved:
                        halved[id(value)] = value.half()
                    state[key] = halved[id(value)]

    def subset(self, k: int) -> Checkpoint:
        """The same checkpoint with only its first ``k`` members (and their own temperature)."""
        if not 1 <= k <= len(self.members):
            raise ValueError(f"this checkpoint has {len(self.members)} members; cannot serve {k}")
        if k == len(self.members):
            return self
        temperature = self.member_temperatures[k - 1] if len(self.member_temperatures) >= k else self.temperature
        return replace(
            self, members=self.members[:k], temperature=temperature, member_temperatures=self.member_temperatures[:k]
        )

    def without_embeddings(self) -> Checkpoint:
        """This checkpoint minus its embedding tables, for a server whose fast path has folded them
        into its own precomputed tables (they would be ~30 MB of a worker's memory, unused)."""
        return replace(self, members=[{k: v for k, v in m.items() if not _is_embedding(k)} for m in self.members])

    def build_models(self) -> list[SentimentRNN]:
        """Every member in eval mode, for inference: the checkpoint's own tensors (embedding tables
        widened to float32, a table shared by all members once). Built on the CPU, not the meta
        device: initialising an embedding there imports ~800 modules (0.5 s, ~100 MB) to save a few ms."""
        widened: dict[int, Tensor] = {}

        def widen(value: Tensor) -> Tensor:
            if value.dtype != torch.float16:
                return value
            if id(value) not in widened:
                widened[id(value)] = value.float()
            return widened[id(value)]

        if any(not any(_is_embedding(k) for k in state) for state in self.members):
            raise ValueError("this checkpoint's embedding tables were released (`without_embeddings`)")
        models = []
        for state in self.members:
            net = SentimentRNN(self.model_config)
            net.load_state_dict({k: widen(v) for k, v in state.items()}, assign=True)
            models.append(net.eval().requires_grad_(False))
        return models

    def to_dict(self) -> dict[str, Any]:
        shared, members = _split_shared(self.members)
        return {
            "format_version": FORMAT_VERSION,
            "model_config": self.model_config.to_dict(),
            "shared": shared,
            "members": members,
            "vocab": _vocab_to_str(self.vocab),
            "aliases": _aliases_to_dict(self.vocab.aliases),
            "labels": list(self.labels),
            "language": self.language,
            "tokenizer": self.tokenizer,
            "temperature": self.temperature,
            "member_temperatures": self.member_temperatures,
            "max_length": self.max_length,
            "training": self.training,
            "metrics": self.metrics,
            "document": self.document,
        }


def _vocab_to_str(vocab: Vocab) -> str:
    if any(VOCAB_SEPARATOR in token for token in vocab.itos):
        raise ValueError("a vocabulary token holds a newline, which separates the tokens in the file")
    return VOCAB_SEPARATOR.join(vocab.itos)


def _vocab_from_raw(raw: object, version: int) -> list[str]:
    """Version 2 holds one string; version 1 a list of tokens."""
    if version == 1:
        if isinstance(raw, list) and all(isinstance(token, str) for token in raw):
            return raw
        raise ValueError("a version 1 vocabulary must be a list of strings")
    if isinstance(raw, str):
        return raw.split(VOCAB_SEPARATOR)
    raise ValueError("the vocabulary must be one string of newline-separated tokens")


def _aliases_to_dict(aliases: Aliases | None) -> dict[str, Tensor]:
    if aliases is None:
        return {}
    return {"keys": torch.tensor(aliases.keys, dtype=torch.long), "ids": torch.tensor(aliases.ids, dtype=torch.int32)}


def _aliases_from_dict(raw: object) -> Aliases | None:
    if not raw:
        return None
    if not isinstance(raw, dict) or not all(isinstance(raw.get(k), Tensor) for k in ("keys", "ids")):
        raise ValueError("aliases must hold the tensors keys and ids")
    # Copied straight from the tensors' memory: `tolist` would make a Python int per entry, and
    # `bytes(tensor.untyped_storage())` reads it a byte at a time (seconds at startup).
    keys, ids = raw["keys"].to(torch.long).contiguous(), raw["ids"].to(torch.int32).contiguous()
    return Aliases(array("q", _raw_bytes(keys)), array("i", _raw_bytes(ids)))


def _raw_bytes(tensor: Tensor) -> bytes:
    return ctypes.string_at(tensor.data_ptr(), tensor.numel() * tensor.element_size())


def save_checkpoint(ckpt: Checkpoint, path: str | Path) -> str:
    """Write atomically (temp file + rename) and return the file's SHA-256."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(path.suffix + ".tmp")
    torch.save(ckpt.to_dict(), tmp)
    tmp.replace(path)
    return sha256_file(path)


def load_checkpoint(path: str | Path) -> Checkpoint:
    """Read and validate a checkpoint; raise `CheckpointError` with the reason on any problem."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"checkpoint not found: {path}")
    try:
        # Read, not memory-mapped: the tensors then own their memory and need no copy, where a mapped
        # file's pages and the copies made from them were both resident while loading.
        raw = torch.load(path, map_location="cpu", weights_only=True)
    except (RuntimeError, EOFError, OSError, ValueError, zipfile.BadZipFile, pickle.UnpicklingError) as exc:
        raise CheckpointError(f"checkpoint {path} is corrupt or not a checkpoint: {exc}") from exc
    return _from_dict(raw, path)


def _from_dict(raw: object, path: Path) -> Checkpoint:
    if not isinstance(raw, dict):
        raise CheckpointError(f"checkpoint {path} does not hold a dictionary")
    version = raw.get("format_version")
    if version not in READABLE_VERSIONS:
        raise CheckpointError(
            f"checkpoint {path} has format version {version!r}; this code reads versions "
            + ", ".join(map(str, READABLE_VERSIONS))
        )
    missing = [k for k in REQUIRED_KEYS if k not in raw]
    if missing:
        raise CheckpointError(f"checkpoint {path} lacks {', '.join(missing)}")
    tokenizer = raw["tokenizer"]
    try:
        config = ModelConfig.from_dict(raw["model_config"])
        vocab = Vocab(_vocab_from_raw(raw["vocab"], version), _aliases_from_dict(raw.get("aliases")))

        # Float16 embedding tables stay float16; other floats are read as float32.
        def widen(key: str, value: Tensor) -> Tensor:
            if not value.is_floating_point() or (_is_embedding(key) and value.dtype == torch.float16):
                return value
            return value.float()

        shared = {k: widen(k, v) for k, v in dict(raw.get("shared", {})).items()}
        members = [{**shared, **{k: widen(k, v) for k, v in m.items()}} for m in raw["members"]]
        ckpt = Checkpoint(
            model_config=config,
            members=members,
            vocab=vocab,
            labels=tuple(raw["labels"]),
            language=str(raw.get("language", "en")),
            tokenizer=dict(tokenizer),
            temperature=float(raw.get("temperature", 1.0)),
            member_temperatures=[float(t) for t in raw.get("member_temperatures", [])],
            max_length=int(raw.get("max_length", 256)),
            training=dict(raw.get("training", {})),
            metrics=dict(raw.get("metrics", {})),
            document={str(k): _number_or_numbers(v) for k, v in dict(raw.get("document", {})).items()},
        )
        tokenizer_for(dict(tokenizer))
        if not ckpt.members:
            raise ValueError("no model weights")
        if config.vocab_size != len(vocab) or config.num_labels != len(ckpt.labels):
            raise ValueError("model config does not match the vocabulary or labels")
        if any(isinstance(v, list) and len(v) not in (0, len(ckpt.labels)) for v in ckpt.document.values()):
            raise ValueError("a per-label document weight does not match the labels")
        _check_members(config, ckpt.members)
    except (TypeError, ValueError, KeyError, RuntimeError) as exc:
        raise CheckpointError(f"checkpoint {path} is inconsistent: {exc}") from exc
    return ckpt


def _check_members(config: ModelConfig, members: list[dict[str, Tensor]]) -> None:
    """Every state_dict must fit the architecture: raise ValueError or RuntimeError where one does not.

    One net checks them all, built with two-entry tables: a full-size one would allocate its
    embedding tables (tens of MB at the worker's peak) only to be thrown away. The tables' own
    shapes are checked against the config, their entries swapped for the small net's.
    """
    tables: dict[str, tuple[int, ...]] = {"embedding.weight": (config.vocab_size, config.embedding_dim)}
    if config.bigram_vocab_size:
        tables["bigram_embedding.weight"] = (config.bigram_vocab_size, config.embedding_dim)
        tables["bigram_keys"] = (config.bigram_vocab_size - 2,)
    probe = SentimentRNN(replace(config, vocab_size=2, bigram_vocab_size=min(config.bigram_vocab_size, 3)))
    small = probe.state_dict()
    for state in members:
        for key, shape in tables.items():
            if key in state and tuple(state[key].shape) != shape:
                raise ValueError(f"{key} has shape {tuple(state[key].shape)}, the model config gives {shape}")
        probe.load_state_dict({**state, **{k: small[k] for k in tables if k in state}})


def _is_embedding(key: str) -> bool:
    return key.endswith("embedding.weight")


def _split_shared(members: list[dict[str, Tensor]]) -> tuple[dict[str, Tensor], list[dict[str, Tensor]]]:
    """Tensors equal in every member (a frozen shared embedding table) are stored once;
    embedding tables go to float16."""
    first = members[0]
    shared_keys = {k for k, v in first.items() if all(k in m and torch.equal(m[k], v) for m in members[1:])}
    if len(members) == 1:
        shared_keys = set()

    def store(key: str, value: Tensor) -> Tensor:
        return value.half() if _is_embedding(key) and value.is_floating_point() else value

    shared = {k: store(k, first[k]) for k in sorted(shared_keys)}
    rest = [{k: store(k, v) for k, v in m.items() if k not in shared_keys} for m in members]
    return shared, rest


def _number_or_numbers(value: Any) -> float | list[float]:
    """A stored aggregation field: a number, or one per label."""
    return [float(x) for x in value] if isinstance(value, (list, tuple)) else float(value)
