"""Formulas in an exported page: MathML that the browser draws with no network (no MathJax, no CDN).

The page is opened in headless Chromium (Debian's ``chromium``, as in test_browser.py) with every request
refused but file://, and the formulas must be laid out as maths: a fraction's numerator above its
denominator, no ``$`` left in the text."""

import re
import sys
from pathlib import Path

import nbformat
import pytest

from widgets.tools.export import mathml, to_html

sys.path.insert(0, str(Path(__file__).resolve().parent / "browser"))
import lab  # noqa: E402

MARKDOWN = r"""A uniform guess over 65 characters costs $\ln 65 \approx 4.17$ nats; code keeps its `$HOME`.

$$\mathrm{Attention}(Q, K, V) = \mathrm{softmax}\left(\frac{QK^T}{\sqrt{d_k}}\right) V$$
"""


def exported(tmp_path) -> Path:
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_markdown_cell(MARKDOWN)]
    return to_html(nb, tmp_path / "maths.html")


def test_formulas_are_exported_as_mathml_not_tex(tmp_path):
    page = exported(tmp_path).read_text()
    body = page[page.index("<body"):]
    inline = re.search(r'<math [^>]*display="inline".*?</math>', body, re.S)
    block = re.search(r'<math [^>]*display="block".*?</math>', body, re.S)
    assert inline and "<mi>ln</mi><mn>65</mn>" in inline.group() and "<mn>4.17</mn>" in inline.group()
    assert block and "<mfrac>" in block.group() and "<msqrt>" in block.group()
    assert r"\ln" not in body and r"\frac" not in body  # no TeX left for MathJax
    assert "<code>$HOME</code>" in body  # a dollar in code is not maths


def test_a_formula_that_cannot_be_converted_stays_as_text_with_a_warning():
    with pytest.warns(UserWarning, match=r"formula kept as TeX text .*: \\frac\{1\}\{"):
        assert mathml(r"\frac{1}{", display=False) is None
    assert mathml(r"x^2", display=False).startswith("<math")


@pytest.mark.skipif(lab.find_chromium() is None, reason="Chromium not found: apt-get install chromium")
def test_exported_formulas_are_drawn_offline(tmp_path):
    from playwright import sync_api

    html = exported(tmp_path)
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=lab.find_chromium(), headless=True, args=lab.CHROMIUM_ARGS)
        context = browser.new_context(offline=True, viewport={"width": 1000, "height": 800})
        context.route("**/*", lambda r: r.continue_() if r.request.url.startswith("file:") else r.abort())
        page = context.new_page()
        page.goto(html.as_uri(), wait_until="load", timeout=60_000)
        text = page.inner_text(".jp-RenderedMarkdown")
        maths = page.evaluate("() => Array.from(document.querySelectorAll('math')).map(m => m.textContent)")
        # the numerator's box ends above the denominator's: a fraction laid out as one, by the browser itself
        stacked = page.evaluate("""() => { const f = document.querySelector('mfrac');
            const [num, den] = [f.children[0].getBoundingClientRect(), f.children[1].getBoundingClientRect()];
            return num.height > 0 && den.height > 0 && num.bottom <= den.top + 1; }""")
        browser.close()
    assert maths == ["ln65≈4.17", "Attention(Q,K,V)=softmax(QKTdk)V"]
    assert "$" not in text.replace("$HOME", "") and stacked
