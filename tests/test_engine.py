"""The engine's contract: graphs of any shape and depth, PyTorch's accumulation and freeing
rules, higher-order gradients, hooks, grad mode, dtypes, broadcasting and error messages."""

import inspect
import weakref

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import autograd_lite as al
from autograd_lite import Tensor, engine, gradients
from autograd_lite.testing.strategies import broadcastable_shapes, tensors


def _next_line() -> int:
    """The line after the caller's: where the statement under test is."""
    return inspect.currentframe().f_back.f_lineno + 1


# ---------------------------------------------------------------- graph shapes
def test_reused_tensor_accumulates_every_path():
    a = al.tensor([1.0, -2.0, 3.0], requires_grad=True)
    b = a + a
    c = b * b  # c = 4a², so dc/da = 8a
    c.sum().backward()
    np.testing.assert_array_equal(a.grad, 8 * a.data)


def test_diamond_graph_sums_both_branches():
    a = al.tensor([0.3, -1.2], requires_grad=True)
    d = al.sin(a) * al.exp(a)  # two branches from a, joined by mul
    d.sum().backward()
    x = a.data
    np.testing.assert_allclose(a.grad, np.cos(x) * np.exp(x) + np.sin(x) * np.exp(x))


@given(tensors(shape=(3,)), st.integers(1, 4))
def test_a_leaf_used_many_times_gets_the_sum(x, n):
    x.requires_grad_()
    total = x
    for _ in range(n):
        total = total + x * x
    total.sum().backward()
    np.testing.assert_allclose(x.grad, 1 + 2 * n * x.data)


def test_a_chain_of_a_million_ops_backpropagates():
    x = al.tensor([1.0], requires_grad=True)
    y = x
    for _ in range(10**6):
        y = y * 1.000001
    y.backward()
    expected = 1.000001**1_000_000  # ≈ e; also dy/dx, since y = x * that constant
    assert y.item() == pytest.approx(expected, rel=1e-9)
    assert x.grad[0] == pytest.approx(expected, rel=1e-9)


# ---------------------------------------------------------------- accumulation and freeing
def test_leaf_grads_accumulate_across_backward_calls():
    x = al.tensor([1.0, 2.0], requires_grad=True)
    (x * x).sum().backward()
    (x * x).sum().backward()
    np.testing.assert_array_equal(x.grad, 2 * (2 * x.data))
    x.zero_grad()
    (3 * x).sum().backward()
    np.testing.assert_array_equal(x.grad, [3.0, 3.0])


def test_non_leaf_grads_are_freed_unless_retained():
    x = al.tensor([1.0, 2.0], requires_grad=True)
    h = x * 3
    kept = h * h
    kept.retain_grad()
    kept.sum().backward()
    assert h.grad is None
    np.testing.assert_array_equal(kept.grad, [1.0, 1.0])
    np.testing.assert_array_equal(x.grad, 18 * x.data)


def test_leaf_gradients_never_share_memory_with_each_other_or_the_caller():
    # add hands the same upstream array to both inputs, and backward(grad) to the root's
    # inputs; each leaf must still own its gradient, since optimizers update it in place.
    x = al.tensor([1.0, 2.0], requires_grad=True)
    y = al.tensor([3.0, 4.0], requires_grad=True)
    upstream = np.array([1.0, 1.0])
    (x + y).backward(upstream)
    assert not np.shares_memory(x.grad, y.grad)
    assert not np.shares_memory(x.grad, upstream)
    x.grad += 1  # in place, as weight decay does
    np.testing.assert_array_equal(y.grad, [1.0, 1.0])
    np.testing.assert_array_equal(upstream, [1.0, 1.0])


