"""`al.compile(loss_fn)`: a training step traced once and replayed as numpy calls gives the
engine's numbers, fills `.grad` as `backward()` does, traces again when shapes change, and
refuses what it could not replay, naming the construct and the line."""

import contextlib
import warnings

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from op_domains import DOMAINS

import autograd_lite as al
import nn
from autograd_lite import REGISTRY, replay
from autograd_lite.replay import NotReplayable, RetraceWarning
from demos.benchmark import Lab


def _lab(problem: dict) -> tuple[list, object]:
    """The benchmark's lab network: 2-4-4-1 sigmoid, squared error over 2m."""
    x, y = al.Tensor(problem["x"]), al.Tensor(problem["y"])
    params = [al.Tensor(problem[n].copy(), requires_grad=True) for n in Lab.names]
    W1, b1, W2, b2, W3, b3 = params
    m = len(problem["x"])

    def loss_fn():
        a1 = (x @ W1 + b1).sigmoid()
        a2 = (a1 @ W2 + b2).sigmoid()
        a3 = (a2 @ W3 + b3).sigmoid()
        return ((a3 - y) ** 2).sum() / (2 * m)

    return params, loss_fn


def _sgd(params: list, lr: float = 0.1) -> None:
    for q in params:
        q.data -= lr * q.grad
        q.grad = None


def test_lab_replayed_1000_steps_ends_where_eager_does():
    problem = Lab().problem()
    eager, eager_loss = _lab(problem)
    replayed, loss_fn = _lab(problem)
    step = al.compile(loss_fn)
    for _ in range(1000):
        eager_loss().backward()
        _sgd(eager)
        step()
        _sgd(replayed)
    for e, r in zip(eager, replayed):
        np.testing.assert_allclose(r.data, e.data, rtol=0, atol=1e-12)


def test_replayed_step_returns_the_loss_detached():
    _, loss_fn = _lab(Lab().problem())
    step = al.compile(loss_fn)
    losses = [step() for _ in range(3)]
    assert all(not loss.requires_grad and loss.is_leaf for loss in losses)
    assert losses[2].item() == pytest.approx(loss_fn().item())


def test_source_reads_like_hand_written_backprop():
    _, loss_fn = _lab(Lab().problem())
    step = al.compile(loss_fn)
    with pytest.raises(RuntimeError, match="has not been called"):
        step.source  # noqa: B018
    step()
    step()
    lines = [line.split("#")[0].strip() for line in step.source.splitlines()]
    assert "v1 = v0 + p2" in lines  # x @ W1 + b1
    assert "g7 = g8 * v8 * (1 - v8)" in lines  # sigmoid's rule, written out
    assert "dt5 = v5.T @ g6" in lines  # dW3 = a2^T d3
    assert "dt6 = add_reduce(g7, axis=(0,))" in lines  # db3: the bias gradient summed back


def _train(model_fn, loss, optimizer, batches, compiled: bool) -> list[np.ndarray]:
    model = model_fn()
    opt = optimizer(model.parameters())
    fn = lambda x, y: loss(model(x), y)  # noqa: E731
    step = al.compile(fn) if compiled else None
    with warnings.catch_warnings():
        warnings.simplefilter("error", RetraceWarning)  # new batches are replayed, not traced
        for x, y in batches:
            opt.zero_grad()
            if step is None:
                fn(x, y).backward()
            else:
                step(x, y)
            opt.step()
    return [p.data for p in model.parameters()]


def _batches(dtype, targets, n=6, size=16):
    rng = np.random.default_rng(1)
    shape = (size, 2, 6, 6) if targets == "images" else (size, 5)
    xs = [rng.standard_normal(shape).astype(dtype) for _ in range(n)]
    if targets in ("classes", "images"):  # new labels each batch: the loss indexes with them
        return [(x, rng.integers(0, 3, size)) for x in xs]
    return [(al.Tensor(x), al.Tensor(rng.standard_normal((size, 3)).astype(dtype))) for x in xs]


