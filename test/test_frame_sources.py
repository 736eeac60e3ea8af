"""Loading and resizing the frames the image source replays."""

import sys

import cv2
import numpy as np
import pytest

from jetson_classifier.errors import ImageError
from jetson_classifier.pipeline import frame_sources
from jetson_classifier.pipeline.frame_sources import builtin_photos, load_frames, resize


def flat(rgb, rows=12, cols=16):
    return np.full((rows, cols, 3), rgb, np.uint8)


def write_png(path, rgb):
    assert cv2.imwrite(str(path), cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR))


def test_folder_frames_come_in_name_order_as_rgb_and_other_files_are_skipped(tmp_path):
    write_png(tmp_path / 'b.png', flat((0, 0, 255)))
    write_png(tmp_path / 'a.PNG', flat((255, 0, 0)))
    (tmp_path / 'notes.txt').write_text('not an image')
    frames = load_frames(str(tmp_path))
    assert len(frames) == 2
    np.testing.assert_array_equal(frames[0], flat((255, 0, 0)))
    np.testing.assert_array_equal(frames[1], flat((0, 0, 255)))


def test_single_image_file_is_one_frame(tmp_path):
    write_png(tmp_path / 'one.png', flat((10, 20, 30)))
    frames = load_frames(str(tmp_path / 'one.png'))
    assert len(frames) == 1
    np.testing.assert_array_equal(frames[0], flat((10, 20, 30)))


def test_video_frames_are_read_in_order_as_rgb(tmp_path):
    path = tmp_path / 'clip.avi'
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*'MJPG'), 10, (64, 48))
    for rgb in ((250, 0, 0), (0, 250, 0), (0, 0, 250)):
        writer.write(cv2.cvtColor(flat(rgb, 48, 64), cv2.COLOR_RGB2BGR))
    writer.release()
    frames = load_frames(str(path))
    assert [frame.shape for frame in frames] == [(48, 64, 3)] * 3
    dominant = [int(frame.reshape(-1, 3).mean(axis=0).argmax()) for frame in frames]
    assert dominant == [0, 1, 2]


def test_max_count_stops_loading_early(tmp_path):
    for name in 'abc':
        write_png(tmp_path / f'{name}.png', flat((1, 2, 3)))
    assert len(load_frames(str(tmp_path), max_count=2)) == 2


def test_corrupt_image_raises_image_error_naming_the_file(tmp_path):
    (tmp_path / 'broken.jpg').write_bytes(b'not a jpeg')
    with pytest.raises(ImageError, match='broken.jpg'):
        load_frames(str(tmp_path))


def test_folder_without_images_raises_image_error(tmp_path):
    with pytest.raises(ImageError, match='no frames'):
        load_frames(str(tmp_path))


def test_missing_source_raises_image_error_naming_it(tmp_path):
    with pytest.raises(ImageError, match='nowhere'):
        load_frames(str(tmp_path / 'nowhere'))


def test_frames_over_the_memory_budget_raise_image_error(tmp_path, monkeypatch):
    write_png(tmp_path / 'a.png', flat((1, 2, 3)))
    monkeypatch.setattr(frame_sources, 'MAX_PRELOAD_BYTES', 12 * 16 * 3 - 1)
    with pytest.raises(ImageError, match='width/height or max_frames'):
        load_frames(str(tmp_path))


def test_resize_to_zero_by_zero_keeps_the_array():
    rgb = flat((1, 2, 3), 30, 45)
    assert resize(rgb, 0, 0) is rgb


def test_resize_with_one_side_zero_keeps_the_aspect_ratio():
    rgb = flat((1, 2, 3), 300, 451)
    assert resize(rgb, 0, 150).shape == (150, 226, 3)
    assert resize(rgb, 902, 0).shape == (600, 902, 3)


def test_resize_to_both_sides_ignores_the_aspect_ratio():
    assert resize(flat((9, 9, 9), 300, 451), 1280, 720).shape == (720, 1280, 3)


def test_resize_rejects_negative_sizes():
    with pytest.raises(ImageError, match='-1x0'):
        resize(flat((0, 0, 0)), -1, 0)


def test_builtin_photos_are_the_four_scikit_image_photos():
    photos = builtin_photos()
    assert [p.shape for p in photos] == [(300, 451, 3), (400, 600, 3), (512, 512, 3),
                                         (427, 640, 3)]
    assert all(p.dtype == np.uint8 for p in photos)


def test_builtin_photos_without_scikit_image_name_the_package(monkeypatch):
    monkeypatch.setitem(sys.modules, 'skimage', None)
    with pytest.raises(ImageError, match='scikit-image'):
        load_frames('')
