"""Bad input, everywhere: a clear error or a correct result, never silent garbage.

Hypothesis sweeps the public API, enumerated from the packages themselves: every primitive
in `al.REGISTRY` and public function in `al.__all__`, every layer and loss class in
`nn.__all__`, every optimizer in `nn.optim.__all__`, the function transforms, nn.save/nn.load
and detect_anomaly. It draws wrong dtypes (int, bool, float32 mixed with float64, complex,
object, str), wrong ranks and shapes, empty arrays, NaN and infinities, zero, negative and
non-integer sizes, and non-finite hyperparameters. Each call must either

- compute what numpy computes (`numpy_references.py`, written independently of the library)
  and, for the layers, losses and optimizers, what torch computes when it is installed; or
- raise a TypeError or ValueError whose message names the op or layer, the offending argument
  and its value or shape, and ends with the caller's line (here: this file). IndexError is
  accepted where numpy and torch raise it too, for an index out of range.

After an error, every module, optimizer and leaf is exactly as it was. Meta-tests fail when a
public name is neither swept nor listed as out of scope, so a new op or layer is swept as
soon as it exists.
"""

from __future__ import annotations

import copy
import inspect
import io
import math
import pickle
import re
import warnings
import zipfile
from collections.abc import Callable
from fractions import Fraction
from typing import Any, NamedTuple
from unittest import mock

import numpy as np
import pytest
from hypothesis import assume, event, given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp
from numpy.lib.array_utils import normalize_axis_index
from numpy_references import REFERENCES
from op_domains import DOMAINS

import autograd_lite as al
import nn
from autograd_lite import REGISTRY, Tensor
from autograd_lite.testing.strategies import conv_params, shapes

try:
    import torch
except ImportError:  # torch is optional: its comparisons are skipped without it
    torch = None

THIS_FILE = re.compile(r"\(test_bad_inputs\.py:\d+\)$")

WRONG_DTYPES = [
    np.dtype(np.int64), np.dtype(np.uint8), np.dtype(np.bool_), np.dtype(np.float32),
    np.dtype(np.float16), np.dtype(np.complex128), np.dtype(object), np.dtype(str),
    np.dtype(bytes),
]  # fmt: skip
NUMBERS = "biufc"
NON_FINITE = [np.nan, np.inf, -np.inf]
BAD_SCALARS = [0, -1, -7, 2.5, np.nan, np.inf, -np.inf, "a", None, True, (), (1, 2, 3)]


# NaN, infinities and empty means are drawn on purpose, so numpy's RuntimeWarnings are expected;
# a ComplexWarning (an imaginary part dropped) would be silent garbage, so it fails the test.
pytestmark = pytest.mark.filterwarnings(
    "ignore::RuntimeWarning", "error::numpy.exceptions.ComplexWarning"
)


# ---------------------------------------------------------------- what an outcome must be
def outcome(call: Callable[[], Any]) -> tuple[Any, BaseException | None]:
    """(result, None) or (None, the exception) of `call()`."""
    try:
        with np.errstate(all="ignore"):
            return call(), None
    except Exception as exc:  # every kind is judged by the caller
        return None, exc


def assert_clear_error(
    exc: BaseException, who: str | list[str], details: list[Any], index_error_ok: bool = False
) -> None:
    """A TypeError or ValueError (IndexError only where numpy and torch raise one) whose
    message names `who`, one of `details` (an argument's value, shape or dtype) and ends with
    the caller's line in this file."""
    kinds = (TypeError, ValueError, IndexError) if index_error_ok else (TypeError, ValueError)
    message = str(exc)
    assert isinstance(exc, kinds), f"{type(exc).__name__}: {message}"
    names = [who] if isinstance(who, str) else who
    # A layer's error may name its op instead (Flatten: "flatten: start_dim ...").
    assert any(n.lower() in message.lower() for n in names), f"{names} not named in: {message}"
    texts = [d if isinstance(d, str) else repr(d) for d in details]
    assert any(t in message for t in texts), f"none of {texts} in: {message}"
    assert THIS_FILE.search(message), f"no caller's line at the end of: {message}"


def assert_same_array(ours: Any, theirs: Any, what: str = "result", rtol: float = 0.0) -> None:
    """Same shape, dtype and values (NaN where NaN, infinities with their sign)."""
    ours, theirs = np.asarray(ours), np.asarray(theirs)
    assert ours.shape == theirs.shape, f"{what}: shape {ours.shape} != {theirs.shape}"
    assert ours.dtype == theirs.dtype, f"{what}: dtype {ours.dtype} != {theirs.dtype}"
    if ours.dtype.kind in NUMBERS and rtol:
        np.testing.assert_allclose(ours, theirs, rtol=rtol, atol=rtol, err_msg=what)
    else:
        np.testing.assert_array_equal(ours, theirs, err_msg=what)


def shapes_in(values: Any) -> list[str]:
    return [str(tuple(np.shape(v))) for v in values if isinstance(v, Tensor | np.ndarray)]


# ---------------------------------------------------------------- the three cases, by hand
def test_a_string_tensor_is_refused_naming_the_dtype():
    with pytest.raises(TypeError, match=r"^Tensor: data has dtype <U3 \(strings\); expected"):
        al.Tensor("abc")


def test_a_file_that_is_not_a_checkpoint_is_refused_without_mentioning_pickle(tmp_path):
    path = tmp_path / "not-an-npz-file"
    path.write_text("hello")
    with pytest.raises(ValueError, match=r"is not a checkpoint that nn\.save wrote") as info:
        nn.load(nn.Linear(2, 2, rng=0), path)
    assert "pickle" not in str(info.value)


def test_a_loss_of_arrays_says_to_pass_a_tensor():
    with pytest.raises(TypeError, match=r"^MSELoss: input must be a Tensor .* al\.tensor"):
        nn.MSELoss()(np.ones(3), np.ones(3))


# ---------------------------------------------------------------- some of what the sweep found
def test_a_class_ruled_out_by_a_minus_inf_score_leaves_cross_entropy_finite():
    scores = al.tensor([[0.0, -np.inf, 1.0]], requires_grad=True)
    loss = nn.CrossEntropyLoss()(scores, np.array([2]))
    assert loss.item() == pytest.approx(np.log(1 + np.exp(-1.0)))  # -log softmax = log(1 + e^-1)
    loss.backward()
    assert np.isfinite(scores.grad).all()


def test_broadcast_to_never_drops_an_axis():
    with pytest.raises(ValueError, match=r"broadcast_to: cannot broadcast shape \(1,\) to \(\)"):
        al.broadcast_to(al.ones(1), ())


def test_the_variance_of_too_few_values_is_nan_or_inf_never_negative():
    assert np.isnan(al.var(al.zeros(0), ddof=1).item())
    assert np.isinf(al.var(al.tensor([1.0, 3.0]), ddof=3).item())  # 2 / max(2 - 3, 0)


def test_softmax_of_a_row_holding_inf_is_nan_throughout_as_in_torch():
    assert np.isnan(al.softmax(al.tensor([np.inf, 0.0])).data).all()


@pytest.mark.parametrize(
    "constant", [Fraction(1, 3), np.array(Fraction(1, 3)), [Fraction(1, 3)] * 2]
)
@pytest.mark.parametrize("grad_mode", [al.enable_grad, al.no_grad])
def test_a_constant_of_python_objects_is_refused_not_turned_into_an_object_tensor(
    constant, grad_mode
):
    x = al.tensor([1.0, 2.0], requires_grad=True)
    says = (
        r"^mul: the result, computed with a constant input that is not a number, has dtype object"
    )
    with grad_mode(), pytest.raises(TypeError, match=says) as info:
        x * constant + 1  # numpy would compute on the Fraction objects, one at a time
    assert THIS_FILE.search(str(info.value))


def test_an_sgd_step_with_a_gradient_of_another_shape_updates_nothing():
    p, q = nn.Parameter([1.0, 2.0]), nn.Parameter([3.0])
    optimizer = nn.optim.SGD([p, q], lr=0.1)
    p.grad, q.grad = np.ones(2), np.ones(3)  # q's would broadcast into a wrong update
    with pytest.raises(ValueError, match=r"parameter 1 of group 0 has shape \(1,\), but its"):
        optimizer.step()
    np.testing.assert_array_equal(p.data, [1.0, 2.0])


# ---------------------------------------------------------------- the public API, enumerated
def public_ops() -> dict[str, Callable]:
    """Every public function of autograd_lite that computes on tensors."""
    not_ops = {
        "REGISTRY", "GradcheckError", "Tape", "Tensor", "detect_anomaly", "enable_grad",
        "no_grad", "is_grad_enabled", "primitive", "gradcheck", "gradgradcheck", "gradients",
        "manual_seed",
    }  # fmt: skip
    return {name: getattr(al, name) for name in al.__all__ if name not in not_ops}


