"""Prompt encoding and validation."""

from __future__ import annotations

import numpy as np
import pytest

from tinysam_mobile.errors import PromptError
from tinysam_mobile.prompts import encode_prompt, prepare_mask_input

HW = (534, 800)  # resized to (684, 1024) at 1024
SX, SY = 1024 / 800, 684 / 534


def test_points_only_gets_padding_point() -> None:
    coords, labels = encode_prompt(HW, 1024, [[100.0, 50.0], [10.0, 20.0]], [1, 0])
    assert coords.dtype == np.float32
    assert labels.dtype == np.float32
    assert coords.shape == (1, 3, 2)
    np.testing.assert_allclose(coords[0, 0], [100 * SX, 50 * SY], rtol=1e-6)
    np.testing.assert_allclose(coords[0, 2], [0.0, 0.0])
    np.testing.assert_array_equal(labels, [[1.0, 0.0, -1.0]])


def test_box_only_is_two_corners() -> None:
    coords, labels = encode_prompt(HW, 1024, box=[10, 20, 300, 400])
    assert coords.shape == (1, 2, 2)
    np.testing.assert_allclose(coords[0], [[10 * SX, 20 * SY], [300 * SX, 400 * SY]], rtol=1e-6)
    np.testing.assert_array_equal(labels, [[2.0, 3.0]])


def test_box_and_points_points_first_no_padding() -> None:
    coords, labels = encode_prompt(HW, 1024, [[5, 6]], [1], box=np.array([[1, 2, 3, 4]]))
    assert coords.shape == (1, 3, 2)
    np.testing.assert_array_equal(labels, [[1.0, 2.0, 3.0]])
    np.testing.assert_allclose(coords[0, 0], [5 * SX, 6 * SY], rtol=1e-6)
    np.testing.assert_allclose(coords[0, 2], [3 * SX, 4 * SY], rtol=1e-6)


def test_edges_of_image_are_allowed() -> None:
    coords, _ = encode_prompt(HW, 1024, [[800, 534], [0, 0]], [1, 1], box=[0, 0, 800, 534])
    np.testing.assert_allclose(coords[0, 0], [1024, 684])


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"point_coords": [[801, 5]], "point_labels": [1]}, r"point 0 at \(x=801"),
        ({"point_coords": [[5, 5], [5, -0.5]], "point_labels": [1, 1]}, "point 1"),
        ({"point_coords": [[5, 535]], "point_labels": [1]}, "outside"),
        ({"point_coords": [[np.nan, 5]], "point_labels": [1]}, "NaN or infinite"),
        ({"point_coords": [[np.inf, 5]], "point_labels": [1]}, "NaN or infinite"),
        ({"point_coords": [[5, 5]], "point_labels": [2]}, "not 0 .* or 1"),
        ({"point_coords": [[5, 5]], "point_labels": [-1]}, "not 0"),
        ({"point_coords": [[5, 5]], "point_labels": [0.5]}, "not 0"),
        ({"point_coords": [[5, 5]]}, "without point_labels"),
        ({"point_labels": [1]}, "without point_coords"),
        ({"point_coords": [[5, 5], [6, 6]], "point_labels": [1]}, "2 points but .* 1 labels"),
        ({"point_coords": [5, 5], "point_labels": [1]}, r"shape \(N, 2\)"),
        ({"point_coords": [[5, 5, 5]], "point_labels": [1]}, r"shape \(N, 2\)"),
        ({"point_coords": [[5, 5]], "point_labels": [[1]]}, r"shape \(N,\)"),
        ({"point_coords": np.zeros((0, 2)), "point_labels": []}, "empty"),
        ({"point_coords": [["a", 5]], "point_labels": [1]}, "numeric"),
        ({"box": [10, 20, 5, 30]}, "x1 < x0"),
        ({"box": [10, 20, 30, 5]}, "y1 < y0"),
        ({"box": [10, 20, 900, 30]}, "box corner 1"),
        ({"box": [-1, 20, 30, 40]}, "box corner 0"),
        ({"box": [1, 2, 3]}, r"shape \(4,\)"),
        ({"box": [1, np.nan, 3, 4]}, "NaN"),
        ({}, "empty prompt"),
    ],
)
def test_bad_prompts(kwargs: dict, match: str) -> None:
    with pytest.raises(PromptError, match=match):
        encode_prompt(HW, 1024, **kwargs)


def test_prompt_error_is_value_error() -> None:
    with pytest.raises(ValueError):
        encode_prompt(HW, 1024, [[-5, 0]], [1])


def test_mask_input_none() -> None:
    mask, has = prepare_mask_input(None, (16, 16))
    assert mask.shape == (1, 1, 16, 16)
    assert not mask.any()
    np.testing.assert_array_equal(has, [0.0])
    assert has.dtype == np.float32


@pytest.mark.parametrize("shape", [(16, 12), (1, 16, 12), (1, 1, 16, 12)])
def test_mask_input_accepted_shapes(shape: tuple[int, ...]) -> None:
    m = np.random.default_rng(0).standard_normal(shape)
    mask, has = prepare_mask_input(m, (16, 12))
    assert mask.shape == (1, 1, 16, 12)
    assert mask.dtype == np.float32
    np.testing.assert_allclose(mask.ravel(), m.ravel().astype(np.float32))
    np.testing.assert_array_equal(has, [1.0])


@pytest.mark.parametrize("shape", [(12, 16), (3, 16, 12), (2, 1, 16, 12), (16,), (1, 1, 1, 16, 12)])
def test_mask_input_wrong_shape(shape: tuple[int, ...]) -> None:
    with pytest.raises(PromptError, match=r"mask_input must have shape \(16, 12\)"):
        prepare_mask_input(np.zeros(shape), (16, 12))


def test_mask_input_nan() -> None:
    m = np.zeros((16, 16))
    m[3, 3] = np.nan
    with pytest.raises(PromptError, match="NaN"):
        prepare_mask_input(m, (16, 16))
