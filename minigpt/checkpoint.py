"""Saving and loading training state: one safetensors file, no pickle.

A checkpoint is a single ``.safetensors`` file (a directory path means ``<dir>/checkpoint.safetensors``):

* tensors ``model.<name>`` - the weights (a tied weight is stored once; the JSON says which names share it);
* tensors ``optimizer.<param index>.<name>`` - AdamW's moments and step counts;
* the header's metadata ``"minigpt"`` - JSON: model class and ``GPTConfig``, tokenizer (``to_dict``),
  step, ``TrainConfig``, the optimiser's hyper-parameters, the loss history, a SHA-256 checksum
  of the tensor data (names, dtypes, shapes and bytes), ``checksum``, and one of the metadata
  itself (every other field), ``metadata_checksum``.

safetensors holds only numbers and strings, so loading a checkpoint can never run code (a
``torch.load`` of a pickle can). Each save is atomic (:func:`minigpt.files.atomic_path`): a process
killed mid-save leaves the previous checkpoint whole, and the next successful save removes the
temporary file such a kill left behind. Randomness needs no saved state: the ``Trainer`` derives every step's seeds
from ``(seed, rank, step)``.

**Damage is reported, never loaded.** safetensors checks the file's structure; the checksums catch
flipped bytes inside the tensor data or the metadata (a bad disk, a broken copy), which would
otherwise load as weights that are silently wrong, or as ``"step": 2`` where 3 was saved (and
``--resume`` would repeat a step). ``load_checkpoint(..., verify=False)`` skips both checksums (the
tensors' costs about a second per GB). Metadata that is not what ``save_checkpoint`` writes is one
``ValueError`` naming the file and the field. Checkpoints of the earlier format
``minigpt-checkpoint-v1``, whose metadata had no checksum yet, still load, with their tensor checksum checked.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass, field
from pathlib import Path

import torch
from safetensors import SafetensorError, safe_open
from safetensors.torch import save_file

from minigpt.arguments import is_int, is_number
from minigpt.config import GPTConfig
from minigpt.files import atomic_path, cannot_write
from minigpt.files import require_writable as require_folder_writable
from minigpt.tokenizers import tokenizer_difference, tokenizer_from_dict

FORMAT = "minigpt-checkpoint-v2"  # v2: the metadata has a checksum too
FORMAT_V1 = "minigpt-checkpoint-v1"  # still read: only the tensor data has a checksum
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
        try:
            model.load_state_dict(self.model_state)
        except RuntimeError as error:  # missing, unexpected or mis-shaped tensors
            detail = " ".join(str(error).split())
            raise ValueError(f"checkpoint {self.path} holds weights that do not fit its own config "
                             f"({detail[:300]}); it is damaged, use an earlier copy") from None
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
    meta["checksum"] = tensor_checksum(tensors)
    # of the metadata as a loader will read it back (JSON turns tuples into lists)
    meta["metadata_checksum"] = metadata_checksum(json.loads(json.dumps(meta)))
    _make_folder(path)
    with atomic_path(path, permissions=0o644, what="checkpoint") as temporary:  # a normal, shareable file
        save_file(tensors, str(temporary), metadata={"minigpt": json.dumps(meta)})
    return path


def require_writable(path) -> Path:
    """Make sure a checkpoint can be written to ``path`` before spending time on training.

    Creates the folder if needed and makes (then removes) a temporary folder there, the way
    ``save_checkpoint`` will. Returns the checkpoint file path; raises OSError saying why not.
    """
    path = checkpoint_path(path)
    if path.exists() and not path.is_file():
        raise IsADirectoryError(f"cannot write checkpoint {path}: it exists and is not a file")
    for folder in path.parents:  # the nearest folder that exists must be a folder
        if folder.exists():
            if not folder.is_dir():
                raise NotADirectoryError(f"cannot write checkpoint {path}: {folder} is a file, not a folder")
            break
    _make_folder(path)
    require_folder_writable(path, "checkpoint")
    return path


def _make_folder(path: Path) -> None:
    """The folder of checkpoint ``path``, made if missing, or an OSError that names ``path``."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise cannot_write(path, error, "checkpoint") from error


def tensor_checksum(tensors: dict[str, torch.Tensor]) -> str:
    """SHA-256 over every tensor's name, dtype, shape and bytes, in name order: ``"sha256:<hex>"``."""
    digest = hashlib.sha256()
    for name in sorted(tensors):
        tensor = tensors[name].detach().contiguous().cpu()
        digest.update(f"{name}|{str(tensor.dtype)}|{tuple(tensor.shape)}|".encode())
        digest.update(tensor.reshape(-1).view(torch.uint8).numpy().data)
    return "sha256:" + digest.hexdigest()


