"""The launcher: ``e2mc-plugin pretrain|linear|knn|umap`` runs the host's ``main_*.py`` with the
plugin registered in every process (:mod:`.commands`, :mod:`.relaunch`; the host's import
warnings hidden, see :mod:`e2mc_plugin.solo.host.import_warnings`), with its command-line
conveniences (:mod:`.overrides`, :mod:`.cpu_shim`) and end-of-run summary (:mod:`.callbacks`,
:mod:`.run_summary`)."""
