"""Every op: primitives (forward + VJP, registered in `engine.REGISTRY`) and composites."""

from .elementwise import (
    abs,
    add,
    astype,
    clip,
    cos,
    div,
    exp,
    leaky_relu,
    log,
    maximum,
    minimum,
    mul,
    neg,
    pow,
    relu,
    sigmoid,
    sign,
    sin,
    softplus,
    sqrt,
    sub,
    tanh,
    where,
)
from .linalg import linear, matmul
from .nll import nll_loss, nll_loss_backward
from .pool import max_pool, max_unpool
from .reduce import log_softmax, logsumexp, max, mean, min, softmax, sum, var
from .shape import (
    broadcast_to,
    concatenate,
    expand_dims,
    flatten,
    getitem,
    pad,
    reshape,
    scatter_add,
    squeeze,
    stack,
    sum_to,
    swapaxes,
    transpose,
)
from .windows import fold, unfold

__all__ = [
    "abs", "add", "astype", "broadcast_to", "clip", "concatenate", "cos", "div", "exp",
    "expand_dims", "flatten", "fold", "getitem", "leaky_relu", "linear", "log", "log_softmax",
    "logsumexp", "matmul", "max", "max_pool", "max_unpool", "maximum", "mean", "min", "minimum",
    "mul", "neg", "nll_loss", "nll_loss_backward", "pad", "pow", "relu", "reshape", "scatter_add",
    "sigmoid", "sign", "sin", "softmax", "softplus", "sqrt", "squeeze", "stack", "sub", "sum",
    "sum_to", "swapaxes", "tanh", "transpose", "unfold", "var", "where",
]  # fmt: skip
