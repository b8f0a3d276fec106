"""A recipe's model, trained once per machine rather than once per notebook.

Notebooks 09 and 13 (without GPT-2's weights) both study the model of the fast CPU recipe, ``shakespeare-char-cpu``,
trained at the course seed: the same run, from the same code on the same data. ``recipe_model`` makes that run the
first time and keeps the result in the cache folder (``$MINIGPT_CACHE_DIR``, else ``$XDG_CACHE_HOME/minigpt`` or
``~/.cache/minigpt``, under ``models/``). The next notebook that asks for the same run on this machine loads it
instead, in well under a second.

    run = recipe_model("shakespeare-char-cpu", train_data, val_data, seed=SEED)
    run.model, run.history      # the trained GPT (eval mode) and its Trainer history
    run.trained_here            # False when it came from the cache

**What a loaded model is.** The file's name is a digest of everything the weights depend on: the recipe's model
and training settings, the seed, the data, the device, and torch's version, CPU kernels and thread count. So on a
CPU a loaded model is bit for bit the one the call would have trained (a test checks it); anything that differs
trains anew. The file is an ordinary checkpoint (safetensors and JSON, no pickled code), written atomically; one
that cannot be read is trained again and replaced, with a warning that says why; a cache folder that cannot be
written is a warning too, never a lost run.
"""

from __future__ import annotations

import hashlib
import json
import time
import warnings
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import torch

from minigpt.checkpoint import load_checkpoint, save_checkpoint, tensor_checksum
from minigpt.data.corpus import cache_dir
from minigpt.device import pick_device
from minigpt.model import GPT
from minigpt.recipes import get_recipe
from minigpt.train import History, Trainer


@dataclass
class RecipeRun:
    """A recipe trained at one seed: the model (eval mode), its Trainer history, whether this call trained it
    (``False``: loaded from the cache) and how long the call took."""

    model: GPT
    history: History
    trained_here: bool
    seconds: float


def recipe_model(name: str, train_data: torch.Tensor, val_data: torch.Tensor, *, seed: int, device: str = "cpu",
                 **changes) -> RecipeRun:
    """Recipe ``name``'s model trained at ``seed`` on ``train_data`` / ``val_data`` (1-D token ids), with any
    ``changes`` to its TrainConfig (``max_iters=20``): loaded from the cache when this very run was made on this
    machine before, else trained now (``torch.manual_seed(seed)`` for the weights, then the Trainer) and kept."""
    start = time.perf_counter()
    recipe = get_recipe(name)
    config = replace(recipe.train, **changes, seed=seed, device=str(pick_device(device)), progress=False)
    path = cached_path(name, recipe.model.to_dict(), asdict(config), train_data, val_data)
    if path.is_file():
        try:
            checkpoint = load_checkpoint(path, config=recipe.model)
        except (OSError, ValueError) as error:  # damaged or unreadable: say so, then make the run again
            warnings.warn(f"could not load the cached model {path} ({error}); training it again", stacklevel=2)
        else:
            model = checkpoint.build_model(config.device)
            return RecipeRun(model, History(checkpoint.history), False, time.perf_counter() - start)
    torch.manual_seed(seed)
    model = GPT(recipe.model)
    trainer = Trainer(model, config, train_data, val_data)
    history = trainer.fit()
    model.eval()
    try:
        save_checkpoint(path, model, step=trainer.step, history=list(history))
    except OSError as error:  # a cache folder that cannot be written costs the next notebook time, not this one
        warnings.warn(f"{error}; the next notebook will train this model again", stacklevel=2)
    return RecipeRun(model, history, True, time.perf_counter() - start)


def cached_path(name: str, model_config: dict, train_config: dict, train_data: torch.Tensor,
                val_data: torch.Tensor) -> Path:
    """Where the run with these settings and data is kept on this machine: its name and seed, then a digest of
    everything the trained weights depend on (the same run on another torch or other CPU kernels computes its
    floats in another order, so it is another file)."""
    what = {
        "recipe": name,
        "model": model_config,
        "train": train_config,
        "data": tensor_checksum({"train": train_data, "val": val_data}),
        "torch": torch.__version__,
        "cpu_kernels": torch.backends.cpu.get_cpu_capability(),
        "threads": torch.get_num_threads(),
    }
    digest = hashlib.sha256(json.dumps(what, sort_keys=True, default=str).encode()).hexdigest()[:16]
    return cache_dir() / "models" / f"{name}-seed{train_config['seed']}-{digest}.safetensors"
