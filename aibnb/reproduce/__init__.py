"""Reproduction: the stored evidence tiers, and what the book decides from them.

* :mod:`aibnb.reproduce.plan` lists the runs of each stored tier (``lab`` on a CPU, ``full`` on a
  GPU) in priority order;
* :mod:`aibnb.reproduce.queue` trains them in the background, one lock per run, and stores each
  finished run's small files under ``book/results/<profile>/runs/``;
* :mod:`aibnb.reproduce.evidence` reads a stored tier back (errors, per-image predictions, scores);
* :mod:`aibnb.reproduce.stats` turns paired runs into verdicts: the mean paired difference with its
  95 % interval, a per-image paired test, Holm's correction, the power, and one of *held*,
  *reversed*, *equivalent at this scale*, *undecided*; and gives the tables' mean ± std over seeds;
* :mod:`aibnb.reproduce.claims` lists the paper's claims about Tables 1 and 2 and lays the decided
  claims out for the page;
* :mod:`aibnb.reproduce.paper` holds the paper's Tables 1, 3 and 4 as data (``paper.json``) and
  lays our Table 1 errors out beside them;
* :mod:`aibnb.reproduce.run_rows` is the one row format of the stored runs (``index.json``,
  ``table1_<dataset>.json``) and reads the GPU results back (runs, benchmark);
* :mod:`aibnb.reproduce.cross_domain` evaluates trained models on shifted test sets (STL-10 for
  CIFAR-10, as in the paper), without retraining.
"""
