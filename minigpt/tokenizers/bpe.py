"""Byte-level byte-pair encoding (BPE), trained from scratch, in the style of GPT-2/GPT-4.

How it works, in three steps:

1. **Bytes.** Text is UTF-8 encoded, so every string is a sequence of the 256 possible byte
   values. Those 256 ids are the starting vocabulary: nothing is ever "unknown".
2. **Pre-split.** A regex cuts the text into chunks ("Hello", ",", " world", "\\n") before any
   merging, so tokens never span a word and its punctuation. We use GPT-4's pattern
   (tiktoken's ``cl100k_base``).
3. **Merges.** Training counts every adjacent pair of ids inside the chunks, gives the most
   frequent pair a new id (256, 257, ...) and replaces it everywhere; repeat. The ordered list
   of merges *is* the tokenizer. Encoding replays it: within each chunk, keep merging the
   pair that was learned earliest until no learned pair is left.

Training counts pairs once over the *distinct* chunks (each weighted by how often it occurs),
then after each merge only updates the pairs next to each merged occurrence, so 512 merges on
tiny shakespeare take seconds instead of the minutes a full recount per merge would.

Encoding is fast because the learned merges are handed to ``tiktoken.Encoding`` (Rust). The
plain-Python :meth:`BPETokenizer.encode_reference` is the readable version; the tests check
both give identical ids.
"""

from __future__ import annotations

import heapq
import warnings
from collections import Counter, defaultdict
from collections.abc import Collection
from dataclasses import dataclass
from typing import Iterator

import regex
import tiktoken
from tqdm.auto import tqdm

from minigpt.arguments import require_int, require_text
from minigpt.tokenizers.base import Tokenizer, visible_bytes
from minigpt.tokenizers.tiktoken_tokenizer import allowed_special_tokens, encode_with

# GPT-4's pre-split pattern (tiktoken cl100k_base): contractions, words with one leading
# non-letter (e.g. a space), numbers of up to 3 digits, punctuation runs, and whitespace.
GPT4_SPLIT_PATTERN = (
    r"""'(?i:[sdmt]|ll|ve|re)|[^\r\n\p{L}\p{N}]?+\p{L}++|\p{N}{1,3}+| ?[^\s\p{L}\p{N}]++[\r\n]*+|\s++$|\s*[\r\n]|\s+(?!\S)|\s"""
)


@dataclass(frozen=True)
class MergeStep:
    """One learned merge: ids ``pair`` become ``new_id``, whose bytes are ``token``."""

    pair: tuple[int, int]
    new_id: int
    token: bytes
    count: int  # how often the pair occurred in the training text at the moment it was merged


def merge(ids: list[int], pair: tuple[int, int], new_id: int) -> list[int]:
    """Replace every occurrence of ``pair`` in ``ids`` (left to right) by ``new_id``."""
    out, i = [], 0
    while i < len(ids):
        if i + 1 < len(ids) and ids[i] == pair[0] and ids[i + 1] == pair[1]:
            out.append(new_id)
            i += 2
        else:
            out.append(ids[i])
            i += 1
    return out


def _merge_counting(word: list[int], pair: tuple[int, int], new_id: int, weight: int,
                    pair_counts: Counter) -> tuple[list[int], list[tuple[int, int]]]:
    """``merge`` for training: also fix ``pair_counts`` locally and return the pairs it created.

    Merging (a, b) -> X inside ``p a b n`` turns the neighbour pairs (p, a) and (b, n) into
    (p, X) and (X, n); no other pair of the word changes, so we only touch those, weighted by
    how often the word occurs. (In "a b a b" the (X, a) added by the first merge is removed
    again by the second, which leaves the right (X, X).) The count of (a, b) itself is dropped
    by the caller.
    """
    a, b = pair
    out, created, i = [], [], 0
    while i < len(word):
        if i + 1 < len(word) and word[i] == a and word[i + 1] == b:
            if out:
                pair_counts[(out[-1], a)] -= weight
                pair_counts[(out[-1], new_id)] += weight
                created.append((out[-1], new_id))
            if i + 2 < len(word):
                pair_counts[(b, word[i + 2])] -= weight
                pair_counts[(new_id, word[i + 2])] += weight
                created.append((new_id, word[i + 2]))
            out.append(new_id)
            i += 2
        else:
            out.append(word[i])
            i += 1
    return out, created


