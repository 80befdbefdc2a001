"""params.yaml as typed, validated, frozen models: a typo is an error naming the valid keys."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal, Self

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from netinv.data import DATASETS

PositiveInt = Annotated[int, Field(gt=0)]
Fraction = Annotated[float, Field(gt=0, lt=1)]


class Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class MlflowParams(Section):
    experiment: str = "netinv"
    registered_model: str = "netinv-classifier"


class DataParams(Section):
    name: str = "fashion_mnist"
    root: str | None = "/usr/share/datasets/fashion-mnist"
    val_fraction: Fraction = 0.1
    test_fraction: Fraction = 0.2  # only for sources without an official test split
    train_limit: PositiveInt | None = None  # class-balanced cap, for quick runs
    test_limit: PositiveInt | None = None
    max_class_kl: Annotated[float, Field(ge=0)] = 0.05  # KL(label distribution || uniform)

    @field_validator("name")
    @classmethod
    def _known_dataset(cls, name: str) -> str:
        if name not in DATASETS:
            raise ValueError(f"unknown dataset '{name}'; valid: {', '.join(DATASETS)}")
        return name


class TrainParams(Section):
    epochs: PositiveInt = 4
    batch_size: PositiveInt = 128
    lr: Annotated[float, Field(gt=0, le=1)] = 3e-3
    weight_decay: Annotated[float, Field(ge=0)] = 1e-4
    label_smoothing: Annotated[float, Field(ge=0, lt=1)] = 0.0
    augment_shift: Annotated[int, Field(ge=0, le=8)] = 0
    device: str = "auto"


class ClassifierParams(TrainParams):
    channels: list[PositiveInt] = [32, 64]
    convs_per_block: PositiveInt = 1
    hidden: PositiveInt = 128
    dropout: Annotated[float, Field(ge=0, lt=1)] = 0.25
    negative_slope: Annotated[float, Field(ge=0, lt=1)] = 0.1


class EvaluatorParams(TrainParams):
    epochs: PositiveInt = 4
    lr: Annotated[float, Field(gt=0, le=1)] = 5e-3
    augment_shift: Annotated[int, Field(ge=0, le=8)] = 1
    width: PositiveInt = 24
    stages: PositiveInt = 3
    blocks_per_stage: PositiveInt = 1
    groups: PositiveInt = 8


class ExportParams(Section):
    opset: Annotated[int, Field(ge=17, le=23)] = 18
    max_abs_diff: Annotated[float, Field(gt=0)] = 1e-4
    min_argmax_agreement: Annotated[float, Field(ge=0, le=1)] = 1.0
    latency_repeats: PositiveInt = 200


class LossWeightParams(Section):
    ce: Annotated[float, Field(ge=0)] = 4.0
    kl: Annotated[float, Field(ge=0)] = 1.0
    cos: Annotated[float, Field(ge=0)] = 0.5
    orth: Annotated[float, Field(ge=0)] = 0.5
    tv: Annotated[float, Field(ge=0)] = 0.0
    bn: Annotated[float, Field(ge=0)] = 0.5
    mode_seeking: Annotated[float, Field(ge=0)] = 0.0


class InvertParams(Section):
    mode: Literal["label", "vector", "matrix", "vector_matrix"] = "vector"
    steps: PositiveInt = 600
    batch_size: Annotated[int, Field(ge=4)] = 128
    lr: Annotated[float, Field(gt=0, le=1)] = 2e-3
    latent_dim: PositiveInt = 64
    width: Annotated[int, Field(ge=2)] = 32
    dropout: Annotated[float, Field(ge=0, lt=1)] = 0.3
    embed_dim: PositiveInt = 32
    temperature: Annotated[float, Field(gt=0)] = 0.5
    sample_temperature: Annotated[float, Field(gt=0)] = 0.05
    feature_layers: list[str] = ["embedding"]
    same_class_cosine: bool = False
    weights: LossWeightParams = LossWeightParams()
    jitter: Annotated[int, Field(ge=0, le=8)] = 2
    flip: bool = False
    samples_per_class: Annotated[int, Field(ge=10)] = 200
    sample_with_dropout: bool = True
    checkpoint_every: PositiveInt = 100
    device: str = "auto"

    @model_validator(mode="after")
    def _pairs_fit_the_batch(self) -> Self:
        if self.weights.mode_seeking and self.batch_size % 2:
            raise ValueError(
                f"invert.weights.mode_seeking pairs the two halves of each batch: invert.batch_size must be "
                f"even, got {self.batch_size}"
            )
        return self


class AblationParams(Section):
    """Conditioning mode x diversity losses (the cells: the matrix in ablation/dvc.yaml), each run
    with `invert`'s other settings at a smaller budget."""

    steps: PositiveInt = 300
    samples_per_class: Annotated[int, Field(ge=10)] = 100
    cos: Annotated[float, Field(ge=0)] = 0.5  # the weight of a diversity loss when it is switched on
    orth: Annotated[float, Field(ge=0)] = 0.5


