"""The model builder reproduces the paper's networks (Table V, Fig. 8, 9), configured from presets/paper.yaml."""

from __future__ import annotations

import copy

import keras
import numpy as np
import pytest
import yaml

from runner import REPO
from leptonid.config import check_config
from leptonid.feature_sets import FEATURE_SETS, flat_inputs, image_inputs, inputs_of, is_cnn
from leptonid.layout import FEATURE_SHAPES
from leptonid.models import ModelParams, build_model
from leptonid.training import resolve_config

PRESET = REPO / "presets" / "paper.yaml"

# Table V of Collado et al., "Learning to identify electrons", PRD 103, 116028
# (2021), typed from the paper as the independent check of presets/paper.yaml,
# the one source the code and the benchmarks read. Columns: conv blocks,
# filters, dense layers, hidden units, learning rate, dropout (None: "-" in the
# table, or not given). The last three rows are not in Table V: they are the
# settings of the authors' training code for the networks the paper also shows.
PUBLISHED = {
    "et": (3, 117, 2, 160, 1e-4, 0.0),
    "ht": (2, 27, 2, 84, 1e-2, 0.5),
    "et_and_ht": (3, 47, 2, 146, 1e-4, 0.0),
    "hl": (None, None, 5, 149, 1e-3, 0.0019),
    "et_and_ht_and_hl": (3, 34, 2, 154, 1e-4, None),
    "hl_and_mass": (None, None, 3, 109, 0.0013, None),
    "mass": (None, None, 3, 10, 0.01, None),
}
COLUMNS = ("conv_blocks", "filters", "dense_layers", "hidden_units", "learning_rate", "dropout")


def preset() -> dict:
    return yaml.safe_load(PRESET.read_text())


def paper_params(feature_set: str) -> ModelParams:
    """The network of ``feature_set`` as presets/paper.yaml configures it."""
    return ModelParams.from_mapping(resolve_config(preset()["training"], feature_set))


def merged(base: dict, override: dict) -> dict:
    """``override`` merged over ``base`` key by key, as Snakemake merges --configfile over configfile."""
    out = copy.deepcopy(base)
    for key, value in override.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = merged(out[key], value)
        else:
            out[key] = copy.deepcopy(value)
    return out


@pytest.mark.parametrize("feature_set", sorted(PUBLISHED))
def test_paper_preset_holds_the_published_hyperparameters(feature_set):
    params = paper_params(feature_set)
    for column, published in zip(COLUMNS, PUBLISHED[feature_set], strict=True):
        if published is not None:
            assert getattr(params, column) == pytest.approx(published), (feature_set, column)
    if PUBLISHED[feature_set][0] is None:  # a dense net: no conv tower
        assert params.conv_blocks == 0 and params.filters == 0


def test_paper_preset_uses_the_papers_training_settings():
    defaults = preset()["training"]["defaults"]
    assert (defaults["batch_size"], defaults["epochs"], defaults["patience"]) == (128, 100, 10)
    assert (defaults["lr_factor"], defaults["lr_patience"]) == (0.3, 5)


def test_paper_preset_over_the_default_config_is_valid():
    config = merged(yaml.safe_load((REPO / "config.yaml").read_text()), preset())
    check_config(config, REPO / "schemas" / "config.schema.yaml")
    assert config["training"]["models"]["et"]["filters"] == 117


def shapes(feature_set: str) -> dict[str, tuple[int, ...]]:
    return {name: FEATURE_SHAPES[name] for name in inputs_of(feature_set)}


def count(model: keras.Model, kind: type) -> int:
    return sum(isinstance(layer, kind) for layer in model.layers)


def conv_params(blocks: int, filters: int, channels: int = 1) -> int:
    """Weights of a tower: first conv sees `channels`, the other 2*blocks-1 convs see `filters`."""
    first = 9 * channels * filters + filters
    other = 9 * filters * filters + filters
    return first + (2 * blocks - 1) * other