@pytest.mark.parametrize(
    ("model_fn", "loss", "optimizer", "dtype", "targets"),
    [
        (
            lambda: nn.MLP([5, 8, 3], activation="relu", rng=0, dtype=np.float32),
            nn.CrossEntropyLoss(),
            lambda p: nn.optim.Adam(p, lr=0.01),
            np.float32,
            "classes",
        ),
        (
            lambda: nn.Sequential(nn.Linear(5, 8, rng=1), nn.ReLU(), nn.Linear(8, 3, rng=2)),
            nn.MSELoss(),
            lambda p: nn.optim.SGD(p, lr=0.1, momentum=0.9),
            np.float64,
            "values",
        ),
        (  # the im2col of each new batch is an op on a plain array: replayed, not frozen
            lambda: nn.Sequential(
                nn.Conv2d(2, 4, 3, padding=1, rng=3),
                nn.ReLU(),
                nn.MaxPool2d(2),
                nn.Flatten(),
                nn.Linear(36, 3, rng=4),
            ),
            nn.CrossEntropyLoss(),
            lambda p: nn.optim.SGD(p, lr=0.1),
            np.float64,
            "images",
        ),
    ],
    ids=["mlp-crossentropy-adam-float32", "sequential-mse-sgd-float64", "conv-crossentropy-sgd"],
)
def test_nn_training_replayed_matches_eager(model_fn, loss, optimizer, dtype, targets):
    batches = _batches(dtype, targets)
    eager = _train(model_fn, loss, optimizer, batches, compiled=False)
    replayed = _train(model_fn, loss, optimizer, batches, compiled=True)
    for e, r in zip(eager, replayed):
        assert r.dtype == dtype
        np.testing.assert_allclose(r, e, rtol=0, atol=1e-12)


@contextlib.contextmanager
def _buffering(arrays: str):
    """Replay with buffers for large arrays only (as shipped), or for every array: the tests'
    arrays are small, so "every" is what puts each line's buffers and escapes under test."""
    saved = replay._BUFFER_BYTES
    replay._BUFFER_BYTES = 0 if arrays == "every" else saved
    try:
        yield
    finally:
        replay._BUFFER_BYTES = saved


@pytest.mark.parametrize("arrays", ["large", "every"])
@given(
    sizes=st.lists(st.integers(1, 6), min_size=2, max_size=4),
    batch=st.integers(1, 5),
    activation=st.sampled_from(["relu", "tanh", "sigmoid", "softplus"]),
    seed=st.integers(0, 2**16),
)
def test_replayed_gradients_equal_eager_ones(arrays, sizes, batch, activation, seed):
    rng = np.random.default_rng(seed)
    model = nn.MLP(sizes, activation=activation, rng=seed)
    step = al.compile(lambda x, y: nn.MSELoss()(model(x), y))
    held = []  # every call's loss and .grad arrays, checked after the last call
    with _buffering(arrays):
        for _ in range(4):  # traced, checked, then replayed
            x = rng.standard_normal((batch, sizes[0]))
            y = rng.standard_normal((batch, sizes[-1]))
            model.zero_grad()
            loss = nn.MSELoss()(model(x), y)
            loss.backward()
            expected = [loss.data, *(p.grad for p in model.parameters())]
            model.zero_grad()
            replayed = [step(x, y).data, *(p.grad for p in model.parameters())]
            held.append((replayed, expected))
    for replayed, expected in held:  # a later call wrote into none of them
        for r, e in zip(replayed, expected):
            np.testing.assert_array_equal(r, e)


@pytest.mark.parametrize("arrays", ["large", "every"])
@pytest.mark.parametrize("name", sorted(DOMAINS))
@given(data=st.data())
def test_every_primitive_replays_with_the_engines_gradients(arrays, name, data):
    """Each op's forward and rules, written out or called, against eager backward: traced,
    checked, then replayed on new inputs of the same shapes."""
    case = data.draw(DOMAINS[name].cases(np.float64), label="case")
    op = REGISTRY[name]
    out = op(*case.inputs, **case.params)
    weights = np.random.default_rng(0).standard_normal(np.shape(out))
    step = al.compile(lambda *inputs: (op(*inputs, **case.params) * weights).sum())
    held = []
    with _buffering(arrays):
        for scale in (1.0, 1.0, 0.9, 1.1):
            inputs = [
                al.Tensor(x * scale, requires_grad=True) if _is_float(x) else x for x in case.inputs
            ]
            eager = [al.Tensor(x.data, requires_grad=True) if _is_float(x) else x for x in inputs]
            (op(*eager, **case.params) * weights).sum().backward()
            step(*inputs)
            held += [(x.grad, e.grad) for x, e in zip(inputs, eager) if _is_float(x)]
    for replayed, expected in held:
        np.testing.assert_array_equal(replayed, expected)


