"""The paper's networks (Fig. 8, 9, Table V), built with Keras 3 only.

Every image input gets its own tower of conv blocks
(Conv2D 3x3 relu same -> Conv2D 3x3 relu same -> MaxPool 2x2 same), then
Flatten; towers and flat inputs are concatenated; then ``dense_layers`` dense
relu layers of ``hidden_units`` with Dropout after every dense layer but the
last; one sigmoid unit. Adam and binary cross-entropy. Only ``keras`` is used,
so the same code runs on the TensorFlow and JAX backends. ``keras`` is
imported inside the builders: :class:`ModelParams` (validation of the
hyperparameters) is importable without starting a backend, e.g. by the
Snakefile when it resolves each feature set's params.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, fields
from pathlib import Path
from typing import TYPE_CHECKING

from leptonid.feature_sets import IMAGE_INPUTS

if TYPE_CHECKING:
    import keras


@dataclass(frozen=True)
class ModelParams:
    """Hyperparameters of one network (the columns of Table V)."""

    conv_blocks: int = 0
    filters: int = 0
    dense_layers: int = 2
    hidden_units: int = 64
    learning_rate: float = 1e-3
    dropout: float = 0.0
    clipnorm: float | None = None

    def __post_init__(self) -> None:
        if self.conv_blocks < 0 or self.filters < 0:
            raise ValueError(f"conv_blocks and filters must be >= 0, got {self}")
        if self.dense_layers < 1 or self.hidden_units < 1:
            raise ValueError(f"need >= 1 dense layer of >= 1 unit, got {self}")
        if not 0.0 < self.learning_rate < 1.0:
            raise ValueError(f"learning_rate must be in (0, 1), got {self.learning_rate}")
        if not 0.0 <= self.dropout < 1.0:
            raise ValueError(f"dropout must be in [0, 1), got {self.dropout}")
        if self.clipnorm is not None and self.clipnorm <= 0:
            raise ValueError(f"clipnorm must be positive or None, got {self.clipnorm}")

    @classmethod
    def from_mapping(cls, values: Mapping[str, object]) -> ModelParams:
        """Build from a mapping, ignoring keys that are not model hyperparameters."""
        names = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in values.items() if k in names})


def conv_tower(x: keras.KerasTensor, name: str, blocks: int, filters: int) -> keras.KerasTensor:
    """Apply ``blocks`` conv blocks to image tensor ``x`` and flatten it."""
    import keras

    for b in range(1, blocks + 1):
        for c in (1, 2):
            x = keras.layers.Conv2D(
                filters, (3, 3), activation="relu", padding="same", name=f"{name}_block{b}_conv{c}"
            )(x)
        x = keras.layers.MaxPooling2D((2, 2), padding="same", name=f"{name}_block{b}_pool")(x)
    return keras.layers.Flatten(name=f"{name}_flatten")(x)


def build_model(
    input_shapes: Mapping[str, tuple[int, ...]],
    params: ModelParams,
    name: str = "leptonid",
) -> keras.Model:
    """Build and compile the network for the given inputs.

    ``input_shapes`` maps input names (``et``, ``ht``, ``hl``, ``mass``,
    ``efps``) to per-event shapes; image inputs (``et``, ``ht``) must be
    (rows, cols, channels) and need ``params.conv_blocks >= 1``. The model
    takes a dict of arrays keyed by the same names.
    """
    import keras

    if not input_shapes:
        raise ValueError("build_model needs at least one input")
    inputs: dict[str, keras.KerasTensor] = {}
    branches: list[keras.KerasTensor] = []
    for input_name, shape in input_shapes.items():
        shape = tuple(int(s) for s in shape)
        tensor = keras.Input(shape=shape, name=input_name)
        inputs[input_name] = tensor
        if input_name in IMAGE_INPUTS:
            if len(shape) != 3:
                raise ValueError(f"image input {input_name!r} needs shape (rows, cols, 1), got {shape}")
            if params.conv_blocks < 1 or params.filters < 1:
                raise ValueError(f"image input {input_name!r} needs conv_blocks >= 1 and filters >= 1")
            branches.append(conv_tower(tensor, input_name, params.conv_blocks, params.filters))
        else:
            if len(shape) != 1:
                raise ValueError(f"flat input {input_name!r} needs shape (n,), got {shape}")
            branches.append(tensor)
    x = branches[0] if len(branches) == 1 else keras.layers.Concatenate(name="concat")(branches)
    for i in range(1, params.dense_layers + 1):
        x = keras.layers.Dense(params.hidden_units, activation="relu", name=f"dense{i}")(x)
        if i < params.dense_layers:
            x = keras.layers.Dropout(params.dropout, name=f"dropout{i}")(x)
    output = keras.layers.Dense(1, activation="sigmoid", name="score")(x)
    model = keras.Model(inputs=inputs, outputs=output, name=name)
    optimizer = keras.optimizers.Adam(learning_rate=params.learning_rate, clipnorm=params.clipnorm)
    model.compile(optimizer=optimizer, loss="binary_crossentropy")
    return model


def load_model(path: str | Path) -> keras.Model:
    """Load a ``.keras`` model saved by the workflow, for predictions, in Keras's safe mode.

    ``safe_mode=True`` refuses to deserialise Python code (``Lambda`` layers,
    arbitrary functions), so a model file from elsewhere cannot run code when
    it is loaded; the networks built here need none.
    """
    import keras

    return keras.saving.load_model(str(path), compile=False, safe_mode=True)
