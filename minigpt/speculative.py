"""Speculative decoding: a cheap draft model guesses k tokens, the large model checks them in one pass.

Greedy decoding with a large model costs one forward pass of the large model per token. But a
forward pass over k+1 tokens costs about as much as over one (on a GPU both are limited by
reading the weights), and it gives the large model's prediction after *every* one of them. So:

1. the draft model proposes k tokens greedily: d_1 .. d_k;
2. the large model runs once on context + d_1 .. d_k. Position i's logits are its own greedy
   choice for the token after d_1 .. d_i: want_0 .. want_k (k+1 choices);
3. accept the longest prefix where d_i == want_{i-1}; at the first mismatch take want (the large
   model's own token) instead; if all k were accepted, want_k comes free ("bonus" token).

Every token kept is the large model's own greedy choice given the tokens before it, so the text is
*identical* to greedy decoding with the large model alone; only the number of large passes drops
(1 to k+1 tokens per pass). A good draft agrees often (high acceptance rate) and costs little.

Sampling works the same way when its randomness is fixed per position (the Gumbel-max trick):
``argmax(logits / temperature + G)`` with G = -log(-log U), U uniform, is a sample from
``softmax(logits / temperature)``. Draw one noise vector G per position up front and let draft and
large model both choose that way: every token kept is the large model's own sample, so the text is
identical to decoding the large model alone with the same noise (``speculative_generate(large, None, ...)``).

``speculative_step`` is one round written plainly (no cache, greedy); ``speculative_generate`` runs rounds
with a KV cache in each model, rolling the large model's cache back over rejected tokens.
A draft may be a GPT or any function ``propose(ids, k, choose) -> k token ids`` (``bigram_draft``), where
``choose(logits [V], position) -> id`` picks the token at that position of the text.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import torch

from minigpt.arguments import require_ids, require_int, require_number


def _greedy_next(model, ids: Sequence[int]) -> torch.Tensor:
    """The model's greedy choice after each position of ``ids``: [len(ids)] token ids."""
    device = next(model.parameters()).device
    logits, _ = model(torch.tensor([list(ids)], dtype=torch.long, device=device))
    return logits[0].argmax(dim=-1)


@torch.no_grad()
def speculative_step(large, draft, ids: Sequence[int], k: int) -> list[int]:
    """One round: the new tokens (1 to k+1 of them) that greedy decoding with ``large`` would add after ``ids``.

    ``draft`` proposes k tokens greedily (k passes of the draft); ``large`` runs ONE pass over
    ids + proposal; the proposal is kept up to its first disagreement, then the large model's own token.
    """
    ids = list(ids)
    proposal = []
    for _ in range(k):
        proposal.append(int(_greedy_next(draft, ids + proposal)[-1]))
    want = _greedy_next(large, ids + proposal)[len(ids) - 1 :].tolist()  # k+1 choices: after ids, after d_1, ...
    n = 0
    while n < k and proposal[n] == want[n]:
        n += 1
    return proposal[:n] + [want[n]]


@dataclass(frozen=True)
class SpeculativeResult:
    """The ids (prompt + new tokens) and what it took: passes of each model, draft tokens proposed and accepted."""

    ids: list[int]
    large_passes: int
    draft_passes: int
    proposed: int
    accepted: int

    @property
    def acceptance_rate(self) -> float:
        """The fraction of proposed draft tokens the large model kept."""
        return self.accepted / max(1, self.proposed)


class _Chooser:
    """Picks the token at each position from logits [V]: greedy (temperature 0), or a sample with fixed noise.

    The Gumbel noise of a position is drawn from its own generator, seeded by (seed, position), so the
    same logits at the same position always give the same token, whichever model asks and in any order.
    """

    def __init__(self, temperature: float, seed: int, vocab_size: int):
        self.temperature, self.seed, self.vocab_size = temperature, seed, vocab_size
        self.noise: dict[int, torch.Tensor] = {}  # position -> Gumbel(0, 1) noise [V], drawn on first use

    def _noise(self, position: int) -> torch.Tensor:
        if position not in self.noise:
            g = torch.Generator().manual_seed(self.seed * 1_000_003 + position)
            uniform = torch.rand(self.vocab_size, generator=g).clamp(min=1e-20)
            self.noise[position] = -torch.log(-torch.log(uniform))
        return self.noise[position]

    def __call__(self, logits: torch.Tensor, position: int) -> int:
        if self.temperature == 0:
            return int(logits.argmax())
        return int((logits.float().cpu() / self.temperature + self._noise(position)).argmax())


