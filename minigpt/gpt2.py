"""OpenAI's GPT-2 in our GPT: download the pretrained weights, or read them from disk, and load them.

    from minigpt.model import GPT
    from minigpt.tokenizers import TiktokenTokenizer

    model = GPT.from_pretrained("gpt2")        # 124M parameters; downloaded once, about 548 MB
    tokenizer = TiktokenTokenizer("gpt2")      # GPT-2's tokenizer: every GPT-2 size uses it

Three steps, one per section below:

1. **Download** (``download``). The weights live on the Hugging Face hub as one ``model.safetensors``
   per size. ``huggingface_hub`` fetches the file into its cache (``$HF_HUB_CACHE``, by default
   ``~/.cache/huggingface/hub``), shows a progress bar, resumes a dropped connection, honours
   ``HF_ENDPOINT`` (a mirror) and ``HF_HUB_OFFLINE=1``. We pin each size to one commit of its hub
   repository, so the bytes can never change under the course, and check the file's sha256
   against the hub's ETag (for large files the ETag *is* the sha256) before using it.
2. **Read** (``read_checkpoint``): a ``.safetensors`` file, or a folder as transformers'
   ``save_pretrained`` writes it (``config.json`` + ``model.safetensors``, possibly sharded).
3. **Convert** (``load_gpt2_state_dict``). Our parameter names already follow GPT-2
   (transformer.h.0.attn.c_attn.weight, ...), so loading is mostly copying. Two twists: GPT-2's
   position table ``wpe`` is our ``pos`` (the module that holds whichever kind of positions the
   config names), and GPT-2 was written in TensorFlow with ``Conv1D`` layers that store their
   weight as [in, out], while ``nn.Linear`` stores [out, in]: those four matrices per block are
   transposed.

Offline and not cached yet? ``from_pretrained`` stops at once with a :class:`WeightsNotFoundError`
that says what to download, how big it is, where it goes and how to point at a copy you have.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

import torch

from minigpt.config import GPTConfig
from minigpt.files import DataNotFoundError, sha256_of

# --------------------------------------------------------------------------------------------
# 3. Convert a transformers-style GPT-2 state dict into our GPT
# --------------------------------------------------------------------------------------------

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
    sd = {k.replace("transformer.wpe.", "transformer.pos."): v for k, v in sd.items()}
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


# --------------------------------------------------------------------------------------------
# 2. Read a checkpoint in the hub's format from disk
# --------------------------------------------------------------------------------------------

WEIGHTS_FILE = "model.safetensors"
INDEX_FILE = "model.safetensors.index.json"  # save_pretrained splits big models into shards listed here


def gpt2_config_from_json(hf: dict) -> GPTConfig:
    """Our GPTConfig for a transformers ``GPT2Config`` (the dict in ``config.json``).

    Raises ValueError for the GPT-2 variants our GPT does not compute (another activation,
    another LayerNorm epsilon, attention scaled differently), since their logits would differ.
    """
    if hf.get("model_type", "gpt2") != "gpt2":
        raise ValueError(f"config.json describes a {hf['model_type']!r} model, not GPT-2 ('model_type': 'gpt2')")
    unsupported = {
        "activation_function": (hf.get("activation_function", "gelu_new"), ("gelu_new", "gelu_pytorch_tanh")),
        "layer_norm_epsilon": (hf.get("layer_norm_epsilon", 1e-5), (1e-5,)),
        "scale_attn_weights": (hf.get("scale_attn_weights", True), (True,)),
        "scale_attn_by_inverse_layer_idx": (hf.get("scale_attn_by_inverse_layer_idx", False), (False,)),
    }
    wrong = [f"{key}={value!r} (we compute {ours[0]!r})"
             for key, (value, ours) in unsupported.items() if value not in ours]
    if wrong:
        raise ValueError("this GPT-2 variant computes something our GPT does not: " + ", ".join(wrong))
    n_embd, n_inner = hf["n_embd"], hf.get("n_inner") or 4 * hf["n_embd"]
    if n_inner % n_embd:
        raise ValueError(f"n_inner={n_inner} is not a multiple of n_embd={n_embd}; our MLP width is mlp_ratio * n_embd")
    return GPTConfig(vocab_size=hf["vocab_size"], block_size=hf["n_positions"], n_layer=hf["n_layer"],
                     n_head=hf["n_head"], n_embd=n_embd, mlp_ratio=n_inner // n_embd,
                     tie_weights=hf.get("tie_word_embeddings", True))


def _read_weights(file: Path) -> dict[str, torch.Tensor]:
    """The tensors of one ``.safetensors`` file, each weight checked to be floating-point and finite.

    A file of integers, or with a NaN or an infinity in it, would load without a word and compute
    nonsense (or NaN everywhere): it is a ValueError naming the file and the tensor. The causal-mask
    buffers (dropped unread, and stored as integers by older files) are not checked.
    """
    from safetensors.torch import load_file

    tensors = load_file(file)
    for name, tensor in tensors.items():
        if name.endswith(_BUFFERS):
            continue
        if not tensor.is_floating_point():
            raise ValueError(f"{file}: tensor {name!r} holds {tensor.dtype} values, but GPT-2's weights are "
                             "floating-point numbers; give the file of a GPT-2 model")
        bad = tensor.numel() - int(torch.isfinite(tensor).sum())
        if bad:
            raise ValueError(f"{file}: tensor {name!r} holds {bad} NaN or infinite values (of {tensor.numel()}); "
                             "the file is damaged or the model diverged, use another copy")
    return tensors


def read_checkpoint(path: str | os.PathLike) -> tuple[dict, GPTConfig | None]:
    """(state dict, config or None) from a ``.safetensors`` file or a folder in the hub's format.

    The config comes from the folder's ``config.json`` when there is one; for a lone file it is
    None and ``load_gpt2_state_dict`` infers it from the tensor shapes. Every weight is checked (see
    :func:`_read_weights`).
    """
    path = Path(path).expanduser()
    if path.is_file():
        if path.suffix != ".safetensors":
            raise ValueError(f"{path} is not a .safetensors file; give a {WEIGHTS_FILE} or the folder holding it")
        return _read_weights(path), None
    if not path.is_dir():
        raise FileNotFoundError(f"no such file or folder: {path}")
    if (path / WEIGHTS_FILE).is_file():
        files = [path / WEIGHTS_FILE]
    elif (path / INDEX_FILE).is_file():
        shards = json.loads((path / INDEX_FILE).read_text())["weight_map"].values()  # tensor name -> file
        files = [path / name for name in sorted(set(shards))]
    else:
        raise FileNotFoundError(f"{path} holds neither {WEIGHTS_FILE} nor {INDEX_FILE}; "
                                f"save a model there with GPT2LMHeadModel.save_pretrained({str(path)!r})")
    sd = {name: tensor for file in files for name, tensor in _read_weights(file).items()}
    config_file = path / "config.json"
    return sd, gpt2_config_from_json(json.loads(config_file.read_text())) if config_file.is_file() else None


# --------------------------------------------------------------------------------------------
# 1. Download from the Hugging Face hub, pinned and verified
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class HubWeights:
    """Where one GPT-2 size lives on the hub, pinned to one commit of its repository."""

    repo_id: str
    revision: str  # a commit hash, so the file can never change under us
    size_mb: int  # about how big the download is, for messages
    sha256: str | None = None  # when known: checked against the hub's answer before downloading
    filename: str = WEIGHTS_FILE


# OpenAI's four GPT-2 sizes. The files hold float32 weights plus each layer's 1024x1024 causal mask.
PRETRAINED: dict[str, HubWeights] = {
    "gpt2": HubWeights("openai-community/gpt2", "607a30d783dfa663caf39e06633721c8d4cfcd7e", 548,
                       sha256="248dfc3911869ec493c76e65bf2fcf7f615828b0254c12b473182f0f81d3a707"),
    "gpt2-medium": HubWeights("openai-community/gpt2-medium", "6dcaa7a952f72f9298047fd5137cd6e4f05f41da", 1520),
    "gpt2-large": HubWeights("openai-community/gpt2-large", "32b71b12589c2f8d625668d2335a01cac3249519", 3250),
    "gpt2-xl": HubWeights("openai-community/gpt2-xl", "15ea56dee5df4983c59b2538573817e1667135e2", 6430),
}

# huggingface_hub waits up to 10 s for an unreachable hub and then retries for 20 s more; we ask
# once, briefly, so that being offline is reported at once. HF_HUB_ETAG_TIMEOUT overrides it.
HEAD_TIMEOUT_S = float(os.environ.get("HF_HUB_ETAG_TIMEOUT", 4))


class WeightsNotFoundError(DataNotFoundError):
    """Pretrained weights could not be found, downloaded or verified. The message says how to fix it."""


def _is_sha256(text: str | None) -> bool:
    return text is not None and len(text) == 64 and all(c in "0123456789abcdef" for c in text)


def _remove_from_cache(pointer: Path) -> None:
    """Delete a cached file: the snapshot entry, the blob it links to, and the snapshot folder if now empty."""
    blob = Path(os.path.realpath(pointer))
    pointer.unlink(missing_ok=True)
    blob.unlink(missing_ok=True)
    try:
        pointer.parent.rmdir()
    except OSError:  # other files of the same commit are still there
        pass


def _hub_weights(name: str) -> HubWeights:
    if name not in PRETRAINED:
        raise ValueError(f"unknown GPT-2 size {name!r}; choose one of {', '.join(PRETRAINED)}")
    return PRETRAINED[name]


def cached(name: str, cache_dir: str | os.PathLike | None = None) -> Path | None:
    """The cached weights file of GPT-2 size ``name``, or None if it is not downloaded yet. No network.

    For code that should only use the weights when they are already there:
    ``if cached("gpt2"): model = GPT.from_pretrained("gpt2")``.
    """
    from huggingface_hub import constants, try_to_load_from_cache

    weights = _hub_weights(name)
    found = try_to_load_from_cache(weights.repo_id, weights.filename, cache_dir=cache_dir or constants.HF_HUB_CACHE,
                                   revision=weights.revision)
    return Path(found) if isinstance(found, str) else None


def download(name: str, cache_dir: str | os.PathLike | None = None) -> Path:
    """The local path of GPT-2 size ``name``'s weights, downloaded into the hub cache if needed.

    A file already in the cache at the pinned commit is used without asking the network (it was
    checked when it was downloaded). Otherwise: one HEAD request asks the hub for the file's ETag,
    ``hf_hub_download`` fetches it, and the file's sha256 must equal that ETag (and the pinned
    sha256, where we have one). A file that does not match is deleted from the cache.
    """
    from huggingface_hub import constants, get_hf_file_metadata, hf_hub_download, hf_hub_url
    from huggingface_hub.utils import HfHubHTTPError, OfflineModeIsEnabled

    weights, cache = _hub_weights(name), Path(cache_dir or constants.HF_HUB_CACHE)
    if (path := cached(name, cache)) is not None:
        return path

    endpoint = constants.ENDPOINT  # $HF_ENDPOINT, read when huggingface_hub was imported
    url = hf_hub_url(weights.repo_id, weights.filename, revision=weights.revision)

    size = f"{weights.size_mb} MB" if weights.size_mb < 1000 else f"{weights.size_mb / 1000:.1f} GB"

    def error(problem: str) -> WeightsNotFoundError:
        return WeightsNotFoundError(
            f"Cannot load GPT-2 {name!r}: {problem}. It needs {weights.filename} (about {size}) "
            f"from {url}, stored in the Hugging Face cache {cache} (set HF_HUB_CACHE or HF_HOME to move it). "
            f"Fix: run GPT.from_pretrained({name!r}) once with internet (HF_HUB_OFFLINE unset; "
            f"HF_ENDPOINT may name a mirror), or download that URL on another machine and pass the file: "
            f"GPT.from_pretrained('/path/to/{weights.filename}')."
        )

    try:  # HEAD /{repo}/resolve/{revision}/{file}: the file's ETag (= its sha256) and size, no body
        expected = get_hf_file_metadata(url, timeout=HEAD_TIMEOUT_S).etag
    except OfflineModeIsEnabled:
        raise error("it is not in the cache and HF_HUB_OFFLINE is set") from None
    except HfHubHTTPError as e:
        status = e.response.status_code if e.response is not None else "an error"
        raise error(f"the hub at {endpoint} answered {status} for it") from None
    except Exception as e:  # connection refused, DNS failure, timeout: the HTTP library's own exception types
        unreachable = f"it is not in the cache and the hub at {endpoint} cannot be reached ({type(e).__name__})"
        raise error(unreachable) from None
    if weights.sha256 is not None and expected != weights.sha256:
        raise error(f"the hub at {endpoint} says its sha256 is {expected}, but the pinned one is {weights.sha256} "
                    "(a mirror serving other files?)")
    if not _is_sha256(expected):
        raise error(f"the hub's ETag {expected!r} is not a sha256, so the download could not be verified")

    try:  # GET, with a progress bar; a dropped connection is resumed where it stopped (an HTTP Range request)
        path = Path(hf_hub_download(weights.repo_id, weights.filename, revision=weights.revision, cache_dir=cache))
    except Exception as e:
        raise error(f"the download failed ({type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''})") from e
    actual = sha256_of(path)
    if actual != expected:
        _remove_from_cache(path)
        raise error(f"the downloaded file has sha256 {actual}, not {expected} as the hub says "
                    "(damaged in transit, or a mirror sent other bytes); it was removed from the cache, try again")
    return path


# --------------------------------------------------------------------------------------------
# GPT.from_pretrained
# --------------------------------------------------------------------------------------------


def from_pretrained(name_or_path: str | os.PathLike = "gpt2", *, cache_dir: str | os.PathLike | None = None):
    """A ``GPT`` holding GPT-2's pretrained weights, in eval mode (dropout off).

    ``name_or_path``: one of ``PRETRAINED`` ("gpt2", "gpt2-medium", "gpt2-large", "gpt2-xl"),
    downloaded once into the Hugging Face cache (``cache_dir`` overrides ``$HF_HUB_CACHE``); or a
    local ``.safetensors`` file or folder in the hub's format (an existing path wins over a name,
    as in transformers). The matching tokenizer of the named sizes is ``TiktokenTokenizer("gpt2")``.
    """
    path = Path(name_or_path).expanduser()
    if not path.exists():
        if name_or_path not in PRETRAINED:
            raise ValueError(f"{str(name_or_path)!r} is neither a GPT-2 size ({', '.join(PRETRAINED)}) "
                             "nor an existing .safetensors file or folder")
        path = download(str(name_or_path), cache_dir)
    sd, config = read_checkpoint(path)
    return load_gpt2_state_dict(sd, config).eval()


def pretrained_or_none(name_or_path: str | os.PathLike | None = None):
    """``(model, "")`` when GPT-2 can be had, else ``(None, why and how to get it)``: never raises for missing weights.

    For lessons that use GPT-2 when it is there and still run to the end when it is not.
    ``name_or_path`` defaults to ``$MINIGPT_GPT2`` (a size or a local file/folder), then "gpt2".
    """
    name_or_path = name_or_path or os.environ.get("MINIGPT_GPT2") or "gpt2"
    try:
        return from_pretrained(name_or_path), ""
    except WeightsNotFoundError as e:
        return None, str(e)