def test_a_gradient_a_hook_keeps_is_not_the_leafs_own():
    x = al.tensor([1.0, 2.0], requires_grad=True)
    seen = []
    x.register_hook(seen.append)
    (x * 2).sum().backward()
    x.grad *= 0  # optimizers and zero_grad(set_to_none=False) write .grad in place
    np.testing.assert_array_equal(seen[0], [2.0, 2.0])
    # A hook on an intermediate may return an array it keeps; add passes it on unchanged.
    kept = np.array([5.0, 5.0])
    y = al.tensor([1.0, 2.0], requires_grad=True)
    h = y + 0.0
    h.register_hook(lambda g: kept)
    h.sum().backward()
    y.grad += 1
    np.testing.assert_array_equal(kept, [5.0, 5.0])


def test_leaf_gradients_are_c_ordered_and_writeable():
    x = al.tensor(np.ones((2, 3)), requires_grad=True)
    W = al.tensor(np.ones((4, 3)), requires_grad=True)
    (x @ W.T).sum().backward()  # W's VJP is a transposed (F-ordered) product
    for g in (x.grad, W.grad):
        assert g.flags.c_contiguous and g.flags.writeable and g.flags.owndata


def test_backward_releases_each_node_once_it_is_used():
    # The reverse pass holds only its frontier, so a deep graph is given back as it is walked.
    x = al.tensor([0.5], requires_grad=True)
    a = x * 2
    b = (a * 1.0).tanh()
    watch = weakref.ref(b.data)
    y = b
    for _ in range(3):
        y = y * 1.0
    del b
    released = []
    a.register_hook(lambda g: released.append(watch() is None))
    assert watch() is not None  # the graph holds b until backward
    y.sum().backward()
    assert released == [True]  # b was gone by the time a's gradient was complete


def test_gradients_of_outputs_where_one_feeds_the_other():
    # y1 is both a root and an input of y2: its gradient is its seed plus what y2 sends.
    x = al.tensor([0.3, -0.7], requires_grad=True)
    y1 = (x * x).sum()
    y2 = y1 * 3 + x.sum()
    (g,) = gradients([y1, y2], [x])
    np.testing.assert_allclose(g, 2 * x.data + 3 * 2 * x.data + 1)


def test_second_backward_through_a_freed_graph_explains_retain_graph():
    x = al.tensor([1.0, 2.0], requires_grad=True)
    y = (x.exp() * 2).sum()
    y.backward()
    with pytest.raises(RuntimeError, match=r"already freed.*retain_graph=True"):
        y.backward()


def test_a_graph_that_shares_a_node_freed_by_another_backward_says_so():
    x = al.tensor([1.0, 2.0], requires_grad=True)
    k = al.tensor([4.0, 5.0], requires_grad=True)
    h = x * 3.0
    second = (h * k).sum()  # made before the first backward, which frees h's node
    h.tanh().sum().backward()
    with pytest.raises(RuntimeError, match="already freed"):
        second.backward()
    assert k.grad is None  # leaves get their gradients only when the whole pass succeeds


@pytest.mark.parametrize("n", [3, 10_000])  # the second's array is kept as a Meta
def test_a_released_node_read_again_by_a_new_op_gives_its_value_back(n):
    # backward() released y's node; an op that reads y (its shape, for reshape; its values,
    # for mul) puts y's array back, so a backward through y's node runs again (mul's own rule
    # reads only the leaves a and b). An op that reads nothing of y (add) cannot, and says so.
    a = al.tensor(np.ones(n), requires_grad=True)
    b = al.tensor(np.full(n, 2.0), requires_grad=True)
    y = a * b
    y.sum().backward()
    a.grad = None
    y.reshape(n, 1).sum().backward()
    np.testing.assert_array_equal(a.grad, np.full(n, 2.0))
    a.grad = None
    (y * y).sum().backward()
    np.testing.assert_array_equal(a.grad, np.full(n, 8.0))
    with pytest.raises(RuntimeError, match="already freed"):
        (y + 1.0).sum().backward()


def test_retain_graph_allows_a_second_backward():
    x = al.tensor([1.0, 2.0], requires_grad=True)
    y = (x.exp() * 2).sum()
    y.backward(retain_graph=True)
    y.backward()
    np.testing.assert_allclose(x.grad, 2 * 2 * np.exp(x.data))


