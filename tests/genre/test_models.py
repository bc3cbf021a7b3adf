"""The paper's patch-sequence model (4 backbones) and the fast default model."""
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("torchvision")

from mainstage.training.models import (  # noqa: E402
    ARCHITECTURES, BACKBONES, FastGenreNet, PatchSequenceModel, build_model, count_parameters, model_from_config,
)
from mainstage.training.models.fast import AttentionPool  # noqa: E402

_BUILT: dict = {}


def paper_model(name: str) -> PatchSequenceModel:
    """Each backbone is built once per test session (building resnet152 takes ~2 s)."""
    if name not in _BUILT:
        torch.manual_seed(0)
        _BUILT[name] = build_model(name).eval()
    return _BUILT[name]


class CallCounter:
    def __init__(self, module):
        self.calls, self.images = 0, 0
        self.handle = module.register_forward_hook(self.hook)

    def hook(self, mod, inp, out):
        self.calls += 1
        self.images += inp[0].shape[0]


@pytest.mark.parametrize("name", BACKBONES)
def test_backbone_forward_batches_all_patches(name):
    model = paper_model(name)
    clips, frames = (2, 224 + 16) if name == "densenet201" else (1, 224 + 16)
    x = torch.rand(clips, 1, 224, frames, generator=torch.Generator().manual_seed(1))
    counter = CallCounter(model.backbone)
    with torch.no_grad():
        batched = model(x)
    counter.handle.remove()
    assert batched.shape == (clips, 8)
    assert torch.isfinite(batched).all()
    assert counter.calls == 1 and counter.images == 2 * clips, "all patches of all clips go through ONE call"


def test_batched_forward_equals_reference_patch_loop():
    model = paper_model("densenet201")
    x = torch.rand(2, 1, 224, 224 + 16, generator=torch.Generator().manual_seed(3))
    counter = CallCounter(model.backbone)
    with torch.no_grad():
        batched = model(x)
        looped = model.forward_patch_loop(x)
    counter.handle.remove()
    assert counter.calls == 1 + 2  # the reference loop: one call per patch position
    torch.testing.assert_close(batched, looped, atol=1e-4, rtol=1e-4)


def test_patches_are_cut_every_16_frames():
    model = paper_model("resnet152")
    x = torch.arange(224 + 32, dtype=torch.float32).expand(1, 1, 224, -1).contiguous()
    p = model.patches(x)
    assert p.shape == (3, 3, 224, 224)
    assert p[1, 0, 0, 0] == 16 and p[2, 2, 5, 0] == 32  # patch i starts at frame 16 i; mel -> 3 channels
    assert PatchSequenceModel.n_patches(646) == 27


def test_positional_encoding_is_added():
    model = paper_model("densenet201")
    emb = torch.tanh(torch.randn(1, 3, 768, generator=torch.Generator().manual_seed(2)))
    with torch.no_grad():
        with_pe = model._sequence(emb)
        swapped_pe = model._sequence(emb[:, [0, 2, 1]])
        saved = model.pos_encoding.clone()
        try:
            model.pos_encoding.zero_()
            without_pe = model._sequence(emb)
            swapped = model._sequence(emb[:, [0, 2, 1]])
        finally:
            model.pos_encoding.copy_(saved)
    assert float(saved.abs().sum()) > 0
    assert (with_pe - without_pe).abs().max() > 1e-3
    # Without positions the encoder cannot tell patch order apart; with them it can.
    torch.testing.assert_close(without_pe, swapped, atol=1e-5, rtol=1e-5)
    assert (with_pe - swapped_pe).abs().max() > 1e-3


def test_paper_model_rejects_bad_input_and_supports_chroma_channels():
    model = paper_model("vgg11_bn")
    with pytest.raises(ValueError):
        model(torch.rand(1, 1, 224, 100))
    with pytest.raises(ValueError):
        model(torch.rand(1, 3, 224, 224))  # mel-only model given 3 channels
    assert model.config()["arch"] == "vgg11_bn"


def test_local_imagenet_weights_file_is_loaded(tmp_path):
    src = paper_model("resnet152").backbone
    path = tmp_path / "resnet152.pth"
    torch.save(src.state_dict(), path)
    m = build_model("resnet152", weights_path=str(path))
    torch.testing.assert_close(m.backbone.fc.weight, src.fc.weight)


def test_default_model_is_small_and_takes_any_clip_length():
    torch.manual_seed(0)
    model = FastGenreNet().eval()
    assert count_parameters(model) < 5_000_000
    with torch.no_grad():
        for frames in (FastGenreNet.min_frames, 646, 1001):
            assert model(torch.rand(3, 1, 224, frames)).shape == (3, 8)
    chroma_model = FastGenreNet(in_channels=3).eval()
    with torch.no_grad():
        assert chroma_model(torch.rand(1, 3, 224, 300)).shape == (1, 8)
    rebuilt = model_from_config(model.config())
    assert count_parameters(rebuilt) == count_parameters(model)
    assert set(ARCHITECTURES) == {"default", *BACKBONES}


def test_attention_pool_weights_sum_to_one():
    pool = AttentionPool(8, heads=2)
    h = torch.rand(2, 8, 1).expand(2, 8, 50)  # constant over time -> the pooled value is that constant
    torch.testing.assert_close(pool(h), h[:, :, 0])
    spike = torch.zeros(1, 8, 20)
    spike[:, :, 7] = 1.0
    with torch.no_grad():
        out = pool(spike)
    assert 0 < float(out.min()) and float(out.max()) < 1
