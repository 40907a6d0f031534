"""Parameter: a Tensor that a Module owns and an optimizer updates."""

from __future__ import annotations

from autograd_lite import Tensor
from autograd_lite.tensor import ArrayLike


class Parameter(Tensor):
    """A leaf Tensor that requires grad by default.

    Assigning one to a Module attribute (`self.weight = Parameter(...)`) is what makes it part of
    `module.parameters()` and `module.state_dict()`; plain Tensors are not collected, as in torch.
    """

    __slots__ = ()

    def __init__(
        self,
        data: ArrayLike,
        requires_grad: bool = True,
        dtype: object = None,
        name: str | None = None,
    ) -> None:
        super().__init__(data, requires_grad=requires_grad, dtype=dtype, name=name)

    def __repr__(self) -> str:
        return "Parameter containing:\n" + super().__repr__()
