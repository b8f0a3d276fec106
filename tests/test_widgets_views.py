"""Embedding, token, positional, sampling and training views: numbers shown are the right ones.

The positional and sampling views keep no maths of their own: the tests check that they draw exactly
what ``minigpt`` computes (``positional_tables``, ``sampling_stages``)."""

import json
import subprocess
import sys

import ipywidgets as W
import numpy as np
import pytest

import torch

from minigpt.positional_views import positional_tables
from minigpt.sampling import sampling_stages, sampling_stages_of
from minigpt.tokenizers import CharTokenizer
from minigpt.tokenizers.base import visible
from widgets import (AttentionView, EmbeddingSpace3D, FigureView, PositionalEncodingView, SamplingExplorer, TokenView,
                     TrainingDashboard)
from widgets import theme
from widgets.embedding import label_positions
from widgets.sampling import _percent
from widgets.tokens import drawable
from widgets.theme import HEAD_COLOURS


def test_widgets_never_imports_torch():
    code = "import sys, widgets; assert 'torch' not in sys.modules, 'widgets imported torch'"
    subprocess.run([sys.executable, "-c", code], check=True)


def test_32_distinct_head_colours():
    assert len(set(HEAD_COLOURS)) == 32


def plotly_views():
    """One of every view drawn with plotly panes (TokenView's live view is HTML, not a pane)."""
    rng = np.random.default_rng(0)
    attention = np.tril(np.ones((4, 4))) / np.arange(1, 5)[:, None]
    dash = TrainingDashboard()
    dash.on_step(None, {"step": 1, "train_loss": 3.0, "tokens_per_s": 100.0})
    return [
        AttentionView(list("abcd"), attention),
        EmbeddingSpace3D(rng.normal(size=(5, 4)), list("abcde")),
        EmbeddingSpace3D.contextual({"x": rng.normal(size=(3, 4)), "y": rng.normal(size=(3, 4))}),
        PositionalEncodingView(positional_tables(max_len=8, dim=4, n_heads=2)),
        SamplingExplorer(sampling_stages_of([2.0, 1.0, 0.0]), list("abc")),
        dash,
    ]


def layout_value(fig, *path):
    """A layout attribute as plotly draws it: the figure's own value, else its template's."""
    for source in (fig.layout, fig.layout.template.layout):
        value = source
        for key in path:
            value = value[key]
        if value is not None:
            return value
    return None


def strings(node):
    """Every string value in a figure's JSON (keys and base64 array data left out)."""
    if isinstance(node, str):
        yield node
    elif isinstance(node, dict):
        for key, value in node.items():
            if key != "bdata":
                yield from strings(value)
    elif isinstance(node, list):
        for value in node:
            yield from strings(value)


@pytest.mark.parametrize("view", plotly_views(), ids=repr)
def test_titles_sit_left_and_below_the_mode_bar(view):
    for fig in view.figures():
        assert layout_value(fig, "title", "text")
        placed = {key: layout_value(fig, "title", key) for key in ("xanchor", "yref", "y", "yanchor")}
        assert placed == {"xanchor": "left", "yref": "container", "y": 1, "yanchor": "top"}
        assert layout_value(fig, "title", "pad", "t") >= theme.MODEBAR_PX
        assert layout_value(fig, "margin", "t") >= theme.TOP_MARGIN  # the title fits between the strip and the plot


@pytest.mark.parametrize("view", plotly_views(), ids=repr)
def test_figures_give_no_click_instructions(view):
    # a picture of the view (figures()) cannot be clicked; the live widget says what clicks do
    for fig in view.figures():
        assert not [text for text in strings(json.loads(fig.to_json())) if "click" in text.lower()]


# ----------------------------------------------------------------------------- embeddings


def test_pca_variance_reported_is_correct():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(200, 6)) * np.array([5.0, 3.0, 2.0, 0.5, 0.2, 0.1])
    view = EmbeddingSpace3D(x, [str(i) for i in range(200)])
    centred = x - x.mean(0)
    eig = np.sort(np.linalg.eigvalsh(np.cov(centred.T)))[::-1]
    np.testing.assert_allclose(view.explained_variance, eig[:3] / eig.sum(), rtol=1e-6)
    assert f"{100 * view.variance_kept:.1f}%" in view.figure().layout.title.text
    assert repr(view) == "EmbeddingSpace3D(points=200, dim=6)"  # nbval compares it: no float digits in it


