"""Named training recipes: a model shape (``GPTConfig``) + how to train it (``TrainConfig``).

The notebooks, the CLI (``python -m minigpt train --recipe NAME``) and the benchmarks all use
these, so a figure in the README and a run in a lesson mean the same thing. A recipe named like one
of the model configs of ``minigpt.config.CONFIGS`` ("tiny", "shakespeare-char") trains exactly that config.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from minigpt.config import CONFIGS, GPTConfig, get_config
from minigpt.train import TrainConfig


@dataclass(frozen=True)
class Recipe:
    """What to train (``model``), how (``train``), and on what (``dataset``, a character tokenizer)."""

    name: str
    description: str
    model: GPTConfig
    train: TrainConfig
    dataset: str = "tinyshakespeare"


_NANOGPT_CHAR = TrainConfig(
    max_iters=5000, batch_size=64, lr=1e-3, min_lr=1e-4, warmup_iters=100, lr_decay_iters=5000,
    weight_decay=0.1, betas=(0.9, 0.99), grad_clip=1.0, eval_interval=250, eval_iters=200, log_interval=10,
)

RECIPES: dict[str, Recipe] = {
    "tiny": Recipe(
        "tiny",
        "2 layers x 64 dims, context 64: a few hundred steps in seconds on a CPU (tests, first lessons)",
        get_config("tiny"),
        TrainConfig(max_iters=200, batch_size=16, lr=3e-3, min_lr=3e-4, warmup_iters=20,
                    eval_interval=100, eval_iters=10),
    ),
    "shakespeare-char": Recipe(
        "shakespeare-char",
        "nanoGPT's baby GPT on tiny shakespeare characters: 6x384, context 256, batch 64, 5000 steps "
        "(val loss ~1.47; minutes on a GPU, hours on a CPU)",
        get_config("shakespeare-char"),
        _NANOGPT_CHAR,
    ),
    "shakespeare-char-gpu": Recipe(
        "shakespeare-char-gpu",
        "the baby GPT tuned for time-to-quality on one GPU: torch.compile, bf16, stops at val loss 1.47",
        get_config("shakespeare-char"),
        replace(_NANOGPT_CHAR, compile=True, log_interval=50, target_val_loss=1.47),
    ),
    "nanogpt-cpu": Recipe(
        "nanogpt-cpu",
        "nanoGPT's own CPU recipe re-created: 4x4x128, learned positions, context 64, batch 12, AdamW, "
        "lr 1e-3 cosine to 1e-4, 2000 steps, dropout 0 (the baseline of benchmarks/run.py --cpu)",
        GPTConfig(vocab_size=65, block_size=64, n_layer=4, n_head=4, n_embd=128, dropout=0.0, bias=False,
                  pos="learned"),
        # nanoGPT: python train.py config/train_shakespeare_char.py --device=cpu --compile=False --eval_iters=20
        #   --log_interval=1 --block_size=64 --batch_size=12 --n_layer=4 --n_head=4 --n_embd=128
        #   --max_iters=2000 --lr_decay_iters=2000 --dropout=0.0
        replace(_NANOGPT_CHAR, max_iters=2000, lr_decay_iters=2000, batch_size=12, eval_iters=20),
    ),
    "shakespeare-char-cpu": Recipe(
        "shakespeare-char-cpu",
        "the fast CPU recipe: 3x128 with RoPE and a 2C MLP, context 64, batch 12, Muon (AdamW for q/k/v), "
        "WSD schedule, 400 steps (whole-val loss about 1.83, below nanogpt-cpu's 1.90 in about a fifth of its time)",
        GPTConfig(vocab_size=65, block_size=64, n_layer=3, n_head=4, n_embd=128, mlp_ratio=2, dropout=0.0,
                  bias=False, pos="rope", zero_init_proj=True),
        # steps count more than tokens or parameters in a short run: a small batch, Muon (which needs
        # about half the steps of AdamW here; AdamW still trains the stacked q/k/v matrices: 0.05 lower
        # loss), RoPE (relative positions come for free instead of being learned), blocks that start as the identity, a WSD schedule (held at the peak, then a long
        # linear decay: 0.03 lower loss than the cosine), 3 layers with a 2C MLP (about 60% of the time per step
        # of 4 layers with a 4C MLP, for 0.01 higher loss), and a single evaluation at the end.
        # Muon's momentum is 0.85 rather than the usual 0.95, at a higher muon_lr: a shorter memory suits a
        # run this short (about the same loss in 13% fewer steps). Measured in benchmarks/train_speed.py.
        TrainConfig(max_iters=400, batch_size=12, lr=3e-3, min_lr=0.0, warmup_iters=10, lr_schedule="wsd",
                    decay_frac=0.7, optimizer="muon", muon_lr=0.04, muon_momentum=0.85, muon_qkv=False,
                    eval_interval=0, eval_iters=10, log_interval=10),
    ),
}


def get_recipe(name: str) -> Recipe:
    """The named recipe, with its own copy of the ``TrainConfig`` (safe to modify)."""
    if name not in RECIPES:
        config = f" ({name!r} is a model config: get_config({name!r}))" if name in CONFIGS else ""
        raise KeyError(f"unknown recipe {name!r}{config}; choose one of: {', '.join(RECIPES)}")
    recipe = RECIPES[name]
    return replace(recipe, train=replace(recipe.train))
