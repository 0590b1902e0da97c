"""The guided EFP search: add the EFP that best orders the pairs the network gets wrong.

Loop (Faucett, Thaler, Whiteson, PRD 103, 036020 (2021), arXiv:2010.11998;
Collado et al., PRD 103, 116028 (2021), section on the guided search):

0. train the base network (HL, or HL + mass) and score the selection split;
1. on a grid of n_signal x n_background signal-background pairs of the
   selection split, keep the pairs that the reference CNN and the current
   network order differently;
2. on those pairs compute the ADO of every candidate EFP against the CNN
   and add the EFP with the highest ADO (not already chosen);
3. retrain HL + chosen EFPs; record its AUC (bootstrap interval) and its
   exact ADO with the CNN over all pairs of the selection split;
4. stop when its AUC reaches the CNN's, when its ADO reaches 1, or after
   ``max_passes`` additions.

Protocols. ``honest`` (default): the selection split is ``valid``; pairs,
ADOs, AUCs per pass and stopping use ``train`` and ``valid`` only, and
``test`` is read once, by :meth:`SplitStore.finalize`, to score every
pass's network for the final figures. ``authors``: the selection split is
``test`` (as in the paper), for comparison. :class:`SplitStore` records
every read and raises :class:`PrematureTestReadError` when ``test`` is read
before ``finalize`` in the honest protocol.

Retraining is injected (:data:`FitAndScore`), so the loop runs without
Keras in tests; :func:`keras_fitter` is the paper's network.
"""

from __future__ import annotations

import logging
import math
import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from leptonid.efp.graphs import parse_column
from leptonid.metrics import bootstrap_auc, roc_auc
from leptonid.progress import progress
from leptonid.search.ado import PairSet, ado_on_pairs, disordered_on_grid, exact_ado, sample_grid

__all__ = [
    "SPLITS",
    "PROTOCOLS",
    "BASES",
    "PASS_COLUMNS",
    "Candidate",
    "EfpValues",
    "SplitData",
    "SplitStore",
    "PrematureTestReadError",
    "SearchConfig",
    "Features",
    "FitInputs",
    "FitOutput",
    "FitAndScore",
    "SearchResult",
    "candidate_list",
    "run_guided_search",
    "EfpTransform",
    "keras_fitter",
]

SPLITS: tuple[str, ...] = ("train", "valid", "test")

#: EFP values of one image: an (n, m) array, or a loader of named columns -> (n, k) array.
EfpValues = np.ndarray | Callable[[Sequence[str]], np.ndarray]
PROTOCOLS: tuple[str, ...] = ("honest", "authors")
BASES: tuple[str, ...] = ("hl", "hl_and_mass")

#: Columns of the passes table, in order.
PASS_COLUMNS: tuple[str, ...] = (
    "pass",
    "efp",
    "image",
    "n",
    "d",
    "k",
    "kappa",
    "beta",
    "ado_on_disordered_pairs",
    "n_disordered_pairs",
    "n_grid_pairs",
    "selection_split",
    "auc",
    "auc_ci_low",
    "auc_ci_high",
    "ado_with_reference",
    "test_auc",
    "test_auc_ci_low",
    "test_auc_ci_high",
    "test_ado_with_reference",
)


@dataclass(frozen=True)
class Candidate:
    """One candidate EFP: the image it is computed on and its column name."""

    image: str
    column: str

    @property
    def key(self) -> str:
        """``<image>:<column>``, unique over images."""
        return f"{self.image}:{self.column}"

    def spec(self) -> tuple[int, int, int, float, float]:
        return parse_column(self.column)


# --- data and the test-split guard ----------------------------------------


