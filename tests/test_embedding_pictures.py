"""Embedding pictures: the 3D scene fits its picture, labels keep apart, and AnalogyPlane draws the analogy's plane."""

import io
import json

import ipywidgets as W
import numpy as np
import pytest

from widgets import AnalogyPlane, EmbeddingSpace3D, picture, theme
from widgets.embedding import CAMERA, MARK_PX, PLACES, label_positions

NOUNS = ["man", "woman", "king", "queen", "boy", "girl", "apple", "pear", "stone"]


def nouns(seed=0, spread=5.0):
    """Word vectors [9, 16] in which the analogy's offsets are small next to how much the other words differ."""
    rng = np.random.default_rng(seed)
    female, royal = np.eye(16)[0], np.eye(16)[1]
    person = rng.normal(size=16) * 0.1
    x = [person, person + female, person + royal, person + royal + female, person + 0.3 * np.eye(16)[2],
         person + 0.3 * np.eye(16)[2] + female]  # fmt: skip
    # apple, pear, stone: far from the people, in directions that have nothing to do with the analogy
    x += [person + spread * rng.normal(size=16) * (np.arange(16) >= 3) for _ in range(3)]
    return np.array(x) + 0.01 * rng.normal(size=(9, 16))


# ----------------------------------------------------------------------------- 3D scene


def test_the_camera_stands_back_far_enough_for_the_whole_cube():
    fig = EmbeddingSpace3D(nouns(), NOUNS).figure()
    eye = fig.layout.scene.camera.eye
    default = 1.25 * np.sqrt(3)  # plotly's own camera, which cut off the cube's bottom corner and axis titles
    assert np.linalg.norm([eye.x, eye.y, eye.z]) > default and eye.x == eye.y == eye.z  # further back, the same direction
    assert fig.layout.scene.aspectmode == "cube"  # the label placement assumes a cube
    assert fig.layout.scene.domain.x[1] <= fig.layout.legend.x  # the legend does not cover the scene
    assert fig.layout.scene.camera.to_plotly_json() == {k: v for k, v in CAMERA.items()}


def _blank_border(png: bytes, rows: int = 6) -> bool:
    from PIL import Image

    pixels = np.asarray(Image.open(io.BytesIO(png)).convert("L"))
    return bool((pixels[-rows:] > 245).all() and (pixels[:, :rows] > 245).all())


@pytest.mark.parametrize("make", [
    lambda: EmbeddingSpace3D(nouns(), NOUNS),
    lambda: EmbeddingSpace3D.contextual({"bank (river)": np.cumsum(np.eye(5, 8) * 3, 0),
                                         "bank (money)": -np.cumsum(np.eye(5, 8)[::-1] * 3, 0)}),
], ids=["points", "paths"])
def test_the_picture_shows_the_whole_scene(make):
    if picture.find_browser() is None:
        pytest.skip("no Chrome/Chromium for pictures (apt-get install chromium)")
    png = picture.png(make().figures(), hint="")
    assert png is not None, picture.off_reason()
    # nothing drawn on the picture's bottom and left edges: the cube, its ticks and axis titles fit inside
    assert _blank_border(png)


# ----------------------------------------------------------------------------- labels


def test_labels_of_points_in_one_place_go_four_ways():
    places = label_positions(np.zeros((4, 2)), ["a", "b", "c", "d"], np.zeros((0, 2)))
    assert sorted(places) == sorted(PLACES)


def test_labels_keep_off_a_line_of_marks():
    # a line running straight up from the point: the label goes anywhere but up
    line = np.column_stack([np.zeros(20), np.linspace(0, 0.3, 20)])
    assert label_positions(np.zeros((1, 2)), ["word"], line) != ["top center"]
    # and a point with room all round keeps its label above it
    assert label_positions(np.zeros((1, 2)), ["word"], np.zeros((0, 2))) == ["top center"]
    assert MARK_PX > 0


# ----------------------------------------------------------------------------- the analogy plane


