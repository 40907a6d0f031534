"""Backpropagation written out by hand, in plain numpy (no tape): the lab report's equations,
generalized, as a reference the tape is checked against.

The report's network is a1 = sigmoid(X W1 + b1), a2 = sigmoid(a1 W2 + b2),
a3 = sigmoid(a2 W3 + b3) with the loss L = (1/2m) sum((a3 - y)^2) over a batch of m rows, and
its backward pass is (`⊙` elementwise, `·` matrix product):

    output_delta  = (a3 - y) ⊙ a3 ⊙ (1 - a3)
    dL/dW3 = (1/m) a2^T · output_delta          dL/db3 = (1/m) sum(output_delta, axis=0)
    hidden2_error = output_delta · W3^T
    hidden2_delta = hidden2_error ⊙ a2 ⊙ (1 - a2)
    dL/dW2 = (1/m) a1^T · hidden2_delta         dL/db2 = (1/m) sum(hidden2_delta, axis=0)
    hidden1_error = hidden2_delta · W2^T
    hidden1_delta = hidden1_error ⊙ a1 ⊙ (1 - a1)
    dL/dW1 = (1/m) X^T · hidden1_delta          dL/db1 = (1/m) sum(hidden1_delta, axis=0)

`lab_backprop` is exactly these lines; `mlp_backprop` is the same loop for any depth, widths,
batch size, hidden activation (sigmoid, tanh, relu, identity) and loss (squared error, binary
cross-entropy, softmax cross-entropy). `linear_backward` and `conv_backward` give one layer's
gradients for an arbitrary upstream gradient.

Parameter layout: the report's. A layer is (W, b) with W of shape (in, out), b of shape (out,),
and a = f(a_prev W + b). nn.Linear (like torch.nn.Linear) stores `weight` of shape (out, in) and
computes y = x weight^T + b, so W = weight^T, and likewise dL/dW = (dL/dweight)^T: convert with
`from_torch_layout` / `to_torch_layout`, never silently. Convolutions have no report equations
and use torch's layout throughout: x (N, C_in, *spatial), weight (C_out, C_in, *kernel).
"""

from __future__ import annotations

import string
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

Layer = tuple[np.ndarray, np.ndarray]
"""(W, b) in the report's layout: W of shape (in, out), b of shape (out,)."""


# ---------------------------------------------------------------- layout
def from_torch_layout(weight: np.ndarray, bias: np.ndarray) -> Layer:
    """nn.Linear's (weight (out, in), bias) as the report's (W (in, out), b): W = weight^T."""
    return np.asarray(weight).T, np.asarray(bias)