@dataclass
class SplitData:
    """What the search needs of one split (rows are the same events everywhere).

    ``hl`` (n, 7) the high-level features as the networks see them,
    ``mass`` (n,) or None, ``reference`` (n,) the reference CNN's scores,
    ``efps`` image -> (column names, values). ``values`` is an (n, m)
    array, or a loader ``load(names) -> (n, len(names))`` that reads only
    the named columns (e.g. from the EFP Feather file): the search then
    loads just the chosen columns of ``train`` and ``test``, and of the
    selection split every candidate column of one image at a time, once
    per pass. ``event`` (optional) identifies the rows, for the outputs.
    """

    y: np.ndarray
    hl: np.ndarray
    reference: np.ndarray
    efps: Mapping[str, tuple[Sequence[str], EfpValues]]
    mass: np.ndarray | None = None
    event: np.ndarray | None = None

    def __post_init__(self) -> None:
        self.y = np.asarray(self.y).reshape(-1)
        n = self.y.size
        if not np.isin(self.y, (0, 1)).all():
            raise ValueError("labels y must be 0 or 1")
        self.hl = np.asarray(self.hl, dtype=np.float64)
        if self.hl.ndim == 1:
            self.hl = self.hl[:, None]
        self.reference = np.asarray(self.reference, dtype=np.float64).reshape(-1)
        checks: list[tuple[str, int]] = [("hl", self.hl.shape[0]), ("reference", self.reference.size)]
        if self.mass is not None:
            self.mass = np.asarray(self.mass, dtype=np.float64).reshape(-1)
            checks.append(("mass", self.mass.size))
        if self.event is not None:
            self.event = np.asarray(self.event).reshape(-1)
            checks.append(("event", self.event.size))
        for image, (names, values) in self.efps.items():
            if callable(values):
                continue  # checked when loaded (load_efps)
            values = np.asarray(values)
            if values.ndim != 2 or values.shape[1] != len(names):
                raise ValueError(f"efps[{image!r}]: {len(names)} names for values of shape {values.shape}")
            checks.append((f"efps[{image!r}]", values.shape[0]))
        bad = [f"{name} has {rows}" for name, rows in checks if rows != n]
        if bad:
            raise ValueError(f"split rows differ: y has {n}, " + ", ".join(bad))

    def load_efps(self, image: str, columns: Sequence[str]) -> np.ndarray:
        """Values (n, len(columns)) of ``columns`` of ``image``: an array view/copy or the loader's result."""
        names, values = self.efps[image]
        position = {name: i for i, name in enumerate(names)}
        missing = [c for c in columns if c not in position]
        if missing:
            raise ValueError(f"no EFP columns {missing[:5]} for image {image!r}")
        if callable(values):
            out = np.asarray(values(list(columns)))
            if out.shape != (self.y.size, len(columns)):
                raise ValueError(
                    f"EFP loader of {image!r} returned shape {out.shape}, expected {(self.y.size, len(columns))}"
                )
            return out
        arr = np.asarray(values)
        idx = np.array([position[c] for c in columns], dtype=np.intp)
        if idx.size == arr.shape[1] and (idx == np.arange(idx.size)).all():
            return arr
        return arr[:, idx]

    def efp_columns(self, candidates: Sequence[Candidate]) -> np.ndarray:
        """Values (n, len(candidates)) of the chosen EFP columns, float64."""
        out = np.empty((self.y.size, len(candidates)), dtype=np.float64)
        for image in dict.fromkeys(c.image for c in candidates):
            idx = [j for j, c in enumerate(candidates) if c.image == image]
            out[:, idx] = self.load_efps(image, [candidates[j].column for j in idx])
        return out


class PrematureTestReadError(RuntimeError):
    """Raised when the honest protocol reads ``test`` before the final step."""


