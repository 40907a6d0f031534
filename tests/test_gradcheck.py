"""gradcheck and gradgradcheck: they pass correct gradients and catch wrong ones, saying where."""

import numpy as np
import pytest
from hypothesis import given

import autograd_lite as al
from autograd_lite import GradcheckError, Tensor, engine, gradcheck, gradgradcheck
from autograd_lite.engine import primitive
from autograd_lite.testing.strategies import matmul_shapes, tensors


@pytest.fixture
def scratch_registry(monkeypatch):
    """Ops defined by a test stay out of the registry the meta-test in test_ops enumerates."""
    monkeypatch.setattr(engine, "REGISTRY", dict(engine.REGISTRY))


@pytest.fixture
def wrong_square(scratch_registry):
    """x² with the VJP 3x instead of 2x: the mistake gradcheck exists to catch."""

    @primitive
    def square(x):
        """y = x²;  dx = g*3*x (wrong on purpose)"""
        return x * x

    square.defvjp(lambda g, out, x: g * 3 * x)
    return square


@pytest.fixture
def frozen_cube(scratch_registry):
    """x³ whose VJP is right in value but built from raw data: as a function of x it is
    constant on the tape, so the second derivative comes out 0 instead of 6x."""

    @primitive
    def cube(x):
        """y = x³;  dx = g*3*x² (computed off the tape)"""
        return x**3

    cube.defvjp(lambda g, out, x: g * (3 * np.asarray(x) ** 2))
    return cube


@given(tensors(shape=(2, 3)), tensors(shape=(3,)))
def test_gradcheck_passes_correct_gradients(x, y):
    assert gradcheck(lambda a, b: al.tanh(a * b).sum(axis=0) / (1 + b * b), [x, y])


@given(matmul_shapes().flatmap(lambda ab: tensors(shape=ab[0]).flatmap(
    lambda a: tensors(shape=ab[1]).map(lambda b: (a, b)))))  # fmt: skip
def test_gradcheck_passes_matmul_in_every_shape_case(pair):
    assert gradcheck(lambda a, b: a @ b, list(pair))


def test_gradcheck_leaves_integer_inputs_alone():
    labels = np.array([2, 0])
    assert gradcheck(
        lambda logits, y: al.log_softmax(logits)[np.arange(2), y], [np.ones((2, 3)), labels]
    )


def test_gradcheck_reports_the_worst_element_with_tape_and_numeric_values(wrong_square):
    x = np.array([1.0, -2.0, 0.5])
    with pytest.raises(GradcheckError) as info:
        gradcheck(wrong_square, [x])
    message = str(info.value)
    # The worst element is x[1]: tape 3·(-2) = -6, numeric 2·(-2) = -4.
    assert "d out[1] / d x[1]" in message
    assert "tape -6" in message and "numeric -4" in message
    assert "3 of 9 elements differ" in message


def test_gradcheck_error_is_an_assertion_error_and_can_return_false(wrong_square):
    assert issubclass(GradcheckError, AssertionError)
    assert gradcheck(wrong_square, [np.array([1.0])], raise_exception=False) is False


def test_gradcheck_checks_float32_inputs_in_float64(wrong_square):
    assert gradcheck(lambda t: al.sigmoid(t), [np.linspace(-2, 2, 5, dtype=np.float32)])
    with pytest.raises(GradcheckError):
        gradcheck(wrong_square, [np.ones(2, dtype=np.float32)])


def test_large_inputs_use_random_projections_and_still_pass():
    x = np.random.default_rng(0).standard_normal((400, 300))  # 120,000 Jacobian entries
    assert gradcheck(lambda t: (al.tanh(t) * t).sum(), [x])


def test_large_inputs_with_a_wrong_gradient_fail_by_projection(wrong_square):
    x = np.random.default_rng(0).standard_normal((400, 300))
    with pytest.raises(GradcheckError, match=r"random projection #0 u\^T J v.*tape .*numeric"):
        gradcheck(lambda t: wrong_square(t).sum(), [x])


@pytest.fixture
def nan_square(scratch_registry):
    """x² whose VJP is NaN: a comparison with NaN is never true, so it must count as failing."""

    @primitive
    def square(x):
        """y = x²;  dx = NaN (wrong on purpose)"""
        return x * x

    square.defvjp(lambda g, out, x: g * np.nan)
    return square


@pytest.mark.parametrize("size", [3, 400])  # the full Jacobian, and random projections
def test_a_nan_tape_gradient_fails(nan_square, size):
    with pytest.raises(GradcheckError, match="tape nan"):
        gradcheck(lambda x: nan_square(x), [np.linspace(0.5, 1.5, size)])


def test_output_elements_that_are_infinite_are_skipped_not_failed(wrong_square):
    # Finite differences give inf - inf = NaN for the infinite element; the finite ones are
    # still checked, so a wrong gradient there is caught.
    offset = np.array([0.0, np.inf])
    x = np.array([1.0, 1.0])
    assert gradcheck(lambda t: t * t + offset, [x])
    with pytest.raises(GradcheckError, match=r"d out\[0\] / d x\[0\]: tape 3, numeric 2"):
        gradcheck(lambda t: wrong_square(t) + offset, [x])


def test_gradgradcheck_passes_correct_second_derivatives():
    x = np.array([[0.3, -1.0], [2.0, 0.5]])
    assert gradgradcheck(lambda t: al.softplus(t) * al.sin(t) @ t, [x])


def test_gradgradcheck_catches_a_wrong_second_derivative(frozen_cube):
    x = np.array([0.5, -1.5, 2.0])
    assert gradcheck(frozen_cube, [x])  # first order is right...
    with pytest.raises(GradcheckError, match="tape 0, numeric"):
        gradgradcheck(frozen_cube, [x])  # ...the second is not: 0 instead of 6x·v


def test_an_empty_jacobian_passes():
    assert gradcheck(lambda t: t[0:0], [np.ones(3)])
    assert gradcheck(lambda t: t.sum(), [np.ones(0)])


def test_gradcheck_needs_a_floating_point_input():
    with pytest.raises(ValueError, match="no floating-point input"):
        gradcheck(lambda t: Tensor(t) * 2, [np.array([1, 2])])