def test_analogy_finds_nearest_by_cosine():
    labels = ["king", "man", "woman", "queen", "apple"]
    v = np.array([[1, 1, 0], [1, 0, 0], [0, 0, 1], [0, 1, 1], [5, -5, 0]], float)
    view = EmbeddingSpace3D(v, labels, groups=["royal", "person", "person", "royal", "fruit"])
    best = view.analogy("king", "man", "woman", k=2)
    assert best[0][0] == "queen" and best[0][1] == pytest.approx(1.0)
    names = [t.name for t in view.figure().data]
    assert {"b -> a", "c -> a - b + c", "nearest (cosine)"} <= set(names)
    with pytest.raises(ValueError, match="'prince' is not one of the labels"):
        view.analogy("prince", "man", "woman")


def test_analogy_arrows_have_a_colour_no_group_has():
    v = np.random.default_rng(0).normal(size=(6, 5))
    view = EmbeddingSpace3D(v, list("abcdef"), groups=["male", "female", "other"] * 2)
    view.analogy("a", "b", "c", k=2)
    traces = view.figure().data
    groups = {t.marker.color for t in traces if t.name in ("male", "female", "other")}
    analogy = [t for t in traces if t.name not in ("male", "female", "other")]
    colours = {t.line.color for t in analogy if t.type == "scatter3d" and t.mode == "lines"}
    colours |= {c for t in analogy if t.type == "cone" for _, c in t.colorscale}
    colours |= {t.marker.color for t in analogy if t.name == "a - b + c"}
    assert colours == {theme.ARROW} and theme.ARROW not in groups | set(HEAD_COLOURS)


def test_analogy_redraw_keeps_the_camera():
    view = EmbeddingSpace3D(np.random.default_rng(0).normal(size=(5, 4)), list("abcde"))
    before = view.figure().layout
    view.analogy("a", "b", "c")
    after = view.figure().layout
    # the same uirevision and the same camera in both figures: Plotly.react keeps the one the learner rotated
    # to (it applies a figure's value only where it differs from the previous figure's)
    assert before.uirevision and after.uirevision == before.uirevision
    assert after.scene.camera.to_plotly_json() == before.scene.camera.to_plotly_json()


def test_analogy_controls_only_on_views_made_for_analogies():
    def pickers(view):
        rows = [w for w in view.widget.children if isinstance(w, W.HBox)]
        return [w for row in rows for w in row.children if isinstance(w, W.Combobox)]

    v = np.random.default_rng(0).normal(size=(4, 3))
    assert len(pickers(EmbeddingSpace3D(v, list("abcd")))) == 3  # notebook 02's word vectors keep them
    assert pickers(EmbeddingSpace3D(v, list("abcd"), analogies=False)) == []
    assert pickers(EmbeddingSpace3D.contextual({"bank": v})) == []  # the "bank" paths: a - b + c means nothing
    with pytest.raises(TypeError, match="analogies must be True or False"):
        EmbeddingSpace3D(v, list("abcd"), analogies="yes")


def test_labels_move_away_from_what_is_close_above_them():
    none = np.zeros((0, 2))
    near = np.array([[0.0, 0.0], [0.0, 0.05], [1.0, 1.0]])
    assert label_positions(near, ["a", "b", "c"], none) == ["bottom center", "top center", "top center"]
    # an unlabelled point is still a marker that a label keeps off
    assert label_positions(near, ["a", "", "c"], none) == ["bottom center", "top center", "top center"]
    level = np.zeros((2, 2))  # two labels in one place: one goes up, one down
    assert sorted(label_positions(level, ["a", "b"], none)) == ["bottom center", "top center"]
    arrow_end = np.array([[0.0, 0.04]])  # e.g. an analogy arrow coming down onto the point
    assert label_positions(np.zeros((1, 2)), ["a"], arrow_end) == ["bottom center"]


