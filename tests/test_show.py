"""matrix_text prints a small matrix with named rows and columns, and never changes the numbers."""

import math

import pytest
import torch

from minigpt.course.show import matrix_text


def test_a_matrix_with_names_title_and_shape():
    m = torch.tensor([[1.0, -0.5], [float("-inf"), 2.25]])
    text = matrix_text(m, "scores", rows=["the", "cat"], cols=["a", "b"])
    lines = text.splitlines()
    assert lines[0] == "scores  [2, 2]"
    assert lines[1].split() == ["a", "b"]
    assert lines[2].split() == ["the", "1.00", "-0.50"]
    assert lines[3].split() == ["cat", "-inf", "2.25"]
    assert len({len(line) for line in lines[1:]}) == 1, "columns are aligned"


def test_vectors_lists_digits_and_no_negative_zero():
    assert matrix_text([0.123, -0.0001], digits=1).splitlines()[1].split() == ["0", "0.1", "0.0"]
    assert "nan" in matrix_text([[math.nan]])


def test_wrong_shapes_and_names_are_refused():
    with pytest.raises(ValueError, match="1-D or 2-D"):
        matrix_text(torch.zeros(2, 2, 2))
    with pytest.raises(ValueError, match="row names"):
        matrix_text(torch.zeros(2, 3), rows=["a"])
