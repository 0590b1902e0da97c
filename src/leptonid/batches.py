"""Batches of in-memory numpy arrays for Keras's ``fit`` and ``predict``, without a copy of the whole data.

Given numpy arrays, ``model.fit`` and ``model.predict`` convert them into
backend tensors or a ``tf.data`` pipeline that holds a second copy of every
array for the duration of the call (about 1.4 GB for the paper's train and
valid images of both calorimeters). :class:`ArrayBatches` is a
``keras.utils.PyDataset`` that slices (in order) or gathers (shuffled) one
batch at a time from the arrays it is given, so only a batch is ever
converted. Keras 3 only, so it runs on every backend.

This module imports ``keras`` at the top: import it inside functions (as
:mod:`leptonid.training` does), after the runtime is configured.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

import keras
import numpy as np


#: Threads that gather batches (see :class:`ArrayBatches`; more than one also turns tf.data's autotuning off).
WORKERS = 2


class ArrayBatches(keras.utils.PyDataset):
    """Batches of ``x`` (a dict of arrays of equal length N, the model's inputs) and optionally ``y`` (N,).

    Batch ``i`` holds the events ``order[i * batch_size : (i + 1) * batch_size]``
    (the last batch may be smaller), so every event is in exactly one batch
    per epoch. Without ``seed`` the order is the data's own (for validation
    and predictions): a batch is a view of the arrays until Keras converts
    it. With ``seed`` the order is a permutation drawn from a numpy generator
    seeded with ``seed``, and a new one is drawn at every ``on_epoch_end``
    (Keras calls it once before the first epoch and after each epoch), the
    equivalent of ``fit(..., shuffle=True)`` on arrays: the same seed gives
    the same sequence of batches.

    Batches are gathered by two threads of this process (no
    multiprocessing) through Keras's ordered queue: the model gets them in
    index order, and Keras stops the queue before it calls ``on_epoch_end``,
    so a new order never mixes with the last one. With more than one worker
    Keras also turns tf.data's autotuning off for the dataset: with one, the
    TensorFlow backend's autotuning thread made the end of a ``fit`` or
    ``predict`` wait, at random, up to its optimisation period (seconds to
    a minute on a long epoch, seen on a loaded machine) while the iterator
    was torn down.

    An item is ``(x_batch, y_batch)``, or ``(x_batch,)`` without ``y``
    (for ``predict``). :meth:`release` drops the references to the arrays,
    so that they can be freed even if Keras or the backend keeps the
    dataset object alive after ``fit``/``predict``.
    """

    def __init__(
        self,
        x: Mapping[str, np.ndarray],
        y: np.ndarray | None = None,
        batch_size: int = 128,
        seed: int | None = None,
    ) -> None:
        super().__init__(workers=WORKERS, use_multiprocessing=False)
        if not x:
            raise ValueError("ArrayBatches needs at least one input array")
        if int(batch_size) < 1:
            raise ValueError(f"batch_size must be >= 1, got {batch_size}")
        self._x: dict[str, np.ndarray] | None = dict(x)
        self._y = y
        lengths = {name: len(arr) for name, arr in self._x.items()}
        if y is not None:
            lengths["y"] = len(y)
        if len(set(lengths.values())) != 1:
            raise ValueError(f"arrays of different lengths: {lengths}")
        self.n_events = next(iter(lengths.values()))
        if self.n_events == 0:
            raise ValueError("ArrayBatches needs at least one event")
        self.batch_size = int(batch_size)
        self._rng = None if seed is None else np.random.default_rng(seed)
        self.order: np.ndarray | None = None if self._rng is None else self._rng.permutation(self.n_events)

    def __len__(self) -> int:
        return math.ceil(self.n_events / self.batch_size)

    def indices(self, index: int) -> slice | np.ndarray:
        """The events of batch ``index``: a slice in the data's order, or indices into the arrays when shuffled."""
        if not 0 <= index < len(self):
            raise IndexError(f"batch {index} out of range (0 to {len(self) - 1})")
        lo, hi = index * self.batch_size, min((index + 1) * self.batch_size, self.n_events)
        return slice(lo, hi) if self.order is None else self.order[lo:hi]

    def __getitem__(self, index: int) -> tuple:
        if self._x is None:
            raise RuntimeError("ArrayBatches used after release()")
        rows = self.indices(index)
        x = {name: arr[rows] for name, arr in self._x.items()}
        return (x,) if self._y is None else (x, self._y[rows])

    def on_epoch_end(self) -> None:
        if self._rng is not None:
            self.order = self._rng.permutation(self.n_events)

    def release(self) -> None:
        """Drop the references to the arrays (the dataset can no longer be used)."""
        self._x = None
        self._y = None