def test_backward_of_a_non_scalar_needs_grad():
    x = al.tensor([1.0, 2.0], requires_grad=True)
    y = x * 2
    with pytest.raises(RuntimeError, match=r"one-element output.*shape \(2,\).*grad="):
        y.backward()
    y.backward(np.array([1.0, 10.0]))
    np.testing.assert_array_equal(x.grad, [2.0, 20.0])


def test_backward_of_a_tensor_without_grad_says_what_to_do():
    with pytest.raises(RuntimeError, match="requires_grad=True"):
        (al.tensor([1.0]) * 2).backward()


def test_backward_through_an_op_without_a_vjp_says_how_to_add_one(monkeypatch):
    monkeypatch.setattr(engine, "REGISTRY", dict(engine.REGISTRY))  # keep the registry clean

    @engine.primitive
    def double(x):
        return 2 * x

    y = double(al.tensor([1.0], requires_grad=True))
    assert y.op == "double"
    with pytest.raises(NotImplementedError, match=r"double has no VJP.*double\.defvjp"):
        y.backward()


def test_a_node_keeps_only_the_arrays_its_rules_read():
    # tanh(x*w + b): mul's rule reads x and w (leaves, held by the user), tanh's reads its
    # output; nothing reads the outputs of x*w and +b, so they go with their tensors.
    x, w, b = (al.tensor([v], requires_grad=True) for v in (0.5, 0.9, 0.1))
    h = x * w
    z = h + b
    y = z.tanh()
    arrays = {name: weakref.ref(t.data) for name, t in (("h", h), ("z", z), ("y", y))}
    loss = y.sum()
    del h, z, y
    assert arrays["h"]() is None and arrays["z"]() is None
    assert arrays["y"]() is not None
    loss.backward()
    dz = 1 - np.tanh(0.5 * 0.9 + 0.1) ** 2
    np.testing.assert_allclose([x.grad[0], w.grad[0], b.grad[0]], [dz * 0.9, dz * 0.5, dz])


def test_an_input_whose_rules_read_only_its_shape_keeps_only_its_shape(monkeypatch):
    # reshape's rule is reshape(g, shape=x.shape), getitem's and pad's read x.shape and
    # x.ndim: their inputs' nodes keep a Meta, so an array the forward pass is past goes (here
    # each output is a copy, not a view of it), as PyTorch saves only a view's input sizes.
    # Arrays under 64 KiB are kept as they are; here every one is described.
    monkeypatch.setattr(engine, "_META_BYTES", 0)
    x = al.tensor(np.arange(6.0).reshape(2, 3), requires_grad=True)
    cube = x * x * x  # mul reads its inputs, not its output
    flat = cube.T.reshape(6)  # a transposed array reshaped: a copy
    picked = cube[[0, 1, 1]]  # advanced indexing: a copy
    padded = al.ops.pad(cube, pad_width=1)
    array = weakref.ref(cube.data)
    node = cube._node
    del cube
    assert array() is None
    assert type(node.out) is engine.Meta and node.out.shape == (2, 3)
    loss = (flat * flat).sum() + picked.sum() + padded.sum()
    (dx,) = gradients(loss, x, create_graph=True)
    x0, picks = np.arange(6.0).reshape(2, 3), np.array([[2], [3]])
    np.testing.assert_allclose(dx.data, 6 * x0**5 + 3 * x0**2 * picks)
    (ddx,) = gradients(dx.sum(), x)  # the second pass reads the Meta's shape again
    np.testing.assert_allclose(ddx, 30 * x0**4 + 6 * x0 * picks)
    prims = {name: op.prim for name, op in engine.REGISTRY.items()}
    assert [prims[n].reads_values for n in ("reshape", "getitem", "pad")] == [(False,)] * 3
    monkeypatch.undo()
    small, large = (al.ones(n, requires_grad=True) * 2.0 for n in (8191, 8192))  # 64 KiB
    small.reshape(-1, 1), large.reshape(-1, 1)
    assert type(small._node.out) is np.ndarray and type(large._node.out) is engine.Meta
    assert prims["mul"].reads_values == (True, True)