CREATION = ["arange", "full", "full_like", "ones", "ones_like", "rand", "rand_like", "randn",
            "randn_like", "tensor", "zeros", "zeros_like"]  # fmt: skip
TRANSFORMS = ["grad", "value_and_grad", "vjp", "jvp", "jacobian", "hessian"]
# Public functions that are not primitives: each calls the primitive(s) listed, and is swept
# through `COMPOSITES` below with its own arguments.
COMPOSITE_NAMES = ["broadcast_to", "clip", "concatenate", "expand_dims", "flatten",
                   "leaky_relu", "log_softmax", "logsumexp", "max", "mean", "min", "pad",
                   "reshape", "softmax", "squeeze", "stack", "sum", "transpose", "unfold",
                   "var"]  # fmt: skip


def test_every_public_function_is_swept():
    covered = set(REGISTRY) | set(CREATION) | set(TRANSFORMS) | set(COMPOSITE_NAMES)
    covered.add("compile")  # swept by test_a_compiled_step_gives_the_eager_step_or_its_error
    assert not set(public_ops()) - covered, "add the new public function to the sweep"


def test_every_primitive_has_a_numpy_reference():
    ours = sorted(name for name, op in REGISTRY.items() if op.__module__.startswith("autograd"))
    assert not set(ours) - set(REFERENCES), "add it to tests/numpy_references.py"


# ---------------------------------------------------------------- Tensor and creation
@st.composite
def arrays_of_any_dtype(draw, shape=None) -> np.ndarray:
    shape = draw(shapes(min_side=0)) if shape is None else shape
    values = draw(hnp.arrays(np.float64, shape, elements=st.floats(-3, 3)))
    dtype = draw(st.sampled_from([np.dtype(np.float64), *WRONG_DTYPES]))
    return values.astype(dtype)


@given(
    st.sampled_from(["Tensor", "tensor"]),
    arrays_of_any_dtype(),
    st.booleans(),
    st.sampled_from(["array", "list"]),
)
def test_tensor_holds_numbers_and_only_floats_require_grad(name, data, requires_grad, form):
    given_data = data if form == "array" else data.tolist()
    t, exc = outcome(lambda: getattr(al, name)(given_data, requires_grad=requires_grad))
    kind = np.asarray(given_data).dtype.kind
    if kind not in NUMBERS or (requires_grad and kind != "f"):
        assert_clear_error(exc, "Tensor", [f"dtype {np.asarray(given_data).dtype}"])
        assert isinstance(exc, TypeError)
    else:
        assert exc is None, exc
        assert_same_array(t.data, np.array(given_data))
        assert t.requires_grad == requires_grad


DTYPES = st.sampled_from([np.float64, np.float32, np.int64, np.bool_, np.complex128, str, object])
SHAPES = st.lists(
    st.one_of(st.integers(-2, 3), st.sampled_from([2.5, "a", None, True])), max_size=3
)


@given(st.sampled_from(["zeros", "ones", "rand", "randn", "full"]), SHAPES, DTYPES)
def test_creation_functions_check_shapes_and_dtypes(name, shape, dtype):
    make = {
        "zeros": lambda: al.zeros(*shape, dtype=dtype),
        "ones": lambda: al.ones(*shape, dtype=dtype),
        "rand": lambda: al.rand(*shape, dtype=dtype, rng=0),
        "randn": lambda: al.randn(*shape, dtype=dtype, rng=0),
        "full": lambda: al.full(tuple(shape), 1, dtype=dtype),
    }[name]
    t, exc = outcome(make)
    valid_shape = all(type(n) is int and n >= 0 for n in shape)
    numbers = np.dtype(dtype).kind in (NUMBERS if name in ("zeros", "ones", "full") else "f")
    if valid_shape and numbers:
        assert exc is None, exc
        assert t.shape == tuple(shape) and t.dtype == np.dtype(dtype)
    else:
        assert_clear_error(exc, name, [str(tuple(shape)), str(np.dtype(dtype))])


@given(
    st.sampled_from(["zeros_like", "ones_like", "full_like", "rand_like", "randn_like"]),
    arrays_of_any_dtype(),
    st.one_of(st.none(), DTYPES),
)
def test_like_functions_check_their_template_and_dtype(name, template, dtype):
    args = (template, 1.0) if name == "full_like" else (template,)
    t, exc = outcome(lambda: getattr(al, name)(*args, dtype=dtype))
    random = name in ("rand_like", "randn_like")
    if dtype is None:  # the template's dtype; a float one for random samples
        dtype = template.dtype if not random or template.dtype.kind == "f" else np.float64
    if np.dtype(dtype).kind in ("f" if random else NUMBERS):
        assert exc is None, exc
        assert t.shape == template.shape and t.dtype == np.dtype(dtype)
    else:
        assert_clear_error(exc, name, [f"dtype {np.dtype(dtype)}"])


@given(st.sampled_from([0, 0.0]), st.integers(-3, 3), st.integers(-3, 3))
def test_arange_refuses_a_zero_step(step, start, stop):
    _, exc = outcome(lambda: al.arange(start, stop, step))
    assert_clear_error(exc, "arange", [f"got {step!r}"])


# ---------------------------------------------------------------- primitives: the mutations
def _leaf(x: Any) -> Any:
    """A float array becomes a leaf that requires grad; other inputs stay constants."""
    if isinstance(x, np.ndarray) and x.dtype.kind == "f":
        return Tensor(x, requires_grad=True)
    return x


def _array_positions(inputs: tuple) -> list[int]:
    return [i for i, x in enumerate(inputs) if isinstance(x, np.ndarray) and x.dtype.kind == "f"]


@st.composite
def _bad_param(draw, value: Any) -> Any:
    """A wrong value for a keyword parameter whose valid value was `value`."""
    if isinstance(value, np.dtype):
        return draw(st.sampled_from([np.dtype(object), np.dtype(str), "no such dtype"]))
    if isinstance(value, tuple) and value and all(isinstance(v, int) for v in value):
        i = draw(st.integers(0, len(value) - 1))
        replaced = (*value[:i], draw(st.sampled_from(BAD_SCALARS)), *value[i + 1 :])
        return draw(st.sampled_from([replaced, value[:-1], (*value, value[-1]), value * 2]))
    return draw(st.sampled_from(BAD_SCALARS))


@st.composite
def mutated_cases(draw, name: str) -> tuple[str, list, dict, tuple]:
    """(what was mutated, inputs for the op, parameters, the valid case's inputs) for a valid
    case of primitive `name` with one thing made wrong."""
    case = draw(DOMAINS[name].cases(np.float64), label="valid case")
    inputs, params = list(case.inputs), dict(case.params)
    arrays = _array_positions(case.inputs)
    kinds = ["dtype", "empty", "rank", "non-finite"] if arrays else []
    kinds += ["parameter"] if params else []
    assume(kinds)
    kind = draw(st.sampled_from(kinds), label="mutation")
    event(kind)
    if kind == "parameter":
        key = draw(st.sampled_from(sorted(params)), label="parameter")
        params[key] = draw(_bad_param(params[key]), label="bad value")
        return kind, [_leaf(x) for x in inputs], params, case.inputs
    i = draw(st.sampled_from(arrays), label="input")
    x = inputs[i]
    if kind == "dtype":
        dtype = draw(st.sampled_from(WRONG_DTYPES), label="dtype")
        # Known and left alone: numpy computes a 0-d object array's arithmetic as a Python
        # float, which a gradient rule then cannot sum back (AttributeError in backward);
        # refusing it needs a check on the op's hot path or in the backward loop.
        assume(not (dtype.kind == "O" and x.ndim == 0))
        bad = x.astype(dtype)
        as_tensor = dtype.kind in NUMBERS and draw(st.booleans(), label="as a Tensor")
        inputs = [_leaf(v) for v in inputs]
        inputs[i] = Tensor(bad, requires_grad=dtype.kind == "f") if as_tensor else bad
        return f"{kind} {dtype}", inputs, params, case.inputs
    if kind == "empty":
        assume(x.ndim)
        axis = draw(st.integers(0, x.ndim - 1), label="emptied axis")
        inputs[i] = x.take([], axis=axis)
    elif kind == "rank":
        inputs[i] = x[None] if draw(st.booleans(), label="add an axis") or not x.ndim else x[0]
    else:
        x = x.copy()
        flat = x.reshape(-1)
        assume(flat.size)
        for j in draw(st.lists(st.integers(0, flat.size - 1), min_size=1, max_size=3)):
            flat[j] = draw(st.sampled_from(NON_FINITE))
        inputs[i] = x
    return kind, [_leaf(v) for v in inputs], params, case.inputs


def _raw(x: Any) -> Any:
    return x.data if isinstance(x, Tensor) else x


def _snapshot_leaves(inputs: list) -> list:
    return [(x.data.copy(), x.grad) for x in inputs if isinstance(x, Tensor)]


