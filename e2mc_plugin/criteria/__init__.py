"""Pure-torch criteria behind the auxiliary losses: one idea per module, no host imports."""

from e2mc_plugin.criteria.checks import (
    check_finite,
    check_min_rows,
    check_spacings_batch,
    check_view,
    check_views,
)
from e2mc_plugin.criteria.covariance import covariance_penalty
from e2mc_plugin.criteria.entropy import default_m, marginal_entropy, mean_marginal_entropy
from e2mc_plugin.criteria.gather import gather_with_grad
from e2mc_plugin.criteria.mapping import MAPPINGS, gaussian_cdf, get_mapping, identity, sigmoid
from e2mc_plugin.criteria.nuclear_norm import centroid, centroid_nuclear_norm
from e2mc_plugin.criteria.uniformity import alignment, uniformity
from e2mc_plugin.criteria.variance import variance_hinge

__all__ = [
    "MAPPINGS",
    "alignment",
    "centroid",
    "centroid_nuclear_norm",
    "check_finite",
    "check_min_rows",
    "check_spacings_batch",
    "check_view",
    "check_views",
    "covariance_penalty",
    "default_m",
    "gather_with_grad",
    "gaussian_cdf",
    "get_mapping",
    "identity",
    "marginal_entropy",
    "mean_marginal_entropy",
    "sigmoid",
    "uniformity",
    "variance_hinge",
]
