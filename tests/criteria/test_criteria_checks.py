"""Validation errors name the problem, the view index and what to do."""

import pytest
import torch

from e2mc_plugin.criteria.checks import (
    check_finite,
    check_min_rows,
    check_spacings_batch,
    check_views,
    nonfinite_flags,
)


def test_views_must_be_a_non_empty_sequence_of_2d_tensors():
    with pytest.raises(TypeError, match="sequence"):
        check_views(torch.randn(4, 3))
    with pytest.raises(ValueError, match="empty"):
        check_views([])
    with pytest.raises(ValueError, match=r"view 1: expected a 2-D tensor"):
        check_views([torch.randn(4, 3), torch.randn(4, 3, 2)])
    with pytest.raises(TypeError, match="view 0: expected a torch.Tensor"):
        check_views([[1.0, 2.0]])
    with pytest.raises(TypeError, match="floating-point"):
        check_views([torch.ones(4, 3, dtype=torch.long)])


def test_views_must_share_one_shape():
    with pytest.raises(ValueError, match=r"view 0 is \(4, 3\), view 2 is \(5, 3\)"):
        check_views([torch.randn(4, 3), torch.randn(4, 3), torch.randn(5, 3)])


@pytest.mark.parametrize("bad", [float("nan"), float("inf"), -float("inf")])
def test_non_finite_values_name_the_view(bad):
    views = [torch.randn(4, 3), torch.randn(4, 3)]
    views[1][2, 1] = bad
    with pytest.raises(ValueError, match="view 1 has non-finite values"):
        check_finite(views)
    check_finite(views[:1])


def test_batch_errors_say_n_m_and_what_to_do():
    with pytest.raises(ValueError) as err:
        check_spacings_batch(4, 4)
    assert "n=4" in str(err.value) and "m=4" in str(err.value)
    assert "larger batch" in str(err.value) and "gather=True" in str(err.value)
    with pytest.raises(ValueError, match="gather=True"):
        check_min_rows(1, 2, "the covariance penalty")
    check_spacings_batch(5, 4)


def test_empty_embedding_and_empty_batch_are_named():
    with pytest.raises(ValueError, match=r"view 1: the embedding is empty \(d = 0"):
        check_views([torch.randn(4, 3), torch.randn(4, 0)])
    with pytest.raises(ValueError, match=r"view 0: the batch is empty \(n = 0"):
        check_views([torch.randn(0, 3)])


def test_nonfinite_flags_mark_each_tensor_on_its_device():
    a, b, c = torch.randn(4, 3), torch.randn(4, 3), torch.tensor(float("inf"))
    b[0, 0] = float("nan")
    big = torch.full((4, 3), 3e38)  # a finite tensor whose sum overflows: not flagged
    flags = nonfinite_flags([a, b, c, big])
    assert flags.dtype == torch.int32 and flags.tolist() == [0, 1, 1, 0]