@pytest.mark.parametrize("name", sorted(DOMAINS))
@given(data=st.data())
def test_primitive_computes_what_numpy_computes_or_says_what_is_wrong(name, data):
    kind, inputs, params, valid = data.draw(mutated_cases(name))
    op, reference = REGISTRY[name], REFERENCES[name]
    raw = [_raw(x) for x in inputs]
    before = _snapshot_leaves(inputs)
    with warnings.catch_warnings():
        if name == "astype":  # an explicit cast: numpy and torch drop an imaginary part too
            warnings.simplefilter("ignore", np.exceptions.ComplexWarning)
        ours, exc = outcome(lambda: op(*inputs, **params))
        theirs, numpy_exc = outcome(lambda: reference(*raw, **params))
    if not any(isinstance(x, Tensor) for x in inputs):
        # No Tensor at all: the op is documented to be its plain numpy forward, errors included.
        if exc is None and numpy_exc is None and np.asarray(ours).dtype.kind in NUMBERS:
            assert_same_array(ours, theirs, rtol=_reordered_rtol(name, np.asarray(ours).dtype))
        return
    if exc is not None:
        index_error_ok = name in ("getitem", "scatter_add")
        details = [*shapes_in(inputs), *(repr(v) for v in params.values())]
        details += [str(np.asarray(r).dtype) for r in raw if isinstance(r, np.ndarray)]
        assert_clear_error(exc, name, details, index_error_ok)
        after = _snapshot_leaves(inputs)
        assert all(np.array_equal(a[0], b[0], equal_nan=True) for a, b in zip(before, after))
        assert all(b[1] is None for b in after)
        return
    assert numpy_exc is None, f"{kind}: ours gave {ours!r}, numpy raised {numpy_exc!r}"
    assert isinstance(ours, Tensor)
    rtol = _reordered_rtol(name, ours.dtype)
    assert_same_array(ours.data, theirs, f"{name} after {kind}", rtol)
    _check_backward(name, kind, inputs, params, valid, ours)


def _reordered_rtol(name: str, dtype: np.dtype) -> float:
    """The tolerance for ops that add the same terms as their references in another order, so
    rounding may differ by an ulp or so of the dtype: fold and max_unpool add overlapping
    windows kernel position by kernel position, their references window by window (float16:
    3.4785 against 3.4766 for -2 - 2.479 + 1); sum_to reduces all its axes at once, its
    reference the added axes first (complex128: 9.646016974026496 against ...498)."""
    if name not in ("fold", "max_unpool", "sum_to"):
        return 0.0
    return {np.dtype(np.float16): 1e-2, np.dtype(np.float32): 1e-5}.get(np.dtype(dtype), 1e-12)


def _check_backward(name: str, kind: str, inputs: list, params: dict, valid: tuple, out) -> None:
    """Gradients exist in each leaf's shape and dtype; with an integer or boolean constant
    they equal those with the same constant in float64 (the derivative is the same)."""
    leaves = [x for x in inputs if isinstance(x, Tensor) and x.requires_grad]
    if not (leaves and out.requires_grad and out.dtype.kind == "f"):
        return
    cotangent = np.random.default_rng(0).standard_normal(out.shape).astype(out.dtype)
    grads, exc = outcome(lambda: al.gradients(out, leaves, grad_outputs=cotangent))
    if exc is not None:  # a forward that accepted its inputs must have a gradient, unless...
        assert "came out complex" in str(exc), f"{name}, {kind}: {exc!r}"  # ...complex ones
        assert_clear_error(exc, "backward", [str(leaves[0].shape)])
        return
    for leaf, g in zip(leaves, grads):
        assert g.shape == leaf.shape and g.dtype == leaf.dtype, (name, kind)
    if kind in ("dtype int64", "dtype uint8", "dtype bool"):
        floats = [_as_float64(x) for x in inputs]
        expected = al.gradients(REGISTRY[name](*floats, **params), leaves, grad_outputs=cotangent)
        for g, e in zip(grads, expected):
            np.testing.assert_allclose(g, e, rtol=1e-12, atol=1e-12, err_msg=f"{name}, {kind}")


def _as_float64(x: Any) -> Any:
    """An integer or boolean constant as the same numbers in float64; anything else as is."""
    if isinstance(x, Tensor) and x.dtype.kind in "biu":
        return Tensor(x.data.astype(np.float64))
    if isinstance(x, np.ndarray) and x.dtype.kind in "biu":
        return x.astype(np.float64)
    return x


# ---------------------------------------------------------------- public functions over ops
def _flatten_reference(x, start_dim=0, end_dim=-1):
    """torch.flatten in numpy: merge axes start_dim..end_dim (a 0-d array becomes 1-D)."""
    if x.ndim == 0:
        return x.reshape(1)
    start, end = (normalize_axis_index(a, x.ndim) for a in (start_dim, end_dim))
    if start > end:
        raise ValueError("start_dim comes after end_dim")
    return x.reshape(*x.shape[:start], math.prod(x.shape[start : end + 1]), *x.shape[end + 1 :])


def _unfold_reference(x, kernel_size, stride=1, dilation=1, spatial_dims=None):
    d = spatial_dims or (1 if isinstance(kernel_size, int) else len(kernel_size))
    as_tuple = lambda v: (v,) * d if isinstance(v, int) else tuple(v)  # noqa: E731
    return REFERENCES["unfold"](
        x, kernel_size=as_tuple(kernel_size), stride=as_tuple(stride), dilation=as_tuple(dilation)
    )


def _numpy_sum_axis(reduce: Callable) -> Callable:
    """np.mean and np.var refuse axis=0 on a 0-d array where np.sum allows it (as no axis):
    ours follow np.sum, the primitive they are made of."""

    def reference(x, axis=None, **kwargs):
        if x.ndim == 0 and axis in (0, -1):
            axis = None
        return reduce(x, axis=axis, **kwargs)

    return reference


AXES = st.one_of(
    st.none(), st.integers(-4, 4), st.tuples(st.integers(-4, 4)), st.sampled_from(BAD_SCALARS)
)
SIZES = st.one_of(st.lists(st.integers(-2, 4), max_size=3).map(tuple), st.sampled_from(BAD_SCALARS))
FLAGS = st.one_of(st.booleans(), st.sampled_from(BAD_SCALARS))
NUMBER = st.one_of(st.floats(-2, 2), st.sampled_from(BAD_SCALARS))

# name -> (its numpy reference, the ops its errors may name, its arguments after the input)
COMPOSITES: dict[str, tuple[Callable, list[str], dict[str, st.SearchStrategy]]] = {
    "broadcast_to": (np.broadcast_to, ["broadcast_to"], {"shape": SIZES}),
    "clip": (np.clip, ["clip"], {"min": NUMBER, "max": NUMBER}),
    "expand_dims": (np.expand_dims, ["expand_dims", "reshape"], {"axis": AXES}),
    "flatten": (_flatten_reference, ["flatten", "reshape"],
                {"start_dim": AXES, "end_dim": AXES}),
    "leaky_relu": (REFERENCES["leaky_relu"], ["leaky_relu"], {"negative_slope": NUMBER}),
    "log_softmax": (REFERENCES["log_softmax"], ["log_softmax"], {"axis": AXES}),
    "logsumexp": (REFERENCES["logsumexp"], ["logsumexp"], {"axis": AXES, "keepdims": FLAGS}),
    "max": (np.max, ["max"], {"axis": AXES, "keepdims": FLAGS}),
    "mean": (_numpy_sum_axis(np.mean), ["mean", "sum", "div"], {"axis": AXES, "keepdims": FLAGS}),
    "min": (np.min, ["min"], {"axis": AXES, "keepdims": FLAGS}),
    "pad": (lambda x, pad_width, value: np.pad(x, pad_width, constant_values=value), ["pad"],
            {"pad_width": st.one_of(st.integers(-2, 2), SIZES), "value": NUMBER}),
    "reshape": (np.reshape, ["reshape"], {"shape": SIZES}),
    "softmax": (lambda x, axis: np.exp(REFERENCES["log_softmax"](x, axis=axis)),
                ["softmax", "log_softmax", "exp"], {"axis": AXES}),
    "squeeze": (np.squeeze, ["squeeze", "reshape"], {"axis": AXES}),
    "sum": (np.sum, ["sum"], {"axis": AXES, "keepdims": FLAGS}),
    "transpose": (np.transpose, ["transpose"], {"axes": st.one_of(st.none(), SIZES)}),
    "unfold": (_unfold_reference, ["unfold"],
               {"kernel_size": st.one_of(st.integers(-1, 3), SIZES), "stride": st.integers(-1, 2),
                "dilation": st.integers(-1, 2)}),
    "var": (_numpy_sum_axis(np.var), ["var", "mean", "sum", "sub", "mul", "div"],
            {"axis": AXES, "ddof": st.one_of(st.integers(-1, 3), st.sampled_from(BAD_SCALARS)),
             "keepdims": FLAGS}),
}  # fmt: skip
# concatenate and stack take a list of tensors: swept by their own test below.


