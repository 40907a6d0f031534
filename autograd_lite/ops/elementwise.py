"""Elementwise primitives. Each VJP returns gradients in the broadcast shape; the engine sums
them back to each input's shape, so no rule here has to care about broadcasting.

Convention in the math lines: `g` is the incoming gradient, `y` (or `z`) the op's output.
VJPs use operators and ops only (never raw np.*), so they are differentiable themselves.
"""

from __future__ import annotations

import numpy as np

from ..engine import primitive


@primitive
def add(x, y):
    """Sum.

    z = x + y;  dx = g,  dy = g
    """
    return x + y


add.defvjp(lambda g, out, x, y: g, lambda g, out, x, y: g)


@primitive
def sub(x, y):
    """Difference.

    z = x - y;  dx = g,  dy = -g
    """
    return x - y


sub.defvjp(lambda g, out, x, y: g, lambda g, out, x, y: -g)


@primitive
def mul(x, y):
    """Product.

    z = x * y;  dx = g*y,  dy = g*x
    """
    return x * y


mul.defvjp(lambda g, out, x, y: g * y, lambda g, out, x, y: g * x)


@primitive
def div(x, y):
    """Quotient.

    z = x / y;  dx = g/y,  dy = -g*z/y
    """
    return x / y


div.defvjp(lambda g, out, x, y: g / y, lambda g, out, x, y: -g * out / y)


@primitive
def neg(x):
    """Negation.

    y = -x;  dx = -g
    """
    return -x


@neg.defvjp
def _neg_vjp(g, out, x):
    return -g


@primitive
def pow(x, y):
    """Power; the exponent may be a tensor too.

    z = x**y;  dx = g*y*x**(y-1),  dy = g*z*log(x)
    """
    return x**y


def _pow_vjp_base(g, out, x, y):
    if np.isscalar(y):
        if y == 0:  # x**0 is constant: zero, as in torch, not 0 * 0**-1 = nan at x = 0
            return g * 0
        return g * y * (x if y == 2 else x ** (y - 1))  # x**1 costs; skip it
    # At x = 0 with y = 0, give torch's zero rather than 0 * 0**-1 = nan; the inner where keeps
    # the inf out of the graph, so the second derivative is not 0 * inf = nan either.
    hole = (x == 0) * (y == 0)
    return where(hole, 0.0, g * y * where(hole, 1.0, x) ** (y - 1))


def _pow_vjp_exponent(g, out, x, y):
    # As in torch, 0**y has zero gradient in y rather than 0*log(0) = nan.
    return where(x == 0, 0.0, g * out * log(where(x == 0, 1.0, x)))


pow.defvjp(_pow_vjp_base, _pow_vjp_exponent)


@primitive
def exp(x):
    """Exponential.

    y = exp(x);  dx = g*y
    """
    return np.exp(x)


@exp.defvjp
def _exp_vjp(g, out, x):
    return g * out


@primitive
def log(x):
    """Natural logarithm.

    y = log(x);  dx = g/x
    """
    return np.log(x)


@log.defvjp
def _log_vjp(g, out, x):
    return g / x


@primitive
def sqrt(x):
    """Square root.

    y = sqrt(x);  dx = g/(2*y)
    """
    return np.sqrt(x)


@sqrt.defvjp
def _sqrt_vjp(g, out, x):
    return g / (2 * out)


@primitive
def sign(x):
    """Sign, -1, 0 or 1; piecewise constant, so no gradient flows through it.

    y = sign(x);  dx = 0
    """
    return np.sign(x)


@sign.defvjp
def _sign_vjp(g, out, x):
    return None


@primitive
def abs(x):
    """Absolute value; the gradient at 0 is 0, as in torch.

    y = |x|;  dx = g*sign(x)
    """
    return np.abs(x)


@abs.defvjp
def _abs_vjp(g, out, x):
    return g * sign(x)


@primitive
def sin(x):
    """Sine.

    y = sin(x);  dx = g*cos(x)
    """
    return np.sin(x)


@sin.defvjp
def _sin_vjp(g, out, x):
    return g * cos(x)


@primitive
def cos(x):
    """Cosine.

    y = cos(x);  dx = -g*sin(x)
    """
    return np.cos(x)


@cos.defvjp
def _cos_vjp(g, out, x):
    return -g * sin(x)


