"""minigpt.tokenizers: one interface, three tokenizers; BPE training and its two encoders agree.

BPE trains on a small play made here (about 8 KB), so these tests need no data download. Only the
GPT-2 tokenizer tests need files: tiktoken's encodings, found through TIKTOKEN_CACHE_DIR.
"""

import json
import os
import random
import re
import reprlib
from collections import Counter

import pytest
import regex
from hypothesis import given, settings
from hypothesis import strategies as st

from minigpt.data import DataNotFoundError
from minigpt.tokenizers import (
    GPT4_SPLIT_PATTERN,
    BPETokenizer,
    CharTokenizer,
    TiktokenTokenizer,
    Tokenizer,
    WordTokenizer,
    tokenizer_difference,
    tokenizer_from_dict,
    train_steps,
)
from minigpt.tokenizers.bpe import merge

TIKTOKEN_FILES = ("needs tiktoken's encoding files, which are downloaded, not generated: set TIKTOKEN_CACHE_DIR "
                  "to a folder holding them (shared/data/tiktoken_cache)")
needs_tiktoken_cache = pytest.mark.skipif(not os.environ.get("TIKTOKEN_CACHE_DIR"), reason=TIKTOKEN_FILES)
unicode_text = st.text(max_size=200)  # any Unicode (but lone surrogates): accents, CJK, emoji, controls, ...

WORDS = ("the king queen crown castle said says to his her and of a in my thou art thee thy what shall we do now "
         "first citizen before proceed any further hear me speak you all are resolved rather die than famish "
         "'tis o'er ne'er good lord lady night day sweet love death café naïve rôle été").split()
SPEAKERS = ("FIRST CITIZEN", "ALL", "KING", "QUEEN", "LADY ANNE")
NUM_MERGES = 128  # the small play allows about 280 merges; the 128th pair still occurs more than 10 times


def small_play(lines=150, seed=0):
    """A play-shaped text (speaker, colon, a line of words, blank line), about 8 KB for 150 lines:
    repeated words to merge, digits, apostrophes, punctuation, and accented letters (2-byte UTF-8)."""
    rng = random.Random(seed)
    out = []
    for _ in range(lines):
        words = [rng.choice(WORDS) for _ in range(rng.randint(4, 12))]
        if rng.random() < 0.3:
            words.insert(rng.randrange(len(words)), str(rng.randint(1, 99)))
        if rng.random() < 0.4:
            words[rng.randrange(len(words) - 1)] += ","
        out.append(f"{rng.choice(SPEAKERS)}:\n{' '.join(words).capitalize()}{rng.choice('.?!;')}\n\n")
    return "".join(out)


# text made of the play's pieces, so that the learned merges fire (random Unicode rarely hits them)
play_like_text = st.lists(st.sampled_from(WORDS + list(SPEAKERS) + [" ", "\n", ",", ":", "!", "42", "<|endoftext|>"]),
                          max_size=60).map("".join)


@pytest.fixture(scope="module")
def play():
    return small_play()


@pytest.fixture(scope="module")
def bpe(play):
    return BPETokenizer.train(play, vocab_size=256 + NUM_MERGES + 1, progress=False)


@pytest.fixture(scope="module")
def gpt2():
    if not os.environ.get("TIKTOKEN_CACHE_DIR"):
        pytest.skip(TIKTOKEN_FILES)
    return TiktokenTokenizer("gpt2")


# ---------------------------------------------------------------- CharTokenizer

def test_char_vocabulary_is_the_sorted_characters(play):
    tok = CharTokenizer.from_text(play)
    alphabet = sorted(set(play))
    assert tok.vocab_size == len(alphabet) == 70 and "é" in alphabet
    sample = "Thou art ne'er 42, café!\n"
    assert tok.encode(sample) == [alphabet.index(c) for c in sample]  # an id is the position in the sorted alphabet
    assert tok.decode(tok.encode(play)) == play


def test_char_unseen_characters_are_listed_or_replaced():
    tok = CharTokenizer.from_text("hello world")
    with pytest.raises(ValueError, match="'x', 'z'") as e:
        tok.encode("hello zox")
    assert "unknown=" in str(e.value)
    lenient = CharTokenizer.from_text("hello world", unknown="?")
    assert lenient.vocab_size == tok.vocab_size + 1
    assert lenient.decode(lenient.encode("hex")) == "he?"
    with pytest.raises(ValueError, match="one character"):
        CharTokenizer.from_text("abc", unknown="<unk>")