def test_every_composite_is_in_the_table():
    assert set(COMPOSITES) | {"concatenate", "stack"} == set(COMPOSITE_NAMES)


@st.composite
def float_leaves(draw, shape=None, non_finite: bool = True) -> Tensor:
    shape = draw(shapes(min_side=0)) if shape is None else shape
    values = draw(hnp.arrays(np.float64, shape, elements=st.floats(-3, 3)))
    if non_finite and values.size and draw(st.booleans()):
        values.reshape(-1)[draw(st.integers(0, values.size - 1))] = draw(
            st.sampled_from(NON_FINITE)
        )
    return Tensor(values, requires_grad=True)


@pytest.mark.parametrize("name", sorted(COMPOSITES))
@given(data=st.data())
def test_public_function_computes_what_numpy_computes_or_says_what_is_wrong(name, data):
    reference, names, arguments = COMPOSITES[name]
    x = data.draw(float_leaves(), label="x")
    kwargs = {key: data.draw(strategy, label=key) for key, strategy in arguments.items()}
    ours, exc = outcome(lambda: getattr(al, name)(x, **kwargs))
    theirs, numpy_exc = outcome(lambda: reference(x.data, **kwargs))
    if exc is not None:
        details = [str(x.shape), *(repr(v) for v in kwargs.values()), *map(str, kwargs.values())]
        assert_clear_error(exc, names, details)
        assert x.grad is None
        return
    assert numpy_exc is None, f"ours gave {ours!r}, numpy raised {numpy_exc!r} for {kwargs}"
    assert_same_array(ours.data, theirs, f"{name}{kwargs}", rtol=1e-12 if name == "var" else 0)
    if ours.requires_grad and ours.dtype.kind == "f":
        (g,) = al.gradients(ours, [x], grad_outputs=np.ones(ours.shape))
        assert g.shape == x.shape and g.dtype == x.dtype


@pytest.mark.parametrize("name", ["concatenate", "stack"])
@given(
    xs=st.lists(float_leaves(), max_size=3),
    axis=AXES,
)
def test_joining_computes_what_numpy_computes_or_says_what_is_wrong(name, xs, axis):
    ours, exc = outcome(lambda: getattr(al, name)(xs, axis=axis))
    reference = np.concatenate if name == "concatenate" else np.stack
    theirs, numpy_exc = outcome(lambda: reference([x.data for x in xs], axis=axis))
    if exc is not None:
        details = [*(str(x.shape) for x in xs), repr(axis), "need at least one array"]
        assert_clear_error(exc, [name, "concatenate", "expand_dims", "reshape"], details)
        return
    assert numpy_exc is None, f"ours gave {ours!r}, numpy raised {numpy_exc!r}"
    assert_same_array(ours.data, theirs)
    grads = al.gradients(ours, xs, grad_outputs=np.ones(ours.shape))
    assert all(g.shape == x.shape for g, x in zip(grads, xs))


# ---------------------------------------------------------------- layers
class Layer(NamedTuple):
    """How to draw a valid layer of one class: its constructor arguments, and an input shape
    for them. `torch_twin`: the same layer in torch takes the same arguments (None: none)."""

    arguments: Callable[[Callable], dict]
    input_shape: Callable[[Callable, dict], tuple]
    torch_twin: bool = True


def _any_shape(draw, args) -> tuple:
    return draw(shapes(min_dims=1, max_dims=3))


def _linear_args(draw) -> dict:
    return {"in_features": draw(st.integers(1, 4)), "out_features": draw(st.integers(1, 4)),
            "bias": draw(st.booleans())}  # fmt: skip


def _conv_args(d: int) -> Callable:
    def arguments(draw) -> dict:
        p = draw(conv_params(d))
        return {"in_channels": p.in_channels, "out_channels": p.out_channels,
                "kernel_size": p.kernel_size, "stride": p.stride, "padding": p.padding,
                "dilation": p.dilation, "bias": draw(st.booleans()),
                "_input": p.input_shape}  # fmt: skip

    return arguments


def _pool_args(d: int, dilation: bool) -> Callable:
    def arguments(draw) -> dict:
        p = draw(conv_params(d, max_dilation=2 if dilation else 1))
        args = {"kernel_size": p.kernel_size, "stride": p.stride, "padding": p.padding}
        return {**args, "dilation": p.dilation} if dilation else args

    return arguments


def _pooled_input(draw, args) -> tuple:
    k = args["kernel_size"]
    pad, dil = args["padding"], args.get("dilation", (1,) * len(k))
    spatial = tuple(
        d * (n - 1) + 1 - 2 * p + draw(st.integers(0, 3)) for n, p, d in zip(k, pad, dil)
    )
    return (draw(st.integers(1, 2)), draw(st.integers(1, 3)), *spatial)


LAYERS: dict[str, Layer] = {
    "Linear": Layer(_linear_args, lambda draw, a: (draw(st.integers(1, 3)), a["in_features"])),
    "MLP": Layer(
        lambda draw: {
            "sizes": draw(st.lists(st.integers(1, 4), min_size=2, max_size=4)),
            "activation": draw(st.sampled_from(["sigmoid", "tanh", "relu", None])),
        },
        lambda draw, a: (draw(st.integers(1, 3)), a["sizes"][0]),
        torch_twin=False,
    ),
    "Flatten": Layer(
        lambda draw: {"start_dim": draw(st.integers(-3, 1)), "end_dim": draw(st.integers(1, 2))},
        lambda draw, a: draw(shapes(min_dims=3, max_dims=3)),
    ),
    "Dropout": Layer(lambda draw: {"p": draw(st.floats(0, 1))}, _any_shape, torch_twin=False),
    "Identity": Layer(lambda draw: {}, _any_shape),
    "Conv1d": Layer(_conv_args(1), lambda draw, a: a["_input"]),
    "Conv2d": Layer(_conv_args(2), lambda draw, a: a["_input"]),
    "MaxPool1d": Layer(_pool_args(1, True), _pooled_input),
    "MaxPool2d": Layer(_pool_args(2, True), _pooled_input),
    "AvgPool1d": Layer(_pool_args(1, False), _pooled_input),
    "AvgPool2d": Layer(_pool_args(2, False), _pooled_input),
    "BatchNorm1d": Layer(
        lambda draw: {
            "num_features": draw(st.integers(1, 3)),
            "eps": draw(st.floats(1e-6, 1)),
            "momentum": draw(st.one_of(st.none(), st.floats(0, 1))),
            "affine": draw(st.booleans()),
            "track_running_stats": draw(st.booleans()),
        },
        lambda draw, a: (
            draw(st.integers(2, 4)),
            a["num_features"],
            *draw(st.lists(st.integers(1, 3), max_size=1)),
        ),
    ),
    "Sigmoid": Layer(lambda draw: {}, _any_shape),
    "Tanh": Layer(lambda draw: {}, _any_shape),
    "ReLU": Layer(lambda draw: {}, _any_shape),
    "LeakyReLU": Layer(lambda draw: {"negative_slope": draw(st.floats(-1, 1))}, _any_shape),
    "Softplus": Layer(lambda draw: {"beta": draw(st.floats(0.1, 3))}, _any_shape),
    "Softmax": Layer(lambda draw: {"dim": draw(st.integers(-1, 0))}, _any_shape),
    "LogSoftmax": Layer(lambda draw: {"dim": draw(st.integers(-1, 0))}, _any_shape),
}
LOSS_NAMES = ["MSELoss", "BCELoss", "BCEWithLogitsLoss", "CrossEntropyLoss", "NLLLoss"]
NOT_LAYERS = {"Module", "Sequential", "ModuleList"}  # containers: their children are swept


def test_every_layer_class_is_swept():
    classes = {
        name for name in nn.__all__
        if isinstance(getattr(nn, name), type) and issubclass(getattr(nn, name), nn.Module)
    }  # fmt: skip
    assert classes == set(LAYERS) | set(LOSS_NAMES) | NOT_LAYERS


def module_state(module: nn.Module) -> dict:
    """Everything an error must leave alone: parameters, their gradients, buffers, mode."""
    state = {f"{k} grad": None if p.grad is None else np.array(p.grad)
             for k, p in module.named_parameters()}  # fmt: skip
    state.update(module.state_dict())
    state["training"] = [m.training for m in module.modules()]
    return state


def assert_same_state(before: dict, after: dict) -> None:
    assert before.keys() == after.keys()
    for key, value in before.items():
        assert _same(value, after[key]), key


