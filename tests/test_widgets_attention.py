"""AttentionView: figure data equals the input, selection drives the panes, math matches by hand."""

import base64
import json

import ipywidgets as W
import numpy as np
import pytest

from widgets import AttentionView, picture
from widgets.attention_math import aggregate_heads, remove_sink, rollout, thumbnail_mosaic, thumbnails


def causal_weights(L=2, H=3, T=6, seed=0):
    rng = np.random.default_rng(seed)
    scores = rng.normal(size=(L, H, T, T)).astype(np.float32)
    scores = np.where(np.triu(np.ones((T, T), bool), 1), -np.inf, scores)
    e = np.exp(scores - scores.max(-1, keepdims=True))
    return (e / e.sum(-1, keepdims=True)).astype(np.float32)


def tokens(T):
    return [f"t{i}" for i in range(T)]


def test_head_heatmap_equals_input_slice():
    w = causal_weights()
    view = AttentionView(tokens(6), w, layer=1, head=2, show_masked=True)
    z = view.head_figure().data[0].z
    np.testing.assert_array_equal(np.asarray(z), w[1, 2])
    view.select(layer=0, head=1)
    np.testing.assert_array_equal(np.asarray(view.head_figure().data[0].z), w[0, 1])


def test_masked_future_is_blank_unless_shown():
    view = AttentionView(tokens(6), causal_weights())
    z = np.asarray(view.head_figure().data[0].z)
    assert np.isnan(z[0, 1:]).all() and not np.isnan(np.tril(z)).any()


def test_selecting_a_token_updates_lines_to_that_row():
    w = causal_weights(T=8)
    view = AttentionView(tokens(8), w, layer=1, heads=[0, 2])
    for q in (7, 3):
        view.select(query=q)
        fig = view.text_figure()
        assert len(fig.data) == 2 + 3 * 2
        for head in (0, 2):
            drawn = set()
            for trace in (t for t in fig.data[2:] if t.name == f"head {head}"):
                ys = np.asarray(trace.y, dtype=float)
                drawn |= {int(-y) for y in ys[1::3]}  # segment ends are the keys
                assert np.all(ys[0::3] == -q)  # every segment starts at the query
            expected = {k for k in range(8) if w[1, head, q, k] >= 0.02}
            assert drawn == expected
    assert view.selection["query"] == 3


def test_the_selected_head_is_drawn_on_top_and_the_legend_keeps_head_order():
    view = AttentionView(tokens(8), causal_weights(T=8), layer=1, head=1)
    fig = view.text_figure()
    assert [t.name for t in fig.data[-3:]] == ["head 1"] * 3  # drawn last, so its lines cover the others
    ranks = {t.name: t.legendrank for t in fig.data[2:] if t.showlegend}
    assert sorted(ranks, key=ranks.get) == ["head 0", "head 1", "head 2"]


def test_a_causal_text_view_shows_every_key_the_query_can_see():
    # 59 tokens, a window of 48, the query at 44: a window centred on the query would start at 11 and cut
    # off keys 0-10, which the query can see; under the causal mask the window ends at the query instead
    view = AttentionView(tokens(59), causal_weights(T=59), query=44, text_window=48)
    keys = list(view.text_figure().data[1].text)
    assert keys[0] == tokens(59)[0] and keys[-1] == tokens(59)[47] and len(keys) == 48
    assert "(tokens 0-47 of 59)" in view.text_figure().layout.title.text
    view.select(query=5)  # early queries keep the window at the start
    assert list(view.text_figure().data[1].text) == tokens(59)[:48]
    view.select(query=58)
    assert list(view.text_figure().data[1].text) == tokens(59)[11:]
    view._on_text_click({"curve": 0, "point": 0})  # the left column's first row is token 11
    assert view.selection["query"] == 11


def test_clicks_update_selection():
    view = AttentionView(tokens(40), causal_weights(L=3, H=4, T=40), thumb_size=8)
    view.widget  # build panes
    view._grid.click = {"x": 2 * 10 + 3, "y": 1 * 10 + 5, "curve": 0, "point": None, "n": 1}
    assert (view.selection["layer"], view.selection["head"]) == (1, 2)
    view._head.click = {"x": "0 t0", "y": "12 t12", "curve": 0, "point": None, "n": 2}
    assert view.selection["query"] == 12
    view._text.click = {"x": 0, "y": 0, "curve": 0, "point": 4, "n": 3}
    assert view.selection["query"] == 4
    assert json.loads(view._text.figure)["layout"]["title"]["text"].startswith("Text view, layer 1: query 4")


def test_head_view_names_the_tokens_on_its_axes():
    fig = AttentionView(["the", "cat", "because"], causal_weights(T=3)).head_figure()
    assert list(fig.data[0].x) == ["0 'the'", "1 'cat'", "2 'because'"] == list(fig.data[0].y)
    for axis in (fig.layout.xaxis, fig.layout.yaxis):
        # the margins grow to fit the names (no "ause" cut off) and the axis title stands off beyond them
        assert axis.showticklabels and axis.automargin is True and axis.title.standoff > 0
        assert list(axis.ticktext) == ["the", "cat", "because"]


