"""The chapters' presentation: figures, galleries, slider panels over stored runs, tables.

Built on :mod:`aibnb.viz` (the static explorer, the fixed colour scales), so that a chapter keeps
only the science it derives (its estimators, its toy channels, its checks) and the calls that
draw it. One module per kind of presentation, imported by name (this package imports nothing, so
that ``import aibnb.figures.tables`` stays light):

* :mod:`aibnb.figures.style`: the book's figure style (legible fonts, figures twice as sharp as
  shown) and the colour ranges shared by every map;
* :mod:`aibnb.figures.tables`: display names, "mean ± sd" cells and the book's table style;
* :mod:`aibnb.figures.grids`: images with rows of maps on one fixed scale (attention, quantised
  maps, scenes with their object masks);
* :mod:`aibnb.figures.explorer`: a slider over one stored setting of a tier (β, the number of
  anchors K, the latent size, the model, the training-set size), its panels and its table from
  the same runs;
* :mod:`aibnb.figures.sweeps`: a chapter's live run against the stored ``ci`` run of its configuration;
* :mod:`aibnb.figures.bounds`, :mod:`aibnb.figures.vib`, :mod:`aibnb.figures.quantiser`,
  :mod:`aibnb.figures.interpret`: the figures and tables of chapters 1, 2, 3 and 5;
* :mod:`aibnb.figures.training`: chapter 4's (Table 1 at each tier, training curves, attention
  galleries, confusion matrices, costs); :mod:`aibnb.figures.ladder`: its training-set ladder.
"""
