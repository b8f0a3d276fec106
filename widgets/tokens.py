"""``TokenView(text, tokenizers)``: how different tokenizers cut the same text.

Each token gets a coloured box (alternating colours show the boundaries), its id on hover,
and whitespace / byte-fallback tokens are drawn visibly ("␣", "↵", "<0xE2>"). Several tokenizers
are shown side by side with their token counts. Plain HTML: no plotly needed, renders anywhere.
"""

from __future__ import annotations

import html

import ipywidgets as W

from . import theme
from ._base import View
from ._validate import check_text

_VISIBLE = {" ": "␣", "\n": "↵\n", "\t": "→", "\r": "␍"}


def visible(piece: str) -> str:
    """Make whitespace visible: ' ' -> '␣', newline -> '↵' (followed by a real line break)."""
    return "".join(_VISIBLE.get(ch, ch) for ch in piece)


def token_pieces(tokenizer, text: str) -> list[tuple[int, str]]:
    """[(id, display string)] for ``text``.

    Uses the CONTRACT interface ``token_str(id)`` when the tokenizer has it; otherwise decodes one
    id at a time, and an id that is only part of a UTF-8 character (decodes to U+FFFD) is shown as
    its bytes, e.g. "<0xE2>", the way byte-fallback tokenizers print them.
    """
    if not (hasattr(tokenizer, "encode") and hasattr(tokenizer, "decode")):
        raise TypeError(f"a tokenizer needs encode(text) and decode(ids); got {type(tokenizer).__name__}")
    ids = [int(i) for i in tokenizer.encode(text)]
    pieces = []
    for i in ids:
        if hasattr(tokenizer, "token_str"):
            pieces.append((i, tokenizer.token_str(i)))
            continue
        piece = tokenizer.decode([i])
        if "\ufffd" in piece and hasattr(tokenizer, "decode_bytes"):
            piece = "".join(f"<0x{b:02X}>" for b in tokenizer.decode_bytes([i]))
        elif "\ufffd" in piece and hasattr(tokenizer, "decode_single_token_bytes"):  # a tiktoken Encoding
            piece = "".join(f"<0x{b:02X}>" for b in tokenizer.decode_single_token_bytes(i))
        pieces.append((i, visible(piece)))
    return pieces


def _name(tokenizer) -> str:
    return str(getattr(tokenizer, "name", type(tokenizer).__name__))


class TokenView(View):
    """Show ``text`` split by one or several tokenizers.

    Args:
        text: the text to tokenize (non-empty).
        tokenizers: one tokenizer or a list; anything with ``encode`` and ``decode``
            (``token_str`` and ``name`` are used when present).

    ``view.text`` can be changed (or edited in the box); ``view.tokens`` maps tokenizer name ->
    [(id, display string)].
    """

    def __init__(self, text: str, tokenizers):
        self.tokenizers = list(tokenizers) if isinstance(tokenizers, (list, tuple)) else [tokenizers]
        if not self.tokenizers:
            raise ValueError("tokenizers is empty: pass at least one tokenizer")
        self._html = W.HTML()
        self._box = W.Textarea(value=check_text(text), layout=W.Layout(width="100%"), description="text")
        self._box.observe(lambda change: self._update(change["new"]), names="value")
        self.widget = W.VBox([self._box, self._html])
        self.widget.add_class("minigpt-token-view")
        self._update(text)

    def _update(self, text: str) -> None:
        if not text:  # an empty box while typing: keep the last view instead of raising
            return
        self.text = text
        self.tokens = {_name(t): token_pieces(t, text) for t in self.tokenizers}
        self._html.value = self.to_html()

    def to_html(self) -> str:
        """Side-by-side columns, one per tokenizer, each token a coloured span with its id as title."""
        columns = []
        for name, pieces in self.tokens.items():
            spans = []
            for n, (i, piece) in enumerate(pieces):
                colour = theme.rgba(theme.head_colour(n % 6), 0.22)
                spans.append(
                    f"<span class='minigpt-token' title='id {i}' style='background:{colour};"
                    f"border-radius:3px;padding:1px 2px;margin:1px;display:inline-block;white-space:pre'>"
                    f"{html.escape(piece)}</span>"
                )
            columns.append(
                "<div style='flex:1;min-width:220px;padding:6px;border:1px solid #ddd;border-radius:6px'>"
                f"<div style='font-weight:600;margin-bottom:4px'>{html.escape(name)}: {len(pieces)} tokens</div>"
                f"<div style='font-family:monospace;line-height:1.9'>{''.join(spans)}</div></div>"
            )
        return f"<div class='minigpt-tokens' style='display:flex;gap:10px;flex-wrap:wrap'>{''.join(columns)}</div>"

    def figures(self) -> list:
        return []

    def static_html(self) -> str:
        return self.to_html()

    def __repr__(self) -> str:
        counts = ", ".join(f"{name}={len(p)}" for name, p in self.tokens.items())
        return f"TokenView(chars={len(self.text)}, tokens: {counts})"
