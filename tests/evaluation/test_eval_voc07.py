"""VOC07 linear-SVM protocol: AP definitions, C selection, known-answer synthetic sets, the CLI."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from sklearn.metrics import average_precision_score

from e2mc_plugin.evaluation.voc07 import (
    COST_GRIDS,
    FALLBACK_COST,
    VOC07_COSTS,
    CostSelectionWarning,
    average_precision,
    normalize_rows,
    train_and_test_svms,
    voc07_11point_ap,
)
from e2mc_plugin.evaluation.voc07_cli import read_label_list, read_voc_devkit


def _interpolated_by_definition(scores, labels) -> float:
    """Mean over positives of the best precision at that positive's recall or beyond."""
    order = np.argsort(-scores, kind="stable")
    hits = labels[order] > 0
    precision = np.cumsum(hits) / np.arange(1, hits.size + 1)
    positives = np.flatnonzero(hits)
    return float(np.mean([precision[i:].max() for i in positives]))


def test_ap_equals_sklearn_when_precision_never_rises():
    """sklearn's AP is the un-interpolated sum; both agree when the precision curve is monotone."""
    labels = np.array([1, 1, 0, 1, 0, 0, 0])
    scores = np.array([0.9, 0.8, 0.7, 0.6, 0.5, 0.4, 0.3])
    assert average_precision(scores, labels) == pytest.approx(
        average_precision_score(labels, scores)
    )


@pytest.mark.parametrize("seed", range(5))
def test_ap_is_the_interpolated_definition_and_bounds_sklearn(seed):
    rng = np.random.default_rng(seed)
    labels = (rng.random(200) < 0.3).astype(int)
    scores = rng.normal(size=200) + labels
    ours = average_precision(scores, labels)
    assert ours == pytest.approx(_interpolated_by_definition(scores, labels), abs=1e-12)
    assert ours >= average_precision_score(labels, scores) - 1e-12


def test_11point_ap_on_a_hand_computed_ranking():
    # ranking: + - + - -  -> precision at the positives 1, 2/3; recall 0.5, 1.0
    labels = np.array([1, 0, 1, 0, 0])
    scores = np.array([5.0, 4, 3, 2, 1])
    # t = 0 .. 0.5: max precision 1 (6 points); t = 0.6 .. 1.0: 2/3 (5 points)
    assert voc07_11point_ap(scores, labels) == pytest.approx((6 * 1 + 5 * 2 / 3) / 11)
    assert average_precision(scores, labels) == pytest.approx(0.5 * 1 + 0.5 * 2 / 3)


def test_ap_without_positives_is_an_error():
    with pytest.raises(ValueError, match="without a positive"):
        average_precision(np.array([1.0, 2.0]), np.array([0, 0]))


def test_rows_are_l2_normalized_like_the_benchmark():
    x = np.array([[3.0, 4.0], [0.0, 0.0]])
    np.testing.assert_allclose(normalize_rows(x), [[3 / 5.00001, 4 / 5.00001], [0, 0]])


# The paper's Appendix A.2.3 / B.2.3 grid, copied from its text.
PAPER_A23_GRID = [1e-6, 3e-6, 1e-5, 3e-5, 1e-4, 3e-4, 1e-3, 3e-3, 0.01, 0.03, 0.1, 0.3, 1, 2,
                  5, 10, 15, 20, 50, 100, 200, 500, 1000]  # fmt: skip


def test_default_cost_grid_is_the_papers():
    from e2mc_plugin.evaluation.voc07_cli import _parser

    assert list(VOC07_COSTS) == PAPER_A23_GRID
    assert list(COST_GRIDS["paper"]) == PAPER_A23_GRID
    args = _parser().parse_args(["ckpt"])
    assert args.costs is None and list(COST_GRIDS[args.cost_grid]) == PAPER_A23_GRID
    assert train_and_test_svms.__kwdefaults__["costs"] == VOC07_COSTS