def test_char_display_strings_and_errors():
    tok = CharTokenizer.from_text("a b\n")
    assert tok.tokenize("a b\n") == ["a", "␣", "b", "\\n"]
    with pytest.raises(ValueError, match="out of range"):
        tok.decode([99])
    with pytest.raises(TypeError, match="flat list"):
        tok.decode([[0, 1]])


def test_word_tokenizer_on_the_analogy_corpus(tmp_path):
    from minigpt.data import word_analogy_corpus

    text = word_analogy_corpus(50, seed=0)
    tok = WordTokenizer.from_text(text)
    assert tok.decode(tok.encode(text)) == text
    assert tok.tokenize("the king\n") == ["the", "king", "\\n"] and "queen" in tok.symbols
    with pytest.raises(ValueError, match="'emperor'"):
        tok.encode("the emperor")
    lenient = WordTokenizer.from_text(text, unknown="<unk>")
    assert lenient.decode(lenient.encode("the emperor rules")) == "the <unk> rules"
    tok.save(tmp_path / "words.json")
    assert Tokenizer.load(tmp_path / "words.json").symbols == tok.symbols


# ---------------------------------------------------------------- BPETokenizer

def test_bpe_trains_the_requested_ordered_merges(bpe):
    n = NUM_MERGES
    assert len(bpe.merges) == n and bpe.vocab_size == 256 + n + 1
    assert [new_id for _, new_id in bpe.merges] == list(range(256, 256 + n))
    assert bpe.encode("<|endoftext|>", allowed_special="all") == [256 + n] and bpe.token_str(256 + n) == "<|endoftext|>"
    # a merge only creates pairs that occur at most as often as the pair just merged
    assert bpe.merge_counts == sorted(bpe.merge_counts, reverse=True) and bpe.merge_counts[-1] > 1


def show(byte):
    return bytes([byte]).decode().replace(" ", "␣").replace("\n", "\\n")


def test_first_merge_is_the_most_frequent_pair(play, bpe):
    pairs = Counter()
    for chunk in regex.findall(GPT4_SPLIT_PATTERN, play):
        ids = chunk.encode("utf-8")
        pairs.update(zip(ids, ids[1:]))
    pair = min(pairs, key=lambda p: (-pairs[p], p))  # most frequent, then smallest ids
    count = pairs[pair]
    assert count > 100 and bpe.merges[0] == (pair, 256) and bpe.merge_counts[0] == count
    left, right = show(pair[0]), show(pair[1])
    assert bpe.merge_table(1)[0] == {"id": 256, "left": left, "right": right, "merged": left + right, "count": count}
    # the second merge is the most frequent pair once the first is merged
    merged = Counter()
    for chunk in regex.findall(GPT4_SPLIT_PATTERN, play):
        ids = merge(list(chunk.encode("utf-8")), pair, 256)
        merged.update(zip(ids, ids[1:]))
    assert bpe.merges[1] == (min(merged, key=lambda p: (-merged[p], p)), 257)


def naive_train(text, num_merges):
    """Textbook BPE training: recount every pair after every merge."""
    words = Counter(regex.findall(GPT4_SPLIT_PATTERN, text))
    ids = {w: list(w.encode("utf-8")) for w in words}
    merges = []
    for new_id in range(256, 256 + num_merges):
        counts = Counter()
        for w, seq in ids.items():
            for pair in zip(seq, seq[1:]):
                counts[pair] += words[w]
        if not counts:
            break
        best = min(counts, key=lambda p: (-counts[p], p))  # most frequent, then smallest ids
        merges.append(best)
        ids = {w: merge(seq, best, new_id) for w, seq in ids.items()}
    return merges


@settings(max_examples=60, deadline=None)
@given(st.text(alphabet="ab c\nd'!1é", max_size=300))
def test_incremental_training_matches_naive_training(text):
    assert [step.pair for step in train_steps(text, 30)] == naive_train(text, 30)


def test_fast_and_reference_encoders_agree_on_unseen_text(bpe):
    sample = small_play(60, seed=1)  # lines the tokenizer was not trained on
    ids = bpe.encode(sample)
    assert ids == bpe.encode_reference(sample)
    assert len(ids) < len(sample.encode("utf-8")) / 2  # 128 merges at least halve the sequence
    assert bpe.decode(ids) == sample


@settings(max_examples=150, deadline=None)
@given(st.one_of(unicode_text, play_like_text))
def test_bpe_encoders_agree_and_round_trip_on_any_unicode(bpe, text):
    ids = bpe.encode(text)
    assert ids == bpe.encode_reference(text)
    assert bpe.decode(ids) == text
    marked = bpe.encode(text, allowed_special="all")  # "<|endoftext|>" in the text as the marker
    assert marked == bpe.encode_reference(text, allowed_special="all") and bpe.decode(marked) == text


