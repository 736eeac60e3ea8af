"""
cv_bridge's encodings as real sensor_msgs/Image messages to the classifier process over DDS.

One classifier serves the module. Each message is labelled like the picture it holds sent as
rgb8; the layouts themselves are pinned in test_image_conversion.py.
"""

import dataclasses
import itertools

from classifier_testing import (classifier, image_source, outputs, publish_until_classified,
                                stamp_s, wait_for_diagnostics, wait_for_subscriber)
from encoding_testing import (depth_16uc1, depth_32fc1, motorcycle_depth_mm,
                              widen_to_16_bits)
import numpy as np
import pytest
from rclpy.qos import qos_profile_sensor_data
from ros_processes import domain_id, listener
from sensor_msgs.msg import Image

from jetson_classifier.pipeline.frame_sources import BUILTIN_PHOTOS, builtin_photos
from jetson_classifier.pipeline.image_conversion import image_to_rgb, rgb_to_image

# Rows padded as a driver aligning them would; the padding bytes must be skipped.
ROW_PADDING = 8
# New encoding -> the 8-bit encoding whose layout it widens; all of these are the photo's own
# pixels at 8 bits, so its rgb8 label is the reference.
COLOUR = {'rgb16': 'rgb8', 'bgr16': 'bgr8', 'rgba16': 'rgba8', 'bgra16': 'bgra8',
          '16UC3': 'bgr8', '16UC4': 'bgra8', '8UC3': 'bgr8', '8UC4': 'bgra8'}
GREY = {'mono16': 'mono8', '16UC1': 'mono8', '8UC1': 'mono8'}
BAYER = {f'bayer_{pattern}16': f'bayer_{pattern}8' for pattern in ('rggb', 'bggr', 'gbrg', 'grbg')}


@dataclasses.dataclass
class Serving:
    """The running classifier, a publisher on its input and what it outputs."""

    ros: object
    publisher: object
    out: dict
    stamps: itertools.count = dataclasses.field(default_factory=lambda: itertools.count(1000))

    def top1(self, msg):
        """Publish msg stamped afresh until its classification returns; return its top-1 id."""
        msg.header.stamp.sec = next(self.stamps)
        answer = publish_until_classified(self.ros, self.publisher, msg, self.out)
        assert answer is not None, f'no classification of a {msg.encoding} frame'
        return answer.results[0].class_id

    def rejected(self):
        """Return the node's latest count of rejected frames."""
        values = wait_for_diagnostics(self.ros, self.out['diagnostics'], lambda v: True)
        return int(values['frames rejected']), values['last error']


@pytest.fixture(scope='module')
def serving(catalog):
    with listener(domain_id()) as ros, classifier():
        publisher = ros.node.create_publisher(Image, 'image', qos_profile_sensor_data)
        wait_for_subscriber(ros, publisher)
        yield Serving(ros, publisher, outputs(ros))


def message(encoding, height, width, step, payload, big_endian=False):
    """Return a sensor_msgs/Image of `payload` rows, each padded by ROW_PADDING bytes."""
    rows = np.frombuffer(payload, np.uint8).reshape(height, step)
    padded = np.hstack([rows, np.full((height, ROW_PADDING), 0xAB, np.uint8)])
    return Image(encoding=encoding, height=height, width=width, step=step + ROW_PADDING,
                 is_bigendian=big_endian, data=padded.tobytes())


def rgb8(rgb):
    height, width = rgb.shape[:2]
    return message('rgb8', height, width, 3 * width, np.ascontiguousarray(rgb).tobytes())


def variants(rgb, encoding, eight_bit):
    """
    Yield `rgb` as messages in `encoding` (both byte orders at 16 bits).

    16-bit values are the 8-bit layout's widened with noise in the low byte, so a byte order
    read wrongly changes the picture.
    """
    height, width = rgb.shape[:2]
    step, payload = rgb_to_image(rgb, eight_bit)
    if encoding.startswith('8UC'):
        yield message(encoding, height, width, step, payload)
        return
    for big_endian in (False, True):
        yield message(encoding, height, width, 2 * step, widen_to_16_bits(payload, big_endian),
                      big_endian)


