"""``e2mc-plugin demo``: the paper's protocol in miniature on scikit-learn's digits, on CPU."""
