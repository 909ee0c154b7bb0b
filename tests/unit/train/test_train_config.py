"""aibnb.train.config: validation with clear errors, and resolution from profile and recipe."""

import pytest

from aibnb.train import TrainConfig, departures, resolve
from aibnb.train.profiles import PROFILES


@pytest.mark.parametrize(
    "field,value,match",
    [
        ("beta", -0.1, "beta: must be a finite number >= 0"),
        ("num_anchors", 0, "num_anchors: must be an integer >= 1"),
        ("model", "resnet", "unknown model 'resnet'"),
        ("dataset", "imagenet", "unknown dataset 'imagenet'"),
        ("schedule", "linear", "schedule: must be one of"),
        ("batch_size", 0, "batch_size: must be an integer >= 1"),
        ("epochs", -1, "epochs: must be an integer >= 1"),
        ("profile", "huge", "unknown profile 'huge'"),
        ("lr", 0.0, "lr: must be a finite number > 0"),
        ("device", "tpu", "device: must be one of"),
    ],
)
def test_bad_config_is_a_clear_error(field, value, match):
    with pytest.raises(ValueError, match=match):
        resolve(TrainConfig(**{field: value}))


def test_config_rejects_options_that_do_not_apply():
    with pytest.raises(ValueError, match="K applies to the quantised models only"):
        resolve(TrainConfig(model="vgg_aib", num_anchors=10))
    with pytest.raises(ValueError, match=r"unknown option.*valid"):
        resolve(TrainConfig(model="vgg_aib", model_options={"depth": 16}))
    with pytest.raises(ValueError, match="set num_anchors as config fields"):
        resolve(TrainConfig(model="vgg_aib_qt", model_options={"num_anchors": 3}))
    with pytest.raises(ValueError, match="unknown config field"):
        TrainConfig.from_dict({"modle": "vgg"})


def test_profiles_and_recipes_fill_the_config():
    ci = resolve(TrainConfig(model="vgg_aib", profile="ci"))
    assert ci.width == PROFILES["ci"].width["vgg"] and ci.epochs == PROFILES["ci"].epochs
    assert ci.beta == 0.01 and ci.info_factor == 0.5 and ci.loss_units == "bits"
    assert ci.schedule == "cosine" and departures(ci)["schedule"] == ("cosine", "vgg")
    assert resolve(TrainConfig(model="vgg_aib", schedule="vgg")).schedule == "vgg"
    wrn = resolve(TrainConfig(model="wrn_aib_qt", profile="ci"))
    assert wrn.model_options["depth"] == 10 and wrn.info_factor == 1.0 and wrn.anchor_lr == "ratio"
    full = resolve(TrainConfig(model="vgg_aib_qt", profile="full"))
    assert full.width == 1.0 and full.epochs == 200 and full.train_subset is None
    assert full.anchor_lr == "base" and full.warmup_epochs == 2 and full.schedule == "vgg"
    assert departures(full) == {}
    plain = resolve(TrainConfig(model="vgg", profile="ci", beta=0.5))
    assert plain.beta == 0.0 and plain.info_factor is None and plain.loss_units == "nats"
    assert resolve(TrainConfig(model="vgg_aib", beta=0.1)).beta == 0.1  # explicit beats recipe
    assert (
        resolve(TrainConfig(model="vgg_aib")).hash()
        == resolve(TrainConfig(model="vgg_aib", device="cpu")).hash()
    )
    assert (
        resolve(TrainConfig(model="vgg_aib")).hash() != resolve(TrainConfig(model="vgg_aib", seed=1)).hash()
    )


@pytest.mark.parametrize(
    "options,match",
    [
        ({"residual": 0.5}, r"option residual of 'vgg_aib' must be True or False \(default True\), got 0\.5"),
        ({"std_offset": "nan"}, r"option std_offset of 'vgg_aib' must be a finite number \(default 5\.0\)"),
        ({"std_offset": float("inf")}, "option std_offset of 'vgg_aib' must be a finite number"),
        ({"kl_form": 3}, r"option kl_form of 'vgg_aib' must be a string"),
        ({"train_samples": 1.5}, r"option train_samples of 'vgg_aib' must be an integer"),
    ],
)
def test_model_options_are_checked_against_their_declared_types(options, match):
    with pytest.raises(ValueError, match=r"TrainConfig\.model_options: " + match):
        resolve(TrainConfig(model="vgg_aib", model_options=options))


def test_model_options_of_the_declared_type_pass():
    options = {"residual": False, "squash": None, "std_offset": 4}
    assert resolve(TrainConfig(model="vgg_aib", model_options=options)).model_options == options
    assert resolve(TrainConfig(model="wrn_aib", profile="ci")).model_options["depth"] == 10


@pytest.mark.parametrize("momentum", [5.0, 1.0, -0.1, float("nan")])
def test_momentum_must_be_in_zero_one(momentum):
    with pytest.raises(ValueError, match=r"TrainConfig\.momentum: must be"):
        resolve(TrainConfig(momentum=momentum))
    assert resolve(TrainConfig(momentum=0.0)).momentum == 0.0


def test_a_train_subset_smaller_than_a_batch_is_refused_up_front():
    with pytest.raises(ValueError, match=r"train_subset: 5 training images make no full batch of batch_size "
                                         r"64.*use train_subset >= 64 or a smaller batch_size"):
        resolve(TrainConfig(train_subset=5))  # the ci profile's batch of 64
    assert resolve(TrainConfig(train_subset=64)).train_subset == 64
