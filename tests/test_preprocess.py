import numpy as np
import pytest
import torch
from PIL import Image

from seqcompare import UserError, digits, sketches


def centre_of_mass(img: torch.Tensor) -> tuple[float, float]:
    idx = torch.arange(28, dtype=torch.float32)
    total = img.sum()
    return float(img.sum(1) @ idx / total), float(img.sum(0) @ idx / total)


def bbox(img: torch.Tensor) -> tuple[int, int]:
    rows, cols = torch.nonzero(img.sum(1) > 0.1), torch.nonzero(img.sum(0) > 0.1)
    return int(rows.max() - rows.min() + 1), int(cols.max() - cols.min() + 1)


def assert_mnist_like(img: torch.Tensor):
    assert img.shape == (28, 28) and img.min() >= 0 and img.max() == pytest.approx(1.0)
    cy, cx = centre_of_mass(img)
    assert abs(cy - 13.5) <= 1 and abs(cx - 13.5) <= 1
    assert max(bbox(img)) in range(19, 23)                 # the longer side scaled to about 20 px
    assert img[0].sum() == 0 and img[:, 0].sum() == 0       # a dark border, as in MNIST


def test_small_digit_in_a_corner_is_centred():
    img = digits.to_mnist(sketches.render(3, size=800, box=(0.02, 0.02, 0.12, 0.14), width=6))
    assert_mnist_like(img)


def test_inverted_and_transparent_canvases_match_the_plain_one():
    plain = digits.to_mnist(sketches.render(5))
    inverted = digits.to_mnist(sketches.render(5, ink=(255, 255, 255, 255), paper=(0, 0, 0, 255)))
    transparent = digits.to_mnist(sketches.render(5, ink=(0, 0, 0, 255), paper=(0, 0, 0, 0)))
    for img in (plain, inverted, transparent):
        assert_mnist_like(img)
    assert torch.allclose(plain, inverted, atol=0.02)
    assert torch.allclose(plain, transparent, atol=0.05)


def test_gradio_editor_value_and_grey_arrays_are_accepted():
    rgba = np.asarray(sketches.render(7, size=800))          # opaque white RGBA, as the Sketchpad sends
    assert_mnist_like(digits.to_mnist({"composite": rgba, "layers": [], "background": None}))
    assert_mnist_like(digits.to_mnist(np.asarray(sketches.render(7, mode="L"))))


@pytest.mark.parametrize("image", [
    np.full((800, 800, 4), 255, np.uint8),                 # blank opaque canvas
    np.zeros((800, 800, 4), np.uint8),                     # blank transparent canvas
    {"composite": None, "layers": [], "background": None},
    None,
])
def test_blank_canvas_is_refused(image):
    with pytest.raises(UserError, match="draw a digit first"):
        digits.to_mnist(image)


def test_unusable_images_get_clear_messages(tmp_path):
    (tmp_path / "empty.png").write_bytes(b"")
    (tmp_path / "notes.txt").write_text("not an image")
    Image.new("L", (1, 1), 255).save(tmp_path / "dot.png")
    for path, message in [(tmp_path / "empty.png", "not a readable image"),
                          (tmp_path / "notes.txt", "not a readable image"),
                          (tmp_path / "missing.png", "no such file"),
                          (tmp_path / "dot.png", "too small")]:
        with pytest.raises(UserError, match=message):
            digits.to_mnist(str(path))


def test_huge_image_is_shrunk_not_refused(tmp_path):
    path = tmp_path / "huge.png"
    sketches.render(2, size=6000, mode="L").save(path)
    assert_mnist_like(digits.to_mnist(str(path)))
