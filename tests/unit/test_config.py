from pathlib import Path

import pytest
import yaml

from stages.config import Params, ParamsError, load_params


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "params.yaml"
    path.write_text(text)
    return path


def test_project_params_file_is_valid(project_root):
    params = load_params(project_root / "params.yaml")
    assert params.data.name == "fashion_mnist"
    assert params.export.max_abs_diff <= 1e-4


def test_defaults_match_params_yaml(project_root):
    """The code's defaults and params.yaml agree, so a missing key behaves as documented."""
    raw = yaml.safe_load((project_root / "params.yaml").read_text())
    assert Params.model_validate(raw).model_dump() == Params().model_dump()


def test_mistyped_key_is_named_with_valid_keys(tmp_path):
    path = write(tmp_path, "classifier:\n  epocs: 3\n")
    with pytest.raises(ParamsError, match=r"unknown key 'classifier.epocs'.*valid keys here:.*epochs"):
        load_params(path)


def test_unknown_section_is_named(tmp_path):
    with pytest.raises(ParamsError, match=r"unknown key 'clasifier'.*classifier"):
        load_params(write(tmp_path, "clasifier:\n  epochs: 3\n"))


def test_out_of_range_value_is_refused(tmp_path):
    with pytest.raises(ParamsError, match=r"'data.val_fraction'.*less than 1"):
        load_params(write(tmp_path, "data:\n  val_fraction: 1.5\n"))


def test_unknown_dataset_lists_the_valid_ones(tmp_path):
    with pytest.raises(ParamsError, match=r"'data.name': Input should be 'fashion_mnist'.*'cifar10'.*\(got 'fashion'\)"):
        load_params(write(tmp_path, "data:\n  name: fashion\n"))


def test_the_dataset_names_of_the_schema_are_the_readers_of_the_registry():
    from netinv.config.data import DATASET_NAMES
    from netinv.data import DATASETS

    assert DATASET_NAMES == DATASETS


def test_missing_file_says_where_to_run(tmp_path):
    with pytest.raises(ParamsError, match="run from the project root"):
        load_params(tmp_path / "nope.yaml")


def test_invalid_yaml(tmp_path):
    with pytest.raises(ParamsError, match="not valid YAML"):
        load_params(write(tmp_path, "data: [unclosed\n"))


def test_mode_seeking_with_an_odd_batch_is_refused(tmp_path):
    path = write(tmp_path, "invert:\n  batch_size: 65\n  weights: {mode_seeking: 0.1}\n")
    with pytest.raises(ParamsError, match=r"'invert': .*batch_size must be even, got 65"):
        load_params(path)


def test_ood_generator_replaces_only_what_it_names(tmp_path):
    params = load_params(write(tmp_path, "ood:\n  generator: {generator_steps: 7, weights: {bn: 0.9}}\n"))
    inverter = params.ood_generator()
    assert inverter.generator_steps == 7 and inverter.mode == params.invert.mode
    assert inverter.weights.bn == 0.9 and inverter.weights.ce == params.invert.weights.ce
    with pytest.raises(ParamsError, match=r"unknown key 'ood.generator.weights.bm'; valid keys here: adv, bn, ce, contrast, cos, kl, mode_seeking, orth, tv"):
        load_params(write(tmp_path, "ood:\n  generator: {weights: {bm: 0.9}}\n"))


def test_overrides_are_validated_when_params_are_read(tmp_path):
    with pytest.raises(ParamsError, match=r"'audit.profiles.quick.invert.generator_steps': Input should be greater"):
        load_params(write(tmp_path, "audit:\n  profiles:\n    quick: {invert: {generator_steps: 0}}\n"))
    with pytest.raises(ParamsError, match=r"unknown key 'audit.profiles.quick.leakage.reconstruct.steps'; valid keys here: .*recon_steps"):
        load_params(write(tmp_path, "audit:\n  profiles:\n    quick: {leakage: {reconstruct: {steps: 5}}}\n"))


def test_a_typo_inside_a_named_profile_lists_the_profile_keys(tmp_path):
    with pytest.raises(ParamsError, match=r"unknown key 'audit.profiles.quick.invrt'; valid keys here: checks, gates, invert"):
        load_params(write(tmp_path, "audit:\n  profiles:\n    quick: {invrt: {}}\n"))


def test_an_unknown_device_is_refused_with_the_valid_ones(tmp_path):
    with pytest.raises(ParamsError, match=r"'invert.device': unknown device 'gpu': use auto"):
        load_params(write(tmp_path, "invert:\n  device: gpu\n"))


def test_an_empty_set_of_audit_profiles_is_refused(tmp_path):
    with pytest.raises(ParamsError, match=r"'audit.profiles': audit.profiles needs at least one profile"):
        load_params(write(tmp_path, "audit:\n  profiles: {}\n"))