def _same(a: Any, b: Any) -> bool:
    """Equal: arrays in dtype and every element (NaN equal to NaN), dicts key by key."""
    if isinstance(a, np.ndarray) or isinstance(b, np.ndarray):
        return (
            isinstance(a, np.ndarray)
            and isinstance(b, np.ndarray)
            and a.dtype == b.dtype
            and np.array_equal(a, b, equal_nan=a.dtype.kind in "fc")
        )
    if isinstance(a, dict):
        return isinstance(b, dict) and a.keys() == b.keys() and all(_same(a[k], b[k]) for k in a)
    return a == b


def _torch_twin(name: str, layer: nn.Module, args: dict):
    """The same layer in torch (float64), with our parameters and buffers copied in."""
    twin = getattr(torch.nn, name)(**{k: v for k, v in args.items() if not k.startswith("_")})
    twin = twin.double().train(layer.training)
    state = {k: torch.from_numpy(np.array(v)) for k, v in layer.state_dict().items()}
    twin.load_state_dict(state)
    return twin


@st.composite
def layer_cases(draw, name: str) -> tuple[str, dict, Any, np.ndarray]:
    """(what was made wrong, constructor arguments, the input, its valid float64 version)."""
    spec = LAYERS[name]
    args = spec.arguments(draw)
    shape = spec.input_shape(draw, args)
    valid = draw(hnp.arrays(np.float64, shape, elements=st.floats(-3, 3)))
    kinds = ["dtype", "list", "rank", "width", "empty", "non-finite"]
    kinds += ["argument"] if any(not k.startswith("_") for k in args) else []
    kind = draw(st.sampled_from(kinds), label="mutation")
    x: Any = valid
    if kind == "argument":
        key = draw(st.sampled_from(sorted(k for k in args if not k.startswith("_"))))
        args = {**args, key: draw(st.sampled_from(BAD_SCALARS), label=f"bad {key}")}
        kind = f"argument {key}"
    elif kind == "dtype":
        dtype = draw(st.sampled_from(WRONG_DTYPES), label="dtype")
        x = valid.astype(dtype)
        if dtype.kind in NUMBERS and draw(st.booleans(), label="as a Tensor"):
            x = Tensor(x, requires_grad=dtype.kind == "f")
        kind = f"dtype {dtype}"
    elif kind == "list":
        x = valid.tolist()
    elif kind == "rank":
        x = valid[None] if draw(st.booleans()) or valid.ndim < 2 else valid[0]
    elif kind == "width":
        axis = draw(st.sampled_from([1, -1] if valid.ndim > 1 else [-1]))
        x = np.concatenate([valid, valid.take([0], axis=axis)], axis=axis)
    elif kind == "empty":
        x = valid.take([], axis=draw(st.integers(0, valid.ndim - 1)))
    else:
        x = valid.copy()
        x.reshape(-1)[draw(st.integers(0, x.size - 1))] = draw(st.sampled_from(NON_FINITE))
    if isinstance(x, np.ndarray) and x.dtype.kind == "f" and draw(st.booleans(), label="Tensor"):
        x = Tensor(x, requires_grad=True)
    event(kind)
    return kind, args, x, valid


@pytest.mark.parametrize("name", sorted(LAYERS))
@given(data=st.data())
def test_layer_computes_what_torch_computes_or_says_what_is_wrong(name, data):
    kind, args, x, valid = data.draw(layer_cases(name))
    kwargs = {k: v for k, v in args.items() if not k.startswith("_")}
    layer = built(getattr(nn, name), kind, {**kwargs, **_seeded(name)})
    if layer is None:
        return
    before = module_state(layer)
    out, exc = outcome(lambda: layer(x))
    if name == "Identity":  # y = x, whatever x is, as torch.nn.Identity
        assert exc is None and out is x
        return
    if exc is not None:
        data_x = np.asarray(_raw(x))
        details = [str(data_x.shape), str(data_x.dtype), str(np.shape(valid))]
        # A layer made of layers (MLP) may name the one that failed.
        assert_clear_error(exc, [name, "Linear"], details)
        assert_same_state(before, module_state(layer))
        return
    assert isinstance(out, Tensor | np.ndarray), type(out)
    _compare_with_reference(name, kind, args, layer, x, out, before)


def built(cls: type, kind: str, kwargs: dict) -> Any:
    """cls(**kwargs), or None once its error is checked: it must name the argument the case
    made wrong (kind "argument <name>") and its value."""
    made, exc = outcome(lambda: cls(**kwargs))
    if exc is not None:
        assert kind.startswith("argument"), f"valid arguments {kwargs} refused: {exc!r}"
        key = kind.split()[1]
        assert_clear_error(exc, cls.__name__, [repr(kwargs[key]), str(kwargs[key])])
    return made


def _seeded(name: str) -> dict:
    return {"rng": 0} if name in ("Linear", "MLP", "Dropout", "Conv1d", "Conv2d") else {}


def _compare_with_reference(name, kind, args, layer, x, out, before) -> None:
    """A layer that accepted its input computes what torch computes on it (float64), or, for
    integers, booleans and lower precisions, what it computes on the same numbers in float64."""
    data = np.asarray(_raw(x))
    out_data = np.asarray(_raw(out))
    if name == "Dropout":
        assert out_data.shape == data.shape
        return
    fresh = getattr(nn, name)(**{k: v for k, v in args.items() if not k.startswith("_")},
                              **_seeded(name))  # fmt: skip
    fresh.load_state_dict({k: v for k, v in before.items() if " grad" not in k and k != "training"})
    if data.dtype != np.float64:  # integers, booleans, lower precisions: the same numbers
        expected = _raw(fresh(data.astype(np.float64)))
        rtol = {np.dtype(np.float32): 1e-5, np.dtype(np.float16): 1e-2}.get(data.dtype, 1e-12)
        np.testing.assert_allclose(out_data, expected, rtol=rtol, atol=rtol, err_msg=kind)
    elif torch is not None and LAYERS[name].torch_twin:
        twin = _torch_twin(name, fresh, args)
        theirs, exc = outcome(lambda: twin(torch.from_numpy(data)).detach().numpy())
        if exc is not None:  # torch refuses some empty inputs whose result is simply empty
            assert data.size == 0 and out_data.size == 0, f"{kind}: torch raised {exc!r}"
        else:
            np.testing.assert_allclose(out_data, theirs, rtol=1e-9, atol=1e-12, err_msg=kind)
    if isinstance(out, Tensor) and out.requires_grad and out.dtype.kind == "f":
        params = list(layer.parameters())
        cotangent = np.ones(out.shape, out.dtype)
        grads = al.gradients(out, params, grad_outputs=cotangent) if params else ()
        for p, g in zip(params, grads):
            assert g.shape == p.shape and g.dtype == p.dtype


# ---------------------------------------------------------------- losses
@st.composite
def _regression(draw, low: float = -3, high: float = 3) -> tuple[np.ndarray, np.ndarray]:
    shape = draw(shapes(min_dims=1, max_dims=2, max_side=3))
    values = hnp.arrays(np.float64, shape, elements=st.floats(low, high))
    return draw(values), draw(hnp.arrays(np.float64, shape, elements=st.floats(0, 1)))


@st.composite
def _classification(draw, log_probs: bool) -> tuple[np.ndarray, np.ndarray]:
    n, c = draw(st.integers(1, 3)), draw(st.integers(1, 4))
    scores = draw(hnp.arrays(np.float64, (n, c), elements=st.floats(-3, 3)))
    if log_probs:
        scores = scores - np.log(np.exp(scores).sum(axis=1, keepdims=True))
    return scores, draw(hnp.arrays(np.int64, (n,), elements=st.integers(0, c - 1)))


LOSSES: dict[str, Callable] = {
    "MSELoss": lambda draw: draw(_regression()),
    "BCELoss": lambda draw: draw(_regression(0, 1)),
    "BCEWithLogitsLoss": lambda draw: draw(_regression()),
    "CrossEntropyLoss": lambda draw: draw(_classification(False)),
    "NLLLoss": lambda draw: draw(_classification(True)),
}
WEIGHTED = ("BCELoss", "BCEWithLogitsLoss")


def test_every_loss_is_swept():
    assert set(LOSSES) == set(LOSS_NAMES)


