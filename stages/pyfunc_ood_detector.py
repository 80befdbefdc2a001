"""The OOD detector as an MLflow pyfunc model (logged by the `ood` stage, models from code).

MLflow keeps this file with the model and runs it to load it: the detector is the directory
`OodDetector.save` writes (netinv model files loaded with weights_only=True, arrays without
pickle). Input: uint8 images (N, C, H, W); output: a DataFrame, one column per method, each
image's score (higher = more likely out of distribution).
"""

from __future__ import annotations

from typing import Any

import mlflow.pyfunc
import numpy as np
import pandas as pd
from mlflow.models import set_model

from netinv.ood.detector import OodDetector


class OodDetectorModel(mlflow.pyfunc.PythonModel):
    def load_context(self, context: Any) -> None:
        self.detector = OodDetector.load(context.artifacts["detector"], "cpu")

    def predict(self, context: Any, model_input: np.ndarray, params: dict[str, Any] | None = None) -> pd.DataFrame:
        return pd.DataFrame(self.detector.score(np.asarray(model_input, dtype=np.uint8)))


set_model(OodDetectorModel())
