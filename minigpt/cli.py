"""Command line: train a recipe, sample from a checkpoint, describe a checkpoint.

    python -m minigpt train --recipe shakespeare-char --device cpu --max-iters 200 --out out/run.safetensors
    python -m minigpt sample --checkpoint out/run.safetensors --prompt "ROMEO:" --temperature 0.8 --top-k 50
    python -m minigpt info --checkpoint out/run.safetensors

Mistakes (a missing file, a bad setting) print one line on stderr, ``minigpt <command>: error: ...``, and
exit with status 2; a message minigpt writes to be followed step by step (a corpus or GPT-2's weights that
cannot be found: where they belong and how to get them there) is printed whole. Never a traceback.
Everything ``train`` depends on (``--out``, the device, the data, ``--resume``) is checked before
the first step. Ctrl-C (or SIGTERM) during training finishes the current step, saves a checkpoint
to ``--out``, prints how to resume and exits with 130 (143); a second Ctrl-C quits at once.
Output piped into a reader that stops early (``... sample | head``) ends quietly with status 141,
as ``yes | head`` does (128 + SIGPIPE), instead of a "Broken pipe" error.

    python -m minigpt train --recipe tiny --out out/tiny.safetensors --resume out/tiny.safetensors

A recipe (``minigpt.recipes``) is a model config and how to train it, on its own corpus. Your own text (one
UTF-8 file, or a folder of .txt files) trains with a recipe's settings (tiny by default), a tokenizer of your
choice, the model shape and training settings changed field by field, or GPT-2's pretrained weights to fine-tune:

    python -m minigpt train --data my.txt --tokenizer bpe:512 --max-iters 50 --out out/my.safetensors
    python -m minigpt train --data my_folder/ --tokenizer char --set n_layer=4 --set lr=3e-3
    python -m minigpt train --data my.txt --init-from gpt2 --set batch_size=4 --set block_size=256

The text is encoded once per (text, tokenizer) into a memory-mapped token file in the cache folder
(see ``minigpt.data.tokens``); batches are read from it, so a corpus larger than memory trains.
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
from minigpt.files import DataNotFoundError

# What the shell reports for a tool ended by SIGPIPE (128 + 13), e.g. `yes` in `yes | head`; a constant
# because Windows has no SIGPIPE.
EXIT_BROKEN_PIPE = 141


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


def _path(text: str) -> str:
    """An argparse type: a path that is not empty (``--data ''`` would otherwise mean the current folder)."""
    if not text.strip():
        raise argparse.ArgumentTypeError("the path is empty (it would mean the current folder); give a file or folder")
    return text


def build_parser() -> argparse.ArgumentParser:
    from minigpt.recipes import RECIPES

    parser = _Parser(prog="minigpt", description="Train, sample from and inspect minigpt models.")
    commands = parser.add_subparsers(dest="command", required=True, metavar="{train,sample,info}")

    train = commands.add_parser("train", help="train a recipe, or a model on your own text",
                                description="Train a named recipe, or a model on your own text, and save a checkpoint.")
    train.add_argument("--recipe", default=None, choices=list(RECIPES),
                       help="recipe to train: a model config and how to train it (with --data: the model shape "
                            "and settings to start from; default tiny)")
    train.add_argument("--data", default=None, metavar="PATH", type=_path,
                       help="your own text: a UTF-8 file, or a folder of .txt files (default: the recipe's corpus)")
    train.add_argument("--tokenizer", default=None, metavar="char|bpe:N|gpt2",
                       help="with --data: characters, our BPE trained with N merges, or GPT-2's "
                            "(default: char, gpt2 with --init-from, the checkpoint's with --resume)")
    train.add_argument("--init-from", default=None, metavar="gpt2|PATH", type=_path,
                       help="with --data: start from pretrained GPT-2 weights (a size such as gpt2, or a "
                            "save_pretrained folder / .safetensors file) and fine-tune them")
    train.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", dest="settings",
                       help="change any GPTConfig or TrainConfig field, e.g. --set n_layer=4 --set lr=3e-3 "
                            "(repeatable)")
    train.add_argument("--device", default=None, help="auto | cpu | cuda | mps (default: the recipe's, auto)")
    train.add_argument("--max-iters", type=_count(1), default=None,
                       help="optimiser steps (the learning-rate schedule is stretched to this length)")
    train.add_argument("--batch-size", type=_count(1), default=None, help="sequences per step (default: the recipe's)")
    train.add_argument("--eval-iters", type=_count(1), default=None, help="batches per evaluation (default: the recipe's)")
    train.add_argument("--out", default=None, type=_path, help="checkpoint file (default: out/<recipe>.safetensors)")
    train.add_argument("--resume", default=None, metavar="CHECKPOINT", type=_path,
                       help="continue from this checkpoint's weights, optimiser, step and tokenizer "
                            "(use the options of the run that wrote it)")
    train.add_argument("--seed", type=int, default=None, help="random seed (default: the recipe's)")
    train.add_argument("--no-progress", action="store_true", help="no progress bar")
    train.set_defaults(func=_train)

    sample = commands.add_parser("sample", help="generate text from a checkpoint",
                                 description="Generate text from a checkpoint, printed as it is produced.")
    sample.add_argument("--checkpoint", required=True, type=_path, help="checkpoint file or directory")
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
    info.add_argument("--checkpoint", required=True, type=_path, help="checkpoint file or directory")
    info.set_defaults(func=_info)
    return parser


def main(argv: list[str] | None = None) -> int:
    try:  # the parser imports the recipes, and with them the model and the trainer: a Ctrl-C may land here too
        args = build_parser().parse_args(argv)
    except KeyboardInterrupt:
        return _interrupted("minigpt")
    try:
        return args.func(args)
    except BrokenPipeError:  # checked before OSError, which it is: the reader of our output left
        _discard_stdout()
        return EXIT_BROKEN_PIPE
    except (ValueError, OSError) as error:  # what we raise for bad input and missing or unwritable files
        print(f"minigpt {args.command}: error: {error_message(error)}", file=sys.stderr)
        return 2
    except (RuntimeError, MemoryError) as error:
        where = memory_that_ran_out(error)
        if where is None:
            raise  # a bug, or something nobody foresaw: its traceback is what a bug report needs
        print(f"minigpt {args.command}: error: out of {where} memory; make the run smaller: --batch-size, "
              "--set block_size=..., or a smaller model (--set n_layer=..., --set n_embd=...)", file=sys.stderr)
        return 2
    except KeyboardInterrupt:  # outside training (which saves first): nothing to keep, no traceback
        return _interrupted(f"minigpt {args.command}")


def memory_that_ran_out(error: BaseException) -> str | None:
    """"GPU" or "CPU" if ``error`` says that memory ran out there, else None."""
    if isinstance(error, torch.OutOfMemoryError) or "MPS backend out of memory" in str(error):
        return "GPU"
    if isinstance(error, MemoryError) or "DefaultCPUAllocator: can't allocate memory" in str(error):
        return "CPU"
    return None


def error_message(error: BaseException) -> str:
    """What the command line prints of ``error``: the whole message of a ``DataNotFoundError`` (written over
    several lines to be followed: where the file belongs, where to get it, how to put it there); the first
    line of any other (a library's message can run on for a page). Never empty: the error's name if it has none."""
    message = str(error.args[0] if isinstance(error, KeyError) and error.args else error).strip()
    if not message:
        return type(error).__name__
    return message if isinstance(error, DataNotFoundError) else message.splitlines()[0]


def _interrupted(prog: str) -> int:
    """Ctrl-C outside training: say so, and make a further Ctrl-C end the exit at once (no traceback from
    wherever the second one lands, e.g. inside torch's clean-up at exit)."""
    _quit_on_next_signal(signal.SIGINT)
    print(f"\n{prog}: interrupted", file=sys.stderr)
    return 128 + signal.SIGINT


def _quit_on_next_signal(*signums: int) -> None:
    """For a process already on its way out: the next of ``signums`` ends it at once, with status 128 + signal."""
    if threading.current_thread() is threading.main_thread():  # only the main thread may set handlers
        for signum in signums:
            signal.signal(signum, lambda received, frame: os._exit(128 + received))


def _discard_stdout() -> None:
    """Point stdout at /dev/null, so Python's flush at exit does not fail on the closed pipe a second time
    (the recipe in the ``signal`` module's documentation, "Note on SIGPIPE")."""
    with contextlib.suppress(AttributeError, OSError, ValueError):  # no real file behind it: nothing to flush
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())


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
    from minigpt.checkpoint import require_writable, load_checkpoint
    from minigpt.device import pick_device
    from minigpt.recipes import get_recipe

    if args.data is None and (args.tokenizer is not None or args.init_from is not None):
        raise ValueError("--tokenizer and --init-from need --data PATH (the text to train on)")
    if args.recipe is None and args.data is None:
        raise ValueError("say what to train: --recipe NAME (a recipe on its corpus) or --data PATH (your own text)")
    recipe = get_recipe(args.recipe or "tiny")
    out = args.out if args.out is not None else _default_out(args, recipe.name)
    try:  # a run that cannot save its work should not start
        require_writable(out)
    except OSError as error:
        raise OSError(f"--out: {error}") from None
    model_changes, train_changes = parse_settings(args.settings)
    config = _train_config(recipe.train, train_changes, args, out)
    model_config = recipe.model.replace(**model_changes)
    pick_device(config.device)  # an unavailable device is an error now, not after loading the data
    resumed = None if args.resume is None else load_checkpoint(args.resume)
    if args.data is None:
        trainer = _recipe_trainer(recipe, model_config, config, resumed)
    else:
        trainer = _data_trainer(args, model_config, model_changes, config, resumed)
    if resumed is not None:
        _resume(trainer, resumed, args)
    return trainer, out


def _default_out(args, recipe_name: str) -> str:
    from pathlib import Path

    return f"out/{Path(args.data).expanduser().resolve().stem}.safetensors" if args.data else \
        f"out/{recipe_name}.safetensors"


def _recipe_trainer(recipe, model_config, config, resumed):
    """A recipe on its corpus, characters as tokens (the checkpoint's tokenizer when resuming)."""
    from minigpt.data import load_text, train_val_split
    from minigpt.model import GPT
    from minigpt.tokenizers import CharTokenizer
    from minigpt.train import Trainer

    if resumed is not None and (resumed.train_config or {}).get("data") is not None:
        raise ValueError(f"--resume {resumed.path} was trained on your own text (--data), not on the recipe's "
                         "corpus; pass the same --data and --tokenizer as that run")
    text = load_text(recipe.dataset)
    # a resumed run keeps its checkpoint's tokenizer, so its ids mean what they meant before
    tokenizer = resumed.tokenizer if resumed is not None and resumed.tokenizer is not None \
        else CharTokenizer.from_text(text)
    train_data, val_data = train_val_split(torch.tensor(tokenizer.encode(text), dtype=torch.long))
    torch.manual_seed(config.seed)  # the same initial weights on every rank and every run
    model = GPT(model_config.replace(vocab_size=tokenizer.vocab_size))
    return Trainer(model, config, train_data, val_data, tokenizer=tokenizer)


def _data_trainer(args, model_config, model_changes: dict, config, resumed):
    """A model on the text at ``--data``: the tokenizer, the cached token file, the model, the Trainer."""
    from minigpt.data.tokens import MemmapBatches, build_tokenizer, fingerprint, token_cache
    from minigpt.train import Trainer

    spec = _tokenizer_spec(args, resumed)
    progress = not args.no_progress
    data_hash = fingerprint(args.data, progress=progress)  # also: is it UTF-8? (names the bad byte)
    identity = f"sha256={data_hash} tokenizer={spec}"
    if resumed is not None:
        _require_same_data(resumed, identity, args)
        tokenizer = resumed.tokenizer
    else:
        tokenizer = build_tokenizer(spec, args.data, progress)
    config = replace(config, data=identity)
    model = _data_model(args, model_config, model_changes, tokenizer, config.seed, resumed)  # before encoding:
    tokens = token_cache(args.data, tokenizer, data_hash=data_hash, progress=progress)  # fails fast if offline
    batches = MemmapBatches(tokens.ids(), config.batch_size, model.config.block_size)
    return Trainer(model, config, batches, tokenizer=tokenizer)


def _tokenizer_spec(args, resumed) -> str:
    """The tokenizer asked for: --tokenizer, else the resumed run's, else gpt2 (--init-from) or char."""
    if args.tokenizer is not None:
        spec = args.tokenizer.strip().lower()
        kind, _, merges = spec.partition(":")
        if spec in ("char", "gpt2") or (kind == "bpe" and merges.isdigit() and int(merges) >= 1):
            if args.init_from is not None and spec != "gpt2":
                raise ValueError(f"--init-from {args.init_from} needs GPT-2's tokenizer (its weights are for "
                                 f"those ids); drop --tokenizer {args.tokenizer} or use --tokenizer gpt2")
            return spec
        raise ValueError(f"--tokenizer {args.tokenizer!r} is not one of char, bpe:N (N merges, e.g. bpe:512), gpt2")
    saved = (resumed.train_config or {}).get("data") if resumed is not None else None
    if saved and " tokenizer=" in saved:
        return saved.split(" tokenizer=", 1)[1]
    return "gpt2" if args.init_from is not None else "char"


def _require_same_data(resumed, identity: str, args) -> None:
    """--resume continues the run exactly only on the same text with the same tokenizer: refuse others."""
    saved = (resumed.train_config or {}).get("data")
    if saved == identity:
        return
    if saved is None:
        raise ValueError(f"--resume {resumed.path} was trained on a recipe's corpus, not on --data; "
                         "resume it without --data, or start a new run (drop --resume)")
    saved_text, saved_tok = saved.split(" tokenizer=", 1)
    text, tok = identity.split(" tokenizer=", 1)
    if saved_text != text:
        raise ValueError(f"--resume {resumed.path} was trained on a different data set ({saved_text[:19]}..., "
                         f"--data {args.data} is {text[:19]}...); resume with the same text, or drop --resume "
                         "to start a new run on this one")
    raise ValueError(f"--resume {resumed.path} was trained with --tokenizer {saved_tok}, not {tok}; "
                     f"resume with --tokenizer {saved_tok}, or drop --resume to start a new run")


def _data_model(args, model_config, model_changes: dict, tokenizer, seed: int, resumed=None):
    """A new GPT of the recipe's shape sized to the tokenizer, or GPT-2's weights with --init-from
    (when resuming a fine-tune, the checkpoint's shape: its weights replace the pretrained ones anyway)."""
    from safetensors import SafetensorError

    from minigpt.model import GPT

    torch.manual_seed(seed)  # the same initial weights on every rank and every run
    if args.init_from is None:
        return GPT(model_config.replace(vocab_size=tokenizer.vocab_size))
    if resumed is not None:
        return GPT(resumed.config)
    try:
        pretrained = GPT.from_pretrained(args.init_from)
    except SafetensorError as error:  # safetensors' own error class is no ValueError: say what it means here
        raise ValueError(f"--init-from {args.init_from} is not a readable .safetensors file ({error}); pass GPT-2 "
                         "weights saved by save_pretrained, or a size such as gpt2") from None
    if pretrained.config.vocab_size < tokenizer.vocab_size:
        raise ValueError(f"--init-from {args.init_from} has {pretrained.config.vocab_size} token embeddings, fewer "
                         f"than GPT-2's tokenizer's {tokenizer.vocab_size} ids; it is not a GPT-2 language model")
    if not model_changes:
        return pretrained.train()
    try:  # e.g. --set dropout=0.1 keeps every weight; a new shape cannot hold them
        model = GPT(pretrained.config.replace(**model_changes))
        model.load_state_dict(pretrained.state_dict())
    except RuntimeError:
        raise ValueError(f"--init-from {args.init_from}: {', '.join(model_changes)} would change the shape of "
                         "the pretrained weights; with --init-from only settings such as dropout can change") from None
    return model


def parse_settings(items: list[str]) -> tuple[dict, dict]:
    """``["n_layer=4", "lr=3e-3"]`` -> ``({"n_layer": 4}, {"lr": 0.003})``: (GPTConfig, TrainConfig) changes.

    Each value is read as its field's type (see :func:`parse_value`); whether it is allowed is
    checked by the config itself when it is built, with the same errors as in Python.
    """
    from dataclasses import fields

    from minigpt.config import GPTConfig
    from minigpt.train import TrainConfig

    model_fields = {f.name: f.type for f in fields(GPTConfig)}
    train_fields = {f.name: f.type for f in fields(TrainConfig) if f.name not in ("out", "data")}
    model_changes, train_changes = {}, {}
    for item in items:
        key, sep, text = item.partition("=")
        key = key.strip().replace("-", "_")
        if not sep or not key:
            raise ValueError(f"--set {item!r}: write KEY=VALUE, e.g. --set n_layer=4")
        if key == "vocab_size":  # the model gets one embedding per token id, whatever --set says
            raise ValueError("--set vocab_size: the tokenizer sets the vocabulary size and always wins; choose the "
                             "tokenizer instead, with --data PATH --tokenizer char|bpe:N|gpt2")
        if key in model_fields:
            model_changes[key] = parse_value(text, model_fields[key], key)
        elif key in train_fields:
            train_changes[key] = parse_value(text, train_fields[key], key)
        else:
            raise ValueError(f"--set {key}: no such setting; GPTConfig has {', '.join(model_fields)}; "
                             f"TrainConfig has {', '.join(train_fields)}")
    return model_changes, train_changes


def parse_value(text: str, annotation, key: str):
    """``text`` as the type named by a dataclass field's annotation ("int", "float | None", "bool", ...).

    ``none`` gives None for an optional field; a bool is true/false/1/0/yes/no; a tuple is comma
    separated (``betas=0.9,0.95``); a str is the text as written. A value of the wrong type is kept
    as written, so the config's own check names the field and what it accepts.
    """
    kind = str(annotation).replace(" ", "")
    text = text.strip()
    if kind.endswith("|None") and text.lower() in ("none", "null", ""):
        return None
    kind = kind.removesuffix("|None")
    try:
        if kind == "int":
            return int(text)
        if kind == "float":
            return float(text)
        if kind == "bool":
            return {"true": True, "1": True, "yes": True, "false": False, "0": False, "no": False}[text.lower()]
        if kind.startswith("tuple"):
            return tuple(float(part) for part in text.strip("()").split(","))
    except (ValueError, KeyError):
        raise ValueError(f"--set {key}={text}: {key} must be {_KINDS.get(kind, kind)}") from None
    return text


_KINDS = {"int": "a whole number", "float": "a number", "bool": "true or false",
          "tuple[float,float]": "two numbers separated by a comma, e.g. 0.9,0.95"}


# TrainConfig fields that have an option of their own: setting one both ways is refused, not settled quietly
_OWN_OPTIONS = {"max_iters": "--max-iters", "device": "--device", "seed": "--seed", "batch_size": "--batch-size",
               "eval_iters": "--eval-iters", "progress": "--no-progress"}


def _train_config(config, changes: dict, args, out: str):
    """The recipe's ``TrainConfig`` with ``--set`` ``changes`` and the command line's options; an option
    left out keeps the recipe's value (``is None``, never ``or``: a 0 given on purpose is checked, not
    replaced). A field given both by its own option and by --set (``--max-iters 5 --set max_iters=9``)
    is an error naming both. A new length (--max-iters, or --set max_iters) stretches the schedule to
    it, unless --set gives lr_decay_iters or warmup_iters too."""
    for field, option in _OWN_OPTIONS.items():
        if field in changes and getattr(args, option.lstrip("-").replace("-", "_")) not in (None, False):
            raise ValueError(f"{option} and --set {field}={changes[field]} both set {field}; "
                             f"give it once, with {option}")
    max_iters = args.max_iters if args.max_iters is not None else changes.get("max_iters")
    if max_iters is not None:
        stretched = dict(max_iters=max_iters, lr_decay_iters=max_iters,
                         warmup_iters=min(config.warmup_iters, max_iters // 10))
        changes = {**stretched, **changes}
    config = replace(config, **changes)
    return replace(
        config,
        device=config.device if args.device is None else args.device,
        seed=config.seed if args.seed is None else args.seed,
        batch_size=config.batch_size if args.batch_size is None else args.batch_size,
        eval_iters=config.eval_iters if args.eval_iters is None else args.eval_iters,
        progress=config.progress and not args.no_progress,
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
    (the caller then saves); a second Ctrl-C exits at once, without saving and without a traceback.
    After a stop the handlers are not put back: the process is on its way out, and one more Ctrl-C
    (say 20 ms after the first, once the checkpoint is saved) ends it at once, not with a traceback
    from wherever it lands in Python's clean-up."""
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
        if stopped.signum is not None:
            _quit_on_next_signal(*previous)
        else:
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
    words = ["python", "-m", "minigpt", "train"]
    for option in ("recipe", "data", "tokenizer", "init_from", "device", "max_iters", "batch_size", "eval_iters",
                   "seed"):
        value = getattr(args, option)
        if value is not None:
            words += [f"--{option.replace('_', '-')}", str(value)]
    for setting in args.settings:
        words += ["--set", setting]
    words += ["--out", out, "--resume", out]
    if args.no_progress:
        words.append("--no-progress")
    return " ".join(shlex.quote(word) for word in words)


def _sample(args) -> int:
    from minigpt.checkpoint import load_model
    from minigpt.device import pick_device
    from minigpt.sampling import SamplingSettings, stream

    out = _stdout()
    settings = SamplingSettings(args.temperature, args.top_k, args.top_p, args.repetition_penalty, args.seed)
    model, tokenizer = load_model(args.checkpoint, device=pick_device(args.device))
    if tokenizer is None:
        raise ValueError(f"checkpoint {args.checkpoint} has no tokenizer, so text cannot be encoded")
    prompt_ids = tokenizer.encode(args.prompt)
    new_ids: list[int] = []
    printed = ""
    out.write(args.prompt)
    for token in stream(model, prompt_ids, args.max_new_tokens, settings):
        new_ids.append(token)
        text = tokenizer.decode(new_ids)  # decode the whole tail: a character may span several tokens
        out.write(text[len(printed):])
        out.flush()
        printed = text
    out.write("\n")
    out.flush()  # here, where a closed pipe is answered quietly, not in Python's flush at exit
    return 0


def _stdout():
    """``sys.stdout``, or an error before any work when there is none: Python sets it to None when the
    command starts with its standard output closed (``>&-``), and the output would be lost."""
    if sys.stdout is None:
        raise OSError("standard output is closed, so there is nowhere to print; run it with stdout open "
                      "(a terminal, a file: > out.txt, or a pipe)")
    return sys.stdout


def _info(args) -> int:
    from minigpt.checkpoint import load_checkpoint

    out = _stdout()
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
    print("\n".join(lines), file=out, flush=True)
    return 0


def _tokenizer_line(tokenizer) -> str:
    if tokenizer is None:
        return "none saved"
    return f"{getattr(tokenizer, 'name', type(tokenizer).__name__)}, {tokenizer.vocab_size} tokens"