class GeneratorOverrides(Section):
    """The `invert` settings that the garbage loop's generator replaces; unset ones come from
    `invert`. The defaults are the settings measured best for OOD detection (docs/results.md),
    which are not those best for interpretability: the pool needs what the classifier wrongly
    accepts, not the most recognisable samples."""

    mode: Literal["label", "vector", "matrix", "vector_matrix"] | None = "vector_matrix"
    same_class_cosine: bool | None = True
    weights: dict[str, Annotated[float, Field(ge=0)]] = {"ce": 2.0, "bn": 0.2}

    @field_validator("weights")
    @classmethod
    def _known_weights(cls, value: dict[str, float]) -> dict[str, float]:
        unknown = sorted(set(value) - set(LossWeightParams.model_fields))
        if unknown:
            raise ValueError(f"unknown loss weight(s) {unknown}; valid: {sorted(LossWeightParams.model_fields)}")
        return value

    def applied_to(self, invert: InvertParams) -> InvertParams:
        update = {k: v for k in ("mode", "same_class_cosine") if (v := getattr(self, k)) is not None}
        weights = {**invert.weights.model_dump(), **self.weights}
        return InvertParams.model_validate({**invert.model_dump(), **update, "weights": weights})


class OodParams(Section):
    """The garbage-class model (method.md §3) against post-hoc detectors; the generator of each
    round takes `invert`'s architecture and losses (with `generator`'s replacements), with
    `generator_steps` per round."""

    rounds: Annotated[int, Field(ge=0)] = 4
    initial_noise: PositiveInt = 2000  # half Gaussian, half uniform noise
    pool_per_round: PositiveInt = 1100  # inverted samples per round, balanced over the n+1 classes
    pool_rule: Literal["all", "uncertain"] = "all"
    uncertain_fraction: Annotated[float, Field(gt=0, le=1)] = 0.5  # kept by the `uncertain` rule
    generator_steps: PositiveInt = 100  # per round; the generator is warm-started across rounds
    generator: GeneratorOverrides = GeneratorOverrides()
    sample_temperature: Annotated[float, Field(gt=0)] = 0.05
    init_from_classifier: bool = True
    batch_size: PositiveInt = 128
    lr: Annotated[float, Field(gt=0, le=1)] = 5e-4
    weight_decay: Annotated[float, Field(ge=0)] = 1e-4
    real_per_round: PositiveInt | None = 12000  # class-balanced cap on real images per epoch (None: all)
    pool_augment: bool = True
    closing_epoch: bool = True
    ood_sets: list[Literal["mnist", "gaussian", "uniform"]] = ["mnist", "gaussian", "uniform"]
    user_sets: dict[str, str] = {}  # name -> .npz with `images` (uint8 N×H×W or N×C×H×W)
    set_size: PositiveInt = 5000  # images per built-in OOD set (mnist has 5,000)
    posthoc_methods: list[Literal["msp", "maxlogit", "energy", "mahalanobis", "knn", "vim"]] = [
        "msp", "maxlogit", "energy", "mahalanobis", "knn", "vim"]
    posthoc_fit_limit: PositiveInt | None = None  # class-balanced cap on training images for fitting
    knn_k: PositiveInt = 50
    vim_dim: PositiveInt = 64
    device: str = "auto"


class ThresholdParams(Section):
    value: float
    severity: Literal["critical", "warning"]


class ValidateSamplesParams(Section):
    """Thresholds of the generated-samples suite, each with the severity of its failure."""

    max_label_kl: ThresholdParams = ThresholdParams(value=0.05, severity="critical")
    min_confidence: ThresholdParams = ThresholdParams(value=0.9, severity="critical")
    min_fidelity: ThresholdParams = ThresholdParams(value=0.95, severity="critical")
    min_eval_agreement: ThresholdParams = ThresholdParams(value=0.8, severity="warning")
    max_pixel_mean_kl: ThresholdParams = ThresholdParams(value=1.0, severity="warning")
    min_diversity_ratio: ThresholdParams = ThresholdParams(value=0.5, severity="warning")


class ReportParams(Section):
    """The HTML report: how many per-class grids and reconstruction pairs it embeds."""

    max_grids: Annotated[int, Field(ge=0)] = 10
    title: str = "netinv report"