_CHECKSUM_KEYS = ("checksum", "metadata_checksum")


def metadata_checksum(meta: dict) -> str:
    """SHA-256 of a checkpoint's metadata (as JSON with sorted keys): ``"sha256:<hex>"``.

    It covers every field but the two checksums: the tensor ``checksum`` is checked against the
    tensors themselves, so a change to it is caught there.
    """
    fields = {key: value for key, value in meta.items() if key not in _CHECKSUM_KEYS}
    return "sha256:" + hashlib.sha256(json.dumps(fields, sort_keys=True).encode()).hexdigest()


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


def load_checkpoint(path, *, config: GPTConfig | None = None, tokenizer=None, device="cpu",
                    verify: bool = True) -> Checkpoint:
    """Read a checkpoint. With ``config`` / ``tokenizer`` given, check it was saved for exactly those
    and say what differs if not. ``verify=False`` skips the checksum of the tensor data (faster for
    big files you trust). Raises FileNotFoundError, or ValueError naming the file and the problem."""
    path = checkpoint_path(path)
    meta, tensors = _read_whole_checkpoint(path, device, verify)
    saved_config = GPTConfig.from_dict(meta["model_config"])  # _metadata_problem made sure it builds
    saved_tokenizer = None if meta["tokenizer"] is None else tokenizer_from_dict(meta["tokenizer"])
    _require_saved_for(path, saved_config, saved_tokenizer, config, tokenizer)
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


def _read_whole_checkpoint(path: Path, device, verify: bool) -> tuple[dict, dict[str, torch.Tensor]]:
    """The metadata and the tensors of the file at ``path``, once it is known to be a whole minigpt
    checkpoint: a readable safetensors file, our format, well-formed metadata and (``verify``) the checksum."""
    if not path.is_file():
        raise FileNotFoundError(
            f"no checkpoint at {path}; train one first, e.g. "
            f"`python -m minigpt train --recipe tiny --out {path}`"
        )
    try:
        with safe_open(str(path), framework="pt", device=str(device)) as f:
            header = f.metadata() or {}
            tensors = {key: f.get_tensor(key) for key in f.keys()}
    except (SafetensorError, OSError, RuntimeError) as error:
        raise ValueError(
            f"checkpoint {path} is truncated or corrupt ({error}); save it again or use an earlier copy"
        ) from error
    try:
        meta = json.loads(header["minigpt"])
    except (KeyError, json.JSONDecodeError) as error:
        raise ValueError(
            f"{path} is a safetensors file but not a minigpt checkpoint (no valid 'minigpt' metadata)"
        ) from error
    if not isinstance(meta, dict) or meta.get("format") not in (FORMAT, FORMAT_V1):
        found = meta.get("format") if isinstance(meta, dict) else type(meta).__name__
        raise ValueError(f"checkpoint {path} has format {found!r}; this minigpt reads {FORMAT!r} and {FORMAT_V1!r}")
    problem = _metadata_problem(meta, tensors)
    if problem:
        raise ValueError(f"checkpoint {path} has malformed metadata: {problem}; it is damaged or was not "
                         "written by save_checkpoint, use an earlier copy")
    if verify:
        if meta["format"] == FORMAT and metadata_checksum(meta) != meta["metadata_checksum"]:
            raise _corrupt(path, "metadata")
        if meta.get("checksum") is not None and tensor_checksum(tensors) != meta["checksum"]:
            raise _corrupt(path, "tensor data")
    return meta, tensors


def _corrupt(path: Path, part: str) -> ValueError:
    return ValueError(f"checkpoint {path} is corrupt: its {part} does not match the checksum saved with it "
                      "(changed bytes on disk or in a copy); use an earlier copy, or load with verify=False "
                      "to read it anyway")


def _require_saved_for(path: Path, saved_config: GPTConfig, saved_tokenizer, config: GPTConfig | None,
                     tokenizer) -> None:
    """The checkpoint at ``path`` was saved for ``config`` and ``tokenizer`` (each None: anything), or an
    error that says what differs."""
    if config is not None and config != saved_config:
        differences = _config_diff(saved_config, config)
        raise ValueError(f"checkpoint {path} was saved for a different model config: {differences}")
    if tokenizer is not None and saved_tokenizer is not None and tokenizer.to_dict() != saved_tokenizer.to_dict():
        raise ValueError(
            f"checkpoint {path} was trained with a different tokenizer (the checkpoint's vs yours: "
            f"{tokenizer_difference(saved_tokenizer, tokenizer)}); load it without a tokenizer to use the saved one"
        )


_META_KEYS = ("model_class", "model_config", "tied", "tokenizer", "step", "train_config", "history", "optimizer")