class SplitStore:
    """Splits by name, loaded lazily, with every read recorded.

    ``splits`` maps ``train``/``valid``/``test`` to a :class:`SplitData` or
    a zero-argument callable returning one (so a test file is not even
    opened before it is allowed). While ``test`` is locked, reading it
    raises :class:`PrematureTestReadError`; :meth:`finalize` (the honest
    protocol's last step) or :meth:`unlock_test` (the authors' protocol)
    unlock it. ``reads`` lists ``(split, stage)`` in order.
    """

    def __init__(self, splits: Mapping[str, SplitData | Callable[[], SplitData]]) -> None:
        unknown = sorted(set(splits) - set(SPLITS))
        if unknown:
            raise ValueError(f"unknown splits {unknown}; expected {list(SPLITS)}")
        missing = [s for s in SPLITS if s not in splits]
        if missing:
            raise ValueError(f"the search needs splits {missing}")
        self._sources = dict(splits)
        self._cache: dict[str, SplitData] = {}
        self._test_locked = True
        self._stage = "search"
        self.reads: list[tuple[str, str]] = []

    @property
    def test_locked(self) -> bool:
        return self._test_locked

    @property
    def stage(self) -> str:
        return self._stage

    def unlock_test(self, reason: str) -> None:
        """Allow reads of ``test`` from now on (the authors' protocol); ``reason`` is recorded."""
        self._test_locked = False
        self.reads.append(("-", f"test unlocked: {reason}"))

    def finalize(self) -> SplitData:
        """Enter the final stage and return ``test``: the one read the honest protocol makes."""
        self._test_locked = False
        self._stage = "final"
        return self.get("test")

    def get(self, split: str) -> SplitData:
        """Return ``split``, loading it on first use; raises while ``test`` is locked."""
        if split not in self._sources:
            raise KeyError(f"no split {split!r}")
        if split == "test" and self._test_locked:
            raise PrematureTestReadError(
                "the honest protocol reads the test split only in its final step "
                "(SplitStore.finalize); something read it during the search"
            )
        self.reads.append((split, self._stage))
        if split not in self._cache:
            source = self._sources[split]
            self._cache[split] = source() if callable(source) else source
        return self._cache[split]

    def splits_read(self, stage: str | None = None) -> set[str]:
        """Names of the splits read (in ``stage`` only, if given)."""
        return {s for s, st in self.reads if s in SPLITS and (stage is None or st == stage)}


# --- configuration ----------------------------------------------------------


@dataclass(frozen=True)
class SearchConfig:
    """Settings of the guided search (defaults: the paper's)."""

    max_passes: int = 5
    n_signal_pairs: int = 6000
    n_background_pairs: int = 6000
    protocol: str = "honest"
    seed: int = 0
    base: str = "hl"
    irc_safe_only: bool = False
    images: tuple[str, ...] = ("et", "ht")
    reference: str = "et_and_ht"
    bootstrap_resamples: int = 200
    ado_threads: int | None = None

    def __post_init__(self) -> None:
        if isinstance(self.images, str) or not isinstance(self.images, (tuple, list)):
            raise ValueError(f"images must be a list of image names, got {self.images!r}")
        object.__setattr__(self, "images", tuple(self.images))
        if self.max_passes < 1:
            raise ValueError(f"max_passes must be >= 1, got {self.max_passes}")
        if self.n_signal_pairs < 1 or self.n_background_pairs < 1:
            raise ValueError(
                f"n_signal_pairs and n_background_pairs must be >= 1, got "
                f"{self.n_signal_pairs} and {self.n_background_pairs}"
            )
        if self.protocol not in PROTOCOLS:
            raise ValueError(f"protocol must be one of {list(PROTOCOLS)}, got {self.protocol!r}")
        if self.base not in BASES:
            raise ValueError(f"base must be one of {list(BASES)}, got {self.base!r}")
        if not self.images:
            raise ValueError("images must name at least one image (et, ht)")
        unknown = [i for i in self.images if i not in ("et", "ht")]
        if unknown or len(set(self.images)) != len(self.images):
            raise ValueError(f"images must be distinct names from ['et', 'ht'], got {list(self.images)}")
        if self.bootstrap_resamples < 2:
            raise ValueError(f"bootstrap_resamples must be >= 2, got {self.bootstrap_resamples}")
        if self.ado_threads is not None and self.ado_threads < 1:
            raise ValueError(f"ado_threads must be >= 1 or None, got {self.ado_threads}")

    @classmethod
    def from_mapping(cls, values: Mapping[str, Any]) -> SearchConfig:
        """Build from a config mapping; unknown keys raise ``ValueError`` naming them."""
        names = set(cls.__dataclass_fields__)
        unknown = sorted(set(values) - names)
        if unknown:
            raise ValueError(f"unknown guided-search settings {unknown}; known: {sorted(names)}")
        return cls(**dict(values))

    @property
    def selection_split(self) -> str:
        """Where pairs are drawn and per-pass AUCs are measured."""
        return "valid" if self.protocol == "honest" else "test"