def _head_axes(view):
    """The head view's (x axis, x values, y axis, y values) in the figures the picture is made of."""
    fig = view.figures()[1]
    assert fig.data[0].name == "head"
    return fig.layout.xaxis, list(fig.data[0].x), fig.layout.yaxis, list(fig.data[0].y)


NUMBERS = ["22", "11", "5", "22", "1 3", "11", "5", "22"]  # look like numbers to plotly, and repeat


def test_numeric_looking_and_repeated_tokens_stay_categories_in_order():
    xaxis, x, yaxis, y = _head_axes(AttentionView(NUMBERS, causal_weights(T=8)))
    for axis, values in ((xaxis, x), (yaxis, y)):
        # a category axis (not numbers 0..2200), one category per position (repeats would merge), ticks
        # at every position named by exactly the token, in order
        assert axis.type == "category" and len(set(values)) == len(values) == len(NUMBERS)
        assert list(axis.tickvals) == values and list(axis.ticktext) == NUMBERS


def test_cross_attention_axes_name_each_side_with_its_own_tokens():
    rng = np.random.default_rng(0)
    w = rng.random((2, 2, 3, 8)).astype(np.float32)
    w /= w.sum(-1, keepdims=True)
    xaxis, x, yaxis, y = _head_axes(AttentionView(NUMBERS, w, query_tokens=["7", "7", "0"], layer=1))
    assert xaxis.type == yaxis.type == "category"
    assert list(xaxis.ticktext) == NUMBERS and list(xaxis.tickvals) == x and len(set(x)) == 8
    assert list(yaxis.ticktext) == ["7", "7", "0"] and list(yaxis.tickvals) == y and len(set(y)) == 3


def test_long_sequences_name_every_nth_token_then_none():
    many = [str(i % 7) for i in range(50)]
    xaxis, x, _, _ = _head_axes(AttentionView(many, causal_weights(L=1, H=1, T=50)))
    step = 2  # 50 tokens: every second one, so the names do not overlap
    assert xaxis.type == "category" and list(xaxis.ticktext) == many[::step] and list(xaxis.tickvals) == x[::step]
    xaxis, x, _, _ = _head_axes(AttentionView(tokens(80), causal_weights(L=1, H=1, T=80)))
    assert xaxis.type == "category" and xaxis.showticklabels is False and len(set(x)) == 80


def test_click_hints_are_in_the_live_widget():
    view = AttentionView(tokens(6), causal_weights())
    hints = [w.value for w in view.widget.children if isinstance(w, W.HTML)]
    # the figures say nothing of clicks (a picture cannot be clicked): test_widgets_views checks every view
    assert any("Click a head" in h for h in hints) and any("Click a token" in h for h in hints)


def test_controls_and_panes_follow_select():
    view = AttentionView(tokens(6), causal_weights())
    view.widget
    before = view._head.figure
    view._controls["head"].value = 2
    assert view.selection["head"] == 2 and view._head.figure != before
    view.select(aggregation="mean")
    assert view._controls["aggregation"].value == "mean"


def test_mean_max_rollout_match_hand_computation():
    w = causal_weights(L=2, H=2, T=3)
    np.testing.assert_allclose(aggregate_heads(w, "mean")[1], (w[1, 0] + w[1, 1]) / 2, rtol=1e-6)
    np.testing.assert_allclose(aggregate_heads(w, "max")[0], np.maximum(w[0, 0], w[0, 1]))
    eye = np.eye(3)
    a0 = 0.5 * w[0].mean(0) + 0.5 * eye
    a1 = 0.5 * w[1].mean(0) + 0.5 * eye
    a0, a1 = a0 / a0.sum(-1, keepdims=True), a1 / a1.sum(-1, keepdims=True)
    r = rollout(w)
    np.testing.assert_allclose(r[0], a0, rtol=1e-5)
    np.testing.assert_allclose(r[1], a1 @ a0, rtol=1e-5)
    np.testing.assert_allclose(r.sum(-1), 1, rtol=1e-5)


def test_aggregation_shown_in_head_view():
    w = causal_weights()
    view = AttentionView(tokens(6), w, aggregation="rollout", layer=1, show_masked=True)
    np.testing.assert_allclose(np.asarray(view.head_figure().data[0].z), rollout(w)[1], rtol=1e-6)
    assert list(view.query_rows()) == ["rollout"]


def test_remove_sink_renormalises():
    w = np.array([[[[1.0, 0, 0], [0.5, 0.5, 0], [0.5, 0.25, 0.25]]]], np.float32)
    out = remove_sink(w)[0, 0]
    np.testing.assert_allclose(out, [[0, 0, 0], [0, 1, 0], [0, 0.5, 0.5]])


def test_compare_mode_shows_difference():
    a, b = causal_weights(seed=0), causal_weights(seed=1)
    view = AttentionView(tokens(6), a, compare=b, layer=1, head=1, show_masked=True)
    np.testing.assert_allclose(np.asarray(view.head_figure().data[0].z), a[1, 1] - b[1, 1], atol=1e-7)
    assert "compare" in repr(view)


