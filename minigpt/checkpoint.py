"""Saving and loading training state: one safetensors file, no pickle.

A checkpoint is a single ``.safetensors`` file (a directory path means ``<dir>/checkpoint.safetensors``):

* tensors ``model.<name>`` - the weights (a tied weight is stored once; the JSON says which names share it);
* tensors ``optimizer.<param index>.<name>`` - AdamW's moments and step counts;
* the header's metadata ``"minigpt"`` - JSON: model class and ``GPTConfig``, tokenizer (``to_dict``),
  step, ``TrainConfig``, the optimiser's hyper-parameters, and the loss history.

safetensors holds only numbers and strings, so loading a checkpoint can never run code (a
``torch.load`` of a pickle can). Each save writes a temporary file next to the target and then
renames it over the target with ``os.replace``, which is atomic: a process killed mid-save leaves
the previous checkpoint whole. Randomness needs no saved state: the ``Trainer`` derives every
step's seeds from ``(seed, rank, step)``.
"""

from __future__ import annotations

import json
import os
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import torch
from safetensors import SafetensorError, safe_open
from safetensors.torch import save_file

from minigpt.config import GPTConfig
from minigpt.tokenizers import tokenizer_from_dict

FORMAT = "minigpt-checkpoint-v1"
DEFAULT_NAME = "checkpoint.safetensors"
MODEL_CLASSES = {"GPT": "minigpt.model", "Seq2Seq": "minigpt.seq2seq"}


@dataclass
class Checkpoint:
    """What ``load_checkpoint`` returns. ``build_model()`` makes the model with these weights."""

    path: Path
    model_class: str
    config: GPTConfig
    model_state: dict[str, torch.Tensor]
    tokenizer: object | None = None
    step: int = 0
    train_config: dict | None = None
    optimizer_state: dict | None = None
    history: list[dict] = field(default_factory=list)

    def build_model(self, device="cpu") -> torch.nn.Module:
        import importlib

        cls = getattr(importlib.import_module(MODEL_CLASSES[self.model_class]), self.model_class)
        model = cls(self.config)
        model.load_state_dict(self.model_state)
        return model.to(device).eval()


def checkpoint_path(path) -> Path:
    """A directory (existing, or written with a trailing slash) means ``<dir>/checkpoint.safetensors``."""
    path = Path(path)
    if path.is_dir() or str(path).endswith(os.sep):
        return path / DEFAULT_NAME
    return path


def save_checkpoint(
    path,
    model: torch.nn.Module,
    *,
    tokenizer=None,
    optimizer: torch.optim.Optimizer | None = None,
    step: int = 0,
    train_config: dict | None = None,
    history: list[dict] | None = None,
) -> Path:
    """Write ``model`` (+ optional training state) atomically to ``path``; returns the file path."""
    path = checkpoint_path(path)
    model_class = type(model).__name__
    if model_class not in MODEL_CLASSES:
        raise TypeError(f"can only checkpoint {sorted(MODEL_CLASSES)} models, got {model_class}")
    tensors, tied = _model_tensors(model)
    meta = {
        "format": FORMAT,
        "model_class": model_class,
        "model_config": model.config.to_dict(),
        "tied": tied,
        "tokenizer": None if tokenizer is None else tokenizer.to_dict(),
        "step": step,
        "train_config": train_config,
        "history": history or [],
        "optimizer": None,
    }
    if optimizer is not None:
        meta["optimizer"] = _optimizer_tensors(optimizer.state_dict(), tensors)
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.close(handle)
    try:
        save_file(tensors, tmp, metadata={"minigpt": json.dumps(meta)})
        with open(tmp, "rb") as f:
            os.fsync(f.fileno())  # the bytes are on disk before the rename makes them the checkpoint
        os.chmod(tmp, 0o644)  # mkstemp makes it private (0600); a checkpoint is a normal, shareable file
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def _model_tensors(model) -> tuple[dict[str, torch.Tensor], dict[str, str]]:
    """``model.<name>`` tensors, each storage once; ``tied`` maps a shared name to the stored one."""
    tensors, tied, seen = {}, {}, {}
    for name, tensor in model.state_dict().items():
        key = (tensor.data_ptr(), tensor.shape, tensor.stride())
        if key in seen:
            tied[name] = seen[key]
            continue
        seen[key] = name
        tensors[f"model.{name}"] = tensor.detach().contiguous().cpu()
    return tensors, tied