def train_steps(text: str, num_merges: int, pattern: str = GPT4_SPLIT_PATTERN) -> Iterator[MergeStep]:
    """Learn up to ``num_merges`` merges from ``text``, yielding each one as it is learned.

    A notebook can watch training happen: ``for step in train_steps(text, 10): print(step)``.
    Ties between equally frequent pairs go to the smaller pair of ids, so training is deterministic.
    """
    chunk_counts = Counter(regex.findall(pattern, text))
    words = [list(chunk.encode("utf-8")) for chunk in chunk_counts]  # distinct chunks as byte ids
    weights = list(chunk_counts.values())  # how often each distinct chunk occurs
    vocab = [bytes([b]) for b in range(256)]

    pair_counts: Counter = Counter()
    where = defaultdict(set)  # pair -> indices of words that (may) contain it
    for w, ids in enumerate(words):
        for pair in zip(ids, ids[1:]):
            pair_counts[pair] += weights[w]
            where[pair].add(w)
    # A max-heap of (count, pair) with lazy deletion: entries whose count is out of date are
    # skipped when popped (the up-to-date entry was pushed when the count changed).
    heap = [(-count, pair) for pair, count in pair_counts.items()]
    heapq.heapify(heap)

    for new_id in range(256, 256 + num_merges):
        while heap:
            neg_count, pair = heapq.heappop(heap)
            if pair_counts.get(pair) == -neg_count:
                break
        else:
            return  # every chunk is a single token: nothing left to merge
        vocab.append(vocab[pair[0]] + vocab[pair[1]])
        yield MergeStep(pair, new_id, vocab[new_id], -neg_count)

        touched = set()
        for w in where.pop(pair):
            words[w], created = _merge_counting(words[w], pair, new_id, weights[w], pair_counts)
            for p in created:
                where[p].add(w)
                touched.add(p)
                touched.add((p[0], pair[0]) if p[1] == new_id else (pair[1], p[1]))  # the pair it replaced
        del pair_counts[pair]
        for p in touched - {pair}:
            if pair_counts[p] > 0:
                heapq.heappush(heap, (-pair_counts[p], p))