def _is_float(x) -> bool:
    return isinstance(x, al.Tensor | np.ndarray) and np.asarray(x).dtype.kind == "f"


def _held_calls(fn, batches, params) -> list[tuple[list, list]]:
    """Per batch: the compiled step's loss and .grad arrays, and eager's, all held until the
    last call (a buffer shared with a value the user holds would be overwritten by then)."""
    step = al.compile(fn)
    held = []
    for batch in batches:
        for p in params:
            p.grad = None
        loss = fn(*batch)
        loss.backward()
        expected = [loss.data, *(p.grad for p in params)]
        for p in params:
            p.grad = None
        held.append(([step(*batch).data, *(p.grad for p in params)], expected))
    return held, step.source


def test_large_arrays_are_computed_into_buffers_kept_across_calls():
    model = nn.Sequential(nn.Linear(64, 512, rng=0), nn.ReLU(), nn.Linear(512, 10, rng=1))
    rng = np.random.default_rng(0)
    batches = [(rng.standard_normal((64, 64)), rng.integers(0, 10, 64)) for _ in range(4)]
    fn = lambda x, y: nn.CrossEntropyLoss()(model(x), y)  # noqa: E731
    held, source = _held_calls(fn, batches, list(model.parameters()))
    for replayed, expected in held:
        for r, e in zip(replayed, expected):
            np.testing.assert_array_equal(r, e)
    assert "with lock" in source
    assert "out=b0" in source  # (64, 512) float64: 256 KiB, over _BUFFER_BYTES


@pytest.mark.parametrize(
    ("fn", "buffered"),
    [
        # dw = g * x is fresh, so backward() keeps it as w.grad: it must be a new array
        # on every call, never a buffer.
        (lambda w, x: (w * x).sum(), False),
        # dw is a reshape (a view) of g * x, so .grad gets a copy, and g * x may be a buffer.
        (lambda w, x: (w.reshape(x.shape) * x).sum(), True),
    ],
    ids=["kept-as-grad", "copied-into-grad"],
)
def test_gradients_kept_as_grad_are_never_buffers(fn, buffered):
    w = al.Tensor(np.ones((128, 128)), requires_grad=True)  # 128 KiB: over _BUFFER_BYTES
    rng = np.random.default_rng(0)
    shape = (128, 128) if not buffered else (128 * 128,)
    batches = [(rng.standard_normal(shape),) for _ in range(4)]
    held, source = _held_calls(lambda x: fn(w, x), batches, [w])
    for replayed, expected in held:
        for r, e in zip(replayed, expected):
            np.testing.assert_array_equal(r, e)
    assert ("out=" in source) is buffered


def test_conversions_of_new_batches_are_replayed():
    """uint8 images become float64 and float64 targets a float32 model's dtype through ops on
    plain arrays, which the program repeats for each batch rather than freezing the first."""
    model = nn.Sequential(
        nn.Conv2d(1, 2, 3, rng=0, dtype=np.float32),
        nn.Flatten(),
        nn.Linear(8, 1, rng=1, dtype=np.float32),
    )
    fn = lambda x, y: nn.MSELoss()(model(x).astype(np.float32), y)  # noqa: E731
    step = al.compile(fn)
    rng = np.random.default_rng(0)
    with warnings.catch_warnings():
        warnings.simplefilter("error", RetraceWarning)
        for _ in range(4):
            x = rng.integers(0, 255, (5, 1, 4, 4)).astype(np.uint8)
            y = rng.standard_normal((5, 1))
            model.zero_grad()
            fn(x, y).backward()
            expected = [p.grad for p in model.parameters()]
            model.zero_grad()
            step(x, y)
            for p, g in zip(model.parameters(), expected):
                np.testing.assert_array_equal(p.grad, g)
    assert "astype(" in step.source.split("# backward")[0]


def test_labels_in_an_index_are_rebound_on_every_call():
    model = nn.Linear(4, 3, rng=0)
    rows = np.arange(8)
    rng = np.random.default_rng(0)

    def nll(x, y):
        return -al.log_softmax(model(x), axis=1)[rows, y].mean()

    step = al.compile(nll)
    for _ in range(4):
        x, y = rng.standard_normal((8, 4)), rng.integers(0, 3, 8)
        model.zero_grad()
        nll(x, y).backward()
        expected = model.weight.grad
        model.zero_grad()
        step(x, y)
        np.testing.assert_array_equal(model.weight.grad, expected)