def test_benchmark_grid_stays_a_named_option():
    """Goyal et al.'s VOC07 ``--costs_list`` (decades 1e-7 ... 100) plus the 0.5^k, k = 4..19,
    that its ``parse_cost_list`` appends."""
    from e2mc_plugin.evaluation.voc07_cli import _parser

    grid = COST_GRIDS["benchmark"]
    assert grid[:10] == tuple(10.0**e for e in range(-7, 3))
    assert grid[10:] == tuple(0.5**k for k in range(4, 20))
    args = _parser().parse_args(["ckpt", "--cost-grid", "benchmark"])
    assert COST_GRIDS[args.cost_grid] == grid


def _multilabel(rng, n, k, d, separable: bool):
    labels = (rng.random((n, k)) < 0.4).astype(int)
    labels[np.arange(n) % k == 0, 0] = 1  # every class has positives
    for c in range(k):
        labels[c, c] = 1
    if separable:
        # class c present <=> feature c is +1, else -1; plus small noise dimensions
        x = np.where(labels > 0, 1.0, -1.0)
        x = np.concatenate([x, 0.05 * rng.normal(size=(n, d - k))], axis=1)
    else:
        x = rng.normal(size=(n, d))
    return x, labels


def test_separable_features_give_map_one():
    rng = np.random.default_rng(0)
    x, y = _multilabel(rng, 120, 4, 16, separable=True)
    result = train_and_test_svms(x[:80], y[:80], x[80:], y[80:], costs=(0.01, 1.0))
    np.testing.assert_allclose(result.test_ap, 1.0)
    assert result.mean_ap == pytest.approx(1.0)
    assert result.cv_ap.shape == (4, 2)


@pytest.mark.slow  # starts joblib worker processes (about 10 s)
def test_parallel_classes_give_the_same_result():
    rng = np.random.default_rng(4)
    x, y = _multilabel(rng, 90, 3, 8, separable=True)
    x = x + 0.8 * rng.normal(size=x.shape)
    one = train_and_test_svms(x[:60], y[:60], x[60:], y[60:], costs=(0.1, 10.0))
    two = train_and_test_svms(x[:60], y[:60], x[60:], y[60:], costs=(0.1, 10.0), jobs=2)
    np.testing.assert_array_equal(one.cv_ap, two.cv_ap)
    np.testing.assert_array_equal(one.test_ap, two.test_ap)
    assert one.chosen_cost == two.chosen_cost


def test_random_labels_give_chance_map():
    """Features independent of the labels: the AP of a class is about its positive rate."""
    rng = np.random.default_rng(1)
    x, y = _multilabel(rng, 600, 3, 8, separable=False)
    result = train_and_test_svms(x[:300], y[:300], x[300:], y[300:], costs=(0.1, 1.0))
    chance = (y[300:] > 0).mean(axis=0)
    assert np.all(np.abs(result.test_ap - chance) < 0.12), (result.test_ap, chance)


def test_cost_is_chosen_by_cross_validation_ap():
    """CV APs equal an independent 3-fold sklearn run of the benchmark's SVM; the chosen cost is
    the first best one of each class."""
    from sklearn.model_selection import cross_val_score
    from sklearn.svm import LinearSVC

    rng = np.random.default_rng(2)
    x, y = _multilabel(rng, 90, 2, 6, separable=True)
    x = x + 0.8 * rng.normal(size=x.shape)  # overlap: the costs now rank differently
    costs = (1e-3, 0.1, 10.0)
    result = train_and_test_svms(x[:60], y[:60], x[60:], y[60:], costs=costs)
    xn = x[:60] / (np.linalg.norm(x[:60], axis=1, keepdims=True) + 1e-5)
    for c in range(2):
        target = np.where(y[:60, c] > 0, 1, -1)
        for j, cost in enumerate(costs):
            svm = LinearSVC(C=cost, class_weight={1: 2, -1: 1}, dual=True, max_iter=2000,
                            random_state=0)  # fmt: skip
            expected = cross_val_score(svm, xn, target, cv=3, scoring="average_precision")
            assert result.cv_ap[c, j] == pytest.approx(expected.mean(), abs=1e-12)
        assert result.chosen_cost[c] == costs[int(np.argmax(result.cv_ap[c]))]