def pooled(size: int, blocks: int) -> int:
    for _ in range(blocks):
        size = -(-size // 2)  # 2x2 max pooling with same padding
    return size


def dense_params(n_in: int, layers: int, units: int) -> int:
    total = n_in * units + units + (layers - 1) * (units * units + units)
    return total + units + 1  # sigmoid output


@pytest.mark.parametrize("feature_set", ["et", "ht", "et_and_ht"])
def test_cnn_layers_and_parameters_follow_table_v(feature_set):
    p = paper_params(feature_set)
    model = build_model(shapes(feature_set), p, name=feature_set)
    n_images = len(image_inputs(feature_set))
    assert count(model, keras.layers.Conv2D) == 2 * p.conv_blocks * n_images
    assert count(model, keras.layers.MaxPooling2D) == p.conv_blocks * n_images
    assert count(model, keras.layers.Dense) == p.dense_layers + 1
    assert count(model, keras.layers.Dropout) == p.dense_layers - 1
    flat = sum(pooled(FEATURE_SHAPES[i][0], p.conv_blocks) ** 2 * p.filters for i in image_inputs(feature_set))
    assert model.get_layer("dense1").input.shape == (None, flat)
    expected = n_images * conv_params(p.conv_blocks, p.filters) + dense_params(flat, p.dense_layers, p.hidden_units)
    assert model.count_params() == expected
    assert model.output.shape == (None, 1)


def test_ecal_network_has_the_published_size():
    # Table V's ECal CNN (3 blocks of 117 filters, 2 x 160 dense) on 31 x 31 images
    model = build_model(shapes("et"), paper_params("et"))
    assert model.count_params() == 943_361
    conv = [layer for layer in model.layers if isinstance(layer, keras.layers.Conv2D)]
    assert all(layer.kernel_size == (3, 3) and layer.padding == "same" for layer in conv)
    assert all(layer.activation.__name__ == "relu" for layer in conv)


def test_dense_network_and_concatenated_inputs():
    model = build_model(shapes("hl"), paper_params("hl"))
    assert count(model, keras.layers.Conv2D) == 0
    assert count(model, keras.layers.Dense) == 6
    assert [layer.rate for layer in model.layers if isinstance(layer, keras.layers.Dropout)] == [0.0019] * 4
    both = build_model(shapes("et_and_ht_and_hl"), ModelParams(conv_blocks=1, filters=2, hidden_units=8))
    concat = both.get_layer("concat")
    assert concat.output.shape == (None, 16 * 16 * 2 * 2 + 7)
    assert sorted(t.name for t in both.inputs) == ["et", "hl", "ht"]


def test_model_scores_are_probabilities_and_compiled_as_in_the_paper():
    p = ModelParams(conv_blocks=1, filters=2, dense_layers=2, hidden_units=4, learning_rate=3e-3)
    model = build_model(shapes("et_and_ht_and_hl"), p)
    rng = np.random.default_rng(0)
    x = {name: rng.normal(size=(5, *FEATURE_SHAPES[name])).astype("float32") for name in ("et", "ht", "hl")}
    scores = model.predict(x, verbose=0)
    assert scores.shape == (5, 1)
    assert np.all((scores >= 0) & (scores <= 1))
    assert model.get_layer("score").activation.__name__ == "sigmoid"
    assert isinstance(model.optimizer, keras.optimizers.Adam)
    assert float(keras.ops.convert_to_numpy(model.optimizer.learning_rate)) == pytest.approx(3e-3)


def test_feature_sets_split_into_images_and_flat_inputs():
    assert image_inputs("et_and_ht_and_hl") == ("et", "ht")
    assert flat_inputs("hl_and_mass") == ("hl", "mass")
    assert [fs for fs in FEATURE_SETS if is_cnn(fs)] == ["et", "ht", "et_and_ht", "et_and_ht_and_hl"]
    with pytest.raises(ValueError, match="unknown feature set 'ecal'"):
        inputs_of("ecal")


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"dropout": 1.0}, "dropout"),
        ({"learning_rate": 0.0}, "learning_rate"),
        ({"dense_layers": 0}, "dense layer"),
    ],
)
def test_bad_hyperparameters_are_named(kwargs, message):
    with pytest.raises(ValueError, match=message):
        ModelParams(**kwargs)


def test_image_input_needs_conv_blocks():
    with pytest.raises(ValueError, match="image input 'et' needs conv_blocks"):
        build_model(shapes("et"), ModelParams(conv_blocks=0, filters=0))
    with pytest.raises(ValueError, match="flat input 'hl'"):
        build_model({"hl": (7, 1)}, ModelParams())
