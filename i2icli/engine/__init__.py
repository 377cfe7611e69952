"""The training engine (loop, DDP, checkpoints, logging, sampling)."""

from i2icli.engine.loop import TrainPlan, TrainRequest, TrainResult, lr_factor, plan, train

__all__ = ["TrainPlan", "TrainRequest", "TrainResult", "lr_factor", "plan", "train"]
