"""``e2mc-plugin reproduce``: from a base checkpoint to one row of the paper's tables.

    rows.py        the rows (Table 1: vicreg, swav400, swav800, simsiam; Table 3: swav800-vcreg,
                   -auh, -mmcr) as data, and what each paper column measures
    paper.py       the paper's Tables 1-3 as typed cells (configs/paper/tables.yml)
    recipes.py     what a plan reads from a composed recipe (epochs, batch, crops, precision)
    plan.py        the typed plan: stages with commands whose holes are filled at run time
    commands.py    one stage per launcher call (convert, subset, pretrain, linear, voc07-svm)
    planner.py     build_plan(row, inputs, settings): the stages of a row, built once
    cost.py        GPU-hours and disk of a stage (params.py: parameter counts)
    show_plan.py   --plan: stages, commands, GPU-hours, disk
    markers.py     a stage's folder, result.json and DONE marker (resume, never overwrite)
    continuation.py  the checkpoint a pretraining stage's next attempt goes on from
    results.py     what a finished launcher call left, read into the stage's result
    runner.py      run the stages not done, each as a subprocess; SIGTERM forwarded to the
                   launcher; failures say how to rerun
    seeding.py     the hydra callback that seeds probes (main_linear.py does not)
    compare.py     ours vs the paper per cell, within 2 standard errors; criterion - continued
    render.py      Markdown and CSV as the paper prints it;  plot.py: deltas.png
    outputs.py     the folder's manifest (reproduce.json) and its written comparison
    smoke_data.py  --smoke: generated ImageNet / iNat18 / VOC07 layouts;
                   smoke_release.py: a tiny base release in the official layout
    cli.py         the command line

Every stage runs a command the project already has, as a subprocess, and leaves its outputs in
its own folder under ``--out``; nothing here imports solo-learn.
"""
