"""The inversion generator as an MLflow pyfunc model (logged by the `invert` stage, models from code).

MLflow keeps this file with the model and runs it to load it: the generator's weights are a
netinv model file (loaded with weights_only=True, no pickle). Input: a DataFrame with a column
`label` (the intended class of each image); params `seed`, `temperature` (the sharpness of the
conditioning vector) and `dropout` (sample as trained), defaulting to the invert stage's
sampling settings. Output: uint8 images (N, C, H, W).
"""

from __future__ import annotations

from typing import Any

import mlflow.pyfunc
import numpy as np
import pandas as pd
import torch
from mlflow.models import set_model

# Importing the generator registers its architecture with load_model.
from netinv.inversion.generator import ConditionedGenerator
from netinv.inversion.trainer import generate
from netinv.models import load_model


class GeneratorModel(mlflow.pyfunc.PythonModel):
    def load_context(self, context: Any) -> None:
        self.generator: ConditionedGenerator = load_model(context.artifacts["generator"])  # type: ignore[assignment]
        self.defaults = {"seed": 0, "temperature": 1.0, "dropout": True, **(context.model_config or {})}

    def predict(self, context: Any, model_input: pd.DataFrame, params: dict[str, Any] | None = None) -> np.ndarray:
        settings = {**self.defaults, **(params or {})}
        labels = torch.tensor(np.asarray(model_input["label"], dtype=np.int64))
        images = generate(self.generator, labels, float(settings["temperature"]), int(settings["seed"]),
                          torch.device("cpu"), dropout=bool(settings["dropout"]))
        return images.numpy()


set_model(GeneratorModel())