class _CachedModel:
    """A GPT run with a KV cache that remembers which ids it holds (rolled back as needed)."""

    def __init__(self, model):
        self.model = model
        self.device = next(model.parameters()).device
        self.cache = model.new_kv_cache(1)
        self.cached: list[int] = []  # the ids whose keys and values are in the cache

    def logits(self, ids: Sequence[int]) -> torch.Tensor:
        """Logits [len(ids) - n, V] after each of ids[n:], where the first n ids were cached already."""
        n = 0
        limit = min(len(self.cached), len(ids) - 1)  # always run at least the last id
        while n < limit and self.cached[n] == ids[n]:
            n += 1
        self.cache.length, self.cached = n, list(ids)
        idx = torch.tensor([list(ids[n:])], dtype=torch.long, device=self.device)
        logits, _ = self.model(idx, kv_cache=self.cache)
        return logits[0]

    def propose(self, ids: Sequence[int], k: int, choose: Callable) -> list[int]:
        out = []
        for _ in range(k):
            out.append(choose(self.logits(list(ids) + out)[-1], len(ids) + len(out)))
        return out


@torch.no_grad()
def speculative_generate(large, draft, prompt_ids: Sequence[int], max_new_tokens: int, k: int = 4, *,
                         temperature: float = 0.0, seed: int = 0) -> SpeculativeResult:
    """Decoding of ``large`` sped up by ``draft``: the same ids as decoding ``large`` alone.

    temperature 0: greedy, the same ids as ``generate(large, ..., temperature=0)``. temperature > 0: a
    sample from softmax(logits / temperature) with Gumbel noise fixed per position by ``seed``, the
    same ids as ``speculative_generate(large, None, ..., temperature=..., seed=...)``.
    draft: a GPT (run with its own KV cache), a function ``propose(ids, k, choose) -> list of k ids``,
    or None (no draft: one large pass per token, plain decoding).
    The whole text must fit in the large model's window: len(prompt) + max_new_tokens <= block_size.
    """
    ids = require_ids(prompt_ids, large.config.vocab_size, "prompt_ids")
    require_int(max_new_tokens, "max_new_tokens", 0)
    require_int(k, "k", 0)
    require_number(temperature, "temperature", 0, hint="0 = greedy")
    require_int(seed, "seed", 0)
    if not ids:
        raise ValueError("the prompt is empty: give at least one token id")
    target = len(ids) + max_new_tokens
    if target > large.config.block_size:
        raise ValueError(f"prompt + max_new_tokens = {target} exceeds the large model's block_size "
                         f"{large.config.block_size}; generate fewer tokens")
    models = [m for m in (large, draft) if isinstance(m, torch.nn.Module)]
    was_training = [m.training for m in models]
    for m in models:
        m.eval()
    try:
        choose = _Chooser(temperature, seed, large.config.vocab_size)
        verifier = _CachedModel(large)
        drafter: Callable = _CachedModel(draft).propose if isinstance(draft, torch.nn.Module) else draft
        k = 0 if draft is None else k
        large_passes = draft_passes = proposed = accepted = 0
        while len(ids) < target:
            n_draft = min(k, target - len(ids) - 1)  # the last round needs fewer guesses
            proposal = [int(t) for t in drafter(ids, n_draft, choose)] if n_draft else []
            draft_passes += n_draft if isinstance(draft, torch.nn.Module) else 0
            rows = verifier.logits(ids + proposal)[-(n_draft + 1):]  # after ids, after d_1, ... d_k
            want = [choose(row, len(ids) + i) for i, row in enumerate(rows)]
            large_passes += 1
            n = 0
            while n < n_draft and proposal[n] == want[n]:
                n += 1
            proposed, accepted = proposed + n_draft, accepted + n
            ids += proposal[:n] + [want[n]]
        return SpeculativeResult(ids, large_passes, draft_passes, proposed, accepted)
    finally:
        for m, mode in zip(models, was_training):
            m.train(mode)


def bigram_draft(tokens: torch.Tensor, vocab_size: int) -> Callable[[Sequence[int], int], list[int]]:
    """The cheapest draft model: after token a, the frequencies of what follows a in ``tokens``.

    Returns ``propose(ids, k, choose)``: its logits are the log-frequencies of the bigram table (greedy
    picks the most frequent follower); a table lookup per token, no forward pass at all.
    """
    tokens = torch.as_tensor(tokens).long()
    counts = torch.bincount(tokens[:-1] * vocab_size + tokens[1:], minlength=vocab_size * vocab_size)
    counts = counts.view(vocab_size, vocab_size).float() + 1e-3  # never seen: rare, not impossible
    log_freq = (counts / counts.sum(dim=1, keepdim=True)).log()

    def propose(ids: Sequence[int], k: int, choose: Callable) -> list[int]:
        out, last = [], ids[-1]
        for _ in range(k):
            last = choose(log_freq[last], len(ids) + len(out))
            out.append(last)
        return out

    return propose
