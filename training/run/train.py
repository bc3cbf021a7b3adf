"""A training run of a genre model: epochs, per-epoch validation, best checkpoint by validation, test at the end.

:class:`Trainer` puts the pieces together: the data (:mod:`.train_data`), the model
and its optimiser (:mod:`.model_setup`), the batches of a step (:mod:`.epoch_batches`),
validation (:mod:`.validation`), checkpoints (:mod:`.run_state`) and logs
(:mod:`.run_logs`). A run resumed from a checkpoint (``resume``) continues exactly as
an uninterrupted run, and a distributed run (``torchrun``, see :mod:`.distributed`)
computes the same gradients as one process.

Outputs in ``out_dir`` (rank 0 only): ``best.pt`` (chosen on the validation split only,
never on test), ``last.pt`` (for resuming), ``history.json``, ``metrics.jsonl`` and
``metrics.csv`` (per epoch), ``test_metrics.json`` and ``test_predictions.npz`` (the
best checkpoint on the test split, clip level).
"""
from __future__ import annotations

import random
import time
from pathlib import Path

import numpy as np
import torch

from ...core.atomic import write_json_atomic
from ...core.genres import GENRES
from . import distributed as dist_mod
from .batches import plan_epoch
from .calibration import fit_temperature
from .checkpoint import load_checkpoint, resolve_resume, save_checkpoint
from .safe_load import load_tensors
from ..features.clips import ClipSet
from .config import TrainConfig
from .epoch_batches import prefetch_batches, step_seed
from .losses import batch_share_loss
from .model_setup import TrainingModel, pick_device
from ..models import count_parameters
from .run_logs import TensorBoardLog, write_history, write_test_predictions
from .run_state import RunProgress, restore_run, run_checkpoint
from .train_data import TrainingData
from .novelty import fit_novelty
from .validation import clip_set_metrics, predict_clips, predict_logits, probabilities, selection_score, track_metrics


