"""Reproduction: the stored evidence tiers, and what the book decides from them.

* :mod:`aibnb.reproduce.plan` lists the runs of each stored tier (``lab`` on a CPU, ``full`` on a
  GPU) in priority order;
* :mod:`aibnb.reproduce.queue` trains them in the background, one lock per run, and stores each
  finished run's small files under ``book/results/<profile>/runs/``;
* :mod:`aibnb.reproduce.evidence` reads a stored tier back (errors, per-image predictions, scores);
* :mod:`aibnb.reproduce.stats` turns paired runs into verdicts: the mean paired difference with its
  95 % interval, a per-image paired test, Holm's correction, the power, and one of *held*,
  *reversed*, *equivalent at this scale*, *undecided*.
"""
