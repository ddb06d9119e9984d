"""Face alignment: the similarity (scale, rotation, translation) that maps a face's 5
landmarks onto the FFHQ template, and the warped S x S crop (facexlib's choices)."""

import cv2
import numpy as np

#: FFHQ 5-point template of a 512 x 512 crop (x, y): left eye, right eye, nose, mouth
#: left, mouth right (image-left / image-right), facexlib's numbers.
FFHQ_512 = ((192.98138, 239.94708), (318.90277, 240.19360), (256.63416, 314.01935),
            (201.26117, 371.41043), (313.08905, 371.15118))
#: Border of the crop where the face reaches past the image (BGR gray).
CROP_BORDER_BGR = (135, 133, 132)


def ffhq_template(size):
    """The template for a `size` crop (scaled by size / 512)."""
    k = size / 512.0
    return [(x * k, y * k) for x, y in FFHQ_512]


def umeyama_similarity(src, dst):
    """Least-squares similarity (no reflection) mapping the points `src` onto `dst`, as
    a 2 x 3 float64 matrix [[a, -b, tx], [b, a, ty]].

    In 2-D, Umeyama's estimate has a closed form: with both point sets centred,
    a = sum(s . d) / sum(|s|^2) and b = sum(s x d) / sum(|s|^2). OpenCV's
    estimateAffinePartial2D (LMEDS, as facexlib calls it) lands on the same matrix for
    5 clean points. Plain Python floats, in a fixed order, so the worker can match the
    result to the last bit. All `src` points equal: the identity plus the translation
    between the means.
    """
    src = [(float(x), float(y)) for x, y in src]
    dst = [(float(x), float(y)) for x, y in dst]
    n = float(len(src))
    ms = [sum(p[0] for p in src) / n, sum(p[1] for p in src) / n]
    md = [sum(p[0] for p in dst) / n, sum(p[1] for p in dst) / n]
    dot = cross = var = 0.0
    for (sx, sy), (dx, dy) in zip(src, dst):
        sx, sy, dx, dy = sx - ms[0], sy - ms[1], dx - md[0], dy - md[1]
        dot += sx * dx + sy * dy
        cross += sx * dy - sy * dx
        var += sx * sx + sy * sy
    a, b = (dot / var, cross / var) if var > 0.0 else (1.0, 0.0)
    return np.array([[a, -b, md[0] - (a * ms[0] - b * ms[1])],
                     [b, a, md[1] - (b * ms[0] + a * ms[1])]], dtype=np.float64)


def align_face(bgr, landmarks, size):
    """(crop, affine): the face warped onto the template of a `size` crop (bilinear,
    gray border) and the input → crop matrix."""
    m = umeyama_similarity(landmarks, ffhq_template(size))
    crop = cv2.warpAffine(bgr, m, (size, size), flags=cv2.INTER_LINEAR,
                          borderMode=cv2.BORDER_CONSTANT, borderValue=CROP_BORDER_BGR)
    return crop, m


def filter_faces(faces, width, height, only_center_face=False, eye_dist_threshold=5.0):
    """facexlib's order: drop faces whose eyes are closer than 5 px, then, with
    `only_center_face`, keep the one whose box centre is nearest (W/2, H/2) (the
    first on ties)."""
    def eye_distance(face):
        (lx, ly), (rx, ry) = face["landmarks"][0], face["landmarks"][1]
        return float(np.hypot(lx - rx, ly - ry))

    kept = [f for f in faces if eye_distance(f) >= eye_dist_threshold]
    if only_center_face and len(kept) > 1:
        cx, cy = width / 2.0, height / 2.0

        def centre_distance(face):
            x1, y1, x2, y2 = face["box"]
            return float(np.hypot((x1 + x2) / 2.0 - cx, (y1 + y2) / 2.0 - cy))

        kept = [min(kept, key=centre_distance)]
    return kept
