"""The training loop: batches in, a better model out.

One optimiser step of ``Trainer`` is::

    for each of grad_accum micro-batches:    x, y = batch   (B, T) each
        logits, loss = model(x, y)           forward, bf16 autocast on CUDA
        (loss / grad_accum).backward()       gradients add up over micro-batches
    clip the gradient norm                   guards against rare huge updates
    AdamW step with the scheduled lr         warm-up, then cosine decay (minigpt.optim)

Every ``eval_interval`` steps it measures train and val loss on ``eval_iters`` fixed batches,
and every ``sample_interval`` steps it writes some text. Callbacks (for example the
``TrainingDashboard`` widget) hear about all three.

**Randomness.** Each step's batch choice and dropout come from seeds derived from
``(seed, rank, step)``. So a run is reproducible on CPU, every DDP rank draws different batches,
and resuming from a checkpoint needs nothing but the step number to continue bit-identically.
While ``fit`` runs, the Trainer owns torch's global RNG.

**Several processes.** Under ``torchrun`` the same code trains with ``DistributedDataParallel``
(see ``minigpt.distributed``); only rank 0 shows progress, calls callbacks and saves.
"""

from __future__ import annotations

import contextlib
import os
import time
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import torch
from tqdm.auto import tqdm

from minigpt import distributed
from minigpt.checkpoint import Checkpoint, _config_diff, require_writable, load_checkpoint, save_checkpoint
from minigpt.arguments import WrongType, require_bool, require_choice, require_id_tensor, require_int, require_number, is_number, problems_of
from minigpt.config import DictConfig
from minigpt.data.batches import require_enough_tokens, get_batch
from minigpt.device import autocast, configure_backends, pick_device, pick_dtype
from minigpt.optim import OPTIMIZERS, SCHEDULES, lr_at, make_optimizer, set_lr
from minigpt.sampling import generate

BatchFn = Callable[[str, torch.Generator], tuple]


