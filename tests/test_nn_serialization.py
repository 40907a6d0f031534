"""state_dict / load_state_dict and nn.save / nn.load: round trips, strict errors that name
the key and leave the module unchanged, dtype preservation, and no pickle."""

import zipfile

import numpy as np
import pytest

import autograd_lite as al
import nn


def lab_net(seed=0, dtype=np.float64):
    return nn.MLP([2, 4, 4, 1], activation="sigmoid", output_activation="sigmoid", rng=seed,
                  dtype=dtype)  # fmt: skip


def snapshot(model):
    return {k: v.copy() for k, v in model.state_dict().items()}


def assert_same_state(a, b):
    assert list(a) == list(b)
    for key in a:
        np.testing.assert_array_equal(a[key], b[key])


def test_state_dict_keys_order_and_copies():
    model = nn.Sequential(nn.Linear(2, 3, rng=0), nn.BatchNorm1d(3))
    state = model.state_dict()
    assert list(state) == [
        "0.weight", "0.bias", "1.weight", "1.bias",
        "1.running_mean", "1.running_var", "1.num_batches_tracked",
    ]  # fmt: skip
    state["0.weight"][:] = 123.0
    assert not np.any(model[0].weight.data == 123.0)


def test_load_state_dict_round_trip_reproduces_outputs():
    a, b = lab_net(0), lab_net(1)
    x = np.random.default_rng(0).random((5, 2))
    assert not np.allclose(a(x).data, b(x).data)
    result = b.load_state_dict(a.state_dict())
    assert result == nn.IncompatibleKeys([], [])
    np.testing.assert_array_equal(a(x).data, b(x).data)


def test_load_keeps_parameter_identity_so_optimizers_still_work():
    model = lab_net(0)
    optimizer = nn.optim.SGD(model.parameters(), lr=0.1)
    weight = model.layers[0].weight
    model.load_state_dict(lab_net(1).state_dict())
    assert model.layers[0].weight is weight
    assert optimizer.param_groups[0]["params"][0] is weight


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (lambda s: s.pop("layers.2.bias"), 'missing key "layers.2.bias"'),
        (lambda s: s.update(extra=np.zeros(1)), 'unexpected key "extra"'),
        (
            lambda s: s.update({"layers.1.weight": np.zeros((4, 3))}),
            r'shape mismatch for "layers.1.weight": the state has shape \(4, 3\), '
            r"the module has \(4, 4\)",
        ),
        (
            lambda s: s.update({"layers.0.bias": np.array(["a"] * 4)}),
            r'"layers.0.bias" has dtype <U1, which does not convert',
        ),
    ],
    ids=["missing", "unexpected", "shape", "dtype"],
)
def test_strict_load_errors_name_the_key_and_change_nothing(edit, message):
    model = lab_net(0)
    before = snapshot(model)
    state = lab_net(1).state_dict()
    edit(state)
    with pytest.raises(ValueError, match=message) as info:
        model.load_state_dict(state)
    assert str(info.value).startswith("MLP.load_state_dict: ")
    assert_same_state(model.state_dict(), before)


def test_all_problems_are_reported_at_once():
    state = lab_net(1).state_dict()
    state.pop("layers.0.weight")
    state["bogus"] = np.zeros(2)
    with pytest.raises(
        ValueError, match=r'missing key "layers\.0\.weight"; unexpected key "bogus"'
    ):
        lab_net(0).load_state_dict(state)


def test_non_strict_load_skips_keys_but_not_shape_errors():
    model = lab_net(0)
    state = lab_net(1).state_dict()
    state.pop("layers.2.bias")
    state["extra"] = np.zeros(1)
    result = model.load_state_dict(state, strict=False)
    assert result.missing_keys == ["layers.2.bias"] and result.unexpected_keys == ["extra"]
    np.testing.assert_array_equal(model.layers[0].weight.data, state["layers.0.weight"])
    state["layers.0.weight"] = np.zeros((1, 1))
    before = snapshot(model)
    with pytest.raises(ValueError, match="shape mismatch"):
        model.load_state_dict(state, strict=False)
    assert_same_state(model.state_dict(), before)


def test_loading_float64_values_into_a_float32_model_keeps_float32():
    model = lab_net(0, np.float32)
    model.load_state_dict(lab_net(1).state_dict())
    assert all(p.dtype == np.float32 for p in model.parameters())
    np.testing.assert_allclose(
        model.layers[0].weight.data, lab_net(1).layers[0].weight.data, rtol=1e-6
    )


def test_save_load_npz_round_trip(tmp_path):
    path = tmp_path / "lab.npz"
    bn_model = nn.Sequential(nn.Linear(2, 3, rng=0), nn.BatchNorm1d(3, dtype=np.float64))
    bn_model(np.random.default_rng(0).standard_normal((8, 2)))  # moves the running statistics
    nn.save(bn_model, path)
    with np.load(path, allow_pickle=False) as archive:  # a plain numpy archive
        assert sorted(archive.files) == sorted(bn_model.state_dict())
        assert archive["1.num_batches_tracked"].dtype == np.int64
    restored = nn.Sequential(nn.Linear(2, 3, rng=5), nn.BatchNorm1d(3))
    assert nn.load(restored, path) == nn.IncompatibleKeys([], [])
    assert_same_state(restored.state_dict(), bn_model.state_dict())


def test_save_writes_exactly_the_given_path_and_any_key(tmp_path):
    class Odd(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.file = nn.Parameter([1.0, 2.0])  # a name np.savez(**state) would choke on
            self.allow_pickle = nn.Parameter([3.0])

    path = tmp_path / "model.weights"
    nn.save(Odd(), path)
    assert path.exists() and zipfile.is_zipfile(path)
    target = Odd()
    target.file.data[:] = 0
    nn.load(target, path)
    np.testing.assert_array_equal(target.file.data, [1.0, 2.0])


def test_load_from_the_wrong_model_is_a_clear_error(tmp_path):
    path = tmp_path / "lab.npz"
    nn.save(lab_net(0), path)
    other = nn.MLP([2, 8, 1], rng=0)
    before = snapshot(other)
    with pytest.raises(ValueError, match=r'shape mismatch for "layers\.0\.weight"'):
        nn.load(other, path)
    assert_same_state(other.state_dict(), before)


def test_object_arrays_are_refused_on_load_without_suggesting_pickle(tmp_path):
    path = tmp_path / "evil.npz"
    np.savez(path, **{"layers.0.weight": np.array([object()] * 8).reshape(4, 2)})
    with pytest.raises(ValueError) as info:
        nn.load(lab_net(0), path, strict=False)
    message = str(info.value)
    assert message.startswith(f"nn.load: {str(path)!r} is not a checkpoint that nn.save wrote")
    assert "'layers.0.weight.npy' holds Python objects, which only pickle could read" in message
    assert "allow_pickle" not in message


def test_trained_model_survives_a_round_trip(tmp_path):
    model = lab_net(0)
    x = np.random.default_rng(1).random((6, 2))
    optimizer = nn.optim.Adam(model.parameters(), lr=0.1)
    for _ in range(3):
        optimizer.zero_grad()
        model(x).sum().backward()
        optimizer.step()
    nn.save(model, tmp_path / "trained.npz")
    restored = lab_net(7)
    assert nn.load(restored, tmp_path / "trained.npz") == nn.IncompatibleKeys([], [])
    np.testing.assert_array_equal(restored(al.tensor(x)).data, model(al.tensor(x)).data)
