"""Training throughput: our training path against the bare Keras ceiling, per feature set.

    python bench/training.py [--quick] [--feature-sets et et_and_ht] [--events N]
                             [--config presets/paper.yaml] [--threads N]

Baseline ("ceiling"): ``model.fit`` of the same network on random inputs of
the real shapes, no validation, no callbacks -- how paper-facts section 8
measured 39,600 (et) and 32,200 (et_and_ht) events/s on one H100 with JAX.
Ours: :func:`leptonid.training.train_model` (validation on 10% as many
events, EarlyStopping, ReduceLROnPlateau, best checkpoint, epoch timer). Both
time epochs after one warm-up epoch. Networks: Table V (paper preset) unless
``--config`` names a config file whose ``training`` section to use. The last
line is ``training: et <x> events/s, et_and_ht <y> events/s`` (ours).

Set KERAS_BACKEND=jax for the GPU check (the device has no TensorFlow).
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from dataclasses import asdict
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "src"))

import numpy as np  # noqa: E402

from leptonid.feature_sets import inputs_of  # noqa: E402
from leptonid.layout import FEATURE_SHAPES  # noqa: E402
from leptonid.training import TrainConfig, configure_runtime, resolve_config, train_model  # noqa: E402

PRESET = Path(__file__).resolve().parent.parent / "presets" / "paper.yaml"
#: paper-facts section 8: one H100, JAX backend, Table V networks, batch 128
H100_CEILING = {"et": 39_600, "ht": 57_500, "et_and_ht": 32_200, "hl": 106_000}
#: Table V (as in presets/paper.yaml), used where PyYAML is missing (the GPU machine)
TABLE_V = {
    "defaults": {"epochs": 100, "batch_size": 128, "patience": 10, "lr_factor": 0.3, "lr_patience": 5, "seed": 1},
    "models": {
        "et": {"conv_blocks": 3, "filters": 117, "dense_layers": 2, "hidden_units": 160, "learning_rate": 1e-4},
        "ht": {"conv_blocks": 2, "filters": 27, "dense_layers": 2, "hidden_units": 84, "learning_rate": 1e-2,
               "dropout": 0.5},
        "et_and_ht": {"conv_blocks": 3, "filters": 47, "dense_layers": 2, "hidden_units": 146, "learning_rate": 1e-4},
        "hl": {"dense_layers": 5, "hidden_units": 149, "learning_rate": 1e-3, "dropout": 0.0019},
    },
}


def training_section(path: Path) -> dict:
    """The ``training`` section of a config file (Table V if PyYAML is missing and the preset is asked for)."""
    try:
        import yaml
    except ImportError:
        if path == PRESET:
            return TABLE_V
        raise SystemExit(f"PyYAML is needed to read {path}") from None
    return yaml.safe_load(path.read_text())["training"]


def random_split(feature_set: str, n: int, seed: int) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    data = {name: rng.normal(size=(n, *FEATURE_SHAPES[name])).astype(np.float32) for name in inputs_of(feature_set)}
    data["y"] = rng.integers(0, 2, n).astype(np.float32)
    return data


def ceiling(feature_set: str, config: TrainConfig, data: dict[str, np.ndarray], epochs: int) -> float:
    """Events/s of bare model.fit (no validation, no callbacks), after a warm-up epoch."""
    import keras

    from leptonid.models import build_model

    keras.utils.set_random_seed(config.seed)
    x = {name: data[name] for name in inputs_of(feature_set)}
    model = build_model({k: v.shape[1:] for k, v in x.items()}, config.model_params(), name=feature_set)
    model.fit(x, data["y"], batch_size=config.batch_size, epochs=1, verbose=0)
    start = time.perf_counter()
    model.fit(x, data["y"], batch_size=config.batch_size, epochs=epochs, verbose=0)
    return epochs * len(data["y"]) / (time.perf_counter() - start)


def ours(feature_set: str, config: TrainConfig, train: dict, valid: dict, epochs: int) -> float:
    """Events/s of our training path: median over epochs after the first."""
    config = TrainConfig.from_mapping({**asdict(config), "epochs": epochs + 1, "patience": 100, "lr_patience": 100})
    with tempfile.TemporaryDirectory() as tmp:
        result = train_model(train, valid, feature_set, config, Path(tmp) / "model.keras")
    return float(np.median(result.history["events_per_second"].to_numpy()[1:]))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="few events and one timed epoch (< 1 minute on CPU)")
    parser.add_argument("--feature-sets", nargs="+", default=["et", "et_and_ht"])
    parser.add_argument("--events", type=int, default=None, help="training events (default 137,500; quick 256)")
    parser.add_argument("--epochs", type=int, default=None, help="timed epochs (default 2; quick 1)")
    parser.add_argument("--config", type=Path, default=PRESET, help="config file whose training section to use")
    parser.add_argument("--threads", type=int, default=os.cpu_count() or 1)
    args = parser.parse_args()
    events = args.events or (256 if args.quick else 137_500)
    epochs = args.epochs or (1 if args.quick else 2)

    device = configure_runtime(args.threads)
    import keras

    training = training_section(args.config)
    print(f"device: {device}; keras {keras.__version__} ({keras.backend.backend()}); "
          f"{events} events, {epochs} timed epoch(s), networks from {args.config}")
    ours_rate = {}
    for fs in args.feature_sets:
        config = TrainConfig.from_mapping(resolve_config(training, fs))
        train = random_split(fs, events, 1)
        valid = random_split(fs, max(events // 10, config.batch_size), 2)
        base = ceiling(fs, config, train, epochs)
        ours_rate[fs] = ours(fs, config, train, valid, epochs)
        ref = H100_CEILING.get(fs)
        ref_text = f"; paper-facts H100/JAX ceiling {ref:,} -> ours/that {ours_rate[fs] / ref:.2f}" if ref else ""
        print(f"{fs}: ceiling {base:,.0f} events/s, ours {ours_rate[fs]:,.0f} events/s, "
              f"ours/ceiling {ours_rate[fs] / base:.2f}{ref_text}", flush=True)
    print("training: " + ", ".join(f"{fs} {rate:.0f} events/s" for fs, rate in ours_rate.items()))


if __name__ == "__main__":
    main()