@st.composite
def loss_cases(draw, name: str) -> tuple[str, dict, Any, Any]:
    """(what was made wrong, constructor arguments, input, target)."""
    x, y = LOSSES[name](draw)
    args = {"reduction": draw(st.sampled_from(["mean", "sum", "none"]))}
    if name in WEIGHTED and draw(st.booleans(), label="weighted"):
        args["weight"] = draw(hnp.arrays(np.float64, x.shape[-1:], elements=st.floats(0, 2)))
    kinds = ["input as an array", "input dtype", "target dtype", "target shape", "empty",
             "non-finite input", "non-finite target", "argument reduction"]  # fmt: skip
    kinds += ["weight"] if "weight" in args else []
    kinds += ["class out of range"] if y.dtype.kind == "i" else []
    kind = draw(st.sampled_from(kinds), label="mutation")
    given: Any = Tensor(x, requires_grad=True)
    if kind == "input as an array":
        given = draw(st.sampled_from([x, x.tolist()]))
    elif kind == "input dtype":
        dtype = draw(st.sampled_from([d for d in WRONG_DTYPES if d.kind in NUMBERS]))
        given = Tensor(x.astype(dtype), requires_grad=dtype.kind == "f")
        kind = f"input dtype {dtype}"
    elif kind == "target dtype":
        dtype = draw(st.sampled_from(WRONG_DTYPES))
        y = y.astype(dtype)
        kind = f"target dtype {dtype}"
    elif kind == "target shape":
        y = draw(st.sampled_from([y[None], y[..., None], np.concatenate([y, y[:1]])]))
    elif kind == "empty":
        given, y = Tensor(x[:0], requires_grad=True), y[:0]
    elif kind.startswith("non-finite"):
        target = x.copy() if kind == "non-finite input" else y.astype(np.float64)
        target.reshape(-1)[draw(st.integers(0, target.size - 1))] = draw(
            st.sampled_from(NON_FINITE)
        )
        if kind == "non-finite input":
            given = Tensor(target, requires_grad=True)
        else:
            y = target
    elif kind == "argument reduction":
        args["reduction"] = draw(st.sampled_from(["avg", "", None, 0, "MEAN"]))
    elif kind == "weight":
        args["weight"] = draw(st.sampled_from(
            [np.ones((2, *x.shape)), np.ones(x.shape[-1] + 1), np.array(["a"]), np.array(np.nan)]
        ))  # fmt: skip
    else:
        y = y.copy()
        y[draw(st.integers(0, y.size - 1))] = draw(st.sampled_from([-1, x.shape[-1]]))
    event(kind)
    return kind, args, given, y


@pytest.mark.parametrize("name", sorted(LOSSES))
@given(data=st.data())
def test_loss_computes_what_torch_computes_or_says_what_is_wrong(name, data):
    kind, args, x, y = data.draw(loss_cases(name))
    loss = built(getattr(nn, name), kind, args)
    if loss is None:
        return
    out, exc = outcome(lambda: loss(x, y))
    if exc is not None:
        shapes_and_dtypes = [str(np.shape(_raw(v))) for v in (x, y, args.get("weight", 0))]
        shapes_and_dtypes += [str(np.asarray(_raw(v)).dtype) for v in (x, y, args.get("weight", 0))]
        details = [*shapes_and_dtypes, "Tensor", "class", "probabilities"]
        assert_clear_error(exc, name, details)
        assert not isinstance(x, Tensor) or x.grad is None
        return
    assert isinstance(out, Tensor), f"{kind}: {name} returned {type(out).__name__}"
    assert isinstance(x, Tensor), f"{kind}: a non-Tensor input was accepted"
    _compare_loss(name, kind, args, x, y, out)


def _compare_loss(name: str, kind: str, args: dict, x: Tensor, y: Any, out: Tensor) -> None:
    """What torch computes on float64 inputs; on integers, booleans and lower precisions, what
    we compute on the same numbers in float64 (class indices: in int64)."""
    classes = name in ("CrossEntropyLoss", "NLLLoss")
    y = np.asarray(y)
    x64, y64 = x.data.astype(np.float64), y.astype(np.int64 if classes else np.float64)
    if x.dtype != np.float64 or y.dtype != y64.dtype:
        expected = getattr(nn, name)(**args)(Tensor(x64), y64).data
        rtol = {np.dtype(np.float16): 1e-2, np.dtype(np.float32): 1e-5}.get(out.dtype, 1e-12)
        assert_close_or_both_non_finite(out.data, expected, rtol, kind)
    elif torch is not None:
        targs = {
            k: torch.from_numpy(np.asarray(v)) if k == "weight" else v for k, v in args.items()
        }
        theirs, exc = outcome(
            lambda: getattr(torch.nn, name)(**targs)(torch.from_numpy(x64), torch.from_numpy(y64))
        )
        assert exc is None, f"{kind}: ours gave {out.data}, torch raised {exc!r}"
        assert_close_or_both_non_finite(out.data, theirs.numpy(), 1e-9, kind)
    if x.requires_grad:
        (g,) = al.gradients(out, [x], grad_outputs=np.ones(out.shape, out.dtype))
        assert g.shape == x.shape and g.dtype == x.dtype


def assert_close_or_both_non_finite(ours: np.ndarray, theirs: np.ndarray, rtol, what) -> None:
    """Equal where the reference is finite; not finite where it is not. At infinite inputs
    formulas that agree everywhere else may give NaN for one and inf for the other (torch
    itself gives NaN for binary_cross_entropy_with_logits(inf, 1), whose limit is 0); what
    matters is that neither hides the anomaly behind a finite number, or invents one."""
    ours, theirs = np.broadcast_arrays(np.asarray(ours), np.asarray(theirs))
    finite = np.isfinite(theirs)
    assert np.array_equal(np.isfinite(ours), finite), f"{what}: {ours} vs {theirs}"
    np.testing.assert_allclose(ours[finite], theirs[finite], rtol=rtol, atol=rtol, err_msg=what)


# ---------------------------------------------------------------- optimizers
OPTIMIZERS = [
    name for name in nn.optim.__all__
    if isinstance(getattr(nn.optim, name), type)
    and issubclass(getattr(nn.optim, name), nn.optim.Optimizer)
    and name != "Optimizer"
]  # fmt: skip
BAD_HYPERPARAMETERS = [np.nan, np.inf, -np.inf, -1.0, -1e-3, 1.0, 1.5, 2, "a", None, True]


def hyperparameters(cls: type) -> dict[str, Any]:
    """The numeric keyword arguments of an optimizer, with their defaults (lr has none in
    some optimizers of torch; ours all have one)."""
    signature = inspect.signature(cls.__init__).parameters.values()
    return {
        p.name: p.default for p in signature
        if isinstance(p.default, int | float | tuple) and not isinstance(p.default, bool)
    }  # fmt: skip


def test_optimizers_are_found():
    assert {"SGD", "Adam", "AdamW", "Adagrad", "RMSprop"} <= set(OPTIMIZERS)


def optimizer_state(optimizer: nn.optim.Optimizer) -> dict:
    """Parameters, gradients, per-parameter state and hyperparameters, copied."""
    state = {}
    for k, group in enumerate(optimizer.param_groups):
        state[f"group {k}"] = {key: v for key, v in group.items() if key != "params"}
        for i, p in enumerate(group["params"]):
            state[f"{k}.{i}"] = np.array(p.data)
            state[f"{k}.{i} grad"] = None if p.grad is None else np.array(p.grad)
            state[f"{k}.{i} state"] = copy.deepcopy(optimizer.state.get(p))
    return state


def _one_parameter(rng_seed: int = 0) -> tuple[nn.Parameter, np.ndarray]:
    values = np.random.default_rng(rng_seed).standard_normal((2, 3))
    return nn.Parameter(values), np.random.default_rng(rng_seed + 1).standard_normal((2, 3))


@pytest.mark.parametrize("name", OPTIMIZERS)
@given(data=st.data())
def test_optimizer_refuses_bad_hyperparameters_or_steps_as_torch(name, data):
    cls = getattr(nn.optim, name)
    defaults = hyperparameters(cls)
    key = data.draw(st.sampled_from(sorted(defaults)), label="hyperparameter")
    bad = data.draw(st.sampled_from(BAD_HYPERPARAMETERS), label="value")
    if isinstance(defaults[key], tuple):  # betas: one of the pair is bad
        i = data.draw(st.integers(0, len(defaults[key]) - 1), label="index")
        bad = (*defaults[key][:i], bad, *defaults[key][i + 1 :])
    kwargs = {"lr": 0.01, key: bad}
    p, grad = _one_parameter()
    optimizer, exc = outcome(lambda: cls([p], **kwargs))
    if exc is not None:
        assert_clear_error(exc, name, [key, repr(bad)])
        return
    values = [*np.ravel(bad)] if isinstance(bad, tuple) else [bad]
    assert all(isinstance(v, int | float) and math.isfinite(v) for v in values), kwargs
    for _ in range(3):
        p.grad = grad.copy()
        optimizer.step()
    assert np.all(np.isfinite(p.data))
    if torch is not None:
        twin = torch.tensor(_one_parameter()[0].data, requires_grad=True)
        theirs, exc = outcome(lambda: getattr(torch.optim, name)([twin], **kwargs))
        assert exc is None, f"{name}({kwargs}) accepted here, refused by torch: {exc!r}"
        for _ in range(3):
            twin.grad = torch.from_numpy(grad.copy())
            theirs.step()
        np.testing.assert_allclose(p.data, twin.detach().numpy(), rtol=1e-10, atol=1e-12)