def test_special_tokens_in_text_are_text_unless_allowed(bpe):
    end = bpe.special_tokens["<|endoftext|>"]
    text = "the king<|endoftext|>the queen"
    ids = bpe.encode(text)
    assert end not in ids and bpe.decode(ids) == text and ids == bpe.encode_reference(text)
    assert len(ids) > len(bpe.encode("the king") + bpe.encode("the queen")) + 1  # its characters, not one id
    marked = bpe.encode("the king") + [end] + bpe.encode("the queen")
    for allowed in ("all", {"<|endoftext|>"}, ["<|endoftext|>"]):
        assert bpe.encode(text, allowed_special=allowed) == marked
        assert bpe.encode_reference(text, allowed_special=allowed) == marked
    assert bpe.encode(text, allowed_special=set()) == ids


def test_allowed_special_must_name_the_tokenizers_special_tokens(bpe):
    with pytest.raises(TypeError, match=re.escape('allowed_special must be "all" or a set of special tokens, '
                                                  """e.g. {"<|endoftext|>"}, got '<|endoftext|>'""")):
        bpe.encode("hi", allowed_special="<|endoftext|>")  # one token, not a set of them
    with pytest.raises(TypeError, match="got True"):
        bpe.encode_reference("hi", allowed_special=True)
    with pytest.raises(ValueError, match=re.escape("allowed_special names '<|im_start|>', which this tokenizer does "
                                                   "not have; its special tokens: '<|endoftext|>'")):
        bpe.encode("hi", allowed_special={"<|im_start|>"})
    with pytest.raises(ValueError, match="its special tokens: none"):
        BPETokenizer([], special_tokens=()).encode("hi", allowed_special={"<|endoftext|>"})


def test_bpe_replay_shows_text_compressing(bpe):
    text = "First citizen:\nBefore we proceed any further, hear me speak."
    lengths = [len(bpe.replay(text, n)) for n in (0, 10, 50, NUM_MERGES)]
    assert lengths[0] == len(text.encode("utf-8")) and lengths == sorted(lengths, reverse=True) and lengths[-1] < lengths[1]
    assert "".join(bpe.replay(text, NUM_MERGES)) == text.replace(" ", "␣").replace("\n", "\\n")


def test_bpe_shows_partial_utf8_bytes_as_hex(bpe):
    assert bpe.tokenize("€") == ["<0xE2>", "<0x82>", "<0xAC>"]  # no merges for €: not in the play
    assert bpe.tokenize("é") == ["é"]  # its two bytes are merged: one token, shown as the letter


def test_bpe_save_load_round_trip(bpe, tmp_path):
    path = tmp_path / "bpe.json"
    bpe.save(path)
    assert [p.name for p in tmp_path.iterdir()] == ["bpe.json"]  # no temp file left behind
    loaded = Tokenizer.load(path)
    assert isinstance(loaded, BPETokenizer) and loaded.merges == bpe.merges
    text = "O Romeo, Romeo! wherefore art thou Romeo?<|endoftext|>"
    assert loaded.encode(text) == bpe.encode(text)
    assert tokenizer_from_dict(json.loads(json.dumps(bpe.to_dict()))).merge_counts == bpe.merge_counts
    with pytest.raises(TypeError, match="Tokenizer.load"):
        CharTokenizer.load(path)


def test_save_into_a_missing_folder_names_the_path_not_a_temp_file(tmp_path):
    target = tmp_path / "no such folder" / "char.json"
    with pytest.raises(FileNotFoundError) as error:
        CharTokenizer.from_text("abc").save(target)
    assert str(error.value) == f"cannot write tokenizer {target}: the folder {target.parent} does not exist; create it first"
    assert not tmp_path.joinpath("no such folder").exists()


