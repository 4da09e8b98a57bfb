"""Worker for test_lightning_attach_ddp.py: one rank of a 2-process Lightning DDP fit (gloo, CPU).

``python ddp_attach_worker.py RANK WORLD STORE plain|lightly``. The ranks join the harness's
process group (Lightning finds it initialized and the LOCAL_RANK variables: it launches nothing);
Lightning's DistributedSampler gives each rank 8 of the 16 rows. In float64, with ``gather: true``
the aux loss, the ranks' mean loss and every parameter after one SGD step equal the
single-process full-batch step computed here (``gather: false`` on all 16 rows), for
``shard: auto`` (each rank computes its share) and ``shard: false``. ``plain``: TinySSL (its own
loss a per-row mean: DDP's average is the full-batch mean); ``lightly``: lightly's VICReg with
``VICRegLoss(gather_distributed=True)`` and a lightly head without BatchNorm (whose statistics
would be per rank).
"""

import os
import sys
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")
# tests/support holds only test helpers (never tests/ itself: its solo/ folder would shadow solo)
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "support"))

import torch  # noqa: E402
from gloo_harness import assert_close_f64, run_worker  # noqa: E402

E2MC = {"name": "e2mc", "beta": 2.0, "gamma": 3.0, "mapping": "sigmoid"}


def body(rank, world, extra):
    import lightning_models as lm

    from e2mc_plugin.aux_losses import build_aux_losses
    from e2mc_plugin.lightning import attach_aux_losses

    os.environ.update(LOCAL_RANK=str(rank), NODE_RANK="0", WORLD_SIZE=str(world))
    if extra[0] == "lightly":
        import lightly_models as lym

        def make(distributed):
            return lym.VICReg(batch_norm=False, gather_distributed=distributed)

        data = lym.CropsDataset(16)
        data.crops = [c.double() for c in data.crops]
        full = data.batch(range(16))
    else:

        def make(distributed):
            return lm.TinySSL()

        data = lm.ViewsDataset(16)
        data.x = data.x.double()
        full = [data.batch(range(16)), data.y]

    ref = make(False).double()
    seen = []
    ref.projection_head.register_forward_hook(lambda m, i, o: seen.append(o))
    host = ref.training_step(full, 0)
    aux = build_aux_losses([E2MC])(seen[:2], seen)["loss"]
    (host + aux).backward()
    lr = ref.configure_optimizers().param_groups[0]["lr"]
    after = {n: (p - lr * p.grad).detach() for n, p in ref.named_parameters() if p.grad is not None}

    for shard in ("auto", False):
        specs = [dict(E2MC, gather=True, shard=shard)]
        model = attach_aux_losses(make(True), specs, embedding="projection_head")
        rec = lm.StepRecorder()
        loader = torch.utils.data.DataLoader(data, batch_size=8, shuffle=False)
        trainer = lm.trainer(
            max_steps=1, devices=world, strategy="ddp", callbacks=[rec], precision=lm.F64
        )
        trainer.fit(model, loader)
        what = f"{extra[0]} shard={shard} rank {rank}"
        got_aux = torch.tensor(rec.metrics[0]["train_aux/loss_step"], dtype=torch.float64)
        assert_close_f64(got_aux, aux.detach(), f"{what}: aux loss")
        # the ranks' mean loss (DDP averages the gradients) is the full-batch one: the aux loss
        # is the global one on every rank, the hosts' invariance terms are per-row means
        mean = rec.losses[0].clone()
        torch.distributed.all_reduce(mean)
        assert_close_f64(mean / world, (host + aux).detach(), f"{what}: mean loss")
        params = dict(model.named_parameters())
        for name, value in after.items():
            assert_close_f64(params[name].detach(), value, f"{what}: {name} after one step")
        print(f"{what}: aux {float(got_aux):.6f} == full batch {float(aux):.6f}", flush=True)


if __name__ == "__main__":
    run_worker(body, sys.argv)