class OodProbeParams(Section):
    """The audit's OOD probe: post-hoc detectors on the audited model (stages.audit_probes)."""

    methods: list[Literal["msp", "maxlogit", "energy", "mahalanobis", "knn", "vim"]] = [
        "msp", "energy", "mahalanobis", "knn", "vim"]
    sets: list[Literal["mnist", "gaussian", "uniform"]] = ["mnist", "gaussian", "uniform"]
    set_size: PositiveInt = 1000
    id_per_class: PositiveInt = 100               # real test images per class (the in-distribution side)
    fit_per_class: PositiveInt = 500              # training images per class to fit the detectors
    knn_k: PositiveInt = 50
    vim_dim: PositiveInt = 64
    min_auroc: ThresholdParams = ThresholdParams(value=0.9, severity="warning")  # best detector, per OOD set


class LeakageProbeParams(Section):
    """The audit's leakage probe: reconstructions of the audited model against its training split
    and the held-out validation split (the `reconstruct` params give the objective)."""

    reference_size: PositiveInt = 1000            # class-balanced training images, and as many held-out ones
    per_class: PositiveInt = 10                   # reconstructions per class
    steps: PositiveInt = 100
    max_gap_ci_low: ThresholdParams = ThresholdParams(value=0.0, severity="warning")  # leakage when the CI is above


class AuditProfile(Section):
    """One audit profile: the inversion budget, the checks and their thresholds."""

    steps: PositiveInt = 300                      # generator training steps (the invert stage's other settings)
    batch_size: Annotated[int, Field(ge=4)] = 64
    samples_per_class: Annotated[int, Field(ge=10)] = 50
    real_per_class: PositiveInt = 200             # real test images per class for diversity / coverage
    max_abs_diff: Annotated[float, Field(gt=0)] = 1e-4      # converted module vs onnxruntime
    min_argmax_agreement: Annotated[float, Field(ge=0, le=1)] = 1.0
    checks: ValidateSamplesParams = ValidateSamplesParams(  # the samples suite of validate_samples; a short
        min_confidence=ThresholdParams(value=0.8, severity="critical"),  # inversion budget: looser thresholds
        min_fidelity=ThresholdParams(value=0.9, severity="critical"),
        min_eval_agreement=ThresholdParams(value=0.5, severity="warning"))
    max_drop: dict[str, Annotated[float, Field(ge=0)]] = {"fidelity": 0.05, "eval_agreement": 0.1}
    probes: list[str] = ["ood", "leakage"]        # extra probes by name (stages.audit_probes.PROBES): ood, leakage
    ood: OodProbeParams = OodProbeParams()
    leakage: LeakageProbeParams = LeakageProbeParams()


class AuditParams(Section):
    """Production audits (pipeline audit flow, `python -m pipeline audit MODEL`)."""

    model: str = "models:/netinv-classifier@champion"
    profile: str = "default"
    experiment: str = "audits"
    data: str = "data/prepared"                   # real reference images (the test split)
    evaluator: str = "models/evaluator.pt"        # the independent judge
    reports: str = "reports/audits"
    profiles: dict[str, AuditProfile] = {"default": AuditProfile()}

    @field_validator("profiles")
    @classmethod
    def _has_profiles(cls, profiles: dict[str, AuditProfile]) -> dict[str, AuditProfile]:
        if not profiles:
            raise ValueError("audit.profiles needs at least one profile")
        return profiles

    def get_profile(self, name: str | None = None) -> AuditProfile:
        name = name or self.profile
        if name not in self.profiles:
            raise ParamsError(f"unknown audit profile '{name}'; profiles in params.yaml: {', '.join(self.profiles)}")
        return self.profiles[name]


class PromotionParams(Section):
    """The gate from @candidate to @champion (pipeline/promotion.py)."""

    metrics: dict[str, Literal["max", "min"]] = {"test_accuracy": "max"}  # max: higher is better
    tolerance: Annotated[float, Field(ge=0)] = 0.0    # allowed shortfall against the champion
    require_validation: bool = True                   # metrics/validation.json must say success
    audit_profile: str | None = "default"             # audit the candidate first; null: no audit
class ReconstructTargetParams(Section):
    """The target classifiers: the papers' CNN, trained on each subset for about `steps` steps."""

    channels: list[PositiveInt] = [16, 32]
    hidden: PositiveInt = 64
    dropout: Annotated[float, Field(ge=0, lt=1)] = 0.0  # none: small targets should memorise
    steps: PositiveInt = 400
    batch_size: PositiveInt = 64
    lr: Annotated[float, Field(gt=0, le=1)] = 3e-3
    weight_decay: Annotated[float, Field(ge=0)] = 0.0


