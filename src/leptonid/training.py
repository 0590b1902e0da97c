"""Train one network per feature set: runtime setup, seeds, callbacks, outputs.

Keras is imported inside the functions, never at module level, so that
:func:`configure_runtime` can set environment variables that the backend
reads when it starts, and so that this module is cheap to import for the
pure helpers (:func:`resolve_config`). Collapse detection lives in
:mod:`leptonid.collapse` and the result files in :mod:`leptonid.results`.
"""

from __future__ import annotations

import gc
import logging
import math
import os
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from leptonid.atomic import atomic_output
from leptonid.collapse import Collapse, detect_collapse, report_collapse
from leptonid.feature_sets import SPLIT_INPUTS, inputs_of, is_cnn, needs_efps
from leptonid.io import load_split
from leptonid.models import ModelParams
from leptonid.progress import summary_line
from leptonid.results import load_efp_features, write_history, write_predictions

log = logging.getLogger(__name__)

# --- configuration -------------------------------------------------------


@dataclass(frozen=True)
class TrainConfig(ModelParams):
    """Resolved hyperparameters of one feature set: the model's (Table V) plus the fit settings."""

    epochs: int = 100
    batch_size: int = 128
    patience: int = 10
    lr_factor: float = 0.3
    lr_patience: int = 5
    min_lr: float = 0.0
    seed: int = 1
    predict_batch_size: int = 1024

    def __post_init__(self) -> None:
        super().__post_init__()  # the model hyperparameters
        for name in ("epochs", "batch_size", "patience", "lr_patience", "predict_batch_size"):
            if int(getattr(self, name)) < (0 if "patience" in name else 1):
                raise ValueError(f"training setting {name} is out of range: {getattr(self, name)}")
        if not 0.0 < self.lr_factor < 1.0:
            raise ValueError(f"lr_factor must be in (0, 1), got {self.lr_factor}")

    @classmethod
    def from_mapping(cls, values: Mapping[str, Any]) -> TrainConfig:
        """Build from a config mapping; unknown keys raise ``ValueError`` naming them."""
        names = {f.name for f in fields(cls)}
        unknown = sorted(set(values) - names)
        if unknown:
            raise ValueError(f"unknown training settings {unknown}; known: {sorted(names)}")
        return cls(**dict(values))

    def model_params(self) -> ModelParams:
        """The model hyperparameters alone, as :class:`leptonid.models.ModelParams`."""
        return ModelParams.from_mapping(asdict(self))


def resolve_config(training: Mapping[str, Any], feature_set: str) -> dict[str, Any]:
    """Merge ``training.defaults`` with ``training.models[feature_set]``.

    The result holds only this feature set's hyperparameters, so it can be a
    Snakemake ``params`` value: editing another feature set does not change it.
    """
    inputs_of(feature_set)
    defaults = dict(training.get("defaults") or {})
    override = dict((training.get("models") or {}).get(feature_set) or {})
    merged = {**defaults, **override}
    resolved = TrainConfig.from_mapping(merged)  # fail early with a clear message
    if is_cnn(feature_set) and (resolved.conv_blocks < 1 or resolved.filters < 1):
        raise ValueError(
            f"feature set {feature_set!r} has images and needs conv_blocks >= 1 and filters >= 1 "
            f"(got {resolved.conv_blocks} and {resolved.filters})"
        )
    return merged


# --- runtime -------------------------------------------------------------


def configure_runtime(threads: int, deterministic: bool = True) -> str:
    """Set thread pools and determinism for the active Keras backend.

    TensorFlow: intra-op and inter-op pools = ``threads`` and op determinism
    on. JAX: deterministic GPU ops via ``XLA_FLAGS`` (set before the backend
    starts). Must run before the first model is built. Returns a description
    of the device that will run (GPU name if one is visible, else CPU).
    """
    if threads < 1:
        raise ValueError(f"threads must be >= 1, got {threads}")
    if deterministic:
        os.environ.setdefault("TF_DETERMINISTIC_OPS", "1")
        os.environ.setdefault("TF_CUDNN_DETERMINISTIC", "1")
        if "jax" not in sys.modules:
            flags = os.environ.get("XLA_FLAGS", "")
            if "xla_gpu_deterministic_ops" not in flags:
                os.environ["XLA_FLAGS"] = (flags + " --xla_gpu_deterministic_ops=true").strip()
    import keras

    backend = keras.backend.backend()
    if backend == "tensorflow":
        import tensorflow as tf

        try:
            tf.config.threading.set_intra_op_parallelism_threads(threads)
            tf.config.threading.set_inter_op_parallelism_threads(threads)
        except RuntimeError as err:  # runtime already started
            log.warning("could not set TensorFlow thread pools (%s)", err)
        if deterministic:
            tf.config.experimental.enable_op_determinism()
    return device_description()