@pytest.mark.parametrize("shape", [(4,), (3, 1), (1, 4), (1, 1), ()])
def test_gradients_are_summed_back_to_broadcast_shapes(shape):
    w = al.Tensor(np.arange(1.0, 1.0 + np.prod(shape)).reshape(shape), requires_grad=True)
    step = al.compile(lambda x: (al.tanh(x * w) + w).sum())
    for k in range(3):
        x = np.linspace(-1, 1, 12).reshape(3, 4) * (k + 1)
        w.grad = None
        (al.tanh(x * w) + w).sum().backward()
        expected = w.grad
        w.grad = None
        step(x)
        np.testing.assert_array_equal(w.grad, expected)
        assert w.grad.shape == shape


def test_gradients_accumulate_into_an_existing_grad():
    a = al.tensor([1.0, 2.0], requires_grad=True)
    step = al.compile(lambda: (a * a).sum())
    for _ in range(4):
        step()
    np.testing.assert_array_equal(a.grad, 4 * 2 * a.data)


def test_leaves_never_share_a_gradient_array():
    # add hands the same gradient to both inputs; the seed's broadcast is made once, at
    # planning: each leaf must still get an array of its own, fresh on every call.
    a = al.ones(2, 2, requires_grad=True)
    b = al.ones(2, 2, requires_grad=True)
    step = al.compile(lambda: (a + b).sum())
    for _ in range(3):
        a.grad = b.grad = None
        step()
        assert not np.shares_memory(a.grad, b.grad)
        a.grad *= 10  # a user clipping in place must not change the next step
    np.testing.assert_array_equal(b.grad, np.ones((2, 2)))


def test_a_new_shape_is_traced_again_and_each_shape_keeps_its_program():
    model = nn.Linear(3, 2, rng=0)
    step = al.compile(lambda x: model(x).sum())
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        for n in (4, 4, 4, 2, 2, 4, 2):
            model.zero_grad()
            x = np.ones((n, 3))
            step(x)
            np.testing.assert_array_equal(model.weight.grad, np.full((2, 3), float(n)))
    messages = [str(w.message) for w in caught if issubclass(w.category, RetraceWarning)]
    assert messages == [
        "compile: tracing test_a_new_shape_is_traced_again_and_each_shape_keeps_its_program."
        "<locals>.<lambda> again: argument #0 is an array of shape (2, 3), float64, traced "
        "with an array of shape (4, 3), float64"
    ]


def test_a_new_dtype_is_traced_again():
    w = al.tensor([1.0, 2.0], requires_grad=True)
    step = al.compile(lambda x: (w * x).sum())
    step(np.ones(2))
    with pytest.warns(RetraceWarning, match=r"argument #0 is an array of shape \(2,\), float32"):
        step(np.ones(2, np.float32))


def test_a_changed_leaf_starts_over():
    w = al.tensor([1.0, 2.0], requires_grad=True)
    step = al.compile(lambda: (w * w).sum())
    step()
    step()
    w.data, w.grad = np.array([1.0, 2.0, 3.0]), None
    with pytest.warns(RetraceWarning, match=r"has shape \(3,\).*traced with shape \(2,\)"):
        step()
    np.testing.assert_array_equal(w.grad, [2.0, 4.0, 6.0])


def test_freezing_a_layer_is_seen():
    model = nn.Sequential(nn.Linear(3, 3, rng=0), nn.Linear(3, 1, rng=1))
    step = al.compile(lambda x: model(x).sum())
    x = np.ones((2, 3))
    step(x)
    step(x)
    model[0].weight.requires_grad = False
    model.zero_grad()
    with pytest.warns(RetraceWarning, match="requires_grad=False"):
        step(x)
    assert model[0].weight.grad is None and model[1].weight.grad is not None


def test_other_arguments_are_part_of_the_program():
    w = al.tensor([1.0, 2.0], requires_grad=True)
    step = al.compile(lambda scale: (w * scale).sum())
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        for scale in (2.0, 2.0, 3.0, 3.0, 2.0):
            w.grad = None
            step(scale)
            np.testing.assert_array_equal(w.grad, [scale, scale])
    assert [str(c.message).split(": ")[-1] for c in caught] == [
        "argument #0 is 3.0, traced with 2.0"
    ]