@dataclass
class TrainConfig(DictConfig):
    """Everything about *how* to train (the model's shape lives in ``GPTConfig``)."""

    max_iters: int = 1000  # optimiser steps
    batch_size: int = 32  # sequences per micro-batch, per process
    grad_accum: int = 1  # micro-batches per optimiser step (bigger effective batch, same memory)
    lr: float = 1e-3  # peak learning rate
    min_lr: float = 1e-4  # learning rate at the end of the decay
    warmup_iters: int = 100
    lr_decay_iters: int | None = None  # end of the decay; None = max_iters
    lr_schedule: str = "cosine"  # "cosine" | "wsd" (hold the peak, then decay linearly)
    decay_frac: float = 0.7  # "wsd" only: the fraction of lr_decay_iters spent decaying
    weight_decay: float = 0.1  # on matrices only
    betas: tuple[float, float] = (0.9, 0.99)
    optimizer: str = "adamw"  # "adamw" | "muon" (Muon for the hidden matrices, AdamW for the rest)
    muon_lr: float = 0.02  # Muon's peak learning rate (follows the same schedule)
    muon_qkv: bool = True  # "muon" only: Muon also for attention's stacked q/k/v matrix (False: AdamW trains it)
    muon_momentum: float = 0.95  # "muon" only: the decay of Muon's (Nesterov) momentum buffer, in [0, 1)
    grad_clip: float = 1.0  # max gradient norm; 0 = no clipping
    eval_interval: int = 250  # steps between evaluations (there is always one at the end); 0 = only at the end
    eval_iters: int = 20  # batches per split per evaluation
    log_interval: int = 1  # steps between history rows / on_step calls (each costs a device sync)
    sample_interval: int = 0  # steps between text samples (needs a tokenizer); 0 = never
    sample_prompt: str = "\n"
    sample_tokens: int = 200
    seed: int = 1337
    device: str = "auto"  # "auto" (cuda > mps > cpu), "cpu", "cuda", "cuda:1", "mps"
    dtype: str = "auto"  # "auto" (bfloat16 on CUDA, else float32), "float32", "bfloat16"
    compile: bool = False  # torch.compile the model (worth it on GPU for long runs)
    target_val_loss: float | None = None  # stop as soon as an evaluation reaches this
    progress: bool = True  # tqdm progress bar
    out: str | None = None  # checkpoint path written at every evaluation and at the end
    data: str | None = None  # what the run trains on (the CLI's "sha256=<text hash> tokenizer=<spec>"); --resume checks it

    def __post_init__(self) -> None:
        if isinstance(self.betas, (list, tuple)):
            self.betas = tuple(self.betas)
        problems = problems_of(
            *(lambda name=name: require_int(getattr(self, name), name, 1) for name in _COUNTS),
            *(lambda name=name: require_int(getattr(self, name), name, 0) for name in _COUNTS_OR_ZERO),
            lambda: self.lr_decay_iters is None or require_int(self.lr_decay_iters, "lr_decay_iters", 1),
            lambda: require_int(self.seed, "seed"),
            lambda: require_number(self.lr, "lr", 0, min_open=True),
            lambda: require_number(self.min_lr, "min_lr", 0),
            lambda: require_number(self.muon_lr, "muon_lr", 0, min_open=True),
            lambda: require_number(self.muon_momentum, "muon_momentum", 0, 1, max_open=True),
            lambda: require_number(self.grad_clip, "grad_clip", 0, hint="0 = no clipping"),
            lambda: require_number(self.weight_decay, "weight_decay", 0),
            lambda: self.target_val_loss is None or require_number(self.target_val_loss, "target_val_loss"),
            lambda: _require_betas(self.betas),
            lambda: require_choice(self.optimizer, "optimizer", OPTIMIZERS),
            lambda: require_choice(self.lr_schedule, "lr_schedule", SCHEDULES),
            *(lambda name=name: require_bool(getattr(self, name), name) for name in ("compile", "progress", "muon_qkv")),
            lambda: _require_text(self.sample_prompt, "sample_prompt"),
            lambda: _require_text(self.device, "device"),
            lambda: _require_text(self.dtype, "dtype"),
            lambda: self.data is None or _require_text(self.data, "data"),
            lambda: self.out is None or _require_text(os.fspath(self.out) if isinstance(self.out, os.PathLike)
                                                    else self.out, "out"),
        )
        if is_number(self.lr) and is_number(self.min_lr) and self.min_lr > self.lr:
            problems.append(f"need lr > 0 and 0 <= min_lr <= lr, got lr={self.lr}, min_lr={self.min_lr}")
        if not (is_number(self.decay_frac) and 0 < self.decay_frac <= 1):  # also refuses NaN
            problems.append(f"decay_frac must be in (0, 1], got {self.decay_frac!r}")
        if problems:
            raise ValueError("invalid TrainConfig: " + "; ".join(problems))


_COUNTS = ("max_iters", "batch_size", "grad_accum", "eval_iters", "log_interval", "sample_tokens")
_COUNTS_OR_ZERO = ("warmup_iters", "eval_interval", "sample_interval")


def _require_betas(betas) -> None:
    if not (isinstance(betas, tuple) and len(betas) == 2):
        raise ValueError(f"betas must be two numbers in [0, 1), e.g. (0.9, 0.99), got {betas!r}")
    for index, beta in enumerate(betas):
        require_number(beta, f"betas[{index}]", 0, 1, max_open=True)


def _require_text(value, name: str) -> None:
    if not isinstance(value, str):
        raise WrongType(f"{name} must be a string, got {value!r} ({type(value).__name__})")


class EvaluationStopped(Exception):
    """``evaluate`` was cut short because ``Trainer.stop_requested`` was set (e.g. by Ctrl-C)."""


class History(list):
    """One dict per logged step: ``step``, ``train_loss``, ``lr``, ``tokens_per_s`` and, at
    evaluation steps, ``val_loss`` (and ``eval_train_loss``, the train loss on the fixed eval batches)."""

    def column(self, key: str) -> list:
        """Values of ``key`` in the rows that have it: ``history.column("val_loss")``."""
        return [row[key] for row in self if key in row]

    def last(self, key: str):
        values = self.column(key)
        return values[-1] if values else None


def derive_seed(*parts: int) -> int:
    """A reproducible seed for each combination of parts, e.g. ``(seed, rank, step, purpose)``."""
    value = 0
    for part in parts:
        value = (value * 1_000_003 + part + 1) % (2**61 - 1)  # polynomial hash mod a Mersenne prime
    return value


