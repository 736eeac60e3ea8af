"""The mailboxes between the image callback and the pipeline's threads."""

import threading

from jetson_classifier.pipeline.frame_mailbox import FrameMailbox


def test_put_returns_the_frame_nobody_took_and_take_gets_the_newest():
    mailbox = FrameMailbox()
    assert mailbox.put('frame 1') is None
    assert mailbox.put('frame 2') == 'frame 1'
    assert mailbox.take(timeout_s=0) == ['frame 2']
    assert mailbox.put('frame 3') is None


def test_take_gets_the_newest_frame_of_every_camera_in_the_order_they_came():
    mailbox = FrameMailbox()
    mailbox.put('belt 1', key='belt')
    mailbox.put('gripper 1', key='gripper')
    assert mailbox.put('belt 2', key='belt') == 'belt 1'
    assert mailbox.take(timeout_s=0) == ['belt 2', 'gripper 1']
    assert mailbox.take(timeout_s=0) == []


def test_take_times_out_with_an_empty_list_when_empty():
    assert FrameMailbox().take(timeout_s=0.01) == []


def test_take_waits_for_a_put_from_another_thread():
    mailbox = FrameMailbox()
    timer = threading.Timer(0.05, mailbox.put, args=['late frame'])
    timer.start()
    assert mailbox.take(timeout_s=5.0) == ['late frame']
    timer.join()


def test_close_wakes_a_waiting_take_and_later_takes_return_none():
    mailbox = FrameMailbox()
    answers = []
    worker = threading.Thread(target=lambda: answers.append(mailbox.take()))
    worker.start()
    mailbox.close()
    worker.join(timeout=5.0)
    assert not worker.is_alive() and answers == [None]
    mailbox.put('frame after close')
    assert mailbox.take() is None