class BPETokenizer(Tokenizer):
    """A byte-level BPE tokenizer: 256 byte tokens, then one token per merge, then special tokens.

    Example::

        tok = BPETokenizer.train(text, vocab_size=769)  # 256 bytes + 512 merges + <|endoftext|>
        tok.merges[0]            # ((32, 116), 256) on tiny shakespeare: " " + "t" -> " t"
        tok.merge_table(5)       # the first merges as display strings, with their counts
        tok.decode(tok.encode("To be, or not to be"))  # -> "To be, or not to be"
    """

    kind = "bpe"

    def __init__(self, merges, special_tokens=("<|endoftext|>",), pattern: str = GPT4_SPLIT_PATTERN,
                 name: str | None = None, merge_counts=None):
        self.pattern = pattern
        self.vocab = [bytes([b]) for b in range(256)]  # id -> bytes
        self.ranks: dict[tuple[int, int], int] = {}  # pair -> the id it merges into (= its priority)
        for a, b in merges:
            if not (0 <= a < len(self.vocab) and 0 <= b < len(self.vocab)):
                raise ValueError(f"merge ({a}, {b}) uses an id not defined before it")
            self.ranks[(a, b)] = len(self.vocab)
            self.vocab.append(self.vocab[a] + self.vocab[b])
        if len(set(self.vocab)) != len(self.vocab):
            raise ValueError("two merges produce the same bytes; tiktoken needs one id per byte string")
        n = len(self.vocab)
        self.special_tokens = {s: n + i for i, s in enumerate(special_tokens)}
        self.merge_counts = list(merge_counts) if merge_counts is not None else None
        self.name = name or f"bpe-{self.vocab_size}"
        # tiktoken's BPE merges the adjacent pair whose concatenated bytes has the lowest rank;
        # with rank = id this is exactly our replay of the merges in the order they were learned.
        self._encoding = tiktoken.Encoding(
            name=self.name,
            pat_str=pattern,
            mergeable_ranks={token: i for i, token in enumerate(self.vocab)},
            special_tokens=self.special_tokens,
        )

    @classmethod
    def train(cls, text: str, vocab_size: int, special_tokens=("<|endoftext|>",),
              pattern: str = GPT4_SPLIT_PATTERN, progress: bool = True, name: str | None = None) -> BPETokenizer:
        """Learn a tokenizer whose final vocabulary has ``vocab_size`` ids.

        ``vocab_size`` counts everything: 256 bytes + merges + special tokens, so
        ``vocab_size=769`` with one special token learns 512 merges. ``progress`` shows a tqdm bar.
        """
        require_text(text)
        require_int(vocab_size, "vocab_size", 1)
        num_merges = vocab_size - 256 - len(special_tokens)
        if num_merges < 0:
            raise ValueError(f"vocab_size must be at least 256 + {len(special_tokens)} special tokens, got {vocab_size}")
        steps = []
        with tqdm(total=num_merges, desc="BPE merges", disable=not progress) as bar:
            for step in train_steps(text, num_merges, pattern):
                steps.append(step)
                bar.update()
        if len(steps) < num_merges:
            warnings.warn(f"the text only allows {len(steps)} merges, not {num_merges}; "
                          f"vocab_size is {256 + len(steps) + len(special_tokens)}", stacklevel=2)
        return cls([s.pair for s in steps], special_tokens, pattern, name, [s.count for s in steps])

    @property
    def vocab_size(self) -> int:
        return len(self.vocab) + len(self.special_tokens)

    @property
    def merges(self) -> list[tuple[tuple[int, int], int]]:
        """The learned merges in order: ((first_id, second_id), new_id)."""
        return list(self.ranks.items())

    def encode(self, text: str, *, allowed_special: str | Collection[str] = frozenset()) -> list[int]:
        """Fast encoding (tiktoken). A special token written in the text ("<|endoftext|>") is ordinary text,
        unless ``allowed_special`` ("all", or a set of special tokens) names it: then it becomes its id."""
        return encode_with(self._encoding, text, allowed_special)

    def _decode_checked(self, ids: list[int]) -> str:
        """Ids -> text; byte sequences that are not valid UTF-8 become U+FFFD (model samples can do that)."""
        return self._encoding.decode(ids)

    def encode_reference(self, text: str, num_merges: int | None = None, *,
                         allowed_special: str | Collection[str] = frozenset()) -> list[int]:
        """Plain-Python encoding, the readable twin of ``encode`` (same ids, much slower).

        ``num_merges`` uses only the first merges learned, to watch the text compress as the
        vocabulary grows: ``tok.encode_reference(text, num_merges=10)``.
        """
        require_text(text)
        if num_merges is not None:
            require_int(num_merges, "num_merges", 0)
        limit = 256 + (len(self.ranks) if num_merges is None else num_merges)
        allowed = sorted(allowed_special_tokens(allowed_special, self.special_tokens), key=len, reverse=True)
        ids = []
        parts = regex.split("(" + "|".join(map(regex.escape, allowed)) + ")", text) if allowed else [text]
        for i, part in enumerate(parts):
            if i % 2:  # split() with a capture group puts the special tokens at odd positions
                ids.append(self.special_tokens[part])
                continue
            for chunk in regex.findall(self.pattern, part):
                chunk_ids = list(chunk.encode("utf-8"))
                while len(chunk_ids) >= 2:
                    # the pair learned earliest (lowest new id) that occurs in this chunk
                    pair = min(zip(chunk_ids, chunk_ids[1:]), key=lambda p: self.ranks.get(p, float("inf")))
                    if self.ranks.get(pair, limit) >= limit:
                        break  # no learned pair left
                    chunk_ids = merge(chunk_ids, pair, self.ranks[pair])
                ids.extend(chunk_ids)
        return ids

    def replay(self, text: str, num_merges: int) -> list[str]:
        """Display strings of ``text`` tokenized with only the first ``num_merges`` merges."""
        return [self.token_str(i) for i in self.encode_reference(text, num_merges)]

    def token_bytes(self, token_id: int) -> bytes:
        """The raw bytes of one token (a special token's UTF-8 text)."""
        self._require_id(token_id)
        return self._encoding.decode_single_token_bytes(token_id)

    def token_str(self, token_id: int) -> str:
        self._require_id(token_id)
        if token_id >= len(self.vocab):
            return self._encoding.decode([token_id])  # special tokens show as themselves
        return visible_bytes(self.vocab[token_id])

    def merge_table(self, n: int | None = None) -> list[dict]:
        """The first ``n`` merges as rows {id, left, right, merged, count} of display strings."""
        rows = []
        for k, ((a, b), new_id) in enumerate(self.merges[:n]):
            count = self.merge_counts[k] if self.merge_counts else None
            rows.append({"id": new_id, "left": self.token_str(a), "right": self.token_str(b),
                         "merged": self.token_str(new_id), "count": count})
        return rows

    def to_dict(self) -> dict:
        return {"type": self.kind, "name": self.name, "pattern": self.pattern,
                "merges": [list(pair) for pair in self.ranks], "special_tokens": list(self.special_tokens),
                "merge_counts": self.merge_counts}

    @classmethod
    def from_dict(cls, d: dict) -> BPETokenizer:
        return cls([tuple(p) for p in d["merges"]], d["special_tokens"], d["pattern"], d["name"], d["merge_counts"])
