"""The mailboxes between the image callback and the pipeline's threads."""

import threading

from jetson_classifier.pipeline.frame_mailbox import BatchHandover, FrameMailbox


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


def _in_thread(call):
    """Run `call` on a thread; return (thread, answers) to join and read."""
    answers = []
    thread = threading.Thread(target=lambda: answers.append(call()))
    thread.start()
    return thread, answers


def test_handover_gives_frames_to_an_idle_inference_thread_and_none_to_the_preparer():
    handover = BatchHandover()
    preparer, prepared = _in_thread(handover.take_to_prepare)
    handover.put('frame 1')
    assert handover.take_to_infer() == (None, ['frame 1'])
    preparer.join(0.1)
    assert preparer.is_alive() and prepared == [], 'the preparer took frames with the model idle'
    handover.close()
    preparer.join(5.0)
    assert prepared == [None]


def test_handover_prepares_one_batch_ahead_while_the_model_runs_and_keeps_the_order():
    handover = BatchHandover()
    handover.put('frame 1')
    assert handover.take_to_infer() == (None, ['frame 1'])  # the model now runs on it
    handover.put('frame 2')
    assert handover.take_to_prepare() == ['frame 2']
    handover.put('frame 3')  # waits: frame 2 is being prepared
    handover.put_prepared(['batch 2'])
    handover.done_inferring()
    assert handover.take_to_infer() == (['batch 2'], None)
    assert handover.take_to_prepare() == ['frame 3']  # the model runs on batch 2
    handover.put_prepared([])  # every frame rejected: nothing to run
    handover.done_inferring()
    handover.put('frame 4')
    assert handover.take_to_infer() == (None, ['frame 4'])
