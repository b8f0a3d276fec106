"""``TokenView(text, tokenizers)``: how different tokenizers cut the same text.

Each token gets a coloured box (alternating colours show the boundaries), its id on hover, and
the string the tokenizer's ``token_str`` gives for it, shown as given (whitespace and byte-fallback
tokens are visible there: "␣", "\\n", "<0xE2>"). Several tokenizers
are shown side by side with their token counts. The live view is plain HTML; its picture (the
image saved with the notebook) is the same boxes drawn as a plotly figure. The picture is drawn where
only the common fonts may exist, so there a character outside the scripts they all cover (Japanese,
emoji, a variation selector) is written as its code point, "<U+304A>", the form the tokenizers'
``visible`` gives a character that cannot be printed; a note under the picture says so.
"""

from __future__ import annotations

import html
import unicodedata

import ipywidgets as W

from . import theme
from ._base import View
from ._plotly import make_figure
from ._validate import require_text_to_tokenize, require_tokenizer


def token_pieces(tokenizer, text: str) -> list[tuple[int, str]]:
    """[(id, display string)] for ``text``: the tokenizer's own ``token_str(id)``, shown as given.

    Every minigpt tokenizer has ``token_str``, which makes whitespace and partial characters visible
    (``minigpt.tokenizers.visible``: "␣", "\\n", "<0xE2>"), so the view and a printed token agree.
    ``tokenizer`` is one :func:`require_tokenizer` accepted.
    """
    return [(int(i), str(tokenizer.token_str(int(i)))) for i in tokenizer.encode(text)]


# Unicode ranges every common font draws (DejaVu, which Linux falls back to, and the usual fonts of macOS and
# Windows): ASCII (kept as the tokenizer gave it), Latin, IPA, diacritics, Greek, Cyrillic, and the punctuation,
# arrows, maths, box and symbol blocks ("␣", "❤"). Anything else may come out as an empty box in a picture.
COMMON_FONT_RANGES = ((0x00, 0x7F), (0xA0, 0x52F), (0x1E00, 0x1FFF), (0x2010, 0x2027), (0x2030, 0x205E),
                      (0x2070, 0x27BF))  # fmt: skip


def drawable(piece: str) -> str:
    """``piece`` with every character that the common fonts may lack written as "<U+304A>" (the form of
    ``minigpt.tokenizers.visible`` for characters that cannot be printed), for a picture."""
    return "".join(ch if any(lo <= ord(ch) <= hi for lo, hi in COMMON_FONT_RANGES) else f"<U+{ord(ch):04X}>"
                   for ch in piece)  # fmt: skip


def cells(piece: str) -> int:
    """Width of ``piece`` in monospace cells: wide (CJK) and emoji characters take two."""
    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in piece) or 1


def _name(tokenizer) -> str:
    return str(getattr(tokenizer, "name", type(tokenizer).__name__))


class TokenView(View):
    """Show ``text`` split by one or several tokenizers.

    Args:
        text: the text to tokenize (non-empty).
        tokenizers: one tokenizer or a list; anything with ``encode`` and ``token_str`` (every
            minigpt tokenizer; ``name`` is used when present).

    ``view.text`` can be changed (or edited in the box); ``view.tokens`` maps tokenizer name ->
    [(id, display string)].
    """

    def __init__(self, text: str, tokenizers):
        self.tokenizers = [require_tokenizer(t, "tokenizers")
                           for t in (tokenizers if isinstance(tokenizers, (list, tuple)) else [tokenizers])]
        if not self.tokenizers:
            raise ValueError("tokenizers is empty: pass at least one tokenizer")
        self._html = W.HTML()
        self._box = W.Textarea(value=require_text_to_tokenize(text), layout=W.Layout(width="100%"), description="text")
        self._box.observe(lambda change: self._update(change["new"]), names="value")
        self._update(text)

    def _build_widget(self) -> W.Widget:
        widget = W.VBox([self._box, self._html])
        widget.add_class("minigpt-token-view")
        return widget

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

    def figure(self, line_cells: int = 88):
        """The token boxes as a plotly figure: one block per tokenizer, lines wrapped at ``line_cells``."""
        shapes, xs, ys, labels, titles = [], [], [], [], []
        row, escaped = 0, False
        for name, pieces in self.tokens.items():
            titles.append(dict(text=f"<b>{html.escape(name)}</b>: {len(pieces)} tokens", x=0, y=row, xref="x",
                               yref="y", xanchor="left", showarrow=False))  # fmt: skip
            row, x = row + 1, 0
            for n, (_, given) in enumerate(pieces):
                piece = drawable(given)
                escaped = escaped or piece != given
                width = cells(piece)
                if x and x + width > line_cells:
                    row, x = row + 1, 0
                colour = theme.rgba(theme.head_colour(n % 6), 0.22)
                shapes.append(dict(type="rect", x0=x + 0.08, x1=x + width - 0.08, y0=row - 0.42, y1=row + 0.42,
                                   fillcolor=colour, line=dict(width=0), layer="below"))  # fmt: skip
                xs.append(x + width / 2)
                ys.append(row)
                labels.append(html.escape(piece))
                x += width
            row += 1.5
        if escaped:
            titles.append(dict(text=f"{html.escape('<U+…>')}: a character written as its code point, which the "
                               "picture's fonts may lack (the live view shows the character)", x=0, y=row - 0.5,
                               xref="x", yref="y", xanchor="left", showarrow=False,
                               font=dict(color="#666666")))  # fmt: skip
            row += 1
        trace = dict(type="scatter", x=xs, y=ys, text=labels, mode="text", hoverinfo="skip",
                     textfont=dict(family="DejaVu Sans Mono, Menlo, Consolas, monospace", size=14))  # fmt: skip
        return make_figure([trace], dict(
            height=int(40 + 26 * row), margin=dict(l=10, r=10, t=10, b=10), showlegend=False,
            xaxis=dict(range=[-0.5, line_cells + 0.5], visible=False),
            yaxis=dict(range=[row - 0.6, -0.8], visible=False), shapes=shapes, annotations=titles,
        ))  # fmt: skip

    def figures(self) -> list:
        return [self.figure()]

    def __repr__(self) -> str:
        counts = ", ".join(f"{name}={len(p)}" for name, p in self.tokens.items())
        return f"TokenView(chars={len(self.text)}, tokens: {counts})"
