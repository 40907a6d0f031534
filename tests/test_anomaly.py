"""detect_anomaly names the first op that made a NaN or Inf, and the line of the test that
called it; in backward, the op whose VJP made one and the line that created that op."""

import inspect

import numpy as np
import pytest

import autograd_lite as al


def _next_line() -> int:
    return inspect.currentframe().f_back.f_lineno + 1


@pytest.fixture(autouse=True)
def _quiet_numpy():
    with np.errstate(divide="ignore", invalid="ignore"):
        yield


def test_forward_names_the_first_op_to_make_a_nan_and_the_line():
    x = al.tensor([1.0, -1.0], requires_grad=True)
    h = x * 2  # finite: not reported
    with pytest.raises(FloatingPointError) as info, al.detect_anomaly():
        line = _next_line()
        y = al.log(h)
        y * 2  # would hold NaN too, but is never reached
    assert str(info.value) == (
        "log: output holds NaN (all of its inputs were finite, so this op is where it started); "
        f"input shapes (2,) (test_anomaly.py:{line})"
    )


def test_forward_says_when_the_nan_came_in_from_outside_the_tape():
    x = al.tensor([1.0, np.inf], requires_grad=True)
    expected = r"mul: output holds Inf \(its input #0 already held NaN/Inf\)"
    with pytest.raises(FloatingPointError, match=expected), al.detect_anomaly():
        x * 2


def test_backward_names_the_op_whose_gradient_went_infinite_and_where_it_was_made():
    x = al.tensor([0.0, 4.0], requires_grad=True)
    with al.detect_anomaly():
        line = _next_line()
        y = al.sqrt(x)  # finite forward; d sqrt/dx = 1/(2 sqrt x) is Inf at 0
        with pytest.raises(FloatingPointError) as info:
            y.sum().backward()
    assert str(info.value) == (
        "sqrt: backward produced Inf in the gradient of input #0 "
        f"(op created at test_anomaly.py:{line})"
    )


def test_detect_anomaly_works_as_a_decorator():
    @al.detect_anomaly()
    def divide(a, b):
        return a / b

    with pytest.raises(FloatingPointError, match=r"^div: output holds NaN and Inf"):
        divide(al.tensor([0.0, 1.0], requires_grad=True), al.tensor([0.0, 0.0]))


def test_without_detect_anomaly_nans_propagate_silently():
    x = al.tensor([-1.0], requires_grad=True)
    y = al.log(x) * 2
    assert np.isnan(y.item())
    y.backward()
    np.testing.assert_array_equal(x.grad, [-2.0])
