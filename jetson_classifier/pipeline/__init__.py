"""
The frame pipeline and its measurements, with no ROS.

frame_pipeline classifies the newest frame of every camera in one batch: camera messages
become RGB arrays (image_conversion); each camera's newest frame waits in a mailbox
(frame_mailbox) while the batch before it is classified; regions crops a fixed ROI or a
detector's boxes, which stamp_matcher pairs with their frames; cameras names each camera's
topics. frame_stats, input_monitor and rate_meter measure what the node reports: fps,
latency, frames received, dropped and lost upstream. frame_sources reads the folders,
videos and photos a test camera replays.
"""
