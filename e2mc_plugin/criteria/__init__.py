"""Pure-torch criteria behind the auxiliary losses: one idea per module, no host imports."""

from e2mc_plugin.criteria.checks import (
    NonFiniteError,
    check_finite,
    check_min_rows,
    check_spacings_batch,
    check_view,
    check_views,
    nonfinite_flags,
)
from e2mc_plugin.criteria.covariance import covariance_penalty
from e2mc_plugin.criteria.entropy import (
    default_m,
    marginal_entropy,
    mean_marginal_entropy,
    spacing_floor,
)
from e2mc_plugin.criteria.gather import RankViewsError, gather_views_with_grad, gather_with_grad
from e2mc_plugin.criteria.mapping import MAPPINGS, gaussian_cdf, get_mapping, identity, sigmoid
from e2mc_plugin.criteria.nuclear_norm import centroid, centroid_nuclear_norm, nuclear_norm
from e2mc_plugin.criteria.sphere import normalize_rows
from e2mc_plugin.criteria.uniformity import alignment, uniformity
from e2mc_plugin.criteria.variance import variance_hinge

__all__ = [
    "MAPPINGS",
    "NonFiniteError",
    "RankViewsError",
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
    "gather_views_with_grad",
    "gather_with_grad",
    "gaussian_cdf",
    "get_mapping",
    "identity",
    "marginal_entropy",
    "mean_marginal_entropy",
    "nonfinite_flags",
    "normalize_rows",
    "nuclear_norm",
    "sigmoid",
    "spacing_floor",
    "uniformity",
    "variance_hinge",
]