@pytest.mark.parametrize("broadcast_first", [True, False])
def test_an_intermediate_broadcast_by_a_later_op_sums_back_after_its_tensor_is_gone(
    broadcast_first,
):
    # add reads neither input, so its inputs' nodes keep no arrays, except the one it
    # broadcast: backward needs that one's shape to sum the gradient back.
    a = al.tensor(np.arange(3.0).reshape(3, 1), requires_grad=True)
    c = al.tensor(np.ones((3, 4)), requires_grad=True)
    z = (a * 2.0) + (c * 1.0) if broadcast_first else (c * 1.0) + (a * 2.0)
    z.sum().backward()
    np.testing.assert_array_equal(a.grad, np.full((3, 1), 8.0))
    np.testing.assert_array_equal(c.grad, np.ones((3, 4)))


def test_backward_knows_which_rules_read_their_inputs(monkeypatch):
    # add, tanh and sum_to's VJP (broadcast_to of g) never look at an input's value, so
    # backward skips gathering those arrays; mul and sum (for x.shape) do look.
    prims = {name: op.prim for name, op in engine.REGISTRY.items()}
    assert not any(any(prims[n].reads) for n in ("add", "sub", "neg", "tanh", "sigmoid"))
    assert all(any(prims[n].reads) for n in ("mul", "div", "matmul", "sum", "concatenate"))

    monkeypatch.setattr(engine, "REGISTRY", dict(engine.REGISTRY))

    @engine.primitive
    def scale(x, y):
        return x * y

    # Read only inside a nested function, or through *args: both count as reading.
    scale.defvjp(lambda g, out, x, y: (lambda: g * y)(), lambda g, out, *xy: g * xy[0])
    assert all(scale.prim.reads)
    x, y = al.tensor([1.0, 2.0], requires_grad=True), al.tensor([3.0, 4.0], requires_grad=True)
    scale(x, y).sum().backward()
    np.testing.assert_array_equal(x.grad, [3.0, 4.0])
    np.testing.assert_array_equal(y.grad, [1.0, 2.0])


def test_a_vjp_returning_the_wrong_shape_is_named(monkeypatch):
    monkeypatch.setattr(engine, "REGISTRY", dict(engine.REGISTRY))

    @engine.primitive
    def copy(x):
        return x * 1

    copy.defvjp(lambda g, out, x: g.T)  # the bug: (3, 2, 1) for an input of shape (1, 2, 3)
    with pytest.raises(RuntimeError, match=r"copy.*\(3, 2, 1\).*\(1, 2, 3\)"):
        copy(al.ones(1, 2, 3, requires_grad=True)).sum().backward()


def test_grad_of_the_wrong_shape_is_refused():
    y = al.tensor([1.0, 2.0], requires_grad=True) * 2
    with pytest.raises(RuntimeError, match=r"grad has shape \(3,\) but the output has shape"):
        y.backward(np.ones(3))


# ---------------------------------------------------------------- higher order
def test_second_and_third_derivatives_of_tanh():
    x = al.tensor([-0.7, 0.0, 0.4, 1.5], requires_grad=True)
    al.tanh(x).sum().backward(create_graph=True)
    first = x.grad
    assert isinstance(first, Tensor) and first.requires_grad
    (second,) = gradients(first.sum(), x, create_graph=True)
    (third,) = gradients(second.sum(), x)
    t = np.tanh(x.data)
    np.testing.assert_allclose(first.data, 1 - t**2)
    np.testing.assert_allclose(second.data, -2 * t * (1 - t**2))
    np.testing.assert_allclose(third, (1 - t**2) * (6 * t**2 - 2))