# --- the fitter interface ---------------------------------------------------


@dataclass
class Features:
    """Inputs of the HL(+EFP) network on one split: ``base`` (n, k), ``efps`` (n, j), ``y``."""

    base: np.ndarray
    efps: np.ndarray
    y: np.ndarray


@dataclass
class FitInputs:
    """What one retraining gets: train and valid features and the chosen EFPs so far."""

    pass_index: int
    chosen: tuple[Candidate, ...]
    train: Features
    valid: Features


@dataclass
class FitOutput:
    """A trained network: ``predict(features) -> scores (n,)`` and any handle (e.g. the Keras model)."""

    predict: Callable[[Features], np.ndarray]
    handle: Any = None


#: Retraining, injected into :func:`run_guided_search`.
FitAndScore = Callable[[FitInputs], FitOutput]


def _features(data: SplitData, base: str, chosen: Sequence[Candidate]) -> Features:
    if base == "hl_and_mass":
        if data.mass is None:
            raise ValueError("base 'hl_and_mass' needs the mass in every split")
        base_x = np.column_stack([data.hl, data.mass])
    else:
        base_x = data.hl
    return Features(base=base_x, efps=data.efp_columns(chosen), y=data.y)


def candidate_list(data: SplitData, config: SearchConfig) -> list[Candidate]:
    """Candidate EFPs of the configured images (kappa = 1 only when ``irc_safe_only``)."""
    out: list[Candidate] = []
    for image in config.images:
        if image not in data.efps:
            raise ValueError(f"no EFP columns for image {image!r}; have {sorted(data.efps)}")
        for name in data.efps[image][0]:
            kappa = parse_column(name)[3]
            if config.irc_safe_only and kappa != 1.0:
                continue
            out.append(Candidate(image, name))
    if not out:
        raise ValueError("no candidate EFP columns (irc_safe_only keeps kappa = 1 only)")
    return out


def _candidate_ados(
    data: SplitData, candidates: Sequence[Candidate], pairs: PairSet, threads: int | None
) -> np.ndarray:
    """ADO against the reference on ``pairs`` of every candidate (in candidate order)."""
    out = np.empty(len(candidates), dtype=np.float64)
    by_image: dict[str, list[int]] = {}
    for j, cand in enumerate(candidates):
        by_image.setdefault(cand.image, []).append(j)
    for image, idx in by_image.items():
        names, values = data.efps[image]
        wanted = [candidates[j].column for j in idx]
        if callable(values):  # load just these columns, once
            matrix, cols = data.load_efps(image, wanted), None
        else:  # evaluate the columns in place, no copy
            position = {name: i for i, name in enumerate(names)}
            matrix, cols = np.asarray(values), np.array([position[c] for c in wanted], dtype=np.intp)
        out[idx] = ado_on_pairs(data.reference, matrix, pairs.sig_idx, pairs.bkg_idx, threads=threads, columns=cols)
    return out


