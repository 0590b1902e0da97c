"""Training throughput: the whole ``fit`` through our training path against the whole ``fit`` of the bare Keras model.

    python bench/training.py [--quick] [--feature-sets et et_and_ht] [--events N]
                             [--config presets/paper.yaml] [--threads N]

Both sides do the same work on the same arrays: the same network (built by
:func:`leptonid.models.build_model` from the same hyperparameters and seed),
the same training and validation arrays, batch size, shuffling and number of
epochs. Each side is one ``fit`` call of the timed epochs plus one warm-up
epoch, and is timed as that whole ``fit`` less its first (warm-up) epoch, the
epoch measured from its begin to its end by a callback:

- bare: ``model.fit(x, y, validation_data=...)`` of the Keras model with only
  that two-line timer callback;
- ours: :func:`leptonid.training.train_model` (float32 inputs picked by
  feature set, EarlyStopping, ReduceLROnPlateau, best checkpoint, and its
  epoch timer, which gives the warm-up epoch's time). Early stopping and the
  LR schedule are kept from acting (patience above the number of epochs), so
  both run all epochs.

(The warm-up cannot be a separate ``fit`` call: Keras retraces its train
function on each ``fit`` call, so the second call is no warmer than the first.)
Before any timed fit, a throwaway two-epoch fit of a small dense network warms
the process: without it, whichever side ran first in the process was 2-4x
slower in its timed epochs on 2 CPU cores.

Networks: from ``presets/paper.yaml`` (Table V of Collado et al., PRD 103,
116028 (2021)) unless ``--config`` names another config file whose
``training`` section to use; reading it needs PyYAML. The last line is
``training: ours/bare fit speed <ratio> (<fs> <ratio>, ...)``.

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
#: events/s of a bare fit (no validation) of the Table V networks measured earlier
#: on one H100 with the JAX backend, batch 128 (README, "Training throughput and the GPU check")
H100_BARE = {"et": 39_600, "ht": 57_500, "et_and_ht": 32_200, "hl": 106_000}


def training_section(path: Path) -> dict:
    """The ``training`` section of a config file (Table V: ``presets/paper.yaml``)."""
    try:
        import yaml
    except ImportError:
        raise SystemExit(
            f"bench/training.py reads the networks from {path} and needs PyYAML: "
            "install it (pip install pyyaml) or carry it with the run"
        ) from None
    return yaml.safe_load(path.read_text())["training"]


def random_split(feature_set: str, n: int, seed: int) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    data = {name: rng.normal(size=(n, *FEATURE_SHAPES[name])).astype(np.float32) for name in inputs_of(feature_set)}
    data["y"] = rng.integers(0, 2, n).astype(np.float32)
    return data


def bare(feature_set: str, config: TrainConfig, train: dict, valid: dict, epochs: int) -> float:
    """Seconds of the bare Keras ``fit`` (with validation) of ``epochs`` + 1 epochs, less the first epoch."""
    import keras

    from leptonid.models import build_model

    class FirstEpoch(keras.callbacks.Callback):
        def on_epoch_begin(self, epoch, logs=None):
            if epoch == 0:
                self.start = time.perf_counter()

        def on_epoch_end(self, epoch, logs=None):
            if epoch == 0:
                self.seconds = time.perf_counter() - self.start

    keras.utils.set_random_seed(config.seed)
    names = inputs_of(feature_set)
    x, xv = {n: train[n] for n in names}, {n: valid[n] for n in names}
    model = build_model({k: v.shape[1:] for k, v in x.items()}, config.model_params(), name=feature_set)
    first = FirstEpoch()
    start = time.perf_counter()
    model.fit(
        x, train["y"], validation_data=(xv, valid["y"]), epochs=epochs + 1, batch_size=config.batch_size,
        shuffle=True, callbacks=[first], verbose=0,
    )
    return time.perf_counter() - start - first.seconds


def warm_up_process(training: dict) -> None:
    """A throwaway fit of the small ``hl`` network, so that the first timed fit pays no process start-up costs."""
    config = TrainConfig.from_mapping(resolve_config(training, "hl"))
    bare("hl", config, random_split("hl", 256, 1), random_split("hl", 128, 2), 1)


def ours(feature_set: str, config: TrainConfig, train: dict, valid: dict, epochs: int) -> float:
    """Seconds of our whole ``fit`` (train_model, ``epochs`` + 1 epochs) less the first epoch."""
    never = epochs + 10  # no early stop, no LR reduction: the same epochs as the bare fit
    config = TrainConfig.from_mapping(
        {**asdict(config), "epochs": epochs + 1, "patience": never, "lr_patience": never}
    )
    with tempfile.TemporaryDirectory() as tmp:
        result = train_model(train, valid, feature_set, config, Path(tmp) / "model.keras")
    if len(result.history) != epochs + 1:
        raise SystemExit(f"{feature_set}: ran {len(result.history)} epochs, expected {epochs + 1}")
    return result.seconds - float(result.history["seconds"].iloc[0])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--quick", action="store_true", help="few events and one timed epoch (about a minute on 2 CPU cores)"
    )
    parser.add_argument("--feature-sets", nargs="+", default=["et", "et_and_ht"])
    parser.add_argument("--events", type=int, default=None, help="training events (default 137,500; quick 128)")
    parser.add_argument("--epochs", type=int, default=None, help="timed epochs (default 2; quick 1)")
    parser.add_argument("--config", type=Path, default=PRESET, help="config file whose training section to use")
    parser.add_argument("--threads", type=int, default=os.cpu_count() or 1)
    args = parser.parse_args()
    events = args.events or (128 if args.quick else 137_500)
    epochs = args.epochs or (1 if args.quick else 2)

    training = training_section(args.config)
    device = configure_runtime(args.threads)
    import keras

    print(f"device: {device}; keras {keras.__version__} ({keras.backend.backend()}); "
          f"{events} events, {epochs} timed epoch(s) after a warm-up epoch in the same fit, "
          f"networks from {args.config}")
    warm_up_process(training)
    seconds: dict[str, tuple[float, float]] = {}
    for fs in args.feature_sets:
        config = TrainConfig.from_mapping(resolve_config(training, fs))
        train = random_split(fs, events, 1)
        valid = random_split(fs, max(events // 10, config.batch_size), 2)
        t_bare = bare(fs, config, train, valid, epochs)
        t_ours = ours(fs, config, train, valid, epochs)
        seconds[fs] = (t_bare, t_ours)
        rate_bare, rate_ours = epochs * events / t_bare, epochs * events / t_ours
        ref = H100_BARE.get(fs)
        ref_text = f"; earlier H100/JAX bare fit (no validation) {ref:,} events/s" if ref else ""
        print(f"{fs}: bare fit {t_bare:.2f} s ({rate_bare:,.0f} events/s), ours {t_ours:.2f} s "
              f"({rate_ours:,.0f} events/s), ours/bare speed {t_bare / t_ours:.2f}{ref_text}", flush=True)
    total_bare = sum(b for b, _ in seconds.values())
    total_ours = sum(o for _, o in seconds.values())
    per_set = ", ".join(f"{fs} {b / o:.2f}" for fs, (b, o) in seconds.items())
    print(f"training: ours/bare fit speed {total_bare / total_ours:.2f} ({per_set})")


if __name__ == "__main__":
    main()
