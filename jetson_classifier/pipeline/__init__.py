"""
The frame pipeline and its measurements, with no ROS.

Camera messages become RGB arrays (image_conversion); the newest frame waits in a one-slot
mailbox (frame_mailbox) while the one before it is classified. frame_stats, input_monitor and
rate_meter measure what the node reports: fps, latency, frames received, dropped and lost
upstream. frame_sources reads the folders, videos and photos a test camera replays.
"""
