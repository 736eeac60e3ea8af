"""
The ROS 2 nodes and their glue: the only modules that import rclpy, besides the demo.

classifier_node serves a camera with the frame pipeline, switcher_node holds an fps or
accuracy target by switching the classifier's model, image_source_node replays images as a
camera. node_main gives them one main() and splits one node over two threads; the
classifier's ROS side, which its plain and managed nodes share, is in serving.
"""
