"""Diagnostic figures and statistics of embeddings: mapped marginals, 2-D scatters, neighbour
distances, per-dimension entropy (``e2mc-plugin diagnose``)."""