def test_contextual_paths_draw_one_line_per_token():
    rng = np.random.default_rng(1)
    view = EmbeddingSpace3D.contextual({"bank/river": rng.normal(size=(4, 8)), "bank/money": rng.normal(size=(4, 8))})
    traces = view.figure().data
    assert [t.name for t in traces] == ["bank/river", "bank/money"] and "lines" in traces[0].mode
    # a path is named at its end and its start is marked; hover has every label
    assert list(traces[0].text) == ["L0", "", "", "bank/river"]
    assert list(traces[0].customdata) == ["bank/river L0", "bank/river L1", "bank/river L2", "bank/river L3"]


def test_paths_that_start_together_mark_the_start_once():
    rng = np.random.default_rng(2)
    river, money = rng.normal(size=(3, 8)), rng.normal(size=(3, 8))
    money[0] = river[0]  # the same static vector at layer 0
    traces = EmbeddingSpace3D.contextual({"river": river, "money": money}).figure().data
    assert [list(t.text) for t in traces] == [["L0", "", "river"], ["", "", "money"]]


def test_embedding_validation():
    with pytest.raises(ValueError, match="2 labels for 3 vectors"):
        EmbeddingSpace3D(np.zeros((3, 4)), ["a", "b"])
    with pytest.raises(ValueError, match="NaN"):
        EmbeddingSpace3D(np.full((3, 4), np.nan), ["a", "b", "c"])


@pytest.mark.parametrize("make, message", [
    (lambda: AttentionView(None, np.eye(3)), r"tokens must be a list of token strings, got None \(NoneType\)"),
    (lambda: AttentionView(list("abc"), np.ones((1, 1, 2, 3)) / 3, query_tokens=5),
     r"query_tokens must be a list of token strings, got 5 \(int\)"),
    (lambda: EmbeddingSpace3D(np.zeros((3, 4)), None), r"labels must be a list of strings, one per row of vectors, got None"),
    (lambda: EmbeddingSpace3D(np.zeros((3, 4)), "abc"), "labels must be a list of strings, one per row of vectors, not one string"),
    (lambda: EmbeddingSpace3D(np.zeros((3, 4)), list("abc"), groups=3), r"groups must be a list of strings, .*got 3 \(int\)"),
    (lambda: EmbeddingSpace3D.contextual({"a": np.zeros((2, 4))}, step_labels=2), "step_labels must be a list of strings"),
    (lambda: TokenView("hi", None), "tokenizers: a tokenizer needs encode"),
    (lambda: TokenView("hi", [CharTokenizer.from_text("hi"), None]), "tokenizers: a tokenizer needs encode.*got NoneType"),
])
def test_views_name_the_argument_that_is_none_or_not_a_list(make, message):
    """Not "'NoneType' object is not iterable" from deep inside: the view says which argument is wrong."""
    with pytest.raises(TypeError, match=message):
        make()


# ----------------------------------------------------------------------------- tokens


class MadeUpTokenizer:
    """Any object with encode and token_str works; its strings are shown exactly as given."""

    name = "made-up"

    def encode(self, text):
        return list(range(len(text.split(" "))))

    def token_str(self, i):
        return ["a\n", "<b>&", "  "][i % 3]


def test_token_view_shows_the_strings_it_is_given():
    view = TokenView("x y z", [MadeUpTokenizer()])
    assert view.tokens["made-up"] == [(0, "a\n"), (1, "<b>&"), (2, "  ")]
    page = view.to_html()
    assert ">a\n</span>" in page and ">&lt;b&gt;&amp;</span>" in page and ">  </span>" in page
    assert list(view.figure().data[0].text) == ["a\n", "&lt;b&gt;&amp;", "  "]  # plotly reads its text as HTML


def test_token_view_uses_the_package_convention_for_whitespace():
    text = "a b\n\tb"
    char = CharTokenizer.from_text(text)
    view = TokenView(text, [char])
    assert [p for _, p in view.tokens["char"]] == ["a", "␣", "b", "\\n", "\\t", "b"]  # minigpt.tokenizers.visible
    assert view.tokens["char"] == [(i, char.token_str(i)) for i in char.encode(text)]
    page = view.to_html()
    assert "char: 6 tokens" in page and f"title='id {char.encode(chr(10))[0]}'" in page
    assert repr(view) == "TokenView(chars=6, tokens: char=6)"


