"""leptonid: reproduce "Learning to identify electrons" (Collado et al., PRD 2021).

The package holds the logic of the Snakemake workflow: the data contract
(:mod:`leptonid.contract`), streaming I/O (:mod:`leptonid.io`), the
simulation, EFPs, models, training and metrics.
"""

__version__ = "0.1.0"
