"""Command line: train a recipe, sample from a checkpoint, describe a checkpoint.

    python -m minigpt train --preset shakespeare-char --device cpu --max-iters 200 --out out/run.safetensors
    python -m minigpt sample --checkpoint out/run.safetensors --prompt "ROMEO:" --temperature 0.8 --top-k 50
    python -m minigpt info --checkpoint out/run.safetensors

Mistakes (a missing file, a bad setting) print one line on stderr and exit with status 2.
Everything ``train`` depends on (``--out``, the device, the data, ``--resume``) is checked before
the first step. Ctrl-C (or SIGTERM) during training finishes the current step, saves a checkpoint
to ``--out``, prints how to resume and exits with 130 (143); a second Ctrl-C quits at once.

    python -m minigpt train --preset tiny --out out/tiny.safetensors --resume out/tiny.safetensors
"""

from __future__ import annotations

import argparse
import contextlib
import os
import shlex
import signal
import sys
import threading
from dataclasses import replace

import torch

from minigpt import distributed


class _Parser(argparse.ArgumentParser):
    """argparse, but a usage mistake is a single line (usage is one ``--help`` away)."""

    def error(self, message):
        self.exit(2, f"{self.prog}: error: {message} (see --help)\n")


def _count(minimum: int):
    """An argparse type: an int >= ``minimum`` (so ``--batch-size 0`` is an error, not the default)."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"must be a whole number >= {minimum}, got {text!r}") from None
        if value < minimum:
            raise argparse.ArgumentTypeError(f"must be a whole number >= {minimum}, got {text!r}")
        return value

    parse.__name__ = f"int >= {minimum}"
    return parse


def build_parser() -> argparse.ArgumentParser:
    from minigpt.recipes import RECIPES

    parser = _Parser(prog="minigpt", description="Train, sample from and inspect minigpt models.")
    commands = parser.add_subparsers(dest="command", required=True, metavar="{train,sample,info}")

    train = commands.add_parser("train", help="train a recipe on its corpus (characters)",
                                description="Train a named recipe and save a checkpoint.")
    train.add_argument("--preset", required=True, choices=list(RECIPES), help="recipe to train")
    train.add_argument("--device", default=None, help="auto | cpu | cuda | mps (default: the recipe's, auto)")
    train.add_argument("--max-iters", type=_count(1), default=None,
                       help="optimiser steps (the cosine schedule is stretched to this length)")
    train.add_argument("--batch-size", type=_count(1), default=None, help="sequences per step (default: the recipe's)")
    train.add_argument("--eval-iters", type=_count(1), default=None, help="batches per evaluation (default: the recipe's)")
    train.add_argument("--out", default=None, help="checkpoint file (default: out/<preset>.safetensors)")
    train.add_argument("--resume", default=None, metavar="CHECKPOINT",
                       help="continue from this checkpoint's weights, optimiser, step and tokenizer "
                            "(use the options of the run that wrote it)")
    train.add_argument("--seed", type=int, default=None, help="random seed (default: the recipe's)")
    train.add_argument("--no-progress", action="store_true", help="no progress bar")
    train.set_defaults(func=_train)

    sample = commands.add_parser("sample", help="generate text from a checkpoint",
                                 description="Generate text from a checkpoint, printed as it is produced.")
    sample.add_argument("--checkpoint", required=True, help="checkpoint file or directory")
    sample.add_argument("--prompt", default="\n", help="text to continue (default: a newline)")
    sample.add_argument("--max-new-tokens", type=_count(0), default=500)
    sample.add_argument("--temperature", type=float, default=0.8, help=">= 0; 0 = greedy")
    sample.add_argument("--top-k", type=int, default=None, help="keep the k most likely tokens")
    sample.add_argument("--top-p", type=float, default=None, help="nucleus sampling, in (0, 1]")
    sample.add_argument("--repetition-penalty", type=float, default=1.0, help="> 0; 1 = none")
    sample.add_argument("--seed", type=int, default=None, help="makes the sample reproducible")
    sample.add_argument("--device", default="auto")
    sample.set_defaults(func=_sample)

    info = commands.add_parser("info", help="describe a checkpoint", description="Describe a checkpoint.")
    info.add_argument("--checkpoint", required=True, help="checkpoint file or directory")
    info.set_defaults(func=_info)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except (ValueError, TypeError, KeyError, OSError, RuntimeError) as error:
        message = error.args[0] if isinstance(error, KeyError) and error.args else error
        first_line = str(message).strip().splitlines()[0] if str(message).strip() else type(error).__name__
        print(f"minigpt {args.command}: error: {first_line}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:  # outside training (which saves first): nothing to keep, no traceback
        print(f"\nminigpt {args.command}: interrupted", file=sys.stderr)
        return 128 + signal.SIGINT


def _train(args) -> int:
    with _stop_on_signals() as stopped:  # from the start: a Ctrl-C while loading is no traceback either
        trainer, out = _prepare_training(args)
        stopped.trainer = trainer
        try:
            trainer.stop_requested = stopped.signum is not None
            start = trainer.step
            trainer.fit()
            if stopped.signum is not None:
                return _save_after_interrupt(trainer, stopped.signum, args, out, start)
            if trainer.dist.is_main:
                print(f"saved checkpoint to {out} (step {trainer.step}, "
                      f"val loss {trainer.history.last('val_loss'):.4f}); "
                      f"try: python -m minigpt sample --checkpoint {out}")
        finally:
            distributed.teardown()
    return 0


def _prepare_training(args):
    """Everything before the first step, in the order that fails fastest: --out, the settings and
    the device, the checkpoint to resume, then the data. Returns ``(trainer, out)``."""
    from minigpt.checkpoint import check_writable, load_checkpoint
    from minigpt.data import load_text, train_val_split
    from minigpt.device import pick_device
    from minigpt.model import GPT
    from minigpt.recipes import get_recipe
    from minigpt.tokenizers import CharTokenizer
    from minigpt.train import Trainer

    recipe = get_recipe(args.preset)
    out = args.out if args.out is not None else f"out/{recipe.name}.safetensors"
    try:  # a run that cannot save its work should not start
        check_writable(out)
    except OSError as error:
        raise OSError(f"--out: {error}") from None
    config = _train_config(recipe.train, args, out)
    pick_device(config.device)  # an unavailable device is an error now, not after loading the data
    resumed = None if args.resume is None else load_checkpoint(args.resume)
    text = load_text(recipe.dataset)
    # a resumed run keeps its checkpoint's tokenizer, so its ids mean what they meant before
    tokenizer = resumed.tokenizer if resumed is not None and resumed.tokenizer is not None \
        else CharTokenizer.from_text(text)
    train_data, val_data = train_val_split(torch.tensor(tokenizer.encode(text), dtype=torch.long))
    torch.manual_seed(config.seed)  # the same initial weights on every rank and every run
    model = GPT(recipe.model.replace(vocab_size=tokenizer.vocab_size))
    trainer = Trainer(model, config, train_data, val_data, tokenizer=tokenizer)
    if resumed is not None:
        _resume(trainer, resumed, args)
    return trainer, out


def _train_config(config, args, out: str):
    """The recipe's ``TrainConfig`` with the command line's options; an option left out keeps the
    recipe's value (``is None``, never ``or``: a 0 given on purpose is checked, not replaced)."""
    if args.max_iters is not None:
        config = replace(config, max_iters=args.max_iters, lr_decay_iters=args.max_iters,
                         warmup_iters=min(config.warmup_iters, args.max_iters // 10))
    return replace(
        config,
        device=config.device if args.device is None else args.device,
        seed=config.seed if args.seed is None else args.seed,
        batch_size=config.batch_size if args.batch_size is None else args.batch_size,
        eval_iters=config.eval_iters if args.eval_iters is None else args.eval_iters,
        progress=not args.no_progress,
        out=out,
    )


def _resume(trainer, checkpoint, args) -> None:
    trainer.load(checkpoint)
    if trainer.step >= trainer.config.max_iters:
        raise ValueError(f"--resume {args.resume} is already at step {trainer.step}, and this run stops at "
                         f"{trainer.config.max_iters}; pass a larger --max-iters to train further")


class _Stopped:
    """What ``_stop_on_signals`` saw: the signal (None until one arrives) and the trainer to stop."""

    signum: int | None = None
    trainer = None


@contextlib.contextmanager
def _stop_on_signals():
    """While training: the first Ctrl-C or SIGTERM asks the trainer to stop after the current step
    (the caller then saves); a second Ctrl-C exits at once, without saving and without a traceback."""
    stopped = _Stopped()

    def handle(signum, frame):
        if stopped.signum is not None:
            sys.stderr.write("\nminigpt train: interrupted again; quitting without saving\n")
            os._exit(128 + signum)  # no cleanup, no traceback: the user wants out now
        stopped.signum = signum
        if stopped.trainer is not None:
            stopped.trainer.stop_requested = True
        sys.stderr.write(f"\nminigpt train: {signal.Signals(signum).name} received; stopping after the current "
                         "step to save a checkpoint (Ctrl-C again to quit without saving)\n")

    previous = {}
    if threading.current_thread() is threading.main_thread():  # only the main thread may set handlers
        previous = {signum: signal.signal(signum, handle) for signum in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield stopped
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)


def _save_after_interrupt(trainer, signum: int, args, out: str, start: int) -> int:
    """Save the steps done so far and say, in one line, where they are and how to continue."""
    name = signal.Signals(signum).name
    if trainer.step == start:
        print(f"minigpt train: stopped by {name} before the first step; nothing new to save", file=sys.stderr)
    elif trainer.dist.is_main:
        trainer.save(out)
        print(f"minigpt train: stopped by {name} at step {trainer.step}; saved checkpoint to {out}; "
              f"resume with: {_resume_command(args, out)}", file=sys.stderr)
    return 128 + signum


def _resume_command(args, out: str) -> str:
    """The command that continues this run: the same options, plus ``--resume <out>``."""
    words = ["python", "-m", "minigpt", "train", "--preset", args.preset]
    for option in ("device", "max_iters", "batch_size", "eval_iters", "seed"):
        value = getattr(args, option)
        if value is not None:
            words += [f"--{option.replace('_', '-')}", str(value)]
    words += ["--out", out, "--resume", out]
    if args.no_progress:
        words.append("--no-progress")
    return " ".join(shlex.quote(word) for word in words)


def _sample(args) -> int:
    from minigpt.checkpoint import load_model
    from minigpt.device import pick_device
    from minigpt.sampling import stream

    model, tokenizer = load_model(args.checkpoint, device=pick_device(args.device))
    if tokenizer is None:
        raise ValueError(f"checkpoint {args.checkpoint} has no tokenizer, so text cannot be encoded")
    prompt_ids = tokenizer.encode(args.prompt)
    new_ids: list[int] = []
    printed = ""
    sys.stdout.write(args.prompt)
    for token in stream(model, prompt_ids, args.max_new_tokens, args.temperature, args.top_k, args.top_p,
                        args.repetition_penalty, args.seed):
        new_ids.append(token)
        text = tokenizer.decode(new_ids)  # decode the whole tail: a character may span several tokens
        sys.stdout.write(text[len(printed):])
        sys.stdout.flush()
        printed = text
    sys.stdout.write("\n")
    return 0


def _info(args) -> int:
    from minigpt.checkpoint import load_checkpoint

    checkpoint = load_checkpoint(args.checkpoint)
    n_params = sum(p.numel() for p in checkpoint.build_model().parameters())
    lines = [
        f"checkpoint   {checkpoint.path} ({checkpoint.path.stat().st_size / 1e6:.1f} MB)",
        f"model        {checkpoint.model_class}, {n_params / 1e6:.2f}M parameters",
        "config       " + ", ".join(f"{k}={v!r}" for k, v in checkpoint.config.to_dict().items()),
        f"tokenizer    {_tokenizer_line(checkpoint.tokenizer)}",
        f"step         {checkpoint.step}",
    ]
    evals = [row for row in checkpoint.history if row.get("val_loss") is not None]
    if evals:
        lines.append(f"val loss     {evals[-1]['val_loss']:.4f} at step {evals[-1]['step']}")
    if checkpoint.train_config:
        lines.append("train config " + ", ".join(f"{k}={v!r}" for k, v in checkpoint.train_config.items()))
    print("\n".join(lines))
    return 0


def _tokenizer_line(tokenizer) -> str:
    if tokenizer is None:
        return "none saved"
    return f"{getattr(tokenizer, 'name', type(tokenizer).__name__)}, {tokenizer.vocab_size} tokens"
