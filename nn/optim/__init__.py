"""Optimizers with PyTorch's update rules: `opt = nn.optim.Adam(model.parameters(), lr=1e-3)`,
then `opt.zero_grad(); loss.backward(); opt.step()` each iteration."""

from . import lr_scheduler
from .adagrad import Adagrad
from .adam import Adam, AdamW
from .optimizer import Optimizer
from .rmsprop import RMSprop
from .sgd import SGD

__all__ = ["Optimizer", "SGD", "Adagrad", "RMSprop", "Adam", "AdamW", "lr_scheduler"]
