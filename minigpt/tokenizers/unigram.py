"""A unigram language-model tokenizer (the algorithm behind SentencePiece's default), small enough to read.

BPE builds its vocabulary **bottom up** (start from bytes, glue the most frequent pair, repeat) and
encodes by **replaying** its merges. The unigram model (Kudo, 2018) works the other way round:

* **top down**: start from a large vocabulary of frequent substrings and repeatedly drop the pieces whose
  removal costs the training text the least likelihood, until ``vocab_size`` is reached;
* **a probability per piece**: a segmentation's log-probability is the sum of its pieces' log-probabilities,
  and encoding picks the **most probable segmentation** of each word with the Viterbi algorithm (dynamic
  programming), not a fixed merge order;
* so it can also **sample** other segmentations in proportion to their probability ("subword
  regularisation", ``sample``), which BPE cannot.

As in SentencePiece, a space is part of the word after it and written "▁" (U+2581), and pieces never
cross a word boundary. Characters the training text never showed are spelt as UTF-8 bytes (``<0xNN>``,
ids 0..255: SentencePiece's byte fallback), so nothing is unknown and ``decode(encode(t)) == t``.

Simplifications, to stay short and fast: the seed vocabulary is every substring of up to ``max_piece_len``
characters of the most frequent words (SentencePiece uses a suffix array over all the text); EM runs on
those words (``max_words``), weighted by their counts; piece probabilities are plain relative frequencies
(a piece that is kept but unused, such as a rare single character, counts as half an occurrence).
"""

from __future__ import annotations

import math
import re
from collections import Counter
from itertools import groupby

from minigpt.tokenizers.base import Tokenizer, visible

SPACE = "\u2581"  # "▁": SentencePiece's visible space
_CHUNKS = re.compile(rf"\n|{SPACE}?[^{SPACE}\n]+|{SPACE}")


def words_of(text: str) -> list[str]:
    """Text -> the chunks a piece may not cross: "▁word" (the space belongs to the word after it), "\\n", "▁".

    ``"".join(words_of(t)).replace("▁", " ") == t`` for any text without "▁" in it.
    """
    return _CHUNKS.findall(text.replace(" ", SPACE))


def _lattice(word: str, logp: dict[str, float], max_len: int):
    """For each end position i (1..n): the pieces word[j:i] in the vocabulary, as (j, piece, log p)."""
    return [[(j, word[j:i], logp[word[j:i]]) for j in range(max(0, i - max_len), i) if word[j:i] in logp]
            for i in range(1, len(word) + 1)]


def viterbi(word: str, logp: dict[str, float], max_len: int) -> tuple[list[str], float]:
    """The most probable segmentation of ``word`` into pieces of ``logp`` and its log-probability.

    best[i] = max over pieces word[j:i] of best[j] + log p(word[j:i]); then follow the choices back.
    Returns ([], -inf) when no segmentation exists (a character outside the vocabulary).
    """
    n = len(word)
    best, back = [0.0] + [-math.inf] * n, [0] * (n + 1)
    for i, ends in enumerate(_lattice(word, logp, max_len), start=1):
        for j, _, lp in ends:
            if best[j] + lp > best[i]:
                best[i], back[i] = best[j] + lp, j
    if best[n] == -math.inf:
        return [], -math.inf
    pieces, i = [], n
    while i > 0:
        pieces.append(word[back[i]:i])
        i = back[i]
    return pieces[::-1], best[n]


def _logsumexp(values: list[float]) -> float:
    top = max(values, default=-math.inf)
    return top if top == -math.inf else top + math.log(sum(math.exp(v - top) for v in values))


def expected_counts(word: str, logp: dict[str, float], max_len: int) -> tuple[dict[str, float], float]:
    """E-step for one word: how often each piece appears, averaged over all segmentations weighted by their
    probability (forward-backward over the lattice), and the log of the word's total probability."""
    lattice = _lattice(word, logp, max_len)
    n = len(word)
    alpha = [0.0] + [-math.inf] * n                    # alpha[i]: log of the sum over segmentations of word[:i]
    for i, ends in enumerate(lattice, start=1):
        alpha[i] = _logsumexp([alpha[j] + lp for j, _, lp in ends])
    beta = [-math.inf] * n + [0.0]                     # beta[j]: the same for word[j:]
    starts: list[list] = [[] for _ in range(n + 1)]
    for i, ends in enumerate(lattice, start=1):
        for j, piece, lp in ends:
            starts[j].append((i, piece, lp))
    for j in range(n - 1, -1, -1):
        beta[j] = _logsumexp([lp + beta[i] for i, _, lp in starts[j]])
    total = alpha[n]
    counts: dict[str, float] = {}
    if total == -math.inf:
        return counts, total
    for i, ends in enumerate(lattice, start=1):
        for j, piece, lp in ends:
            share = math.exp(alpha[j] + lp + beta[i] - total)
            if share > 0:
                counts[piece] = counts.get(piece, 0.0) + share
    return counts, total