def test_token_picture_writes_characters_no_common_font_has_as_code_points():
    text = "Καλημέρα おは I ❤\ufe0f 🐍"
    char = CharTokenizer.from_text(text)
    view = TokenView(text, [char])
    drawn = list(view.figure().data[0].text)
    assert [p for _, p in view.tokens["char"]][8:11] == ["␣", "お", "は"]  # the live view: the characters
    assert drawn[:11] == list("Καλημέρα") + ["␣", "&lt;U+304A&gt;", "&lt;U+306F&gt;"]  # Greek drawn, Japanese escaped
    assert drawn[-4:] == ["❤", "&lt;U+FE0F&gt;", "␣", "&lt;U+1F40D&gt;"]  # the variation selector too
    notes = [a.text for a in view.figure().layout.annotations if "code point" in a.text]
    assert len(notes) == 1  # the picture says what "<U+...>" means
    assert drawable("\x07") == "\x07" and visible("\u2028") == drawable("\u2028")  # the tokenizers' own escape
    assert not [a for a in TokenView("I I", [char]).figure().layout.annotations if "code point" in a.text]


def test_token_view_errors():
    with pytest.raises(ValueError, match="text is empty"):
        TokenView("", [MadeUpTokenizer()])
    with pytest.raises(TypeError, match="a tokenizer needs encode\\(text\\) and token_str\\(id\\).*got object"):
        TokenView("hi", [object()])


# ----------------------------------------------------------------------------- positional


def test_positional_view_draws_the_package_tables():
    tables = positional_tables(max_len=12, dim=8, n_heads=4, rope_base=100.0)
    view = PositionalEncodingView(tables)
    view.alibi_head = 2
    heatmaps = {(t.xaxis, t.yaxis): t.z for t in view.figure().data if t.type == "heatmap"}
    np.testing.assert_array_equal(heatmaps[("x", "y")], tables["sinusoidal"])
    np.testing.assert_array_equal(heatmaps[("x4", "y4")], tables["sinusoidal_similarity"])
    np.testing.assert_array_equal(heatmaps[("x5", "y5")], tables["rope_similarity"])
    below = np.tril(np.ones((12, 12), bool))  # the ALiBi bias is drawn causally (tests/test_positional_views.py)
    np.testing.assert_array_equal(heatmaps[("x6", "y6")][below], tables["alibi_bias"][2][below])
    angles = np.degrees(np.arctan2(tables["rope_sin"], tables["rope_cos"])) % 360
    lines = [t for t in view.figure().data if t.type == "scatter"]
    assert [t.name for t in lines] == ["pair 0", "pair 1", "pair 2", "pair 3"]
    for i, t in enumerate(lines):
        np.testing.assert_array_equal(np.asarray(t.y, float)[~np.isnan(np.asarray(t.y, float))], angles[:, i])
    assert f"slope {tables['alibi_slopes'][2]:.3g}" in view.figure().layout.annotations[5].text
    assert repr(view) == "PositionalEncodingView(max_len=12, dim=8, n_heads=4)"


def test_positional_view_alibi_head_is_checked_and_a_shown_view_follows_it():
    view = PositionalEncodingView(positional_tables(max_len=6, dim=4, n_heads=4))
    for head, error in ((4, ValueError), (-1, ValueError), (1.0, TypeError), (True, TypeError)):
        with pytest.raises(error, match=rf"alibi_head must be an int in \[0, 3\], got {head!r}"):
            view.alibi_head = head
    assert view.alibi_head == 0
    view.widget
    picker, pane = view.widget.children
    view.alibi_head = 3
    assert picker.value == 3 and "ALiBi bias, head 3" in pane.figure
    picker.value = 1
    assert view.alibi_head == 1 and "ALiBi bias, head 1" in pane.figure


