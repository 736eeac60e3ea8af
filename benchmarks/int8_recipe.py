"""
INT8 recipes side by side in one run: RGB, 4-channel or FP32 stem, pixels in; the rest int8.

Quantizes each FP32 rung by every recipe into a scratch folder, then runs the benchmark tool
over the FP32 rungs and all their twins: latency interleaved, top-1 on the labelled photos,
and each twin's speed-up over its FP32 rung.

    python -m benchmarks.int8_recipe [--rungs NAME ...] [--output DIR] [benchmark options]
"""

import argparse
import dataclasses
from pathlib import Path
import sys
import tempfile

import onnx
import yaml

from jetson_classifier.benchmark import command as benchmark
from jetson_classifier.commands.prepare_models import (input_convs, pad_input_channels,
                                                       quantize, take_pixels)
from jetson_classifier.inference.catalog import Catalog
from jetson_classifier.inference.model_info import load_onnx, read_model_info, write_model_info

LADDER = ('lite0_160', 'lite0_192', 'lite0', 'lite1', 'lite2')
# Recipe name -> how it makes an INT8 model from an FP32 file and its info.
RECIPES = {
    'rgb_stem': quantize,
    'four_channel_stem': lambda path, info: pad_input_channels(quantize(path, info)),
    'fp32_stem': lambda path, info: quantize(path, info, input_convs(load_onnx(path))),
    'pixels_four_channel_stem': lambda path, info: take_pixels(
        pad_input_channels(quantize(path, info)), info),  # what prepare_models ships
}


def write_twins(rungs, folder):
    """Quantize each rung by every recipe into `folder`; return the catalog file listing all."""
    catalog, entries = Catalog.load(), {}
    for rung in rungs:
        fp32_path = catalog.path_of(catalog.entry(rung))
        info = read_model_info(fp32_path)
        entries[rung] = {'file': str(fp32_path), 'precision': 'fp32'}
        for recipe, make in RECIPES.items():
            name = f'{rung}_{recipe}'
            model = make(fp32_path, info)
            write_model_info(model, dataclasses.replace(info, name=name, precision='int8'))
            onnx.save(model, str(folder / f'{name}.onnx'))
            entries[name] = {'file': f'{name}.onnx', 'precision': 'int8', 'int8_of': rung}
            print(f'{name}: quantized', file=sys.stderr)
    path = folder / 'catalog.yaml'
    path.write_text(yaml.safe_dump({'models': entries}, sort_keys=False))
    return path


def main(argv=None):
    """Quantize, then benchmark; options the script does not know go to the benchmark."""
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[1])
    parser.add_argument('--rungs', nargs='+', default=LADDER, help='FP32 catalog names')
    parser.add_argument('--output', type=Path, default=Path('out/int8_recipe'))
    args, benchmark_options = parser.parse_known_args(argv)
    with tempfile.TemporaryDirectory() as scratch:
        catalog = write_twins(args.rungs, Path(scratch))
        return benchmark.main(['--catalog', str(catalog), '--model-dir', scratch,
                               '--output', str(args.output), *benchmark_options])


if __name__ == '__main__':
    sys.exit(main())
