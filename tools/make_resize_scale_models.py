#!/usr/bin/env python3
"""Writes tests/data/resize_scales: opset-13 Resize nodes in the coordinate modes that read the
output length (align_corners, tf_crop_and_resize, pytorch_half_pixel), most with the length from a
scale as PyTorch's F.interpolate(scale_factor=...) exports them (run with Debian's /usr/bin/python3).

ONNX Runtime and PyTorch take the output length as floor(scale x input length); ONNX's reference
takes scale x input length. kiln follows ONNX Runtime: whole lengths, a float32 scale (1.7f x 10 =
17.0000005) whose length is whole up to rounding, fractional lengths (2.5 x 5 rows, 0.7 x 9 in
tf_crop_and_resize, 0.3 x 5 onto one row), and cubic pytorch_half_pixel onto one row, which ONNX
Runtime samples at 0 (ONNX's reference at -0.5). Reference outputs come from ONNX Runtime
(tools/ort_reference.js). Deterministic: running it twice gives identical files.
"""
import os
import sys

import numpy as np
from onnx import TensorProto as TP
from onnx import helper as h
from onnx import numpy_helper as nh

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from make_models import write_one_node_cases  # noqa: E402  (the ONNX Runtime bridge)

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "data", "resize_scales")


def resize(shape, scales=None, roi=None, sizes=None, **attrs):
    inits = [nh.from_array(np.array(roi, np.float32), "roi")] if roi else []
    if sizes:
        inits.append(nh.from_array(np.array(sizes, np.int64), "sizes"))
        inputs = ["x", "roi" if roi else "", "", "sizes"]
    else:
        inits.append(nh.from_array(np.array(scales, np.float32), "scales"))
        inputs = ["x", "roi" if roi else "", "scales"]
    node = h.make_node("Resize", inputs, ["y"], name="resize", **attrs)
    g = h.make_graph([node], "resize", [h.make_tensor_value_info("x", TP.FLOAT, list(shape))],
                     [h.make_tensor_value_info("y", TP.FLOAT, [None] * len(shape))], inits)
    m = h.make_model(g, opset_imports=[h.make_opsetid("", 13)], producer_name="kiln-make_resize_scale_models")
    m.ir_version = 7
    return m


def cases():
    rng = np.random.default_rng(2027)
    normal = lambda *s: rng.standard_normal(s).astype(np.float32)  # noqa: E731
    return {
        "align_corners_linear_1_7_on_10": (resize([1, 2, 10, 6], [1, 1, 1.7, 2], mode="linear",
                                                  coordinate_transformation_mode="align_corners"), normal(1, 2, 10, 6)),
        "align_corners_cubic_1_5_on_6": (resize([1, 2, 6, 4], [1, 1, 1.5, 1.5], mode="cubic",
                                                coordinate_transformation_mode="align_corners"), normal(1, 2, 6, 4)),
        "pytorch_half_pixel_linear_0_3": (resize([1, 1, 10, 7], [1, 1, 0.3, 0.3], mode="linear",
                                                 coordinate_transformation_mode="pytorch_half_pixel"), normal(1, 1, 10, 7)),
        # fractional lengths: 12.5 -> 12 and 15 rows; 6.3 -> 6 in a crop; 1.5 -> 1
        "align_corners_linear_2_5_on_5": (resize([1, 2, 5, 6], [1, 1, 2.5, 2.5], mode="linear",
                                                 coordinate_transformation_mode="align_corners"), normal(1, 2, 5, 6)),
        "tf_crop_and_resize_linear_0_7": (resize([1, 1, 9, 8], [1, 1, 0.7, 0.7], roi=[0, 0, 0.1, 0.2, 1, 1, 0.9, 0.7],
                                                 mode="linear", coordinate_transformation_mode="tf_crop_and_resize",
                                                 extrapolation_value=-3.0), normal(1, 1, 9, 8)),
        "pytorch_half_pixel_linear_0_3_on_5": (resize([1, 1, 5, 7], [1, 1, 0.3, 1], mode="linear",
                                                      coordinate_transformation_mode="pytorch_half_pixel"),
                                               normal(1, 1, 5, 7)),
        "pytorch_half_pixel_cubic_to_1": (resize([1, 1, 5, 6], sizes=[1, 1, 1, 4], mode="cubic",
                                                 coordinate_transformation_mode="pytorch_half_pixel"), normal(1, 1, 5, 6)),
    }


def main():
    write_one_node_cases(OUT, cases())


if __name__ == "__main__":
    sys.exit(main())
