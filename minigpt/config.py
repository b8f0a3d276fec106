"""Model configuration: one dataclass that switches every idea the course teaches on or off.

A ``GPTConfig`` is plain data (ints, floats, bools, strings) so it can be saved next to a
checkpoint as JSON and compared when the checkpoint is loaded again.

**Configs and recipes.** A *config* is a model's shape only; the named ones are in ``CONFIGS``
(``get_config("tiny")``). How to train a model -- steps, batch, learning rate, corpus -- is a *recipe*
(``minigpt.recipes``, ``python -m minigpt train --recipe NAME``). A recipe named like a config ("tiny",
"shakespeare-char") trains exactly that config.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields, replace

from minigpt.arguments import WrongType, require_bool, require_number, is_int, problems_of

# The names a config may choose. The layer modules key their registries by these names (POSITIONS in
# positional.py, NORMS in norm.py, MLPS in mlp.py); the config stays plain data and never imports a layer.
POS_TYPES = ("learned", "sinusoidal", "rope", "alibi", "none")
NORM_TYPES = ("layernorm", "rmsnorm")
MLP_TYPES = ("gelu", "swiglu", "moe")
SIZE_FIELDS = ("vocab_size", "block_size", "n_layer", "n_head", "n_kv_head", "n_embd", "mlp_ratio",
               "n_expert", "expert_top_k")
BOOL_FIELDS = ("bias", "prenorm", "tie_weights", "zero_init_proj", "causal")


class DictConfig:
    """``to_dict`` / ``from_dict`` for a config dataclass (``GPTConfig``, ``TrainConfig``): its fields as a
    JSON-friendly dict and back, so a checkpoint can store the config next to the weights."""

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict):
        """The config with the fields in ``data``; a field it does not have is an error that lists the known ones
        (a misspelt field would otherwise be dropped and the default used without a word)."""
        if not isinstance(data, dict):
            raise WrongType(f"a {cls.__name__} is read from a dict of its fields, got {type(data).__name__}")
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ValueError(f"unknown {cls.__name__} fields {unknown}; known fields are {sorted(known)}")
        return cls(**data)


@dataclass(frozen=True)
class GPTConfig(DictConfig):
    """Shape and architecture of a GPT (or of the encoder/decoder stacks of a ``Seq2Seq``).

    Sizes: B = batch, T = sequence length (<= ``block_size``), C = ``n_embd``,
    H = ``n_head``, ``head_dim`` = C // H.
    """

    vocab_size: int = 65
    block_size: int = 256
    n_layer: int = 6
    n_head: int = 6
    n_kv_head: int | None = None  # fewer K/V heads than query heads = GQA (1 = MQA); None = n_head
    n_embd: int = 384
    dropout: float = 0.0
    bias: bool = True
    pos: str = "learned"  # one of POS_TYPES
    norm: str = "layernorm"  # one of NORM_TYPES
    prenorm: bool = True  # False = post-norm, as in the original Transformer
    mlp: str = "gelu"  # one of MLP_TYPES
    mlp_ratio: int = 4  # MLP hidden width as a multiple of n_embd (GPT-2: 4)
    n_expert: int = 4  # only used when mlp == "moe"
    expert_top_k: int = 2  # experts each token is routed to, when mlp == "moe"
    moe_aux_loss_weight: float = 0.01  # weight of the load-balancing loss added to the LM loss
    tie_weights: bool = True  # share the token embedding with the output head
    zero_init_proj: bool = False  # start the residual-stream projections at 0 (each block = identity)
    causal: bool = True  # False = bidirectional (encoder-only, masked LM)
    rope_base: float = 10000.0

    def __post_init__(self) -> None:
        if self.n_kv_head is None:
            object.__setattr__(self, "n_kv_head", self.n_head)
        problems = [f"{name} must be a positive int, got {getattr(self, name)!r}" for name in SIZE_FIELDS
                    if not is_int(getattr(self, name)) or getattr(self, name) < 1]
        if problems:  # the checks below divide by these sizes
            raise ValueError("invalid GPTConfig: " + "; ".join(problems))
        if self.n_embd % self.n_head:
            problems.append(f"n_embd ({self.n_embd}) must be divisible by n_head ({self.n_head})")
        if self.n_head % self.n_kv_head:
            problems.append(f"n_head ({self.n_head}) must be divisible by n_kv_head ({self.n_kv_head})")
        if self.pos in ("rope",) and (self.n_embd // self.n_head) % 2:
            problems.append(f"pos='rope' needs an even head_dim, got n_embd // n_head = "
                            f"{self.n_embd} // {self.n_head} = {self.n_embd // self.n_head}")
        if self.pos not in POS_TYPES:
            problems.append(f"pos must be one of {POS_TYPES}, got {self.pos!r}")
        if self.norm not in NORM_TYPES:
            problems.append(f"norm must be one of {NORM_TYPES}, got {self.norm!r}")
        if self.mlp not in MLP_TYPES:
            problems.append(f"mlp must be one of {MLP_TYPES}, got {self.mlp!r}")
        if self.mlp == "moe" and not 1 <= self.expert_top_k <= self.n_expert:
            problems.append(f"expert_top_k ({self.expert_top_k}) must be between 1 and n_expert ({self.n_expert})")
        problems += problems_of(
            lambda: require_number(self.dropout, "dropout", 0, 1, max_open=True),
            lambda: require_number(self.moe_aux_loss_weight, "moe_aux_loss_weight", 0),
            # angles are p * base ** (-2i / head_dim): a base <= 0 makes every RoPE table NaN
            lambda: require_number(self.rope_base, "rope_base", 0, min_open=True),
            *(lambda name=name: require_bool(getattr(self, name), name) for name in BOOL_FIELDS),
        )
        if problems:
            raise ValueError("invalid GPTConfig: " + "; ".join(problems))

    @property
    def head_dim(self) -> int:
        return self.n_embd // self.n_head

    def replace(self, **changes) -> "GPTConfig":
        """A copy with some fields changed, e.g. ``config.replace(pos="rope")``.

        A config with one K/V head per query head keeps that when only ``n_head`` changes (``n_kv_head``
        was filled in from ``n_head``); a GQA config keeps its ``n_kv_head``."""
        if "n_head" in changes and "n_kv_head" not in changes and self.n_kv_head == self.n_head:
            changes["n_kv_head"] = changes["n_head"]
        return replace(self, **changes)


@dataclass(frozen=True)
class NamedConfig:
    """One of the model shapes in ``CONFIGS``, with a line that says what it is for."""

    description: str
    config: GPTConfig


CONFIGS: dict[str, NamedConfig] = {
    "tiny": NamedConfig(
        "2 layers, 4 heads, 64 dims, context 64: trains in seconds on a laptop CPU (tests, lessons)",
        GPTConfig(vocab_size=65, block_size=64, n_layer=2, n_head=4, n_embd=64),
    ),
    "shakespeare-char": NamedConfig(
        "nanoGPT's baby GPT: 6 layers, 6 heads, 384 dims, context 256, ~10.65M parameters",
        GPTConfig(vocab_size=65, block_size=256, n_layer=6, n_head=6, n_embd=384, dropout=0.2, bias=False),
    ),
    "gpt2": NamedConfig(
        "GPT-2 small shape: 12 layers, 12 heads, 768 dims, context 1024, 50257 tokens, ~124M parameters",
        GPTConfig(vocab_size=50257, block_size=1024, n_layer=12, n_head=12, n_embd=768),
    ),
}


def get_config(name: str, **overrides) -> GPTConfig:
    """The named config (a model shape), with any fields overridden: ``get_config("tiny", pos="rope")``."""
    if name not in CONFIGS:
        from minigpt.recipes import RECIPES  # here: recipes are built from configs

        recipe = f" ({name!r} is a training recipe: its model is get_recipe({name!r}).model)" if name in RECIPES else ""
        raise KeyError(f"unknown config {name!r}{recipe}; choose one of: {', '.join(CONFIGS)}")
    return CONFIGS[name].config.replace(**overrides)