def test_tokenizer_difference_names_what_differs(play, bpe):
    char = CharTokenizer.from_text("abcdefgh")
    assert tokenizer_difference(char, CharTokenizer.from_text("abcdefgh")) == ""
    # same kind and size: "char with 8 tokens" twice would say nothing, the first differing token does
    assert tokenizer_difference(char, CharTokenizer.from_text("abcdxfgh")) == "token 4 is 'e' vs 'f'"
    assert tokenizer_difference(char, CharTokenizer.from_text("abcdefghi")) == "8 vs 9 tokens"
    assert tokenizer_difference(char, CharTokenizer.from_text("abcdefg ")) == "token 0 is 'a' vs '␣'"
    assert tokenizer_difference(char, CharTokenizer(list("abcdefgh"), unknown="?")) == (
        "8 vs 9 tokens")  # "?" is appended: the first 8 ids read the same
    assert tokenizer_difference(char, CharTokenizer(list("abcdefgh"), name="mine")) == (
        "the same 8 tokens, but name 'char' vs 'mine'")
    assert tokenizer_difference(char, WordTokenizer(list("abcdefgh"))) == (
        "a char tokenizer with 8 tokens vs a word tokenizer with 8 tokens")
    # BPE: other merges read as other tokens; the same merges under another split pattern name the pattern
    other = BPETokenizer.train(play[::-1], vocab_size=bpe.vocab_size, progress=False)
    assert tokenizer_difference(bpe, other) == f"token 256 is {bpe.token_str(256)!r} vs {other.token_str(256)!r}"
    resplit = tokenizer_from_dict({**bpe.to_dict(), "pattern": r"\S+|\s+"})
    assert tokenizer_difference(bpe, resplit) == (f"the same {bpe.vocab_size} tokens, but pattern "
                                                  f"{reprlib.repr(GPT4_SPLIT_PATTERN)} vs {reprlib.repr(resplit.pattern)}")


def test_bpe_rejects_bad_arguments():
    with pytest.raises(ValueError, match="at least 256"):
        BPETokenizer.train("abc", vocab_size=200)
    with pytest.raises(ValueError, match="not defined before"):
        BPETokenizer([(1, 300)])


# ---------------------------------------------------------------- TiktokenTokenizer

def test_gpt2_hello_world(gpt2):
    assert gpt2.encode("Hello, world") == [15496, 11, 995]
    assert gpt2.tokenize("Hello, world") == ["Hello", ",", "␣world"]
    assert gpt2.vocab_size == 50257 and gpt2.token_str(50256) == "<|endoftext|>"


def test_gpt2_reads_special_tokens_in_text_as_tiktoken_does(gpt2):
    """As text by default (tiktoken's encode_ordinary), as the marker when allowed (encode(allowed_special=...))."""
    import tiktoken

    encoding = tiktoken.get_encoding("gpt2")
    text = "The end.<|endoftext|>Once upon a time"
    assert gpt2.encode(text) == encoding.encode_ordinary(text) and 50256 not in gpt2.encode(text)
    for allowed in ("all", {"<|endoftext|>"}):
        assert gpt2.encode(text, allowed_special=allowed) == encoding.encode(text, allowed_special=allowed)
    assert gpt2.encode(text, allowed_special="all").count(50256) == 1
    assert gpt2.decode(gpt2.encode(text)) == gpt2.decode(gpt2.encode(text, allowed_special="all")) == text
    with pytest.raises(ValueError, match=re.escape("allowed_special names '<|fim_prefix|>'")):
        gpt2.encode(text, allowed_special={"<|fim_prefix|>"})  # cl100k_base has it, gpt2 does not


@needs_tiktoken_cache
def test_other_tiktoken_encodings():
    assert TiktokenTokenizer("r50k_base").encode("Hello, world") == [15496, 11, 995]
    cl100k = TiktokenTokenizer("cl100k_base")
    assert cl100k.encode("Hello, world") == [9906, 11, 1917]
    assert tokenizer_from_dict(cl100k.to_dict()).encode("hi") == cl100k.encode("hi")


@settings(max_examples=150, deadline=None)
@given(unicode_text)
def test_tiktoken_round_trips_any_unicode(gpt2, text):
    assert gpt2.decode(gpt2.encode(text)) == text


def test_tiktoken_offline_without_cache_says_what_to_do(tmp_path, monkeypatch):
    import tiktoken.load
    import tiktoken.registry

    def no_network(url):
        raise ConnectionError("simulated: no network")

    monkeypatch.setattr(tiktoken.registry, "ENCODINGS", {})  # forget encodings loaded by other tests
    monkeypatch.setattr(tiktoken.load, "read_file", no_network)
    monkeypatch.setenv("TIKTOKEN_CACHE_DIR", str(tmp_path))
    with pytest.raises(DataNotFoundError, match="TIKTOKEN_CACHE_DIR"):
        TiktokenTokenizer("gpt2")
    with pytest.raises(ValueError, match="cl100k_base"):
        TiktokenTokenizer("gpt5")


def test_tokenizer_from_dict_rejects_garbage():
    with pytest.raises(ValueError, match="not a saved tokenizer"):
        tokenizer_from_dict({"type": "sentencepiece"})