def test_an_argument_that_requires_grad_gets_its_grad():
    step = al.compile(lambda x: (x * x).sum())
    for value in ([1.0, 2.0], [3.0, 4.0], [5.0, 6.0]):
        x = al.tensor(value, requires_grad=True)
        step(x)
        np.testing.assert_array_equal(x.grad, 2 * np.array(value))


def test_a_tape_or_anomaly_check_sees_the_eager_step():
    w = al.tensor([1.0, 2.0], requires_grad=True)
    step = al.compile(lambda: (w * w).sum())
    step()
    step()
    with al.Tape() as tape:
        step()
    assert [t.op for t in tape] == ["mul", "sum"]
    with pytest.raises(FloatingPointError), al.detect_anomaly():
        w.data[0] = np.inf
        step()


def test_no_grad_is_refused():
    w = al.tensor([1.0], requires_grad=True)
    step = al.compile(lambda: (w * w).sum())
    with pytest.raises(RuntimeError, match="grad mode is off"), al.no_grad():
        step()


# ---------------------------------------------------------------- refused
def _refused(fn, *args, calls: int = 1, match: str | None = None) -> str:
    """Call a compiled fn until it refuses; the message names the user's line."""
    step = al.compile(fn)
    with pytest.raises(NotReplayable, match=match) as raised, warnings.catch_warnings():
        warnings.simplefilter("ignore", RetraceWarning)  # new values of an argument: checked
        for call in range(calls):
            step(*(a(call) if callable(a) else a for a in args))
    assert "test_replay.py:" in str(raised.value)
    return str(raised.value)


@pytest.mark.parametrize(
    ("read", "what"),
    [
        (lambda t: bool(t.sum()), "bool()"),
        (lambda t: float(t.sum()), "float()"),
        (lambda t: t.sum().item(), ".item()"),
        (lambda t: t.tolist(), ".tolist()"),
        (lambda t: t > 0, "the comparison >"),
    ],
)
def test_reading_a_value_into_python_is_refused(read, what):
    w = al.tensor([1.0, -2.0], requires_grad=True)

    def loss_fn():
        h = w * 2
        read(h)
        return h.sum()

    assert what in _refused(loss_fn)
    assert bool(w.sum() > -5) and w.sum().item() == -1.0  # the reads work again after


def test_a_caught_refusal_still_refuses():
    w = al.tensor([1.0], requires_grad=True)

    def loss_fn():
        try:
            if w.sum() > 0:
                pass
        except NotReplayable:
            pass
        return (w * w).sum()

    _refused(loss_fn, match="comparison")


def test_backward_inside_the_function_is_refused():
    w = al.tensor([1.0, 2.0], requires_grad=True)

    def penalty():
        (g,) = al.gradients((w**3).sum(), w, create_graph=True)
        return (g * g).sum()

    assert "create_graph" in _refused(penalty)


def test_dropout_in_training_is_refused():
    model = nn.Sequential(nn.Linear(3, 3, rng=0), nn.Dropout(0.5, rng=0))
    message = _refused(lambda x: model(x).sum(), np.ones((2, 3)))
    assert "dropout in training mode" in message
    model.eval()
    step = al.compile(lambda x: model(x).sum())
    for _ in range(3):
        step(np.ones((2, 3)))


def test_batchnorm_running_statistics_are_refused():
    model = nn.Sequential(nn.Linear(3, 3, rng=0), nn.BatchNorm1d(3))
    message = _refused(lambda x: model(x).sum(), np.ones((4, 3)))
    assert "BatchNorm1d" in message and "running statistics" in message


def test_hooks_and_retain_grad_are_refused():
    w = al.tensor([1.0, 2.0], requires_grad=True)

    def hooked():
        h = w * 2
        h.register_hook(lambda g: g * 2)
        return h.sum()

    def retained():
        h = w * 2
        h.retain_grad()
        return h.sum()

    assert "hook" in _refused(hooked)
    assert "retain_grad" in _refused(retained)
    w.register_hook(lambda g: g)
    with pytest.raises(NotReplayable, match="hook on a leaf"):
        al.compile(lambda: (w * w).sum())()


def test_control_flow_on_values_is_refused_when_the_ops_change():
    w = al.tensor([1.0, 2.0], requires_grad=True)

    def loss_fn(x):
        h = w * x
        return h.exp().sum() if x.data.sum() > 0 else h.tanh().sum()  # a branch on .data

    message = _refused(
        loss_fn, lambda call: al.tensor([1.0, 1.0] if call == 0 else [-1.0, -1.0]), calls=2
    )
    assert "ran other ops" in message and "exp" in message and "tanh" in message