def to_torch_layout(W: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The report's (W, b), or their gradients (dL/dW, dL/db), in nn.Linear's layout:
    weight = W^T, so dL/dweight = (dL/dW)^T; the bias is the same either way."""
    return np.asarray(W).T, np.asarray(b)


# ---------------------------------------------------------------- activations
def sigmoid(z: np.ndarray) -> np.ndarray:
    """sigmoid(z) = 1 / (1 + exp(-z)), the report's formula (the specification's hint)."""
    # exp(-z) overflows to inf for z < -709, and 1 / (1 + inf) = 0 is the right limit.
    with np.errstate(over="ignore"):
        return 1.0 / (1.0 + np.exp(-z))


def sigmoid_derivative(a: np.ndarray) -> np.ndarray:
    """d sigmoid/dz written with its output a = sigmoid(z): a ⊙ (1 - a)."""
    return a * (1 - a)


def tanh_derivative(a: np.ndarray) -> np.ndarray:
    """d tanh/dz written with its output a = tanh(z): 1 - a ⊙ a."""
    return 1 - a * a


def relu(z: np.ndarray) -> np.ndarray:
    """relu(z) = max(z, 0)."""
    return np.maximum(z, 0)


def relu_derivative(a: np.ndarray) -> np.ndarray:
    """d relu/dz written with its output a = relu(z): 1 where a > 0 (that is, z > 0), else 0;
    0 at the kink, as in torch."""
    return (a > 0).astype(a.dtype)


def identity(z: np.ndarray) -> np.ndarray:
    """No activation: a = z."""
    return z


def identity_derivative(a: np.ndarray) -> np.ndarray:
    """d z/dz = 1."""
    return np.ones_like(a)


def softmax(z: np.ndarray) -> np.ndarray:
    """p = exp(z) / sum(exp(z)) along the last axis, shifted by the row maximum so that exp
    never overflows (the shift cancels in the ratio)."""
    e = np.exp(z - z.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


ACTIVATIONS: dict[str, tuple[Callable, Callable]] = {
    "sigmoid": (sigmoid, sigmoid_derivative),
    "tanh": (np.tanh, tanh_derivative),
    "relu": (relu, relu_derivative),
    "identity": (identity, identity_derivative),
}
"""Hidden activations by name: (f, f' as a function of the output a = f(z))."""

LOSSES = {"mse": None, "bce": "sigmoid", "cross_entropy": "softmax"}
"""The losses, with the output activation each requires (None: any activation above)."""


def _check(activation: str, output_activation: str, loss: str) -> None:
    if activation not in ACTIVATIONS:
        raise ValueError(
            f"closed_form: activation must be one of {list(ACTIVATIONS)}, got {activation!r}"
        )
    if loss not in LOSSES:
        raise ValueError(f"closed_form: loss must be one of {list(LOSSES)}, got {loss!r}")
    required = LOSSES[loss]
    if required is None and output_activation not in ACTIVATIONS:
        raise ValueError(
            f"closed_form: loss 'mse' takes an output_activation from {list(ACTIVATIONS)}, "
            f"got {output_activation!r}"
        )
    if required is not None and output_activation != required:
        raise ValueError(
            f"closed_form: loss {loss!r} is written for output_activation={required!r}, "
            f"got {output_activation!r}"
        )


# ---------------------------------------------------------------- the lab's network, verbatim
@dataclass(frozen=True)
class LabBackprop:
    """Every quantity the report names, for one forward and backward pass of the lab network."""

    a1: np.ndarray
    a2: np.ndarray
    a3: np.ndarray
    loss: float
    output_delta: np.ndarray
    hidden2_error: np.ndarray
    hidden2_delta: np.ndarray
    hidden1_error: np.ndarray
    hidden1_delta: np.ndarray
    dW3: np.ndarray
    db3: np.ndarray
    dW2: np.ndarray
    db2: np.ndarray
    dW1: np.ndarray
    db1: np.ndarray


def lab_backprop(
    X: np.ndarray,
    y: np.ndarray,
    W1: np.ndarray,
    b1: np.ndarray,
    W2: np.ndarray,
    b2: np.ndarray,
    W3: np.ndarray,
    b3: np.ndarray,
) -> LabBackprop:
    """The report's forward and backward pass, line for line (any widths and batch size).

    X (m, n0), y (m, n3), W1 (n0, n1), W2 (n1, n2), W3 (n2, n3), biases of the out widths;
    sigmoid everywhere, L = (1/2m) sum((a3 - y)^2).
    """
    m = X.shape[0]
    a1 = sigmoid(X @ W1 + b1)
    a2 = sigmoid(a1 @ W2 + b2)
    a3 = sigmoid(a2 @ W3 + b3)
    loss = float(np.sum((a3 - y) ** 2) / (2 * m))

    output_delta = (a3 - y) * a3 * (1 - a3)
    dW3 = (1 / m) * a2.T @ output_delta
    db3 = (1 / m) * np.sum(output_delta, axis=0)

    hidden2_error = output_delta @ W3.T
    hidden2_delta = hidden2_error * a2 * (1 - a2)
    dW2 = (1 / m) * a1.T @ hidden2_delta
    db2 = (1 / m) * np.sum(hidden2_delta, axis=0)

    hidden1_error = hidden2_delta @ W2.T
    hidden1_delta = hidden1_error * a1 * (1 - a1)
    dW1 = (1 / m) * X.T @ hidden1_delta
    db1 = (1 / m) * np.sum(hidden1_delta, axis=0)

    return LabBackprop(
        a1, a2, a3, loss, output_delta, hidden2_error, hidden2_delta, hidden1_error,
        hidden1_delta, dW3, db3, dW2, db2, dW1, db1,
    )  # fmt: skip


# ---------------------------------------------------------------- any MLP
def mlp_forward(
    X: np.ndarray,
    layers: Sequence[Layer],
    activation: str = "sigmoid",
    output_activation: str = "sigmoid",
) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """([z1, ..., zL], [X, a1, ..., aL]): z_l = a_{l-1} W_l + b_l and a_l = f(z_l), with
    `activation` for the hidden layers and `output_activation` ('softmax' too) for the last."""
    hidden = ACTIVATIONS[activation][0]
    last = softmax if output_activation == "softmax" else ACTIVATIONS[output_activation][0]
    z, a = [], [np.asarray(X)]
    for n, (W, b) in enumerate(layers):
        z.append(a[-1] @ W + b)
        a.append((last if n == len(layers) - 1 else hidden)(z[-1]))
    return z, a


def _one_hot(labels: np.ndarray, classes: int) -> np.ndarray:
    return (np.asarray(labels)[:, None] == np.arange(classes)).astype(np.float64)


def loss_value(
    z_out: np.ndarray, y: np.ndarray, output_activation: str = "sigmoid", loss: str = "mse"
) -> float:
    """L from the last layer's pre-activation z (m, k), averaged over the m rows:
    'mse'            L = (1/2m) sum((a - y)^2),  a = f(z)                (the report's)
    'bce'            L = -(1/m) sum(y log a + (1 - y) log(1 - a)),  a = sigmoid(z),
                       computed as (1/m) sum(softplus(z) - y z): the same, with no log(0)
    'cross_entropy'  L = -(1/m) sum(log a[label]),  a = softmax(z),
                       computed as (1/m) sum(logsumexp(z) - z[label]); y holds labels (m,)
    """
    m = z_out.shape[0]
    if loss == "mse":
        return float(np.sum((ACTIVATIONS[output_activation][0](z_out) - y) ** 2) / (2 * m))
    if loss == "bce":
        return float(np.sum(np.logaddexp(0, z_out) - y * z_out) / m)
    top = z_out.max(axis=1)
    logsumexp = top + np.log(np.exp(z_out - top[:, None]).sum(axis=1))
    return float(np.sum(logsumexp - z_out[np.arange(m), y]) / m)


def output_delta(
    a_out: np.ndarray, y: np.ndarray, output_activation: str = "sigmoid", loss: str = "mse"
) -> np.ndarray:
    """m · dL/dz at the output (the report's output_delta, without its 1/m):
    'mse'            (a - y) ⊙ f'(a)     (a3 - y) ⊙ a3 ⊙ (1 - a3) for the report's sigmoid
    'bce'            a - y               sigmoid's a(1 - a) cancels the loss's denominators
    'cross_entropy'  a - onehot(y)       p - onehot, softmax's Jacobian folded in
    """
    if loss == "mse":
        return (a_out - y) * ACTIVATIONS[output_activation][1](a_out)
    if loss == "bce":
        return a_out - y
    return a_out - _one_hot(y, a_out.shape[1])


def mlp_backprop(
    X: np.ndarray,
    y: np.ndarray,
    layers: Sequence[Layer],
    activation: str = "sigmoid",
    output_activation: str = "sigmoid",
    loss: str = "mse",
) -> tuple[float, list[Layer]]:
    """(L, [(dL/dW_l, dL/db_l) for each layer]) for an MLP of any depth, by the report's lines:

        delta_L = output_delta(a_L, y)
        dL/dW_l = (1/m) a_{l-1}^T · delta_l        dL/db_l = (1/m) sum(delta_l, axis=0)
        delta_{l-1} = (delta_l · W_l^T) ⊙ f'(a_{l-1})

    `layers` and the gradients are in the report's layout (W of shape (in, out)); y is (m, k)
    targets, or (m,) integer labels for 'cross_entropy'.
    """
    _check(activation, output_activation, loss)
    z, a = mlp_forward(X, layers, activation, output_activation)
    m = a[0].shape[0]
    derivative = ACTIVATIONS[activation][1]
    delta = output_delta(a[-1], y, output_activation, loss)
    grads: list[Layer] = []
    for n in reversed(range(len(layers))):
        grads.append(((1 / m) * a[n].T @ delta, (1 / m) * np.sum(delta, axis=0)))
        if n:
            delta = (delta @ layers[n][0].T) * derivative(a[n])
    return loss_value(z[-1], y, output_activation, loss), grads[::-1]


# ---------------------------------------------------------------- one linear layer
def linear_backward(
    x: np.ndarray, W: np.ndarray, grad_out: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(dL/dx, dL/dW, dL/db) of y = x W + b given G = dL/dy, for x of shape (..., in):

        dL/dx = G · W^T        dL/dW = x^T · G        dL/db = sum(G, over all but the last axis)

    The report's lines are this with G = delta / m: dL/dW3 = (1/m) a2^T · output_delta, and
    dL/dx = hidden2_error / m.
    """
    x2 = x.reshape(-1, x.shape[-1])
    g2 = grad_out.reshape(-1, grad_out.shape[-1])
    return grad_out @ W.T, x2.T @ g2, g2.sum(axis=0)


# ---------------------------------------------------------------- convolution (torch layout)
def _per_axis(value: int | Sequence[int], d: int) -> tuple[int, ...]:
    return (value,) * d if isinstance(value, int) else tuple(value)


def _dilate(a: np.ndarray, step: tuple[int, ...]) -> np.ndarray:
    """Insert step-1 zeros between neighbours along each of the last len(step) axes."""
    d = len(step)
    spatial = a.shape[-d:]
    out = np.zeros(a.shape[:-d] + tuple((n - 1) * s + 1 for n, s in zip(spatial, step)), a.dtype)
    out[(Ellipsis, *(slice(None, None, s) for s in step))] = a
    return out


def _correlate(x: np.ndarray, w: np.ndarray) -> np.ndarray:
    """Valid cross-correlation, stride 1: x (N, C, *S), w (O, C, *K) -> (N, O, *(S - K + 1)),
    out[n, o, i] = sum over c, k of w[o, c, k] x[n, c, i + k]."""
    d = w.ndim - 2
    windows = np.lib.stride_tricks.sliding_window_view(x, w.shape[2:], axis=tuple(range(2, 2 + d)))
    pos, ker = string.ascii_lowercase[:d], string.ascii_lowercase[d : 2 * d]
    return np.einsum(f"NC{pos}{ker},OC{ker}->NO{pos}", windows, w)


def _pad(x: np.ndarray, padding: tuple[int, ...]) -> np.ndarray:
    return np.pad(x, ((0, 0), (0, 0), *((p, p) for p in padding)))


def conv_forward(
    x: np.ndarray,
    weight: np.ndarray,
    bias: np.ndarray | None = None,
    stride: int | Sequence[int] = 1,
    padding: int | Sequence[int] = 0,
    dilation: int | Sequence[int] = 1,
) -> np.ndarray:
    """1-D or 2-D convolution as in torch (a cross-correlation):

        y[n, o, i] = b[o] + sum over c, k of weight[o, c, k] x_pad[n, c, i*stride + k*dilation]

    x (N, C_in, *spatial), weight (C_out, C_in, *kernel), zero padding on both sides.
    Computed as a stride-1 correlation with the dilated kernel, keeping every stride-th output.
    """
    d = weight.ndim - 2
    stride, padding, dilation = (_per_axis(v, d) for v in (stride, padding, dilation))
    full = _correlate(_pad(x, padding), _dilate(weight, dilation))
    y = full[(Ellipsis, *(slice(None, None, s) for s in stride))]
    return y if bias is None else y + bias.reshape((-1,) + (1,) * d)


def conv_backward(
    x: np.ndarray,
    weight: np.ndarray,
    grad_out: np.ndarray,
    stride: int | Sequence[int] = 1,
    padding: int | Sequence[int] = 0,
    dilation: int | Sequence[int] = 1,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(dL/dx, dL/dweight, dL/dbias) of `conv_forward` given G = dL/dy:

        dL/dx      = full correlation of G with the flipped kernel (then the padding cropped)
        dL/dweight = correlation of the (padded) input with G
        dL/dbias   = sum of G over the batch and spatial axes

    A stride s spreads G out with s-1 zeros between its entries first (the outputs the stride
    skipped get no gradient); a dilation does the same to the kernel.
    """
    d = weight.ndim - 2
    stride, padding, dilation = (_per_axis(v, d) for v in (stride, padding, dilation))
    x_pad = _pad(x, padding)
    kernel = _dilate(weight, dilation)
    span = kernel.shape[2:]
    # G at every stride-1 position, with zeros at the positions the stride skipped.
    full = tuple(n - k + 1 for n, k in zip(x_pad.shape[2:], span))
    g = np.zeros(grad_out.shape[:2] + full, grad_out.dtype)
    g[(Ellipsis, *(slice(None, None, s) for s in stride))] = grad_out
    # Full correlation: G padded by (kernel span - 1) on each side, the kernel flipped on every
    # spatial axis and its channel axes swapped (it now maps output channels to input ones).
    flipped = np.swapaxes(kernel[(Ellipsis, *(slice(None, None, -1),) * d)], 0, 1)
    dx_pad = _correlate(np.pad(g, ((0, 0), (0, 0), *((k - 1, k - 1) for k in span))), flipped)
    dx = dx_pad[(Ellipsis, *(slice(p, p + n) for p, n in zip(padding, x.shape[2:])))]
    # The weight gradient correlates the input with G, the batch axis playing the channel's part.
    dkernel = np.swapaxes(_correlate(np.swapaxes(x_pad, 0, 1), np.swapaxes(g, 0, 1)), 0, 1)
    dweight = dkernel[(Ellipsis, *(slice(None, None, dil) for dil in dilation))]
    return dx, dweight, grad_out.sum(axis=(0, *range(2, 2 + d)))
