"""nn: layers, activations, losses, initializers and optimizers built from autograd_lite ops.

The vocabulary is PyTorch's:

>>> import nn
>>> model = nn.MLP([2, 4, 4, 1], activation="sigmoid", output_activation="sigmoid", rng=0)
>>> optimizer = nn.optim.SGD(model.parameters(), lr=0.1)
>>> [name for name, _ in model.named_parameters()][:2]
['layers.0.weight', 'layers.0.bias']
"""

from . import functional, init, optim
from .activations import Identity, LeakyReLU, LogSoftmax, ReLU, Sigmoid, Softmax, Softplus, Tanh
from .containers import ModuleList, Sequential
from .conv import Conv1d, Conv2d
from .dropout import Dropout
from .linear import Flatten, Linear
from .losses import BCELoss, BCEWithLogitsLoss, CrossEntropyLoss, MSELoss, NLLLoss
from .mlp import MLP
from .module import (
    IncompatibleKeys,
    Module,
    register_module_forward_hook,
    register_module_forward_pre_hook,
)
from .normalization import BatchNorm1d
from .parameter import Parameter
from .pooling import AvgPool1d, AvgPool2d, MaxPool1d, MaxPool2d
from .serialization import load, save

__all__ = [
    "Module", "Parameter", "Sequential", "ModuleList", "IncompatibleKeys",
    "register_module_forward_hook", "register_module_forward_pre_hook",
    "Linear", "MLP", "Flatten", "Dropout", "Identity",
    "Conv1d", "Conv2d", "MaxPool1d", "MaxPool2d", "AvgPool1d", "AvgPool2d", "BatchNorm1d",
    "Sigmoid", "Tanh", "ReLU", "LeakyReLU", "Softplus", "Softmax", "LogSoftmax",
    "MSELoss", "BCELoss", "BCEWithLogitsLoss", "CrossEntropyLoss", "NLLLoss",
    "functional", "init", "optim", "save", "load",
]  # fmt: skip
