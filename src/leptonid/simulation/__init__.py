"""Built-in physics simulation: Pythia 8 events, a parametric calorimeter, the paper's data layout.

Modules, one job each:

- :mod:`~leptonid.simulation.generator`: Pythia 8 event generation, truth-level pre-filter, candidate seeds.
- :mod:`~leptonid.simulation.calorimeter`: parametric calorimeter (deposits -> ECal/HCal images).
- :mod:`~leptonid.simulation.chunk`: one chunk of candidates of one class, written to an h5 file.
- :mod:`~leptonid.simulation.writer`: merge chunks, ET matching, split, standardise, write ``data.h5``.
- :mod:`~leptonid.simulation.validation`: validation report, plots and quick classifiers.
"""