@st.composite
def bad_gradients(draw, shape: tuple) -> Any:
    good = draw(hnp.arrays(np.float64, shape, elements=st.floats(-3, 3)))
    return draw(st.sampled_from([
        good[None], good.ravel(), good[..., :1], good.astype(str), good.astype(complex),
        good.astype(object), good.astype(np.float32), good.astype(np.int64),
        np.where(good > 0, np.nan, good), Tensor(good), good.tolist(), np.float64(1.0),
    ]))  # fmt: skip


@pytest.mark.parametrize("name", OPTIMIZERS)
@given(data=st.data())
def test_optimizer_step_checks_every_gradient_before_updating(name, data):
    (p, grad), (q, grad_q) = _one_parameter(0), _one_parameter(2)
    optimizer = getattr(nn.optim, name)([p, q], lr=0.1)
    p.grad, q.grad = grad, grad_q
    optimizer.step()  # state exists now: an error must leave it as it is too
    q.grad = data.draw(bad_gradients(q.shape), label="q.grad")
    p.grad = grad
    before = optimizer_state(optimizer)
    _, exc = outcome(optimizer.step)
    if exc is not None:
        details = [str(np.shape(_raw(q.grad))), str(np.asarray(_raw(q.grad)).dtype), "shape"]
        assert_clear_error(exc, name, details)
        assert_same_state(before, optimizer_state(optimizer))
        return
    given = np.asarray(_raw(q.grad))
    assert given.shape == q.shape and given.dtype.kind in "biuf", given
    if torch is not None:
        twins = [torch.tensor(t.data, requires_grad=True) for t in _one_parameter_pair()]
        theirs = getattr(torch.optim, name)(twins, lr=0.1)
        for t, g in zip(twins, (grad, grad_q)):
            t.grad = torch.from_numpy(g)
        theirs.step()
        for t, g in zip(twins, (grad, given.astype(np.float64))):
            t.grad = torch.from_numpy(g)
        theirs.step()
        for ours, t in zip((p, q), twins):
            assert_close_or_both_non_finite(ours.data, t.detach().numpy(), 1e-10, name)


def _one_parameter_pair() -> tuple[nn.Parameter, nn.Parameter]:
    return _one_parameter(0)[0], _one_parameter(2)[0]


@st.composite
def corrupted_optimizer_states(draw, state: dict) -> tuple[str, Any]:
    state = copy.deepcopy(state)
    kind = draw(st.sampled_from([
        "not a dict", "no param_groups", "one group too many", "a parameter too many",
        "bad hyperparameter", "array of another shape", "array of strings",
        "unknown parameter",
    ]))  # fmt: skip
    entry = state["state"][0]
    arrays = sorted(k for k, v in entry.items() if isinstance(v, np.ndarray))
    if kind == "not a dict":
        return kind, [state]
    if kind == "no param_groups":
        del state["param_groups"]
    elif kind == "one group too many":
        state["param_groups"].append(dict(state["param_groups"][0]))
    elif kind == "a parameter too many":
        state["param_groups"][0]["params"].append(99)
    elif kind == "bad hyperparameter":
        state["param_groups"][0]["lr"] = draw(st.sampled_from([np.nan, -1.0, "a"]))
    elif kind == "array of another shape":
        entry[draw(st.sampled_from(arrays))] = np.zeros(7)
    elif kind == "array of strings":
        key = draw(st.sampled_from(arrays))
        entry[key] = entry[key].astype(str)
    else:
        state["state"][5] = entry
    return kind, state


@pytest.mark.parametrize("name", OPTIMIZERS)
@given(data=st.data())
def test_optimizer_load_state_dict_refuses_a_corrupted_state_and_changes_nothing(name, data):
    (p, grad), (q, grad_q) = _one_parameter(0), _one_parameter(2)
    momentum = {"momentum": 0.9} if name == "SGD" else {}  # so that SGD keeps state too
    source = getattr(nn.optim, name)([p, q], lr=0.1, **momentum)
    p.grad, q.grad = grad, grad_q
    source.step()
    kind, corrupted = data.draw(corrupted_optimizer_states(source.state_dict()), label="state")
    target = getattr(nn.optim, name)(list(_one_parameter_pair()), lr=0.5, **momentum)
    before = optimizer_state(target)
    _, exc = outcome(lambda: target.load_state_dict(corrupted))
    assert exc is not None, f"{kind} was loaded"
    who = [f"{name}.load_state_dict", f"{name}: Invalid"]  # a bad hyperparameter: as at creation
    assert_clear_error(exc, who, [kind.split()[-1], "shape", "state", "lr"])
    assert_same_state(before, optimizer_state(target))


# ---------------------------------------------------------------- function transforms
def _f(x):
    """f(x) = sum(x sin x): grad = x cos x + sin x, hessian = diag(2 cos x - x sin x)."""
    return (al.sin(x) * x).sum()


def _f_vector(x):
    return al.sin(x) * x


def _df(x: np.ndarray) -> np.ndarray:
    return x * np.cos(x) + np.sin(x)


ARGNUMS = st.sampled_from([0, -1, 1, -2, (0,), (0, 1), 2.5, "a", None, True])


@st.composite
def transform_arguments(draw) -> Any:
    x = draw(arrays_of_any_dtype(shape=shapes(min_side=0, max_dims=2)))
    form = draw(st.sampled_from(["array", "Tensor", "list", "scalar"]))
    if form == "Tensor" and x.dtype.kind in NUMBERS:
        return Tensor(x, requires_grad=x.dtype.kind == "f" and draw(st.booleans()))
    if form == "list":
        return x.tolist()
    if form == "scalar" and x.size:
        return x.reshape(-1)[0].item() if x.dtype.kind in NUMBERS else x.reshape(-1)[0]
    return x


@pytest.mark.parametrize("name", TRANSFORMS)
@given(data=st.data())
def test_transform_computes_the_derivative_or_says_what_is_wrong(name, data):
    x = data.draw(transform_arguments(), label="x")
    argnums = data.draw(ARGNUMS, label="argnums") if name not in ("vjp", "jvp") else 0
    other = data.draw(arrays_of_any_dtype(), label="tangent or cotangent")
    call = {
        "grad": lambda: al.grad(_f, argnums)(x),
        "value_and_grad": lambda: al.value_and_grad(_f, argnums)(x)[1],
        "hessian": lambda: al.hessian(_f, argnums)(x),
        "jacobian": lambda: al.jacobian(_f_vector, argnums)(x),
        "vjp": lambda: al.vjp(_f_vector, x)[1](other)[0],
        "jvp": lambda: al.jvp(_f_vector, (x,), (other,))[1],
    }[name]
    before = np.array(_raw(x)) if isinstance(x, Tensor) else None
    result, exc = outcome(call)
    values = np.asarray(_raw(x))
    if exc is not None:
        details = [str(values.dtype), str(values.shape), f"argnums={argnums!r}", f"got {argnums!r}",
                   str(other.shape), str(other.dtype)]  # fmt: skip
        assert_clear_error(exc, [name, "grad", "jacobian"], details)
        if before is not None:
            assert_same_array(_raw(x), before)
            assert x.grad is None
        return
    assert values.dtype.kind in "biuf", f"{values.dtype} was differentiated"
    assert argnums in (0, -1, (0,)), f"argnums={argnums!r} was accepted"
    x64 = values.astype(np.float64)
    dtype = values.dtype if values.dtype.kind == "f" else np.dtype(np.float64)
    expected = {
        "grad": lambda: _df(x64),
        "value_and_grad": lambda: _df(x64),
        "hessian": lambda: np.diag((2 * np.cos(x64) - x64 * np.sin(x64)).ravel()).reshape(
            x64.shape * 2
        ),
        "jacobian": lambda: np.diag(_df(x64).ravel()).reshape(x64.shape * 2),
        "vjp": lambda: other.astype(np.float64) * _df(x64),
        "jvp": lambda: other.astype(np.float64) * _df(x64),
    }[name]()
    if name in ("vjp", "jvp"):
        assert other.shape == values.shape and other.dtype.kind in "biuf", other
    got = _raw(result[0] if argnums == (0,) else result)
    rtol = {np.dtype(np.float16): 1e-2, np.dtype(np.float32): 1e-5}.get(dtype, 1e-12)
    np.testing.assert_allclose(got, expected.astype(dtype) if name != "jvp" else expected,
                               rtol=rtol, atol=rtol)  # fmt: skip
    if name in ("grad", "value_and_grad", "vjp"):
        assert np.asarray(got).dtype == dtype


def _eager_step(x: Any) -> tuple:
    loss = _f(x)
    loss.backward()
    return loss.data, _grad_of(x)


def _grad_of(x: Any) -> np.ndarray | None:
    return np.array(x.grad) if isinstance(x, Tensor) and x.grad is not None else None