def test_hessian_vector_product_matches_the_analytic_hessian():
    rng = np.random.default_rng(0)
    A, x0, v = rng.standard_normal((4, 4)), rng.standard_normal(4), rng.standard_normal(4)
    x = al.tensor(x0, requires_grad=True)
    f = 0.5 * (x @ (al.tensor(A) @ x)) + (x**4).sum() / 12  # H = (A + Aᵀ)/2 + diag(x²)
    (g,) = gradients(f, x, create_graph=True)
    (hvp,) = gradients((g * al.tensor(v)).sum(), x)
    hessian = (A + A.T) / 2 + np.diag(x0**2)
    np.testing.assert_allclose(hvp, hessian @ v, rtol=1e-12)


def test_create_graph_gradients_are_tensors_with_their_own_graph():
    x = al.tensor(2.0, requires_grad=True)
    (x**3).backward(create_graph=True)
    assert x.grad.item() == 12.0 and x.grad.op is not None
    x.grad.backward()  # d/dx 3x² = 6x, added to the grad already there
    assert x.grad.item() == pytest.approx(12.0 + 12.0)


# ---------------------------------------------------------------- hooks
def test_hook_can_replace_a_gradient_and_its_handle_removes_it():
    x = al.tensor([1.0, 2.0], requires_grad=True)
    seen = []
    handle = x.register_hook(lambda g: seen.append(g.copy()) or 2 * g)
    (x * x).sum().backward()
    np.testing.assert_array_equal(x.grad, 2 * (2 * x.data))
    np.testing.assert_array_equal(seen[0], 2 * x.data)
    handle.remove()
    x.zero_grad()
    (x * x).sum().backward()
    np.testing.assert_array_equal(x.grad, 2 * x.data)
    assert len(seen) == 1


def test_hook_on_an_intermediate_sees_the_complete_gradient_once():
    x = al.tensor([1.0, 2.0], requires_grad=True)
    h = x * 2
    calls = []
    h.register_hook(lambda g: calls.append(np.array(g)))
    (h * h + h).sum().backward()  # two uses of h: one call with the summed gradient
    assert len(calls) == 1
    np.testing.assert_array_equal(calls[0], 2 * h.data + 1)


def test_hook_needs_a_tensor_that_requires_grad():
    with pytest.raises(RuntimeError, match="does not require grad"):
        al.tensor([1.0]).register_hook(lambda g: g)


# ---------------------------------------------------------------- grad mode
def test_no_grad_records_nothing_and_enable_grad_turns_it_back_on():
    x = al.tensor([1.0], requires_grad=True)
    with al.no_grad():
        y = x * 2
        with al.enable_grad():
            z = x * 2
    assert not y.requires_grad and y.op is None
    assert z.requires_grad and z.op == "mul"
    assert al.is_grad_enabled()


def test_no_grad_and_enable_grad_decorate_with_and_without_parentheses():
    x = al.tensor([1.0], requires_grad=True)

    @al.no_grad
    def bare():
        return x * 2

    @al.no_grad()
    def called():
        return x * 2

    @al.enable_grad()
    def inner():
        return x * 2

    assert not bare().requires_grad and not called().requires_grad
    with al.no_grad():
        assert inner().requires_grad


def test_grad_mode_is_restored_after_an_exception():
    with pytest.raises(KeyError), al.no_grad():
        raise KeyError("inside the block")
    assert al.is_grad_enabled()


def test_detach_shares_data_and_cuts_the_graph():
    x = al.tensor([1.0, 2.0], requires_grad=True)
    y = x * 2
    d = y.detach()
    assert not d.requires_grad and d.is_leaf and np.shares_memory(d.data, y.data)
    (x * d).sum().backward()  # d is a constant: no gradient through y
    np.testing.assert_array_equal(x.grad, d.data)


# ---------------------------------------------------------------- dtypes
def test_float32_stays_float32_with_python_scalars():
    x = al.tensor([1.0, 2.0], dtype=np.float32, requires_grad=True)
    y = (2.5 * x + 1) / 3 - x**2 + 1 / x + 2**x
    y = al.sigmoid(y).mean() + x.var() + al.softmax(x).sum()
    assert y.dtype == np.float32
    y.backward()
    assert x.grad.dtype == np.float32