def test_positional_view_names_a_table_that_is_missing_or_the_wrong_shape():
    tables = positional_tables(max_len=6, dim=4, n_heads=2)
    with pytest.raises(ValueError, match=r"tables lacks \['rope_sin'\]; make them with minigpt.positional_views"):
        PositionalEncodingView({k: v for k, v in tables.items() if k != "rope_sin"})
    with pytest.raises(ValueError, match=r"tables\['alibi_bias'\] has shape \(2, 5, 5\), expected \(2, 6, 6\)"):
        PositionalEncodingView({**tables, "alibi_bias": tables["alibi_bias"][:, :5, :5]})
    with pytest.raises(TypeError, match="tables must be a dict of arrays, got tuple"):
        PositionalEncodingView((8, 4, 2))


# ----------------------------------------------------------------------------- sampling


@pytest.mark.parametrize(
    "settings",
    [
        dict(temperature=0.7, top_k=5, top_p=None, repetition_penalty=1.0),
        dict(temperature=1.3, top_k=None, top_p=0.8, repetition_penalty=1.5),
        dict(temperature=0.0, top_k=3, top_p=0.5, repetition_penalty=2.0),
    ],
)
def test_sampling_explorer_draws_the_package_stages(settings):
    logits = torch.from_numpy(np.random.default_rng(0).normal(size=40).astype(np.float32) * 3)
    previous = [1, 5, 5, 9]
    view = SamplingExplorer(sampling_stages_of(logits), [f"t{i}" for i in range(40)], previous_ids=previous,
                            show=40, **settings)
    expected = sampling_stages(logits, previous_ids=previous, **settings)
    shown = np.argsort(-expected["raw"].numpy(), kind="stable")
    bars = view.figure().data
    assert [bar.name for bar in bars] == list(expected)
    for bar, (name, probs) in zip(bars, expected.items()):
        probs = probs.numpy()[shown]
        assert list(bar.x) == [repr(f"t{i}") for i in shown]
        np.testing.assert_array_equal([p for p, _ in bar.customdata], probs, err_msg=name)  # the hover's number
        kept = np.array([status == "kept" for _, status in bar.customdata])
        np.testing.assert_array_equal(kept, probs > 0, err_msg=name)
        np.testing.assert_array_equal(np.asarray(bar.y)[kept], probs[kept], err_msg=name)  # blue bars: the probability
    for name, probs in expected.items():
        np.testing.assert_array_equal(view.stages()[name], probs.numpy(), err_msg=name)


def test_sampling_bars_mark_survivors_and_sample_is_a_survivor():
    logits = np.array([4.0, 3.0, 2.0, 1.0, 0.0])
    view = SamplingExplorer(sampling_stages_of(logits), list("abcde"), top_k=2)
    fig = view.figure()
    assert len(fig.data) == 5
    top_k_bars = fig.data[3]
    assert [c == view.figure().data[0].marker.color[0] for c in top_k_bars.marker.color] == [True, True, False, False, False]
    assert {view.sample() for _ in range(20)} <= {"a", "b"}
    view.set(top_k=0, top_p=0.5)  # 0 is the top-k slider's "off"
    assert view.settings["top_k"] is None and np.count_nonzero(view.stages()["top_p"]) == 1


def test_sampling_explorer_validates_what_it_is_given():
    stages = sampling_stages_of([1.0, 2.0, 3.0])
    with pytest.raises(ValueError, match="2 token strings for 3 probabilities"):
        SamplingExplorer(stages, ["a", "b"])
    with pytest.raises(TypeError, match="stages must be a function of the settings, e.g. "
                                        r"minigpt.sampling.sampling_stages_of\(logits\); got ndarray"):
        SamplingExplorer(np.array([1.0, 2.0, 3.0]))
    with pytest.raises(ValueError, match=r"stage 'raw' must be 3 probabilities summing to 1, got shape \(3,\) "
                                         "summing to 6"):
        SamplingExplorer(lambda **settings: {"raw": np.array([1.0, 2.0, 3.0])})
    view = SamplingExplorer(stages, list("abc"))
    with pytest.raises(TypeError, match=r"unknown settings \['temprature'\]"):
        view.set(temprature=0.5)
    with pytest.raises(ValueError, match="temperature must be a number >= 0"):  # the package's check and message
        view.set(temperature=-1.0)
    assert view.settings["temperature"] == 1.0  # a refused setting leaves the view as it was