@given(data=st.data())
def test_a_compiled_step_gives_the_eager_step_or_its_error(data):
    x = data.draw(transform_arguments(), label="x")
    expected, eager_error = outcome(lambda: _eager_step(x))
    step = al.compile(_f)
    for _ in range(3):  # a trace, a second trace checking the first, then a replay
        if isinstance(x, Tensor):
            x.grad = None
        got, exc = outcome(lambda: (step(x).data, _grad_of(x)))
        if eager_error is None:
            assert exc is None, f"{type(exc).__name__}: {exc}"
            assert_same_array(got[0], expected[0], "loss")
            assert (got[1] is None) == (expected[1] is None)
            if got[1] is not None:
                assert_same_array(got[1], expected[1], "gradient")
        elif str(exc).startswith("compile:"):  # a list, or no Tensor from _f: there is no step
            assert_clear_error(exc, "compile", ["must return the loss, a Tensor", "argument #0"])
        else:  # the trace runs the step eagerly: the same error, from the same op
            assert type(exc) is type(eager_error)
            assert str(exc).rpartition(" (")[0] == str(eager_error).rpartition(" (")[0]


# ---------------------------------------------------------------- checkpoints
def _checkpointed_model(seed: int) -> nn.Module:
    model = nn.Sequential(nn.Linear(2, 3, rng=seed), nn.BatchNorm1d(3))
    model(np.random.default_rng(seed).standard_normal((4, 2)))  # running statistics move
    return model


def _archive(arrays: dict[str, np.ndarray], extra: dict[str, bytes] | None = None) -> bytes:
    """A zip of .npy entries as nn.save writes them (pickle allowed: for the object array)."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for key, array in arrays.items():
            with archive.open(f"{key}.npy", "w") as entry:
                np.lib.format.write_array(entry, np.asarray(array), allow_pickle=True)
        for name, content in (extra or {}).items():
            archive.writestr(name, content)
    return buffer.getvalue()


CORRUPTIONS = [
    "truncated", "bytes changed", "text", "empty", "a .npy file", "object array",
    "missing key", "unexpected key", "string array", "complex array", "wrong shape",
    "not an array entry",
]  # fmt: skip


@st.composite
def corrupted_checkpoints(draw, kind: str, good: bytes, state: dict) -> bytes:
    key = draw(st.sampled_from(sorted(state)), label="key")
    if kind == "truncated":
        return good[: draw(st.integers(0, len(good) - 1))]
    if kind == "bytes changed":
        data = bytearray(good)
        for i in draw(st.lists(st.integers(0, len(good) - 1), min_size=1, max_size=4)):
            data[i] ^= draw(st.integers(1, 255))
        return bytes(data)
    if kind == "text":
        return draw(st.text(max_size=40)).encode()
    if kind == "empty":
        return b""
    if kind == "a .npy file":
        buffer = io.BytesIO()
        np.save(buffer, state[key])
        return buffer.getvalue()
    arrays, extra = dict(state), None
    if kind == "object array":
        arrays[key] = np.array([object()] * state[key].size).reshape(state[key].shape)
    elif kind == "missing key":
        del arrays[key]
    elif kind == "unexpected key":
        arrays[f"{key}_extra"] = state[key]
    elif kind == "string array":
        arrays[key] = state[key].astype(str)
    elif kind == "complex array":
        arrays[key] = state[key] + 1j
    elif kind == "wrong shape":
        arrays[key] = np.zeros((*state[key].shape, 2))
    else:
        extra = {"notes.txt": b"not an array"}
    return _archive(arrays, extra)


def _no_pickle(*args: Any, **kwargs: Any) -> None:
    raise AssertionError("pickle was used to load a checkpoint")


@pytest.mark.parametrize("kind", CORRUPTIONS)
@given(data=st.data())
def test_a_bad_checkpoint_is_refused_without_pickle_and_changes_nothing(kind, data):
    saved = io.BytesIO()
    nn.save(_checkpointed_model(0), saved)
    state = _checkpointed_model(0).state_dict()
    content = data.draw(corrupted_checkpoints(kind, saved.getvalue(), state), label="file")
    target = _checkpointed_model(1)
    before = module_state(target)
    with (
        mock.patch.object(pickle, "load", _no_pickle),
        mock.patch.object(pickle, "loads", _no_pickle),
    ):
        _, exc = outcome(lambda: nn.load(target, io.BytesIO(content)))
    if exc is None:  # the change missed every array (a timestamp): the state is the saved one
        assert kind == "bytes changed"
        assert_same_state(state, target.state_dict())
        return
    assert "allow_pickle" not in str(exc)
    assert_clear_error(exc, ["nn.load", "load_state_dict"],
                       ["is not a checkpoint", key_or_reason(kind)])  # fmt: skip
    assert_same_state(before, module_state(target))


def key_or_reason(kind: str) -> str:
    """What the message must say for each kind of corruption."""
    return {
        "missing key": "missing key", "unexpected key": "unexpected key",
        "string array": "does not convert", "complex array": "does not convert",
        "wrong shape": "shape mismatch", "object array": "only pickle could read",
        "not an array entry": "not a .npy array",
    }.get(kind, "is not a checkpoint")  # fmt: skip


# ---------------------------------------------------------------- detect_anomaly
SAFE_STEPS: dict[str, Callable] = {
    "tanh": al.tanh,
    "sin": al.sin,
    "scale": lambda t: t * 0.5,
    "gauss": lambda t: al.exp(-t * t),
}
# Each poison makes the op named first produce NaN or Inf: in the forward pass, or (sqrt and
# pow at 0) only in the backward pass, where their derivatives are infinite.
FORWARD_POISONS: dict[str, tuple[str, Callable]] = {
    "log of a negative": ("log", lambda t: al.log(t - 10)),
    "log at 0": ("log", lambda t: al.log(t * 0)),
    "sqrt of a negative": ("sqrt", lambda t: al.sqrt(t - 10)),
    "0 / 0": ("div", lambda t: (t * 0) / (t * 0)),
    "exp overflow": ("exp", lambda t: al.exp(t * 1000 + 1000)),
}
BACKWARD_POISONS: dict[str, tuple[str, Callable]] = {
    "sqrt at 0": ("sqrt", lambda t: al.sqrt(t * 0)),
    "pow 0.5 at 0": ("pow", lambda t: (t * 0) ** 0.5),
    "abs then sqrt at 0": ("sqrt", lambda t: al.sqrt(al.abs(t * 0))),
}


def _line_of(step: Callable) -> str:
    return f"test_bad_inputs.py:{step.__code__.co_firstlineno}"


@given(
    st.lists(st.sampled_from(sorted(SAFE_STEPS)), max_size=3),
    st.lists(st.sampled_from(sorted(FORWARD_POISONS)), min_size=1, max_size=3),
)
def test_detect_anomaly_names_the_first_op_that_made_a_nan_in_forward(before, poisons):
    """A chain of finite steps, then poisons one after another: the first one is named, with
    its line, and nothing after it runs (each later one would hold NaN too)."""
    x = al.tensor([0.5, 1.0, 2.0], requires_grad=True)
    with al.detect_anomaly():
        t = x
        for name in before:
            t = SAFE_STEPS[name](t)

        def poisoned():
            v = t
            for poison in poisons:
                v = FORWARD_POISONS[poison][1](v)
            return v

        _, exc = outcome(poisoned)
    op, step = FORWARD_POISONS[poisons[0]]
    assert isinstance(exc, FloatingPointError), f"{poisons}: {exc!r}"
    message = str(exc)
    assert message.startswith(f"{op}: output holds"), message
    assert "this op is where it started" in message and _line_of(step) in message, message
    assert x.grad is None


@given(
    st.lists(st.sampled_from(sorted(SAFE_STEPS)), max_size=3),
    st.lists(st.sampled_from(sorted(BACKWARD_POISONS)), min_size=1, max_size=3),
    st.lists(st.sampled_from(sorted(SAFE_STEPS)), max_size=3),
)
def test_detect_anomaly_names_the_first_op_whose_gradient_went_non_finite(before, poisons, after):
    """Branches, one per poison, are added up; each is finite forward, and its poison's
    derivative is infinite. The earliest poison on the tape is where backward's NaN started."""
    x = al.tensor([0.5, 1.0, 2.0], requires_grad=True)
    with al.detect_anomaly():
        t = x
        for name in before:
            t = SAFE_STEPS[name](t)
        total = t.sum()
        for poison in poisons:
            branch = BACKWARD_POISONS[poison][1](t)
            for name in after:
                branch = SAFE_STEPS[name](branch)
            total = total + branch.sum()
        assert np.isfinite(total.item())
        _, exc = outcome(total.backward)
    op, step = BACKWARD_POISONS[poisons[0]]
    assert isinstance(exc, FloatingPointError), f"{poisons}: {exc!r}"
    message = str(exc)
    assert message.startswith(f"{op}: backward produced"), message
    assert f"(op created at {_line_of(step)})" in message, message
    assert x.grad is None  # raised before any leaf's gradient was written