def _optimizer_tensors(state_dict: dict, tensors: dict) -> dict:
    """Move the optimiser's tensors into ``tensors``; return the JSON-able rest."""
    scalars = {}
    for index, state in state_dict["state"].items():
        for name, value in state.items():
            if isinstance(value, torch.Tensor):
                tensors[f"optimizer.{index}.{name}"] = value.detach().contiguous().cpu()
            else:
                scalars.setdefault(str(index), {})[name] = value
    return {"param_groups": state_dict["param_groups"], "scalars": scalars}


def load_checkpoint(path, *, config: GPTConfig | None = None, tokenizer=None, device="cpu") -> Checkpoint:
    """Read a checkpoint. With ``config`` / ``tokenizer`` given, check it was saved for exactly those
    and say what differs if not. Raises FileNotFoundError or ValueError with the cause."""
    path = checkpoint_path(path)
    if not path.is_file():
        raise FileNotFoundError(
            f"no checkpoint at {path}; train one first, e.g. "
            f"`python -m minigpt train --preset tiny --out {path}`"
        )
    try:
        with safe_open(str(path), framework="pt", device=str(device)) as f:
            header = f.metadata() or {}
            tensors = {key: f.get_tensor(key) for key in f.keys()}
    except SafetensorError as error:
        raise ValueError(
            f"checkpoint {path} is truncated or corrupt ({error}); save it again or use an earlier copy"
        ) from error
    try:
        meta = json.loads(header["minigpt"])
    except (KeyError, json.JSONDecodeError) as error:
        raise ValueError(
            f"{path} is a safetensors file but not a minigpt checkpoint (no valid 'minigpt' metadata)"
        ) from error
    if meta.get("format") != FORMAT:
        raise ValueError(f"checkpoint {path} has format {meta.get('format')!r}; this minigpt reads {FORMAT!r}")

    saved_config = GPTConfig.from_dict(meta["model_config"])
    if config is not None and config != saved_config:
        differences = _config_diff(saved_config, config)
        raise ValueError(f"checkpoint {path} was saved for a different model config: {differences}")
    saved_tokenizer = None
    if meta["tokenizer"] is not None:
        saved_tokenizer = tokenizer_from_dict(meta["tokenizer"])
    if tokenizer is not None and meta["tokenizer"] is not None and tokenizer.to_dict() != meta["tokenizer"]:
        raise ValueError(
            f"checkpoint {path} was trained with a different tokenizer: it has "
            f"{_describe_tokenizer(saved_tokenizer)}, you gave {_describe_tokenizer(tokenizer)}; "
            "load it without a tokenizer to use the saved one"
        )

    model_state = {key[len("model."):]: t for key, t in tensors.items() if key.startswith("model.")}
    for name, stored in meta["tied"].items():
        model_state[name] = model_state[stored]
    return Checkpoint(
        path=path,
        model_class=meta["model_class"],
        config=saved_config,
        model_state=model_state,
        tokenizer=saved_tokenizer,
        step=meta["step"],
        train_config=meta["train_config"],
        optimizer_state=None if meta["optimizer"] is None else _optimizer_state(meta["optimizer"], tensors),
        history=meta["history"],
    )


def _optimizer_state(meta: dict, tensors: dict) -> dict:
    state: dict[int, dict] = {}
    for key, tensor in tensors.items():
        if key.startswith("optimizer."):
            _, index, name = key.split(".", 2)
            state.setdefault(int(index), {})[name] = tensor
    for index, scalars in meta["scalars"].items():
        state.setdefault(int(index), {}).update(scalars)
    # JSON turned the betas tuple into a list
    groups = [{**group, "betas": tuple(group["betas"])} if "betas" in group else group
              for group in meta["param_groups"]]
    return {"state": state, "param_groups": groups}


def load_model(path, device="cpu"):
    """``(model, tokenizer)`` from a checkpoint, ready for ``generate`` (eval mode)."""
    checkpoint = load_checkpoint(path, device="cpu")
    return checkpoint.build_model(device), checkpoint.tokenizer


def _config_diff(saved: GPTConfig, expected: GPTConfig) -> str:
    saved_d, expected_d = saved.to_dict(), expected.to_dict()
    return "; ".join(
        f"{name}: checkpoint has {saved_d[name]!r}, expected {expected_d[name]!r}"
        for name in saved_d if saved_d[name] != expected_d[name]
    )


def _describe_tokenizer(tokenizer) -> str:
    return f"{getattr(tokenizer, 'name', type(tokenizer).__name__)} with {tokenizer.vocab_size} tokens"