def test_cross_attention_two_token_lists():
    rng = np.random.default_rng(0)
    w = rng.random((1, 2, 3, 5)).astype(np.float32)
    w /= w.sum(-1, keepdims=True)
    view = AttentionView(tokens(5), w, query_tokens=["a", "b", "c"])
    assert repr(view) == "AttentionView(layers=1, heads=2, queries=3, keys=5)"
    fig = view.text_figure()
    assert list(fig.data[0].text) == ["a", "b", "c"] and len(fig.data[1].text) == 5
    with pytest.raises(ValueError, match="rollout needs self-attention"):
        view.select(aggregation="rollout")


def test_thumbnails_are_block_means_and_mosaic_is_uint8():
    w = causal_weights(L=2, H=3, T=64)
    t = thumbnails(w, 32)
    np.testing.assert_allclose(t[1, 2, 3, 4], w[1, 2, 6:8, 8:10].mean(), rtol=1e-5)
    odd = thumbnails(w[..., :63, :63], 32)  # uneven blocks take the reduceat path
    assert odd.shape == (2, 3, 32, 32)
    m = thumbnail_mosaic(w, 32, gap=2)
    assert m.dtype == np.uint8 and m.shape == (2 * 34, 3 * 34)
    assert m[:32, :32].min() >= 1 and m[32:34].max() == 0


def test_large_model_ships_thumbnails_and_one_head():
    T = 256
    w = np.full((4, 4, T, T), 1.0 / T, np.float32)
    view = AttentionView(tokens(T), w)
    view.widget
    grid = json.loads(view._grid.figure)["data"][0]["z"]
    head = json.loads(view._head.figure)["data"][0]["z"]
    assert grid["dtype"] == "u1" and head["dtype"] == "f4"  # binary typed arrays, not JSON lists
    total = sum(len(p.figure) for p in (view._grid, view._head, view._text))
    assert total < 0.25 * w.nbytes  # far less than the weights themselves


def test_stable_repr_and_bundle_has_widget_and_picture():
    view = AttentionView(tokens(6), causal_weights())
    bundle = view._repr_mimebundle_()
    assert bundle["text/plain"] == "AttentionView(layers=2, heads=3, tokens=6)"
    assert "application/vnd.jupyter.widget-view+json" in bundle
    # no text/html: JupyterLab would prefer it to the picture in an untrusted notebook and strip its scripts
    assert "text/html" not in bundle
    if picture.find_browser() is None:
        pytest.skip("no Chrome/Chromium for pictures (apt-get install chromium)")
    png = base64.b64decode(bundle["image/png"])
    assert png.startswith(b"\x89PNG") and len(png) > 5_000


@pytest.mark.parametrize(
    "weights, toks, message",
    [
        (np.ones((1, 1, 3, 3)) / 3, tokens(4), "3 query tokens|4 query tokens"),
        (np.ones((1, 1, 3, 3)), tokens(3), r"layer 0, head 0, row 0 sums to 3\.0000"),
        (np.full((1, 1, 3, 3), np.nan), tokens(3), "NaN"),
        (np.ones((3,)), tokens(3), "shape"),
        (-np.ones((1, 1, 3, 3)) / 3, tokens(3), "negative"),
        (np.ones((1, 1, 0, 0)), [], "empty"),
    ],
)
def test_validation_messages(weights, toks, message):
    with pytest.raises(ValueError, match=message):
        AttentionView(toks, weights)


def test_validation_names_the_bad_row():
    w = causal_weights()
    w[1, 2, 4] *= 0.5
    with pytest.raises(ValueError, match="layer 1, head 2, row 4"):
        AttentionView(tokens(6), w)
    with pytest.raises(TypeError, match="list of token strings"):
        AttentionView("a b c", np.eye(3))
    with pytest.raises(ValueError, match=r"layer must be an int in \[0, 1\], got 5"):
        AttentionView(tokens(6), causal_weights(), layer=5)


def test_from_model_uses_the_capture_adapter():
    import torch  # widgets need no torch; from_model does
    from minigpt.capture import attention_for_widgets
    from minigpt.config import get_config
    from minigpt.model import GPT
    from minigpt.tokenizers import CharTokenizer

    torch.manual_seed(0)
    text = "hello world"
    tokenizer = CharTokenizer.from_text(text)
    config = get_config("tiny", vocab_size=tokenizer.vocab_size, n_layer=2, n_head=2, n_kv_head=2, n_embd=16, block_size=16)
    model = GPT(config)
    view = AttentionView.from_model(model, tokenizer, text)
    assert repr(view) == f"AttentionView(layers=2, heads=2, tokens={len(text)})"
    captured = attention_for_widgets(model, tokenizer, text)
    assert view.key_tokens == captured["tokens"] == [tokenizer.token_str(i) for i in tokenizer.encode(text)]
    assert np.array_equal(view.weights, captured["weights"])  # the model's attention, as captured
    assert view.causal  # a GPT never looks ahead