def _metadata_problem(meta: dict, tensors: dict) -> str | None:
    """What is wrong with a checkpoint's metadata, in a few words; None when it is what
    ``save_checkpoint`` writes. Each field is checked before anything is built from it."""
    required = _META_KEYS + (("metadata_checksum",) if meta["format"] == FORMAT else ())
    missing = [key for key in required if key not in meta]
    if missing:
        return f"missing fields {missing}"
    if meta["model_class"] not in MODEL_CLASSES:
        return f"model_class is {meta['model_class']!r}, expected one of {sorted(MODEL_CLASSES)}"
    try:
        GPTConfig.from_dict(meta["model_config"])
    except (TypeError, ValueError) as error:
        return f"model_config: {error}"
    tied = meta["tied"]
    if not isinstance(tied, dict) or not all(isinstance(v, str) and f"model.{v}" in tensors for v in tied.values()):
        return "tied must map weight names to stored weights"
    if meta["tokenizer"] is not None:
        try:
            tokenizer_from_dict(meta["tokenizer"])
        except (TypeError, ValueError, KeyError, AttributeError) as error:
            return f"tokenizer: {error!r}" if isinstance(error, KeyError) else f"tokenizer: {error}"
    if not is_int(meta["step"]) or meta["step"] < 0:
        return f"step is {meta['step']!r}, expected an int >= 0"
    if meta["train_config"] is not None and not isinstance(meta["train_config"], dict):
        return f"train_config is a {type(meta['train_config']).__name__}, expected a dict or null"
    history_problem = _history_problem(meta["history"])
    if history_problem:
        return history_problem
    if meta["optimizer"] is not None:
        optimizer_problem = _optimizer_problem(meta["optimizer"], tensors)
        if optimizer_problem:
            return optimizer_problem
    for key in _CHECKSUM_KEYS:  # the tensor checksum may be null (not checked); the metadata's is required in v2
        if (meta.get(key) is not None or key in required) and not isinstance(meta[key], str):
            return f"{key} is {meta[key]!r}, expected a string"
    return None


def _history_problem(history) -> str | None:
    if not isinstance(history, list):
        return f"history is a {type(history).__name__}, expected a list of rows"
    for index, row in enumerate(history):
        if not isinstance(row, dict) or not is_int(row.get("step")):
            return f"history row {index} is {row!r}, expected a dict with an int 'step'"
        bad = [key for key, value in row.items() if value is not None and not is_number(value)]
        if bad:
            return f"history row {index} has non-numbers in {bad}"
    return None


def _optimizer_problem(optimizer, tensors: dict) -> str | None:
    if not isinstance(optimizer, dict) or not isinstance(optimizer.get("param_groups"), list) \
            or not all(isinstance(group, dict) and isinstance(group.get("params"), list)
                       and all(is_int(index) for index in group["params"]) for group in optimizer["param_groups"]) \
            or not isinstance(optimizer.get("scalars"), dict) \
            or not all(isinstance(v, dict) for v in optimizer["scalars"].values()):
        return "optimizer must hold a list of param_groups (each with a list of int params) and a dict of scalars"
    indices = list(optimizer["scalars"]) + [key.split(".")[1] for key in tensors if key.startswith("optimizer.")]
    if not all(index.isdigit() for index in indices):
        return f"optimizer state has parameter indices that are not ints: {sorted(set(indices))[:5]}"
    return None


def _optimizer_state(meta: dict, tensors: dict) -> dict:
    state: dict[int, dict] = {}
    for key, tensor in tensors.items():
        if key.startswith("optimizer."):
            _, index, name = key.split(".", 2)
            state.setdefault(int(index), {})[name] = tensor
    for index, scalars in meta["scalars"].items():
        state.setdefault(int(index), {}).update(scalars)
    # JSON turned the betas tuple into a list
    groups = [{**group, "betas": tuple(group["betas"])} if isinstance(group.get("betas"), list) else group
              for group in meta["param_groups"]]
    return {"state": state, "param_groups": groups}


def load_model(path, device="cpu", *, verify: bool = True):
    """``(model, tokenizer)`` from a checkpoint, ready for ``generate`` (eval mode)."""
    checkpoint = load_checkpoint(path, device="cpu", verify=verify)
    return checkpoint.build_model(device), checkpoint.tokenizer


def _config_diff(saved: GPTConfig, expected: GPTConfig) -> str:
    saved_d, expected_d = saved.to_dict(), expected.to_dict()
    return "; ".join(
        f"{name}: checkpoint has {saved_d[name]!r}, expected {expected_d[name]!r}"
        for name in saved_d if saved_d[name] != expected_d[name]
    )
