"""Distributed training (training/distributed.py) under ``torchrun`` with gloo on CPU.

Two ranks must compute the single-process gradient of a global batch (per-rank share
of the summed loss, synchronised BatchNorm), and a whole training run on two ranks
must end where the single-process run ends (up to float rounding, which Adam
amplifies a little over many steps).
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")

sys.path.insert(0, str(Path(__file__).resolve().parent))
from toy_audio import genre_helpers as _genre_helpers  # noqa: E402
if not torch.distributed.is_available():  # pragma: no cover
    pytest.skip("torch.distributed is not available", allow_module_level=True)

RUNNER = textwrap.dedent("""
    import json, sys
    from mainstage.training.run.config import TrainConfig
    from mainstage.training.run.train import train
    train(TrainConfig(**json.loads(sys.argv[1])), log=lambda *a: None)
""")

# Under torchrun: one global batch's gradient on two ranks vs one process (argv[2]: result
# file), then the training run of argv[1] (which reuses the process group).
GRADCHECK_THEN_TRAIN = textwrap.dedent("""
    import copy, json, sys
    import torch, torch.distributed as dist
    from mainstage.training.run import distributed as DM
    from mainstage.training.run.losses import soft_cross_entropy
    from mainstage.training.models import build_model
    torch.set_num_threads(1)
    dist.init_process_group("gloo")
    rank, world = dist.get_rank(), dist.get_world_size()
    torch.manual_seed(0)
    model = build_model("default", in_channels=1, n_classes=8, width=4, dropout=0.0)
    ref = copy.deepcopy(model)
    g = torch.Generator().manual_seed(1)
    x = torch.rand(7, 1, 224, 200, generator=g)
    y = torch.softmax(torch.randn(7, 8, generator=g), -1)
    soft_cross_entropy(ref.train()(x), y).backward()            # one process, whole batch
    ddp = torch.nn.parallel.DistributedDataParallel(DM.convert_sync_batchnorm(model, torch.device("cpu")))
    rows = DM.shard_bounds(7, world, rank)
    loss = soft_cross_entropy(ddp(x[rows.start:rows.stop]), y[rows.start:rows.stop], reduction="sum") * (world / 7)
    loss.backward()
    out = {}
    for (name, p), q in zip(ddp.module.named_parameters(), ref.parameters()):
        out[name] = [float((p.grad - q.grad).abs().max()), float(q.grad.abs().max())]
    buf = max(float((a - b).abs().max()) for a, b in zip(ddp.module.buffers(), ref.buffers())
              if a.dtype.is_floating_point)
    if rank == 0:
        with open(sys.argv[2], "w") as fh:
            json.dump({"grads": out, "buffers": buf, "rows": [rows.start, rows.stop]}, fh)
    from mainstage.training.run.config import TrainConfig
    from mainstage.training.run.train import train
    train(TrainConfig(**json.loads(sys.argv[1])), log=lambda *a: None)
""")


def _env():
    env = dict(os.environ, OMP_NUM_THREADS="1", PYTHONWARNINGS="ignore")
    for k in ("WORLD_SIZE", "RANK", "LOCAL_RANK", "MASTER_ADDR", "MASTER_PORT"):
        env.pop(k, None)
    return env


def _torchrun(script: Path, *args: str, timeout: int = 240) -> None:
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2", str(script), *args]
    res = subprocess.run(cmd, env=_env(), capture_output=True, text=True, timeout=timeout)
    assert res.returncode == 0, res.stderr[-3000:]


@pytest.fixture(scope="module")
def ddp_runs(tmp_path_factory):
    """A single-process run and a two-rank run (plus the gradient check) of the same training."""
    tmp = tmp_path_factory.mktemp("ddp")
    manifest = _genre_helpers().write_dataset(tmp / "data", genres=(0, 3, 5), per_genre=4, bars=16)
    base = {"data": str(manifest), "epochs": 2, "batch_size": 4, "drops": "truth", "threads": 1,
            "progress": False, "model_kwargs": {"width": 4, "dropout": 0.0}, "gain_db": 3.0, "mixup": 0.4,
            "calibrate": False}
    runner, both = tmp / "run.py", tmp / "gradcheck_then_train.py"
    runner.write_text(RUNNER)
    both.write_text(GRADCHECK_THEN_TRAIN)
    single = subprocess.run([sys.executable, str(runner), json.dumps({**base, "out": str(tmp / "one")})],
                            env=_env(), capture_output=True, text=True, timeout=240)
    assert single.returncode == 0, single.stderr[-3000:]
    _torchrun(both, json.dumps({**base, "out": str(tmp / "two")}), str(tmp / "grads.json"))
    return tmp


def test_two_ranks_compute_the_single_process_gradient(ddp_runs):
    res = json.loads((ddp_runs / "grads.json").read_text())
    assert res["rows"] == [0, 4]  # rank 0 of 7 rows: an even boundary
    assert res["buffers"] < 1e-5  # synchronised BatchNorm running statistics
    for name, (diff, scale) in res["grads"].items():
        if scale < 1e-7:  # a parameter with no real gradient (softmax-invariant bias): rounding noise only
            assert diff < 1e-7, name
        else:
            assert diff <= 1e-4 * scale, (name, diff, scale)


def test_distributed_training_matches_one_process(ddp_runs):
    one, two = ddp_runs / "one", ddp_runs / "two"
    assert not (two / "cache").exists() and sorted(p.name for p in two.iterdir()) == sorted(
        p.name for p in one.iterdir())  # rank 0 wrote the same files, nothing else
    h1 = json.loads((one / "history.json").read_text())
    h2 = json.loads((two / "history.json").read_text())
    np.testing.assert_allclose([h["train_loss"] for h in h2], [h["train_loss"] for h in h1], rtol=1e-3)
    np.testing.assert_allclose([h["val"]["loss"] for h in h2], [h["val"]["loss"] for h in h1], rtol=1e-3)
    assert [h["train_clips"] for h in h2] == [h["train_clips"] for h in h1]
    p1, p2 = np.load(one / "test_predictions.npz"), np.load(two / "test_predictions.npz")
    np.testing.assert_array_equal(p1["track"], p2["track"])
    np.testing.assert_allclose(p2["probs"], p1["probs"], atol=5e-3)
    a = torch.load(one / "last.pt", weights_only=True)
    b = torch.load(two / "last.pt", weights_only=True)
    assert b["world_size"] == 2 and set(a["state_dict"]) == set(b["state_dict"])  # plain BatchNorm keys
    from mainstage.training.run.checkpoint import model_from_checkpoint

    names = [n for n, _ in model_from_checkpoint(a).named_parameters()]
    state = a["optimizer"]["state"]
    for i, name in enumerate(names):
        if float(state[i]["exp_avg_sq"].max()) < 1e-14:
            continue  # no real gradient: Adam turns rounding noise into lr-sized steps
        np.testing.assert_allclose(b["state_dict"][name].numpy(), a["state_dict"][name].numpy(), atol=5e-3,
                                   err_msg=name)