@dataclass
class SearchResult:
    """Outcome of :func:`run_guided_search`.

    ``passes``: one row per network (columns :data:`PASS_COLUMNS`; pass 0 is
    the base network). ``chosen``: the EFPs in the order added.
    ``stop_reason``: why the loop ended. ``reference_auc`` (and interval):
    the CNN on the selection split. ``test``: the final step's arrays
    (``y``, ``reference``, ``event`` and ``scores`` per pass) on the test
    split. ``models``: the fitters' handles per pass. ``reads``: the split
    reads, in order.
    """

    passes: pd.DataFrame
    chosen: list[Candidate]
    stop_reason: str
    config: SearchConfig
    reference_auc: float
    reference_auc_ci: tuple[float, float]
    test_reference_auc: float
    test_reference_auc_ci: tuple[float, float]
    test: dict[str, Any] = field(default_factory=dict)
    models: dict[int, Any] = field(default_factory=dict)
    reads: list[tuple[str, str]] = field(default_factory=list)

    def config_dict(self) -> dict[str, Any]:
        d = asdict(self.config)
        d["images"] = list(self.config.images)
        return d


def _auc_with_ci(y: np.ndarray, score: np.ndarray, resamples: int, seed: int) -> tuple[float, float, float]:
    low, high = bootstrap_auc(y, score, resamples=resamples, seed=seed)
    return roc_auc(y, score), low, high