def _rare_class_set(positives: int):
    """60 train rows, 2 classes; class 1 ("rare") has ``positives`` train positives."""
    rng = np.random.default_rng(5)
    x, y = _multilabel(rng, 100, 2, 6, separable=True)
    x = x + 0.8 * rng.normal(size=x.shape)
    y[:60, 1] = 0
    y[[3, 17, 41][:positives], 1] = 1
    return x, y


def test_rare_class_is_cross_validated_over_as_many_folds_as_it_has_positives():
    """2 positives, 3 folds: a fold would have none. Cross-validated over 2 folds instead (an
    independent sklearn run), with a warning naming the class."""
    from sklearn.model_selection import StratifiedKFold, cross_val_score
    from sklearn.svm import LinearSVC

    x, y = _rare_class_set(2)
    costs = (1e-3, 0.1, 10.0)
    with pytest.warns(CostSelectionWarning, match=r"class 'rare': 2 positive .* over 2 folds"):
        result = train_and_test_svms(
            x[:60], y[:60], x[60:], y[60:], costs=costs, classes=["common", "rare"]
        )
    assert set(result.notes) == {"rare"} and "--folds 3" in result.notes["rare"]
    xn = x[:60] / (np.linalg.norm(x[:60], axis=1, keepdims=True) + 1e-5)
    target = np.where(y[:60, 1] > 0, 1, -1)
    for j, cost in enumerate(costs):
        svm = LinearSVC(C=cost, class_weight={1: 2, -1: 1}, dual=True, max_iter=2000,
                        random_state=0)  # fmt: skip
        folds = StratifiedKFold(n_splits=2)
        expected = cross_val_score(svm, xn, target, cv=folds, scoring="average_precision")
        assert result.cv_ap[1, j] == pytest.approx(expected.mean(), abs=1e-12)
    assert result.chosen_cost[1] == costs[int(np.argmax(result.cv_ap[1]))]


def test_single_positive_class_takes_the_documented_fallback_cost():
    x, y = _rare_class_set(1)
    with pytest.warns(CostSelectionWarning, match=r"class 'rare': 1 positive .* fallback"):
        result = train_and_test_svms(
            x[:60], y[:60], x[60:], y[60:], costs=(1e-3, 0.1), classes=["common", "rare"]
        )
    assert result.chosen_cost[1] == FALLBACK_COST == 1.0
    assert np.isnan(result.cv_ap[1]).all() and not np.isnan(result.cv_ap[0]).any()
    assert "rare" in result.as_dict()["notes"]


def test_class_without_positives_is_an_error_naming_it():
    x, y = _rare_class_set(0)
    with pytest.raises(ValueError, match=r"class 'rare': no positive trainval image"):
        train_and_test_svms(x[:60], y[:60], x[60:], y[60:], costs=(1.0,), classes=["a", "rare"])
    y[60:, 1] = 0
    y[:60, 1] = 1
    y[0, 1] = 0
    y[10, 1] = 0
    y[20, 1] = 0
    with pytest.raises(ValueError, match=r"class 'rare': no positive test image"):
        train_and_test_svms(x[:60], y[:60], x[60:], y[60:], costs=(1.0,), classes=["a", "rare"])


def test_difficult_test_images_are_not_scored():
    rng = np.random.default_rng(3)
    x, y = _multilabel(rng, 100, 2, 6, separable=True)
    test_y = y[60:].copy()
    # a difficult image whose features say "absent": scored as a positive it would cost AP
    test_y[0, 0] = -1
    x_test = x[60:].copy()
    x_test[0, 0] = -1.0
    result = train_and_test_svms(x[:60], y[:60], x_test, test_y, costs=(1.0,))
    assert result.test_ap[0] == pytest.approx(1.0)