def decoded(msg):
    return image_to_rgb(msg.encoding, msg.height, msg.width, msg.step, msg.data,
                        msg.is_bigendian)


def test_each_encoding_is_labelled_like_its_picture_in_rgb8(serving):
    photos = dict(zip(BUILTIN_PHOTOS, builtin_photos()))
    mismatches, sent = [], 0
    for name, rgb in photos.items():
        grey = decoded(next(variants(rgb, '8UC1', 'mono8')))
        expected = {'colour': serving.top1(rgb8(rgb)), 'grey': serving.top1(rgb8(grey))}
        for kind, encodings in (('colour', COLOUR), ('grey', GREY), ('bayer', BAYER)):
            for encoding, eight_bit in encodings.items():
                for msg in variants(rgb, encoding, eight_bit):
                    # Demosaicing guesses colours, and chelsea's label turns on one level
                    # (tiger cat or Egyptian cat): a Bayer frame's picture is its demosaiced one.
                    reference = (serving.top1(rgb8(decoded(msg))) if kind == 'bayer'
                                 else expected[kind])
                    got = serving.top1(msg)
                    sent += 1
                    if got != reference:
                        mismatches.append(f'{name} {encoding} big-endian={msg.is_bigendian}: '
                                          f'{got}, in rgb8 {reference}')
    assert sent == len(photos) * (2 * len(COLOUR) + 2 * len(GREY) + 2 * len(BAYER) - 3)
    assert not mismatches, mismatches
    assert serving.rejected()[0] == 0


def test_each_rejected_kind_is_counted_and_followed_by_a_served_frame(serving, photos):
    cat = photos['chelsea']
    height, width = cat.shape[:2]
    depth_mm = motorcycle_depth_mm()
    depth_height, depth_width = depth_mm.shape
    bad_frames = {
        'holds numbers, not a picture': message(
            '32FC1', depth_height, depth_width, 4 * depth_width,
            depth_32fc1(depth_mm).tobytes()),
        'looks like depth': message(
            '16UC1', depth_height, depth_width, 2 * depth_width,
            depth_16uc1(depth_mm).tobytes()),
        "unsupported image encoding 'nv21'": message(
            'nv21', height, width, width, bytes(height * width)),
        'is smaller than one row': message(  # 8-bit pixels declared as 16-bit
            'rgb16', height, width, 3 * width, cat.tobytes()),
    }
    good = next(variants(cat, 'bgr16', 'bgr8'))
    expected = serving.top1(rgb8(cat))
    before, _ = serving.rejected()
    for count, (reason, bad) in enumerate(bad_frames.items(), start=before + 1):
        bad.header.stamp.sec = 90 + count
        serving.publisher.publish(bad)
        values = wait_for_diagnostics(  # before the good frame could overwrite it
            serving.ros, serving.out['diagnostics'],
            lambda v: v['frames rejected'] == str(count))
        assert values['frames rejected'] == str(count), values['last error']
        assert reason in values['last error']
        assert serving.top1(good) == expected, reason


def test_image_source_frames_at_16_bits_are_labelled_like_the_photos(serving):
    images = serving.ros.subscribe(Image, 'image')
    expected = {(rgb.shape[1], rgb.shape[0]): serving.top1(rgb8(rgb)) for rgb in builtin_photos()}
    with image_source(rate_hz=10.0, encoding='bgra16'):
        serving.ros.spin_until(lambda: len(images) >= 8, 20.0)
    sizes = {stamp_s(msg): (msg.width, msg.height) for _, msg in images
             if msg.encoding == 'bgra16'}
    labelled = [(sizes[stamp_s(msg)], msg.results[0].class_id)
                for _, msg in serving.out['classification'] if stamp_s(msg) in sizes]
    assert len({size for size, _ in labelled}) >= 2, labelled
    assert all(expected[size] == label for size, label in labelled), (labelled, expected)