def test_the_plane_is_spanned_by_the_two_offsets_and_the_four_words_are_its_parallelogram():
    x = nouns()
    view = AnalogyPlane(x, NOUNS, "king", "man", "woman", k=2)
    p, off = view.coords, view.off_plane
    man, woman, king = x[0].astype(np.float64), x[1].astype(np.float64), x[2].astype(np.float64)
    across = (woman - man) / np.linalg.norm(woman - man)
    up = (king - man) - ((king - man) @ across) * across
    up /= np.linalg.norm(up)
    # every word in the plane's coordinates, by hand: man at the origin, woman along the first axis
    np.testing.assert_allclose(p, (x - man) @ np.stack([across, up]).T, atol=1e-5)
    np.testing.assert_allclose(p[0], [0, 0], atol=1e-6)
    assert p[1][0] == pytest.approx(np.linalg.norm(woman - man), rel=1e-5) and abs(p[1][1]) < 1e-5
    assert p[2][1] > 0
    np.testing.assert_allclose(off[:3], 0, atol=1e-5)
    np.testing.assert_allclose(off[6], np.linalg.norm((x[6] - man) - p[6] @ np.stack([across, up])), rtol=1e-5)
    fig = view.figure()
    diamond = next(t for t in fig.data if t.name == "king - man + woman")
    np.testing.assert_allclose([diamond.x[0], diamond.y[0]], p[2] + p[1] - p[0], atol=1e-6)  # a - b + c
    arrows = {t.name: t for t in fig.data if t.mode == "lines+markers"}
    np.testing.assert_allclose(np.column_stack([arrows["man -> king"].x, arrows["man -> king"].y]), p[[0, 2]])
    woman_arrow = arrows["woman -> king - man + woman"]
    np.testing.assert_allclose([woman_arrow.x[1] - woman_arrow.x[0], woman_arrow.y[1] - woman_arrow.y[0]],
                               p[2] - p[0], atol=1e-6)  # the same offset again, from woman  # fmt: skip


def test_the_analogy_and_its_rings_are_the_cosine_neighbours_in_all_dimensions():
    x = nouns()
    plane = AnalogyPlane(x, NOUNS, "king", "man", "woman", k=2)
    assert plane.found == EmbeddingSpace3D(x, NOUNS).analogy("king", "man", "woman", k=2)
    assert plane.found[0][0] == "queen"
    rings = next(t for t in plane.figure().data if t.name == "nearest (cosine)")
    found = [NOUNS.index(word) for word, _ in plane.found]
    np.testing.assert_allclose(np.column_stack([rings.x, rings.y]), plane.coords[found])


def test_the_four_words_that_pca_piles_up_lie_apart_in_the_plane():
    x = nouns(spread=20.0)  # the other words differ so much that PCA's axes are theirs
    four = [NOUNS.index(w) for w in ("king", "man", "woman", "queen")]

    def closest_pair(points):
        scaled = (points - points.min(0)) / np.ptp(points, axis=0)  # both pictures scale each axis to its span
        d = np.linalg.norm(scaled[four, None] - scaled[None, four], axis=-1)
        return d[~np.eye(4, dtype=bool)].min()

    pca = EmbeddingSpace3D(x, NOUNS).coords
    assert closest_pair(pca) < 0.02  # on top of each other in the 3D picture
    assert closest_pair(AnalogyPlane(x, NOUNS, "king", "man", "woman").coords) > 0.05  # apart in the plane
    labels = next(t for t in AnalogyPlane(x, NOUNS, "king", "man", "woman").figure().data if "king" in t.text)
    assert list(labels.text) == NOUNS  # every word is named in the picture


def test_another_analogy_redraws_the_plane_and_pickers_are_live():
    view = AnalogyPlane(nouns(), NOUNS, "king", "man", "woman", title="Nouns")
    assert repr(view) == "AnalogyPlane('king' - 'man' + 'woman', points=9, dim=16)"
    rows = [w for w in view.widget.children if isinstance(w, W.HBox)]
    assert len([w for row in rows for w in row.children if isinstance(w, W.Combobox)]) == 3
    view.analogy("girl", "boy", "man", k=1)
    assert "the plane of boy -> man and boy -> girl" in json.loads(view._pane.figure)["layout"]["title"]["text"]
    assert view.found == view.analogy("girl", "boy", "man", k=1) and "girl - boy + man" in view._result.value
    title = view.figure().layout.title
    assert title.text.startswith("Nouns") and view.figure().layout.template.layout.title.xanchor == "left"
    assert {t.marker.color for t in view.figure().data if t.name == "girl - boy + man"} == {theme.ARROW}


@pytest.mark.parametrize("words, message", [
    (("king", "man", "man"), "'man' and 'man' have the same vector: b -> c gives no direction"),
    (("woman", "man", "woman"), "'man' -> 'woman' runs along 'man' -> 'woman': the two offsets span no plane"),
    (("king", "man", "duke"), "'duke' is not one of the labels"),
])
def test_an_analogy_with_no_plane_is_refused_clearly(words, message):
    with pytest.raises(ValueError, match=message):
        AnalogyPlane(nouns(), NOUNS, *words)
