"""The one place that knows which solo-learn is installed: the differences between the supported
layouts as data (:mod:`.profile`: one ``HostProfile`` per layout), the detector that picks one
(:mod:`.detect`), the questions the adapter asks the installed host's profile (:mod:`.compat`) and
the args layouts a recipe is translated by (:mod:`.args_layout`), the warnings its imports print
(:mod:`.import_warnings`), solo's lr-scaling rule by device count (:mod:`.devices`), and the one
way to make a class built on a host class picklable (:mod:`.picklable`)."""
