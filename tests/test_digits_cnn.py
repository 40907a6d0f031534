"""The digits CNN demo (demos.digits_cnn): data, model, and a seeded run's test accuracy."""

from __future__ import annotations

import json

import numpy as np
import pytest

pytest.importorskip("sklearn")
pytest.importorskip("matplotlib")

from demos import digits_cnn


def test_confusion_matrix_counts_true_digit_by_predicted_digit():
    counts = digits_cnn.confusion_matrix(np.array([0, 0, 1, 2, 2]), np.array([0, 1, 1, 2, 0]), 3)
    np.testing.assert_array_equal(counts, [[1, 1, 0], [0, 1, 0], [1, 0, 1]])


def test_digits_are_scaled_images_split_by_class():
    data = digits_cnn.load(split_seed=0)
    assert data.x_train.shape == (1347, 1, 8, 8) and data.x_test.shape == (450, 1, 8, 8)
    assert data.x_train.min() == 0 and data.x_train.max() == 1
    train_share = np.bincount(data.y_train) / len(data.y_train)
    test_share = np.bincount(data.y_test) / len(data.y_test)
    np.testing.assert_allclose(train_share, test_share, atol=0.01)
    np.testing.assert_array_equal(digits_cnn.load(split_seed=0).y_test, data.y_test)


def test_the_cnn_gives_ten_scores_per_image():
    model = digits_cnn.build_model(init_seed=0)
    x = digits_cnn.load(split_seed=0).x_test[:5]
    assert model(x).shape == (5, 10)
    assert digits_cnn.predict(model, x).shape == (5,)


def test_quick_run_writes_its_figure_and_results(tmp_path, capsys):
    results = digits_cnn.main(["--quick", "--out", str(tmp_path), "--no-progress"])
    saved = json.loads((tmp_path / "results.json").read_text())
    assert saved["test_accuracy"] == results["test_accuracy"] > 0.85
    assert len(saved["history"]["train_loss"]) == 2
    assert np.sum(saved["confusion_matrix"]) == 450
    assert (tmp_path / saved["figure"]).stat().st_size > 0
    assert "epoch   2 loss :" in capsys.readouterr().out


def test_default_run_reaches_97_percent(tmp_path):
    results = digits_cnn.main(["--out", str(tmp_path), "--no-progress"])
    assert results["test_accuracy"] >= 0.97
    assert np.trace(results["confusion_matrix"]) == round(results["test_accuracy"] * 450)
