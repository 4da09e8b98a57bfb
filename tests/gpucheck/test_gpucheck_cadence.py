"""Part (b)'s judge: each host sync against the documented cadence (finiteness check and logger
at log points, progress-bar values after each batch, nothing in the step), and where the syncs
are seen (CUDA's sync-debug warnings, the CPU dry run's synchronizing operations)."""

import warnings
from collections import Counter

import torch

from e2mc_plugin.gpucheck.cadence import FIRST_STEP, MMCR_EIGH, classify, judge, where
from e2mc_plugin.gpucheck.sync_events import CpuSyncs, CudaSyncs, Phase, SyncEvent

LOOP = ("lightning/pytorch/loops/training_epoch_loop.py", 260, "advance")
CHECK = ("e2mc_plugin/attach/finite.py", 48, "raise_if_nonfinite")
LOGGER = (
    "lightning/pytorch/trainer/connectors/logger_connector/logger_connector.py",
    97,
    "log_metrics",
)
BAR = ("lightning/pytorch/trainer/connectors/logger_connector/result.py", 492, "metrics")
POLL = ("e2mc_plugin/aux_losses/finite.py", 90, "poll")
LOADER = ("torch/utils/data/_utils/fetch.py", 52, "fetch")
CRITERION = ("e2mc_plugin/criteria/nuclear_norm.py", 38, "forward")


def ev(phase, batch, *frames, op="_local_scalar_dense"):
    return SyncEvent(op, phase, batch, [LOOP, *frames, ("torch/_tensor.py", 1, "item")])


def judged(event, cpu=False):
    return classify(event, log_every=3, last=5, bar=True, cpu=cpu)


def test_the_documented_cadence_is_allowed_and_nothing_else():
    assert judged(ev("outside", None, CRITERION))[1]  # set-up / epoch end
    assert judged(ev("step", 0, CRITERION)) == (FIRST_STEP, True)  # once, the registrations
    assert judged(ev("after", 2, CHECK)) == ("finiteness check at a log point", True)
    assert judged(ev("after", 1, CHECK)) == ("finiteness check at a log point", False)
    assert judged(ev("after", 5, LOGGER))[1] and judged(ev("after", 4, LOGGER))[1] is False
    assert judged(ev("after", 1, BAR)) == ("progress-bar value", True)
    assert judged(ev("step", 1, LOADER))[1]  # the loader's own CPU tensors
    # MMCR's eigendecomposition: the documented status read; any other op there is hidden
    assert judged(ev("step", 2, CRITERION, op="_linalg_eigh")) == (MMCR_EIGH, True)
    category, ok = judged(ev("step", 2, CRITERION, op="nonzero"))
    assert not ok and category == (
        "hidden (step): nonzero at e2mc_plugin/criteria/nuclear_norm.py:38 forward"
    )
    assert not judged(ev("step", 2, CHECK))[1]  # the check inside the step is a hidden sync
    assert not judged(ev("step", 1, BAR))[1]
    assert judged(ev("step", 1, POLL), cpu=True)[1]  # the CPU branch of the monitor (dry run)
    assert not judged(ev("step", 1, POLL), cpu=False)[1]  # on CUDA it must not read


def test_where_names_the_innermost_frame_outside_torch():
    assert where(ev("step", 0, CRITERION)) == "e2mc_plugin/criteria/nuclear_norm.py:38 forward"


def test_a_run_is_judged_on_the_syncs_it_adds_to_the_hosts_own():
    facts = {"steps": 6, "log_every": 3}
    host_sync = ev("step", 1, ("solo/losses/vicreg.py", 79, "covariance_loss"), op="index")
    host = [host_sync] * 6
    _, _, base = judge("baseline", host, facts, cpu=False)
    row, notes, _ = judge("baseline", host, facts, cpu=False)
    assert row["ok"] is None and row["added by the plugin"] is None and row["host's own"] == 1.2
    assert notes == ["baseline (host): 6 x hidden (step): index at solo/losses/vicreg.py:79 "
                     "covariance_loss"]  # fmt: skip
    baseline = Counter(base["hidden"])

    good = host + [ev("after", 2, CHECK), ev("after", 1, BAR), ev("after", 3, BAR)]
    row, notes, counts = judge("e2mc", good, facts, cpu=False, baseline=baseline)
    assert row["ok"] and row["added by the plugin"] == 0 and row["host's own"] == 1.2
    assert row["finiteness check"] == 1 and row["progress bar"] == round(2 / 5, 1)
    assert notes == [] and counts["added"] == {}

    eigh = ev("step", 3, CRITERION, op="_linalg_eigh")  # documented: counted, not added
    stray = ev("step", 3, CRITERION, op="nonzero")
    row, notes, _ = judge("mmcr", good + [eigh] * 2 + [stray] * 2 + [host_sync], facts,
                          cpu=False, baseline=baseline)  # fmt: skip
    assert row["MMCR eigh"] == 2
    assert not row["ok"] and row["added by the plugin"] == 3  # one more at the host's place too
    assert notes[0].startswith("mmcr: 2 x hidden (step): nonzero")

    row, notes, _ = judge("e2mc", host + [ev("after", 1, BAR)], facts, cpu=False, baseline=baseline)
    assert not row["ok"] and "never read its counters" in notes[0]


def test_cpu_recorder_sees_synchronizing_ops_and_host_reads_with_the_phase():
    phase = Phase("step", 4)
    tolist = torch.Tensor.tolist
    with CpuSyncs(phase) as rec:
        torch.ones(3).sum().item()
        torch.linalg.eigh(torch.eye(3, dtype=torch.float64))
        torch.arange(4)[torch.arange(4) > 1]  # a boolean mask: nonzero on CUDA
        x = torch.zeros(4)
        x[x < 1] = 2.0  # the same, assigning
        x[torch.tensor([0, 2])] = 3.0  # integer indices: no read
        torch.zeros(2).tolist()
        torch.ones(2) * 2  # no read
    ops = [e.op for e in rec.events]
    mask = "index (boolean mask)"
    assert ops == [
        "_local_scalar_dense",
        "_linalg_eigh",
        mask,
        "index_put (boolean mask)",
        "tolist",
    ]
    assert all(e.phase == "step" and e.batch == 4 for e in rec.events)
    assert "test_gpucheck_cadence.py:" in where(rec.events[0])  # the line that read
    assert torch.Tensor.tolist is tolist  # restored
    torch.ones(1).item()
    assert len(rec.events) == 5


def test_cuda_recorder_records_the_sync_warning_and_shows_the_others(monkeypatch):
    modes = []
    monkeypatch.setattr(torch.cuda, "set_sync_debug_mode", modes.append)
    shown = []
    monkeypatch.setattr(warnings, "showwarning", lambda *a, **k: shown.append(str(a[0])))
    phase = Phase("after", 1)
    with warnings.catch_warnings():
        warnings.simplefilter("default")  # whatever filters earlier code in this process left
        with CudaSyncs(phase) as rec:
            for _ in range(2):  # "always": the same line twice is two syncs
                warnings.warn("called a synchronizing CUDA operation", stacklevel=1)
            warnings.warn("something else", stacklevel=1)
    assert modes == ["warn", "default"]
    assert [(e.op, e.phase, e.batch) for e in rec.events] == [("cuda sync", "after", 1)] * 2
    assert shown == ["something else"]
