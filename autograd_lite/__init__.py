"""autograd_lite: a small, fast, readable reverse-mode automatic differentiation engine on numpy.

>>> import autograd_lite as al
>>> x = al.tensor([1.0, 2.0], requires_grad=True)
>>> (x * x).sum().backward()
>>> x.grad
array([2., 4.])
"""

from .tensor import Tensor  # noqa: I001  (Tensor first: the engine and ops are built on it)
from .anomaly import detect_anomaly
from .creation import (
    arange,
    full,
    full_like,
    manual_seed,
    ones,
    ones_like,
    rand,
    rand_like,
    randn,
    randn_like,
    tensor,
    zeros,
    zeros_like,
)
from .engine import (
    REGISTRY,
    Tape,
    enable_grad,
    gradients,
    is_grad_enabled,
    no_grad,
    primitive,
)
from .functional import grad, hessian, jacobian, jvp, value_and_grad, vjp
from .functions import (
    broadcast_to,
    clip,
    concatenate,
    leaky_relu,
    log_softmax,
    logsumexp,
    max,
    min,
    pad,
    reshape,
    sum,
    transpose,
    unfold,
)
from .gradcheck import GradcheckError, gradcheck, gradgradcheck
from .ops import (
    abs,
    cos,
    exp,
    expand_dims,
    flatten,
    log,
    matmul,
    maximum,
    mean,
    minimum,
    relu,
    sigmoid,
    sin,
    softmax,
    softplus,
    sqrt,
    squeeze,
    stack,
    tanh,
    var,
    where,
)
from .replay import compile

__version__ = "0.1.0"

__all__ = [
    "REGISTRY", "GradcheckError", "Tape", "Tensor", "abs", "arange", "broadcast_to", "clip",
    "compile", "concatenate", "cos", "detect_anomaly", "enable_grad", "exp", "expand_dims",
    "flatten", "full", "full_like", "grad", "gradcheck", "gradgradcheck", "gradients", "hessian",
    "is_grad_enabled", "jacobian", "jvp", "leaky_relu", "log", "log_softmax", "logsumexp",
    "manual_seed", "matmul", "max", "maximum", "mean", "min", "minimum", "no_grad", "ones",
    "ones_like", "pad", "primitive", "rand", "rand_like", "randn", "randn_like", "relu", "reshape",
    "sigmoid", "sin", "softmax", "softplus", "sqrt", "squeeze", "stack", "sum", "tanh", "tensor",
    "transpose", "unfold", "value_and_grad", "var", "vjp", "where", "zeros", "zeros_like"
]  # fmt: skip