def test_float32_gradients_stay_float32_when_mixed_with_float64():
    x32 = al.tensor([1.0, 2.0], dtype=np.float32, requires_grad=True)
    w64 = al.tensor([3.0, 4.0], requires_grad=True)
    y = (x32 * w64).sum()
    assert y.dtype == np.float64  # numpy's promotion of two arrays
    y.backward()
    assert x32.grad.dtype == np.float32 and w64.grad.dtype == np.float64
    np.testing.assert_array_equal(x32.grad, [3.0, 4.0])


def test_default_dtype_is_float64():
    assert al.tensor([1, 2]).dtype.kind == "i"  # as numpy: integers stay integers
    assert al.tensor([1.0]).dtype == np.float64
    assert al.zeros(2).dtype == al.randn(2).dtype == np.float64


def test_random_like_an_integer_template_gives_floats():
    template = al.arange(1000)
    for sample in (al.randn_like(template, rng=0), al.rand_like(template, rng=0)):
        assert sample.dtype == np.float64 and not np.all(sample.data == np.round(sample.data))
    assert al.randn_like(al.ones(2, dtype=np.float32)).dtype == np.float32


def test_integer_tensors_cannot_require_grad():
    with pytest.raises(TypeError, match="floating-point"):
        al.tensor([1, 2], requires_grad=True)


# ---------------------------------------------------------------- broadcasting
@given(broadcastable_shapes(2), st.data())
def test_broadcast_gradients_sum_back_to_each_input_shape(shapes, data):
    a = data.draw(tensors(shape=shapes[0], requires_grad=True))
    b = data.draw(tensors(shape=shapes[1], requires_grad=True))
    out = a * b
    out.sum().backward()
    assert a.grad.shape == a.shape and b.grad.shape == b.shape
    # d/da sum(a*b) at each element of a: the sum of b over every copy broadcasting made of it.
    full = np.broadcast_to(b.data, out.shape)
    np.testing.assert_allclose(a.grad, _sum_to(full, a.shape))


def _sum_to(x: np.ndarray, shape: tuple) -> np.ndarray:
    lead = x.ndim - len(shape)
    x = x.sum(axis=tuple(range(lead)))
    return x.sum(axis=tuple(i for i, n in enumerate(shape) if n == 1), keepdims=True)


def test_broadcast_gradient_example():
    a = al.ones(3, 1, requires_grad=True)
    b = al.ones(4, requires_grad=True)
    (a + b).sum().backward()
    np.testing.assert_array_equal(a.grad, np.full((3, 1), 4.0))
    np.testing.assert_array_equal(b.grad, np.full(4, 3.0))


# ---------------------------------------------------------------- errors point at the user's line
def test_matmul_error_names_op_shapes_and_line():
    a, b = al.zeros(100, 2), al.zeros(4, 4)
    line = _next_line()
    with pytest.raises(ValueError) as info:
        a @ b
    assert str(info.value) == (
        f"matmul: shapes (100, 2) and (4, 4) do not align: 2 != 4 (test_engine.py:{line + 1})"
    )


def test_broadcast_error_names_op_shapes_and_line():
    a, b = al.zeros(3, requires_grad=True), al.zeros(4)
    line = _next_line()
    with pytest.raises(ValueError) as info:
        a + b
    message = str(info.value)
    assert message.startswith("add: ") and "(3,)" in message and "(4,)" in message
    assert message.endswith(f"(test_engine.py:{line + 1})")


def test_reshape_error_names_op_shapes_and_line():
    x = al.zeros(2, 3)
    line = _next_line()
    with pytest.raises(ValueError) as info:
        x.reshape(4, 2)
    message = str(info.value)
    assert message.startswith("reshape: ") and "(2, 3)" in message
    assert message.endswith(f"(test_engine.py:{line + 1})")


def test_index_error_keeps_its_kind_and_names_the_line():
    x = al.zeros(2, 3)
    line = _next_line()
    with pytest.raises(IndexError) as info:
        x[5]
    assert str(info.value).startswith("getitem: ")
    assert str(info.value).endswith(f"(test_engine.py:{line + 1})")


