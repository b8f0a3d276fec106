"""Command line: train a recipe, sample from a checkpoint, describe a checkpoint.

    python -m minigpt train --preset shakespeare-char --device cpu --max-iters 200 --out out/run.safetensors
    python -m minigpt sample --checkpoint out/run.safetensors --prompt "ROMEO:" --temperature 0.8 --top-k 50
    python -m minigpt info --checkpoint out/run.safetensors

Mistakes (a missing file, a bad setting) print one line on stderr and exit with status 2.
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import replace

import torch

from minigpt import distributed


class _Parser(argparse.ArgumentParser):
    """argparse, but a usage mistake is a single line (usage is one ``--help`` away)."""

    def error(self, message):
        self.exit(2, f"{self.prog}: error: {message} (see --help)\n")


def build_parser() -> argparse.ArgumentParser:
    from minigpt.recipes import RECIPES

    parser = _Parser(prog="minigpt", description="Train, sample from and inspect minigpt models.")
    commands = parser.add_subparsers(dest="command", required=True, metavar="{train,sample,info}")

    train = commands.add_parser("train", help="train a recipe on its corpus (characters)",
                                description="Train a named recipe and save a checkpoint.")
    train.add_argument("--preset", required=True, choices=list(RECIPES), help="recipe to train")
    train.add_argument("--device", default=None, help="auto | cpu | cuda | mps (default: the recipe's, auto)")
    train.add_argument("--max-iters", type=int, default=None,
                       help="optimiser steps (the cosine schedule is stretched to this length)")
    train.add_argument("--batch-size", type=int, default=None, help="sequences per step (default: the recipe's)")
    train.add_argument("--eval-iters", type=int, default=None, help="batches per evaluation (default: the recipe's)")
    train.add_argument("--out", default=None, help="checkpoint file (default: out/<preset>.safetensors)")
    train.add_argument("--seed", type=int, default=None, help="random seed (default: the recipe's)")
    train.add_argument("--no-progress", action="store_true", help="no progress bar")
    train.set_defaults(func=_train)

    sample = commands.add_parser("sample", help="generate text from a checkpoint",
                                 description="Generate text from a checkpoint, printed as it is produced.")
    sample.add_argument("--checkpoint", required=True, help="checkpoint file or directory")
    sample.add_argument("--prompt", default="\n", help="text to continue (default: a newline)")
    sample.add_argument("--max-new-tokens", type=int, default=500)
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
    except (ValueError, TypeError, KeyError, OSError) as error:
        message = error.args[0] if isinstance(error, KeyError) and error.args else error
        print(f"minigpt {args.command}: error: {message}", file=sys.stderr)
        return 2


def _train(args) -> int:
    from minigpt.data import load_text, train_val_split
    from minigpt.model import GPT
    from minigpt.recipes import get_recipe
    from minigpt.tokenizers import CharTokenizer
    from minigpt.train import Trainer

    recipe = get_recipe(args.preset)
    config = recipe.train
    if args.max_iters is not None:
        config = replace(config, max_iters=args.max_iters, lr_decay_iters=args.max_iters,
                         warmup_iters=min(config.warmup_iters, args.max_iters // 10))
    config = replace(
        config,
        device=args.device or config.device,
        seed=config.seed if args.seed is None else args.seed,
        batch_size=args.batch_size or config.batch_size,
        eval_iters=args.eval_iters or config.eval_iters,
        progress=not args.no_progress,
        out=args.out or f"out/{recipe.name}.safetensors",
    )
    text = load_text(recipe.dataset)
    tokenizer = CharTokenizer.from_text(text)
    train_data, val_data = train_val_split(torch.tensor(tokenizer.encode(text), dtype=torch.long))
    torch.manual_seed(config.seed)  # the same initial weights on every rank and every run
    model = GPT(recipe.model.replace(vocab_size=tokenizer.vocab_size))
    trainer = Trainer(model, config, train_data, val_data, tokenizer=tokenizer)
    try:
        trainer.fit()
        if trainer.dist.is_main:
            print(f"saved checkpoint to {config.out} (step {trainer.step}, "
                  f"val loss {trainer.history.last('val_loss'):.4f}); "
                  f"try: python -m minigpt sample --checkpoint {config.out}")
    finally:
        distributed.teardown()
    return 0


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
