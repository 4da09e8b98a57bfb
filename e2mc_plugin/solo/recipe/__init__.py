"""The recipe: the blocks the plugin reads (:mod:`.schema`, the one place of their keys, defaults
and checks) and their one parse into typed values (:mod:`.parse`)."""
