"""Training step time of the fast CPU recipe: the mean of 30 optimiser steps after 10 warm-up steps.

Time-to-quality (``train_speed.py``) runs the whole recipe in fresh processes and takes minutes; this
is the quick measurement for a change to the model or the training step: the recipe's model and
settings (``shakespeare-char-cpu``), tiny shakespeare, ``Trainer.train_step`` alone (no evaluation,
no logging). Run it in two checkouts to compare them, e.g. ``PYTHONPATH=<other checkout> python
benchmarks/step_time.py``; the first line says which ``minigpt`` was measured.

Run alone: ``python benchmarks/step_time.py [--steps N]``.
"""

from __future__ import annotations

import argparse
import time
from dataclasses import replace

import torch

import minigpt
from minigpt.data import load_text, train_val_split
from minigpt.model import GPT
from minigpt.recipes import get_recipe
from minigpt.tokenizers import CharTokenizer
from minigpt.train import Trainer
from report import Row, load_average, markdown_table

RECIPE, WARMUP, STEPS = "shakespeare-char-cpu", 10, 30


def run(device: str = "cpu", steps: int = STEPS) -> list[Row]:
    recipe = get_recipe(RECIPE)
    text = load_text("tinyshakespeare")
    train_data, val_data = train_val_split(torch.tensor(CharTokenizer.from_text(text).encode(text)))
    torch.manual_seed(0)
    trainer = Trainer(GPT(recipe.model), replace(recipe.train, device=device, progress=False), train_data, val_data)
    for _ in range(WARMUP):
        trainer.train_step()
    start = time.perf_counter()
    for _ in range(steps):
        loss, _, _ = trainer.train_step()
    loss.item()  # waits for the device (a no-op on a CPU)
    seconds = (time.perf_counter() - start) / steps
    return [Row(f"`{RECIPE}` training step, mean of {steps} after {WARMUP} warm-up steps",
                f"{seconds * 1e3:.1f} ms (load average {load_average()})")]


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description="training step time of the fast CPU recipe")
    parser.add_argument("--steps", type=int, default=STEPS)
    args = parser.parse_args()
    print(f"minigpt imported from {minigpt.__file__}")
    print(markdown_table(f"Training step time ({RECIPE}, cpu)", run("cpu", args.steps)))
