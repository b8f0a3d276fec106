"""Views drawn by plotly.js in headless Chromium: no text lies on other text, and none is cut off the figure.

Each figure is drawn as its picture is (plotly.js, ``widgets.picture.WIDTH`` wide, the figure's height) from the
installed plotly package's own plotly.js, with no network; then the boxes of the title, panel titles, axis titles,
tick labels and legend are compared."""

import sys
from pathlib import Path

import numpy as np
import plotly
import pytest

from widgets import FigureView, SamplingExplorer, TrainingDashboard
from widgets._plotly import figure_json
from widgets.picture import WIDTH

sys.path.insert(0, str(Path(__file__).resolve().parent / "browser"))
import lab  # noqa: E402

pytestmark = pytest.mark.skipif(lab.find_chromium() is None, reason="Chromium not found: apt-get install chromium")

# the text of a drawn figure, by kind: every box of one kind is compared with every box of the others
TEXT = {"title": ".gtitle", "panel titles": ".annotation",
        "axis titles": ".g-xtitle, .g-ytitle, .g-x2title, .g-y2title",
        "x tick labels": ".xtick text, .x2tick text", "y tick labels": ".ytick text, .y2tick text",
        "legend": ".legend"}  # fmt: skip
BOXES = """(kinds) => Object.fromEntries(Object.entries(kinds).map(([kind, sel]) => [kind,
    Array.from(document.querySelectorAll(sel)).map(e => e.getBoundingClientRect())
         .filter(r => r.width > 0 && r.height > 0).map(r => [r.left, r.top, r.right, r.bottom])]))"""


def overlap(a, b, slack=1.0) -> bool:
    return a[0] < b[2] - slack and b[0] < a[2] - slack and a[1] < b[3] - slack and b[1] < a[3] - slack


@pytest.fixture(scope="module")
def draw():
    from playwright import sync_api

    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=lab.find_chromium(), headless=True, args=lab.CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": WIDTH + 40, "height": 1200})
        page.set_content("<body style='margin:0'><div id='fig'></div></body>")
        page.add_script_tag(path=str(Path(plotly.__file__).parent / "package_data" / "plotly.min.js"))

        def boxes(fig):
            fig.update_layout(width=WIDTH, height=fig.layout.height or 450)
            page.evaluate("(json) => Plotly.newPlot('fig', JSON.parse(json))", figure_json(fig))
            return fig.layout.height, page.evaluate(BOXES, TEXT)

        yield boxes
        browser.close()


def check(draw, fig) -> dict:
    """The boxes of ``fig`` drawn, once it is known that no two kinds of text overlap and all lie in the figure."""
    height, boxes = draw(fig)
    kinds = list(boxes)
    for i, kind in enumerate(kinds):
        for box in boxes[kind]:
            inside = box[0] >= -1 and box[1] >= -1 and box[2] <= WIDTH + 1 and box[3] <= height + 1
            assert inside, f"{kind} cut off: {box}"
            for other in kinds[i + 1 :]:
                hit = [b for b in boxes[other] if overlap(box, b)]
                assert not hit, f"{kind} {box} lies on {other} {hit[0]}"
    return boxes


def test_dashboard_text_is_apart_and_inside(draw):
    class Run:
        class config:
            max_iters = 400

    dash = TrainingDashboard(title="shakespeare-char-cpu")
    for step in range(10, 401, 10):
        dash.on_step(Run(), {"step": step, "train_loss": 4 - step / 200, "tokens_per_s": 28_000 + 900 * (step % 3)})
        if step % 80 == 0:
            dash.on_eval(Run(), {"step": step, "val_loss": 4.1 - step / 250})
    boxes = check(draw, dash.figure())
    assert len(boxes["panel titles"]) == 2 and len(boxes["y tick labels"]) >= 4


def test_figure_view_title_above_subplot_titles(draw):
    from plotly.subplots import make_subplots

    fig = make_subplots(rows=1, cols=2, horizontal_spacing=0.12, subplot_titles=(
        "shakespeare-char-cpu: WSD (dashed: a cosine instead)", "nanogpt-cpu: warm-up + cosine"))  # fmt: skip
    fig.add_scatter(y=np.linspace(0, 3e-3, 400), row=1, col=1)
    fig.add_scatter(y=np.linspace(0, 1e-3, 2000), row=1, col=2)
    fig.update_xaxes(title_text="step")
    fig.update_yaxes(title_text="learning rate", row=1, col=1)
    fig.update_layout(title="learning-rate schedules of the recipes", height=360)
    check(draw, FigureView(fig).figures()[0])


def test_figure_view_long_tick_labels_keep_clear_of_the_axis_title(draw):
    from plotly.subplots import make_subplots

    words = "the dogs chased the cat because they were hungry".split()
    fig = make_subplots(rows=1, cols=2, subplot_titles=("encoder (causal=False)", "decoder (causal=True)"))
    for col in (1, 2):
        fig.add_heatmap(z=np.tril(np.ones((9, 9))).tolist(), x=words, y=words, showscale=False, row=1, col=col)
    fig.update_yaxes(autorange="reversed", title_text="query (row)", col=1)
    fig.update_layout(height=380, width=820, margin=dict(t=40, b=10))
    boxes = check(draw, FigureView(fig).figures()[0])
    assert len(boxes["x tick labels"]) == 2 * 8  # every distinct word under both panels, none cut off


def test_sampling_panel_titles_clear_the_tick_labels_above(draw):
    logits = np.random.default_rng(0).normal(size=65) * 3
    from minigpt.sampling import sampling_stages_of

    view = SamplingExplorer(sampling_stages_of(logits), [chr(33 + i) for i in range(65)], previous_ids=[1, 2, 3],
                            temperature=0.8, top_k=10, top_p=0.9, repetition_penalty=1.3)  # fmt: skip
    boxes = check(draw, view.figure())
    assert len(boxes["panel titles"]) == 5
