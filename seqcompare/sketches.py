"""Hand-made digit drawings: stroke lists rendered like a mouse on a canvas.

They serve as the Digits tab's clickable examples and as held-out drawings in the tests — written
for the project, not taken from MNIST.
"""

from __future__ import annotations

import math

from PIL import Image, ImageDraw


def _arc(cx, cy, rx, ry, start, end, steps=24):
    return [(cx + rx * math.cos(math.radians(a)), cy + ry * math.sin(math.radians(a)))
            for a in (start + (end - start) * i / steps for i in range(steps + 1))]


# Each digit: strokes of (x, y) points in a unit box, y pointing down.
STROKES: dict[int, list[list[tuple[float, float]]]] = {
    0: [_arc(0.5, 0.5, 0.32, 0.45, -90, 270)],
    1: [[(0.35, 0.2), (0.55, 0.05), (0.55, 0.95)]],
    2: [_arc(0.5, 0.3, 0.3, 0.25, 200, 390) + [(0.2, 0.95), (0.85, 0.95)]],
    3: [_arc(0.47, 0.28, 0.3, 0.23, 210, 450) + _arc(0.47, 0.73, 0.33, 0.23, -90, 150)],
    4: [[(0.6, 0.05), (0.15, 0.65), (0.85, 0.65)], [(0.62, 0.35), (0.62, 0.95)]],
    5: [[(0.8, 0.05), (0.3, 0.05), (0.25, 0.45)] + _arc(0.5, 0.67, 0.32, 0.28, -120, 160)],
    6: [[(0.7, 0.05), (0.35, 0.4)] + _arc(0.5, 0.7, 0.3, 0.26, 200, 560)],
    7: [[(0.15, 0.08), (0.85, 0.08), (0.4, 0.95)]],
    8: [_arc(0.5, 0.27, 0.25, 0.22, 90, 450) + _arc(0.5, 0.72, 0.3, 0.23, -90, 270)],
    9: [_arc(0.5, 0.3, 0.28, 0.25, 0, 360) + [(0.78, 0.3), (0.7, 0.95)]],
}


def render(digit: int, size: int = 280, box: tuple[float, float, float, float] = (0.2, 0.15, 0.8, 0.85),
           width: int | None = None, ink: tuple = (0, 0, 0, 255), paper: tuple = (255, 255, 255, 255),
           mode: str = "RGBA") -> Image.Image:
    """Draw `digit` with round strokes inside `box` (fractions of the canvas: left, top, right, bottom)."""
    img = Image.new("RGBA", (size, size), paper)
    draw = ImageDraw.Draw(img)
    left, top, right, bottom = (v * size for v in box)
    width = width or max(2, round((bottom - top) / 9))
    for stroke in STROKES[digit]:
        pts = [(left + x * (right - left), top + y * (bottom - top)) for x, y in stroke]
        draw.line(pts, fill=ink, width=width, joint="curve")
        for x, y in (pts[0], pts[-1]):
            draw.ellipse([x - width / 2, y - width / 2, x + width / 2, y + width / 2], fill=ink)
    return img.convert(mode)