def test_sampling_titles_show_short_numbers():
    # slider steps of 0.05 arrive as 0.9000000000000001
    view = SamplingExplorer(sampling_stages_of([2.0, 1.0, 0.0]), list("abc"), temperature=0.7000000000000001,
                            top_p=0.9000000000000001)
    titles = [a.text for a in view.figure().layout.annotations]
    assert titles[2].startswith("temperature 0.7: ") and titles[4].startswith("top-p 0.9 (sampled from this): ")
    assert not [t for t in titles if "00000" in t]


def test_sampling_panels_say_what_each_stage_removed_and_moved():
    logits = torch.from_numpy(np.random.default_rng(1).normal(size=30).astype(np.float32) * 2)
    previous = [0, 3, 3]
    # the settings the class docstring gives for a picture where every stage changes something
    settings = dict(temperature=0.8, top_k=10, top_p=0.9, repetition_penalty=1.3)
    view = SamplingExplorer(sampling_stages_of(logits), [f"t{i}" for i in range(30)], previous_ids=previous, **settings)
    stages = sampling_stages(logits, previous_ids=previous, **settings)
    expected = {name: p.double().numpy() for name, p in stages.items()}
    changes = view.changes()
    assert list(changes) == ["repetition_penalty", "temperature", "top_k", "top_p"]
    before = expected["temperature"]
    assert changes["top_k"]["removed"] == 20
    assert changes["top_k"]["removed_mass"] == pytest.approx(np.sort(before)[:20].sum(), rel=1e-5)
    # a filter moves exactly what it cut
    assert changes["top_k"]["moved"] == pytest.approx(changes["top_k"]["removed_mass"], rel=1e-4)
    tv = np.abs(expected["temperature"] - expected["repetition_penalty"]).sum() / 2
    assert changes["temperature"]["removed"] == 0 and changes["temperature"]["moved"] == pytest.approx(tv, rel=1e-4)
    assert all(change["moved"] > 1e-3 for change in changes.values())  # every stage changes something
    titles = [a.text for a in view.figure().layout.annotations]
    assert titles[0] == "raw softmax"
    assert titles[3] == f"top-k 10: removes 20 tokens ({_percent(changes['top_k']['removed_mass'])} of the probability)"
    assert titles[2] == f"temperature 0.8: moves {_percent(changes['temperature']['moved'])} of the probability"
    view.set(repetition_penalty=1.0)
    assert view.changes()["repetition_penalty"]["moved"] == 0
    assert view.figure().layout.annotations[1].text == "repetition penalty 1 on 2 seen tokens: changes nothing"


def test_sampling_titles_give_shares_of_the_probability_in_two_digits_at_most():
    assert [_percent(m) for m in (0.995, 0.4, 0.041, 0.0031, 5e-5, 0.0)] == ["100 %", "40 %", "4.1 %", "0.31 %",
                                                                            "< 0.01 %", "0 %"]  # fmt: skip


def test_sampling_log_axis_shows_every_bar_and_can_be_switched_off():
    logits = np.array([8.0, 4.0, 0.0, -4.0, -8.0])  # probabilities from ~1 down to ~1e-7
    view = SamplingExplorer(sampling_stages_of(logits), list("abcde"), top_k=2)
    fig = view.figure()
    axes = [fig.layout[name] for name in fig.layout if name.startswith("yaxis")]
    assert len(axes) == 5 and {axis.type for axis in axes} == {"log"}
    bottom, top = axes[0].range
    heights = np.concatenate([np.asarray(bar.y) for bar in fig.data])
    assert 10**bottom < heights.min() and heights.max() < 10**top  # the smallest (ghost) bar is drawn, not cut
    assert "log scale" in fig.layout.title.text
    view.widget
    view.set_log_scale(False)
    sent = json.loads(view._pane.figure)["layout"]
    assert sent["yaxis"]["type"] == "linear" and sent["yaxis"]["range"][0] == 0
    assert "linear scale" in sent["title"]["text"]
    with pytest.raises(TypeError, match="log_scale must be True or False, got 'yes'"):
        SamplingExplorer(sampling_stages_of(logits), list("abcde"), log_scale="yes")


