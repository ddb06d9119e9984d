"""Unit tests of the bench's own parts (`run.py --self-test`, run by scripts/test.sh): the
metrics against values worked out by hand, the degradation's determinism, the face
regions, the manifest reading and the sanity checks."""

from __future__ import annotations

import math
import sys
import tempfile
import unittest
from pathlib import Path

import cv2
import numpy as np

import bench
import degrade
import faces
import facefix_cli
import metrics
import sanity


def _photo_like(h: int = 64, w: int = 48, seed: int = 1) -> np.ndarray:
    """Smooth structure plus texture: enough edges for SSIM and GMSD to react to."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:h, 0:w]
    base = 128 + 60 * np.sin(xx / 5.0)[..., None] * np.cos(yy / 7.0)[..., None]
    return np.clip(base + rng.normal(0, 12, (h, w, 3)), 0, 255).astype(np.uint8)


def _flat(value: int, h: int = 32, w: int = 32) -> np.ndarray:
    return np.full((h, w, 3), value, np.uint8)


def _blur(rgb: np.ndarray, sigma: float) -> np.ndarray:
    return cv2.GaussianBlur(rgb, (0, 0), sigma)


class Identity(unittest.TestCase):
    """A method that returned the original exactly."""

    def test_identical_regions_score_perfectly(self):
        a = _photo_like()
        self.assertEqual(metrics.psnr(a, a.copy()), math.inf)
        self.assertEqual(metrics.ssim(a, a.copy()), 1.0)
        self.assertEqual(metrics.gmsd(a, a.copy()), 0.0)


class Psnr(unittest.TestCase):
    def test_a_uniform_offset_of_ten_gives_the_textbook_value(self):
        a = np.clip(_photo_like(), 20, 200)
        # MSE = 100 on every channel: 10*log10(255^2/100).
        self.assertAlmostEqual(metrics.psnr(a, a + 10), 10 * math.log10(65025 / 100), places=12)

    def test_more_noise_scores_lower(self):
        a = _photo_like()
        rng = np.random.default_rng(7)
        light = np.clip(a + rng.normal(0, 3, a.shape), 0, 255).astype(np.uint8)
        heavy = np.clip(a + rng.normal(0, 20, a.shape), 0, 255).astype(np.uint8)
        self.assertGreater(metrics.psnr(a, light), metrics.psnr(a, heavy))

    def test_different_shapes_are_refused(self):
        with self.assertRaises(ValueError):
            metrics.psnr(_flat(1, 32, 32), _flat(1, 32, 33))


class Ssim(unittest.TestCase):
    def test_flat_regions_reduce_to_the_luminance_term(self):
        # No variance anywhere: SSIM = (2*mx*my + C1) / (mx^2 + my^2 + C1).
        c1 = (0.01 * 255) ** 2
        expected = (2 * 100 * 110 + c1) / (100**2 + 110**2 + c1)
        self.assertAlmostEqual(metrics.ssim(_flat(100), _flat(110)), expected, places=9)

    def test_more_blur_scores_lower_and_never_above_one(self):
        a = _photo_like()
        light, heavy = metrics.ssim(a, _blur(a, 0.7)), metrics.ssim(a, _blur(a, 2.5))
        self.assertLess(light, 1.0)
        self.assertGreater(light, heavy)

    def test_is_symmetric(self):
        a, b = _photo_like(seed=1), _photo_like(seed=2)
        self.assertAlmostEqual(metrics.ssim(a, b), metrics.ssim(b, a), places=12)

    def test_a_region_smaller_than_the_window_is_refused(self):
        with self.assertRaises(ValueError):
            metrics.ssim(_flat(1, 10, 40), _flat(1, 10, 40))


class Gmsd(unittest.TestCase):
    def test_a_uniform_brightness_shift_leaves_gradients_alone(self):
        a = np.clip(_photo_like(), 20, 200)
        # Zero but for the rounding of the luma weights on shifted values.
        self.assertAlmostEqual(metrics.gmsd(a, a + 15), 0.0, places=12)

    def test_more_blur_scores_higher(self):
        a = _photo_like()
        light, heavy = metrics.gmsd(a, _blur(a, 0.7)), metrics.gmsd(a, _blur(a, 2.5))
        self.assertGreater(light, 0.0)
        self.assertGreater(heavy, light)


class Degradation(unittest.TestCase):
    def test_same_seed_same_pixels_other_seed_other_noise(self):
        a = degrade.crop_to_scale(_photo_like(66, 50))
        first = degrade.degrade(a, 13, "x.png")
        self.assertEqual(first.shape, (16, 12, 3))
        self.assertTrue(np.array_equal(first, degrade.degrade(a, 13, "x.png")))
        self.assertFalse(np.array_equal(first, degrade.degrade(a, 14, "x.png")))

    def test_an_uncropped_original_is_refused(self):
        with self.assertRaises(ValueError):
            degrade.degrade(_photo_like(66, 50), 13, "x.png")

    def test_enlarging_restores_the_cropped_size(self):
        a = degrade.crop_to_scale(_photo_like(66, 50))
        small = degrade.degrade(a, 13, "x.png")
        self.assertEqual(degrade.enlarge(small, cv2.INTER_CUBIC).shape, a.shape)


class Regions(unittest.TestCase):
    def test_widened_by_the_margin_and_rounded_outwards(self):
        r = faces.region([50.5, 50.0, 150.0, 150.0], 400, 400)
        self.assertEqual(r.as_list(), [40, 40, 160, 160])

    def test_clamped_to_the_image(self):
        r = faces.region([-5.0, 10.0, 110.0, 220.0], 100, 200)
        self.assertEqual(r.as_list(), [0, 0, 100, 200])

    def test_a_face_counts_as_restored_when_a_run_found_it(self):
        r = faces.region([100.0, 100.0, 200.0, 200.0], 400, 400)
        # Found on the x4-smaller degraded image: centre (37.5, 37.5) -> (150, 150).
        self.assertTrue(faces.restored_by(r, [[30.0, 30.0, 45.0, 45.0]], 4))
        self.assertFalse(faces.restored_by(r, [[70.0, 70.0, 90.0, 90.0]], 4))
        self.assertFalse(faces.restored_by(r, [], 4))


class Manifest(unittest.TestCase):
    def test_only_listed_restorers_whose_file_is_installed(self):
        with tempfile.TemporaryDirectory() as tmp:
            d = Path(tmp)
            for file in ("a.onnx", "hidden.onnx", "pnet.onnx", "c.onnx"):
                (d / file).write_bytes(b"")
            (d / "manifest.toml").write_text(
                'schema = 1\n'
                '[[model]]\nname = "a"\nrole = "restorer"\nfile = "a.onnx"\n'
                '[[model]]\nname = "missing"\nrole = "restorer"\nfile = "b.onnx"\n'
                '[[model]]\nname = "hidden"\nrole = "restorer"\nhidden = true\nfile = "hidden.onnx"\n'
                '[[model]]\nname = "mtcnn-pnet"\nrole = "mtcnn-pnet"\nfile = "pnet.onnx"\n'
                '[[model]]\nname = "c"\nrole = "restorer"\nfile = "c.onnx"\n'
            )
            self.assertEqual(facefix_cli.installed_restorers(d), ["a", "c"])


class Sanity(unittest.TestCase):
    def _result(self, nearest_psnr: float, bicubic_psnr: float, ssim: float = 0.5) -> bench.ImageResult:
        def method(name: str, psnr: float) -> bench.Method:
            return bench.Method(name, _flat(0), None, scores=[bench.FaceScore(psnr, ssim, 0.1, None)])

        return bench.ImageResult("x.png", (32, 32), _flat(0, 8, 8), _flat(0), [faces.Region(0, 0, 32, 32)],
                                 [method(bench.NEAREST, nearest_psnr), method(bench.BICUBIC, bicubic_psnr)], "cpu")

    def test_a_sound_run_passes(self):
        self.assertEqual(sanity.problems([self._result(20.0, 22.0)]), [])

    def test_bicubic_below_pixel_repetition_fails(self):
        self.assertEqual(len(sanity.problems([self._result(22.0, 20.0)])), 1)

    def test_a_non_finite_score_fails(self):
        self.assertEqual(len(sanity.problems([self._result(20.0, math.inf)])), 1)
        self.assertEqual(len(sanity.problems([self._result(20.0, 22.0, math.nan)])), 2)


def main() -> int:
    suite = unittest.defaultTestLoader.loadTestsFromModule(sys.modules[__name__])
    return 0 if unittest.TextTestRunner(verbosity=1).run(suite).wasSuccessful() else 1