def device_description() -> str:
    """Name the device the active Keras backend computes on."""
    import keras

    backend = keras.backend.backend()
    if backend == "tensorflow":
        import tensorflow as tf

        gpus = tf.config.list_physical_devices("GPU")
        if gpus:
            details = tf.config.experimental.get_device_details(gpus[0])
            return f"GPU {details.get('device_name', gpus[0].name)} (tensorflow, {len(gpus)} visible)"
        return "CPU (tensorflow)"
    if backend == "jax":
        import jax

        dev = jax.devices()[0]
        if dev.platform != "cpu":
            return f"GPU {dev.device_kind} (jax, {len(jax.devices())} visible)"
        return "CPU (jax)"
    if backend == "torch":
        import torch

        if torch.cuda.is_available():
            return f"GPU {torch.cuda.get_device_name(0)} (torch)"
        return "CPU (torch)"
    return f"unknown device ({backend})"


# --- training ------------------------------------------------------------


def load_inputs(
    prep: str | os.PathLike[str], feature_set: str, efps: str | os.PathLike[str] | None = None
) -> dict[str, np.ndarray]:
    """One split's inputs of ``feature_set`` plus ``event`` and ``y``, from its prep file.

    EFP feature sets also need ``efps``, the guided search's selected-EFP
    file of the same split (same events, same order).
    """
    features = [name for name in inputs_of(feature_set) if name in SPLIT_INPUTS] + ["event", "y"]
    data = load_split(prep, features)
    if needs_efps(feature_set):
        if efps is None:
            raise ValueError(f"feature set {feature_set!r} needs the selected EFPs of {prep}")
        data["efps"] = load_efp_features(efps, data["event"])
    return data


def model_inputs(data: Mapping[str, np.ndarray], feature_set: str) -> dict[str, np.ndarray]:
    """Pick the model inputs of ``feature_set`` from a split dict, as float32."""
    missing = [name for name in inputs_of(feature_set) if name not in data]
    if missing:
        raise ValueError(f"feature set {feature_set!r} needs inputs {missing}, not in the data")
    return {name: np.asarray(data[name], dtype=np.float32) for name in inputs_of(feature_set)}


def _labels(data: Mapping[str, np.ndarray]) -> np.ndarray:
    if "y" not in data:
        raise ValueError("the data has no labels 'y'")
    return np.asarray(data["y"], dtype=np.float32).reshape(-1)


@dataclass
class TrainResult:
    """What :func:`train_model` gives back."""

    model: Any  # keras.Model
    history: pd.DataFrame
    device: str
    seconds: float
    best_epoch: int
    stopped_early: bool
    n_parameters: int


def _epoch_timer(n_events: int, epochs: int | None = None):
    """A callback recording each epoch's wall time (validation included), training
    events per second, and the learning rate the epoch used; with ``epochs`` it
    also logs the progress with its rate and ETA (an upper bound: early
    stopping may end sooner)."""
    import keras

    class EpochTimer(keras.callbacks.Callback):
        def on_train_begin(self, logs=None):
            self._first = time.perf_counter()

        def on_epoch_begin(self, epoch, logs=None):
            self._start = time.perf_counter()

        def on_epoch_end(self, epoch, logs=None):
            seconds = time.perf_counter() - self._start
            if epochs:
                elapsed = time.perf_counter() - self._first
                log.info(
                    "epoch %d/%d: %.1f s, %.0f events/s; ETA at most %.0f s (early stopping may end sooner)",
                    epoch + 1, epochs, seconds, n_events / max(seconds, 1e-9),
                    elapsed / (epoch + 1) * (epochs - epoch - 1),
                )
            if logs is not None:
                logs["seconds"] = seconds
                logs["events_per_second"] = n_events / seconds if seconds > 0 else math.nan
                logs["learning_rate"] = float(
                    np.asarray(keras.ops.convert_to_numpy(self.model.optimizer.learning_rate))
                )

    return EpochTimer()