def test_sampling_sliders_span_the_row():
    view = SamplingExplorer(sampling_stages_of(np.zeros(66)), [str(i) for i in range(66)])
    sliders = [w for w in view.widget.children if isinstance(w, (W.IntSlider, W.FloatSlider))]
    assert len(sliders) == 4 and {s.layout.width for s in sliders} == {"100%"}


# ----------------------------------------------------------------------------- dashboard


def test_dashboard_is_a_tolerant_trainer_callback():
    dash = TrainingDashboard(min_interval=0.0)
    dash.widget
    for step in range(3):
        dash.on_step(None, {"step": step, "train_loss": 3.0 - step, "tokens_per_s": 1000.0 + step})
    dash.on_step(None, {"step": 3, "train_loss": "not a number"})  # ignored, not a crash
    dash.on_eval(None, {"step": 2, "val_loss": 2.5})
    dash.on_sample(None, {"text": "To be <or> not"})
    sent = json.loads(dash._pane.figure)
    names = [t.get("name") for t in sent["data"]]
    assert names == ["train loss", "val loss", "tokens/s"]
    assert "1,002 tokens/s" in sent["layout"]["title"]["text"]
    assert "To be &lt;or&gt; not" in dash._sample.value
    assert repr(dash) == "TrainingDashboard(train_points=3, val_points=1)"


def test_dashboard_draws_loss_and_speed_in_panels_of_their_own():
    dash = TrainingDashboard(min_interval=0.0)
    for step in range(1, 4):
        dash.on_step(None, {"step": step, "train_loss": 3.0 - step, "tokens_per_s": 1000.0 * step})
    fig = dash.figure()
    speed = [t for t in fig.data if t.name == "tokens/s"][0]
    assert (speed.xaxis, speed.yaxis) == ("x2", "y2") and fig.data[0].yaxis in (None, "y")
    loss_panel, speed_panel = fig.layout.yaxis.domain, fig.layout.yaxis2.domain
    assert speed_panel[1] < loss_panel[0]  # one above the other, not one axis laid over the other
    # no axis on the figure's right edge, where its tick labels were cut off
    assert fig.layout.yaxis2.overlaying is None and fig.layout.yaxis2.side in (None, "left")
    assert fig.layout.xaxis.matches == "x2"  # one step axis
    assert [a.text for a in fig.layout.annotations] == ["train and validation loss", "speed: tokens per second"]
    assert fig.layout.margin.t >= theme.SUBPLOT_TOP_MARGIN  # the title above the panel titles, not on them


def test_dashboard_title_counts_the_steps_of_the_run():
    dash = TrainingDashboard(min_interval=0.0, title="run")
    assert dash.figure().layout.title.text == "run"
    dash.on_step(None, {"step": 2, "train_loss": 3.0, "tokens_per_s": 1234.0})
    assert dash.figure().layout.title.text == "run · step 2 · 1,234 tokens/s"  # no trainer: no total

    class Run:  # what the dashboard reads of a trainer besides the info dicts
        class config:
            max_iters = 5

    dash.on_eval(Run(), {"step": 3, "val_loss": 2.5})
    assert dash.progress() == "step 3 / 5" and "step 3 / 5" in dash.figure().layout.title.text
    dash.on_step(Run(), {"step": 7, "train_loss": 2.0})  # fit(steps=...) went on past max_iters
    assert dash.progress() == "step 7"