def run_guided_search(
    store: SplitStore,
    fit_and_score: FitAndScore,
    config: SearchConfig | None = None,
    log: Callable[[str], None] | None = None,
) -> SearchResult:
    """Run the guided search; see the module docstring for the loop and protocols.

    ``store`` holds the three splits, ``fit_and_score`` trains one network
    from :class:`FitInputs`. Returns a :class:`SearchResult`; its
    ``passes`` table has per-pass AUCs on the selection split and, filled
    in the final step, on ``test``.
    """
    config = config or SearchConfig()
    say = log or (lambda _msg: None)
    if config.protocol == "authors":
        store.unlock_test("authors protocol: pairs and per-pass AUCs on test, as in the paper")
    sel_name = config.selection_split
    train, valid = store.get("train"), store.get("valid")
    sel = store.get(sel_name)
    candidates = candidate_list(sel, config)
    ref_auc, ref_low, ref_high = _auc_with_ci(sel.y, sel.reference, config.bootstrap_resamples, config.seed)
    rng = np.random.default_rng(config.seed)
    grid_sig, grid_bkg = sample_grid(sel.y, config.n_signal_pairs, config.n_background_pairs, rng)
    say(
        f"protocol {config.protocol}: selection split {sel_name} ({sel.y.size} events), "
        f"{len(candidates)} candidate EFPs, reference AUC {ref_auc:.4f}"
    )

    chosen: list[Candidate] = []
    rows: list[dict[str, Any]] = []
    models: dict[int, FitOutput] = {}

    def fit(pass_index: int) -> np.ndarray:
        valid_features = _features(valid, config.base, chosen)
        out = fit_and_score(
            FitInputs(
                pass_index=pass_index,
                chosen=tuple(chosen),
                train=_features(train, config.base, chosen),
                valid=valid_features,
            )
        )
        models[pass_index] = out
        # the selection split is valid (honest) or test (authors): read its chosen EFPs once per pass
        sel_features = valid_features if sel is valid else _features(sel, config.base, chosen)
        scores = np.asarray(out.predict(sel_features), dtype=np.float64).reshape(-1)
        if scores.size != sel.y.size:
            raise ValueError(f"fitter returned {scores.size} scores for {sel.y.size} events")
        return scores

    def record(pass_index: int, scores: np.ndarray, pick: Candidate | None, ado_pairs: float, pairs: PairSet | None):
        auc, low, high = _auc_with_ci(sel.y, scores, config.bootstrap_resamples, config.seed)
        ado_all = float(exact_ado(sel.reference, scores, sel.y))
        spec = pick.spec() if pick else (None,) * 5
        rows.append(
            {
                "pass": pass_index,
                "efp": pick.column if pick else None,
                "image": pick.image if pick else None,
                "n": spec[0],
                "d": spec[1],
                "k": spec[2],
                "kappa": spec[3],
                "beta": spec[4],
                "ado_on_disordered_pairs": ado_pairs,
                "n_disordered_pairs": len(pairs) if pairs is not None else None,
                "n_grid_pairs": pairs.n_grid if pairs is not None else None,
                "selection_split": sel_name,
                "auc": auc,
                "auc_ci_low": low,
                "auc_ci_high": high,
                "ado_with_reference": ado_all,
            }
        )
        name = pick.key if pick else "base"
        say(f"pass {pass_index}: {name} AUC {auc:.4f} [{low:.4f}, {high:.4f}], ADO {ado_all:.4f}")
        return auc, ado_all

    scores = fit(0)
    auc, ado_all = record(0, scores, None, math.nan, None)
    stop_reason = f"max_passes ({config.max_passes}) reached"
    with progress(config.max_passes, "guided search", "passes", logging.getLogger(__name__)) as bar:
        for pass_index in range(1, config.max_passes + 1):
            if auc >= ref_auc:
                stop_reason = f"AUC {auc:.4f} reached the reference's {ref_auc:.4f}"
                break
            if ado_all >= 1.0:
                stop_reason = "ADO with the reference reached 1"
                break
            pairs = disordered_on_grid(sel.reference, scores, grid_sig, grid_bkg)
            if len(pairs) == 0:
                stop_reason = "no disordered pairs left on the grid"
                break
            remaining = [c for c in candidates if c not in chosen]
            if not remaining:
                stop_reason = "no candidate EFPs left"
                break
            ados = _candidate_ados(sel, remaining, pairs, config.ado_threads)
            best = int(np.argmax(ados))  # first of equal maxima: candidate order is deterministic
            pick = remaining[best]
            chosen.append(pick)
            say(f"pass {pass_index}: {len(pairs)} disordered pairs of {pairs.n_grid}; best {pick.key} ADO {ados[best]:.4f}")
            scores = fit(pass_index)
            auc, ado_all = record(pass_index, scores, pick, float(ados[best]), pairs)
            bar.update(1)
        else:
            if auc >= ref_auc:
                stop_reason = f"AUC {auc:.4f} reached the reference's {ref_auc:.4f}"
            elif ado_all >= 1.0:
                stop_reason = "ADO with the reference reached 1"
    say(f"stopped: {stop_reason}")

    # final step: the one read of test in the honest protocol
    test = store.finalize()
    t_auc, t_low, t_high = _auc_with_ci(test.y, test.reference, config.bootstrap_resamples, config.seed)
    test_scores: dict[int, np.ndarray] = {}
    test_features = _features(test, config.base, chosen)  # every chosen EFP read once; pass p uses the first p
    for row in rows:
        p = int(row["pass"])
        feats = Features(base=test_features.base, efps=test_features.efps[:, :p], y=test_features.y)
        s = np.asarray(models[p].predict(feats), dtype=np.float64).reshape(-1)
        test_scores[p] = s
        row["test_auc"], row["test_auc_ci_low"], row["test_auc_ci_high"] = _auc_with_ci(
            test.y, s, config.bootstrap_resamples, config.seed
        )
        row["test_ado_with_reference"] = float(exact_ado(test.reference, s, test.y))
    passes = pd.DataFrame(rows, columns=list(PASS_COLUMNS))
    return SearchResult(
        passes=passes,
        chosen=list(chosen),
        stop_reason=stop_reason,
        config=config,
        reference_auc=ref_auc,
        reference_auc_ci=(ref_low, ref_high),
        test_reference_auc=t_auc,
        test_reference_auc_ci=(t_low, t_high),
        test={"y": test.y, "reference": test.reference, "event": test.event, "scores": test_scores},
        models={p: m.handle for p, m in models.items()},
        reads=list(store.reads),
    )


# --- the Keras fitter -------------------------------------------------------