def train_model(
    train: Mapping[str, np.ndarray],
    valid: Mapping[str, np.ndarray],
    feature_set: str,
    config: TrainConfig,
    checkpoint_path: str | os.PathLike[str],
    verbose: int = 0,
    extra_callbacks: Sequence[Any] = (),
) -> TrainResult:
    """Fit the network of ``feature_set`` on ``train``, validating on ``valid``.

    Callbacks: EarlyStopping(val_loss, ``patience``, best weights restored),
    ReduceLROnPlateau(``lr_factor``, ``lr_patience``) and a ModelCheckpoint of
    the best model at ``checkpoint_path`` (must end in ``.keras``). Seeds are
    set from ``config.seed`` before the model is built. ``extra_callbacks``
    run after those, in order, before Keras's History records the epoch's
    logs (the hyperparameter search adds its validation AUC and pruning here).
    """
    import keras

    from leptonid.batches import ArrayBatches
    from leptonid.models import build_model

    checkpoint_path = Path(checkpoint_path)
    if checkpoint_path.suffix != ".keras":
        raise ValueError(f"checkpoint path must end in .keras, got {checkpoint_path}")
    x_train, y_train = model_inputs(train, feature_set), _labels(train)
    x_valid, y_valid = model_inputs(valid, feature_set), _labels(valid)
    keras.utils.set_random_seed(config.seed)
    shapes = {name: arr.shape[1:] for name, arr in x_train.items()}
    model = build_model(shapes, config.model_params(), name=feature_set)
    callbacks = [
        _epoch_timer(len(y_train), config.epochs),
        keras.callbacks.EarlyStopping(
            monitor="val_loss", patience=config.patience, restore_best_weights=True
        ),
        keras.callbacks.ReduceLROnPlateau(
            monitor="val_loss", factor=config.lr_factor, patience=config.lr_patience, min_lr=config.min_lr
        ),
        keras.callbacks.ModelCheckpoint(str(checkpoint_path), monitor="val_loss", save_best_only=True),
        *extra_callbacks,
    ]
    device = device_description()
    log.info(
        "training %s on %s: %d train / %d valid events, %d parameters, config %s",
        feature_set, device, len(y_train), len(y_valid), model.count_params(), asdict(config),
    )
    # batches are sliced from the arrays one at a time (no backend copy of the whole
    # data); train in a new permutation each epoch, drawn from config.seed
    train_batches = ArrayBatches(x_train, y_train, config.batch_size, seed=config.seed)
    valid_batches = ArrayBatches(x_valid, y_valid, config.batch_size)
    start = time.perf_counter()
    try:
        fit = model.fit(
            train_batches,
            validation_data=valid_batches,
            epochs=config.epochs,
            shuffle=False,  # ArrayBatches shuffles the events, Keras would only shuffle the batches
            callbacks=callbacks,
            verbose=verbose,
        )
    finally:
        train_batches.release()
        valid_batches.release()
    seconds = time.perf_counter() - start
    log.info("%s", summary_line(f"training {feature_set}", len(y_train) * len(fit.history["loss"]), seconds))
    history = pd.DataFrame(fit.history)
    history.insert(0, "epoch", np.arange(1, len(history) + 1))
    early = callbacks[1]
    best_epoch = int(early.best_epoch) + 1 if early.best_weights is not None else len(history)
    for _, row in history.iterrows():
        log.info(
            "epoch %d: loss %.5f val_loss %.5f lr %.2e %.1f s (%.0f events/s)",
            row["epoch"], row["loss"], row["val_loss"], row.get("learning_rate", math.nan),
            row.get("seconds", math.nan), row.get("events_per_second", math.nan),
        )
    return TrainResult(
        model=model,
        history=history,
        device=device,
        seconds=seconds,
        best_epoch=best_epoch,
        stopped_early=early.stopped_epoch > 0,
        n_parameters=int(model.count_params()),
    )


