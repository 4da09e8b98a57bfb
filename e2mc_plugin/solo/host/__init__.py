"""The one place that knows which solo-learn is installed: its detection (:mod:`.detect`), the
differences between the supported versions (:mod:`.compat`: Lightning package, constructor API,
backbone names, small crops), solo's lr-scaling rule by device count (:mod:`.devices`), and the
one way to make a class built on a host class picklable (:mod:`.picklable`)."""