@primitive
def tanh(x):
    """Hyperbolic tangent.

    y = tanh(x);  dx = g*(1-y*y)
    """
    return np.tanh(x)


@tanh.defvjp
def _tanh_vjp(g, out, x):
    return g * (1 - out * out)


@primitive
@np.errstate(over="ignore")  # as a decorator: a third of the cost of a `with` block per call
def sigmoid(x):
    """Logistic sigmoid, finite for every input.

    y = 1/(1+exp(-x));  dx = g*y*(1-y)
    """
    # The textbook form keeps full relative precision in the tail (sigmoid(-40) ~ 4e-18; a
    # tanh form cancels to 0 there, and BCE on it has a zero gradient). Below -709, exp(-x)
    # overflows to inf and 1/inf is the correctly rounded 0: the warning is noise.
    return 1 / (1 + np.exp(-x))


@sigmoid.defvjp
def _sigmoid_vjp(g, out, x):
    return g * out * (1 - out)


@primitive
def relu(x):
    """Rectified linear unit; the gradient at 0 is 0.

    y = max(x, 0);  dx = g*(y>0)
    """
    return np.maximum(x, 0)


@relu.defvjp
def _relu_vjp(g, out, x):
    # y > 0 exactly where x > 0: reading the output (as torch does) lets x go as soon as the
    # forward pass is past it, where the next op keeps y anyway (a layer's weight gradient,
    # pooling). A boolean mask multiplies ~20x faster than np.where picks from g and a scalar 0.
    return g * (out > 0)


@primitive
def leaky_relu(x, *, negative_slope=0.01):
    """ReLU that lets a small slope through for negative inputs.

    y = x if x>0 else a*x;  dx = g if x>0 else a*g
    """
    return np.where(x > 0, x, x * negative_slope)


@leaky_relu.defvjp
def _leaky_relu_vjp(g, out, x, *, negative_slope=0.01):
    return where(x > 0, g, g * negative_slope)


@primitive
def softplus(x):
    """Smooth ReLU, computed as logaddexp(0, x) so it is finite for every input.

    y = log(1+exp(x));  dx = g*sigmoid(x)
    """
    return np.logaddexp(0, x)


@softplus.defvjp
def _softplus_vjp(g, out, x):
    return g * sigmoid(x)


@primitive
def maximum(x, y):
    """Elementwise maximum; ties share the gradient equally, as in torch.

    z = max(x, y);  dx = g*[x>y] + g/2*[x==y],  dy = g - dx
    """
    return np.maximum(x, y)


maximum.defvjp(
    lambda g, out, x, y: where(x > y, g, where(x == y, 0.5 * g, 0.0)),
    lambda g, out, x, y: where(y > x, g, where(x == y, 0.5 * g, 0.0)),
)


@primitive
def minimum(x, y):
    """Elementwise minimum; ties share the gradient equally, as in torch.

    z = min(x, y);  dx = g*[x<y] + g/2*[x==y],  dy = g - dx
    """
    return np.minimum(x, y)


minimum.defvjp(
    lambda g, out, x, y: where(x < y, g, where(x == y, 0.5 * g, 0.0)),
    lambda g, out, x, y: where(y < x, g, where(x == y, 0.5 * g, 0.0)),
)


@primitive
def where(condition, x, y):
    """Pick from x where condition holds, else from y. No gradient for the condition.

    z = x if c else y;  dx = g*c,  dy = g*(1-c)
    """
    return np.where(condition, x, y)


where.defvjp(
    lambda g, out, c, x, y: None,
    lambda g, out, c, x, y: where(c, g, 0.0),
    lambda g, out, c, x, y: where(c, 0.0, g),
)


@primitive
def clip(x, *, min=None, max=None):
    """Clamp into [min, max]; the gradient passes where the input lies inside, bounds included.

    y = clip(x, lo, hi);  dx = g*[lo<=x<=hi]
    """
    return np.clip(x, min, max)


@clip.defvjp
def _clip_vjp(g, out, x, *, min=None, max=None):
    # Where the output equals the input, the input was inside the bounds.
    return g * (out == x)


@primitive
def astype(x, *, dtype):
    """Convert to another dtype; the gradient converts back.

    y = x.astype(dtype);  dx = g.astype(x.dtype)
    """
    return x.astype(dtype)


@astype.defvjp
def _astype_vjp(g, out, x, *, dtype):
    return astype(g, dtype=x.dtype)
