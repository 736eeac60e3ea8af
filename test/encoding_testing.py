"""Test images in the less common encodings: real depth maps, real photos widened to 16 bits."""

import numpy as np
from skimage import data

# The motorcycle pair's calibration, for scikit-image's 4x down-sampled images (its docstring).
FOCAL_PX, BASELINE_MM, PRINCIPAL_DX_PX = 994.978, 193.001, 31.086


def motorcycle_depth_mm():
    """
    Return the real depth of Middlebury's motorcycle scene in millimetres, as float64.

    Depth = focal length * baseline / (disparity + principal point offset); pixels without
    ground truth (infinite disparity) are NaN. The scene lies 1.9 to 5.1 m away.
    """
    _, _, disparity = data.stereo_motorcycle()
    with np.errstate(divide='ignore', invalid='ignore'):
        depth = FOCAL_PX * BASELINE_MM / (disparity.astype(np.float64) + PRINCIPAL_DX_PX)
    return np.where(np.isfinite(disparity), depth, np.nan)


def depth_16uc1(depth_mm):
    """REP 118's 16UC1 layout (little-endian): millimetres, 0 where there is no depth."""
    return np.nan_to_num(np.round(depth_mm), nan=0.0).astype('<u2')


def depth_32fc1(depth_mm):
    """REP 118's 32FC1 layout (little-endian): metres, NaN where there is no depth."""
    return (depth_mm / 1000.0).astype('<f4')


def widen_to_16_bits(payload, big_endian, seed=0):
    """
    Return an 8-bit image payload at 16 bits: each value v as 257 v plus noise within +-128.

    The noise fills the low byte, so reading the wrong byte order shows; cv_bridge's scaling
    (v16 * 255 / 65535, rounded) still gives back exactly v.
    """
    values = np.frombuffer(payload, np.uint8).astype(np.int32) * 257
    noise = np.random.default_rng(seed).integers(-128, 129, values.size)
    return np.clip(values + noise, 0, 65535).astype('>u2' if big_endian else '<u2').tobytes()