class UnigramTokenizer(Tokenizer):
    """A unigram LM tokenizer: ``pieces`` maps each piece (a str, "▁" for a space) to its log-probability.

    Ids 0..255 are the UTF-8 bytes (fallback for unseen characters); the pieces follow, most probable first.
    """

    kind = "unigram"

    def __init__(self, pieces: dict[str, float], name: str | None = None):
        if not pieces or not all(isinstance(p, str) and p and isinstance(v, (int, float)) for p, v in pieces.items()):
            raise ValueError("pieces must be a non-empty dict {piece (non-empty str): log-probability (float)}")
        ordered = sorted(pieces.items(), key=lambda kv: (-kv[1], kv[0]))
        self.logp = {p: float(v) for p, v in ordered}
        self.pieces = [p for p, _ in ordered]
        self.piece_id = {p: 256 + i for i, p in enumerate(self.pieces)}
        self.max_len = max(len(p) for p in self.pieces)
        self.name = name or f"unigram-{self.vocab_size}"

    # ---- training ----------------------------------------------------------------------------------
    @classmethod
    def train(cls, text: str, vocab_size: int, *, max_piece_len: int = 12, seed_factor: int = 6,
              shrink: float = 0.75, em_iters: int = 2, max_words: int = 6000, name: str | None = None):
        """Learn ``vocab_size - 256`` pieces from ``text`` (256 ids are the byte fallback).

        1. seed: every character of the text, plus the most frequent substrings (up to ``max_piece_len``
           characters, inside the ``max_words`` most frequent words), ``seed_factor`` times more than needed;
        2. EM: piece probabilities <- expected counts over all segmentations, ``em_iters`` times;
        3. prune: drop the ``1 - shrink`` share of multi-character pieces whose removal loses the least
           likelihood (count x (log p(piece) - log p(its best segmentation without it)));
           single characters are never dropped, so every word stays segmentable; back to 2 until the size is reached.
        """
        n_pieces = vocab_size - 256
        words = Counter(words_of(text))
        chars = {c for w in words for c in w}
        if n_pieces < len(chars):
            raise ValueError(f"vocab_size {vocab_size} leaves {n_pieces} pieces, fewer than the {len(chars)} "
                             f"characters of the text: use vocab_size >= {256 + len(chars)}")
        frequent = dict(words.most_common(max_words))
        substrings: Counter = Counter()
        for w, c in frequent.items():
            for i in range(len(w)):
                for j in range(i + 2, min(len(w), i + max_piece_len) + 1):
                    substrings[w[i:j]] += c
        seed = [s for s, _ in substrings.most_common(seed_factor * n_pieces)]
        counts = {c: 1.0 for c in chars} | {s: float(substrings[s]) for s in seed}
        logp = cls._normalise(counts)
        while True:
            for _ in range(em_iters):
                counts = dict.fromkeys(logp, 0.0)
                for w, c in frequent.items():
                    for piece, n in expected_counts(w, logp, max_piece_len)[0].items():
                        counts[piece] += c * n
                logp = cls._normalise({p: n for p, n in counts.items() if n > 0 or len(p) == 1})
            if len(logp) <= n_pieces:
                break
            target = max(n_pieces, int(len(logp) * shrink))
            logp = cls._prune(logp, counts, target, max_piece_len)
        return cls(logp, name=name)

    @staticmethod
    def _normalise(counts: dict[str, float]) -> dict[str, float]:
        counts = {p: max(n, 0.5) for p, n in counts.items()}  # a piece kept but unused counts as half an occurrence
        total = sum(counts.values())
        return {p: math.log(n / total) for p, n in counts.items()}

    @staticmethod
    def _prune(logp, counts, target, max_len):
        loss = {}
        for piece, lp in list(logp.items()):
            if len(piece) == 1:
                continue
            del logp[piece]                      # the best segmentation of the piece without itself
            _, alternative = viterbi(piece, logp, max_len)
            logp[piece] = lp
            loss[piece] = counts.get(piece, 0.0) * (lp - alternative)
        drop = sorted(loss, key=lambda p: (loss[p], p))[: len(logp) - target]
        kept = {p: counts.get(p, 0.0) for p in logp if p not in set(drop)}
        return UnigramTokenizer._normalise(kept)

    # ---- encoding ----------------------------------------------------------------------------------
    def segment(self, word: str) -> list[str]:
        """The most probable pieces of one chunk (Viterbi); a character never seen in training becomes its bytes."""
        out = []
        for known, run in groupby(word, key=lambda c: c in self.logp):
            run = "".join(run)
            out += viterbi(run, self.logp, self.max_len)[0] if known else [f"<0x{b:02X}>" for b in run.encode("utf-8")]
        return out

    def encode(self, text: str) -> list[int]:
        return [self._id(p) for w in words_of(text) for p in self.segment(w)]

    def _id(self, piece: str) -> int:
        return int(piece[3:5], 16) if piece.startswith("<0x") and piece.endswith(">") and len(piece) == 6 \
            else self.piece_id[piece]

    def _decode_checked(self, ids: list[int]) -> str:
        data = b"".join(bytes([i]) if i < 256 else self.pieces[i - 256].encode("utf-8") for i in ids)
        return data.decode("utf-8", errors="replace").replace(SPACE, " ")

    def segmentations(self, word: str) -> list[tuple[list[str], float]]:
        """Every segmentation of ``word`` into pieces of the vocabulary with its log-probability, most probable
        first: the list ``segment`` (Viterbi) finds the top of without writing it out. Exponential in the
        length of the word: for short words only (at most 16 characters)."""
        if len(word) > 16:
            raise ValueError(f"{len(word)} characters: too long to list every segmentation; use segment(word)")
        found: list[tuple[list[str], float]] = []

        def extend(start: int, pieces: list[str]) -> None:
            if start == len(word):
                found.append((pieces, self.log_prob(pieces)))
            for end in range(start + 1, min(len(word), start + self.max_len) + 1):
                if word[start:end] in self.logp:
                    extend(end, pieces + [word[start:end]])

        extend(0, [])
        return sorted(found, key=lambda item: -item[1])

    def log_prob(self, pieces: list[str]) -> float:
        """The log-probability of one segmentation: the sum of its pieces' log-probabilities."""
        return sum(self.logp[p] for p in pieces)

    def sample(self, word: str, generator, alpha: float = 1.0) -> list[str]:
        """One segmentation of ``word`` drawn with probability ∝ p(segmentation)^alpha (subword regularisation).

        Forward filtering, backward sampling: alpha[i] sums over the segmentations of word[:i]; then, from the
        end, each last piece is drawn in proportion to its share. ``generator`` is a ``random.Random``.
        """
        logp = {p: alpha * v for p, v in self.logp.items()}
        lattice = _lattice(word, logp, self.max_len)
        fwd = [0.0] + [-math.inf] * len(word)
        for i, ends in enumerate(lattice, start=1):
            fwd[i] = _logsumexp([fwd[j] + lp for j, _, lp in ends])
        if fwd[-1] == -math.inf:
            return self.segment(word)
        pieces, i = [], len(word)
        while i > 0:
            options = lattice[i - 1]
            weights = [math.exp(fwd[j] + lp - fwd[i]) for j, _, lp in options]
            j, piece, _ = generator.choices(options, weights=weights)[0]
            pieces.append(piece)
            i = j
        return pieces[::-1]

    # ---- the Tokenizer interface -------------------------------------------------------------------
    @property
    def vocab_size(self) -> int:
        return 256 + len(self.pieces)

    def token_str(self, token_id: int) -> str:
        self._require_id(token_id)
        return f"<0x{token_id:02X}>" if token_id < 256 else visible(self.pieces[token_id - 256].replace(SPACE, " "))

    def to_dict(self) -> dict:
        return {"type": self.kind, "name": self.name, "pieces": self.logp}

    @classmethod
    def from_dict(cls, d: dict) -> UnigramTokenizer:
        return cls(dict(d["pieces"]), name=d.get("name"))