def test_dashboard_refuses_a_step_that_is_not_a_whole_number():
    dash = TrainingDashboard(min_interval=0.0)
    for step, error in (("abc", TypeError), (1.5, TypeError), (None, TypeError), (-1, ValueError)):
        with pytest.raises(error, match=rf"info\['step'\] \(the training step\) must be an int >= 0, got {step!r}"):
            dash.on_step(None, {"step": step, "train_loss": 3.0})
        with pytest.raises(error, match=r"info\['step'\]"):
            dash.on_eval(None, {"step": step, "val_loss": 3.0})
    assert dash.history == {"train": [], "val": [], "tokens_per_s": []}  # nothing drawn at a made-up step
    dash.on_step(None, {"step": np.int64(4), "train_loss": 3.0})
    dash.on_step(None, {"train_loss": 2.0})  # no step: the next index
    assert dash.history["train"] == [(4, 3.0), (1, 2.0)]


def test_dashboard_shows_the_sample_box_once_there_is_a_sample():
    dash = TrainingDashboard(min_interval=0.0)
    dash.widget
    dash.on_step(None, {"step": 0, "train_loss": 3.0})
    dash.on_eval(None, {"step": 0, "val_loss": 3.1})
    assert dash._sample.layout.display == "none"  # an overfit run with no sampler never shows an empty box
    dash.on_sample(None, {"text": "hello"})
    assert dash._sample.layout.display is None and "hello" in dash._sample.value


def test_dashboard_draws_what_a_real_trainer_sends():
    from minigpt.config import GPTConfig
    from minigpt.model import GPT
    from minigpt.train import TrainConfig, Trainer

    class Digits:  # ids 0-9 are the digits, enough to write a sample
        def encode(self, text):
            return [int(c) for c in text]

        def decode(self, ids):
            return "".join(str(i) for i in ids)

    data = torch.randint(0, 10, (500,), generator=torch.Generator().manual_seed(0))
    config = TrainConfig(max_iters=4, batch_size=2, warmup_iters=0, eval_interval=2, eval_iters=1, sample_interval=4,
                         sample_prompt="1", sample_tokens=3, progress=False, device="cpu")
    dash = TrainingDashboard(min_interval=0.0)
    model = GPT(GPTConfig(vocab_size=10, block_size=8, n_layer=1, n_head=1, n_embd=8))
    Trainer(model, config, data[:400], data[400:], tokenizer=Digits(), callbacks=[dash]).fit()
    assert [step for step, _ in dash.history["train"]] == [1, 2, 3, 4]
    assert [step for step, _ in dash.history["tokens_per_s"]] == [1, 2, 3, 4]
    assert [step for step, _ in dash.history["val"]] == [2, 4]
    assert len(dash.sample_text) == 4 and dash.sample_text.startswith("1")  # the prompt and 3 new digits
    assert "step 4 / 4" in dash.figure().layout.title.text


# ----------------------------------------------------------------------------- figure view


def two_panels(**layout):
    from plotly.subplots import make_subplots

    words = "the dogs chased the cat because they were hungry".split()
    fig = make_subplots(rows=1, cols=2, subplot_titles=("left", "right"))
    for col in (1, 2):
        fig.add_heatmap(z=np.ones((len(words), len(words))).tolist(), x=words, y=words, row=1, col=col)
    fig.update_yaxes(title_text="query (row)", col=1)
    fig.update_layout(**layout)
    return fig


def test_figure_view_grows_margins_to_hold_tick_labels_and_titles():
    given = two_panels(height=380, margin=dict(t=40, b=10))  # a bottom margin too small for the words
    fig = FigureView(given).figures()[0]
    axes = [fig.layout[name] for name in fig.layout if name.startswith(("xaxis", "yaxis"))]
    assert len(axes) == 4 and all(axis.automargin for axis in axes)
    assert fig.layout.margin.b == 10 and fig.layout.margin.t == 40  # no title: the subplot titles fit in 40 px
    assert not given.layout.xaxis.automargin  # the figure given is left as it was


def test_figure_view_makes_room_for_a_title_above_subplot_titles():
    fig = FigureView(two_panels(title="schedules")).figures()[0]
    assert fig.layout.margin.t == theme.SUBPLOT_TOP_MARGIN
    fig = FigureView(two_panels(title="schedules", margin=dict(t=150))).figures()[0]
    assert fig.layout.margin.t == 150  # more room asked for is kept
    assert repr(FigureView(two_panels(title="schedules"))) == "FigureView('schedules')"