def test_label_list_format_and_errors(tmp_path):
    good = tmp_path / "l.txt"
    good.write_text("# classes: cat dog\n\na.jpg 1 0\nsub/b.png -1 1\n")
    paths, labels, names = read_label_list(good)
    assert paths == ["a.jpg", "sub/b.png"] and names == ["cat", "dog"]
    np.testing.assert_array_equal(labels, [[1, 0], [-1, 1]])
    bad = tmp_path / "bad.txt"
    bad.write_text("# classes: cat dog\na.jpg 1\n")
    with pytest.raises(ValueError, match="needs 2 labels"):
        read_label_list(bad)
    bad.write_text("# classes: cat dog\na.jpg 1 2\n")
    with pytest.raises(ValueError, match="1/0/-1"):
        read_label_list(bad)


def test_voc_devkit_labels_are_mapped(tmp_path):
    from e2mc_plugin.evaluation.voc07 import VOC07_CLASSES

    main = tmp_path / "ImageSets" / "Main"
    main.mkdir(parents=True)
    for i, cls in enumerate(VOC07_CLASSES):
        flag = {0: " 1", 1: " 0"}.get(i, "-1")
        main.joinpath(f"{cls}_test.txt").write_text(f"000001 {flag}\n000002 -1\n")
    paths, labels, names = read_voc_devkit(tmp_path, "test")
    assert paths == ["JPEGImages/000001.jpg", "JPEGImages/000002.jpg"]
    assert labels[0, 0] == 1 and labels[0, 1] == -1 and labels[0, 2] == 0
    assert np.all(labels[1] == 0) and names == list(VOC07_CLASSES)


# ----------------------------------------------------------------------------- CLI


def _write_images(root: Path, n: int, labels: np.ndarray) -> list:
    from PIL import Image

    rng = np.random.default_rng(0)
    paths = []
    for i in range(n):
        # class 0 present -> bright image, absent -> dark: a frozen random net separates them
        base = 200 if labels[i, 0] > 0 else 30
        pixels = np.clip(base + rng.integers(-20, 20, (40, 40, 3)), 0, 255).astype(np.uint8)
        Image.fromarray(pixels).save(root / f"{i}.png")
        paths.append(f"{i}.png")
    return paths


def test_cli_reads_a_solo_checkpoint_and_an_image_folder(tmp_path, capsys):
    import torch
    import torchvision

    model = torchvision.models.resnet18()
    state = {f"backbone.{k}": v for k, v in model.state_dict().items() if not k.startswith("fc.")}
    run = tmp_path / "run"
    run.mkdir()
    torch.save({"state_dict": state, "epoch": 0}, run / "x-ep=0.ckpt")
    (run / "args.json").write_text(json.dumps({"backbone": {"name": "resnet18"}}))
    images = tmp_path / "img"
    images.mkdir()
    labels = np.zeros((12, 2), dtype=int)
    labels[::2, 0] = 1
    labels[:, 1] = 1 - labels[:, 0]
    paths = _write_images(images, 12, labels)
    for name, rows in (("train", range(8)), ("test", range(8, 12))):
        lines = ["# classes: bright dark"] + [
            f"{paths[i]} {labels[i, 0]} {labels[i, 1]}" for i in rows
        ]
        (tmp_path / f"{name}.txt").write_text("\n".join(lines) + "\n")
    out = tmp_path / "res.json"
    from e2mc_plugin import cli

    code = cli.main(
        ["voc07-svm", str(run), "--images", str(images),
         "--train-list", str(tmp_path / "train.txt"), "--test-list", str(tmp_path / "test.txt"),
         "--costs", "0.1", "1", "10", "--folds", "2", "--batch-size", "8", "--out", str(out)]
    )  # fmt: skip
    assert code == 0
    result = json.loads(out.read_text())
    assert set(result["ap"]) == {"bright", "dark"}
    assert result["mAP"] == pytest.approx(1.0)
    assert "mAP 100.00" in capsys.readouterr().out


