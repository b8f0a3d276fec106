"""Load OpenAI's GPT-2 weights (as a Hugging Face ``GPT2LMHeadModel`` state dict) into our GPT.

Our parameter names already follow GPT-2 (transformer.h.0.attn.c_attn.weight, ...), so loading
is mostly copying. One twist: GPT-2 was written in TensorFlow with ``Conv1D`` layers that store
their weight as [in, out], while ``nn.Linear`` stores [out, in] — those four matrices per block
are transposed.

No download happens here: get the state dict any way you like, e.g.
``GPT2LMHeadModel.from_pretrained("gpt2").state_dict()``.
"""

from __future__ import annotations

import torch

from minigpt.config import GPTConfig

_CONV1D = ("attn.c_attn.weight", "attn.c_proj.weight", "mlp.c_fc.weight", "mlp.c_proj.weight")
_BUFFERS = (".attn.bias", ".attn.masked_bias")  # causal-mask buffers of older transformers versions


def gpt2_config_from_state_dict(sd: dict) -> GPTConfig:
    """Infer the shape from the tensors; GPT-2 models all use head_dim 64, so n_head = n_embd // 64."""
    wte = sd["transformer.wte.weight"]
    n_layer = 1 + max(int(k.split(".")[2]) for k in sd if k.startswith("transformer.h."))
    n_embd = wte.size(1)
    return GPTConfig(vocab_size=wte.size(0), block_size=sd["transformer.wpe.weight"].size(0),
                     n_layer=n_layer, n_head=max(1, n_embd // 64), n_embd=n_embd)


def load_gpt2_state_dict(sd: dict, config: GPTConfig | None = None):
    """A ``GPT`` with the weights of ``sd`` (keys as in transformers' GPT2LMHeadModel or GPT2Model)."""
    from minigpt.model import GPT

    sd = {(k if k.startswith(("transformer.", "lm_head.")) else "transformer." + k): v for k, v in sd.items()}
    sd = {k: v for k, v in sd.items() if not k.endswith(_BUFFERS)}
    if "transformer.wte.weight" not in sd:
        raise ValueError("not a GPT-2 state dict: no 'transformer.wte.weight' key")
    config = config or gpt2_config_from_state_dict(sd)
    if (config.pos, config.norm, config.mlp, config.prenorm, config.bias) != ("learned", "layernorm", "gelu", True, True):
        raise ValueError("GPT-2 weights need pos='learned', norm='layernorm', mlp='gelu', prenorm=True, bias=True; "
                         f"got {config}")
    model = GPT(config)
    own = model.state_dict()
    sd.setdefault("lm_head.weight", sd["transformer.wte.weight"])  # GPT2Model has no head: it is tied
    missing, unexpected = sorted(set(own) - set(sd)), sorted(set(sd) - set(own))
    if missing or unexpected:
        raise ValueError(f"state dict does not fit the config: missing {missing[:5]}, unexpected {unexpected[:5]}")
    with torch.no_grad():
        for name, value in sd.items():
            value = value.t() if name.endswith(_CONV1D) else value
            if value.shape != own[name].shape:
                raise ValueError(f"{name}: expected shape {tuple(own[name].shape)}, got {tuple(value.shape)}; "
                                 "pass the GPTConfig the weights were trained with")
            own[name].copy_(value)
    return model
