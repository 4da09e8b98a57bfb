"""The recipe: the blocks the plugin reads (:mod:`.schema`, the one place of their keys and
defaults), one parser per block (:mod:`.blocks`, :mod:`.linear`; ``aux_losses`` is the
host-neutral core's, :mod:`e2mc_plugin.attach.specs`) over the one boolean parser and the one
positive-number check (:mod:`.values`), the misspelled / misplaced block check (:mod:`.placement`)
and the one parse of a recipe into typed values (:mod:`.parse`)."""
