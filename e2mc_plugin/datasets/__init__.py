"""Small datasets shared by the demo and the diagnostics (below both: no arrow runs back up)."""
