"""The one place that knows which solo-learn is installed and how it differs between versions."""