def predict_arrays(model: Any, x: Mapping[str, np.ndarray], batch_size: int = 1024) -> np.ndarray:
    """``model``'s outputs on the input arrays ``x`` as float32 (N,), fed one batch at a time (no copy of ``x``)."""
    from leptonid.batches import ArrayBatches

    batches = ArrayBatches(x, batch_size=batch_size)
    try:
        return np.asarray(model.predict(batches, verbose=0), dtype=np.float32).reshape(-1)
    finally:
        batches.release()


def predict_scores(model: Any, data: Mapping[str, np.ndarray], feature_set: str, batch_size: int = 1024) -> np.ndarray:
    """Signal scores in [0, 1] of ``model`` on a split dict, as float32 (N,)."""
    return predict_arrays(model, model_inputs(data, feature_set), batch_size)


# --- outputs -------------------------------------------------------------


@dataclass(frozen=True)
class TrainOutputs:
    """Where :func:`train_feature_set` writes."""

    model: Path
    history: Path
    valid_predictions: Path
    test_predictions: Path
    train_predictions: Path | None = None


Split = Mapping[str, np.ndarray]


def _split(data: Split | Callable[[], Split], name: str, need_event: bool = True) -> Split:
    """``data``, or what the loader ``data`` returns, checked for ``event`` (when ``need_event``)."""
    split = data() if callable(data) else data
    if need_event and "event" not in split:
        raise ValueError(f"{name} data lacks 'event'")
    return split


def train_feature_set(
    feature_set: str,
    config: TrainConfig,
    train: Split | Callable[[], Split],
    valid: Split | Callable[[], Split],
    test: Split | Callable[[], Split],
    outputs: TrainOutputs,
    verbose: int = 0,
) -> tuple[TrainResult, Collapse]:
    """Train, predict valid and test (and train, if ``outputs.train_predictions``), check for collapse, write all outputs.

    The best checkpoint is written to a temporary ``.keras`` file beside
    ``outputs.model`` during training and renamed to it at the end, so a
    killed job leaves no half-written model. Split dicts must hold ``event``
    and ``y`` besides the inputs. Each split may be given as a function that
    loads it (what ``scripts/train.py`` does): this function then holds the
    only reference to the data, and memory peaks at the train and valid
    splits, never with the test split besides them: train and valid are
    loaded first; after the fit their predictions are written and both are
    released; the test split is loaded only then, for its predictions.
    """
    want_train = outputs.train_predictions is not None
    if not callable(test):
        _split(test, "test")  # fail before training, not after it
    train = _split(train, "train", need_event=want_train)
    valid = _split(valid, "valid")
    with atomic_output(outputs.model) as checkpoint:
        result = train_model(train, valid, feature_set, config, checkpoint, verbose=verbose)
        valid_scores = predict_scores(result.model, valid, feature_set, config.predict_batch_size)
        collapse = detect_collapse(valid_scores, valid["y"], result.history["val_loss"].to_numpy())
        report_collapse(collapse, feature_set)
        write_history(outputs.history, result.history)
        write_predictions(outputs.valid_predictions, valid["event"], valid["y"], valid_scores)
        if want_train:
            train_scores = predict_scores(result.model, train, feature_set, config.predict_batch_size)
            write_predictions(outputs.train_predictions, train["event"], train["y"], train_scores)
        # free the fit's data before the test split is read (if the caller holds no reference to it)
        del train, valid
        gc.collect()
        test = _split(test, "test")
        test_scores = predict_scores(result.model, test, feature_set, config.predict_batch_size)
        write_predictions(outputs.test_predictions, test["event"], test["y"], test_scores)
        del test
        # the best checkpoint becomes model.keras (same weights as the restored
        # in-memory model); if no epoch improved (NaN losses), save the final model
        if not checkpoint.exists() or checkpoint.stat().st_size == 0:
            result.model.save(checkpoint)
    log.info(
        "%s: %.1f s, best epoch %d of %d%s, device %s",
        feature_set, result.seconds, result.best_epoch, len(result.history),
        " (early stop)" if result.stopped_early else "", result.device,
    )
    return result, collapse