class Trainer:
    """One training run. Call :meth:`fit`."""

    def __init__(self, config: TrainConfig):
        config.check()
        self.cfg = config.resolved()
        self.cfg.check()
        self.out = Path(self.cfg.out)
        self.device = pick_device(self.cfg.device)
        info = dist_mod.env_info()
        if info.enabled and self.device.type == "cuda" and self.cfg.device in ("auto", "cuda"):
            self.device = torch.device("cuda", info.local_rank)
        self.dist = dist_mod.setup(self.device)
        if self.dist.main:
            self.out.mkdir(parents=True, exist_ok=True)
        if self.cfg.threads:
            torch.set_num_threads(int(self.cfg.threads))
        torch.manual_seed(self.cfg.seed)
        random.seed(self.cfg.seed)
        np.random.seed(self.cfg.seed % (2 ** 32))
        #: Stored in checkpoints, so that a resumed run's generators match an uninterrupted run's.
        self.rng = np.random.default_rng(self.cfg.seed)
        self.progress = RunProgress()
        self.tb: TensorBoardLog | None = None

    # --- validation ------------------------------------------------------------------
    def predict_logits(self, clips: ClipSet) -> np.ndarray:
        """Logits ``(n, 8)`` of a clip set (gathered from all ranks)."""
        return predict_logits(self.net, clips, self.cfg.batch_size, self.dist)

    def evaluate(self, split: str, return_probs: bool = False):
        """Metrics of a split's clips (with the current temperature); also the probabilities with ``return_probs``."""
        clips = self.data.clips[split]
        if not len(clips):
            return ({"n": 0}, np.zeros((0, len(GENRES)), np.float32)) if return_probs else {"n": 0}
        probs = probabilities(self.predict_logits(clips), self.progress.temperature)
        m = clip_set_metrics(clips, self.data.targets[split], probs)
        return (m, probs) if return_probs else m

    def score(self, val: dict) -> float:
        """Selection score of validation metrics (lower is better; see ``TrainConfig.select``)."""
        return selection_score(val, self.cfg.select)

    def checkpoint(self, epoch: int, val_metrics: dict) -> dict:
        """The checkpoint dict after ``epoch`` (see :func:`.run_state.run_checkpoint`)."""
        return run_checkpoint(self.cfg, self.net, self.progress, epoch, val_metrics, self.data.description,
                              self.dist.world, self.rng)

    # --- one epoch -------------------------------------------------------------------
    def _step_loss(self, logits: torch.Tensor, yt: torch.Tensor, bag_local, idx, bag, rows, exact) -> torch.Tensor:
        weight, world = self.net.loss_weight, self.dist.world
        if bag is None:
            return batch_share_loss(logits, yt, len(idx), world, weight=weight)
        ex = exact[idx]
        return batch_share_loss(
            logits, yt, len(idx), world, weight=weight,
            bag=torch.from_numpy(np.asarray(bag_local, dtype=np.int64)).to(self.device), n_bags=int(bag.max()) + 1,
            n_single=int(ex.sum()), track_weight=self.cfg.track_loss,
            single=torch.from_numpy(ex[rows.start:rows.stop].copy()).to(self.device))

    def train_epoch(self, epoch: int) -> dict:
        """Train one epoch (from the resumed step when resuming inside it)."""
        c, net, dist, pr = self.cfg, self.net, self.dist, self.progress
        net.model.train()
        clips, targets = self.data.epoch_data(epoch)
        exact = clips.exact_mask()
        plan = plan_epoch(clips, seed=c.seed, epoch=epoch, batch_size=c.batch_size, track_loss=c.track_loss,
                          bag_size=c.bag_size)
        first = pr.start_step if epoch == pr.start_epoch else 0
        prog = (pr.resume_progress or {}) if first else {}
        total = float(prog.get("loss_sum", 0.0)) if dist.main else 0.0
        seen = int(prog.get("clips", 0))
        t_prev = float(prog.get("seconds", 0.0))
        t0 = time.perf_counter()
        bar = None
        if c.progress and dist.main:
            from tqdm import tqdm

            bar = tqdm(total=len(plan), initial=first, desc=f"epoch {epoch + 1}/{c.epochs}", unit="batch",
                       leave=False, dynamic_ncols=True)
        acc = max(1, int(c.accumulate))
        workers = 1 if self.device.type == "cpu" else 4
        net.optimizer.zero_grad(set_to_none=True)
        try:
            for step, (xt, yt, rows, bag_local) in prefetch_batches(c, dist, epoch, first, plan, clips, targets,
                                                                    net.min_frames, workers):
                idx, bag = plan[step]
                torch.manual_seed(step_seed(c.seed, epoch, step, dist.rank))
                xt = net.to_device(xt)
                yt = yt.to(self.device)
                boundary = (step + 1) % acc == 0 or step == len(plan) - 1
                with net.no_sync(boundary):
                    with net.autocast():
                        logits = net.forward_model(xt)
                    loss = self._step_loss(logits, yt, bag_local, idx, bag, rows, exact)
                    net.scaler.scale(loss / acc).backward()
                if boundary:
                    net.optimizer_step()
                # loss * n / world summed over ranks = the global batch's mean loss * n
                total += float(loss.detach()) * len(idx) / dist.world
                seen += len(idx)
                if bar is not None:
                    el = t_prev + time.perf_counter() - t0
                    bar.set_postfix(loss=f"{total * dist.world / max(seen, 1):.4f}",
                                    clips_s=f"{seen / max(el, 1e-9):.1f}")
                    bar.update(1)
                if boundary and c.checkpoint_every and step + 1 < len(plan) \
                        and ((step + acc) // acc) % int(c.checkpoint_every) == 0:
                    loss_sum = float(dist_mod.all_reduce_sum([total], dist, self.device)[0])
                    if dist.main:
                        ck = self.checkpoint(epoch - 1, pr.history[-1]["val"] if pr.history else {})
                        ck["next"] = {"epoch": epoch, "step": step + 1}
                        ck["train_progress"] = {"loss_sum": loss_sum, "clips": seen,
                                                "seconds": t_prev + time.perf_counter() - t0}
                        save_checkpoint(ck, self.out / "last.pt")
                    total = loss_sum if dist.main else 0.0
        finally:
            if bar is not None:
                bar.close()
        total = float(dist_mod.all_reduce_sum([total], dist, self.device)[0])
        if not net.step_per_batch:
            net.scheduler.step()
        seconds = t_prev + time.perf_counter() - t0
        return {"loss": total / max(seen, 1), "clips": seen, "seconds": seconds,
                "clips_per_s": seen / max(seconds, 1e-9)}

    # --- the run ---------------------------------------------------------------------
    def fit(self, log=print) -> dict:
        """Train, select the best epoch on validation, calibrate, test; returns the test results."""
        try:
            return self._fit(log if self.dist.main else (lambda *a, **k: None))
        finally:
            if self.tb is not None:
                self.tb.close()
            if self.dist.enabled:
                dist_mod.cleanup()

    def _epochs(self, log) -> None:
        c, pr = self.cfg, self.progress
        stopped = False
        for epoch in range(pr.start_epoch, c.epochs):
            if c.patience and pr.bad_epochs >= int(c.patience):
                stopped = True
                break
            lr = float(self.net.optimizer.param_groups[0]["lr"])
            tr = self.train_epoch(epoch)
            t_eval = time.perf_counter()
            val = self.evaluate("val")
            entry = {"epoch": epoch, "lr": lr, "train_loss": tr["loss"], "val": val,
                     "seconds": tr["seconds"] + time.perf_counter() - t_eval,
                     "train_clips": tr["clips"], "clips_per_s": tr["clips_per_s"]}
            pr.record(entry, self.score(val))
            if self.dist.main:
                ck = self.checkpoint(epoch, val)
                if pr.best_epoch == epoch:
                    save_checkpoint(ck, self.out / "best.pt")
                save_checkpoint(ck, self.out / "last.pt")
                write_history(self.out, pr.history)
                if self.tb is not None:
                    self.tb.add_epoch(entry)
            pr.start_step = 0
            log(f"epoch {epoch + 1}/{c.epochs}: train loss {tr['loss']:.4f}, val loss {val['loss']:.4f}, "
                f"val F1 {val['f1_weighted']:.3f}, val KL {val['kl']:.3f}, track KL {val['track']['kl']:.3f} "
                f"({entry['seconds']:.0f} s, {tr['clips_per_s']:.0f} clips/s)"
                + (" *" if pr.best_epoch == epoch else ""))
        if stopped or (c.patience and pr.bad_epochs >= int(c.patience) and len(pr.history) < c.epochs):
            log(f"early stop: no better validation score for {pr.bad_epochs} epochs "
                f"(best epoch {pr.best_epoch + 1})")

    def _calibrate(self, best: dict, log) -> None:
        """Fit the softmax temperature on validation (what is selected on) and re-score validation."""
        val_clips = self.data.clips["val"]
        if len(val_clips) < 16:
            log(f"calibration skipped: only {len(val_clips)} validation clips")
            return
        objective = None
        if self.cfg.select == "track":  # calibrate what is selected on: the track-level mean
            objective = lambda p: track_metrics(val_clips, p)["loss"]  # noqa: E731
        self.progress.temperature = fit_temperature(self.predict_logits(val_clips), self.data.targets["val"],
                                                    objective=objective)
        best["temperature"] = self.progress.temperature
        best["val_metrics_uncalibrated"] = best["val_metrics"]
        best["val_metrics"] = self.evaluate("val")
        log(f"calibration: temperature {self.progress.temperature:.3f} (val loss "
            f"{best['val_metrics_uncalibrated']['loss']:.4f} -> {best['val_metrics']['loss']:.4f})")

    def _fit_novelty(self, best: dict, log) -> None:
        """Fit the embedding novelty statistics (:mod:`.novelty`) on train, threshold on validation."""
        model = self.net.model
        if not hasattr(model, "pooled"):
            return
        width = int(model.head[-1].in_features)
        emb = {k: predict_clips(self.net, self.data.clips[k], self.cfg.batch_size, self.dist, model.pooled, width)
               for k in ("train", "val")}
        try:
            best["novelty"] = fit_novelty(emb["train"], emb["val"])
        except ValueError as exc:
            log(f"novelty score skipped: {exc}")
            return
        log(f"novelty: Mahalanobis on the {width}-d embedding fitted on {len(emb['train'])} training clips, "
            f"threshold at the {best['novelty']['quantile']:.0%} quantile of {len(emb['val'])} validation clips")

    def _fit(self, log) -> dict:
        c, pr = self.cfg, self.progress
        if c.tensorboard and self.dist.main:
            self.tb = TensorBoardLog(self.out)
        resume = resolve_resume(c.resume, self.out)  # a bad --resume fails before the data is prepared
        resumed = load_checkpoint(resume, map_location=self.device) if resume is not None else None
        if c.weights_path and c.model != "default":
            load_tensors(c.weights_path, what="weights")  # an unsafe or corrupt --weights file too
        self.data = TrainingData(c, self.dist, log=log)
        self.net = TrainingModel(c, self.device, self.dist, len(self.data.clips["train"]), self.data.targets["train"])
        if resumed is not None:
            self.progress = pr = restore_run(resumed, self.net, self.rng)
            del resumed
            log(f"resuming from {resume} at epoch {pr.start_epoch + 1}"
                + (f", step {pr.start_step}" if pr.start_step else ""))
        where = f"{self.device}" + (f" x {self.dist.world} processes" if self.dist.enabled else "")
        log(f"model {c.model}: {count_parameters(self.net.model):,} parameters on {where}; clips "
            + ", ".join(f"{k} {len(v)}" for k, v in self.data.clips.items())
            + (" (training clips re-sampled every epoch)" if c.resample else ""))
        self._epochs(log)
        dist_mod.barrier(self.dist)
        # Calibrate on validation, then test once, with the checkpoint chosen on validation.
        best = load_checkpoint(self.out / "best.pt")
        self.net.model.load_state_dict(best["state_dict"])
        if c.calibrate:
            self._calibrate(best, log)
        self._fit_novelty(best, log)
        test, test_probs = self.evaluate("test", return_probs=True)
        best["test_metrics"] = test
        result = {"best_epoch": pr.best_epoch, "temperature": pr.temperature, "val": best["val_metrics"],
                  "test": test, "model": c.model, "labels": c.labels, "chroma": c.chroma,
                  "data": self.data.description, "epochs_run": len(pr.history),
                  "early_stopped": bool(len(pr.history) < c.epochs)}
        if self.dist.main:
            save_checkpoint(best, self.out / "best.pt")
            write_json_atomic(self.out / "test_metrics.json", result)
            write_test_predictions(self.out / "test_predictions.npz", self.data.clips["test"], test_probs,
                                   self.data.rows)
        dist_mod.barrier(self.dist)
        if test.get("n"):
            log(f"test (best epoch {pr.best_epoch + 1}): accuracy {test['accuracy']:.3f}, "
                f"weighted F1 {test['f1_weighted']:.3f}, top-2 {test['top2']:.3f}, KL {test['kl']:.3f}")
        return result


def train(config: TrainConfig, log=print) -> dict:
    """Run one training; returns the test metrics dict (also written to ``test_metrics.json``)."""
    return Trainer(config).fit(log=log)
