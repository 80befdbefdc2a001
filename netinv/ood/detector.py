"""The saved OOD detector: the garbage-class model plus the post-hoc detectors of the plain classifier.

A directory of safe files: `garbage.pt` and `classifier.pt` (netinv model files, loaded
with weights_only=True), `posthoc.npz` (the fitted detectors' arrays, loaded without
pickle) and `detector.json` (methods, class names, input shape, score conventions).
"""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

import numpy as np
import torch
from torch import nn

from netinv.atomic import save_npz, write_json
from netinv.errors import ModelFileError
from netinv.models import load_model, save_model
from netinv.ood.garbage_model import class_probs, garbage_scores
from netinv.ood.metrics import CONVENTIONS
from netinv.ood.posthoc import PosthocDetectors

FORMAT = "netinv.ood-detector/1"
GARBAGE_METHODS = ("garbage", "garbage_ue")


class OodDetector:
    def __init__(self, garbage_model: nn.Module, posthoc: PosthocDetectors, class_names: tuple[str, ...],
                 image_shape: tuple[int, int, int], device: torch.device | str = "cpu") -> None:
        self.garbage_model = garbage_model.eval()
        self.posthoc = posthoc
        self.class_names = tuple(class_names)
        self.image_shape = tuple(image_shape)
        self.device = torch.device(device)

    @property
    def methods(self) -> tuple[str, ...]:
        return GARBAGE_METHODS + self.posthoc.methods

    def score(self, images: np.ndarray) -> dict[str, np.ndarray]:
        """{method: (N,) float64}, higher = more likely OOD, for uint8 images in `image_shape`."""
        if images.ndim != 4 or tuple(images.shape[1:]) != self.image_shape or images.dtype != np.uint8:
            raise ValueError(f"images must be uint8 (N, {', '.join(map(str, self.image_shape))}), got "
                             f"{images.dtype} {tuple(images.shape)}; convert them with netinv.ood.sets.convert_images")
        return {**garbage_scores(class_probs(self.garbage_model, images, self.device)), **self.posthoc.score(images)}

    def save(self, directory: str | Path) -> None:
        directory = Path(directory)
        meta = {"class_names": list(self.class_names), "garbage_class": len(self.class_names)}
        save_model(directory / "garbage.pt", self.garbage_model.cpu(), meta=meta)
        save_model(directory / "classifier.pt", self.posthoc.model.cpu(), meta=meta)
        save_npz(directory / "posthoc.npz", **self.posthoc.state())
        write_json(directory / "detector.json", {
            "format": FORMAT, "methods": list(self.methods), "class_names": list(self.class_names),
            "image_shape": list(self.image_shape), "conventions": CONVENTIONS})
        self.garbage_model.to(self.device)
        self.posthoc.model.to(self.device)

    @classmethod
    def load(cls, directory: str | Path, device: torch.device | str = "cpu") -> OodDetector:
        directory = Path(directory)
        info_path = directory / "detector.json"
        if not info_path.is_file():
            raise ModelFileError(f"{info_path} not found: {directory} is not a saved OOD detector; "
                                 "save one with OodDetector.save or pass another folder", rebuild=True)
        info = json.loads(info_path.read_text())
        if info.get("format") != FORMAT:
            raise ModelFileError(f"{info_path} has format {info.get('format')!r}, expected {FORMAT!r}")
        device = torch.device(device)
        try:
            with np.load(directory / "posthoc.npz", allow_pickle=False) as npz:
                state = {k: npz[k] for k in npz.files}
        except (OSError, ValueError, zipfile.BadZipFile) as exc:
            raise ModelFileError(f"{directory / 'posthoc.npz'} is missing or corrupt ({exc}); save the detector again",
                                 rebuild=True) from exc
        classifier = load_model(directory / "classifier.pt", device)
        posthoc = PosthocDetectors.from_state(classifier, state, device)
        return cls(load_model(directory / "garbage.pt", device), posthoc, tuple(info["class_names"]),
                   tuple(info["image_shape"]), device)
