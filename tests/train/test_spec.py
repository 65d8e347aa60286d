import pytest
from pydantic import ValidationError

from alchemist.specs import stable_dump
from alchemist.train.spec import TrainSpec


def test_every_field_is_described():
    def walk(model):
        for name, f in model.model_fields.items():
            assert f.description, f"{model.__name__}.{name} has no description"
            ann = f.annotation
            if isinstance(ann, type) and hasattr(ann, "model_fields"):
                walk(ann)
    walk(TrainSpec)


def test_volatile_fields_leave_the_fingerprint():
    a = TrainSpec(logging_steps=1, report_to=[], dataloader_workers=4, launch={"nnodes": 4})
    b = TrainSpec()
    assert stable_dump(a) == stable_dump(b)
    assert stable_dump(TrainSpec(lr=2e-5)) != stable_dump(b)


@pytest.mark.parametrize("bad, words", [
    ({"lrr": 1e-4}, "lrr"),
    ({"deepspeed": {"stage": 0, "offload": "optimizer"}}, "needs ZeRO"),
    ({"deepspeed": {"stage": 2, "offload": "all"}}, "only ZeRO-3"),
    ({"method": "lora", "deepspeed": {"stage": 3}}, "LoRA with ZeRO-3"),
    ({"max_steps": 0}, "max_steps"),
    ({"chat_template": "vicuna"}, "chat_template"),
])
def test_bad_combinations_say_what_to_choose(bad, words):
    with pytest.raises(ValidationError, match=words):
        TrainSpec(**bad)


def test_global_batch_derives_accumulation_or_says_what_divides():
    from alchemist.errors import UserError

    assert TrainSpec(grad_accum=3, micro_batch_size=2).global_batch(4) == 24  # not pinned: follows the world
    spec = TrainSpec(global_batch_size=48, micro_batch_size=2, grad_accum=7)  # grad_accum yields to the pin
    assert [spec.accumulation(w) for w in (1, 2, 8)] == [24, 12, 3]
    with pytest.raises(UserError, match=r"train.global_batch_size: 48 is not a multiple of micro_batch_size 2 x 5 "
                                        r"processes = 10"):
        spec.accumulation(5)
