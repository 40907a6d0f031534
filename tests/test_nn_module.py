"""Module, Parameter and the containers: the attribute walk, modes, hooks and the repr."""

from collections import OrderedDict

import numpy as np
import pytest

import autograd_lite as al
import nn


class TwoLayer(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.hidden = nn.Linear(2, 3, rng=0)
        self.scale = nn.Parameter(np.ones(3))
        self.out = nn.Linear(3, 1, rng=1)
        self.not_a_parameter = al.tensor([1.0, 2.0], requires_grad=True)

    def forward(self, x):
        return self.out(al.tanh(self.hidden(x)) * self.scale)


def test_parameter_is_a_leaf_tensor_that_requires_grad():
    p = nn.Parameter([1.0, 2.0])
    assert isinstance(p, al.Tensor) and p.requires_grad and p.is_leaf
    assert p.dtype == np.float64
    assert repr(p).startswith("Parameter containing:\ntensor([1., 2.]")
    assert nn.Parameter(np.zeros(2, np.float32)).dtype == np.float32


def test_named_parameters_follow_attribute_order_with_dotted_names():
    model = TwoLayer()
    names = [name for name, _ in model.named_parameters()]
    assert names == ["scale", "hidden.weight", "hidden.bias", "out.weight", "out.bias"]
    assert next(model.parameters()) is model.scale


def test_plain_tensors_and_lists_are_not_collected_as_in_torch():
    model = TwoLayer()
    assert all(p is not model.not_a_parameter for p in model.parameters())


def test_children_and_named_modules_walk_depth_first():
    model = nn.Sequential(nn.Linear(2, 2, rng=0), nn.Sequential(nn.ReLU(), nn.Linear(2, 1, rng=0)))
    names = [name for name, _ in model.named_modules()]
    assert names == ["", "0", "1", "1.0", "1.1"]
    assert [type(m).__name__ for m in model.children()] == ["Linear", "Sequential"]


def test_shared_parameters_are_listed_once():
    shared = nn.Linear(2, 2, rng=0)
    model = nn.Sequential(shared, nn.Tanh(), shared)
    assert len(list(model.parameters())) == 2
    assert list(model.state_dict()) == ["0.weight", "0.bias", "2.weight", "2.bias"]


def test_deep_nesting_is_walked_without_recursion():
    model = nn.Linear(1, 1, rng=0)
    for _ in range(5000):
        model = nn.Sequential(model)
    assert len(list(model.parameters())) == 2


def test_subclass_without_super_init_still_works():
    class Forgetful(nn.Module):
        def __init__(self) -> None:
            self.layer = nn.Linear(2, 1, rng=0)

        def forward(self, x):
            return self.layer(x)

    model = Forgetful()
    assert model.training
    assert [name for name, _ in model.named_parameters()] == ["layer.weight", "layer.bias"]
    assert model.eval().training is False


def test_call_runs_forward_and_gradients_reach_every_parameter():
    model = TwoLayer()
    model(np.ones((4, 2))).sum().backward()
    assert all(p.grad is not None and p.grad.shape == p.shape for p in model.parameters())
    model.zero_grad()
    assert all(p.grad is None for p in model.parameters())


def test_train_and_eval_set_every_module():
    model = nn.Sequential(nn.Linear(2, 2, rng=0), nn.Dropout(0.5, rng=0))
    assert model.eval() is model
    assert not any(m.training for m in model.modules())
    model.train()
    assert all(m.training for m in model.modules())


def test_module_without_forward_says_so():
    with pytest.raises(NotImplementedError, match="Module does not define forward"):
        nn.Module()(1.0)


def test_repr_reads_like_torch():
    model = nn.Sequential(nn.Linear(2, 4, rng=0), nn.Sigmoid(), nn.Linear(4, 1, bias=False))
    assert repr(model) == (
        "Sequential(\n"
        "  (0): Linear(in_features=2, out_features=4, bias=True)\n"
        "  (1): Sigmoid()\n"
        "  (2): Linear(in_features=4, out_features=1, bias=False)\n"
        ")"
    )


def test_sequential_applies_modules_in_order_and_indexes():
    model = nn.Sequential(nn.Linear(2, 3, rng=0), nn.ReLU(), nn.Linear(3, 1, rng=1))
    x = np.array([[1.0, -2.0]])
    w0, b0 = model[0].weight.data, model[0].bias.data
    w2, b2 = model[2].weight.data, model[2].bias.data
    expected = np.maximum(x @ w0.T + b0, 0) @ w2.T + b2
    np.testing.assert_allclose(model(x).data, expected, rtol=1e-12)
    assert len(model) == 3 and isinstance(model[-1], nn.Linear)
    assert isinstance(model[:2], nn.Sequential) and len(model[:2]) == 2
    assert [type(m).__name__ for m in model] == ["Linear", "ReLU", "Linear"]


def test_sequential_from_ordered_dict_names_its_children():
    model = nn.Sequential(OrderedDict(fc=nn.Linear(2, 1, rng=0), act=nn.Sigmoid()))
    assert [name for name, _ in model.named_parameters()] == ["fc.weight", "fc.bias"]
    assert isinstance(model.fc, nn.Linear)
    model.append(nn.Identity())
    assert len(model) == 3
    with pytest.raises(AttributeError, match="no attribute or child 'missing'"):
        model.missing  # noqa: B018


def test_containers_reject_non_modules():
    with pytest.raises(TypeError, match="argument '1' is a function, not a Module"):
        nn.Sequential(nn.Linear(2, 2), al.relu)
    with pytest.raises(TypeError, match="not a Module"):
        nn.ModuleList([nn.ReLU(), 3])


def test_module_list_registers_its_items():
    class Stack(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.blocks = nn.ModuleList(nn.Linear(2, 2, rng=i) for i in range(3))

    model = Stack()
    assert [name for name, _ in model.named_parameters()][-2:] == [
        "blocks.2.weight",
        "blocks.2.bias",
    ]
    model.blocks[1] = nn.Linear(2, 2, bias=False, rng=9)
    assert len(list(model.parameters())) == 5
    assert len(model.blocks[:2]) == 2


def test_buffers_are_state_but_not_parameters():
    bn = nn.BatchNorm1d(3)
    assert [name for name, _ in bn.named_parameters()] == ["weight", "bias"]
    assert [name for name, _ in bn.named_buffers()] == [
        "running_mean",
        "running_var",
        "num_batches_tracked",
    ]
    with pytest.raises(TypeError, match="must be a numpy array"):
        bn.register_buffer("bad", [1, 2])


def test_to_float32_converts_parameters_gradients_and_buffers():
    model = nn.Sequential(nn.Linear(2, 3, rng=0), nn.BatchNorm1d(3))
    model(np.ones((4, 2))).sum().backward()
    model.float()
    assert all(p.dtype == np.float32 and p.grad.dtype == np.float32 for p in model.parameters())
    assert model[1].running_mean.dtype == np.float32
    assert model[1].num_batches_tracked.dtype == np.int64
    assert model(np.ones((4, 2), np.float32)).dtype == np.float32
    assert model.double()[0].weight.dtype == np.float64


def test_apply_visits_children_before_parents():
    model = nn.Sequential(nn.Linear(2, 2, rng=0), nn.Sequential(nn.Tanh()))
    seen = []
    model.apply(lambda m: seen.append(type(m).__name__))
    assert seen == ["Tanh", "Sequential", "Linear", "Sequential"]


def test_global_forward_hooks_see_every_module_call_and_can_be_removed():
    model = nn.MLP([2, 3, 1], rng=0)
    calls = []
    pre = nn.register_module_forward_pre_hook(lambda m, args: calls.append(("pre", type(m))))
    post = nn.register_module_forward_hook(lambda m, args, out: calls.append(("post", out.shape)))
    try:
        model(np.ones((5, 2)))
    finally:
        pre.remove()
        post.remove()
    assert calls[0] == ("pre", nn.MLP) and calls[-1] == ("post", (5, 1))
    assert len(calls) == 2 * 5  # MLP, 2 Linear, 2 activations
    model(np.ones((5, 2)))
    assert len(calls) == 10


def test_forward_hook_can_replace_the_output():
    handle = nn.register_module_forward_hook(
        lambda m, args, out: out * 0 if isinstance(m, nn.Sigmoid) else None
    )
    try:
        out = nn.Sequential(nn.Linear(2, 2, rng=0), nn.Sigmoid())(np.ones((1, 2)))
    finally:
        handle.remove()
    np.testing.assert_array_equal(out.data, 0.0)