# purposes for derive_seed: the same (seed, rank, step) must give unrelated streams
_TRAIN_BATCH, _DROPOUT, _EVAL = 1, 2, 3


class Trainer:
    """Trains ``model`` (a ``GPT``, or any module called as ``model(*batch) -> (logits, loss)``).

    ``train_data`` / ``val_data``: LongTensor[N] token streams, cut into (B, T) batches with
    T = ``model.config.block_size``; or one callable ``batch_fn(split, generator) -> tuple of tensors``
    (split is ``"train"`` or ``"val"``) for other tasks (masked LM, seq2seq), whose tuple is passed
    to the model as ``model(*batch)``.

    ``callbacks``: objects with any of ``on_step(trainer, info)``, ``on_eval(trainer, info)``,
    ``on_sample(trainer, info)``. An exception in a callback is reported once as a warning and
    training goes on.
    """

    def __init__(
        self,
        model: torch.nn.Module,
        config: TrainConfig | None = None,
        train_data: torch.Tensor | BatchFn | None = None,
        val_data: torch.Tensor | None = None,
        *,
        tokenizer=None,
        callbacks: Sequence = (),
    ) -> None:
        self.config = config = config if config is not None else TrainConfig()
        if not isinstance(config, TrainConfig):
            raise TypeError(f"config must be a TrainConfig, got {type(config).__name__}")
        self.dist, self.device = distributed.setup(pick_device(config.device))
        configure_backends(self.device)
        self.dtype = pick_dtype(config.dtype, self.device)
        self.block_size = model.config.block_size
        self.vocab_size = getattr(model.config, "vocab_size", None)
        self.batch_fn, self.train_data, self.val_data = self._require_data(train_data, val_data, self.vocab_size)
        self.tokenizer = tokenizer
        self.callbacks = list(callbacks)
        self.model = model.to(self.device)
        self.optimizer = make_optimizer(model, config.lr, config.weight_decay, config.betas, self.device,
                                        config.optimizer, config.muon_lr, config.muon_qkv, config.muon_momentum)
        self.forward_model = torch.compile(model) if config.compile else model  # eval, no DDP
        self.train_model = self.forward_model
        if self.dist.enabled:
            ddp = torch.nn.parallel.DistributedDataParallel(model, device_ids=self._device_ids())
            self.train_model = torch.compile(ddp) if config.compile else ddp
        self.generator = torch.Generator()  # batch choice; reseeded every step
        self.step = 0
        self.history = History()
        self.stopped_early = False
        self.stop_requested = False  # set it (e.g. from a signal handler) to end fit after the current step
        self._failed_callbacks: set[tuple[int, str]] = set()

    # -- data ---------------------------------------------------------------------------------

    def _require_data(self, train_data, val_data, vocab_size: int | None):
        if callable(train_data):
            if val_data is not None:
                raise ValueError("with a batch_fn, pass val_data=None: the batch_fn serves both splits")
            return train_data, None, None
        tensors = []
        for name, data in (("train_data", train_data), ("val_data", val_data)):
            if data is None and name == "val_data":
                tensors.append(None)
                continue
            if not isinstance(data, torch.Tensor) or data.dim() != 1 or data.is_floating_point():
                raise TypeError(
                    f"{name} must be a 1-D LongTensor of token ids (e.g. torch.tensor(tok.encode(text))) "
                    f"or, for train_data, a batch_fn(split, generator); got {_describe(data)}"
                )
            require_enough_tokens(len(data), self.block_size, name)
            if vocab_size is not None:  # checked once here, so no batch can hold an id the model lacks
                require_id_tensor(data, vocab_size, name)
            tensors.append(data.long())
        return None, tensors[0], tensors[1]

    def _device_ids(self):
        return [self.device.index] if self.device.type == "cuda" else None

    def get_batch(self, split: str, generator: torch.Generator) -> tuple[torch.Tensor, ...]:
        """One batch for ``split`` as a tuple of tensors on the training device."""
        if self.batch_fn is not None:
            batch = self.batch_fn(split, generator)
            if self.vocab_size is not None:  # the model does not check ids (see GPT.forward): they enter here.
                # A batch_fn makes its batches on the CPU, where reading their min and max stalls no device.
                require_id_tensor(batch[0], self.vocab_size, f"the batch_fn's {split} input")
            return tuple(t.to(self.device, non_blocking=True) for t in batch)
        data = self.train_data if split == "train" else self.val_data
        return get_batch(data, self.config.batch_size, self.block_size, generator, self.device)

    # -- one step -----------------------------------------------------------------------------

    def train_step(self) -> tuple[torch.Tensor, float, int]:
        """One optimiser step. Returns (mean loss as a 0-d tensor, lr used, tokens seen by this rank)."""
        config = self.config
        lr = lr_at(self.step, config.lr, config.min_lr, config.warmup_iters,
                   config.lr_decay_iters or config.max_iters, config.lr_schedule, config.decay_frac)
        set_lr(self.optimizer, lr)
        self.generator.manual_seed(derive_seed(config.seed, self.dist.rank, self.step, _TRAIN_BATCH))
        torch.manual_seed(derive_seed(config.seed, self.dist.rank, self.step, _DROPOUT))
        # clear here rather than after the step, so an interrupted step leaves no stale gradients
        self.optimizer.zero_grad(set_to_none=True)
        total_loss, tokens = torch.zeros((), device=self.device), 0
        for micro in range(config.grad_accum):
            batch = self.get_batch("train", self.generator)
            # with DDP, only the last micro-batch's backward averages gradients across ranks
            last = micro == config.grad_accum - 1
            sync = contextlib.nullcontext() if last or not self.dist.enabled else self.train_model.no_sync()
            with sync:
                with autocast(self.device, self.dtype):
                    _, loss = self.train_model(*batch)
                (loss / config.grad_accum).backward()
            total_loss += loss.detach()
            tokens += batch[0].numel()
        if config.grad_clip > 0:
            torch.nn.utils.clip_grad_norm_(self.model.parameters(), config.grad_clip)
        self.optimizer.step()
        self.step += 1
        return total_loss / config.grad_accum, lr, tokens

    @torch.no_grad()
    def evaluate(self) -> dict[str, float]:
        """Mean loss over ``eval_iters`` fixed batches per split: ``{"train_loss", "val_loss"}``
        (``val_loss`` only when there is validation data). Averaged over ranks under DDP."""
        was_training = self.model.training
        self.model.eval()
        results = {}
        splits = ["train"] + (["val"] if self.val_data is not None or self.batch_fn is not None else [])
        # a big model on a CPU can spend minutes here: show it is working, then erase the bar
        bar = tqdm(total=len(splits) * self.config.eval_iters, desc="evaluate", leave=False,
                   disable=not (self.config.progress and self.dist.is_main))
        try:
            for index, split in enumerate(splits):
                # the same batches at every evaluation, so the numbers are comparable over time
                generator = torch.Generator().manual_seed(derive_seed(self.config.seed, self.dist.rank, index, _EVAL))
                total = torch.zeros((), device=self.device)
                for _ in range(self.config.eval_iters):
                    if self.stop_requested and not self.dist.enabled:  # Ctrl-C: do not make the user wait
                        raise EvaluationStopped("evaluation stopped because stop_requested was set")
                    with autocast(self.device, self.dtype):
                        _, loss = self.forward_model(*self.get_batch(split, generator))
                    total += loss.float()
                    bar.update(1)
                mean = total.item() / self.config.eval_iters
                results[f"{split}_loss"] = distributed.mean_across_ranks(mean, self.dist, self.device)
        finally:
            bar.close()
            self.model.train(was_training)
        return results

    def sample(self, prompt: str | None = None, max_new_tokens: int | None = None, **settings) -> str:
        """Text from the model (needs a tokenizer); reproducible with the run's seed."""
        if self.tokenizer is None:
            raise ValueError("Trainer.sample needs a tokenizer: pass Trainer(..., tokenizer=tok)")
        prompt_ids = self.tokenizer.encode(self.config.sample_prompt if prompt is None else prompt)
        settings.setdefault("seed", self.config.seed)
        max_new_tokens = self.config.sample_tokens if max_new_tokens is None else max_new_tokens
        ids = generate(self.model, prompt_ids, max_new_tokens, **settings)
        return self.tokenizer.decode(ids)

    # -- the loop -----------------------------------------------------------------------------

    def fit(self, steps: int | None = None) -> History:
        """Train until ``config.max_iters`` steps (or for ``steps`` more steps) and return the history.

        Stops early when an evaluation reaches ``config.target_val_loss``, and after the current
        step when ``stop_requested`` is set (the command line sets it on Ctrl-C, then saves).
        Interrupting it (Ctrl-C, a notebook's stop button) keeps every step done so far in ``self.model``.
        """
        config = self.config
        end = config.max_iters if steps is None else self.step + steps
        if config.out and self.dist.is_main:
            require_writable(config.out)  # before the first step, not at the first save after it
        world = self.dist.world_size
        self.model.train()
        bar = tqdm(total=end, initial=self.step, desc="train", disable=not (config.progress and self.dist.is_main))
        start = window_start = time.perf_counter()
        window_tokens = 0
        try:
            while self.step < end and not self.stop_requested:
                loss, lr, tokens = self.train_step()
                window_tokens += tokens * world
                bar.update(1)
                if self.step % config.log_interval == 0 or self.step == end:
                    now = time.perf_counter()
                    row = self._log_step(loss, lr, window_tokens / max(now - window_start, 1e-9), now - start)
                    bar.set_postfix(loss=f"{row['train_loss']:.4f}", tok_s=f"{row['tokens_per_s']:,.0f}", refresh=False)
                    window_start, window_tokens = now, 0
                if (config.eval_interval and self.step % config.eval_interval == 0) or self.step == end:
                    if self._run_evaluation(start):
                        break
                    window_start = time.perf_counter()
                if config.sample_interval and self.step % config.sample_interval == 0 and self.tokenizer:
                    text = self.sample()
                    self._notify("on_sample", {"step": self.step, "prompt": config.sample_prompt, "text": text})
                    window_start = time.perf_counter()
        finally:
            bar.close()
        return self.history

    def _log_step(self, loss: torch.Tensor, lr: float, tokens_per_s: float, elapsed: float) -> dict:
        """Add a history row for this step and tell the callbacks (``loss.item()`` waits for the device)."""
        row = {
            "step": self.step,
            "train_loss": distributed.mean_across_ranks(loss.item(), self.dist, self.device),
            "lr": lr,
            "tokens_per_s": tokens_per_s,
        }
        self.history.append(row)
        self._notify("on_step", {**row, "elapsed": elapsed})
        return row

    def _run_evaluation(self, start: float) -> bool:
        """Evaluate, record, notify, save; True when the target val loss is reached."""
        try:
            losses = self.evaluate()
        except EvaluationStopped:  # half an evaluation is no number to record; fit stops next
            return False
        info = {"step": self.step, "train_loss": losses["train_loss"], "val_loss": losses.get("val_loss"),
                "elapsed": time.perf_counter() - start}
        if self.history and self.history[-1]["step"] == self.step:
            self.history[-1].update(val_loss=info["val_loss"], eval_train_loss=info["train_loss"])
        else:
            self.history.append({"step": self.step, "val_loss": info["val_loss"],
                                 "eval_train_loss": info["train_loss"]})
        if self.config.progress and self.dist.is_main:
            val = "" if info["val_loss"] is None else f", val loss {info['val_loss']:.4f}"
            tqdm.write(f"step {self.step}: train loss {info['train_loss']:.4f}{val}")
        self._notify("on_eval", info)
        if self.config.out:
            self.save(self.config.out)
        target = self.config.target_val_loss
        self.stopped_early = target is not None and info["val_loss"] is not None and info["val_loss"] <= target
        return self.stopped_early

    def _notify(self, event: str, info: dict) -> None:
        """Call ``event`` on every callback (rank 0 only); a failing callback never stops training."""
        if not self.dist.is_main:
            return
        for index, callback in enumerate(self.callbacks):
            method = getattr(callback, event, None)
            if method is None:
                continue
            try:
                method(self, info)
            except Exception as error:  # noqa: BLE001 - a plotting bug must not cost the training run
                if (index, event) not in self._failed_callbacks:
                    self._failed_callbacks.add((index, event))
                    warnings.warn(
                        f"callback {type(callback).__name__}.{event} raised {type(error).__name__}: {error}; "
                        "training continues (further errors from it are not reported)",
                        RuntimeWarning, stacklevel=2,
                    )

    # -- checkpoints --------------------------------------------------------------------------

    def save(self, path) -> None:
        """Write model, optimiser, step, configs, tokenizer and history (rank 0 only; atomic)."""
        if self.dist.is_main:
            save_checkpoint(path, self.model, tokenizer=self.tokenizer, optimizer=self.optimizer,
                            step=self.step, train_config=self.config.to_dict(), history=list(self.history))

    def load(self, path) -> None:
        """Resume from a checkpoint written by ``save`` (a path, or a ``Checkpoint`` already loaded):
        the next ``fit`` continues exactly. A Trainer made without a tokenizer takes the checkpoint's,
        so the checkpoints it writes next can still be sampled from.

        Everything is checked before anything changes: a checkpoint that cannot resume this run
        (another model config, another optimizer, tensors of other shapes) is a ValueError that
        leaves the model, the optimiser and the step as they were."""
        checkpoint = path if isinstance(path, Checkpoint) else load_checkpoint(
            path, config=self.model.config, tokenizer=self.tokenizer, device=self.device)
        path = checkpoint.path
        if checkpoint.config != self.model.config:
            raise ValueError(f"checkpoint {path} was saved for a different model config: "
                             f"{_config_diff(checkpoint.config, self.model.config)}")
        if checkpoint.optimizer_state is None:
            raise ValueError(f"checkpoint {path} has no optimiser state, so training cannot resume from it")
        problem = self._resume_problem(checkpoint)
        if problem:
            raise ValueError(f"checkpoint {path} cannot resume this run: {problem}")
        self.model.load_state_dict(checkpoint.model_state)
        self.optimizer.load_state_dict(checkpoint.optimizer_state)
        self.step = checkpoint.step
        self.history = History(checkpoint.history)
        if self.tokenizer is None:
            self.tokenizer = checkpoint.tokenizer

    def _resume_problem(self, checkpoint: Checkpoint) -> str | None:
        """Why ``checkpoint`` (saved for this model config, with optimiser state) cannot resume this run,
        in a few words; None when it can. It finds what the model's or the optimiser's ``load_state_dict``
        would refuse, before either has changed anything (the model's copies every tensor that fits
        before it raises)."""
        kind = self.config.optimizer
        saved_kind = (checkpoint.train_config or {}).get("optimizer")
        if isinstance(saved_kind, str) and saved_kind != kind:
            return (f"it was saved by a run with optimizer {saved_kind!r}, this run uses {kind!r}; "
                    f"resume it with optimizer={saved_kind!r}")
        own, saved = self.model.state_dict(), checkpoint.model_state
        if saved.keys() != own.keys():
            return (f"its weights do not fit the model: missing {sorted(own.keys() - saved.keys())[:5]}, "
                    f"unexpected {sorted(saved.keys() - own.keys())[:5]}")
        for name, tensor in own.items():
            if saved[name].shape != tensor.shape:
                return f"its weight {name} has shape {tuple(saved[name].shape)}, the model's {tuple(tensor.shape)}"
        groups = [group["params"] for group in self.optimizer.param_groups]
        saved_groups = [group["params"] for group in checkpoint.optimizer_state["param_groups"]]
        if [len(group) for group in saved_groups] != [len(group) for group in groups]:
            return (f"its optimiser state has parameter groups of {[len(group) for group in saved_groups]} tensors, "
                    f"this run's {kind!r} optimiser {[len(group) for group in groups]}; "
                    "was it saved with another optimizer, or another muon_qkv?")
        params = {index: param for saved_group, group in zip(saved_groups, groups)
                  for index, param in zip(saved_group, group)}
        for index, state in checkpoint.optimizer_state["state"].items():
            if index not in params:
                return f"its optimiser state is for parameter {index}, which none of its parameter groups holds"
            for name, value in state.items():
                if isinstance(value, torch.Tensor) and value.dim() and value.shape != params[index].shape:
                    return (f"its optimiser state {name} of parameter {index} has shape {tuple(value.shape)}, "
                            f"the parameter {tuple(params[index].shape)}")
        return None


def _describe(value) -> str:
    if isinstance(value, torch.Tensor):
        return f"a {value.dtype} tensor of shape {tuple(value.shape)}"
    return f"{type(value).__name__}"
