"""Function transforms (grad, value_and_grad, vjp, jvp, jacobian, hessian) against calculus done
by hand, their composition, and `gradients()` leaving `.grad` alone."""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import autograd_lite as al
from autograd_lite import grad, gradients, hessian, jacobian, jvp, value_and_grad, vjp
from autograd_lite.testing.strategies import tensors

A = np.array([[1.0, -2.0, 0.5], [0.0, 3.0, 1.0]])


def _tanh_layer(x):
    return al.tensor(A) @ al.tanh(x)


def _tanh_layer_jacobian(x: np.ndarray) -> np.ndarray:
    return A * (1 - np.tanh(x) ** 2)  # A @ diag(1 - tanh²(x))


@given(tensors(shape=(3,)))
def test_grad_matches_the_analytic_gradient(x):
    g = grad(lambda t: (al.sin(t) * t).sum())(x)
    np.testing.assert_allclose(g, np.cos(x.data) * x.data + np.sin(x.data))
    assert isinstance(g, np.ndarray)


def test_value_and_grad_with_several_argnums():
    def f(w, b, x):
        return ((x @ w + b) ** 2).sum()

    w, b, x = np.array([1.0, -1.0]), np.array(0.5), np.array([[2.0, 1.0], [0.0, 3.0]])
    value, (dw, db) = value_and_grad(f, argnums=(0, 1))(w, b, x)
    r = x @ w + b
    assert value == pytest.approx(np.sum(r**2))
    np.testing.assert_allclose(dw, 2 * x.T @ r)
    assert db == pytest.approx(2 * r.sum())


def test_grad_accepts_python_floats_and_integers():
    assert grad(lambda t: t**3)(2.0) == pytest.approx(12.0)
    assert grad(lambda t: t**3)(2) == pytest.approx(12.0)  # an int becomes float64


def test_grad_of_a_function_that_ignores_its_input_is_zero():
    np.testing.assert_array_equal(grad(lambda t: al.tensor(1.0))(np.ones(2)), [0.0, 0.0])


def test_grad_needs_a_one_element_output():
    with pytest.raises(TypeError, match="one-element Tensor"):
        grad(lambda t: t * 2)(np.ones(3))


@given(tensors(shape=(3,)), tensors(shape=(2,)))
def test_vjp_is_the_cotangent_times_the_jacobian(x, u):
    out, pullback = vjp(_tanh_layer, x)
    np.testing.assert_allclose(out, A @ np.tanh(x.data))
    (pulled,) = pullback(u.data)
    np.testing.assert_allclose(pulled, u.data @ _tanh_layer_jacobian(x.data))
    (again,) = pullback(2 * u.data)  # the graph is kept: the pullback can be called again
    np.testing.assert_allclose(again, 2 * pulled, atol=1e-300)  # subnormal u: rounding


@given(tensors(shape=(3,)), tensors(shape=(3,)))
def test_jvp_is_the_jacobian_times_the_tangent(x, v):
    out, tangent = jvp(_tanh_layer, (x,), (v.data,))
    np.testing.assert_allclose(out, A @ np.tanh(x.data))
    np.testing.assert_allclose(tangent, _tanh_layer_jacobian(x.data) @ v.data, atol=1e-12)


@given(tensors(shape=(3,)))
def test_jacobian_matches_the_analytic_jacobian(x):
    np.testing.assert_allclose(jacobian(_tanh_layer)(x), _tanh_layer_jacobian(x.data), atol=1e-15)


def test_jacobian_shape_is_output_shape_then_input_shape():
    assert jacobian(lambda t: t * 2)(np.ones((2, 3))).shape == (2, 3, 2, 3)


@given(tensors(shape=(3,)))
def test_hessian_matches_the_analytic_hessian(x):
    # f = sum(x³)/3 + x0·x1·x2: H = diag(2x) + the off-diagonal products of the other entry.
    def f(t):
        return (t**3).sum() / 3 + t[0] * t[1] * t[2]

    a, b, c = x.data
    expected = np.diag(2 * x.data) + np.array([[0, c, b], [c, 0, a], [b, a, 0]])
    np.testing.assert_allclose(hessian(f)(x), expected, atol=1e-12)


@given(st.floats(-2, 2))
def test_grad_of_grad_of_grad_is_the_third_derivative(x):
    third = grad(grad(grad(lambda t: al.sin(t) * al.exp(t))))(x)
    # (sin·exp)''' = 2 e^x (cos x - sin x)
    assert float(third) == pytest.approx(2 * np.exp(x) * (np.cos(x) - np.sin(x)), abs=1e-12)


def test_no_perturbation_confusion_siskind_pearlmutter():
    """D[x -> x · D[y -> x + y](1)](1) = 1. An engine that confuses the inner and outer
    perturbations of x answers 2 (Siskind & Pearlmutter, 2005)."""
    assert grad(lambda x: x * grad(lambda y: x + y)(1.0))(1.0) == pytest.approx(1.0)


def test_no_perturbation_confusion_with_the_inner_point_at_x():
    """d/dx [x · (d/dy (x·y))|_{y=x}] = d/dx [x · x] = 2x, even though y is evaluated at x."""
    outer = grad(lambda x: x * grad(lambda y: x * y)(x))
    assert outer(3.0) == pytest.approx(6.0)


def test_hessian_of_a_closure_over_an_outer_variable():
    # f(x) = grad of (w·x)² with respect to w, at w = x: 2 (w·x) x = 2 |x|² x, whose Jacobian
    # is 2 (|x|² I + 2 x xᵀ).
    x0 = np.array([1.0, -2.0])
    j = jacobian(lambda x: grad(lambda w: (w @ x) ** 2)(x))(x0)
    np.testing.assert_allclose(j, 2 * (x0 @ x0 * np.eye(2) + 2 * np.outer(x0, x0)))


def test_gradients_leaves_grad_untouched():
    x = al.tensor([1.0, 2.0], requires_grad=True)
    w = al.tensor([3.0, 4.0], requires_grad=True)
    w.grad = np.array([100.0, 100.0])
    y = (x * w).sum()
    gx, gw = gradients(y, [x, w])
    np.testing.assert_array_equal(gx, w.data)
    np.testing.assert_array_equal(gw, x.data)
    assert x.grad is None
    np.testing.assert_array_equal(w.grad, [100.0, 100.0])


def test_gradients_of_an_unused_input_is_zero():
    x = al.tensor([1.0, 2.0], requires_grad=True)
    unused = al.tensor([5.0], requires_grad=True)
    _, g_unused = gradients((x * x).sum(), [x, unused])
    np.testing.assert_array_equal(g_unused, [0.0])


def test_gradients_with_several_outputs_adds_their_contributions():
    x = al.tensor([1.0, 2.0], requires_grad=True)
    (g,) = gradients([(x * x).sum(), (3 * x).sum()], [x])
    np.testing.assert_array_equal(g, 2 * x.data + 3)


def test_gradients_refuses_an_input_that_does_not_require_grad():
    x = al.tensor([1.0])
    with pytest.raises(RuntimeError, match="does not require grad"):
        gradients((x * 2).sum(), [x])
