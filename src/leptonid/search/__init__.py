"""Guided search for energy flow polynomials (EFPs) that mimic a reference network.

The method is the average-decision-ordering (ADO) search of T. Faucett,
J. Thaler and D. Whiteson, "Mapping machine-learned physics into a
human-readable space", Phys. Rev. D 103, 036020 (2021), arXiv:2010.11998,
as applied to electrons by J. Collado et al., "Learning to identify
electrons", Phys. Rev. D 103, 116028 (2021), arXiv:2011.01984 (section on
the guided search).

Modules: :mod:`.ado` (decision ordering, fast and exact ADO),
:mod:`.guided` (the search loop, its split guard and a Keras fitter) and
:mod:`.report` (paired bootstrap of the closed gap, figure, summary).
"""