class ReconstructWeightParams(Section):
    confidence: Annotated[float, Field(ge=0)] = 1.0
    robustness: Annotated[float, Field(ge=0)] = 1.0
    grad_norm: Annotated[float, Field(ge=0)] = 1.0
    tv: Annotated[float, Field(ge=0)] = 0.05
    range: Annotated[float, Field(ge=0)] = 0.0
    cos: Annotated[float, Field(ge=0)] = 0.0
    orth: Annotated[float, Field(ge=0)] = 0.0
    bn: Annotated[float, Field(ge=0)] = 0.0


class ReconstructParams(Section):
    """Training-data reconstruction (method.md §4): one target per subset size, audited against a control."""

    sizes: Annotated[list[PositiveInt], Field(min_length=1)] = [100, 1000, 10000]
    control: Literal["train", "val"] = "train"  # the rest of the training split, or the validation split
    target: ReconstructTargetParams = ReconstructTargetParams()
    per_class: PositiveInt = 20  # reconstructions per class
    steps: PositiveInt = 100
    batch_size: PositiveInt | None = None  # None: the whole bank of reconstructions every step
    lr: Annotated[float, Field(gt=0, le=1)] = 1e-2
    latent_dim: PositiveInt = 32
    width: Annotated[int, Field(ge=2)] = 16
    mode: Literal["label", "vector", "matrix", "vector_matrix"] = "label"
    perturbation: Literal["gaussian", "uniform", "shift"] = "gaussian"
    epsilon: Annotated[float, Field(ge=0)] = 0.05
    copies: PositiveInt = 1
    grad_groups: PositiveInt = 1
    feature_layers: list[str] = ["embedding"]
    weights: ReconstructWeightParams = ReconstructWeightParams()
    ssim_threshold: Annotated[float, Field(gt=-1, lt=1)] = 0.4
    bootstrap: Annotated[int, Field(ge=100)] = 1000
    device: str = "auto"


class Params(Section):
    seed: int = 0
    mlflow: MlflowParams = MlflowParams()
    data: DataParams = DataParams()
    classifier: ClassifierParams = ClassifierParams()
    evaluator: EvaluatorParams = EvaluatorParams()
    export: ExportParams = ExportParams()
    invert: InvertParams = InvertParams()
    validate_samples: ValidateSamplesParams = ValidateSamplesParams()
    ablation: AblationParams = AblationParams()
    report: ReportParams = ReportParams()
    audit: AuditParams = AuditParams()
    promotion: PromotionParams = PromotionParams()
    ood: OodParams = OodParams()
    reconstruct: ReconstructParams = ReconstructParams()


class ParamsError(ValueError):
    """params.yaml is unreadable or invalid; the message lists every problem and the valid keys."""


def _valid_keys(model: type[BaseModel], loc: tuple) -> list[str]:
    """The field names of the section that `loc` (minus its last item) points into."""
    for key in loc[:-1]:
        field = model.model_fields.get(str(key))
        if field is None or not isinstance(field.annotation, type) or not issubclass(field.annotation, BaseModel):
            return []
        model = field.annotation
    return sorted(model.model_fields)


def _describe(error: dict, path: Path) -> str:
    dotted = ".".join(str(p) for p in error["loc"])
    if error["type"] == "extra_forbidden":
        valid = _valid_keys(Params, error["loc"])
        return f"unknown key '{dotted}' in {path}; valid keys here: {', '.join(valid)}"
    return f"'{dotted}' in {path}: {error['msg']} (got {error.get('input')!r})"


def load_params(path: str | Path = "params.yaml") -> Params:
    path = Path(path)
    try:
        raw = yaml.safe_load(path.read_text()) or {}
    except FileNotFoundError as exc:
        raise ParamsError(f"{path} not found: run from the project root, where params.yaml lives") from exc
    except yaml.YAMLError as exc:
        raise ParamsError(f"{path} is not valid YAML: {exc}") from exc
    return validate_params(raw, path)


def validate_params(raw: object, path: str | Path = "params.yaml") -> Params:
    """Validate an already-parsed params mapping; `path` only names it in messages."""
    if not isinstance(raw, dict):
        raise ParamsError(f"{path} must be a mapping of sections, got {type(raw).__name__}")
    try:
        return Params.model_validate(raw)
    except ValidationError as exc:
        problems = "\n  - ".join(_describe(e, Path(path)) for e in exc.errors())
        raise ParamsError(f"invalid parameters:\n  - {problems}") from None