@dataclass(frozen=True)
class EfpTransform:
    """Per-column transform of EFP inputs, fitted on train.

    A column whose train values are all positive and span more than
    ``decades`` decades (max/min > 10**decades) is log10-transformed
    first (EFPs are products of energy fractions and angles and often
    span many decades; the log keeps the network's inputs O(1)); then
    every column is standardised with the train mean and standard
    deviation (a constant column gets std 1).
    """

    log_columns: np.ndarray
    mean: np.ndarray
    std: np.ndarray

    @classmethod
    def fit(cls, values: np.ndarray, decades: float = 2.0) -> EfpTransform:
        values = np.asarray(values, dtype=np.float64)
        if values.shape[1] == 0:
            return cls(np.zeros(0, bool), np.zeros(0), np.ones(0))
        positive = (values > 0).all(axis=0)
        with np.errstate(divide="ignore", invalid="ignore"):
            span = np.where(positive, np.log10(values.max(axis=0) / np.where(positive, values.min(axis=0), 1.0)), 0.0)
        log_columns = positive & (span > decades)
        z = cls._log(values, log_columns)
        mean = z.mean(axis=0)
        std = z.std(axis=0)
        std = np.where(std > 0, std, 1.0)
        return cls(log_columns, mean, std)

    @staticmethod
    def _log(values: np.ndarray, log_columns: np.ndarray) -> np.ndarray:
        out = np.array(values, dtype=np.float64, copy=True)
        if log_columns.any():
            cols = out[:, log_columns]
            # values below the train minimum (other splits) are clipped to a tiny positive number
            out[:, log_columns] = np.log10(np.maximum(cols, np.finfo(np.float64).tiny))
        return out

    def apply(self, values: np.ndarray) -> np.ndarray:
        return ((self._log(values, self.log_columns) - self.mean) / self.std).astype(np.float32)


def keras_fitter(
    workdir: str | os.PathLike[str],
    train_settings: Mapping[str, Any] | None = None,
    log_decades: float = 2.0,
) -> FitAndScore:
    """A :data:`FitAndScore` training the paper's HL(+EFP) network with :func:`leptonid.training.train_model`.

    Network: 3 dense relu layers of 50, Adam lr 1e-3, batch 32 (Collado et
    al.), early stopping on the validation loss; ``train_settings`` override
    any :class:`leptonid.training.TrainConfig` field (e.g. ``epochs``).
    Inputs: the base features as ``hl`` and the chosen EFPs, transformed by
    :class:`EfpTransform` fitted on train, as ``efps`` (feature set
    ``hl_and_efps``; ``hl`` alone in pass 0). Checkpoints go to
    ``workdir/pass_<k>.keras``. The handle is the
    :class:`leptonid.training.TrainResult` plus the transform.
    """
    from leptonid.training import TrainConfig

    settings = {"dense_layers": 3, "hidden_units": 50, "learning_rate": 1e-3, "batch_size": 32}
    settings.update(dict(train_settings or {}))
    config = TrainConfig.from_mapping(settings)
    workdir = Path(workdir)

    def fit(inputs: FitInputs) -> FitOutput:
        from leptonid.training import predict_scores, train_model

        workdir.mkdir(parents=True, exist_ok=True)
        transform = EfpTransform.fit(inputs.train.efps, decades=log_decades)
        feature_set = "hl_and_efps" if inputs.chosen else "hl"

        def arrays(f: Features) -> dict[str, np.ndarray]:
            out = {"hl": np.asarray(f.base, dtype=np.float32), "y": np.asarray(f.y, dtype=np.float32)}
            if inputs.chosen:
                out["efps"] = transform.apply(f.efps)
            return out

        result = train_model(
            arrays(inputs.train),
            arrays(inputs.valid),
            feature_set,
            config,
            workdir / f"pass_{inputs.pass_index}.keras",
        )

        def predict(f: Features) -> np.ndarray:
            return predict_scores(result.model, arrays(f), feature_set, batch_size=config.predict_batch_size)

        return FitOutput(predict=predict, handle={"train_result": result, "efp_transform": transform})

    return fit