MISTAKES = [
    (lambda: al.ones(2, 3).squeeze(1), ValueError, "squeeze: axis 1 has size 3, not 1"),
    (lambda: al.ones(2, 3).expand_dims(5), IndexError, "expand_dims: axis 5 is out of bounds"),
    (lambda: al.ones(2, 3).flatten(5), IndexError, "flatten: axis 5 is out of bounds"),
    (lambda: al.ones(2, 3).flatten(1, 0), ValueError, "flatten: start_dim 1 comes after"),
    (lambda: al.ops.swapaxes(al.ones(2), 0, 1), IndexError, r"swapaxes: .*shape \(2,\)"),
    (lambda: al.tensor(2.0) @ al.ones(3), ValueError, "matmul: both operands need at least 1"),
    (lambda: al.ones(2, 1, 2) @ al.ones(3, 2, 1), ValueError, r"matmul: .*\(2,\) and \(3,\) do"),
    (lambda: al.ones(2, 3).sum(axis=2), IndexError, r"sum: axis 2 .*\(2, 3\)"),
    (lambda: al.ones(3) * al.ones(2), ValueError, r"mul: .*\(3,\) \(2,\)"),
    (lambda: al.unfold(al.ones(3), 4), ValueError, r"unfold: kernel_size \(4,\)"),
]


@pytest.mark.parametrize("mistake, kind, start", MISTAKES)
def test_mistakes_name_the_op_and_point_at_the_users_line(mistake, kind, start):
    with pytest.raises(kind, match=f"^{start}") as info:
        mistake()
    assert str(info.value).endswith(f"(test_engine.py:{mistake.__code__.co_firstlineno})")


# ---------------------------------------------------------------- numpy interplay and repr
def test_repr_shows_the_op_that_made_a_tensor():
    x = al.tensor([1.0, 2.0], requires_grad=True, name="x")
    assert repr(x) == "tensor([1., 2.], requires_grad=True, name='x')"
    assert repr(x * 2) == "tensor([2., 4.], op=mul)"
    assert repr(al.tensor([1.0], dtype=np.float32)) == "tensor([1.], dtype=float32)"


def test_np_asarray_gives_the_data():
    x = al.tensor([[1.0, 2.0]], requires_grad=True)
    assert np.asarray(x) is x.data
    assert np.asarray(x, dtype=np.float32).dtype == np.float32
    np.testing.assert_array_equal(np.array(x * 2), [[2.0, 4.0]])


def test_comparisons_give_boolean_tensors_without_grad():
    x = al.tensor([1.0, 2.0, 3.0], requires_grad=True)
    for mask in (x > 1.5, x >= 2.0, x < 2.0, x <= 1.0, x == 2.0, x != 2.0, x > x * 0.5):
        assert isinstance(mask, Tensor) and mask.dtype == np.bool_
        assert not mask.requires_grad and mask.op is None
    np.testing.assert_array_equal((x > 1.5).data, [False, True, True])


def test_ndarray_on_the_left_gives_a_tensor_and_a_gradient():
    x = al.tensor([1.0, 2.0], requires_grad=True)
    a = np.array([3.0, 4.0])
    for y in (a + x, a - x, a * x, a / x, a**x, a @ x):
        assert isinstance(y, Tensor) and y.requires_grad
    (a * x).sum().backward()
    np.testing.assert_array_equal(x.grad, a)


def test_item_numpy_and_attributes_follow_torch():
    x = al.tensor([[1.0, 2.0, 3.0]])
    assert x.shape == (1, 3) and x.ndim == 2 and x.size == 3 and x.T.shape == (3, 1)
    assert x.sum().item() == 6.0 and x.numpy() is x.data
    assert x.is_leaf and x.op is None and (x * 1).op is None  # no grad needed: nothing recorded
    assert (x.requires_grad_() * 1).op == "mul"