def test_cli_errors_name_what_is_missing(tmp_path):
    from e2mc_plugin.evaluation.voc07_cli import main

    assert main([str(tmp_path)]) == 2
    (tmp_path / "l.txt").write_text("a.jpg 1\n")
    code = main([str(tmp_path), "--images", str(tmp_path), "--train-list",
                 str(tmp_path / "l.txt"), "--test-list", str(tmp_path / "l.txt")])  # fmt: skip
    assert code == 2  # 1 label but the default classes are VOC07's 20


def _cli_args(tmp_path, *extra):
    lists = ["--train-list", str(tmp_path / "train.txt"), "--test-list", str(tmp_path / "test.txt")]
    return [str(tmp_path / "ckpt"), "--images", str(tmp_path), *lists, *extra]


@pytest.mark.parametrize(
    "extra, expected",
    [
        (["--folds", "1"], "--folds 1: cross-validation needs at least 2 folds"),
        (["--costs", "1", "0"], "--costs 1.0 0.0: every C must be > 0"),
        (["--out", "{tmp}/nofolder/r.json"], "--out {tmp}/nofolder/r.json: no folder"),
        (["--out", "{tmp}/train.txt"], "--out {tmp}/train.txt: the file exists"),
    ],
)
def test_cli_refuses_bad_options_naming_them_before_any_work(tmp_path, capsys, extra, expected):
    from e2mc_plugin.evaluation.voc07_cli import main

    (tmp_path / "train.txt").write_text("# classes: a\nx.png 1\n")
    (tmp_path / "test.txt").write_text("# classes: a\nx.png 1\n")
    extra = [e.format(tmp=tmp_path) for e in extra]
    assert main(_cli_args(tmp_path, *extra)) == 2
    assert expected.format(tmp=tmp_path) in capsys.readouterr().err
    assert (tmp_path / "train.txt").read_text() == "# classes: a\nx.png 1\n"  # not overwritten


def test_cli_file_errors_name_the_file_and_option(tmp_path, capsys):
    import torch
    import torchvision

    from e2mc_plugin.evaluation.voc07_cli import main

    err = lambda: capsys.readouterr().err  # noqa: E731
    assert main(_cli_args(tmp_path)) == 2
    assert f"{tmp_path / 'train.txt'}: no such list file" in err()
    (tmp_path / "train.txt").write_text("# classes: a b\nx.png 1 0\n")
    (tmp_path / "test.txt").write_text("# classes: a c\nx.png 1 0\n")
    assert main(_cli_args(tmp_path)) == 2
    assert f"{tmp_path / 'train.txt'} names the classes a b, {tmp_path / 'test.txt'}" in err()
    (tmp_path / "test.txt").write_text("# classes: a b\nx.png 1 0\n")
    state = torchvision.models.resnet18().state_dict()
    state = {f"backbone.{k}": v for k, v in state.items() if not k.startswith("fc.")}
    torch.save({"state_dict": state}, tmp_path / "ckpt")
    assert main(_cli_args(tmp_path)) == 2
    message = err()
    assert (
        f"{tmp_path / 'ckpt'}: its backbone.* tensors do not fit --backbone (default) resnet50"
        in message
    )
    assert main(_cli_args(tmp_path, "--backbone", "resnet18")) == 2
    assert f"--images {tmp_path}: 1 listed image(s) not found, e.g. x.png" in err()
    assert main(_cli_args(tmp_path, "--backbone", "vit_small")) == 2
    assert "--backbone 'vit_small': voc07-svm supports torchvision ResNets" in err()
    assert main([str(tmp_path / "ckpt"), "--voc-root", str(tmp_path)]) == 2
    assert f"--voc-root {tmp_path}: no ImageSets/Main/aeroplane_trainval.txt" in err()