def test_a_mask_made_from_data_is_refused_when_it_changes():
    w = al.tensor([1.0, 2.0], requires_grad=True)

    def loss_fn(x):
        mask = (x.data > 0).astype(float)  # computed outside the ops: frozen by a replay
        return (w * x * mask).sum()

    message = _refused(loss_fn, lambda call: al.tensor([1.0, -1.0 if call else 1.0]), calls=2)
    assert "input #1 of mul" in message and "changed" in message


def test_labels_made_a_mask_with_numpy_are_checked_not_frozen():
    model = nn.Linear(4, 3, rng=0)

    def loss_fn(x, y):  # the mask reaches the step as a constant, made from y by numpy
        return -(al.log_softmax(model(x), axis=1) * (y[:, None] == np.arange(3))).sum()

    x = np.ones((2, 4))
    labels = [np.array([0, 1]), np.array([0, 1]), np.array([0, 1]), np.array([2, 2])]
    message = _refused(loss_fn, x, lambda call: labels[call], calls=4)
    assert "argument #1 is not an op's input" in message


def test_a_graph_from_outside_is_refused():
    w = al.tensor([1.0, 2.0], requires_grad=True)
    h = w * 2  # recorded before the step

    assert "before the call" in _refused(lambda: (h * w).sum())
    with pytest.raises(NotReplayable, match=r"argument #0 was made by mul"):
        al.compile(lambda x: (x * w).sum())(h)


def test_numpy_on_an_argument_is_refused():
    w = al.tensor([1.0, 2.0], requires_grad=True)
    assert "shares its memory" in _refused(lambda x: (w * x[::-1]).sum(), np.ones(4)[:2])


def test_containers_of_tensors_and_nesting_are_refused():
    w = al.tensor([1.0, 2.0], requires_grad=True)
    inner = al.compile(lambda: (w * w).sum())
    assert "holding tensors" in _refused(lambda xs: (w * xs[0]).sum(), [np.ones(2)])
    assert "inside a compiled function" in _refused(lambda: inner() * w.sum())


@pytest.mark.parametrize(
    ("returned", "match"),
    [
        (lambda w: (w * w).sum().data, "must return the loss"),
        (lambda w: w * w, "grad can be implied only for a one-element output"),
    ],
)
def test_a_loss_that_is_no_loss_is_refused(returned, match):
    w = al.tensor([1.0, 2.0], requires_grad=True)
    with pytest.raises((NotReplayable, RuntimeError), match=match):
        al.compile(lambda: returned(w))()


def test_a_loss_made_before_the_call_is_refused():
    w = al.tensor([1.0, 2.0], requires_grad=True)
    loss = (w * w).sum()
    with pytest.raises(NotReplayable, match="made before the call, by sum"):
        al.compile(lambda: loss)()


def test_a_tensor_made_inside_the_function_is_a_constant():
    w = al.tensor([1.0, 2.0], requires_grad=True)
    step = al.compile(lambda: (w * al.tensor([3.0, 4.0])).sum())
    for _ in range(3):
        w.grad = None
        step()
    np.testing.assert_array_equal(w.grad, [3.0, 4.0])


def test_a_constant_array_changed_in_place_is_seen_as_in_eager():
    w = al.tensor([1.0, 2.0], requires_grad=True)
    scale = np.array([1.0, 1.0])  # closed over: the program refers to it
    step = al.compile(lambda: (w * scale).sum())
    for k in range(4):
        scale[:] = k
        w.grad = None
        step()
        np.testing.assert_array_equal(w.grad, [k, k])


def test_a_detached_tensor_is_the_ops_output_without_a_gradient():
    model = nn.Linear(3, 2, rng=0)
    rng = np.random.default_rng(0)

    def loss_fn(x):
        h = model(x)
        target = (h * 2).detach()  # a stop-gradient: a value of this call, not a constant
        return ((h - target) ** 2).sum() + (h * h.data).sum()

    step = al.compile(loss_fn)
    for _ in range(4):
        x = rng.standard_normal((4, 3))
        model.zero_grad()
        loss_fn(x).backward()
        expected = model.weight.grad
        model.zero_grad()
        step(x)
        np.testing.assert_array_equal(model.weight.grad, expected)
